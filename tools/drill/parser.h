/*
 * What the parser's files share: a cursor over the tokens and the helpers
 * that report the first problem with its line.
 */
#ifndef DRILL_PARSER_H
#define DRILL_PARSER_H

#include "lexer.h"
#include "script.h"

struct parser {
	const struct drill_token *tok;
	size_t n, pos;              /* tok[n - 1] is TOK_EOF */
	struct drill_error *err;
	const struct drill_parse_flags *flags;
};

const struct drill_token *parser_peek(const struct parser *p, size_t ahead);
const struct drill_token *parser_next(struct parser *p);
bool tok_is_punct(const struct drill_token *t, char c);
bool tok_is_word(const struct drill_token *t, const char *word);
/* Takes the punctuation `c` if it comes next. */
bool parser_accept(struct parser *p, char c);
/* Takes `c`, or fails with "expected 'c' <context>, found ...". 0 or -1. */
int parser_expect(struct parser *p, char c, const char *context);
/* Fails with "<what>, found <token>" at the token's line; returns -1. */
int parser_fail_at(struct parser *p, const struct drill_token *t, const char *what);

/* An event ends its line: the next one starts on a new line. 0, or -1 failing with `what`. */
int parser_end_of_event(struct parser *p, const char *what);

/* A non-negative integer token within [0, max], or a failure naming `what`. */
int parser_uint(struct parser *p, uint64_t max, const char *what, uint64_t *out);

/* A time in seconds (INT or FLOAT token) as microseconds. 0 or -1. */
int parser_seconds(struct parser *p, const struct drill_token *t, int64_t *us);

/* After the direction < or >: one TCP packet. */
int parse_packet(struct parser *p, struct drill_event *ev);
/* From the call's name (after the time and any ...END): one system call. */
int parse_syscall(struct parser *p, struct drill_event *ev);

#endif
