/*
 * The user calls of RFC 9293 3.10 (OPEN, CLOSE, ABORT) as the engine carries
 * them out; src/api/ checks arguments and maps them to these.
 */
#include <errno.h>
#include <string.h>

#include "tcp/seq.h"
#include "tcp/tcp.h"

/*
 * RFC 7323 2.3: the smallest shift that lets the window cover the largest
 * buffer (Linux: ilog2(space) - 15). Like Linux, a buffer the application
 * set with SO_RCVBUF bounds the window, so it sets the scale instead.
 */
static uint8_t offered_wscale(const struct tw_stack *st, const struct tcp_sockbuf *sb)
{
	uint32_t space = sb && sb->rcvbuf_locked ? sb->rcvbuf : st->cfg.rcvbuf_max;
	int log2 = 0;
	while (log2 < 31 && space >> (log2 + 1))
		log2++;
	int ws = log2 - 15;
	return (uint8_t)(ws < 0 ? 0 : ws > 14 ? 14 : ws);
}

/* The MSS we advertise: the link MTU less the IP and TCP headers, or the user's. */
uint16_t tcp_our_mss(const struct tw_stack *st, uint8_t family, const struct tcp_sockbuf *sb)
{
	uint32_t mss = tcp_mss_for_mtu(st, family);
	if (sb && sb->user_mss && sb->user_mss < mss)
		mss = sb->user_mss;
	return (uint16_t)mss;
}

void tcp_offer_options(struct tcp_conn *c)
{
	const struct tw_stack *st = c->stack;
	c->flags &= (uint16_t)~(TF_SACK | TF_TS | TF_WSCALE);
	if (st->cfg.sack)
		c->flags |= TF_SACK;
	if (st->cfg.timestamps)
		c->flags |= TF_TS;
	if (st->cfg.window_scaling) {
		c->flags |= TF_WSCALE;
		c->rcv_wscale = offered_wscale(st, c->sb);
	} else {
		c->rcv_wscale = 0;
	}
	c->rcv_mss = tcp_our_mss(st, c->family, c->sb);
}

/*
 * TCP_MAXSEG. A listener's next SYN-ACKs advertise it, and it clamps the MSS
 * of the SYNs that come from now on, as Linux reads it at each SYN.
 */
void tcp_usr_set_maxseg(struct tcp_conn *c, uint16_t mss)
{
	c->sb->user_mss = mss;
	if (c->state == TW_LISTEN)
		c->rcv_mss = tcp_our_mss(c->stack, c->family, c->sb);
}

/* RFC 9293 3.10.1, OPEN (active): the addresses and ports are set. */
int tcp_usr_connect(struct tcp_conn *c)
{
	struct tw_stack *st = c->stack;

	tcp_offer_options(c);
	tcp_choose_isn(st, c, 0);
	c->snd.una = c->snd.nxt = c->snd.max = c->iss;
	tcp_recovery_init(c);
	c->rcv_seg_max = 536;
	c->rto_us = st->cfg.rto_initial_us;
	tcp_set_state(c, TW_SYN_SENT);
	tcp_hash_insert(c);
	st->stats.active_opens++;
	tcp_send_syn(c);
	c->timer_at[TCP_TIMER_RTX] = st->now + c->rto_us;
	tcp_timer_update(c);
	return -EINPROGRESS;
}

static void abort_children(struct tcp_conn *l)
{
	struct tw_stack *st = l->stack;
	/* Connections still queued for accept are reset (as Linux); half-open ones just go. */
	tcp_reqs_drop_listener(l);
	for (uint32_t i = 0; i <= st->table_mask; i++) {
		for (struct tcp_conn *c = st->table[i], *next; c; c = next) {
			next = c->hash_next;
			if (c->parent != l)
				continue;
			if (c->state != TW_SYN_RECEIVED)
				tcp_send_rst_for(c);
			tcp_conn_done(c, 0);
		}
	}
	/* What is left in the accept queue has ended already (CLOSED): nobody will take it now. */
	for (struct tcp_conn *c; (c = tcp_accept_pop(l)) != NULL;)
		tcp_conn_free(c);
}

/*
 * RFC 9293 3.10.4: the FIN goes after the queued data. In SYN-RECEIVED it
 * waits for ESTABLISHED ("queue for processing after entering ESTABLISHED").
 */
static void queue_fin(struct tcp_conn *c, enum tw_state next)
{
	c->flags |= TF_FIN_QUEUED;
	if (c->state == TW_SYN_RECEIVED)
		return;
	tcp_set_state(c, next);
	tcp_output(c);
}

/* RFC 9293 3.10.1, OPEN (passive), or a new backlog for a listener. */
int tcp_usr_listen(struct tcp_conn *c, uint16_t backlog)
{
	c->backlog = backlog;
	if (c->state == TW_LISTEN)
		return 0;
	int err = tcp_listen_insert(c);
	if (err)
		return err;
	tcp_offer_options(c);
	c->flags |= TF_LISTENER;
	tcp_set_state(c, TW_LISTEN);
	return 0;
}

/*
 * shutdown(2) as Linux's inet_shutdown: a listener's sending side means
 * nothing and its receiving side stops it; a connection still in SYN-SENT
 * is abandoned (no RST: nothing is synchronized).
 */
int tcp_usr_shutdown(struct tcp_conn *c, bool rd, bool wr)
{
	if (c->flags & TF_LISTENER) {
		if (rd)
			tcp_usr_stop_listening(c);
		return 0;
	}
	if (c->state == TW_SYN_SENT) {
		tcp_conn_done(c, ECONNRESET);
		return 0;
	}
	if (!tcp_synchronized(c) && c->state != TW_SYN_RECEIVED)
		return -ENOTCONN;
	if (rd)
		c->flags |= TF_RD_SHUT;
	if (wr)
		tcp_usr_shutdown_wr(c);
	return 0;
}

/* SO_KEEPALIVE: the idle time starts now, or the probes stop. */
void tcp_usr_set_keepalive(struct tcp_conn *c, bool on)
{
	c->sb->keepalive = on;
	tcp_keepalive_rearm(c);
}

/* TCP_KEEPIDLE: as Linux, a new idle time applies at once. */
void tcp_usr_set_keepidle(struct tcp_conn *c, uint32_t idle_s)
{
	c->sb->keep_idle_s = idle_s;
	if (c->sb->keepalive)
		tcp_keepalive_rearm(c);
}

/* RFC 9293 3.10.5, SHUTDOWN for sending: a FIN after the queued data. */
void tcp_usr_shutdown_wr(struct tcp_conn *c)
{
	if (c->flags & TF_FIN_QUEUED)
		return;
	if (c->state == TW_ESTABLISHED || c->state == TW_SYN_RECEIVED)
		queue_fin(c, TW_FIN_WAIT_1);
	else if (c->state == TW_CLOSE_WAIT)
		queue_fin(c, TW_LAST_ACK);
	tcp_notify(c);
}

static void reset_and_free(struct tcp_conn *c)
{
	tcp_send_rst_for(c);
	c->stack->stats.conns_reset++;
	c->flags |= TF_ORPHAN;
	tcp_conn_done(c, 0);
}

/*
 * Linux's shutdown(SHUT_RD) on a listener (tcp_disconnect): it stops
 * listening, resets what waits in its queues, and stays a bound socket.
 */
void tcp_usr_stop_listening(struct tcp_conn *c)
{
	abort_children(c);   /* while the listener can still be found: its half-open entries name it by address */
	tcp_listen_remove(c);
	c->flags &= (uint16_t)~TF_LISTENER;
	tcp_set_state(c, TW_CLOSED);
	tcp_notify(c);
}

/* RFC 9293 3.10.4, CLOSE; the socket is released, the connection may live on. */
void tcp_usr_close(struct tcp_conn *c)
{
	bool unread = c->sb && c->sb->rcv.len;
	bool linger0 = c->sb && c->sb->linger0;

	c->flags |= TF_RD_SHUT;
	switch (c->state) {
	case TW_LISTEN:
		abort_children(c);
		tcp_listen_remove(c);
		c->flags = TF_ORPHAN;
		tcp_set_state(c, TW_CLOSED);
		tcp_conn_free(c);
		return;
	case TW_CLOSED:
		tcp_conn_free(c);
		return;
	case TW_SYN_SENT:
		/* "Delete the TCB": nothing was synchronized, nothing is sent. */
		c->flags |= TF_ORPHAN;
		tcp_conn_done(c, 0);
		return;
	case TW_TIME_WAIT:
		c->flags |= TF_ORPHAN;
		tcp_sockbuf_free(c->sb);
		c->sb = NULL;
		return;
	default:
		break;
	}
	/*
	 * RFC 2525 2.17 and RFC 9293 3.10.4: closing with unread data, or with
	 * linger 0, aborts: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>.
	 */
	if (unread || linger0) {
		reset_and_free(c);
		return;
	}
	c->flags |= TF_ORPHAN;
	if (c->sb) {
		tcp_ring_free(&c->stack->pool, &c->sb->rcv);
		c->sb->n_ooo = 0;
	}
	switch (c->state) {
	case TW_SYN_RECEIVED:
	case TW_ESTABLISHED:
		queue_fin(c, TW_FIN_WAIT_1);
		break;
	case TW_CLOSE_WAIT:
		queue_fin(c, TW_LAST_ACK);
		break;
	case TW_FIN_WAIT_2:
		c->timer_at[TCP_TIMER_IDLE] = c->stack->now + c->stack->cfg.fin_wait2_us;
		tcp_timer_update(c);
		break;
	default:
		break;   /* FIN-WAIT-1, CLOSING, LAST-ACK: the FIN is on its way */
	}
}

/* RFC 9293 3.10.6, ABORT: a RST in the synchronized states, then the TCB goes. */
void tcp_usr_abort(struct tcp_conn *c)
{
	switch (c->state) {
	case TW_LISTEN:
	case TW_CLOSED:
	case TW_SYN_SENT:
	case TW_TIME_WAIT:
		tcp_usr_close(c);
		return;
	default:
		reset_and_free(c);
		return;
	}
}

/*
 * RFC 9293 3.8.4: keep-alive probes start after an idle interval, counted from
 * the last segment received. Only ESTABLISHED uses the idle deadline for it.
 */
void tcp_keepalive_rearm(struct tcp_conn *c)
{
	if (c->state != TW_ESTABLISHED)
		return;
	c->timer_at[TCP_TIMER_IDLE] = c->sb && c->sb->keepalive ? c->stack->now + (uint64_t)c->sb->keep_idle_s * 1000000 : 0;
	c->probes = 0;
	tcp_timer_update(c);
}

/*
 * After the application read: if the window can now open a lot (to at least
 * twice what it was, and by a segment or more), tell the peer at once, as
 * Linux does, rather than wait for the next segment to carry it.
 */
static void after_read(struct tcp_conn *c)
{
	if (!tcp_synchronized(c) || c->state == TW_TIME_WAIT || (c->flags & TF_PEER_FIN))
		return;
	uint32_t now_wnd = seq_gt(c->rcv.adv, c->rcv.nxt) ? c->rcv.adv - c->rcv.nxt : 0;
	uint32_t space = tcp_rcv_space(c);
	uint32_t most = 65535u << c->rcv_wscale;   /* the largest window the field can carry */
	if (space > most)
		space = most;
	uint32_t mss = c->snd_mss ? c->snd_mss : 536;
	uint32_t half = c->sb ? c->sb->rcvbuf / 2 : mss;
	uint32_t step = half < mss ? half : mss;   /* the silly-window threshold of tcp_wnd_field */
	if (space >= 2 * now_wnd && space - now_wnd >= step) {
		tcp_send_ack(c);
		return;
	}
	/*
	 * Like Linux's tcp_cleanup_rbuf: a read that empties the queue sends a
	 * delayed ACK at once when small segments were waiting in it, so a
	 * one-way exchange is not held up by the ACK delay; but not when we
	 * answer what arrives (pingpong), since the answer will carry the ACK,
	 * unless two small segments wait.
	 */
	struct tcp_sockbuf *sb = c->sb;
	if ((c->flags & TF_ACK_DELAYED) && sb && sb->rcv.len == 0 &&
	    (sb->small_twice || (sb->small_since_ack && !sb->pingpong)))
		tcp_send_ack(c);
}

/* ------------------------------------------------------------ data and buffers */

/*
 * RFC 9293 3.10.2, SEND: queue what fits, then send what the windows allow.
 * MSG_MORE corks for this call only: only full segments go now.
 */
long tcp_usr_send(struct tcp_conn *c, const uint8_t *data, uint32_t len, bool more)
{
	struct tcp_sockbuf *sb = c->sb;
	struct tw_stack *st = c->stack;
	uint32_t room = sb->snd.bytes.cap > sb->snd.bytes.len ? sb->snd.bytes.cap - sb->snd.bytes.len : 0;
	uint32_t n = tcp_ring_append(&st->pool, &sb->snd.bytes, data, len);
	/*
	 * Short of what the buffer has room for, at the stack's bound: to the
	 * application that is a full send buffer (Linux's sk_stream_wait_memory
	 * under tcp_mem), no POLLOUT until chunks come back, when it is told.
	 */
	sb->snd_nomem = n < (len < room ? len : room) && tcp_pool_at_bound(&st->pool);
	if (sb->snd_nomem)
		st->pool.writers_wait = true;
	if (n == 0 && len)
		return sb->snd_nomem || !room ? -EAGAIN : -ENOMEM;
	if (n)
		tcp_idle_restart_check(c);   /* as Linux's tcp_skb_entail, for data queued */
	bool cork = sb->cork;
	if (more)
		sb->cork = true;
	tcp_output(c);
	sb->cork = cork;
	return n;
}

/* RFC 9293 3.10.3, RECEIVE: in-order bytes; reading opens the window. */
long tcp_usr_recv(struct tcp_conn *c, uint8_t *out, uint32_t len, bool peek)
{
	struct tcp_sockbuf *sb = c->sb;
	uint32_t n = sb->rcv.len < len ? sb->rcv.len : len;
	tcp_ring_read_at(&sb->rcv, 0, out, n);
	if (peek)
		return n;
	tcp_ring_consume(&c->stack->pool, &sb->rcv, n);
	if (!sb->n_ooo)
		tcp_ring_release_if_empty(&c->stack->pool, &sb->rcv);
	after_read(c);
	tcp_timer_update(c);
	return n;
}

/* Linux's bounds on SO_RCVBUF and SO_SNDBUF: SOCK_MIN_RCVBUF, about, up to the largest buffer. */
static uint32_t buffer_size(const struct tcp_conn *c, uint32_t bytes)
{
	uint32_t max = c->stack->cfg.rcvbuf_max;
	uint32_t v = bytes < 2048 ? 2048 : bytes;
	return v > max ? max : v;
}

int tcp_usr_set_rcvbuf(struct tcp_conn *c, uint32_t bytes)
{
	struct tcp_sockbuf *sb = c->sb;
	uint32_t v = buffer_size(c, bytes);
	/* The receive ring also holds out-of-order data beyond the unread bytes: no shrinking then. */
	if (sb->n_ooo)
		return -EBUSY;
	/*
	 * A window already offered is a promise: the ring keeps room for it
	 * even when the buffer shrinks; the smaller size shows in windows
	 * offered from now on.
	 */
	uint64_t cap = (uint64_t)v + TCP_RCV_SLACK;
	if (tcp_synchronized(c) && seq_gt(c->rcv.adv, c->rcv.nxt)) {
		uint64_t promised = (uint64_t)sb->rcv.len + (c->rcv.adv - c->rcv.nxt) + TCP_RCV_SLACK;
		if (cap < promised)
			cap = promised;
	}
	int e = tcp_ring_set_cap(&c->stack->pool, &sb->rcv, (uint32_t)cap);
	if (e)
		return e;
	sb->rcvbuf = v;
	sb->rcvbuf_locked = true;
	if (sb->rcv_ssthresh > v)
		sb->rcv_ssthresh = v;
	return 0;
}

int tcp_usr_set_sndbuf(struct tcp_conn *c, uint32_t bytes)
{
	uint32_t v = buffer_size(c, bytes);
	int e = tcp_ring_set_cap(&c->stack->pool, &c->sb->snd.bytes, v);
	if (!e)
		c->sb->sndbuf = v;
	return e;
}

void tcp_usr_set_nodelay(struct tcp_conn *c, bool on)
{
	c->sb->nodelay = on;
	tcp_output(c);
}

void tcp_usr_set_cork(struct tcp_conn *c, bool on)
{
	c->sb->cork = on;
	tcp_output(c);
}
