/*
 * The event loop: one thread, one epoll set, driving a stack from a TUN
 * interface, the stack's timers and the application's own descriptors. This
 * is the host side of the stack, so it is the one place that reads a clock
 * (CLOCK_MONOTONIC) and hands the time in.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "link/link.h"
#include "tcp/tcp.h"

/* Packets read from the TUN interface in one go before timers and other descriptors get a turn. */
#define TUN_BURST 64
#define EVENTS_PER_WAIT 32

struct loop_watch {
	int fd;
	tw_loop_fd_fn fn;
	void *ctx;
	bool dead;                  /* unwatched; freed after the current round */
	struct loop_watch *next;
};

struct tw_loop {
	struct tw_stack *st;
	struct tw_tun *tun;
	int epfd;
	bool stop;
	uint64_t now;
	tw_loop_tap_fn tap;
	void *tap_ctx;
	struct loop_watch *watches;
	uint8_t *buf;               /* one packet from the TUN interface */
	size_t buf_cap;
	struct tw_loop_stats stats;
};

static uint64_t monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void loop_output(void *ctx, const uint8_t *pkt, size_t len)
{
	struct tw_loop *l = ctx;
	if (l->tap)
		l->tap(l->tap_ctx, l->now, true, pkt, len);
	if (tw_tun_write(l->tun, pkt, len) == 0)
		l->stats.packets_out++;
	else
		l->stats.write_errors++;
}

struct tw_loop *tw_loop_new(struct tw_stack *st, struct tw_tun *tun, int *err)
{
	int e = -ENOMEM;
	struct tw_loop *l = calloc(1, sizeof(*l));
	if (!l)
		goto fail;
	l->epfd = -1;
	l->st = st;
	l->tun = tun;
	l->buf_cap = 65536;
	l->buf = malloc(l->buf_cap);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		e = -errno;
		goto fail;
	}
	if (!l->buf)
		goto fail;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, tw_tun_fd(tun), &ev) < 0) {
		e = -errno;
		goto fail;
	}
	l->now = monotonic_us();
	tw_stack_set_output(st, loop_output, l);
	return l;
fail:
	if (l) {
		if (l->epfd >= 0)
			close(l->epfd);
		free(l->buf);
		free(l);
	}
	if (err)
		*err = e;
	return NULL;
}

static void free_dead_watches(struct tw_loop *l)
{
	struct loop_watch **pp = &l->watches;
	while (*pp) {
		struct loop_watch *w = *pp;
		if (w->dead) {
			*pp = w->next;
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

void tw_loop_free(struct tw_loop *l)
{
	if (!l)
		return;
	tw_stack_set_output(l->st, NULL, NULL);
	for (struct loop_watch *w = l->watches; w; w = w->next)
		w->dead = true;
	free_dead_watches(l);
	close(l->epfd);
	free(l->buf);
	free(l);
}

static uint32_t epoll_events(unsigned events)
{
	return (events & TW_POLLIN ? EPOLLIN : 0) | (events & TW_POLLOUT ? EPOLLOUT : 0);
}

static struct loop_watch *find_watch(struct tw_loop *l, int fd)
{
	for (struct loop_watch *w = l->watches; w; w = w->next)
		if (w->fd == fd && !w->dead)
			return w;
	return NULL;
}

int tw_loop_watch(struct tw_loop *l, int fd, unsigned events, tw_loop_fd_fn fn, void *ctx)
{
	if (fd < 0 || !fn)
		return -EINVAL;
	struct loop_watch *w = find_watch(l, fd);
	struct epoll_event ev = { .events = epoll_events(events) };
	if (w) {
		ev.data.ptr = w;
		if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
			return -errno;
		w->fn = fn;
		w->ctx = ctx;
		return 0;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct loop_watch){ .fd = fd, .fn = fn, .ctx = ctx };
	ev.data.ptr = w;
	/* A regular file is always ready; epoll refuses it with EPERM, which the caller handles. */
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = -errno;
		free(w);
		return e;
	}
	w->next = l->watches;
	l->watches = w;
	return 0;
}

void tw_loop_unwatch(struct tw_loop *l, int fd)
{
	struct loop_watch *w = find_watch(l, fd);
	if (!w)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	w->dead = true;   /* it may be the watch whose callback is running */
}

void tw_loop_set_tap(struct tw_loop *l, tw_loop_tap_fn tap, void *ctx)
{
	l->tap = tap;
	l->tap_ctx = ctx;
}

void tw_loop_stop(struct tw_loop *l) { l->stop = true; }
uint64_t tw_loop_now(const struct tw_loop *l) { return l->now; }
void tw_loop_stats(const struct tw_loop *l, struct tw_loop_stats *out) { *out = l->stats; }

/* Reads what the TUN interface holds, up to a burst, and feeds it to the stack. */
static int read_tun(struct tw_loop *l)
{
	for (int i = 0; i < TUN_BURST && !l->stop; i++) {
		long n = tw_tun_read(l->tun, l->buf, l->buf_cap);
		if (n == -EAGAIN || n == -EINTR)
			return 0;
		if (n < 0)
			return (int)n;
		l->stats.packets_in++;
		/* Each packet's own arrival time: a burst can hold a SYN-ACK's answer, and RTT samples need it. */
		l->now = monotonic_us();
		/* Only what is addressed to the stack is its traffic; the kernel's own chatter is not. */
		if (l->tap && tw_stack_is_local(l->st, l->buf, (size_t)n))
			l->tap(l->tap_ctx, l->now, false, l->buf, (size_t)n);
		tw_input(l->st, l->buf, (size_t)n, l->now);
	}
	return 0;
}

static int dispatch(struct tw_loop *l, const struct epoll_event *evs, int n)
{
	for (int i = 0; i < n && !l->stop; i++) {
		struct loop_watch *w = evs[i].data.ptr;
		if (!w) {
			int r = read_tun(l);
			if (r)
				return r;
			continue;
		}
		if (w->dead)
			continue;
		unsigned events = (evs[i].events & EPOLLIN ? TW_POLLIN : 0) |
				  (evs[i].events & EPOLLOUT ? TW_POLLOUT : 0) |
				  (evs[i].events & EPOLLERR ? TW_POLLERR : 0) |
				  (evs[i].events & EPOLLHUP ? TW_POLLHUP : 0);
		w->fn(l, w->fd, events, w->ctx);
	}
	return 0;
}

int tw_loop_run(struct tw_loop *l, uint64_t until)
{
	struct epoll_event evs[EVENTS_PER_WAIT];
	int r = 0;
	l->stop = false;
	for (;;) {
		l->now = monotonic_us();
		uint64_t next = tw_poll(l->st, l->now);
		free_dead_watches(l);
		if (l->stop || l->now >= until)
			break;
		uint64_t deadline = next < until ? next : until;
		int timeout_ms = -1;
		if (deadline != UINT64_MAX) {
			uint64_t wait_us = deadline > l->now ? deadline - l->now : 0;
			/* Rounded up: waking early would only spin. */
			timeout_ms = wait_us > 60000000u ? 60000 : (int)((wait_us + 999) / 1000);
		}
		int n = epoll_wait(l->epfd, evs, EVENTS_PER_WAIT, timeout_ms);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		l->now = monotonic_us();
		/* Application callbacks act on the stack: its clock must be now first. */
		tw_poll(l->st, l->now);
		if ((r = dispatch(l, evs, n)) != 0)
			break;
	}
	free_dead_watches(l);
	return r;
}
