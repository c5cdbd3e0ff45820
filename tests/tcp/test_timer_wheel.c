/*
 * The timer wheel under hosts that poll at any interval: TIME-WAIT timers
 * (60 s, many turns of the 4 s wheel) armed at scattered times must each
 * fire at its deadline, never before and never missed, whether the host
 * polls every millisecond or sleeps for seconds between polls; and a poll
 * must always return.
 */
#include <signal.h>
#include <unistd.h>

#include "harness.h"

#define N_CONNS 40

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "tw_poll did not return\n";
	ssize_t n = write(2, msg, sizeof(msg) - 1);
	(void)n;
	_exit(1);
}

/* A passive open from peer port `port`, closed by us first and ended in TIME-WAIT. */
static void conn_to_time_wait(struct harness *h, struct tw_sock *l, uint16_t port)
{
	uint32_t peer_iss = 0xfffff000u + port;
	struct h_seg syn = h_seg(WIRE_TCP_SYN, peer_iss, 0);
	syn.sport = port;
	h_opt_mss(&syn, 1460);
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp synack = h_next(h);
	uint32_t iss = synack.seq;
	struct h_seg ack = h_seg(WIRE_TCP_ACK, peer_iss + 1, iss + 1);
	ack.sport = port;
	assert_int_equal(h_feed(h, &ack), 0);
	int err = 0;
	struct tw_sock *c = tw_accept(l, NULL, &err);
	assert_non_null(c);
	assert_int_equal(tw_close(c), 0);
	struct wire_tcp fin = h_next(h);
	assert_int_equal(fin.flags, WIRE_TCP_FIN | WIRE_TCP_ACK);
	struct h_seg peer_fin = h_seg(WIRE_TCP_FIN | WIRE_TCP_ACK, peer_iss + 1, iss + 2);
	peer_fin.sport = port;
	assert_int_equal(h_feed(h, &peer_fin), 0);
	struct wire_tcp last = h_next(h);
	assert_int_equal(last.flags, WIRE_TCP_ACK);
	h_expect_none(h);
}

/* A deterministic sequence of poll gaps: milliseconds to seconds, past a whole turn. */
static uint64_t next_gap(uint64_t *x)
{
	*x = *x * 6364136223846793005ull + 1442695040888963407ull;
	static const uint64_t scale[] = { 1000, 37000, 700000, 2700000, 4096000, 7000000 };
	return 1 + (*x >> 33) % scale[(*x >> 20) % 6];
}

static void run_with_gaps(uint64_t seed)
{
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 64);
	uint64_t expires[N_CONNS];
	uint64_t x = seed;
	for (int i = 0; i < N_CONNS; i++) {
		h->now += 1000 * (1 + (next_gap(&x) % 3000));   /* scattered, whole milliseconds */
		tw_poll(h->st, h->now);
		conn_to_time_wait(h, l, (uint16_t)(20000 + i));
		expires[i] = h->now + 60000000;
	}
	signal(SIGALRM, on_alarm);
	alarm(20);
	for (int steps = 0; steps < 100000; steps++) {
		uint32_t alive = 0, total = h_conns(h) - 1;   /* less the listener */
		for (int i = 0; i < N_CONNS; i++)
			alive += h->now < expires[i];
		if (total != alive)
			fail_msg("at %llu us: %u connections in TIME-WAIT, %u expected", (unsigned long long)h->now,
				 total, alive);
		if (!alive)
			break;
		h->now += next_gap(&x);
		tw_poll(h->st, h->now);
	}
	alarm(0);
	assert_int_equal(h_conns(h), 1);
	tw_close(l);
	h_free(h);
}

static void test_time_wait_expires_on_time_whatever_the_poll_gaps(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 5; seed++)
		run_with_gaps(seed);
}

/* A host that sleeps several wheel turns between polls still gets each timer once, on time. */
static void test_time_wait_poll_after_long_sleep_returns(void **state)
{
	(void)state;
	static const uint64_t jumps[] = { 1000000, 2700000, 3000000, 4096000, 5000000, 30000000, 59999000,
					  60000000 };
	signal(SIGALRM, on_alarm);
	for (size_t j = 0; j < sizeof(jumps) / sizeof(jumps[0]); j++) {
		struct harness *h = h_new(TW_AF_INET);
		struct tw_sock *l = h_listen(h, 4);
		conn_to_time_wait(h, l, 30000);
		uint64_t expiry = h->now + 60000000;
		alarm(10);
		h->now += jumps[j];
		uint64_t next = tw_poll(h->st, h->now);
		alarm(0);
		assert_int_equal(h_conns(h), h->now < expiry ? 2 : 1);
		assert_true(next > h->now);
		h_advance(h, 61000000);
		assert_int_equal(h_conns(h), 1);
		tw_close(l);
		h_free(h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_wait_poll_after_long_sleep_returns),
		cmocka_unit_test(test_time_wait_expires_on_time_whatever_the_poll_gaps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
