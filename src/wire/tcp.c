/*
 * TCP header (RFC 9293 3.1): parse into struct wire_tcp, emit from it.
 */
#include <string.h>

#include "wire/wire.h"

size_t wire_tcp_header_len(const uint8_t *buf, size_t len)
{
	if (len < 13)
		return 0;
	size_t n = (size_t)(buf[12] >> 4) * 4;
	return n < WIRE_TCP_HDR_MIN ? WIRE_TCP_HDR_MIN : n;
}

int wire_tcp_parse(struct wire_tcp *t, const uint8_t *buf, size_t len, const struct wire_pseudo *ph)
{
	memset(t, 0, offsetof(struct wire_tcp, opt));
	memset(&t->opt, 0, offsetof(struct wire_tcp_opts, list));
	t->payload = NULL;
	t->payload_len = 0;
	if (len >= 4) {
		t->sport = wire_get16(buf);
		t->dport = wire_get16(buf + 2);
	}
	if (len < WIRE_TCP_HDR_MIN)
		return -WIRE_E_TRUNCATED;

	t->seq = wire_get32(buf + 4);
	t->ack = wire_get32(buf + 8);
	t->hdr_len = (uint8_t)((buf[12] >> 4) * 4);
	t->reserved = buf[12] & 0x0f;
	t->flags = buf[13];
	t->wnd = wire_get16(buf + 14);
	t->csum = wire_get16(buf + 16);
	t->urp = wire_get16(buf + 18);

	/* RFC 9293 3.1: the data offset counts 32-bit words, at least 5. */
	if (t->hdr_len < WIRE_TCP_HDR_MIN)
		return -WIRE_E_DOFF;
	if (t->hdr_len > len)
		return -WIRE_E_HDR_PAST_END;
	t->payload = buf + t->hdr_len;
	t->payload_len = len - t->hdr_len;

	int err = wire_tcp_opts_parse(&t->opt, buf + WIRE_TCP_HDR_MIN, t->hdr_len - WIRE_TCP_HDR_MIN);
	if (err)
		return err;
	/* RFC 9293 3.10.7 (MUST-2, MUST-3): a segment whose checksum fails is dropped. */
	if (ph && wire_l4_csum(ph, buf, len) != 0)
		return -WIRE_E_CHECKSUM;
	return 0;
}

size_t wire_tcp_emit(const struct wire_tcp *t, uint8_t *buf, size_t cap, struct wire_pseudo *ph)
{
	size_t opt_len = wire_tcp_opts_size(&t->opt);
	size_t hdr_len = WIRE_TCP_HDR_MIN + opt_len;
	size_t total = hdr_len + t->payload_len;

	if (total > cap || opt_len > WIRE_TCP_OPT_SPACE || (ph && ph->family == 4 && total > 0xffff))
		return 0;
	if (opt_len && wire_tcp_opts_emit(&t->opt, buf + WIRE_TCP_HDR_MIN, opt_len) != opt_len)
		return 0;
	wire_put16(buf, t->sport);
	wire_put16(buf + 2, t->dport);
	wire_put32(buf + 4, t->seq);
	wire_put32(buf + 8, t->ack);
	buf[12] = (uint8_t)(hdr_len / 4 << 4 | (t->reserved & 0x0f));
	buf[13] = t->flags;
	wire_put16(buf + 14, t->wnd);
	wire_put16(buf + 16, 0);
	wire_put16(buf + 18, t->urp);
	if (t->payload_len)
		memmove(buf + hdr_len, t->payload, t->payload_len);
	if (ph) {
		ph->len = (uint32_t)total;
		wire_put16(buf + 16, wire_l4_csum(ph, buf, total));
	} else {
		wire_put16(buf + 16, t->csum);
	}
	return total;
}
