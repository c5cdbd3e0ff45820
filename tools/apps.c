/*
 * The four applications of `threeway serve`, on readiness callbacks. A
 * connection's handler runs whenever its readiness may have changed; it does
 * all it can without blocking (reads what is there, writes what fits) and
 * returns.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apps.h"
#include "http.h"

struct app_conn {
	struct app_server *srv;
	struct tw_sock *sock;
	struct app_conn *prev, *next;
	bool shut;                  /* FIN requested: lingering, input read and dropped until the peer's FIN */
	bool peer_done;             /* the peer's FIN has been read */
	uint64_t last_active_us;    /* the last readiness change */
	uint64_t shut_at_us;
	uint64_t chargen_pos;       /* chargen: where in the pattern */
	/* Bytes waiting to be sent: echo's copy of what it read, or a response. */
	char *pending;
	size_t pending_len, pending_off, pending_cap;
	struct http_conn *http;
};

struct app_server {
	enum app_kind kind;
	char *root;
	struct app_conn *conns;
	size_t n_conns;
	bool shutting_down;
	uint64_t now_us;            /* as of the last tick */
	app_observer_fn observer;
	void *observer_ctx;
};

int app_kind_parse(const char *name)
{
	static const char *const names[] = { "http", "echo", "discard", "chargen" };
	for (int i = 0; i < 4; i++)
		if (!strcmp(name, names[i]))
			return i;
	return -1;
}

const char *app_kind_name(enum app_kind k)
{
	static const char *const names[] = { "http", "echo", "discard", "chargen" };
	return names[k];
}

struct app_server *app_server_new(enum app_kind kind, const char *root)
{
	struct app_server *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return NULL;
	srv->kind = kind;
	if (root && !(srv->root = strdup(root))) {
		free(srv);
		return NULL;
	}
	return srv;
}

static void conn_release(struct app_conn *ac, bool abort)
{
	struct app_server *srv = ac->srv;
	if (ac->prev)
		ac->prev->next = ac->next;
	else
		srv->conns = ac->next;
	if (ac->next)
		ac->next->prev = ac->prev;
	srv->n_conns--;
	tw_set_callback(ac->sock, NULL, NULL);
	if (abort)
		tw_abort(ac->sock);
	else
		tw_close(ac->sock);
	http_conn_free(ac->http);
	free(ac->pending);
	free(ac);
}

void app_server_free(struct app_server *srv)
{
	if (!srv)
		return;
	/* A connection that never got to its FIN is reset: a FIN would pass a cut response as whole. */
	while (srv->conns)
		conn_release(srv->conns, !srv->conns->shut);
	free(srv->root);
	free(srv);
}

size_t app_server_conns(const struct app_server *srv) { return srv->n_conns; }

void app_server_set_observer(struct app_server *srv, app_observer_fn fn, void *ctx)
{
	srv->observer = fn;
	srv->observer_ctx = ctx;
}

/* ------------------------------------------------------------- sending */

/* Sends what is pending; true when nothing is left. */
static bool flush_pending(struct app_conn *ac)
{
	while (ac->pending_off < ac->pending_len) {
		long n = tw_send(ac->sock, ac->pending + ac->pending_off, ac->pending_len - ac->pending_off, 0);
		if (n <= 0)
			return false;
		ac->pending_off += (size_t)n;
	}
	ac->pending_off = ac->pending_len = 0;
	return true;
}

static bool ensure_pending_room(struct app_conn *ac, size_t cap)
{
	if (ac->pending_cap >= cap)
		return true;
	char *p = realloc(ac->pending, cap);
	if (!p)
		return false;
	ac->pending = p;
	ac->pending_cap = cap;
	return true;
}

/*
 * FIN after what is queued, then a lingering close (RFC 9112 9.6): what the
 * peer still sends is read and dropped until its FIN, because closing with
 * unread data would reset the connection and lose the end of the response.
 */
static void finish_sending(struct app_conn *ac)
{
	if (!ac->shut) {
		tw_shutdown(ac->sock, TW_SHUT_WR);
		ac->shut = true;
		ac->shut_at_us = ac->srv->now_us;
	}
}

/* ------------------------------------------------------------- the apps */

#define ECHO_CHUNK 65536

/* RFC 862: what arrives goes back. Reading stops while the copy waits for room. */
static void run_echo(struct app_conn *ac)
{
	if (!ensure_pending_room(ac, ECHO_CHUNK))
		return;
	while (flush_pending(ac) && !ac->peer_done && !ac->srv->shutting_down) {
		long n = tw_recv(ac->sock, ac->pending, ECHO_CHUNK, 0);
		if (n == 0)
			ac->peer_done = true;
		if (n <= 0)
			break;
		ac->pending_len = (size_t)n;
	}
	if ((ac->peer_done || ac->srv->shutting_down) && ac->pending_len == 0)
		finish_sending(ac);
}

/* Reads and drops what there is; true once the peer has closed its side. */
static bool drain_input(struct app_conn *ac)
{
	char buf[16384];
	long n;
	while ((n = tw_recv(ac->sock, buf, sizeof(buf), 0)) > 0)
		;
	if (n == 0)
		ac->peer_done = true;
	return ac->peer_done;
}

/* RFC 863: everything is read and thrown away. */
static void run_discard(struct app_conn *ac)
{
	if (drain_input(ac) || ac->srv->shutting_down)
		finish_sending(ac);
}

/* RFC 864: lines of 72 printable characters, each starting one further along the 95 of them. */
static void chargen_fill(struct app_conn *ac, char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++, ac->chargen_pos++) {
		uint64_t line = ac->chargen_pos / 74, col = ac->chargen_pos % 74;
		if (col == 72)
			buf[i] = '\r';
		else if (col == 73)
			buf[i] = '\n';
		else
			buf[i] = (char)(' ' + (line + col) % 95);
	}
}

static void run_chargen(struct app_conn *ac)
{
	if (drain_input(ac) || ac->srv->shutting_down) {
		finish_sending(ac);
		return;
	}
	char buf[16384];
	for (;;) {
		uint64_t pos = ac->chargen_pos;
		chargen_fill(ac, buf, sizeof(buf));
		long n = tw_send(ac->sock, buf, sizeof(buf), 0);
		if (n < (long)sizeof(buf)) {
			ac->chargen_pos = pos + (uint64_t)(n > 0 ? n : 0);
			return;
		}
	}
}

static void run_http(struct app_conn *ac)
{
	if (!ac->http && !(ac->http = http_conn_new(ac->sock, ac->srv->root))) {
		conn_release(ac, true);
		return;
	}
	/* When stopping, a response under way is finished; an idle connection is closed now. */
	if (ac->srv->shutting_down && !http_conn_busy(ac->http)) {
		finish_sending(ac);
		return;
	}
	uint64_t answered = http_conn_answered(ac->http);
	enum http_result r = http_conn_run(ac->http, ac->srv->shutting_down);
	struct tw_conn_info info;
	if (ac->srv->observer && http_conn_answered(ac->http) != answered && !tw_conn_info(ac->sock, &info))
		ac->srv->observer(ac->srv->observer_ctx, &info);
	if (r == HTTP_DONE)
		finish_sending(ac);   /* the last response is queued: FIN after it */
	else if (r == HTTP_FAILED)
		conn_release(ac, true);
}

/* Runs the connection's app; false when it released the connection. */
static bool run_app(struct app_conn *ac)
{
	struct app_server *srv = ac->srv;
	size_t before = srv->n_conns;
	switch (srv->kind) {
	case APP_HTTP: run_http(ac); break;
	case APP_ECHO: run_echo(ac); break;
	case APP_DISCARD: run_discard(ac); break;
	case APP_CHARGEN: run_chargen(ac); break;
	}
	return srv->n_conns == before;
}

static void conn_event(struct tw_sock *s, unsigned events, void *ctx)
{
	struct app_conn *ac = ctx;
	(void)s;
	if (events & TW_POLLERR) {
		/* Reset, timed out: nothing more to say on it. */
		tw_sock_error(ac->sock);
		conn_release(ac, false);
		return;
	}
	ac->last_active_us = ac->srv->now_us;
	if (!ac->shut && !run_app(ac))
		return;
	/* Lingering: once the peer's FIN is read, both sides are done and the stack finishes the close. */
	if (ac->shut && (drain_input(ac) || (events & TW_POLLHUP)))
		conn_release(ac, false);
}

static void accept_all(struct tw_sock *listener, unsigned events, void *ctx)
{
	struct app_server *srv = ctx;
	(void)events;
	for (;;) {
		int err = 0;
		struct tw_sock *s = tw_accept(listener, NULL, &err);
		if (!s)
			return;
		struct app_conn *ac = calloc(1, sizeof(*ac));
		if (!ac || srv->shutting_down) {
			free(ac);
			tw_abort(s);
			continue;
		}
		ac->srv = srv;
		ac->sock = s;
		ac->last_active_us = srv->now_us;
		ac->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = ac;
		srv->conns = ac;
		srv->n_conns++;
		tw_set_callback(s, conn_event, ac);
		conn_event(s, tw_events(s), ac);
	}
}

void app_server_listen(struct app_server *srv, struct tw_sock *listener)
{
	tw_set_callback(listener, accept_all, srv);
}

/* Runs every connection's handler once (each may release itself). */
static void run_all(struct app_server *srv)
{
	struct app_conn *next;
	for (struct app_conn *ac = srv->conns; ac; ac = next) {
		next = ac->next;
		conn_event(ac->sock, tw_events(ac->sock), ac);
	}
}

void app_server_shutdown(struct app_server *srv)
{
	srv->shutting_down = true;
	run_all(srv);
}

void app_server_tick(struct app_server *srv, uint64_t now_us)
{
	struct app_conn *next;
	srv->now_us = now_us;
	for (struct app_conn *ac = srv->conns; ac; ac = next) {
		next = ac->next;
		if (ac->shut && now_us - ac->shut_at_us >= APP_LINGER_US)
			conn_release(ac, false);
		else if (!ac->shut && srv->kind == APP_HTTP && now_us - ac->last_active_us >= APP_HTTP_IDLE_US)
			finish_sending(ac);
	}
}

bool app_server_drained(const struct app_server *srv)
{
	for (const struct app_conn *ac = srv->conns; ac; ac = ac->next) {
		struct tw_conn_info info;
		if (!ac->shut)
			return false;
		/* Our FIN is out and acknowledged once past FIN-WAIT-1, CLOSING and LAST-ACK. */
		if (!tw_conn_info(ac->sock, &info) &&
		    (info.state == TW_FIN_WAIT_1 || info.state == TW_CLOSING || info.state == TW_LAST_ACK))
			return false;
	}
	return true;
}
