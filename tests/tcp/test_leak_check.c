/*
 * The teardown check itself (leak_check.h): it must see a connection a stack
 * still holds, and it must wait out what a correct engine ends by itself.
 * The engine loses nothing for it to catch, so a socket the check is told
 * to leave open (H_LEAK_KEEP_HELD) stands in for one the engine lost: left
 * alone, it is counted; closed, it is gone.
 */
#include "peer.h"

#define RETRIES_MIN_US (15ull * 60 * 1000000)   /* data_retries 15 with the RTO backing off: past 15 min */

/* The peer's handshake from `port` (ISN `irs`): the SYN, and the final ACK unless `half_open`. */
static void peer_handshake(struct harness *h, uint16_t port, uint32_t irs, bool half_open)
{
	struct h_seg syn = h_seg(WIRE_TCP_SYN, irs, 0);
	syn.sport = port;
	h_opt_mss(&syn, 1460);
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp sa = h_next(h);
	assert_int_equal(sa.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
	if (half_open)
		return;
	struct h_seg ack = h_seg(WIRE_TCP_ACK, irs + 1, sa.seq + 1);
	ack.sport = port;
	assert_int_equal(h_feed(h, &ack), 0);
}

/* Runs the check leaving the application's sockets open; the harness's clock follows. */
static struct h_leak_report run_keeping_held(struct harness *h)
{
	struct h_leak_report r = h_leak_run(h->st, h->now, H_LEAK_KEEP_HELD);
	h->now += r.ran_us;
	return r;
}

/* A connection nobody closes has no timer to end it: the check counts it, and a close ends it. */
static void test_leak_check_counts_held_connection(void **state)
{
	struct harness *h = *state = h_new(TW_AF_INET);
	struct peer p;
	struct est e = est_default();
	est_open(&p, h, &e);

	struct h_leak_report r = run_keeping_held(h);
	assert_int_equal(r.conns, 2);      /* the listener and the connection: h_free would fail */
	assert_int_equal(r.held, 2);
	assert_false(r.timers_left);       /* nothing would ever end them */

	r = h_leak_run(h->st, h->now, 0);
	h->now += r.ran_us;
	assert_int_equal(r.conns, 0);
	assert_int_equal(r.held, 0);
	assert_true(r.ran_us > RETRIES_MIN_US);   /* the orphaned FIN went unanswered to the end */
	done(state);
}

/* An orphan with data unacknowledged retransmits for over 15 minutes; the check waits it out. */
static void test_leak_check_waits_out_orphan_retransmitting(void **state)
{
	struct harness *h = *state = h_new(TW_AF_INET6);
	struct peer p;
	struct est e = est_default();
	e.active = true;
	est_open(&p, h, &e);
	assert_int_equal(app_write(&p, 3000, 0), 3000);
	assert_int_equal(tw_close(p.s), 0);
	assert_int_equal(h_conns(h), 1);

	struct h_leak_report r = run_keeping_held(h);
	assert_int_equal(r.conns, 0);
	assert_true(r.ran_us > RETRIES_MIN_US);
	assert_true(r.ran_us < H_LEAK_BUDGET_US / 2);   /* the budget has room to spare */
	done(state);
}

/*
 * A listener left open keeps a connection waiting in its accept queue (no
 * timer ends it) while a half-open one gives up by itself; closing the
 * listener resets the queued one.
 */
static void test_leak_check_listener_close_ends_its_queue(void **state)
{
	struct harness *h = *state = h_new(TW_AF_INET);
	h_listen(h, 8);
	peer_handshake(h, PEER_PORT, 1000, false);
	peer_handshake(h, PEER_PORT + 1, 2000, true);
	assert_int_equal(h_conns(h), 3);

	struct h_leak_report r = run_keeping_held(h);
	assert_int_equal(r.conns, 2);      /* the listener and the one waiting in accept */
	assert_int_equal(r.held, 1);
	assert_false(r.timers_left);

	assert_int_equal(h_leftover_conns(h->st, h->now, 0), 0);
	done(state);
}

/* The same for two stacks joined by a pipe: each side's held socket is counted until closed. */
static void test_leak_check_joined_stacks(void **state)
{
	(void)state;
	struct tw_stack_config cfg;
	struct tw_stack *st[2];
	for (int i = 0; i < 2; i++) {
		h_config(&cfg, TW_AF_INET);
		h_addr(&cfg.addrs[0], TW_AF_INET, (uint8_t)(i + 1));
		cfg.secret[0] = (uint8_t)i;
		int err = 0;
		st[i] = tw_stack_new(&cfg, &err);
		assert_non_null(st[i]);
	}
	struct tw_pipe_config pc = { .seed = 1, .a_to_b.delay_us = 1000, .b_to_a.delay_us = 1000 };
	struct tw_pipe *pipe = tw_pipe_new(&pc, st[0], st[1]);
	assert_non_null(pipe);
	int err = 0;
	struct tw_sock *l = tw_socket(st[1], &err), *c = tw_socket(st[0], &err);
	struct tw_endpoint ep = { .addr = cfg.addrs[0], .port = 80 };
	assert_int_equal(tw_bind(l, &ep), 0);
	assert_int_equal(tw_listen(l, 4), 0);
	assert_int_equal(tw_connect(c, &ep), -115);
	tw_pipe_run(pipe, 1000000, NULL, NULL);
	assert_int_equal(h_state(c), TW_ESTABLISHED);

	uint64_t now = tw_pipe_now(pipe);
	assert_int_equal(h_leftover_conns(st[0], now, H_LEAK_KEEP_HELD), 1);   /* the client */
	assert_int_equal(h_leftover_conns(st[1], now, H_LEAK_KEEP_HELD), 2);   /* listener, queued child */
	h_free_joined(pipe, st[0], st[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_leak_check_counts_held_connection, teardown),
		cmocka_unit_test_teardown(test_leak_check_waits_out_orphan_retransmitting, teardown),
		cmocka_unit_test_teardown(test_leak_check_listener_close_ends_its_queue, teardown),
		cmocka_unit_test(test_leak_check_joined_stacks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
