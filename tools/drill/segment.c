/*
 * Building the packets a script injects and reading the ones the stack
 * sends. Checksums per RFC 1071 over the pseudo-header of RFC 9293 3.1
 * (IPv4) or RFC 8200 8.1 (IPv6).
 */
#include <stdio.h>
#include <string.h>

#include "opts.h"
#include "segment.h"

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)(p[0] << 8);
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static size_t addr_len(const struct tw_addr *a)
{
	return a->family == TW_AF_INET ? 4 : 16;
}

static uint16_t tcp_checksum(const struct tw_addr *src, const struct tw_addr *dst, const uint8_t *tcp, size_t len)
{
	uint8_t tail[8] = { 0 };
	uint32_t sum = sum16(0, src->bytes, addr_len(src));
	sum = sum16(sum, dst->bytes, addr_len(dst));
	if (src->family == TW_AF_INET) {
		tail[1] = 6;
		drill_put16(tail + 2, (uint16_t)len);
		sum = sum16(sum, tail, 4);
	} else {
		drill_put32(tail, (uint32_t)len);
		tail[7] = 6;
		sum = sum16(sum, tail, 8);
	}
	return fold(sum16(sum, tcp, len));
}

static size_t put_ip(const struct drill_seg *seg, uint8_t *b, size_t tcp_len)
{
	if (seg->src.family == TW_AF_INET) {
		memset(b, 0, 20);
		b[0] = 0x45;
		drill_put16(b + 2, (uint16_t)(20 + tcp_len));
		b[6] = 0x40;   /* DF */
		b[8] = 64;
		b[9] = 6;
		memcpy(b + 12, seg->src.bytes, 4);
		memcpy(b + 16, seg->dst.bytes, 4);
		drill_put16(b + 10, fold(sum16(0, b, 20)));
		return 20;
	}
	memset(b, 0, 40);
	b[0] = 0x60;
	drill_put16(b + 4, (uint16_t)tcp_len);
	b[6] = 6;
	b[7] = 64;
	memcpy(b + 8, seg->src.bytes, 16);
	memcpy(b + 24, seg->dst.bytes, 16);
	return 40;
}

size_t drill_seg_build(const struct drill_seg *seg, uint8_t *buf, size_t cap)
{
	size_t ip_len = seg->src.family == TW_AF_INET ? 20 : 40;
	size_t hdr = 20 + seg->opts_len;
	size_t tcp_len = hdr + seg->payload_len;
	if (seg->opts_len % 4 || ip_len + tcp_len > cap || ip_len + tcp_len > 65535 + (ip_len == 40 ? 40 : 0))
		return 0;
	uint8_t *t = buf + put_ip(seg, buf, tcp_len);
	memset(t, 0, 20);
	drill_put16(t, seg->sport);
	drill_put16(t + 2, seg->dport);
	drill_put32(t + 4, seg->seq);
	drill_put32(t + 8, seg->ack);
	t[12] = (uint8_t)((hdr / 4) << 4);
	t[13] = seg->flags;
	drill_put16(t + 14, seg->win);
	drill_put16(t + 18, seg->urg);
	memcpy(t + 20, seg->opts, seg->opts_len);
	if (seg->payload)
		memcpy(t + hdr, seg->payload, seg->payload_len);
	else
		memset(t + hdr, 0, seg->payload_len);
	drill_put16(t + 16, tcp_checksum(&seg->src, &seg->dst, t, tcp_len));
	return ip_len + tcp_len;
}

/* The IP header: where TCP starts and how long it is. */
static int parse_ip(const uint8_t *p, size_t len, struct drill_seg *seg, size_t *tcp_off, size_t *tcp_len,
		    char *why, size_t cap)
{
	memset(seg, 0, sizeof(*seg));
	if (len >= 20 && p[0] >> 4 == 4) {
		size_t ihl = (size_t)(p[0] & 15) * 4, total = drill_get16(p + 2);
		if (ihl < 20 || total < ihl || total > len)
			return snprintf(why, cap, "IPv4 header lengths are wrong"), -1;
		if (fold(sum16(0, p, ihl)) != 0)
			return snprintf(why, cap, "bad IPv4 header checksum"), -1;
		if (p[9] != 6 || (drill_get16(p + 6) & 0x3fff))
			return snprintf(why, cap, "not a whole TCP segment (protocol %u)", p[9]), -1;
		seg->src.family = seg->dst.family = TW_AF_INET;
		memcpy(seg->src.bytes, p + 12, 4);
		memcpy(seg->dst.bytes, p + 16, 4);
		*tcp_off = ihl;
		*tcp_len = total - ihl;
		return 0;
	}
	if (len >= 40 && p[0] >> 4 == 6) {
		size_t plen = drill_get16(p + 4);
		if (40 + plen > len)
			return snprintf(why, cap, "IPv6 payload length is wrong"), -1;
		if (p[6] != 6)
			return snprintf(why, cap, "not TCP right after the IPv6 header (next header %u)", p[6]), -1;
		seg->src.family = seg->dst.family = TW_AF_INET6;
		memcpy(seg->src.bytes, p + 8, 16);
		memcpy(seg->dst.bytes, p + 24, 16);
		*tcp_off = 40;
		*tcp_len = plen;
		return 0;
	}
	snprintf(why, cap, "not an IPv4 or IPv6 packet");
	return -1;
}

int drill_seg_parse(const uint8_t *pkt, size_t len, struct drill_seg *seg, char *why, size_t cap)
{
	size_t off, tlen;
	if (parse_ip(pkt, len, seg, &off, &tlen, why, cap))
		return -1;
	const uint8_t *t = pkt + off;
	size_t hdr = tlen >= 20 ? (size_t)(t[12] >> 4) * 4 : 0;
	if (tlen < 20 || hdr < 20 || hdr > tlen)
		return snprintf(why, cap, "TCP header lengths are wrong"), -1;
	if (tcp_checksum(&seg->src, &seg->dst, t, tlen) != 0)
		return snprintf(why, cap, "bad TCP checksum"), -1;
	seg->sport = drill_get16(t);
	seg->dport = drill_get16(t + 2);
	seg->seq = drill_get32(t + 4);
	seg->ack = drill_get32(t + 8);
	seg->flags = t[13];
	seg->win = drill_get16(t + 14);
	seg->urg = drill_get16(t + 18);
	seg->opts_len = (uint8_t)(hdr - 20);
	memcpy(seg->opts, t + 20, seg->opts_len);
	seg->payload = t + hdr;
	seg->payload_len = tlen - hdr;
	return 0;
}
