/*
 * Segment arrival (RFC 9293 3.10.7), with RFC 5961's defences, RFC 7323's
 * PAWS and timestamps, and ACK processing (RFC 6298 timing here; what the
 * ACK means for loss recovery is reported to recovery.c). The IP layer hands
 * over a validated packet; the segment is parsed and validated once by the
 * wire layer, and from then on only its representation is read.
 */
#include <errno.h>
#include <string.h>

#include "tcp/seq.h"
#include "tcp/tcp.h"

/* A validated incoming segment and where it came from. */
struct seg_in {
	struct wire_tcp t;
	uint8_t family;
	const uint8_t *src, *dst;   /* the IP packet's addresses */
	uint32_t len;               /* SEG.LEN: data, plus SYN and FIN */
};

static bool has_flag(const struct seg_in *s, uint8_t f) { return s->t.flags & f; }

static void endpoint_set(struct tw_endpoint *ep, uint8_t family, const uint8_t *addr, uint16_t port)
{
	ep->addr.family = family;
	memcpy(ep->addr.bytes, addr, tcp_addr_len(family));
	ep->port = port;
}

/* A segment is dropped: counted, and told to the event hook with its endpoints and connection. */
static int drop_seg(struct tw_stack *st, const struct seg_in *s, const struct tcp_conn *c, enum tw_drop why)
{
	st->stats.drops[why]++;
	if (st->cfg.event) {
		struct tw_event ev = { .type = TW_EVENT_DROP, .drop = why, .sock = (const struct tw_sock *)c };
		endpoint_set(&ev.local, s->family, s->dst, s->t.dport);
		endpoint_set(&ev.remote, s->family, s->src, s->t.sport);
		if (c)
			ev.new_state = ev.old_state = (enum tw_state)c->state;
		ip_event(&st->ip, &ev);
	}
	return -(int)why;
}

/* ------------------------------------------------------------------ helpers */

static bool oow_rate_limited(struct tcp_conn *c)
{
	/*
	 * RFC 5961 7 and CVE-2016-5696: challenge and out-of-window ACKs are
	 * limited per connection, never by a counter shared between
	 * connections, so their rate tells an attacker nothing about others.
	 */
	uint64_t now = c->stack->now;
	if (c->oow_ack_at && now - c->oow_ack_at < c->stack->cfg.challenge_ack_interval_us)
		return true;
	c->oow_ack_at = now ? now : 1;
	return false;
}

/*
 * The ACK owed for a segment that is dropped (out of window, PAWS, TIME-WAIT).
 * Like Linux's tcp_oow_rate_limited: a segment that occupies sequence space
 * (data or FIN, without SYN) is always answered, since it is no ACK loop;
 * others are limited per connection. Returns whether it went.
 */
static bool oow_ack(struct tcp_conn *c, const struct seg_in *s)
{
	bool occupies = (s->t.payload_len || has_flag(s, WIRE_TCP_FIN)) && !has_flag(s, WIRE_TCP_SYN);
	if (!occupies && oow_rate_limited(c))
		return false;
	tcp_send_ack(c);
	return true;
}

/*
 * RFC 2883: a segment that repeats what has arrived already is reported in
 * the next ACK, which goes at once, as Linux's tcp_dsack_set and
 * tcp_send_dupack do: the sender learns its retransmission was spurious.
 */
static void report_duplicate(struct tcp_conn *c, uint32_t start, uint32_t end)
{
	c->flags |= TF_ACK_NOW;
	if ((c->flags & TF_SACK) && c->sb && seq_lt(start, end)) {
		c->sb->dsack = (struct wire_sack_block){ start, end };
		c->sb->dsack_pending = true;
	}
}

/*
 * A dropped segment with data or a FIN from before RCV.NXT is a
 * retransmission of what we have (Linux's tcp_send_dupack): its part below
 * RCV.NXT is reported.
 */
static void report_if_old(struct tcp_conn *c, const struct seg_in *s)
{
	if (s->len && !has_flag(s, WIRE_TCP_SYN) && seq_lt(s->t.seq, c->rcv.nxt)) {
		uint32_t end = s->t.seq + s->len;
		report_duplicate(c, s->t.seq, seq_lt(end, c->rcv.nxt) ? end : c->rcv.nxt);
	}
}

/* Out-of-order data that repeats a range we hold already: the repeated part is reported (tcp_data_queue_ofo). */
static void report_if_held(struct tcp_conn *c, uint32_t seq, uint32_t len)
{
	const struct tcp_sockbuf *sb = c->sb;
	for (size_t i = 0; i < sb->n_ooo; i++) {
		uint32_t left = seq_max(seq, sb->ooo[i].left), right = seq_min(seq + len, sb->ooo[i].right);
		if (seq_lt(left, right)) {
			report_duplicate(c, left, right);
			return;
		}
	}
}

static void challenge_ack(struct tcp_conn *c)
{
	if (oow_rate_limited(c))
		return;
	c->stack->stats.challenge_acks++;
	tcp_send_ack(c);
}

/* RFC 7323 5.5: TS.Recent older than 24 days is no longer valid for PAWS. */
#define PAWS_IDLE_S (24u * 24 * 3600)

static void set_ts_recent(struct tcp_conn *c, uint32_t ts_val)
{
	c->ts_recent = ts_val;
	c->ts_recent_stamp = (uint32_t)(c->stack->now / 1000000);
}

/* RFC 7323 5.3 R1: is the segment's TSval older than TS.Recent (which is still valid)? */
static bool paws_old(const struct tcp_conn *c, const struct seg_in *s)
{
	if ((uint32_t)(c->stack->now / 1000000) - c->ts_recent_stamp > PAWS_IDLE_S)
		return false;
	return seq_lt(s->t.opt.ts_val, c->ts_recent);
}

static void negotiate_mss(struct tcp_conn *c, const struct wire_tcp_opts *o)
{
	const struct tw_stack_config *cfg = &c->stack->cfg;
	/* RFC 9293 3.7.1: without the option, assume 536 (IPv4) or 1220 (IPv6, RFC 8200 5). */
	uint32_t peer = o->has & WIRE_HAS_MSS ? o->mss : (c->family == TW_AF_INET ? 536 : 1220);
	uint32_t ours = tcp_mss_for_mtu(c->stack, c->family);
	uint32_t mss = peer < ours ? peer : ours;
	const struct tcp_sockbuf *sb = c->sb ? c->sb : (c->parent ? c->parent->sb : NULL);

	if (sb && sb->user_mss && sb->user_mss < mss)
		mss = sb->user_mss;
	/* A tiny MSS would make us send a flood of tiny segments: keep a floor (Linux's tcp_min_snd_mss). */
	if (mss < cfg->min_snd_mss)
		mss = cfg->min_snd_mss;
	/* RFC 7323 3.2 / RFC 6691: the MSS counts no options; each segment's TS takes 12 bytes of it. */
	if (c->flags & TF_TS)
		mss -= 12;
	c->snd_mss = (uint16_t)mss;
	c->rcv_seg_max = (uint16_t)(c->rcv_mss < 536 ? c->rcv_mss : 536);
}

/* Keeps only the options both SYNs carried (RFC 7323 1.3, 2.2; RFC 2018 2). */
static void negotiate(struct tcp_conn *c, const struct seg_in *s)
{
	const struct wire_tcp_opts *o = &s->t.opt;

	if (!(o->has & WIRE_HAS_SACK_PERM))
		c->flags &= (uint16_t)~TF_SACK;
	if (!(o->has & WIRE_HAS_TS)) {
		c->flags &= (uint16_t)~TF_TS;
	} else if (c->flags & TF_TS) {
		set_ts_recent(c, o->ts_val);
	}
	if ((o->has & WIRE_HAS_WSCALE) && (c->flags & TF_WSCALE)) {
		/* RFC 7323 2.3: a shift over 14 is used as 14. */
		c->snd_wscale = o->wscale > 14 ? 14 : o->wscale;
	} else {
		c->flags &= (uint16_t)~TF_WSCALE;
		c->snd_wscale = 0;
		c->rcv_wscale = 0;
	}
	negotiate_mss(c, o);
}

static uint32_t scaled_wnd(const struct tcp_conn *c, const struct seg_in *s)
{
	/* RFC 7323 2.2: the window of a SYN is never scaled. */
	if (has_flag(s, WIRE_TCP_SYN))
		return s->t.wnd;
	return (uint32_t)s->t.wnd << c->snd_wscale;
}

static void update_window(struct tcp_conn *c, const struct seg_in *s)
{
	/* RFC 9293 3.10.7.4, fifth: only a segment newer than the last update moves SND.WND. */
	if (seq_lt(c->snd.wl1, s->t.seq) || (c->snd.wl1 == s->t.seq && seq_leq(c->snd.wl2, s->t.ack))) {
		uint32_t old = c->snd.wnd;
		c->snd.wnd = scaled_wnd(c, s);
		c->snd.wl1 = s->t.seq;
		c->snd.wl2 = s->t.ack;
		if (c->snd.wnd > c->snd.max_wnd)
			c->snd.max_wnd = c->snd.wnd;
		if (old == 0 && c->snd.wnd && (c->flags & TF_PROBING)) {
			/* The window opened: stop probing, send (RFC 9293 3.8.6.1). */
			c->flags &= (uint16_t)~TF_PROBING;
			c->timer_at[TCP_TIMER_RTX] = 0;
			c->backoff = 0;
		}
		/* Linux's tcp_ack_update_window: data that waited for the window may have waited long. */
		if (old != c->snd.wnd && c->sb && c->sb->snd.bytes.len > c->snd.nxt - c->snd.una)
			tcp_idle_restart_check(c);
	}
}

static int establish_buffers(struct tcp_conn *c)
{
	if (c->sb)
		return 0;
	return tcp_sockbuf_attach(c, c->parent ? c->parent->sb : NULL);
}

static void become_established(struct tcp_conn *c, const struct seg_in *s)
{
	unsigned syn_rexmits = c->backoff;
	bool syn_resent = syn_rexmits != 0;
	c->snd.una = s->t.ack;
	c->snd_sml = s->t.ack;   /* no small segment outstanding */
	c->snd.wnd = scaled_wnd(c, s);
	c->snd.max_wnd = c->snd.wnd;
	c->snd.wl1 = s->t.seq;
	c->snd.wl2 = s->t.ack;
	c->backoff = 0;
	c->timer_at[TCP_TIMER_RTX] = 0;
	/*
	 * RFC 6298 2.2: the handshake's sample has set the RTO. 5.7: without one,
	 * because the SYN had to be resent, the RTO MUST be 3 s for the data.
	 */
	if (c->srtt_us == 0)
		c->rto_us = syn_resent && c->stack->cfg.rto_initial_us < 3000000 ? 3000000
									  : c->stack->cfg.rto_initial_us;
	c->quickacks = (uint8_t)c->stack->cfg.quickack_segs;
	if (c->sb) {
		tcp_recovery_init(c);
		c->sb->cc.ops->init(c, syn_rexmits);
		c->sb->pushed_seq = c->snd.una;
		/*
		 * Linux's rcv_ssthresh starts at the initial window, which the SYN
		 * could carry only up to 65535 of; it grows as data arrives.
		 */
		uint32_t offered = seq_gt(c->rcv.adv, c->rcv.nxt) ? c->rcv.adv - c->rcv.nxt : 0;
		uint32_t initial = tcp_initial_window(c);
		c->sb->rcv_ssthresh = initial > offered ? initial : offered;
	}
	if (c->sb)
		c->sb->data_sent_at = c->stack->now;   /* as Linux's tcp_init_transfer sets lsndtime */
	tcp_set_state(c, TW_ESTABLISHED);
	if (c->sb && c->sb->keepalive)
		tcp_keepalive_rearm(c);
}

/* RFC 7323 4 (RTTM): an RTT sample from the echoed timestamp, in milliseconds. */
static void rtt_from_echo(struct tcp_conn *c, const struct seg_in *s)
{
	if ((c->flags & TF_TS) && (s->t.opt.has & WIRE_HAS_TS) && s->t.opt.ts_ecr) {
		uint32_t rtt_ms = tcp_ts_now(c) - s->t.opt.ts_ecr;
		if (rtt_ms < 0x7fffffff / 1000)
			tcp_rtt_sample(c, rtt_ms * 1000);
	}
}

/*
 * An RTT sample: from the timed segment when this ACK covers it (microsecond
 * resolution; never a retransmitted one, Karn), else from the echoed
 * timestamp (RFC 7323 4, RTTM; millisecond resolution).
 */
static void rtt_from_ack(struct tcp_conn *c, const struct seg_in *s)
{
	if ((c->flags & TF_RTT_TIMING) && seq_geq(s->t.ack, c->rtt_seq)) {
		c->flags &= (uint16_t)~TF_RTT_TIMING;
		tcp_rtt_sample(c, (uint32_t)c->stack->now - c->rtt_start_us);
	} else {
		rtt_from_echo(c, s);
	}
}

/* ---------------------------------------------------------------- LISTEN */

/* A connection for a SYN to listener `l`, in no table yet: what it offers, and the peer's ISN. */
static struct tcp_conn *child_new(struct tcp_conn *l, const struct seg_in *s, uint32_t forced_iss)
{
	struct tw_stack *st = l->stack;
	struct tcp_conn *c = tcp_conn_new(st);
	if (!c)
		return NULL;
	c->family = s->family;
	memcpy(c->laddr, s->dst, 16);
	memcpy(c->raddr, s->src, 16);
	c->lport = s->t.dport;
	c->rport = s->t.sport;
	c->parent = l;
	c->flags = TF_PASSIVE;
	if (st->cfg.sack)
		c->flags |= TF_SACK;
	if (st->cfg.timestamps)
		c->flags |= TF_TS;
	if (st->cfg.window_scaling)
		c->flags |= TF_WSCALE;
	c->rcv_wscale = l->rcv_wscale;
	c->rcv_mss = l->rcv_mss;
	if (c->rcv_mss > tcp_mss_for_mtu(st, c->family))
		c->rcv_mss = (uint16_t)tcp_mss_for_mtu(st, c->family);

	/* RFC 9293 3.10.7.2: RCV.NXT = SEG.SEQ + 1, IRS = SEG.SEQ; choose ISS. */
	c->irs = s->t.seq;
	c->rcv.nxt = s->t.seq + 1;
	tcp_choose_isn(st, c, forced_iss);
	c->snd.una = c->iss;
	c->snd.nxt = c->iss;
	c->snd.max = c->iss;
	c->snd.wnd = s->t.wnd;
	c->snd.wl1 = s->t.seq;
	negotiate(c, s);
	return c;
}

/* The child is half-open now: in the table, counted against the listener's SYN queue. */
static void child_half_open(struct tcp_conn *l, struct tcp_conn *c)
{
	tcp_set_state(c, TW_SYN_RECEIVED);
	tcp_hash_insert(c);
	l->half_open++;
	l->stack->stats.passive_opens++;
}

/*
 * RFC 4987 3.6: the SYN-ACK for a SYN the listener keeps no state for. Its
 * ISN is the cookie; as Linux, without timestamps it offers nothing but the
 * MSS, since nothing else could come back.
 */
static int cookie_reply(struct tcp_conn *l, const struct seg_in *s)
{
	struct tw_stack *st = l->stack;
	const struct tw_stack_config *cfg = &st->cfg;
	const struct wire_tcp_opts *o = &s->t.opt;
	struct tcp_flow f = { s->family, s->dst, s->src, s->t.dport, s->t.sport };

	bool ts = cfg->timestamps && (o->has & WIRE_HAS_TS);
	bool sack = ts && cfg->sack && (o->has & WIRE_HAS_SACK_PERM);
	int peer_ws = ts && cfg->window_scaling && (o->has & WIRE_HAS_WSCALE) ? (o->wscale > 14 ? 14 : o->wscale) : -1;
	uint16_t peer_mss = o->has & WIRE_HAS_MSS ? o->mss : (s->family == TW_AF_INET ? 536 : 1220);
	uint16_t mss_used;
	uint32_t iss = tcp_cookie_isn(st, &f, s->t.seq, peer_mss, &mss_used);

	uint32_t our_mss = l->rcv_mss < tcp_mss_for_mtu(st, s->family) ? l->rcv_mss : tcp_mss_for_mtu(st, s->family);
	struct tcp_syn_offer offer = {
		.mss = (uint16_t)our_mss, .wscale = peer_ws >= 0 ? (int8_t)l->rcv_wscale : -1, .sack = sack, .ts = ts,
		/* On the clock the connection will have, so TSval runs on unbroken from the cookie's. */
		.ts_val = ts ? tcp_cookie_tsval((uint32_t)(st->now / 1000) + tcp_ts_offset_of(st, &f), peer_ws, sack, false)
			     : 0,
		.ts_ecr = ts ? o->ts_val : 0,
	};
	if (!tcp_send_synack_for(st, l, &f, iss, s->t.seq + 1, &offer))
		return drop_seg(st, s, l, TW_DROP_NO_MEMORY);
	st->stats.cookies_sent++;
	if (l->sb)
		l->sb->cookie_sent_at = st->now ? st->now : 1;
	return 0;
}

/*
 * Linux's tcp_conn_request: with the SYN queue full (or cookies always on)
 * the SYN gets a cookie, or is dropped when cookies are off; then a full
 * accept queue drops it either way, and the peer retries. A SYN that
 * reopens a connection in TIME-WAIT (forced_iss) skips both, as Linux's.
 */
static int listen_syn(struct tcp_conn *l, const struct seg_in *s, uint32_t forced_iss)
{
	struct tw_stack *st = l->stack;
	uint8_t cookies = st->cfg.syncookies;
	uint32_t syn_queue = l->backlog ? l->backlog : 1;
	bool want_cookie = false;

	st->stats.syns_received++;
	if (!forced_iss && (cookies == TW_SYNCOOKIES_ALWAYS || l->half_open >= syn_queue)) {
		if (l->half_open >= syn_queue)
			st->stats.syn_queue_overflows++;
		want_cookie = cookies != TW_SYNCOOKIES_OFF;
		if (!want_cookie)
			return drop_seg(st, s, l, TW_DROP_SYN_QUEUE_FULL);
	}
	if (l->queued > l->backlog)
		return drop_seg(st, s, l, TW_DROP_ACCEPT_QUEUE_FULL);
	if (want_cookie)
		return cookie_reply(l, s);
	/*
	 * A half-open entry, not a control block, until the peer answers.
	 * DEVIATION(RFC 9293 3.10.7.2): data in a SYN is not queued for after
	 * the handshake (there is no Fast Open); the peer sends it again, as
	 * it does to Linux.
	 */
	int r = tcp_req_new(l, s->family, s->dst, s->src, &s->t, forced_iss);
	return r ? drop_seg(st, s, l, (enum tw_drop)-r) : 0;
}

/*
 * The peer has sent more for a half-open entry: the control block it would
 * have had since the SYN, made now, in SYN-RECEIVED with the SYN-ACK's
 * timer where it was, so the segment meets every rule of that state.
 */
static struct tcp_conn *promote(struct tcp_conn *l, struct tcp_req *r, const struct seg_in *s)
{
	struct tw_stack *st = l->stack;
	struct seg_in syn = { .family = s->family, .src = s->src, .dst = s->dst };
	syn.t.sport = r->rport;
	syn.t.dport = r->lport;
	syn.t.seq = r->irs;
	syn.t.flags = WIRE_TCP_SYN;
	struct wire_tcp_opts *o = &syn.t.opt;
	o->has |= WIRE_HAS_MSS;   /* what the SYN said, clamped then */
	o->mss = r->peer_mss;
	if (r->opts & REQ_SACK)
		o->has |= WIRE_HAS_SACK_PERM;
	if (r->opts & REQ_TS) {
		o->has |= WIRE_HAS_TS;
		o->ts_val = r->ts_recent;
	}
	if (r->opts & REQ_WS) {
		o->has |= WIRE_HAS_WSCALE;
		o->wscale = r->peer_wscale;
	}
	st->stats.conns--;   /* the entry's place under max_conns passes to the control block */
	struct tcp_conn *c = child_new(l, &syn, r->iss ? r->iss : 1);
	st->stats.conns++;
	if (!c)
		return NULL;
	c->iss = r->iss;
	c->snd.una = r->iss;
	c->snd.nxt = c->snd.max = r->iss + 1;   /* the SYN-ACK that was sent */
	c->rto_us = (uint32_t)tcp_req_rto(st, r->backoff);
	/* A SYN-ACK sent twice gives no sample (Karn), as Linux's num_retrans. */
	c->backoff = (uint8_t)(r->backoff + (r->opts & REQ_RESENT && r->backoff < 255 ? 1 : 0));
	c->rtt_start_us = r->synack_sent_us;
	c->rcv.ack_sent = c->rcv.nxt;
	uint64_t now_ms = st->now / 1000;
	int32_t wait = (int32_t)(r->due_ms - (uint32_t)now_ms);
	c->timer_at[TCP_TIMER_RTX] = (now_ms + (uint64_t)(wait > 0 ? wait : 0)) * 1000;
	/* Not tcp_set_state: the connection has been in SYN-RECEIVED since the SYN, and said so. */
	c->state = TW_SYN_RECEIVED;
	tcp_hash_insert(c);
	tcp_wnd_field(c, true);   /* the window the SYN-ACK offered */
	tcp_timer_update(c);
	tcp_req_release(st, r, true);
	return c;
}

/* Linux's TCP_SYNCOOKIE_VALID: ACKs are checked for cookies this long after the last one sent. */
#define COOKIES_RECENT_US (2ull * 60 * 1000000)

static bool cookies_recent(const struct tcp_conn *l)
{
	const struct tw_stack *st = l->stack;
	return st->cfg.syncookies != TW_SYNCOOKIES_OFF && l->sb && l->sb->cookie_sent_at &&
	       st->now - l->sb->cookie_sent_at <= COOKIES_RECENT_US;
}

/*
 * What a returning cookie's SYN offered, as the options of a SYN: the MSS
 * it encodes, and from the echoed timestamp the window scale and SACK
 * (Linux's cookie_timestamp_decode). False when the stack would not have
 * offered what the timestamp claims.
 */
static bool cookie_options(const struct tw_stack *st, const struct seg_in *s, uint16_t mss, struct wire_tcp_opts *o)
{
	memset(o, 0, offsetof(struct wire_tcp_opts, list));
	o->has = WIRE_HAS_MSS;
	o->mss = mss;
	if (!(s->t.opt.has & WIRE_HAS_TS))
		return true;   /* no timestamps: no window scale, no SACK either */
	if (!st->cfg.timestamps)
		return false;
	int ws;
	bool sack, ecn;
	tcp_cookie_ts_decode(s->t.opt.ts_ecr, &ws, &sack, &ecn);
	if ((sack && !st->cfg.sack) || (ws >= 0 && !st->cfg.window_scaling))
		return false;
	o->has |= WIRE_HAS_TS;
	o->ts_val = s->t.opt.ts_val;
	o->ts_ecr = s->t.opt.ts_ecr;
	if (sack)
		o->has |= WIRE_HAS_SACK_PERM;
	if (ws >= 0) {
		o->has |= WIRE_HAS_WSCALE;
		o->wscale = (uint8_t)ws;
	}
	return true;
}

static int synchronized_input(struct tcp_conn *c, struct seg_in *s);

enum { NOT_A_COOKIE = 1 };

/*
 * The third segment of a handshake answered with a cookie. A good cookie
 * makes the connection as the SYN would have, half-open for a moment, and
 * the segment then completes it the ordinary way, onto the accept queue,
 * with any data it carries. Anything else is NOT_A_COOKIE, for the
 * listener's ordinary answer.
 */
static int cookie_ack(struct tcp_conn *l, struct seg_in *s)
{
	struct tw_stack *st = l->stack;
	struct tcp_flow f = { s->family, s->dst, s->src, s->t.dport, s->t.sport };
	uint32_t iss = s->t.ack - 1, irs = s->t.seq - 1;
	uint16_t mss = tcp_cookie_check(st, &f, iss, irs);
	struct seg_in syn = *s;
	if (!mss || !cookie_options(st, s, mss, &syn.t.opt)) {
		st->stats.cookies_invalid++;
		return NOT_A_COOKIE;
	}
	st->stats.cookies_valid++;
	if (l->queued > l->backlog)
		return drop_seg(st, s, l, TW_DROP_ACCEPT_QUEUE_FULL);
	syn.t.seq = irs;
	syn.t.flags = WIRE_TCP_SYN;
	struct tcp_conn *c = child_new(l, &syn, iss ? iss : 1);
	if (!c)
		return drop_seg(st, s, l, TW_DROP_NO_MEMORY);
	c->iss = iss;
	c->snd.una = c->snd.nxt = iss;
	c->snd.max = iss + 1;   /* the SYN-ACK that was sent */
	c->snd.nxt = iss + 1;
	c->flags |= TF_COOKIE;
	child_half_open(l, c);
	tcp_wnd_field(c, true);   /* the window the cookie's SYN-ACK offered */
	int r = synchronized_input(c, s);
	if (c->state == TW_SYN_RECEIVED)
		tcp_conn_done(c, 0);   /* not completed after all: nothing is kept */
	return r;
}

/* RFC 9293 3.10.7.2: a segment for a listener. */
static int listen_input(struct tcp_conn *l, struct seg_in *s)
{
	struct tw_stack *st = l->stack;

	/* First, check for a RST: an incoming RST is ignored. */
	if (has_flag(s, WIRE_TCP_RST))
		return drop_seg(st, s, l, TW_DROP_LISTEN_RST);
	/* RFC 4987 3.6: a listener that sent cookies lately checks a third segment for one. */
	if (has_flag(s, WIRE_TCP_ACK) && !has_flag(s, WIRE_TCP_SYN) && cookies_recent(l)) {
		int r = cookie_ack(l, s);
		if (r != NOT_A_COOKIE)
			return r;
	}
	/* Second, check for an ACK: <SEQ=SEG.ACK><CTL=RST>. */
	if (has_flag(s, WIRE_TCP_ACK)) {
		tcp_reply_rst(st, s->family, s->dst, s->src, &s->t);
		return drop_seg(st, s, l, TW_DROP_LISTEN_ACK);
	}
	/* Third, check for a SYN; one with FIN is discarded, as Linux does (no valid stack sends it). */
	if (has_flag(s, WIRE_TCP_SYN) && !has_flag(s, WIRE_TCP_FIN))
		return listen_syn(l, s, 0);
	/* Fourth, other control or text: drop. */
	return drop_seg(st, s, l, TW_DROP_LISTEN_NOT_SYN);
}

/* -------------------------------------------------------------- SYN-SENT */

/* Linux's TCP_TIMEOUT_MIN: two jiffies at HZ=1000. */
#define SYN_SENT_QUICK_RETRY_US 2000u

static int syn_sent_input(struct tcp_conn *c, const struct seg_in *s)
{
	struct tw_stack *st = c->stack;
	bool ack = has_flag(s, WIRE_TCP_ACK);

	/*
	 * RFC 9293 3.10.7.3, first: an ACK that does not cover our SYN is
	 * answered <SEQ=SEG.ACK><CTL=RST> (unless it is a RST) and dropped;
	 * the connection keeps waiting. This is what refuses an old duplicate.
	 */
	if (ack && (seq_leq(s->t.ack, c->iss) || seq_gt(s->t.ack, c->snd.max))) {
		if (!has_flag(s, WIRE_TCP_RST))
			tcp_reply_rst(st, s->family, s->dst, s->src, &s->t);
		/*
		 * Like Linux: if the SYN has not been resent yet, resend it almost at
		 * once (TCP_TIMEOUT_MIN), in case our RST has just cleared a stale
		 * connection at the peer that was holding the SYN up.
		 */
		if (c->backoff == 0) {
			c->timer_at[TCP_TIMER_RTX] = st->now + SYN_SENT_QUICK_RETRY_US;
			tcp_timer_update(c);
		}
		return drop_seg(st, s, c, TW_DROP_BAD_ACK);
	}
	/* Second: a RST is believed only with an acceptable ACK (RFC 5961 3.2 allows no more). */
	if (has_flag(s, WIRE_TCP_RST)) {
		if (!ack)
			return drop_seg(st, s, c, TW_DROP_BAD_RST);
		st->stats.conns_reset++;
		tcp_conn_done(c, ECONNREFUSED);
		return 0;
	}
	/* Fourth: the SYN. Neither SYN nor RST: drop. */
	if (!has_flag(s, WIRE_TCP_SYN))
		return drop_seg(st, s, c, TW_DROP_NOT_SYN);

	c->irs = s->t.seq;
	c->rcv.nxt = s->t.seq + 1;
	/* Our SYN offered a window before we knew the peer's sequence space; place it now. */
	c->rcv.adv = c->rcv.nxt + c->rcv.adv;
	negotiate(c, s);
	if (ack) {
		if (establish_buffers(c))
			return drop_seg(st, s, c, TW_DROP_NO_MEMORY);
		/* Karn: a SYN sent more than once gives no sample. */
		if (c->backoff == 0)
			tcp_rtt_sample(c, (uint32_t)st->now - c->rtt_start_us);
		become_established(c, s);
		/* "Form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it." */
		c->flags |= TF_ACK_NOW;
		tcp_output(c);
		tcp_notify(c);
		return 0;
	}
	/* Simultaneous open: SYN-RECEIVED, <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. */
	tcp_set_state(c, TW_SYN_RECEIVED);
	c->snd.wnd = s->t.wnd;
	c->snd.wl1 = s->t.seq;
	tcp_send_syn(c);
	c->backoff = 0;
	c->timer_at[TCP_TIMER_RTX] = st->now + c->rto_us;
	tcp_timer_update(c);
	return 0;
}

/* ------------------------------------------------------------- TIME-WAIT */

/*
 * TIME-WAIT, as Linux handles it. RFC 9293 3.6.1 lets a new SYN reopen the
 * connection if its sequence number (or timestamp) is newer and the new ISN
 * is above everything the old incarnation used. A RST at RCV.NXT ends it; a
 * retransmitted FIN or other stray segment is ACKed and restarts the 2 MSL
 * timer (RFC 9293 3.10.7.4).
 */
static int time_wait_input(struct tcp_conn *c, const struct seg_in *s)
{
	struct tw_stack *st = c->stack;
	bool has_ts = (c->flags & TF_TS) && (s->t.opt.has & WIRE_HAS_TS);
	bool paws_reject = has_ts && paws_old(c, s);

	if (has_flag(s, WIRE_TCP_SYN) && !has_flag(s, WIRE_TCP_RST | WIRE_TCP_ACK) && !paws_reject &&
	    (seq_gt(s->t.seq, c->rcv.nxt) || (has_ts && seq_gt(s->t.opt.ts_val, c->ts_recent)))) {
		uint32_t iss = c->snd.nxt + 65535 + 2;
		struct tcp_conn *l = tcp_listen_lookup(st, s->family, s->dst, s->t.dport);
		if (l) {
			tcp_conn_done(c, 0);
			return listen_syn(l, s, iss ? iss : 1);
		}
		/* No listener to take it: TIME-WAIT stays and ACKs at once, as Linux (TCP_TW_SYN falls to TCP_TW_ACK). */
		tcp_send_ack(c);
		return 0;
	}
	if (!paws_reject && s->t.seq == c->rcv.nxt && (s->len == 0 || has_flag(s, WIRE_TCP_RST))) {
		if (has_flag(s, WIRE_TCP_RST)) {
			/*
			 * RFC 1337 (TIME-WAIT assassination): with protection on, a RST
			 * cannot end TIME-WAIT early, and leaves its timer as it was (Linux's
			 * tcp_rfc1337 = 1); by default, as Linux's 0, it ends it.
			 */
			if (st->cfg.rfc1337)
				return drop_seg(st, s, c, TW_DROP_TIME_WAIT_RST);
			tcp_conn_done(c, 0);
			return 0;
		}
		tcp_enter_time_wait(c);   /* a bare ACK restarts the timer */
		return 0;
	}
	if (has_flag(s, WIRE_TCP_RST))
		return drop_seg(st, s, c, TW_DROP_BAD_RST);
	if (paws_reject || has_flag(s, WIRE_TCP_ACK))
		tcp_enter_time_wait(c);
	oow_ack(c, s);
	return 0;
}

/* ------------------------------------------------ synchronized states */

static uint32_t rcv_wnd(const struct tcp_conn *c)
{
	return seq_gt(c->rcv.adv, c->rcv.nxt) ? c->rcv.adv - c->rcv.nxt : 0;
}

/* RFC 9293 3.10.7.4, first: the four cases of segment acceptability. */
static bool acceptable(const struct tcp_conn *c, const struct seg_in *s)
{
	uint32_t wnd = rcv_wnd(c), nxt = c->rcv.nxt, seq = s->t.seq;

	/*
	 * With a zero window RFC 9293 asks for "special allowance ... to accept
	 * valid ACKs": a segment at RCV.NXT is taken for its ACK and FIN, its
	 * data cut by trim_to_window (as Linux).
	 */
	if (wnd == 0)
		return seq == nxt;
	if (s->len == 0)
		return seq_in(seq, nxt, nxt + wnd);
	return seq_in(seq, nxt, nxt + wnd) || seq_in(seq + s->len - 1, nxt, nxt + wnd);
}

static void reset_by_peer(struct tcp_conn *c)
{
	struct tw_stack *st = c->stack;
	st->stats.conns_reset++;
	switch (c->state) {
	case TW_SYN_RECEIVED:
		/* RFC 9293 3.10.7.4, second: passive opens return to LISTEN; active ones are refused. */
		tcp_conn_done(c, (c->flags & TF_PASSIVE) ? 0 : ECONNREFUSED);
		break;
	case TW_CLOSING:
	case TW_LAST_ACK:
		tcp_conn_done(c, 0);
		break;
	case TW_CLOSE_WAIT:
		/* Like Linux (tcp_reset): the peer had closed already, so the error is EPIPE. */
		tcp_conn_done(c, EPIPE);
		break;
	default:
		tcp_conn_done(c, ECONNRESET);
		break;
	}
}

static bool our_fin_acked(const struct tcp_conn *c)
{
	return (c->flags & TF_FIN_SENT) && c->snd.una == c->snd.max;
}

/* RFC 9293 3.10.7.4, fifth, for an ACK of new data: SND.UNA < SEG.ACK =< SND.NXT. */
static void ack_new_data(struct tcp_conn *c, const struct seg_in *s)
{
	struct tw_stack *st = c->stack;
	uint32_t acked = s->t.ack - c->snd.una;
	uint32_t data = c->sb ? c->sb->snd.bytes.len : 0;
	uint32_t data_acked = acked < data ? acked : data;

	if (c->sb) {
		struct tcp_pool *pool = &st->pool;
		tcp_ring_consume(pool, &c->sb->snd.bytes, data_acked);
		tcp_sndq_acked(pool, &c->sb->snd, s->t.ack);
		tcp_ring_release_if_empty(pool, &c->sb->snd.bytes);
	}
	c->snd.una = s->t.ack;
	if (seq_lt(c->snd.nxt, c->snd.una))
		c->snd.nxt = c->snd.una;
	rtt_from_ack(c, s);
	tcp_recovery_new_ack(c, s->t.ack, acked);
	c->backoff = 0;
	c->probes = 0;
	if (c->sb)
		c->sb->rtx_since = 0;
	/* RFC 6298 5.2 and 5.3: stop the timer when all is acknowledged, else restart it. */
	if (c->snd.una == c->snd.max)
		c->timer_at[TCP_TIMER_RTX] = 0;
	else
		c->timer_at[TCP_TIMER_RTX] = st->now + c->rto_us;
	c->flags &= (uint16_t)~TF_PROBING;
}

static bool is_dupack(const struct tcp_conn *c, const struct seg_in *s)
{
	/* RFC 5681 2: no data, no window change, data outstanding, SEG.ACK = SND.UNA. */
	return s->t.ack == c->snd.una && s->len == 0 && scaled_wnd(c, s) == c->snd.wnd &&
	       c->snd.max != c->snd.una;
}

/* RFC 5961 5.2 (and RFC 9293 for an ACK of what was not sent): SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT. */
static bool ack_in_range(const struct tcp_conn *c, const struct seg_in *s)
{
	return !seq_gt(s->t.ack, c->snd.max) && !seq_lt(s->t.ack, c->snd.una - c->snd.max_wnd);
}

/* Returns false when the segment must go no further: the connection has moved on or gone. */
static bool process_ack(struct tcp_conn *c, const struct seg_in *s)
{
	c->probes = 0;   /* the peer is alive: probes so far were answered */
	if (c->sb)
		c->sb->last_ack_at = c->stack->now;
	bool old = seq_lt(s->t.ack, c->snd.una);
	tcp_recovery_sack(c, &s->t.opt);
	if (seq_gt(s->t.ack, c->snd.una))
		ack_new_data(c, s);
	else if (is_dupack(c, s))
		tcp_recovery_dupack(c);
	tcp_recovery_after_ack(c);
	/* RFC 9293 3.10.7.4: the window is updated only if SND.UNA =< SEG.ACK =< SND.NXT. */
	if (!old)
		update_window(c, s);

	switch (c->state) {
	case TW_FIN_WAIT_1:
		if (our_fin_acked(c)) {
			tcp_set_state(c, TW_FIN_WAIT_2);
			if (c->flags & TF_ORPHAN)
				c->timer_at[TCP_TIMER_IDLE] = c->stack->now + c->stack->cfg.fin_wait2_us;
			tcp_notify(c);
		}
		break;
	case TW_CLOSING:
		if (our_fin_acked(c)) {
			tcp_enter_time_wait(c);
			return false;
		}
		break;
	case TW_LAST_ACK:
		if (our_fin_acked(c)) {
			tcp_conn_done(c, 0);
			return false;
		}
		break;
	default:
		break;
	}
	return true;
}

/* When an ACK is owed for in-order data: now, or within the delayed-ACK time. */
static void schedule_ack(struct tcp_conn *c)
{
	const struct tw_stack_config *cfg = &c->stack->cfg;

	if (c->quickacks) {
		/* Quick ACKs at connection start, as Linux, so slow start is not held up. */
		c->quickacks--;
		c->flags |= TF_ACK_NOW;
	} else if (c->rcv.nxt - c->rcv.ack_sent > c->rcv_seg_max) {
		/* RFC 5681 4.2 / RFC 9293 3.8.6.3: an ACK for at least every second full segment. */
		c->flags |= TF_ACK_NOW;
	} else {
		c->flags |= TF_ACK_DELAYED;
		if (!c->timer_at[TCP_TIMER_DELACK])
			c->timer_at[TCP_TIMER_DELACK] = c->stack->now + cfg->delack_us;
	}
}

/* RFC 9293 3.10.7.4, seventh: segment text, already trimmed to the window. */
static void receive_text(struct tcp_conn *c, uint32_t seq, const uint8_t *data, uint32_t len)
{
	struct tcp_sockbuf *sb = c->sb;

	if (!sb)
		return;
	uint32_t off = seq - c->rcv.nxt;
	if (sb->rcv.len + off + len > sb->rcv.cap) {
		if (sb->rcv.len + off >= sb->rcv.cap)
			return;
		len = sb->rcv.cap - sb->rcv.len - off;
	}
	if (len > c->rcv_seg_max)
		c->rcv_seg_max = (uint16_t)(len < 65535 ? len : 65535);
	if (len < c->rcv_seg_max) {
		sb->small_twice = sb->small_since_ack;
		sb->small_since_ack = true;
	}
	sb->data_in_at = c->stack->now;
	if (off) {
		/* Out of order: keep it, and ACK at once with SACK blocks (RFC 5681 4.2, RFC 2018 4). */
		/* Without a chunk for it, it is not kept, and comes again. */
		report_if_held(c, seq, len);
		tcp_rcv_ooo_add(c, seq, data, len);
		c->flags |= TF_ACK_NOW;
		return;
	}
	/*
	 * No memory: like Linux's tcp_prune_ofo_queue, out-of-order data gives
	 * way, from the far end, to the in-order data that lets the application
	 * read and free it all; refusing this segment could wait forever. Without
	 * any left to give, the data is not acknowledged and will come again.
	 */
	while (!tcp_ring_write_at(&c->stack->pool, &sb->rcv, sb->rcv.len, data, len)) {
		uint32_t gone = tcp_rcv_ooo_prune(c);
		if (!gone)
			return;
		c->stack->stats.ooo_pruned++;
		c->stack->stats.ooo_pruned_bytes += gone;
	}
	/* Linux's tcp_grow_window: each real segment lets the window open two segments further. */
	if (sb->rcv_ssthresh && sb->rcv_ssthresh < sb->rcvbuf && len >= 128) {
		uint32_t grown = sb->rcv_ssthresh + 2u * c->rcv_mss;
		sb->rcv_ssthresh = grown < sb->rcvbuf ? grown : sb->rcvbuf;
	}
	bool had_gap = sb->n_ooo != 0;
	sb->rcv.len += len;
	c->rcv.nxt += len;
	uint32_t more = had_gap ? tcp_rcv_ooo_merge(c) : 0;
	c->rcv.nxt += more;
	sb->bytes_received += len + more;
	if (had_gap)
		c->flags |= TF_ACK_NOW;   /* RFC 5681 4.2: a segment that fills a gap is ACKed at once */
	else
		schedule_ack(c);
}

/* RFC 9293 3.10.7.4, eighth: the FIN, once everything before it has arrived. */
static bool receive_fin(struct tcp_conn *c)
{
	c->rcv.nxt++;
	c->flags |= TF_PEER_FIN;
	switch (c->state) {
	case TW_SYN_RECEIVED:
	case TW_ESTABLISHED:
		tcp_set_state(c, TW_CLOSE_WAIT);
		/*
		 * Like Linux: the ACK of a FIN waits a little, for the application's
		 * own FIN; but before any data has arrived Linux has no ACK delay to
		 * wait (its ato is still 0) and the ACK goes at once.
		 */
		c->quickacks = 0;
		if (c->rcv.nxt - c->irs == 2) {
			c->flags |= TF_ACK_NOW;
			break;
		}
		c->flags |= TF_ACK_DELAYED;
		if (!c->timer_at[TCP_TIMER_DELACK])
			c->timer_at[TCP_TIMER_DELACK] = c->stack->now + c->stack->cfg.delack_us;
		break;
	case TW_FIN_WAIT_1:
		/* Our FIN is not yet acknowledged (else we would be in FIN-WAIT-2). */
		tcp_set_state(c, TW_CLOSING);
		c->flags |= TF_ACK_NOW;
		break;
	case TW_FIN_WAIT_2:
		tcp_send_ack(c);
		tcp_enter_time_wait(c);
		return false;
	default:
		c->flags |= TF_ACK_NOW;   /* a repeated FIN: ACK it again */
		break;
	}
	return true;
}

static void trim_to_window(struct tcp_conn *c, struct seg_in *s)
{
	uint32_t nxt = c->rcv.nxt;
	if (seq_lt(s->t.seq, nxt)) {
		/* Old bytes at the front: only the new part is processed, the old reported (RFC 2883). */
		uint32_t old = nxt - s->t.seq;
		if (s->t.payload_len && !has_flag(s, WIRE_TCP_SYN))
			report_duplicate(c, s->t.seq, nxt);
		if (has_flag(s, WIRE_TCP_SYN)) {
			s->t.flags &= (uint8_t)~WIRE_TCP_SYN;
			old--;
			s->t.seq++;
		}
		if (old > s->t.payload_len)
			old = (uint32_t)s->t.payload_len;
		s->t.payload += old;
		s->t.payload_len -= old;
		s->t.seq += old;
	}
	uint32_t room = seq_gt(c->rcv.adv, s->t.seq) ? c->rcv.adv - s->t.seq : 0;
	if (s->t.payload_len > room) {
		/* Beyond the window: cut, and the FIN with it; the ACK tells the sender our window. */
		s->t.payload_len = room;
		s->t.flags &= (uint8_t)~WIRE_TCP_FIN;
		c->flags |= TF_ACK_NOW;
	}
	s->len = wire_tcp_seg_len(&s->t);
}

/* A SYN-RECEIVED connection's ACK of our SYN (RFC 9293 3.10.7.4, fifth). */
static int syn_received_ack(struct tcp_conn *c, const struct seg_in *s)
{
	struct tw_stack *st = c->stack;

	if (!(seq_lt(c->snd.una, s->t.ack) && seq_leq(s->t.ack, c->snd.max))) {
		/* "If the segment acknowledgment is not acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST>." */
		tcp_reply_rst(st, s->family, s->dst, s->src, &s->t);
		return drop_seg(st, s, c, TW_DROP_BAD_ACK);
	}
	struct tcp_conn *l = c->parent;
	if (l && l->queued > l->backlog) {
		/* Accept queue full: like Linux, ignore the ACK; the SYN-ACK timer tries again. */
		return drop_seg(st, s, c, TW_DROP_ACCEPT_QUEUE_FULL);
	}
	if (establish_buffers(c))
		return drop_seg(st, s, c, TW_DROP_NO_MEMORY);
	/*
	 * Karn: a SYN-ACK sent more than once gives no sample from its clock; nor
	 * one sent from a cookie, never timed. The echoed timestamp still says
	 * which SYN-ACK was answered (Linux's tcp_synack_rtt_meas).
	 */
	if (c->backoff == 0 && !(c->flags & TF_COOKIE))
		tcp_rtt_sample(c, (uint32_t)st->now - c->rtt_start_us);
	else
		rtt_from_echo(c, s);
	become_established(c, s);
	if (c->flags & TF_FIN_QUEUED)
		tcp_set_state(c, TW_FIN_WAIT_1);   /* closed while the handshake was finishing */
	if (l) {
		/* Into the accept queue, at its tail. */
		struct tcp_conn **pp = &l->accept_next;
		while (*pp)
			pp = &(*pp)->accept_next;
		*pp = c;
		c->accept_next = NULL;
		l->half_open--;
		l->queued++;
		c->flags |= TF_IN_ACCEPTQ;
	}
	tcp_notify(c);
	return 0;
}

/* The end of every segment's processing: send what is owed, re-arm timers, tell the application. */
static void finish_input(struct tcp_conn *c)
{
	tcp_output(c);
	tcp_timer_update(c);
	tcp_notify(c);
}

static int synchronized_input(struct tcp_conn *c, struct seg_in *s)
{
	struct tw_stack *st = c->stack;
	bool rst = has_flag(s, WIRE_TCP_RST), syn = has_flag(s, WIRE_TCP_SYN);
	bool has_ts = (c->flags & TF_TS) && (s->t.opt.has & WIRE_HAS_TS);

	/* A duplicate of the peer's SYN in SYN-RECEIVED: send the SYN-ACK again (as Linux). */
	if (c->state == TW_SYN_RECEIVED && syn && !rst && !has_flag(s, WIRE_TCP_ACK) && s->t.seq == c->irs) {
		if (!oow_rate_limited(c)) {
			tcp_send_syn(c);
			tcp_retransmit_event(c, c->iss, 1, TW_RTX_SYN);
			if (c->backoff < 255)
				c->backoff++;   /* sent twice: no RTT sample from it (Karn), as Linux's num_retrans */
		}
		return 0;
	}
	/* Simultaneous open: the peer's SYN-ACK completes it (as Linux). */
	if (c->state == TW_SYN_RECEIVED && syn && !rst && has_flag(s, WIRE_TCP_ACK) && s->t.seq == c->irs &&
	    s->t.ack == c->snd.max && !(c->flags & TF_PASSIVE)) {
		s->t.flags &= (uint8_t)~WIRE_TCP_SYN;
		s->t.seq++;
		s->len = wire_tcp_seg_len(&s->t);
		int r = syn_received_ack(c, s);
		if (r == 0) {
			/* Its SYN repeats the one we have: ACKed at once, with a D-SACK for it (Linux). */
			report_duplicate(c, c->irs, c->irs + 1);
			finish_input(c);
		}
		return r;
	}

	/*
	 * RFC 7323 5.3 R1 (PAWS): a timestamp older than TS.Recent marks an old
	 * duplicate: ACK it (unless RST) and drop it.
	 */
	if (has_ts && !rst && paws_old(c, s)) {
		report_if_old(c, s);
		oow_ack(c, s);
		return drop_seg(st, s, c, TW_DROP_PAWS);
	}
	/*
	 * Linux's tcp_reset_check: once the peer's FIN is in (CLOSE-WAIT,
	 * LAST-ACK, CLOSING), a RST carrying the FIN's own sequence number,
	 * RCV.NXT - 1, counts as exact (RFC 5961 3.2 leaves the exact match to
	 * the implementation): the peer's stack has forgotten the FIN it sent.
	 */
	if (rst && s->t.seq == c->rcv.nxt - 1 &&
	    (c->state == TW_CLOSE_WAIT || c->state == TW_LAST_ACK || c->state == TW_CLOSING)) {
		reset_by_peer(c);
		return 0;
	}
	/* First: is the segment acceptable? If not, ACK it (unless RST) and drop it. */
	if (!acceptable(c, s)) {
		if (!rst) {
			report_if_old(c, s);
			/* RFC 5961 4.2: the ACK a SYN draws is a challenge ACK, counted only when it goes. */
			if (oow_ack(c, s) && syn)
				st->stats.challenge_acks++;
		}
		return drop_seg(st, s, c, TW_DROP_OUT_OF_WINDOW);
	}
	if (c->sb && c->sb->keepalive)
		tcp_keepalive_rearm(c);   /* the peer is there: idle time starts again */
	/*
	 * Second: RST. RFC 5961 3.2: only a RST at exactly RCV.NXT resets; any
	 * other in-window RST is answered with a challenge ACK.
	 */
	if (rst) {
		if (s->t.seq != c->rcv.nxt) {
			challenge_ack(c);
			return drop_seg(st, s, c, TW_DROP_RST_CHALLENGED);
		}
		reset_by_peer(c);
		return 0;
	}
	/* Fourth: SYN. RFC 5961 4.2: challenge ACK; a passive SYN-RECEIVED returns to LISTEN. */
	if (syn) {
		if (c->state == TW_SYN_RECEIVED && (c->flags & TF_PASSIVE)) {
			tcp_conn_done(c, 0);
			return 0;
		}
		challenge_ack(c);
		return drop_seg(st, s, c, TW_DROP_SYN_CHALLENGED);
	}
	/* Fifth: ACK. Without it the segment is dropped. */
	if (!has_flag(s, WIRE_TCP_ACK))
		return drop_seg(st, s, c, TW_DROP_NO_ACK);
	if (c->state == TW_SYN_RECEIVED) {
		int r = syn_received_ack(c, s);
		if (r || c->state == TW_SYN_RECEIVED)
			return r;
	}
	/* An ACK out of range is answered with an ACK, and the segment dropped. */
	if (!ack_in_range(c, s)) {
		challenge_ack(c);
		return drop_seg(st, s, c, TW_DROP_ACK_OUT_OF_RANGE);
	}
	if (!process_ack(c, s))
		return 0;
	/*
	 * RFC 7323 4.3: remember the timestamp of the segment that reaches
	 * Last.ACK.sent; only once its ACK was accepted, so a segment RFC 5961
	 * drops cannot plant a future TSval that PAWS would then hold against
	 * the real peer (Linux's tcp_replace_ts_recent after tcp_ack).
	 */
	if (has_ts && seq_leq(s->t.seq, c->rcv.ack_sent))
		set_ts_recent(c, s->t.opt.ts_val);

	trim_to_window(c, s);
	/*
	 * DEVIATION(RFC 9293 3.10.7.4 sixth): the urgent pointer is not acted on;
	 * urgent data arrives inline with the rest (RFC 6093 4 advises new
	 * applications against it).
	 */
	/* Seventh: text, in the states that still receive it. */
	if (s->t.payload_len && (c->state == TW_ESTABLISHED || c->state == TW_FIN_WAIT_1 ||
				 c->state == TW_FIN_WAIT_2)) {
		if (c->flags & TF_RD_SHUT && c->flags & TF_ORPHAN) {
			/*
			 * Data for a closed socket: nobody will read it. Linux resets
			 * (TCP_ABORT_ON_DATA) with the answer to the segment, [R] seq=SEG.ACK.
			 */
			tcp_reply_rst(st, s->family, s->dst, s->src, &s->t);
			st->stats.conns_reset++;
			tcp_conn_done(c, 0);
			return 0;
		}
		receive_text(c, s->t.seq, s->t.payload, (uint32_t)s->t.payload_len);
	}
	/*
	 * Eighth: FIN, when everything before it has arrived: now, or later
	 * when the out-of-order data before it is filled in (kept in ooo_fin).
	 */
	uint32_t fin_at = s->t.seq + (uint32_t)s->t.payload_len;
	if (has_flag(s, WIRE_TCP_FIN) && !(c->flags & TF_PEER_FIN) && c->sb && seq_gt(fin_at, c->rcv.nxt)) {
		c->sb->ooo_fin = true;
		c->sb->ooo_fin_seq = fin_at;
	}
	bool fin_now = has_flag(s, WIRE_TCP_FIN) && fin_at == c->rcv.nxt;
	bool fin_filled = c->sb && c->sb->ooo_fin && c->sb->ooo_fin_seq == c->rcv.nxt;
	if ((fin_now || fin_filled) && !(c->flags & TF_PEER_FIN)) {
		if (c->sb)
			c->sb->ooo_fin = false;
		if (!receive_fin(c))
			return 0;
	} else if (has_flag(s, WIRE_TCP_FIN) && (c->flags & TF_PEER_FIN)) {
		c->flags |= TF_ACK_NOW;
	}
	finish_input(c);
	return 0;
}

static int conn_input(struct tcp_conn *c, struct seg_in *s)
{
	switch (c->state) {
	case TW_SYN_SENT:
		return syn_sent_input(c, s);
	case TW_TIME_WAIT:
		return time_wait_input(c, s);
	default:
		return synchronized_input(c, s);
	}
}

/*
 * A segment for a half-open entry. The peer's SYN again is answered from
 * the entry; anything else gets the control block, and SYN-RECEIVED's rules.
 */
static int req_input(struct tcp_conn *l, struct tcp_req *r, struct seg_in *s)
{
	if (has_flag(s, WIRE_TCP_SYN) && !has_flag(s, WIRE_TCP_ACK) && !has_flag(s, WIRE_TCP_RST) &&
	    s->t.seq == r->irs) {
		tcp_req_repeated_syn(l->stack, l, r);
		return 0;
	}
	struct tcp_conn *c = promote(l, r, s);
	if (!c)
		return drop_seg(l->stack, s, l, TW_DROP_NO_MEMORY);
	return conn_input(c, s);
}

/* ------------------------------------------------------------------ entry */

int tcp_input(struct tw_stack *st, const struct ip_packet *pkt)
{
	struct seg_in seg = { .family = pkt->family, .src = pkt->src, .dst = pkt->dst };
	struct seg_in *s = &seg;
	int err = wire_tcp_parse(&s->t, pkt->payload, pkt->payload_len, &pkt->pseudo);
	if (err) {
		/* Nothing is known of the ports when the header does not parse. */
		s->t.sport = s->t.dport = 0;
		return drop_seg(st, s, NULL, err == -WIRE_E_CHECKSUM ? TW_DROP_TCP_CHECKSUM : TW_DROP_TCP_MALFORMED);
	}
	/* RFC 9293 3.9.1: port 0 is no port; nothing is answered to it. */
	if (s->t.sport == 0 || s->t.dport == 0)
		return drop_seg(st, s, NULL, TW_DROP_BAD_PORT);
	st->stats.in_segs++;
	s->len = wire_tcp_seg_len(&s->t);

	struct tcp_conn *c = tcp_hash_lookup(st, s->family, s->dst, s->t.dport, s->src, s->t.sport);
	if (c)
		return conn_input(c, s);
	struct tcp_req *r = tcp_req_lookup(st, s->family, s->dst, s->t.dport, s->src, s->t.sport);
	struct tcp_conn *l = r ? tcp_req_listener(st, r) : NULL;
	if (l)
		return req_input(l, r, s);
	l = tcp_listen_lookup(st, s->family, s->dst, s->t.dport);
	if (l)
		return listen_input(l, s);
	/* RFC 9293 3.10.7.1: CLOSED. A RST is dropped; anything else is answered with a RST. */
	if (!has_flag(s, WIRE_TCP_RST))
		tcp_reply_rst(st, s->family, s->dst, s->src, &s->t);
	return drop_seg(st, s, NULL, TW_DROP_NO_SOCKET);
}
