/*
 * Half-open entries (struct tcp_req) keep what the SYN found: the listener
 * it came to, that listener's TCP_MAXSEG, and the SYN itself, answered
 * again from the entry when it is repeated. They end with a CLOSED event
 * like any connection, and the handshake's RTT comes from the echoed
 * timestamp when the SYN-ACK's own clock cannot give it.
 */
#include "harness.h"
#include "tcp/tcp.h"

#define PEER_ISS 0x10000000u
#define PEER_TS 7000u

static struct h_seg syn_from(uint16_t port, uint16_t mss)
{
	struct h_seg s = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
	s.sport = port;
	s.wnd = 64240;
	h_opt_linux_syn(&s, PEER_TS, 0);
	s.opt.mss = mss;   /* the MSS option is built from this value */
	return s;
}

static struct h_seg third(uint16_t port, const struct wire_tcp *synack)
{
	struct h_seg a = h_seg(WIRE_TCP_ACK, PEER_ISS + 1, synack->seq + 1);
	a.sport = port;
	a.wnd = 502;
	h_opt_nop(&a);
	h_opt_nop(&a);
	h_opt_ts(&a, PEER_TS + 1, synack->opt.ts_val);
	return a;
}

/* A listener on OUR_PORT at `addr` (the harness's address, or any with NULL), sharing the port. */
static struct tw_sock *listen_at(struct harness *h, const struct tw_addr *addr)
{
	int err = 0;
	struct tw_sock *l = tw_socket(h->st, &err);
	assert_non_null(l);
	assert_int_equal(tw_setsockopt(l, TW_SO_REUSEADDR, 1), 0);
	struct tw_endpoint ep;
	memset(&ep, 0, sizeof(ep));
	ep.addr.family = h->family;
	if (addr)
		ep.addr = *addr;
	ep.port = OUR_PORT;
	assert_int_equal(tw_bind(l, &ep), 0);
	assert_int_equal(tw_listen(l, 16), 0);
	return l;
}

static struct tw_sock *try_accept(struct tw_sock *l)
{
	int err = 0;
	return tw_accept(l, NULL, &err);
}

/*
 * A SYN that came to the listener on any address stays that listener's when
 * one on the exact address appears on the same port, and when that one
 * closes: each listener completes only its own entries.
 */
static void test_entry_keeps_the_listener_it_came_to(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *any = listen_at(h, NULL);
	struct h_seg syn1 = syn_from(PEER_PORT, 1460);
	assert_int_equal(h_feed(h, &syn1), 0);
	struct wire_tcp sa1 = h_expect_synack(h, PEER_PORT, PEER_ISS);

	struct tw_sock *exact = listen_at(h, &h->ours);
	struct h_seg syn2 = syn_from(PEER_PORT + 1, 1460);
	assert_int_equal(h_feed(h, &syn2), 0);
	struct wire_tcp sa2 = h_expect_synack(h, PEER_PORT + 1, PEER_ISS);
	assert_int_equal(((struct tcp_conn *)any)->half_open, 1);
	assert_int_equal(((struct tcp_conn *)exact)->half_open, 1);

	struct h_seg ack1 = third(PEER_PORT, &sa1);
	assert_int_equal(h_feed(h, &ack1), 0);
	assert_null(try_accept(exact));
	struct tw_sock *c1 = try_accept(any);
	assert_non_null(c1);
	assert_int_equal(h_info(c1).remote.port, PEER_PORT);
	assert_int_equal(((struct tcp_conn *)any)->half_open, 0);
	assert_int_equal(((struct tcp_conn *)exact)->half_open, 1);

	/* The exact listener goes and takes its entry; the other listener keeps working. */
	tw_close(exact);
	assert_int_equal(h_conns(h), 2);   /* `any` and c1 */
	struct h_seg ack2 = third(PEER_PORT + 1, &sa2);
	assert_int_equal(h_feed(h, &ack2), -TW_DROP_LISTEN_ACK);
	struct wire_tcp rst = h_next(h);   /* to the listener on any address it is an ACK for nothing */
	assert_int_equal(rst.flags, WIRE_TCP_RST);
	assert_int_equal(rst.seq, sa2.seq + 1);
	assert_null(try_accept(any));
	tw_close(c1);
	tw_close(any);
	h_advance(h, 70000000);
	h_free(h);
}

/*
 * The peer's SYN again: the SYN-ACK again, from the entry, with no control
 * block made; at once the first time, then not more than twice a second.
 */
static void test_repeated_syn_is_answered_from_the_entry(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 16);
	struct h_seg syn = syn_from(PEER_PORT, 1460);
	assert_int_equal(h_feed(h, &syn), 0);
	h_expect_synack(h, PEER_PORT, PEER_ISS);
	h_advance(h, 100000);
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp again = h_expect_synack(h, PEER_PORT, PEER_ISS);
	assert_int_equal(h->st->table_count, 0);
	h_advance(h, 100000);
	assert_int_equal(h_feed(h, &syn), 0);
	h_expect_none(h);   /* rate-limited */
	h_advance(h, 450000);
	assert_int_equal(h_feed(h, &syn), 0);
	again = h_expect_synack(h, PEER_PORT, PEER_ISS);
	assert_int_equal(h->st->table_count, 0);
	struct tw_stack_stats ss;
	tw_stack_stats(h->st, &ss);
	assert_int_equal(ss.retrans_segs, 2);

	/* The SYN-ACK went more than once: the RTT comes from the echoed timestamp (Karn). */
	h_advance(h, 40000);
	struct h_seg ack = third(PEER_PORT, &again);
	assert_int_equal(h_feed(h, &ack), 0);
	struct tw_sock *c = try_accept(l);
	assert_non_null(c);
	struct tw_conn_info ci = h_info(c);
	assert_int_equal(ci.state, TW_ESTABLISHED);
	assert_true(ci.srtt_us >= 39000 && ci.srtt_us <= 42000);
	tw_close(c);
	tw_close(l);
	h_advance(h, 70000000);
	h_free(h);
}

struct closed_events {
	unsigned synrecv_to_closed;
	uint16_t port;
};

static void count_closed(void *ctx, const struct tw_event *ev)
{
	struct closed_events *e = ctx;
	if (ev->type == TW_EVENT_STATE && ev->old_state == TW_SYN_RECEIVED && ev->new_state == TW_CLOSED) {
		e->synrecv_to_closed++;
		e->port = ev->remote.port;
	}
}

/* An entry whose SYN-ACKs all go unanswered ends as any connection ends: the event hook hears CLOSED. */
static void test_expired_entry_reports_closed(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET6);
	struct tw_sock *l = h_listen(h, 16);
	struct closed_events e = { 0, 0 };
	tw_stack_set_event_hook(h->st, count_closed, &e);
	struct h_seg syn = syn_from(PEER_PORT + 5, 1440);
	assert_int_equal(h_feed(h, &syn), 0);
	h_advance(h, 30000000);
	assert_int_equal(e.synrecv_to_closed, 0);
	h_advance(h, 40000000);
	assert_int_equal(e.synrecv_to_closed, 1);
	assert_int_equal(e.port, PEER_PORT + 5);
	assert_int_equal(((struct tcp_conn *)l)->half_open, 0);
	tw_stack_set_event_hook(h->st, NULL, NULL);
	tw_close(l);
	h_free(h);
}

/* The listener's TCP_MAXSEG as it was when the SYN came clamps the peer's MSS (Linux's mss_clamp). */
static void test_maxseg_is_read_when_the_syn_comes(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 16);
	assert_int_equal(tw_setsockopt(l, TW_TCP_MAXSEG, 1000), 0);
	struct h_seg syn = syn_from(PEER_PORT, 1460);
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp sa = h_expect_synack(h, PEER_PORT, PEER_ISS);
	assert_int_equal(sa.opt.mss, 1000);
	assert_int_equal(tw_setsockopt(l, TW_TCP_MAXSEG, 1400), 0);
	struct h_seg ack = third(PEER_PORT, &sa);
	assert_int_equal(h_feed(h, &ack), 0);
	struct tw_sock *c = try_accept(l);
	assert_non_null(c);
	assert_int_equal(h_info(c).snd_mss, 1000 - 12);
	tw_close(c);
	tw_close(l);
	h_advance(h, 70000000);
	h_free(h);
}

/* A connection made from a cookie has its handshake RTT from the echoed timestamp. */
static void test_cookie_connection_has_an_rtt(void **state)
{
	(void)state;
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.syncookies = TW_SYNCOOKIES_ALWAYS;
	struct harness *h = h_new_cfg(&cfg);
	struct tw_sock *l = h_listen(h, 16);
	struct h_seg syn = syn_from(PEER_PORT, 1460);
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp sa = h_expect_synack(h, PEER_PORT, PEER_ISS);
	h_advance(h, 30000);
	struct h_seg ack = third(PEER_PORT, &sa);
	assert_int_equal(h_feed(h, &ack), 0);
	struct tw_sock *c = try_accept(l);
	assert_non_null(c);
	/* The cookie's TSval is up to 63 ms older than its clock: the sample can be that much long. */
	uint32_t srtt = h_info(c).srtt_us;
	assert_true(srtt >= 30000 && srtt <= 30000 + 64000);
	tw_close(c);
	tw_close(l);
	h_advance(h, 70000000);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_keeps_the_listener_it_came_to),
		cmocka_unit_test(test_repeated_syn_is_answered_from_the_entry),
		cmocka_unit_test(test_expired_entry_reports_closed),
		cmocka_unit_test(test_maxseg_is_read_when_the_syn_comes),
		cmocka_unit_test(test_cookie_connection_has_an_rtt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
