/*
 * Connection churn between two stacks over the in-memory link: 1,000
 * connections opened and closed one after another, and 200 at once, on IPv4
 * and IPv6. Every connection carries a little data both ways; afterwards,
 * once TIME-WAIT has passed, neither stack holds any connection.
 */
#include "harness.h"

#define MAX_AT_ONCE 200

struct conn_pair {
	struct tw_sock *client, *server;
	bool requested, replied;
};

struct churn {
	struct tw_stack *a, *b;
	struct tw_pipe *pipe;
	struct tw_sock *listener;
	struct tw_endpoint server_ep;
	struct conn_pair pairs[MAX_AT_ONCE];
	size_t at_once, opened, finished, total;
};

static void open_one(struct churn *ch, struct conn_pair *p)
{
	int err = 0;
	memset(p, 0, sizeof(*p));
	p->client = tw_socket(ch->a, &err);
	assert_non_null(p->client);
	assert_int_equal(tw_connect(p->client, &ch->server_ep), -115);
	ch->opened++;
}

/* Server: accept, read the 5-byte request, answer and close. Client: read to EOF, close. */
static bool churn_step(void *ctx)
{
	struct churn *ch = ctx;
	int err = 0;
	struct tw_sock *s;
	while ((s = tw_accept(ch->listener, NULL, &err)) != NULL) {
		for (size_t i = 0; i < ch->at_once; i++) {
			struct conn_pair *p = &ch->pairs[i];
			if (p->client && !p->server) {
				struct tw_conn_info ci = h_info(p->client), si = h_info(s);
				if (ci.local.port == si.remote.port) {
					p->server = s;
					break;
				}
			}
		}
	}
	for (size_t i = 0; i < ch->at_once; i++) {
		struct conn_pair *p = &ch->pairs[i];
		char buf[64];
		if (!p->client)
			continue;
		if (!p->requested && tw_events(p->client) & TW_POLLOUT) {
			assert_int_equal(tw_send(p->client, "hello", 5, 0), 5);
			p->requested = true;
		}
		if (p->server && !p->replied && tw_readable(p->server) >= 5) {
			assert_int_equal(tw_recv(p->server, buf, sizeof(buf), 0), 5);
			assert_int_equal(tw_send(p->server, "world", 5, 0), 5);
			assert_int_equal(tw_close(p->server), 0);
			p->replied = true;
		}
		if (p->replied) {
			long n = tw_recv(p->client, buf, sizeof(buf), 0);
			if (n == 0) {
				tw_close(p->client);
				p->client = NULL;
				ch->finished++;
				if (ch->opened < ch->total)
					open_one(ch, p);
			} else {
				assert_true(n == 5 || n == -11);
			}
		}
	}
	return ch->finished == ch->total;
}

static struct tw_stack *churn_stack(uint8_t family, uint8_t last)
{
	struct tw_stack_config cfg;
	h_config(&cfg, family);
	h_addr(&cfg.addrs[0], family, last);
	cfg.secret[0] = last;
	int err = 0;
	struct tw_stack *st = tw_stack_new(&cfg, &err);
	assert_non_null(st);
	return st;
}

static uint32_t conns_of(struct tw_stack *st)
{
	struct tw_stack_stats ss;
	tw_stack_stats(st, &ss);
	return ss.conns;
}

static void churn(uint8_t family, size_t total, size_t at_once)
{
	struct churn ch;
	memset(&ch, 0, sizeof(ch));
	ch.a = churn_stack(family, 1);
	ch.b = churn_stack(family, 2);
	struct tw_pipe_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.a_to_b.delay_us = pc.b_to_a.delay_us = 100;
	ch.pipe = tw_pipe_new(&pc, ch.a, ch.b);
	assert_non_null(ch.pipe);

	int err = 0;
	ch.listener = tw_socket(ch.b, &err);
	h_addr(&ch.server_ep.addr, family, 2);
	ch.server_ep.port = 80;
	assert_int_equal(tw_bind(ch.listener, &ch.server_ep), 0);
	assert_int_equal(tw_listen(ch.listener, (int)at_once), 0);
	ch.total = total;
	ch.at_once = at_once;
	for (size_t i = 0; i < at_once; i++)
		open_one(&ch, &ch.pairs[i]);

	assert_true(tw_pipe_run(ch.pipe, UINT64_MAX, churn_step, &ch));
	assert_int_equal(ch.finished, total);

	/* Once the last ACKs have crossed, the clients hold nothing (the server closed first)... */
	tw_pipe_run(ch.pipe, tw_pipe_now(ch.pipe) + 10000, NULL, NULL);
	assert_int_equal(conns_of(ch.a), 0);
	/* ...and after TIME-WAIT the server holds only its listener. */
	tw_pipe_run(ch.pipe, tw_pipe_now(ch.pipe) + 61000000, NULL, NULL);
	assert_int_equal(conns_of(ch.b), 1);
	tw_close(ch.listener);
	assert_int_equal(conns_of(ch.b), 0);

	struct tw_stack_stats sa;
	tw_stack_stats(ch.a, &sa);
	assert_int_equal(sa.active_opens, total);
	assert_int_equal(sa.conns_reset, 0);
	assert_int_equal(sa.out_rsts, 0);   /* nothing was left unread: no close sent a RST */
	struct tw_stack_stats sb;
	tw_stack_stats(ch.b, &sb);
	assert_int_equal(sb.out_rsts, 0);
	assert_int_equal(sb.passive_opens, total);
	h_free_joined(ch.pipe, ch.a, ch.b);
}

static void test_churn_1000_in_sequence_ipv4(void **state)
{
	(void)state;
	churn(TW_AF_INET, 1000, 1);
}

static void test_churn_1000_in_sequence_ipv6(void **state)
{
	(void)state;
	churn(TW_AF_INET6, 1000, 1);
}

static void test_churn_200_at_once_ipv4(void **state)
{
	(void)state;
	churn(TW_AF_INET, 200, 200);
}

static void test_churn_200_at_once_ipv6(void **state)
{
	(void)state;
	churn(TW_AF_INET6, 200, 200);
}

static void test_churn_2000_with_200_in_flight(void **state)
{
	(void)state;
	churn(TW_AF_INET, 2000, 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_churn_1000_in_sequence_ipv4),
		cmocka_unit_test(test_churn_1000_in_sequence_ipv6),
		cmocka_unit_test(test_churn_200_at_once_ipv4),
		cmocka_unit_test(test_churn_200_at_once_ipv6),
		cmocka_unit_test(test_churn_2000_with_200_in_flight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
