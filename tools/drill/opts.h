/*
 * TCP options in their wire form: walking them, printing them the way a
 * script writes them, and the few rewrites that map sequence numbers.
 */
#ifndef DRILL_OPTS_H
#define DRILL_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct drill_opt_view {
	uint8_t kind;
	uint8_t len;                /* on the wire, kind and length bytes included */
	const uint8_t *data;        /* len - 2 bytes (none for EOL and NOP) */
};

/*
 * The option at *off, which moves past it: 1 for an option, 0 at the end,
 * -1 when the bytes do not form one (a length under 2 or past the end).
 * EOL and NOP are options of one byte.
 */
int drill_opt_next(const uint8_t *b, size_t len, size_t *off, struct drill_opt_view *o);

/* "mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 8", as a script writes them. */
void drill_opts_format(const uint8_t *b, size_t len, char *buf, size_t cap);

/* Adds `delta` to every SACK edge. */
void drill_opts_shift_sack(uint8_t *b, size_t len, uint32_t delta);

/* The timestamps option: its val and ecr, and where ecr is; false if there is none. */
bool drill_opts_find_ts(const uint8_t *b, size_t len, uint32_t *val, uint32_t *ecr, size_t *ecr_off);

uint32_t drill_get32(const uint8_t *p);
uint16_t drill_get16(const uint8_t *p);
void drill_put32(uint8_t *p, uint32_t v);
void drill_put16(uint8_t *p, uint16_t v);

#endif
