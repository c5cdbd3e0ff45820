/*
 * threeway audit-isn: how predictable are a host's ISNs and timestamps?
 *
 * SYNs leave a raw socket from source ports of our choosing; the SYN-ACKs
 * come back on it (a raw TCP socket sees every TCP segment the host
 * receives), and each is answered with a RST so the peer forgets it. The
 * kernel, which has no socket on those ports, sends its own RST as well,
 * which the peer ignores. The samples then go to isn_stats.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "isn_stats.h"

static const char audit_usage[] =
	"usage: threeway audit-isn [--count N] [--repeat N] [--interval MS] [--timeout MS]\n"
	"                          [--uptime S] [-v] ADDRESS PORT\n"
	"\n"
	"Audits how the host at ADDRESS (IPv4 or IPv6) chooses TCP initial sequence\n"
	"numbers (ISNs) and timestamps.\n"
	"Sends SYNs to an open PORT from a raw socket, each from a source port of its\n"
	"own, records every SYN-ACK's ISN, TSval and arrival time, and resets each\n"
	"half-open connection. Then it sends SYNs again and again from one source port,\n"
	"each after the last was reset, to see one 4-tuple's ISNs move with time\n"
	"(RFC 6528). Needs root (or CAP_NET_RAW).\n"
	"\n"
	"It reports nmap's figures for the ISNs (the GCD of their differences, SEQ.ISR,\n"
	"SEQ.SP and the 'TCP Sequence Prediction: Difficulty' words), how often an LCG\n"
	"or a linear clock fitted on 8 ISNs predicts the next within a window of\n"
	"65,535, whether TSvals of different connections lie on one clock's line, and\n"
	"with --uptime whether TSval counts the host's uptime.\n"
	"\n"
	"  --count N      SYNs from distinct source ports (default 200, at least 10)\n"
	"  --repeat N     SYNs from one source port (default 8, 0 to skip)\n"
	"  --interval MS  between SYNs (default 10)\n"
	"  --timeout MS   wait for each SYN-ACK (default 1000)\n"
	"  --uptime S     the host's real uptime in seconds, to check TSval against\n"
	"  -v             print every sample\n"
	"  -h, --help     this help\n"
	"\n"
	"Exit status: 0 pass, 1 fail (something predicted ISNs or TSval told the\n"
	"uptime), 2 usage or run-time error (no raw socket, no answer, port closed).\n";

#define AUDIT_WINDOW 8
#define AUDIT_TOLERANCE 65535
/* A predictor guessing more often than this, or twice at all, is a fail. */
#define AUDIT_MAX_HIT_RATE 0.05
/* TSval within this many seconds of the real uptime counts it. */
#define AUDIT_UPTIME_SLACK_S 60.0

struct audit_opts {
	long count, repeat, interval_ms, timeout_ms;
	double uptime_s;            /* < 0: not given */
	bool verbose;
	const char *host;
	uint16_t port;
};

/* The raw socket and both ends' addresses, for the checksum's pseudo-header. */
struct probe_sock {
	int fd;
	int family;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	uint8_t src_ip[16], dst_ip[16];
	size_t ip_len;
	char dst_str[INET6_ADDRSTRLEN];
	char src_str[INET6_ADDRSTRLEN];
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* A TCP segment from the peer, validated, in host byte order. */
struct reply {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	bool has_ts;
	uint32_t tsval;
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

/* RFC 9293 3.1: the checksum covers a pseudo-header of both addresses, the protocol and the length. */
static uint16_t tcp_checksum(const struct probe_sock *ps, const uint8_t *seg, size_t len)
{
	uint32_t sum = csum_add(0, ps->src_ip, ps->ip_len);
	sum = csum_add(sum, ps->dst_ip, ps->ip_len);
	sum += IPPROTO_TCP + (uint32_t)len;
	sum = csum_add(sum, seg, len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * A SYN with Linux's option layout <mss,sackOK,TS,nop,wscale>, so the peer
 * answers with timestamps; or, with `rst`, the RST that ends it (seq ISS+1).
 */
static size_t build_segment(const struct probe_sock *ps, uint8_t *b, uint16_t sport, uint16_t dport,
			    uint32_t iss, uint32_t tsval, bool rst)
{
	size_t len = rst ? 20 : 40;
	memset(b, 0, len);
	put16(b, sport);
	put16(b + 2, dport);
	put32(b + 4, rst ? iss + 1 : iss);
	b[12] = (uint8_t)((len / 4) << 4);
	b[13] = rst ? TCP_RST : TCP_SYN;
	put16(b + 14, rst ? 0 : 64240);
	if (!rst) {
		uint8_t *o = b + 20;
		o[0] = 2, o[1] = 4, put16(o + 2, ps->family == AF_INET6 ? 1440 : 1460);
		o[4] = 4, o[5] = 2;
		o[6] = 8, o[7] = 10, put32(o + 8, tsval), put32(o + 12, 0);
		o[16] = 1;
		o[17] = 3, o[18] = 3, o[19] = 7;
	}
	put16(b + 16, tcp_checksum(ps, b, len));
	return len;
}

/* The TCP header's fields and the timestamp option, every length checked against `len`. */
static int parse_tcp(const uint8_t *b, size_t len, struct reply *r)
{
	if (len < 20)
		return -1;
	size_t hlen = (size_t)(b[12] >> 4) * 4;
	if (hlen < 20 || hlen > len)
		return -1;
	*r = (struct reply){ .sport = get16(b), .dport = get16(b + 2), .seq = get32(b + 4),
			     .ack = get32(b + 8), .flags = b[13] };
	for (size_t i = 20; i < hlen;) {
		uint8_t kind = b[i];
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= hlen || b[i + 1] < 2 || i + b[i + 1] > hlen)
			return -1;
		if (kind == 8 && b[i + 1] == 10) {
			r->has_ts = true;
			r->tsval = get32(b + i + 2);
		}
		i += b[i + 1];
	}
	return 0;
}

/*
 * What the raw socket read: an IPv4 packet with its header (which must come
 * from the host and carry TCP), or for IPv6 the TCP segment alone, its
 * source in `from`.
 */
static int parse_packet(const struct probe_sock *ps, const uint8_t *b, size_t len,
			const struct sockaddr_storage *from, struct reply *r)
{
	if (ps->family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)from;
		if (from->ss_family != AF_INET6 || memcmp(&s6->sin6_addr, ps->dst_ip, 16))
			return -1;
		return parse_tcp(b, len, r);
	}
	if (len < 20 || b[0] >> 4 != 4)
		return -1;
	size_t ihl = (size_t)(b[0] & 0xf) * 4, total = get16(b + 2);
	if (ihl < 20 || total < ihl || total > len || b[9] != IPPROTO_TCP || memcmp(b + 12, ps->dst_ip, 4))
		return -1;
	if (get16(b + 6) & 0x3fff)
		return -1;           /* a fragment: a SYN-ACK never is one */
	return parse_tcp(b + ihl, total - ihl, r);
}

static int send_segment(const struct probe_sock *ps, uint16_t sport, uint16_t dport, uint32_t iss, uint32_t tsval,
			bool rst, FILE *err)
{
	uint8_t seg[40];
	size_t len = build_segment(ps, seg, sport, dport, iss, tsval, rst);
	if (sendto(ps->fd, seg, len, 0, (const struct sockaddr *)&ps->dst, ps->dst_len) == (ssize_t)len)
		return 0;
	fprintf(err, "threeway audit-isn: cannot send to %s: %s\n", ps->dst_str, strerror(errno));
	return -1;
}

enum probe_result { PROBE_ANSWERED, PROBE_REFUSED, PROBE_SILENT, PROBE_ERROR };

/* One SYN from `sport`; waits for its answer and resets the half-open connection. */
static enum probe_result probe(const struct probe_sock *ps, const struct audit_opts *o, uint16_t sport,
			       struct isn_sample *out, FILE *err)
{
	/* Our ISN and TSval are random: the audit tells the host nothing of ours. */
	uint32_t rnd[2];
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		fprintf(err, "threeway audit-isn: getrandom: %s\n", strerror(errno));
		return PROBE_ERROR;
	}
	uint32_t iss = rnd[0];
	uint64_t sent = now_us();
	if (send_segment(ps, sport, o->port, iss, rnd[1], false, err) < 0)
		return PROBE_ERROR;
	uint64_t deadline = sent + (uint64_t)o->timeout_ms * 1000;
	for (;;) {
		uint64_t now = now_us();
		if (now >= deadline)
			return PROBE_SILENT;
		struct pollfd pfd = { .fd = ps->fd, .events = POLLIN };
		int n = poll(&pfd, 1, (int)((deadline - now + 999) / 1000));
		if (n < 0 && errno != EINTR) {
			fprintf(err, "threeway audit-isn: poll: %s\n", strerror(errno));
			return PROBE_ERROR;
		}
		if (n <= 0)
			continue;
		uint8_t buf[65536];
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t got = recvfrom(ps->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		uint64_t at = now_us();
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fprintf(err, "threeway audit-isn: reading the raw socket: %s\n", strerror(errno));
			return PROBE_ERROR;
		}
		struct reply r;
		if (parse_packet(ps, buf, (size_t)got, &from, &r) < 0 || r.sport != o->port || r.dport != sport ||
		    !(r.flags & TCP_ACK) || r.ack != iss + 1)
			continue;
		if (r.flags & TCP_RST)
			return PROBE_REFUSED;
		if (!(r.flags & TCP_SYN))
			continue;
		*out = (struct isn_sample){ .isn = r.seq, .sent_us = sent, .recv_us = at, .has_ts = r.has_ts,
					    .tsval = r.tsval };
		return send_segment(ps, sport, o->port, iss, 0, true, err) < 0 ? PROBE_ERROR : PROBE_ANSWERED;
	}
}

static void sleep_until(uint64_t t)
{
	uint64_t now = now_us();
	if (t <= now)
		return;
	struct timespec ts = { .tv_sec = (time_t)((t - now) / 1000000), .tv_nsec = (long)((t - now) % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Runs `n` probes `interval` apart, from `sport` + i (or `sport` alone with
 * `one_port`); answers go to `out`, their number to `*answered`. Returns 0,
 * or 2 after printing why the host cannot be audited.
 */
static int run_probes(const struct probe_sock *ps, const struct audit_opts *o, uint16_t sport, bool one_port,
		      long n, struct isn_sample *out, size_t *answered, FILE *err)
{
	*answered = 0;
	long silent = 0;
	uint64_t next = now_us();
	for (long i = 0; i < n; i++) {
		sleep_until(next);
		next = now_us() + (uint64_t)o->interval_ms * 1000;
		uint16_t p = one_port ? sport : (uint16_t)(sport + i);
		switch (probe(ps, o, p, &out[*answered], err)) {
		case PROBE_ANSWERED:
			(*answered)++;
			break;
		case PROBE_REFUSED:
			fprintf(err, "threeway audit-isn: %s port %u refused the connection (RST): is the port open?\n",
				ps->dst_str, o->port);
			return 2;
		case PROBE_SILENT:
			silent++;
			break;
		case PROBE_ERROR:
			return 2;
		}
		/* Three silent SYNs before any answer: the host is not there, or the port is filtered. */
		if (*answered == 0 && silent >= 3) {
			fprintf(err, "threeway audit-isn: no answer from %s port %u within %ld ms (host unreachable or port filtered)\n",
				ps->dst_str, o->port, o->timeout_ms);
			return 2;
		}
	}
	return 0;
}

static int parse_long(const char *s, long lo, long hi, long *v)
{
	char *end;
	errno = 0;
	long x = strtol(s, &end, 10);
	if (errno || *end || end == s || x < lo || x > hi)
		return -1;
	*v = x;
	return 0;
}

/* Returns -1 after --help, 0 to run, 2 after a usage error. */
static int parse_args(int argc, char **argv, struct audit_opts *o, FILE *out, FILE *err)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "interval", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 'o' },
		{ "uptime", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	*o = (struct audit_opts){ .count = 200, .repeat = 8, .interval_ms = 10, .timeout_ms = 1000, .uptime_s = -1 };
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:vh", longopts, NULL)) != -1) {
		const char *what = NULL;
		switch (c) {
		case 'h':
			fputs(audit_usage, out);
			return -1;
		case 'v':
			o->verbose = true;
			continue;
		case 'c':
			if (parse_long(optarg, 10, 10000, &o->count) < 0)
				what = "--count wants a number of SYNs from 10 to 10000";
			break;
		case 'r':
			if (parse_long(optarg, 0, 1000, &o->repeat) < 0 || o->repeat == 1 || o->repeat == 2)
				what = "--repeat wants 0 or a number of SYNs from 3 to 1000";
			break;
		case 'i':
			if (parse_long(optarg, 0, 10000, &o->interval_ms) < 0)
				what = "--interval wants milliseconds from 0 to 10000";
			break;
		case 'o':
			if (parse_long(optarg, 1, 60000, &o->timeout_ms) < 0)
				what = "--timeout wants milliseconds from 1 to 60000";
			break;
		case 'u': {
			char *end;
			errno = 0;
			o->uptime_s = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(o->uptime_s >= 0) || o->uptime_s > 1e10)
				what = "--uptime wants the host's uptime in seconds";
			break;
		}
		default:
			cli_report_bad_option(err, "audit-isn", c, argv);
			return 2;
		}
		if (what) {
			fprintf(err, "threeway audit-isn: %s, not '%s'\n", what, optarg);
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(err, "threeway audit-isn: wants ADDRESS PORT (see threeway audit-isn --help)\n");
		return 2;
	}
	long port;
	o->host = argv[optind];
	if (parse_long(argv[optind + 1], 1, 65535, &port) < 0) {
		fprintf(err, "threeway audit-isn: PORT wants a number from 1 to 65535, not '%s'\n", argv[optind + 1]);
		return 2;
	}
	o->port = (uint16_t)port;
	return 0;
}

/*
 * Reads HOST, learns the source address the kernel would use for it (a
 * connected UDP socket sends nothing), and opens the raw socket.
 */
static int open_probe_sock(const struct audit_opts *o, struct probe_sock *ps, FILE *err)
{
	/* An address, never a name: the audit sends nothing but its SYNs and RSTs (no DNS). */
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST }, *ai;
	if (getaddrinfo(o->host, NULL, &hints, &ai)) {
		fprintf(err, "threeway audit-isn: ADDRESS wants an IPv4 or IPv6 address, not '%s'\n", o->host);
		return -1;
	}
	*ps = (struct probe_sock){ .fd = -1, .family = ai->ai_family };
	memcpy(&ps->dst, ai->ai_addr, ai->ai_addrlen);
	ps->dst_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	ps->ip_len = ps->family == AF_INET6 ? 16 : 4;
	const void *dip = ps->family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)&ps->dst)->sin6_addr
						 : (const void *)&((struct sockaddr_in *)&ps->dst)->sin_addr;
	memcpy(ps->dst_ip, dip, ps->ip_len);
	getnameinfo((struct sockaddr *)&ps->dst, ps->dst_len, ps->dst_str, sizeof(ps->dst_str), NULL, 0, NI_NUMERICHOST);

	struct sockaddr_storage dst = ps->dst, src;
	socklen_t slen = sizeof(src);
	if (ps->family == AF_INET6)
		((struct sockaddr_in6 *)&dst)->sin6_port = htons(o->port);
	else
		((struct sockaddr_in *)&dst)->sin_port = htons(o->port);
	int u = socket(ps->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (u < 0 || connect(u, (struct sockaddr *)&dst, ps->dst_len) < 0 ||
	    getsockname(u, (struct sockaddr *)&src, &slen) < 0) {
		fprintf(err, "threeway audit-isn: host %s is unreachable: %s\n", ps->dst_str, strerror(errno));
		if (u >= 0)
			close(u);
		return -1;
	}
	close(u);
	const void *sip = ps->family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)&src)->sin6_addr
						 : (const void *)&((struct sockaddr_in *)&src)->sin_addr;
	memcpy(ps->src_ip, sip, ps->ip_len);
	getnameinfo((struct sockaddr *)&src, slen, ps->src_str, sizeof(ps->src_str), NULL, 0, NI_NUMERICHOST);

	/* A raw IPv6 socket's sin6_port names the protocol; 0 takes the socket's. */
	if (ps->family == AF_INET6)
		((struct sockaddr_in6 *)&ps->dst)->sin6_port = 0;
	ps->fd = socket(ps->family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
	if (ps->fd < 0) {
		if (errno == EPERM || errno == EACCES)
			fprintf(err, "threeway audit-isn: a raw socket needs root (or CAP_NET_RAW): %s\n", strerror(errno));
		else
			fprintf(err, "threeway audit-isn: cannot open a raw socket: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static void print_samples(FILE *out, const char *what, const struct isn_sample *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "  %s %3zu: isn %10u  sent %.6f  rtt %5llu us", what, i, s[i].isn, (double)s[i].sent_us / 1e6,
			(unsigned long long)(s[i].recv_us - s[i].sent_us));
		if (s[i].has_ts)
			fprintf(out, "  tsval %10u", s[i].tsval);
		fputc('\n', out);
	}
}

static bool predictor_fails(struct isn_score sc)
{
	return sc.hits >= 2 && (double)sc.hits > AUDIT_MAX_HIT_RATE * (double)sc.tried;
}

static double percent(size_t a, size_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0;
}

/* nmap's figures, and a constant ISN or one whose every step is a multiple of one number. Returns the fails. */
static int report_nmap(FILE *out, const struct isn_sample *s, size_t n)
{
	struct isn_nmap f;
	isn_nmap_figures(s, n, &f);
	fprintf(out, "TCP Sequence Prediction: Difficulty=%u (%s)\n", f.sp, isn_difficulty_words(f.sp));
	fprintf(out, "nmap SEQ: SP=%X GCD=%X ISR=%X (SP %u, ISR %u: mean ISN rate %.4g/s)\n", f.sp, f.gcd, f.isr,
		f.sp, f.isr, f.avg_rate);
	if (f.gcd == 0) {
		fprintf(out, "FAIL: every SYN-ACK carried the same ISN\n");
		return 1;
	}
	/* Random ISNs share a factor with odds of 2^-16 or less past 16 differences. */
	if (f.gcd > 1 && n > 16) {
		fprintf(out, "FAIL: every difference between consecutive ISNs is a multiple of %u\n", f.gcd);
		return 1;
	}
	return 0;
}

static int report_predictors(FILE *out, const struct isn_sample *s, size_t n)
{
	int fails = 0;
	struct isn_score lcg = isn_score_lcg(s, n, AUDIT_WINDOW, AUDIT_TOLERANCE);
	struct isn_score clk = isn_score_clock(s, n, AUDIT_WINDOW, AUDIT_TOLERANCE);
	fprintf(out, "predictors fitted on %d ISNs, a hit within %d of the next:\n", AUDIT_WINDOW, AUDIT_TOLERANCE);
	fprintf(out, "  LCG mod 2^32 (constant steps included): %zu of %zu hit (%.1f%%)\n", lcg.hits, lcg.tried,
		percent(lcg.hits, lcg.tried));
	fprintf(out, "  linear clock of the send time:          %zu of %zu hit (%.1f%%)\n", clk.hits, clk.tried,
		percent(clk.hits, clk.tried));
	if (predictor_fails(lcg)) {
		fprintf(out, "FAIL: an LCG predicts the next ISN\n");
		fails++;
	}
	if (predictor_fails(clk)) {
		fprintf(out, "FAIL: a linear clock predicts the next ISN\n");
		fails++;
	}
	return fails;
}

/* RFC 6528: one 4-tuple's ISNs move with the clock M; standing still is a note, not a fail. */
static void report_tuple(FILE *out, const struct isn_sample *t, size_t nt, uint16_t tuple_port)
{
	if (nt < 2)
		return;
	struct isn_advance adv;
	isn_tuple_advance(t, nt, &adv);
	fprintf(out, "one 4-tuple (source port %u), %zu SYN-ACKs: %zu of %zu steps forward, %.4g/s\n", tuple_port, nt,
		adv.forward, adv.steps, adv.rate);
	if (adv.forward < adv.steps)
		fprintf(out, "note: one 4-tuple's ISNs do not all advance with time (RFC 6528's clock M)\n");
}

/* TSval's clock; a fail when it counts the uptime given. */
static int report_ts(FILE *out, const struct audit_opts *o, const struct isn_sample *s, size_t n,
		     const struct isn_sample *t, size_t nt)
{
	struct isn_ts ts;
	isn_ts_analyse(s, n, t, nt, &ts);
	if (ts.with_ts == 0) {
		fprintf(out, "TSval: no SYN-ACK carried timestamps\n");
		return 0;
	}
	if (!ts.hz_known) {
		fprintf(out, "TSval: in %zu SYN-ACKs; its clock's rate could not be measured\n", ts.with_ts);
		return 0;
	}
	int fails = 0;
	fprintf(out, "TSval: in %zu SYN-ACKs, a %.0f Hz clock; %zu of %zu connections on the line of the one before: %s\n",
		ts.with_ts, ts.hz, ts.on_line, ts.compared,
		ts.shared ? "one clock shared by connections" : "an offset per connection");
	double implied = (double)ts.last_tsval / ts.nominal_hz;
	fprintf(out, "TSval / Hz = %.0f s (%.2f days at %.0f Hz)", implied, implied / 86400, ts.nominal_hz);
	if (o->uptime_s >= 0) {
		/* The uptime given was taken at the start; the last TSval came later. */
		double up = o->uptime_s + (double)(ts.last_recv_us - s[0].sent_us) / 1e6;
		bool leak = isn_ts_counts_uptime(&ts, up, AUDIT_UPTIME_SLACK_S);
		fprintf(out, "; uptime %.0f s: %s\n", up, leak ? "TSval counts the uptime" : "unrelated");
		if (leak) {
			fprintf(out, "FAIL: TSval tells the host's uptime\n");
			fails++;
		}
	} else {
		fputs(" (--uptime checks it against the host's uptime)\n", out);
	}
	if (ts.shared)
		fprintf(out, "note: TSvals of different connections lie on one line, so TSval shows the host's clock\n"
			     "      (RFC 7323 7.1: an offset per connection hides it)\n");
	return fails;
}

/* Prints the report; returns the exit status, 0 or 1. */
static int report(FILE *out, const struct audit_opts *o, const struct isn_sample *s, size_t n,
		  const struct isn_sample *t, size_t nt, uint16_t tuple_port)
{
	int fails = report_nmap(out, s, n);
	fails += report_predictors(out, s, n);
	report_tuple(out, t, nt, tuple_port);
	fails += report_ts(out, o, s, n, t, nt);
	fprintf(out, "verdict: %s\n", fails ? "FAIL (predictable)" : "pass");
	return fails ? 1 : 0;
}

int cmd_audit_isn(int argc, char **argv, FILE *out, FILE *err)
{
	struct audit_opts o;
	int rc = parse_args(argc, argv, &o, out, err);
	if (rc)
		return rc < 0 ? 0 : rc;
	struct probe_sock ps = { .fd = -1 };
	if (open_probe_sock(&o, &ps, err) < 0) {
		if (ps.fd >= 0)
			close(ps.fd);
		return 2;
	}
	struct isn_sample *s = calloc((size_t)(o.count + o.repeat), sizeof(*s));
	if (!s) {
		fprintf(err, "threeway audit-isn: out of memory\n");
		close(ps.fd);
		return 2;
	}
	/* Source ports from a random base, clear of the well-known ones. */
	uint16_t base;
	if (getrandom(&base, sizeof(base), 0) != sizeof(base))
		base = (uint16_t)now_us();
	base = (uint16_t)(20000 + base % (60000 - 20000 - (unsigned)o.count - 1));
	uint16_t tuple_port = (uint16_t)(base + o.count);
	size_t n = 0, nt = 0;
	fprintf(out, "audit-isn: %s port %u from %s: %ld SYNs from ports %u-%u", ps.dst_str, o.port, ps.src_str,
		o.count, base, base + (unsigned)o.count - 1);
	if (o.repeat)
		fprintf(out, ", then %ld from port %u", o.repeat, tuple_port);
	fprintf(out, ", %ld ms apart\n", o.interval_ms);
	fflush(out);
	rc = run_probes(&ps, &o, base, false, o.count, s, &n, err);
	if (!rc && o.repeat)
		rc = run_probes(&ps, &o, tuple_port, true, o.repeat, s + n, &nt, err);
	close(ps.fd);
	if (!rc && n < 10) {
		fprintf(err, "threeway audit-isn: only %zu of %ld SYNs were answered: too few to judge\n", n, o.count);
		rc = 2;
	}
	if (!rc) {
		fprintf(out, "answered: %zu of %ld", n, o.count);
		if (o.repeat)
			fprintf(out, ", and %zu of %ld from one port", nt, o.repeat);
		fputc('\n', out);
		if (o.verbose) {
			print_samples(out, "syn-ack", s, n);
			print_samples(out, "4-tuple", s + n, nt);
		}
		rc = report(out, &o, s, n, s + n, nt, tuple_port);
	}
	free(s);
	return rc;
}
