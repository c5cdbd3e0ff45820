/* First light: passive and active opens against a scripted peer. */
#include "harness.h"

#define PEER_ISS 0xfffffff0u    /* just below 2^32: every path crosses the wrap */

static void test_listen_syn_gets_synack_with_linux_layout(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 8);
	struct h_seg syn = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
	h_opt_linux_syn(&syn, 1000, 0);
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp t = h_next(h);
	char lay[128];
	fprintf(stderr, "%s", tw_trace_render(h->tracer, 0, 0, TW_LINK_RAW, h->out[0].bytes, h->out[0].len, h->out[0].len));
	assert_int_equal(t.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
	assert_int_equal(t.ack, PEER_ISS + 1);
	assert_string_equal(h_opt_layout(&t, lay, sizeof(lay)), "mss,sackOK,TS,nop,wscale");
	assert_int_equal(t.opt.mss, 1460);
	assert_int_equal(t.opt.wscale, 8);
	assert_int_equal(t.opt.ts_ecr, 1000);
	assert_int_equal(t.wnd, 65160);
	uint32_t iss = t.seq;

	struct h_seg ack = h_seg(WIRE_TCP_ACK, PEER_ISS + 1, iss + 1);
	h_opt_nop(&ack); h_opt_nop(&ack); h_opt_ts(&ack, 1001, t.opt.ts_val);
	ack.wnd = 502;
	assert_int_equal(h_feed(h, &ack), 0);
	h_expect_none(h);
	int err = 0;
	struct tw_sock *c = tw_accept(l, NULL, &err);
	assert_non_null(c);
	struct tw_conn_info ci = h_info(c);
	assert_int_equal(ci.state, TW_ESTABLISHED);
	assert_int_equal(ci.snd_wnd, 502 << 7);
	assert_int_equal(ci.snd_mss, 1448);

	/* Data from the peer, then our close. */
	struct h_seg d = h_seg(WIRE_TCP_ACK | WIRE_TCP_PSH, PEER_ISS + 1, iss + 1);
	h_opt_nop(&d); h_opt_nop(&d); h_opt_ts(&d, 1002, t.opt.ts_val);
	d.data = "hello";
	d.len = 5;
	d.wnd = 502;
	assert_int_equal(h_feed(h, &d), 0);
	struct wire_tcp a = h_expect(h, WIRE_TCP_ACK, iss + 1, PEER_ISS + 6);   /* quick ACK */
	(void)a;
	char buf[16];
	assert_int_equal(tw_recv(c, buf, sizeof(buf), 0), 5);
	assert_int_equal(tw_send(c, "world", 5, 0), 5);
	h_expect(h, WIRE_TCP_ACK | WIRE_TCP_PSH, iss + 1, PEER_ISS + 6);
	assert_int_equal(tw_close(c), 0);
	h_expect(h, WIRE_TCP_ACK | WIRE_TCP_FIN, iss + 6, PEER_ISS + 6);
	struct h_seg fin = h_seg(WIRE_TCP_ACK | WIRE_TCP_FIN, PEER_ISS + 6, iss + 7);
	fin.wnd = 502;
	assert_int_equal(h_feed(h, &fin), 0);
	h_expect(h, WIRE_TCP_ACK, iss + 7, PEER_ISS + 7);
	assert_int_equal(h_conns(h), 2);   /* listener and the TIME-WAIT */
	h_advance(h, 60000000);
	assert_int_equal(h_conns(h), 1);
	tw_close(l);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

static void test_closed_port_syn_gets_rst_ack(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET6);
	struct h_seg syn = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
	assert_true(h_feed(h, &syn) < 0);
	struct wire_tcp t = h_expect(h, WIRE_TCP_RST | WIRE_TCP_ACK, 0, PEER_ISS + 1);
	assert_int_equal(t.wnd, 0);
	h_free(h);
}

static void test_connect_and_refused(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *s = h_connect(h);
	struct wire_tcp syn = h_expect(h, WIRE_TCP_SYN, h_info(s).iss, 0);
	char lay[128];
	assert_string_equal(h_opt_layout(&syn, lay, sizeof(lay)), "mss,sackOK,TS,nop,wscale");
	assert_int_equal(syn.wnd, 64240);
	struct h_seg rst = h_seg(WIRE_TCP_RST | WIRE_TCP_ACK, 0, syn.seq + 1);
	assert_int_equal(h_feed(h, &rst), 0);
	assert_int_equal(h_state(s), TW_CLOSED);
	assert_int_equal(tw_sock_error(s), -111);
	tw_close(s);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

static void test_syn_retransmits_then_times_out(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *s = h_connect(h);
	uint32_t iss = h_info(s).iss;
	h_expect(h, WIRE_TCP_SYN, iss, 0);
	uint64_t t0 = h->now, expect = 0;
	for (int i = 0; i < 6; i++) {
		expect += 1000000ull << i;
		h_advance(h, (1000000ull << i));
		h_expect(h, WIRE_TCP_SYN, iss, 0);
		assert_int_equal(h->out[h->next_out - 1].at - t0, expect);
	}
	h_advance(h, 64000000);
	h_expect_none(h);
	assert_int_equal(h_state(s), TW_CLOSED);
	assert_int_equal(tw_sock_error(s), -110);
	tw_close(s);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_syn_gets_synack_with_linux_layout),
		cmocka_unit_test(test_closed_port_syn_gets_rst_ack),
		cmocka_unit_test(test_connect_and_refused),
		cmocka_unit_test(test_syn_retransmits_then_times_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
