/*
 * IP reassembly (RFC 791 3.2, RFC 8200 4.5): fragments of a datagram for us
 * are held until the datagram is whole, which then goes through input as any
 * packet would, or until its time is over.
 *
 * A datagram is found by (source, destination, identification, protocol) in
 * IPv4 and (source, destination, identification) in IPv6, in a table keyed
 * with the stack's secret (SipHash-1-3), so a peer cannot aim its fragments
 * at one chain. Memory is bounded per stack: reass_max_bytes, counting each
 * datagram's state and each fragment held, and reass_max_datagrams; when
 * full, new fragments are dropped (Linux's ipfrag_high_thresh: nothing held
 * is evicted for them), and the timeouts free what never completes.
 *
 * Where the fragments lie is kept in two bitmaps of 8-octet blocks, one of
 * blocks held and one of blocks where a fragment starts, so an overlap or an
 * exact duplicate is told in time proportional to the fragment's own length
 * however many fragments are held, and a datagram cut into 8-byte pieces in
 * any order costs no more than one in large pieces.
 */
#include <stdlib.h>
#include <string.h>

#include "ip/ip.h"
#include "wire/siphash.h"

#define BLOCKS 8192u            /* 8-octet blocks in 65,536 bytes */
#define IP_MAXPACKET 65535u     /* RFC 791 3.1's Total Length; RFC 8200 3's Payload Length */

struct reass_frag {
	struct reass_frag *next;
	uint16_t offset;            /* bytes into the datagram's data */
	uint16_t len;
	uint16_t hdr_len;           /* the first fragment keeps its packet's header before its data */
	uint8_t bytes[];
};

struct ip_reass_dgram {
	struct ip_reass_dgram *chain;           /* the next in its hash bucket */
	struct ip_reass_dgram *older, *newer;   /* its family's arrival list */
	uint64_t deadline;
	uint64_t charged;           /* what it holds, as reass_max_bytes counts it */
	uint32_t hash;
	uint32_t id;
	uint8_t family, proto;
	uint8_t src[16], dst[16];
	bool last_in;               /* the fragment with MF or M clear came: `end` is the data's length */
	uint32_t end;               /* the highest end of a fragment held */
	uint32_t held;              /* bytes of data held */
	uint16_t unfrag_len;        /* the first fragment's: IPv4 options, IPv6's unfragmentable extension headers */
	struct reass_frag *frags, *first;
	uint8_t covered[BLOCKS / 8];
	uint8_t starts[BLOCKS / 8];
};

static bool bit(const uint8_t *map, uint32_t b) { return map[b / 8] >> (b % 8) & 1; }
static void set_bit(uint8_t *map, uint32_t b) { map[b / 8] |= (uint8_t)(1u << (b % 8)); }
static unsigned fam(uint8_t family) { return family == TW_AF_INET6; }

static uint64_t timeout_us(const struct tw_stack_config *cfg, uint8_t family)
{
	return family == TW_AF_INET ? cfg->reass_timeout_us : cfg->reass6_timeout_us;
}

/* The key, serialized (never a padded struct): family, protocol (IPv4 only), identification, addresses. */
static uint32_t key_hash(const struct ip_layer *ip, const struct ip_packet *p, uint32_t id)
{
	uint8_t k[2 + 4 + 32];
	size_t n = ip_addr_len(p->family);
	k[0] = p->family;
	k[1] = p->family == TW_AF_INET ? p->proto : 0;
	wire_put32(k + 2, id);
	memcpy(k + 6, p->src, n);
	memcpy(k + 6 + n, p->dst, n);
	return (uint32_t)wire_siphash13(ip->cfg->secret, k, 6 + 2 * n);
}

static bool matches(const struct ip_reass_dgram *d, const struct ip_packet *p, uint32_t id)
{
	size_t n = ip_addr_len(p->family);
	return d->family == p->family && d->id == id && (p->family != TW_AF_INET || d->proto == p->proto) &&
	       !memcmp(d->src, p->src, n) && !memcmp(d->dst, p->dst, n);
}

static bool table_init(struct ip_layer *ip)
{
	uint32_t n = 16;
	while (n < ip->cfg->reass_max_datagrams && n < 4096)
		n *= 2;
	ip->reass.table = calloc(n, sizeof(*ip->reass.table));
	ip->reass.mask = n - 1;
	return ip->reass.table != NULL;
}

static struct ip_reass_dgram *find(const struct ip_layer *ip, const struct ip_packet *p, uint32_t id, uint32_t h)
{
	for (struct ip_reass_dgram *d = ip->reass.table[h & ip->reass.mask]; d; d = d->chain)
		if (d->hash == h && matches(d, p, id))
			return d;
	return NULL;
}

static bool fits(const struct ip_layer *ip, uint64_t more)
{
	return ip->reass.bytes + more <= ip->cfg->reass_max_bytes;
}

static struct ip_reass_dgram *dgram_new(struct ip_layer *ip, const struct ip_packet *p, uint32_t id, uint32_t h)
{
	struct ip_reass *r = &ip->reass;
	struct ip_reass_dgram *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->family = p->family;
	d->proto = p->proto;
	d->id = id;
	memcpy(d->src, p->src, sizeof(d->src));
	memcpy(d->dst, p->dst, sizeof(d->dst));
	d->hash = h;
	/* Linux's ipfrag_time: the timer runs from the first fragment and is not restarted by others. */
	d->deadline = *ip->now + timeout_us(ip->cfg, p->family);
	d->charged = sizeof(*d);
	unsigned f = fam(p->family);
	d->older = r->newest[f];
	if (d->older)
		d->older->newer = d;
	else
		r->oldest[f] = d;
	r->newest[f] = d;
	d->chain = r->table[h & r->mask];
	r->table[h & r->mask] = d;
	r->bytes += d->charged;
	r->count++;
	return d;
}

static void dgram_free(struct ip_layer *ip, struct ip_reass_dgram *d)
{
	struct ip_reass *r = &ip->reass;
	struct ip_reass_dgram **pp = &r->table[d->hash & r->mask];
	while (*pp != d)
		pp = &(*pp)->chain;
	*pp = d->chain;
	unsigned f = fam(d->family);
	if (d->older)
		d->older->newer = d->newer;
	else
		r->oldest[f] = d->newer;
	if (d->newer)
		d->newer->older = d->older;
	else
		r->newest[f] = d->older;
	for (struct reass_frag *x = d->frags, *next; x; x = next) {
		next = x->next;
		free(x);
	}
	r->bytes -= d->charged;
	r->count--;
	free(d);
}

/* The datagram's addresses, for the drop it is counted as. */
static int drop_dgram(struct ip_layer *ip, struct ip_reass_dgram *d, enum tw_drop why)
{
	struct ip_packet p = { .family = d->family, .proto = d->proto };
	memcpy(p.src, d->src, sizeof(p.src));
	memcpy(p.dst, d->dst, sizeof(p.dst));
	dgram_free(ip, d);
	return ip_drop_packet(ip, why, &p);
}

enum place { PLACE_FREE, PLACE_DUPLICATE, PLACE_OVERLAP };

/*
 * Where [off, end) falls among the fragments held. Fragments held never
 * overlap, so a new one that touches a block held is an exact duplicate
 * only if a held fragment starts where it starts, none starts inside it,
 * and the one there ends where it ends. The checks of the datagram's end
 * before this make blocks exact: only a last fragment ends inside a block.
 */
static enum place place(const struct ip_reass_dgram *d, uint32_t off, uint32_t end)
{
	uint32_t b0 = off / 8, b1 = (end + 7) / 8;
	bool any = false, all = true;
	for (uint32_t b = b0; b < b1; b++) {
		bool c = bit(d->covered, b);
		any |= c;
		all &= c;
	}
	if (!any)
		return PLACE_FREE;
	if (!all || !bit(d->starts, b0))
		return PLACE_OVERLAP;
	for (uint32_t b = b0 + 1; b < b1; b++)
		if (bit(d->starts, b))
			return PLACE_OVERLAP;
	if (b1 < BLOCKS && bit(d->covered, b1) && !bit(d->starts, b1))
		return PLACE_OVERLAP;
	return PLACE_DUPLICATE;
}

static bool hold(struct ip_layer *ip, struct ip_reass_dgram *d, const struct ip_fragment *f, size_t need)
{
	struct reass_frag *x = malloc(need);
	if (!x)
		return false;
	uint32_t end = f->offset + (uint32_t)f->data_len;
	x->offset = f->offset;
	x->len = (uint16_t)f->data_len;
	/* The first fragment is kept whole: its header makes the datagram's, and an error quotes it. */
	x->hdr_len = f->offset == 0 ? (uint16_t)f->hdr_len : 0;
	memcpy(x->bytes, f->offset == 0 ? f->pkt : f->data, x->hdr_len + f->data_len);
	x->next = d->frags;
	d->frags = x;
	if (f->offset == 0) {
		d->first = x;
		d->unfrag_len = (uint16_t)f->unfrag_len;
	}
	for (uint32_t b = f->offset / 8; b < (end + 7) / 8; b++)
		set_bit(d->covered, b);
	set_bit(d->starts, f->offset / 8);
	d->held += x->len;
	if (end > d->end)
		d->end = end;
	if (!f->more)
		d->last_in = true;
	d->charged += need;
	ip->reass.bytes += need;
	return true;
}

/* The reassembled packet's header, from the first fragment's; its length or 0. */
static size_t put_header(const struct ip_reass_dgram *d, uint8_t *buf, size_t len)
{
	const struct reass_frag *first = d->first;
	size_t first_len = (size_t)first->hdr_len + first->len;
	if (d->family == TW_AF_INET) {
		struct wire_ipv4 h;
		if (wire_ipv4_parse(&h, first->bytes, first_len))
			return 0;
		/* RFC 791 3.2: the first fragment's header, for the whole length, MF and offset clear. */
		h.total_len = (uint16_t)len;
		h.frag &= WIRE_IPV4_FLAG_DF;
		return wire_ipv4_emit(&h, buf, len);
	}
	struct wire_ipv6 h6;
	if (wire_ipv6_parse(&h6, first->bytes, first_len))
		return 0;
	/* RFC 8200 4.5: the unfragmentable part of the first fragment, then the fragmentable part. */
	return wire_ipv6_emit_unfragmentable(&h6, (uint16_t)(len - WIRE_IPV6_HDR_LEN), buf, len);
}

static int reassemble(struct ip_layer *ip, struct ip_reass_dgram *d, const uint8_t **whole, size_t *whole_len)
{
	size_t hdr = ip_header_len(d->family) + d->unfrag_len;
	size_t len = hdr + d->end;
	/* RFC 791 3.1, RFC 8200 4.5: past 65,535 bytes with the first fragment's header, it cannot be. */
	if (len - (d->family == TW_AF_INET6 ? WIRE_IPV6_HDR_LEN : 0) > IP_MAXPACKET)
		return drop_dgram(ip, d, TW_DROP_FRAG_TOO_BIG);
	ip_reass_release_whole(ip);
	uint8_t *buf = malloc(len);
	if (!buf)
		return drop_dgram(ip, d, TW_DROP_NO_MEMORY);
	if (put_header(d, buf, len) != hdr) {
		free(buf);
		return drop_dgram(ip, d, TW_DROP_IP_MALFORMED);
	}
	for (const struct reass_frag *x = d->frags; x; x = x->next)
		memcpy(buf + hdr + x->offset, x->bytes + x->hdr_len, x->len);
	dgram_free(ip, d);
	ip->stats->reass_ok++;
	ip->reass.whole = buf;
	*whole = buf;
	*whole_len = len;
	return IP_REASS_WHOLE;
}

/* RFC 8200 4.5: "an ICMP Parameter Problem, Code 0, message should be sent", pointing at `field`. */
static void param_problem(struct ip_layer *ip, const struct ip_packet *p, const struct ip_fragment *f, uint32_t field)
{
	if (p->family == TW_AF_INET6)
		ip_icmp_error(ip, TW_AF_INET6, WIRE_ICMP6_PARAM_PROBLEM, 0, field, p->dst, p->src, f->pkt,
			      f->hdr_len + f->data_len);
}

/* The checks a fragment passes on its own, before any datagram is looked at: 0 or a drop reason. */
static enum tw_drop check_fragment(struct ip_layer *ip, const struct ip_packet *p, const struct ip_fragment *f)
{
	uint32_t end = f->offset + (uint32_t)f->data_len;
	/*
	 * RFC 8200 4.5: a fragment with M set whose length is not a multiple of
	 * 8 "must be discarded"; RFC 791 cuts every fragment but the last at an
	 * 8-octet boundary. DEVIATION(Linux): Linux trims such an IPv4 fragment
	 * to the boundary and keeps it; it is dropped here in both families,
	 * since no sender that follows RFC 791 makes one.
	 */
	if (f->more && f->data_len % 8) {
		param_problem(ip, p, f, 4 /* Payload Length */);
		return TW_DROP_FRAG_UNALIGNED;
	}
	/* Linux's ip_frag_queue and ip6_frag_queue: a fragment with no data is dropped. */
	if (f->data_len == 0)
		return TW_DROP_FRAG_BAD_LENGTH;
	/*
	 * RFC 8200 4.5: a fragment that would make the Payload Length exceed
	 * 65,535 "must be discarded"; IPv4's Total Length has the same bound
	 * (the ping of death).
	 */
	size_t whole = (p->family == TW_AF_INET ? WIRE_IPV4_HDR_MIN : 0) + f->unfrag_len + end;
	if (whole > IP_MAXPACKET) {
		param_problem(ip, p, f, (uint32_t)(f->hdr_len - 6) /* Fragment Offset */);
		return TW_DROP_FRAG_TOO_BIG;
	}
	if (p->proto == WIRE_PROTO_TCP) {
		/* RFC 1858 3.2: "if FO=1 and PROTOCOL=TCP then DROP PACKET". */
		if (f->offset == 8)
			return TW_DROP_FRAG_TINY;
		/*
		 * RFC 1858 3.2, RFC 7112 5: the first fragment holds the whole TCP
		 * header, as long as its data offset says, so no later fragment can
		 * change the flags or the ports a filter saw.
		 */
		size_t th = wire_tcp_header_len(p->payload, p->payload_len);
		if (f->offset == 0 && (th == 0 || p->payload_len < th))
			return TW_DROP_FRAG_TINY;
	}
	return 0;
}

/* Linux's ip_frag_queue, ip6_frag_queue: a fragment's end must agree with the datagram's. */
static bool end_agrees(const struct ip_reass_dgram *d, const struct ip_fragment *f)
{
	uint32_t end = f->offset + (uint32_t)f->data_len;
	if (!f->more)
		return end >= d->end && (!d->last_in || end == d->end);
	return !d->last_in || end <= d->end;
}

int ip_reass_input(struct ip_layer *ip, const struct ip_packet *p, const struct ip_fragment *f,
		   const uint8_t **whole, size_t *whole_len)
{
	const struct tw_stack_config *cfg = ip->cfg;
	ip->stats->frags_received++;
	if (!cfg->reass_max_bytes || !cfg->reass_max_datagrams)
		return ip_drop_packet(ip, TW_DROP_FRAGMENT, p);
	ip_reass_expire(ip);
	enum tw_drop why = check_fragment(ip, p, f);
	if (why)
		return ip_drop_packet(ip, why, p);
	if (!ip->reass.table && !table_init(ip))
		return ip_drop_packet(ip, TW_DROP_NO_MEMORY, p);

	uint32_t h = key_hash(ip, p, f->id);
	struct ip_reass_dgram *d = find(ip, p, f->id, h);
	size_t need = sizeof(struct reass_frag) + (f->offset == 0 ? f->hdr_len : 0) + f->data_len;
	if (!d) {
		if (ip->reass.count >= cfg->reass_max_datagrams || !fits(ip, sizeof(*d) + need))
			return ip_drop_packet(ip, TW_DROP_FRAG_NO_ROOM, p);
		if (!(d = dgram_new(ip, p, f->id, h)))
			return ip_drop_packet(ip, TW_DROP_NO_MEMORY, p);
	}
	if (!end_agrees(d, f))
		return ip_drop_packet(ip, TW_DROP_FRAG_BAD_LENGTH, p);
	switch (place(d, f->offset, f->offset + (uint32_t)f->data_len)) {
	case PLACE_DUPLICATE:
		/*
		 * RFC 8200 4.5: "an implementation may choose to detect this case
		 * and drop exact duplicate fragments while keeping the other
		 * fragments", as Linux does (IPFRAG_DUP) in both families.
		 */
		return ip_drop_packet(ip, TW_DROP_FRAG_DUPLICATE, p);
	case PLACE_OVERLAP:
		/*
		 * RFC 5722 4 (with erratum 3089): if a fragment overlaps, "the entire
		 * datagram (and any constituent fragments) MUST be silently
		 * discarded". For IPv4 too, as Linux since its FragmentSmack fixes
		 * (CVE-2018-5391): no RFC asks it of IPv4, but overlaps only serve
		 * to slip past filters.
		 */
		dgram_free(ip, d);
		return ip_drop_packet(ip, TW_DROP_FRAG_OVERLAP, p);
	case PLACE_FREE:
		break;
	}
	if (!fits(ip, need))
		return ip_drop_packet(ip, TW_DROP_FRAG_NO_ROOM, p);
	if (!hold(ip, d, f, need))
		return ip_drop_packet(ip, TW_DROP_NO_MEMORY, p);
	if (!d->last_in || d->held != d->end || !d->first)
		return 0;
	return reassemble(ip, d, whole, whole_len);
}

/*
 * RFC 791 3.2 and RFC 8200 4.5: a datagram not whole in time is given up;
 * if its first fragment came, the source is sent "ICMP Time Exceeded --
 * Fragment Reassembly Time Exceeded" (RFC 792 type 11, RFC 4443 type 3,
 * code 1) quoting it, as Linux's ip_expire and ip6_expire_frag_queue do.
 */
static void give_up(struct ip_layer *ip, struct ip_reass_dgram *d)
{
	if (d->first) {
		uint8_t type = d->family == TW_AF_INET ? WIRE_ICMP_TIME_EXCEEDED : WIRE_ICMP6_TIME_EXCEEDED;
		ip_icmp_error(ip, d->family, type, 1, 0, d->dst, d->src, d->first->bytes,
			      (size_t)d->first->hdr_len + d->first->len);
	}
	ip->stats->reass_timeouts++;
	drop_dgram(ip, d, TW_DROP_FRAG_TIMEOUT);
}

void ip_reass_expire(struct ip_layer *ip)
{
	for (unsigned f = 0; f < 2; f++) {
		struct ip_reass_dgram *d;
		while ((d = ip->reass.oldest[f]) && d->deadline <= *ip->now)
			give_up(ip, d);
	}
}

uint64_t ip_reass_next(const struct ip_layer *ip)
{
	uint64_t next = UINT64_MAX;
	for (unsigned f = 0; f < 2; f++)
		if (ip->reass.oldest[f] && ip->reass.oldest[f]->deadline < next)
			next = ip->reass.oldest[f]->deadline;
	return next;
}

void ip_reass_release_whole(struct ip_layer *ip)
{
	free(ip->reass.whole);
	ip->reass.whole = NULL;
}

void ip_reass_free(struct ip_layer *ip)
{
	for (unsigned f = 0; f < 2; f++)
		while (ip->reass.oldest[f])
			dgram_free(ip, ip->reass.oldest[f]);
	free(ip->reass.table);
	ip->reass.table = NULL;
	ip_reass_release_whole(ip);
}
