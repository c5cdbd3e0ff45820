/*
 * IPv6 (RFC 8200): the fixed header, then the extension headers walked to the
 * upper layer: hop-by-hop options, routing, fragment, destination options.
 */
#include <string.h>

#include "wire/wire.h"

static bool is_extension_header(uint8_t next)
{
	return next == WIRE_PROTO_HOPOPTS || next == WIRE_PROTO_ROUTING ||
	       next == WIRE_PROTO_FRAGMENT || next == WIRE_PROTO_DSTOPTS;
}

/* RFC 8200 4.5: offset in 8-octet units, M flag in the low bit, identification. */
static void parse_fragment_header(struct wire_ipv6 *ip, const uint8_t *h)
{
	uint16_t off_flags = wire_get16(h + 2);
	ip->fragmented = true;
	ip->frag_offset = (uint16_t)(off_flags & 0xfff8);
	ip->frag_more = off_flags & 1;
	ip->frag_id = wire_get32(h + 4);
}

/*
 * Walks the extension headers in p[0..len). RFC 8200 4.1: the hop-by-hop
 * header may only follow the fixed header.
 */
static int walk_extension_headers(struct wire_ipv6 *ip, const uint8_t *p, size_t len)
{
	uint8_t next = ip->next;
	size_t at = 0;

	while (is_extension_header(next)) {
		if (ip->n_ext == WIRE_IPV6_MAX_EXT)
			return -WIRE_E_EXT_CHAIN;
		if (next == WIRE_PROTO_HOPOPTS && ip->n_ext != 0)
			return -WIRE_E_EXT_CHAIN;
		if (len - at < 8)
			return -WIRE_E_EXT_HDR;
		/* RFC 8200 4.5: the fragment header is 8 octets; the others say (n + 1) * 8. */
		size_t ext_len = next == WIRE_PROTO_FRAGMENT ? 8 : ((size_t)p[at + 1] + 1) * 8;
		if (ext_len > len - at)
			return -WIRE_E_EXT_HDR;
		struct wire_ipv6_ext *e = &ip->ext[ip->n_ext++];
		e->type = next;
		e->len = (uint16_t)ext_len;
		e->data = p + at;
		if (next == WIRE_PROTO_FRAGMENT) {
			/* RFC 8200 4.1: each extension header at most once, but Destination Options. */
			if (ip->fragmented)
				return -WIRE_E_EXT_CHAIN;
			parse_fragment_header(ip, p + at);
			ip->frag_next = p[at];
			ip->unfrag_len = (uint16_t)at;
			ip->frag_data = p + at + ext_len;
			ip->frag_data_len = len - at - ext_len;
			ip->n_ext_unfrag = (uint8_t)(ip->n_ext - 1);
			/*
			 * RFC 8200 4.5: past the Fragment header of a fragment that
			 * is not the first lies the middle of the fragmentable part,
			 * not a header: the walk ends there.
			 */
			if (ip->frag_offset != 0) {
				ip->proto = ip->frag_next;
				ip->payload = ip->frag_data;
				ip->payload_len = ip->frag_data_len;
				return 0;
			}
		}
		next = p[at];
		at += ext_len;
	}
	ip->proto = next;
	ip->payload = p + at;
	ip->payload_len = len - at;
	return 0;
}

int wire_ipv6_parse(struct wire_ipv6 *ip, const uint8_t *buf, size_t len)
{
	memset(ip, 0, sizeof(*ip));
	if (len < WIRE_IPV6_HDR_LEN)
		return -WIRE_E_TRUNCATED;
	if (buf[0] >> 4 != 6)
		return -WIRE_E_VERSION;

	uint32_t first = wire_get32(buf);
	ip->tclass = (uint8_t)(first >> 20);
	ip->flow = first & 0xfffff;
	ip->plen = wire_get16(buf + 4);
	ip->next = buf[6];
	ip->hlim = buf[7];
	memcpy(ip->src, buf + 8, 16);
	memcpy(ip->dst, buf + 24, 16);

	/* Bytes past the payload length are link padding. */
	size_t avail = len - WIRE_IPV6_HDR_LEN;
	size_t present = avail < ip->plen ? avail : ip->plen;
	ip->missing = ip->plen - present;

	int err = walk_extension_headers(ip, buf + WIRE_IPV6_HDR_LEN, present);
	if (err)
		return err;
	/*
	 * A zero Payload Length with no payload is an empty packet (next header
	 * 59). A jumbogram (RFC 2675) also says 0, but its hop-by-hop header
	 * cannot fit in zero bytes and was refused above: jumbograms are not
	 * supported.
	 */
	if (ip->missing)
		return -WIRE_E_TOTAL_LEN;
	return 0;
}

size_t wire_ipv6_emit(const struct wire_ipv6 *ip, uint8_t *buf, size_t cap)
{
	if (cap < WIRE_IPV6_HDR_LEN || ip->flow > 0xfffff)
		return 0;
	wire_put32(buf, 6u << 28 | (uint32_t)ip->tclass << 20 | ip->flow);
	wire_put16(buf + 4, ip->plen);
	buf[6] = ip->next;
	buf[7] = ip->hlim;
	memcpy(buf + 8, ip->src, 16);
	memcpy(buf + 24, ip->dst, 16);
	return WIRE_IPV6_HDR_LEN;
}

size_t wire_ipv6_emit_unfragmentable(const struct wire_ipv6 *ip, uint16_t plen, uint8_t *buf, size_t cap)
{
	if (!ip->fragmented || cap < WIRE_IPV6_HDR_LEN + (size_t)ip->unfrag_len)
		return 0;
	/* RFC 8200 4.5: the Next Header that named the Fragment header now names what it named. */
	struct wire_ipv6 fixed = *ip;
	fixed.plen = plen;
	if (ip->n_ext_unfrag == 0)
		fixed.next = ip->frag_next;
	size_t n = wire_ipv6_emit(&fixed, buf, cap);
	for (unsigned i = 0; i < ip->n_ext_unfrag; i++) {
		const struct wire_ipv6_ext *e = &ip->ext[i];
		memcpy(buf + n, e->data, e->len);
		if (i + 1 == ip->n_ext_unfrag)
			buf[n] = ip->frag_next;
		n += e->len;
	}
	return n;
}

/*
 * RFC 8200 8.1: with a Routing header the pseudo-header carries the final
 * destination, which the header's Destination Address holds only once no
 * segments are left; before that it is the last address of a type 0 or 2
 * header, or the first segment of a type 4 (SRH, RFC 8754 2).
 */
static const uint8_t *final_destination(const struct wire_ipv6 *ip)
{
	for (unsigned i = 0; i < ip->n_ext; i++) {
		const struct wire_ipv6_ext *e = &ip->ext[i];
		if (e->type != WIRE_PROTO_ROUTING || e->data[3] == 0)
			continue;
		uint8_t type = e->data[2];
		if ((type == 0 || type == 2) && e->len >= 8 + 16)
			return e->data + 8 + (e->len - 8) / 16 * 16 - 16;
		if (type == 4 && e->len >= 8 + 16)
			return e->data + 8;
	}
	return ip->dst;
}

void wire_ipv6_pseudo(const struct wire_ipv6 *ip, struct wire_pseudo *ph)
{
	memset(ph, 0, sizeof(*ph));
	ph->family = 6;
	ph->proto = ip->proto;
	memcpy(ph->src, ip->src, 16);
	memcpy(ph->dst, final_destination(ip), 16);
	/* RFC 8200 8.1: the upper-layer length excludes the extension headers. */
	size_t ext = 0;
	for (unsigned i = 0; i < ip->n_ext; i++)
		ext += ip->ext[i].len;
	ph->len = ip->plen > ext ? (uint32_t)(ip->plen - ext) : 0;
}
