/*
 * A packet line, as packetdrill writes TCP segments:
 *
 *   < S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7>
 *   > P. 1:1001(1000) ack 1 <...>
 *
 * direction, [SRC>DST ports], flags, start:end(len), then ack, win and urg
 * in that order, then options. UDP, ICMP, IP fields and encapsulations are
 * valid packetdrill that the runner does not execute.
 */
#include <stdio.h>
#include <string.h>

#include "opts.h"
#include "parser.h"

/* The largest payload that fits an IP packet with the largest TCP header. */
#define MAX_PAYLOAD (65535 - 40 - 60)

static int unsupported_packet(struct parser *p)
{
	static const struct { const char *word, *what; } words[] = {
		{ "udp", "UDP packets" }, { "icmp", "ICMP packets" },
		{ "ipv4", "IPv4 encapsulation" }, { "ipv6", "IPv6 encapsulation" },
		{ "gre", "GRE encapsulation" }, { "GREv0", "GRE encapsulation" },
		{ "mpls", "MPLS encapsulation" }, { "encap", "PSP encapsulation" },
	};
	const struct drill_token *t = parser_peek(p, 0);
	if (tok_is_punct(t, '(') || tok_is_punct(t, '[')) {
		drill_error_unsupported(p->err, t->line, "unsupported: IP header fields (tos, ECN, TTL, flow label)");
		return -1;
	}
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (tok_is_word(t, words[i].word)) {
			drill_error_unsupported(p->err, t->line, "unsupported: %s", words[i].what);
			return -1;
		}
	}
	return 0;
}

static int parse_ports(struct parser *p, struct drill_packet *pk)
{
	if (parser_peek(p, 0)->kind != TOK_INT || !tok_is_punct(parser_peek(p, 1), '>'))
		return 0;
	uint64_t sport, dport;
	if (parser_uint(p, 65535, "source port", &sport))
		return -1;
	parser_next(p);
	if (parser_uint(p, 65535, "destination port", &dport))
		return -1;
	pk->has_ports = true;
	pk->sport = (uint16_t)sport;
	pk->dport = (uint16_t)dport;
	return 0;
}

static int flag_bit(struct parser *p, const struct drill_token *t, char c, uint8_t *flags)
{
	static const char letters[] = "FSRPUEW";
	static const uint8_t bits[] = { DRILL_TH_FIN, DRILL_TH_SYN, DRILL_TH_RST, DRILL_TH_PSH,
					DRILL_TH_URG, DRILL_TH_ECE, DRILL_TH_CWR };
	const char *at = strchr(letters, c);
	if (at) {
		*flags |= bits[at - letters];
		return 0;
	}
	if (c == 'A' || (c >= '0' && c <= '7')) {
		drill_error_unsupported(p->err, t->line, "unsupported: TCP flag '%c' (AccECN)", c);
		return -1;
	}
	drill_error_set(p->err, t->line, "invalid TCP flag '%c' (the flags are F S R P . U E W, or - for none)", c);
	return -1;
}

/* S, S., P., F., ., R, - ... */
static int parse_flags(struct parser *p, struct drill_packet *pk)
{
	const struct drill_token *t = parser_peek(p, 0);
	if (parser_accept(p, '-'))
		return 0;
	if (parser_accept(p, '.')) {
		pk->flags = DRILL_TH_ACK;
		return 0;
	}
	if (t->kind != TOK_WORD)
		return parser_fail_at(p, t, "expected TCP flags (such as S, S., P., . or -)");
	parser_next(p);
	for (size_t i = 0; i < t->len; i++)
		if (flag_bit(p, t, t->text[i], &pk->flags))
			return -1;
	if (parser_accept(p, '.'))
		pk->flags |= DRILL_TH_ACK;
	return 0;
}

/* start:end(len) */
static int parse_seq(struct parser *p, struct drill_packet *pk)
{
	const struct drill_token *t = parser_peek(p, 0);
	uint64_t start, end, len;
	if (t->kind != TOK_INT)
		return parser_fail_at(p, t, "expected the sequence numbers start:end(length)");
	if (parser_uint(p, UINT32_MAX, "start sequence number", &start) ||
	    parser_expect(p, ':', "in start:end(length)") ||
	    parser_uint(p, UINT32_MAX, "end sequence number", &end) ||
	    parser_expect(p, '(', "in start:end(length)") ||
	    parser_uint(p, 65535, "payload length", &len) ||
	    parser_expect(p, ')', "in start:end(length)"))
		return -1;
	if (end != start + len) {
		drill_error_set(p->err, t->line, "inconsistent TCP sequence numbers and payload size (%llu + %llu is not %llu)",
				(unsigned long long)start, (unsigned long long)len, (unsigned long long)end);
		return -1;
	}
	if (len > MAX_PAYLOAD) {
		drill_error_set(p->err, t->line, "TCP segment too large (at most %d bytes of payload)", MAX_PAYLOAD);
		return -1;
	}
	pk->seq = (uint32_t)start;
	pk->len = (uint16_t)len;
	return 0;
}

/* ack N, win N, urg N: each optional, in that order. */
static int parse_fields(struct parser *p, struct drill_packet *pk)
{
	uint64_t v;
	if (tok_is_word(parser_peek(p, 0), "ack")) {
		parser_next(p);
		if (parser_uint(p, UINT32_MAX, "ack", &v))
			return -1;
		pk->has_ack = true;
		pk->ack = (uint32_t)v;
	}
	if (tok_is_word(parser_peek(p, 0), "win")) {
		parser_next(p);
		if (parser_uint(p, 65535, "window", &v))
			return -1;
		pk->has_win = true;
		pk->win = (uint16_t)v;
	}
	if (tok_is_word(parser_peek(p, 0), "urg")) {
		parser_next(p);
		if (parser_uint(p, 65535, "urgent pointer", &v))
			return -1;
		pk->urg = (uint16_t)v;
	}
	return 0;
}

static int put_bytes(struct parser *p, int line, struct drill_opts *o, const uint8_t *b, size_t n)
{
	if (o->len + n > DRILL_OPT_SPACE) {
		drill_error_set(p->err, line, "TCP option list too long (more than %d bytes)", DRILL_OPT_SPACE);
		return -1;
	}
	memcpy(o->bytes + o->len, b, n);
	o->len = (uint8_t)(o->len + n);
	return 0;
}

/* sack L:R [L:R ...] */
static int parse_sack(struct parser *p, int line, struct drill_opts *o)
{
	uint8_t b[2 + 8 * 4] = { DRILL_OPT_SACK, 2 };
	size_t n = 0;
	while (parser_peek(p, 0)->kind == TOK_INT) {
		uint64_t l, r;
		if (n == 4) {
			drill_error_set(p->err, line, "at most 4 SACK blocks fit in the options");
			return -1;
		}
		if (parser_uint(p, UINT32_MAX, "SACK left edge", &l) || parser_expect(p, ':', "in a SACK block L:R") ||
		    parser_uint(p, UINT32_MAX, "SACK right edge", &r))
			return -1;
		drill_put32(b + 2 + 8 * n, (uint32_t)l);
		drill_put32(b + 6 + 8 * n, (uint32_t)r);
		n++;
	}
	if (n == 0)
		return parser_fail_at(p, parser_peek(p, 0), "expected SACK blocks L:R after sack");
	b[1] = (uint8_t)(2 + 8 * n);
	return put_bytes(p, line, o, b, b[1]);
}

static int parse_option(struct parser *p, struct drill_opts *o)
{
	static const char *const unsupported[] = { "FO", "FOEXP", "md5", "ECN" };
	const struct drill_token *t = parser_next(p);
	uint64_t v, ecr;
	uint8_t b[10];
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		if (tok_is_word(t, unsupported[i])) {
			drill_error_unsupported(p->err, t->line, "unsupported: TCP option %s", unsupported[i]);
			return -1;
		}
	}
	if (tok_is_word(t, "nop") || tok_is_word(t, "eol")) {
		b[0] = tok_is_word(t, "nop") ? DRILL_OPT_NOP : DRILL_OPT_EOL;
		return put_bytes(p, t->line, o, b, 1);
	}
	if (tok_is_word(t, "sackOK")) {
		b[0] = DRILL_OPT_SACK_PERM;
		b[1] = 2;
		return put_bytes(p, t->line, o, b, 2);
	}
	if (tok_is_word(t, "mss")) {
		if (parser_uint(p, 65535, "mss", &v))
			return -1;
		b[0] = DRILL_OPT_MSS;
		b[1] = 4;
		drill_put16(b + 2, (uint16_t)v);
		return put_bytes(p, t->line, o, b, 4);
	}
	if (tok_is_word(t, "wscale")) {
		if (parser_uint(p, 255, "window scale shift count", &v))
			return -1;
		b[0] = DRILL_OPT_WSCALE;
		b[1] = 3;
		b[2] = (uint8_t)v;
		return put_bytes(p, t->line, o, b, 3);
	}
	if (tok_is_word(t, "sack"))
		return parse_sack(p, t->line, o);
	if (tok_is_word(t, "TS")) {
		if (!tok_is_word(parser_peek(p, 0), "val"))
			return parser_fail_at(p, parser_peek(p, 0), "expected 'val' in TS val V ecr E");
		parser_next(p);
		if (parser_uint(p, UINT32_MAX, "TS val", &v))
			return -1;
		if (!tok_is_word(parser_peek(p, 0), "ecr"))
			return parser_fail_at(p, parser_peek(p, 0), "expected 'ecr' in TS val V ecr E");
		parser_next(p);
		if (parser_uint(p, UINT32_MAX, "TS ecr", &ecr))
			return -1;
		b[0] = DRILL_OPT_TS;
		b[1] = 10;
		drill_put32(b + 2, (uint32_t)v);
		drill_put32(b + 6, (uint32_t)ecr);
		return put_bytes(p, t->line, o, b, 10);
	}
	return parser_fail_at(p, t, "expected a TCP option (mss, wscale, sackOK, sack, TS, nop, eol)");
}

/* <option,option,...> or <...> */
static int parse_options(struct parser *p, struct drill_packet *pk)
{
	const struct drill_token *open = parser_next(p);
	if (parser_peek(p, 0)->kind == TOK_ELLIPSIS) {
		parser_next(p);
		if (!pk->outbound) {
			drill_error_set(p->err, open->line, "<...> for TCP options can only be used with outbound packets");
			return -1;
		}
		pk->opts.any = true;
		return parser_expect(p, '>', "after <...");
	}
	do {
		if (parse_option(p, &pk->opts))
			return -1;
	} while (parser_accept(p, ','));
	if (parser_expect(p, '>', "or ',' in the option list"))
		return -1;
	if (pk->opts.len % 4) {
		drill_error_set(p->err, open->line,
				"TCP options are not padded to a multiple of 4 bytes: %d excess bytes (add nop)",
				pk->opts.len % 4);
		return -1;
	}
	return 0;
}

int parse_packet(struct parser *p, struct drill_event *ev)
{
	struct drill_packet *pk = &ev->pkt;
	pk->outbound = parser_next(p)->punct == '>';
	if (unsupported_packet(p) || parse_ports(p, pk) || parse_flags(p, pk) || parse_seq(p, pk) ||
	    parse_fields(p, pk))
		return -1;
	if (!pk->outbound && !pk->has_win) {
		drill_error_set(p->err, ev->line, "window must be specified for inbound packets (win N)");
		return -1;
	}
	if (tok_is_punct(parser_peek(p, 0), '<') && parse_options(p, pk))
		return -1;
	return parser_end_of_event(p, "unexpected text at the end of the packet");
}
