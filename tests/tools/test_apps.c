/*
 * The apps of `threeway serve` against a client stack over the in-memory
 * link, on the link's virtual clock: the http server's limits on request
 * heads (RFC 9110 15.5.9's 408 after the head timeout, RFC 6585's 431 past
 * the size limit) and the per-client connection limit. Minutes of protocol
 * time take milliseconds, so the default 10 s timeout is tested as it is.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apps.h"
#include "cli.h"
#include "http.h"
#include "threeway.h"

#define SERVER 1
#define CLIENT 2
#define OTHER_CLIENT 3
#define TICK_US 500000u

struct world {
	struct tw_stack *server, *client;
	struct tw_pipe *pipe;
	struct tw_sock *listener;
	struct app_server *app;
	uint64_t next_tick;
};

static struct tw_addr addr(uint8_t last)
{
	return (struct tw_addr){ .family = TW_AF_INET, .bytes = { 10, 0, 0, last } };
}

static struct tw_stack *stack_with(const uint8_t *lasts, size_t n, uint8_t seed)
{
	struct tw_stack_config cfg;
	tw_stack_config_init(&cfg);
	cfg.n_addrs = n;
	for (size_t i = 0; i < n; i++)
		cfg.addrs[i] = addr(lasts[i]);
	memset(cfg.secret, seed, sizeof(cfg.secret));
	cfg.secret_fixed = true;
	int err = 0;
	struct tw_stack *st = tw_stack_new(&cfg, &err);
	assert_non_null(st);
	return st;
}

static uint64_t pipe_clock(void *ctx) { return tw_pipe_now(ctx); }

static void world_init(struct world *w, enum app_kind kind, const struct app_limits *limits)
{
	memset(w, 0, sizeof(*w));
	w->server = stack_with((const uint8_t[]){ SERVER }, 1, 1);
	w->client = stack_with((const uint8_t[]){ CLIENT, OTHER_CLIENT }, 2, 2);
	w->pipe = tw_pipe_new(&(struct tw_pipe_config){ .seed = 1 }, w->server, w->client);
	assert_non_null(w->pipe);
	assert_non_null(w->app = app_server_new(kind, NULL));
	if (limits)
		app_server_set_limits(w->app, limits);
	app_server_set_clock(w->app, pipe_clock, w->pipe);
	int err = 0;
	w->listener = tw_socket(w->server, &err);
	assert_non_null(w->listener);
	assert_int_equal(tw_bind(w->listener, &(struct tw_endpoint){ .addr = addr(SERVER), .port = 80 }), 0);
	assert_int_equal(tw_listen(w->listener, 16), 0);
	app_server_listen(w->app, w->listener);
	w->next_tick = TICK_US;
}

static void world_fini(struct world *w)
{
	app_server_free(w->app);
	tw_close(w->listener);
	tw_pipe_free(w->pipe);
	tw_stack_free(w->server);
	tw_stack_free(w->client);
}

/* Runs the link's clock `us` on, with the server's tick every 500 ms as `threeway serve` gives it. */
static void run_for(struct world *w, uint64_t us)
{
	uint64_t end = tw_pipe_now(w->pipe) + us;
	while (tw_pipe_now(w->pipe) < end) {
		uint64_t step = w->next_tick < end ? w->next_tick : end;
		tw_pipe_run(w->pipe, step, NULL, NULL);
		if (tw_pipe_now(w->pipe) < step)
			tw_pipe_set_now(w->pipe, step);
		if (tw_pipe_now(w->pipe) >= w->next_tick) {
			app_server_tick(w->app, tw_pipe_now(w->pipe));
			w->next_tick += TICK_US;
		}
	}
}

/* A client connection from 10.0.0.`from`, established (or already refused). */
static struct tw_sock *connect_from(struct world *w, uint8_t from)
{
	int err = 0;
	struct tw_sock *s = tw_socket(w->client, &err);
	assert_non_null(s);
	assert_int_equal(tw_bind(s, &(struct tw_endpoint){ .addr = addr(from) }), 0);
	assert_int_equal(tw_connect(s, &(struct tw_endpoint){ .addr = addr(SERVER), .port = 80 }), -EINPROGRESS);
	run_for(w, 10000);
	return s;
}

static void send_text(struct world *w, struct tw_sock *s, const char *text)
{
	assert_int_equal(tw_send(s, text, strlen(text), 0), (long)strlen(text));
	run_for(w, 10000);
}

/* What the client has received (NUL-terminated); `*eof` once the server's FIN has come. */
static size_t receive(struct tw_sock *s, char *buf, size_t cap, bool *eof)
{
	size_t got = 0;
	long n;
	*eof = false;
	while (got + 1 < cap && (n = tw_recv(s, buf + got, cap - 1 - got, 0)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	if (got + 1 < cap && tw_recv(s, buf + got, 1, 0) == 0)
		*eof = true;
	return got;
}

static struct app_stats stats(const struct world *w)
{
	struct app_stats st;
	app_server_stats(w->app, &st);
	return st;
}

/* --------------------------------------------------------------- head timeout */

/* The default: a head still incomplete 10 s after the accept gets 408 and the FIN, not before. */
static void test_http_partial_head_408_after_default_10s(void **state)
{
	(void)state;
	struct app_limits l;
	app_limits_init(&l);
	assert_int_equal(l.head_timeout_us, 10000000u);
	struct world w;
	world_init(&w, APP_HTTP, NULL);
	struct tw_sock *c = connect_from(&w, CLIENT);
	send_text(&w, c, "GET / HTTP/1.1\r\nHost: x\r\n");
	char buf[4096];
	bool eof;
	run_for(&w, 9400000);
	send_text(&w, c, "X-More: still coming\r\n");
	assert_int_equal(receive(c, buf, sizeof(buf), &eof), 0);
	assert_false(eof);
	assert_int_equal(stats(&w).head_timeouts, 0);
	run_for(&w, 1200000);
	receive(c, buf, sizeof(buf), &eof);
	assert_true(!strncmp(buf, "HTTP/1.1 408 Request Timeout\r\n", 30));
	assert_non_null(strstr(buf, "\r\nConnection: close\r\n"));
	assert_true(eof);
	assert_int_equal(stats(&w).head_timeouts, 1);
	tw_close(c);
	run_for(&w, 3000000);
	assert_int_equal(app_server_conns(w.app), 0);
	world_fini(&w);
}

/* A connection that sends nothing is closed after the timeout without a word. */
static void test_http_silent_connection_closed_without_answer(void **state)
{
	(void)state;
	struct app_limits l;
	app_limits_init(&l);
	l.head_timeout_us = 2000000;
	struct world w;
	world_init(&w, APP_HTTP, &l);
	struct tw_sock *c = connect_from(&w, CLIENT);
	char buf[256];
	bool eof;
	run_for(&w, 1900000);
	assert_int_equal(receive(c, buf, sizeof(buf), &eof), 0);
	assert_false(eof);
	run_for(&w, 700000);
	assert_int_equal(receive(c, buf, sizeof(buf), &eof), 0);
	assert_true(eof);
	assert_int_equal(stats(&w).head_timeouts, 1);
	tw_close(c);
	world_fini(&w);
}

/*
 * Between requests on a kept-alive connection the idle timeout rules, not
 * the head timeout; the next head's clock starts at its first byte.
 */
static void test_http_keep_alive_next_head_timed_from_first_byte(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, APP_HTTP, NULL);
	struct tw_sock *c = connect_from(&w, CLIENT);
	char buf[4096];
	bool eof;
	send_text(&w, c, "GET /info HTTP/1.1\r\nHost: x\r\n\r\n");
	receive(c, buf, sizeof(buf), &eof);
	assert_true(!strncmp(buf, "HTTP/1.1 200 OK\r\n", 17));
	run_for(&w, 30000000);   /* idle, well past the head timeout */
	assert_int_equal(receive(c, buf, sizeof(buf), &eof), 0);
	assert_false(eof);
	send_text(&w, c, "GET /info HTTP/1.1\r\n");
	run_for(&w, 9000000);
	assert_int_equal(receive(c, buf, sizeof(buf), &eof), 0);
	assert_false(eof);
	run_for(&w, 1600000);
	receive(c, buf, sizeof(buf), &eof);
	assert_true(!strncmp(buf, "HTTP/1.1 408 ", 13));
	assert_true(eof);
	tw_close(c);
	world_fini(&w);
}

/* ------------------------------------------------------------ head size limit */

/* A request for /info whose head is exactly `len` bytes. */
static void head_of_length(char *buf, size_t len)
{
	static const char start[] = "GET /info HTTP/1.1\r\nHost: x\r\nX-Pad: ";
	size_t n = strlen(start);
	assert_true(len >= n + 4);
	memcpy(buf, start, n);
	memset(buf + n, 'a', len - n - 4);
	memcpy(buf + len - 4, "\r\n\r\n", 5);
}

/* RFC 6585 5: with --max-header-bytes 100, a 100-byte head is answered and a 101-byte one gets 431. */
static void test_http_head_over_limit_431(void **state)
{
	(void)state;
	struct app_limits l;
	app_limits_init(&l);
	l.max_head_bytes = 100;
	struct world w;
	world_init(&w, APP_HTTP, &l);
	char head[128], buf[4096];
	bool eof;
	struct tw_sock *c = connect_from(&w, CLIENT);
	head_of_length(head, 100);
	send_text(&w, c, head);
	receive(c, buf, sizeof(buf), &eof);
	assert_true(!strncmp(buf, "HTTP/1.1 200 OK\r\n", 17));
	assert_false(eof);
	head_of_length(head, 101);
	send_text(&w, c, head);
	receive(c, buf, sizeof(buf), &eof);
	assert_true(!strncmp(buf, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46));
	assert_true(eof);
	assert_int_equal(stats(&w).heads_too_large, 1);
	assert_int_equal(stats(&w).head_timeouts, 0);
	tw_close(c);
	world_fini(&w);
}

/* A head that trickles past the limit with no end gets 431 as soon as it reaches it, not at the timeout. */
static void test_http_unending_head_431_at_limit(void **state)
{
	(void)state;
	struct app_limits l;
	app_limits_init(&l);
	l.max_head_bytes = HTTP_MAX_HEAD_MIN;
	struct world w;
	world_init(&w, APP_HTTP, &l);
	char buf[4096];
	bool eof;
	struct tw_sock *c = connect_from(&w, CLIENT);
	send_text(&w, c, "GET / HTTP/1.1\r\n");   /* 16 bytes, and 7 times 6: 58 of the 64 */
	for (int i = 0; i < 7; i++)
		send_text(&w, c, "X: 1\r\n");
	assert_int_equal(receive(c, buf, sizeof(buf), &eof), 0);
	send_text(&w, c, "X-Last: 12345678901234567890\r\n");
	receive(c, buf, sizeof(buf), &eof);
	assert_true(!strncmp(buf, "HTTP/1.1 431 ", 13));
	assert_int_equal(stats(&w).heads_too_large, 1);
	tw_close(c);
	world_fini(&w);
}

/* -------------------------------------------------------- per-client limit */

static bool was_reset(struct world *w, struct tw_sock *s)
{
	run_for(w, 10000);
	return (tw_events(s) & TW_POLLERR) && tw_sock_error(s) == -ECONNRESET;
}

/* One address holds at most the limit; the next is reset, another address is served, and a close makes room. */
static void test_per_client_limit_resets_the_next(void **state)
{
	(void)state;
	struct app_limits l;
	app_limits_init(&l);
	l.max_conns_per_client = 2;
	struct world w;
	world_init(&w, APP_ECHO, &l);
	struct tw_sock *a = connect_from(&w, CLIENT), *b = connect_from(&w, CLIENT);
	struct tw_sock *c = connect_from(&w, CLIENT);
	assert_true(was_reset(&w, c));
	assert_false(was_reset(&w, a));
	assert_int_equal(stats(&w).refused_per_client, 1);
	assert_int_equal(app_server_conns(w.app), 2);
	struct tw_sock *other = connect_from(&w, OTHER_CLIENT);
	char buf[64];
	bool eof;
	send_text(&w, other, "ping");
	assert_int_equal(receive(other, buf, sizeof(buf), &eof), 4);
	assert_string_equal(buf, "ping");
	/* a closes: the echo app closes its side at the peer's FIN, and the address has room again. */
	tw_close(a);
	run_for(&w, 100000);
	assert_int_equal(app_server_conns(w.app), 2);
	struct tw_sock *d = connect_from(&w, CLIENT);
	assert_false(was_reset(&w, d));
	send_text(&w, d, "pong");
	assert_int_equal(receive(d, buf, sizeof(buf), &eof), 4);
	assert_int_equal(stats(&w).refused_per_client, 1);
	tw_close(b);
	tw_close(c);
	tw_close(d);
	tw_close(other);
	world_fini(&w);
}

/* ----------------------------------------------------------------- the flags */

/* Runs `threeway serve` with the arguments; checks it exits 2 with one error line that holds `needle`. */
static void expect_serve_error(const char *args, const char *needle)
{
	char line[512], *argv[32];
	int argc = 0;
	snprintf(line, sizeof(line), "serve --tun tw9 --addr 10.9.0.2/24 --port 80 --app http %s", args);
	for (char *tok = strtok(line, " "); tok && argc < 31; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc] = NULL;
	FILE *out = tmpfile(), *err = tmpfile();
	assert_non_null(out);
	assert_non_null(err);
	int rc = cmd_serve(argc, argv, out, err);
	char text[1024] = "";
	rewind(err);
	size_t n = fread(text, 1, sizeof(text) - 1, err);
	text[n] = '\0';
	fclose(out);
	fclose(err);
	char *nl = strchr(text, '\n');
	if (rc != 2 || !nl || nl[1] || !strstr(text, needle))
		fail_msg("serve %s: exit %d, stderr '%s', want one line with '%s'", args, rc, text, needle);
}

static void test_serve_limit_flags_refuse_bad_values(void **state)
{
	(void)state;
	static const char *const bad[] = { "0", "-1", "ten", "", "1.5", "99999999999999999999", "3601" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char args[128], want[128];
		snprintf(args, sizeof(args), "--head-timeout %s", bad[i]);
		snprintf(want, sizeof(want), "--head-timeout wants a number of seconds from 1 to 3600, not '%s'", bad[i]);
		if (bad[i][0])
			expect_serve_error(args, want);
	}
	expect_serve_error("--max-header-bytes 0", "--max-header-bytes wants a number of bytes from 64 to 1048576, not '0'");
	expect_serve_error("--max-header-bytes 63", "from 64 to 1048576, not '63'");
	expect_serve_error("--max-header-bytes 1048577", "not '1048577'");
	expect_serve_error("--max-header-bytes 8k", "not '8k'");
	expect_serve_error("--max-header-bytes -8192", "not '-8192'");
	expect_serve_error("--max-conns-per-client 0", "--max-conns-per-client wants a number from 1 to 1000000, not '0'");
	expect_serve_error("--max-conns-per-client -5", "not '-5'");
	expect_serve_error("--max-conns-per-client 18446744073709551617", "not '18446744073709551617'");
	expect_serve_error("--max-conns-per-client many", "not 'many'");
	expect_serve_error("--head-timeout", "option '--head-timeout' needs a value");
	expect_serve_error("--app echo --head-timeout 5", "--head-timeout is for --app http");
	expect_serve_error("--app echo --max-header-bytes 1024", "--max-header-bytes is for --app http");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_partial_head_408_after_default_10s),
		cmocka_unit_test(test_http_silent_connection_closed_without_answer),
		cmocka_unit_test(test_http_keep_alive_next_head_timed_from_first_byte),
		cmocka_unit_test(test_http_head_over_limit_431),
		cmocka_unit_test(test_http_unending_head_431_at_limit),
		cmocka_unit_test(test_per_client_limit_resets_the_next),
		cmocka_unit_test(test_serve_limit_flags_refuse_bad_values),
	};
	return cmocka_run_group_tests_name("apps", tests, NULL, NULL);
}
