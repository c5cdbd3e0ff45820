/*
 * libFuzzer target over the drill script parser (tools/drill): the lexer,
 * the event and packet grammar, and the settings applied to a run's
 * configuration. Input: script text, any bytes.
 *
 * Checked besides crashes, leaks and sanitizer reports: parsing is
 * deterministic; a failure says why and at a line the text has; a success
 * gives events in order of their lines, each within the text.
 */
#include <stdlib.h>
#include <string.h>

#include "drill/config.h"
#include "drill/script.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lines_in(const char *text, size_t len)
{
	int n = 1;
	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	return n;
}

static void check_error(const struct drill_error *err, int lines)
{
	if (!err->msg[0] || !memchr(err->msg, 0, sizeof(err->msg)) || err->line < 0 || err->line > lines)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	const char *text = (const char *)data;
	int lines = lines_in(text, size);
	struct drill_parse_flags flags = { .ignore_shell = size && (data[0] & 1) };
	struct drill_script s, again;
	struct drill_error err, err2;
	memset(&err, 0, sizeof(err));
	memset(&err2, 0, sizeof(err2));
	int r = drill_parse(text, size, &flags, &s, &err);
	int r2 = drill_parse(text, size, &flags, &again, &err2);
	if (r != r2)
		abort();
	if (r) {
		check_error(&err, lines);
		if (err.line != err2.line || strcmp(err.msg, err2.msg) != 0)
			abort();
		return 0;
	}
	if (s.n_events != again.n_events || s.n_settings != again.n_settings)
		abort();
	int last = 0;
	for (size_t i = 0; i < s.n_events; i++) {
		const struct drill_event *ev = &s.events[i];
		if (ev->line < last || ev->line < 1 || ev->line > lines || ev->kind != again.events[i].kind)
			abort();
		last = ev->line;
	}
	/* The header's settings, as a run applies them. */
	struct drill_config cfg;
	drill_config_init(&cfg);
	int bad = 0;
	for (size_t i = 0; i < s.n_settings && !bad; i++) {
		const struct drill_setting *st = &s.settings[i];
		memset(&err, 0, sizeof(err));
		if ((bad = drill_config_set(&cfg, st->name, st->has_value ? st->value : NULL, st->line, &err)))
			check_error(&err, lines);
	}
	memset(&err, 0, sizeof(err));
	if (!bad && drill_config_finish(&cfg, &err))
		check_error(&err, lines);
	drill_script_free(&s);
	drill_script_free(&again);
	return 0;
}
