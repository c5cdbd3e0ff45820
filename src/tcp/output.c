/*
 * Building and sending segments: the TCP header through the wire layer and
 * the IP layer beneath it, options in the layouts Linux uses, the advertised
 * window, and the decision of what data may go now (windows, Nagle,
 * silly-window avoidance). How much the congestion window and loss recovery
 * allow is the recovery module's answer (tcp_recovery_usable).
 */
#include <string.h>

#include "tcp/seq.h"
#include "tcp/tcp.h"

/* What a segment carries; `data_len` bytes from the send ring at `data_off`. */
struct seg_out {
	uint32_t data_off, data_len;
	struct wire_tcp t;          /* built in place: the options are not copied again */
};

uint32_t tcp_ts_now(const struct tcp_conn *c)
{
	/* RFC 7323 5.4: a 1 ms clock, offset per connection (RFC 7323 7.1). */
	return (uint32_t)(c->stack->now / 1000) + c->ts_offset;
}

uint32_t tcp_flight(const struct tcp_conn *c)
{
	return c->snd.nxt - c->snd.una;
}

/*
 * RFC 5681 4.1 as Linux does it (tcp_slow_start_after_idle_check): when
 * nothing is in flight and no data has gone for more than an RTO, what the
 * path could take then says little about now, and the window restarts
 * smaller. Called when data is queued and when the peer's window changes
 * with data waiting.
 */
void tcp_idle_restart_check(struct tcp_conn *c)
{
	const struct tw_stack *st = c->stack;
	if (!st->cfg.slow_start_after_idle || !c->sb || c->snd.una != c->snd.max)
		return;
	uint64_t idle = st->now - c->sb->data_sent_at;
	if (idle > c->rto_us)
		c->sb->cc.ops->after_idle(c, idle);
}

/*
 * How far the window may open now: the free buffer, and, like Linux, no
 * further than rcv_ssthresh (the SYN's window at first, growing as data
 * arrives in receive_text, up to the buffer).
 */
uint32_t tcp_rcv_space(const struct tcp_conn *c)
{
	if (!c->sb) {
		const struct tcp_conn *l = c->parent;
		return l && l->sb ? l->sb->rcvbuf : c->stack->cfg.rcvbuf;
	}
	uint32_t used = c->sb->rcv.len;
	uint32_t space = c->sb->rcvbuf > used ? c->sb->rcvbuf - used : 0;
	if (c->sb->rcv_ssthresh && space > c->sb->rcv_ssthresh)
		space = c->sb->rcv_ssthresh;
	return space;
}

static uint32_t rcvbuf_of(const struct tcp_conn *c)
{
	return c->sb ? c->sb->rcvbuf : tcp_rcv_space(c);
}

/*
 * Like Linux's tcp_select_initial_window: the initial receive space, cut to
 * whole segments (a multiple of the MSS less the options every segment will
 * carry). The SYN offers what 16 bits hold of it; the rest opens once the
 * handshake has agreed on window scaling.
 */
uint32_t tcp_initial_window_for(const struct tw_stack *st, uint32_t seg, uint32_t space)
{
	uint32_t w = space < st->cfg.rcv_space_initial ? space : st->cfg.rcv_space_initial;
	if (seg && w >= seg)
		w -= w % seg;   /* a buffer under one segment is offered as it is */
	return w;
}

uint32_t tcp_initial_window(const struct tcp_conn *c)
{
	uint32_t seg = c->rcv_mss - ((c->flags & TF_TS) && c->state == TW_SYN_RECEIVED ? 12 : 0);
	return tcp_initial_window_for(c->stack, seg, tcp_rcv_space(c));
}

/* The window field of a segment; updates the advertised right edge. */
uint16_t tcp_wnd_field(struct tcp_conn *c, bool syn)
{
	uint32_t space = tcp_rcv_space(c);

	if (syn) {
		/* RFC 7323 2.2: the window in a SYN is never scaled: what 16 bits hold of the initial window. */
		uint32_t w = tcp_initial_window(c);
		if (w > 65535)
			w = 65535;
		c->rcv.adv = c->rcv.nxt + w;
		return (uint16_t)w;
	}

	uint32_t edge = c->rcv.nxt + space;
	uint32_t mss = c->snd_mss ? c->snd_mss : c->rcv_mss;
	uint32_t sws = rcvbuf_of(c) / 2 < mss ? rcvbuf_of(c) / 2 : mss;
	/*
	 * RFC 9293 3.8.6.2.2: do not move the right edge by less than
	 * min(RCV.BUFF / 2, MSS) (receiver silly-window avoidance), and never
	 * move it back (RFC 9293 3.8.6: shrinking the window is discouraged).
	 */
	if (seq_lt(edge, c->rcv.adv) || (seq_gt(edge, c->rcv.adv) && edge - c->rcv.adv < sws))
		edge = seq_gt(c->rcv.adv, c->rcv.nxt) ? c->rcv.adv : c->rcv.nxt;
	uint32_t wnd = edge - c->rcv.nxt;
	/*
	 * Rounded up to the scale unit, as Linux's __tcp_select_window, so the
	 * edge never moves left and a small window is not scaled away to zero.
	 * The receive ring has TCP_RCV_SLACK for the bytes this may promise.
	 */
	uint32_t field = (uint32_t)(((uint64_t)wnd + (1u << c->rcv_wscale) - 1) >> c->rcv_wscale);
	/*
	 * Held edges rounded up again and again creep right; where rounding up
	 * would promise bytes the ring has no room for, round down instead (a
	 * retraction of less than one unit, which RFC 7323 2.4 expects a sender
	 * to cope with).
	 */
	if (c->sb) {
		/*
		 * DEVIATION(RFC 7323 appendix F): like Linux by default, a held edge
		 * is rounded up rather than shrunk, so it can creep right by less
		 * than a unit per ACK; here never past the ring (the buffer plus
		 * TCP_RCV_SLACK), where Linux's bound is tcp_rmem[2].
		 */
		uint32_t ring_room = c->sb->rcv.cap > c->sb->rcv.len ? c->sb->rcv.cap - c->sb->rcv.len : 0;
		if ((uint64_t)field << c->rcv_wscale > ring_room)
			field = ring_room >> c->rcv_wscale;
	}
	if (field > 65535)
		field = 65535;
	/*
	 * What was offered stays accepted even when this field rounds down: the
	 * acceptance edge never moves left, and an earlier offer always still
	 * fits the ring (offers are bounded by its room, which reading only
	 * grows).
	 */
	uint32_t offered = c->rcv.nxt + (field << c->rcv_wscale);
	if (seq_gt(offered, c->rcv.adv) || !seq_gt(c->rcv.adv, c->rcv.nxt))
		c->rcv.adv = offered;
	return (uint16_t)field;
}

/* ------------------------------------------------------------------ options */

static void push_nops(struct wire_tcp_opts *o, int n)
{
	while (n-- > 0)
		wire_tcp_opt_push(o, WIRE_OPT_NOP, 1, NULL);
}

/*
 * The options of a SYN or SYN-ACK in Linux's order (tcp_options_write): MSS;
 * SACK-permitted then TS, or NOP NOP TS; NOP NOP SACK-permitted when there
 * is no TS to pair with; NOP window scale. This gives exactly the layouts
 * <mss,sackOK,TS,nop,wscale>, <mss,nop,nop,sackOK,nop,wscale>,
 * <mss,nop,wscale>, <mss,nop,nop,sackOK>, <mss,sackOK,TS> and <mss>.
 */
void tcp_syn_options(const struct tcp_syn_offer *offer, struct wire_tcp_opts *o)
{
	memset(o, 0, offsetof(struct wire_tcp_opts, list));
	o->mss = offer->mss;
	wire_tcp_opt_push(o, WIRE_OPT_MSS, 4, NULL);
	if (offer->ts) {
		o->ts_val = offer->ts_val;
		o->ts_ecr = offer->ts_ecr;
		if (offer->sack)
			wire_tcp_opt_push(o, WIRE_OPT_SACK_PERM, 2, NULL);
		else
			push_nops(o, 2);
		wire_tcp_opt_push(o, WIRE_OPT_TS, 10, NULL);
	} else if (offer->sack) {
		push_nops(o, 2);
		wire_tcp_opt_push(o, WIRE_OPT_SACK_PERM, 2, NULL);
	}
	if (offer->wscale >= 0) {
		o->wscale = (uint8_t)offer->wscale;
		push_nops(o, 1);
		wire_tcp_opt_push(o, WIRE_OPT_WSCALE, 3, NULL);
	}
}

/* What a connection's SYN or SYN-ACK offers. */
static struct tcp_syn_offer offer_of(const struct tcp_conn *c)
{
	bool ts = c->flags & TF_TS;
	return (struct tcp_syn_offer){
		.mss = c->rcv_mss,
		.wscale = c->flags & TF_WSCALE ? c->rcv_wscale : -1,
		.sack = c->flags & TF_SACK,
		.ts = ts,
		.ts_val = ts ? tcp_ts_now(c) : 0,
		.ts_ecr = ts && c->state != TW_SYN_SENT ? c->ts_recent : 0,
	};
}

/* How many SACK blocks a segment carries now: a D-SACK first, then the out-of-order ranges. */
static uint32_t sack_blocks(const struct tcp_conn *c)
{
	if (!(c->flags & TF_SACK) || !c->sb)
		return 0;
	uint32_t max = c->flags & TF_TS ? 3 : 4;
	uint32_t n = c->sb->n_ooo + (c->sb->dsack_pending ? 1u : 0u);
	return n < max ? n : max;
}

/*
 * Established segments: NOP NOP TS, then NOP NOP SACK blocks (RFC 2018 3).
 * RFC 2883 4: a D-SACK block comes first, and goes in one ACK only.
 */
static void established_options(struct tcp_conn *c, struct wire_tcp_opts *o, bool with_sack)
{
	memset(o, 0, offsetof(struct wire_tcp_opts, list));
	if (c->flags & TF_TS) {
		o->ts_val = tcp_ts_now(c);
		o->ts_ecr = c->ts_recent;
		push_nops(o, 2);
		wire_tcp_opt_push(o, WIRE_OPT_TS, 10, NULL);
	}
	uint32_t n = with_sack ? sack_blocks(c) : 0;
	if (n) {
		uint32_t i = 0;
		if (c->sb->dsack_pending) {
			o->sack[i++] = c->sb->dsack;
			c->sb->dsack_pending = false;
		}
		memcpy(o->sack + i, c->sb->ooo, (n - i) * sizeof(o->sack[0]));
		o->sack_count = (uint8_t)n;
		push_nops(o, 2);
		wire_tcp_opt_push(o, WIRE_OPT_SACK, (uint8_t)(2 + 8 * n), NULL);
	}
}

/* Bytes the SACK option (with its two NOPs) would take on a segment now. */
static uint32_t sack_option_bytes(const struct tcp_conn *c)
{
	uint32_t n = sack_blocks(c);
	return n ? 4 + 8 * n : 0;
}

/* --------------------------------------------------------------- emitting */

bool tcp_emit(struct tw_stack *st, const struct tcp_flow *f, struct wire_tcp *t, const struct tcp_ring *data,
	      uint32_t off, uint32_t len)
{
	size_t cap;
	uint8_t *tcp = ip_payload_area(&st->ip, f->family, &cap);
	size_t opt_len = wire_tcp_opts_size(&t->opt);

	t->sport = f->lport;
	t->dport = f->rport;
	t->payload = NULL;
	t->payload_len = 0;
	if (WIRE_TCP_HDR_MIN + opt_len + len > cap)
		return false;   /* cannot happen with a valid config; never write past the buffer */
	if (len) {
		/* The payload goes straight to its place in the packet. */
		uint8_t *payload = tcp + WIRE_TCP_HDR_MIN + opt_len;
		tcp_ring_read_at(data, off, payload, len);
		t->payload = payload;
		t->payload_len = len;
	}
	struct wire_pseudo ph = { .family = f->family, .proto = WIRE_PROTO_TCP };
	memcpy(ph.src, f->laddr, tcp_addr_len(f->family));
	memcpy(ph.dst, f->raddr, tcp_addr_len(f->family));
	size_t tcp_len = wire_tcp_emit(t, tcp, cap, &ph);
	if (!tcp_len || !ip_send(&st->ip, f->family, f->laddr, f->raddr, WIRE_PROTO_TCP, tcp_len))
		return false;
	st->stats.out_segs++;
	if (t->flags & WIRE_TCP_RST)
		st->stats.out_rsts++;
	return true;
}

/* Sends a connection's segment; what it acknowledges is no longer owed. */
static void emit(struct tcp_conn *c, struct seg_out *seg)
{
	struct tcp_flow f = tcp_flow_of(c);
	const struct tcp_ring *data = c->sb ? &c->sb->snd.bytes : NULL;
	if (!tcp_emit(c->stack, &f, &seg->t, data, seg->data_off, seg->data_len))
		return;
	if (seg->t.flags & WIRE_TCP_ACK) {
		/* Every segment with ACK acknowledges all received so far. */
		c->rcv.ack_sent = seg->t.ack;
		c->flags &= (uint16_t)~(TF_ACK_NOW | TF_ACK_DELAYED);
		if (c->sb) {
			c->sb->small_since_ack = c->sb->small_twice = false;
			/* A D-SACK goes in the first ACK after the duplicate or not at all (RFC 2883 4). */
			c->sb->dsack_pending = false;
		}
		c->timer_at[TCP_TIMER_DELACK] = 0;
	}
}

void tcp_retransmit_event(const struct tcp_conn *c, uint32_t seq, uint32_t len, enum tw_rtx_reason why)
{
	struct tw_event ev = { .type = TW_EVENT_RETRANSMIT, .seq = seq, .len = len, .rtx = why };
	tcp_conn_event(c, &ev);
}

static void seg_init(struct tcp_conn *c, struct seg_out *seg, uint8_t flags, uint32_t seq)
{
	memset(seg, 0, offsetof(struct seg_out, t) + offsetof(struct wire_tcp, opt));
	seg->t.flags = flags;
	seg->t.seq = seq;
	seg->t.ack = flags & WIRE_TCP_ACK ? c->rcv.nxt : 0;
}

void tcp_send_syn(struct tcp_conn *c)
{
	struct seg_out seg;
	bool synack = c->state == TW_SYN_RECEIVED;

	seg_init(c, &seg, synack ? WIRE_TCP_SYN | WIRE_TCP_ACK : WIRE_TCP_SYN, c->iss);
	struct tcp_syn_offer offer = offer_of(c);
	tcp_syn_options(&offer, &seg.t.opt);
	seg.t.wnd = tcp_wnd_field(c, true);
	c->rtt_start_us = (uint32_t)c->stack->now;   /* the handshake's RTT, if sent once */
	emit(c, &seg);
	if (seq_gt(c->iss + 1, c->snd.max))
		c->snd.max = c->iss + 1;
	c->snd.nxt = c->iss + 1;
}

/*
 * RFC 9293's SND.NXT is the next new sequence number, which is snd.max here:
 * snd.nxt moves back while a timeout resends (go-back-N), and an ACK with a
 * sequence number below the peer's RCV.NXT would be refused as a duplicate.
 */
void tcp_send_ack(struct tcp_conn *c)
{
	struct seg_out seg;
	seg_init(c, &seg, WIRE_TCP_ACK, c->snd.max);
	established_options(c, &seg.t.opt, true);
	seg.t.wnd = tcp_wnd_field(c, false);
	emit(c, &seg);
}

void tcp_send_rst_for(struct tcp_conn *c)
{
	/* RFC 9293 3.10.4 (ABORT) and 3.10.7.4: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>. */
	struct seg_out seg;
	seg_init(c, &seg, WIRE_TCP_RST | WIRE_TCP_ACK, c->snd.max);
	established_options(c, &seg.t.opt, false);
	seg.t.wnd = tcp_wnd_field(c, false);
	emit(c, &seg);
}

void tcp_send_probe(struct tcp_conn *c)
{
	/*
	 * Zero-window and keep-alive probes as Linux sends them: SEG.SEQ =
	 * SND.UNA - 1 and no data, which the peer must answer with an ACK
	 * (RFC 9293 3.8.4, 3.8.6.1).
	 */
	struct seg_out seg;
	seg_init(c, &seg, WIRE_TCP_ACK, c->snd.una - 1);
	established_options(c, &seg.t.opt, false);
	seg.t.wnd = tcp_wnd_field(c, false);
	emit(c, &seg);
}

/*
 * The persist timer fired (Linux's tcp_write_wakeup): send as much queued
 * data as the peer's window allows, even less than a segment; with no window
 * at all, a zero-window probe. Returns true if data went out.
 */
static void send_data(struct tcp_conn *c, uint32_t len, bool fin, enum tw_rtx_reason why);
static bool can_send_data(const struct tcp_conn *c);
static bool fin_pending(const struct tcp_conn *c);

bool tcp_send_persist(struct tcp_conn *c)
{
	if (c->sb && can_send_data(c)) {
		uint32_t sent = c->snd.nxt - c->snd.una;
		uint32_t avail = c->sb->snd.bytes.len > sent ? c->sb->snd.bytes.len - sent : 0;
		uint32_t room = c->snd.wnd > sent ? c->snd.wnd - sent : 0;
		uint32_t len = avail < c->snd_mss ? avail : c->snd_mss;
		if (len > room)
			len = room;
		if (len) {
			send_data(c, len, (c->flags & TF_FIN_QUEUED) && len == avail && len < room, TW_RTX_TIMEOUT);
			return true;
		}
		if (!avail && room && fin_pending(c)) {
			send_data(c, 0, true, TW_RTX_TIMEOUT);
			return true;
		}
	}
	tcp_send_probe(c);
	return false;
}

bool tcp_send_synack_for(struct tw_stack *st, const struct tcp_conn *l, const struct tcp_flow *f, uint32_t iss,
			 uint32_t ack, const struct tcp_syn_offer *offer)
{
	struct wire_tcp t;
	memset(&t, 0, offsetof(struct wire_tcp, opt));
	t.flags = WIRE_TCP_SYN | WIRE_TCP_ACK;
	t.seq = iss;
	t.ack = ack;
	/* The window a SYN-ACK offers, as tcp_wnd_field would for a connection of this listener. */
	uint32_t space = l->sb ? l->sb->rcvbuf : st->cfg.rcvbuf;
	uint32_t w = tcp_initial_window_for(st, offer->mss - (offer->ts ? 12u : 0u), space);
	t.wnd = (uint16_t)(w > 65535 ? 65535 : w);
	tcp_syn_options(offer, &t.opt);
	return tcp_emit(st, f, &t, NULL, 0, 0);
}

void tcp_req_send_synack(struct tw_stack *st, const struct tcp_conn *l, struct tcp_req *r)
{
	uint8_t family = r->opts & REQ_V6 ? TW_AF_INET6 : TW_AF_INET;
	struct tcp_flow f = { family, tcp_req_laddr(st, r), r->raddr, r->lport, r->rport };
	uint32_t mss = tcp_mss_for_mtu(st, family);
	bool ts = r->opts & REQ_TS;
	struct tcp_syn_offer offer = {
		.mss = (uint16_t)(l->rcv_mss < mss ? l->rcv_mss : mss),
		.wscale = r->opts & REQ_WS ? (int8_t)l->rcv_wscale : -1,
		.sack = r->opts & REQ_SACK,
		.ts = ts,
		.ts_val = ts ? (uint32_t)(st->now / 1000) + tcp_ts_offset_of(st, &f) : 0,
		.ts_ecr = ts ? r->ts_recent : 0,
	};
	r->synack_sent_us = (uint32_t)st->now;   /* the handshake's RTT, if sent once */
	tcp_send_synack_for(st, l, &f, r->iss, r->irs + 1, &offer);
}

/*
 * RFC 9293 3.10.7.1: the answer to a segment for no connection, built from
 * the segment alone.
 */
void tcp_reply_rst(struct tw_stack *st, uint8_t family, const uint8_t *dst, const uint8_t *src,
		   const struct wire_tcp *in)
{
	struct tcp_flow f = { family, dst, src, in->dport, in->sport };
	struct wire_tcp t;
	memset(&t, 0, offsetof(struct wire_tcp, opt));
	memset(&t.opt, 0, offsetof(struct wire_tcp_opts, list));
	if (in->flags & WIRE_TCP_ACK) {
		/* If the ACK bit is on: <SEQ=SEG.ACK><CTL=RST>. */
		t.flags = WIRE_TCP_RST;
		t.seq = in->ack;
	} else {
		/* Otherwise: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, SYN and FIN counting one each. */
		t.flags = WIRE_TCP_RST | WIRE_TCP_ACK;
		t.ack = in->seq + wire_tcp_seg_len(in);
	}
	tcp_emit(st, &f, &t, NULL, 0, 0);
}

/* ------------------------------------------------------------ sending data */

static uint32_t fin_seq(const struct tcp_conn *c)
{
	return c->snd.una + c->sb->snd.bytes.len;
}

static bool fin_pending(const struct tcp_conn *c)
{
	return (c->flags & TF_FIN_QUEUED) && c->snd.nxt == fin_seq(c);
}

static void arm_rtx(struct tcp_conn *c)
{
	if (!c->timer_at[TCP_TIMER_RTX] || (c->flags & TF_PROBING)) {
		c->flags &= (uint16_t)~TF_PROBING;
		c->timer_at[TCP_TIMER_RTX] = c->stack->now + c->rto_us;
	}
}

/*
 * Sends `len` bytes from SND.NXT, with FIN if it ends the stream. Below
 * SND.MAX it is a retransmission, for reason `why`.
 */
static void send_data(struct tcp_conn *c, uint32_t len, bool fin, enum tw_rtx_reason why)
{
	struct seg_out seg;
	uint32_t off = c->snd.nxt - c->snd.una;
	bool retrans = seq_lt(c->snd.nxt, c->snd.max);

	seg_init(c, &seg, WIRE_TCP_ACK, c->snd.nxt);
	seg.data_off = off;
	seg.data_len = len;
	/*
	 * Like Linux: PSH on the segment that empties what the application
	 * wrote, and on one that takes the data sent past half the largest
	 * window the peer has offered since the last push (Linux's forced_push,
	 * judged here as segments go rather than as the application writes).
	 */
	uint32_t end = c->snd.nxt + len;
	if (len && (off + len == c->sb->snd.bytes.len ||
		    (!retrans && seq_gt(end, c->sb->pushed_seq + c->snd.max_wnd / 2)))) {
		seg.t.flags |= WIRE_TCP_PSH;
		if (!retrans)
			c->sb->pushed_seq = end;
	}
	if (fin)
		seg.t.flags |= WIRE_TCP_FIN;
	/* SACK blocks ride on a data segment only where they fit within the MSS (no packet over the MTU). */
	established_options(c, &seg.t.opt, len + sack_option_bytes(c) <= c->snd_mss);
	seg.t.wnd = tcp_wnd_field(c, false);
	emit(c, &seg);

	/* RFC 6298 / Karn: time one segment per RTT, never a retransmitted one. */
	if (!(c->flags & TF_RTT_TIMING) && !retrans && len) {
		c->flags |= TF_RTT_TIMING;
		c->rtt_seq = c->snd.nxt + len;
		c->rtt_start_us = (uint32_t)c->stack->now;
	}
	/* Linux's tcp_event_data_sent: data sent soon after data arrived is an answer (pingpong). */
	if (!retrans && len && c->sb->data_in_at && c->stack->now - c->sb->data_in_at < c->stack->cfg.delack_us)
		c->sb->pingpong = true;
	uint32_t space = len + (fin ? 1 : 0);
	tcp_sndq_sent(&c->stack->pool, &c->sb->snd, c->snd.nxt, space, c->stack->now);
	if (len)
		c->sb->data_sent_at = c->stack->now;
	if (retrans) {
		c->stack->stats.retrans_segs++;
		c->sb->retransmits++;
		tcp_retransmit_event(c, c->snd.nxt, space, why);
	} else {
		c->sb->bytes_sent += len;
	}
	if (len && len < c->snd_mss)
		c->snd_sml = c->snd.nxt + len;
	c->snd.nxt += len + (fin ? 1 : 0);
	if (fin)
		c->flags |= TF_FIN_SENT;
	if (seq_gt(c->snd.nxt, c->snd.max))
		c->snd.max = c->snd.nxt;
	arm_rtx(c);
}

static bool can_send_data(const struct tcp_conn *c)
{
	switch (c->state) {
	case TW_ESTABLISHED:
	case TW_CLOSE_WAIT:
	case TW_FIN_WAIT_1:
	case TW_CLOSING:
	case TW_LAST_ACK:
		return c->sb != NULL;
	default:
		return false;
	}
}

/*
 * How much of `avail` unsent bytes to send now, within `usable` window:
 * Nagle (RFC 9293 3.7.4), cork, and sender silly-window avoidance (RFC 9293
 * 3.8.6.2.1). 0 means wait.
 */
static uint32_t segment_size(const struct tcp_conn *c, uint32_t avail, uint32_t usable)
{
	uint32_t len = avail < c->snd_mss ? avail : c->snd_mss;
	if (len > usable)
		len = usable;
	if (len == 0 || len == c->snd_mss)
		return len;
	bool last = len == avail;
	/* Nagle as Linux (Minshall): wait only while a small segment is unacknowledged. */
	/* As Linux's tcp_minshall_check: the mark counts only between SND.UNA and SND.NXT (no stale wrap). */
	bool small_out = seq_gt(c->snd_sml, c->snd.una) && seq_leq(c->snd_sml, c->snd.nxt);
	/* The FIN pushes the last piece out, cork or not (Linux's tcp_send_fin). */
	if (last && (c->flags & TF_FIN_QUEUED))
		return len;
	if (last && c->sb->cork)
		return 0;
	if (last && (c->sb->nodelay || !small_out))
		return len;
	/* A window-limited piece is worth sending once it is half the largest window seen. */
	if (!last && len >= c->snd.max_wnd / 2)
		return len;
	return 0;
}

void tcp_output(struct tcp_conn *c)
{
	if (!can_send_data(c)) {
		if (c->flags & TF_ACK_NOW && c->state != TW_CLOSED && c->state != TW_LISTEN)
			tcp_send_ack(c);
		return;
	}
	for (;;) {
		uint32_t before_sacked = tcp_recovery_skip_sacked(c);
		uint32_t sent = c->snd.nxt - c->snd.una;
		uint32_t queued = c->sb->snd.bytes.len;
		uint32_t avail = sent < queued ? queued - sent : 0;
		uint32_t usable = tcp_recovery_usable(c, sent);
		uint32_t len = avail ? segment_size(c, avail, usable) : 0;
		if (len > before_sacked)
			len = before_sacked;

		if (len) {
			/* The FIN rides along if it ends the data and the window has room for it. */
			bool fin = (c->flags & TF_FIN_QUEUED) && len == avail && len < usable;
			/* Below SND.MAX, the output loop resends only what a timeout rewound (go-back-N). */
			send_data(c, len, fin, TW_RTX_TIMEOUT);
			continue;
		}
		if (fin_pending(c) && !avail && usable) {
			/* The FIN alone (RFC 9293 3.10.4: after all queued data), within the window like data. */
			send_data(c, 0, true, TW_RTX_TIMEOUT);
			continue;
		}
		if ((avail || fin_pending(c)) && c->snd.nxt == c->snd.una && !c->timer_at[TCP_TIMER_RTX]) {
			/*
			 * Data waits with nothing in flight (a zero or small window,
			 * or a cork): the persist timer makes sure it does not wait
			 * forever (RFC 9293 3.8.6.1 zero-window probes; 3.8.6.2.1's
			 * override timeout for silly-window avoidance).
			 */
			c->flags |= TF_PROBING;
			c->backoff = 0;
			c->timer_at[TCP_TIMER_RTX] = c->stack->now + c->rto_us;
		}
		break;
	}
	if (c->flags & TF_ACK_NOW)
		tcp_send_ack(c);
	tcp_timer_update(c);
}

/* Sends `len` bytes from `seq` again (and the FIN if it ends there); SND.NXT stays where it was. */
void tcp_send_range(struct tcp_conn *c, uint32_t seq, uint32_t len, enum tw_rtx_reason why)
{
	if (!c->sb || !can_send_data(c))
		return;
	uint32_t data_end = c->snd.una + c->sb->snd.bytes.len;
	uint32_t resume = c->snd.nxt;
	if (!seq_lt(seq, data_end))
		len = 0;
	else if (seq_gt(seq + len, data_end))
		len = data_end - seq;
	bool fin = (c->flags & TF_FIN_SENT) && seq + len == data_end;
	c->snd.nxt = seq;
	c->flags &= (uint16_t)~TF_RTT_TIMING;   /* Karn: no sample across a retransmission */
	if (len || fin)
		send_data(c, len, fin, why);
	if (seq_gt(resume, c->snd.nxt))
		c->snd.nxt = resume;
}

/*
 * Retransmits the earliest unacknowledged segment (RFC 6298 5.4, RFC 5681
 * 3.2). After a timeout (`rewind`) sending goes on from there, go-back-N
 * past what the peer SACKed, as the window reopens; after a fast retransmit
 * it resumes where it was.
 */
void tcp_retransmit_head(struct tcp_conn *c, bool rewind, enum tw_rtx_reason why)
{
	if (!c->sb)
		return;
	uint32_t queued = c->sb->snd.bytes.len;
	/* Not into what the peer SACKed (RFC 6675 NextSeg: only unSACKed bytes). */
	uint32_t len = tcp_recovery_unsacked_head(c, queued < c->snd_mss ? queued : c->snd_mss);
	if (rewind)
		c->snd.nxt = c->snd.una;
	tcp_send_range(c, c->snd.una, len, why);
}
