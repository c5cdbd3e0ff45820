/*
 * What the commands that run on a TUN interface share (serve, connect and
 * the demo): address arguments, opening and configuring the interface, the
 * stack and its event loop, signals, and the live trace.
 */
#ifndef THREEWAY_TOOLS_NET_H
#define THREEWAY_TOOLS_NET_H

#include <stdbool.h>
#include <stdio.h>

#include "outq.h"
#include "threeway.h"

#define NET_MAX_ADDRS 4

/* An address with its prefix length, as written "10.7.0.2/24". */
struct net_prefix {
	struct tw_addr addr;
	unsigned len;
};

/* 0, or -1 when `s` is not an IPv4 or IPv6 address followed by /LEN. */
int net_parse_prefix(const char *s, struct net_prefix *out);
/* 0, or -1 when `s` is not an IPv4 or IPv6 address. */
int net_parse_addr(const char *s, struct tw_addr *out);
/* "10.7.0.2" or "2001:db8::2". */
const char *net_addr_str(const struct tw_addr *a, char *buf, size_t cap);
/*
 * The address the host (the kernel) takes on the link for our prefix: the
 * lowest usable address in it other than ours. -1 when the prefix has room
 * for no other (a /32 or /128).
 */
int net_host_side(const struct net_prefix *ours, struct net_prefix *host);

struct net_opts {
	const char *tun;
	struct net_prefix addrs[NET_MAX_ADDRS];      /* the stack's own */
	size_t n_addrs;
	struct net_prefix host_addrs[NET_MAX_ADDRS]; /* the kernel's, when given */
	size_t n_host_addrs;
	bool trace;
	unsigned verbose;
	const char *pcap;
};

/*
 * Parses the options every TUN command takes (--tun, --addr, --host-addr,
 * --trace, -v, --pcap): returns 1 when `c` was one of them (with `arg` its
 * value), 0 when it was not, -1 after printing an error for a bad value.
 */
int net_take_option(struct net_opts *o, int c, const char *arg, const char *cmd, FILE *err);
/* getopt_long entries for those options, ending the caller's list (NULL-terminated). */
#define NET_LONG_OPTIONS \
	{ "tun", required_argument, NULL, 'T' }, \
	{ "addr", required_argument, NULL, 'A' }, \
	{ "host-addr", required_argument, NULL, 'H' }, \
	{ "trace", no_argument, NULL, 't' }, \
	{ "pcap", required_argument, NULL, 'P' }
#define NET_OPTIONS_HELP \
	"  --tun NAME        the TUN interface (created if missing; needs root)\n" \
	"  --addr ADDR/LEN   the stack's address and prefix, IPv4 or IPv6 (repeatable)\n" \
	"  --host-addr A/LEN the kernel's address on the link (default: for an interface\n" \
	"                    threeway creates, the lowest other address of each prefix)\n" \
	"  --trace           print each packet the stack sends or receives, as tcpdump\n" \
	"  -v                with --trace: IP header and checksums too (-vv: more)\n" \
	"  --pcap FILE       write the stack's packets to FILE (pcap, raw IP)\n"
/* Checks what the options must have (a TUN name and an address); prints why not. */
int net_check_opts(const struct net_opts *o, const char *cmd, FILE *err);

struct net;
/* Called on a signal the command handles: SIGINT, SIGTERM, SIGUSR1, SIGCHLD. */
typedef void (*net_signal_fn)(struct net *n, int signo, void *ctx);

struct net {
	const char *cmd;            /* "serve", "connect", "demo": for messages */
	FILE *out, *err;
	struct tw_tun *tun;
	struct tw_stack *st;
	struct tw_loop *loop;
	struct tw_tracer *tracer;
	struct tw_pcap *pcap;
	const char *pcap_path;
	int sigfd;
	net_signal_fn on_signal;
	void *signal_ctx;
	/* Called after each traced packet (the demo explains the handshake's three). */
	void (*after_trace)(struct net *n, bool outbound, const uint8_t *pkt, size_t len, void *ctx);
	void *trace_ctx;
	/*
	 * Set before net_open: the trace goes through a bounded queue to a
	 * non-blocking descriptor of `out`, so a slow reader, or none, never holds
	 * up the loop; packets that do not fit are dropped and counted. (Not with
	 * after_trace, whose text goes to `out` directly and would overtake it.)
	 */
	bool trace_queue;
	bool tq_on;                 /* the queue is in use (tq.fd is its own descriptor of `out`) */
	struct outq tq;
	int tq_restore_flags;       /* the file status flags to put back on `out`'s descriptor, or -1 */
	bool tq_watching;           /* for room to write */
	bool tq_reported;           /* that the output failed */
	int rc;                     /* set to non-zero by anything that failed */
};

/*
 * Opens the interface, configures the kernel's side of it, creates the stack
 * and its loop, and sets up signals and tracing. On failure prints one error
 * line, releases what was made and returns non-zero.
 */
int net_open(struct net *n, const struct net_opts *o, const struct tw_stack_config *base);
void net_close(struct net *n);
/* The stack's socket statistics in one line, for SIGUSR1 and the end of a run. */
void net_print_stats(struct net *n, unsigned listeners, FILE *f);
/* With a trace queue: "N packets dropped by tracer", as tcpdump says "packets dropped by kernel". */
void net_print_trace_drops(struct net *n, FILE *f);
/* Gives the trace queue up to `wait_ms` to empty (at the end of a run); what is left is dropped. */
void net_trace_drain(struct net *n, unsigned wait_ms);

#endif
