/*
 * Script text to tokens. The whole script is tokenized first (it is small
 * and bounded), so the parser can look ahead freely. Comments are // to the
 * end of the line and C's block comments, as in packetdrill.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lexer.h"

struct lexer {
	const char *s;
	size_t len, pos;
	int line;
	struct drill_tokens *out;
	size_t cap;
	struct drill_error *err;
};

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_word_char(char c) { return is_alpha(c) || is_digit(c); }
static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

static char at(const struct lexer *lx, size_t off)
{
	return lx->pos + off < lx->len ? lx->s[lx->pos + off] : '\0';
}

/* Lines of bounded length and no NUL bytes: checked once, before anything else. */
static int check_lines(const char *s, size_t len, struct drill_error *err)
{
	int line = 1;
	size_t line_start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '\n') {
			if (i - line_start > DRILL_MAX_LINE_BYTES) {
				drill_error_set(err, line, "line is longer than %d bytes", DRILL_MAX_LINE_BYTES);
				return -1;
			}
			line++;
			line_start = i + 1;
		} else if (s[i] == '\0') {
			drill_error_set(err, line, "NUL byte in the script");
			return -1;
		}
	}
	return 0;
}

static struct drill_token *push(struct lexer *lx, enum drill_tok kind, int line, const char *text, size_t len)
{
	if (lx->out->n == lx->cap) {
		size_t cap = lx->cap ? lx->cap * 2 : 256;
		struct drill_token *v = realloc(lx->out->v, cap * sizeof(*v));
		if (!v) {
			drill_error_set(lx->err, line, "out of memory");
			return NULL;
		}
		lx->out->v = v;
		lx->cap = cap;
	}
	struct drill_token *t = &lx->out->v[lx->out->n++];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->line = line;
	t->text = text;
	t->len = len;
	return t;
}

/* Advances over `n` bytes, counting line breaks. */
static void skip(struct lexer *lx, size_t n)
{
	for (size_t i = 0; i < n && lx->pos < lx->len; i++)
		if (lx->s[lx->pos++] == '\n')
			lx->line++;
}

/* Skips a block that ends with `close` (a comment, code); -1 if it never ends. */
static int skip_block(struct lexer *lx, size_t open_len, const char *close, const char *what)
{
	int line = lx->line;
	skip(lx, open_len);
	size_t close_len = strlen(close);
	while (lx->pos + close_len <= lx->len) {
		if (memcmp(lx->s + lx->pos, close, close_len) == 0) {
			skip(lx, close_len);
			return 0;
		}
		skip(lx, 1);
	}
	drill_error_set(lx->err, line, "%s is never closed (no '%s')", what, close);
	return -1;
}

/* "..." or `...`: a backslash escapes the next byte. */
static int lex_quoted(struct lexer *lx, char quote, enum drill_tok kind)
{
	int line = lx->line;
	skip(lx, 1);
	size_t start = lx->pos;
	while (lx->pos < lx->len && lx->s[lx->pos] != quote)
		skip(lx, lx->s[lx->pos] == '\\' ? 2 : 1);
	if (lx->pos >= lx->len) {
		drill_error_set(lx->err, line, "%s is never closed", quote == '"' ? "string" : "backquoted command");
		return -1;
	}
	if (!push(lx, kind, line, lx->s + start, lx->pos - start))
		return -1;
	skip(lx, 1);
	return 0;
}

static int lex_code(struct lexer *lx)
{
	int line = lx->line;
	size_t start = lx->pos;
	if (skip_block(lx, 2, "}%", "code block"))
		return -1;
	return push(lx, TOK_CODE, line, lx->s + start, lx->pos - start) ? 0 : -1;
}

/* --name or --name=value; the value runs to white space, or is "quoted". */
static int lex_option(struct lexer *lx)
{
	size_t start = lx->pos + 2;
	size_t end = start;
	while (end < lx->len && is_word_char(lx->s[end]))
		end++;
	struct drill_token *t = push(lx, TOK_OPTION, lx->line, lx->s + start, end - start);
	if (!t)
		return -1;
	lx->pos = end;
	if (at(lx, 0) != '=')
		return 0;
	lx->pos++;
	if (at(lx, 0) == '"') {
		size_t vstart = lx->pos + 1, vend = vstart;
		while (vend < lx->len && lx->s[vend] != '"' && lx->s[vend] != '\n')
			vend++;
		if (vend >= lx->len || lx->s[vend] != '"') {
			drill_error_set(lx->err, t->line, "string is never closed");
			return -1;
		}
		t->value = lx->s + vstart;
		t->value_len = vend - vstart;
		lx->pos = vend + 1;
		return 0;
	}
	size_t vstart = lx->pos;
	while (lx->pos < lx->len && !is_space(lx->s[lx->pos]))
		lx->pos++;
	t->value = lx->s + vstart;
	t->value_len = lx->pos - vstart;
	return 0;
}

static int lex_number(struct lexer *lx)
{
	size_t start = lx->pos;
	size_t p = start;
	bool neg = lx->s[p] == '-';
	if (neg)
		p++;
	enum drill_tok kind = TOK_INT;
	uint64_t v = 0;
	bool overflow = false;
	if (!neg && at(lx, 0) == '0' && (at(lx, 1) == 'x' || at(lx, 1) == 'X') && is_hex(at(lx, 2))) {
		p += 2;
		for (; p < lx->len && is_hex(lx->s[p]); p++) {
			char c = lx->s[p];
			unsigned d = is_digit(c) ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
			overflow |= v > (UINT64_MAX >> 4);
			v = (v << 4) | d;
		}
	} else {
		for (; p < lx->len && is_digit(lx->s[p]); p++) {
			overflow |= v > (UINT64_MAX - 9) / 10;
			v = v * 10 + (uint64_t)(lx->s[p] - '0');
		}
		if (p + 1 < lx->len && lx->s[p] == '.' && is_digit(lx->s[p + 1])) {
			kind = TOK_FLOAT;
			for (p++; p < lx->len && is_digit(lx->s[p]); p++)
				;
		}
	}
	if (p < lx->len && is_word_char(lx->s[p])) {
		drill_error_set(lx->err, lx->line, "malformed number '%.*s'", (int)(p + 1 - start), lx->s + start);
		return -1;
	}
	if (kind == TOK_INT && (overflow || v > (uint64_t)INT64_MAX)) {
		drill_error_set(lx->err, lx->line, "number '%.*s' is too large", (int)(p - start), lx->s + start);
		return -1;
	}
	struct drill_token *t = push(lx, kind, lx->line, lx->s + start, p - start);
	if (!t)
		return -1;
	t->num = neg ? -(int64_t)v : (int64_t)v;
	lx->pos = p;
	return 0;
}

static bool starts_number(const struct lexer *lx)
{
	char c = at(lx, 0);
	if (is_digit(c))
		return true;
	if (c == '.')
		return is_digit(at(lx, 1));
	if (c == '-')
		return is_digit(at(lx, 1)) || (at(lx, 1) == '.' && is_digit(at(lx, 2)));
	return false;
}

static int lex_one(struct lexer *lx)
{
	char c = at(lx, 0);
	if (is_space(c)) {
		skip(lx, 1);
		return 0;
	}
	if (c == '/' && at(lx, 1) == '/') {
		while (lx->pos < lx->len && lx->s[lx->pos] != '\n')
			lx->pos++;
		return 0;
	}
	if (c == '/' && at(lx, 1) == '*')
		return skip_block(lx, 2, "*/", "comment");
	if (c == '%' && at(lx, 1) == '{')
		return lex_code(lx);
	if (c == '`')
		return lex_quoted(lx, '`', TOK_SHELL);
	if (c == '"')
		return lex_quoted(lx, '"', TOK_STRING);
	if (c == '-' && at(lx, 1) == '-' && is_word_char(at(lx, 2)))
		return lex_option(lx);
	if (c == '.' && at(lx, 1) == '.' && at(lx, 2) == '.') {
		if (!push(lx, TOK_ELLIPSIS, lx->line, lx->s + lx->pos, 3))
			return -1;
		lx->pos += 3;
		return 0;
	}
	if (starts_number(lx))
		return lex_number(lx);
	if (is_alpha(c)) {
		size_t start = lx->pos;
		while (lx->pos < lx->len && is_word_char(lx->s[lx->pos]))
			lx->pos++;
		return push(lx, TOK_WORD, lx->line, lx->s + start, lx->pos - start) ? 0 : -1;
	}
	if (c > ' ' && c < 0x7f) {
		struct drill_token *t = push(lx, TOK_PUNCT, lx->line, lx->s + lx->pos, 1);
		if (!t)
			return -1;
		t->punct = c;
		lx->pos++;
		return 0;
	}
	drill_error_set(lx->err, lx->line, "unexpected byte 0x%02x", (unsigned char)c);
	return -1;
}

int drill_lex(const char *text, size_t len, struct drill_tokens *out, struct drill_error *err)
{
	memset(out, 0, sizeof(*out));
	if (len > DRILL_MAX_SCRIPT_BYTES) {
		drill_error_set(err, 0, "the script is larger than %u bytes", DRILL_MAX_SCRIPT_BYTES);
		return -1;
	}
	if (check_lines(text, len, err))
		return -1;
	struct lexer lx = { .s = text, .len = len, .line = 1, .out = out, .err = err };
	while (lx.pos < lx.len) {
		if (lex_one(&lx)) {
			drill_tokens_free(out);
			return -1;
		}
	}
	if (!push(&lx, TOK_EOF, lx.line, text + len, 0)) {
		drill_tokens_free(out);
		return -1;
	}
	return 0;
}

void drill_tokens_free(struct drill_tokens *t)
{
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

void drill_token_describe(const struct drill_token *t, char *buf, size_t cap)
{
	switch (t->kind) {
	case TOK_EOF:
		snprintf(buf, cap, "end of file");
		break;
	case TOK_STRING:
		snprintf(buf, cap, "\"%.*s\"", (int)(t->len < 40 ? t->len : 40), t->text);
		break;
	case TOK_SHELL:
		snprintf(buf, cap, "a backquoted command");
		break;
	case TOK_CODE:
		snprintf(buf, cap, "a code block");
		break;
	case TOK_OPTION:
		snprintf(buf, cap, "--%.*s", (int)(t->len < 60 ? t->len : 60), t->text);
		break;
	default:
		snprintf(buf, cap, "'%.*s'", (int)(t->len < 60 ? t->len : 60), t->text);
		break;
	}
}

void drill_error_set(struct drill_error *e, int line, const char *fmt, ...)
{
	va_list ap;
	e->line = line;
	e->unsupported = false;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

void drill_error_unsupported(struct drill_error *e, int line, const char *fmt, ...)
{
	va_list ap;
	e->line = line;
	e->unsupported = true;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}
