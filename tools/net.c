/*
 * Running a stack on a TUN interface: addresses, the interface and the
 * kernel's side of it, the loop, signals and the live trace.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "net.h"

int net_parse_addr(const char *s, struct tw_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->bytes) == 1) {
		out->family = TW_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->bytes) == 1) {
		out->family = TW_AF_INET6;
		return 0;
	}
	return -1;
}

int net_parse_prefix(const char *s, struct net_prefix *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(buf) || !slash[1] || strlen(slash + 1) > 3)
		return -1;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (net_parse_addr(buf, &out->addr))
		return -1;
	char *end;
	unsigned long len = strtoul(slash + 1, &end, 10);
	unsigned max = out->addr.family == TW_AF_INET ? 32 : 128;
	if (*end || slash[1] < '0' || slash[1] > '9' || len > max)
		return -1;
	out->len = (unsigned)len;
	return 0;
}

const char *net_addr_str(const struct tw_addr *a, char *buf, size_t cap)
{
	if (!inet_ntop(a->family == TW_AF_INET ? AF_INET : AF_INET6, a->bytes, buf, (socklen_t)cap))
		snprintf(buf, cap, "?");
	return buf;
}

static size_t addr_len(const struct tw_addr *a) { return a->family == TW_AF_INET ? 4 : 16; }

/* Adds `n` (small) to the address as a big-endian number of `len` bytes (4 or 16). */
static void addr_add(uint8_t bytes[16], size_t len, unsigned n)
{
	for (size_t k = 0; k < len && k < 16 && n; k++) {
		size_t i = len - 1 - k;
		unsigned v = bytes[i] + n;
		bytes[i] = (uint8_t)v;
		n = v >> 8;
	}
}

static void mask_to_prefix(uint8_t *bytes, size_t len, unsigned prefix)
{
	for (size_t i = 0; i < len; i++) {
		unsigned bits = prefix > i * 8 ? prefix - (unsigned)i * 8 : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		bytes[i] &= mask;
	}
}

int net_host_side(const struct net_prefix *ours, struct net_prefix *host)
{
	size_t len = addr_len(&ours->addr);
	unsigned bits = (unsigned)len * 8;
	if (ours->len >= bits)
		return -1;
	*host = *ours;
	mask_to_prefix(host->addr.bytes, len, ours->len);
	/* The prefix's own address is usable only in a two-address prefix (RFC 3021, RFC 6164). */
	unsigned first = ours->len + 1 == bits ? 0 : 1;
	addr_add(host->addr.bytes, len, first);
	if (!memcmp(host->addr.bytes, ours->addr.bytes, len))
		addr_add(host->addr.bytes, len, 1);
	/* The candidate must still be inside the prefix and not IPv4's broadcast address. */
	struct net_prefix check = *host;
	mask_to_prefix(check.addr.bytes, len, ours->len);
	struct net_prefix net = *ours;
	mask_to_prefix(net.addr.bytes, len, ours->len);
	if (memcmp(check.addr.bytes, net.addr.bytes, len))
		return -1;
	if (ours->addr.family == TW_AF_INET && ours->len < 31) {
		uint32_t a = (uint32_t)host->addr.bytes[0] << 24 | (uint32_t)host->addr.bytes[1] << 16 |
			     (uint32_t)host->addr.bytes[2] << 8 | host->addr.bytes[3];
		uint32_t hostmask = ours->len ? ~(~0u << (32 - ours->len)) : ~0u;
		if ((a & hostmask) == hostmask)
			return -1;
	}
	return 0;
}

int net_take_option(struct net_opts *o, int c, const char *arg, const char *cmd, FILE *err)
{
	switch (c) {
	case 'T':
		if (!*arg) {
			fprintf(err, "threeway %s: --tun wants an interface name\n", cmd);
			return -1;
		}
		o->tun = arg;
		return 1;
	case 'A':
	case 'H': {
		struct net_prefix p;
		const char *name = c == 'A' ? "--addr" : "--host-addr";
		if (net_parse_prefix(arg, &p)) {
			fprintf(err, "threeway %s: %s %s: not an IPv4 or IPv6 address with a prefix length "
				     "(like 10.7.0.2/24 or 2001:db8:7::2/64)\n", cmd, name, arg);
			return -1;
		}
		size_t *n = c == 'A' ? &o->n_addrs : &o->n_host_addrs;
		if (*n == NET_MAX_ADDRS) {
			fprintf(err, "threeway %s: at most %d %s options\n", cmd, NET_MAX_ADDRS, name);
			return -1;
		}
		(c == 'A' ? o->addrs : o->host_addrs)[(*n)++] = p;
		return 1;
	}
	case 't':
		o->trace = true;
		return 1;
	case 'v':
		o->verbose = o->verbose < 2 ? o->verbose + 1 : 2;
		return 1;
	case 'P':
		o->pcap = arg;
		return 1;
	default:
		return 0;
	}
}

static bool is_unusable_addr(const struct tw_addr *a)
{
	static const uint8_t zero[16];
	if (a->family == TW_AF_INET)
		return a->bytes[0] == 0 || a->bytes[0] == 127 || a->bytes[0] >= 224;
	return !memcmp(a->bytes, zero, 16) || a->bytes[0] == 0xff ||
	       (!memcmp(a->bytes, zero, 15) && a->bytes[15] == 1);
}

/*
 * The prefix's own address (all host bits 0: IPv4's network, IPv6's
 * subnet-router anycast, RFC 4291 2.6.1) or IPv4's broadcast (all 1), which
 * the kernel on the link will not treat as a host. /31 (RFC 3021) and
 * /32, /127, /128 have no such addresses.
 */
static bool is_prefix_edge(const struct net_prefix *p)
{
	size_t len = addr_len(&p->addr);
	if (p->len + 1 >= len * 8)
		return false;
	bool all_zero = true, all_one = true;
	for (unsigned bit = p->len; bit < len * 8; bit++) {
		bool set = p->addr.bytes[bit / 8] & (0x80 >> (bit % 8));
		all_zero &= !set;
		all_one &= set;
	}
	return all_zero || (all_one && p->addr.family == TW_AF_INET);
}

int net_check_opts(const struct net_opts *o, const char *cmd, FILE *err)
{
	char buf[INET6_ADDRSTRLEN];
	if (!o->tun) {
		fprintf(err, "threeway %s: --tun NAME is required (see threeway %s --help)\n", cmd, cmd);
		return 2;
	}
	if (o->n_addrs == 0) {
		fprintf(err, "threeway %s: --addr ADDR/LEN is required (see threeway %s --help)\n", cmd, cmd);
		return 2;
	}
	for (size_t i = 0; i < o->n_addrs; i++) {
		if (is_unusable_addr(&o->addrs[i].addr)) {
			fprintf(err, "threeway %s: --addr %s: not a unicast address a host can use\n", cmd,
				net_addr_str(&o->addrs[i].addr, buf, sizeof(buf)));
			return 2;
		}
		if (is_prefix_edge(&o->addrs[i])) {
			fprintf(err, "threeway %s: --addr %s/%u: the %s address of the prefix, not one a host can use\n",
				cmd, net_addr_str(&o->addrs[i].addr, buf, sizeof(buf)), o->addrs[i].len,
				o->addrs[i].addr.bytes[addr_len(&o->addrs[i].addr) - 1] & 1 ? "broadcast" : "network");
			return 2;
		}
	}
	return 0;
}

/* ----------------------------------------------------------- the interface */

static void report_tun_error(const struct net *n, const char *name, int e)
{
	const char *c = n->cmd;
	switch (-e) {
	case ENOENT:
	case ENODEV:
		fprintf(n->err, "threeway %s: no /dev/net/tun: this system has no TUN driver (modprobe tun)\n", c);
		break;
	case EPERM:
	case EACCES:
		fprintf(n->err, "threeway %s: not permitted to open TUN interface '%s': run as root "
				"(or with CAP_NET_ADMIN)\n", c, name);
		break;
	case EBUSY:
		fprintf(n->err, "threeway %s: TUN interface '%s' is taken: another process has it open\n", c, name);
		break;
	case EEXIST:
		fprintf(n->err, "threeway %s: the name '%s' is taken by an interface that is not a TUN device\n",
			c, name);
		break;
	case ENAMETOOLONG:
		fprintf(n->err, "threeway %s: interface name '%s' is too long (at most 15 characters)\n", c, name);
		break;
	case EINVAL:
		fprintf(n->err, "threeway %s: '%s' is not a valid interface name\n", c, name);
		break;
	default:
		fprintf(n->err, "threeway %s: cannot open TUN interface '%s': %s\n", c, name, strerror(-e));
	}
}

/* The kernel's side: its addresses on the link (which give it a route to ours), IPv6 on or off, up. */
static int configure_host_side(struct net *n, const struct net_opts *o)
{
	struct net_prefix host[NET_MAX_ADDRS];
	size_t n_host = o->n_host_addrs;
	char buf[INET6_ADDRSTRLEN];
	bool v6 = false;
	memcpy(host, o->host_addrs, sizeof(host));
	for (size_t i = 0; i < o->n_addrs; i++)
		v6 |= o->addrs[i].addr.family == TW_AF_INET6;
	/* An interface someone else set up keeps its addresses unless they are given. */
	if (n_host == 0 && tw_tun_created(n->tun)) {
		for (size_t i = 0; i < o->n_addrs; i++) {
			if (net_host_side(&o->addrs[i], &host[n_host])) {
				fprintf(n->err, "threeway %s: --addr %s/%u leaves no address for the host's side of "
						"the link: use a shorter prefix or --host-addr\n", n->cmd,
					net_addr_str(&o->addrs[i].addr, buf, sizeof(buf)), o->addrs[i].len);
				return 1;
			}
			n_host++;
		}
	}
	int r = 0;
	if (tw_tun_created(n->tun) || v6)
		r = tw_tun_set_ipv6(n->tun, v6);
	if (r && v6) {
		fprintf(n->err, "threeway %s: cannot enable IPv6 on '%s': %s\n", n->cmd, tw_tun_name(n->tun),
			strerror(-r));
		return 1;
	}
	for (size_t i = 0; i < n_host; i++) {
		r = tw_tun_add_host_addr(n->tun, &host[i].addr, host[i].len);
		if (r && r != -EEXIST) {
			fprintf(n->err, "threeway %s: cannot give '%s' the address %s/%u: %s\n", n->cmd,
				tw_tun_name(n->tun), net_addr_str(&host[i].addr, buf, sizeof(buf)), host[i].len,
				strerror(-r));
			return 1;
		}
	}
	if ((r = tw_tun_set_up(n->tun)) != 0) {
		fprintf(n->err, "threeway %s: cannot bring '%s' up: %s\n", n->cmd, tw_tun_name(n->tun), strerror(-r));
		return 1;
	}
	return 0;
}

/* ---------------------------------------------------------------- tracing */

/* The trace queue: 1 MiB of text, and as many packets as 64 bytes each would make. */
#define TRACE_QUEUE_BYTES (1u << 20)
#define TRACE_QUEUE_ITEMS (TRACE_QUEUE_BYTES / 64)

static void trace_queue_writable(struct tw_loop *l, int fd, unsigned events, void *ctx);

/* Writes what the queue holds, and watches the descriptor for room while anything is left. */
static void trace_queue_pump(struct net *n)
{
	int r = outq_flush(&n->tq);
	if (r < 0) {
		/* Said once; from here on every packet counts as dropped, and there is nothing to wait for. */
		if (!n->tq_reported)
			fprintf(n->err, "threeway %s: the trace output failed: %s; packets are no longer traced\n",
				n->cmd, strerror(-r));
		fflush(n->err);
		n->tq_reported = true;
		r = 0;
	}
	bool want = r > 0;
	if (want != n->tq_watching) {
		if (want)
			want = tw_loop_watch(n->loop, n->tq.fd, TW_POLLOUT, trace_queue_writable, n) == 0;
		else
			tw_loop_unwatch(n->loop, n->tq.fd);
		n->tq_watching = want;
	}
}

static void trace_queue_writable(struct tw_loop *l, int fd, unsigned events, void *ctx)
{
	(void)l;
	(void)fd;
	(void)events;
	trace_queue_pump(ctx);
}

static void trace_text(struct net *n, const char *text)
{
	if (!n->tq_on) {
		fputs(text, n->out);
		return;
	}
	outq_put(&n->tq, text, strlen(text));
	/* While the descriptor is watched for room, its callback writes what waits. */
	if (!n->tq_watching)
		trace_queue_pump(n);
}

static void trace_packet(void *ctx, uint64_t now, bool outbound, const uint8_t *pkt, size_t len)
{
	struct net *n = ctx;
	(void)now;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint32_t usec = (uint32_t)(ts.tv_nsec / 1000);
	if (n->tracer && n->tq_on && n->tq.error) {
		n->tq.dropped++;   /* the output is gone: not worth rendering */
	} else if (n->tracer) {
		const char *text = tw_trace_render(n->tracer, ts.tv_sec, usec, TW_LINK_RAW, pkt, len, len);
		trace_text(n, text ? text : "(out of memory)\n");
		if (n->after_trace)
			n->after_trace(n, outbound, pkt, len, n->trace_ctx);
		if (!n->tq_on)
			fflush(n->out);
	}
	if (n->pcap) {
		int e = tw_pcap_write(n->pcap, ts.tv_sec, usec, pkt, len);
		if (e) {
			fprintf(n->err, "threeway %s: %s: %s\n", n->cmd, n->pcap_path, strerror(-e));
			tw_pcap_close(n->pcap);
			n->pcap = NULL;
			n->rc = 1;
			tw_loop_stop(n->loop);
		}
	}
}

/*
 * A non-blocking descriptor for `out`. A pipe, a terminal or a FIFO is
 * opened again through /proc, which makes a description of its own, so
 * O_NONBLOCK does not reach the shell or others sharing the original; a
 * regular file, where writes do not block on a reader, is used as it is.
 * Else O_NONBLOCK is set on the original and put back at the end.
 */
static int open_trace_queue(struct net *n)
{
	int fd = fileno(n->out), qfd;
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb))
		return 0;   /* not a descriptor (a memory stream): written directly */
	fflush(n->out);
	if (S_ISREG(sb.st_mode)) {
		qfd = dup(fd);
	} else {
		char path[32];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		qfd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (qfd < 0 && (qfd = dup(fd)) >= 0) {
			int fl = fcntl(qfd, F_GETFL);
			if (fl >= 0 && !(fl & O_NONBLOCK) && fcntl(qfd, F_SETFL, fl | O_NONBLOCK) == 0)
				n->tq_restore_flags = fl;
		}
	}
	if (qfd < 0 || outq_init(&n->tq, qfd, TRACE_QUEUE_BYTES, TRACE_QUEUE_ITEMS)) {
		outq_fini(&n->tq);
		fprintf(n->err, "threeway %s: cannot set up the trace output: %s\n", n->cmd,
			qfd < 0 ? strerror(errno) : "out of memory");
		if (qfd >= 0)
			close(qfd);
		return 1;
	}
	n->tq_on = true;
	return 0;
}

static void close_trace_queue(struct net *n)
{
	if (!n->tq_on)
		return;
	if (n->tq_watching)
		tw_loop_unwatch(n->loop, n->tq.fd);
	outq_flush(&n->tq);
	outq_discard(&n->tq);
	if (n->tq_restore_flags >= 0)
		fcntl(n->tq.fd, F_SETFL, n->tq_restore_flags);
	close(n->tq.fd);
	outq_fini(&n->tq);
	n->tq_on = false;
	n->tq_restore_flags = -1;
	n->tq_watching = false;
}

void net_trace_drain(struct net *n, unsigned wait_ms)
{
	if (!n->tq_on)
		return;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (outq_flush(&n->tq) > 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long elapsed = (long)(now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed >= (long)wait_ms)
			break;
		struct pollfd p = { .fd = n->tq.fd, .events = POLLOUT };
		if (poll(&p, 1, (int)(wait_ms - (unsigned long)elapsed)) <= 0)
			break;
	}
	outq_discard(&n->tq);
}

void net_print_trace_drops(struct net *n, FILE *f)
{
	if (!n->tq_on)
		return;
	fprintf(f, "%llu packet%s dropped by tracer\n", (unsigned long long)n->tq.dropped, n->tq.dropped == 1 ? "" : "s");
	fflush(f);
}

static int open_trace(struct net *n, const struct net_opts *o)
{
	if (o->trace && n->trace_queue && !n->after_trace && open_trace_queue(n))
		return 1;
	if (o->trace) {
		struct tw_trace_config tc = {
			.verbose = o->verbose, .time = TW_TIME_OF_DAY, .time_of_day = cli_local_time_of_day,
		};
		if (!(n->tracer = tw_tracer_new(&tc))) {
			fprintf(n->err, "threeway %s: out of memory\n", n->cmd);
			return 1;
		}
	}
	if (o->pcap) {
		int e = 0;
		n->pcap_path = o->pcap;
		if (!(n->pcap = tw_pcap_create(o->pcap, TW_LINK_RAW, &e))) {
			fprintf(n->err, "threeway %s: %s: %s\n", n->cmd, o->pcap, strerror(-e));
			return 1;
		}
	}
	if (n->tracer || n->pcap)
		tw_loop_set_tap(n->loop, trace_packet, n);
	return 0;
}

/* ---------------------------------------------------------------- signals */

static void read_signals(struct tw_loop *l, int fd, unsigned events, void *ctx)
{
	struct net *n = ctx;
	struct signalfd_siginfo si;
	(void)l;
	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if (n->on_signal)
			n->on_signal(n, (int)si.ssi_signo, n->signal_ctx);
}

/* SIGINT, SIGTERM, SIGUSR1 and SIGCHLD arrive through the loop; SIGPIPE becomes EPIPE. */
static int open_signals(struct net *n)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGCHLD);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (n->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    tw_loop_watch(n->loop, n->sigfd, TW_POLLIN, read_signals, n) < 0) {
		fprintf(n->err, "threeway %s: cannot set up signals: %s\n", n->cmd, strerror(errno));
		return 1;
	}
	return 0;
}

int net_open(struct net *n, const struct net_opts *o, const struct tw_stack_config *base)
{
	char buf[INET6_ADDRSTRLEN];
	int e = 0;
	n->sigfd = -1;
	n->tq_restore_flags = -1;
	if (!(n->tun = tw_tun_open(o->tun, &e))) {
		report_tun_error(n, o->tun, e);
		return 1;
	}
	struct tw_stack_config cfg = *base;
	cfg.mtu = tw_tun_mtu(n->tun);
	cfg.n_addrs = o->n_addrs;
	for (size_t i = 0; i < o->n_addrs; i++) {
		cfg.addrs[i] = o->addrs[i].addr;
		if (o->addrs[i].addr.family == TW_AF_INET6 && cfg.mtu < 1280) {
			fprintf(n->err, "threeway %s: '%s' has MTU %u, below IPv6's 1280: cannot use %s\n", n->cmd,
				o->tun, cfg.mtu, net_addr_str(&o->addrs[i].addr, buf, sizeof(buf)));
			goto fail;
		}
	}
	if (configure_host_side(n, o))
		goto fail;
	if (!(n->st = tw_stack_new(&cfg, &e))) {
		fprintf(n->err, "threeway %s: cannot create the stack: %s\n", n->cmd, strerror(-e));
		goto fail;
	}
	if (!(n->loop = tw_loop_new(n->st, n->tun, &e))) {
		fprintf(n->err, "threeway %s: cannot create the event loop: %s\n", n->cmd, strerror(-e));
		goto fail;
	}
	if (open_trace(n, o) || open_signals(n))
		goto fail;
	return 0;
fail:
	net_close(n);
	return 1;
}

void net_close(struct net *n)
{
	if (n->pcap) {
		int e = tw_pcap_close(n->pcap);
		if (e) {
			fprintf(n->err, "threeway %s: %s: %s\n", n->cmd, n->pcap_path, strerror(-e));
			n->rc = 1;
		}
		n->pcap = NULL;
	}
	close_trace_queue(n);
	tw_loop_free(n->loop);
	tw_stack_free(n->st);
	tw_tun_close(n->tun);
	tw_tracer_free(n->tracer);
	if (n->sigfd >= 0)
		close(n->sigfd);
	n->loop = NULL;
	n->st = NULL;
	n->tun = NULL;
	n->tracer = NULL;
	n->sigfd = -1;
}

void net_print_stats(struct net *n, unsigned listeners, FILE *f)
{
	struct tw_stack_stats s;
	tw_stack_stats(n->st, &s);
	fprintf(f, "threeway %s: %u connections open (TIME-WAIT included), %u listening; %llu passive opens, "
		   "%llu active opens, %llu reset, %llu timed out; %llu segments in, %llu out, "
		   "%llu retransmitted; %llu pings answered; %llu datagrams reassembled; listeners: %llu SYNs received, "
		   "%llu SYN queue overflows, %llu cookies sent, %llu cookies valid, %llu cookies invalid; dropped:",
		n->cmd, s.conns - listeners, listeners, (unsigned long long)s.passive_opens,
		(unsigned long long)s.active_opens, (unsigned long long)s.conns_reset,
		(unsigned long long)s.conns_timed_out, (unsigned long long)s.in_segs,
		(unsigned long long)s.out_segs, (unsigned long long)s.retrans_segs,
		(unsigned long long)s.icmp_echo_replies, (unsigned long long)s.reass_ok,
		(unsigned long long)s.syns_received, (unsigned long long)s.syn_queue_overflows,
		(unsigned long long)s.cookies_sent, (unsigned long long)s.cookies_valid,
		(unsigned long long)s.cookies_invalid);
	/* Each reason the stack dropped packets for, by the name tw_drop_name gives it. */
	bool any = false;
	for (int why = 1; why < TW_DROP_COUNT; why++) {
		if (!s.drops[why])
			continue;
		fprintf(f, "%s %s %llu", any ? "," : "", tw_drop_name((enum tw_drop)why), (unsigned long long)s.drops[why]);
		any = true;
	}
	fprintf(f, "%s\n", any ? "" : " none");
	fflush(f);
}
