/*
 * The tokens of a packetdrill script. Like packetdrill's lexer, line breaks
 * are white space: an event may span lines, and its line is where it starts.
 */
#ifndef DRILL_LEXER_H
#define DRILL_LEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "script.h"

#define DRILL_MAX_SCRIPT_BYTES (4u << 20)
#define DRILL_MAX_LINE_BYTES 4096

enum drill_tok {
	TOK_EOF,
	TOK_INT,                    /* 42, -1, 0x802 */
	TOK_FLOAT,                  /* 0.100, .1 */
	TOK_WORD,                   /* accept, sackOK, ECONNREFUSED */
	TOK_STRING,                 /* "..." (text without the quotes) */
	TOK_SHELL,                  /* `...` */
	TOK_CODE,                   /* %{ ... }% */
	TOK_OPTION,                 /* --name or --name=value */
	TOK_ELLIPSIS,               /* ... */
	TOK_PUNCT,                  /* any other printable character */
};

struct drill_token {
	enum drill_tok kind;
	int line;
	const char *text;           /* borrowed from the script; for TOK_OPTION the name */
	size_t len;
	int64_t num;                /* TOK_INT */
	char punct;                 /* TOK_PUNCT */
	const char *value;          /* TOK_OPTION: the text after '=', or NULL */
	size_t value_len;
};

struct drill_tokens {
	struct drill_token *v;
	size_t n;                   /* the last is TOK_EOF */
};

/* 0, or -1 with the first problem (and its line) in `err`. */
int drill_lex(const char *text, size_t len, struct drill_tokens *out, struct drill_error *err);
void drill_tokens_free(struct drill_tokens *t);

/* A token as it reads in the script, for messages ("end of file" for TOK_EOF). */
void drill_token_describe(const struct drill_token *t, char *buf, size_t cap);

#endif
