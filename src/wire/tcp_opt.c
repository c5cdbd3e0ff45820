/*
 * TCP options (RFC 9293 3.2): MSS, window scale and timestamps (RFC 7323),
 * SACK-permitted and SACK (RFC 2018), MD5 signature (RFC 2385), MPTCP
 * (RFC 8684) and Fast Open (RFC 7413); other kinds are kept opaque.
 */
#include <string.h>

#include "wire/wire.h"

/* Is `len` the right length for `kind`? Unknown kinds take any length >= 2. */
static bool option_length_fits(uint8_t kind, uint8_t len)
{
	switch (kind) {
	case WIRE_OPT_MSS:
		return len == 4;
	case WIRE_OPT_WSCALE:
		return len == 3;
	case WIRE_OPT_SACK_PERM:
		return len == 2;
	case WIRE_OPT_SACK:
		return len >= 10 && len <= 2 + 8 * WIRE_SACK_MAX && (len - 2) % 8 == 0;
	case WIRE_OPT_TS:
		return len == 10;
	case WIRE_OPT_MD5:
		return len == 2 + WIRE_MD5_LEN;
	case WIRE_OPT_TFO:
		/* RFC 7413 4.1.1: empty (a cookie request) or a 4 to 16 byte cookie. */
		return len == 2 || (len >= 6 && len <= 2 + WIRE_TFO_COOKIE_MAX && len % 2 == 0);
	case WIRE_OPT_MPTCP:
		return len >= 3;
	default:
		return len >= 2;
	}
}

/* Takes the values a stack acts on out of a well-formed option. */
static void take_option_value(struct wire_tcp_opts *o, uint8_t kind, const uint8_t *data, uint8_t len)
{
	switch (kind) {
	case WIRE_OPT_MSS:
		o->has |= WIRE_HAS_MSS;
		o->mss = wire_get16(data);
		break;
	case WIRE_OPT_WSCALE:
		o->has |= WIRE_HAS_WSCALE;
		o->wscale = data[0];
		break;
	case WIRE_OPT_SACK_PERM:
		o->has |= WIRE_HAS_SACK_PERM;
		break;
	case WIRE_OPT_SACK:
		o->has |= WIRE_HAS_SACK;
		o->sack_count = (uint8_t)((len - 2) / 8);
		for (unsigned i = 0; i < o->sack_count; i++) {
			o->sack[i].left = wire_get32(data + 8 * i);
			o->sack[i].right = wire_get32(data + 8 * i + 4);
		}
		break;
	case WIRE_OPT_TS:
		o->has |= WIRE_HAS_TS;
		o->ts_val = wire_get32(data);
		o->ts_ecr = wire_get32(data + 4);
		break;
	case WIRE_OPT_MD5:
		o->has |= WIRE_HAS_MD5;
		break;
	case WIRE_OPT_TFO:
		o->has |= WIRE_HAS_TFO;
		o->tfo_cookie_len = (uint8_t)(len - 2);
		break;
	case WIRE_OPT_MPTCP:
		o->has |= WIRE_HAS_MPTCP;
		break;
	default:
		o->has |= WIRE_HAS_UNKNOWN;
		break;
	}
}

/*
 * RFC 9293 3.1: an option is a single kind octet (EOL, NOP) or kind, length
 * and length - 2 octets of data, on any byte boundary (MUST-64); unknown kinds
 * are skipped by their length (MUST-6). "TCP implementations MUST be prepared
 * to handle an illegal option length (e.g., zero)" (MUST-7): such a segment is
 * reported as malformed. An option whose framing is sound but whose length is
 * wrong for its kind is listed as malformed and its value ignored, as Linux
 * does.
 */
int wire_tcp_opts_parse(struct wire_tcp_opts *o, const uint8_t *buf, size_t len)
{
	memset(o, 0, offsetof(struct wire_tcp_opts, list));
	/* RFC 9293 3.1: the data offset leaves at most 40 bytes for options. */
	if (len > WIRE_TCP_OPT_SPACE)
		return -WIRE_E_OPT_PAST_END;
	o->raw = buf;
	o->raw_len = (uint8_t)len;

	size_t at = 0;
	while (at < len) {
		struct wire_tcp_opt *e = &o->list[o->count];
		uint8_t kind = buf[at];
		e->kind = kind;
		e->off = (uint8_t)at;
		e->malformed = false;
		if (kind == WIRE_OPT_EOL || kind == WIRE_OPT_NOP) {
			e->len = 1;
			o->count++;
			/* RFC 9293 3.1: EOL ends the list; what follows is padding (MUST-69). */
			if (kind == WIRE_OPT_EOL) {
				o->has |= WIRE_HAS_EOL;
				break;
			}
			at++;
			continue;
		}
		if (len - at < 2)
			return -WIRE_E_OPT_PAST_END;
		uint8_t olen = buf[at + 1];
		if (olen < 2)
			return -WIRE_E_OPT_LEN;
		if (olen > len - at)
			return -WIRE_E_OPT_PAST_END;
		e->len = olen;
		e->malformed = !option_length_fits(kind, olen);
		if (!e->malformed)
			take_option_value(o, kind, buf + at + 2, olen);
		o->count++;
		at += olen;
	}
	return 0;
}

/* Bytes the listed options take: they lie end to end, so the last one's end. */
static size_t list_end(const struct wire_tcp_opts *o)
{
	if (!o->count)
		return 0;
	const struct wire_tcp_opt *last = &o->list[o->count - 1];
	return (size_t)last->off + last->len;
}

bool wire_tcp_opt_push(struct wire_tcp_opts *o, uint8_t kind, uint8_t len, const uint8_t *data)
{
	size_t used = list_end(o);
	if (kind == WIRE_OPT_EOL || kind == WIRE_OPT_NOP)
		len = 1;
	else if (len < 2)
		return false;
	/* RFC 9293 3.1: nothing follows an EOL but padding. */
	bool after_eol = o->count && o->list[o->count - 1].kind == WIRE_OPT_EOL;
	if (used + len > WIRE_TCP_OPT_SPACE || o->raw || after_eol)
		return false;
	/* Opaque data is kept at the offset the option will have on the wire. */
	if (data && len > 2)
		memcpy(o->built + used + 2, data, len - 2u);
	o->list[o->count++] = (struct wire_tcp_opt){ .kind = kind, .len = len, .off = (uint8_t)used };
	return true;
}

size_t wire_tcp_opts_size(const struct wire_tcp_opts *o)
{
	/* A parsed area keeps its size: what follows an EOL is carried along. */
	if (o->raw)
		return (o->raw_len + 3u) & ~3u;
	return (list_end(o) + 3) & ~(size_t)3;
}

/*
 * In a parsed struct, is there a well-formed option of e's kind after e? Then
 * the parse took that one's value (the last counts, as in Linux), and e must
 * go out as it came for the struct to emit again byte for byte (wire.h).
 */
static bool value_taken_later(const struct wire_tcp_opts *o, const struct wire_tcp_opt *e)
{
	for (const struct wire_tcp_opt *later = e + 1; later < o->list + o->count; later++)
		if (later->kind == e->kind && !later->malformed)
			return true;
	return false;
}

/* Writes one option's data from the values in o, or from raw for opaque kinds. */
static void emit_option_data(const struct wire_tcp_opts *o, const struct wire_tcp_opt *e, uint8_t *p)
{
	const uint8_t *opaque = (o->raw ? o->raw : o->built) + e->off + 2;

	if (e->malformed || (o->raw && value_taken_later(o, e))) {
		memcpy(p, opaque, e->len - 2u);
		return;
	}
	switch (e->kind) {
	case WIRE_OPT_MSS:
		wire_put16(p, o->mss);
		break;
	case WIRE_OPT_WSCALE:
		p[0] = o->wscale;
		break;
	case WIRE_OPT_SACK:
		for (unsigned i = 0; i < (e->len - 2u) / 8 && i < WIRE_SACK_MAX; i++) {
			wire_put32(p + 8 * i, o->sack[i].left);
			wire_put32(p + 8 * i + 4, o->sack[i].right);
		}
		break;
	case WIRE_OPT_TS:
		wire_put32(p, o->ts_val);
		wire_put32(p + 4, o->ts_ecr);
		break;
	default:
		memcpy(p, opaque, e->len - 2u);
		break;
	}
}

size_t wire_tcp_opts_emit(const struct wire_tcp_opts *o, uint8_t *buf, size_t cap)
{
	size_t size = wire_tcp_opts_size(o);
	if (size > cap || size > WIRE_TCP_OPT_SPACE)
		return 0;
	size_t at = 0;
	for (unsigned i = 0; i < o->count; i++) {
		const struct wire_tcp_opt *e = &o->list[i];
		/*
		 * A parsed option of the wrong length is copied as it came; a built one
		 * must fit its kind, length 2 included (an MSS is 4 bytes, RFC 9293 3.2).
		 */
		if (e->len > 1 && !e->malformed && !option_length_fits(e->kind, e->len))
			return 0;
		buf[at] = e->kind;
		if (e->len > 1) {
			buf[at + 1] = e->len;
			if (e->len > 2)
				emit_option_data(o, e, buf + at + 2);
		}
		at += e->len;
	}
	/*
	 * Give back the parsed bytes that stood after the list, then pad with EOL
	 * to a multiple of 4 (a parsed area need not be whole words).
	 */
	if (o->raw && at < o->raw_len) {
		memcpy(buf + at, o->raw + at, o->raw_len - at);
		at = o->raw_len;
	}
	memset(buf + at, WIRE_OPT_EOL, size - at);
	return size;
}
