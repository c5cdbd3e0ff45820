/*
 * threeway demo. Where it can (root, /dev/net/tun, curl), curl fetches a page
 * from threeway through the kernel's TCP over a TUN interface (demo_tun.c).
 * Elsewhere, or with --in-memory: two threeway stacks in one process, joined
 * by the in-memory link on a virtual clock. A client connects to a server,
 * sends an HTTP-style request, reads the response and both close; every
 * packet is printed as tcpdump prints it, the handshake explained, and the
 * negotiated parameters shown once it is done.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "demo.h"
#include "threeway.h"

static const char demo_usage[] =
	"usage: threeway demo [--in-memory] [--pcap FILE] [-v] [--loss P] [--seed N]\n"
	"\n"
	"As root with /dev/net/tun and curl: in a private network namespace, threeway\n"
	"serves http on a TUN interface (10.7.0.2) and curl fetches a page through\n"
	"Linux's own TCP (10.7.0.1). Elsewhere, or with --in-memory: a client (10.7.0.1)\n"
	"and a server (10.7.0.2, port 80), two threeway stacks joined by an in-memory\n"
	"link. Either way: the three-way handshake, the request and response, and the\n"
	"close, each packet as 'tcpdump -nn' prints it, with what the handshake's\n"
	"packets mean and the parameters it negotiated.\n"
	"\n"
	"  --in-memory  the two stacks in this process, whatever the system allows\n"
	"  --pcap FILE  also write the packets to FILE (pcap, raw IP), for tcpdump or\n"
	"               wireshark\n"
	"  -v           print the IP header and checksums too (tcpdump -v)\n"
	"  --loss P     drop each packet with probability P (0 to 0.5) to watch\n"
	"               retransmission (in memory)\n"
	"  --seed N     the seed of the loss (default 1)\n"
	"  -h, --help   this help\n";

#define SERVER_PORT 80
#define ONE_WAY_DELAY_US 250

static const char request[] = "GET / HTTP/1.0\r\nHost: 10.7.0.2\r\n\r\n";
static const char response[] =
	"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 22\r\n\r\nHello from threeway!\r\n";

const char *const demo_handshake_meaning[3] = {
	"SYN: the client picks its initial sequence number (RFC 6528: a keyed hash of\n"
	"  the addresses and ports plus a clock) and offers MSS, SACK, timestamps and\n"
	"  window scaling.",
	"SYN-ACK: the server picks its own ISN and acknowledges the client's ISN + 1,\n"
	"  because a SYN consumes one sequence number.",
	"ACK: the client acknowledges the server's ISN + 1; both sides are ESTABLISHED.\n"
	"  From here tcpdump shows sequence numbers relative to each side's ISN.",
};

struct demo_opts {
	bool in_memory;
	const char *pcap_path;
	unsigned verbose;
	double loss;
	unsigned long long seed;
};

struct demo {
	FILE *out, *err;
	struct tw_tracer *tracer;
	struct tw_pcap *pcap;
	const char *pcap_path;
	int64_t start_sec;
	uint32_t start_usec;
	struct tw_stack *client, *server;
	struct tw_pipe *pipe;
	struct tw_sock *listener, *server_conn, *client_sock;
	size_t packets;
	bool params_shown, request_sent, response_sent, client_closed;
	char reply[256];
	size_t reply_len;
	int rc;
};

static int parse_demo_args(int argc, char **argv, struct demo_opts *o, FILE *out, FILE *err)
{
	static const struct option longopts[] = {
		{ "in-memory", no_argument, NULL, 'm' },
		{ "pcap", required_argument, NULL, 'p' },
		{ "loss", required_argument, NULL, 'l' },
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->in_memory = true; break;
		case 'p': o->pcap_path = optarg; break;
		case 'v': o->verbose = o->verbose < 2 ? o->verbose + 1 : 2; break;
		case 'l':
			errno = 0;
			o->loss = strtod(optarg, &end);
			o->in_memory = true;   /* impairments are the in-memory link's */
			if (errno || *end || end == optarg || !(o->loss >= 0 && o->loss <= 0.5)) {
				fprintf(err, "threeway demo: --loss wants a probability from 0 to 0.5, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 's':
			errno = 0;
			o->seed = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-') {
				fprintf(err, "threeway demo: --seed wants a number, not '%s'\n", optarg);
				return 2;
			}
			break;
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

/* Every packet either stack sends, printed (and written) at its virtual time. */
static void demo_tap(void *ctx, uint64_t now, bool from_client, const uint8_t *pkt, size_t len)
{
	struct demo *d = ctx;
	(void)from_client;
	uint64_t usec = d->start_usec + now;
	int64_t sec = d->start_sec + (int64_t)(usec / 1000000);
	uint32_t frac = (uint32_t)(usec % 1000000);
	const char *text = tw_trace_render(d->tracer, sec, frac, TW_LINK_RAW, pkt, len, len);
	fputs(text ? text : "(out of memory)\n", d->out);
	if (d->packets < 3)
		fprintf(d->out, "  %s\n\n", demo_handshake_meaning[d->packets]);
	d->packets++;
	if (d->pcap && d->rc == 0) {
		int e = tw_pcap_write(d->pcap, sec, frac, pkt, len);
		if (e) {
			fprintf(d->err, "threeway demo: %s: %s\n", d->pcap_path, strerror(-e));
			d->rc = 1;
		}
	}
}

static const char *yes_no(bool b) { return b ? "yes" : "no"; }

static void show_params(struct demo *d)
{
	struct tw_conn_info c, s;
	tw_conn_info(d->client_sock, &c);
	tw_conn_info(d->server_conn, &s);
	fprintf(d->out, "Negotiated (client / server):\n");
	fprintf(d->out, "  initial sequence numbers  %u / %u\n", c.iss, s.iss);
	fprintf(d->out, "  MSS sent with             %u / %u bytes of data per segment\n", c.snd_mss, s.snd_mss);
	fprintf(d->out, "  window scale (shift)      %d / %d\n", c.rcv_wscale, s.rcv_wscale);
	fprintf(d->out, "  SACK permitted            %s\n", yes_no(c.sack && s.sack));
	fprintf(d->out, "  timestamps                %s\n", yes_no(c.timestamps && s.timestamps));
	fprintf(d->out, "  round-trip time           %.3f ms (measured on the handshake)\n\n", c.srtt_us / 1000.0);
}

/* The two applications, one step each time something happened on the link. */
static bool demo_step(void *ctx)
{
	struct demo *d = ctx;
	int err = 0;

	if (d->rc)
		return true;
	if (!d->server_conn)
		d->server_conn = tw_accept(d->listener, NULL, &err);
	if (!d->params_shown && d->server_conn && (tw_events(d->client_sock) & TW_POLLOUT)) {
		show_params(d);
		d->params_shown = true;
	}
	if (d->params_shown && !d->request_sent) {
		fprintf(d->out, "The client sends a request:\n\n");
		tw_send(d->client_sock, request, sizeof(request) - 1, 0);
		d->request_sent = true;
	}
	if (d->server_conn && !d->response_sent && tw_readable(d->server_conn) >= sizeof(request) - 1) {
		char buf[sizeof(request)];
		tw_recv(d->server_conn, buf, sizeof(buf), 0);
		fprintf(d->out, "The server replies and closes its side (FIN):\n\n");
		tw_send(d->server_conn, response, sizeof(response) - 1, 0);
		tw_close(d->server_conn);
		d->response_sent = true;
	}
	if (d->response_sent && !d->client_closed) {
		long n = tw_recv(d->client_sock, d->reply + d->reply_len, sizeof(d->reply) - 1 - d->reply_len, 0);
		if (n > 0)
			d->reply_len += (size_t)n;
		if (n == 0) {
			fprintf(d->out, "The client has read the reply (%zu bytes) and its end; it closes too:\n\n",
				d->reply_len);
			tw_close(d->client_sock);
			d->client_closed = true;
		}
		if (n < 0 && n != -EAGAIN) {
			fprintf(d->err, "threeway demo: the client's connection failed: %s\n", strerror((int)-n));
			d->rc = 1;
		}
	}
	return d->client_closed;
}

static int setup(struct demo *d, const struct demo_opts *o)
{
	struct tw_stack_config cfg;
	int err = 0;
	tw_stack_config_init(&cfg);
	cfg.n_addrs = 1;
	cfg.addrs[0] = (struct tw_addr){ .family = TW_AF_INET, .bytes = { 10, 7, 0, 1 } };
	d->client = tw_stack_new(&cfg, &err);
	cfg.addrs[0].bytes[3] = 2;
	d->server = d->client ? tw_stack_new(&cfg, &err) : NULL;
	if (!d->server) {
		fprintf(d->err, "threeway demo: cannot create the stacks: %s\n", strerror(-err));
		return 1;
	}
	struct tw_pipe_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.seed = o->seed;
	pc.a_to_b.delay_us = pc.b_to_a.delay_us = ONE_WAY_DELAY_US;
	pc.a_to_b.loss = pc.b_to_a.loss = o->loss;
	d->pipe = tw_pipe_new(&pc, d->client, d->server);
	if (!d->pipe)
		return fprintf(d->err, "threeway demo: out of memory\n"), 1;
	tw_pipe_set_tap(d->pipe, demo_tap, d);

	struct tw_endpoint server_ep = { .addr = cfg.addrs[0], .port = SERVER_PORT };
	d->listener = tw_socket(d->server, &err);
	d->client_sock = d->listener ? tw_socket(d->client, &err) : NULL;
	if (!d->client_sock || tw_bind(d->listener, &server_ep) || tw_listen(d->listener, 16)) {
		fprintf(d->err, "threeway demo: cannot set up the server\n");
		return 1;
	}
	err = tw_connect(d->client_sock, &server_ep);
	if (err != -EINPROGRESS) {
		fprintf(d->err, "threeway demo: connect failed: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}

static void teardown(struct demo *d)
{
	tw_pipe_free(d->pipe);
	tw_stack_free(d->client);
	tw_stack_free(d->server);
	if (d->pcap) {
		int e = tw_pcap_close(d->pcap);
		if (e && d->rc == 0) {
			fprintf(d->err, "threeway demo: %s: %s\n", d->pcap_path, strerror(-e));
			d->rc = 1;
		}
	}
	tw_tracer_free(d->tracer);
}

int cmd_demo(int argc, char **argv, FILE *out, FILE *err)
{
	struct demo_opts o = { .seed = 1 };
	int rc = parse_demo_args(argc, argv, &o, out, err);
	if (rc)
		return rc < 0 ? 0 : rc;

	char why[128];
	int pcap_check = 0;
	struct tw_pcap *probe = o.pcap_path ? tw_pcap_create(o.pcap_path, TW_LINK_RAW, &pcap_check) : NULL;
	if (o.pcap_path && !probe) {
		fprintf(err, "threeway demo: %s: %s\n", o.pcap_path, strerror(-pcap_check));
		return 1;
	}
	tw_pcap_close(probe);
	if (!o.in_memory) {
		if (demo_tun_available(why, sizeof(why))) {
			rc = demo_tun_run(out, err, o.verbose, o.pcap_path);
			if (rc != DEMO_TUN_UNAVAILABLE)
				return rc;
			snprintf(why, sizeof(why), "its network namespace or TUN interface could not be set up");
		}
		fprintf(out, "The demo over a real kernel cannot run here: %s.\n"
			     "Running it in memory instead (--in-memory).\n\n", why);
	}

	struct demo d;
	memset(&d, 0, sizeof(d));
	d.out = out;
	d.err = err;
	d.pcap_path = o.pcap_path;
	struct tw_trace_config tc = { .verbose = o.verbose, .time = TW_TIME_OF_DAY, .time_of_day = cli_local_time_of_day };
	d.tracer = tw_tracer_new(&tc);
	if (!d.tracer) {
		fprintf(err, "threeway demo: out of memory\n");
		return 1;
	}
	int pcap_err = 0;
	if (o.pcap_path && !(d.pcap = tw_pcap_create(o.pcap_path, TW_LINK_RAW, &pcap_err))) {
		fprintf(err, "threeway demo: %s: %s\n", o.pcap_path, strerror(-pcap_err));
		tw_tracer_free(d.tracer);
		return 1;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	d.start_sec = now.tv_sec;
	d.start_usec = (uint32_t)(now.tv_nsec / 1000);

	fprintf(out, "A client (10.7.0.1) and a server (10.7.0.2, port 80): two threeway stacks in this\n"
		     "process, joined by an in-memory link. Every packet as tcpdump -nn prints it:\n\n");
	if (setup(&d, &o) == 0) {
		/* Ten virtual minutes is far more than any loss rate allowed here needs. */
		if (!tw_pipe_run(d.pipe, 600000000, demo_step, &d) && d.rc == 0) {
			fprintf(err, "threeway demo: the exchange did not finish\n");
			d.rc = 1;
		}
		/* Let the last ACK of the close cross; TIME-WAIT then sends nothing more. */
		tw_pipe_run(d.pipe, tw_pipe_now(d.pipe) + 10 * ONE_WAY_DELAY_US, NULL, NULL);
		if (d.rc == 0)
			fprintf(out, "\nThe server closed first, so it holds TIME-WAIT for 2 MSL (60 s) to answer a\n"
				     "retransmitted FIN; the client is CLOSED.\n");
	} else {
		d.rc = 1;
	}
	teardown(&d);
	return d.rc;
}
