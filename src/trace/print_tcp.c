/*
 * TCP segments: relative sequence numbers, flags, the checksum verdict, options, and
 * the text of HTTP and RST payloads.
 */
#include <stdlib.h>
#include <string.h>

#include "threeway.h"
#include "trace/trace.h"
#include "wire/wire.h"

/*
 * tcpdump prints sequence numbers relative to the first ones it saw of a
 * connection. A connection is keyed in one canonical direction (lower port
 * first, then lower address), and an ACK-bearing segment with SYN, or the
 * first one seen, (re)sets the bases.
 *
 * DEVIATION(tcpdump): tcpdump remembers every connection it ever saw, so a
 * tracer that runs for ever would grow for ever. Here the connections live
 * in two generations of TRACE_CONV_GENERATION each: new ones go into the
 * current, and when it is full the previous one is forgotten and the current
 * becomes the previous. A connection found in the previous generation moves
 * into the current, so one that keeps sending is never forgotten; one idle
 * while as many others begin is, and its next segment sets new bases.
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

/* The connection's slot in an open-addressed table, or the free slot where it would go. */
static struct conv *conv_slot(struct conv *tab, size_t cap, const struct conv_key *k)
{
	size_t i = (size_t)conv_hash(k) & (cap - 1);
	while (tab[i].used && !conv_key_eq(&tab[i].key, k))
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

/* The connection in `t`, or NULL. */
static struct conv *conv_lookup(const struct trace_conv_table *t, const struct conv_key *k)
{
	if (!t->cap)
		return NULL;
	struct conv *c = conv_slot(t->slots, t->cap, k);
	return c->used ? c : NULL;
}

/* Doubles the table, keeping it at most half full. */
static bool conv_grow(struct trace_conv_table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64;
	struct conv *tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return false;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].used)
			*conv_slot(tab, cap, &t->slots[i].key) = t->slots[i];
	free(t->slots);
	t->slots = tab;
	t->cap = cap;
	return true;
}

/* The current generation is full: the previous one goes, the current takes its place. */
static void conv_next_generation(struct tw_tracer *tr)
{
	free(tr->convs[1].slots);
	tr->convs[1] = tr->convs[0];
	tr->convs[0] = (struct trace_conv_table){ NULL, 0, 0 };
}

/* Adds a connection (not in the current generation) to it; NULL on no memory. */
static struct conv *conv_add(struct tw_tracer *tr, const struct conv_key *k)
{
	struct trace_conv_table *t = &tr->convs[0];
	if (t->n == TRACE_CONV_GENERATION)
		conv_next_generation(tr);
	if (2 * (t->n + 1) > t->cap && !conv_grow(t))
		return NULL;
	struct conv *c = conv_slot(t->slots, t->cap, k);
	*c = (struct conv){ .used = true, .key = *k };
	t->n++;
	return c;
}

/*
 * The connection's bases, from the current generation or moved there from
 * the previous one; `*fresh` when it was in neither and its bases are to
 * be set. NULL on no memory.
 */
static struct conv *conv_find(struct tw_tracer *tr, const struct conv_key *k, bool *fresh)
{
	struct conv *c = conv_lookup(&tr->convs[0], k);
	*fresh = false;
	if (c)
		return c;
	struct conv *old = conv_lookup(&tr->convs[1], k);
	struct conv saved = old ? *old : (struct conv){ .used = false };
	if (!(c = conv_add(tr, k)))
		return NULL;
	if (saved.used) {
		/* Copied, not moved: the previous generation is dropped whole, and the current is searched first. */
		c->seq = saved.seq;
		c->ack = saved.ack;
	} else {
		*fresh = true;
	}
	return c;
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

/* Text of `len` bytes of which `captured` are present. */
struct text {
	const uint8_t *p;
	size_t len, captured;
};

/*
 * One whitespace-delimited token of printable ASCII at t->p[*at], and the
 * blanks after it. False if there is none, or if it runs past the capture.
 */
static bool fetch_token(const struct text *t, size_t *at, char *tok, size_t cap)
{
	size_t n = 0, i = *at;
	for (; i < t->len; i++) {
		if (i >= t->captured)
			return false;
		uint8_t c = t->p[i];
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
	for (; i < t->len && i < t->captured; i++) {
		uint8_t c = t->p[i];
		if (c == '\r' || c == '\n' || !is_print(c) || (c != ' ' && c != '\t'))
			break;
	}
	*at = i;
	return true;
}

/*
 * Prints the text line at t->p[at] with `prefix`; returns where the next line
 * starts, or 0 if the line is binary, unterminated or cut (*cut).
 */
static size_t put_text_line(struct strbuf *b, const char *prefix, const struct text *t, size_t at, bool *cut)
{
	size_t start = at, next;
	for (;; at++) {
		if (at == t->len) {
			trace_strbuf_printf(b, "%s%.*s", prefix, (int)(at - start), (const char *)t->p + start);
			trace_put_truncated(b, "http");
			return 0;
		}
		if (at >= t->captured || (t->p[at] == '\r' && at + 1 < t->len && at + 1 >= t->captured)) {
			*cut = true;
			return 0;
		}
		uint8_t c = t->p[at];
		if (c == '\n') {
			next = at + 1;
			break;
		}
		if (c == '\r') {
			if (at + 1 >= t->len || t->p[at + 1] != '\n')
				return 0;
			next = at + 2;
			break;
		}
		if (!is_print(c) && c != '\t')
			return 0;
	}
	trace_strbuf_printf(b, "%s%.*s", prefix, (int)(at - start), (const char *)t->p + start);
	return next;
}

/* HTTP on ports 80 and 8080: the protocol's name, then its first line (or, with -v, all its lines). */
static void put_http(struct strbuf *b, unsigned verbose, const struct text *t)
{
	char tok[129];
	size_t at = 0;
	bool text = false, cut = false;
	if (fetch_token(t, &at, tok, sizeof(tok))) {
		text = is_http_method(tok);
		if (!text && fetch_token(t, &at, tok, sizeof(tok)))
			text = tok[0] >= '0' && tok[0] <= '9' && tok[1] >= '0' && tok[1] <= '9' &&
			       tok[2] >= '0' && tok[2] <= '9' && tok[3] == '\0';
	}
	trace_strbuf_printf(b, ": HTTP");
	if (!text)
		return;
	if (!verbose) {
		put_text_line(b, ": ", t, 0, &cut);
	} else {
		trace_strbuf_printf(b, ", length: %zu", t->len);
		for (size_t i = 0; i < t->len && (i = put_text_line(b, "\n\t", t, i, &cut)) != 0;)
			;
	}
	if (cut)
		trace_put_truncated(b, "http");
}

/* RFC 1122 4.2.2.12: a RST may carry text explaining it; tcpdump -v shows up to 30 bytes. */
static void put_rst_data(struct strbuf *b, const struct text *t)
{
	size_t n = t->len;
	trace_strbuf_printf(b, t->len <= t->captured ? " [RST" : " [!RST");
	if (n > 30) {
		n = 30;
		trace_strbuf_printf(b, "+");
	}
	trace_strbuf_printf(b, " ");
	for (size_t i = 0; i < n && i < t->captured; i++)
		trace_put_safe_char(b, t->p[i]);
	trace_strbuf_printf(b, "]");
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
	trace_strbuf_printf(b, "Flags [%s]", n ? s : "none");
}

/* Turns absolute seq/ack into relative ones, tcpdump's way. False on no memory. */
static bool relative_seq(struct tw_tracer *tr, const struct ip_ctx *ip, const struct wire_tcp *t,
			 uint32_t *seq, uint32_t *ack, struct opt_walk *w)
{
	size_t alen = ip->family == 4 ? 4 : 16;
	struct conv_key k = { .family = ip->family };
	int cmp = memcmp(ip->src, ip->dst, alen);
	bool rev = t->sport > t->dport || (t->sport == t->dport && cmp > 0);
	memcpy(k.src, rev ? ip->dst : ip->src, alen);
	memcpy(k.dst, rev ? ip->src : ip->dst, alen);
	k.ports = rev ? (uint32_t)t->dport << 16 | t->sport : (uint32_t)t->sport << 16 | t->dport;

	bool fresh;
	struct conv *c = conv_find(tr, &k, &fresh);
	if (!c)
		return false;
	if (fresh || (t->flags & WIRE_TCP_SYN)) {
		if (rev)
			c->ack = t->seq, c->seq = t->ack - 1;
		else
			c->seq = t->seq, c->ack = t->ack - 1;
	} else if (rev) {
		*seq -= c->ack, *ack -= c->seq;
	} else {
		*seq -= c->seq, *ack -= c->ack;
	}
	w->thseq = c->seq;
	w->thack = c->ack;
	w->rev = rev;
	return true;
}

static void put_tcp_checksum(struct strbuf *b, const struct ip_ctx *ip, const uint8_t *seg, uint32_t length,
			     uint16_t stored)
{
	uint16_t sum = trace_l4_checksum(ip, WIRE_PROTO_TCP, seg, length);
	trace_strbuf_printf(b, ", cksum 0x%04x", stored);
	if (sum == 0)
		trace_strbuf_printf(b, " (correct)");
	else
		trace_strbuf_printf(b, " (incorrect -> 0x%04x)", trace_checksum_should_be(stored, sum));
}

/* The TCP line's ports, with the addresses when no other header came between IP and TCP. */
static void put_tcp_ports(struct strbuf *b, const struct ip_ctx *ip, const struct wire_tcp *t)
{
	if (!ip->addrs_on_l4) {
		trace_strbuf_printf(b, "%u > %u: ", t->sport, t->dport);
		return;
	}
	trace_put_ip_addr(b, ip->family, ip->src);
	trace_strbuf_printf(b, ".%u > ", t->sport);
	trace_put_ip_addr(b, ip->family, ip->dst);
	trace_strbuf_printf(b, ".%u: ", t->dport);
}

/* Options, then "length N"; false when tcpdump stops inside the options. */
static bool put_tcp_tail(struct strbuf *b, struct opt_walk *w, uint32_t data_len)
{
	if (w->hlen > 0) {
		bool any;
		switch (trace_put_tcp_options(b, w, &any)) {
		case WALK_DONE:
			break;
		case WALK_BAD:
			trace_strbuf_printf(b, "[bad opt]%s", any ? "]" : "");
			return false;
		case WALK_TRUNC:
			trace_put_truncated(b, w->proto);
			trace_strbuf_printf(b, "%s", any ? ">" : "");
			return false;
		case WALK_CUT:
			trace_put_truncated(b, w->proto);
			return false;
		}
	}
	trace_strbuf_printf(b, ", length %u", data_len);
	return true;
}

/* What follows "length N": RST text with -v, or HTTP. Other protocols' decoders are not reproduced. */
static void put_tcp_payload(struct tw_tracer *tr, const struct wire_tcp *t, const struct text *data)
{
	if ((t->flags & WIRE_TCP_RST) && tr->cfg.verbose)
		put_rst_data(&tr->out, data);
	else if (t->sport == 80 || t->dport == 80 || t->sport == 8080 || t->dport == 8080)
		put_http(&tr->out, tr->cfg.verbose, data);
}

/* The line up to the flags; false if tcpdump ends it there. */
static bool put_tcp_head(struct strbuf *b, const struct ip_ctx *ip, const struct wire_tcp *t, uint32_t length,
			 size_t captured)
{
	if (captured < 4) {
		trace_put_ip_addr(b, ip->family, ip->src);
		trace_strbuf_printf(b, " > ");
		trace_put_ip_addr(b, ip->family, ip->dst);
		trace_strbuf_printf(b, ":");
		trace_put_truncated(b, "tcp");
		return false;
	}
	put_tcp_ports(b, ip, t);
	if (captured < WIRE_TCP_HDR_MIN) {
		trace_put_truncated(b, "tcp");
		return false;
	}
	if (t->hdr_len < WIRE_TCP_HDR_MIN) {
		trace_strbuf_printf(b, " tcp %u [bad hdr length %u - too short, < 20]", length - t->hdr_len, t->hdr_len);
		return false;
	}
	put_tcp_flags(b, t->flags);
	return true;
}

/* Sequence numbers, window and urgent pointer: seq only when the segment occupies sequence space, or with -vv. */
static void put_tcp_numbers(struct strbuf *b, unsigned verbose, const struct wire_tcp *t, uint32_t seq, uint32_t ack,
			    uint32_t data_len)
{
	if (verbose > 1 || data_len > 0 || (t->flags & (WIRE_TCP_SYN | WIRE_TCP_FIN | WIRE_TCP_RST))) {
		trace_strbuf_printf(b, ", seq %u", seq);
		if (data_len > 0)
			trace_strbuf_printf(b, ":%u", seq + data_len);
	}
	if (t->flags & WIRE_TCP_ACK)
		trace_strbuf_printf(b, ", ack %u", ack);
	trace_strbuf_printf(b, ", win %u", t->wnd);
	if (t->flags & WIRE_TCP_URG)
		trace_strbuf_printf(b, ", urg %u", t->urp);
}

/* `seg` holds `captured` bytes of a segment whose IP header promises `length`. */
void trace_put_tcp(struct tw_tracer *tr, const struct ip_ctx *ip, const uint8_t *seg, uint32_t length,
		    size_t captured)
{
	struct strbuf *b = &tr->out;
	struct wire_tcp t;

	wire_tcp_parse(&t, seg, captured, NULL);
	if (!put_tcp_head(b, ip, &t, length, captured))
		return;
	uint32_t hlen = t.hdr_len, seq = t.seq, ack = t.ack;
	struct opt_walk w = {
		.p = seg + WIRE_TCP_HDR_MIN,
		.hlen = hlen - WIRE_TCP_HDR_MIN,
		.avail = captured - WIRE_TCP_HDR_MIN,
		.flags = t.flags,
		.payload_captured = captured >= length,
		.proto = "tcp",
	};
	/* tcpdump records the connection even when the header turns out too long. */
	if (!tr->cfg.absolute_seq && (t.flags & WIRE_TCP_ACK) && !relative_seq(tr, ip, &t, &seq, &ack, &w)) {
		b->oom = true;
		return;
	}
	if (hlen > length) {
		trace_strbuf_printf(b, " [bad hdr length %u - too long, > %u]", hlen, length);
		return;
	}
	if (tr->cfg.verbose && !ip->fragmented && captured >= length)
		put_tcp_checksum(b, ip, seg, length, t.csum);
	put_tcp_numbers(b, tr->cfg.verbose, &t, seq, ack, length - hlen);
	if (!put_tcp_tail(b, &w, length - hlen) || length == hlen)
		return;
	if (captured < hlen) {
		trace_strbuf_printf(b, " [remaining caplen(%zu) < header length(%u)]", captured, hlen);
		trace_put_truncated(b, w.proto);
		return;
	}
	struct text data = { .p = seg + hlen, .len = length - hlen, .captured = captured - hlen };
	put_tcp_payload(tr, &t, &data);
}
