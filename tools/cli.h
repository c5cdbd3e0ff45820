/*
 * The threeway command-line tool: one function per subcommand. Each takes its
 * own arguments (argv[0] is the subcommand's name), writes to the streams it
 * is given, and returns the process exit status.
 */
#ifndef THREEWAY_CLI_H
#define THREEWAY_CLI_H

#include <stdint.h>
#include <stdio.h>

int cmd_trace(int argc, char **argv, FILE *out, FILE *err);
int cmd_demo(int argc, char **argv, FILE *out, FILE *err);
int cmd_drill(int argc, char **argv, FILE *out, FILE *err);
int cmd_serve(int argc, char **argv, FILE *out, FILE *err);
int cmd_connect(int argc, char **argv, FILE *out, FILE *err);
int cmd_audit_isn(int argc, char **argv, FILE *out, FILE *err);

/* Seconds since local midnight, for tw_trace_config.time_of_day: the library reads no clock or zone. */
uint32_t cli_local_time_of_day(int64_t unix_sec, void *ctx);

/*
 * One error line for what getopt_long() refused: `option_char` is what it
 * returned ('?' for an unknown option, ':' for a missing value, with an
 * optstring that starts "+:").
 */
void cli_report_bad_option(FILE *err, const char *command, int option_char, char **argv);

#endif
