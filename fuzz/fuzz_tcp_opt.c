/*
 * libFuzzer target over the TCP option parser and builder
 * (src/wire/tcp_opt.c). Input: an options area, any bytes.
 *
 * Checked besides crashes and sanitizer reports:
 *   - an area over 40 bytes is refused, and a failure is one of the option
 *     errors (RFC 9293 3.1 MUST-7: an illegal length is reported, not read);
 *   - an area that parses emits again byte for byte, padded with EOL;
 *   - the well-formed options pushed into a fresh struct with the parsed
 *     values (the builder's way) emit to an area that parses to the same
 *     values.
 */
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_values(const struct wire_tcp_opts *a, const struct wire_tcp_opts *b)
{
	/* The builder pads with EOL where the parsed area may have had none. */
	if ((a->has | WIRE_HAS_EOL) != (b->has | WIRE_HAS_EOL))
		return false;
	if ((a->has & WIRE_HAS_MSS) && a->mss != b->mss)
		return false;
	if ((a->has & WIRE_HAS_WSCALE) && a->wscale != b->wscale)
		return false;
	if ((a->has & WIRE_HAS_TS) && (a->ts_val != b->ts_val || a->ts_ecr != b->ts_ecr))
		return false;
	if ((a->has & WIRE_HAS_TFO) && a->tfo_cookie_len != b->tfo_cookie_len)
		return false;
	if (a->has & WIRE_HAS_SACK) {
		if (a->sack_count != b->sack_count)
			return false;
		for (unsigned i = 0; i < a->sack_count; i++)
			if (a->sack[i].left != b->sack[i].left || a->sack[i].right != b->sack[i].right)
				return false;
	}
	return true;
}

/* The builder's way: a zeroed struct, each option pushed in wire order, the values set. */
static void check_built(const struct wire_tcp_opts *parsed)
{
	struct wire_tcp_opts b;
	memset(&b, 0, sizeof(b));
	for (unsigned i = 0; i < parsed->count; i++) {
		const struct wire_tcp_opt *e = &parsed->list[i];
		if (e->malformed)
			continue;   /* a builder cannot make one; nor does the parse take its value */
		if (!wire_tcp_opt_push(&b, e->kind, e->len, e->len > 2 ? parsed->raw + e->off + 2 : NULL))
			abort();
	}
	b.has = parsed->has;
	b.mss = parsed->mss;
	b.wscale = parsed->wscale;
	b.ts_val = parsed->ts_val;
	b.ts_ecr = parsed->ts_ecr;
	b.sack_count = parsed->sack_count;
	memcpy(b.sack, parsed->sack, sizeof(b.sack));
	b.tfo_cookie_len = parsed->tfo_cookie_len;

	uint8_t out[WIRE_TCP_OPT_SPACE];
	size_t n = wire_tcp_opts_emit(&b, out, sizeof(out));
	if (n != wire_tcp_opts_size(&b) || n % 4 || (b.count && !n))
		abort();
	struct wire_tcp_opts again;
	if (wire_tcp_opts_parse(&again, out, n) != 0 || !same_values(parsed, &again))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_tcp_opts o;
	int err = wire_tcp_opts_parse(&o, data, size);
	if (size > WIRE_TCP_OPT_SPACE) {
		if (err != -WIRE_E_OPT_PAST_END)
			abort();
		return 0;
	}
	if (err) {
		if (err != -WIRE_E_OPT_LEN && err != -WIRE_E_OPT_PAST_END)
			abort();
		return 0;
	}
	/* Parsed, it emits again as it came, padded with EOL to whole words. */
	uint8_t out[WIRE_TCP_OPT_SPACE];
	memset(out, 0xa5, sizeof(out));
	size_t n = wire_tcp_opts_emit(&o, out, sizeof(out));
	if (n != ((size + 3) & ~(size_t)3) || (size && memcmp(out, data, size) != 0))
		abort();
	for (size_t i = size; i < n; i++)
		if (out[i] != WIRE_OPT_EOL)
			abort();
	check_built(&o);
	return 0;
}
