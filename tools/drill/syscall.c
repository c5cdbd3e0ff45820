/*
 * System calls on the socket API. The API never blocks; a call the script
 * makes on a blocking socket is retried by the executor each time the stack
 * moves (a packet, a timer) until it can return, which is how Linux's
 * blocking calls behave seen from the wire. Results and errno are compared
 * as packetdrill compares them: socket() and accept() succeed with any
 * descriptor, which then bears the number the script wrote.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "run.h"
#include "symbols.h"

#define IO_CHUNK (2 * DRILL_SEG_MAX)   /* the scratch buffer */
#define WRITE_CHUNK 65536u

struct outcome {
	bool blocked;
	long ret;
	int err;                    /* errno, when ret is -1 */
	struct tw_sock *new_sock;   /* socket(), accept() */
	bool has_value;             /* getsockopt(), ioctl(): the int they write */
	int64_t value;
	int onoff, linger;          /* getsockopt(SO_LINGER) */
	unsigned revents[DRILL_MAX_POLLFDS];
	bool bad_data;              /* read(): bytes the peer did not send there */
	uint64_t bad_offset;
};

static void set_result(struct outcome *o, long rc)
{
	o->ret = rc < 0 ? -1 : rc;
	o->err = rc < 0 ? (int)-rc : 0;
}

static const struct drill_syscall *sc_of(const struct drill_call_state *cs)
{
	return &cs->ev->call;
}

/* The socket of the call's descriptor, or EBADF. */
static struct drill_fd *fd_or_ebadf(struct drill_run *r, const struct drill_call_state *cs, struct outcome *o)
{
	struct drill_fd *f = drill_fd_find(r, sc_of(cs)->fd);
	if (!f)
		set_result(o, -EBADF);
	return f;
}

static void do_socket(struct drill_run *r, struct drill_call_state *cs, struct outcome *o)
{
	int err = 0;
	(void)cs;
	o->new_sock = tw_socket(r->st, &err);
	set_result(o, o->new_sock ? 0 : err);
}

static struct tw_endpoint endpoint(const struct drill_syscall *sc, struct tw_addr addr, uint16_t port)
{
	if (sc->has_addr)
		return sc->addr;
	return (struct tw_endpoint){ .addr = addr, .port = port };
}

static void do_bind(struct drill_run *r, struct drill_call_state *cs, struct outcome *o)
{
	struct drill_fd *f = fd_or_ebadf(r, cs, o);
	if (!f)
		return;
	struct tw_endpoint ep = endpoint(sc_of(cs), r->cfg->local, r->cfg->bind_port);
	set_result(o, tw_bind(f->s, &ep));
}

static void do_listen(struct drill_run *r, struct drill_call_state *cs, struct outcome *o)
{
	struct drill_fd *f = fd_or_ebadf(r, cs, o);
	if (!f)
		return;
	int rc = tw_listen(f->s, sc_of(cs)->backlog);
	set_result(o, rc);
	if (rc == 0) {
		f->listener = true;
		drill_flow_listen(r, f->s);
	}
}

static void do_accept(struct drill_run *r, struct drill_call_state *cs, struct outcome *o)
{
	struct drill_fd *f = fd_or_ebadf(r, cs, o);
	int err = 0;
	if (!f)
		return;
	o->new_sock = tw_accept(f->s, NULL, &err);
	if (!o->new_sock && err == -EAGAIN && cs->may_block)
		o->blocked = true;
	set_result(o, o->new_sock ? 0 : err);
}

/* A connection under way is done once it is synchronized, or has failed. */
static void connect_outcome(struct tw_sock *s, struct outcome *o, bool may_block)
{
	struct tw_conn_info ci;
	tw_conn_info(s, &ci);
	bool opening = ci.state == TW_SYN_SENT || ci.state == TW_SYN_RECEIVED;
	if (opening && !(tw_events(s) & TW_POLLERR)) {
		o->blocked = may_block;
		set_result(o, -EALREADY);
		return;
	}
	int e = tw_sock_error(s);
	set_result(o, e ? e : ci.state == TW_CLOSED ? -ECONNRESET : 0);
}

static void do_connect(struct drill_run *r, struct drill_call_state *cs, struct outcome *o)
{
	struct drill_fd *f = fd_or_ebadf(r, cs, o);
	if (!f)
		return;
	if (cs->began) {
		connect_outcome(f->s, o, true);
		return;
	}
	struct tw_endpoint ep = endpoint(sc_of(cs), r->cfg->remote, r->cfg->connect_port);
	int rc = tw_connect(f->s, &ep);
	if (rc != -EINPROGRESS) {
		set_result(o, rc);
		return;
	}
	drill_flow_connect(r, f->s);
	cs->began = true;
	if (!cs->may_block) {
		set_result(o, -EINPROGRESS);
		return;
	}
	connect_outcome(f->s, o, true);
}

static void do_read(struct drill_run *r, struct drill_call_state *cs, struct outcome *o)
{
	const struct drill_syscall *sc = sc_of(cs);
	struct drill_fd *f = fd_or_ebadf(r, cs, o);
	if (!f)
		return;
	bool peek = sc->call == DRILL_RECV && (sc->flags & DRILL_MSG_PEEK);
	struct tw_conn_info ci;
	tw_conn_info(f->s, &ci);
	uint64_t total = 0;
	long n = 0;
	do {
		uint64_t want = sc->len - total < IO_CHUNK ? sc->len - total : IO_CHUNK;
		n = tw_recv(f->s, r->scratch, (size_t)want, peek ? TW_MSG_PEEK : 0);
		for (long i = 0; i < n && !o->bad_data; i++) {
			uint64_t off = f->read + total + (uint64_t)i;
			if (r->scratch[i] != drill_fill_byte(ci.irs + 1 + (uint32_t)off)) {
				o->bad_data = true;
				o->bad_offset = off;
			}
		}
		if (n > 0)
			total += (uint64_t)n;
		if (n < (long)want || peek)
			break;
	} while (total < sc->len);
	if (!peek)
		f->read += total;
	if (total || sc->len == 0) {
		set_result(o, (long)total);
		return;
	}
	o->blocked = n == -EAGAIN && cs->may_block;
	set_result(o, n);
}

static void do_write(struct drill_run *r, struct drill_call_state *cs, struct outcome *o)
{
	const struct drill_syscall *sc = sc_of(cs);
	struct drill_fd *f = fd_or_ebadf(r, cs, o);
	if (!f)
		return;
	int flags = sc->call == DRILL_SEND && (sc->flags & DRILL_MSG_MORE) ? TW_MSG_MORE : 0;
	struct tw_conn_info ci;
	tw_conn_info(f->s, &ci);
	/* A blocked write retried with the send buffer still full: nothing to try. */
	bool open = ci.state == TW_ESTABLISHED || ci.state == TW_CLOSE_WAIT;
	if (cs->began && open && !(tw_events(f->s) & TW_POLLOUT)) {
		o->blocked = true;
		return;
	}
	cs->began = true;
	long n = 0;
	do {
		uint64_t want = sc->len - cs->done_bytes < WRITE_CHUNK ? sc->len - cs->done_bytes : WRITE_CHUNK;
		for (uint64_t i = 0; i < want; i++)
			r->scratch[i] = drill_fill_byte(ci.iss + 1 + (uint32_t)(f->written + i));
		n = tw_send(f->s, r->scratch, (size_t)want, flags);
		if (n > 0) {
			cs->done_bytes += (uint64_t)n;
			f->written += (uint64_t)n;
		}
		if (n < (long)want)
			break;
	} while (cs->done_bytes < sc->len);
	if (cs->done_bytes == sc->len) {
		set_result(o, (long)sc->len);
		return;
	}
	if (cs->may_block && (n >= 0 || n == -EAGAIN)) {
		o->blocked = true;
		return;
	}
	set_result(o, cs->done_bytes ? (long)cs->done_bytes : n);
}

static void do_shutdown(struct drill_run *r, struct drill_call_state *cs, struct outcome *o)
{
	struct drill_fd *f = fd_or_ebadf(r, cs, o);
	if (f)
		set_result(o, tw_shutdown(f->s, sc_of(cs)->how));
}

static void do_close(struct drill_run *r, struct drill_call_state *cs, struct outcome *o)
{
	struct drill_fd *f = fd_or_ebadf(r, cs, o);
	if (!f)
		return;
	if (r->pending.active && r->pending.ev->call.fd == f->fd && &r->pending != cs) {
		drill_fail(r, cs->ev->line, "fd %d is closed while the blocking %s() of line %d waits on it", f->fd,
			   r->pending.ev->call.name, r->pending.ev->line);
		return;
	}
	set_result(o, tw_close(f->s));
	drill_fd_remove(r, f);
}

/* Linux's tcp_poll as seen through tw_events, masked the way poll(2) masks it. */
static unsigned revents_of(struct drill_run *r, const struct drill_pollfd *p)
{
	const struct drill_fd *f = drill_fd_find(r, p->fd);
	if (!f)
		return DRILL_POLLNVAL;
	unsigned ev = tw_events(f->s);
	unsigned out = ev & (p->events | DRILL_POLLERR | DRILL_POLLHUP);
	if ((p->events & DRILL_POLLRDNORM) && (ev & DRILL_POLLIN))
		out |= DRILL_POLLRDNORM;
	if ((p->events & DRILL_POLLWRNORM) && (ev & DRILL_POLLOUT))
		out |= DRILL_POLLWRNORM;
	return out;
}

static void do_poll(struct drill_run *r, struct drill_call_state *cs, struct outcome *o)
{
	const struct drill_syscall *sc = sc_of(cs);
	long ready = 0;
	for (size_t i = 0; i < sc->n_pfds; i++) {
		o->revents[i] = revents_of(r, &sc->pfds[i]);
		ready += o->revents[i] != 0;
	}
	if (!ready && sc->timeout_ms != 0 && r->now < cs->poll_until) {
		o->blocked = true;
		return;
	}
	set_result(o, ready);
}

static void do_fcntl(struct drill_run *r, struct drill_call_state *cs, struct outcome *o)
{
	const struct drill_syscall *sc = sc_of(cs);
	struct drill_fd *f = fd_or_ebadf(r, cs, o);
	if (!f)
		return;
	if (sc->cmd == DRILL_F_GETFL) {
		set_result(o, DRILL_O_RDWR | (f->nonblock ? DRILL_O_NONBLOCK : 0));
		return;
	}
	f->nonblock = sc->flags & DRILL_O_NONBLOCK;
	set_result(o, 0);
}

static void do_ioctl(struct drill_run *r, struct drill_call_state *cs, struct outcome *o)
{
	struct drill_fd *f = fd_or_ebadf(r, cs, o);
	if (!f)
		return;
	if (f->listener) {
		set_result(o, -EINVAL);   /* Linux's tcp_ioctl: SIOCINQ on a listener */
		return;
	}
	o->has_value = true;
	o->value = (int64_t)tw_readable(f->s);
	set_result(o, 0);
}

static void do_setsockopt(struct drill_run *r, struct drill_call_state *cs, struct outcome *o)
{
	const struct drill_syscall *sc = sc_of(cs);
	struct drill_fd *f = fd_or_ebadf(r, cs, o);
	if (!f)
		return;
	/* SO_LINGER {onoff=1, linger=0} is the abortive close; onoff=0 the graceful one. */
	int value = sc->is_linger ? (sc->value != 0) : sc->value;
	set_result(o, tw_setsockopt(f->s, (enum tw_sockopt)sc->tw_opt, value));
}

static void do_getsockopt(struct drill_run *r, struct drill_call_state *cs, struct outcome *o)
{
	const struct drill_syscall *sc = sc_of(cs);
	struct drill_fd *f = fd_or_ebadf(r, cs, o);
	if (!f)
		return;
	o->has_value = true;
	if (sc->is_so_error) {
		o->value = -tw_sock_error(f->s);
		set_result(o, 0);
		return;
	}
	int v = 0;
	int rc = tw_getsockopt(f->s, (enum tw_sockopt)sc->tw_opt, &v);
	o->value = v;
	o->onoff = v;
	o->linger = 0;
	set_result(o, rc);
}

typedef void (*call_fn)(struct drill_run *r, struct drill_call_state *cs, struct outcome *o);

static const call_fn call_fns[] = {
	[DRILL_SOCKET] = do_socket, [DRILL_BIND] = do_bind, [DRILL_LISTEN] = do_listen,
	[DRILL_ACCEPT] = do_accept, [DRILL_CONNECT] = do_connect, [DRILL_READ] = do_read,
	[DRILL_WRITE] = do_write, [DRILL_SEND] = do_write, [DRILL_RECV] = do_read,
	[DRILL_SHUTDOWN] = do_shutdown, [DRILL_CLOSE] = do_close, [DRILL_POLL] = do_poll,
	[DRILL_FCNTL] = do_fcntl, [DRILL_IOCTL] = do_ioctl, [DRILL_SETSOCKOPT] = do_setsockopt,
	[DRILL_GETSOCKOPT] = do_getsockopt,
};

/* ------------------------------------------------------------ checking */

/* "-1 ECONNREFUSED (Connection refused)" or "3". */
static void result_text(long ret, int err, char *buf, size_t cap)
{
	const char *name = drill_errno_name(err);
	if (ret == -1 && err)
		snprintf(buf, cap, "-1 %s (%s)", name ? name : "?", strerror(err));
	else
		snprintf(buf, cap, "%ld", ret);
}

static bool returns_fd(const struct drill_syscall *sc)
{
	return sc->call == DRILL_SOCKET || sc->call == DRILL_ACCEPT;
}

static bool check_return(struct drill_run *r, const struct drill_call_state *cs, const struct outcome *o)
{
	const struct drill_syscall *sc = sc_of(cs);
	bool ok = returns_fd(sc) && sc->ret >= 0 ? o->ret >= 0 : o->ret == sc->ret;
	if (ok && sc->err && o->err != sc->err)
		ok = false;
	if (ok)
		return true;
	char got[160], want[160];
	result_text(o->ret, o->err, got, sizeof(got));
	result_text(sc->ret, sc->err, want, sizeof(want));
	drill_fail(r, cs->ev->line, "%s() returned %s, expected %s", sc->name, got, want);
	return false;
}

static bool check_outputs(struct drill_run *r, const struct drill_call_state *cs, const struct outcome *o)
{
	const struct drill_syscall *sc = sc_of(cs);
	int line = cs->ev->line;
	if (o->bad_data) {
		drill_fail(r, line, "%s() returned bytes the peer did not send at stream offset %llu", sc->name,
			   (unsigned long long)o->bad_offset);
		return false;
	}
	if (sc->is_linger && sc->call == DRILL_GETSOCKOPT && sc->check_out &&
	    (o->onoff != (sc->value != 0) || o->linger != sc->linger)) {
		drill_fail(r, line, "getsockopt() gave {onoff=%d, linger=%d}, expected {onoff=%d, linger=%d}", o->onoff,
			   o->linger, sc->value, sc->linger);
		return false;
	}
	if (!sc->is_linger && sc->check_out && o->has_value && o->value != sc->out_value) {
		drill_fail(r, line, "%s() gave [%lld], expected [%lld]", sc->name, (long long)o->value,
			   (long long)sc->out_value);
		return false;
	}
	for (size_t i = 0; sc->call == DRILL_POLL && i < sc->n_pfds; i++) {
		if (o->revents[i] != sc->pfds[i].revents) {
			char got[128], want[128];
			drill_poll_bits_name(o->revents[i], got, sizeof(got));
			drill_poll_bits_name(sc->pfds[i].revents, want, sizeof(want));
			drill_fail(r, line, "poll() gave revents=%s for fd %d, expected revents=%s", got, sc->pfds[i].fd, want);
			return false;
		}
	}
	return true;
}

static bool check_time(struct drill_run *r, const struct drill_call_state *cs)
{
	const struct drill_syscall *sc = sc_of(cs);
	if (!sc->has_end)
		return true;
	uint64_t tol = drill_tolerance(r, cs->end);
	if (r->now + tol >= cs->end && r->now <= cs->end + tol)
		return true;
	char a[32], b[32], c[32];
	drill_fail(r, cs->ev->line, "timing error: %s() was expected to return at %s s (tolerance %s s), it returned at %s s",
		   sc->name, drill_fmt_time(cs->end, a, sizeof(a)), drill_fmt_time(tol, b, sizeof(b)),
		   drill_fmt_time(r->now, c, sizeof(c)));
	return false;
}

/* socket() and accept(): the new socket takes the number the script gave it. */
static void adopt_socket(struct drill_run *r, const struct drill_call_state *cs, struct tw_sock *s)
{
	const struct drill_syscall *sc = sc_of(cs);
	if (drill_fd_find(r, (int)sc->ret)) {
		drill_fail(r, cs->ev->line, "fd %lld is already open in the script", (long long)sc->ret);
		return;
	}
	struct drill_fd *f = drill_fd_add(r, (int)sc->ret, s);
	if (!f) {
		drill_fail(r, cs->ev->line, "more than %d sockets", DRILL_MAX_FDS);
		return;
	}
	f->nonblock = sc->call == DRILL_SOCKET && (sc->flags & DRILL_SOCK_NONBLOCK);
}

static void trace_call(struct drill_run *r, const struct drill_call_state *cs, const struct outcome *o)
{
	char t[32], res[160];
	bool fd = o->new_sock && sc_of(cs)->ret >= 0;   /* the number the script gives it */
	result_text(fd ? (long)sc_of(cs)->ret : o->ret, o->err, res, sizeof(res));
	fprintf(r->out, "  %s   %s() = %s (line %d)\n", drill_fmt_time(r->now, t, sizeof(t)), sc_of(cs)->name, res,
		cs->ev->line);
}

void drill_call_begin(struct drill_run *r, struct drill_call_state *cs, const struct drill_event *ev, uint64_t end)
{
	const struct drill_syscall *sc = &ev->call;
	const struct drill_fd *f = drill_fd_find(r, sc->fd);
	memset(cs, 0, sizeof(*cs));
	cs->active = true;
	cs->ev = ev;
	cs->started = r->now;
	cs->end = end;
	cs->deadline = sc->has_end ? end + drill_tolerance(r, end) : UINT64_MAX;
	cs->poll_until = UINT64_MAX;
	switch (sc->call) {
	case DRILL_ACCEPT:
	case DRILL_CONNECT:
	case DRILL_READ:
	case DRILL_WRITE:
		cs->may_block = f && !f->nonblock;
		break;
	case DRILL_SEND:
	case DRILL_RECV:
		cs->may_block = f && !f->nonblock && !(sc->flags & DRILL_MSG_DONTWAIT);
		break;
	case DRILL_POLL:
		cs->may_block = sc->timeout_ms != 0;
		if (sc->timeout_ms > 0)
			cs->poll_until = r->now + (uint64_t)sc->timeout_ms * 1000;
		break;
	default:
		break;
	}
}

bool drill_call_step(struct drill_run *r, struct drill_call_state *cs)
{
	struct outcome o;
	memset(&o, 0, sizeof(o));
	call_fns[sc_of(cs)->call](r, cs, &o);
	drill_refresh_timers(r);   /* the call may have armed a timer, blocked or not */
	if (r->failed) {
		cs->active = false;
		return true;
	}
	if (o.blocked)
		return false;
	cs->active = false;
	if (r->verbose)
		trace_call(r, cs, &o);
	if (!check_return(r, cs, &o) || !check_outputs(r, cs, &o) || !check_time(r, cs))
		return true;
	if (o.new_sock && sc_of(cs)->ret >= 0)
		adopt_socket(r, cs, o.new_sock);
	return true;
}
