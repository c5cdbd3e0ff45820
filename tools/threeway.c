/*
 * threeway: the command-line tool.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "threeway.h"

static const char usage[] =
	"usage: threeway COMMAND [ARGS]\n"
	"\n"
	"threeway is a userspace TCP/IP stack built around a TCP three-way handshake\n"
	"that is correct, secure and easy to see.\n"
	"\n"
	"Commands:\n"
	"  demo      show a TCP three-way handshake, packet by packet, as tcpdump prints it\n"
	"  drill     run packetdrill scripts against the stack, on a virtual clock\n"
	"  trace     print a pcap or pcapng capture exactly as 'tcpdump -nn' does\n"
	"  serve     serve http, echo, discard or chargen on a TUN interface\n"
	"  connect   connect to a host through a TUN interface, like netcat\n"
	"  audit-isn audit how a host chooses ISNs and timestamps, as nmap does and more\n"
	"\n"
	"Options:\n"
	"  -h, --help     this help ('threeway COMMAND --help' for a command's options)\n"
	"  -V, --version  print the version\n";

static const struct {
	const char *name;
	int (*run)(int argc, char **argv, FILE *out, FILE *err);
} commands[] = {
	{ "demo", cmd_demo },
	{ "drill", cmd_drill },
	{ "trace", cmd_trace },
	{ "serve", cmd_serve },
	{ "connect", cmd_connect },
	{ "audit-isn", cmd_audit_isn },
};

/* Output that could not be written (a full disk, a closed pipe) is an error, not a success. */
static int finish_output(int status)
{
	errno = 0;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "threeway: cannot write the output: %s\n", errno ? strerror(errno) : "write error");
		return status ? status : 1;
	}
	return status;
}

/*
 * A closed standard descriptor is opened on /dev/null, so that no descriptor
 * the tool opens later (a TUN interface, a capture) takes its number and
 * receives what was meant for it. Returns false when standard output was
 * closed: what the command prints would be lost.
 */
static bool standard_fds_open(void)
{
	bool stdout_open = true;
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		if (fd == 1)
			stdout_open = false;
		int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (n != fd) {
			fputs("threeway: cannot open /dev/null in place of a closed standard descriptor\n", stderr);
			exit(1);
		}
	}
	return stdout_open;
}

int main(int argc, char **argv)
{
	if (!standard_fds_open()) {
		fputs("threeway: standard output is closed\n", stderr);
		return 1;
	}
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("threeway %s\n", tw_version());
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			return finish_output(commands[i].run(argc - 1, argv + 1, stdout, stderr));
	fprintf(stderr, "threeway: unknown command '%s' (see threeway --help)\n", cmd);
	return 2;
}
