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
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apps.h"
#include "http.h"

/* The connections open from one address, for the per-client limit. */
struct app_client {
	struct tw_addr addr;
	unsigned conns;
	struct app_client *next;    /* in its hash chain */
};

struct app_conn {
	struct app_server *srv;
	struct tw_sock *sock;
	struct app_client *client;  /* NULL without a per-client limit */
	struct app_conn *prev, *next;
	bool shut;                  /* FIN requested: lingering, input read and dropped until the peer's FIN */
	bool peer_done;             /* the peer's FIN has been read */
	uint64_t last_active_us;    /* the last readiness change */
	uint64_t shut_at_us;
	uint64_t head_deadline_us;  /* http: when the head being awaited must be whole; 0: none awaited */
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
	app_clock_fn clock;
	void *clock_ctx;
	app_observer_fn observer;
	void *observer_ctx;
	struct app_limits limits;
	struct http_config http_cfg;
	struct http_stats http_stats;
	uint64_t refused_per_client;
	/* Clients by address: a chained table, doubled when it has as many clients as chains. */
	struct app_client **clients;
	size_t n_clients, cap_clients;
	uint64_t client_seed;       /* so that a peer cannot choose addresses that share a chain */
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

void app_limits_init(struct app_limits *l)
{
	*l = (struct app_limits){
		.head_timeout_us = APP_HEAD_TIMEOUT_US,
		.max_head_bytes = HTTP_MAX_HEAD_DEFAULT,
		.max_conns_per_client = APP_MAX_CONNS_PER_CLIENT,
	};
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
	struct app_limits l;
	app_limits_init(&l);
	app_server_set_limits(srv, &l);
	if (getrandom(&srv->client_seed, sizeof(srv->client_seed), GRND_NONBLOCK) != sizeof(srv->client_seed))
		srv->client_seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)srv;
	return srv;
}

void app_server_set_limits(struct app_server *srv, const struct app_limits *l)
{
	srv->limits = *l;
	srv->http_cfg = (struct http_config){ .root = srv->root, .max_head = l->max_head_bytes };
}

void app_server_set_clock(struct app_server *srv, app_clock_fn now, void *ctx)
{
	srv->clock = now;
	srv->clock_ctx = ctx;
}

void app_server_stats(const struct app_server *srv, struct app_stats *out)
{
	*out = (struct app_stats){
		.head_timeouts = srv->http_stats.head_timeouts,
		.heads_too_large = srv->http_stats.heads_too_large,
		.bad_requests = srv->http_stats.bad_requests,
		.refused_per_client = srv->refused_per_client,
	};
}

static uint64_t server_now(const struct app_server *srv)
{
	return srv->clock ? srv->clock(srv->clock_ctx) : srv->now_us;
}

/* ------------------------------------------------------------- clients */

static size_t client_chain(const struct app_server *srv, const struct tw_addr *a)
{
	/* FNV-1a from a secret starting point over the family and the address. */
	uint64_t h = 0xcbf29ce484222325u ^ srv->client_seed;
	size_t len = a->family == TW_AF_INET ? 4 : 16;
	h = (h ^ a->family) * 0x100000001b3u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ a->bytes[i]) * 0x100000001b3u;
	h ^= h >> 29;
	return (size_t)h & (srv->cap_clients - 1);
}

static bool same_addr(const struct tw_addr *a, const struct tw_addr *b)
{
	return a->family == b->family && !memcmp(a->bytes, b->bytes, a->family == TW_AF_INET ? 4 : 16);
}

static bool clients_grow(struct app_server *srv)
{
	size_t old_cap = srv->cap_clients, cap = old_cap ? old_cap * 2 : 64;
	struct app_client **old = srv->clients, **tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return false;
	srv->clients = tab;
	srv->cap_clients = cap;
	for (size_t i = 0; i < old_cap; i++) {
		struct app_client *next;
		for (struct app_client *c = old[i]; c; c = next) {
			next = c->next;
			size_t k = client_chain(srv, &c->addr);
			c->next = tab[k];
			tab[k] = c;
		}
	}
	free(old);
	return true;
}

/* The client of address `a`, made with no connections if new; NULL on no memory. */
static struct app_client *client_get(struct app_server *srv, const struct tw_addr *a)
{
	if (srv->cap_clients) {
		for (struct app_client *c = srv->clients[client_chain(srv, a)]; c; c = c->next)
			if (same_addr(&c->addr, a))
				return c;
	}
	if (srv->n_clients >= srv->cap_clients && !clients_grow(srv))
		return NULL;
	struct app_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	size_t k = client_chain(srv, a);
	c->addr = *a;
	c->next = srv->clients[k];
	srv->clients[k] = c;
	srv->n_clients++;
	return c;
}

/* Forgets a client with no connection left. */
static void client_put(struct app_server *srv, struct app_client *c)
{
	if (c->conns)
		return;
	struct app_client **pp = &srv->clients[client_chain(srv, &c->addr)];
	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	srv->n_clients--;
	free(c);
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
	if (ac->client) {
		ac->client->conns--;
		client_put(srv, ac->client);
	}
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
	free(srv->clients);
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

/*
 * The head deadline runs while a head is awaited: the first from the
 * accept, a later one from its first byte (before that, the connection is
 * idle between requests, which the idle timeout governs).
 */
static void update_head_deadline(struct app_conn *ac)
{
	enum http_head_state st = http_conn_head_state(ac->http);
	if (st == HTTP_HEAD_NONE || (st == HTTP_HEAD_IDLE && http_conn_answered(ac->http) > 0))
		ac->head_deadline_us = 0;
	else if (!ac->head_deadline_us && ac->srv->limits.head_timeout_us)
		ac->head_deadline_us = server_now(ac->srv) + ac->srv->limits.head_timeout_us;
}

static void run_http(struct app_conn *ac)
{
	if (!ac->http && !(ac->http = http_conn_new(ac->sock, &ac->srv->http_cfg, &ac->srv->http_stats))) {
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
	else
		update_head_deadline(ac);
}

/* The head did not come in time: a 408 for part of one (then the FIN), or just the FIN. */
static void head_timed_out(struct app_conn *ac)
{
	ac->head_deadline_us = 0;
	if (http_conn_time_out(ac->http))
		run_http(ac);
	else
		finish_sending(ac);
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
		struct tw_endpoint peer;
		struct tw_sock *s = tw_accept(listener, &peer, &err);
		if (!s)
			return;
		struct app_client *cl = NULL;
		if (srv->limits.max_conns_per_client && !srv->shutting_down) {
			/* Over the per-client limit (or no memory to count it): reset at once, which leaves no state behind. */
			cl = client_get(srv, &peer.addr);
			if (!cl || cl->conns >= srv->limits.max_conns_per_client) {
				srv->refused_per_client += cl != NULL;
				tw_abort(s);
				continue;
			}
		}
		struct app_conn *ac = calloc(1, sizeof(*ac));
		if (!ac || srv->shutting_down) {
			free(ac);
			if (cl)
				client_put(srv, cl);
			tw_abort(s);
			continue;
		}
		if (cl)
			cl->conns++;
		ac->client = cl;
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
		else if (!ac->shut && ac->head_deadline_us && server_now(srv) >= ac->head_deadline_us)
			head_timed_out(ac);
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
