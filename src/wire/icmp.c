/*
 * ICMP (RFC 792) and ICMPv6 (RFC 4443) messages: the 8-byte header that echo
 * uses, and the checksum, which for ICMPv6 covers a pseudo-header too.
 */
#include <string.h>

#include "wire/wire.h"

static uint16_t icmp_csum(const uint8_t *buf, size_t len, const struct wire_pseudo *ph)
{
	return ph ? wire_l4_csum(ph, buf, len) : wire_csum(buf, len);
}

int wire_icmp_parse(struct wire_icmp *m, const uint8_t *buf, size_t len, const struct wire_pseudo *ph)
{
	memset(m, 0, sizeof(*m));
	if (len < WIRE_ICMP_HDR_LEN)
		return -WIRE_E_TRUNCATED;
	m->type = buf[0];
	m->code = buf[1];
	m->csum = wire_get16(buf + 2);
	m->id = wire_get16(buf + 4);
	m->seq = wire_get16(buf + 6);
	m->data = buf + WIRE_ICMP_HDR_LEN;
	m->data_len = len - WIRE_ICMP_HDR_LEN;
	/* RFC 792 (Echo), RFC 4443 2.3: the one's complement sum over the message is 0. */
	if (icmp_csum(buf, len, ph) != 0)
		return -WIRE_E_CHECKSUM;
	return 0;
}

bool wire_icmp_is_error(const uint8_t *buf, size_t len, bool v6)
{
	if (len < 1)
		return false;
	uint8_t t = buf[0];
	return v6 ? t < 128 : t == 3 || t == 4 || t == 5 || t == 11 || t == 12;
}

size_t wire_icmp_emit(const struct wire_icmp *m, uint8_t *buf, size_t cap, struct wire_pseudo *ph)
{
	size_t len = WIRE_ICMP_HDR_LEN + m->data_len;
	if (len > cap || len > 65535)
		return 0;
	/* The data may already sit in place (a reply built over its request). */
	if (m->data_len && m->data != buf + WIRE_ICMP_HDR_LEN)
		memmove(buf + WIRE_ICMP_HDR_LEN, m->data, m->data_len);
	buf[0] = m->type;
	buf[1] = m->code;
	wire_put16(buf + 2, 0);
	wire_put16(buf + 4, m->id);
	wire_put16(buf + 6, m->seq);
	if (ph)
		ph->len = (uint32_t)len;
	wire_put16(buf + 2, icmp_csum(buf, len, ph));
	return len;
}
