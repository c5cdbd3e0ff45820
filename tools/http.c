/*
 * The http app: parse a request head, answer it from the built-in site or a
 * file, stream the file as the connection takes it, then the next request.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

#define FILE_CHUNK 65536

struct http_conn {
	struct tw_sock *sock;
	const char *root;
	struct http_stats *stats;
	size_t in_len, in_cap;      /* in_cap: the largest head taken */
	size_t scanned;             /* in[0, scanned) holds no end of a head */
	uint64_t body_to_skip;      /* of a request that carried one */
	char *out;                  /* status line, headers and a built-in body */
	size_t out_len, out_off;
	int file_fd;                /* a file body still to send, or -1 */
	uint64_t file_left;
	char *chunk;                /* the part of the file read and not yet sent */
	size_t chunk_len, chunk_off;
	bool last;                  /* close once this response is queued */
	uint64_t answered;
	char in[];                  /* in_cap bytes: the request heads read and not yet taken */
};

/* ------------------------------------------------------------ parsing */

/* RFC 9112 2.2: a line ends in CRLF, and a bare LF is accepted as well. The head ends at an empty line. */
static const char *find_head_end(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (p + 1 < end && p[1] == '\n')
			return p + 2;
		if (p + 2 < end && p[1] == '\r' && p[2] == '\n')
			return p + 3;
		p++;
	}
	return NULL;
}

/* Is the header line `name: value`? RFC 9112 5.1: no whitespace between the name and the colon. */
static bool header_is(const char *line, size_t len, const char *name, const char **value)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(line, name, n) || line[n] != ':')
		return false;
	const char *v = line + n + 1;
	while (v < line + len && (*v == ' ' || *v == '\t'))
		v++;
	*value = v;
	return true;
}

/* Does the comma-separated list (RFC 9110 5.6.1, up to `end`) hold `token`, in any case? */
static bool has_token(const char *v, const char *end, const char *token)
{
	size_t n = strlen(token);
	while (v < end) {
		while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
			v++;
		const char *t = v;
		while (v < end && *v != ',')
			v++;
		const char *e = v;
		while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - t) == n && !strncasecmp(t, token, n))
			return true;
	}
	return false;
}

/* RFC 9112 3.2.2: a server accepts the absolute form (a proxy's) and uses its path. */
static void strip_absolute_form(char *target)
{
	const char *rest = NULL;
	if (!strncasecmp(target, "http://", 7))
		rest = target + 7;
	else if (!strncasecmp(target, "https://", 8))
		rest = target + 8;
	if (!rest)
		return;
	const char *path = strchr(rest, '/');
	if (!path)
		path = "/";
	memmove(target, path, strlen(path) + 1);
}

static long parse_request_line(const char *line, size_t len, struct http_request *req)
{
	const char *sp1 = memchr(line, ' ', len);
	if (!sp1 || sp1 == line || (size_t)(sp1 - line) >= sizeof(req->method))
		return -400;
	const char *sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line));
	if (!sp2 || sp2 == sp1 + 1)
		return -400;
	if ((size_t)(sp2 - sp1 - 1) >= sizeof(req->target))
		return -414;
	const char *version = sp2 + 1;
	size_t vlen = len - (size_t)(version - line);
	memcpy(req->method, line, (size_t)(sp1 - line));
	req->method[sp1 - line] = '\0';
	memcpy(req->target, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	req->target[sp2 - sp1 - 1] = '\0';
	for (const char *p = req->method; *p; p++)
		if (!isupper((unsigned char)*p))
			return -400;
	if (vlen != 8 || strncmp(version, "HTTP/", 5) || !isdigit((unsigned char)version[5]) ||
	    version[6] != '.' || !isdigit((unsigned char)version[7]))
		return -400;
	if (version[5] != '1')
		return -505;
	req->minor = version[7] - '0';
	strip_absolute_form(req->target);
	return 0;
}

/* What the header lines said, gathered before it is judged. */
struct head_fields {
	bool conn_close, conn_keep_alive, has_host, has_length;
};

static long parse_content_length(const char *v, const char *end, struct http_request *req, struct head_fields *f)
{
	/* RFC 9112 6.3: digits only; several that disagree make the framing unknowable. */
	uint64_t n = 0;
	const char *p = v;
	for (; p < end && isdigit((unsigned char)*p); p++) {
		uint64_t digit = (uint64_t)(*p - '0');
		if (n > (UINT64_MAX - digit) / 10)
			return -400;
		n = n * 10 + digit;
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == v || p != end || !isdigit((unsigned char)*v))
		return -400;
	if (f->has_length && req->content_length != n)
		return -400;
	req->content_length = n;
	f->has_length = true;
	return 0;
}

static long parse_header(const char *line, size_t len, struct http_request *req, struct head_fields *f)
{
	const char *v;
	const char *end = line + len;
	const char *colon = memchr(line, ':', len);
	/* RFC 9112 5.1, 5.2: a name, then the colon; no whitespace before it, no obsolete folding. */
	if (!colon || colon == line || colon[-1] == ' ' || colon[-1] == '\t' || line[0] == ' ' || line[0] == '\t')
		return -400;
	if (header_is(line, len, "Connection", &v)) {
		/* RFC 9112 9.6: "close" in any Connection field ends the connection after this response. */
		f->conn_close |= has_token(v, end, "close");
		f->conn_keep_alive |= has_token(v, end, "keep-alive");
	} else if (header_is(line, len, "Content-Length", &v)) {
		return parse_content_length(v, end, req, f);
	} else if (header_is(line, len, "Transfer-Encoding", &v)) {
		return -501;
	} else if (header_is(line, len, "Host", &v)) {
		f->has_host = true;
	}
	return 0;
}

long http_parse_request(const char *buf, size_t len, size_t max_head, struct http_request *req)
{
	memset(req, 0, sizeof(*req));
	/* RFC 9112 2.2: empty lines before the request line are ignored. */
	size_t skip = 0;
	while (skip < len && (buf[skip] == '\n' || (buf[skip] == '\r' && skip + 1 < len && buf[skip + 1] == '\n')))
		skip += buf[skip] == '\r' ? 2 : 1;
	const char *head = buf + skip;
	const char *end = find_head_end(head, len - skip);
	/*
	 * RFC 6585 5: 431 for header fields too large. Too large is a complete
	 * head over the limit, or an incomplete one that has reached it already.
	 */
	if (end ? (size_t)(end - buf) > max_head : len >= max_head)
		return -431;
	if (!end)
		return 0;
	const char *line = head;
	bool first = true;
	struct head_fields f = { false, false, false, false };
	for (;;) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		size_t n = (size_t)(eol - line);
		if (n && line[n - 1] == '\r')
			n--;
		if (n == 0)
			break;   /* the empty line that ends the head */
		if (memchr(line, '\0', n))
			return -400;
		long r = first ? parse_request_line(line, n, req) : parse_header(line, n, req, &f);
		if (r)
			return r;
		first = false;
		line = eol + 1;
	}
	if (first)
		return -400;
	/* RFC 9112 3.2: an HTTP/1.1 request without Host is refused. */
	if (req->minor >= 1 && !f.has_host)
		return -400;
	/* RFC 9112 9.3: HTTP/1.1 persists unless told otherwise; HTTP/1.0 only when asked. */
	req->keep_alive = !f.conn_close && (req->minor >= 1 || f.conn_keep_alive);
	return (long)(end - buf);
}

/* ------------------------------------------------------------ files */

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes the path part of `target` (up to '?' or '#'): 0, or -1 for a bad escape or NUL. */
static int decode_path(const char *target, char *out, size_t cap)
{
	size_t o = 0;
	for (const char *p = target; *p && *p != '?' && *p != '#'; p++) {
		char c = *p;
		if (c == '%') {
			int hi = hex_value(p[1]), lo = hi < 0 ? -1 : hex_value(p[2]);
			if (lo < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			p += 2;
		}
		if (c == '\0' || o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* Any "." or ".." segment, or a backslash, is refused before the file system sees the path. */
static bool has_dot_segment(const char *path)
{
	for (const char *seg = path; seg; seg = strchr(seg, '/')) {
		seg++;
		size_t n = strcspn(seg, "/");
		if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return true;
	}
	return strchr(path, '\\') != NULL;
}

/* Is `real` (a resolved path) the root or under it? */
static bool inside_root(const char *real_root, const char *real)
{
	size_t rl = strlen(real_root);
	if (!strcmp(real_root, "/"))
		return true;
	return !strncmp(real, real_root, rl) && (real[rl] == '/' || real[rl] == '\0');
}

int http_resolve(const char *root, const char *target, char *out, size_t cap)
{
	char path[2048], joined[PATH_MAX + 2048], real_root[PATH_MAX], real[PATH_MAX];
	if (target[0] != '/' || decode_path(target, path, sizeof(path)) || has_dot_segment(path))
		return 400;
	if (!realpath(root, real_root))
		return 404;
	snprintf(joined, sizeof(joined), "%s%s", real_root, path);
	if (!realpath(joined, real))
		return errno == EACCES ? 403 : 404;
	/* A link that leads out of the root is as good as absent. */
	if (!inside_root(real_root, real))
		return 404;
	struct stat sb;
	if (stat(real, &sb))
		return 404;
	if (S_ISDIR(sb.st_mode)) {
		/* A directory's page is its index.html, which must not lead out of the root either. */
		size_t n = strlen(real);
		if (n + sizeof("/index.html") > sizeof(joined))
			return 404;
		memcpy(joined, real, n);
		memcpy(joined + n, "/index.html", sizeof("/index.html"));
		if (!realpath(joined, real) || !inside_root(real_root, real) || stat(real, &sb))
			return 404;
	}
	if (!S_ISREG(sb.st_mode))
		return 404;
	if (strlen(real) + 1 > cap)
		return 404;
	memcpy(out, real, strlen(real) + 1);
	return 0;
}

static const char *content_type(const char *path)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".html", "text/html; charset=utf-8" }, { ".htm", "text/html; charset=utf-8" },
		{ ".txt", "text/plain; charset=utf-8" }, { ".css", "text/css" },
		{ ".js", "text/javascript" }, { ".json", "application/json" },
		{ ".png", "image/png" }, { ".jpg", "image/jpeg" }, { ".jpeg", "image/jpeg" },
		{ ".gif", "image/gif" }, { ".svg", "image/svg+xml" }, { ".pdf", "application/pdf" },
	};
	const char *dot = strrchr(path, '.');
	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (!strcasecmp(dot, types[i].ext))
				return types[i].type;
	return "application/octet-stream";
}

/* ------------------------------------------------------------ responses */

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Internal Server Error";
	}
}

/* Queues a status line and headers, and `body` unless it is a HEAD request. */
static bool queue_head(struct http_conn *h, int status, const char *type, uint64_t length,
		       const char *body, bool head_only)
{
	char date[64];
	time_t t = time(NULL);
	struct tm tm;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&t, &tm));
	size_t body_len = body && !head_only ? (size_t)length : 0;
	size_t cap = 512 + body_len;
	free(h->out);
	h->out = malloc(cap);
	if (!h->out)
		return false;
	int n = snprintf(h->out, cap,
			 "HTTP/1.1 %d %s\r\nServer: threeway/%s\r\nDate: %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %llu\r\n%s%s\r\n",
			 status, reason(status), tw_version(), date, type, (unsigned long long)length,
			 status == 405 ? "Allow: GET, HEAD\r\n" : "",
			 h->last ? "Connection: close\r\n" : "Connection: keep-alive\r\n");
	if (n < 0 || (size_t)n >= 512)
		return false;
	memcpy(h->out + n, body ? body : "", body_len);
	h->out_len = (size_t)n + body_len;
	h->out_off = 0;
	return true;
}

static bool queue_error(struct http_conn *h, int status, bool head_only)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, reason(status));
	return queue_head(h, status, "text/plain; charset=utf-8", (uint64_t)n, body, head_only);
}

static const char *addr_text(const struct tw_addr *a, char *buf, size_t cap)
{
	inet_ntop(a->family == TW_AF_INET ? AF_INET : AF_INET6, a->bytes, buf, (socklen_t)cap);
	return buf;
}

/* The built-in site: "/" shows this very connection's handshake; "/info" the same as text. */
static bool queue_builtin(struct http_conn *h, bool html, bool head_only)
{
	struct tw_conn_info ci;
	char local[64], remote[64], text[1536];
	if (tw_conn_info(h->sock, &ci))
		return queue_error(h, 500, head_only);
	addr_text(&ci.remote.addr, remote, sizeof(remote));
	addr_text(&ci.local.addr, local, sizeof(local));
	int n = snprintf(text, sizeof(text),
			 "%s"
			 "This came to you over threeway, a userspace TCP/IP stack.\n%s"
			 "Your connection's three-way handshake:\n"
			 "  you          %s port %u, initial sequence number %u\n"
			 "  threeway     %s port %u, initial sequence number %u\n"
			 "  MSS          threeway offered %u; it sends you up to %u bytes of data a segment\n"
			 "  window scale %d (yours), %d (ours)\n"
			 "  SACK         %s\n"
			 "  timestamps   %s\n"
			 "  RTT          %.3f ms\n%s",
			 html ? "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>threeway</title>"
				"</head>\n<body>\n<h1>Hello from threeway!</h1>\n<pre>\n" : "Hello from threeway!\n",
			 html ? "\n" : "\n", remote, ci.remote.port, ci.irs, local, ci.local.port, ci.iss,
			 ci.rcv_mss, ci.snd_mss, ci.snd_wscale, ci.rcv_wscale, ci.sack ? "on" : "off",
			 ci.timestamps ? "on" : "off", ci.srtt_us / 1000.0, html ? "</pre>\n</body></html>\n" : "");
	if (n < 0 || (size_t)n >= sizeof(text))
		return queue_error(h, 500, head_only);
	return queue_head(h, 200, html ? "text/html; charset=utf-8" : "text/plain; charset=utf-8",
			  (uint64_t)n, text, head_only);
}

static bool queue_file(struct http_conn *h, const char *path, bool head_only)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb)) {
		if (fd >= 0)
			close(fd);
		return queue_error(h, errno == EACCES ? 403 : 404, head_only);
	}
	if (!queue_head(h, 200, content_type(path), (uint64_t)sb.st_size, NULL, head_only)) {
		close(fd);
		return false;
	}
	if (head_only || sb.st_size == 0) {
		close(fd);
		return true;
	}
	h->file_fd = fd;
	h->file_left = (uint64_t)sb.st_size;
	return true;
}

/* RFC 9110 9.3: methods this server knows but does not allow here (405); any other is 501. */
static bool is_known_method(const char *m)
{
	static const char *const known[] = { "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH" };
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(m, known[i]))
			return true;
	return false;
}

static bool answer(struct http_conn *h, const struct http_request *req)
{
	bool head_only = !strcmp(req->method, "HEAD");
	if (!head_only && strcmp(req->method, "GET"))
		return queue_error(h, is_known_method(req->method) ? 405 : 501, false);
	char path[PATH_MAX];
	int status = 404;
	if (h->root)
		status = http_resolve(h->root, req->target, path, sizeof(path));
	if (status == 0)
		return queue_file(h, path, head_only);
	char decoded[2048];
	if (status == 404 && !decode_path(req->target, decoded, sizeof(decoded))) {
		if (!strcmp(decoded, "/") || !strcmp(decoded, "/index.html"))
			return queue_builtin(h, true, head_only);
		if (!strcmp(decoded, "/info"))
			return queue_builtin(h, false, head_only);
	}
	return queue_error(h, status, head_only);
}

/* ------------------------------------------------------------ the connection */

struct http_conn *http_conn_new(struct tw_sock *sock, const struct http_config *cfg, struct http_stats *stats)
{
	struct http_conn *h = calloc(1, sizeof(*h) + cfg->max_head);
	if (!h)
		return NULL;
	h->sock = sock;
	h->root = cfg->root;
	h->stats = stats;
	h->in_cap = cfg->max_head;
	h->file_fd = -1;
	return h;
}

void http_conn_free(struct http_conn *h)
{
	if (!h)
		return;
	if (h->file_fd >= 0)
		close(h->file_fd);
	free(h->out);
	free(h->chunk);
	free(h);
}

uint64_t http_conn_answered(const struct http_conn *h) { return h->answered; }

bool http_conn_busy(const struct http_conn *h)
{
	return h->out_off < h->out_len || h->file_fd >= 0 || h->chunk_off < h->chunk_len;
}

enum http_head_state http_conn_head_state(const struct http_conn *h)
{
	if (http_conn_busy(h) || h->out_len || h->body_to_skip || h->last)
		return HTTP_HEAD_NONE;
	return h->in_len ? HTTP_HEAD_PARTIAL : HTTP_HEAD_IDLE;
}

bool http_conn_time_out(struct http_conn *h)
{
	h->stats->head_timeouts++;
	h->last = true;
	/*
	 * RFC 9110 15.5.9: 408 says the server did not receive a complete request
	 * in the time it was prepared to wait, and it SHOULD close (RFC 9112 9.6).
	 * As Apache does, a connection that sent nothing at all gets no answer:
	 * nothing was asked, and a client that opened a connection ahead of need
	 * would take the 408 for the answer to its next request.
	 */
	return h->in_len && queue_error(h, 408, false);
}

/* Answers a head that cannot be taken with `status`; the connection closes after it. */
static bool refuse_head(struct http_conn *h, int status)
{
	if (status == 431)
		h->stats->heads_too_large++;
	else
		h->stats->bad_requests++;
	h->last = true;
	return queue_error(h, status, false);
}

/* Drops `n` bytes from the front of the input. */
static void consume_input(struct http_conn *h, size_t n)
{
	if (!n)
		return;
	memmove(h->in, h->in + n, h->in_len - n);
	h->in_len -= n;
	h->scanned = 0;
}

/* Could the input hold a whole head? Only bytes not looked at before are searched (from 2 before them, for a CRLF cut in two). */
static bool may_hold_head(struct http_conn *h)
{
	size_t from = h->scanned > 2 ? h->scanned - 2 : 0;
	if (h->in_len > from && find_head_end(h->in + from, h->in_len - from))
		return true;
	h->scanned = h->in_len;
	return false;
}

/* Queues buf[*off, len) as room allows: -1 on failure, 0 when blocked, 1 when all is queued. */
static int send_rest(struct tw_sock *sock, const char *buf, size_t *off, size_t len)
{
	while (*off < len) {
		long n = tw_send(sock, buf + *off, len - *off, 0);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		*off += (size_t)n;
	}
	return 1;
}

/* Sends the head, then the file as room allows. -1 on failure, 0 when blocked, 1 when all is queued. */
static int pump(struct http_conn *h)
{
	int r = send_rest(h->sock, h->out, &h->out_off, h->out_len);
	if (r <= 0)
		return r;
	while (h->file_fd >= 0) {
		if (h->chunk_off == h->chunk_len) {
			if (!h->chunk && !(h->chunk = malloc(FILE_CHUNK)))
				return -1;
			size_t want = h->file_left < FILE_CHUNK ? (size_t)h->file_left : FILE_CHUNK;
			ssize_t n = read(h->file_fd, h->chunk, want);
			/* A file that shrank cannot keep the Content-Length promise: reset. */
			if (n <= 0)
				return -1;
			h->chunk_len = (size_t)n;
			h->chunk_off = 0;
			h->file_left -= (uint64_t)n;
		}
		if ((r = send_rest(h->sock, h->chunk, &h->chunk_off, h->chunk_len)) <= 0)
			return r;
		if (h->file_left == 0) {
			close(h->file_fd);
			h->file_fd = -1;
		}
	}
	return 1;
}

/* Takes one request from the input, if a whole head is there. -1 failure, 0 none, 1 answered. */
static int next_request(struct http_conn *h, bool stopping)
{
	struct http_request req;
	if (!may_hold_head(h))
		return 0;
	long used = http_parse_request(h->in, h->in_len, h->in_cap, &req);
	if (used == 0) {
		h->scanned = h->in_len;   /* the end found was of empty lines before a request */
		return 0;
	}
	/* After a malformed request the stream cannot be trusted: answer and close. */
	if (used < 0)
		return refuse_head(h, (int)-used) ? 1 : -1;
	consume_input(h, (size_t)used);
	h->body_to_skip = req.content_length;
	h->last = !req.keep_alive || stopping;
	h->answered++;
	return answer(h, &req) ? 1 : -1;
}

/* Drops the body of the current request from the input. */
static void skip_body(struct http_conn *h)
{
	size_t n = h->body_to_skip < h->in_len ? (size_t)h->body_to_skip : h->in_len;
	consume_input(h, n);
	h->body_to_skip -= n;
}

enum http_result http_conn_run(struct http_conn *h, bool stopping)
{
	for (;;) {
		int p = pump(h);
		if (p < 0)
			return HTTP_FAILED;
		if (p == 0)
			return HTTP_MORE;
		if (h->out_len) {
			/* The response is all queued. */
			h->out_len = h->out_off = 0;
			if (h->last || stopping)
				return HTTP_DONE;
		}
		skip_body(h);
		if (!h->body_to_skip) {
			int r = next_request(h, stopping);
			if (r < 0)
				return HTTP_FAILED;
			if (r > 0)
				continue;
		}
		if (stopping)
			return HTTP_DONE;
		if (h->in_len == h->in_cap) {
			/* RFC 6585 5: the limit reached and no end of the head in sight. */
			if (!refuse_head(h, 431))
				return HTTP_FAILED;
			continue;
		}
		long n = tw_recv(h->sock, h->in + h->in_len, h->in_cap - h->in_len, 0);
		if (n == -EAGAIN)
			return HTTP_MORE;
		if (n <= 0)
			return n == 0 ? HTTP_DONE : HTTP_FAILED;   /* the client closed: so do we */
		h->in_len += (size_t)n;
	}
}
