/*
 * The threeway binary as a user meets it: help texts, and one clear error
 * line with a non-zero exit for every kind of bad input.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

struct run {
	int status;
	char out[65536];
	char err[4096];
	int err_lines;
};

static char tmpdir[] = "/tmp/threeway-cli-XXXXXX";

static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
}

/* Runs "threeway ARGS" through the shell; ARGS is trusted test text. */
static void run_threeway(struct run *r, const char *args)
{
	const char *bin = getenv("THREEWAY_BIN");
	char cmd[4096], out[512], err[512];
	snprintf(out, sizeof(out), "%s/stdout", tmpdir);
	snprintf(err, sizeof(err), "%s/stderr", tmpdir);
	/* Redirections first, so one in ARGS overrides them. */
	snprintf(cmd, sizeof(cmd), "%s </dev/null >%s 2>%s %s", bin ? bin : "./build/threeway", out, err, args);
	int st = system(cmd);
	assert_true(st != -1 && WIFEXITED(st));
	r->status = WEXITSTATUS(st);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
	r->err_lines = 0;
	for (const char *p = r->err; *p; p++)
		r->err_lines += *p == '\n';
}

static void write_bytes(const char *name, const void *data, size_t len, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* A capture's first `len` bytes, as a new file. */
static void write_prefix_of_capture(const char *capture, size_t len, char *path, size_t cap)
{
	char src[1024];
	const char *data = getenv("THREEWAY_TEST_DATA");
	snprintf(src, sizeof(src), "%s/captures/%s", data ? data : "tests/data", capture);
	static char buf[1 << 20];
	FILE *f = fopen(src, "rb");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(len <= n);
	write_bytes("prefix.pcap", buf, len, path, cap);
}

static void expect_one_error_line(const struct run *r, const char *needle)
{
	if (r->status == 0 || r->err_lines != 1 || !strstr(r->err, needle))
		fail_msg("expected one error line containing \"%s\" and a non-zero exit; got exit %d, stderr:\n%s",
			 needle, r->status, r->err);
}

static void test_help_describes_commands(void **state)
{
	(void)state;
	struct run r;
	run_threeway(&r, "--help");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "trace"));
	assert_non_null(strstr(r.out, "demo"));
}

static void test_trace_help_describes_options(void **state)
{
	(void)state;
	struct run r;
	run_threeway(&r, "trace --help");
	assert_int_equal(r.status, 0);
	const char *options[] = { "-S ", "-v ", "-vv ", "-tt ", "-nn" };
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (!strstr(r.out, options[i]))
			fail_msg("trace --help does not describe %s:\n%s", options[i], r.out);
}

static void test_audit_isn_usage_errors(void **state)
{
	(void)state;
	struct run r;
	run_threeway(&r, "audit-isn --help");
	assert_int_equal(r.status, 0);
	const char *options[] = { "--count N", "--repeat N", "--interval MS", "--timeout MS", "--uptime S", "Exit status" };
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (!strstr(r.out, options[i]))
			fail_msg("audit-isn --help does not describe %s:\n%s", options[i], r.out);
	const char *bad[][2] = {
		{ "audit-isn", "wants ADDRESS PORT" },
		{ "audit-isn 10.0.0.1", "wants ADDRESS PORT" },
		{ "audit-isn 10.0.0.1 0", "PORT wants a number from 1 to 65535, not '0'" },
		{ "audit-isn 10.0.0.1 http", "not 'http'" },
		{ "audit-isn --count 3 10.0.0.1 80", "--count wants" },
		{ "audit-isn --repeat 2 10.0.0.1 80", "--repeat wants" },
		{ "audit-isn --uptime -5 10.0.0.1 80", "--uptime wants" },
		{ "audit-isn --frob 10.0.0.1 80", "unknown option '--frob'" },
		{ "audit-isn --count", "option '--count' needs a value" },
		{ "audit-isn localhost 80", "ADDRESS wants an IPv4 or IPv6 address, not 'localhost'" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run_threeway(&r, bad[i][0]);
		expect_one_error_line(&r, bad[i][1]);
		assert_int_equal(r.status, 2);
	}
}

static void test_trace_missing_file(void **state)
{
	(void)state;
	struct run r;
	run_threeway(&r, "trace /nonexistent/capture.pcap");
	expect_one_error_line(&r, "No such file or directory");
	assert_string_equal(r.out, "");
}

static void test_trace_empty_file(void **state)
{
	(void)state;
	char path[1024], args[1100];
	struct run r;
	write_bytes("empty.pcap", "", 0, path, sizeof(path));
	snprintf(args, sizeof(args), "trace %s", path);
	run_threeway(&r, args);
	expect_one_error_line(&r, "empty.pcap: empty file");
}

static void test_trace_not_a_capture(void **state)
{
	(void)state;
	char path[1024], args[1100];
	struct run r;
	const char text[] = "GET / HTTP/1.1\r\nHost: example\r\n\r\nthis is not a capture file at all\n";
	write_bytes("text.pcap", text, sizeof(text) - 1, path, sizeof(path));
	snprintf(args, sizeof(args), "trace %s", path);
	run_threeway(&r, args);
	expect_one_error_line(&r, "unknown file format");
}

static void test_trace_file_header_cut_short(void **state)
{
	(void)state;
	char path[1024], args[1100];
	struct run r;
	write_prefix_of_capture("v4-http.pcap", 10, path, sizeof(path));
	snprintf(args, sizeof(args), "trace %s", path);
	run_threeway(&r, args);
	expect_one_error_line(&r, "truncated");
}

static void test_trace_packet_cut_short_prints_what_came_before(void **state)
{
	(void)state;
	char path[1024], args[1100];
	struct run r;
	/* 24-byte file header, then the first packet (16 + 74 bytes) whole and the second cut. */
	write_prefix_of_capture("v4-http.pcap", 24 + 16 + 74 + 16 + 30, path, sizeof(path));
	snprintf(args, sizeof(args), "trace -nn %s", path);
	run_threeway(&r, args);
	expect_one_error_line(&r, "truncated");
	assert_non_null(strstr(r.out, "Flags [S], seq 861524875"));
	assert_null(strstr(r.out, "Flags [S.]"));
}

static void test_trace_unsupported_link_type(void **state)
{
	(void)state;
	char path[1024], args[1100];
	struct run r;
	/* A pcap header for IEEE 802.11 (link type 105) and no packets. */
	const unsigned char hdr[24] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					0xff, 0xff, 0, 0, 105, 0, 0, 0 };
	write_bytes("wifi.pcap", hdr, sizeof(hdr), path, sizeof(path));
	snprintf(args, sizeof(args), "trace %s", path);
	run_threeway(&r, args);
	expect_one_error_line(&r, "not supported");
}

static void test_trace_usage_errors(void **state)
{
	(void)state;
	struct run r;
	run_threeway(&r, "trace");
	expect_one_error_line(&r, "no capture file");
	run_threeway(&r, "trace -x file.pcap");
	expect_one_error_line(&r, "unknown option '-x'");
	run_threeway(&r, "trace -Sx file.pcap");
	expect_one_error_line(&r, "unknown option '-x'");
	run_threeway(&r, "trace -xS file.pcap");
	expect_one_error_line(&r, "unknown option '-x'");
	run_threeway(&r, "trace --frob file.pcap");
	expect_one_error_line(&r, "unknown option '--frob'");
	run_threeway(&r, "trace a.pcap b.pcap");
	expect_one_error_line(&r, "one capture file");
	run_threeway(&r, "trace -ttt a.pcap");
	expect_one_error_line(&r, "-t");
	run_threeway(&r, "frobnicate");
	expect_one_error_line(&r, "unknown command 'frobnicate'");
	run_threeway(&r, "");
	assert_int_not_equal(r.status, 0);
}

/* A directory is not a capture either. */
static void test_trace_directory(void **state)
{
	(void)state;
	char args[1100];
	struct run r;
	snprintf(args, sizeof(args), "trace %s", tmpdir);
	run_threeway(&r, args);
	expect_one_error_line(&r, tmpdir);
}

/* Output that cannot be written is an error (here /dev/full: no space left). */
static void test_output_write_error(void **state)
{
	(void)state;
	char args[1100];
	struct run r;
	const char *data = getenv("THREEWAY_TEST_DATA");
	snprintf(args, sizeof(args), "trace %s/captures/sack-loss.pcap >/dev/full", data ? data : "tests/data");
	run_threeway(&r, args);
	expect_one_error_line(&r, "cannot write the output");
	run_threeway(&r, "demo >/dev/full");
	expect_one_error_line(&r, "cannot write the output");
}

static void test_demo_shows_the_handshake(void **state)
{
	(void)state;
	struct run r;
	run_threeway(&r, "demo --in-memory");
	assert_int_equal(r.status, 0);
	const char *syn = strstr(r.out, "Flags [S], seq ");
	const char *synack = strstr(r.out, "Flags [S.], seq ");
	const char *ack = strstr(r.out, "Flags [.], ack 1, win ");
	assert_non_null(syn);
	assert_non_null(synack);
	assert_non_null(ack);
	assert_true(syn < synack && synack < ack);
	/* The SYN-ACK acknowledges the client's ISN + 1. */
	unsigned long isn = strtoul(syn + strlen("Flags [S], seq "), NULL, 10);
	const char *ack_field = strstr(synack, ", ack ");
	assert_non_null(ack_field);
	assert_int_equal(strtoul(ack_field + 6, NULL, 10), (isn + 1) & 0xffffffffu);
	assert_non_null(strstr(r.out, "options [mss 1460,sackOK,TS val "));
	/* The exchange and the close follow, and the negotiated parameters are shown. */
	assert_non_null(strstr(r.out, "HTTP: GET / HTTP/1.0"));
	assert_non_null(strstr(r.out, "HTTP: HTTP/1.0 200 OK"));
	const char *fin1 = strstr(r.out, "Flags [F.]");
	assert_non_null(fin1);
	assert_non_null(strstr(fin1 + 1, "Flags [F.]"));
	assert_non_null(strstr(r.out, "initial sequence numbers"));
	assert_non_null(strstr(r.out, "window scale (shift)      8 / 8"));
}

/* --in-memory is the same run; with loss, retransmissions show and the exchange still ends. */
static void test_demo_in_memory_with_loss(void **state)
{
	(void)state;
	struct run r;
	run_threeway(&r, "demo --in-memory --loss 0.3 --seed 4");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "HTTP: HTTP/1.0 200 OK"));
	assert_non_null(strstr(r.out, "TIME-WAIT"));
}

/* What the demo prints is what tcpdump prints for the packets it wrote. */
static void test_demo_pcap_reads_the_same_in_tcpdump(void **state)
{
	(void)state;
	if (system("command -v tcpdump >/dev/null 2>&1") != 0)
		fail_msg("tcpdump is not installed (apt-get install tcpdump; README's test command does)");
	char pcap[1024], args[1200], cmd[1400];
	struct run r;
	snprintf(pcap, sizeof(pcap), "%s/demo.pcap", tmpdir);
	snprintf(args, sizeof(args), "demo --in-memory -v --pcap %s", pcap);
	run_threeway(&r, args);
	assert_int_equal(r.status, 0);
	snprintf(cmd, sizeof(cmd), "TZ=UTC tcpdump -nn -v -r %s 2>/dev/null", pcap);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	char line[1024];
	int lines = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(r.out, line))
			fail_msg("tcpdump printed a line the demo did not:\n%s", line);
		lines++;
	}
	assert_int_equal(pclose(f), 0);
	/* Two lines a packet with -v: the handshake, request, response and both FINs at least. */
	assert_true(lines >= 2 * 9);
	assert_int_equal(lines % 2, 0);
	assert_null(strstr(r.out, "incorrect"));
}

static void test_demo_bad_arguments(void **state)
{
	(void)state;
	struct run r;
	run_threeway(&r, "demo --frob");
	expect_one_error_line(&r, "--frob");
	run_threeway(&r, "demo --pcap");
	expect_one_error_line(&r, "option '--pcap' needs a value");
	run_threeway(&r, "demo --pcap /nonexistent/dir/x.pcap");
	expect_one_error_line(&r, "No such file or directory");
	run_threeway(&r, "demo --loss 0.9");
	expect_one_error_line(&r, "--loss wants a probability from 0 to 0.5");
	run_threeway(&r, "demo --loss abc");
	expect_one_error_line(&r, "--loss wants a probability");
	run_threeway(&r, "demo --seed -3");
	expect_one_error_line(&r, "--seed wants a number");
}

static int make_tmpdir(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	(void)state;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_describes_commands),
		cmocka_unit_test(test_trace_help_describes_options),
		cmocka_unit_test(test_audit_isn_usage_errors),
		cmocka_unit_test(test_trace_missing_file),
		cmocka_unit_test(test_trace_empty_file),
		cmocka_unit_test(test_trace_not_a_capture),
		cmocka_unit_test(test_trace_file_header_cut_short),
		cmocka_unit_test(test_trace_packet_cut_short_prints_what_came_before),
		cmocka_unit_test(test_trace_unsupported_link_type),
		cmocka_unit_test(test_trace_usage_errors),
		cmocka_unit_test(test_trace_directory),
		cmocka_unit_test(test_output_write_error),
		cmocka_unit_test(test_demo_shows_the_handshake),
		cmocka_unit_test(test_demo_pcap_reads_the_same_in_tcpdump),
		cmocka_unit_test(test_demo_in_memory_with_loss),
		cmocka_unit_test(test_demo_bad_arguments),
	};
	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
