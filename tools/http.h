/*
 * The web server of `threeway serve --app http`: HTTP/1.1 (RFC 9112) GET and
 * HEAD, keep-alive and pipelining, a small built-in site and the files under
 * a root directory.
 */
#ifndef THREEWAY_TOOLS_HTTP_H
#define THREEWAY_TOOLS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "threeway.h"

/* The largest request head (request line, headers, the empty line) taken by default, as nginx's 8 KiB buffers. */
#define HTTP_MAX_HEAD_DEFAULT 8192
/* The bounds --max-header-bytes accepts: room for a short request line and Host, and 1 MiB. */
#define HTTP_MAX_HEAD_MIN 64
#define HTTP_MAX_HEAD_MAX 1048576

struct http_request {
	char method[16];
	char target[2048];
	int minor;                  /* HTTP/1.minor */
	bool keep_alive;            /* what the version and Connection header ask for */
	uint64_t content_length;    /* a body to read past (and ignore) */
};

/*
 * Parses one request head from `buf`: the bytes it takes (> 0), 0 when the
 * head is not complete yet, or the negative status code of a bad request
 * (-400, -414 target too long, -431 a head longer than `max_head` bytes,
 * complete or not, -501 a body encoding not supported, -505 not HTTP/1.x).
 * Empty lines before the request line count towards `max_head`. An
 * absolute-form target is reduced to its path.
 */
long http_parse_request(const char *buf, size_t len, size_t max_head, struct http_request *req);

/*
 * Maps a request target to a file under `root`: 0 with the path in `out`, or
 * the status to answer (404, 403, 400). Refuses anything that would leave
 * the root, after decoding and following links.
 */
int http_resolve(const char *root, const char *target, char *out, size_t cap);

enum http_result { HTTP_MORE, HTTP_DONE, HTTP_FAILED };

struct http_config {
	const char *root;           /* the directory files are served from, or NULL */
	size_t max_head;            /* HTTP_MAX_HEAD_MIN to HTTP_MAX_HEAD_MAX */
};

/* What the connections of one server refused, added up. */
struct http_stats {
	uint64_t heads_too_large;   /* answered 431 */
	uint64_t bad_requests;      /* answered another 4xx or 5xx for a head that did not parse */
	uint64_t head_timeouts;     /* given up on by http_conn_time_out */
};

struct http_conn;
/* `cfg` and `stats` must outlive the connection; `stats` is added to. */
struct http_conn *http_conn_new(struct tw_sock *sock, const struct http_config *cfg, struct http_stats *stats);
void http_conn_free(struct http_conn *h);
/*
 * Does what the connection allows now: reads requests, queues responses.
 * HTTP_MORE: waiting for the peer or for room; HTTP_DONE: the last response
 * is queued and the connection should close; HTTP_FAILED: reset it.
 * `stopping` makes the current response the last.
 */
enum http_result http_conn_run(struct http_conn *h, bool stopping);
/* Is a response being sent (queued only in part)? */
bool http_conn_busy(const struct http_conn *h);
/* Requests answered so far on the connection. */
uint64_t http_conn_answered(const struct http_conn *h);

/* Where a connection stands on reading a request head. */
enum http_head_state {
	HTTP_HEAD_NONE,             /* not waiting for one: a response or a body is under way */
	HTTP_HEAD_IDLE,             /* waiting, and no byte of it has come */
	HTTP_HEAD_PARTIAL,          /* waiting, and part of it has come */
};
enum http_head_state http_conn_head_state(const struct http_conn *h);
/*
 * The head did not come in time: with part of it read, a 408 is queued and
 * the connection is to close after it (http_conn_run then returns
 * HTTP_DONE) and true returned; with nothing read, there is nothing to
 * answer and false says to close now. Counted in the stats either way.
 */
bool http_conn_time_out(struct http_conn *h);

#endif
