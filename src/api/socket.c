/*
 * The socket-like API: argument checks, errno results, address and port
 * choice (RFC 6056), socket options. The protocol itself is in src/tcp/.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tcp/seq.h"
#include "tcp/tcp.h"

#define EPHEMERAL_LO 32768u     /* Linux ip_local_port_range */
#define EPHEMERAL_HI 60999u

static struct tcp_conn *conn_of(struct tw_sock *s) { return (struct tcp_conn *)s; }
static const struct tcp_conn *cconn_of(const struct tw_sock *s) { return (const struct tcp_conn *)s; }

static bool family_ok(uint8_t f) { return f == TW_AF_INET || f == TW_AF_INET6; }

static bool addr_is_zero(const uint8_t *a, uint8_t family)
{
	static const uint8_t zero[16];
	return memcmp(a, zero, tcp_addr_len(family)) == 0;
}

struct tw_sock *tw_socket(struct tw_stack *st, int *err)
{
	struct tcp_conn *c = tcp_conn_new(st);
	int e = c ? tcp_sockbuf_attach(c, NULL) : (st->stats.conns >= st->cfg.max_conns ? -EMFILE : -ENOMEM);
	if (e) {
		if (c)
			tcp_conn_free(c);
		if (err)
			*err = e;
		return NULL;
	}
	return (struct tw_sock *)c;
}

int tw_bind(struct tw_sock *s, const struct tw_endpoint *local)
{
	struct tcp_conn *c = conn_of(s);
	if (!local || !family_ok(local->addr.family))
		return -EINVAL;
	if (c->state != TW_CLOSED || c->family)
		return -EINVAL;   /* bound already, as Linux says */
	if (!addr_is_zero(local->addr.bytes, local->addr.family) &&
	    !ip_is_local(&c->stack->cfg, local->addr.family, local->addr.bytes))
		return -EADDRNOTAVAIL;
	if (local->port && !c->sb->reuseaddr &&
	    tcp_port_in_use(c->stack, local->addr.family, local->addr.bytes, local->port))
		return -EADDRINUSE;
	c->family = local->addr.family;
	memset(c->laddr, 0, sizeof(c->laddr));
	memcpy(c->laddr, local->addr.bytes, tcp_addr_len(c->family));
	c->lport = local->port;
	return 0;
}

static int pick_listen_port(struct tcp_conn *c)
{
	struct tw_stack *st = c->stack;
	uint32_t range = EPHEMERAL_HI - EPHEMERAL_LO + 1;
	for (uint32_t i = 0; i < range; i++) {
		uint16_t port = (uint16_t)(EPHEMERAL_LO + (st->port_counter++ % range));
		if (!tcp_port_in_use(st, c->family, c->laddr, port)) {
			c->lport = port;
			return 0;
		}
	}
	return -EADDRINUSE;
}

int tw_listen(struct tw_sock *s, int backlog)
{
	struct tcp_conn *c = conn_of(s);
	if (backlog < 0)
		backlog = 0;
	if (backlog > 65535)
		backlog = 65535;
	if (c->state == TW_LISTEN)
		return tcp_usr_listen(c, (uint16_t)backlog);
	if (c->state != TW_CLOSED || (c->flags & (TF_FIN_QUEUED | TF_PEER_FIN)) || c->err)
		return -EINVAL;
	if (!c->family)
		c->family = TW_AF_INET;
	if (!c->lport && pick_listen_port(c))
		return -EADDRINUSE;
	/* One listener per address and port (the lookup prefers an exact address). */
	const struct tcp_conn *other = tcp_listen_lookup(c->stack, c->family, c->laddr, c->lport);
	if (other && memcmp(other->laddr, c->laddr, 16) == 0)
		return -EADDRINUSE;
	return tcp_usr_listen(c, (uint16_t)backlog);
}

static void endpoint_of(struct tw_endpoint *ep, uint8_t family, const uint8_t *addr, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr.family = family;
	memcpy(ep->addr.bytes, addr, tcp_addr_len(family));
	ep->port = port;
}

struct tw_sock *tw_accept(struct tw_sock *listener, struct tw_endpoint *peer, int *err)
{
	struct tcp_conn *l = conn_of(listener);
	int e = 0;
	if (!(l->flags & TF_LISTENER)) {
		e = -EINVAL;
	} else if (!l->accept_next) {
		e = -EAGAIN;
	}
	if (e) {
		if (err)
			*err = e;
		return NULL;
	}
	struct tcp_conn *c = tcp_accept_pop(l);
	if (peer)
		endpoint_of(peer, c->family, c->raddr, c->rport);
	if (l->sb)
		l->sb->last_events = tcp_events(l);
	return (struct tw_sock *)c;
}

/* RFC 6056 3.3.3 (algorithm 3): a keyed offset per destination, then a counter. */
static int pick_connect_port(struct tcp_conn *c)
{
	struct tw_stack *st = c->stack;
	uint32_t range = EPHEMERAL_HI - EPHEMERAL_LO + 1;
	uint32_t offset = (uint32_t)tcp_tuple_hash(st, TCP_HASH_PORT, c->family, c->laddr, 0, c->raddr,
						   c->rport);
	for (uint32_t i = 0; i < range; i++) {
		uint16_t port = (uint16_t)(EPHEMERAL_LO + (offset + st->port_counter + i) % range);
		if (!tcp_hash_lookup(st, c->family, c->laddr, port, c->raddr, c->rport) &&
		    !tcp_listen_lookup(st, c->family, c->laddr, port)) {
			st->port_counter += i + 1;
			c->lport = port;
			return 0;
		}
	}
	return -EADDRNOTAVAIL;
}

static int pick_source(struct tcp_conn *c, uint8_t family)
{
	const struct tw_stack_config *cfg = &c->stack->cfg;
	for (size_t i = 0; i < cfg->n_addrs; i++) {
		if (cfg->addrs[i].family == family) {
			memcpy(c->laddr, cfg->addrs[i].bytes, tcp_addr_len(family));
			return 0;
		}
	}
	return -EADDRNOTAVAIL;
}

int tw_connect(struct tw_sock *s, const struct tw_endpoint *remote)
{
	struct tcp_conn *c = conn_of(s);
	if (!remote || !family_ok(remote->addr.family) || remote->port == 0)
		return -EINVAL;
	if (c->state == TW_SYN_SENT || c->state == TW_SYN_RECEIVED)
		return -EALREADY;
	if (c->state != TW_CLOSED)
		return -EISCONN;
	if (c->err || (c->flags & (TF_FIN_QUEUED | TF_PEER_FIN)))
		return -EINVAL;   /* a used socket is not reopened */
	uint8_t family = remote->addr.family;
	if (c->family && c->family != family)
		return -EAFNOSUPPORT;
	if (addr_is_zero(remote->addr.bytes, family) ||
	    (family == TW_AF_INET ? remote->addr.bytes[0] >= 224 : remote->addr.bytes[0] == 0xff))
		return -ENETUNREACH;
	memcpy(c->raddr, remote->addr.bytes, tcp_addr_len(family));
	c->rport = remote->port;
	if (!c->family || addr_is_zero(c->laddr, family)) {
		int e = pick_source(c, family);
		if (e)
			return e;
	}
	c->family = family;
	if (c->lport) {
		if (tcp_hash_lookup(c->stack, family, c->laddr, c->lport, c->raddr, c->rport))
			return -EADDRINUSE;
	} else if (pick_connect_port(c)) {
		return -EADDRNOTAVAIL;
	}
	return tcp_usr_connect(c);
}

static int take_error(struct tcp_conn *c)
{
	int e = c->err;
	c->err = 0;
	return -e;
}

long tw_send(struct tw_sock *s, const void *buf, size_t len, int flags)
{
	struct tcp_conn *c = conn_of(s);

	if (c->err)
		return take_error(c);
	if (c->flags & TF_FIN_QUEUED)
		return -EPIPE;
	switch (c->state) {
	case TW_ESTABLISHED:
	case TW_CLOSE_WAIT:
		break;
	case TW_SYN_SENT:
	case TW_SYN_RECEIVED:
		return -EAGAIN;
	case TW_CLOSED:
		/*
		 * A connection that ended (reset, timed out, closed) says EPIPE, as
		 * Linux; a socket never connected says ENOTCONN. An ISS is chosen
		 * at connect and at SYN time, so a zero pair means never (or a
		 * 2^-64 coincidence, which only changes the errno).
		 */
		return c->iss || c->irs ? -EPIPE : -ENOTCONN;
	default:
		return -ENOTCONN;
	}
	if (len && !buf)
		return -EFAULT;
	if (len > 0x7fffffff)
		len = 0x7fffffff;
	return tcp_usr_send(c, buf, (uint32_t)len, flags & TW_MSG_MORE);
}

long tw_recv(struct tw_sock *s, void *buf, size_t len, int flags)
{
	struct tcp_conn *c = conn_of(s);
	struct tcp_sockbuf *sb = c->sb;

	if (c->flags & TF_LISTENER)
		return -ENOTCONN;
	if (sb && sb->rcv.len) {
		if (len && !buf)
			return -EFAULT;
		return tcp_usr_recv(c, buf, len > UINT32_MAX ? UINT32_MAX : (uint32_t)len, flags & TW_MSG_PEEK);
	}
	if (c->flags & (TF_PEER_FIN | TF_RD_SHUT))
		return 0;
	if (c->err)
		return take_error(c);
	if (c->state == TW_CLOSED)
		return c->flags & TF_FIN_QUEUED ? 0 : -ENOTCONN;
	if (c->state == TW_SYN_SENT || c->state == TW_SYN_RECEIVED || tcp_synchronized(c))
		return -EAGAIN;
	return -ENOTCONN;
}

int tw_shutdown(struct tw_sock *s, int how)
{
	struct tcp_conn *c = conn_of(s);
	if (how != TW_SHUT_RD && how != TW_SHUT_WR && how != TW_SHUT_RDWR)
		return -EINVAL;
	return tcp_usr_shutdown(c, how != TW_SHUT_WR, how != TW_SHUT_RD);
}

int tw_close(struct tw_sock *s)
{
	struct tcp_conn *c = conn_of(s);
	if (c->sb) {
		c->sb->cb = NULL;
		c->sb->cb_ctx = NULL;
	}
	tcp_usr_close(c);
	return 0;
}

void tw_abort(struct tw_sock *s)
{
	struct tcp_conn *c = conn_of(s);
	if (c->sb)
		c->sb->cb = NULL;
	tcp_usr_abort(c);
}

unsigned tw_events(const struct tw_sock *s)
{
	return tcp_events(cconn_of(s));
}

void tw_set_callback(struct tw_sock *s, tw_sock_cb cb, void *ctx)
{
	struct tcp_conn *c = conn_of(s);
	if (!c->sb)
		return;
	c->sb->cb = cb;
	c->sb->cb_ctx = ctx;
	c->sb->last_events = tcp_events(c);
}

int tw_sock_error(struct tw_sock *s)
{
	return take_error(conn_of(s));
}

size_t tw_readable(const struct tw_sock *s)
{
	const struct tcp_conn *c = cconn_of(s);
	return c->sb ? c->sb->rcv.len : 0;
}

int tw_setsockopt(struct tw_sock *s, enum tw_sockopt opt, int value)
{
	struct tcp_conn *c = conn_of(s);
	struct tcp_sockbuf *sb = c->sb;
	if (!sb)
		return -EINVAL;
	switch (opt) {
	case TW_SO_RCVBUF:
		return tcp_usr_set_rcvbuf(c, value < 0 ? 0 : (uint32_t)value);
	case TW_SO_SNDBUF:
		return tcp_usr_set_sndbuf(c, value < 0 ? 0 : (uint32_t)value);
	case TW_SO_KEEPALIVE:
		tcp_usr_set_keepalive(c, value != 0);
		return 0;
	case TW_SO_LINGER0:
		sb->linger0 = value != 0;
		return 0;
	case TW_SO_REUSEADDR:
		sb->reuseaddr = value != 0;
		return 0;
	case TW_TCP_NODELAY:
		tcp_usr_set_nodelay(c, value != 0);
		return 0;
	case TW_TCP_CORK:
		tcp_usr_set_cork(c, value != 0);
		return 0;
	case TW_TCP_MAXSEG:
		/* Linux's bounds: 88 up to the largest window. */
		if (value < 88 || value > 65535)
			return -EINVAL;
		tcp_usr_set_maxseg(c, (uint16_t)value);
		return 0;
	case TW_TCP_USER_TIMEOUT:
		if (value < 0)
			return -EINVAL;
		sb->user_timeout_ms = (uint32_t)value;
		return 0;
	case TW_TCP_KEEPIDLE:
	case TW_TCP_KEEPINTVL:
		if (value < 1 || value > 32767)
			return -EINVAL;
		if (opt == TW_TCP_KEEPINTVL) {
			sb->keep_intvl_s = (uint32_t)value;
			return 0;
		}
		tcp_usr_set_keepidle(c, (uint32_t)value);
		return 0;
	case TW_TCP_KEEPCNT:
		if (value < 1 || value > 127)
			return -EINVAL;
		sb->keep_probes = (uint32_t)value;
		return 0;
	}
	return -ENOPROTOOPT;
}

int tw_getsockopt(const struct tw_sock *s, enum tw_sockopt opt, int *value)
{
	const struct tcp_conn *c = cconn_of(s);
	const struct tcp_sockbuf *sb = c->sb;
	if (!sb || !value)
		return -EINVAL;
	switch (opt) {
	case TW_SO_RCVBUF: *value = (int)sb->rcvbuf; return 0;
	case TW_SO_SNDBUF: *value = (int)sb->sndbuf; return 0;
	case TW_SO_KEEPALIVE: *value = sb->keepalive; return 0;
	case TW_SO_LINGER0: *value = sb->linger0; return 0;
	case TW_SO_REUSEADDR: *value = sb->reuseaddr; return 0;
	case TW_TCP_NODELAY: *value = sb->nodelay; return 0;
	case TW_TCP_CORK: *value = sb->cork; return 0;
	case TW_TCP_MAXSEG:
		*value = c->snd_mss ? c->snd_mss : (sb->user_mss ? sb->user_mss : 536);
		return 0;
	case TW_TCP_USER_TIMEOUT: *value = (int)sb->user_timeout_ms; return 0;
	case TW_TCP_KEEPIDLE: *value = (int)sb->keep_idle_s; return 0;
	case TW_TCP_KEEPINTVL: *value = (int)sb->keep_intvl_s; return 0;
	case TW_TCP_KEEPCNT: *value = (int)sb->keep_probes; return 0;
	}
	return -ENOPROTOOPT;
}

int tw_conn_info_sized(const struct tw_sock *s, struct tw_conn_info *caller, size_t size)
{
	const struct tcp_conn *c = cconn_of(s);
	if (!caller || !size)
		return -EINVAL;
	struct tw_conn_info info, *out = &info;
	memset(out, 0, sizeof(*out));
	out->state = (enum tw_state)c->state;
	if (c->family) {
		endpoint_of(&out->local, c->family, c->laddr, c->lport);
		endpoint_of(&out->remote, c->family, c->raddr, c->rport);
	}
	out->iss = c->iss;
	out->irs = c->irs;
	out->snd_una = c->snd.una;
	out->snd_nxt = c->snd.nxt;
	out->rcv_nxt = c->rcv.nxt;
	out->snd_mss = c->snd_mss;
	out->rcv_mss = c->rcv_mss;
	bool ws = c->flags & TF_WSCALE;
	out->snd_wscale = ws ? (int8_t)c->snd_wscale : -1;
	out->rcv_wscale = ws ? (int8_t)c->rcv_wscale : -1;
	out->sack = c->flags & TF_SACK;
	out->timestamps = c->flags & TF_TS;
	out->snd_wnd = c->snd.wnd;
	out->rcv_wnd = seq_gt(c->rcv.adv, c->rcv.nxt) ? c->rcv.adv - c->rcv.nxt : 0;
	out->cwnd = tcp_recovery_cwnd(c);
	out->ssthresh = c->ssthresh;
	out->srtt_us = c->srtt_us;
	out->rttvar_us = c->rttvar_us;
	out->rto_us = c->rto_us;
	if (c->sb) {
		out->bytes_sent = c->sb->bytes_sent;
		out->bytes_received = c->sb->bytes_received;
		out->retransmits = c->sb->retransmits;
		out->recovery = (enum tw_recovery)c->sb->rec.state;
		snprintf(out->cc, sizeof(out->cc), "%s", c->sb->cc.ops->name);
	}
	/* A caller built against an older threeway.h gets the fields it knows. */
	memcpy(caller, out, size < sizeof(*out) ? size : sizeof(*out));
	return 0;
}
