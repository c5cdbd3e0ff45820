/*
 * threeway connect: netcat over the stack. Standard input goes to the
 * connection and the connection to standard output; at the end of input the
 * sending side closes (FIN) and the rest of the peer's data is still read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "net.h"

static const char connect_usage[] =
	"usage: threeway connect --tun NAME --addr ADDR/LEN [--trace] [--pcap FILE] HOST PORT\n"
	"\n"
	"Connects to HOST PORT through the stack on a TUN interface, like netcat:\n"
	"standard input is sent, what arrives is written to standard output. At the\n"
	"end of input the connection's sending side is closed (FIN) and the peer's\n"
	"data is read to its end. Needs root (or CAP_NET_ADMIN).\n"
	"\n"
	"  --timeout S       give up connecting after S seconds (default 30)\n"
	NET_OPTIONS_HELP
	"  -h, --help        this help\n";

#define INPUT_CHUNK 65536
#define OUTPUT_CHUNK 65536

struct conn_run {
	struct net net;
	struct tw_sock *sock;
	struct tw_endpoint remote;
	bool connected, input_done, output_done, failed, finished;
	bool stdin_watched, stdout_watched;
	bool input_is_file;         /* a regular file: always readable, epoll refuses it */
	bool output_is_file;        /* ... always writable */
	char *in;                   /* read from stdin, not yet taken by the stack */
	size_t in_len, in_off;
	char *out;                  /* taken from the stack, not yet written to stdout */
	size_t out_len, out_off;
};

static int parse_connect_args(int argc, char **argv, struct net_opts *o, struct tw_endpoint *remote,
			      long *timeout_s, FILE *out, FILE *err)
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		NET_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:vh", longopts, NULL)) != -1) {
		int taken = net_take_option(o, c, optarg, "connect", err);
		if (taken < 0)
			return 2;
		if (taken)
			continue;
		if (c == 'h') {
			fputs(connect_usage, out);
			return -1;
		}
		if (c == 'o') {
			errno = 0;
			*timeout_s = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || *timeout_s < 1 || *timeout_s > 86400) {
				fprintf(err, "threeway connect: --timeout wants seconds from 1 to 86400, not '%s'\n", optarg);
				return 2;
			}
			continue;
		}
		cli_report_bad_option(err, "connect", c, argv);
		return 2;
	}
	if (argc - optind != 2) {
		fprintf(err, "threeway connect: %s (see threeway connect --help)\n",
			argc - optind < 2 ? "HOST and PORT are required" : "too many arguments");
		return 2;
	}
	int r = net_check_opts(o, "connect", err);
	if (r)
		return r;
	if (net_parse_addr(argv[optind], &remote->addr)) {
		fprintf(err, "threeway connect: '%s' is not an IPv4 or IPv6 address\n", argv[optind]);
		return 2;
	}
	errno = 0;
	long port = strtol(argv[optind + 1], &end, 10);
	if (errno || *end || end == argv[optind + 1] || port < 1 || port > 65535) {
		fprintf(err, "threeway connect: '%s' is not a port from 1 to 65535\n", argv[optind + 1]);
		return 2;
	}
	remote->port = (uint16_t)port;
	return 0;
}

static void finish(struct conn_run *r)
{
	r->finished = true;
	tw_loop_stop(r->net.loop);
}

static void on_stdin(struct tw_loop *l, int fd, unsigned events, void *ctx);

/* Starts or stops watching a standard descriptor; `watched` says which it is now. */
static void watch(struct conn_run *r, int fd, unsigned events, tw_loop_fd_fn fn, bool *watched, bool on)
{
	if (on == *watched)
		return;
	if (on)
		tw_loop_watch(r->net.loop, fd, events, fn, r);
	else
		tw_loop_unwatch(r->net.loop, fd);
	*watched = on;
}

/* Standard input is watched only while the stack has room for more of it. */
static void watch_stdin(struct conn_run *r, bool on)
{
	if (!r->input_is_file && !r->input_done)
		watch(r, STDIN_FILENO, TW_POLLIN, on_stdin, &r->stdin_watched, on);
}

/*
 * Hands buffered input to the stack, reading more as it is taken; at its
 * end, FIN. Standard input stays blocking (it may be shared with a shell),
 * so a pipe or terminal is read once per readiness event; a file any time.
 */
static void pump_input(struct conn_run *r, bool may_read)
{
	while (r->connected && !r->input_done) {
		if (r->in_off == r->in_len) {
			if (!may_read && !r->input_is_file)
				return;
			may_read = false;
			ssize_t n = read(STDIN_FILENO, r->in, INPUT_CHUNK);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n < 0)
				fprintf(r->net.err, "threeway connect: reading standard input: %s\n", strerror(errno));
			if (n <= 0) {
				watch_stdin(r, false);
				r->input_done = true;
				tw_shutdown(r->sock, TW_SHUT_WR);
				return;
			}
			r->in_len = (size_t)n;
			r->in_off = 0;
		}
		long n = tw_send(r->sock, r->in + r->in_off, r->in_len - r->in_off, 0);
		if (n <= 0) {
			/* Full: stop watching stdin until the stack has room again (a socket callback). */
			watch_stdin(r, false);
			return;
		}
		r->in_off += (size_t)n;
	}
}

static void on_stdout(struct tw_loop *l, int fd, unsigned events, void *ctx);

/* Standard output is watched only while what the peer sent waits for room in it. */
static void watch_stdout(struct conn_run *r, bool on)
{
	if (!r->output_is_file)
		watch(r, STDOUT_FILENO, TW_POLLOUT, on_stdout, &r->stdout_watched, on);
}

/*
 * Writes what the stack gave us to stdout; true when all of it is written.
 * Standard output stays blocking too, so a pipe or terminal gets at most
 * PIPE_BUF bytes per readiness event (a pipe that polls writable has room
 * for that much), and the rest waits for the next: the loop never blocks on
 * a slow reader, which instead closes the TCP window by not being read.
 */
static bool flush_stdout(struct conn_run *r)
{
	while (r->out_off < r->out_len) {
		size_t want = r->out_len - r->out_off;
		if (!r->output_is_file && want > PIPE_BUF)
			want = PIPE_BUF;
		ssize_t n = write(STDOUT_FILENO, r->out + r->out_off, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			watch_stdout(r, true);
			return false;
		}
		if (n <= 0) {
			fprintf(r->net.err, "threeway connect: writing standard output: %s\n",
				n < 0 ? strerror(errno) : "nothing written");
			r->failed = true;
			finish(r);
			return false;
		}
		r->out_off += (size_t)n;
		if (!r->output_is_file && r->out_off < r->out_len) {
			watch_stdout(r, true);
			return false;
		}
	}
	r->out_off = r->out_len = 0;
	watch_stdout(r, false);
	return true;
}

/* Moves the peer's data to stdout, taking more from the stack only once stdout has taken the last. */
static void pump_output(struct conn_run *r)
{
	while (!r->failed && flush_stdout(r) && !r->output_done) {
		long n = tw_recv(r->sock, r->out, OUTPUT_CHUNK, 0);
		if (n == -EAGAIN)
			return;
		if (n <= 0) {
			r->output_done = true;
			return;
		}
		r->out_len = (size_t)n;
	}
}

/* Done when the peer has said all it will, all of it is written, and our FIN is acknowledged. */
static void check_finished(struct conn_run *r)
{
	struct tw_conn_info ci;
	if (!r->failed && r->input_done && r->output_done && r->out_len == 0 &&
	    !tw_conn_info(r->sock, &ci) && (ci.state == TW_TIME_WAIT || ci.state == TW_CLOSED))
		finish(r);
}

static void on_sock(struct tw_sock *s, unsigned events, void *ctx)
{
	struct conn_run *r = ctx;
	char buf[64];
	if (r->failed)
		return;
	if (events & TW_POLLERR) {
		int e = tw_sock_error(s);
		fprintf(r->net.err, "threeway connect: %s port %u: %s\n",
			net_addr_str(&r->remote.addr, buf, sizeof(buf)), r->remote.port, strerror(e ? -e : EIO));
		r->failed = true;
		finish(r);
		return;
	}
	if (!r->connected && (events & TW_POLLOUT))
		r->connected = true;
	pump_output(r);
	if (!r->failed && r->connected && (events & TW_POLLOUT) && !r->input_done) {
		pump_input(r, false);
		watch_stdin(r, r->in_off == r->in_len);
	}
	check_finished(r);
}

static void on_stdout(struct tw_loop *l, int fd, unsigned events, void *ctx)
{
	struct conn_run *r = ctx;
	(void)l;
	(void)fd;
	(void)events;
	if (r->failed)
		return;
	pump_output(r);
	check_finished(r);
}

static void on_stdin(struct tw_loop *l, int fd, unsigned events, void *ctx)
{
	(void)l;
	(void)fd;
	(void)events;
	struct conn_run *r = ctx;
	if (r->failed)
		return;
	pump_input(r, true);
	watch_stdin(r, r->in_off == r->in_len);
}

static void on_signal(struct net *n, int signo, void *ctx)
{
	struct conn_run *r = ctx;
	if (signo == SIGINT || signo == SIGTERM) {
		r->failed = true;
		tw_loop_stop(n->loop);
	}
}

static int start(struct conn_run *r)
{
	int err = 0;
	char buf[64];
	r->sock = tw_socket(r->net.st, &err);
	if (!r->sock)
		return fprintf(r->net.err, "threeway connect: %s\n", strerror(-err)), 1;
	tw_set_callback(r->sock, on_sock, r);
	err = tw_connect(r->sock, &r->remote);
	if (err != -EINPROGRESS) {
		fprintf(r->net.err, "threeway connect: %s port %u: %s\n", net_addr_str(&r->remote.addr, buf, sizeof(buf)),
			r->remote.port, strerror(-err));
		return 1;
	}
	/* epoll cannot watch a regular file; such input is read whenever the connection has room. */
	int probe = tw_loop_watch(r->net.loop, STDIN_FILENO, TW_POLLIN, on_stdin, r);
	if (probe < 0)
		r->input_is_file = true;   /* EPERM: a file or /dev/null */
	else
		tw_loop_unwatch(r->net.loop, STDIN_FILENO);
	probe = tw_loop_watch(r->net.loop, STDOUT_FILENO, TW_POLLOUT, on_stdout, r);
	if (probe < 0)
		r->output_is_file = true;
	else
		tw_loop_unwatch(r->net.loop, STDOUT_FILENO);
	return 0;
}

int cmd_connect(int argc, char **argv, FILE *out, FILE *err)
{
	struct conn_run r;
	struct net_opts o;
	long timeout_s = 30;
	memset(&r, 0, sizeof(r));
	memset(&o, 0, sizeof(o));
	int rc = parse_connect_args(argc, argv, &o, &r.remote, &timeout_s, out, err);
	if (rc)
		return rc < 0 ? 0 : rc;
	r.net = (struct net){ .cmd = "connect", .out = err, .err = err, .on_signal = on_signal, .signal_ctx = &r };
	/* Standard output carries the peer's data; a trace goes to standard error. */
	struct tw_stack_config cfg;
	tw_stack_config_init(&cfg);
	r.in = malloc(INPUT_CHUNK);
	r.out = malloc(OUTPUT_CHUNK);
	if (!r.in || !r.out) {
		fprintf(err, "threeway connect: out of memory\n");
		free(r.in);
		free(r.out);
		return 1;
	}
	if (net_open(&r.net, &o, &cfg)) {
		free(r.in);
		free(r.out);
		return 1;
	}
	rc = start(&r);
	if (rc == 0) {
		uint64_t deadline = tw_loop_now(r.net.loop) + (uint64_t)timeout_s * 1000000u;
		int e = tw_loop_run(r.net.loop, deadline);
		if (!e && !r.connected && !r.failed) {
			char buf[64];
			fprintf(err, "threeway connect: %s port %u: no answer in %ld s\n",
				net_addr_str(&r.remote.addr, buf, sizeof(buf)), r.remote.port, timeout_s);
			r.failed = true;
		}
		if (!e && r.connected && !r.failed && !r.finished)
			e = tw_loop_run(r.net.loop, UINT64_MAX);
		if (e) {
			fprintf(err, "threeway connect: the event loop failed: %s\n", strerror(-e));
			r.failed = true;
		}
		rc = r.failed;
	}
	if (r.sock) {
		if (r.failed)
			tw_abort(r.sock);
		else
			tw_close(r.sock);
	}
	net_close(&r.net);
	free(r.in);
	free(r.out);
	return rc ? rc : r.net.rc;
}
