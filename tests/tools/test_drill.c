/*
 * threeway drill: the script grammar and the runner's behaviour, each from a
 * small script run in memory, with the verdict and the report checked; then
 * the command as a user meets it (summary line, exit status, usage errors).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "drill/drill.h"

/* ------------------------------------------------------------- helpers */

struct result {
	enum drill_verdict verdict;
	char *out;
};

static struct result run_with(const char *script, const struct drill_settings *set)
{
	struct result res;
	size_t n;
	FILE *f = open_memstream(&res.out, &n);
	assert_non_null(f);
	res.verdict = drill_run_text("t.pkt", script, strlen(script), set, f);
	fclose(f);
	return res;
}

static struct result run(const char *script)
{
	return run_with(script, NULL);
}

/* Prints the report when a check fails, so a failing test says why. */
static void expect(struct result *res, enum drill_verdict v, const char *needle)
{
	bool ok = res->verdict == v && (!needle || strstr(res->out, needle));
	if (!ok)
		fprintf(stderr, "verdict %d (wanted %d), looking for \"%s\" in:\n%s", res->verdict, v,
			needle ? needle : "", res->out);
	free(res->out);
	assert_true(ok);
}

static void expect_pass(const char *script)
{
	struct result res = run(script);
	expect(&res, DRILL_PASS, "PASS t.pkt\n");
}

/* FAIL at `line` (as "t.pkt:LINE: "), with `needle` somewhere in the report. */
static void expect_fail_at(const char *script, int line, const char *needle)
{
	char where[32];
	struct result res = run(script);
	snprintf(where, sizeof(where), "FAIL t.pkt:%d: ", line);
	bool at = strstr(res.out, where) != NULL;
	if (!at)
		fprintf(stderr, "no \"%s\" in:\n%s", where, res.out);
	assert_true(at);
	expect(&res, DRILL_FAIL, needle);
}

/* A listener on 8080 that has accepted one connection (fd 4); the peer offers MSS, SACK and wscale. */
#define SERVER                                                                   \
	"0    socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"                       \
	"+0   setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n"             \
	"+0   bind(3, ..., ...) = 0\n"                                           \
	"+0   listen(3, 1) = 0\n"                                                \
	"+0   < S 0:0(0) win 65535 <mss 1000,sackOK,nop,nop,nop,wscale 7>\n"   \
	"+0   > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>\n"      \
	"+.01 < . 1:1(0) ack 1 win 257\n"                                        \
	"+0   accept(3, ..., ...) = 4\n"
#define SERVER_LINES 8

/* A non-blocking client connected to 192.0.2.1:8080 with timestamps (fd 3). */
#define CLIENT                                                                          \
	"0    socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"                              \
	"+0   fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"                               \
	"+0   connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"      \
	"+0   > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>\n"           \
	"+.05 < S. 0:0(0) ack 1 win 65535 <mss 1000,sackOK,TS val 700 ecr 100,nop,wscale 7>\n" \
	"+0   > . 1:1(0) ack 1 <nop,nop,TS val 150 ecr 700>\n"

/* ------------------------------------------------------ scripts that pass */

static void test_run_passive_open_data_and_close(void **state)
{
	(void)state;
	expect_pass(SERVER
		    "+0   < P. 1:101(100) ack 1 win 257\n"
		    "+0   > . 1:1(0) ack 101\n"
		    "+0   ioctl(4, SIOCINQ, [100]) = 0\n"
		    "+0   read(4, ..., 1000) = 100\n"
		    "+0   write(4, ..., 2000) = 2000\n"
		    "+0   > . 1:1001(1000) ack 101\n"
		    "+0   > P. 1001:2001(1000) ack 101\n"
		    "+.01 < . 101:101(0) ack 2001 win 257\n"
		    "+0   close(4) = 0\n"
		    "+0   > F. 2001:2001(0) ack 101\n"
		    "+.01 < F. 101:101(0) ack 2002 win 257\n"
		    "+0   > . 2002:2002(0) ack 102\n");
}

static void test_run_active_open_calls(void **state)
{
	(void)state;
	expect_pass("0    socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
		    "+0   fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
		    "+0   fcntl(3, F_GETFL) = 0x802 (flags O_RDWR|O_NONBLOCK)\n"
		    "+0   connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"
		    "+0   > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>\n"
		    "+0   poll([{fd=3, events=POLLOUT, revents=0}], 1, 0) = 0\n"
		    "+.05 < S. 0:0(0) ack 1 win 65535 <mss 1000,sackOK,TS val 700 ecr 100,nop,wscale 7>\n"
		    "+0   > . 1:1(0) ack 1 <nop,nop,TS val 150 ecr 700>\n"
		    "+0   poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 0) = 1\n"
		    "+0   getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0\n"
		    "+0   getsockopt(3, IPPROTO_TCP, TCP_MAXSEG, [988], [4]) = 0\n"
		    "+0   setsockopt(3, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0\n"
		    "+0   send(3, ..., 500, MSG_DONTWAIT) = 500\n"
		    "+0   > P. 1:501(500) ack 1 <nop,nop,TS val 150 ecr 700>\n"
		    "+.05 < . 1:1(0) ack 501 win 257 <nop,nop,TS val 750 ecr 150>\n"
		    "+0   recv(3, ..., 100, MSG_DONTWAIT) = -1 EAGAIN (Resource temporarily unavailable)\n"
		    "+0   setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0\n"
		    "+0   getsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, [8]) = 0\n"
		    "+0   close(3) = 0\n"
		    "+0   > R. 501:501(0) ack 1 <...>\n");
}

static void test_run_blocking_connect_returns_when_established(void **state)
{
	(void)state;
	/* The call blocks; the script goes on and injects the SYN-ACK that completes it at 0.1. */
	expect_pass("0         socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
		    "+0...0.1  connect(3, ..., ...) = 0\n"
		    "+0        > S 0:0(0) <...>\n"
		    "+.1       < S. 0:0(0) ack 1 win 5792 <mss 1460,nop,wscale 2,nop,nop,sackOK>\n"
		    "+0        > . 1:1(0) ack 1\n"
		    "+0        write(3, ..., 10) = 10\n"
		    "+0        > P. 1:11(10) ack 1\n");
}

static void test_run_blocking_accept_and_read(void **state)
{
	(void)state;
	expect_pass("0          socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
		    "+0         bind(3, ..., ...) = 0\n"
		    "+0         listen(3, 1) = 0\n"
		    "+0...0.200 accept(3, ..., ...) = 4\n"
		    "+.1        < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n"
		    "+0         > S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>\n"
		    "+.1        < . 1:1(0) ack 1 win 257\n"
		    "+0...0.1   read(4, ..., 2000) = 1000\n"
		    "0.3        < P. 1:1001(1000) ack 1 win 257\n"
		    "+0         > . 1:1(0) ack 1001\n");
}

static void test_run_syn_retries_take_no_real_time(void **state)
{
	(void)state;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	/* 5 SYN retries (defaults.sh), then ETIMEDOUT after 63 s of virtual time. */
	expect_pass("0       socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
		    "+0...63 connect(3, ..., ...) = -1 ETIMEDOUT (Connection timed out)\n"
		    "0       > S 0:0(0) <...>\n"
		    "1       > S 0:0(0) <...>\n"
		    "3       > S 0:0(0) <...>\n"
		    "7       > S 0:0(0) <...>\n"
		    "15      > S 0:0(0) <...>\n"
		    "31      > S 0:0(0) <...>\n");
	clock_gettime(CLOCK_MONOTONIC, &b);
	double took = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	assert_true(took < 2.0);
}

static void test_run_time_forms(void **state)
{
	(void)state;
	/* Absolute, relative, ranges and *: the delayed ACK comes 40 ms after the data. */
	expect_pass(SERVER
		    "+0       write(4, ..., 10) = 10\n"
		    "0.010    > P. 1:11(10) ack 1\n"
		    "+.1      < P. 1:2(1) ack 11 win 257\n"
		    "+0       > . 11:11(0) ack 2\n"
		    "+.1      < P. 2:3(1) ack 11 win 257\n"
		    "+0~+.01  > . 11:11(0) ack 3\n"
		    "0.31     < P. 3:4(1) ack 11 win 257\n"
		    "0.31~0.32 > . 11:11(0) ack 4\n"
		    "+.1      < P. 4:5(1) ack 11 win 257\n"
		    "*        > . 11:11(0) ack 5 <...>\n");
}

static void test_run_multi_segment_line(void **state)
{
	(void)state;
	const char *script = SERVER "+0   write(4, ..., 3000) = 3000\n"
				    "+0   > P. 1:3001(3000) ack 1\n";
	expect_pass(script);
	const char *opts[] = { "strict_segments" };
	struct drill_settings set = { .options = opts, .n_options = 1 };
	struct result res = run_with(script, &set);
	expect(&res, DRILL_FAIL, "length 1000, expected 3000");
	/* Joined but short: the report shows the joined segment. */
	expect_fail_at(SERVER "+0 write(4, ..., 3000) = 3000\n+0 > P. 1:4001(4000) ack 1\n", SERVER_LINES + 2,
		       "  actual: 0.010000 IP 192.168.0.1.8080 > 192.0.2.1.40000: Flags [P.], seq 1:3001, ack 1, win 1050, "
		       "length 3000");
}

static void test_run_ipv6(void **state)
{
	(void)state;
	const char *opts[] = { "ip_version=ipv6", "mtu=1520" };
	struct drill_settings set = { .options = opts, .n_options = 2 };
	struct result res = run_with(SERVER "+0 write(4, ..., 10) = 10\n+0 > P. 1:11(10) ack 1\n", &set);
	expect(&res, DRILL_PASS, NULL);
	res = run_with("--ip_version=ipv6\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
		       "+0 fcntl(3, F_SETFL, O_NONBLOCK) = 0\n"
		       "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"
		       "+0 > S 0:0(0) <mss 1440,sackOK,TS val 1 ecr 0,nop,wscale 8>\n"
		       "+0 > . 1:1(0) ack 1\n", NULL);
	expect(&res, DRILL_FAIL, "IP6 fd3d:fa7b:d17d::1.");
}

static void test_run_script_settings(void **state)
{
	(void)state;
	/* A wider tolerance in the header admits a packet 0.3 s off; the command line has the last word. */
	const char *late = "--tolerance_usecs=400000\n" SERVER "+0 write(4, ..., 10) = 10\n+.3 > P. 1:11(10) ack 1\n";
	expect_pass(late);
	const char *opts[] = { "tolerance_usecs=4000" };
	struct drill_settings set = { .options = opts, .n_options = 1 };
	struct result res = run_with(late, &set);
	expect(&res, DRILL_FAIL, "timing error");
	expect_pass("--bind_port=9090\n--remote_ip=192.0.2.7\n"
		    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n"
		    "+0 < S 0:0(0) win 1000\n+0 > S. 0:0(0) ack 1 <mss 1460>\n");
}

static void test_run_explicit_sockaddr(void **state)
{
	(void)state;
	expect_pass("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
		    "+0 bind(3, {sa_family=AF_INET, sin_port=htons(7000), sin_addr=inet_addr(\"192.168.0.1\")}, 16) = 0\n"
		    "+0 listen(3, 1) = 0\n"
		    "+0 < 5555>7000 S 0:0(0) win 1000\n"
		    "+0 > 7000>5555 S. 0:0(0) ack 1 <mss 1460>\n");
}

/* The number after `key` in the first line of `text` that contains `marker`, or -1. */
static long long number_after(const char *text, const char *marker, const char *key)
{
	const char *line = strstr(text, marker);
	if (!line)
		return -1;
	const char *end = strchr(line, '\n');
	const char *k = strstr(line, key);
	if (!k || (end && k > end))
		return -1;
	return strtoll(k + strlen(key), NULL, 10);
}

static void test_run_ts_ecr_translated(void **state)
{
	(void)state;
	/*
	 * The peer echoes the script's TS val 100: the stack must receive the TS
	 * val it really sent in its SYN. An ecr that stands for no script TS val
	 * becomes the latest TS val sent.
	 */
	struct drill_settings set = { .verbose = true };
	struct result res = run_with(CLIENT "+.05 < P. 1:11(10) ack 1 win 257 <nop,nop,TS val 800 ecr 4242>\n"
					    "+0 > . 1:1(0) ack 11 <nop,nop,TS val 200 ecr 800>\n", &set);
	long long syn_val = number_after(res.out, "Flags [S], ", "TS val ");
	long long echoed = number_after(res.out, "< IP 192.0.2.1.8080 > 192.168.0.1.37870: Flags [S.]", "ecr ");
	long long ack_val = number_after(res.out, "> IP 192.168.0.1.37870 > 192.0.2.1.8080: Flags [.], ack 1,", "TS val ");
	long long echoed2 = number_after(res.out, "Flags [P.], seq 1:11", "ecr ");
	bool ok = syn_val > 0 && echoed == syn_val && ack_val > 0 && echoed2 == ack_val;
	expect(&res, DRILL_PASS, ok ? NULL : "(translated ecr values)");
}

static void test_run_time_wait_reuse_new_isns(void **state)
{
	(void)state;
	/* A newer SYN reuses the 4-tuple in TIME-WAIT: both ISNs are new, and the script counts from them. */
	expect_pass(SERVER
		    "+0   close(4) = 0\n"
		    "+0   > F. 1:1(0) ack 1\n"
		    "+.01 < F. 1:1(0) ack 2 win 257\n"
		    "+0   > . 2:2(0) ack 2\n"
		    "+1   < S 1000:1000(0) win 65535 <mss 1000,sackOK,nop,nop,nop,wscale 7>\n"
		    "+0   > S. 0:0(0) ack 1001 <mss 1460,nop,nop,sackOK,nop,wscale 8>\n"
		    "+.01 < . 1:1(0) ack 1 win 257\n"
		    "+0   accept(3, ..., ...) = 4\n"
		    "+0   < P. 1:11(10) ack 1 win 257\n"
		    "+0   > . 1:1(0) ack 11\n"
		    "+0   read(4, ..., 100) = 10\n");
	/* A SYN in ESTABLISHED is not a new connection: the challenge ACK keeps the old numbers. */
	expect_pass(SERVER
		    "+0   < S 5000:5000(0) win 65535 <mss 1000>\n"
		    "+0   > . 1:1(0) ack 1\n");
}

/* ------------------------------------------------ packets that do not match */

static void test_fail_packet_never_sent(void **state)
{
	(void)state;
	expect_fail_at(SERVER "+0 > . 1:1(0) ack 1\n", SERVER_LINES + 1,
		       "expected a packet by 0.014 s, but no packet was sent");
	/* The report shows the packet expected, with what the line leaves open as such, and the sockets. */
	struct result res = run(SERVER "+0 > . 1:1(0) ack 1 <...>\n");
	bool shown = strstr(res.out, "script: 0.010000 IP 192.168.0.1.8080 > 192.0.2.1.40000: Flags [.], ack 1, win *, "
				     "options [...], length 0\n") &&
		     strstr(res.out, "  actual: (no packet)\n") && strstr(res.out, "  fd 3: LISTEN 192.168.0.1.8080\n") &&
		     strstr(res.out, "  fd 4: ESTABLISHED 192.168.0.1.8080 > 192.0.2.1.40000, snd.una 1 snd.nxt 1 rcv.nxt 1");
	expect(&res, DRILL_FAIL, shown ? NULL : "(the report lines)");
}

static void test_fail_wrong_flags(void **state)
{
	(void)state;
	expect_fail_at("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n"
		       "+0 < S 0:0(0) win 1000\n+0 > S 0:0(0) <mss 1460>\n",
		       5, "flags [S.], expected [S]");
}

static void test_fail_wrong_seq_and_ack(void **state)
{
	(void)state;
	expect_fail_at(SERVER "+0 write(4, ..., 10) = 10\n+0 > P. 2:12(10) ack 1\n", SERVER_LINES + 2,
		       "seq 1, expected 2");
	expect_fail_at(SERVER "+0 < P. 1:11(10) ack 1 win 257\n+0 > . 1:1(0) ack 10\n", SERVER_LINES + 2,
		       "ack 11, expected 10");
	/* The report has both packets, in the script's numbers. */
	expect_fail_at(SERVER "+0 < P. 1:11(10) ack 1 win 257\n+0 > . 1:1(0) ack 10\n", SERVER_LINES + 2,
		       "  actual: 0.010000 IP 192.168.0.1.8080 > 192.0.2.1.40000: Flags [.], ack 11, win 1050, length 0\n");
}

static void test_fail_wrong_window_only_when_written(void **state)
{
	(void)state;
	expect_pass(SERVER "+0 < P. 1:11(10) ack 1 win 257\n+0 > . 1:1(0) ack 11\n");
	expect_fail_at(SERVER "+0 < P. 1:11(10) ack 1 win 257\n+0 > . 1:1(0) ack 11 win 1234\n", SERVER_LINES + 2,
		       "win 1050, expected 1234");
}

static void test_fail_wrong_options(void **state)
{
	(void)state;
	const char *head = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n"
			   "+0 < S 0:0(0) win 1000 <mss 1000,sackOK,nop,nop,nop,wscale 7>\n";
	char script[1024];
	snprintf(script, sizeof(script), "%s+0 > S. 0:0(0) ack 1 <mss 1400,nop,nop,sackOK,nop,wscale 8>\n", head);
	expect_fail_at(script, 5, "options <mss 1460,nop,nop,sackOK,nop,wscale 8>, expected <mss 1400,nop,nop,sackOK,nop,wscale 8>");
	/* No options written: none expected. */
	snprintf(script, sizeof(script), "%s+0 > S. 0:0(0) ack 1\n", head);
	expect_fail_at(script, 5, "options <mss 1460,nop,nop,sackOK,nop,wscale 8>, expected <>");
	/* TS values are not compared, their place is. */
	expect_pass(CLIENT);
}

static void test_fail_unexpected_packet(void **state)
{
	(void)state;
	/* The SYN-ACK is not in the script: the next event fails. */
	expect_fail_at("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n"
		       "+0 < S 0:0(0) win 1000\n+.1 < . 1:1(0) ack 1 win 257\n",
		       5, "the stack sent a packet at 0.000 s that the script does not expect before this line");
}

static void test_fail_timing(void **state)
{
	(void)state;
	expect_fail_at(SERVER "+0 write(4, ..., 10) = 10\n+.1 > P. 1:11(10) ack 1\n", SERVER_LINES + 2,
		       "timing error: the packet was expected at 0.110 s (tolerance 0.004 s), the stack sent it at 0.010 s");
	/* Just inside the tolerance passes; just outside fails. */
	expect_pass(SERVER "+0 write(4, ..., 10) = 10\n+.004 > P. 1:11(10) ack 1\n");
	expect_fail_at(SERVER "+0 write(4, ..., 10) = 10\n+.0041 > P. 1:11(10) ack 1\n", SERVER_LINES + 2,
		       "timing error");
	expect_fail_at(SERVER "+0 write(4, ..., 10) = 10\n+.05~+.1 > P. 1:11(10) ack 1\n", SERVER_LINES + 2,
		       "expected between 0.060 and 0.110 s");
}

static void test_fail_syscall_results(void **state)
{
	(void)state;
	expect_fail_at("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_SETFL, O_NONBLOCK) = 0\n"
		       "+0 connect(3, ..., ...) = 0\n",
		       3, "connect() returned -1 EINPROGRESS (Operation now in progress), expected 0");
	expect_fail_at(SERVER "+0 read(4, ..., 10) = -1 EAGAIN (Resource temporarily unavailable)\n", SERVER_LINES + 1,
		       "read() blocks, and nothing the stack has scheduled completes it");
	expect_fail_at(SERVER "+0 close(9) = 0\n", SERVER_LINES + 1, "close() returned -1 EBADF (Bad file descriptor), expected 0");
	expect_fail_at(SERVER "+0 ioctl(4, SIOCINQ, [5]) = 0\n", SERVER_LINES + 1, "ioctl() gave [0], expected [5]");
	expect_fail_at(SERVER "+0 poll([{fd=4, events=POLLIN, revents=POLLIN}], 1, 0) = 1\n", SERVER_LINES + 1,
		       "poll() returned 0, expected 1");
	expect_fail_at(SERVER "+0 getsockopt(4, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0\n", SERVER_LINES + 1,
		       "getsockopt() gave [0], expected [104]");
	expect_fail_at(SERVER "+0 accept(3, ..., ...) = 4\n", SERVER_LINES + 1, "accept() blocks");
}

static void test_fail_blocking_call_times(void **state)
{
	(void)state;
	const char *head = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n";
	char script[1024];
	/* Returns at 0.1, later than the 0.05 written. */
	snprintf(script, sizeof(script), "%s+0...0.05 accept(3, ..., ...) = 4\n+.1 < S 0:0(0) win 1000\n"
		 "+0 > S. 0:0(0) ack 1 <mss 1460>\n+0 < . 1:1(0) ack 1 win 1000\n", head);
	expect_fail_at(script, 4, "accept() should have returned at 0.050 s, but at 0.054 s it is still blocked");
	/* Returns at once, not at the 0.1 written. */
	expect_fail_at(SERVER "+0...0.1 write(4, ..., 10) = 10\n", SERVER_LINES + 1,
		       "timing error: write() was expected to return at 0.110 s (tolerance 0.004 s), it returned at 0.010 s");
	/* Never returns before the script ends. */
	snprintf(script, sizeof(script), "%s+0...0.2 accept(3, ..., ...) = 4\n", head);
	expect_fail_at(script, 4, "still blocked");
	snprintf(script, sizeof(script), "%s+0...0.2 accept(3, ..., ...) = 4\n+0...0.3 accept(3, ..., ...) = 5\n", head);
	expect_fail_at(script, 5, "a blocking call while the blocking accept() of line 4 has not returned");
}

/* --------------------------------------------------- malformed scripts */

static void test_grammar_errors_have_lines(void **state)
{
	(void)state;
	static const struct { const char *script; int line; const char *why; } cases[] = {
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(5) win 1\n", 2,
		  "inconsistent TCP sequence numbers and payload size" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\n+0 < S 0:0(0)\n", 3, "window must be specified for inbound packets" },
		{ "0 < S 0:0(0) win 1 <...>\n", 1, "<...> for TCP options can only be used with outbound packets" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n* < S 0:0(0) win 1\n", 2, "event time * can only be used with outbound packets" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n0~1 close(3) = 0\n", 2, "event time range can only be used with outbound packets" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+.2~+.1 > S 0:0(0)\n", 2, "time range is backwards" },
		{ "0.1 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n", 1, "the first event should be at time 0" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n0.5 close(3) = 0\n0.4 close(3) = 0\n", 3, "time goes backward" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n/* never\nclosed\n", 2, "comment is never closed" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, {sa_family=AF_INET, sin_port=htons(1), sin_addr=inet_addr(\"1.2.3.4)}, 16) = 0\n", 2, "string is never closed" },
		{ "0 < S 0:0(0) win 1 <mss 1460,foo 3>\n", 1, "expected a TCP option" },
		{ "0 < SX 0:0(0) win 1\n", 1, "invalid TCP flag 'X'" },
		{ "0 < S 0:0(0) win 1 <mss 1460,nop>\n", 1, "not padded to a multiple of 4 bytes" },
		{ "0 < S 0:0(0) win 1 <sack 1:2 3:4 5:6 7:8 9:10>\n", 1, "at most 4 SACK blocks" },
		{ "0 < S 0:0(0) win 70000\n", 1, "window 70000 is out of range" },
		{ "0 < S 0:0(0) ack 4294967296 win 1\n", 1, "ack 4294967296 is out of range" },
		{ "0 < S 0:0(0) win 1 foo\n", 1, "unexpected text at the end of the packet, found 'foo'" },
		{ "0 < S 0:0(0) win 1\n+0 > S. 0:0(0) ack 1 <mss 1460> junk\n", 2, "unexpected text" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3) = -1 EBOGUS\n", 2, "expected an errno name" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3, 4) = 0\n", 2, "close() takes 1 argument, not 2" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3)\n", 3, "expected '=' and the result" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3) = 0 0\n", 2, "unexpected text after the system call" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 poll([{fd=3, events=POLLIN}], 2, 0) = 0\n", 2, "nfds differs" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 read(3, ..., 99999999999999999999) = 0\n", 2, "is too large" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\nfoo\n", 2, "expected a time at the start of an event" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3 +0 close(3) = 0\n", 1, "unexpected text after the system call, found '+'" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 > S 1:0(0)\n", 2, "inconsistent TCP sequence numbers" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n--mtu=1500\n", 2, "settings (--name=value) come before the first event" },
		{ "--tolerance_usecs=soon\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n", 1, "--tolerance_usecs wants a positive number" },
		{ "--ip_version=ipv5\n", 1, "--ip_version wants ipv4 or ipv6" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0...+1 close(3) = 0\n", 2, "written without '+'" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n0.5...0.2 close(3) = 0\n", 2, "ends before it starts" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n-1 close(3) = 0\n", 2, "negative time" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, IPPROTO_TCP, SO_KEEPALIVE, [1], 4) = 0\n", 2, "belongs to another level" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 listen(3, [[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]) = 0\n", 2, "nested too deeply" },
		{ "0 < S 12abc:0(0) win 1\n", 1, "malformed number" },
		{ "0 \x01 close(3) = 0\n", 1, "unexpected byte 0x01" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_fail_at(cases[i].script, cases[i].line, cases[i].why);
}

static void test_grammar_bounded_input(void **state)
{
	(void)state;
	/* A line longer than 4096 bytes, and a NUL byte: clear errors, nothing read past the text. */
	size_t n = 5000;
	char *longline = malloc(n + 64);
	assert_non_null(longline);
	strcpy(longline, "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n// ");
	size_t used = strlen(longline);
	memset(longline + used, 'x', n);
	longline[used + n] = '\0';
	expect_fail_at(longline, 2, "line is longer than 4096 bytes");
	free(longline);
	static const char nul[] = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\n+0 close(3) = 0\0\n";
	size_t size;
	char *out;
	FILE *f = open_memstream(&out, &size);
	assert_int_equal(drill_run_text("t.pkt", nul, sizeof(nul) - 1, NULL, f), DRILL_FAIL);
	fclose(f);
	bool ok = strstr(out, "t.pkt:3: NUL byte") != NULL;
	free(out);
	assert_true(ok);
	/* Empty scripts and comments alone pass: there is nothing to disagree with. */
	expect_pass("");
	expect_pass("// nothing\n/* at all */\n");
}

/* ------------------------------------------------------- unsupported */

static void test_unsupported_fails_or_skips(void **state)
{
	(void)state;
	static const struct { const char *script; int line; const char *what; } cases[] = {
		{ "`../common/defaults.sh`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n", 1, "unsupported: shell command `../common/defaults.sh`" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{ print(tcpi_rto) }%\n", 2, "unsupported: %{ }% code block" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 getsockopt(3, SOL_TCP, TCP_INFO, {tcpi_state=1}, 4) = 0\n", 2,
		  "unsupported: socket option TCP_INFO" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 sendmsg(3, {msg_name(...)=..., msg_iov(1)=[{..., 10}], msg_flags=0}, 0) = 10\n", 2,
		  "unsupported: system call sendmsg()" },
		{ "0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n", 1, "unsupported: sockets other than SOCK_STREAM" },
		{ "0 < udp (1000)\n", 1, "unsupported: UDP packets" },
		{ "0 < [ect0] S 0:0(0) win 1\n", 1, "unsupported: IP header fields" },
		{ "0 < S 0:0(0) win 1 <FO abcd>\n", 1, "unsupported: TCP option FO" },
		{ "--define=MSS=1460\n", 1, "unsupported: option --define" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=5}, 8) = 0\n", 2,
		  "unsupported: SO_LINGER with a linger time" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 send(3, ..., 1, MSG_ZEROCOPY) = 1\n", 2, "unsupported: send() flags" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_SOCKET, SO_SOMETHING, [1], 4) = 0\n", 2,
		  "unsupported: socket option SO_SOMETHING" },
		{ "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_SETFL, O_SOMETHING) = 0\n", 2, "unsupported: unknown symbol O_SOMETHING" },
	};
	struct drill_settings skip = { .skip_unsupported = true };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[256];
		expect_fail_at(cases[i].script, cases[i].line, cases[i].what);
		struct result res = run_with(cases[i].script, &skip);
		snprintf(want, sizeof(want), "SKIP t.pkt:%d: %s", cases[i].line, cases[i].what);
		expect(&res, DRILL_SKIP, want);
	}
	/* A malformed script is a failure even when unsupported ones are skipped. */
	struct result res = run_with("0 < S 0:0(0)\n", &skip);
	expect(&res, DRILL_FAIL, "window must be specified");
}

static void test_ignore_shell(void **state)
{
	(void)state;
	const char *script = "`../common/defaults.sh`\n" SERVER "+0 `sysctl -q net.ipv4.tcp_sack=1`\n"
			     "+0 write(4, ..., 10) = 10\n+0 > P. 1:11(10) ack 1\n`cleanup`\n";
	struct drill_settings set = { .ignore_shell = true };
	struct result res = run_with(script, &set);
	expect(&res, DRILL_PASS, NULL);
	expect_fail_at(script, 1, "unsupported: shell command");
}

/* ------------------------------------------------------------ robustness */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* Mutated and cut scripts: never a crash, a hang or a read past the text (ASan watches). */
static void test_mutated_scripts_are_safe(void **state)
{
	(void)state;
	static const char base[] = SERVER "+0 < P. 1:11(10) ack 1 win 257 <nop,nop,sack 1:2>\n+0 > . 1:1(0) ack 11\n"
				   "+0...0.2 read(4, ..., 10) = 10\n+0 poll([{fd=4, events=POLLIN}], 1, 5) = 1\n"
				   "+0 setsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0\n"
				   "+0 close(4) = 0\n+0 > R. 1:1(0) ack 11 <...>\n* > S 0:0(0)\n";
	static const char alphabet[] = "0123456789.+-*~:()[]{}<>,=|`\"/ \n\tSF.RPUEWackwinurgTSvalecrnopsack...";
	FILE *devnull = fopen("/dev/null", "w");
	assert_non_null(devnull);
	char buf[sizeof(base)];
	for (int round = 0; round < 1500; round++) {
		size_t len = sizeof(base) - 1;
		memcpy(buf, base, len);
		int edits = 1 + (int)(next_random() % 4);
		for (int e = 0; e < edits && len > 0; e++) {
			size_t at = next_random() % len;
			uint32_t how = next_random() % 3;
			if (how == 0)
				buf[at] = alphabet[next_random() % (sizeof(alphabet) - 1)];
			else if (how == 1)
				buf[at] = (char)(next_random() & 0xff);
			else
				len = at;   /* cut */
		}
		drill_run_text("m.pkt", buf, len, NULL, devnull);
	}
	fclose(devnull);
}

/* ---------------------------------------------------------- the command */

struct cmd {
	int status;
	char out[16384];
	char err[4096];
};

static char tmpdir[] = "/tmp/threeway-drill-XXXXXX";

static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
}

static void run_cmd(struct cmd *c, const char *args)
{
	const char *bin = getenv("THREEWAY_BIN");
	char cmd[4096], out[512], err[512];
	snprintf(out, sizeof(out), "%s/stdout", tmpdir);
	snprintf(err, sizeof(err), "%s/stderr", tmpdir);
	snprintf(cmd, sizeof(cmd), "cd %s && %s drill %s </dev/null >%s 2>%s", tmpdir, bin ? bin : "threeway", args, out, err);
	int st = system(cmd);
	assert_true(st != -1 && WIFEXITED(st));
	c->status = WEXITSTATUS(st);
	slurp(out, c->out, sizeof(c->out));
	slurp(err, c->err, sizeof(c->err));
}

static void write_script(const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int make_tmpdir(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	(void)state;
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_cmd_summary_and_status(void **state)
{
	(void)state;
	struct cmd c;
	write_script("pass.pkt", SERVER);
	write_script("fail.pkt", SERVER "+0 > . 1:1(0) ack 1\n");
	write_script("shell.pkt", "`true`\n" SERVER);
	run_cmd(&c, "pass.pkt");
	assert_int_equal(c.status, 0);
	assert_string_equal(c.out, "PASS pass.pkt\n1 passed, 0 failed, 0 skipped\n");
	run_cmd(&c, "--skip-unsupported pass.pkt fail.pkt shell.pkt");
	assert_int_equal(c.status, 1);
	assert_non_null(strstr(c.out, "PASS pass.pkt\nFAIL fail.pkt:9: expected a packet by 0.014 s"));
	assert_non_null(strstr(c.out, "SKIP shell.pkt:1: unsupported: shell command `true`\n1 passed, 1 failed, 1 skipped\n"));
	run_cmd(&c, "pass.pkt shell.pkt");
	assert_int_equal(c.status, 1);
	assert_non_null(strstr(c.out, "1 passed, 1 failed, 0 skipped\n"));
	run_cmd(&c, "--ignore-shell --tolerance_usecs 2000 pass.pkt shell.pkt");
	assert_int_equal(c.status, 0);
	assert_non_null(strstr(c.out, "2 passed, 0 failed, 0 skipped\n"));
	run_cmd(&c, "-v pass.pkt");
	assert_int_equal(c.status, 0);
	assert_non_null(strstr(c.out, "  0.000 > IP 192.168.0.1.8080 > 192.0.2.1.40000: Flags [S.]"));
	assert_non_null(strstr(c.out, "  0.010   accept() = 4 (line 8)\n"));
	run_cmd(&c, "missing.pkt");
	assert_int_equal(c.status, 1);
	assert_non_null(strstr(c.out, "FAIL missing.pkt: cannot open: No such file or directory\n"));
}

static void test_cmd_usage_errors(void **state)
{
	(void)state;
	struct cmd c;
	static const struct { const char *args, *err; } cases[] = {
		{ "", "threeway drill: no script given (see threeway drill --help)\n" },
		{ "--bogus x.pkt", "threeway drill: unknown option '--bogus' (see threeway drill --help)\n" },
		{ "-q x.pkt", "threeway drill: unknown option '-q' (see threeway drill --help)\n" },
		{ "--mtu=12 x.pkt", "threeway drill: --mtu wants a number from 576 to 65535, not '12' (see threeway drill --help)\n" },
		{ "--ip_version=ipv4-mapped-ipv6 x.pkt",
		  "threeway drill: unsupported: --ip_version=ipv4-mapped-ipv6 (see threeway drill --help)\n" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_cmd(&c, cases[i].args);
		assert_int_equal(c.status, 2);
		assert_string_equal(c.err, cases[i].err);
		assert_string_equal(c.out, "");
	}
	run_cmd(&c, "--help");
	assert_int_equal(c.status, 0);
	assert_non_null(strstr(c.out, "usage: threeway drill [options] FILE...\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_passive_open_data_and_close),
		cmocka_unit_test(test_run_active_open_calls),
		cmocka_unit_test(test_run_blocking_connect_returns_when_established),
		cmocka_unit_test(test_run_blocking_accept_and_read),
		cmocka_unit_test(test_run_syn_retries_take_no_real_time),
		cmocka_unit_test(test_run_time_forms),
		cmocka_unit_test(test_run_multi_segment_line),
		cmocka_unit_test(test_run_ipv6),
		cmocka_unit_test(test_run_script_settings),
		cmocka_unit_test(test_run_explicit_sockaddr),
		cmocka_unit_test(test_run_ts_ecr_translated),
		cmocka_unit_test(test_run_time_wait_reuse_new_isns),
		cmocka_unit_test(test_fail_packet_never_sent),
		cmocka_unit_test(test_fail_wrong_flags),
		cmocka_unit_test(test_fail_wrong_seq_and_ack),
		cmocka_unit_test(test_fail_wrong_window_only_when_written),
		cmocka_unit_test(test_fail_wrong_options),
		cmocka_unit_test(test_fail_unexpected_packet),
		cmocka_unit_test(test_fail_timing),
		cmocka_unit_test(test_fail_syscall_results),
		cmocka_unit_test(test_fail_blocking_call_times),
		cmocka_unit_test(test_grammar_errors_have_lines),
		cmocka_unit_test(test_grammar_bounded_input),
		cmocka_unit_test(test_unsupported_fails_or_skips),
		cmocka_unit_test(test_ignore_shell),
		cmocka_unit_test(test_mutated_scripts_are_safe),
		cmocka_unit_test(test_cmd_summary_and_status),
		cmocka_unit_test(test_cmd_usage_errors),
	};
	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
