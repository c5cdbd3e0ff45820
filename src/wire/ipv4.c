/*
 * IPv4 header (RFC 791): parse into struct wire_ipv4, emit from it.
 */
#include <string.h>

#include "wire/wire.h"

int wire_ipv4_parse(struct wire_ipv4 *ip, const uint8_t *buf, size_t len)
{
	memset(ip, 0, sizeof(*ip));
	if (len < WIRE_IPV4_HDR_MIN)
		return -WIRE_E_TRUNCATED;
	if (buf[0] >> 4 != 4)
		return -WIRE_E_VERSION;

	ip->hdr_len = (uint8_t)((buf[0] & 0x0f) * 4);
	ip->tos = buf[1];
	ip->total_len = wire_get16(buf + 2);
	ip->id = wire_get16(buf + 4);
	ip->frag = wire_get16(buf + 6);
	ip->ttl = buf[8];
	ip->proto = buf[9];
	ip->csum = wire_get16(buf + 10);
	memcpy(ip->src, buf + 12, 4);
	memcpy(ip->dst, buf + 16, 4);

	/* RFC 791 3.1: IHL counts 32-bit words; "the minimum value for a correct header is 5". */
	if (ip->hdr_len < WIRE_IPV4_HDR_MIN)
		return -WIRE_E_IHL;
	if (ip->hdr_len > len)
		return -WIRE_E_HDR_PAST_END;
	ip->opts = buf + WIRE_IPV4_HDR_MIN;
	ip->opts_len = (uint8_t)(ip->hdr_len - WIRE_IPV4_HDR_MIN);
	/* RFC 791 3.1: Total Length counts the header and the data. */
	if (ip->total_len < ip->hdr_len)
		return -WIRE_E_TOTAL_LEN;

	/* Bytes past the total length are link padding, not payload. */
	size_t present = len < ip->total_len ? len : ip->total_len;
	ip->payload = buf + ip->hdr_len;
	ip->payload_len = present - ip->hdr_len;
	ip->missing = ip->total_len - present;
	if (ip->missing)
		return -WIRE_E_TOTAL_LEN;

	/* RFC 791 3.1: the checksum covers the header only; summed with itself it is 0. */
	if (wire_csum(buf, ip->hdr_len) != 0)
		return -WIRE_E_CHECKSUM;
	return 0;
}

size_t wire_ipv4_emit(const struct wire_ipv4 *ip, uint8_t *buf, size_t cap)
{
	size_t hdr_len = ip->hdr_len ? ip->hdr_len : WIRE_IPV4_HDR_MIN;

	if (hdr_len < WIRE_IPV4_HDR_MIN || hdr_len > 60 || hdr_len % 4 || cap < hdr_len ||
	    hdr_len - WIRE_IPV4_HDR_MIN != ip->opts_len || ip->total_len < hdr_len)
		return 0;
	buf[0] = (uint8_t)(4 << 4 | hdr_len / 4);
	buf[1] = ip->tos;
	wire_put16(buf + 2, ip->total_len);
	wire_put16(buf + 4, ip->id);
	wire_put16(buf + 6, ip->frag);
	buf[8] = ip->ttl;
	buf[9] = ip->proto;
	wire_put16(buf + 10, 0);
	memcpy(buf + 12, ip->src, 4);
	memcpy(buf + 16, ip->dst, 4);
	if (ip->opts_len)
		memcpy(buf + WIRE_IPV4_HDR_MIN, ip->opts, ip->opts_len);
	/* RFC 791 3.1: the header checksum, summed from the fields' values (see wire_csum_word). */
	uint64_t sum = wire_csum_word(buf[0], ip->tos);
	sum += wire_csum_word((uint8_t)(ip->total_len >> 8), (uint8_t)ip->total_len);
	sum += wire_csum_word((uint8_t)(ip->id >> 8), (uint8_t)ip->id);
	sum += wire_csum_word((uint8_t)(ip->frag >> 8), (uint8_t)ip->frag);
	sum += wire_csum_word(ip->ttl, ip->proto);
	sum = wire_csum_add(sum, ip->src, 4);
	sum = wire_csum_add(sum, ip->dst, 4);
	if (ip->opts_len)
		sum = wire_csum_add(sum, ip->opts, ip->opts_len);
	wire_put16(buf + 10, wire_csum_finish(sum));
	return hdr_len;
}

void wire_ipv4_pseudo(const struct wire_ipv4 *ip, struct wire_pseudo *ph)
{
	memset(ph, 0, sizeof(*ph));
	ph->family = 4;
	ph->proto = ip->proto;
	memcpy(ph->src, ip->src, 4);
	memcpy(ph->dst, ip->dst, 4);
	ph->len = (uint32_t)(ip->total_len - ip->hdr_len);
}
