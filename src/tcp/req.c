/*
 * Half-open connections (Linux's request_sock): a SYN to a listener makes a
 * 64-byte entry, not a control block, holding what the SYN offered and
 * what the SYN-ACK said. When the peer sends anything more for that 4-tuple
 * (the third segment, a repeated SYN, a RST), input.c makes the control
 * block from the entry and hands it the segment, so every rule of
 * SYN-RECEIVED lives in one place; until then a SYN flood costs 64 bytes a
 * SYN, and nothing with SYN cookies.
 *
 * SYN-ACK retransmission (RFC 6298 5.5, as for any SYN-ACK): every entry
 * follows the same schedule (the initial RTO, doubling up to the maximum),
 * so entries wait in one queue per retransmission count, each queue in time
 * order: the next due is always at a head.
 */
#include <stdlib.h>
#include <string.h>

#include "tcp/seq.h"
#include "tcp/tcp.h"

#define REQ_BUCKETS 1024u
#define FREE_REQS_MAX 4096u


/* The SYN-ACK's timeout after `backoff` retransmissions: the initial RTO doubled, at most the maximum. */
uint64_t tcp_req_rto(const struct tw_stack *st, unsigned backoff)
{
	uint64_t rto = st->cfg.rto_initial_us;
	for (unsigned i = 0; i < backoff && rto < st->cfg.rto_max_us; i++)
		rto *= 2;
	return rto < st->cfg.rto_max_us ? rto : st->cfg.rto_max_us;
}

/* A deadline in ms, rounded up, as the timer wheel's 1 ms ticks round it. */
static uint32_t due_after(const struct tw_stack *st, uint64_t us)
{
	return (uint32_t)((st->now + us + 999) / 1000);
}

int tcp_reqs_init(struct tw_stack *st)
{
	st->reqs_mask = REQ_BUCKETS - 1;
	st->reqs = calloc(REQ_BUCKETS, sizeof(*st->reqs));
	st->req_queues = calloc(st->cfg.synack_retries + 1, sizeof(*st->req_queues));
	return st->reqs && st->req_queues ? 0 : -1;
}

void tcp_reqs_free_all(struct tw_stack *st)
{
	if (st->req_queues) {
		for (uint32_t k = 0; k <= st->cfg.synack_retries; k++) {
			for (struct tcp_req *r = st->req_queues[k].head, *next; r; r = next) {
				next = r->queue_next;
				free(r);
			}
		}
	}
	while (st->free_reqs) {
		struct tcp_req *r = st->free_reqs;
		st->free_reqs = r->queue_next;
		free(r);
	}
	free(st->reqs);
	free(st->req_queues);
	st->reqs = NULL;
	st->req_queues = NULL;
}

static uint8_t family_of(const struct tcp_req *r) { return r->opts & REQ_V6 ? TW_AF_INET6 : TW_AF_INET; }

const uint8_t *tcp_req_laddr(const struct tw_stack *st, const struct tcp_req *r)
{
	return st->cfg.addrs[r->laddr_index].bytes;
}

static uint32_t bucket_of(const struct tw_stack *st, uint8_t family, const uint8_t *laddr, uint16_t lport,
			  const uint8_t *raddr, uint16_t rport)
{
	return (uint32_t)tcp_tuple_hash(st, TCP_HASH_TABLE, family, laddr, lport, raddr, rport) & st->reqs_mask;
}

static void queue_push(struct tcp_req_queue *q, struct tcp_req *r)
{
	r->queue_next = NULL;
	if (q->tail)
		q->tail->queue_next = r;
	else
		q->head = r;
	q->tail = r;
}

static struct tcp_req *queue_pop(struct tcp_req_queue *q)
{
	struct tcp_req *r = q->head;
	q->head = r->queue_next;
	if (!q->head)
		q->tail = NULL;
	r->queue_next = NULL;
	return r;
}

static struct tcp_req *req_alloc(struct tw_stack *st)
{
	struct tcp_req *r = st->free_reqs;
	if (r) {
		st->free_reqs = r->queue_next;
		st->n_free_reqs--;
	} else if (!(r = malloc(sizeof(*r)))) {
		return NULL;
	}
	memset(r, 0, sizeof(*r));
	return r;
}

static void req_recycle(struct tw_stack *st, struct tcp_req *r)
{
	if (st->n_free_reqs < FREE_REQS_MAX) {
		r->queue_next = st->free_reqs;
		st->free_reqs = r;
		st->n_free_reqs++;
	} else {
		free(r);
	}
}

static int addr_index(const struct tw_stack *st, uint8_t family, const uint8_t *laddr)
{
	for (size_t i = 0; i < st->cfg.n_addrs; i++)
		if (st->cfg.addrs[i].family == family && !memcmp(st->cfg.addrs[i].bytes, laddr, tcp_addr_len(family)))
			return (int)i;
	return -1;
}

/* What the SYN offered that the stack agrees to (RFC 7323 1.3, 2.2; RFC 2018 2). */
static void agree(struct tcp_req *r, const struct tw_stack_config *cfg, const struct wire_tcp_opts *o)
{
	if (cfg->sack && (o->has & WIRE_HAS_SACK_PERM))
		r->opts |= REQ_SACK;
	if (cfg->timestamps && (o->has & WIRE_HAS_TS)) {
		r->opts |= REQ_TS;
		r->ts_recent = o->ts_val;
	}
	if (cfg->window_scaling && (o->has & WIRE_HAS_WSCALE)) {
		r->opts |= REQ_WS;
		r->peer_wscale = o->wscale > 14 ? 14 : o->wscale;   /* RFC 7323 2.3 */
	}
}

/*
 * The peer's MSS as Linux's mss_clamp keeps it from the SYN: the option, or
 * RFC 9293 3.7.1's default without one, clamped by the listener's TCP_MAXSEG
 * as it was when the SYN came.
 */
static uint16_t peer_mss_clamp(const struct tcp_conn *l, uint8_t family, const struct wire_tcp_opts *o)
{
	uint16_t mss = o->has & WIRE_HAS_MSS ? o->mss : (family == TW_AF_INET ? 536 : 1220);
	if (l->sb && l->sb->user_mss && l->sb->user_mss < mss)
		mss = l->sb->user_mss;
	return mss ? mss : 1;
}

/* Told to the event hook: a half-open connection's state, or the SYN-ACK sent again. */
static void req_event(struct tw_stack *st, const struct tcp_req *r, struct tw_event *ev)
{
	size_t n = tcp_addr_len(family_of(r));
	ev->local.addr.family = ev->remote.addr.family = family_of(r);
	memcpy(ev->local.addr.bytes, tcp_req_laddr(st, r), n);
	memcpy(ev->remote.addr.bytes, r->raddr, n);
	ev->local.port = r->lport;
	ev->remote.port = r->rport;
	ip_event(&st->ip, ev);
}

static void req_state_event(struct tw_stack *st, const struct tcp_req *r, enum tw_state from, enum tw_state to)
{
	struct tw_event ev = { .type = TW_EVENT_STATE, .old_state = from, .new_state = to };
	req_event(st, r, &ev);
}

int tcp_req_new(struct tcp_conn *l, uint8_t family, const uint8_t *laddr, const uint8_t *raddr,
		const struct wire_tcp *syn, uint32_t forced_iss)
{
	struct tw_stack *st = l->stack;
	int idx = addr_index(st, family, laddr);
	if (idx < 0 || st->stats.conns >= st->cfg.max_conns)
		return -TW_DROP_NO_MEMORY;
	struct tcp_req *r = req_alloc(st);
	if (!r)
		return -TW_DROP_NO_MEMORY;
	r->laddr_index = (uint8_t)idx;
	if (family == TW_AF_INET6)
		r->opts |= REQ_V6;
	memcpy(r->raddr, raddr, 16);
	r->lport = syn->dport;
	r->rport = syn->sport;
	/* RFC 9293 3.10.7.2: IRS = SEG.SEQ; the ISS as any connection's (RFC 6528). */
	r->irs = syn->seq;
	struct tcp_flow f = { family, laddr, raddr, r->lport, r->rport };
	uint32_t ts_offset;
	uint32_t iss = tcp_isn(st, &f, &ts_offset);
	r->iss = forced_iss ? forced_iss : iss;
	r->listener_id = l->listen_id;
	agree(r, &st->cfg, &syn->opt);
	r->peer_mss = peer_mss_clamp(l, family, &syn->opt);

	uint32_t b = bucket_of(st, family, laddr, r->lport, raddr, r->rport);
	r->hash_next = st->reqs[b];
	st->reqs[b] = r;
	st->stats.conns++;
	st->stats.passive_opens++;
	l->half_open++;
	tcp_req_send_synack(st, l, r);
	r->due_ms = due_after(st, tcp_req_rto(st, 0));
	queue_push(&st->req_queues[0], r);
	req_state_event(st, r, TW_CLOSED, TW_SYN_RECEIVED);
	return 0;
}

struct tcp_req *tcp_req_lookup(const struct tw_stack *st, uint8_t family, const uint8_t *laddr, uint16_t lport,
			       const uint8_t *raddr, uint16_t rport)
{
	size_t n = tcp_addr_len(family);
	for (struct tcp_req *r = st->reqs[bucket_of(st, family, laddr, lport, raddr, rport)]; r; r = r->hash_next)
		if (r->lport == lport && r->rport == rport && family_of(r) == family && !memcmp(r->raddr, raddr, n) &&
		    !memcmp(tcp_req_laddr(st, r), laddr, n))
			return r;
	return NULL;
}

static void hash_unlink(struct tw_stack *st, struct tcp_req *r)
{
	uint8_t family = family_of(r);
	uint32_t b = bucket_of(st, family, tcp_req_laddr(st, r), r->lport, r->raddr, r->rport);
	for (struct tcp_req **pp = &st->reqs[b]; *pp; pp = &(*pp)->hash_next) {
		if (*pp == r) {
			*pp = r->hash_next;
			return;
		}
	}
}

/* The listener the SYN came to, by its id: NULL once it has gone. */
struct tcp_conn *tcp_req_listener(const struct tw_stack *st, const struct tcp_req *r)
{
	for (struct tcp_conn *c = st->listen[r->lport & st->listen_mask]; c; c = c->hash_next)
		if (c->lport == r->lport && c->listen_id == r->listener_id)
			return c;
	return NULL;
}

/* Out of the table and the counts; the memory goes when its queue reaches it. */
void tcp_req_release(struct tw_stack *st, struct tcp_req *r, bool to_conn)
{
	hash_unlink(st, r);
	r->opts |= REQ_DEAD;
	st->stats.conns--;
	if (!to_conn) {
		struct tcp_conn *l = tcp_req_listener(st, r);
		if (l && l->half_open)
			l->half_open--;
		req_state_event(st, r, TW_SYN_RECEIVED, TW_CLOSED);
	}
}

/* A listener going away takes its half-open connections with it, unanswered, as Linux does. */
void tcp_reqs_drop_listener(struct tcp_conn *l)
{
	struct tw_stack *st = l->stack;
	for (uint32_t b = 0; b <= st->reqs_mask; b++) {
		for (struct tcp_req *r = st->reqs[b], *next; r; r = next) {
			next = r->hash_next;
			if (tcp_req_listener(st, r) == l)
				tcp_req_release(st, r, false);
		}
	}
}

static void resend_synack(struct tw_stack *st, const struct tcp_conn *l, struct tcp_req *r)
{
	st->stats.retrans_segs++;
	tcp_req_send_synack(st, l, r);
	struct tw_event ev = { .type = TW_EVENT_RETRANSMIT, .seq = r->iss, .len = 1, .rtx = TW_RTX_SYN };
	req_event(st, r, &ev);
}

/*
 * The peer's SYN again, unanswered so far as it knows: the SYN-ACK goes
 * again from the entry, no control block made, as Linux's tcp_check_req;
 * the first time at once, then at most once per challenge_ack_interval_us
 * (its tcp_oow_rate_limited), and the timer's schedule is left as it was.
 */
void tcp_req_repeated_syn(struct tw_stack *st, struct tcp_conn *l, struct tcp_req *r)
{
	if (r->opts & REQ_RESENT && (uint32_t)st->now - r->synack_sent_us < st->cfg.challenge_ack_interval_us)
		return;
	r->opts |= REQ_RESENT;
	resend_synack(st, l, r);
}

/* RFC 6298 5.4-5.6 for a SYN-ACK; after synack_retries the entry goes quietly. */
static void req_timeout(struct tw_stack *st, struct tcp_req *r)
{
	struct tcp_conn *l = tcp_req_listener(st, r);
	if (!l || r->backoff >= st->cfg.synack_retries) {
		tcp_req_release(st, r, false);
		req_recycle(st, r);
		return;
	}
	r->backoff++;
	resend_synack(st, l, r);
	r->due_ms = due_after(st, tcp_req_rto(st, r->backoff));
	queue_push(&st->req_queues[r->backoff], r);
}

void tcp_reqs_run(struct tw_stack *st, uint64_t now)
{
	uint32_t ms = (uint32_t)(now / 1000);
	/* From the highest count down, so an entry moved up a queue is not run twice in one pass. */
	for (uint32_t k = st->cfg.synack_retries + 1; k-- > 0;) {
		struct tcp_req_queue *q = &st->req_queues[k];
		while (q->head && (q->head->opts & REQ_DEAD || (int32_t)(ms - q->head->due_ms) >= 0)) {
			struct tcp_req *r = queue_pop(q);
			if (r->opts & REQ_DEAD)
				req_recycle(st, r);
			else
				req_timeout(st, r);
		}
	}
}

uint64_t tcp_reqs_next(const struct tw_stack *st)
{
	uint64_t next = UINT64_MAX;
	uint64_t ms = st->now / 1000;   /* all 64 bits: no wrap after 2^32 ms */
	for (uint32_t k = 0; k <= st->cfg.synack_retries; k++) {
		const struct tcp_req *r = st->req_queues[k].head;
		if (!r)
			continue;
		/* A released entry at a head is freed at the next poll; its time has come. */
		int32_t wait = r->opts & REQ_DEAD ? 0 : (int32_t)(r->due_ms - (uint32_t)ms);
		uint64_t at = (ms + (uint64_t)(wait > 0 ? wait : 0)) * 1000;
		if (at < next)
			next = at;
	}
	return next;
}
