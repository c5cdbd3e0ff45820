/*
 * Closing a connection (RFC 9293 3.6, 3.10.4, 3.10.7.4; RFC 2525 2.17): the
 * active and passive closes, simultaneous close, TIME-WAIT and its 2 MSL
 * timer, resets on close (unread data, abort, linger 0), listeners closing
 * over their queues, orphans, and the half-closes of tw_shutdown.
 */
#include "scripted_conn.h"

#define TIME_WAIT_US 60000000ull   /* the default 2 MSL */
#define DELACK_US 40000ull

/* A reset <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> (RFC 9293 3.10.4 ABORT, RFC 2525 2.17). */
static void expect_rst_ack(struct conn *c)
{
	expect_seg(c, WIRE_TCP_RST | WIRE_TCP_ACK, c->snd_nxt, c->rcv_nxt);
}

/* Every segment captured so far; asserts none of them is a RST. */
static void assert_no_rst_sent(struct harness *h)
{
	for (size_t i = 0; i < h->n_out; i++) {
		const uint8_t *p = h->out[i].bytes;
		size_t ip_len = (p[0] >> 4) == 4 ? (size_t)(p[0] & 15) * 4 : 40;
		assert_int_equal(p[ip_len + 13] & WIRE_TCP_RST, 0);
	}
}

/* ------------------------------------------------------------ active close */

/*
 * RFC 9293 3.10.4 CLOSE in ESTABLISHED: a FIN at SND.NXT, FIN-WAIT-1; its
 * ACK: FIN-WAIT-2; the peer's FIN: an ACK at once and TIME-WAIT; 2 MSL
 * later the TCB is deleted.
 */
static void test_established_shutdown_wr_walks_active_close(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	uint32_t fin_seq = c.snd_nxt;
	assert_int_equal(tw_shutdown(c.s, TW_SHUT_WR), 0);
	expect_seg(&c, WIRE_TCP_FIN | WIRE_TCP_ACK, fin_seq, c.rcv_nxt);
	c.snd_nxt++;
	h_expect_none(c.h);
	assert_int_equal(h_state(c.s), TW_FIN_WAIT_1);

	peer_acks_all(&c);
	assert_int_equal(h_state(c.s), TW_FIN_WAIT_2);

	peer_fin(&c, c.snd_nxt);
	expect_ack(&c);                    /* at once, not delayed */
	h_expect_none(c.h);
	assert_int_equal(h_state(c.s), TW_TIME_WAIT);

	h_advance(c.h, TIME_WAIT_US - 1);
	assert_int_equal(h_state(c.s), TW_TIME_WAIT);
	h_advance(c.h, 1);
	assert_int_equal(h_state(c.s), TW_CLOSED);
	assert_int_equal(tw_sock_error(c.s), 0);
	h_expect_none(c.h);
	tw_close(c.s);
	c.s = NULL;
	conn_end(&c);
}

/* The same through tw_close: the orphan lives through TIME-WAIT and is then gone. */
static void check_close_time_wait_expires(unsigned mode)
{
	struct conn c;
	conn_open(&c, mode, PEER_ISS);
	uint32_t base = c.l ? 1 : 0;       /* the listener counts */
	assert_int_equal(tw_close(c.s), 0);
	c.s = NULL;
	expect_seg(&c, WIRE_TCP_FIN | WIRE_TCP_ACK, c.snd_nxt, c.rcv_nxt);
	c.snd_nxt++;
	peer_acks_all(&c);
	peer_fin(&c, c.snd_nxt);
	expect_ack(&c);
	h_expect_none(c.h);
	assert_int_equal(h_conns(c.h), base + 1);
	h_advance(c.h, TIME_WAIT_US - 1);
	assert_int_equal(h_conns(c.h), base + 1);
	h_advance(c.h, 1);
	assert_int_equal(h_conns(c.h), base);
	h_expect_none(c.h);
	conn_end(&c);
}

static void test_established_close_time_wait_expires(void **state)
{
	(void)state;
	check_close_time_wait_expires(M_ACTIVE | M_TS);
}

static void test_established_close_time_wait_expires_ipv6(void **state)
{
	(void)state;
	check_close_time_wait_expires(M_PASSIVE | M_V6);
}

/* cfg.time_wait_us sets the length of TIME-WAIT. */
static void test_time_wait_duration_configurable(void **state)
{
	(void)state;
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.time_wait_us = 5000000;
	struct conn c;
	conn_open_on(&c, h_new_cfg(&cfg), NULL, PEER_PORT, M_ACTIVE, PEER_ISS);
	drive(&c, TW_TIME_WAIT);
	tw_close(c.s);
	c.s = NULL;
	assert_int_equal(h_conns(c.h), 1);
	h_advance(c.h, 5000000 - 1);
	assert_int_equal(h_conns(c.h), 1);
	h_advance(c.h, 1);
	assert_int_equal(h_conns(c.h), 0);
	conn_end(&c);
}

/* ----------------------------------------------------------- passive close */

/* The peer's FIN: CLOSE-WAIT, end of stream for tw_recv, TW_POLLIN|TW_POLLRDHUP. */
static void test_established_fin_enters_close_wait(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	unsigned before = tw_events(c.s);
	assert_int_equal(before & (TW_POLLIN | TW_POLLRDHUP), 0);
	peer_fin(&c, c.snd_nxt);
	assert_int_equal(h_state(c.s), TW_CLOSE_WAIT);
	assert_int_equal(h_info(c.s).rcv_nxt, c.rcv_nxt);
	char buf[8];
	assert_int_equal(tw_recv(c.s, buf, sizeof(buf), 0), 0);
	assert_int_equal(tw_recv(c.s, buf, sizeof(buf), 0), 0);   /* and stays so */
	unsigned ev = tw_events(c.s);
	assert_int_equal(ev & (TW_POLLIN | TW_POLLRDHUP), TW_POLLIN | TW_POLLRDHUP);
	assert_int_equal(ev & TW_POLLOUT, TW_POLLOUT);            /* we may still send */
	assert_int_equal(tw_sock_error(c.s), 0);
	conn_end(&c);
}

/* Like Linux, the ACK of a FIN in ESTABLISHED waits the delayed-ACK time (40 ms). */
static void test_established_fin_ack_delayed(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_ACTIVE | M_TS, PEER_ISS);
	/* Once data has arrived (and been ACKed), Linux delays the ACK of a FIN by its ACK delay. */
	assert_int_equal(feed_data(&c, c.rcv_nxt, c.snd_nxt, "hello", 5), 0);
	c.rcv_nxt += 5;
	expect_ack(&c);
	size_t before = c.h->next_out;
	peer_fin(&c, c.snd_nxt);
	h_expect_none(c.h);
	h_advance(c.h, DELACK_US - 1);
	h_expect_none(c.h);
	h_advance(c.h, 1);
	expect_ack(&c);
	assert_true(c.h->out[c.h->next_out - 1].at - c.h->out[before - 1].at >= DELACK_US);
	h_expect_none(c.h);
	assert_int_equal(h_state(c.s), TW_CLOSE_WAIT);
	conn_end(&c);
}

/* Before any data, Linux has no ACK delay yet (its ato is 0): the FIN is ACKed at once. */
static void test_established_fin_before_data_acked_at_once(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE, PEER_ISS);
	peer_fin(&c, c.snd_nxt);
	expect_ack(&c);
	h_expect_none(c.h);
	assert_int_equal(h_state(c.s), TW_CLOSE_WAIT);
	conn_end(&c);
}

/* Our close before the delayed ACK goes: one FIN+ACK carries it, and no bare ACK follows. */
static void test_established_fin_ack_rides_on_our_fin(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE, PEER_ISS);
	assert_int_equal(feed_data(&c, c.rcv_nxt, c.snd_nxt, "hello", 5), 0);
	c.rcv_nxt += 5;
	expect_ack(&c);
	peer_fin(&c, c.snd_nxt);
	h_expect_none(c.h);
	h_advance(c.h, 10000);
	assert_int_equal(tw_shutdown(c.s, TW_SHUT_WR), 0);
	expect_seg(&c, WIRE_TCP_FIN | WIRE_TCP_ACK, c.snd_nxt, c.rcv_nxt);   /* ack covers the peer's FIN */
	c.snd_nxt++;
	h_expect_none(c.h);
	assert_int_equal(h_state(c.s), TW_LAST_ACK);
	h_advance(c.h, DELACK_US);
	h_expect_none(c.h);                /* the delayed ACK was cancelled */
	conn_end(&c);
}

/* CLOSE in CLOSE-WAIT: FIN, LAST-ACK; its ACK: CLOSED, nothing sent. */
static void test_close_wait_shutdown_wr_walks_last_ack(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_ACTIVE | M_TS, PEER_ISS);
	drive(&c, TW_CLOSE_WAIT);
	our_fin(&c);
	assert_int_equal(h_state(c.s), TW_LAST_ACK);
	peer_acks_all(&c);
	assert_int_equal(h_state(c.s), TW_CLOSED);
	assert_int_equal(tw_sock_error(c.s), 0);
	tw_close(c.s);
	c.s = NULL;
	conn_end(&c);
}

/* The same with tw_close: the orphan in LAST-ACK goes as soon as its FIN is ACKed. */
static void check_close_wait_close(unsigned mode)
{
	struct conn c;
	conn_open(&c, mode, PEER_ISS);
	drive(&c, TW_CLOSE_WAIT);
	uint32_t base = c.l ? 1 : 0;
	assert_int_equal(tw_close(c.s), 0);
	c.s = NULL;
	expect_seg(&c, WIRE_TCP_FIN | WIRE_TCP_ACK, c.snd_nxt, c.rcv_nxt);
	c.snd_nxt++;
	h_expect_none(c.h);
	assert_int_equal(h_conns(c.h), base + 1);
	peer_acks_all(&c);
	assert_int_equal(h_conns(c.h), base);
	conn_end(&c);
}

static void test_close_wait_close_freed_on_ack(void **state)
{
	(void)state;
	check_close_wait_close(M_PASSIVE | M_TS);
}

static void test_close_wait_close_freed_on_ack_ipv6(void **state)
{
	(void)state;
	check_close_wait_close(M_ACTIVE | M_V6);
}

/* ------------------------------------------------------- simultaneous close */

/* FIN-WAIT-1 receives a FIN that does not ACK ours: CLOSING, with an ACK at once. */
static void test_fin_wait_1_fin_enters_closing(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	our_fin(&c);
	peer_fin(&c, c.snd_nxt - 1);
	expect_ack(&c);                    /* <SEQ=SND.NXT><ACK=RCV.NXT>, the FIN counted */
	h_expect_none(c.h);
	assert_int_equal(h_state(c.s), TW_CLOSING);
	conn_end(&c);
}

/* CLOSING: the ACK of our FIN enters TIME-WAIT, sending nothing; 2 MSL later it is gone. */
static void test_closing_ack_enters_time_wait(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_ACTIVE, PEER_ISS);
	drive(&c, TW_CLOSING);
	peer_acks_all(&c);
	assert_int_equal(h_state(c.s), TW_TIME_WAIT);
	h_advance(c.h, TIME_WAIT_US);
	h_expect_none(c.h);
	assert_int_equal(h_state(c.s), TW_CLOSED);
	tw_close(c.s);
	c.s = NULL;
	conn_end(&c);
}

/* FIN-WAIT-1 receives FIN with the ACK of our FIN: TIME-WAIT directly, with an ACK at once. */
static void test_fin_wait_1_fin_ack_enters_time_wait(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE, PEER_ISS);
	our_fin(&c);
	peer_fin(&c, c.snd_nxt);
	expect_ack(&c);
	h_expect_none(c.h);
	assert_int_equal(h_state(c.s), TW_TIME_WAIT);
	conn_end(&c);
}

/* --------------------------------------------------------------- TIME-WAIT */

/* A retransmitted FIN is ACKed again and restarts the 2 MSL timer. */
static void test_time_wait_fin_retransmit_acked_restarts_timer(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	drive(&c, TW_TIME_WAIT);
	h_advance(c.h, 30000000);
	struct h_seg f = pseg(&c, WIRE_TCP_FIN | WIRE_TCP_ACK, c.rcv_nxt - 1, c.snd_nxt);
	feed(&c, &f);
	expect_ack(&c);
	h_expect_none(c.h);
	h_advance(c.h, 30000000);          /* 60 s after the first FIN: still there */
	assert_int_equal(h_state(c.s), TW_TIME_WAIT);
	h_advance(c.h, TIME_WAIT_US - 30000000 - 1);
	assert_int_equal(h_state(c.s), TW_TIME_WAIT);
	h_advance(c.h, 1);                 /* 60 s after the retransmission: gone */
	assert_int_equal(h_state(c.s), TW_CLOSED);
	h_expect_none(c.h);
	tw_close(c.s);
	c.s = NULL;
	conn_end(&c);
}

/* A RST at RCV.NXT ends TIME-WAIT at once (RFC 9293 3.10.7.4 second; RFC 1337 notwithstanding, as Linux). */
static void test_time_wait_rst_at_rcv_nxt_ends(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_ACTIVE | M_TS, PEER_ISS);
	tw_close(c.s);
	c.s = NULL;
	expect_seg(&c, WIRE_TCP_FIN | WIRE_TCP_ACK, c.snd_nxt, c.rcv_nxt);
	c.snd_nxt++;
	peer_acks_all(&c);
	peer_fin(&c, c.snd_nxt);
	expect_ack(&c);
	assert_int_equal(h_conns(c.h), 1);
	struct h_seg r = pseg(&c, WIRE_TCP_RST, c.rcv_nxt, 0);
	assert_int_equal(feed(&c, &r), 0);
	h_expect_none(c.h);
	assert_int_equal(h_conns(c.h), 0);
	conn_end(&c);
}

/*
 * RFC 1337 with protection on (Linux's tcp_rfc1337 = 1): the same RST is
 * ignored, and TIME-WAIT runs its full 2 MSL, the timer not restarted.
 */
static void test_time_wait_rst_ignored_with_rfc1337(void **state)
{
	(void)state;
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.rfc1337 = true;
	struct conn c;
	conn_open_on(&c, h_new_cfg(&cfg), NULL, PEER_PORT, M_ACTIVE | M_TS, PEER_ISS);
	tw_close(c.s);
	c.s = NULL;
	expect_seg(&c, WIRE_TCP_FIN | WIRE_TCP_ACK, c.snd_nxt, c.rcv_nxt);
	c.snd_nxt++;
	peer_acks_all(&c);
	peer_fin(&c, c.snd_nxt);
	expect_ack(&c);
	h_advance(c.h, 30000000);
	struct h_seg r = pseg(&c, WIRE_TCP_RST, c.rcv_nxt, 0);
	assert_int_equal(feed(&c, &r), -TW_DROP_TIME_WAIT_RST);
	h_expect_none(c.h);
	assert_int_equal(h_conns(c.h), 1);
	h_advance(c.h, 29000000);
	assert_int_equal(h_conns(c.h), 1);   /* 59 s after the FIN: still in TIME-WAIT */
	h_advance(c.h, 2000000);
	assert_int_equal(h_conns(c.h), 0);   /* 60 s from the FIN, not from the RST */
	conn_end(&c);
}

/* RFC 5961 3.2: a RST in TIME-WAIT that is not at RCV.NXT does not end it. */
static void test_time_wait_rst_not_at_rcv_nxt_ignored(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE, PEER_ISS);
	drive(&c, TW_TIME_WAIT);
	struct h_seg r = pseg(&c, WIRE_TCP_RST, c.rcv_nxt + 1, 0);
	feed(&c, &r);
	struct h_seg r2 = pseg(&c, WIRE_TCP_RST, c.rcv_nxt - 1, 0);
	feed(&c, &r2);
	while (h_pending(c.h)) {           /* a challenge ACK is allowed; a RST never */
		struct wire_tcp t = h_next(c.h);
		assert_int_equal(t.flags & WIRE_TCP_RST, 0);
	}
	assert_int_equal(h_state(c.s), TW_TIME_WAIT);
	conn_end(&c);
}

/*
 * RFC 9293 3.6.1 (and Linux): a new SYN with a higher sequence number to a
 * TIME-WAIT connection whose listener exists opens a new connection, with an
 * ISS above anything the old incarnation used.
 */
static void check_time_wait_syn_reopens(unsigned mode)
{
	struct conn c;
	conn_open(&c, mode, PEER_ISS);
	drive(&c, TW_TIME_WAIT);
	tw_close(c.s);
	c.s = NULL;
	assert_int_equal(h_conns(c.h), 2);
	uint32_t old_snd_nxt = c.snd_nxt;
	uint32_t new_irs = c.rcv_nxt + 100000;
	struct h_seg syn = h_seg(WIRE_TCP_SYN, new_irs, 0);
	if (c.ts)
		h_opt_linux_syn(&syn, c.peer_ts + 5000, 0);
	else
		h_opt_mss(&syn, 1460);
	assert_int_equal(h_feed(c.h, &syn), 0);
	struct wire_tcp sa = h_next(c.h);
	assert_int_equal(sa.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
	assert_int_equal(sa.ack, new_irs + 1);
	assert_true((int32_t)(sa.seq - old_snd_nxt) > 0);   /* ISS above the old SND.NXT */
	h_expect_none(c.h);
	assert_int_equal(h_conns(c.h), 2);  /* the listener and the new half-open connection */

	/* The handshake completes into a fresh connection. */
	struct h_seg ack = h_seg(WIRE_TCP_ACK, new_irs + 1, sa.seq + 1);
	ack.wnd = PEER_WND;
	if (c.ts) {
		h_opt_nop(&ack);
		h_opt_nop(&ack);
		h_opt_ts(&ack, c.peer_ts + 5001, sa.opt.ts_val);
	}
	assert_int_equal(h_feed(c.h, &ack), 0);
	h_expect_none(c.h);
	int err = 0;
	struct tw_sock *n = tw_accept(c.l, NULL, &err);
	assert_non_null(n);
	struct tw_conn_info ci = h_info(n);
	assert_int_equal(ci.state, TW_ESTABLISHED);
	assert_int_equal(ci.iss, sa.seq);
	assert_int_equal(ci.irs, new_irs);
	tw_abort(n);
	h_next(c.h);                        /* its RST */
	conn_end(&c);
}

static void test_time_wait_syn_higher_seq_reopens(void **state)
{
	(void)state;
	check_time_wait_syn_reopens(M_PASSIVE | M_TS);
}

static void test_time_wait_syn_higher_seq_reopens_ipv6(void **state)
{
	(void)state;
	check_time_wait_syn_reopens(M_PASSIVE | M_V6);
}

/* An old SYN (below RCV.NXT, no newer timestamp) does not reopen: it is ACKed and TIME-WAIT stays. */
static void test_time_wait_syn_lower_seq_acked(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE, PEER_ISS);
	drive(&c, TW_TIME_WAIT);
	struct h_seg syn = h_seg(WIRE_TCP_SYN, c.rcv_nxt - 10, 0);
	h_opt_mss(&syn, 1460);
	feed(&c, &syn);
	expect_ack(&c);
	h_expect_none(c.h);
	assert_int_equal(h_state(c.s), TW_TIME_WAIT);
	conn_end(&c);
}

/*
 * With no listener, a new SYN cannot open anything: TIME-WAIT keeps its
 * protection and answers with an ACK (RFC 5961 4.2's challenge; Linux's
 * TCP_TW_SYN falls through to TCP_TW_ACK).
 */
static void test_time_wait_syn_without_listener_acked(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_ACTIVE | M_TS, PEER_ISS);
	drive(&c, TW_TIME_WAIT);
	struct h_seg syn = pseg(&c, WIRE_TCP_SYN, c.rcv_nxt + 100000, 0);
	feed(&c, &syn);
	expect_ack(&c);
	h_expect_none(c.h);
	assert_int_equal(h_state(c.s), TW_TIME_WAIT);
	conn_end(&c);
}

/* ------------------------------------------------------- resets on close */

/* RFC 2525 2.17: closing with unread data sends R. seq=SND.NXT ack=RCV.NXT, and the connection is gone. */
static void check_close_unread_resets(unsigned mode)
{
	struct conn c;
	conn_open(&c, mode, 0xfffffffdu);   /* the data crosses 2^32 */
	feed_data(&c, c.rcv_nxt, c.snd_nxt, "unread", 6);
	c.rcv_nxt += 6;
	expect_ack(&c);
	assert_int_equal(tw_close(c.s), 0);
	c.s = NULL;
	expect_rst_ack(&c);
	h_expect_none(c.h);
	assert_int_equal(h_conns(c.h), c.l ? 1 : 0);
	/* Gone: the peer's next segment meets a closed port, <SEQ=SEG.ACK><CTL=RST>. */
	struct h_seg more = pseg(&c, WIRE_TCP_ACK, c.rcv_nxt, c.snd_nxt);
	feed(&c, &more);
	expect_seg(&c, WIRE_TCP_RST, c.snd_nxt, 0);
	conn_end(&c);
}

static void test_established_close_unread_sends_rst(void **state)
{
	(void)state;
	check_close_unread_resets(M_PASSIVE | M_TS);
}

static void test_established_close_unread_sends_rst_ipv6(void **state)
{
	(void)state;
	check_close_unread_resets(M_ACTIVE | M_V6);
}

/* Partly read is still unread. */
static void test_established_close_partly_read_sends_rst(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_ACTIVE, PEER_ISS);
	feed_data(&c, c.rcv_nxt, c.snd_nxt, "unread", 6);
	c.rcv_nxt += 6;
	expect_ack(&c);
	char buf[3];
	assert_int_equal(tw_recv(c.s, buf, sizeof(buf), 0), 3);
	assert_int_equal(tw_close(c.s), 0);
	c.s = NULL;
	expect_rst_ack(&c);
	h_expect_none(c.h);
	conn_end(&c);
}

/* Everything read: the close is graceful from start to end, and no RST is ever sent. */
static void test_established_close_all_read_never_rst(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	feed_data(&c, c.rcv_nxt, c.snd_nxt, "hello", 5);
	c.rcv_nxt += 5;
	expect_ack(&c);
	char buf[16];
	assert_int_equal(tw_recv(c.s, buf, sizeof(buf), 0), 5);
	h_expect_none(c.h);                /* reading 5 bytes of a 128 KiB window calls for no update */
	assert_int_equal(tw_close(c.s), 0);
	c.s = NULL;
	expect_seg(&c, WIRE_TCP_FIN | WIRE_TCP_ACK, c.snd_nxt, c.rcv_nxt);
	c.snd_nxt++;
	peer_acks_all(&c);
	peer_fin(&c, c.snd_nxt);
	expect_ack(&c);
	h_advance(c.h, TIME_WAIT_US);
	h_expect_none(c.h);
	assert_no_rst_sent(c.h);
	conn_end(&c);
}

/* CLOSE-WAIT with everything read (the FIN is no unread data): FIN, never RST. */
static void test_close_wait_close_all_read_sends_fin(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_ACTIVE | M_TS, PEER_ISS);
	feed_data(&c, c.rcv_nxt, c.snd_nxt, "bye", 3);
	c.rcv_nxt += 3;
	expect_ack(&c);
	drive(&c, TW_CLOSE_WAIT);
	char buf[8];
	assert_int_equal(tw_recv(c.s, buf, sizeof(buf), 0), 3);
	assert_int_equal(tw_recv(c.s, buf, sizeof(buf), 0), 0);
	h_expect_none(c.h);
	assert_int_equal(tw_close(c.s), 0);
	c.s = NULL;
	expect_seg(&c, WIRE_TCP_FIN | WIRE_TCP_ACK, c.snd_nxt, c.rcv_nxt);
	c.snd_nxt++;
	peer_acks_all(&c);
	assert_no_rst_sent(c.h);
	conn_end(&c);
}

/* RFC 9293 3.10.6 ABORT: R. seq=SND.NXT ack=RCV.NXT, and the connection is gone. */
static void test_established_abort_sends_rst(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	tw_abort(c.s);
	c.s = NULL;
	expect_rst_ack(&c);
	h_expect_none(c.h);
	assert_int_equal(h_conns(c.h), 1);
	conn_end(&c);
}

/* ABORT with data we sent still unacknowledged: the RST's seq is SND.NXT, past that data. */
static void test_established_abort_with_unacked_data_sends_rst_at_snd_nxt(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_ACTIVE, PEER_ISS);
	assert_int_equal(tw_send(c.s, "pending", 7, 0), 7);
	expect_seg(&c, WIRE_TCP_ACK | WIRE_TCP_PSH, c.snd_nxt, c.rcv_nxt);
	c.snd_nxt += 7;
	tw_abort(c.s);
	c.s = NULL;
	expect_rst_ack(&c);
	h_expect_none(c.h);
	conn_end(&c);
}

/* SO_LINGER 0 then close: R. seq=SND.NXT, no FIN, gone. */
static void test_established_linger0_close_sends_rst(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_ACTIVE | M_TS, PEER_ISS);
	assert_int_equal(tw_setsockopt(c.s, TW_SO_LINGER0, 1), 0);
	assert_int_equal(tw_close(c.s), 0);
	c.s = NULL;
	expect_rst_ack(&c);
	h_expect_none(c.h);
	assert_int_equal(h_conns(c.h), 0);
	conn_end(&c);
}

/* Linger 0 in CLOSE-WAIT: RST too, acknowledging the peer's FIN. */
static void test_close_wait_linger0_close_sends_rst(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE, PEER_ISS);
	drive(&c, TW_CLOSE_WAIT);
	assert_int_equal(tw_setsockopt(c.s, TW_SO_LINGER0, 1), 0);
	assert_int_equal(tw_close(c.s), 0);
	c.s = NULL;
	expect_rst_ack(&c);
	h_expect_none(c.h);
	conn_end(&c);
}

/* ----------------------------------------------- other states and listeners */

/* CLOSE in SYN-SENT: "delete the TCB", nothing is sent, nothing retransmitted. */
static void test_syn_sent_close_sends_nothing(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *s = h_connect(h);
	uint32_t iss = h_info(s).iss;
	h_expect(h, WIRE_TCP_SYN, iss, 0);
	assert_int_equal(tw_close(s), 0);
	h_expect_none(h);
	assert_int_equal(h_conns(h), 0);
	h_advance(h, 10000000);
	h_expect_none(h);                  /* no SYN retransmission */
	/* A late SYN-ACK meets no connection: <SEQ=SEG.ACK><CTL=RST>. */
	struct h_seg sa = h_seg(WIRE_TCP_SYN | WIRE_TCP_ACK, PEER_ISS, iss + 1);
	h_opt_mss(&sa, 1460);
	h_feed(h, &sa);
	h_expect(h, WIRE_TCP_RST, iss + 1, 0);
	h_expect_none(h);
	h_free(h);
}

/*
 * Closing a listener: a connection it completed but nobody accepted gets
 * R. seq=SND.NXT ack=RCV.NXT (as Linux); a half-open one goes silently.
 */
static void test_listen_close_resets_unaccepted_drops_half_open(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 8);
	struct conn done;                  /* handshake completed, not accepted */
	memset(&done, 0, sizeof(done));
	done.h = h;
	done.port = PEER_PORT;
	struct h_seg syn = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
	h_opt_mss(&syn, 1460);
	h_feed(h, &syn);
	struct wire_tcp sa = h_next(h);
	done.snd_nxt = sa.seq + 1;
	done.rcv_nxt = PEER_ISS + 1;
	struct h_seg ack = pseg(&done, WIRE_TCP_ACK, done.rcv_nxt, done.snd_nxt);
	assert_int_equal(feed(&done, &ack), 0);

	struct h_seg syn2 = h_seg(WIRE_TCP_SYN, 0x7ffffff0u, 0);   /* half-open */
	syn2.sport = PEER_PORT + 1;
	h_opt_mss(&syn2, 1460);
	h_feed(h, &syn2);
	struct wire_tcp sa2 = h_next(h);
	assert_int_equal(sa2.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
	assert_int_equal(sa2.dport, PEER_PORT + 1);
	h_expect_none(h);
	assert_int_equal(h_conns(h), 3);
	assert_true(tw_events(l) & TW_POLLIN);

	assert_int_equal(tw_close(l), 0);
	expect_rst_ack(&done);             /* only the established one hears of it */
	h_expect_none(h);
	assert_int_equal(h_conns(h), 0);
	h_advance(h, 10000000);
	h_expect_none(h);                  /* no SYN-ACK retransmission for the half-open one */
	h_free(h);
}

/* An orphaned FIN-WAIT-2 (closed by the application) ends after cfg.fin_wait2_us without the peer's FIN. */
static void check_fin_wait_2_orphan_times_out(uint32_t fin_wait2_us)
{
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	if (fin_wait2_us)
		cfg.fin_wait2_us = fin_wait2_us;
	else
		fin_wait2_us = cfg.fin_wait2_us;
	struct conn c;
	conn_open_on(&c, h_new_cfg(&cfg), NULL, PEER_PORT, M_PASSIVE | M_TS, PEER_ISS);
	assert_int_equal(tw_close(c.s), 0);
	c.s = NULL;
	expect_seg(&c, WIRE_TCP_FIN | WIRE_TCP_ACK, c.snd_nxt, c.rcv_nxt);
	c.snd_nxt++;
	peer_acks_all(&c);                 /* FIN-WAIT-2 */
	assert_int_equal(h_conns(c.h), 2);
	h_advance(c.h, fin_wait2_us - 1);
	assert_int_equal(h_conns(c.h), 2);
	h_advance(c.h, 1);
	assert_int_equal(h_conns(c.h), 1);
	h_expect_none(c.h);
	/* A late FIN now meets no connection. */
	struct h_seg f = pseg(&c, WIRE_TCP_FIN | WIRE_TCP_ACK, c.rcv_nxt, c.snd_nxt);
	feed(&c, &f);
	expect_seg(&c, WIRE_TCP_RST, c.snd_nxt, 0);
	conn_end(&c);
}

static void test_fin_wait_2_orphan_times_out(void **state)
{
	(void)state;
	check_fin_wait_2_orphan_times_out(0);
}

static void test_fin_wait_2_orphan_timeout_configurable(void **state)
{
	(void)state;
	check_fin_wait_2_orphan_times_out(7000000);
}

/* A FIN-WAIT-2 the application still holds (half-close) waits for the peer as long as it takes. */
static void test_fin_wait_2_not_orphaned_waits(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_ACTIVE, PEER_ISS);
	drive(&c, TW_FIN_WAIT_2);
	h_advance(c.h, 600000000);
	assert_int_equal(h_state(c.s), TW_FIN_WAIT_2);
	h_expect_none(c.h);
	/* And the peer may still send. */
	feed_data(&c, c.rcv_nxt, c.snd_nxt, "late", 4);
	c.rcv_nxt += 4;
	expect_ack(&c);
	assert_int_equal(tw_readable(c.s), 4);
	conn_end(&c);
}

/* Data for an orphan (closed by the application) in FIN-WAIT-1 or -2: nobody will read it, RST. */
static void check_orphan_data_resets(enum tw_state st)
{
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	assert_int_equal(tw_close(c.s), 0);
	c.s = NULL;
	expect_seg(&c, WIRE_TCP_FIN | WIRE_TCP_ACK, c.snd_nxt, c.rcv_nxt);
	c.snd_nxt++;
	uint32_t ack = c.snd_nxt - 1;      /* FIN-WAIT-1: our FIN not yet ACKed */
	if (st == TW_FIN_WAIT_2) {
		peer_acks_all(&c);
		ack = c.snd_nxt;
	}
	feed_data(&c, c.rcv_nxt, ack, "nobody", 6);
	/* As Linux: the answer to the segment, [R] seq=SEG.ACK win 0 (the data was not taken). */
	struct wire_tcp rst = h_next(c.h);
	assert_int_equal(rst.flags, WIRE_TCP_RST);
	assert_int_equal(rst.seq, ack);
	assert_int_equal(rst.wnd, 0);
	h_expect_none(c.h);
	assert_int_equal(h_conns(c.h), 1);
	conn_end(&c);
}

static void test_fin_wait_1_orphan_data_sends_rst(void **state)
{
	(void)state;
	check_orphan_data_resets(TW_FIN_WAIT_1);
}

static void test_fin_wait_2_orphan_data_sends_rst(void **state)
{
	(void)state;
	check_orphan_data_resets(TW_FIN_WAIT_2);
}

/* ----------------------------------------------------------------- shutdown */

/* shutdown(WR): a FIN, and the peer's data can still be read; then the peer's FIN ends it. */
static void test_established_shutdown_wr_still_reads(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, 0xfffffffbu);
	our_fin(&c);
	assert_int_equal(h_state(c.s), TW_FIN_WAIT_1);
	feed_data(&c, c.rcv_nxt, c.snd_nxt, "more data", 9);   /* also ACKs our FIN */
	c.rcv_nxt += 9;
	expect_ack(&c);
	assert_int_equal(h_state(c.s), TW_FIN_WAIT_2);
	char buf[16];
	assert_int_equal(tw_recv(c.s, buf, sizeof(buf), 0), 9);
	assert_memory_equal(buf, "more data", 9);
	h_expect_none(c.h);
	peer_fin(&c, c.snd_nxt);
	expect_ack(&c);
	assert_int_equal(h_state(c.s), TW_TIME_WAIT);
	assert_int_equal(tw_recv(c.s, buf, sizeof(buf), 0), 0);
	conn_end(&c);
}

/* shutdown(RD): tw_recv returns 0 (end of stream) and nothing goes on the wire. */
static void test_established_shutdown_rd_recv_returns_zero(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_ACTIVE | M_TS, PEER_ISS);
	assert_int_equal(tw_shutdown(c.s, TW_SHUT_RD), 0);
	h_expect_none(c.h);
	char buf[8];
	assert_int_equal(tw_recv(c.s, buf, sizeof(buf), 0), 0);
	assert_int_equal(h_state(c.s), TW_ESTABLISHED);
	/* Sending still works. */
	assert_int_equal(tw_send(c.s, "x", 1, 0), 1);
	expect_seg(&c, WIRE_TCP_ACK | WIRE_TCP_PSH, c.snd_nxt, c.rcv_nxt);
	c.snd_nxt++;
	conn_end(&c);
}

/* shutdown on a socket that is not connected: -ENOTCONN. */
static void test_closed_shutdown_enotconn(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	int err = 0;
	struct tw_sock *s = tw_socket(h->st, &err);
	assert_non_null(s);
	assert_int_equal(tw_shutdown(s, TW_SHUT_WR), -E_NOTCONN);
	assert_int_equal(tw_shutdown(s, TW_SHUT_RD), -E_NOTCONN);
	assert_int_equal(tw_shutdown(s, TW_SHUT_RDWR), -E_NOTCONN);
	h_expect_none(h);
	tw_close(s);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

/* tw_send after shutdown(WR): -EPIPE, and no data follows the FIN. */
static void test_fin_wait_1_send_after_shutdown_wr_epipe(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_ACTIVE, PEER_ISS);
	our_fin(&c);
	assert_int_equal(tw_send(c.s, "late", 4, 0), -E_PIPE);
	h_expect_none(c.h);
	peer_acks_all(&c);
	assert_int_equal(tw_send(c.s, "late", 4, 0), -E_PIPE);   /* FIN-WAIT-2 too */
	h_expect_none(c.h);
	conn_end(&c);
}

/* tw_send after the peer's RST: first -ECONNRESET, then an error (never success or -EAGAIN). */
static void test_established_send_after_rst_econnreset(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	struct h_seg r = pseg(&c, WIRE_TCP_RST | WIRE_TCP_ACK, c.rcv_nxt, c.snd_nxt);
	assert_int_equal(feed(&c, &r), 0);
	unsigned ev = tw_events(c.s);
	assert_int_equal(ev & (TW_POLLERR | TW_POLLHUP), TW_POLLERR | TW_POLLHUP);
	assert_int_equal(tw_send(c.s, "x", 1, 0), -E_CONNRESET);
	long again = tw_send(c.s, "x", 1, 0);
	assert_true(again < 0);
	assert_true(again != -E_AGAIN);
	h_expect_none(c.h);
	tw_close(c.s);
	c.s = NULL;
	conn_end(&c);
}

#define T(name) cmocka_unit_test(name)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_established_shutdown_wr_walks_active_close),
		T(test_established_close_time_wait_expires),
		T(test_established_close_time_wait_expires_ipv6),
		T(test_time_wait_duration_configurable),
		T(test_established_fin_enters_close_wait),
		T(test_established_fin_ack_delayed),
		T(test_established_fin_before_data_acked_at_once),
		T(test_established_fin_ack_rides_on_our_fin),
		T(test_close_wait_shutdown_wr_walks_last_ack),
		T(test_close_wait_close_freed_on_ack),
		T(test_close_wait_close_freed_on_ack_ipv6),
		T(test_fin_wait_1_fin_enters_closing),
		T(test_closing_ack_enters_time_wait),
		T(test_fin_wait_1_fin_ack_enters_time_wait),
		T(test_time_wait_fin_retransmit_acked_restarts_timer),
		T(test_time_wait_rst_at_rcv_nxt_ends),
		T(test_time_wait_rst_ignored_with_rfc1337),
		T(test_time_wait_rst_not_at_rcv_nxt_ignored),
		T(test_time_wait_syn_higher_seq_reopens),
		T(test_time_wait_syn_higher_seq_reopens_ipv6),
		T(test_time_wait_syn_lower_seq_acked),
		T(test_time_wait_syn_without_listener_acked),
		T(test_established_close_unread_sends_rst),
		T(test_established_close_unread_sends_rst_ipv6),
		T(test_established_close_partly_read_sends_rst),
		T(test_established_close_all_read_never_rst),
		T(test_close_wait_close_all_read_sends_fin),
		T(test_established_abort_sends_rst),
		T(test_established_abort_with_unacked_data_sends_rst_at_snd_nxt),
		T(test_established_linger0_close_sends_rst),
		T(test_close_wait_linger0_close_sends_rst),
		T(test_syn_sent_close_sends_nothing),
		T(test_listen_close_resets_unaccepted_drops_half_open),
		T(test_fin_wait_2_orphan_times_out),
		T(test_fin_wait_2_orphan_timeout_configurable),
		T(test_fin_wait_2_not_orphaned_waits),
		T(test_fin_wait_1_orphan_data_sends_rst),
		T(test_fin_wait_2_orphan_data_sends_rst),
		T(test_established_shutdown_wr_still_reads),
		T(test_established_shutdown_rd_recv_returns_zero),
		T(test_closed_shutdown_enotconn),
		T(test_fin_wait_1_send_after_shutdown_wr_epipe),
		T(test_established_send_after_rst_econnreset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
