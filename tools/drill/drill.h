/*
 * threeway drill: runs packetdrill scripts against a threeway stack, each
 * script on a fresh stack and a virtual clock, and says PASS, FAIL (with the
 * line, the packets and the connection's state) or SKIP (unsupported).
 */
#ifndef DRILL_DRILL_H
#define DRILL_DRILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* What the command line says for every script. */
struct drill_settings {
	/* "name=value" or "name" (packetdrill's --name=value without the dashes), applied after each script's own. */
	const char *const *options;
	size_t n_options;
	bool skip_unsupported;      /* a script the runner cannot execute is skipped, not failed */
	bool ignore_shell;          /* backquoted shell commands are ignored */
	bool verbose;               /* print every packet and call as it happens */
};

enum drill_verdict { DRILL_PASS, DRILL_FAIL, DRILL_SKIP };

/* Checks one "name=value" setting before any script runs: 0, or -1 with the reason in `why`. */
int drill_check_option(const char *option, char *why, size_t cap);

/* Runs one script held in memory; writes its verdict (and with verbose, its trace) to `out`. */
enum drill_verdict drill_run_text(const char *name, const char *text, size_t len, const struct drill_settings *set,
				  FILE *out);

/* Reads and runs one script file. */
enum drill_verdict drill_run_file(const char *path, const struct drill_settings *set, FILE *out);

#endif
