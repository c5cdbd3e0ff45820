/*
 * TCP options in wire form. The runner keeps a script's options as the
 * bytes they stand for, so they compare with what the stack sends in order
 * and byte for byte, and build inbound packets as written.
 */
#include <stdio.h>
#include <string.h>

#include "opts.h"
#include "script.h"

uint32_t drill_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint16_t drill_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

void drill_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void drill_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int drill_opt_next(const uint8_t *b, size_t len, size_t *off, struct drill_opt_view *o)
{
	if (*off >= len)
		return 0;
	o->kind = b[*off];
	o->data = NULL;
	if (o->kind == DRILL_OPT_EOL || o->kind == DRILL_OPT_NOP) {
		o->len = 1;
		(*off)++;
		return 1;
	}
	if (*off + 2 > len || b[*off + 1] < 2 || *off + b[*off + 1] > len)
		return -1;
	o->len = b[*off + 1];
	o->data = b + *off + 2;
	*off += o->len;
	return 1;
}

static size_t append(char *buf, size_t cap, size_t used, const char *fmt, unsigned a, unsigned b)
{
	if (used >= cap)
		return cap;
	int n = snprintf(buf + used, cap - used, fmt, a, b);
	return n < 0 || (size_t)n >= cap - used ? cap : used + (size_t)n;
}

static size_t format_one(const struct drill_opt_view *o, char *buf, size_t cap, size_t used)
{
	unsigned n = o->len - 2u;
	switch (o->kind) {
	case DRILL_OPT_EOL: return append(buf, cap, used, "eol", 0, 0);
	case DRILL_OPT_NOP: return append(buf, cap, used, "nop", 0, 0);
	case DRILL_OPT_MSS:
		if (n == 2)
			return append(buf, cap, used, "mss %u", drill_get16(o->data), 0);
		break;
	case DRILL_OPT_WSCALE:
		if (n == 1)
			return append(buf, cap, used, "wscale %u", o->data[0], 0);
		break;
	case DRILL_OPT_SACK_PERM:
		if (n == 0)
			return append(buf, cap, used, "sackOK", 0, 0);
		break;
	case DRILL_OPT_SACK:
		if (n % 8 == 0 && n > 0) {
			used = append(buf, cap, used, "sack", 0, 0);
			for (unsigned i = 0; i < n; i += 8)
				used = append(buf, cap, used, " %u:%u", drill_get32(o->data + i), drill_get32(o->data + i + 4));
			return used;
		}
		break;
	case DRILL_OPT_TS:
		if (n == 8) {
			used = append(buf, cap, used, "TS val %u", drill_get32(o->data), 0);
			return append(buf, cap, used, " ecr %u", drill_get32(o->data + 4), 0);
		}
		break;
	}
	return append(buf, cap, used, "kind %u len %u", o->kind, o->len);
}

void drill_opts_format(const uint8_t *b, size_t len, char *buf, size_t cap)
{
	size_t off = 0, used = 0;
	struct drill_opt_view o;
	int rc;
	buf[0] = '\0';
	while ((rc = drill_opt_next(b, len, &off, &o)) == 1) {
		if (off > o.len)
			used = append(buf, cap, used, ",", 0, 0);
		used = format_one(&o, buf, cap, used);
	}
	if (rc < 0)
		append(buf, cap, used, used ? ",(malformed)" : "(malformed)", 0, 0);
}

void drill_opts_shift_sack(uint8_t *b, size_t len, uint32_t delta)
{
	size_t off = 0;
	struct drill_opt_view o;
	while (drill_opt_next(b, len, &off, &o) == 1) {
		if (o.kind != DRILL_OPT_SACK)
			continue;
		uint8_t *p = b + (o.data - b);
		for (unsigned i = 0; i + 4 <= o.len - 2u; i += 4)
			drill_put32(p + i, drill_get32(p + i) + delta);
	}
}

bool drill_opts_find_ts(const uint8_t *b, size_t len, uint32_t *val, uint32_t *ecr, size_t *ecr_off)
{
	size_t off = 0;
	struct drill_opt_view o;
	while (drill_opt_next(b, len, &off, &o) == 1) {
		if (o.kind == DRILL_OPT_TS && o.len == 10) {
			*val = drill_get32(o.data);
			*ecr = drill_get32(o.data + 4);
			*ecr_off = (size_t)(o.data - b) + 4;
			return true;
		}
	}
	return false;
}
