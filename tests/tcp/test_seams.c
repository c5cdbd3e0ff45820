/*
 * The engine's seams, each shown on the wire: the event hook (state changes,
 * retransmissions, drops with their reason), structs that carry their size,
 * buffers that follow the data, the send queue's per-segment records, the
 * congestion control behind tcp_cc_ops, and the recovery state.
 */
#include <errno.h>

#include "peer.h"
#include "tcp/tcp.h"

/* ------------------------------------------------------------ event capture */

#define MAX_EVENTS 64

struct events {
	struct tw_event ev[MAX_EVENTS];
	size_t n;
};

static void record_event(void *ctx, const struct tw_event *ev)
{
	struct events *e = ctx;
	assert_int_equal(ev->size, sizeof(*ev));
	if (e->n < MAX_EVENTS)
		e->ev[e->n++] = *ev;
}

/* The events of one type, in order; returns how many. */
static size_t events_of(const struct events *e, enum tw_event_type type, const struct tw_event **out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < e->n; i++)
		if (e->ev[i].type == type && n < cap)
			out[n++] = &e->ev[i];
	return n;
}

static struct tcp_conn *conn_of(struct tw_sock *s) { return (struct tcp_conn *)s; }

/* A stack and one connection the peer opened to it, with what `est` offers. */
static struct harness *open_conn(struct peer *p, uint8_t family, struct est est)
{
	struct harness *h = h_new(family);
	est_open(p, h, &est);
	return h;
}

/* ------------------------------------------------------------------ events */

/* A passive open, then our close: every state the connection passes through, with its endpoints. */
static void test_event_state_changes_of_a_connection(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct events e = { .n = 0 };
	tw_stack_set_event_hook(h->st, record_event, &e);
	struct peer p;
	struct est est = est_default();
	est_open(&p, h, &est);
	tw_shutdown(p.s, TW_SHUT_WR);
	expect_seg(&p, WIRE_TCP_ACK | WIRE_TCP_FIN, p.iss + 1, p.seq, 0);
	peer_ack(&p, p.iss + 2);

	const struct tw_event *st[8];
	size_t n = events_of(&e, TW_EVENT_STATE, st, 8);
	const enum tw_state want[][2] = {
		{ TW_CLOSED, TW_LISTEN },            /* the listener */
		{ TW_CLOSED, TW_SYN_RECEIVED },      /* the SYN */
		{ TW_SYN_RECEIVED, TW_ESTABLISHED }, /* the third segment */
		{ TW_ESTABLISHED, TW_FIN_WAIT_1 },   /* shutdown */
		{ TW_FIN_WAIT_1, TW_FIN_WAIT_2 },    /* our FIN acknowledged */
	};
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(st[i]->old_state, want[i][0]);
		assert_int_equal(st[i]->new_state, want[i][1]);
	}
	assert_ptr_equal(st[0]->sock, p.l);
	assert_ptr_equal(st[2]->sock, p.s);
	assert_int_equal(st[2]->local.port, OUR_PORT);
	assert_int_equal(st[2]->remote.port, PEER_PORT);
	assert_memory_equal(st[2]->remote.addr.bytes, h->peer.bytes, 4);
	assert_int_equal(st[2]->remote.addr.family, TW_AF_INET);
	h_free(h);
}

/* A timeout resends the segment: the hook hears which bytes and why. */
static void test_event_retransmission_by_timeout(void **state)
{
	(void)state;
	struct peer p;
	struct harness *h = open_conn(&p, TW_AF_INET6, est_default());
	struct events e = { .n = 0 };
	tw_stack_set_event_hook(h->st, record_event, &e);
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 100);
	h_advance(h, 300000);   /* past the RTO of 200 ms the handshake's RTT gives */
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 100);

	const struct tw_event *r[4];
	assert_int_equal(events_of(&e, TW_EVENT_RETRANSMIT, r, 4), 1);
	assert_int_equal(r[0]->seq, p.iss + 1);
	assert_int_equal(r[0]->len, 100);
	assert_int_equal(r[0]->rtx, TW_RTX_TIMEOUT);
	assert_ptr_equal(r[0]->sock, p.s);
	assert_int_equal(h_info(p.s).recovery, TW_RECOVERY_LOSS);
	peer_ack(&p, p.iss + 101);
	assert_int_equal(h_info(p.s).recovery, TW_RECOVERY_OPEN);
	h_free(h);
}

/* A SYN-ACK resent by its timer is a retransmission of one sequence number, the SYN's. */
static void test_event_retransmission_of_synack(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct events e = { .n = 0 };
	tw_stack_set_event_hook(h->st, record_event, &e);
	h_listen(h, 4);
	struct h_seg syn = h_seg(WIRE_TCP_SYN, 1000, 0);
	h_opt_mss(&syn, 1460);
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp first = h_next(h);
	assert_int_equal(first.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
	h_advance(h, 1000000);   /* the initial RTO */
	h_expect(h, WIRE_TCP_SYN | WIRE_TCP_ACK, first.seq, 1001);
	const struct tw_event *r[4];
	assert_int_equal(events_of(&e, TW_EVENT_RETRANSMIT, r, 4), 1);
	assert_int_equal(r[0]->rtx, TW_RTX_SYN);
	assert_int_equal(r[0]->seq, first.seq);
	assert_int_equal(r[0]->len, 1);
	h_free(h);
}

/* Drops tell their reason: tw_input's result, the counter, and the event agree. */
static void test_event_drops_with_reason(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct events e = { .n = 0 };
	tw_stack_set_event_hook(h->st, record_event, &e);

	/* A SYN to a port nobody listens on: answered with RST, dropped as no-socket. */
	struct h_seg syn = h_seg(WIRE_TCP_SYN, 5000, 0);
	assert_int_equal(h_feed(h, &syn), -TW_DROP_NO_SOCKET);
	h_expect(h, WIRE_TCP_RST | WIRE_TCP_ACK, 0, 5001);
	/* The same SYN with its checksum broken. */
	uint8_t buf[128];
	size_t len = h_build(h, &syn, buf, sizeof(buf));
	buf[20 + 16] ^= 0x01;   /* the TCP checksum field */
	assert_int_equal(tw_input(h->st, buf, len, h->now), -TW_DROP_TCP_CHECKSUM);
	/* To an address that is not the stack's. */
	struct tw_addr ours = h->ours;
	h->ours.bytes[3] ^= 0x7f;
	len = h_build(h, &syn, buf, sizeof(buf));
	h->ours = ours;
	assert_int_equal(tw_input(h->st, buf, len, h->now), -TW_DROP_NOT_LOCAL);
	h_expect_none(h);

	const struct tw_event *d[4];
	assert_int_equal(events_of(&e, TW_EVENT_DROP, d, 4), 3);
	assert_int_equal(d[0]->drop, TW_DROP_NO_SOCKET);
	assert_int_equal(d[0]->local.port, OUR_PORT);
	assert_int_equal(d[0]->remote.port, PEER_PORT);
	assert_null(d[0]->sock);
	assert_int_equal(d[1]->drop, TW_DROP_TCP_CHECKSUM);
	assert_int_equal(d[2]->drop, TW_DROP_NOT_LOCAL);
	struct tw_stack_stats ss;
	tw_stack_stats(h->st, &ss);
	assert_int_equal(ss.drops[TW_DROP_NO_SOCKET], 1);
	assert_int_equal(ss.drops[TW_DROP_TCP_CHECKSUM], 1);
	assert_int_equal(ss.drops[TW_DROP_NOT_LOCAL], 1);
	h_free(h);
}

/* Every drop reason has its own name. */
static void test_drop_names_distinct(void **state)
{
	(void)state;
	for (int i = 1; i < TW_DROP_COUNT; i++) {
		assert_string_not_equal(tw_drop_name((enum tw_drop)i), "?");
		for (int j = 1; j < i; j++)
			assert_string_not_equal(tw_drop_name((enum tw_drop)i), tw_drop_name((enum tw_drop)j));
	}
	assert_string_equal(tw_drop_name((enum tw_drop)0), "?");
	assert_string_equal(tw_drop_name(TW_DROP_COUNT), "?");
}

/* ------------------------------------------------------------- emit path */

/*
 * A SYN-ACK needs no connection to be sent: a flow (addresses, ports) and
 * the options it offers are enough, as a SYN cookie's reply will need.
 */
static void test_emit_synack_without_a_connection(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET6);
	struct tcp_flow f = { TW_AF_INET6, h->ours.bytes, h->peer.bytes, OUR_PORT, PEER_PORT };
	struct tcp_syn_offer offer = { .mss = 1440, .wscale = 7, .sack = true, .ts = true, .ts_val = 77, .ts_ecr = 5 };
	struct wire_tcp t;
	memset(&t, 0, sizeof(t));
	t.flags = WIRE_TCP_SYN | WIRE_TCP_ACK;
	t.seq = 123456;
	t.ack = 1001;
	t.wnd = 65535;
	tcp_syn_options(&offer, &t.opt);
	assert_true(tcp_emit(h->st, &f, &t, NULL, 0, 0));
	assert_int_equal(h_conns(h), 0);
	struct wire_tcp got = h_expect(h, WIRE_TCP_SYN | WIRE_TCP_ACK, 123456, 1001);
	char layout[64];
	assert_string_equal(h_opt_layout(&got, layout, sizeof(layout)), "mss,sackOK,TS,nop,wscale");
	assert_int_equal(got.opt.mss, 1440);
	assert_int_equal(got.opt.wscale, 7);
	assert_int_equal(got.opt.ts_val, 77);
	assert_int_equal(got.opt.ts_ecr, 5);
	assert_int_equal(got.dport, PEER_PORT);
	h_free(h);
}

/* ------------------------------------------------------ structs with a size */

/* A config from an older threeway.h (shorter) gets the defaults for what it lacks. */
static void test_abi_config_from_older_header(void **state)
{
	(void)state;
	size_t older = offsetof(struct tw_stack_config, slow_start_after_idle);
	union {
		struct tw_stack_config cfg;
		uint8_t bytes[sizeof(struct tw_stack_config) + 16];
	} u;
	memset(&u, 0xa5, sizeof(u));
	tw_stack_config_init_sized(&u.cfg, older);
	assert_int_equal(u.cfg.size, older);
	for (size_t i = older; i < sizeof(u); i++)
		assert_int_equal(u.bytes[i], 0xa5);   /* nothing written past the caller's size */
	u.cfg.n_addrs = 1;
	h_addr(&u.cfg.addrs[0], TW_AF_INET, 2);
	int err = 0;
	struct tw_stack *st = tw_stack_new(&u.cfg, &err);
	assert_non_null(st);
	tw_stack_free(st);
}

/* A config from a newer threeway.h is taken when it asks nothing this library lacks. */
static void test_abi_config_from_newer_header(void **state)
{
	(void)state;
	union {
		struct tw_stack_config cfg;
		uint8_t bytes[sizeof(struct tw_stack_config) + 16];
	} u;
	memset(&u, 0xa5, sizeof(u));
	tw_stack_config_init_sized(&u.cfg, sizeof(u));
	assert_int_equal(u.cfg.size, sizeof(u));
	for (size_t i = sizeof(struct tw_stack_config); i < sizeof(u); i++)
		assert_int_equal(u.bytes[i], 0);
	int err = 0;
	struct tw_stack *st = tw_stack_new(&u.cfg, &err);
	assert_non_null(st);
	tw_stack_free(st);
	u.bytes[sizeof(struct tw_stack_config) + 3] = 1;   /* a setting this library does not have */
	assert_null(tw_stack_new(&u.cfg, &err));
	assert_int_equal(err, -E2BIG);
	/* A config never initialised says no size. */
	struct tw_stack_config raw;
	memset(&raw, 0, sizeof(raw));
	assert_null(tw_stack_new(&raw, &err));
	assert_int_equal(err, -EINVAL);
}

/* Counters and connection info are written up to the caller's size only. */
static void test_abi_stats_and_info_written_to_callers_size(void **state)
{
	(void)state;
	struct peer p;
	struct harness *h = open_conn(&p, TW_AF_INET, est_default());
	union {
		struct tw_stack_stats s;
		uint8_t bytes[sizeof(struct tw_stack_stats)];
	} st;
	size_t older = offsetof(struct tw_stack_stats, conns);
	memset(&st, 0xa5, sizeof(st));
	tw_stack_stats_sized(h->st, &st.s, older);
	assert_int_equal(st.s.in_segs, 2);
	for (size_t i = older; i < sizeof(st); i++)
		assert_int_equal(st.bytes[i], 0xa5);

	union {
		struct tw_conn_info ci;
		uint8_t bytes[sizeof(struct tw_conn_info)];
	} ci;
	older = offsetof(struct tw_conn_info, recovery);
	memset(&ci, 0xa5, sizeof(ci));
	assert_int_equal(tw_conn_info_sized(p.s, &ci.ci, older), 0);
	assert_int_equal(ci.ci.state, TW_ESTABLISHED);
	assert_int_equal(ci.ci.iss, p.iss);
	for (size_t i = older; i < sizeof(ci); i++)
		assert_int_equal(ci.bytes[i], 0xa5);
	assert_int_equal(tw_conn_info_sized(p.s, &ci.ci, 0), -EINVAL);
	assert_string_equal(h_info(p.s).cc, "newreno");
	h_free(h);
}

/* ------------------------------------------------------------------ buffers */

static uint32_t chunks_in_use(const struct harness *h)
{
	struct tw_stack_stats ss;
	tw_stack_stats(h->st, &ss);
	return ss.buffer_chunks;
}

/*
 * A 64-byte request and a 64-byte answer: buffers hold a chunk or two while
 * the bytes are there (not the 128 KiB the buffer sizes allow), and none
 * once they are read and acknowledged.
 */
static void test_buffers_follow_the_data(void **state)
{
	(void)state;
	struct peer p;
	struct harness *h = open_conn(&p, TW_AF_INET, est_default());
	assert_int_equal(chunks_in_use(h), 0);

	peer_data(&p, 0, 64);
	p.seq += 64;
	drain(h);   /* the quick ACK */
	assert_true(chunks_in_use(h) >= 1 && chunks_in_use(h) <= 2);   /* a slot array and a chunk */
	uint8_t buf[64];
	assert_int_equal(tw_recv(p.s, buf, sizeof(buf), 0), 64);
	assert_int_equal(chunks_in_use(h), 0);

	assert_int_equal(app_write(&p, 64, 0), 64);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 64);
	assert_true(chunks_in_use(h) >= 1 && chunks_in_use(h) <= 3);   /* with the segment's record */
	peer_ack(&p, p.iss + 65);
	assert_int_equal(chunks_in_use(h), 0);

	/* The chunks came back to the pool: the next exchange takes none from the C library. */
	struct tw_stack_stats before;
	tw_stack_stats(h->st, &before);
	assert_int_equal(app_write(&p, 64, 0), 64);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 64, 64);
	peer_ack(&p, p.iss + 129);
	struct tw_stack_stats after;
	tw_stack_stats(h->st, &after);
	assert_int_equal(after.buffer_chunks_allocated, before.buffer_chunks_allocated);
	h_free(h);
}

/* Out-of-order data takes the chunks it touches, not those of the gap before it. */
static void test_buffers_out_of_order_data_takes_only_its_chunks(void **state)
{
	(void)state;
	struct peer p;
	struct est est = est_default();
	est.wnd = 65535;
	struct harness *h = open_conn(&p, TW_AF_INET, est);
	/* One byte 60,000 bytes ahead: a slot array and one chunk. */
	peer_data(&p, 60000, 1);
	drain(h);
	assert_int_equal(chunks_in_use(h), 2);
	h_free(h);
}

/*
 * The stack's bound on buffered data (buffer_max_bytes) holds whatever one
 * connection's buffer would allow: data past it is not taken, not
 * acknowledged, and taken when it comes again once there is room.
 */
static void test_buffers_stack_bound_refuses_then_recovers(void **state)
{
	(void)state;
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.buffer_max_bytes = 4 * TCP_CHUNK_SIZE;   /* a slot array and three chunks of data */
	struct harness *h = h_new_cfg(&cfg);
	struct peer p;
	struct est est = est_default();
	est_open(&p, h, &est);
	for (uint32_t off = 0; off < 10000; off += 1000)
		peer_data(&p, off, 1000);
	drain(h);
	struct tw_stack_stats ss;
	tw_stack_stats(h->st, &ss);
	assert_true(ss.buffer_chunks <= 4);
	assert_true(ss.buffer_refusals > 0);
	uint32_t taken = (uint32_t)tw_readable(p.s);
	assert_true(taken >= 3 * TCP_CHUNK_SIZE - 1000 && taken <= 3 * TCP_CHUNK_SIZE);
	assert_int_equal(h_info(p.s).rcv_nxt, p.irs + 1 + taken);
	/* Read it all; the peer's retransmission of the rest is taken now. */
	static uint8_t buf[16384];
	assert_int_equal(tw_recv(p.s, buf, sizeof(buf), 0), taken);
	for (uint32_t i = 0; i < taken; i++)
		assert_int_equal(buf[i], pat(i, PEER_SALT));
	uint32_t resend = taken - taken % 1000;
	for (uint32_t off = resend; off < 10000; off += 1000) {
		peer_data(&p, off, 1000);
		uint32_t n = (uint32_t)tw_recv(p.s, buf, sizeof(buf), 0);
		(void)n;
	}
	assert_int_equal(h_info(p.s).rcv_nxt, p.irs + 1 + 10000);
	h_free(h);
}

/* --------------------------------------------------------- segment records */

/* Each segment sent has a record: when it left, and how often it went again. */
static void test_sndq_records_transmit_time_and_retransmissions(void **state)
{
	(void)state;
	struct peer p;
	struct harness *h = open_conn(&p, TW_AF_INET, est_default());
	const struct tcp_sndq *q = &conn_of(p.s)->sb->snd;
	uint64_t t0 = h->now;
	assert_int_equal(app_write(&p, 3000, 0), 3000);
	expect_data(&p, WIRE_TCP_ACK, 0, 1448);
	expect_data(&p, WIRE_TCP_ACK, 1448, 1448);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 2896, 104);
	assert_int_equal(q->n_recs, 3);
	const struct tcp_txrec *r = tcp_sndq_record(q, p.iss + 1 + 1448);
	assert_non_null(r);
	assert_int_equal(r->seq, p.iss + 1 + 1448);
	assert_int_equal(r->len, 1448);
	assert_int_equal(r->sent_at, t0);
	assert_int_equal(r->rexmits, 0);

	/* The first is acknowledged, and half the second: one record goes, one is trimmed. */
	h_advance(h, 10000);
	peer_ack(&p, p.iss + 1 + 1448 + 700);
	assert_int_equal(q->n_recs, 2);
	r = tcp_sndq_record(q, p.iss + 1 + 1448 + 700);
	assert_non_null(r);
	assert_int_equal(r->seq, p.iss + 1 + 1448 + 700);
	assert_int_equal(r->len, 748);

	/* The timeout resends from SND.UNA: the record counts it, with the new time. */
	drain(h);
	h_advance(h, 400000);
	struct wire_tcp t = h_next(h);
	assert_int_equal(t.seq, p.iss + 1 + 1448 + 700);
	r = tcp_sndq_record(q, t.seq);
	assert_int_equal(r->rexmits, 1);
	assert_true(r->sent_at > t0 + 10000);
	assert_null(tcp_sndq_record(q, p.iss + 1));   /* acknowledged: no record */
	h_free(h);
}

/* A FIN takes one sequence number in its segment's record. */
static void test_sndq_record_counts_the_fin(void **state)
{
	(void)state;
	struct peer p;
	struct harness *h = open_conn(&p, TW_AF_INET, est_default());
	assert_int_equal(app_write(&p, 10, 0), 10);
	tw_shutdown(p.s, TW_SHUT_WR);
	drain(h);
	const struct tcp_sndq *q = &conn_of(p.s)->sb->snd;
	const struct tcp_txrec *data = tcp_sndq_record(q, p.iss + 1);
	const struct tcp_txrec *fin = tcp_sndq_record(q, p.iss + 11);
	assert_non_null(data);
	assert_non_null(fin);
	assert_int_equal(data->seq + data->len, p.iss + 11 + (data == fin ? 1 : 0));
	assert_int_equal(fin->seq + fin->len, p.iss + 12);
	h_free(h);
}

/* ------------------------------------------------------- congestion control */

/* The window after a loss comes back when the loss was spurious (undo). */
static void test_cc_newreno_undo_restores_the_window(void **state)
{
	(void)state;
	struct peer p;
	struct harness *h = open_conn(&p, TW_AF_INET, est_default());
	struct tcp_conn *c = conn_of(p.s);
	const struct tcp_cc_ops *cc = c->sb->cc.ops;
	assert_ptr_equal(cc, &tcp_cc_newreno);
	c->cwnd = 40 * c->snd_mss;
	c->ssthresh = UINT32_MAX;
	c->snd.nxt = c->snd.una + 20 * c->snd_mss;   /* 20 segments in flight */
	cc->on_congestion(c);
	assert_int_equal(c->ssthresh, 10 * c->snd_mss);
	assert_int_equal(c->cwnd, 10 * c->snd_mss);
	cc->undo(c);
	assert_int_equal(c->cwnd, 40 * c->snd_mss);
	assert_int_equal(c->ssthresh, UINT32_MAX);
	c->snd.nxt = c->snd.una;
	h_free(h);
}

/* RFC 5681 4.1, Linux's way: the window halves per idle RTO, down to the initial window. */
static void test_cc_newreno_restart_after_idle(void **state)
{
	(void)state;
	struct peer p;
	struct harness *h = open_conn(&p, TW_AF_INET, est_default());
	struct tcp_conn *c = conn_of(p.s);
	uint32_t mss = c->snd_mss;
	c->cwnd = 80 * mss;
	c->ssthresh = 20 * mss;
	c->sb->cc.ops->after_idle(c, (uint64_t)c->rto_us * 2 + 1);   /* two RTOs: halved twice */
	assert_int_equal(c->cwnd, 20 * mss);
	assert_int_equal(c->ssthresh, 60 * mss);   /* three quarters of 80 */
	c->sb->cc.ops->after_idle(c, (uint64_t)c->rto_us * 100);
	assert_int_equal(c->cwnd, 10 * mss);   /* never below the initial window */
	h_free(h);
}

/* On the wire: after an idle period, a large write goes out in an initial window's worth. */
static void idle_then_burst(bool restart, uint32_t expect_segments)
{
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.slow_start_after_idle = restart;
	struct harness *h = h_new_cfg(&cfg);
	struct peer p;
	struct est est = est_default();
	est.wnd = 65535;
	est_open(&p, h, &est);
	struct tcp_conn *c = conn_of(p.s);
	c->cwnd = 40 * c->snd_mss;   /* as if grown by an earlier transfer */
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 100);
	peer_ack(&p, p.iss + 101);
	h_advance(h, 5000000);   /* idle for many RTOs */
	drain(h);
	assert_int_equal(app_write(&p, 30 * 1448, 0), 30 * 1448);
	assert_int_equal(h_pending(h), expect_segments);
	h_free(h);
}

static void test_cc_idle_restart_on_the_wire(void **state)
{
	(void)state;
	idle_then_burst(true, 10);
	idle_then_burst(false, 30);
}

/* Linux also restarts the window when an ACK opens it for data that waited through the idle time. */
static void test_cc_idle_restart_when_the_window_reopens(void **state)
{
	(void)state;
	struct peer p;
	struct est est = est_default();
	est.wnd = 65535;
	struct harness *h = open_conn(&p, TW_AF_INET, est);
	struct tcp_conn *c = conn_of(p.s);
	c->cwnd = 40 * c->snd_mss;
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 100);
	p.wnd = 0;
	peer_ack(&p, p.iss + 101);
	assert_int_equal(app_write(&p, 30 * 1448, 0), 30 * 1448);
	h_advance(h, 5000000);
	drain(h);   /* zero-window probes */
	p.wnd = 65535;
	peer_ack(&p, p.iss + 101);
	assert_int_equal(h_pending(h), 10);
	h_free(h);
}

/* --------------------------------------------------------- recovery state */

/* SACKs that show a loss: fast retransmit, the FAST state, then OPEN once the recovery point is ACKed. */
static void test_recovery_states_through_a_sack_recovery(void **state)
{
	(void)state;
	struct peer p;
	struct est est = est_default();
	est.wnd = 65535;
	struct harness *h = open_conn(&p, TW_AF_INET, est);
	struct events e = { .n = 0 };
	tw_stack_set_event_hook(h->st, record_event, &e);
	uint32_t mss = 1448, base = p.iss + 1;
	assert_int_equal(app_write(&p, 6 * mss, 0), (long)(6 * mss));
	drain(h);
	assert_int_equal(h_info(p.s).recovery, TW_RECOVERY_OPEN);
	/* The first segment is lost; the peer SACKs the next three, one ACK each. */
	for (uint32_t k = 1; k <= 3; k++) {
		struct h_seg s = h_seg(WIRE_TCP_ACK, p.seq, base);
		s.wnd = p.wnd;
		h_opt_nop(&s);
		h_opt_nop(&s);
		h_opt_ts(&s, ++p.tsval, p.ecr);
		h_opt_nop(&s);
		h_opt_nop(&s);
		s.opt.sack[0] = (struct wire_sack_block){ base + mss, base + (1 + k) * mss };
		s.opt.sack_count = 1;
		wire_tcp_opt_push(&s.opt, WIRE_OPT_SACK, 10, NULL);
		assert_int_equal(h_feed(h, &s), 0);
		if (k < 3)   /* two segments SACKed are not yet a loss (RFC 6675 IsLost: more than two) */
			assert_int_equal(h_info(p.s).recovery, TW_RECOVERY_DISORDER);
	}
	assert_int_equal(h_info(p.s).recovery, TW_RECOVERY_FAST);
	const struct tw_event *r[4];
	assert_true(events_of(&e, TW_EVENT_RETRANSMIT, r, 4) >= 1);
	assert_int_equal(r[0]->seq, base);
	assert_int_equal(r[0]->len, mss);
	assert_int_equal(r[0]->rtx, TW_RTX_FAST);
	peer_ack(&p, base + 6 * mss);
	assert_int_equal(h_info(p.s).recovery, TW_RECOVERY_OPEN);
	h_free(h);
}

/* Without SACK: three duplicate ACKs are a fast retransmit, and the window inflates (RFC 6582). */
static void test_recovery_newreno_without_sack(void **state)
{
	(void)state;
	struct peer p;
	struct est est = est_default();
	est.sack = false;
	est.wnd = 65535;
	struct harness *h = open_conn(&p, TW_AF_INET, est);
	struct events e = { .n = 0 };
	tw_stack_set_event_hook(h->st, record_event, &e);
	uint32_t mss = 1448, base = p.iss + 1;
	assert_int_equal(app_write(&p, 6 * mss, 0), (long)(6 * mss));
	drain(h);
	for (int k = 0; k < 3; k++)
		peer_ack(&p, base);
	assert_int_equal(h_info(p.s).recovery, TW_RECOVERY_FAST);
	const struct tw_event *r[4];
	assert_int_equal(events_of(&e, TW_EVENT_RETRANSMIT, r, 4), 1);
	assert_int_equal(r[0]->rtx, TW_RTX_FAST);
	struct tw_conn_info ci = h_info(p.s);
	assert_int_equal(ci.cwnd, ci.ssthresh + 3 * mss);   /* ssthresh plus the three duplicates */
	peer_ack(&p, base + 6 * mss);
	assert_int_equal(h_info(p.s).recovery, TW_RECOVERY_OPEN);
	h_free(h);
}

/* A peer's endless duplicate ACKs in NewReno's recovery inflate the window no further than its largest offer. */
static void test_recovery_newreno_inflation_bounded(void **state)
{
	(void)state;
	struct peer p;
	struct est est = est_default();
	est.sack = false;
	est.ts = false;
	est.wnd = 65535;
	struct harness *h = open_conn(&p, TW_AF_INET, est);
	struct tcp_conn *c = conn_of(p.s);
	uint32_t mss = c->snd_mss, base = p.iss + 1;
	assert_int_equal(app_write(&p, 6 * mss, 0), (long)(6 * mss));
	drain(h);
	for (int k = 0; k < 3; k++)
		peer_ack(&p, base);
	assert_int_equal(h_info(p.s).recovery, TW_RECOVERY_FAST);
	for (int k = 0; k < 500; k++) {
		peer_ack(&p, base);
		drain(h);
	}
	assert_true(c->sb->rec.inflation > 0);
	assert_true(c->sb->rec.inflation <= (int32_t)(c->snd.max_wnd + mss));
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_state_changes_of_a_connection),
		cmocka_unit_test(test_event_retransmission_by_timeout),
		cmocka_unit_test(test_event_retransmission_of_synack),
		cmocka_unit_test(test_event_drops_with_reason),
		cmocka_unit_test(test_drop_names_distinct),
		cmocka_unit_test(test_emit_synack_without_a_connection),
		cmocka_unit_test(test_abi_config_from_older_header),
		cmocka_unit_test(test_abi_config_from_newer_header),
		cmocka_unit_test(test_abi_stats_and_info_written_to_callers_size),
		cmocka_unit_test(test_buffers_follow_the_data),
		cmocka_unit_test(test_buffers_out_of_order_data_takes_only_its_chunks),
		cmocka_unit_test(test_buffers_stack_bound_refuses_then_recovers),
		cmocka_unit_test(test_sndq_records_transmit_time_and_retransmissions),
		cmocka_unit_test(test_sndq_record_counts_the_fin),
		cmocka_unit_test(test_cc_newreno_undo_restores_the_window),
		cmocka_unit_test(test_cc_newreno_restart_after_idle),
		cmocka_unit_test(test_cc_idle_restart_on_the_wire),
		cmocka_unit_test(test_cc_idle_restart_when_the_window_reopens),
		cmocka_unit_test(test_recovery_states_through_a_sack_recovery),
		cmocka_unit_test(test_recovery_newreno_without_sack),
		cmocka_unit_test(test_recovery_newreno_inflation_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
