/*
 * threeway trace: print a capture the way tcpdump -nn prints it.
 */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pcap_reader.h"
#include "threeway.h"

static const char trace_usage[] =
	"usage: threeway trace [-S] [-v | -vv] [-t | -tt] [-n | -nn] FILE\n"
	"\n"
	"Prints every packet of a pcap or pcapng capture (Ethernet, raw IP, Linux\n"
	"cooked SLL and SLL2) exactly as 'tcpdump -nn -r FILE' prints it.\n"
	"\n"
	"  -S    print absolute TCP sequence numbers, not relative ones\n"
	"  -v    also print the IP header and check the TCP checksum\n"
	"  -vv   as -v, and print seq on every TCP segment\n"
	"  -t    print no timestamp\n"
	"  -tt   print timestamps as seconds since 1970\n"
	"  -n, -nn  accepted for tcpdump's sake: addresses and ports are always numeric\n"
	"  -h, --help  this help\n"
	"\n"
	"Timestamps are in the local time zone (set TZ=UTC for UTC), as tcpdump's are.\n";

static const char *interface_name(uint32_t ifindex, void *ctx)
{
	static char name[IF_NAMESIZE];
	(void)ctx;
	return if_indextoname(ifindex, name);
}

struct trace_args {
	struct tw_trace_config cfg;
	const char *file;
};

/* 0 to go on, or the exit status: 0 after --help, 2 on a usage error. */
static int parse_trace_args(int argc, char **argv, struct trace_args *a, FILE *out, FILE *err)
{
	static const struct option longopts[] = { { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	unsigned t_count = 0;
	int c;

	memset(a, 0, sizeof(*a));
	a->cfg.time_of_day = cli_local_time_of_day;
	a->cfg.ifname = interface_name;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:Svtnh", longopts, NULL)) != -1) {
		switch (c) {
		case 'S': a->cfg.absolute_seq = true; break;
		case 'v': a->cfg.verbose++; break;
		case 't': t_count++; break;
		case 'n': break;
		case 'h':
			fputs(trace_usage, out);
			return -1;
		default:
			cli_report_bad_option(err, "trace", c, argv);
			return 2;
		}
	}
	if (a->cfg.verbose > 2)
		a->cfg.verbose = 2;
	if (t_count > 2) {
		fprintf(err, "threeway trace: -t may be given once or twice (see threeway trace --help)\n");
		return 2;
	}
	a->cfg.time = t_count == 0 ? TW_TIME_OF_DAY : t_count == 1 ? TW_TIME_NONE : TW_TIME_EPOCH;
	if (optind != argc - 1) {
		fprintf(err, "threeway trace: %s (see threeway trace --help)\n",
			optind == argc ? "no capture file given" : "give one capture file");
		return 2;
	}
	a->file = argv[optind];
	return 0;
}

static int print_capture(const char *file, struct pcap_reader *r, struct tw_tracer *tr, FILE *out, FILE *err)
{
	struct pcap_packet pkt;
	char why[512];
	int rc;
	int linktype = pcap_reader_linktype(r);

	while ((rc = pcap_reader_next(r, &pkt, why, sizeof(why))) == 1) {
		const char *text = tw_trace_render(tr, pkt.sec, pkt.usec, linktype, pkt.data, pkt.caplen, pkt.wirelen);
		if (!text) {
			fprintf(err, "threeway trace: out of memory\n");
			return 1;
		}
		fputs(text, out);
	}
	if (rc < 0) {
		fflush(out);
		fprintf(err, "threeway trace: %s: %s\n", file, why);
		return 1;
	}
	return 0;
}

int cmd_trace(int argc, char **argv, FILE *out, FILE *err)
{
	struct trace_args a;
	int rc = parse_trace_args(argc, argv, &a, out, err);
	if (rc)
		return rc < 0 ? 0 : rc;

	char why[512];
	struct pcap_reader *r = pcap_reader_open(a.file, why, sizeof(why));
	if (!r) {
		fprintf(err, "threeway trace: %s\n", why);
		return 1;
	}
	int linktype = pcap_reader_linktype(r);
	char name[128];
	pcap_reader_linktype_name(r, name, sizeof(name));
	if (!tw_trace_linktype_supported(linktype)) {
		fprintf(err, "threeway trace: %s: link-type %s is not supported (Ethernet, raw IP, Linux SLL and SLL2 are)\n",
			a.file, name);
		pcap_reader_close(r);
		return 1;
	}
	struct tw_tracer *tr = tw_tracer_new(&a.cfg);
	if (!tr) {
		fprintf(err, "threeway trace: out of memory\n");
		pcap_reader_close(r);
		return 1;
	}
	rc = print_capture(a.file, r, tr, out, err);
	tw_tracer_free(tr);
	pcap_reader_close(r);
	return rc;
}
