/*
 * The teardown check: at the end of a test, a stack may hold no connection
 * that a correct engine would have let go of by itself.
 *
 * tw_stack_free frees every connection whatever its state, so one the engine
 * lost track of (an orphan no timer ends, an entry left in a table) would
 * never reach LeakSanitizer. So before a stack is freed, its output is muted
 * (the peer is gone, as if the cable were cut), every socket the application
 * still holds is closed (a listener's close resets what waits in its queues),
 * and its clock runs from deadline to deadline until every timer of a correct
 * engine has fired. Then it must hold no connection at all, and no datagram
 * in IP reassembly.
 *
 * This header is the one place the tests depend on the engine's internals
 * for it: tcp_held_sockets lists the handles the application holds, which
 * the public API cannot. The rest is tw_close, tw_poll, tw_stack_set_output
 * and tw_stack_stats.
 */
#ifndef THREEWAY_TEST_LEAK_CHECK_H
#define THREEWAY_TEST_LEAK_CHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "threeway.h"
#include "tcp/tcp.h"

/*
 * How long the clock runs after the closes: 4 hours of virtual time, cheap
 * since the clock jumps from deadline to deadline. A correct engine's
 * longest-lived orphan at Linux's defaults lasts about half an hour: a FIN
 * or data retransmitted data_retries (15) times with the RTO backing off to
 * 120 s, or as many zero-window probes at most probe_max_us apart; then
 * TIME-WAIT (60 s). SYN-RECEIVED (about 63 s), an orphaned FIN-WAIT-2 (60 s)
 * and keepalive (2 h 11 min for a socket still held, in the variant that
 * keeps them) are shorter. The budget keeps a wide margin over all of these
 * so a test's own config (a long TIME-WAIT, more retries) fits too.
 */
#define H_LEAK_BUDGET_US (4ull * 3600 * 1000000)

/*
 * A bound on the clock's steps, so an engine whose deadlines never advance
 * fails instead of hanging. The wheel wakes the clock once a turn (about
 * 4 s) for each deadline further away, so a few hundred steps per orphan;
 * this is far above what any test's teardown takes.
 */
#define H_LEAK_MAX_STEPS 1000000u

/* For h_leak_run: leave the application's sockets open (to show what the check catches). */
enum { H_LEAK_KEEP_HELD = 1u };

/* What is left once the check has run. */
struct h_leak_report {
	uint32_t conns;             /* connections left, listeners included */
	size_t held;                /* of them, sockets the application still holds */
	uint64_t ran_us;            /* virtual time the clock ran */
	size_t steps;
	bool timers_left;           /* a timer was still armed when the clock stopped */
	uint32_t reass;             /* datagrams left in IP reassembly */
};

static inline void h_leak_sink(void *ctx, const uint8_t *pkt, size_t len)
{
	(void)ctx;
	(void)pkt;
	(void)len;
}

static inline uint32_t h_leak_conns(const struct tw_stack *st)
{
	struct tw_stack_stats ss;
	tw_stack_stats(st, &ss);
	return ss.conns;
}

/* Datagrams in IP reassembly: each must end at its timeout, like a connection at its timers. */
static inline uint32_t h_leak_reass(const struct tw_stack *st)
{
	struct tw_stack_stats ss;
	tw_stack_stats(st, &ss);
	return ss.reass_datagrams;
}

/* Closes every socket the application holds; returns how many. */
static inline size_t h_close_held(struct tw_stack *st)
{
	struct tw_sock *held[64];
	size_t closed = 0, n;
	while ((n = tcp_held_sockets(st, held, 64)) > 0) {
		size_t k = n < 64 ? n : 64;
		for (size_t i = 0; i < k; i++)
			tw_close(held[i]);
		closed += k;
		/* A close always releases the handle: anything else would loop here. */
		if (tcp_held_sockets(st, NULL, 0) + k > n)
			fail_msg("tw_close left %zu socket(s) held", tcp_held_sockets(st, NULL, 0) + k - n);
	}
	return closed;
}

/*
 * Mutes the stack, closes what the application holds (unless `flags` has
 * H_LEAK_KEEP_HELD), and runs the clock from `now` until no connection is
 * left, no timer is armed, or the budget is spent.
 */
static inline struct h_leak_report h_leak_run(struct tw_stack *st, uint64_t now, unsigned flags)
{
	struct h_leak_report r = { 0 };
	tw_stack_set_output(st, h_leak_sink, NULL);
	if (!(flags & H_LEAK_KEEP_HELD))
		h_close_held(st);
	uint64_t start = now, end = now + H_LEAK_BUDGET_US;
	uint64_t next = tw_poll(st, now);
	while ((h_leak_conns(st) || h_leak_reass(st)) && next <= end && r.steps < H_LEAK_MAX_STEPS) {
		/* A deadline that does not move forward still lets time pass, as h_advance does. */
		now = next > now ? next : now + 1;
		next = tw_poll(st, now);
		r.steps++;
	}
	r.conns = h_leak_conns(st);
	r.reass = h_leak_reass(st);
	r.held = tcp_held_sockets(st, NULL, 0);
	r.ran_us = now - start;
	r.timers_left = next != UINT64_MAX;
	return r;
}

/* How many connections the check leaves: 0 for a stack that lost none. */
static inline uint32_t h_leftover_conns(struct tw_stack *st, uint64_t now, unsigned flags)
{
	return h_leak_run(st, now, flags).conns;
}

static inline void h_leak_assert(const struct h_leak_report *r)
{
	if (r->reass)
		fail_msg("teardown: %u datagram(s) left in IP reassembly after %.0f s of virtual time", r->reass,
			 r->ran_us / 1e6);
	if (!r->conns)
		return;
	const char *why = r->steps >= H_LEAK_MAX_STEPS ? "the clock's steps ran out"
			  : r->timers_left          ? "a timer still armed past the budget"
						    : "no timer left to end them";
	fail_msg("teardown: %u connection(s) left after closing every socket and %.0f s of virtual time "
		 "(%zu still held; %s, after %zu steps): the engine lost track of them",
		 r->conns, r->ran_us / 1e6, r->held, why, r->steps);
}

/* The teardown check of one stack whose clock stands at `now`. */
static inline void h_assert_no_leaks(struct tw_stack *st, uint64_t now)
{
	struct h_leak_report r = h_leak_run(st, now, 0);
	h_leak_assert(&r);
}

/* Checks and frees a stack; freed first, so a failing check leaves no leak of its own behind. */
static inline void h_stack_free(struct tw_stack *st, uint64_t now)
{
	struct h_leak_report r = h_leak_run(st, now, 0);
	tw_stack_free(st);
	h_leak_assert(&r);
}

/* The teardown of two stacks joined by a pipe: the link is cut, then both are checked and freed. */
static inline void h_free_joined(struct tw_pipe *p, struct tw_stack *a, struct tw_stack *b)
{
	uint64_t now = tw_pipe_now(p);
	tw_pipe_free(p);
	struct h_leak_report ra = h_leak_run(a, now, 0), rb = h_leak_run(b, now, 0);
	tw_stack_free(a);
	tw_stack_free(b);
	h_leak_assert(&ra);
	h_leak_assert(&rb);
}

#endif
