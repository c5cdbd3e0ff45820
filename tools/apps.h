/*
 * The applications `threeway serve` runs on its connections: a small web
 * server, echo (RFC 862), discard (RFC 863) and chargen (RFC 864). Each works
 * through the socket API's readiness callbacks, so one loop serves any
 * number of connections.
 */
#ifndef THREEWAY_TOOLS_APPS_H
#define THREEWAY_TOOLS_APPS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "threeway.h"

enum app_kind { APP_HTTP, APP_ECHO, APP_DISCARD, APP_CHARGEN };

/* "http" -> APP_HTTP, ...; -1 for an unknown name. */
int app_kind_parse(const char *name);
const char *app_kind_name(enum app_kind k);

struct app_server;
struct app_limits;
struct app_stats;

/* `root`: the directory the http app serves files from (NULL: the built-in site only). The limits are the defaults. */
struct app_server *app_server_new(enum app_kind kind, const char *root);
/* Sets the limits, before the server takes its first connection. */
void app_server_set_limits(struct app_server *srv, const struct app_limits *l);
/* The clock deadlines are set by, in microseconds (the loop's). Without one, the time of the last tick. */
typedef uint64_t (*app_clock_fn)(void *ctx);
void app_server_set_clock(struct app_server *srv, app_clock_fn now, void *ctx);
void app_server_stats(const struct app_server *srv, struct app_stats *out);
/* After its FIN, a connection waits this long for the peer's before it is closed anyway. */
#define APP_LINGER_US 2000000u
/* An http connection with nothing happening for this long is closed (keep-alive idle, a stalled request). */
#define APP_HTTP_IDLE_US 60000000u

/* What one client may take, and how long an http request head may take to arrive. */
struct app_limits {
	/*
	 * http: the longest a request head may take to arrive whole, counted from
	 * the connection's accept for the first request, and from the first byte
	 * of a later one (the time between requests is the idle timeout's). 0: no
	 * limit.
	 */
	uint64_t head_timeout_us;
	size_t max_head_bytes;              /* http: HTTP_MAX_HEAD_MIN to HTTP_MAX_HEAD_MAX */
	unsigned max_conns_per_client;      /* connections open at once from one address; 0: no limit */
};
#define APP_HEAD_TIMEOUT_US 10000000u
#define APP_MAX_CONNS_PER_CLIENT 256u
/* The defaults: APP_HEAD_TIMEOUT_US, HTTP_MAX_HEAD_DEFAULT, APP_MAX_CONNS_PER_CLIENT. */
void app_limits_init(struct app_limits *l);

/* What the server refused or gave up on, since it was made. */
struct app_stats {
	uint64_t head_timeouts;             /* http heads that did not arrive in time */
	uint64_t heads_too_large;           /* answered 431 */
	uint64_t bad_requests;              /* other heads answered with an error */
	uint64_t refused_per_client;        /* connections reset for the per-client limit */
};

/*
 * Frees the server's state and releases every connection still open: closed
 * if it had sent its FIN, reset if it had not finished.
 */
void app_server_free(struct app_server *srv);
/* Makes `listener` hand its connections to the server. */
void app_server_listen(struct app_server *srv, struct tw_sock *listener);
/*
 * Stops taking new work: idle connections get their FIN now; a response
 * under way is finished first, then its FIN.
 */
void app_server_shutdown(struct app_server *srv);
/* Lets the server keep its timeouts (lingering close, idle http, request heads): call it about every 500 ms. */
void app_server_tick(struct app_server *srv, uint64_t now_us);
/* After a shutdown: has every connection sent its FIN and had it acknowledged (or ended)? */
bool app_server_drained(const struct app_server *srv);
size_t app_server_conns(const struct app_server *srv);
/* Called with a connection's parameters each time the http app answers a request on it. */
typedef void (*app_observer_fn)(void *ctx, const struct tw_conn_info *info);
void app_server_set_observer(struct app_server *srv, app_observer_fn fn, void *ctx);

#endif
