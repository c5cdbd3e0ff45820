/*
 * The http app's pure parts: the request head parser (RFC 9112 2-3, 5-6,
 * 9.3) and the mapping of a request target to a file under the root, which
 * must never lead out of it, however the target is spelt or where links
 * point.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "http.h"

/* ------------------------------------------------------------------ helpers */

/* Parses `text` from a heap buffer of exactly its length, so ASan sees any read past the end. */
static long parse_n(const char *text, size_t len, struct http_request *req)
{
	char *buf = malloc(len ? len : 1);
	assert_non_null(buf);
	memcpy(buf, text, len);
	memset(req, 0xa5, sizeof(*req));
	long r = http_parse_request(buf, len, HTTP_MAX_HEAD_DEFAULT, req);
	free(buf);
	return r;
}

static long parse(const char *text, struct http_request *req)
{
	return parse_n(text, strlen(text), req);
}

/* A whole head: the bytes taken are all of it. */
static struct http_request parse_ok(const char *text)
{
	struct http_request req;
	long r = parse(text, &req);
	if (r != (long)strlen(text))
		fail_msg("parsing \"%s\": %ld, want %zu", text, r, strlen(text));
	return req;
}

static void expect_status(const char *text, long status)
{
	struct http_request req;
	long r = parse(text, &req);
	if (r != -status)
		fail_msg("parsing \"%s\": %ld, want %ld", text, r, -status);
}

static bool keep_alive(const char *text)
{
	return parse_ok(text).keep_alive;
}

/* ------------------------------------------------------------ the head */

static void test_http_parse_simple_get(void **state)
{
	(void)state;
	struct http_request req = parse_ok("GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
	assert_string_equal(req.method, "GET");
	assert_string_equal(req.target, "/index.html");
	assert_int_equal(req.minor, 1);
	assert_true(req.keep_alive);
	assert_int_equal(req.content_length, 0);
}

/* What curl sends. */
static void test_http_parse_curl_request(void **state)
{
	(void)state;
	struct http_request req =
		parse_ok("HEAD /a%20b.txt?x=1 HTTP/1.1\r\nHost: 10.7.0.2:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n");
	assert_string_equal(req.method, "HEAD");
	assert_string_equal(req.target, "/a%20b.txt?x=1");
}

/* RFC 9112 2.2: a bare LF ends a line too, in any mix with CRLF. */
static void test_http_parse_bare_lf(void **state)
{
	(void)state;
	struct http_request req = parse_ok("GET /lf HTTP/1.1\nHost: x\n\n");
	assert_string_equal(req.target, "/lf");
	parse_ok("GET / HTTP/1.1\r\nHost: x\n\r\n");
	parse_ok("GET / HTTP/1.1\nHost: x\r\n\n");
	parse_ok("GET / HTTP/1.1\nHost: x\n\n");
	parse_ok("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
}

/* RFC 9112 2.2: empty lines before the request line are skipped, and are part of what is taken. */
static void test_http_parse_leading_empty_lines(void **state)
{
	(void)state;
	struct http_request req = parse_ok("\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_string_equal(req.method, "GET");
	assert_string_equal(req.target, "/after");
	parse_ok("\nGET / HTTP/1.1\nHost: x\n\n");
	parse_ok("\n\r\n\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
}

/* Every prefix of a head is "not yet" (0), never an error, never a read past the bytes given. */
static void test_http_parse_incomplete_heads(void **state)
{
	(void)state;
	const char *heads[] = {
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\n\n",
		"\r\n\r\nGET / HTTP/1.0\r\n\r\n",
		"GET /%41 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		size_t len = strlen(heads[i]);
		for (size_t n = 0; n < len; n++) {
			struct http_request req;
			long r = parse_n(heads[i], n, &req);
			if (r != 0)
				fail_msg("%zu bytes of \"%s\": %ld, want 0", n, heads[i], r);
		}
		struct http_request req;
		assert_int_equal(parse_n(heads[i], len, &req), (long)len);
	}
}

/* Pipelining: what is taken ends where the first head ends; the next parses from there. */
static void test_http_parse_pipelined(void **state)
{
	(void)state;
	const char two[] = "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	const size_t first = strlen("GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
	struct http_request req;
	assert_int_equal(parse(two, &req), (long)first);
	assert_string_equal(req.target, "/one");
	assert_true(req.keep_alive);   /* the second's Connection: close is not the first's */
	assert_int_equal(parse(two + first, &req), (long)(sizeof(two) - 1 - first));
	assert_string_equal(req.target, "/two");
	assert_false(req.keep_alive);

	/* The second only begun; with bare LFs. */
	assert_int_equal(parse("GET /a HTTP/1.1\nHost: x\n\nGET /b HT", &req), (long)strlen("GET /a HTTP/1.1\nHost: x\n\n"));
	assert_string_equal(req.target, "/a");
	/* A body after the head is not the head's. */
	assert_int_equal(parse("POST /f HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", &req),
			 (long)strlen("POST /f HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"));
	assert_int_equal(req.content_length, 5);
	/* Even a body that looks like the end of a head. */
	assert_int_equal(parse("GET /x HTTP/1.1\r\nHost: x\r\n\r\n\r\n\r\n", &req), (long)strlen("GET /x HTTP/1.1\r\nHost: x\r\n\r\n"));
}

/* -------------------------------------------------------------- versions */

/* RFC 9112 3.2: an HTTP/1.1 request without Host is refused; HTTP/1.0 needs none. */
static void test_http_parse_host_required_in_1_1(void **state)
{
	(void)state;
	expect_status("GET / HTTP/1.1\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nX-Host: x\r\n\r\n", 400);
	parse_ok("GET / HTTP/1.0\r\n\r\n");
	parse_ok("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
}

/* RFC 9112 3.2.2: the absolute form is accepted and reduced to its path. */
static void test_http_parse_absolute_form(void **state)
{
	(void)state;
	assert_string_equal(parse_ok("GET http://example.com/a/b?c HTTP/1.1\r\nHost: x\r\n\r\n").target, "/a/b?c");
	assert_string_equal(parse_ok("GET HTTPS://example.com HTTP/1.1\r\nHost: x\r\n\r\n").target, "/");
	assert_string_equal(parse_ok("GET /http://x/y HTTP/1.1\r\nHost: x\r\n\r\n").target, "/http://x/y");
}

/* RFC 9112 9.3: HTTP/1.1 persists unless told otherwise; HTTP/1.0 only when asked. */
static void test_http_parse_version_defaults(void **state)
{
	(void)state;
	struct http_request req = parse_ok("GET / HTTP/1.0\r\n\r\n");
	assert_int_equal(req.minor, 0);
	assert_false(req.keep_alive);
	req = parse_ok("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(req.minor, 1);
	assert_true(req.keep_alive);
	/* RFC 9110 2.5: a higher minor version is understood as the highest known. */
	req = parse_ok("GET / HTTP/1.9\r\nHost: x\r\n\r\n");
	assert_int_equal(req.minor, 9);
	assert_true(req.keep_alive);
}

/* RFC 9110 15.6.6: a major version other than 1 is 505. */
static void test_http_parse_unsupported_major_version(void **state)
{
	(void)state;
	expect_status("GET / HTTP/2.0\r\n\r\n", 505);
	expect_status("GET / HTTP/3.0\r\n\r\n", 505);
	expect_status("GET / HTTP/0.9\r\n\r\n", 505);
	expect_status("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);   /* the HTTP/2 preface */
}

/* ------------------------------------------------------------ Connection */

/* RFC 9110 7.6.1: Connection is a list of case-insensitive tokens; "close" ends the connection. */
static void test_http_parse_connection_tokens(void **state)
{
	(void)state;
	assert_false(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
	assert_false(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n"));
	assert_false(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nconnection: CLOSE\r\n\r\n"));
	assert_false(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nCONNECTION:close\r\n\r\n"));
	assert_false(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnection: close \r\n\r\n"));
	assert_false(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n"));
	assert_false(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnection: close, foo\r\n\r\n"));
	assert_false(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n"));
	assert_false(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnection: ,,close,,\r\n\r\n"));
	assert_false(keep_alive("GET / HTTP/1.1\nHost: x\nConnection: close\n\n"));
	assert_false(keep_alive("GET / HTTP/1.0\r\nConnection: close\r\n\r\n"));
	assert_false(keep_alive("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"));

	assert_true(keep_alive("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
	assert_true(keep_alive("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
	assert_true(keep_alive("GET / HTTP/1.0\r\nConnection: foo, keep-alive\r\n\r\n"));
	assert_true(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"));
	assert_true(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\r\n"));

	/* Tokens, not substrings; and other headers are not Connection. */
	assert_true(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n"));
	assert_true(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnection: enclose\r\n\r\n"));
	assert_true(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnection: clo se\r\n\r\n"));
	assert_true(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nX-Connection: close\r\n\r\n"));
	assert_true(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnectionx: close\r\n\r\n"));
	assert_true(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nX: Connection: close\r\n\r\n"));
	assert_false(keep_alive("GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n"));
	assert_false(keep_alive("GET / HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n"));
}

/* RFC 9110 5.6.1: list elements are separated by OWS "," OWS, and OWS is spaces or tabs. */
static void test_http_parse_connection_tab_separated(void **state)
{
	(void)state;
	assert_false(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnection:\tclose\r\n\r\n"));
	assert_false(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\t\r\n\r\n"));
	assert_false(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo,\tclose\r\n\r\n"));
	assert_true(keep_alive("GET / HTTP/1.0\r\nConnection: foo,\tkeep-alive\r\n\r\n"));
}

/*
 * RFC 9110 5.3: field lines of the same name combine into one list, so a
 * "close" in any Connection line closes (RFC 9112 9.6), whatever comes after.
 */
static void test_http_parse_connection_close_in_any_line(void **state)
{
	(void)state;
	assert_false(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n"));
	assert_false(keep_alive("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n"));
	assert_false(keep_alive("GET / HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n"));
}

/* -------------------------------------------------------- Content-Length */

/* RFC 9110 8.6: Content-Length = 1*DIGIT. */
static void test_http_parse_content_length(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 42\r\n\r\n").content_length, 42);
	assert_int_equal(parse_ok("POST / HTTP/1.1\r\nHost: x\r\ncontent-length:7\r\n\r\n").content_length, 7);
	assert_int_equal(parse_ok("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").content_length, 0);
	assert_int_equal(parse_ok("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 007\r\n\r\n").content_length, 7);
	assert_int_equal(parse_ok("POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\t12 \t\r\n\r\n").content_length, 12);
	assert_int_equal(parse_ok("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\n").content_length,
			 UINT64_MAX);
	/* No Content-Length: no body; the struct is cleared from one call to the next. */
	assert_int_equal(parse_ok("GET / HTTP/1.1\r\nHost: x\r\n\r\n").content_length, 0);
	assert_int_equal(parse_ok("GET / HTTP/1.1\r\nHost: x\r\nX-Content-Length: 5\r\n\r\n").content_length, 0);
}

static void test_http_parse_content_length_invalid(void **state)
{
	(void)state;
	expect_status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1.5\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400);
}

/*
 * RFC 9112 6.3 (5): an invalid Content-Length makes the framing unknowable,
 * and the server MUST answer 400 and close. Reading one as some number is
 * how requests are smuggled past a proxy that reads it as another.
 */
static void test_http_parse_content_length_not_digits(void **state)
{
	(void)state;
	/* RFC 9110 8.6: 1*DIGIT, then only the field's trailing whitespace. */
	expect_status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n", 400);
}

/* RFC 9110 8.6: field lines that disagree make the value invalid (RFC 9112 6.3 (5) again). */
static void test_http_parse_content_length_conflicting(void **state)
{
	(void)state;
	expect_status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400);
}

/* RFC 9112 6.1: a server that does not understand a transfer coding answers 501. */
static void test_http_parse_transfer_encoding(void **state)
{
	(void)state;
	expect_status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501);
	expect_status("POST / HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n\r\n", 501);
	expect_status("POST / HTTP/1.1\r\nHost: x\r\nTRANSFER-ENCODING:gzip, chunked\r\n\r\n", 501);
	expect_status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 501);
	expect_status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 501);
}

/*
 * RFC 9112 5.1: "No whitespace is allowed between the field name and colon
 * ... A server MUST reject, with a response status code of 400 (Bad
 * Request), any received request message that contains whitespace between a
 * header field name and colon." Ignoring such a line as an unknown field
 * lets a body through that a proxy framed differently.
 */
static void test_http_parse_whitespace_before_colon(void **state)
{
	(void)state;
	const char *bad[] = {
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding\t: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nConnection : close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
	};
	int failures = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_request req;
		long r = parse(bad[i], &req);
		if (r != -400) {
			print_error("parsing \"%s\": %ld, want -400\n", bad[i], r);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

/* ---------------------------------------------------------- bad requests */

/* RFC 9112 3: request-line = method SP request-target SP HTTP-version. */
static void test_http_parse_bad_request_lines(void **state)
{
	(void)state;
	const char *bad[] = {
		"GET /\r\n\r\n",                   /* HTTP/0.9's: no version */
		"GET\r\n\r\n",
		"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",         /* two spaces */
		"GET /  HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1 \r\n\r\n",         /* trailing space */
		" GET / HTTP/1.1\r\nHost: x\r\n\r\n",         /* leading space */
		"GET\t/\tHTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",       /* a space in the target */
		"get / HTTP/1.1\r\nHost: x\r\n\r\n",          /* methods are case-sensitive, and ours upper case */
		"G3T / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / http/1.1\r\n\r\n",          /* so is the version */
		"GET / HTTP/1\r\n\r\n",
		"GET / HTTP/1.\r\n\r\n",
		"GET / HTTP/1.x\r\n\r\n",
		"GET / HTTP/1.10\r\n\r\n",
		"GET / HTTP/11.1\r\n\r\n",
		"GET / HTTPS/1.1\r\n\r\n",
		"GET / HTTP 1.1\r\n\r\n",
		"/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET HTTP/1.1\r\nHost: x\r\n\r\n",
		"ABCDEFGHIJKLMNOP / HTTP/1.1\r\nHost: x\r\n\r\n",   /* a 16-letter method: too long */
		"\x16\x03\x01\x02\x05\x01\x10\x01\xfc\x03\x03\n\n",   /* TLS in plain HTTP */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_status(bad[i], 400);
	/* A 15-letter method is fine (405 is the app's to answer). */
	assert_string_equal(parse_ok("ABCDEFGHIJKLMNO / HTTP/1.1\r\nHost: x\r\n\r\n").method, "ABCDEFGHIJKLMNO");
	assert_string_equal(parse_ok("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").target, "*");
}

/* A header line needs a colon; a line starting with whitespace is obs-fold (RFC 9112 5.2) or worse. */
static void test_http_parse_bad_header_lines(void **state)
{
	(void)state;
	expect_status("GET / HTTP/1.1\r\nHost x\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n continued\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\tcontinued: 2\r\n\r\n", 400);
	/* RFC 9112 2.2: whitespace between the request line and the first field. */
	expect_status("GET / HTTP/1.1\r\nHost: x\r\n Host: x\r\n\r\n", 400);
}

/* A NUL anywhere in the head is refused (RFC 9110 5.5: NUL is never valid in a field). */
static void test_http_parse_nul_bytes(void **state)
{
	(void)state;
	struct http_request req;
	static const char in_target[] = "GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char in_method[] = "G\0T / HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char in_value[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
	static const char in_name[] = "GET / HTTP/1.1\r\nHost: x\r\nHo\0st: ab\r\n\r\n";
	static const char in_version[] = "GET / HTTP/1.1\0\r\n\r\n";
	assert_int_equal(parse_n(in_target, sizeof(in_target) - 1, &req), -400);
	assert_int_equal(parse_n(in_method, sizeof(in_method) - 1, &req), -400);
	assert_int_equal(parse_n(in_value, sizeof(in_value) - 1, &req), -400);
	assert_int_equal(parse_n(in_name, sizeof(in_name) - 1, &req), -400);
	assert_int_equal(parse_n(in_version, sizeof(in_version) - 1, &req), -400);
	/* After the head, in the next request's bytes: not this head's business. */
	static const char after[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n\0\0\0";
	assert_int_equal(parse_n(after, sizeof(after) - 1, &req), (long)sizeof(after) - 1 - 3);
}

/* RFC 6585 5: a head that does not end within HTTP_MAX_HEAD_DEFAULT bytes is 431. */
static void test_http_parse_overlong_head(void **state)
{
	(void)state;
	struct http_request req;
	char *buf = malloc(HTTP_MAX_HEAD_DEFAULT + 64);
	assert_non_null(buf);
	int n = snprintf(buf, 64, "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ");
	memset(buf + n, 'a', HTTP_MAX_HEAD_DEFAULT + 64 - (size_t)n);
	/* One byte short of the limit: may still end. At the limit and past it: 431. */
	assert_int_equal(parse_n(buf, HTTP_MAX_HEAD_DEFAULT - 1, &req), 0);
	assert_int_equal(parse_n(buf, HTTP_MAX_HEAD_DEFAULT, &req), -431);
	assert_int_equal(parse_n(buf, HTTP_MAX_HEAD_DEFAULT + 64, &req), -431);
	/* A head that ends exactly at the limit is whole. */
	memcpy(buf + HTTP_MAX_HEAD_DEFAULT - 4, "\r\n\r\n", 4);
	assert_int_equal(parse_n(buf, HTTP_MAX_HEAD_DEFAULT, &req), HTTP_MAX_HEAD_DEFAULT);
	/* Empty lines alone never end: no request line ever came. */
	for (size_t i = 0; i + 1 < HTTP_MAX_HEAD_DEFAULT; i += 2)
		memcpy(buf + i, "\r\n", 2);
	assert_int_equal(parse_n(buf, 64, &req), 0);
	assert_int_equal(parse_n(buf, HTTP_MAX_HEAD_DEFAULT, &req), -431);
	free(buf);
}

/* --max-header-bytes: a complete head over the limit is refused as an incomplete one reaching it is. */
static void test_http_parse_head_limit_configurable(void **state)
{
	(void)state;
	struct http_request req;
	char head[128];
	static const char start[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ";
	size_t n = strlen(start);
	memcpy(head, start, n);
	memset(head + n, 'a', sizeof(head) - n);
	memcpy(head + 96, "\r\n\r\n", 4);   /* a 100-byte head */
	assert_int_equal(http_parse_request(head, 100, 100, &req), 100);
	assert_int_equal(http_parse_request(head, 100, 99, &req), -431);
	assert_int_equal(http_parse_request(head, 99, 100, &req), 0);
	assert_int_equal(http_parse_request(head, 96, 96, &req), -431);
	assert_int_equal(http_parse_request(head, 128, HTTP_MAX_HEAD_MIN, &req), -431);
	/* With room for the head, what follows it (the next request) does not count. */
	assert_int_equal(http_parse_request(head, 128, 100, &req), 100);
}

/* The target must fit the struct's 2,048 bytes with its NUL; longer is refused, not cut. */
static void test_http_parse_long_target(void **state)
{
	(void)state;
	struct http_request req;
	size_t cap = sizeof(req.target);
	char *buf = malloc(cap + 64);
	assert_non_null(buf);
	for (size_t tlen = cap - 2; tlen <= cap + 1; tlen++) {
		buf[0] = '\0';
		strcat(buf, "GET /");
		size_t n = strlen(buf);
		memset(buf + n, 'x', tlen - 1);
		strcpy(buf + n + tlen - 1, " HTTP/1.1\r\nHost: x\r\n\r\n");
		long r = parse(buf, &req);
		if (tlen < cap) {
			assert_int_equal(r, (long)strlen(buf));
			assert_int_equal(strlen(req.target), tlen);
		} else {
			assert_int_equal(r, -414);   /* RFC 9110 15.5.15 */
		}
	}
	free(buf);
}

/* --------------------------------------------------------------- files */

static char base[] = "/tmp/threeway-http-XXXXXX";
static char root[PATH_MAX];        /* as given */
static char real_root[PATH_MAX];   /* as realpath has it */

/* dir/rel into out, which it must fit: a test path cut short would test another path. */
static void path_join(char *out, size_t cap, const char *dir, const char *rel)
{
	int n = snprintf(out, cap, "%s/%s", dir, rel);
	assert_true(n > 0 && (size_t)n < cap);
}

static void make_file(const char *rel, const char *text)
{
	char path[PATH_MAX];
	path_join(path, sizeof(path), base, rel);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void make_dir(const char *rel)
{
	char path[PATH_MAX];
	path_join(path, sizeof(path), base, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void make_link(const char *target, const char *rel)
{
	char path[PATH_MAX];
	path_join(path, sizeof(path), base, rel);
	assert_int_equal(symlink(target, path), 0);
}

/*
 * base/root/             the root served
 *   index.html  a.txt  double  "sp ace.txt"  "what?.txt"  fifo
 *   sub/index.html  sub/page.txt
 *   empty/                    no index.html
 *   link-in -> a.txt          a link that stays inside
 *   link-out -> ../outside/secret.txt
 *   dir-out -> ../outside
 *   link-sibling -> ../rootevil/secret.txt    outside, though its path starts with the root's
 *   trap/index.html -> ../../outside/secret.txt
 *   abs-out -> /etc/passwd
 * base/outside/secret.txt   base/rootevil/secret.txt
 */
static int setup_tree(void **state)
{
	(void)state;
	if (!mkdtemp(base))
		return -1;
	path_join(root, sizeof(root), base, "root");
	make_dir("root");
	make_dir("outside");
	make_dir("rootevil");
	make_dir("root/sub");
	make_dir("root/empty");
	make_dir("root/trap");
	make_file("root/index.html", "<h1>root</h1>\n");
	make_file("root/a.txt", "a\n");
	make_file("root/double", "double\n");
	make_file("root/sp ace.txt", "space\n");
	make_file("root/what?.txt", "question\n");
	make_file("root/sub/index.html", "<h1>sub</h1>\n");
	make_file("root/sub/page.txt", "page\n");
	make_file("outside/secret.txt", "secret\n");
	make_file("rootevil/secret.txt", "evil\n");
	make_link("a.txt", "root/link-in");
	make_link("../outside/secret.txt", "root/link-out");
	make_link("../outside", "root/dir-out");
	make_link("../rootevil/secret.txt", "root/link-sibling");
	make_link("../../outside/secret.txt", "root/trap/index.html");
	make_link("/etc/passwd", "root/abs-out");
	char fifo[PATH_MAX];
	path_join(fifo, sizeof(fifo), root, "fifo");
	if (mkfifo(fifo, 0644))
		return -1;
	if (!realpath(root, real_root))
		return -1;
	return 0;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown_tree(void **state)
{
	(void)state;
	return nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* `target` resolves, to the file `rel` under the root. */
static void expect_file(const char *target, const char *rel)
{
	char out[PATH_MAX], want[PATH_MAX];
	memset(out, 0xa5, sizeof(out));
	int r = http_resolve(root, target, out, sizeof(out));
	if (r != 0)
		fail_msg("resolving \"%s\": %d, want the file %s", target, r, rel);
	path_join(want, sizeof(want), real_root, rel);
	assert_string_equal(out, want);
}

static void expect_refused(const char *target, int status)
{
	char out[PATH_MAX];
	int r = http_resolve(root, target, out, sizeof(out));
	if (r != status)
		fail_msg("resolving \"%s\": %d, want %d%s%s", target, r, status, r ? "" : " but got ",
			 r ? "" : out);
}

static void test_http_resolve_files(void **state)
{
	(void)state;
	expect_file("/", "index.html");
	expect_file("/index.html", "index.html");
	expect_file("/a.txt", "a.txt");
	expect_file("/sub/page.txt", "sub/page.txt");
	expect_file("/sub/", "sub/index.html");
	expect_file("/sub", "sub/index.html");
	expect_file("/sub/index.html", "sub/index.html");
	expect_file("//double", "double");
	expect_file("/sub//page.txt", "sub/page.txt");
}

/* RFC 3986 2.1: percent-encoded octets, either case of hex digit. */
static void test_http_resolve_percent_encoding(void **state)
{
	(void)state;
	expect_file("/sp%20ace.txt", "sp ace.txt");
	expect_file("/%61.txt", "a.txt");
	expect_file("/%61%2E%74%78%74", "a.txt");
	expect_file("/%61%2e%74%78%74", "a.txt");
	expect_file("/what%3F.txt", "what?.txt");
	expect_file("/what%3f.txt", "what?.txt");
	/* Malformed escapes, and a NUL, are bad requests. */
	expect_refused("/%", 400);
	expect_refused("/%4", 400);
	expect_refused("/a.txt%", 400);
	expect_refused("/%zz", 400);
	expect_refused("/%g0", 400);
	expect_refused("/%0g", 400);
	expect_refused("/a.txt%00", 400);
	expect_refused("/%00/a.txt", 400);
}

/* RFC 9112 3.2: the query is not part of the path; a fragment should not be sent, and is not either. */
static void test_http_resolve_query_and_fragment(void **state)
{
	(void)state;
	expect_file("/a.txt?x=1", "a.txt");
	expect_file("/a.txt?", "a.txt");
	expect_file("/a.txt#top", "a.txt");
	expect_file("/?q", "index.html");
	expect_file("/a.txt?../../etc/passwd", "a.txt");
	expect_file("/a.txt?x=%zz", "a.txt");
	expect_refused("/what?.txt", 404);   /* "/what", query ".txt" */
}

/* Dot segments, spelt out or encoded, and backslashes are refused before any file is looked at. */
static void test_http_resolve_dot_segments(void **state)
{
	(void)state;
	const char *bad[] = {
		"/..", "/../", "/../x", "/../outside/secret.txt", "/../../../../etc/passwd",
		"/%2e%2e/outside/secret.txt", "/%2E%2E/x", "/.%2e/x", "/%2e./x",
		"/a/../b", "/sub/../a.txt", "/sub/..", "/sub/%2e%2e/a.txt",
		"/./a.txt", "/.", "/sub/./page.txt", "/sub/.", "/%2e/a.txt",
		"/..%2fx", "/%2e%2e%2fx", "/sub%2f..%2fa.txt",
		"/..\\x", "/\\..\\x", "/sub\\page.txt", "/%5c..%5ca.txt", "/a.txt\\",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(bad[i], 400);
	/* Names that merely contain dots are names. */
	expect_refused("/...", 404);
	expect_refused("/.hidden", 404);
	expect_refused("/..a", 404);
}

static void test_http_resolve_missing(void **state)
{
	(void)state;
	expect_refused("/nope.txt", 404);
	expect_refused("/A.TXT", 404);
	expect_refused("/a.txt/", 404);        /* a file is no directory */
	expect_refused("/a.txt/x", 404);
	expect_refused("/sub/nope", 404);
	expect_refused("/nope/", 404);
	expect_refused("/empty/", 404);        /* a directory without index.html */
	expect_refused("/empty", 404);
	expect_refused("/fifo", 404);          /* not a regular file */
}

/* Links are followed, and must end inside the root (by path component, not by string prefix). */
static void test_http_resolve_symlinks(void **state)
{
	(void)state;
	expect_file("/link-in", "a.txt");
	expect_refused("/link-out", 404);
	expect_refused("/dir-out/secret.txt", 404);
	expect_refused("/dir-out/", 404);
	expect_refused("/link-sibling", 404);
	expect_refused("/abs-out", 404);
}

/* A directory's index.html that is a link out of the root is as far out as any other. */
static void test_http_resolve_index_link_out_of_root(void **state)
{
	(void)state;
	expect_refused("/trap/", 404);
	expect_refused("/trap", 404);
	expect_refused("/trap/index.html", 404);
}

/* origin-form only: anything else as a target is a bad request here. */
static void test_http_resolve_target_not_absolute_path(void **state)
{
	(void)state;
	expect_refused("", 400);
	expect_refused("a.txt", 400);
	expect_refused("*", 400);
	expect_refused("http://example.com/a.txt", 400);
	expect_refused("%2fa.txt", 400);
	expect_refused("\\a.txt", 400);
	expect_refused("?/a.txt", 400);
}

/* The root may be given with a trailing slash, through a link, or as "/" itself. */
static void test_http_resolve_root_spellings(void **state)
{
	(void)state;
	char r[PATH_MAX + 8], out[PATH_MAX], want[PATH_MAX + 16];
	snprintf(want, sizeof(want), "%s/a.txt", real_root);

	snprintf(r, sizeof(r), "%s/", root);
	assert_int_equal(http_resolve(r, "/a.txt", out, sizeof(out)), 0);
	assert_string_equal(out, want);

	snprintf(r, sizeof(r), "%s/root-link", base);
	assert_int_equal(symlink("root", r), 0);
	assert_int_equal(http_resolve(r, "/a.txt", out, sizeof(out)), 0);
	assert_string_equal(out, want);
	assert_int_equal(http_resolve(r, "/link-out", out, sizeof(out)), 404);
	assert_int_equal(unlink(r), 0);

	char target[PATH_MAX + 16];
	snprintf(target, sizeof(target), "%s/a.txt", real_root);
	assert_int_equal(http_resolve("/", target, out, sizeof(out)), 0);
	assert_string_equal(out, want);

	snprintf(r, sizeof(r), "%s/no-such-root", base);
	assert_int_equal(http_resolve(r, "/a.txt", out, sizeof(out)), 404);
	/* The root of another tree is no root for this one. */
	snprintf(r, sizeof(r), "%s/outside", base);
	assert_int_equal(http_resolve(r, "/a.txt", out, sizeof(out)), 404);
	assert_int_equal(http_resolve(r, "/secret.txt", out, sizeof(out)), 0);
}

/* The path must fit `out` with its NUL; else 404, and not a byte written past `cap`. */
static void test_http_resolve_output_capacity(void **state)
{
	(void)state;
	char want[PATH_MAX];
	path_join(want, sizeof(want), real_root, "a.txt");
	size_t need = strlen(want) + 1;
	for (size_t cap = need - 2; cap <= need; cap++) {
		char *out = malloc(cap);
		assert_non_null(out);
		int r = http_resolve(root, "/a.txt", out, cap);
		if (cap < need) {
			assert_int_equal(r, 404);
		} else {
			assert_int_equal(r, 0);
			assert_string_equal(out, want);
		}
		free(out);
	}
}

/* A target longer than any path: refused, without overrunning anything. */
static void test_http_resolve_very_long_target(void **state)
{
	(void)state;
	const size_t lens[] = { 255, 256, 2047, 2048, 4095, 4096, 5000 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		char *t = malloc(lens[i] + 1);
		assert_non_null(t);
		t[0] = '/';
		memset(t + 1, 'a', lens[i] - 1);
		t[lens[i]] = '\0';
		char out[PATH_MAX];
		int r = http_resolve(root, t, out, sizeof(out));
		assert_true(r == 400 || r == 404);
		/* Encoded, three times as long. */
		char *e = malloc(lens[i] * 3 + 1);
		assert_non_null(e);
		e[0] = '/';
		for (size_t k = 1; k < lens[i]; k++)
			memcpy(e + 1 + (k - 1) * 3, "%61", 3);
		e[1 + (lens[i] - 1) * 3] = '\0';
		r = http_resolve(root, e, out, sizeof(out));
		assert_true(r == 400 || r == 404);
		free(e);
		free(t);
	}
}

/* A directory that cannot be searched: 403. Root can search anything, so this needs another user. */
static void test_http_resolve_no_permission(void **state)
{
	(void)state;
	if (geteuid() == 0)
		skip();
	char path[PATH_MAX];
	make_dir("root/locked");
	make_file("root/locked/f.txt", "locked\n");
	path_join(path, sizeof(path), root, "locked");
	assert_int_equal(chmod(path, 0600), 0);
	expect_refused("/locked/f.txt", 403);
	assert_int_equal(chmod(path, 0755), 0);
}

int main(void)
{
	const struct CMUnitTest parse_tests[] = {
		cmocka_unit_test(test_http_parse_simple_get),
		cmocka_unit_test(test_http_parse_curl_request),
		cmocka_unit_test(test_http_parse_bare_lf),
		cmocka_unit_test(test_http_parse_leading_empty_lines),
		cmocka_unit_test(test_http_parse_incomplete_heads),
		cmocka_unit_test(test_http_parse_pipelined),
		cmocka_unit_test(test_http_parse_version_defaults),
		cmocka_unit_test(test_http_parse_host_required_in_1_1),
		cmocka_unit_test(test_http_parse_absolute_form),
		cmocka_unit_test(test_http_parse_unsupported_major_version),
		cmocka_unit_test(test_http_parse_connection_tokens),
		cmocka_unit_test(test_http_parse_connection_tab_separated),
		cmocka_unit_test(test_http_parse_connection_close_in_any_line),
		cmocka_unit_test(test_http_parse_content_length),
		cmocka_unit_test(test_http_parse_content_length_invalid),
		cmocka_unit_test(test_http_parse_content_length_not_digits),
		cmocka_unit_test(test_http_parse_content_length_conflicting),
		cmocka_unit_test(test_http_parse_transfer_encoding),
		cmocka_unit_test(test_http_parse_whitespace_before_colon),
		cmocka_unit_test(test_http_parse_bad_request_lines),
		cmocka_unit_test(test_http_parse_bad_header_lines),
		cmocka_unit_test(test_http_parse_nul_bytes),
		cmocka_unit_test(test_http_parse_overlong_head),
		cmocka_unit_test(test_http_parse_head_limit_configurable),
		cmocka_unit_test(test_http_parse_long_target),
	};
	const struct CMUnitTest resolve_tests[] = {
		cmocka_unit_test(test_http_resolve_files),
		cmocka_unit_test(test_http_resolve_percent_encoding),
		cmocka_unit_test(test_http_resolve_query_and_fragment),
		cmocka_unit_test(test_http_resolve_dot_segments),
		cmocka_unit_test(test_http_resolve_missing),
		cmocka_unit_test(test_http_resolve_symlinks),
		cmocka_unit_test(test_http_resolve_index_link_out_of_root),
		cmocka_unit_test(test_http_resolve_target_not_absolute_path),
		cmocka_unit_test(test_http_resolve_root_spellings),
		cmocka_unit_test(test_http_resolve_output_capacity),
		cmocka_unit_test(test_http_resolve_very_long_target),
		cmocka_unit_test(test_http_resolve_no_permission),
	};
	int failed = cmocka_run_group_tests_name("http_parse_request", parse_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("http_resolve", resolve_tests, setup_tree, teardown_tree);
	return failed;
}
