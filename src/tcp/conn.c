/*
 * Control blocks and the tables that find them: connections by 4-tuple in a
 * hash table keyed with the stack's secret (so a peer cannot aim collisions
 * at one chain), listeners by local port. State changes go through
 * tcp_set_state, the end of a connection through tcp_conn_done.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/seq.h"
#include "tcp/tcp.h"

#define FREE_CONNS_MAX 4096u   /* recycled control blocks kept for reuse */

static void notify_unqueue(struct tcp_sockbuf *sb);

struct tcp_conn *tcp_conn_new(struct tw_stack *st)
{
	if (st->stats.conns >= st->cfg.max_conns)
		return NULL;
	struct tcp_conn *c = st->free_conns;
	if (c) {
		st->free_conns = c->hash_next;
		st->n_free--;
	} else {
		c = malloc(sizeof(*c));
		if (!c)
			return NULL;
	}
	memset(c, 0, sizeof(*c));
	c->stack = st;
	c->rto_us = st->cfg.rto_initial_us;
	st->stats.conns++;
	return c;
}

void tcp_conn_free(struct tcp_conn *c)
{
	struct tw_stack *st = c->stack;
	if (st->last_conn == c)
		st->last_conn = NULL;
	tcp_timer_remove(c);
	tcp_sockbuf_free(c->sb);
	c->sb = NULL;
	st->stats.conns--;
	if (st->n_free < FREE_CONNS_MAX) {
		c->hash_next = st->free_conns;
		st->free_conns = c;
		st->n_free++;
	} else {
		free(c);
	}
}

/* Gives `c` its buffers and options, copied from `inherit` (a listener's) or the defaults. */
int tcp_sockbuf_attach(struct tcp_conn *c, const struct tcp_sockbuf *inherit)
{
	struct tw_stack *st = c->stack;
	struct tcp_sockbuf *sb = st->free_sockbufs;
	if (sb) {
		st->free_sockbufs = sb->next;
		st->n_free_sockbufs--;
		memset(sb, 0, sizeof(*sb));
	} else if (!(sb = calloc(1, sizeof(*sb)))) {
		return -ENOMEM;
	}
	if (inherit) {
		sb->rcvbuf = inherit->rcvbuf;
		sb->sndbuf = inherit->sndbuf;
		sb->user_mss = inherit->user_mss;
		sb->nodelay = inherit->nodelay;
		sb->cork = inherit->cork;
		sb->keepalive = inherit->keepalive;
		sb->linger0 = inherit->linger0;
		sb->user_timeout_ms = inherit->user_timeout_ms;
		sb->keep_idle_s = inherit->keep_idle_s;
		sb->keep_intvl_s = inherit->keep_intvl_s;
		sb->keep_probes = inherit->keep_probes;
	} else {
		sb->rcvbuf = st->cfg.rcvbuf;
		sb->sndbuf = st->cfg.sndbuf;
		sb->keep_idle_s = st->cfg.keepalive_idle_s;
		sb->keep_intvl_s = st->cfg.keepalive_intvl_s;
		sb->keep_probes = st->cfg.keepalive_probes;
	}
	sb->snd.bytes.cap = sb->sndbuf;
	sb->rcv.cap = sb->rcvbuf + TCP_RCV_SLACK;
	sb->cc.ops = tcp_cc_default(st);
	sb->owner = c;
	sb->next = st->sockbufs;
	if (sb->next)
		sb->next->prev = sb;
	st->sockbufs = sb;
	c->sb = sb;
	return 0;
}

void tcp_sockbuf_free(struct tcp_sockbuf *sb)
{
	if (!sb)
		return;
	struct tw_stack *st = sb->owner->stack;
	notify_unqueue(sb);
	if (sb->prev)
		sb->prev->next = sb->next;
	else
		st->sockbufs = sb->next;
	if (sb->next)
		sb->next->prev = sb->prev;
	tcp_sndq_clear(&st->pool, &sb->snd);
	tcp_ring_free(&st->pool, &sb->rcv);
	/* Kept for the next connection, like control blocks: churn allocates nothing once warm. */
	if (st->n_free_sockbufs < FREE_CONNS_MAX) {
		sb->next = st->free_sockbufs;
		st->free_sockbufs = sb;
		st->n_free_sockbufs++;
	} else {
		free(sb);
	}
}

/*
 * The sockets the application holds a handle to: every one with buffers that
 * it has not closed, excluding connections still waiting in an accept queue
 * (the listener's handle reaches those). Up to `cap` go into `out`; returns
 * how many there are.
 */
size_t tcp_held_sockets(const struct tw_stack *st, struct tw_sock **out, size_t cap)
{
	size_t n = 0;
	for (const struct tcp_sockbuf *sb = st->sockbufs; sb; sb = sb->next) {
		const struct tcp_conn *c = sb->owner;
		if ((c->flags & TF_ORPHAN) || c->parent)
			continue;
		if (n < cap)
			out[n] = (struct tw_sock *)sb->owner;
		n++;
	}
	return n;
}

/* Frees every control block and buffer of the stack, sending nothing. */
void tcp_stack_free_all(struct tw_stack *st)
{
	/* Sockets with buffers may be in a table or in none (closed, never used). */
	while (st->sockbufs) {
		struct tcp_conn *c = st->sockbufs->owner;
		if (c->flags & TF_LISTENER)
			tcp_listen_remove(c);
		else if (c->state != TW_CLOSED)
			tcp_hash_remove(c);
		tcp_conn_free(c);
	}
	for (uint32_t i = 0; i <= st->table_mask; i++) {
		while (st->table[i]) {
			struct tcp_conn *c = st->table[i];
			tcp_hash_remove(c);
			tcp_conn_free(c);
		}
	}
	while (st->free_conns) {
		struct tcp_conn *c = st->free_conns;
		st->free_conns = c->hash_next;
		free(c);
	}
	st->n_free = 0;
	while (st->free_sockbufs) {
		struct tcp_sockbuf *sb = st->free_sockbufs;
		st->free_sockbufs = sb->next;
		free(sb);
	}
	st->n_free_sockbufs = 0;
	tcp_pool_fini(&st->pool);
	tcp_reqs_free_all(st);
}

/* ------------------------------------------------------------ 4-tuple table */

static uint32_t tuple_hash32(const struct tw_stack *st, uint8_t family, const uint8_t *laddr, uint16_t lport,
			    const uint8_t *raddr, uint16_t rport)
{
	return (uint32_t)tcp_tuple_hash(st, TCP_HASH_TABLE, family, laddr, lport, raddr, rport);
}

static void table_grow(struct tw_stack *st)
{
	/* Doubling keeps chains short on average; it happens only as the count grows. */
	uint32_t n = (st->table_mask + 1) * 2;
	struct tcp_conn **t = calloc(n, sizeof(*t));
	if (!t)
		return;   /* chains get longer, nothing breaks */
	uint32_t old_n = st->table_mask + 1;
	struct tcp_conn **old = st->table;
	st->table = t;
	st->table_mask = n - 1;
	for (uint32_t i = 0; i < old_n; i++) {
		for (struct tcp_conn *c = old[i], *next; c; c = next) {
			next = c->hash_next;
			uint32_t b = c->hash & st->table_mask;
			c->hash_next = t[b];
			t[b] = c;
		}
	}
	free(old);
}

void tcp_hash_insert(struct tcp_conn *c)
{
	struct tw_stack *st = c->stack;
	if (st->table_count >= st->table_mask + 1)
		table_grow(st);
	c->hash = tuple_hash32(st, c->family, c->laddr, c->lport, c->raddr, c->rport);
	uint32_t b = c->hash & st->table_mask;
	c->hash_next = st->table[b];
	st->table[b] = c;
	st->table_count++;
	st->last_conn = c;   /* the next segment is most likely for the connection just made */
}

void tcp_hash_remove(struct tcp_conn *c)
{
	struct tw_stack *st = c->stack;
	for (struct tcp_conn **pp = &st->table[c->hash & st->table_mask]; *pp; pp = &(*pp)->hash_next) {
		if (*pp == c) {
			*pp = c->hash_next;
			c->hash_next = NULL;
			st->table_count--;
			if (st->last_conn == c)
				st->last_conn = NULL;
			return;
		}
	}
}

static bool tuple_eq(const struct tcp_conn *c, uint8_t family, const uint8_t *laddr, uint16_t lport,
		     const uint8_t *raddr, uint16_t rport)
{
	if (c->family != family || c->lport != lport || c->rport != rport)
		return false;
	/* Constant sizes, so the compares are inlined: this runs for every packet. */
	if (family == TW_AF_INET)
		return memcmp(c->laddr, laddr, 4) == 0 && memcmp(c->raddr, raddr, 4) == 0;
	return memcmp(c->laddr, laddr, 16) == 0 && memcmp(c->raddr, raddr, 16) == 0;
}

struct tcp_conn *tcp_hash_lookup(struct tw_stack *st, uint8_t family, const uint8_t *laddr,
				 uint16_t lport, const uint8_t *raddr, uint16_t rport)
{
	/* A one-entry cache, as 4.4BSD's tcp_last_inpcb: segments come in runs for one connection. */
	if (st->last_conn && tuple_eq(st->last_conn, family, laddr, lport, raddr, rport))
		return st->last_conn;
	uint32_t h = tuple_hash32(st, family, laddr, lport, raddr, rport);
	for (struct tcp_conn *c = st->table[h & st->table_mask]; c; c = c->hash_next) {
		if (c->hash == h && tuple_eq(c, family, laddr, lport, raddr, rport)) {
			st->last_conn = c;
			return c;
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------- listeners */

static bool addr_is_any(const struct tcp_conn *c)
{
	static const uint8_t zero[16];
	return memcmp(c->laddr, zero, tcp_addr_len(c->family)) == 0;
}

static bool listen_id_taken(const struct tw_stack *st, uint16_t lport, uint16_t id)
{
	for (const struct tcp_conn *c = st->listen[lport & st->listen_mask]; c; c = c->hash_next)
		if (c->lport == lport && c->listen_id == id)
			return true;
	return false;
}

int tcp_listen_insert(struct tcp_conn *c)
{
	struct tw_stack *st = c->stack;
	uint32_t b = c->lport & st->listen_mask;
	/*
	 * A half-open entry names its listener by this id, not by address: with
	 * SO_REUSEADDR a listener on one address and one on any address can share
	 * a port, and each must keep its own entries.
	 */
	uint32_t tries = 0;
	do {
		if (++tries > UINT16_MAX + 1u)
			return -EADDRINUSE;   /* 65,536 listeners on one port: no name left */
		c->listen_id = ++st->next_listen_id;
	} while (listen_id_taken(st, c->lport, c->listen_id));
	c->hash_next = st->listen[b];
	st->listen[b] = c;
	return 0;
}

void tcp_listen_remove(struct tcp_conn *c)
{
	struct tw_stack *st = c->stack;
	for (struct tcp_conn **pp = &st->listen[c->lport & st->listen_mask]; *pp; pp = &(*pp)->hash_next) {
		if (*pp == c) {
			*pp = c->hash_next;
			c->hash_next = NULL;
			return;
		}
	}
}

/* A listener bound to the exact address wins over one bound to any address. */
struct tcp_conn *tcp_listen_lookup(struct tw_stack *st, uint8_t family, const uint8_t *laddr, uint16_t lport)
{
	struct tcp_conn *any = NULL;
	for (struct tcp_conn *c = st->listen[lport & st->listen_mask]; c; c = c->hash_next) {
		if (c->lport != lport || c->family != family)
			continue;
		if (addr_is_any(c))
			any = c;
		else if (memcmp(c->laddr, laddr, tcp_addr_len(family)) == 0)
			return c;
	}
	return any;
}

/* Is the port taken by a listener or a connection on `laddr` (any address counts)? */
bool tcp_port_in_use(struct tw_stack *st, uint8_t family, const uint8_t *laddr, uint16_t lport)
{
	static const uint8_t zero[16];
	size_t n = tcp_addr_len(family);
	bool any = memcmp(laddr, zero, n) == 0;

	for (struct tcp_conn *c = st->listen[lport & st->listen_mask]; c; c = c->hash_next)
		if (c->lport == lport && c->family == family &&
		    (any || addr_is_any(c) || memcmp(c->laddr, laddr, n) == 0))
			return true;
	for (uint32_t i = 0; i <= st->table_mask; i++)
		for (struct tcp_conn *c = st->table[i]; c; c = c->hash_next)
			if (c->lport == lport && c->family == family && c->state != TW_TIME_WAIT &&
			    (any || memcmp(c->laddr, laddr, n) == 0))
				return true;
	return false;
}

/* ------------------------------------------------------------------- states */

void tcp_conn_event(const struct tcp_conn *c, struct tw_event *ev)
{
	struct tw_stack *st = c->stack;
	if (!st->cfg.event)
		return;
	ev->sock = (const struct tw_sock *)c;
	if (c->family) {
		size_t n = tcp_addr_len(c->family);
		ev->local.addr.family = ev->remote.addr.family = c->family;
		memcpy(ev->local.addr.bytes, c->laddr, n);
		memcpy(ev->remote.addr.bytes, c->raddr, n);
		ev->local.port = c->lport;
		ev->remote.port = c->rport;
	}
	ip_event(&st->ip, ev);
}

/* Every state change goes through here, and is told to the event hook. */
void tcp_set_state(struct tcp_conn *c, enum tw_state s)
{
	enum tw_state old = (enum tw_state)c->state;
	if (s == TW_ESTABLISHED && old != TW_ESTABLISHED)
		c->stack->stats.conns_established++;
	c->state = (uint8_t)s;
	if (old != s) {
		struct tw_event ev = { .type = TW_EVENT_STATE, .old_state = old, .new_state = s };
		tcp_conn_event(c, &ev);
	}
}

unsigned tcp_events(const struct tcp_conn *c)
{
	unsigned ev = 0;
	const struct tcp_sockbuf *sb = c->sb;

	if (c->flags & TF_LISTENER)
		return c->queued ? TW_POLLIN : 0;
	if (c->err)
		ev |= TW_POLLERR;
	if (sb && sb->rcv.len)
		ev |= TW_POLLIN;
	if (c->flags & TF_PEER_FIN)
		ev |= TW_POLLIN | TW_POLLRDHUP;
	switch (c->state) {
	case TW_ESTABLISHED:
	case TW_CLOSE_WAIT:
		if (sb && !(c->flags & TF_FIN_QUEUED) && sb->snd.bytes.len < sb->snd.bytes.cap &&
		    (!sb->snd_nomem || tcp_pool_writable(&c->stack->pool)))
			ev |= TW_POLLOUT;
		break;
	case TW_CLOSED:
		if (c->err || (c->flags & (TF_PEER_FIN | TF_FIN_QUEUED)))
			ev |= TW_POLLHUP | TW_POLLIN;
		break;
	default:
		break;
	}
	if ((c->flags & TF_PEER_FIN) && (c->flags & TF_FIN_QUEUED))
		ev |= TW_POLLHUP;
	return ev;
}

/*
 * Notes that a socket's readiness may have changed. The application hears of
 * it from tcp_notify_flush, at the end of tw_input or tw_poll: never from
 * inside the engine, where a callback that closed a socket would pull a
 * connection from under the code still working on it.
 */
void tcp_notify(struct tcp_conn *c)
{
	struct tcp_conn *target = c;
	if (c->parent && (c->flags & TF_IN_ACCEPTQ))
		target = c->parent;    /* a new connection readies its listener */
	struct tcp_sockbuf *sb = target->sb;
	if (!sb || !sb->cb || (target->flags & TF_ORPHAN))
		return;
	sb->changed = true;       /* new data counts even if the events read the same */
	if (sb->notify_queued)
		return;
	struct tw_stack *st = c->stack;
	sb->notify_queued = true;
	sb->notify_next = st->notify;
	st->notify = sb;
}

static void notify_unqueue(struct tcp_sockbuf *sb)
{
	struct tw_stack *st = sb->owner->stack;
	if (!sb->notify_queued)
		return;
	for (struct tcp_sockbuf **pp = &st->notify; *pp; pp = &(*pp)->notify_next) {
		if (*pp == sb) {
			*pp = sb->notify_next;
			break;
		}
	}
	sb->notify_queued = false;
}

/* Chunks came back after a write was refused at the bound: every writer refused is told. */
static void wake_writers(struct tw_stack *st)
{
	if (!st->pool.writers_wait || !tcp_pool_writable(&st->pool))
		return;
	st->pool.writers_wait = false;
	for (struct tcp_sockbuf *sb = st->sockbufs; sb; sb = sb->next) {
		if (sb->snd_nomem) {
			sb->snd_nomem = false;
			tcp_notify(sb->owner);
		}
	}
}

/*
 * Runs the callbacks queued by tcp_notify. Each socket leaves the queue
 * before its callback runs, so a callback may call any tw_* function,
 * closing sockets (which leave the queue) or making new ones.
 */
void tcp_notify_flush(struct tw_stack *st)
{
	wake_writers(st);
	while (st->notify) {
		struct tcp_sockbuf *sb = st->notify;
		st->notify = sb->notify_next;
		sb->notify_queued = false;
		struct tcp_conn *c = sb->owner;
		if (!sb->cb || (c->flags & TF_ORPHAN))
			continue;
		unsigned ev = tcp_events(c);
		if (ev == sb->last_events && !sb->changed)
			continue;
		sb->last_events = ev;
		sb->changed = false;
		sb->cb((struct tw_sock *)c, ev, sb->cb_ctx);
	}
}

struct tcp_conn *tcp_accept_pop(struct tcp_conn *l)
{
	struct tcp_conn *c = l->accept_next;
	if (!c)
		return NULL;
	l->accept_next = c->accept_next;
	l->queued--;
	c->accept_next = NULL;
	c->parent = NULL;
	c->flags &= (uint16_t)~TF_IN_ACCEPTQ;
	return c;
}

static void unlink_from_parent(struct tcp_conn *c)
{
	struct tcp_conn *l = c->parent;
	if (!l)
		return;
	if (c->flags & TF_IN_ACCEPTQ) {
		for (struct tcp_conn **pp = (struct tcp_conn **)&l->accept_next; *pp; pp = &(*pp)->accept_next) {
			if (*pp == c) {
				*pp = c->accept_next;
				break;
			}
		}
		l->queued--;
		c->flags &= (uint16_t)~TF_IN_ACCEPTQ;
	} else if (c->state == TW_SYN_RECEIVED) {
		l->half_open--;
	}
	c->parent = NULL;
	c->accept_next = NULL;
}

/*
 * The end of a connection (RFC 9293 3.10.7: "enter the CLOSED state and
 * delete the TCB"). The application learns `err` (a positive errno, 0 for a
 * clean end) through SO_ERROR and its events; a socket the application no
 * longer holds is freed at once.
 */
void tcp_conn_done(struct tcp_conn *c, int err)
{
	bool was_listed = c->state != TW_CLOSED && !(c->flags & TF_LISTENER);
	/*
	 * Like Linux, a connection that ends while it waits in the accept queue
	 * stays there, CLOSED with its error, still counting against the
	 * backlog: accept() hands it over and the application learns the error.
	 */
	bool queued = c->flags & TF_IN_ACCEPTQ;
	bool owned = !(c->flags & TF_ORPHAN) && (!c->parent || queued);

	if (was_listed)
		tcp_hash_remove(c);
	if (!queued)
		unlink_from_parent(c);
	tcp_set_state(c, TW_CLOSED);
	memset(c->timer_at, 0, sizeof(c->timer_at));   /* every kind of timer */
	tcp_timer_remove(c);
	if (err)
		c->err = (uint8_t)err;
	if (!owned) {
		tcp_conn_free(c);
		return;
	}
	if (c->sb) {
		/* Unsent data can no longer go anywhere; unread data stays readable. */
		tcp_sndq_clear(&c->stack->pool, &c->sb->snd);
		c->sb->n_ooo = 0;
	}
	tcp_notify(c);
}

void tcp_enter_time_wait(struct tcp_conn *c)
{
	/* RFC 9293 3.10.7.4: start the time-wait timer, turn off the other timers. */
	tcp_set_state(c, TW_TIME_WAIT);
	c->timer_at[TCP_TIMER_RTX] = 0;
	c->timer_at[TCP_TIMER_DELACK] = 0;
	c->flags &= (uint16_t)~(TF_ACK_DELAYED | TF_PROBING);
	c->timer_at[TCP_TIMER_IDLE] = c->stack->now + c->stack->cfg.time_wait_us;
	tcp_timer_update(c);
	tcp_notify(c);
}
