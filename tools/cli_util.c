/*
 * What the subcommands share: local time for the tracer, and how a bad
 * option is reported.
 */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <time.h>

#include "cli.h"

uint32_t cli_local_time_of_day(int64_t unix_sec, void *ctx)
{
	(void)ctx;
	time_t t = (time_t)unix_sec;
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return (uint32_t)(((unix_sec % 86400) + 86400) % 86400);
	return (uint32_t)(tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec);
}

void cli_report_bad_option(FILE *err, const char *command, int option_char, char **argv)
{
	const char *arg = argv[optind - 1];
	if (option_char == '?' && optopt > ' ' && optopt < 0x7f && arg[1] != '-')
		fprintf(err, "threeway %s: unknown option '-%c' (see threeway %s --help)\n", command, optopt, command);
	else if (option_char == ':')
		fprintf(err, "threeway %s: option '%s' needs a value (see threeway %s --help)\n", command, arg, command);
	else
		fprintf(err, "threeway %s: unknown option '%s' (see threeway %s --help)\n", command, arg, command);
}
