/*
 * Numbers an off-path attacker must not guess: ISNs (RFC 6528), timestamp
 * offsets (RFC 7323 7.1), and the keys of the connection table. Each is a
 * SipHash-2-4 of the serialized 4-tuple under the stack's secret, with a
 * different first byte for each use so one value tells nothing of another.
 */
#include <string.h>

#include "tcp/siphash.h"
#include "tcp/tcp.h"

uint64_t tcp_tuple_hash(const struct tw_stack *st, enum tcp_hash_use use, uint8_t family,
			const uint8_t *laddr, uint16_t lport, const uint8_t *raddr, uint16_t rport)
{
	/* Serialized field by field, never a padded struct (RFC 6528 3). */
	uint8_t msg[1 + 16 + 16 + 2 + 2];
	size_t alen = tcp_addr_len(family), n = 0;

	msg[n++] = (uint8_t)use;
	memcpy(msg + n, laddr, alen);
	n += alen;
	memcpy(msg + n, raddr, alen);
	n += alen;
	wire_put16(msg + n, lport);
	wire_put16(msg + n + 2, rport);
	n += 4;
	return tcp_siphash24(st->cfg.secret, msg, n);
}

uint32_t tcp_isn(const struct tw_stack *st, const struct tcp_conn *c)
{
	/*
	 * RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport,
	 * secretkey), where M is a timer that ticks every 4 microseconds.
	 */
	uint32_t m = (uint32_t)(st->now / 4);
	uint32_t f = (uint32_t)tcp_tuple_hash(st, TCP_HASH_ISN, c->family, c->laddr, c->lport,
					      c->raddr, c->rport);
	return m + f;
}

uint32_t tcp_ts_offset(const struct tw_stack *st, const struct tcp_conn *c)
{
	/*
	 * RFC 7323 7.1: a random offset per connection keeps TSval from
	 * revealing the host's clock or uptime.
	 */
	return (uint32_t)tcp_tuple_hash(st, TCP_HASH_TS, c->family, c->laddr, c->lport, c->raddr,
					c->rport);
}
