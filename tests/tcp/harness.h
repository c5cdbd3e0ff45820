/*
 * A test harness for the engine: one stack under test, a scripted peer that
 * injects segments, and the segments the stack sends, captured and parsed
 * for exact assertions. Time is virtual: tests move it with h_advance().
 *
 * Every function is static inline so a test uses what it needs.
 */
#ifndef THREEWAY_TEST_HARNESS_H
#define THREEWAY_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "threeway.h"
#include "wire/wire.h"

#include "leak_check.h"

#define OUR_PORT 8080
#define PEER_PORT 40000
#define H_MAX_OUT 256
#define H_PKT_MAX 2048

struct h_pkt {
	uint8_t bytes[H_PKT_MAX];
	size_t len;
	uint64_t at;
};

struct harness {
	struct tw_stack *st;
	uint64_t now;
	uint8_t family;
	struct tw_addr ours, peer;
	struct h_pkt out[H_MAX_OUT];
	size_t n_out, next_out;
	struct tw_tracer *tracer;
};

/* A segment the peer sends. Options are pushed in order with h_opt_*(). */
struct h_seg {
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t wnd;
	uint16_t sport, dport;      /* 0: PEER_PORT, OUR_PORT */
	const void *data;
	size_t len;
	struct wire_tcp_opts opt;
};

static inline void h_capture(void *ctx, const uint8_t *pkt, size_t len)
{
	struct harness *h = ctx;
	assert_true(h->n_out < H_MAX_OUT);
	assert_true(len <= H_PKT_MAX);
	memcpy(h->out[h->n_out].bytes, pkt, len);
	h->out[h->n_out].len = len;
	h->out[h->n_out].at = h->now;
	h->n_out++;
}

static inline void h_addr(struct tw_addr *a, uint8_t family, uint8_t last)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	if (family == TW_AF_INET) {
		a->bytes[0] = 192;
		a->bytes[1] = 0;
		a->bytes[2] = last == 1 ? 2 : 0;   /* 192.0.2.1 peer, 192.168.0.1 us: packetdrill's */
		if (last != 1) {
			a->bytes[1] = 168;
		}
		a->bytes[3] = 1;
	} else {
		a->bytes[0] = 0x20;
		a->bytes[1] = 0x01;
		a->bytes[2] = 0x0d;
		a->bytes[3] = 0xb8;
		a->bytes[15] = last;
	}
}

/* Default config of the stack under test: Linux's defaults, a fixed secret. */
static inline void h_config(struct tw_stack_config *cfg, uint8_t family)
{
	tw_stack_config_init(cfg);
	cfg->secret_fixed = true;
	for (int i = 0; i < 16; i++)
		cfg->secret[i] = (uint8_t)(i * 7 + 1);
	cfg->n_addrs = 1;
	h_addr(&cfg->addrs[0], family, 2);
}

static inline void h_init_cfg(struct harness *h, const struct tw_stack_config *cfg)
{
	memset(h, 0, sizeof(*h));
	h->family = cfg->addrs[0].family;
	h->ours = cfg->addrs[0];
	h_addr(&h->peer, h->family, 1);
	h->now = 1000000;   /* not 0: a zero time hides bugs */
	int err = 0;
	h->st = tw_stack_new(cfg, &err);
	assert_non_null(h->st);
	tw_stack_set_output(h->st, h_capture, h);
	tw_poll(h->st, h->now);
	struct tw_trace_config tc = { .time = TW_TIME_NONE, .absolute_seq = true };
	h->tracer = tw_tracer_new(&tc);
}

static inline struct harness *h_new_cfg(const struct tw_stack_config *cfg)
{
	struct harness *h = malloc(sizeof(*h));
	assert_non_null(h);
	h_init_cfg(h, cfg);
	return h;
}

static inline struct harness *h_new(uint8_t family)
{
	struct tw_stack_config cfg;
	h_config(&cfg, family);
	return h_new_cfg(&cfg);
}

/* Frees the harness without the teardown check: for a test that already failed. */
static inline void h_free_unchecked(struct harness *h)
{
	tw_stack_free(h->st);
	tw_tracer_free(h->tracer);
	free(h);
}

/*
 * Ends a test: closes what the test still holds, lets every timer run out
 * with the peer silent, and fails if the stack is left holding anything
 * (leak_check.h); frees the harness either way.
 */
static inline void h_free(struct harness *h)
{
	struct h_leak_report r = h_leak_run(h->st, h->now, 0);
	h_free_unchecked(h);
	h_leak_assert(&r);
}

static inline void h_advance(struct harness *h, uint64_t us)
{
	/* Step through every deadline on the way, as a host's loop would. */
	uint64_t end = h->now + us;
	for (;;) {
		uint64_t next = tw_poll(h->st, h->now);
		if (next > end)
			break;
		h->now = next > h->now ? next : h->now + 1;
	}
	h->now = end;
	tw_poll(h->st, h->now);
}

/* Options for injected segments, in the order pushed. */
static inline void h_opt_mss(struct h_seg *s, uint16_t mss)
{
	s->opt.mss = mss;
	wire_tcp_opt_push(&s->opt, WIRE_OPT_MSS, 4, NULL);
}
static inline void h_opt_nop(struct h_seg *s) { wire_tcp_opt_push(&s->opt, WIRE_OPT_NOP, 1, NULL); }
static inline void h_opt_sackok(struct h_seg *s) { wire_tcp_opt_push(&s->opt, WIRE_OPT_SACK_PERM, 2, NULL); }
static inline void h_opt_ws(struct h_seg *s, uint8_t ws)
{
	s->opt.wscale = ws;
	wire_tcp_opt_push(&s->opt, WIRE_OPT_WSCALE, 3, NULL);
}
static inline void h_opt_ts(struct h_seg *s, uint32_t val, uint32_t ecr)
{
	s->opt.ts_val = val;
	s->opt.ts_ecr = ecr;
	wire_tcp_opt_push(&s->opt, WIRE_OPT_TS, 10, NULL);
}
/* The options of a Linux SYN: <mss 1460,sackOK,TS val V ecr E,nop,wscale 7>. */
static inline void h_opt_linux_syn(struct h_seg *s, uint32_t ts_val, uint32_t ts_ecr)
{
	h_opt_mss(s, 1460);
	h_opt_sackok(s);
	h_opt_ts(s, ts_val, ts_ecr);
	h_opt_nop(s);
	h_opt_ws(s, 7);
}

static inline struct h_seg h_seg(uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct h_seg s;
	memset(&s, 0, sizeof(s));
	s.flags = flags;
	s.seq = seq;
	s.ack = ack;
	s.wnd = 65535;
	return s;
}

/* Builds the peer's packet; returns its length. */
static inline size_t h_build(const struct harness *h, const struct h_seg *s, uint8_t *buf, size_t cap)
{
	size_t ip_len = h->family == TW_AF_INET ? 20 : 40;
	struct wire_tcp t;
	memset(&t, 0, sizeof(t));
	t.sport = s->sport ? s->sport : PEER_PORT;
	t.dport = s->dport ? s->dport : OUR_PORT;
	t.seq = s->seq;
	t.ack = s->ack;
	t.flags = s->flags;
	t.wnd = s->wnd;
	t.opt = s->opt;
	t.payload = s->data;
	t.payload_len = s->len;
	struct wire_pseudo ph = { .family = h->family, .proto = WIRE_PROTO_TCP };
	memcpy(ph.src, h->peer.bytes, 16);
	memcpy(ph.dst, h->ours.bytes, 16);
	size_t tcp_len = wire_tcp_emit(&t, buf + ip_len, cap - ip_len, &ph);
	assert_true(tcp_len > 0);
	if (h->family == TW_AF_INET) {
		struct wire_ipv4 ip;
		memset(&ip, 0, sizeof(ip));
		ip.hdr_len = 20;
		ip.total_len = (uint16_t)(20 + tcp_len);
		ip.ttl = 64;
		ip.proto = WIRE_PROTO_TCP;
		memcpy(ip.src, h->peer.bytes, 4);
		memcpy(ip.dst, h->ours.bytes, 4);
		assert_int_equal(wire_ipv4_emit(&ip, buf, cap), 20);
	} else {
		struct wire_ipv6 ip6;
		memset(&ip6, 0, sizeof(ip6));
		ip6.plen = (uint16_t)tcp_len;
		ip6.next = WIRE_PROTO_TCP;
		ip6.hlim = 64;
		memcpy(ip6.src, h->peer.bytes, 16);
		memcpy(ip6.dst, h->ours.bytes, 16);
		assert_int_equal(wire_ipv6_emit(&ip6, buf, cap), 40);
	}
	return ip_len + tcp_len;
}

/* The peer sends `s` now; returns tw_input's result. */
static inline int h_feed(struct harness *h, const struct h_seg *s)
{
	uint8_t buf[H_PKT_MAX + 100];
	size_t len = h_build(h, s, buf, sizeof(buf));
	return tw_input(h->st, buf, len, h->now);
}

/* How many sent segments have not been looked at yet. */
static inline size_t h_pending(const struct harness *h) { return h->n_out - h->next_out; }

/* The next segment the stack sent, parsed (payload points into the capture). */
static inline struct wire_tcp h_next(struct harness *h)
{
	assert_true(h_pending(h) > 0);
	struct h_pkt *p = &h->out[h->next_out++];
	struct wire_tcp t;
	struct wire_pseudo ph;
	if (h->family == TW_AF_INET) {
		struct wire_ipv4 ip;
		assert_int_equal(wire_ipv4_parse(&ip, p->bytes, p->len), 0);
		assert_memory_equal(ip.src, h->ours.bytes, 4);
		assert_memory_equal(ip.dst, h->peer.bytes, 4);
		wire_ipv4_pseudo(&ip, &ph);
		assert_int_equal(wire_tcp_parse(&t, ip.payload, ip.payload_len, &ph), 0);
	} else {
		struct wire_ipv6 ip6;
		assert_int_equal(wire_ipv6_parse(&ip6, p->bytes, p->len), 0);
		wire_ipv6_pseudo(&ip6, &ph);
		assert_int_equal(wire_tcp_parse(&t, ip6.payload, ip6.payload_len, &ph), 0);
	}
	return t;
}

/* The next sent segment as tcpdump -S prints it (no timestamp), for text checks. */
static inline const char *h_next_text(struct harness *h)
{
	assert_true(h_pending(h) > 0);
	struct h_pkt *p = &h->out[h->next_out++];
	return tw_trace_render(h->tracer, 0, 0, TW_LINK_RAW, p->bytes, p->len, p->len);
}

/* Asserts the stack sent nothing more. */
static inline void h_expect_none(struct harness *h)
{
	if (h_pending(h)) {
		struct h_pkt *p = &h->out[h->next_out];
		fprintf(stderr, "unexpected segment: %s",
			tw_trace_render(h->tracer, 0, 0, TW_LINK_RAW, p->bytes, p->len, p->len));
	}
	assert_int_equal(h_pending(h), 0);
}

/* Asserts flags, seq and ack of the next segment; returns it for further checks. */
static inline struct wire_tcp h_expect(struct harness *h, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct wire_tcp t = h_next(h);
	assert_int_equal(t.flags, flags);
	assert_int_equal(t.seq, seq);
	assert_int_equal(t.ack, ack);
	assert_int_equal(t.sport, OUR_PORT);
	return t;
}

/* The option kinds of a segment in wire order, e.g. "mss,sackOK,TS,nop,wscale". */
/* The next segment must be a SYN-ACK to `port` acking the peer's ISN `peer_iss`; returns it. */
static inline struct wire_tcp h_expect_synack(struct harness *h, uint16_t port, uint32_t peer_iss)
{
	struct wire_tcp t = h_next(h);
	assert_int_equal(t.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
	assert_int_equal(t.ack, peer_iss + 1);
	assert_int_equal(t.dport, port);
	return t;
}

static inline const char *h_opt_layout(const struct wire_tcp *t, char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = 0;
	for (size_t i = 0; i < t->opt.count; i++) {
		const char *name = "?";
		switch (t->opt.list[i].kind) {
		case WIRE_OPT_MSS: name = "mss"; break;
		case WIRE_OPT_NOP: name = "nop"; break;
		case WIRE_OPT_SACK_PERM: name = "sackOK"; break;
		case WIRE_OPT_SACK: name = "sack"; break;
		case WIRE_OPT_TS: name = "TS"; break;
		case WIRE_OPT_WSCALE: name = "wscale"; break;
		case WIRE_OPT_EOL: name = "eol"; break;
		}
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "," : "", name);
		if (n >= cap)
			break;
	}
	return buf;
}

/* A listener on OUR_PORT with the given backlog. */
static inline struct tw_sock *h_listen(struct harness *h, int backlog)
{
	int err = 0;
	struct tw_sock *l = tw_socket(h->st, &err);
	assert_non_null(l);
	struct tw_endpoint ep;
	memset(&ep, 0, sizeof(ep));
	ep.addr = h->ours;
	ep.port = OUR_PORT;
	assert_int_equal(tw_bind(l, &ep), 0);
	assert_int_equal(tw_listen(l, backlog), 0);
	return l;
}

/* An active open from `local_port` to the peer's `peer_port`; returns the socket in SYN-SENT. */
static inline struct tw_sock *h_connect_ports(struct harness *h, uint16_t local_port, uint16_t peer_port)
{
	int err = 0;
	struct tw_sock *s = tw_socket(h->st, &err);
	assert_non_null(s);
	struct tw_endpoint local, remote;
	memset(&local, 0, sizeof(local));
	memset(&remote, 0, sizeof(remote));
	local.addr = h->ours;
	local.port = local_port;
	remote.addr = h->peer;
	remote.port = peer_port;
	assert_int_equal(tw_bind(s, &local), 0);
	assert_int_equal(tw_connect(s, &remote), -115 /* EINPROGRESS */);
	return s;
}

/* An active open from OUR_PORT to PEER_PORT. */
static inline struct tw_sock *h_connect(struct harness *h)
{
	return h_connect_ports(h, OUR_PORT, PEER_PORT);
}

static inline enum tw_state h_state(const struct tw_sock *s)
{
	struct tw_conn_info ci;
	assert_int_equal(tw_conn_info(s, &ci), 0);
	return ci.state;
}

static inline struct tw_conn_info h_info(const struct tw_sock *s)
{
	struct tw_conn_info ci;
	assert_int_equal(tw_conn_info(s, &ci), 0);
	return ci;
}

static inline uint32_t h_conns(const struct harness *h)
{
	struct tw_stack_stats ss;
	tw_stack_stats(h->st, &ss);
	return ss.conns;
}

#endif
