/*
 * SYN cookies (RFC 4987 3.6), laid out as Linux lays them out
 * (net/ipv4/syncookies.c), so a listener whose SYN queue is full still
 * answers every SYN and keeps no state for it: the SYN-ACK's ISN carries
 * what the connection needs, and the third segment brings it back.
 *
 * ISN = H0(4-tuple) + SEG.SEQ + (count << 24) + ((H1(4-tuple, count) + mss_index) mod 2^24)
 *
 * H0 and H1 are SipHash-2-4 under the stack's secret, with different domain
 * bytes, and `count` is a minute counter from the stack's clock: a cookie is
 * good for the minute it was made and the next (Linux's MAX_SYNCOOKIE_AGE),
 * and the secret, mixed with the counter, rotates with it. When both SYNs
 * carry timestamps, the low 6 bits of the SYN-ACK's TSval carry the peer's
 * window scale (15: none), SACK-permitted and ECN, so a connection made from
 * a cookie keeps its options; without timestamps it has none (as in Linux).
 */
#include <string.h>

#include "tcp/seq.h"
#include "wire/siphash.h"
#include "tcp/tcp.h"

#define COOKIE_BITS 24
#define COOKIE_MASK ((1u << COOKIE_BITS) - 1)
#define COOKIE_MAX_AGE 2u                   /* counter steps a cookie stays good (Linux's) */
#define COOKIE_PERIOD_US (60ull * 1000000)  /* one step of the counter: a minute */

#define TS_OPT_BITS 6
#define TS_OPT_MASK ((1u << TS_OPT_BITS) - 1)
#define TS_OPT_WSCALE_NONE 0xfu
#define TS_OPT_SACK (1u << 4)
#define TS_OPT_ECN (1u << 5)

/* Linux's MSS tables: the cookie keeps an index into one of these, 2 bits. */
static const uint16_t mss_v4[] = { 536, 1300, 1440, 1460 };
static const uint16_t mss_v6[] = { 1220, 1420, 1440, 8940 };
#define MSS_ENTRIES 4u

enum { HASH_COOKIE_BASE = 0x43, HASH_COOKIE_COUNT = 0x44 };   /* apart from enum tcp_hash_use */

static uint32_t cookie_hash(const struct tw_stack *st, const struct tcp_flow *f, uint8_t which, uint32_t count)
{
	/* Serialized field by field, as for ISNs (RFC 6528 3). */
	uint8_t msg[1 + 16 + 16 + 2 + 2 + 4];
	size_t alen = tcp_addr_len(f->family), n = 0;
	msg[n++] = which;
	memcpy(msg + n, f->laddr, alen);
	n += alen;
	memcpy(msg + n, f->raddr, alen);
	n += alen;
	wire_put16(msg + n, f->lport);
	wire_put16(msg + n + 2, f->rport);
	wire_put32(msg + n + 4, count);
	n += 8;
	return (uint32_t)wire_siphash24(st->cfg.secret, msg, n);
}

static uint32_t cookie_count(const struct tw_stack *st)
{
	return (uint32_t)(st->now / COOKIE_PERIOD_US);
}

static const uint16_t *mss_table(uint8_t family)
{
	return family == TW_AF_INET ? mss_v4 : mss_v6;
}

/* The largest table entry the peer's MSS allows (Linux's cookie_v4_init_sequence). */
static uint32_t mss_index(uint8_t family, uint16_t peer_mss)
{
	const uint16_t *tab = mss_table(family);
	uint32_t i = MSS_ENTRIES - 1;
	while (i && peer_mss < tab[i])
		i--;
	return i;
}

uint32_t tcp_cookie_isn(const struct tw_stack *st, const struct tcp_flow *f, uint32_t peer_isn, uint16_t peer_mss,
			uint16_t *mss_used)
{
	uint32_t count = cookie_count(st);
	uint32_t idx = mss_index(f->family, peer_mss);
	*mss_used = mss_table(f->family)[idx];
	return cookie_hash(st, f, HASH_COOKIE_BASE, 0) + peer_isn + (count << COOKIE_BITS) +
	       ((cookie_hash(st, f, HASH_COOKIE_COUNT, count) + idx) & COOKIE_MASK);
}

uint16_t tcp_cookie_check(const struct tw_stack *st, const struct tcp_flow *f, uint32_t cookie, uint32_t peer_isn)
{
	uint32_t count = cookie_count(st);
	cookie -= cookie_hash(st, f, HASH_COOKIE_BASE, 0) + peer_isn;
	uint32_t age = (count - (cookie >> COOKIE_BITS)) & (UINT32_MAX >> COOKIE_BITS);
	if (age >= COOKIE_MAX_AGE)
		return 0;   /* stale, or never made here */
	uint32_t idx = (cookie - cookie_hash(st, f, HASH_COOKIE_COUNT, count - age)) & COOKIE_MASK;
	return idx < MSS_ENTRIES ? mss_table(f->family)[idx] : 0;
}

/*
 * Linux's cookie_init_timestamp: the clock's value with the options in its
 * low bits, never ahead of the clock (a step back of 64 ms at most).
 */
uint32_t tcp_cookie_tsval(uint32_t ts_now, int peer_wscale, bool sack, bool ecn)
{
	uint32_t options = peer_wscale >= 0 ? (uint32_t)peer_wscale : TS_OPT_WSCALE_NONE;
	if (sack)
		options |= TS_OPT_SACK;
	if (ecn)
		options |= TS_OPT_ECN;
	uint32_t ts = (ts_now & ~TS_OPT_MASK) | options;
	if (seq_gt(ts, ts_now))
		ts = ((ts_now & ~TS_OPT_MASK) - (1u << TS_OPT_BITS)) | options;
	return ts;
}

/* Linux's cookie_timestamp_decode: what the echoed TSval says the SYN offered. */
void tcp_cookie_ts_decode(uint32_t ts_ecr, int *peer_wscale, bool *sack, bool *ecn)
{
	uint32_t options = ts_ecr & TS_OPT_MASK;
	*sack = options & TS_OPT_SACK;
	*ecn = options & TS_OPT_ECN;
	uint32_t ws = options & TS_OPT_WSCALE_NONE;
	*peer_wscale = ws == TS_OPT_WSCALE_NONE ? -1 : (int)ws;
}
