/*
 * Runs one regression packet file (README.md in this directory): feeds its
 * packets to a fresh stack and checks the last one's outcome, the drop
 * reason returned and counted, and the stack's reply.
 *
 * usage: regress FILE...   exit status 0 when every file's outcome holds.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "threeway.h"
#include "wire/wire.h"

#define MAX_PACKETS 16
#define PKT_MAX 4096
#define PEER_ISN 1000

struct packet {
	uint8_t bytes[PKT_MAX];
	size_t len;
};

struct regress_file {
	char expect[64];            /* "taken", or a drop reason's name */
	char reply[64];             /* "none", "icmp", or TCP flags as SYN|ACK */
	bool handshake;             /* "after: handshake": an established connection first */
	struct packet pkts[MAX_PACKETS];
	size_t n;
};

struct run {
	struct tw_stack *st;
	uint64_t now;
	uint32_t our_iss;
	unsigned replies;
	uint8_t reply_proto, reply_flags;
};

static void on_output(void *ctx, const uint8_t *pkt, size_t len)
{
	struct run *r = ctx;
	struct wire_ipv4 ip4;
	struct wire_ipv6 ip6;
	struct wire_pseudo ph;
	const uint8_t *payload;
	size_t payload_len;
	if (len && pkt[0] >> 4 == 4 && wire_ipv4_parse(&ip4, pkt, len) == 0) {
		wire_ipv4_pseudo(&ip4, &ph);
		r->reply_proto = ip4.proto;
		payload = ip4.payload;
		payload_len = ip4.payload_len;
	} else if (wire_ipv6_parse(&ip6, pkt, len) == 0) {
		wire_ipv6_pseudo(&ip6, &ph);
		r->reply_proto = ip6.proto;
		payload = ip6.payload;
		payload_len = ip6.payload_len;
	} else {
		fprintf(stderr, "the stack sent a packet that does not parse\n");
		abort();
	}
	r->replies++;
	struct wire_tcp t;
	if (r->reply_proto == WIRE_PROTO_TCP) {
		if (wire_tcp_parse(&t, payload, payload_len, &ph) != 0) {
			fprintf(stderr, "the stack sent a TCP segment that does not parse\n");
			abort();
		}
		r->reply_flags = t.flags;
		if ((t.flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) == (WIRE_TCP_SYN | WIRE_TCP_ACK))
			r->our_iss = t.seq;
	}
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

/* Reads the file: "# key: value" lines, hex bytes, "--" between packets. 0 or -1. */
static int load(const char *path, struct regress_file *f)
{
	FILE *fp = fopen(path, "r");
	if (!fp) {
		perror(path);
		return -1;
	}
	memset(f, 0, sizeof(*f));
	strcpy(f->reply, "none");
	char line[1024];
	int lineno = 0, bad = 0;
	while (!bad && fgets(line, sizeof(line), fp)) {
		lineno++;
		char *s = trim(line);
		if (*s == '#') {
			char *colon = strchr(s, ':');
			if (!colon)
				continue;
			*colon = 0;
			char *key = trim(s + 1), *value = trim(colon + 1);
			if (!strcmp(key, "expect"))
				snprintf(f->expect, sizeof(f->expect), "%s", value);
			else if (!strcmp(key, "reply"))
				snprintf(f->reply, sizeof(f->reply), "%s", value);
			else if (!strcmp(key, "after"))
				f->handshake = !strcmp(value, "handshake");
			continue;
		}
		if (!strcmp(s, "--")) {
			if (f->n && f->pkts[f->n - 1].len) {
				if (f->n == MAX_PACKETS)
					bad = 1;
				else
					f->n++;
			}
			continue;
		}
		if (f->n == 0)
			f->n = 1;
		for (char *p = s; *p && !bad; p++) {
			if (isspace((unsigned char)*p))
				continue;
			unsigned v;
			struct packet *k = &f->pkts[f->n - 1];
			if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) || sscanf(p, "%2x", &v) != 1 ||
			    k->len >= PKT_MAX) {
				fprintf(stderr, "%s:%d: not hex bytes\n", path, lineno);
				bad = 1;
				break;
			}
			k->bytes[k->len++] = (uint8_t)v;
			p++;
		}
	}
	fclose(fp);
	if (bad)
		return -1;
	if (!f->expect[0] || !f->n || !f->pkts[f->n - 1].len) {
		fprintf(stderr, "%s: needs packets and an \"# expect:\" line\n", path);
		return -1;
	}
	return 0;
}

static uint8_t flags_of(const char *text)
{
	static const struct { const char *name; uint8_t bit; } names[] = {
		{ "FIN", WIRE_TCP_FIN }, { "SYN", WIRE_TCP_SYN }, { "RST", WIRE_TCP_RST },
		{ "PSH", WIRE_TCP_PSH }, { "ACK", WIRE_TCP_ACK }, { "URG", WIRE_TCP_URG },
	};
	uint8_t f = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *at = strstr(text, names[i].name);
		if (at)
			f |= names[i].bit;
	}
	return f;
}

/* A segment from 10.0.0.1:40000 to the listener, with its checksums. */
static size_t segment(uint8_t *pkt, uint32_t seq, uint32_t ack, uint8_t flags)
{
	struct wire_ipv4 ip = { .ttl = 64, .proto = WIRE_PROTO_TCP, .src = { 10, 0, 0, 1 }, .dst = { 10, 0, 0, 2 } };
	struct wire_tcp t;
	memset(&t, 0, sizeof(t));
	t.sport = 40000;
	t.dport = 80;
	t.seq = seq;
	t.ack = ack;
	t.flags = flags;
	t.wnd = 65535;
	struct wire_pseudo ph;
	wire_ipv4_pseudo(&ip, &ph);
	size_t n = wire_tcp_emit(&t, pkt + 20, PKT_MAX - 20, &ph);
	ip.total_len = (uint16_t)(20 + n);
	wire_ipv4_emit(&ip, pkt, PKT_MAX);
	return 20 + n;
}

/*
 * After a handshake, a file's TCP acknowledgment numbers count from the
 * stack's ISS + 1 (which depends on the secret and the clock): they are
 * rewritten, and the checksum with them, unless the checksum was wrong.
 */
static void rebase_ack(const struct run *r, struct packet *k)
{
	struct wire_ipv4 ip;
	if (k->len < 1 || k->bytes[0] >> 4 != 4 || wire_ipv4_parse(&ip, k->bytes, k->len) != 0 ||
	    ip.proto != WIRE_PROTO_TCP || ip.payload_len < WIRE_TCP_HDR_MIN || wire_ipv4_frag_offset(&ip))
		return;
	struct wire_pseudo ph;
	wire_ipv4_pseudo(&ip, &ph);
	uint8_t *t = k->bytes + ip.hdr_len;
	bool csum_ok = wire_l4_csum(&ph, t, ip.payload_len) == 0;
	wire_put32(t + 8, wire_get32(t + 8) + r->our_iss + 1);
	if (csum_ok) {
		wire_put16(t + 16, 0);
		wire_put16(t + 16, wire_l4_csum(&ph, t, ip.payload_len));
	}
}

static int run_file(const char *path)
{
	struct regress_file *f = malloc(sizeof(*f));
	if (!f || load(path, f)) {
		free(f);
		return 1;
	}
	struct run r = { .now = 1000000 };
	struct tw_stack_config cfg;
	tw_stack_config_init(&cfg);
	cfg.secret_fixed = true;
	cfg.n_addrs = 2;
	cfg.addrs[0].family = TW_AF_INET;
	memcpy(cfg.addrs[0].bytes, (uint8_t[]){ 10, 0, 0, 2 }, 4);
	cfg.addrs[1].family = TW_AF_INET6;
	memcpy(cfg.addrs[1].bytes, (uint8_t[]){ 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 }, 16);
	cfg.output = on_output;
	cfg.output_ctx = &r;
	int err = 0, failed = 0;
	r.st = tw_stack_new(&cfg, &err);
	struct tw_sock *l[2], *accepted = NULL;
	for (int i = 0; i < 2; i++) {
		struct tw_endpoint ep = { .addr = cfg.addrs[i], .port = 80 };
		l[i] = tw_socket(r.st, &err);
		if (!l[i] || tw_bind(l[i], &ep) || tw_listen(l[i], 8))
			abort();
	}
	tw_poll(r.st, r.now);
	if (f->handshake) {
		uint8_t pkt[PKT_MAX];
		tw_input(r.st, pkt, segment(pkt, PEER_ISN, 0, WIRE_TCP_SYN), r.now);
		tw_input(r.st, pkt, segment(pkt, PEER_ISN + 1, r.our_iss + 1, WIRE_TCP_ACK), r.now);
		if (!(accepted = tw_accept(l[0], NULL, &err))) {
			fprintf(stderr, "%s: the handshake did not complete\n", path);
			failed = 1;
		}
	}
	int result = 0;
	struct tw_stack_stats before, after;
	for (size_t i = 0; i < f->n && !failed; i++) {
		if (f->handshake)
			rebase_ack(&r, &f->pkts[i]);
		tw_stack_stats(r.st, &before);
		r.replies = 0;
		r.reply_proto = r.reply_flags = 0;
		r.now += 1000;
		result = tw_input(r.st, f->pkts[i].bytes, f->pkts[i].len, r.now);
		tw_stack_stats(r.st, &after);
	}
	if (!failed) {
		/* The outcome: taken, or dropped with the reason returned and counted once. */
		const char *got = result == 0 ? "taken" : tw_drop_name((enum tw_drop)-result);
		if (strcmp(got, f->expect) != 0) {
			fprintf(stderr, "%s: expected %s, got %s\n", path, f->expect, got);
			failed = 1;
		} else if (result && after.drops[-result] != before.drops[-result] + 1) {
			fprintf(stderr, "%s: drop %s not counted once\n", path, got);
			failed = 1;
		}
		/* The reply: none, an ICMP message, or one TCP segment with exactly these flags. */
		bool want_none = !strcmp(f->reply, "none"), want_icmp = !strcmp(f->reply, "icmp");
		bool ok = want_none ? r.replies == 0
			: want_icmp ? r.replies == 1 && (r.reply_proto == WIRE_PROTO_ICMP || r.reply_proto == WIRE_PROTO_ICMPV6)
			: r.replies == 1 && r.reply_proto == WIRE_PROTO_TCP && r.reply_flags == flags_of(f->reply);
		if (!ok) {
			fprintf(stderr, "%s: expected reply %s, got %u packets (last protocol %u, flags 0x%02x)\n", path,
				f->reply, r.replies, r.reply_proto, r.reply_flags);
			failed = 1;
		}
	}
	/* And the stack is whole afterwards: everything closes and goes. */
	if (accepted)
		tw_abort(accepted);
	tw_close(l[0]);
	tw_close(l[1]);
	r.now += 3600ull * 1000000;
	tw_poll(r.st, r.now);
	tw_stack_stats(r.st, &after);
	if (after.conns) {
		fprintf(stderr, "%s: %u sockets left after close\n", path, after.conns);
		failed = 1;
	}
	tw_stack_free(r.st);
	free(f);
	if (!failed)
		printf("ok %s\n", path);
	return failed;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: regress FILE...\n");
		return 2;
	}
	int failed = 0;
	for (int i = 1; i < argc; i++)
		failed |= run_file(argv[i]);
	return failed;
}
