/*
 * Connection churn: connections opened and closed per second, on one
 * thread, between two threeway stacks on the in-memory link (no impairment,
 * zero delay), and the same workload against the Linux kernel over
 * 127.0.0.1, measured in the same run, with 1, 64 and 1,024 in flight.
 *
 * Each connection, for both: the client connects, the server accepts and
 * closes first (HTTP/1.0 style), the client reads end of stream and closes.
 * The server holds TIME-WAIT (60 s, the default on both sides), so both
 * servers carry a full table of TIME-WAIT entries once every client port has
 * been used, and from then on new SYNs reopen 4-tuples in TIME-WAIT.
 *
 * With zero delay no packet moves the pipe's virtual clock, so the benchmark
 * sets it: to the wall clock, so the stacks see time pass as the kernel does
 * (ISNs, timestamps, TIME-WAIT), and it polls both stacks at every new
 * millisecond tick, as a host's event loop would (tw_pipe_run itself polls
 * only when no packet is due, which with an application that keeps traffic
 * flowing is never). Were a stack to wait on a timer, the pipe would jump
 * the clock ahead of the wall; that is counted and reported. --check uses a
 * clock of its own instead, 1 us per connection opened, so a host that
 * stalls cannot make a timer fire.
 *
 * usage: bench_handshake [--check]
 *   --check: a few hundred connections at each level, threeway and (when
 *   loopback works) Linux; verifies that every connection was established
 *   on both sides and closed, that a SYN reopens a 4-tuple in TIME-WAIT, and
 *   that the stacks' connection counts return to 0 after TIME-WAIT. Prints
 *   no rates; exit 0 on success.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "tcp/tcp.h"

#define MAX_INFLIGHT 1024u
#define SERVER_PORT 80
#define REPEATS 3
/* Per measured run: about a second for each side. */
#define TW_BENCH_CONNS 500000u
#define LX_BENCH_CONNS 50000u
#define LEVEL_WARMUP 2000u      /* before each level's runs */
/* More than the 28,232 client ports: afterwards every SYN meets a TIME-WAIT. */
#define FILL_CONNS 30000u
#define CHECK_CONNS 200u
#define WATCHDOG_S 120          /* no run takes more than a few seconds */
#define STR_(x) #x
#define STR(x) STR_(x)

static const uint32_t levels[] = { 1, 64, MAX_INFLIGHT };
#define N_LEVELS (sizeof(levels) / sizeof(levels[0]))

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static double mono_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A run that never ends is a hang in a stack: say so rather than wait forever. */
static void on_watchdog(int sig)
{
	static const char msg[] = "bench_handshake: a run did not finish within " STR(WATCHDOG_S) " s: hung\n";
	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

static void watchdog(bool on)
{
	alarm(on ? WATCHDOG_S : 0);
}

static void fail(const char *who, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "bench_handshake: %s: ", who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ======================================== threeway (twb_: this benchmark's side) */

struct twb_slot {
	struct tw_sock *s;          /* NULL: free */
	struct twb_world *w;
	bool established;           /* the client saw its handshake complete */
	bool ready;                 /* in the ready list */
};

struct twb_world {
	struct tw_stack *client, *server;
	struct tw_pipe *pipe;
	struct tw_sock *listener;
	struct tw_endpoint server_ep;
	bool check;                 /* verify each connection's states; a clock of its own */
	bool listener_ready;

	uint64_t wall0, virt0;      /* virtual time = virt0 + (wall - wall0), or + opens in --check */
	uint64_t polled_tick;       /* the millisecond at which both stacks were last polled */
	uint64_t clock_lead_us;     /* the most the virtual clock ran ahead of its source */
	uint64_t warnings;          /* runs whose counters showed something unexpected */

	struct twb_slot slots[MAX_INFLIGHT];
	uint32_t ready[MAX_INFLIGHT];
	uint32_t n_ready;

	uint64_t total;             /* connections over the world's life */
	uint64_t total_opened;      /* connections opened over the world's life: --check's clock */

	/* The current run. */
	uint32_t inflight;
	uint64_t to_open, opened, accepted, established, closed, failures;
};

/* Where the pipe's clock should be now: the wall clock, or in --check 1 us per connection opened. */
static uint64_t twb_clock(const struct twb_world *w)
{
	if (w->check)
		return w->virt0 + w->total_opened;
	return w->virt0 + (mono_us() - w->wall0);
}

static void client_cb(struct tw_sock *s, unsigned events, void *ctx)
{
	struct twb_slot *sl = ctx;
	(void)s;
	(void)events;
	if (!sl->ready) {
		sl->ready = true;
		sl->w->ready[sl->w->n_ready++] = (uint32_t)(sl - sl->w->slots);
	}
}

static void listener_cb(struct tw_sock *s, unsigned events, void *ctx)
{
	struct twb_world *w = ctx;
	(void)s;
	if (events & TW_POLLIN)
		w->listener_ready = true;
}

static void twb_failure(struct twb_world *w, const char *fmt, ...)
{
	va_list ap;
	w->failures++;
	if (w->failures > 5)
		return;
	fprintf(stderr, "bench_handshake: threeway, %u in flight, connection %llu: ", w->inflight,
		(unsigned long long)w->closed);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Starts a connection in a free slot, at the present time. */
static void twb_open(struct twb_world *w, struct twb_slot *sl)
{
	/* The clock moves; at each new millisecond both stacks run their timers, as in a host's loop. */
	uint64_t now = twb_clock(w);
	uint64_t virt = tw_pipe_now(w->pipe);
	if (virt > now && virt - now > w->clock_lead_us)
		w->clock_lead_us = virt - now;
	tw_pipe_set_now(w->pipe, now);
	now = tw_pipe_now(w->pipe);
	if (now / 1000 != w->polled_tick) {
		w->polled_tick = now / 1000;
		tw_poll(w->client, now);
		tw_poll(w->server, now);
	}

	int err = 0;
	struct tw_sock *s = tw_socket(w->client, &err);
	if (!s) {
		twb_failure(w, "tw_socket: %s", strerror(-err));
		return;
	}
	sl->s = s;
	sl->established = false;
	tw_set_callback(s, client_cb, sl);
	w->opened++;
	w->total_opened++;
	int r = tw_connect(s, &w->server_ep);
	if (r != -EINPROGRESS) {
		twb_failure(w, "tw_connect: %s", strerror(-r));
		tw_close(s);
		sl->s = NULL;
	}
}

static bool twb_state_is(const struct tw_sock *s, enum tw_state a, enum tw_state b)
{
	struct tw_conn_info ci;
	return tw_conn_info(s, &ci) == 0 && (ci.state == a || ci.state == b);
}

/* The client's side of a connection whose readiness changed. */
static void twb_client_event(struct twb_world *w, struct twb_slot *sl)
{
	struct tw_sock *s = sl->s;
	if (!s)
		return;
	unsigned ev = tw_events(s);
	if (ev & TW_POLLERR) {
		twb_failure(w, "client error %s", strerror(-tw_sock_error(s)));
		tw_close(s);
		sl->s = NULL;
		return;
	}
	if (!sl->established && (ev & TW_POLLOUT)) {
		/* The FIN may have come with it: CLOSE-WAIT is past ESTABLISHED. */
		if (w->check && !twb_state_is(s, TW_ESTABLISHED, TW_CLOSE_WAIT))
			twb_failure(w, "client writable but not ESTABLISHED");
		sl->established = true;
		w->established++;
	}
	if (!(ev & (TW_POLLIN | TW_POLLRDHUP | TW_POLLHUP)))
		return;
	char buf[16];
	long r = tw_recv(s, buf, sizeof(buf), 0);
	if (r == -EAGAIN)
		return;
	if (r != 0 || !sl->established)
		twb_failure(w, "client read %ld, %s", r, sl->established ? "established" : "never established");
	/* End of stream: the server closed first; close ours. */
	tw_close(s);
	sl->s = NULL;
	w->closed++;
}

static void twb_accept_all(struct twb_world *w)
{
	int err = 0;
	struct tw_sock *s;
	w->listener_ready = false;
	while ((s = tw_accept(w->listener, NULL, &err)) != NULL) {
		if (w->check && !twb_state_is(s, TW_ESTABLISHED, TW_ESTABLISHED))
			twb_failure(w, "accepted a connection that is not ESTABLISHED");
		w->accepted++;
		tw_close(s);   /* HTTP/1.0: the server closes first */
	}
	if (err != -EAGAIN)
		twb_failure(w, "tw_accept: %s", strerror(-err));
}

/* The applications, run by tw_pipe_run after every event: done when every connection is gone. */
static bool twb_step(void *ctx)
{
	struct twb_world *w = ctx;
	if (w->listener_ready)
		twb_accept_all(w);
	while (w->n_ready) {
		struct twb_slot *sl = &w->slots[w->ready[--w->n_ready]];
		sl->ready = false;
		twb_client_event(w, sl);
		if (!sl->s && w->opened < w->to_open && !w->failures)
			twb_open(w, sl);
	}
	if (w->failures)
		return true;
	if (w->closed < w->to_open)
		return false;
	/* Every client has closed; done once their last ACKs are in (LAST-ACK to CLOSED). */
	struct tw_stack_stats cs;
	tw_stack_stats(w->client, &cs);
	return cs.conns == 0;
}

static void twb_world_free(struct twb_world *w)
{
	if (!w)
		return;
	tw_pipe_free(w->pipe);
	tw_stack_free(w->client);
	tw_stack_free(w->server);
	free(w);
}

static void twb_addr4(struct tw_addr *a, uint8_t last)
{
	memset(a, 0, sizeof(*a));
	a->family = TW_AF_INET;
	a->bytes[0] = 192;
	a->bytes[1] = 0;
	a->bytes[2] = 2;
	a->bytes[3] = last;
}

static struct tw_stack *twb_make_stack(uint8_t last)
{
	struct tw_stack_config cfg;
	tw_stack_config_init(&cfg);   /* Linux's defaults: 60 s TIME-WAIT, timestamps, SACK */
	cfg.n_addrs = 1;
	twb_addr4(&cfg.addrs[0], last);
	cfg.secret_fixed = true;
	for (int i = 0; i < 16; i++)
		cfg.secret[i] = (uint8_t)(i * 29 + last);
	int err = 0;
	struct tw_stack *st = tw_stack_new(&cfg, &err);
	if (!st)
		fail("threeway", "tw_stack_new: %s", strerror(-err));
	return st;
}

static struct twb_world *twb_world_new(bool check)
{
	struct twb_world *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->check = check;
	for (uint32_t i = 0; i < MAX_INFLIGHT; i++)
		w->slots[i].w = w;
	w->client = twb_make_stack(1);
	w->server = twb_make_stack(2);
	struct tw_pipe_config pc;
	memset(&pc, 0, sizeof(pc));   /* no impairment, zero delay */
	pc.seed = 1;
	if (w->client && w->server)
		w->pipe = tw_pipe_new(&pc, w->client, w->server);
	if (!w->pipe) {
		twb_world_free(w);
		return NULL;
	}
	w->wall0 = mono_us();
	w->virt0 = 1000000;   /* not 0: a zero time hides bugs */
	tw_pipe_set_now(w->pipe, w->virt0);

	int err = 0;
	w->listener = tw_socket(w->server, &err);
	twb_addr4(&w->server_ep.addr, 2);
	w->server_ep.port = SERVER_PORT;
	if (!w->listener || tw_bind(w->listener, &w->server_ep) || tw_listen(w->listener, 4096)) {
		fail("threeway", "cannot listen on port %d", SERVER_PORT);
		twb_world_free(w);
		return NULL;
	}
	tw_set_callback(w->listener, listener_cb, w);
	return w;
}

/* What one run did to a stack's counters. */
struct twb_delta {
	struct tw_stack_stats c0, s0, c1, s1;
};

static uint64_t drops_of(const struct tw_stack_stats *a, const struct tw_stack_stats *b)
{
	uint64_t n = 0;
	for (int i = 0; i < TW_DROP_COUNT; i++)
		n += b->drops[i] - a->drops[i];
	return n;
}

/*
 * The counters must say what the events said: n connections opened and
 * established on each side, none reset, timed out or retransmitted, no
 * packet dropped. A failure in --check; in a timed run, where a host that
 * stalls can make a timer fire before a packet already sent is read, a
 * warning printed with the counts.
 */
static void twb_counter_trouble(struct twb_world *w, const char *fmt, ...)
{
	va_list ap;
	if (w->check) {
		char msg[256];
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		twb_failure(w, "%s", msg);
		return;
	}
	w->warnings++;
	fprintf(stderr, "bench_handshake: warning: threeway, %u in flight: ", w->inflight);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void twb_verify_counters(struct twb_world *w, const struct twb_delta *d, uint64_t n)
{
	const struct tw_stack_stats *c0 = &d->c0, *c1 = &d->c1, *s0 = &d->s0, *s1 = &d->s1;
	if (c1->active_opens - c0->active_opens != n || s1->passive_opens - s0->passive_opens != n)
		twb_counter_trouble(w, "opens: %llu active, %llu passive, for %llu connections",
				    (unsigned long long)(c1->active_opens - c0->active_opens),
				    (unsigned long long)(s1->passive_opens - s0->passive_opens), (unsigned long long)n);
	if (c1->conns_established - c0->conns_established != n || s1->conns_established - s0->conns_established != n)
		twb_counter_trouble(w, "ESTABLISHED reached %llu times by the client, %llu by the server, for %llu connections",
				    (unsigned long long)(c1->conns_established - c0->conns_established),
				    (unsigned long long)(s1->conns_established - s0->conns_established), (unsigned long long)n);
	uint64_t resets = c1->conns_reset - c0->conns_reset + s1->conns_reset - s0->conns_reset;
	uint64_t timeouts = c1->conns_timed_out - c0->conns_timed_out + s1->conns_timed_out - s0->conns_timed_out;
	uint64_t retrans = c1->retrans_segs - c0->retrans_segs + s1->retrans_segs - s0->retrans_segs;
	uint64_t drops = drops_of(c0, c1) + drops_of(s0, s1);
	uint64_t rsts = c1->out_rsts - c0->out_rsts + s1->out_rsts - s0->out_rsts;
	if (resets || timeouts || retrans || drops || rsts)
		twb_counter_trouble(w, "%llu resets, %llu timeouts, %llu retransmissions, %llu drops, %llu RSTs sent",
				    (unsigned long long)resets, (unsigned long long)timeouts, (unsigned long long)retrans,
				    (unsigned long long)drops, (unsigned long long)rsts);
	if (w->accepted != n || w->established != n || w->closed != n)
		twb_failure(w, "%llu accepted, %llu established, %llu closed, for %llu connections",
			    (unsigned long long)w->accepted, (unsigned long long)w->established,
			    (unsigned long long)w->closed, (unsigned long long)n);
}

struct run_result {
	double sec;                 /* wall time of the run; < 0 on failure */
	double segs_per_conn;       /* segments both sides sent, per connection */
};

/* Opens and closes `n` connections, `inflight` at a time. */
static struct run_result twb_run(struct twb_world *w, uint32_t inflight, uint64_t n)
{
	struct run_result res = { -1, 0 };
	struct twb_delta d;

	watchdog(true);
	/* Catch up with the time that passed since the last run (timers due meanwhile). */
	tw_pipe_run(w->pipe, twb_clock(w), NULL, NULL);
	w->polled_tick = tw_pipe_now(w->pipe) / 1000;
	w->inflight = inflight;
	w->to_open = n;
	w->opened = w->accepted = w->established = w->closed = w->failures = 0;
	w->n_ready = 0;
	tw_stack_stats(w->client, &d.c0);
	tw_stack_stats(w->server, &d.s0);

	double t0 = mono_sec();
	for (uint32_t i = 0; i < inflight && w->opened < n; i++)
		twb_open(w, &w->slots[i]);
	/* A stall shows as the virtual clock running far ahead: give up after 5 virtual minutes. */
	bool done = tw_pipe_run(w->pipe, twb_clock(w) + 300000000ull, twb_step, w);
	double t1 = mono_sec();
	watchdog(false);

	tw_stack_stats(w->client, &d.c1);
	tw_stack_stats(w->server, &d.s1);
	if (!done)
		twb_failure(w, "stalled: %llu opened, %llu accepted, %llu established, %llu closed",
			    (unsigned long long)w->opened, (unsigned long long)w->accepted,
			    (unsigned long long)w->established, (unsigned long long)w->closed);
	twb_verify_counters(w, &d, n);
	if (w->failures)
		return res;
	w->total += n;
	res.sec = t1 - t0;
	res.segs_per_conn = (double)(d.c1.out_segs - d.c0.out_segs + d.s1.out_segs - d.s0.out_segs) / (double)n;
	return res;
}

/* TIME-WAIT entries on the server: every connection it holds but the listener. */
static uint32_t twb_time_wait(const struct twb_world *w)
{
	struct tw_stack_stats ss;
	tw_stack_stats(w->server, &ss);
	return ss.conns ? ss.conns - 1 : 0;
}

/*
 * After 2 MSL of virtual time every TIME-WAIT entry is gone: the client
 * holds nothing, the server its listener alone, and then nothing.
 */
static bool twb_drain(struct twb_world *w)
{
	watchdog(true);
	tw_pipe_run(w->pipe, tw_pipe_now(w->pipe) + 61000000ull, NULL, NULL);
	watchdog(false);
	struct tw_stack_stats cs, ss;
	tw_stack_stats(w->client, &cs);
	tw_stack_stats(w->server, &ss);
	bool ok = cs.conns == 0 && ss.conns == 1;
	tw_close(w->listener);
	w->listener = NULL;
	tw_stack_stats(w->server, &ss);
	if (!ok || ss.conns != 0) {
		fail("threeway", "after TIME-WAIT the client holds %u connections, the server %u (0 expected)",
		     cs.conns, ss.conns);
		return false;
	}
	return true;
}

/* =================================================================== Linux */

#define LX_LISTENER UINT32_MAX

struct lx_slot {
	int fd;                     /* -1: free */
	bool established;
};

struct lx_world {
	int ep, lfd;
	struct sockaddr_in addr;
	bool check;
	struct lx_slot slots[MAX_INFLIGHT];
	struct epoll_event events[MAX_INFLIGHT + 1];

	uint32_t inflight;
	uint64_t to_open, opened, accepted, established, closed, failures;
};

static void lx_failure(struct lx_world *w, const char *fmt, ...)
{
	va_list ap;
	w->failures++;
	if (w->failures > 5)
		return;
	fprintf(stderr, "bench_handshake: Linux, %u in flight, connection %llu: ", w->inflight,
		(unsigned long long)w->closed);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int tcp_state_of(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -1;
	return ti.tcpi_state;
}

static void lx_open(struct lx_world *w, uint32_t i)
{
	struct lx_slot *sl = &w->slots[i];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		lx_failure(w, "socket: %s", strerror(errno));
		return;
	}
	w->opened++;
	if (connect(fd, (const struct sockaddr *)&w->addr, sizeof(w->addr)) < 0 && errno != EINPROGRESS) {
		lx_failure(w, "connect: %s", strerror(errno));
		close(fd);
		return;
	}
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u32 = i };
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		lx_failure(w, "epoll_ctl: %s", strerror(errno));
		close(fd);
		return;
	}
	sl->fd = fd;
	sl->established = false;
}

static void lx_accept_all(struct lx_world *w)
{
	for (;;) {
		int fd = accept(w->lfd, NULL, NULL);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				lx_failure(w, "accept: %s", strerror(errno));
			return;
		}
		if (w->check && tcp_state_of(fd) != TCP_ESTABLISHED)
			lx_failure(w, "accepted a connection in state %d, not ESTABLISHED", tcp_state_of(fd));
		w->accepted++;
		close(fd);   /* HTTP/1.0: the server closes first */
	}
}

static void lx_client_event(struct lx_world *w, uint32_t i, uint32_t ev)
{
	struct lx_slot *sl = &w->slots[i];
	if (sl->fd < 0)
		return;
	if (!sl->established && (ev & EPOLLOUT) && !(ev & EPOLLERR)) {
		if (w->check) {
			int err = 0;
			socklen_t len = sizeof(err);
			int st = tcp_state_of(sl->fd);
			if (getsockopt(sl->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err ||
			    (st != TCP_ESTABLISHED && st != TCP_CLOSE_WAIT))
				lx_failure(w, "client writable, error %d, state %d", err, st);
		}
		sl->established = true;
		w->established++;
	}
	if (!(ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	char b;
	ssize_t r = read(sl->fd, &b, 1);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (r != 0 || !sl->established)
		lx_failure(w, "client read %zd (%s), %s", r, r < 0 ? strerror(errno) : "",
			   sl->established ? "established" : "never established");
	close(sl->fd);   /* end of stream: the server closed first; close ours */
	sl->fd = -1;
	w->closed++;
	if (w->opened < w->to_open && !w->failures)
		lx_open(w, i);
}

static struct run_result lx_run(struct lx_world *w, uint32_t inflight, uint64_t n)
{
	struct run_result res = { -1, 6 };

	w->inflight = inflight;
	w->to_open = n;
	w->opened = w->accepted = w->established = w->closed = w->failures = 0;
	watchdog(true);
	double t0 = mono_sec();
	for (uint32_t i = 0; i < inflight && w->opened < n; i++)
		lx_open(w, i);
	while (w->closed < w->opened && !w->failures) {
		int k = epoll_wait(w->ep, w->events, (int)(inflight + 1), 5000);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			lx_failure(w, k < 0 ? "epoll_wait: %s" : "stalled%s", k < 0 ? strerror(errno) : "");
			break;
		}
		for (int j = 0; j < k; j++) {
			if (w->events[j].data.u32 == LX_LISTENER)
				lx_accept_all(w);
			else
				lx_client_event(w, w->events[j].data.u32, w->events[j].events);
		}
	}
	double t1 = mono_sec();
	watchdog(false);
	/* Whatever a failure left open. */
	for (uint32_t i = 0; i < inflight; i++) {
		if (w->slots[i].fd >= 0) {
			close(w->slots[i].fd);
			w->slots[i].fd = -1;
		}
	}
	if (!w->failures && (w->accepted != n || w->established != n || w->closed != n))
		lx_failure(w, "%llu accepted, %llu established, %llu closed, for %llu connections",
			   (unsigned long long)w->accepted, (unsigned long long)w->established,
			   (unsigned long long)w->closed, (unsigned long long)n);
	if (!w->failures)
		res.sec = t1 - t0;
	return res;
}

static void lx_world_free(struct lx_world *w)
{
	if (!w)
		return;
	if (w->lfd >= 0)
		close(w->lfd);
	if (w->ep >= 0)
		close(w->ep);
	free(w);
}

/* A listener on 127.0.0.1 and an epoll set, or NULL with the reason in `why`. */
static struct lx_world *lx_world_new(bool check, char *why, size_t why_len)
{
	struct lx_world *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(why, why_len, "no memory");
		return NULL;
	}
	w->check = check;
	w->ep = w->lfd = -1;
	for (uint32_t i = 0; i < MAX_INFLIGHT; i++)
		w->slots[i].fd = -1;

	/* Room for every client and its accepted peer. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * MAX_INFLIGHT + 64) {
		rl.rlim_cur = rl.rlim_max < 2 * MAX_INFLIGHT + 64 ? rl.rlim_max : 2 * MAX_INFLIGHT + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < 2 * MAX_INFLIGHT + 64) {
			snprintf(why, why_len, "only %llu file descriptors", (unsigned long long)rl.rlim_cur);
			lx_world_free(w);
			return NULL;
		}
	}
	w->ep = epoll_create1(0);
	w->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (w->ep < 0 || w->lfd < 0) {
		snprintf(why, why_len, "socket: %s", strerror(errno));
		lx_world_free(w);
		return NULL;
	}
	int one = 1;
	setsockopt(w->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	w->addr.sin_family = AF_INET;
	w->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* A port below the ephemeral range, so it takes none of the clients' ports. */
	int e = -1;
	for (int p = 28080; p < 28180 && e < 0; p++) {
		w->addr.sin_port = htons((uint16_t)p);
		e = bind(w->lfd, (const struct sockaddr *)&w->addr, sizeof(w->addr));
	}
	if (e < 0 || listen(w->lfd, 4096) < 0) {
		snprintf(why, why_len, "bind/listen on 127.0.0.1: %s", strerror(errno));
		lx_world_free(w);
		return NULL;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = LX_LISTENER };
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->lfd, &ev) < 0) {
		snprintf(why, why_len, "epoll_ctl: %s", strerror(errno));
		lx_world_free(w);
		return NULL;
	}
	/* One connection proves loopback works before anything is timed. */
	struct run_result r = lx_run(w, 1, 1);
	if (r.sec < 0) {
		snprintf(why, why_len, "a first connection over loopback failed");
		lx_world_free(w);
		return NULL;
	}
	return w;
}

/* The kernel's TIME-WAIT count for this network namespace (/proc/net/sockstat), -1 if unknown. */
static long lx_time_wait(void)
{
	FILE *f = fopen("/proc/net/sockstat", "r");
	if (!f)
		return -1;
	char line[256];
	long tw = -1;
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, " tw ");
		if (!strncmp(line, "TCP:", 4) && p)
			tw = strtol(p + 4, NULL, 10);
	}
	fclose(f);
	return tw;
}

/* ================================================================== driver */

/* The best (shortest) of REPEATS runs of n connections, after a warm-up; rate per second, or -1. */
static double best_rate_twb(struct twb_world *w, uint32_t inflight, uint64_t n, double *segs)
{
	if (twb_run(w, inflight, LEVEL_WARMUP).sec < 0)
		return -1;
	double best = 0;
	for (int i = 0; i < REPEATS; i++) {
		struct run_result r = twb_run(w, inflight, n);
		if (r.sec < 0)
			return -1;
		if (best == 0 || r.sec < best)
			best = r.sec;
		*segs = r.segs_per_conn;
	}
	return (double)n / best;
}

static double best_rate_lx(struct lx_world *w, uint32_t inflight, uint64_t n)
{
	if (lx_run(w, inflight, LEVEL_WARMUP).sec < 0)
		return -1;
	double best = 0;
	for (int i = 0; i < REPEATS; i++) {
		struct run_result r = lx_run(w, inflight, n);
		if (r.sec < 0)
			return -1;
		if (best == 0 || r.sec < best)
			best = r.sec;
	}
	return (double)n / best;
}

static int check(void)
{
	struct twb_world *w = twb_world_new(true);
	if (!w)
		return 1;
	for (size_t i = 0; i < N_LEVELS; i++) {
		if (twb_run(w, levels[i], CHECK_CONNS).sec < 0) {
			twb_world_free(w);
			return 1;
		}
		printf("bench_handshake: threeway, %4u in flight: %u connections established on both sides and closed\n",
		       levels[i], CHECK_CONNS);
	}
	/* Past the last client port, each SYN meets its 4-tuple in TIME-WAIT and must reopen it. */
	if (twb_run(w, 64, FILL_CONNS).sec < 0) {
		twb_world_free(w);
		return 1;
	}
	/*
	 * Within 2 MSL every connection leaves a TIME-WAIT entry on the server,
	 * unless its 4-tuple was reopened by a later SYN: with more connections
	 * than client ports, the difference is how many SYNs reopened one.
	 */
	uint64_t held = twb_time_wait(w);
	if (held >= w->total) {
		fail("threeway", "%llu connections left %llu TIME-WAIT entries: no SYN reopened a 4-tuple",
		     (unsigned long long)w->total, (unsigned long long)held);
		twb_world_free(w);
		return 1;
	}
	printf("bench_handshake: threeway, %llu connections left %llu TIME-WAIT entries: %llu SYNs reopened a 4-tuple in TIME-WAIT\n",
	       (unsigned long long)w->total, (unsigned long long)held, (unsigned long long)(w->total - held));
	if (w->clock_lead_us > 0) {
		fail("threeway", "a stack waited on a timer: the virtual clock ran %llu us ahead of its source",
		     (unsigned long long)w->clock_lead_us);
		twb_world_free(w);
		return 1;
	}
	bool drained = twb_drain(w);
	twb_world_free(w);
	if (!drained)
		return 1;
	printf("bench_handshake: threeway, after TIME-WAIT both stacks hold 0 connections\n");

	char why[160];
	struct lx_world *lx = lx_world_new(true, why, sizeof(why));
	if (!lx) {
		printf("bench_handshake: Linux loopback unavailable (%s): not checked\n", why);
		return 0;
	}
	for (size_t i = 0; i < N_LEVELS; i++) {
		if (lx_run(lx, levels[i], CHECK_CONNS).sec < 0) {
			lx_world_free(lx);
			return 1;
		}
		printf("bench_handshake: Linux,    %4u in flight: %u connections established on both sides and closed\n",
		       levels[i], CHECK_CONNS);
	}
	lx_world_free(lx);
	return 0;
}

static const char *verdict(bool ok) { return ok ? "PASS" : "MISS"; }

int main(int argc, char **argv)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_watchdog;
	sigaction(SIGALRM, &sa, NULL);
	if (argc > 1 && !strcmp(argv[1], "--check"))
		return check();
	if (argc > 1) {
		fprintf(stderr, "usage: bench_handshake [--check]\n");
		return 2;
	}

	struct utsname un;
	if (uname(&un) < 0)
		snprintf(un.release, sizeof(un.release), "?");
	printf("bench_handshake: connections opened and closed per second, one thread; best of %d runs\n"
	       "  of %u (threeway) and %u (Linux) connections at each level, after a warm-up of %u\n",
	       REPEATS, TW_BENCH_CONNS, LX_BENCH_CONNS, LEVEL_WARMUP);
	printf("  each: client connects, server accepts and closes first, client reads EOF and closes;\n"
	       "  the server holds TIME-WAIT (60 s), the table full after a first %u connections\n", FILL_CONNS);
	printf("  threeway: two stacks on the in-memory link (no impairment, zero delay); virtual clock = wall clock,\n"
	       "  both stacks polled at every new millisecond\n");
	printf("  Linux %s: 127.0.0.1, non-blocking connect, accept, close, epoll\n", un.release);
	printf("  sizeof(struct tcp_conn) = %zu bytes (the control block; buffers and options apart: "
	       "struct tcp_sockbuf = %zu bytes, attached once established)\n\n",
	       sizeof(struct tcp_conn), sizeof(struct tcp_sockbuf));

	struct twb_world *w = twb_world_new(false);
	if (!w)
		return 1;
	char why[160];
	struct lx_world *lx = lx_world_new(false, why, sizeof(why));
	if (!lx)
		printf("  Linux loopback unavailable (%s): threeway alone\n\n", why);

	/* Fill both servers' TIME-WAIT tables first, so every level runs in the same steady state. */
	if (twb_run(w, 64, FILL_CONNS).sec < 0 || (lx && lx_run(lx, 64, FILL_CONNS).sec < 0)) {
		twb_world_free(w);
		lx_world_free(lx);
		return 1;
	}

	double twb_rate[N_LEVELS], lx_rate[N_LEVELS], segs = 0;
	printf("%9s  %15s  %15s  %7s\n", "in flight", "threeway conn/s", "Linux conn/s", "ratio");
	for (size_t i = 0; i < N_LEVELS; i++) {
		twb_rate[i] = best_rate_twb(w, levels[i], TW_BENCH_CONNS, &segs);
		lx_rate[i] = lx ? best_rate_lx(lx, levels[i], LX_BENCH_CONNS) : -1;
		if (twb_rate[i] < 0) {
			twb_world_free(w);
			lx_world_free(lx);
			return 1;
		}
		if (lx_rate[i] > 0)
			printf("%9u  %15.0f  %15.0f  %6.1fx\n", levels[i], twb_rate[i], lx_rate[i], twb_rate[i] / lx_rate[i]);
		else
			printf("%9u  %15.0f  %15s  %7s\n", levels[i], twb_rate[i], "n/a", "n/a");
	}
	long lx_tw = lx ? lx_time_wait() : -1;
	printf("\n  TIME-WAIT entries held at the end: threeway server %u", twb_time_wait(w));
	if (lx_tw >= 0)
		printf(", Linux (whole namespace) %ld", lx_tw);
	printf("\n  threeway: %.1f segments per connection; virtual clock ahead of the wall by at most %llu us\n",
	       segs, (unsigned long long)w->clock_lead_us);
	if (w->warnings)
		printf("  threeway: %llu runs with unexpected counters (warnings above)\n", (unsigned long long)w->warnings);

	printf("\ntargets (issue 3):\n");
	if (lx_rate[0] > 0) {
		double r = twb_rate[0] / lx_rate[0];
		printf("  threeway >= 10x Linux at 1 in flight:                 %6.1fx   %s\n", r, verdict(r >= 10));
	} else {
		printf("  threeway >= 10x Linux at 1 in flight:                    n/a   MISS (no Linux figure)\n");
	}
	double keep = twb_rate[N_LEVELS - 1] / twb_rate[0];
	printf("  threeway at 1,024 in flight >= 0.8x at 1 in flight:   %6.2fx   %s\n", keep, verdict(keep >= 0.8));
	printf("  control block <= 256 bytes:                           %6zu    %s\n", sizeof(struct tcp_conn),
	       verdict(sizeof(struct tcp_conn) <= 256));
	twb_world_free(w);
	lx_world_free(lx);
	return 0;
}
