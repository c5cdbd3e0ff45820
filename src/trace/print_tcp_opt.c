/*
 * TCP options as tcpdump walks and prints them, MPTCP (RFC 8684) subtypes included.
 */
#include <inttypes.h>
#include <string.h>

#include "threeway.h"
#include "trace/trace.h"
#include "wire/wire.h"

static void put_tfo(struct strbuf *b, const uint8_t *cp, uint32_t datalen, bool experimental)
{
	if (experimental)
		trace_strbuf_printf(b, "tfo");
	if (datalen == 0) {
		trace_strbuf_printf(b, " cookiereq");
	} else if (datalen % 2 != 0 || datalen < 4 || datalen > 16) {
		trace_strbuf_printf(b, " (invalid)");
	} else {
		trace_strbuf_printf(b, " cookie ");
		for (uint32_t i = 0; i < datalen; i++)
			trace_strbuf_printf(b, "%02x", cp[i]);
	}
}

static const char *tcp_option_name(uint8_t kind)
{
	switch (kind) {
	case 0: return "eol";
	case 1: return "nop";
	case 2: return "mss";
	case 3: return "wscale";
	case 4: return "sackOK";
	case 5: return "sack";
	case 6: return "echo";
	case 7: return "echoreply";
	case 8: return "TS";
	case 11: return "cc";
	case 12: return "ccnew";
	case 13: return "";
	case 19: return "md5";
	case 20: return "scps";
	case 28: return "uto";
	case 29: return "tcp-ao";
	case 30: return "mptcp";
	case 34: return "tfo";
	case 254: return "exp";
	default: return NULL;
	}
}

static uint64_t get64(const uint8_t *p) { return (uint64_t)wire_get32(p) << 32 | wire_get32(p + 4); }

/*
 * MPTCP (RFC 8684) options, read as tcpdump reads them: `o` is the whole
 * option and `len` its length byte. False when tcpdump calls it a bad option,
 * which is mostly a length that does not fit the subtype and the flags.
 */
static bool put_mp_capable(struct strbuf *b, const uint8_t *o, uint32_t len, uint8_t flags)
{
	bool syn = flags & WIRE_TCP_SYN, ack_only = (flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) == WIRE_TCP_ACK;
	if (!((len == 12 || len == 4) && syn) && !((len == 20 || len == 22) && ack_only))
		return false;
	unsigned version = o[2] & 0xf;
	if (version > 1) {
		trace_strbuf_printf(b, " Unknown Version (%u)", version);
		return true;
	}
	trace_strbuf_printf(b, " v%u%s", version, o[3] & 0x80 ? " csum" : "");
	if (len == 12 || len >= 20) {
		trace_strbuf_printf(b, " {0x%" PRIx64, get64(o + 4));
		if (len >= 20)
			trace_strbuf_printf(b, ",0x%" PRIx64, get64(o + 12));
		trace_strbuf_printf(b, "}");
	}
	return true;
}

static bool put_mp_join(struct strbuf *b, const uint8_t *o, uint32_t len, uint8_t flags)
{
	bool syn_ack = (flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) == (WIRE_TCP_SYN | WIRE_TCP_ACK);
	if (!(len == 12 && (flags & WIRE_TCP_SYN)) && !(len == 16 && syn_ack) && !(len == 24 && (flags & WIRE_TCP_ACK)))
		return false;
	if (len != 24)
		trace_strbuf_printf(b, "%s id %u", o[2] & 1 ? " backup" : "", o[3]);
	if (len == 12) {
		trace_strbuf_printf(b, " token 0x%x nonce 0x%x", wire_get32(o + 4), wire_get32(o + 8));
	} else if (len == 16) {
		trace_strbuf_printf(b, " hmac 0x%" PRIx64 " nonce 0x%x", get64(o + 4), wire_get32(o + 12));
	} else {
		trace_strbuf_printf(b, " hmac 0x");
		for (int i = 4; i < 24; i++)
			trace_strbuf_printf(b, "%02x", o[i]);
	}
	return true;
}

/* A DSS field of 4 or 8 bytes, per its flag; false if fewer bytes are left. */
static bool put_mp_number(struct strbuf *b, const uint8_t **p, uint32_t *left, bool wide)
{
	uint32_t n = wide ? 8 : 4;
	if (*left < n)
		return false;
	if (wide)
		trace_strbuf_printf(b, "%" PRIu64, get64(*p));
	else
		trace_strbuf_printf(b, "%u", wire_get32(*p));
	*p += n;
	*left -= n;
	return true;
}

static bool put_mp_dss(struct strbuf *b, const uint8_t *o, uint32_t len, uint8_t flags)
{
	if (len < 4 || (flags & WIRE_TCP_SYN))
		return false;
	uint8_t f = o[3];
	const uint8_t *p = o + 4;
	uint32_t left = len - 4;
	if (f & 0x10)
		trace_strbuf_printf(b, " fin");
	if (f & 0x01) {
		trace_strbuf_printf(b, " ack ");
		if (!put_mp_number(b, &p, &left, f & 0x02))
			return false;
	}
	if (f & 0x04) {
		trace_strbuf_printf(b, " seq ");
		if (!put_mp_number(b, &p, &left, f & 0x08) || left < 4)
			return false;
		trace_strbuf_printf(b, " subseq %u", wire_get32(p));
		p += 4, left -= 4;
		if (left < 2)
			return false;
		trace_strbuf_printf(b, " len %u", wire_get16(p));
		p += 2, left -= 2;
		if (left >= 2) {
			trace_strbuf_printf(b, " csum 0x%x", wire_get16(p));
			left -= 2;
		}
	}
	return left == 0;
}

static bool put_mp_add_addr(struct strbuf *b, const uint8_t *o, uint32_t len)
{
	bool v4 = len == 8 || len == 10 || len == 16 || len == 18;
	bool v6 = len == 20 || len == 22 || len == 28 || len == 30;
	if (!v4 && !v6)
		return false;
	static const char *const echo[] = { [0] = "v1", [1] = "v1-echo", [4] = "v0-ip4", [6] = "v0-ip6" };
	unsigned e = o[2] & 0xf;
	trace_strbuf_printf(b, " %s id %u ", e < 7 && echo[e] ? echo[e] : "[bad version/echo]", o[3]);
	uint32_t alen = v4 ? 4 : 16, plain = v4 ? 8 : 20;
	trace_put_ip_addr(b, v4 ? 4 : 6, o + 4);
	if (len == plain + 2 || len == plain + 10)
		trace_strbuf_printf(b, ":%u", wire_get16(o + 4 + alen));
	if (len == plain + 8)
		trace_strbuf_printf(b, " hmac 0x%" PRIx64, get64(o + 4 + alen));
	if (len == plain + 10)
		trace_strbuf_printf(b, " hmac 0x%" PRIx64, get64(o + 6 + alen));
	return true;
}

static bool put_mptcp(struct strbuf *b, const uint8_t *o, uint32_t len, uint8_t flags)
{
	static const char *const names[] = {
		"capable", "join", "dss", "add-addr", "rem-addr", "prio", "fail", "fast-close", "unknown",
	};
	if (len < 3)
		return false;
	unsigned subtype = o[2] >> 4 < 8 ? o[2] >> 4 : 8;
	trace_strbuf_printf(b, " %u %s", len, names[subtype]);
	switch (subtype) {
	case 0: return put_mp_capable(b, o, len, flags);
	case 1: return put_mp_join(b, o, len, flags);
	case 2: return put_mp_dss(b, o, len, flags);
	case 3: return put_mp_add_addr(b, o, len);
	case 4:
		if (len < 4)
			return false;
		trace_strbuf_printf(b, " id");
		for (uint32_t i = 3; i < len; i++)
			trace_strbuf_printf(b, " %u", o[i]);
		return true;
	case 5:
		if (len != 3 && len != 4)
			return false;
		trace_strbuf_printf(b, o[2] & 1 ? " backup" : " non-backup");
		if (len == 4)
			trace_strbuf_printf(b, " id %u", o[3]);
		return true;
	case 6:
	case 7:
		if (len != 12)
			return false;
		trace_strbuf_printf(b, subtype == 6 ? " seq %" PRIu64 : " key 0x%" PRIx64, get64(o + 4));
		return true;
	default:
		return true;
	}
}

/* tcpdump's check before it reads `n` bytes of an option's data. */
static enum walk_result walk_need(const struct opt_walk *w, uint32_t n)
{
	if (n > w->hlen)
		return WALK_BAD;
	return n > w->avail ? WALK_TRUNC : WALK_DONE;
}

#define NEED(n)                                              \
	do {                                                 \
		enum walk_result need_ = walk_need(w, (n));  \
		if (need_ != WALK_DONE)                      \
			return need_;                        \
	} while (0)

static enum walk_result put_sack(struct strbuf *b, const struct opt_walk *w, uint32_t datalen)
{
	if (datalen % 8 != 0) {
		trace_strbuf_printf(b, " invalid sack");
		return WALK_DONE;
	}
	trace_strbuf_printf(b, " %u ", datalen / 8);
	uint32_t base = w->rev ? w->thseq : w->thack;
	for (uint32_t i = 0; i < datalen; i += 8) {
		NEED(i + 4);
		NEED(i + 8);
		trace_strbuf_printf(b, "{%u:%u}", wire_get32(w->p + i) - base, wire_get32(w->p + i + 4) - base);
	}
	return WALK_DONE;
}

static enum walk_result put_tcp_ao(struct strbuf *b, const struct opt_walk *w, uint32_t datalen)
{
	/* RFC 5925 2.2: the length is at least 4. */
	if (datalen < 2) {
		trace_strbuf_printf(b, " (invalid)");
		return WALK_DONE;
	}
	NEED(1);
	trace_strbuf_printf(b, " keyid %u", w->p[0]);
	NEED(2);
	trace_strbuf_printf(b, " rnextkeyid %u", w->p[1]);
	if (datalen > 2)
		trace_strbuf_printf(b, " mac 0x");
	for (uint32_t i = 2; i < datalen; i++) {
		NEED(i + 1);
		trace_strbuf_printf(b, "%02x", w->p[i]);
	}
	return WALK_DONE;
}

static enum walk_result put_md5(struct strbuf *b, const struct opt_walk *w)
{
	NEED(WIRE_MD5_LEN);
	/* tcpdump would verify the signature, but has no secret without -M. */
	trace_strbuf_printf(b, " %s, can't check - ",
		      w->payload_captured ? "shared secret not supplied with -M" : "snaplen too short");
	for (uint32_t i = 0; i < WIRE_MD5_LEN; i++)
		trace_strbuf_printf(b, "%02x", w->p[i]);
	return WALK_DONE;
}

static enum walk_result put_unknown_option(struct strbuf *b, const struct opt_walk *w, uint32_t datalen)
{
	if (datalen)
		trace_strbuf_printf(b, " 0x");
	for (uint32_t i = 0; i < datalen; i++) {
		NEED(i + 1);
		trace_strbuf_printf(b, "%02x", w->p[i]);
	}
	return WALK_DONE;
}

static enum walk_result put_experimental(struct strbuf *b, const struct opt_walk *w, uint32_t datalen)
{
	/* RFC 6994: a 16-bit experiment identifier, 0xf989 being TFO's (RFC 7413). */
	NEED(datalen);
	if (datalen < 2)
		return WALK_BAD;
	trace_strbuf_printf(b, "-");
	if (wire_get16(w->p) == 0xf989)
		put_tfo(b, w->p + 2, datalen - 2, true);
	else
		trace_strbuf_printf(b, "%04x", wire_get16(w->p));
	return WALK_DONE;
}

/*
 * Prints one option's data. *datalen is what tcpdump consumed, which for a
 * known kind is its fixed size whatever the length byte says.
 */
static enum walk_result put_option_data(struct strbuf *b, struct opt_walk *w, uint8_t kind, uint32_t len,
					uint32_t *datalen)
{
	const uint8_t *cp = w->p;
	*datalen = len - 2;
	switch (kind) {
	case 0: case 1: case 4: /* eol, nop, sackOK */
		*datalen = 0;
		return WALK_DONE;
	case 2: case 20: case 28: /* mss, scps, uto */
		*datalen = 2;
		NEED(2);
		if (kind == 2)
			trace_strbuf_printf(b, " %u", wire_get16(cp));
		else if (kind == 20)
			trace_strbuf_printf(b, " cap %02x id %u", cp[0], cp[1]);
		else /* RFC 5482 user timeout; tcpdump takes the low bit for the minutes flag */
			trace_strbuf_printf(b, " 0x%x %u", wire_get16(cp),
				      cp[1] & 1 ? (wire_get16(cp) >> 1) * 60u : wire_get16(cp) >> 1);
		return WALK_DONE;
	case 3: /* wscale */
		*datalen = 1;
		NEED(1);
		trace_strbuf_printf(b, " %u", cp[0]);
		return WALK_DONE;
	case 5:
		return put_sack(b, w, *datalen);
	case 6: case 7: case 11: case 12: case 13: /* echo, echoreply, cc* */
		*datalen = 4;
		NEED(4);
		trace_strbuf_printf(b, " %u", wire_get32(cp));
		return WALK_DONE;
	case 8: /* timestamps */
		*datalen = 8;
		NEED(8);
		trace_strbuf_printf(b, " val %u ecr %u", wire_get32(cp), wire_get32(cp + 4));
		return WALK_DONE;
	case 19:
		*datalen = WIRE_MD5_LEN;
		return put_md5(b, w);
	case 29:
		return put_tcp_ao(b, w, *datalen);
	case 30:
		NEED(*datalen);
		w->proto = "mptcp";
		return put_mptcp(b, cp - 2, len, w->flags) ? WALK_DONE : WALK_BAD;
	case 34: /* tfo */
		NEED(*datalen);
		trace_strbuf_printf(b, " ");
		put_tfo(b, cp, *datalen, false);
		return WALK_DONE;
	case 254:
		return put_experimental(b, w, *datalen);
	default:
		return put_unknown_option(b, w, *datalen);
	}
}

#undef NEED

static bool option_has_no_length(uint8_t kind) { return kind == WIRE_OPT_EOL || kind == WIRE_OPT_NOP; }

/* Reads an option's kind and length bytes, as tcpdump does before it checks anything else. */
static enum walk_result walk_option_head(struct opt_walk *w, uint8_t *kind, uint32_t *len)
{
	if (w->avail < 1)
		return WALK_CUT;
	*kind = w->p[0];
	*len = 1;
	w->p++, w->avail--;
	if (!option_has_no_length(*kind)) {
		if (w->avail < 1)
			return WALK_CUT;
		*len = w->p[0];
		w->p++, w->avail--;
		if (*len < 2 || *len > w->hlen)
			return WALK_BAD;
		w->hlen--;
	}
	w->hlen--;
	return WALK_DONE;
}

/* Prints ", options [...]" up to where tcpdump stops; *any is set once an option is complete. */
enum walk_result trace_put_tcp_options(struct strbuf *b, struct opt_walk *w, bool *any)
{
	*any = false;
	trace_strbuf_printf(b, ", options [");
	while (w->hlen > 0) {
		if (*any)
			trace_strbuf_printf(b, ",");
		uint8_t kind;
		uint32_t len, datalen;
		enum walk_result r = walk_option_head(w, &kind, &len);
		if (r != WALK_DONE)
			return r;
		const char *name = tcp_option_name(kind);
		if (name)
			trace_strbuf_printf(b, "%s", name);
		else
			trace_strbuf_printf(b, "unknown-%u", kind);
		r = put_option_data(b, w, kind, len, &datalen);
		if (r != WALK_DONE)
			return r;
		w->p += datalen;
		w->hlen -= datalen;
		w->avail = w->avail > datalen ? w->avail - datalen : 0;
		if (datalen + 1 + !option_has_no_length(kind) != len)
			trace_strbuf_printf(b, "[len %u]", len);
		*any = true;
		if (kind == WIRE_OPT_EOL)
			break;
	}
	trace_strbuf_printf(b, "]");
	return WALK_DONE;
}
