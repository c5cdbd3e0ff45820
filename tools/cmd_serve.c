/*
 * threeway serve: a server on a TUN interface. The stack answers on its
 * addresses; the kernel on the other side of the interface (and anything
 * routed through it) connects with its own TCP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "apps.h"
#include "cli.h"
#include "http.h"
#include "net.h"

static const char serve_usage[] =
	"usage: threeway serve --tun NAME --addr ADDR/LEN [--addr ADDR/LEN] --port N\n"
	"                      --app http|echo|discard|chargen [--root DIR] [--trace] [--pcap FILE]\n"
	"                      [--head-timeout SECONDS] [--max-header-bytes N] [--max-conns-per-client N]\n"
	"                      [--backlog N] [--syncookies overflow|always|off]\n"
	"\n"
	"Serves an application on the stack's addresses over a TUN interface, until\n"
	"SIGINT or SIGTERM, then closes its connections (FIN) and exits. SIGUSR1 prints\n"
	"the stack's and the server's counters. Needs root (or CAP_NET_ADMIN). With\n"
	"--trace, lines the output cannot take at once wait in a bounded queue; when it\n"
	"is full, whole packets are dropped and counted (\"N packets dropped by tracer\").\n"
	"\n"
	"  --port N          the TCP port to listen on\n"
	"  --app APP         http: GET and HEAD of a built-in page ('/', '/info') and of\n"
	"                    the files under --root; echo (RFC 862); discard (RFC 863);\n"
	"                    chargen (RFC 864)\n"
	"  --root DIR        the directory the http app serves\n"
	"  --backlog N       connections waiting to be accepted (default 128)\n"
	"  --head-timeout SECONDS\n"
	"                    http: a request head must arrive whole within this long of\n"
	"                    the accept (a later request's, of its first byte), else the\n"
	"                    connection closes, after a 408 if part of it came (default 10)\n"
	"  --max-header-bytes N\n"
	"                    http: a longer request head gets 431 and the connection\n"
	"                    closes (default 8192)\n"
	"  --max-conns-per-client N\n"
	"                    connections one address may hold open; the next is reset\n"
	"                    right after its handshake (default 256)\n"
	"  --syncookies WHEN SYN cookies: overflow (when the SYN queue is full, the\n"
	"                    default, as Linux's tcp_syncookies=1), always, or off\n"
	NET_OPTIONS_HELP
	"  -h, --help        this help\n";

/* How long, after SIGINT or SIGTERM, responses under way have to finish and peers to acknowledge our FINs. */
#define SHUTDOWN_GRACE_US 5000000u
/* At the end, how long the trace's last lines may take to be read before they are dropped. */
#define TRACE_DRAIN_MS 1000u
/* The apps' timeouts are checked this often. */
#define TICK_NS 500000000L

struct serve {
	struct net net;
	struct app_server *app;
	enum app_kind kind;
	struct tw_sock *listeners[NET_MAX_ADDRS];
	unsigned n_listeners;
	int tick_fd;
	bool stopping;
};

struct serve_opts {
	struct net_opts net;
	long port;
	int app;
	const char *root;
	long backlog;
	struct app_limits limits;
	const char *http_flag;      /* a flag given that only the http app has */
	uint8_t syncookies;   /* enum tw_syncookies */
};

static int parse_syncookies(const char *arg, uint8_t *out)
{
	static const struct { const char *name; enum tw_syncookies when; } names[] = {
		{ "overflow", TW_SYNCOOKIES_ON_OVERFLOW },
		{ "always", TW_SYNCOOKIES_ALWAYS },
		{ "off", TW_SYNCOOKIES_OFF },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(arg, names[i].name)) {
			*out = (uint8_t)names[i].when;
			return 0;
		}
	}
	return -1;
}

static int parse_number(const char *arg, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || *end || end == arg || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* --head-timeout, --max-header-bytes, --max-conns-per-client: 0, or -1 after an error line. */
static int parse_limit(int c, const char *arg, struct app_limits *l, FILE *err)
{
	static const struct {
		int c;
		const char *name, *what;
		long lo, hi;
	} limits[] = {
		{ 'o', "--head-timeout", "a number of seconds", 1, 3600 },
		{ 'm', "--max-header-bytes", "a number of bytes", HTTP_MAX_HEAD_MIN, HTTP_MAX_HEAD_MAX },
		{ 'c', "--max-conns-per-client", "a number", 1, 1000000 },
	};
	size_t i = 0;
	while (limits[i].c != c)
		i++;
	long v;
	if (parse_number(arg, limits[i].lo, limits[i].hi, &v)) {
		fprintf(err, "threeway serve: %s wants %s from %ld to %ld, not '%s'\n", limits[i].name, limits[i].what,
			limits[i].lo, limits[i].hi, arg);
		return -1;
	}
	if (c == 'o')
		l->head_timeout_us = (uint64_t)v * 1000000u;
	else if (c == 'm')
		l->max_head_bytes = (size_t)v;
	else
		l->max_conns_per_client = (unsigned)v;
	return 0;
}

static int parse_serve_args(int argc, char **argv, struct serve_opts *o, FILE *out, FILE *err)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "app", required_argument, NULL, 'a' },
		{ "root", required_argument, NULL, 'r' },
		{ "backlog", required_argument, NULL, 'b' },
		{ "head-timeout", required_argument, NULL, 'o' },
		{ "max-header-bytes", required_argument, NULL, 'm' },
		{ "max-conns-per-client", required_argument, NULL, 'c' },
		{ "syncookies", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		NET_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:vh", longopts, NULL)) != -1) {
		int taken = net_take_option(&o->net, c, optarg, "serve", err);
		if (taken < 0)
			return 2;
		if (taken)
			continue;
		switch (c) {
		case 'p':
			if (parse_number(optarg, 1, 65535, &o->port)) {
				fprintf(err, "threeway serve: --port wants a port from 1 to 65535, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'a':
			if ((o->app = app_kind_parse(optarg)) < 0) {
				fprintf(err, "threeway serve: --app wants http, echo, discard or chargen, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'r':
			o->root = optarg;
			break;
		case 'b':
			if (parse_number(optarg, 1, 65535, &o->backlog)) {
				fprintf(err, "threeway serve: --backlog wants a number from 1 to 65535, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'o':
		case 'm':
			o->http_flag = c == 'o' ? "--head-timeout" : "--max-header-bytes";
			/* fall through */
		case 'c':
			if (parse_limit(c, optarg, &o->limits, err))
				return 2;
			break;
		case 'k':
			if (parse_syncookies(optarg, &o->syncookies)) {
				fprintf(err, "threeway serve: --syncookies wants overflow, always or off, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(serve_usage, out);
			return -1;
		default:
			cli_report_bad_option(err, "serve", c, argv);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(err, "threeway serve: unexpected argument '%s' (see threeway serve --help)\n", argv[optind]);
		return 2;
	}
	int r = net_check_opts(&o->net, "serve", err);
	if (r)
		return r;
	if (!o->port || o->app < 0) {
		fprintf(err, "threeway serve: %s is required (see threeway serve --help)\n",
			!o->port ? "--port N" : "--app APP");
		return 2;
	}
	struct stat sb;
	if (o->root && (stat(o->root, &sb) || !S_ISDIR(sb.st_mode))) {
		fprintf(err, "threeway serve: --root %s: not a directory\n", o->root);
		return 2;
	}
	if ((o->root || o->http_flag) && o->app != APP_HTTP) {
		fprintf(err, "threeway serve: %s is for --app http\n", o->root ? "--root" : o->http_flag);
		return 2;
	}
	return 0;
}

/* What the server refused, in one line. */
static void print_app_stats(const struct serve *s, FILE *f)
{
	struct app_stats a;
	app_server_stats(s->app, &a);
	fprintf(f, "threeway serve: ");
	if (s->kind == APP_HTTP)
		fprintf(f, "%llu request heads timed out, %llu too large (431), %llu other bad requests; ",
			(unsigned long long)a.head_timeouts, (unsigned long long)a.heads_too_large,
			(unsigned long long)a.bad_requests);
	fprintf(f, "%llu connections reset over the per-client limit\n", (unsigned long long)a.refused_per_client);
	fflush(f);
}

/* The server's line, then the stack's (the last, as it was before the server had one), then the tracer's. */
static void print_stats(struct serve *s, unsigned listeners)
{
	print_app_stats(s, s->net.err);
	net_print_stats(&s->net, listeners, s->net.err);
	net_print_trace_drops(&s->net, s->net.err);
}

static void on_signal(struct net *n, int signo, void *ctx)
{
	struct serve *s = ctx;
	if (signo == SIGUSR1) {
		print_stats(s, s->n_listeners);
		return;
	}
	if (signo == SIGINT || signo == SIGTERM) {
		s->stopping = true;
		tw_loop_stop(n->loop);
	}
}

static uint64_t loop_clock(void *ctx) { return tw_loop_now(ctx); }

static void on_tick(struct tw_loop *l, int fd, unsigned events, void *ctx)
{
	struct serve *s = ctx;
	uint64_t expirations;
	(void)events;
	if (read(fd, &expirations, sizeof(expirations)) > 0)
		app_server_tick(s->app, tw_loop_now(l));
}

static int start_ticks(struct serve *s)
{
	struct itimerspec every = { .it_interval = { 0, TICK_NS }, .it_value = { 0, TICK_NS } };
	s->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->tick_fd < 0 || timerfd_settime(s->tick_fd, 0, &every, NULL) < 0 ||
	    tw_loop_watch(s->net.loop, s->tick_fd, TW_POLLIN, on_tick, s) < 0) {
		fprintf(s->net.err, "threeway serve: cannot start a timer: %s\n", strerror(errno));
		return 1;
	}
	app_server_tick(s->app, tw_loop_now(s->net.loop));
	return 0;
}

static int open_listeners(struct serve *s, const struct serve_opts *o)
{
	char buf[64];
	for (size_t i = 0; i < o->net.n_addrs; i++) {
		int err = 0;
		struct tw_endpoint ep = { .addr = o->net.addrs[i].addr, .port = (uint16_t)o->port };
		struct tw_sock *l = tw_socket(s->net.st, &err);
		if (!l || (err = tw_bind(l, &ep)) != 0 || (err = tw_listen(l, (int)o->backlog)) != 0) {
			fprintf(s->net.err, "threeway serve: cannot listen on %s port %ld: %s\n",
				net_addr_str(&ep.addr, buf, sizeof(buf)), o->port, strerror(-err));
			if (l)
				tw_close(l);
			return 1;
		}
		s->listeners[s->n_listeners++] = l;
		app_server_listen(s->app, l);
	}
	return 0;
}

static void announce(struct serve *s, const struct serve_opts *o)
{
	char buf[64];
	fprintf(s->net.err, "threeway serve: %s on", app_kind_name((enum app_kind)o->app));
	for (size_t i = 0; i < o->net.n_addrs; i++)
		fprintf(s->net.err, "%s %s port %ld", i ? "," : "", net_addr_str(&o->net.addrs[i].addr, buf, sizeof(buf)),
			o->port);
	fprintf(s->net.err, " (TUN interface %s, MTU %u)\n", tw_tun_name(s->net.tun), tw_tun_mtu(s->net.tun));
	fflush(s->net.err);
}

/* Stop taking connections, FIN the open ones, and give the peers a moment to answer. */
static void shut_down(struct serve *s)
{
	for (unsigned i = 0; i < s->n_listeners; i++)
		tw_close(s->listeners[i]);
	s->n_listeners = 0;
	app_server_shutdown(s->app);
	uint64_t deadline = tw_loop_now(s->net.loop) + SHUTDOWN_GRACE_US;
	while (!app_server_drained(s->app) && tw_loop_now(s->net.loop) < deadline) {
		uint64_t tick = tw_loop_now(s->net.loop) + 20000;
		if (tw_loop_run(s->net.loop, tick < deadline ? tick : deadline))
			break;
	}
}

int cmd_serve(int argc, char **argv, FILE *out, FILE *err)
{
	struct serve_opts o = { .app = -1, .backlog = 128, .syncookies = TW_SYNCOOKIES_ON_OVERFLOW };
	app_limits_init(&o.limits);
	int rc = parse_serve_args(argc, argv, &o, out, err);
	if (rc)
		return rc < 0 ? 0 : rc;

	struct serve s;
	memset(&s, 0, sizeof(s));
	s.tick_fd = -1;
	s.net = (struct net){ .cmd = "serve", .out = out, .err = err, .on_signal = on_signal, .signal_ctx = &s,
			    .trace_queue = true };
	struct tw_stack_config cfg;
	tw_stack_config_init(&cfg);
	cfg.syncookies = o.syncookies;
	if (net_open(&s.net, &o.net, &cfg))
		return 1;
	if (!(s.app = app_server_new((enum app_kind)o.app, o.root))) {
		fprintf(err, "threeway serve: out of memory\n");
		net_close(&s.net);
		return 1;
	}
	s.kind = (enum app_kind)o.app;
	app_server_set_limits(s.app, &o.limits);
	app_server_set_clock(s.app, loop_clock, s.net.loop);
	rc = start_ticks(&s);
	if (rc == 0)
		rc = open_listeners(&s, &o);
	if (rc == 0) {
		announce(&s, &o);
		int r = tw_loop_run(s.net.loop, UINT64_MAX);
		if (r) {
			fprintf(err, "threeway serve: the event loop failed: %s\n", strerror(-r));
			rc = 1;
		}
		shut_down(&s);
		net_trace_drain(&s.net, TRACE_DRAIN_MS);
		print_stats(&s, 0);
	}
	app_server_free(s.app);
	net_close(&s.net);
	if (s.tick_fd >= 0)
		close(s.tick_fd);
	return rc ? rc : s.net.rc;
}
