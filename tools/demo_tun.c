/*
 * threeway demo over a real kernel: in a private network namespace (made
 * with unshare, so it vanishes with this process however it ends), the
 * http app runs on a TUN interface and the system's curl fetches a page
 * through Linux's own TCP. Every packet of the exchange is printed as it
 * crosses, the handshake explained, then the parameters it negotiated.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apps.h"
#include "demo.h"
#include "net.h"

#define DEMO_TUN "tw0"
#define DEMO_PORT 80
#define DEMO_TIMEOUT_US 20000000u
#define CURL_OUTPUT_MAX 8192

struct demo_tun {
	struct net net;
	struct app_server *app;
	struct tw_sock *listener;
	pid_t curl;
	int curl_out;               /* the read end of curl's standard output */
	int curl_status;            /* as waitpid gives it, once curl has exited */
	bool curl_exited, interrupted;
	char page[CURL_OUTPUT_MAX];
	size_t page_len;
	bool have_info;
	struct tw_conn_info info;   /* the server's view of the connection, at the request */
	unsigned tcp_packets;
	bool fin_explained[2];
};

/* Is `name` an executable in PATH? */
static bool in_path(const char *name)
{
	const char *path = getenv("PATH");
	char buf[4096];
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");
		if (n && n + strlen(name) + 2 < sizeof(buf)) {
			memcpy(buf, p, n);
			buf[n] = '/';
			strcpy(buf + n + 1, name);
			if (access(buf, X_OK) == 0)
				return true;
		}
		p += n + (p[n] == ':');
	}
	return false;
}

int demo_tun_available(char *why, size_t cap)
{
	if (geteuid() != 0)
		snprintf(why, cap, "it needs root to create a network namespace and a TUN interface");
	else if (access("/dev/net/tun", R_OK | W_OK) != 0)
		snprintf(why, cap, "this system has no /dev/net/tun");
	else if (!in_path("curl"))
		snprintf(why, cap, "curl is not installed");
	else
		return 1;
	return 0;
}

/* The TCP flags byte of an IPv4 or IPv6 packet carrying TCP, or -1. */
static int tcp_flags(const uint8_t *pkt, size_t len)
{
	if (len >= 20 && pkt[0] >> 4 == 4 && pkt[9] == 6) {
		size_t ihl = (size_t)(pkt[0] & 15) * 4;
		return len >= ihl + 14 ? pkt[ihl + 13] : -1;
	}
	if (len >= 54 && pkt[0] >> 4 == 6 && pkt[6] == 6)
		return pkt[53];
	return -1;
}

/* After each packet of the live trace: what the handshake's three, and each side's FIN, mean. */
static void explain(struct net *n, bool outbound, const uint8_t *pkt, size_t len, void *ctx)
{
	struct demo_tun *d = ctx;
	int flags = tcp_flags(pkt, len);
	if (flags < 0)
		return;
	if (d->tcp_packets < 3)
		fprintf(n->out, "  %s\n\n", demo_handshake_meaning[d->tcp_packets]);
	d->tcp_packets++;
	if ((flags & 0x01) && !d->fin_explained[outbound]) {
		d->fin_explained[outbound] = true;
		fprintf(n->out, "  FIN: %s has no more to send. Like a SYN, a FIN consumes one sequence\n"
				"  number, so the other side acknowledges it with seq + 1.\n\n",
			outbound ? "threeway" : "curl's side (Linux)");
	}
}

static void observe(void *ctx, const struct tw_conn_info *info)
{
	struct demo_tun *d = ctx;
	d->info = *info;
	d->have_info = true;
}

static void read_curl(struct tw_loop *l, int fd, unsigned events, void *ctx)
{
	struct demo_tun *d = ctx;
	(void)events;
	char sink[4096];
	size_t room = sizeof(d->page) - 1 - d->page_len;
	ssize_t n = read(fd, room ? d->page + d->page_len : sink, room ? room : sizeof(sink));
	if (n > 0 && room)
		d->page_len += (size_t)n;
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		tw_loop_unwatch(l, fd);
}

static void on_signal(struct net *n, int signo, void *ctx)
{
	struct demo_tun *d = ctx;
	(void)n;
	if (signo == SIGCHLD) {
		int status;
		if (d->curl > 0 && waitpid(d->curl, &status, WNOHANG) == d->curl) {
			d->curl_exited = true;
			d->curl_status = status;
		}
	} else if (signo == SIGINT || signo == SIGTERM) {
		d->interrupted = true;
		tw_loop_stop(d->net.loop);
	}
}

static int start_curl(struct demo_tun *d)
{
	int fds[2];
	pid_t parent = getpid();
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(fds[0]);
		close(fds[1]);
		return e;
	}
	if (pid == 0) {
		/* curl dies with us (even if we died before it could ask), and gets the signals the loop blocked. */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127);
		dup2(fds[1], STDOUT_FILENO);
		execlp("curl", "curl", "-sS", "--max-time", "10", "http://10.7.0.2/", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	d->curl = pid;
	d->curl_out = fds[0];
	fcntl(d->curl_out, F_SETFL, O_NONBLOCK);
	return tw_loop_watch(d->net.loop, d->curl_out, TW_POLLIN, read_curl, d);
}

static void show_results(struct demo_tun *d)
{
	FILE *out = d->net.out;
	d->page[d->page_len] = '\0';
	fprintf(out, "curl received this page (%zu bytes):\n\n%s\n", d->page_len, d->page);
	if (!d->have_info)
		return;
	const struct tw_conn_info *c = &d->info;
	fprintf(out, "Negotiated (curl's side, Linux / threeway):\n");
	fprintf(out, "  initial sequence numbers  %u / %u\n", c->irs, c->iss);
	fprintf(out, "  MSS                       threeway offered %u; it sends up to %u bytes of data\n"
		     "                            per segment%s\n", c->rcv_mss, c->snd_mss,
		c->timestamps ? " (the MSS less 12 for the timestamp option)" : "");
	fprintf(out, "  window scale (shift)      %d / %d\n", c->snd_wscale, c->rcv_wscale);
	fprintf(out, "  SACK permitted            %s\n", c->sack ? "yes" : "no");
	fprintf(out, "  timestamps                %s\n", c->timestamps ? "yes" : "no");
	fprintf(out, "  round-trip time           %.3f ms (threeway's measure)\n\n", c->srtt_us / 1000.0);
	fprintf(out, "curl closed first, so Linux holds TIME-WAIT; threeway is CLOSED. The network\n"
		     "namespace goes away with this process.\n");
}

static int open_server(struct demo_tun *d, unsigned verbose, const char *pcap)
{
	struct net_opts o = { .tun = DEMO_TUN, .n_addrs = 1, .trace = true, .verbose = verbose, .pcap = pcap };
	net_parse_prefix("10.7.0.2/24", &o.addrs[0]);
	struct tw_stack_config cfg;
	tw_stack_config_init(&cfg);
	if (net_open(&d->net, &o, &cfg))
		return 1;
	d->net.after_trace = explain;
	d->net.trace_ctx = d;
	int err = 0;
	struct tw_endpoint ep = { .addr = o.addrs[0].addr, .port = DEMO_PORT };
	d->app = app_server_new(APP_HTTP, NULL);
	d->listener = d->app ? tw_socket(d->net.st, &err) : NULL;
	if (!d->listener || tw_bind(d->listener, &ep) || tw_listen(d->listener, 16)) {
		fprintf(d->net.err, "threeway demo: cannot start the server\n");
		return 1;
	}
	app_server_set_observer(d->app, observe, d);
	app_server_listen(d->app, d->listener);
	return 0;
}

static int run_exchange(struct demo_tun *d)
{
	int e = start_curl(d);
	if (e) {
		fprintf(d->net.err, "threeway demo: cannot start curl: %s\n", strerror(-e));
		return 1;
	}
	uint64_t deadline = tw_loop_now(d->net.loop) + DEMO_TIMEOUT_US;
	while (!d->interrupted && tw_loop_now(d->net.loop) < deadline) {
		/* Short turns: curl's exit and the end of the close are checked between them. */
		e = tw_loop_run(d->net.loop, tw_loop_now(d->net.loop) + 10000);
		if (e) {
			fprintf(d->net.err, "threeway demo: the event loop failed: %s\n", strerror(-e));
			return 1;
		}
		/* Done once curl has exited and only the listener is left: the close is over. */
		struct tw_stack_stats s;
		tw_stack_stats(d->net.st, &s);
		if (d->curl_exited && s.conns <= 1)
			break;
	}
	/* What curl wrote last may still be in the pipe. */
	read_curl(d->net.loop, d->curl_out, TW_POLLIN, d);
	if (d->interrupted) {
		fprintf(d->net.err, "threeway demo: interrupted\n");
		return 130;
	}
	if (!d->curl_exited) {
		fprintf(d->net.err, "threeway demo: curl did not finish in %u s\n", DEMO_TIMEOUT_US / 1000000);
		return 1;
	}
	if (!WIFEXITED(d->curl_status) || WEXITSTATUS(d->curl_status) != 0) {
		fprintf(d->net.err, "threeway demo: curl failed (exit status %d)\n",
			WIFEXITED(d->curl_status) ? WEXITSTATUS(d->curl_status) : 128 + WTERMSIG(d->curl_status));
		return 1;
	}
	show_results(d);
	return 0;
}

int demo_tun_run(FILE *out, FILE *err, unsigned verbose, const char *pcap)
{
	struct demo_tun d;
	memset(&d, 0, sizeof(d));
	d.curl_out = -1;
	d.net = (struct net){ .cmd = "demo", .out = out, .err = err, .on_signal = on_signal, .signal_ctx = &d };
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(err, "threeway demo: cannot create a network namespace: %s\n", strerror(errno));
		return DEMO_TUN_UNAVAILABLE;
	}
	/* The interface could not be set up (the reason is on stderr): the in-memory demo instead. */
	if (open_server(&d, verbose, pcap)) {
		app_server_free(d.app);
		net_close(&d.net);
		return DEMO_TUN_UNAVAILABLE;
	}
	fprintf(out, "curl, through Linux's own TCP (10.7.0.1), fetches http://10.7.0.2/ from threeway,\n"
		     "which runs on the TUN interface " DEMO_TUN " in a private network namespace.\n"
		     "Every packet as it crosses, as tcpdump -nn prints it:\n\n");
	fflush(out);
	int rc = run_exchange(&d);
	if (d.curl > 0 && !d.curl_exited) {
		kill(d.curl, SIGKILL);
		waitpid(d.curl, NULL, 0);
	}
	if (d.curl_out >= 0)
		close(d.curl_out);
	app_server_free(d.app);
	if (d.listener)
		tw_close(d.listener);
	net_close(&d.net);
	return rc ? rc : d.net.rc;
}
