/*
 * threeway: a userspace TCP/IP stack built around the three-way handshake.
 *
 * The public API. Every symbol starts with tw_; errors are negative errno
 * values. The library keeps no global state and never reads a clock: time
 * is passed in.
 */
#ifndef THREEWAY_H
#define THREEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TW_BUILDING_LIBRARY) && defined(__GNUC__)
#define TW_API __attribute__((visibility("default")))
#else
#define TW_API
#endif

/* The library's version, "MAJOR.MINOR.PATCH". */
TW_API const char *tw_version(void);

/* ------------------------------------------------------------------ tracing */

/* Link types, as numbered in pcap files (LINKTYPE_*). */
enum tw_linktype {
	TW_LINK_ETHERNET = 1,
	TW_LINK_RAW = 101,          /* IPv4 or IPv6, told apart by the version nibble */
	TW_LINK_LINUX_SLL = 113,
	TW_LINK_LINUX_SLL2 = 276,
};

/* Is `linktype` one the tracer renders? DLT_RAW's other numbers (12, 14) count. */
TW_API bool tw_trace_linktype_supported(int linktype);

enum tw_trace_time {
	TW_TIME_OF_DAY = 0,         /* 13:13:28.198284 (tcpdump's default) */
	TW_TIME_EPOCH,              /* 1700000000.198284 (tcpdump -tt) */
	TW_TIME_NONE,               /* no timestamp (tcpdump -t) */
};

struct tw_trace_config {
	unsigned verbose;           /* 0, 1 (-v) or 2 (-vv) */
	bool absolute_seq;          /* -S: no relative sequence numbers */
	enum tw_trace_time time;
	/*
	 * Seconds since local midnight for a Unix time, for TW_TIME_OF_DAY.
	 * NULL prints UTC. The library reads no clock or time zone itself.
	 */
	uint32_t (*time_of_day)(int64_t unix_sec, void *ctx);
	/* Interface name for an index (Linux SLL2 headers); NULL prints "?". */
	const char *(*ifname)(uint32_t ifindex, void *ctx);
	void *ctx;
};

struct tw_tracer;

/* A tracer keeps per-connection state for relative sequence numbers. NULL on no memory. */
TW_API struct tw_tracer *tw_tracer_new(const struct tw_trace_config *cfg);
TW_API void tw_tracer_free(struct tw_tracer *tr);

/*
 * Renders one captured packet the way tcpdump 4.99 prints it with -nn and the
 * configured flags: one or two lines, each ending in '\n'. `caplen` bytes are
 * at `pkt`; `wirelen` is the packet's length on the wire. Returns the text,
 * owned by the tracer and valid until the next call, or NULL on no memory.
 * Any bytes at all are safe to render.
 */
TW_API const char *tw_trace_render(struct tw_tracer *tr, int64_t sec, uint32_t usec, int linktype,
				   const uint8_t *pkt, size_t caplen, size_t wirelen);

/* ------------------------------------------------------------- pcap writing */

struct tw_pcap;

/*
 * Creates a classic pcap file (microsecond timestamps) with the given link
 * type, TW_LINK_RAW for the stack's own IP packets. NULL with *err = -errno.
 */
TW_API struct tw_pcap *tw_pcap_create(const char *path, int linktype, int *err);
/* Appends one packet. 0 or -errno. */
TW_API int tw_pcap_write(struct tw_pcap *p, int64_t sec, uint32_t usec, const uint8_t *pkt, size_t len);
/* Flushes and closes; 0 or -errno. NULL is accepted. */
TW_API int tw_pcap_close(struct tw_pcap *p);

/* ------------------------------------------------------------------- stack */

/*
 * One TCP/IP stack: its addresses, its connections, its timers. Single-
 * threaded; no global state. The host feeds it packets (tw_input) and time
 * (tw_poll); it emits packets through the output callback. Every call that
 * may send uses the time of the last tw_input or tw_poll call, so a host
 * calls tw_poll(now) before acting on a stack whose clock has moved.
 * Times are microseconds on any monotonic clock the host chooses.
 */
struct tw_stack;
/* A socket: a listener or a connection. Owned by the stack; valid until tw_close or tw_abort. */
struct tw_sock;

enum { TW_AF_INET = 4, TW_AF_INET6 = 6 };

struct tw_addr {
	uint8_t family;             /* TW_AF_INET or TW_AF_INET6 */
	uint8_t bytes[16];          /* network order; IPv4 uses the first 4 */
};

struct tw_endpoint {
	struct tw_addr addr;
	uint16_t port;              /* host order */
};

/*
 * Emits one IP packet; the bytes are valid only during the call. It is
 * called from inside the stack, so it must not call back into the stack.
 */
typedef void (*tw_output_fn)(void *ctx, const uint8_t *pkt, size_t len);

#define TW_MAX_ADDRS 8

/* When a listener answers a SYN with a SYN cookie instead of keeping state (Linux's tcp_syncookies). */
enum tw_syncookies {
	TW_SYNCOOKIES_OFF = 0,       /* never: a SYN that finds the SYN queue full is dropped */
	TW_SYNCOOKIES_ON_OVERFLOW,   /* when the SYN queue is full (the default, as Linux's 1) */
	TW_SYNCOOKIES_ALWAYS,        /* for every SYN: no half-open state at all (Linux's 2) */
};

struct tw_event;
/*
 * Sees what happens inside the stack as it happens: state changes,
 * retransmissions, drops with their reason (struct tw_event). It is called
 * from inside the stack, like the output callback, so it must not call back
 * into the stack; `ev` is valid only during the call.
 */
typedef void (*tw_event_fn)(void *ctx, const struct tw_event *ev);

/*
 * Structs the caller allocates and the library reads or fills carry their
 * size, so a program built against an older threeway.h keeps working with a
 * newer library: fields are only ever added at the end, and the library
 * reads and writes no more than the caller's size. Fill a config with
 * tw_stack_config_init, which sets `size`.
 */
struct tw_stack_config {
	uint32_t size;                  /* sizeof(struct tw_stack_config) as the caller knows it */
	struct tw_addr addrs[TW_MAX_ADDRS];  /* the stack's own addresses */
	size_t n_addrs;
	uint32_t mtu;                   /* IP MTU of the link; MSS = MTU - 40 (IPv4) or - 60 (IPv6) */
	uint8_t secret[16];             /* keys ISNs, timestamp offsets, ports, hashing */
	bool secret_fixed;              /* false: tw_stack_new draws the secret from the OS */
	tw_output_fn output;
	void *output_ctx;

	uint32_t max_conns;             /* connections of every state, listeners included */
	uint32_t rcvbuf, sndbuf;        /* default buffer sizes of a connection, bytes */
	uint32_t rcvbuf_max;            /* largest receive buffer: sets the window scale */
	uint32_t rcv_space_initial;     /* the receive space a SYN's window is cut from (Linux: tcp_rmem[1] / 2) */
	bool sack, timestamps, window_scaling;  /* what the stack offers in its SYNs */
	uint16_t min_snd_mss;           /* a peer's smaller MSS is raised to this */
	uint32_t init_cwnd;             /* initial window, segments (RFC 6928) */

	uint32_t syn_retries;           /* SYN retransmissions before -ETIMEDOUT */
	uint32_t synack_retries;        /* SYN-ACK retransmissions before giving up */
	uint32_t data_retries;          /* retransmissions of data before -ETIMEDOUT */
	uint32_t rto_initial_us, rto_min_us, rto_max_us;   /* RFC 6298 */
	uint32_t syn_linear_retries;    /* first N SYN retransmissions do not back off */
	uint32_t delack_us;             /* delayed ACK timeout */
	uint32_t quickack_segs;         /* segments ACKed at once at connection start */
	uint32_t time_wait_us;          /* TIME-WAIT, 2 MSL */
	uint32_t fin_wait2_us;          /* an orphaned FIN-WAIT-2 gives up after this */
	uint32_t challenge_ack_interval_us;  /* per connection: at most one challenge ACK per interval */
	uint32_t keepalive_idle_s, keepalive_intvl_s, keepalive_probes;
	uint32_t probe_max_us;          /* largest zero-window probe interval */
	bool slow_start_after_idle;     /* cwnd restarts after an idle RTO (RFC 5681 4.1; Linux's tcp_slow_start_after_idle) */
	tw_event_fn event;              /* NULL: no events */
	void *event_ctx;
	uint8_t syncookies;             /* enum tw_syncookies: when SYN cookies answer SYNs (RFC 4987 3.6) */
	bool rfc1337;                   /* a RST does not end TIME-WAIT (RFC 1337); false as Linux's tcp_rfc1337 */
	uint64_t buffer_max_bytes;      /* all connections' buffered data together, at most (Linux's tcp_mem); 0: no bound */
	/* IP reassembly (RFC 791 3.2, RFC 8200 4.5); either bound 0 turns it off and every fragment is dropped. */
	uint64_t reass_max_bytes;       /* memory for datagrams in reassembly, at most (Linux's ipfrag_high_thresh, 4 MiB) */
	uint32_t reass_max_datagrams;   /* datagrams in reassembly at once, at most */
	uint32_t reass_timeout_us;      /* IPv4: a datagram not whole by then is given up (Linux's ipfrag_time, 30 s) */
	uint32_t reass6_timeout_us;     /* IPv6: the same, RFC 8200 4.5's 60 s (Linux's ip6frag_time) */
};

/*
 * Fills the first `size` bytes of `cfg` with the defaults, which are
 * Linux's, and sets cfg->size. Call it through tw_stack_config_init.
 */
TW_API void tw_stack_config_init_sized(struct tw_stack_config *cfg, size_t size);
#define tw_stack_config_init(cfg) tw_stack_config_init_sized((cfg), sizeof(*(cfg)))
/*
 * NULL with *err = -EINVAL (bad config, or cfg->size not set by
 * tw_stack_config_init), -E2BIG (a config from a newer threeway.h with
 * settings this library does not have), -ENOMEM, or the OS's error drawing
 * the secret. Settings past cfg->size take their defaults.
 */
TW_API struct tw_stack *tw_stack_new(const struct tw_stack_config *cfg, int *err);
/* Frees the stack and every socket in it, sending nothing. */
TW_API void tw_stack_free(struct tw_stack *st);
TW_API void tw_stack_set_output(struct tw_stack *st, tw_output_fn output, void *ctx);
/* Subscribes to the stack's events (NULL unsubscribes); replaces cfg.event. */
TW_API void tw_stack_set_event_hook(struct tw_stack *st, tw_event_fn fn, void *ctx);

/*
 * Feeds one received IP packet at time `now`. Returns 0 when the packet was
 * taken, or a negative TW_DROP_* reason when it was dropped (counted in the
 * stack's statistics).
 */
TW_API int tw_input(struct tw_stack *st, const uint8_t *pkt, size_t len, uint64_t now);

/* Runs the timers due at `now`; returns the next deadline, UINT64_MAX for none. */
TW_API uint64_t tw_poll(struct tw_stack *st, uint64_t now);

/* Why a received packet was dropped: tw_input's result, a counter each, and TW_EVENT_DROP. */
enum tw_drop {
	/* The IP layer */
	TW_DROP_IP_MALFORMED = 1,   /* the IP header fails to parse: version, lengths, header checksum */
	TW_DROP_NOT_LOCAL,          /* not to one of the stack's addresses */
	TW_DROP_BAD_SOURCE,         /* from multicast, broadcast, "this network", loopback, :: or our own address */
	TW_DROP_PROTOCOL,           /* neither TCP nor ICMP */
	TW_DROP_FRAGMENT,           /* an IP fragment, with reassembly off (reass_max_bytes or reass_max_datagrams 0) */
	TW_DROP_ICMP_MALFORMED,     /* an ICMP message too short or with a bad checksum */
	TW_DROP_ICMP_IGNORED,       /* ICMP other than an echo request */
	TW_DROP_ICMP_TOO_BIG,       /* an echo request whose reply would not fit the MTU */
	/* TCP, before a connection is found */
	TW_DROP_TCP_MALFORMED,      /* the TCP header or its options fail to parse */
	TW_DROP_TCP_CHECKSUM,       /* the TCP checksum does not verify */
	TW_DROP_BAD_PORT,           /* source or destination port 0 */
	TW_DROP_NO_SOCKET,          /* no connection or listener (answered with RST unless a RST) */
	/* A listener (RFC 9293 3.10.7.2) */
	TW_DROP_LISTEN_RST,         /* a RST: ignored */
	TW_DROP_LISTEN_ACK,         /* an ACK: answered with RST */
	TW_DROP_LISTEN_NOT_SYN,     /* no SYN, or SYN with FIN */
	TW_DROP_SYN_QUEUE_FULL,     /* the listener's SYN queue is full */
	TW_DROP_ACCEPT_QUEUE_FULL,  /* the listener's accept queue is full */
	TW_DROP_NO_MEMORY,          /* connection limit reached, or no memory for the connection */
	/* A connection (RFC 9293 3.10.7.3, 3.10.7.4) */
	TW_DROP_BAD_ACK,            /* acknowledges what was never sent (SYN-SENT, SYN-RECEIVED): RST */
	TW_DROP_BAD_RST,            /* a RST that may not reset: no ACK in SYN-SENT, not at RCV.NXT in TIME-WAIT */
	TW_DROP_NOT_SYN,            /* SYN-SENT: neither SYN nor RST */
	TW_DROP_PAWS,               /* RFC 7323 PAWS: an old timestamp */
	TW_DROP_OUT_OF_WINDOW,      /* outside the receive window (RFC 9293's acceptability test) */
	TW_DROP_NO_ACK,             /* a segment without ACK in a synchronized state */
	TW_DROP_RST_CHALLENGED,     /* RFC 5961 3.2: an in-window RST not at RCV.NXT, answered with a challenge ACK */
	TW_DROP_SYN_CHALLENGED,     /* RFC 5961 4.2: a SYN in a synchronized state, answered with a challenge ACK */
	TW_DROP_ACK_OUT_OF_RANGE,   /* RFC 5961 5.2: an ACK of what was never sent or long acknowledged, answered with an ACK */
	TW_DROP_TIME_WAIT_RST,      /* RFC 1337: a RST to TIME-WAIT, ignored with rfc1337 on */
	/* IP reassembly */
	TW_DROP_FRAG_OVERLAP,       /* overlaps a fragment held: the whole datagram is dropped (RFC 5722; IPv4 too, as Linux) */
	TW_DROP_FRAG_DUPLICATE,     /* the exact duplicate of a fragment held: ignored, the datagram kept (RFC 8200 4.5) */
	TW_DROP_FRAG_TINY,          /* RFC 1858: a first fragment cutting the TCP header, or TCP at offset 8 */
	TW_DROP_FRAG_TOO_BIG,       /* would reassemble past 65,535 bytes (ping of death) */
	TW_DROP_FRAG_UNALIGNED,     /* more fragments follow, yet its length is not a multiple of 8 */
	TW_DROP_FRAG_BAD_LENGTH,    /* empty, past the end the last fragment set, or a last fragment ending elsewhere */
	TW_DROP_FRAG_NO_ROOM,       /* reass_max_bytes or reass_max_datagrams reached */
	TW_DROP_FRAG_TIMEOUT,       /* a datagram not whole in time, its fragments given up (counted once) */
	TW_DROP_COUNT
};
/* Room for drop reasons in tw_stack_stats, so new reasons do not move the fields after it. */
#define TW_DROP_SLOTS 48
/* "ip-malformed", "no-socket", ...: a short name for logs and counters; "?" for others. */
TW_API const char *tw_drop_name(enum tw_drop why);

struct tw_stack_stats {
	uint64_t in_segs, out_segs, retrans_segs, out_rsts;
	uint64_t drops[TW_DROP_SLOTS];   /* by enum tw_drop */
	uint64_t challenge_acks;
	uint64_t icmp_echo_replies; /* pings answered (RFC 1122 3.2.2.6, RFC 4443 4.2) */
	uint64_t timeouts;          /* retransmission timer expiries (data, not SYNs) */
	uint64_t recoveries;        /* fast retransmit / loss recovery episodes */
	uint64_t active_opens, passive_opens, conns_established, conns_reset, conns_timed_out;
	uint32_t conns;             /* sockets alive now, TIME-WAIT and listeners included */
	uint32_t buffer_chunks;     /* buffer chunks in use now (send and receive data, segment records) */
	uint64_t buffer_chunks_allocated;   /* chunks the stack ever took from the C library */
	uint64_t buffer_refusals;   /* chunks refused at buffer_max_bytes: data not taken, to come again */
	/* Listeners (RFC 4987): */
	uint64_t syns_received;     /* SYNs that reached a listener */
	uint64_t syn_queue_overflows;   /* of those, SYNs that found the SYN queue full */
	uint64_t cookies_sent;      /* SYN-ACKs that carried a SYN cookie */
	uint64_t cookies_valid;     /* third segments whose cookie checked */
	uint64_t cookies_invalid;   /* ACKs to a listener that sent cookies, whose cookie did not */
	/* At buffer_max_bytes, out-of-order data given up so that in-order data could be taken: */
	uint64_t ooo_pruned;        /* ranges given up (Linux's OFOPruned) */
	uint64_t ooo_pruned_bytes;  /* their bytes, to come again from the peer */
	/* IP reassembly: */
	uint64_t frags_received;    /* fragments for the stack's addresses (Linux's ReasmReqds) */
	uint64_t reass_ok;          /* datagrams reassembled whole (ReasmOKs) */
	uint64_t reass_timeouts;    /* datagrams given up at the timeout (ReasmTimeout) */
	uint64_t icmp_errors_sent;  /* ICMP time exceeded (reassembly) and ICMPv6 parameter problems */
	uint64_t reass_bytes;       /* memory held now by datagrams in reassembly, as reass_max_bytes counts it */
	uint32_t reass_datagrams;   /* datagrams in reassembly now */
};
/* Copies the first `size` bytes of the counters; call it through tw_stack_stats. */
TW_API void tw_stack_stats_sized(const struct tw_stack *st, struct tw_stack_stats *out, size_t size);
#define tw_stack_stats(st, out) tw_stack_stats_sized((st), (out), sizeof(*(out)))

/* Is this IP packet addressed to one of the stack's addresses? (Looks at the header only.) */
TW_API bool tw_stack_is_local(const struct tw_stack *st, const uint8_t *pkt, size_t len);

/* ------------------------------------------------------------------ sockets */

enum tw_state {
	TW_CLOSED = 0, TW_LISTEN, TW_SYN_SENT, TW_SYN_RECEIVED, TW_ESTABLISHED,
	TW_FIN_WAIT_1, TW_FIN_WAIT_2, TW_CLOSE_WAIT, TW_CLOSING, TW_LAST_ACK, TW_TIME_WAIT,
};
/* "ESTABLISHED", "SYN-SENT", ... as RFC 9293 names them. */
TW_API const char *tw_state_name(enum tw_state s);

/* ------------------------------------------------------------------ events */

enum tw_event_type {
	TW_EVENT_STATE = 1,         /* a connection changed state: old_state -> new_state */
	TW_EVENT_RETRANSMIT,        /* sequence space sent again: seq, len (SYN and FIN count one), why */
	TW_EVENT_DROP,              /* a received packet was dropped: drop */
};

enum tw_rtx_reason {
	TW_RTX_TIMEOUT = 1,         /* the retransmission timer (RFC 6298 5.4) */
	TW_RTX_FAST,                /* the third duplicate ACK or SACKed data (RFC 5681 3.2, RFC 6675) */
	TW_RTX_RECOVERY,            /* a further hole during recovery (RFC 6675 NextSeg, RFC 6582 partial ACK) */
	TW_RTX_SYN,                 /* a SYN or SYN-ACK again */
};

struct tw_event {
	uint32_t size;              /* sizeof(struct tw_event) in the library: fields past it do not exist */
	enum tw_event_type type;
	uint64_t now;               /* the stack's clock */
	/*
	 * The connection concerned, or NULL (a drop with no connection). It
	 * identifies the connection only: the application may no longer hold
	 * it, and the hook must not call the API with it.
	 */
	const struct tw_sock *sock;
	struct tw_endpoint local, remote;   /* addr.family 0 when not known */
	enum tw_state old_state, new_state; /* TW_EVENT_STATE */
	uint32_t seq, len;          /* TW_EVENT_RETRANSMIT */
	enum tw_rtx_reason rtx;     /* TW_EVENT_RETRANSMIT */
	enum tw_drop drop;          /* TW_EVENT_DROP */
};

/* Readiness, as poll(2) reports it. */
enum {
	TW_POLLIN = 0x001, TW_POLLOUT = 0x004, TW_POLLERR = 0x008, TW_POLLHUP = 0x010,
	TW_POLLRDHUP = 0x2000,
};

/*
 * Called when a socket's readiness may have changed; `events` is tw_events().
 * Callbacks run at the end of tw_input and tw_poll, after the stack has
 * finished with the packet or timers, so a callback may call any tw_*
 * function: accept, read, write, close or abort any socket, open new ones.
 */
typedef void (*tw_sock_cb)(struct tw_sock *s, unsigned events, void *ctx);

/* A new socket in CLOSED. NULL with *err = -ENOMEM or -EMFILE (max_conns). */
TW_API struct tw_sock *tw_socket(struct tw_stack *st, int *err);
/* Local address and port; port 0 picks one at listen or connect. -EADDRINUSE, -EADDRNOTAVAIL, -EINVAL. */
TW_API int tw_bind(struct tw_sock *s, const struct tw_endpoint *local);
/* Starts listening with room for `backlog` connections waiting in accept (and as many half-open). */
TW_API int tw_listen(struct tw_sock *s, int backlog);
/* A connection from the accept queue, or NULL with *err = -EAGAIN (none yet) or -EINVAL. */
TW_API struct tw_sock *tw_accept(struct tw_sock *listener, struct tw_endpoint *peer, int *err);
/*
 * Starts an active open: sends the SYN and returns -EINPROGRESS. Completion
 * shows as TW_POLLOUT; failure as TW_POLLERR with tw_sock_error() giving
 * -ECONNREFUSED, -ETIMEDOUT or -ECONNRESET.
 */
TW_API int tw_connect(struct tw_sock *s, const struct tw_endpoint *remote);

enum { TW_MSG_DONTWAIT = 0x40, TW_MSG_MORE = 0x8000, TW_MSG_PEEK = 0x2 };
/*
 * Queues up to `len` bytes; returns how many, -EAGAIN when the buffer is full or the stack's
 * buffer_max_bytes is reached (TW_POLLOUT shows again when there is room), -EPIPE after shutdown.
 */
TW_API long tw_send(struct tw_sock *s, const void *buf, size_t len, int flags);
/* Reads up to `len` bytes; 0 at end of stream; -EAGAIN when nothing is there yet. */
TW_API long tw_recv(struct tw_sock *s, void *buf, size_t len, int flags);

enum { TW_SHUT_RD = 0, TW_SHUT_WR = 1, TW_SHUT_RDWR = 2 };
TW_API int tw_shutdown(struct tw_sock *s, int how);
/*
 * Releases the socket. The connection closes gracefully (FIN after queued
 * data) unless data sent by the peer is unread or linger 0 is set, which
 * reset it (RFC 2525 2.17). The handle is invalid afterwards.
 */
TW_API int tw_close(struct tw_sock *s);
/* Resets the connection (RST) and releases the socket. */
TW_API void tw_abort(struct tw_sock *s);

TW_API unsigned tw_events(const struct tw_sock *s);
TW_API void tw_set_callback(struct tw_sock *s, tw_sock_cb cb, void *ctx);
/* The pending error (0 if none) as a negative errno, cleared by the call (SO_ERROR). */
TW_API int tw_sock_error(struct tw_sock *s);
/* Bytes readable now (SIOCINQ). */
TW_API size_t tw_readable(const struct tw_sock *s);

enum tw_sockopt {
	TW_SO_RCVBUF = 1, TW_SO_SNDBUF, TW_SO_KEEPALIVE, TW_SO_LINGER0, TW_SO_REUSEADDR,
	TW_TCP_NODELAY, TW_TCP_CORK, TW_TCP_MAXSEG, TW_TCP_USER_TIMEOUT,   /* ms */
	TW_TCP_KEEPIDLE, TW_TCP_KEEPINTVL, TW_TCP_KEEPCNT,                  /* s, s, count */
};
TW_API int tw_setsockopt(struct tw_sock *s, enum tw_sockopt opt, int value);
TW_API int tw_getsockopt(const struct tw_sock *s, enum tw_sockopt opt, int *value);

/* Where a sender is in loss recovery (Linux's ca_state). */
enum tw_recovery {
	TW_RECOVERY_OPEN = 0,       /* no loss suspected */
	TW_RECOVERY_DISORDER,       /* duplicate ACKs or SACKs seen, not yet a loss */
	TW_RECOVERY_FAST,           /* fast recovery after a loss (RFC 6675, RFC 6582) */
	TW_RECOVERY_LOSS,           /* after a retransmission timeout, until its recovery point is ACKed */
};

struct tw_conn_info {
	enum tw_state state;
	struct tw_endpoint local, remote;
	uint32_t iss, irs;          /* our and the peer's initial sequence numbers */
	uint32_t snd_una, snd_nxt, rcv_nxt;
	uint16_t snd_mss;           /* what we send: the peer's MSS, bounded by ours */
	uint16_t rcv_mss;           /* what we advertised */
	int8_t snd_wscale, rcv_wscale;   /* -1: window scaling is off */
	bool sack, timestamps;
	uint32_t snd_wnd, rcv_wnd;  /* bytes */
	uint32_t cwnd, ssthresh;    /* bytes */
	uint32_t srtt_us, rttvar_us, rto_us;   /* srtt 0: no sample yet */
	uint64_t bytes_sent, bytes_received, retransmits;
	enum tw_recovery recovery;  /* the loss-recovery state */
	char cc[16];                /* the congestion control algorithm: "newreno" */
};
/* Fills the first `size` bytes; call it through tw_conn_info. 0, or -EINVAL. */
TW_API int tw_conn_info_sized(const struct tw_sock *s, struct tw_conn_info *out, size_t size);
#define tw_conn_info(s, out) tw_conn_info_sized((s), (out), sizeof(*(out)))

/* ------------------------------------------------------------ in-memory link */

/*
 * An in-memory link joining two stacks, with seeded impairments, and a
 * virtual clock that jumps from one event to the next, so minutes of
 * protocol time take milliseconds.
 */
struct tw_pipe;

struct tw_impairment {
	double loss;                /* probability that a packet is dropped */
	double duplicate;           /* ... that a second copy is delivered */
	double reorder;             /* ... that a packet is held back behind later ones */
	double corrupt;             /* ... that 1 or 2 bytes are changed, always so checksums catch it */
	uint32_t delay_us;          /* one-way delay */
	uint32_t jitter_us;         /* extra delay, uniform in [0, jitter] */
	uint32_t reorder_us;        /* how long a reordered packet is held back extra */
	uint32_t mtu;               /* larger packets are dropped; 0 for no limit */
};

struct tw_pipe_config {
	uint64_t seed;
	struct tw_impairment a_to_b, b_to_a;
};

/* Joins `a` and `b`, taking over their output callbacks. NULL on no memory. */
TW_API struct tw_pipe *tw_pipe_new(const struct tw_pipe_config *cfg, struct tw_stack *a, struct tw_stack *b);
TW_API void tw_pipe_free(struct tw_pipe *p);
/* The virtual clock, microseconds; starts at `start` given here (default 0). */
TW_API uint64_t tw_pipe_now(const struct tw_pipe *p);
TW_API void tw_pipe_set_now(struct tw_pipe *p, uint64_t now);

/* Sees every packet a stack sends, before impairment: `from_a` tells the direction. */
typedef void (*tw_pipe_tap_fn)(void *ctx, uint64_t now, bool from_a, const uint8_t *pkt, size_t len);
TW_API void tw_pipe_set_tap(struct tw_pipe *p, tw_pipe_tap_fn tap, void *ctx);

/*
 * Runs the clock forward, delivering packets and firing both stacks' timers,
 * until `done(ctx)` returns true (checked after every event) or the clock
 * would pass `until`. Returns true if `done` was reached.
 */
TW_API bool tw_pipe_run(struct tw_pipe *p, uint64_t until, bool (*done)(void *ctx), void *ctx);

struct tw_pipe_stats {
	uint64_t sent, delivered, lost, duplicated, reordered, corrupted, too_big;
};
TW_API void tw_pipe_stats(const struct tw_pipe *p, bool from_a, struct tw_pipe_stats *out);

/* ------------------------------------------------------- TUN link (Linux) */

/*
 * A Linux TUN interface carrying the stack's IP packets to and from the
 * kernel (IFF_TUN, no packet-information header). Opening needs root or
 * CAP_NET_ADMIN.
 */
struct tw_tun;

/*
 * Opens the TUN interface `name`, creating it if it does not exist; its file
 * descriptor is non-blocking. NULL with *err = -errno: -ENOENT (no
 * /dev/net/tun), -EPERM (no privilege), -EBUSY (another process has it),
 * -EEXIST (the name belongs to an interface that is not a TUN device),
 * -ENAMETOOLONG or -EINVAL (a bad name).
 */
TW_API struct tw_tun *tw_tun_open(const char *name, int *err);
TW_API void tw_tun_close(struct tw_tun *t);
TW_API int tw_tun_fd(const struct tw_tun *t);
TW_API const char *tw_tun_name(const struct tw_tun *t);
/* The interface's MTU as the kernel had it when opened: the stack's tw_stack_config.mtu. */
TW_API uint32_t tw_tun_mtu(const struct tw_tun *t);
/* Did tw_tun_open create the interface (rather than attach to an existing one)? */
TW_API bool tw_tun_created(const struct tw_tun *t);
/* One packet into `buf`: its length, or -EAGAIN when none is waiting, or -errno. */
TW_API long tw_tun_read(struct tw_tun *t, uint8_t *buf, size_t cap);
/* One packet to the kernel; 0 or -errno. */
TW_API int tw_tun_write(struct tw_tun *t, const uint8_t *pkt, size_t len);
/* Brings the interface up. 0 or -errno. */
TW_API int tw_tun_set_up(struct tw_tun *t);
/* Turns the kernel's IPv6 on the interface on (without duplicate address detection) or off. */
TW_API int tw_tun_set_ipv6(struct tw_tun *t, bool enabled);
/* Gives the kernel's side of the link an address and prefix (its route to the stack). 0 or -errno. */
TW_API int tw_tun_add_host_addr(struct tw_tun *t, const struct tw_addr *addr, unsigned prefix_len);

/* ------------------------------------------------------ event loop (Linux) */

/*
 * An epoll loop that drives one stack: packets from a TUN interface, the
 * stack's timers, and the application's own file descriptors. It reads
 * CLOCK_MONOTONIC and passes the time to the stack, in microseconds.
 * Socket callbacks (tw_set_callback) run from inside the loop as usual.
 */
struct tw_loop;

/* Called when a watched descriptor is ready: TW_POLLIN, TW_POLLOUT, TW_POLLERR, TW_POLLHUP. */
typedef void (*tw_loop_fd_fn)(struct tw_loop *l, int fd, unsigned events, void *ctx);
/* Sees each packet the stack sends (outbound) or receives for its own addresses. */
typedef void (*tw_loop_tap_fn)(void *ctx, uint64_t now, bool outbound, const uint8_t *pkt, size_t len);

/* Takes over the stack's output callback. NULL with *err = -errno. */
TW_API struct tw_loop *tw_loop_new(struct tw_stack *st, struct tw_tun *tun, int *err);
TW_API void tw_loop_free(struct tw_loop *l);
/*
 * Watches `fd` for TW_POLLIN and/or TW_POLLOUT (again for the same fd: new
 * events and callback). -EPERM for a regular file, which is always ready.
 */
TW_API int tw_loop_watch(struct tw_loop *l, int fd, unsigned events, tw_loop_fd_fn fn, void *ctx);
/* Stops watching `fd`; safe from inside any callback. */
TW_API void tw_loop_unwatch(struct tw_loop *l, int fd);
TW_API void tw_loop_set_tap(struct tw_loop *l, tw_loop_tap_fn tap, void *ctx);
/*
 * Runs until tw_loop_stop() or until the clock reaches `until` (UINT64_MAX:
 * no limit). 0, or -errno when waiting or reading the interface failed.
 */
TW_API int tw_loop_run(struct tw_loop *l, uint64_t until);
TW_API void tw_loop_stop(struct tw_loop *l);
/* The loop's clock, microseconds (CLOCK_MONOTONIC), as last read. */
TW_API uint64_t tw_loop_now(const struct tw_loop *l);

struct tw_loop_stats {
	uint64_t packets_in, packets_out, write_errors;
};
TW_API void tw_loop_stats(const struct tw_loop *l, struct tw_loop_stats *out);

#ifdef __cplusplus
}
#endif

#endif
