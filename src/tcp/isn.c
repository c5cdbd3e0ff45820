/*
 * Numbers an off-path attacker must not guess: ISNs (RFC 6528), timestamp
 * offsets (RFC 7323 7.1), ephemeral ports (RFC 6056) and the keys of the
 * connection table. Each is a SipHash-2-4 of the serialized 4-tuple under
 * the stack's secret, with a different first byte for each use so one value
 * tells nothing of another.
 */
#include <string.h>

#include "wire/siphash.h"
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
	if (use == TCP_HASH_TABLE)
		return wire_siphash13(st->cfg.secret, msg, n);
	return wire_siphash24(st->cfg.secret, msg, n);
}

uint32_t tcp_isn(const struct tw_stack *st, const struct tcp_flow *f, uint32_t *ts_offset)
{
	/*
	 * One SipHash-2-4 of the serialized 4-tuple under the secret gives two
	 * independent 32-bit halves: F for the ISN, and the timestamp offset.
	 *
	 * RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport,
	 * secretkey), where M is a timer that ticks every 4 microseconds.
	 * RFC 7323 7.1: a random offset per connection keeps TSval from
	 * revealing the host's clock or uptime.
	 */
	uint64_t h = tcp_tuple_hash(st, TCP_HASH_ISN, f->family, f->laddr, f->lport, f->raddr, f->rport);
	*ts_offset = (uint32_t)(h >> 32);
	return (uint32_t)(st->now / 4) + (uint32_t)h;
}

uint32_t tcp_ts_offset_of(const struct tw_stack *st, const struct tcp_flow *f)
{
	uint32_t offset;
	tcp_isn(st, f, &offset);
	return offset;
}

void tcp_choose_isn(const struct tw_stack *st, struct tcp_conn *c, uint32_t forced_iss)
{
	struct tcp_flow f = tcp_flow_of(c);
	uint32_t iss = tcp_isn(st, &f, &c->ts_offset);
	c->iss = forced_iss ? forced_iss : iss;
}
