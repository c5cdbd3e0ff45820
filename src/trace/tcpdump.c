/*
 * Renders packets the way tcpdump 4.99 prints them with -nn, so a person who
 * reads tcpdump reads threeway's traces without learning anything new.
 *
 * Headers come from the wire layer's representations. The tracer departs
 * from "parse once" in one place on purpose: TCP options are walked here the
 * way tcpdump walks them, because tcpdump's reading of a malformed option
 * (what it prints, where it resynchronises) is what the trace must reproduce,
 * even where it differs from the right reading.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "threeway.h"
#include "trace/trace.h"
#include "wire/wire.h"

/* ------------------------------------------- relative sequence numbers */

/*
 * tcpdump prints sequence numbers relative to the first ones it saw of a
 * connection. A connection is keyed in one canonical direction (lower port
 * first, then lower address), and an ACK-bearing segment with SYN, or the
 * first one seen, (re)sets the bases.
 */
struct conv_key {
	uint8_t family;
	uint8_t src[16], dst[16];
	uint32_t ports;           /* canonical sport << 16 | dport */
};

struct conv {
	bool used;
	struct conv_key key;
	uint32_t seq, ack;        /* bases, in the canonical direction */
};

struct tw_tracer {
	struct tw_trace_config cfg;
	struct strbuf out;
	struct conv *convs;
	size_t n_convs, cap_convs;
};

static uint64_t conv_hash(const struct conv_key *k)
{
	/* FNV-1a over the serialized key. */
	uint64_t h = 0xcbf29ce484222325u;
	uint8_t bytes[1 + 16 + 16 + 4];
	bytes[0] = k->family;
	memcpy(bytes + 1, k->src, 16);
	memcpy(bytes + 17, k->dst, 16);
	wire_put32(bytes + 33, k->ports);
	for (size_t i = 0; i < sizeof(bytes); i++) {
		h ^= bytes[i];
		h *= 0x100000001b3u;
	}
	return h;
}

static bool conv_key_eq(const struct conv_key *a, const struct conv_key *b)
{
	return a->family == b->family && a->ports == b->ports && !memcmp(a->src, b->src, 16) &&
	       !memcmp(a->dst, b->dst, 16);
}

static struct conv *conv_slot(struct conv *tab, size_t cap, const struct conv_key *k)
{
	size_t i = (size_t)conv_hash(k) & (cap - 1);
	while (tab[i].used && !conv_key_eq(&tab[i].key, k))
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static bool conv_grow(struct tw_tracer *tr)
{
	size_t cap = tr->cap_convs ? tr->cap_convs * 2 : 64;
	struct conv *tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return false;
	for (size_t i = 0; i < tr->cap_convs; i++)
		if (tr->convs[i].used)
			*conv_slot(tab, cap, &tr->convs[i].key) = tr->convs[i];
	free(tr->convs);
	tr->convs = tab;
	tr->cap_convs = cap;
	return true;
}

/* Finds the connection, or a free slot for it; NULL on no memory. */
static struct conv *conv_find(struct tw_tracer *tr, const struct conv_key *k)
{
	if (2 * (tr->n_convs + 1) > tr->cap_convs && !conv_grow(tr))
		return NULL;
	return conv_slot(tr->convs, tr->cap_convs, k);
}

/* What the TCP printer needs from the IP layer. */
struct ip_ctx {
	uint8_t family;
	const uint8_t *src, *dst;
	bool tcp_follows_ip;      /* next header is TCP: addresses go on the TCP line */
	bool fragmented;
	struct wire_pseudo ph;
};

/* ------------------------------------------------------------- helpers */

static void put_ip_addr(struct strbuf *b, uint8_t family, const uint8_t *a)
{
	if (family == 4) {
		strbuf_printf(b, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		return;
	}
	/* RFC 5952: lowercase, leading zeros dropped, the longest run of two or more zero groups as "::". */
	uint16_t g[8];
	for (int i = 0; i < 8; i++)
		g[i] = wire_get16(a + 2 * i);
	int best = -1, best_len = 1;
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j == i ? i + 1 : j;
	}
	bool v4_tail = best == 0 && (best_len == 6 || (best_len == 5 && g[5] == 0xffff));
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			strbuf_printf(b, "::");
			i += best_len - 1;
			continue;
		}
		if (v4_tail && i == 6) {
			strbuf_printf(b, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
			break;
		}
		strbuf_printf(b, "%s%x", i && i != best + best_len ? ":" : "", g[i]);
	}
}

static void put_mac(struct strbuf *b, const uint8_t *m)
{
	strbuf_printf(b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* tcpdump's rendering of a byte that may not be printable: M- for 8-bit, ^ for control. */
static void put_safe_char(struct strbuf *b, uint8_t c)
{
	if (c & 0x80) {
		c &= 0x7f;
		strbuf_printf(b, "M-");
	}
	if (c < 0x20 || c == 0x7f) {
		c ^= 0x40;
		strbuf_printf(b, "^");
	}
	strbuf_printf(b, "%c", c);
}

static void put_truncated(struct strbuf *b, const char *proto)
{
	strbuf_printf(b, " [|%s]", proto);
}

static const char *ipproto_name(uint8_t proto)
{
	switch (proto) {
	case 0: return "Options";
	case 1: return "ICMP";
	case 2: return "IGMP";
	case 4: return "IPIP";
	case 6: return "TCP";
	case 8: return "EGP";
	case 9: return "IGRP";
	case 17: return "UDP";
	case 33: return "DCCP";
	case 41: return "IPv6";
	case 43: return "Routing";
	case 44: return "Fragment";
	case 46: return "RSVP";
	case 47: return "GRE";
	case 50: return "ESP";
	case 51: return "AH";
	case 55: return "Mobile IP";
	case 58: return "ICMPv6";
	case 62: return "Mobile IP (old)";
	case 88: return "EIGRP";
	case 89: return "OSPF";
	case 103: return "PIM";
	case 108: return "Compressed IP";
	case 112: return "VRRP";
	case 113: return "PGM";
	case 132: return "SCTP";
	case 135: return "Mobility";
	case 143: return "Ethernet";
	default: return "unknown";
	}
}

/* -------------------------------------------------------------- TCP options */

/*
 * The options area as tcpdump walks it. `hlen` is what the header length
 * leaves for options, `avail` how much of it was captured. Returns false if
 * the walk ran out of captured bytes (the caller prints the truncation).
 */
struct opt_walk {
	const uint8_t *p;
	uint32_t hlen;            /* header bytes left, per the data offset */
	uint32_t avail;           /* header bytes left that were captured */
};

enum walk_result { WALK_DONE, WALK_BAD, WALK_TRUNC };

static bool walk_has(const struct opt_walk *w, uint32_t n) { return n <= w->avail; }

static void put_tfo(struct strbuf *b, const uint8_t *cp, uint32_t datalen, bool experimental)
{
	if (experimental)
		strbuf_printf(b, "tfo");
	if (datalen == 0) {
		strbuf_printf(b, " cookiereq");
	} else if (datalen % 2 != 0 || datalen < 4 || datalen > 16) {
		strbuf_printf(b, " (invalid)");
	} else {
		strbuf_printf(b, " cookie ");
		for (uint32_t i = 0; i < datalen; i++)
			strbuf_printf(b, "%02x", cp[i]);
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

/*
 * Prints one option's data; returns how many data bytes tcpdump consumed,
 * which for a known kind is its fixed size whatever the length byte says.
 */
static enum walk_result put_option_data(struct strbuf *b, struct opt_walk *w, uint8_t kind, uint32_t len,
					uint32_t thseq, uint32_t thack, bool rev, uint32_t *datalen)
{
	const uint8_t *cp = w->p;
#define LENCHECK(n)                                  \
	do {                                         \
		if ((n) > w->hlen)                   \
			return WALK_BAD;             \
		if (!walk_has(w, (n)))               \
			return WALK_TRUNC;           \
	} while (0)

	*datalen = 0;
	switch (kind) {
	case 2: /* mss */
		*datalen = 2;
		LENCHECK(2);
		strbuf_printf(b, " %u", wire_get16(cp));
		break;
	case 3: /* wscale */
		*datalen = 1;
		LENCHECK(1);
		strbuf_printf(b, " %u", cp[0]);
		break;
	case 5: /* sack */
		*datalen = len - 2;
		if (*datalen % 8 != 0) {
			strbuf_printf(b, " invalid sack");
			break;
		}
		strbuf_printf(b, " %u ", *datalen / 8);
		for (uint32_t i = 0; i < *datalen; i += 8) {
			LENCHECK(i + 8);
			uint32_t s = wire_get32(cp + i), e = wire_get32(cp + i + 4);
			uint32_t base = rev ? thseq : thack;
			strbuf_printf(b, "{%u:%u}", s - base, e - base);
		}
		break;
	case 6: case 7: case 11: case 12: case 13: /* echo, echoreply, cc* */
		*datalen = 4;
		LENCHECK(4);
		strbuf_printf(b, " %u", wire_get32(cp));
		break;
	case 8: /* timestamps */
		*datalen = 8;
		LENCHECK(8);
		strbuf_printf(b, " val %u ecr %u", wire_get32(cp), wire_get32(cp + 4));
		break;
	case 19: /* md5 */
		*datalen = WIRE_MD5_LEN;
		LENCHECK(WIRE_MD5_LEN);
		strbuf_printf(b, " shared secret not supplied with -M, can't check - ");
		for (uint32_t i = 0; i < WIRE_MD5_LEN; i++)
			strbuf_printf(b, "%02x", cp[i]);
		break;
	case 20: /* scps */
		*datalen = 2;
		LENCHECK(2);
		strbuf_printf(b, " cap %02x id %u", cp[0], cp[1]);
		break;
	case 29: /* tcp-ao */
		*datalen = len - 2;
		if (*datalen < 2) {
			strbuf_printf(b, " (invalid)");
			break;
		}
		LENCHECK(2);
		strbuf_printf(b, " keyid %u rnextkeyid %u", cp[0], cp[1]);
		if (*datalen > 2) {
			strbuf_printf(b, " mac 0x");
			for (uint32_t i = 2; i < *datalen; i++) {
				LENCHECK(i + 1);
				strbuf_printf(b, "%02x", cp[i]);
			}
		}
		break;
	case 0: case 1: case 4: /* eol, nop, sackOK */
		break;
	case 28: { /* uto */
		*datalen = 2;
		LENCHECK(2);
		uint32_t uto = wire_get16(cp);
		strbuf_printf(b, " 0x%x", uto);
		strbuf_printf(b, " %u", uto & 1 ? (uto >> 1) * 60 : uto >> 1);
		break;
	}
	case 30: /* mptcp: kept opaque, shown by subtype */
		*datalen = len - 2;
		LENCHECK(*datalen);
		if (*datalen < 1)
			return WALK_BAD;
		strbuf_printf(b, " subtype-%u", cp[0] >> 4);
		break;
	case 34: /* tfo */
		*datalen = len - 2;
		LENCHECK(*datalen);
		strbuf_printf(b, " ");
		put_tfo(b, cp, *datalen, false);
		break;
	case 254: /* experimental (RFC 6994) */
		*datalen = len - 2;
		LENCHECK(*datalen);
		if (*datalen < 2)
			return WALK_BAD;
		strbuf_printf(b, "-");
		if (wire_get16(cp) == 0xf989)
			put_tfo(b, cp + 2, *datalen - 2, true);
		else
			strbuf_printf(b, "%04x", wire_get16(cp));
		break;
	default:
		*datalen = len - 2;
		if (*datalen)
			strbuf_printf(b, " 0x");
		for (uint32_t i = 0; i < *datalen; i++) {
			LENCHECK(i + 1);
			strbuf_printf(b, "%02x", cp[i]);
		}
		break;
	}
	return WALK_DONE;
#undef LENCHECK
}

static bool option_has_no_length(uint8_t kind) { return kind == 0 || kind == 1; }

/* Prints ", options [...]"; returns false when the packet's line is complete. */
static enum walk_result put_tcp_options(struct strbuf *b, struct opt_walk *w, uint32_t thseq, uint32_t thack,
					bool rev, bool *any)
{
	*any = false;
	strbuf_printf(b, ", options [");
	while (w->hlen > 0) {
		if (*any)
			strbuf_printf(b, ",");
		if (!walk_has(w, 1))
			return WALK_TRUNC;
		uint8_t kind = w->p[0];
		uint32_t len = 1;
		w->p++, w->avail--;
		if (!option_has_no_length(kind)) {
			if (!walk_has(w, 1))
				return WALK_TRUNC;
			len = w->p[0];
			w->p++, w->avail--;
			if (len < 2 || len > w->hlen)
				return WALK_BAD;
			w->hlen--;
		}
		w->hlen--;

		const char *name = tcp_option_name(kind);
		if (name)
			strbuf_printf(b, "%s", name);
		else
			strbuf_printf(b, "unknown-%u", kind);
		uint32_t datalen;
		enum walk_result r = put_option_data(b, w, kind, len, thseq, thack, rev, &datalen);
		if (r != WALK_DONE)
			return r;
		w->p += datalen;
		w->hlen -= datalen;
		w->avail = w->avail > datalen ? w->avail - datalen : 0;
		uint32_t expected = datalen + 1 + !option_has_no_length(kind);
		if (expected != len)
			strbuf_printf(b, "[len %u]", len);
		*any = true;
		if (kind == WIRE_OPT_EOL)
			break;
	}
	strbuf_printf(b, "]");
	return WALK_DONE;
}

/* ------------------------------------------------------------- payloads */

static bool equal_ignoring_case(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a >= 'a' && *a <= 'z' ? (char)(*a - 32) : *a;
		char y = *b >= 'a' && *b <= 'z' ? (char)(*b - 32) : *b;
		if (x != y)
			return false;
	}
	return *a == *b;
}

static bool is_http_method(const char *tok)
{
	static const char *const methods[] = {
		"GET", "PUT", "COPY", "HEAD", "LOCK", "MOVE", "POLL", "POST", "BCOPY", "BMOVE", "MKCOL",
		"TRACE", "LABEL", "MERGE", "DELETE", "SEARCH", "UNLOCK", "REPORT", "UPDATE", "NOTIFY",
		"BDELETE", "CONNECT", "OPTIONS", "CHECKIN", "PROPFIND", "CHECKOUT", "CCM_POST",
		"SUBSCRIBE", "PROPPATCH", "BPROPFIND", "BPROPPATCH", "UNCHECKOUT", "MKACTIVITY",
		"MKWORKSPACE", "UNSUBSCRIBE", "RPC_CONNECT", "VERSION-CONTROL", "BASELINE-CONTROL",
	};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (equal_ignoring_case(tok, methods[i]))
			return true;
	return false;
}

static bool is_print(uint8_t c) { return c >= 0x20 && c < 0x7f; }

/*
 * One whitespace-delimited token of printable ASCII at p[*at..len), and the
 * blanks after it. False if there is none.
 */
static bool fetch_token(const uint8_t *p, size_t len, size_t *at, char *tok, size_t cap)
{
	size_t n = 0, i = *at;
	for (; i < len; i++) {
		uint8_t c = p[i];
		if (c & 0x80)
			return false;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			break;
		if (!is_print(c) || n + 2 > cap)
			return false;
		tok[n++] = (char)c;
	}
	if (n == 0)
		return false;
	tok[n] = '\0';
	for (; i < len; i++) {
		uint8_t c = p[i];
		if (c == '\r' || c == '\n' || !is_print(c) || (c != ' ' && c != '\t'))
			break;
	}
	*at = i;
	return true;
}

/*
 * Prints the text line starting at p[at] with `prefix`; returns where the next
 * line starts, or 0 if the line is binary or unterminated.
 */
static size_t put_text_line(struct strbuf *b, const char *prefix, const uint8_t *p, size_t at, size_t len)
{
	size_t start = at, line_len, next;
	for (;; at++) {
		if (at == len) {
			strbuf_printf(b, "%s%.*s [|http]", prefix, (int)(at - start), (const char *)p + start);
			return 0;
		}
		uint8_t c = p[at];
		if (c == '\n') {
			line_len = at - start;
			next = at + 1;
			break;
		}
		if (c == '\r') {
			if (at + 1 >= len || p[at + 1] != '\n')
				return 0;
			line_len = at - start;
			next = at + 2;
			break;
		}
		if (!is_print(c) && c != '\t')
			return 0;
	}
	strbuf_printf(b, "%s%.*s", prefix, (int)line_len, (const char *)p + start);
	return next;
}

/* HTTP on ports 80 and 8080: the protocol's name, then its first line (or, with -v, all its lines). */
static void put_http(struct strbuf *b, unsigned verbose, const uint8_t *p, size_t len)
{
	char tok[129];
	size_t at = 0;
	bool text = false;
	if (fetch_token(p, len, &at, tok, sizeof(tok))) {
		text = is_http_method(tok);
		if (!text && fetch_token(p, len, &at, tok, sizeof(tok)))
			text = tok[0] >= '0' && tok[0] <= '9' && tok[1] >= '0' && tok[1] <= '9' &&
			       tok[2] >= '0' && tok[2] <= '9' && tok[3] == '\0';
	}
	strbuf_printf(b, ": HTTP");
	if (!text)
		return;
	if (!verbose) {
		put_text_line(b, ": ", p, 0, len);
		return;
	}
	strbuf_printf(b, ", length: %zu", len);
	for (size_t i = 0; i < len && (i = put_text_line(b, "\n\t", p, i, len)) != 0;)
		;
}

/* RFC 1122 4.2.2.12: a RST may carry text explaining it; tcpdump -v shows up to 30 bytes. */
static void put_rst_data(struct strbuf *b, const uint8_t *p, size_t declared, size_t captured)
{
	strbuf_printf(b, declared <= captured ? " [RST" : " [!RST");
	if (declared > 30) {
		declared = 30;
		strbuf_printf(b, "+");
	}
	strbuf_printf(b, " ");
	for (size_t i = 0; i < declared && i < captured; i++)
		put_safe_char(b, p[i]);
	strbuf_printf(b, "]");
}

/* ------------------------------------------------------------------ TCP */

static void put_tcp_flags(struct strbuf *b, uint8_t flags)
{
	static const struct { uint8_t bit; char ch; } names[] = {
		{ WIRE_TCP_FIN, 'F' }, { WIRE_TCP_SYN, 'S' }, { WIRE_TCP_RST, 'R' }, { WIRE_TCP_PSH, 'P' },
		{ WIRE_TCP_ACK, '.' }, { WIRE_TCP_URG, 'U' }, { WIRE_TCP_ECE, 'E' }, { WIRE_TCP_CWR, 'W' },
	};
	char s[9];
	size_t n = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & names[i].bit)
			s[n++] = names[i].ch;
	s[n] = '\0';
	strbuf_printf(b, "Flags [%s]", n ? s : "none");
}

/* Turns absolute seq/ack into relative ones, tcpdump's way. False on no memory. */
static bool relative_seq(struct tw_tracer *tr, const struct ip_ctx *ip, const struct wire_tcp *t,
			 uint32_t *seq, uint32_t *ack, uint32_t *thseq, uint32_t *thack, bool *rev)
{
	size_t alen = ip->family == 4 ? 4 : 16;
	struct conv_key k = { .family = ip->family };
	int cmp = memcmp(ip->src, ip->dst, alen);
	*rev = t->sport > t->dport || (t->sport == t->dport && cmp > 0);
	memcpy(k.src, *rev ? ip->dst : ip->src, alen);
	memcpy(k.dst, *rev ? ip->src : ip->dst, alen);
	k.ports = *rev ? (uint32_t)t->dport << 16 | t->sport : (uint32_t)t->sport << 16 | t->dport;

	struct conv *c = conv_find(tr, &k);
	if (!c)
		return false;
	if (!c->used || (t->flags & WIRE_TCP_SYN)) {
		if (!c->used)
			tr->n_convs++;
		c->used = true;
		c->key = k;
		if (*rev)
			c->ack = t->seq, c->seq = t->ack - 1;
		else
			c->seq = t->seq, c->ack = t->ack - 1;
	} else if (*rev) {
		*seq -= c->ack, *ack -= c->seq;
	} else {
		*seq -= c->seq, *ack -= c->ack;
	}
	*thseq = c->seq;
	*thack = c->ack;
	return true;
}

/*
 * The value a checksum field should hold, given what it holds and the checksum
 * computed over the data with it: stored + computed in one's complement, which
 * is the complement of the sum over everything but the field.
 */
static uint16_t checksum_should_be(uint16_t stored, uint16_t computed)
{
	uint32_t should = (uint32_t)stored + computed;
	should = (should & 0xffff) + (should >> 16);
	return (uint16_t)((should & 0xffff) + (should >> 16));
}

static void put_tcp_checksum(struct strbuf *b, const struct ip_ctx *ip, const uint8_t *seg, uint32_t length,
			     uint16_t stored)
{
	struct wire_pseudo ph = ip->ph;
	ph.len = length;
	uint16_t sum = wire_l4_csum(&ph, seg, length);
	strbuf_printf(b, ", cksum 0x%04x", stored);
	if (sum == 0) {
		strbuf_printf(b, " (correct)");
		return;
	}
	strbuf_printf(b, " (incorrect -> 0x%04x)", checksum_should_be(stored, sum));
}

/*
 * `seg` holds `captured` bytes of a segment whose IP header promises `length`.
 */
static void put_tcp(struct tw_tracer *tr, const struct ip_ctx *ip, const uint8_t *seg, uint32_t length,
		    size_t captured)
{
	struct strbuf *b = &tr->out;
	struct wire_tcp t;

	wire_tcp_parse(&t, seg, captured, NULL);
	if (captured < 4) {
		put_ip_addr(b, ip->family, ip->src);
		strbuf_printf(b, " > ");
		put_ip_addr(b, ip->family, ip->dst);
		strbuf_printf(b, ":");
		put_truncated(b, "tcp");
		return;
	}
	if (ip->tcp_follows_ip) {
		put_ip_addr(b, ip->family, ip->src);
		strbuf_printf(b, ".%u > ", t.sport);
		put_ip_addr(b, ip->family, ip->dst);
		strbuf_printf(b, ".%u: ", t.dport);
	} else {
		strbuf_printf(b, "%u > %u: ", t.sport, t.dport);
	}
	if (captured < WIRE_TCP_HDR_MIN) {
		put_truncated(b, "tcp");
		return;
	}
	uint32_t hlen = t.hdr_len;
	if (hlen < WIRE_TCP_HDR_MIN) {
		strbuf_printf(b, " tcp %u [bad hdr length %u - too short, < 20]", length - hlen, hlen);
		return;
	}
	put_tcp_flags(b, t.flags);

	uint32_t seq = t.seq, ack = t.ack, thseq = 0, thack = 0;
	bool rev = false;
	if (!tr->cfg.absolute_seq && (t.flags & WIRE_TCP_ACK) &&
	    !relative_seq(tr, ip, &t, &seq, &ack, &thseq, &thack, &rev)) {
		tr->out.oom = true;
		return;
	}
	if (hlen > length) {
		strbuf_printf(b, " [bad hdr length %u - too long, > %u]", hlen, length);
		return;
	}
	if (tr->cfg.verbose && !ip->fragmented && captured >= length)
		put_tcp_checksum(b, ip, seg, length, t.csum);

	uint32_t data_len = length - hlen;
	if (tr->cfg.verbose > 1 || data_len > 0 || (t.flags & (WIRE_TCP_SYN | WIRE_TCP_FIN | WIRE_TCP_RST))) {
		strbuf_printf(b, ", seq %u", seq);
		if (data_len > 0)
			strbuf_printf(b, ":%u", seq + data_len);
	}
	if (t.flags & WIRE_TCP_ACK)
		strbuf_printf(b, ", ack %u", ack);
	strbuf_printf(b, ", win %u", t.wnd);
	if (t.flags & WIRE_TCP_URG)
		strbuf_printf(b, ", urg %u", t.urp);

	if (hlen > WIRE_TCP_HDR_MIN) {
		struct opt_walk w = {
			.p = seg + WIRE_TCP_HDR_MIN,
			.hlen = hlen - WIRE_TCP_HDR_MIN,
			.avail = captured > WIRE_TCP_HDR_MIN ? (uint32_t)captured - WIRE_TCP_HDR_MIN : 0,
		};
		if (w.avail > w.hlen)
			w.avail = w.hlen;
		bool any;
		switch (put_tcp_options(b, &w, thseq, thack, rev, &any)) {
		case WALK_DONE:
			break;
		case WALK_BAD:
			strbuf_printf(b, "[bad opt]");
			if (any)
				strbuf_printf(b, "]");
			return;
		case WALK_TRUNC:
			put_truncated(b, "tcp");
			if (any)
				strbuf_printf(b, ">");
			return;
		}
	}

	strbuf_printf(b, ", length %u", data_len);
	if (data_len == 0)
		return;
	if (captured < hlen) {
		strbuf_printf(b, " [remaining caplen(%zu) < header length(%u)]", captured, hlen);
		put_truncated(b, "tcp");
		return;
	}
	const uint8_t *data = seg + hlen;
	size_t data_captured = captured - hlen;
	if ((t.flags & WIRE_TCP_RST) && tr->cfg.verbose) {
		put_rst_data(b, data, data_len, data_captured);
		return;
	}
	if (t.sport == 80 || t.dport == 80 || t.sport == 8080 || t.dport == 8080)
		put_http(b, tr->cfg.verbose, data, data_captured < data_len ? data_captured : data_len);
}

/* ----------------------------------------------------- UDP, ICMP, others */

static void put_addr_pair(struct strbuf *b, const struct ip_ctx *ip)
{
	put_ip_addr(b, ip->family, ip->src);
	strbuf_printf(b, " > ");
	put_ip_addr(b, ip->family, ip->dst);
	strbuf_printf(b, ": ");
}

static void put_udp(struct strbuf *b, const struct ip_ctx *ip, const uint8_t *p, uint32_t length, size_t captured)
{
	if (captured < 8) {
		put_addr_pair(b, ip);
		put_truncated(b, "udp");
		return;
	}
	put_ip_addr(b, ip->family, ip->src);
	strbuf_printf(b, ".%u > ", wire_get16(p));
	put_ip_addr(b, ip->family, ip->dst);
	strbuf_printf(b, ".%u: UDP, length %u", wire_get16(p + 2), wire_get16(p + 4) >= 8 ? wire_get16(p + 4) - 8u : length);
}

static void put_icmp_echo(struct strbuf *b, const char *proto, const char *sep, const char *what,
			  const uint8_t *p, uint32_t length)
{
	strbuf_printf(b, "%s%s%s, id %u, seq %u, length %u", proto, sep, what, wire_get16(p + 4), wire_get16(p + 6),
		      length);
}

static void put_icmp(struct strbuf *b, const uint8_t *p, uint32_t length, size_t captured)
{
	if (captured < 8) {
		strbuf_printf(b, "ICMP");
		put_truncated(b, "icmp");
		return;
	}
	if (p[0] == 8 || p[0] == 0)
		put_icmp_echo(b, "ICMP", " ", p[0] == 8 ? "echo request" : "echo reply", p, length);
	else
		strbuf_printf(b, "ICMP type-#%u, length %u", p[0], length);
}

static void put_icmp6(struct strbuf *b, const uint8_t *p, uint32_t length, size_t captured)
{
	if (captured < 8) {
		strbuf_printf(b, "ICMP6");
		put_truncated(b, "icmp6");
		return;
	}
	if (p[0] == 128 || p[0] == 129)
		put_icmp_echo(b, "ICMP6", ", ", p[0] == 128 ? "echo request" : "echo reply", p, length);
	else
		strbuf_printf(b, "ICMP6, type-#%u, length %u", p[0], length);
}

static void put_upper_layer(struct tw_tracer *tr, const struct ip_ctx *ip, uint8_t proto, const uint8_t *p,
			    uint32_t length, size_t captured)
{
	struct strbuf *b = &tr->out;
	switch (proto) {
	case WIRE_PROTO_TCP:
		put_tcp(tr, ip, p, length, captured);
		break;
	case WIRE_PROTO_UDP:
		put_udp(b, ip, p, length, captured);
		break;
	case WIRE_PROTO_ICMP:
		put_icmp(b, p, length, captured);
		break;
	case WIRE_PROTO_ICMPV6:
		put_icmp6(b, p, length, captured);
		break;
	case WIRE_PROTO_NONE:
		strbuf_printf(b, "no next header");
		break;
	default:
		strbuf_printf(b, "ip-proto-%u %u", proto, length);
		break;
	}
}

/* ----------------------------------------------------------------- IPv4 */

static void put_ipv4_options(struct strbuf *b, const uint8_t *p, size_t len)
{
	const char *sep = "";
	for (size_t at = 0; at < len;) {
		uint8_t code = p[at];
		strbuf_printf(b, "%s", sep);
		sep = ",";
		switch (code) {
		case 0: strbuf_printf(b, "EOL"); break;
		case 1: strbuf_printf(b, "NOP"); break;
		case 7: strbuf_printf(b, "RR"); break;
		case 68: strbuf_printf(b, "timestamp"); break;
		case 82: strbuf_printf(b, "traceroute"); break;
		case 130: strbuf_printf(b, "security"); break;
		case 131: strbuf_printf(b, "LSRR"); break;
		case 137: strbuf_printf(b, "SSRR"); break;
		case 148: strbuf_printf(b, "RA"); break;
		default: strbuf_printf(b, "unknown %u", code); break;
		}
		size_t olen = 1;
		if (code != 0 && code != 1) {
			olen = at + 1 < len ? p[at + 1] : 0;
			if (olen < 2 || olen > len - at) {
				strbuf_printf(b, " [bad length %zu]", olen);
				return;
			}
		}
		if (code == 0)
			return;
		at += olen;
	}
}

static void put_ipv4_verbose(struct strbuf *b, const struct wire_ipv4 *ip, const uint8_t *hdr, size_t captured)
{
	static const char *const ecn[] = { "", ",ECT(1)", ",ECT(0)", ",CE" };
	strbuf_printf(b, "(tos 0x%x%s", ip->tos, ecn[ip->tos & 3]);
	if (ip->ttl >= 1)
		strbuf_printf(b, ", ttl %u", ip->ttl);
	char flags[16] = "";
	if (ip->frag & WIRE_IPV4_FLAG_MF)
		strcat(flags, "+");
	if (ip->frag & WIRE_IPV4_FLAG_DF)
		strcat(flags, *flags ? ", DF" : "DF");
	if (ip->frag & WIRE_IPV4_FLAG_RES)
		strcat(flags, *flags ? ", rsvd" : "rsvd");
	strbuf_printf(b, ", id %u, offset %u, flags [%s], proto %s (%u), length %u", ip->id, wire_ipv4_frag_offset(ip),
		      *flags ? flags : "none", ipproto_name(ip->proto), ip->proto, ip->total_len);
	if (ip->opts_len) {
		strbuf_printf(b, ", options (");
		put_ipv4_options(b, ip->opts, ip->opts_len);
		strbuf_printf(b, ")");
	}
	if (ip->hdr_len <= captured) {
		uint16_t sum = wire_csum(hdr, ip->hdr_len);
		if (sum != 0) {
			strbuf_printf(b, ", bad cksum %x (->%x)!", ip->csum, checksum_should_be(ip->csum, sum));
		}
	}
	strbuf_printf(b, ")\n    ");
}

static void put_ipv4(struct tw_tracer *tr, const uint8_t *p, size_t captured, size_t length)
{
	struct strbuf *b = &tr->out;
	struct wire_ipv4 ip;
	int err = wire_ipv4_parse(&ip, p, captured);

	if (captured >= 1 && p[0] >> 4 != 4) {
		if (p[0] >> 4 == 6)
			strbuf_printf(b, "IP6, wrong link-layer encapsulation (invalid)");
		else
			strbuf_printf(b, "IP%u (invalid)", p[0] >> 4);
		return;
	}
	strbuf_printf(b, "IP ");
	if (err == -WIRE_E_TRUNCATED) {
		put_truncated(b, "ip");
		return;
	}
	if (length < WIRE_IPV4_HDR_MIN) {
		strbuf_printf(b, "truncated-ip %zu", length);
		return;
	}
	if (ip.hdr_len < WIRE_IPV4_HDR_MIN) {
		strbuf_printf(b, "bad-hlen %u", ip.hdr_len);
		return;
	}
	if (length < ip.total_len)
		strbuf_printf(b, "truncated-ip - %zu bytes missing! ", ip.total_len - length);
	if (ip.total_len < ip.hdr_len) {
		strbuf_printf(b, "bad-len %u", ip.total_len);
		return;
	}
	if (captured > ip.total_len)
		captured = ip.total_len;
	if (tr->cfg.verbose)
		put_ipv4_verbose(b, &ip, p, captured);

	struct ip_ctx ctx = { .family = 4, .src = ip.src, .dst = ip.dst, .fragmented = wire_ipv4_mf(&ip) };
	ctx.tcp_follows_ip = ip.proto == WIRE_PROTO_TCP;
	if ((ip.frag & WIRE_IPV4_OFFMASK) != 0) {
		put_addr_pair(b, &ctx);
		b->len -= 1; /* tcpdump prints "src > dst: ip-proto-N" with one space */
		b->s[b->len] = '\0';
		strbuf_printf(b, " ip-proto-%u", ip.proto);
		return;
	}
	if (ip.proto != WIRE_PROTO_TCP && ip.proto != WIRE_PROTO_UDP && ip.proto != 132 && ip.proto != 33)
		put_addr_pair(b, &ctx);
	if (captured < ip.hdr_len) {
		strbuf_printf(b, " [remaining caplen(%zu) < header length(%u)]", captured, ip.hdr_len);
		put_truncated(b, "ip");
		return;
	}
	wire_ipv4_pseudo(&ip, &ctx.ph);
	put_upper_layer(tr, &ctx, ip.proto, p + ip.hdr_len, (uint32_t)(ip.total_len - ip.hdr_len),
			captured - ip.hdr_len);
}

/* ----------------------------------------------------------------- IPv6 */

/* Hop-by-hop and destination options as tcpdump lists them with -v. */
static void put_ipv6_options(struct strbuf *b, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t olen = p[i] == 0 ? 1 : (i + 1 < len ? p[i + 1] + 2u : 0);
		if (olen == 0 || i + olen > len)
			return;
		switch (p[i]) {
		case 0: strbuf_printf(b, "(pad1)"); break;
		case 1: strbuf_printf(b, "(padn)"); break;
		case 5: strbuf_printf(b, "(rtalert: 0x%04x) ", olen >= 4 ? wire_get16(p + i + 2) : 0); break;
		case 0xc2: strbuf_printf(b, "(jumbo: %u - payload len != 0) ", olen >= 6 ? wire_get32(p + i + 2) : 0); break;
		default: strbuf_printf(b, "(opt_type 0x%02x: len=%u)", p[i], p[i + 1]); break;
		}
		i += olen;
	}
	strbuf_printf(b, " ");
}

static void put_ipv6_ext(struct strbuf *b, unsigned verbose, const struct wire_ipv6 *ip, const struct wire_ipv6_ext *e)
{
	switch (e->type) {
	case WIRE_PROTO_HOPOPTS:
	case WIRE_PROTO_DSTOPTS:
		strbuf_printf(b, e->type == WIRE_PROTO_HOPOPTS ? "HBH " : "DSTOPT ");
		if (verbose || e->type == WIRE_PROTO_HOPOPTS) {
			if (verbose)
				put_ipv6_options(b, e->data + 2, e->len - 2u);
		}
		break;
	case WIRE_PROTO_ROUTING:
		strbuf_printf(b, "RT6 (len=%u, type=%u%s, segleft=%u) ", e->data[1], e->data[2],
			      e->data[2] == 0 ? " [Deprecated]" : "", e->data[3]);
		break;
	case WIRE_PROTO_FRAGMENT: {
		uint16_t off = wire_get16(e->data + 2) & 0xfff8;
		size_t after = 0;
		for (unsigned i = 0; i < ip->n_ext && &ip->ext[i] != e; i++)
			after += ip->ext[i].len;
		size_t frag_len = ip->plen >= after + 8 ? ip->plen - after - 8 : 0;
		if (verbose)
			strbuf_printf(b, "frag (0x%08x:%u|%zu)", wire_get32(e->data + 4), off, frag_len);
		else
			strbuf_printf(b, "frag (%u|%zu)", off, frag_len);
		if (off == 0)
			strbuf_printf(b, " ");
		break;
	}
	}
}

static void put_ipv6(struct tw_tracer *tr, const uint8_t *p, size_t captured, size_t length)
{
	struct strbuf *b = &tr->out;
	struct wire_ipv6 ip;
	int err = wire_ipv6_parse(&ip, p, captured);

	strbuf_printf(b, "IP6 ");
	if (err == -WIRE_E_TRUNCATED) {
		put_truncated(b, "ip6");
		return;
	}
	if (err == -WIRE_E_VERSION) {
		strbuf_printf(b, "version error: %u != 6", p[0] >> 4);
		return;
	}
	if (ip.plen != 0 && length < WIRE_IPV6_HDR_LEN + (size_t)ip.plen)
		strbuf_printf(b, "truncated-ip6 - %zu bytes missing!", WIRE_IPV6_HDR_LEN + ip.plen - length);
	if (tr->cfg.verbose) {
		strbuf_printf(b, "(");
		if (ip.tclass)
			strbuf_printf(b, "class 0x%02x, ", ip.tclass);
		if (ip.flow)
			strbuf_printf(b, "flowlabel 0x%05x, ", ip.flow);
		strbuf_printf(b, "hlim %u, next-header %s (%u) payload length: %u) ", ip.hlim, ipproto_name(ip.next),
			      ip.next, ip.plen);
	}

	struct ip_ctx ctx = { .family = 6, .src = ip.src, .dst = ip.dst, .fragmented = ip.fragmented };
	uint8_t first = ip.next;
	ctx.tcp_follows_ip = first == WIRE_PROTO_TCP;
	if (first != WIRE_PROTO_TCP && first != WIRE_PROTO_UDP && first != 132 && first != 33)
		put_addr_pair(b, &ctx);
	for (unsigned i = 0; i < ip.n_ext; i++) {
		put_ipv6_ext(b, tr->cfg.verbose, &ip, &ip.ext[i]);
		if (ip.ext[i].type == WIRE_PROTO_FRAGMENT && ip.frag_offset != 0)
			return;
	}
	if (err == -WIRE_E_EXT_HDR || err == -WIRE_E_EXT_CHAIN) {
		put_truncated(b, "ip6");
		return;
	}
	if (ip.plen == 0) {
		strbuf_printf(b, "[No valid Jumbo Payload Hop-by-Hop option found] (invalid)");
		return;
	}
	wire_ipv6_pseudo(&ip, &ctx.ph);
	put_upper_layer(tr, &ctx, ip.proto, ip.payload, ctx.ph.len, ip.payload_len);
}

/* ------------------------------------------------------------ link layer */

static void put_arp(struct strbuf *b, const uint8_t *p, size_t captured, size_t length)
{
	/* Ethernet/IPv4 ARP: htype 1, ptype 0x0800, hlen 6, plen 4. */
	if (captured < 28 || wire_get16(p) != 1 || wire_get16(p + 2) != 0x0800 || p[4] != 6 || p[5] != 4) {
		strbuf_printf(b, "ARP, length %zu", length);
		return;
	}
	uint16_t op = wire_get16(p + 6);
	if (op == 1) {
		strbuf_printf(b, "ARP, Request who-has ");
		put_ip_addr(b, 4, p + 24);
		strbuf_printf(b, " tell ");
		put_ip_addr(b, 4, p + 14);
	} else if (op == 2) {
		strbuf_printf(b, "ARP, Reply ");
		put_ip_addr(b, 4, p + 14);
		strbuf_printf(b, " is-at ");
		put_mac(b, p + 8);
	} else {
		strbuf_printf(b, "ARP, unknown operation %u", op);
	}
	strbuf_printf(b, ", length %zu", length);
}

static void put_timestamp(struct tw_tracer *tr, int64_t sec, uint32_t usec)
{
	switch (tr->cfg.time) {
	case TW_TIME_OF_DAY: {
		uint32_t day_sec = tr->cfg.time_of_day ? tr->cfg.time_of_day(sec, tr->cfg.ctx) % 86400
						       : (uint32_t)(((sec % 86400) + 86400) % 86400);
		strbuf_printf(&tr->out, "%02u:%02u:%02u.%06u ", day_sec / 3600, day_sec / 60 % 60, day_sec % 60, usec);
		break;
	}
	case TW_TIME_EPOCH:
		strbuf_printf(&tr->out, "%" PRId64 ".%06u ", sec, usec);
		break;
	case TW_TIME_NONE:
		break;
	}
}

static const char *link_proto_name(int linktype)
{
	switch (linktype) {
	case TW_LINK_ETHERNET: return "ether";
	case TW_LINK_LINUX_SLL: return "sll";
	case TW_LINK_LINUX_SLL2: return "sll2";
	default: return "ip";
	}
}

struct tw_tracer *tw_tracer_new(const struct tw_trace_config *cfg)
{
	struct tw_tracer *tr = calloc(1, sizeof(*tr));
	if (tr && cfg)
		tr->cfg = *cfg;
	return tr;
}

void tw_tracer_free(struct tw_tracer *tr)
{
	if (!tr)
		return;
	strbuf_free(&tr->out);
	free(tr->convs);
	free(tr);
}

const char *tw_trace_render(struct tw_tracer *tr, int64_t sec, uint32_t usec, int linktype, const uint8_t *pkt,
			    size_t caplen, size_t wirelen)
{
	struct strbuf *b = &tr->out;
	struct trace_link l;

	strbuf_reset(b);
	put_timestamp(tr, sec, usec);
	if (caplen > wirelen) {
		strbuf_printf(b, "[length %zu < caplen %zu] (invalid)\n", wirelen, caplen);
		return b->oom ? NULL : b->s;
	}
	trace_link_decode(linktype, pkt, caplen, &l);
	if (l.has_sll2) {
		const char *name = tr->cfg.ifname ? tr->cfg.ifname(l.ifindex, tr->cfg.ctx) : NULL;
		strbuf_printf(b, "%-5s %-3s ", name ? name : "?", trace_sll_pkttype_name(l.pkttype));
	}
	const uint8_t *p = pkt + l.hdr_len;
	size_t captured = caplen - l.hdr_len, length = wirelen - l.hdr_len;
	switch (l.l3) {
	case TRACE_L3_IPV4:
		put_ipv4(tr, p, captured, length);
		break;
	case TRACE_L3_IPV6:
		put_ipv6(tr, p, captured, length);
		break;
	case TRACE_L3_ARP:
		put_arp(b, p, captured, length);
		break;
	case TRACE_L3_OTHER:
		if (l.has_macs) {
			put_mac(b, l.src_mac);
			strbuf_printf(b, " > ");
			put_mac(b, l.dst_mac);
			strbuf_printf(b, ", ");
		}
		strbuf_printf(b, "ethertype Unknown (0x%04x), length %zu", l.ethertype, wirelen);
		break;
	case TRACE_L3_TRUNCATED:
		put_truncated(b, link_proto_name(linktype));
		break;
	}
	strbuf_printf(b, "\n");
	return b->oom ? NULL : b->s;
}
