/*
 * threeway drill: run packetdrill scripts against threeway's engine.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "drill/drill.h"

static const char drill_usage[] =
	"usage: threeway drill [options] FILE...\n"
	"\n"
	"Runs packetdrill scripts, each against a fresh threeway stack on a virtual\n"
	"clock (a script of minutes runs in milliseconds), and prints PASS, FAIL with\n"
	"the line, the packets and the connection's state, or SKIP, then a count.\n"
	"The exit status is 1 if any script failed. See docs/drill.md.\n"
	"\n"
	"Settings, as in a script's header (the command line has the last word):\n"
	"  --ip_version=ipv4|ipv6   the family (default ipv4)\n"
	"  --local_ip=ADDR          the stack's address (192.168.0.1, fd3d:fa7b:d17d::1)\n"
	"  --remote_ip=ADDR         the peer's address (192.0.2.1, 2001:db8::1)\n"
	"  --bind_port=N            the port bind() binds (8080)\n"
	"  --connect_port=N         the port connect() connects to (8080)\n"
	"  --mtu=N                  the link's MTU (1500)\n"
	"  --tolerance_usecs=N      how far a packet or call may be from its time (4000)\n"
	"  --tolerance_percent=P    ... or P% of the time since the previous event (0)\n"
	"  --strict_segments        one outbound line matches one segment, never several\n"
	"\n"
	"Runner options:\n"
	"  --skip-unsupported  count scripts using what the runner cannot execute\n"
	"                      (shell, Python, TCP_INFO, ...) as skipped, not failed\n"
	"  --ignore-shell      ignore backquoted shell commands (such as defaults.sh)\n"
	"  -v, --verbose       print every packet and system call as it happens\n"
	"  -h, --help          this help\n";

struct drill_args {
	struct drill_settings set;
	const char **options;
	char **owned;               /* "name=value" joined from "--name value" */
	size_t n_owned;
	char **files;
	size_t n_files;
};

static int usage_error(FILE *err, const char *what, const char *arg)
{
	fprintf(err, "threeway drill: %s '%s' (see threeway drill --help)\n", what, arg);
	return 2;
}

/* A setting: "--name=value", "--name" for a flag, or getopt's other spelling "--name value". */
static int take_setting(struct drill_args *a, int argc, char **argv, int *i, FILE *err)
{
	const char *arg = argv[*i] + 2;
	char why[600], other[600];
	if (drill_check_option(arg, why, sizeof(why)) == 0) {
		a->options[a->set.n_options++] = arg;
		return 0;
	}
	if (!strchr(arg, '=') && *i + 1 < argc) {
		size_t n = strlen(arg) + strlen(argv[*i + 1]) + 2;
		char *joined = malloc(n);
		if (!joined) {
			fprintf(err, "threeway drill: out of memory\n");
			return 1;
		}
		snprintf(joined, n, "%s=%s", arg, argv[*i + 1]);
		a->owned[a->n_owned++] = joined;
		if (drill_check_option(joined, other, sizeof(other)) == 0) {
			a->options[a->set.n_options++] = joined;
			(*i)++;
			return 0;
		}
	}
	fprintf(err, "threeway drill: %s (see threeway drill --help)\n", why);
	return 2;
}

static void free_args(struct drill_args *a)
{
	for (size_t i = 0; i < a->n_owned; i++)
		free(a->owned[i]);
	free(a->owned);
	free(a->options);
	free(a->files);
}

static int parse_drill_args(int argc, char **argv, struct drill_args *a, FILE *out, FILE *err)
{
	memset(a, 0, sizeof(*a));
	a->options = calloc((size_t)argc, sizeof(*a->options));
	a->files = calloc((size_t)argc, sizeof(*a->files));
	a->owned = calloc((size_t)argc, sizeof(*a->owned));
	if (!a->options || !a->files || !a->owned) {
		fprintf(err, "threeway drill: out of memory\n");
		return 1;
	}
	a->set.options = a->options;
	bool only_files = false;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (only_files || arg[0] != '-') {
			a->files[a->n_files++] = argv[i];
		} else if (!strcmp(arg, "--")) {
			only_files = true;
		} else if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			fputs(drill_usage, out);
			return -1;
		} else if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
			a->set.verbose = true;
		} else if (!strcmp(arg, "--skip-unsupported")) {
			a->set.skip_unsupported = true;
		} else if (!strcmp(arg, "--ignore-shell")) {
			a->set.ignore_shell = true;
		} else if (arg[1] == '-') {
			int rc = take_setting(a, argc, argv, &i, err);
			if (rc)
				return rc;
		} else {
			return usage_error(err, "unknown option", arg);
		}
	}
	if (!a->n_files) {
		fprintf(err, "threeway drill: no script given (see threeway drill --help)\n");
		return 2;
	}
	return 0;
}

int cmd_drill(int argc, char **argv, FILE *out, FILE *err)
{
	struct drill_args a;
	int rc = parse_drill_args(argc, argv, &a, out, err);
	if (rc) {
		free_args(&a);
		return rc < 0 ? 0 : rc;
	}
	unsigned passed = 0, failed = 0, skipped = 0;
	for (size_t i = 0; i < a.n_files; i++) {
		switch (drill_run_file(a.files[i], &a.set, out)) {
		case DRILL_PASS: passed++; break;
		case DRILL_FAIL: failed++; break;
		case DRILL_SKIP: skipped++; break;
		}
		fflush(out);
	}
	fprintf(out, "%u passed, %u failed, %u skipped\n", passed, failed, skipped);
	free_args(&a);
	return failed ? 1 : 0;
}
