/*
 * threeway demo: a TCP three-way handshake built by the wire layer and
 * printed by the tracer, the way tcpdump would show it on the wire.
 *
 * Until the connection engine exists, the segments are built here from the
 * handshake's rules: each side picks an ISN, a SYN consumes one sequence
 * number, so each side acknowledges the other's ISN + 1.
 */
#define _DEFAULT_SOURCE
#include <getopt.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cli.h"
#include "threeway.h"
#include "wire/wire.h"

static const char demo_usage[] =
	"usage: threeway demo [--pcap FILE] [-v]\n"
	"\n"
	"Shows a TCP three-way handshake between a client (10.7.0.1) and a server\n"
	"(10.7.0.2, port 80), packet by packet, as 'tcpdump -nn' prints it, with what\n"
	"each packet means.\n"
	"\n"
	"  --pcap FILE  also write the packets to FILE (pcap, raw IP), for tcpdump or\n"
	"               wireshark\n"
	"  -v           print the IP header and checksums too (tcpdump -v)\n"
	"  -h, --help   this help\n";

struct endpoint {
	uint8_t addr[4];
	uint16_t port;
	uint32_t isn;
	uint32_t ts_offset;       /* timestamps start from a random value: they reveal no clock */
	uint8_t wscale;
};

struct demo_packet {
	uint8_t bytes[128];
	size_t len;
	const char *meaning;
};

/*
 * One IPv4 segment from `from` to `to`. SYNs carry Linux's option layout
 * <mss,sackOK,TS,nop,wscale>; later segments carry <nop,nop,TS>.
 */
static size_t build_segment(uint8_t *buf, size_t cap, const struct endpoint *from, const struct endpoint *to,
			    uint8_t flags, uint32_t seq, uint32_t ack, uint32_t ts_val, uint32_t ts_ecr)
{
	struct wire_tcp t;
	memset(&t, 0, sizeof(t));
	t.sport = from->port;
	t.dport = to->port;
	t.seq = seq;
	t.ack = ack;
	t.flags = flags;
	t.opt.ts_val = ts_val;
	t.opt.ts_ecr = ts_ecr;
	if (flags & WIRE_TCP_SYN) {
		/* RFC 7323 2.2: the window in a SYN is never scaled. */
		t.wnd = 64240;
		t.opt.mss = 1460;
		t.opt.wscale = from->wscale;
		wire_tcp_opt_push(&t.opt, WIRE_OPT_MSS, 4, NULL);
		wire_tcp_opt_push(&t.opt, WIRE_OPT_SACK_PERM, 2, NULL);
		wire_tcp_opt_push(&t.opt, WIRE_OPT_TS, 10, NULL);
		wire_tcp_opt_push(&t.opt, WIRE_OPT_NOP, 1, NULL);
		wire_tcp_opt_push(&t.opt, WIRE_OPT_WSCALE, 3, NULL);
	} else {
		t.wnd = (uint16_t)(64240 >> to->wscale);
		wire_tcp_opt_push(&t.opt, WIRE_OPT_NOP, 1, NULL);
		wire_tcp_opt_push(&t.opt, WIRE_OPT_NOP, 1, NULL);
		wire_tcp_opt_push(&t.opt, WIRE_OPT_TS, 10, NULL);
	}

	struct wire_ipv4 ip = { .ttl = 64, .proto = WIRE_PROTO_TCP, .frag = WIRE_IPV4_FLAG_DF };
	memcpy(ip.src, from->addr, 4);
	memcpy(ip.dst, to->addr, 4);
	struct wire_pseudo ph;
	wire_ipv4_pseudo(&ip, &ph);
	size_t tcp_len = wire_tcp_emit(&t, buf + WIRE_IPV4_HDR_MIN, cap - WIRE_IPV4_HDR_MIN, &ph);
	if (!tcp_len)
		return 0;
	ip.total_len = (uint16_t)(WIRE_IPV4_HDR_MIN + tcp_len);
	if (!wire_ipv4_emit(&ip, buf, cap))
		return 0;
	return ip.total_len;
}

static uint32_t random32(void)
{
	uint32_t v = 0;
	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint32_t)time(NULL) * 2654435761u;
	return v;
}

static int parse_demo_args(int argc, char **argv, const char **pcap_path, unsigned *verbose, FILE *out, FILE *err)
{
	static const struct option longopts[] = {
		{ "pcap", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': *pcap_path = optarg; break;
		case 'v': *verbose = *verbose < 2 ? *verbose + 1 : 2; break;
		case 'h':
			fputs(demo_usage, out);
			return -1;
		default:
			cli_report_bad_option(err, "demo", c, argv);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(err, "threeway demo: unexpected argument '%s' (see threeway demo --help)\n", argv[optind]);
		return 2;
	}
	return 0;
}

int cmd_demo(int argc, char **argv, FILE *out, FILE *err)
{
	const char *pcap_path = NULL;
	unsigned verbose = 0;
	int rc = parse_demo_args(argc, argv, &pcap_path, &verbose, out, err);
	if (rc)
		return rc < 0 ? 0 : rc;

	struct endpoint client = { { 10, 7, 0, 1 }, (uint16_t)(32768 + random32() % 28232), random32(), random32(), 7 };
	struct endpoint server = { { 10, 7, 0, 2 }, 80, random32(), random32(), 7 };
	uint32_t ts_c = client.ts_offset, ts_s = server.ts_offset;
	struct demo_packet pkts[3];

	pkts[0].len = build_segment(pkts[0].bytes, sizeof(pkts[0].bytes), &client, &server, WIRE_TCP_SYN,
				    client.isn, 0, ts_c, 0);
	pkts[0].meaning = "SYN: the client picks its ISN and offers MSS, SACK, timestamps and window scaling.";
	pkts[1].len = build_segment(pkts[1].bytes, sizeof(pkts[1].bytes), &server, &client, WIRE_TCP_SYN | WIRE_TCP_ACK,
				    server.isn, client.isn + 1, ts_s, ts_c);
	pkts[1].meaning = "SYN-ACK: the server picks its own ISN and acknowledges the client's ISN + 1,\n"
			  "  because a SYN consumes one sequence number.";
	pkts[2].len = build_segment(pkts[2].bytes, sizeof(pkts[2].bytes), &client, &server, WIRE_TCP_ACK,
				    client.isn + 1, server.isn + 1, ts_c + 1, ts_s);
	pkts[2].meaning = "ACK: the client acknowledges the server's ISN + 1; both sides are ESTABLISHED.\n"
			  "  Sequence numbers are now relative to each ISN, as tcpdump shows them.";

	struct tw_trace_config cfg = { .verbose = verbose, .time = TW_TIME_OF_DAY, .time_of_day = cli_local_time_of_day };
	struct tw_tracer *tr = tw_tracer_new(&cfg);
	struct tw_pcap *pcap = NULL;
	int pcap_err = 0;
	if (!tr) {
		fprintf(err, "threeway demo: out of memory\n");
		return 1;
	}
	if (pcap_path && !(pcap = tw_pcap_create(pcap_path, TW_LINK_RAW, &pcap_err))) {
		fprintf(err, "threeway demo: %s: %s\n", pcap_path, strerror(-pcap_err));
		tw_tracer_free(tr);
		return 1;
	}

	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	fprintf(out, "A TCP three-way handshake, as tcpdump -nn prints it:\n\n");
	for (int i = 0; i < 3; i++) {
		if (!pkts[i].len) {
			fprintf(err, "threeway demo: could not build packet %d\n", i + 1);
			rc = 1;
			break;
		}
		int64_t sec = now.tv_sec;
		uint32_t usec = (uint32_t)(now.tv_nsec / 1000) + (uint32_t)i * 150;
		sec += usec / 1000000;
		usec %= 1000000;
		const char *text = tw_trace_render(tr, sec, usec, TW_LINK_RAW, pkts[i].bytes, pkts[i].len, pkts[i].len);
		fprintf(out, "%s  %s\n\n", text ? text : "(out of memory)\n", pkts[i].meaning);
		if (pcap && (pcap_err = tw_pcap_write(pcap, sec, usec, pkts[i].bytes, pkts[i].len)) != 0) {
			fprintf(err, "threeway demo: %s: %s\n", pcap_path, strerror(-pcap_err));
			rc = 1;
			break;
		}
	}
	if (rc == 0) {
		fprintf(out, "client ISN %u, server ISN %u (random here; RFC 6528 keyed hashes in the engine)\n",
			client.isn, server.isn);
		fprintf(out, "negotiated: MSS 1460, window scale 7 both ways, SACK permitted, timestamps on\n");
	}
	if ((pcap_err = tw_pcap_close(pcap)) != 0 && rc == 0) {
		fprintf(err, "threeway demo: %s: %s\n", pcap_path, strerror(-pcap_err));
		rc = 1;
	}
	tw_tracer_free(tr);
	return rc;
}
