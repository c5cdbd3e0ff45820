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

#define HTTP_MAX_HEAD 8192      /* request line and headers */

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
 * (-400, -414 target too long, -431 headers too large, -501 a body encoding
 * not supported, -505 not HTTP/1.x). An absolute-form target is reduced to
 * its path.
 */
long http_parse_request(const char *buf, size_t len, struct http_request *req);

/*
 * Maps a request target to a file under `root`: 0 with the path in `out`, or
 * the status to answer (404, 403, 400). Refuses anything that would leave
 * the root, after decoding and following links.
 */
int http_resolve(const char *root, const char *target, char *out, size_t cap);

enum http_result { HTTP_MORE, HTTP_DONE, HTTP_FAILED };

struct http_conn;
struct http_conn *http_conn_new(struct tw_sock *sock, const char *root);
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

#endif
