/*
 * The pcap writer: files it writes read back packet for packet through
 * libpcap, and tcpdump and tshark read them without a warning.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pcap_reader.h"
#include "threeway.h"
#include "wire/wire.h"

static char path[] = "/tmp/threeway-pcap-XXXXXX";

static uint8_t syn[64];
static size_t syn_len;

/* A raw IPv4 SYN from 10.7.0.1:40000 to 10.7.0.2:80, built by the wire layer. */
static void build_syn(void)
{
	struct wire_tcp t;
	memset(&t, 0, sizeof(t));
	t.sport = 40000;
	t.dport = 80;
	t.seq = 1000;
	t.flags = WIRE_TCP_SYN;
	t.wnd = 64240;
	t.opt.mss = 1460;
	assert_true(wire_tcp_opt_push(&t.opt, WIRE_OPT_MSS, 4, NULL));
	struct wire_ipv4 ip = { .ttl = 64, .proto = WIRE_PROTO_TCP, .frag = WIRE_IPV4_FLAG_DF, .id = 1,
				.src = { 10, 7, 0, 1 }, .dst = { 10, 7, 0, 2 } };
	struct wire_pseudo ph;
	wire_ipv4_pseudo(&ip, &ph);
	size_t tcp_len = wire_tcp_emit(&t, syn + WIRE_IPV4_HDR_MIN, sizeof(syn) - WIRE_IPV4_HDR_MIN, &ph);
	assert_int_equal(tcp_len, 24);
	ip.total_len = (uint16_t)(WIRE_IPV4_HDR_MIN + tcp_len);
	assert_int_equal(wire_ipv4_emit(&ip, syn, sizeof(syn)), WIRE_IPV4_HDR_MIN);
	syn_len = ip.total_len;
}

static int make_file(void **state)
{
	(void)state;
	build_syn();
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int remove_file(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void write_sample(void)
{
	int err = 1;
	struct tw_pcap *p = tw_pcap_create(path, TW_LINK_RAW, &err);
	assert_non_null(p);
	assert_int_equal(err, 0);
	assert_int_equal(tw_pcap_write(p, 1700000000, 123456, syn, syn_len), 0);
	assert_int_equal(tw_pcap_write(p, 1700000001, 999999, syn, syn_len), 0);
	assert_int_equal(tw_pcap_close(p), 0);
}

static void test_pcap_written_packets_read_back(void **state)
{
	(void)state;
	write_sample();
	char why[256];
	struct pcap_reader *r = pcap_reader_open(path, why, sizeof(why));
	if (!r)
		fail_msg("%s", why);
	assert_int_equal(pcap_reader_linktype(r), 12); /* libpcap's DLT_RAW for LINKTYPE_RAW */
	struct pcap_packet pkt;
	assert_int_equal(pcap_reader_next(r, &pkt, why, sizeof(why)), 1);
	assert_int_equal(pkt.sec, 1700000000);
	assert_int_equal(pkt.usec, 123456);
	assert_int_equal(pkt.caplen, syn_len);
	assert_int_equal(pkt.wirelen, syn_len);
	assert_memory_equal(pkt.data, syn, syn_len);
	assert_int_equal(pcap_reader_next(r, &pkt, why, sizeof(why)), 1);
	assert_int_equal(pkt.usec, 999999);
	assert_int_equal(pcap_reader_next(r, &pkt, why, sizeof(why)), 0);
	pcap_reader_close(r);
}

static void test_pcap_rejects_bad_arguments(void **state)
{
	(void)state;
	int err = 0;
	assert_null(tw_pcap_create("/nonexistent/dir/x.pcap", TW_LINK_RAW, &err));
	assert_int_equal(err, -ENOENT);
	struct tw_pcap *p = tw_pcap_create(path, TW_LINK_RAW, &err);
	assert_non_null(p);
	assert_int_equal(tw_pcap_write(p, 0, 1000000, syn, syn_len), -EINVAL);
	assert_int_equal(tw_pcap_write(p, -1, 0, syn, syn_len), -EINVAL);
	assert_int_equal(tw_pcap_write(p, 0, 0, NULL, 4), -EINVAL);
	assert_int_equal(tw_pcap_close(p), 0);
	assert_int_equal(tw_pcap_close(NULL), 0);
}

/* The readers this test needs; README's test command installs them. */
static void require_command(const char *name)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	if (system(cmd) != 0)
		fail_msg("%s is not installed (apt-get install %s; README's test command does)", name, name);
}

/* Runs a shell command; returns its exit status and fills `out` with stdout and stderr. */
static int run(const char *cmd, char *out, size_t cap)
{
	char full[1024];
	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	FILE *f = popen(full, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_pcap_read_by_tcpdump_without_warnings(void **state)
{
	(void)state;
	require_command("tcpdump");
	write_sample();
	char cmd[512], out[4096];
	snprintf(cmd, sizeof(cmd), "TZ=UTC tcpdump -nn -v -r %s", path);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	/* tcpdump names the file on stderr; anything else there would be a complaint. */
	assert_non_null(strstr(out, "reading from file"));
	assert_non_null(strstr(out, "link-type RAW (Raw IP)"));
	assert_non_null(strstr(out, "Flags [S], cksum"));
	assert_non_null(strstr(out, "(correct), seq 1000, win 64240, options [mss 1460], length 0"));
	assert_null(strstr(out, "warning"));
	assert_null(strstr(out, "truncated"));
	assert_null(strstr(out, "incorrect"));
}

static void test_pcap_read_by_tshark_without_warnings(void **state)
{
	(void)state;
	require_command("tshark");
	write_sample();
	char cmd[512], out[8192];
	snprintf(cmd, sizeof(cmd), "tshark -n -r %s -o tcp.check_checksum:TRUE -z expert,note -q", path);
	int rc = run(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("tshark failed (%d):\n%s", rc, out);
	assert_null(strstr(out, "Malformed"));
	assert_null(strstr(out, "Bad checksum"));
	assert_null(strstr(out, "appears to be damaged"));
	assert_null(strstr(out, "cut short"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pcap_written_packets_read_back),
		cmocka_unit_test(test_pcap_rejects_bad_arguments),
		cmocka_unit_test(test_pcap_read_by_tcpdump_without_warnings),
		cmocka_unit_test(test_pcap_read_by_tshark_without_warnings),
	};
	return cmocka_run_group_tests(tests, make_file, remove_file);
}
