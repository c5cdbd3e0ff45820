/*
 * The threeway command-line tool: one function per subcommand. Each takes its
 * own arguments (argv[0] is the subcommand's name), writes to the streams it
 * is given, and returns the process exit status.
 */
#ifndef THREEWAY_CLI_H
#define THREEWAY_CLI_H

#include <stdio.h>

int cmd_trace(int argc, char **argv, FILE *out, FILE *err);
int cmd_demo(int argc, char **argv, FILE *out, FILE *err);

#endif
