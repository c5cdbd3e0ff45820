/*
 * The script's structure: header settings (--name=value), then events, each
 * a time and an action; packets and system calls are parsed in their own
 * files. Checks that need more than one event (the first event at 0, time
 * never running backwards) are made here, once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"

#define MAX_SECONDS 1000000         /* about 11 days: far beyond any script, far from overflow */
#define MAX_EVENTS 50000

const struct drill_token *parser_peek(const struct parser *p, size_t ahead)
{
	size_t i = p->pos + ahead;
	return &p->tok[i < p->n ? i : p->n - 1];
}

const struct drill_token *parser_next(struct parser *p)
{
	const struct drill_token *t = parser_peek(p, 0);
	if (p->pos < p->n - 1)
		p->pos++;
	return t;
}

bool tok_is_punct(const struct drill_token *t, char c)
{
	return t->kind == TOK_PUNCT && t->punct == c;
}

bool tok_is_word(const struct drill_token *t, const char *word)
{
	return t->kind == TOK_WORD && strlen(word) == t->len && memcmp(t->text, word, t->len) == 0;
}

bool parser_accept(struct parser *p, char c)
{
	if (!tok_is_punct(parser_peek(p, 0), c))
		return false;
	parser_next(p);
	return true;
}

int parser_fail_at(struct parser *p, const struct drill_token *t, const char *what)
{
	char found[96];
	drill_token_describe(t, found, sizeof(found));
	drill_error_set(p->err, t->line, "%s, found %s", what, found);
	return -1;
}

int parser_expect(struct parser *p, char c, const char *context)
{
	if (parser_accept(p, c))
		return 0;
	char what[128];
	snprintf(what, sizeof(what), "expected '%c' %s", c, context);
	return parser_fail_at(p, parser_peek(p, 0), what);
}

int parser_end_of_event(struct parser *p, const char *what)
{
	const struct drill_token *t = parser_peek(p, 0);
	if (t->kind != TOK_EOF && p->pos > 0 && t->line == p->tok[p->pos - 1].line)
		return parser_fail_at(p, t, what);
	return 0;
}

int parser_uint(struct parser *p, uint64_t max, const char *what, uint64_t *out)
{
	const struct drill_token *t = parser_peek(p, 0);
	if (t->kind != TOK_INT) {
		char msg[128];
		snprintf(msg, sizeof(msg), "expected %s (a number)", what);
		return parser_fail_at(p, t, msg);
	}
	if (t->num < 0 || (uint64_t)t->num > max) {
		drill_error_set(p->err, t->line, "%s %lld is out of range (0 to %llu)", what, (long long)t->num,
				(unsigned long long)max);
		return -1;
	}
	parser_next(p);
	*out = (uint64_t)t->num;
	return 0;
}

/* Seconds as written ("0.100", "2", ".5") to microseconds, without a detour through floating point. */
int parser_seconds(struct parser *p, const struct drill_token *t, int64_t *us)
{
	if (t->kind != TOK_INT && t->kind != TOK_FLOAT)
		return parser_fail_at(p, t, "expected a time in seconds");
	if (t->text[0] == '-') {
		drill_error_set(p->err, t->line, "negative time");
		return -1;
	}
	int64_t sec = 0, frac = 0;
	size_t i = 0;
	for (; i < t->len && t->text[i] != '.'; i++) {
		sec = sec * 10 + (t->text[i] - '0');
		if (sec > MAX_SECONDS) {
			drill_error_set(p->err, t->line, "time %.*s s is out of range (at most %d s)", (int)t->len, t->text,
					MAX_SECONDS);
			return -1;
		}
	}
	int digits = 0;
	for (i++; i < t->len; i++) {
		if (digits++ < 6)
			frac = frac * 10 + (t->text[i] - '0');
	}
	for (; digits < 6; digits++)
		frac *= 10;
	*us = sec * 1000000 + frac;
	return 0;
}

/* 0.100 | +.1 | * | 0.1~0.2 | +0.1~+0.2 */
static int parse_time(struct parser *p, struct drill_time *tm)
{
	const struct drill_token *t = parser_peek(p, 0);
	memset(tm, 0, sizeof(*tm));
	if (parser_accept(p, '*')) {
		tm->kind = DRILL_TIME_ANY;
		return 0;
	}
	bool rel = parser_accept(p, '+');
	t = parser_peek(p, 0);
	if (t->kind != TOK_INT && t->kind != TOK_FLOAT)
		return parser_fail_at(p, t, rel ? "expected a time after '+'"
					 : "expected a time at the start of an event (such as 0.100, +.1 or *)");
	if (parser_seconds(p, parser_next(p), &tm->us))
		return -1;
	tm->kind = rel ? DRILL_TIME_REL : DRILL_TIME_ABS;
	if (!parser_accept(p, '~'))
		return 0;
	if (rel && parser_expect(p, '+', "before the end of a relative time range (+A~+B)"))
		return -1;
	if (!rel && tok_is_punct(parser_peek(p, 0), '+'))
		return parser_fail_at(p, parser_peek(p, 0), "an absolute time range ends with an absolute time (A~B)");
	if (parser_seconds(p, parser_next(p), &tm->end_us))
		return -1;
	if (tm->end_us < tm->us) {
		drill_error_set(p->err, t->line, "time range is backwards");
		return -1;
	}
	tm->kind = rel ? DRILL_TIME_REL_RANGE : DRILL_TIME_ABS_RANGE;
	return 0;
}

static int shell_command(struct parser *p, const struct drill_token *t)
{
	if (p->flags && p->flags->ignore_shell)
		return 0;
	drill_error_unsupported(p->err, t->line, "unsupported: shell command `%.*s`%s",
				(int)(t->len < 60 ? t->len : 60), t->text, t->len > 60 ? "..." : "");
	return -1;
}

static int code_block(struct parser *p, const struct drill_token *t)
{
	drill_error_unsupported(p->err, t->line, "unsupported: %%{ }%% code block");
	return -1;
}

/* `...END` after a syscall's time: when a blocking call returns. */
static int parse_blocking_end(struct parser *p, struct drill_event *ev)
{
	const struct drill_token *t = parser_peek(p, 0);
	if (tok_is_punct(t, '+'))
		return parser_fail_at(p, t, "the end of a blocking call is written without '+' (START...END, both "
					    "from the same origin)");
	if (parser_seconds(p, parser_next(p), &ev->call.end_us))
		return -1;
	ev->call.has_end = true;
	if (ev->time.kind != DRILL_TIME_ABS && ev->time.kind != DRILL_TIME_REL)
		return drill_error_set(p->err, ev->line, "a blocking call's start is a single time"), -1;
	if (ev->call.end_us < ev->time.us) {
		drill_error_set(p->err, ev->line, "the blocking call ends before it starts");
		return -1;
	}
	return 0;
}

/* The action after the time; 1 when the event is a skipped shell command. */
static int parse_action(struct parser *p, struct drill_event *ev)
{
	const struct drill_token *t = parser_peek(p, 0);
	if (tok_is_punct(t, '<') || tok_is_punct(t, '>')) {
		ev->kind = DRILL_EV_PACKET;
		return parse_packet(p, ev);
	}
	if (t->kind == TOK_SHELL) {
		parser_next(p);
		return shell_command(p, t) ? -1 : 1;
	}
	if (t->kind == TOK_CODE)
		return code_block(p, t);
	ev->kind = DRILL_EV_SYSCALL;
	if (t->kind == TOK_ELLIPSIS) {
		parser_next(p);
		if (parse_blocking_end(p, ev))
			return -1;
		t = parser_peek(p, 0);
	}
	if (t->kind == TOK_WORD && tok_is_punct(parser_peek(p, 1), '('))
		return parse_syscall(p, ev);
	return parser_fail_at(p, t, ev->call.has_end ? "expected a system call after START...END"
						      : "expected a packet (< or >) or a system call after the time");
}

static int check_time_use(struct parser *p, const struct drill_event *ev)
{
	bool outbound = ev->kind == DRILL_EV_PACKET && ev->pkt.outbound;
	if (ev->time.kind == DRILL_TIME_ANY && !outbound) {
		drill_error_set(p->err, ev->line, "event time * can only be used with outbound packets");
		return -1;
	}
	if ((ev->time.kind == DRILL_TIME_ABS_RANGE || ev->time.kind == DRILL_TIME_REL_RANGE) && !outbound) {
		drill_error_set(p->err, ev->line, "event time range can only be used with outbound packets");
		return -1;
	}
	return 0;
}

static int push_event(struct parser *p, struct drill_script *s, const struct drill_event *ev, size_t *cap)
{
	if (s->n_events == MAX_EVENTS) {
		drill_error_set(p->err, ev->line, "more than %d events", MAX_EVENTS);
		return -1;
	}
	if (s->n_events == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct drill_event *v = realloc(s->events, ncap * sizeof(*v));
		if (!v) {
			drill_error_set(p->err, ev->line, "out of memory");
			return -1;
		}
		s->events = v;
		*cap = ncap;
	}
	s->events[s->n_events++] = *ev;
	return 0;
}

static int parse_events(struct parser *p, struct drill_script *s)
{
	size_t cap = 0;
	for (;;) {
		const struct drill_token *t = parser_peek(p, 0);
		if (t->kind == TOK_EOF)
			return 0;
		if (t->kind == TOK_SHELL) {     /* init or cleanup command, without a time */
			parser_next(p);
			if (shell_command(p, t))
				return -1;
			continue;
		}
		if (t->kind == TOK_CODE)
			return code_block(p, t);
		if (t->kind == TOK_OPTION)
			return parser_fail_at(p, t, "settings (--name=value) come before the first event");
		struct drill_event ev;
		memset(&ev, 0, sizeof(ev));
		ev.line = t->line;
		if (parse_time(p, &ev.time))
			return -1;
		int rc = parse_action(p, &ev);
		if (rc < 0)
			return -1;
		if (rc == 1)
			continue;
		if (check_time_use(p, &ev) || push_event(p, s, &ev, &cap))
			return -1;
	}
}

static int parse_settings(struct parser *p, struct drill_script *s)
{
	size_t cap = 0;
	while (parser_peek(p, 0)->kind == TOK_OPTION) {
		const struct drill_token *t = parser_next(p);
		if (t->len >= sizeof(s->settings[0].name) || t->value_len >= sizeof(s->settings[0].value)) {
			drill_error_set(p->err, t->line, "setting --%.*s is too long", (int)(t->len < 60 ? t->len : 60),
					t->text);
			return -1;
		}
		if (s->n_settings == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct drill_setting *v = realloc(s->settings, ncap * sizeof(*v));
			if (!v) {
				drill_error_set(p->err, t->line, "out of memory");
				return -1;
			}
			s->settings = v;
			cap = ncap;
		}
		struct drill_setting *st = &s->settings[s->n_settings++];
		memset(st, 0, sizeof(*st));
		st->line = t->line;
		memcpy(st->name, t->text, t->len);
		st->has_value = t->value != NULL;
		if (t->value)
			memcpy(st->value, t->value, t->value_len);
	}
	return 0;
}

static bool is_absolute(const struct drill_time *t)
{
	return t->kind == DRILL_TIME_ABS || t->kind == DRILL_TIME_ABS_RANGE;
}

/* As packetdrill: the first event is at time 0, and absolute times never go back. */
static int check_times(struct parser *p, const struct drill_script *s)
{
	if (s->n_events && s->events[0].time.kind != DRILL_TIME_ANY && s->events[0].time.us != 0) {
		drill_error_set(p->err, s->events[0].line, "the first event should be at time 0");
		return -1;
	}
	for (size_t i = 1; i < s->n_events; i++) {
		const struct drill_event *a = &s->events[i - 1], *b = &s->events[i];
		if (is_absolute(&a->time) && is_absolute(&b->time) && b->time.us < a->time.us) {
			drill_error_set(p->err, b->line, "time goes backward in the script, from %.6f s to %.6f s",
					a->time.us / 1e6, b->time.us / 1e6);
			return -1;
		}
	}
	return 0;
}

int drill_parse(const char *text, size_t len, const struct drill_parse_flags *flags,
		struct drill_script *out, struct drill_error *err)
{
	struct drill_tokens toks;
	memset(out, 0, sizeof(*out));
	if (drill_lex(text, len, &toks, err))
		return -1;
	struct parser p = { .tok = toks.v, .n = toks.n, .err = err, .flags = flags };
	int rc = parse_settings(&p, out);
	if (!rc)
		rc = parse_events(&p, out);
	if (!rc)
		rc = check_times(&p, out);
	drill_tokens_free(&toks);
	if (rc) {
		drill_script_free(out);
		return -1;
	}
	return 0;
}

void drill_script_free(struct drill_script *s)
{
	free(s->settings);
	free(s->events);
	memset(s, 0, sizeof(*s));
}
