/*
 * The connection engine's internals: the stack object, the control block,
 * and the functions the engine's files share. The public face is
 * include/threeway.h, implemented in src/api/ on top of these.
 *
 * Field names follow RFC 9293 3.3.1: snd.una, snd.nxt, snd.wnd, snd.wl1,
 * snd.wl2, iss, rcv.nxt, rcv.wnd, irs.
 */
#ifndef THREEWAY_TCP_H
#define THREEWAY_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip/ip.h"
#include "threeway.h"
#include "wire/wire.h"

/* ------------------------------------------------------------ control block */

/* Connection flags (tcp_conn.flags). */
enum {
	TF_SACK = 1u << 0,          /* both SYNs carried SACK-permitted */
	TF_TS = 1u << 1,            /* both SYNs carried timestamps */
	TF_WSCALE = 1u << 2,        /* both SYNs carried window scale */
	TF_ORPHAN = 1u << 3,        /* the application closed the socket */
	TF_FIN_QUEUED = 1u << 4,    /* send a FIN after the queued data */
	TF_FIN_SENT = 1u << 5,      /* our FIN has been sent (at snd.max - 1) */
	TF_RD_SHUT = 1u << 6,       /* the application will read no more */
	TF_ACK_NOW = 1u << 7,       /* an ACK is owed at the end of this input */
	TF_ACK_DELAYED = 1u << 8,   /* an ACK is owed within delack time */
	TF_PASSIVE = 1u << 9,       /* opened by a listener */
	TF_IN_ACCEPTQ = 1u << 10,   /* waiting in its listener's accept queue */
	TF_COOKIE = 1u << 11,       /* made from a SYN cookie: its handshake was not timed */
	TF_RTT_TIMING = 1u << 12,   /* rtt_seq is being timed (no timestamps) */
	TF_PEER_FIN = 1u << 13,     /* the peer's FIN has been received */
	TF_LISTENER = 1u << 14,     /* a listening socket */
	TF_PROBING = 1u << 15,      /* rtx timer is the zero-window probe timer */
};

/*
 * Buffers are built from chunks of one size, drawn from a pool the stack
 * keeps, so memory follows the data: a connection that carries 64 bytes
 * each way holds one chunk per direction while they are there, and none
 * once they are read and acknowledged. Once warm, no packet allocates.
 */
#define TCP_CHUNK_SIZE 2048u

struct tcp_pool {
	void *free;                 /* chunks kept for reuse, linked through their first bytes */
	uint32_t n_free;
	uint32_t in_use;            /* chunks handed out now */
	uint32_t max_in_use;        /* the stack's bound (cfg.buffer_max_bytes); 0: none */
	uint64_t allocated;         /* chunks ever taken from the C library */
	uint64_t refused;           /* requests refused at the bound */
	bool writers_wait;          /* a write was refused at the bound: tell writers when there is room */
};

/*
 * Bytes at offsets from a head, stored in chunks: a circular array of chunk
 * pointers, each NULL until something is written there. The send queue holds
 * the bytes from SND.UNA on; the receive queue the unread in-order bytes and,
 * beyond them at their offset from RCV.NXT, out-of-order data, so only the
 * chunks that data touches exist.
 */
struct tcp_ring {
	uint8_t **slot;             /* n_slots chunk pointers; NULL until the first write */
	uint32_t n_slots;
	uint32_t first;             /* the slot of the chunk holding the head byte */
	uint32_t head;              /* the head byte's offset in that chunk */
	uint32_t len;               /* in-order bytes from the head */
	uint32_t cap;               /* offsets [0, cap) may be written */
	bool slot_malloced;         /* the slot array is too large for a chunk */
};

/*
 * What the send queue knows of each segment it sent: its sequence space,
 * when it last left, and how often it was sent again (what RACK, RFC 8985,
 * reads). Records sit in blocks the size of a chunk, from the same pool.
 */
struct tcp_txrec {
	uint32_t seq, len;          /* sequence space: data, and one for a FIN */
	uint64_t sent_at;           /* the stack's clock when last sent */
	uint16_t rexmits;           /* times sent again */
};

struct tcp_txblock {
	struct tcp_txblock *next;
	uint32_t first, count;      /* the live records are rec[first .. first + count) */
	struct tcp_txrec rec[(TCP_CHUNK_SIZE - 16) / sizeof(struct tcp_txrec)];
};
_Static_assert(sizeof(struct tcp_txblock) <= TCP_CHUNK_SIZE, "a record block fits a chunk");

struct tcp_sndq {
	struct tcp_ring bytes;      /* from SND.UNA: sent and unacknowledged, then unsent */
	struct tcp_txblock *head, *tail;
	uint32_t n_recs;
};

#define TCP_OOO_MAX 8
#define TCP_SACKED_MAX 8
/*
 * Receive rings hold this much beyond the buffer size: the advertised window
 * is rounded up to the scale unit rather than move its right edge left, so
 * the peer may send up to one unit (at most 2^14) past the space counted.
 */
#define TCP_RCV_SLACK (1u << 14)

/*
 * The loss-recovery state of a sender (recovery.c): the SACK scoreboard,
 * where recovery is (enum tw_recovery) and what it has resent.
 */
struct tcp_recovery {
	uint8_t state;              /* enum tw_recovery */
	uint8_t dupacks;            /* duplicate ACKs in a row */
	uint8_t n_sacked;
	int32_t inflation;          /* RFC 6582 without SACK: what the window is inflated by in recovery */
	uint32_t recover;           /* RFC 6582 "recover", RFC 6675 RecoveryPoint */
	uint32_t high_rxt;          /* RFC 6675 HighRxt: the highest byte resent in recovery */
	struct wire_sack_block sacked[TCP_SACKED_MAX];   /* what the peer SACKed, sorted */
};

struct tcp_conn;

/*
 * Congestion control behind a seam (cc/): the algorithm owns cwnd and
 * ssthresh, and is told of events; loss detection and what to resend are the
 * recovery module's.
 */
struct tcp_cc_ops {
	const char *name;
	void (*init)(struct tcp_conn *c, unsigned syn_rexmits);  /* established; the SYN or SYN-ACK was resent that often */
	void (*on_ack)(struct tcp_conn *c, uint32_t acked);     /* new data ACKed, outside recovery */
	void (*on_congestion)(struct tcp_conn *c);              /* recovery starts: a loss was detected */
	void (*on_rto)(struct tcp_conn *c, bool first);         /* a retransmission timeout; `first` of this loss */
	void (*after_recovery)(struct tcp_conn *c, uint32_t limit);   /* recovery ended; cwnd at most `limit` */
	void (*after_idle)(struct tcp_conn *c, uint64_t idle_us);     /* sending resumes after an idle period */
	void (*undo)(struct tcp_conn *c);                       /* the last reduction was spurious: restore */
};

struct tcp_cc {
	const struct tcp_cc_ops *ops;
	uint32_t priv[8];           /* the algorithm's own state */
};

/*
 * Socket options and buffers: everything a connection needs once it carries
 * data. Half-open connections have none, so a SYN flood costs a control
 * block and nothing more.
 */
struct tcp_sockbuf {
	struct tcp_sndq snd;        /* bytes from snd.una on, and a record of each segment sent */
	struct tcp_ring rcv;        /* unread in-order bytes; out-of-order data lies beyond len */
	struct wire_sack_block ooo[TCP_OOO_MAX];   /* out-of-order ranges, most recent first */
	uint8_t n_ooo;
	struct tcp_recovery rec;
	struct tcp_cc cc;
	uint64_t data_sent_at;      /* when data last went out (Linux's lsndtime) */
	uint64_t cookie_sent_at;    /* a listener's: when it last answered with a SYN cookie */
	uint32_t pushed_seq;        /* the end of the last segment sent with PSH (Linux's) */
	struct wire_sack_block dsack;   /* RFC 2883: a duplicate to report in the next ACK */
	bool dsack_pending;
	bool ooo_fin;               /* a FIN arrived beyond a gap, at ooo_fin_seq */
	uint32_t ooo_fin_seq;
	tw_sock_cb cb;
	void *cb_ctx;
	uint32_t rcvbuf, sndbuf;
	uint32_t rcv_ssthresh;      /* how far the window may open now (Linux's); grows with data */
	uint16_t user_mss;          /* TCP_MAXSEG; 0 for none */
	bool nodelay, cork, keepalive, linger0, reuseaddr;
	bool rcvbuf_locked;         /* SO_RCVBUF was set: it, not rcvbuf_max, sets the window scale */
	bool small_since_ack;       /* a segment under the MSS arrived since our last ACK (Linux's ACK_PUSHED) */
	bool small_twice;           /* ... and another after it (ACK_PUSHED2) */
	bool pingpong;              /* we answer what arrives: ACKs wait to ride on the answer (Linux's) */
	uint64_t data_in_at;        /* when data last arrived */
	uint32_t user_timeout_ms;
	uint32_t keep_idle_s, keep_intvl_s, keep_probes;
	uint64_t rtx_since;         /* when unacknowledged data was first retransmitted */
	uint64_t last_ack_at;       /* when the peer last sent an acceptable ACK */
	uint64_t bytes_sent, bytes_received, retransmits;
	unsigned last_events;       /* what the callback was last told */
	bool changed, notify_queued;
	bool snd_nomem;             /* a write was refused at the stack's bound: no POLLOUT until there is room */
	struct tcp_sockbuf *notify_next;   /* the stack's queue of callbacks to run */
	struct tcp_conn *owner;
	struct tcp_sockbuf *prev, *next;   /* every sockbuf of the stack, to free them all */
};

/*
 * A connection's timers, by kind, in the order they fire when due together.
 * A new timer is a new entry here and a handler in timer.c.
 */
enum tcp_timer {
	TCP_TIMER_DELACK,           /* the delayed ACK */
	TCP_TIMER_RTX,              /* retransmission, SYN, or zero-window probe (TF_PROBING) */
	TCP_TIMER_IDLE,             /* keepalive, FIN-WAIT-2 or TIME-WAIT */
	TCP_TIMER_COUNT
};

struct tcp_wheel_node {
	struct tcp_wheel_node *next, *prev;
	uint64_t tick;              /* 0: not in the wheel */
};

struct tcp_conn {
	/* What a table lookup reads, together in the first cache line. */
	struct tcp_conn *hash_next;
	uint32_t hash;              /* keyed hash of the 4-tuple: the table's, kept */
	uint16_t lport, rport;
	struct tcp_wheel_node tnode;
	struct tw_stack *stack;
	struct tcp_conn *parent;    /* the listener, until accepted */
	struct tcp_conn *accept_next;
	struct tcp_sockbuf *sb;

	uint8_t laddr[16], raddr[16];
	uint8_t family;             /* TW_AF_INET, TW_AF_INET6; 0 before bind/connect */
	uint8_t state;              /* enum tw_state */
	uint16_t flags;             /* TF_* */

	uint32_t iss, irs;
	struct {
		uint32_t una, nxt, max, wnd, wl1, wl2;
		uint32_t max_wnd;   /* MAX.SND.WND of RFC 5961 5.2 */
	} snd;
	struct {
		uint32_t nxt;
		uint32_t adv;       /* right edge of the window last advertised */
		uint32_t ack_sent;  /* Last.ACK.sent (RFC 7323 4.3) */
	} rcv;

	uint32_t ts_offset, ts_recent;
	uint32_t srtt_us, rttvar_us, rto_us;
	uint32_t rtt_seq, rtt_start_us;   /* the segment being timed, and when it left */
	uint32_t cwnd, ssthresh;    /* written by the congestion control only */
	uint32_t snd_sml;           /* end of the last small segment sent (Minshall) */
	uint16_t snd_mss;           /* payload per segment, options excluded */
	uint16_t rcv_mss;           /* advertised in our SYN */
	uint16_t rcv_seg_max;       /* largest segment received: a "full" one */
	uint8_t snd_wscale, rcv_wscale;
	uint8_t backoff;            /* retransmissions of the current head */
	uint8_t quickacks;
	uint8_t err;                /* pending errno for SO_ERROR */
	uint8_t probes;             /* keepalive or window probes sent unanswered */
	uint16_t backlog;           /* listener: accept queue limit; child: unused */
	uint16_t queued;            /* listener: connections in the accept queue */
	uint16_t half_open;         /* listener: connections in SYN-RECEIVED */
	uint16_t listen_id;         /* listener: its name in its half-open entries, unique on its port */
	uint32_t ts_recent_stamp;   /* seconds clock when TS.Recent was set (RFC 7323 5.5) */
	uint64_t timer_at[TCP_TIMER_COUNT];    /* deadlines by kind; 0: unarmed */
	uint64_t oow_ack_at;        /* last challenge or out-of-window ACK */
};

/* The control block without its buffers stays at most 256 bytes (lwIP's is 288). */
_Static_assert(sizeof(struct tcp_conn) <= 256 || sizeof(void *) > 8, "tcp_conn grew past 256 bytes");

/*
 * A half-open connection before its third segment (Linux's request_sock):
 * what the SYN offered and what the SYN-ACK said, in 64 bytes. The control
 * block is made only when the peer answers (req.c).
 */
enum {
	REQ_V6 = 1u << 0,           /* an IPv6 connection */
	REQ_SACK = 1u << 1,         /* SACK agreed */
	REQ_TS = 1u << 2,           /* timestamps agreed */
	REQ_WS = 1u << 3,           /* window scaling agreed; peer_wscale is the peer's */
	REQ_DEAD = 1u << 4,         /* released: freed when its queue reaches it */
	REQ_RESENT = 1u << 5,       /* a SYN-ACK went again for a repeated SYN: no RTT sample (Karn) */
};

struct tcp_req {
	struct tcp_req *hash_next;  /* the stack's table of half-open connections */
	struct tcp_req *queue_next; /* its retransmission level's queue */
	uint8_t raddr[16];
	uint32_t iss, irs;
	uint32_t ts_recent;         /* the SYN's TSval */
	uint32_t synack_sent_us;    /* the stack's clock when the SYN-ACK left: the handshake's RTT */
	uint32_t due_ms;            /* when the SYN-ACK goes again: the stack's clock in ms, low 32 bits */
	uint16_t lport, rport;
	uint16_t peer_mss;          /* the SYN's MSS, or the default without one, clamped by TCP_MAXSEG then */
	uint16_t listener_id;       /* its listener's listen_id: the listener it came to, among any on the port */
	uint8_t laddr_index;        /* the local address, as its index in cfg.addrs */
	uint8_t opts;               /* REQ_* */
	uint8_t peer_wscale;
	uint8_t backoff;            /* SYN-ACK retransmissions so far */
};
_Static_assert(sizeof(struct tcp_req) <= 64 || sizeof(void *) > 8, "a half-open connection fits 64 bytes");

/* Half-open connections waiting for their next SYN-ACK, one queue per retransmission count: each is in time order. */
struct tcp_req_queue {
	struct tcp_req *head, *tail;
};

/* -------------------------------------------------------------------- stack */

#define TCP_WHEEL_SLOTS 4096u       /* 1 ms ticks: about 4 s per turn */
#define TCP_TICK_US 1000u

struct tcp_wheel {
	struct tcp_wheel_node *slot[TCP_WHEEL_SLOTS];
	uint64_t busy[TCP_WHEEL_SLOTS / 64];   /* bit set: slot non-empty */
	uint64_t done_tick;                    /* every tick up to this one has run */
	size_t count;
};

struct tw_stack {
	struct tw_stack_config cfg;
	uint64_t now;
	struct tcp_conn **table;    /* connections by 4-tuple, keyed hash */
	uint32_t table_mask;
	uint32_t table_count;
	struct tcp_conn *last_conn;   /* the last connection a lookup found */
	struct tcp_conn **listen;   /* listeners by local port */
	uint32_t listen_mask;
	struct tcp_wheel wheel;
	struct ip_layer ip;         /* IP input and output, with the one outgoing packet's buffer */
	struct tcp_pool pool;       /* buffer chunks */
	uint32_t port_counter;      /* RFC 6056 algorithm 3 */
	struct tcp_sockbuf *sockbufs;  /* every connection that has buffers */
	struct tcp_sockbuf *notify;    /* sockets whose callback is due */
	struct tcp_conn *free_conns;   /* recycled control blocks */
	uint32_t n_free;
	struct tcp_sockbuf *free_sockbufs;   /* recycled buffers and options (rings freed) */
	uint32_t n_free_sockbufs;
	struct tcp_req **reqs;      /* half-open connections by 4-tuple, keyed hash */
	uint32_t reqs_mask;
	struct tcp_req_queue *req_queues;   /* by retransmission count, 0 .. synack_retries */
	struct tcp_req *free_reqs;
	uint32_t n_free_reqs;
	uint16_t next_listen_id;
	struct tw_stack_stats stats;
};

/* ---------------------------------------------------------------- functions */

/* The addresses and ports a segment goes between: all the emit path needs of a connection. */
struct tcp_flow {
	uint8_t family;
	const uint8_t *laddr, *raddr;
	uint16_t lport, rport;
};

/* isn.c: RFC 6528 ISNs, timestamp offsets, keyed hashes of a 4-tuple. */
enum tcp_hash_use { TCP_HASH_ISN = 1, TCP_HASH_TS, TCP_HASH_TABLE, TCP_HASH_PORT };
uint64_t tcp_tuple_hash(const struct tw_stack *st, enum tcp_hash_use use, uint8_t family,
			const uint8_t *laddr, uint16_t lport, const uint8_t *raddr, uint16_t rport);
/* RFC 6528's ISN for a 4-tuple now, and its timestamp offset (RFC 7323 7.1). */
uint32_t tcp_isn(const struct tw_stack *st, const struct tcp_flow *f, uint32_t *ts_offset);
/* Sets c->iss (unless `forced_iss` is non-zero) and c->ts_offset. */
void tcp_choose_isn(const struct tw_stack *st, struct tcp_conn *c, uint32_t forced_iss);

/* timer.c: the wheel, and what each deadline does. */
void tcp_wheel_init(struct tcp_wheel *w, uint64_t now);
void tcp_timer_update(struct tcp_conn *c);   /* after changing timer_at[] */
void tcp_timer_remove(struct tcp_conn *c);
void tcp_timers_run(struct tw_stack *st, uint64_t now);
uint64_t tcp_timers_next(const struct tw_stack *st);

/* conn.c: control blocks, the tables, states. */
struct tcp_conn *tcp_conn_new(struct tw_stack *st);
void tcp_conn_free(struct tcp_conn *c);
int tcp_sockbuf_attach(struct tcp_conn *c, const struct tcp_sockbuf *inherit);
void tcp_sockbuf_free(struct tcp_sockbuf *sb);
void tcp_stack_free_all(struct tw_stack *st);
size_t tcp_held_sockets(const struct tw_stack *st, struct tw_sock **out, size_t cap);
void tcp_hash_insert(struct tcp_conn *c);
void tcp_hash_remove(struct tcp_conn *c);
struct tcp_conn *tcp_hash_lookup(struct tw_stack *st, uint8_t family, const uint8_t *laddr,
				 uint16_t lport, const uint8_t *raddr, uint16_t rport);
int tcp_listen_insert(struct tcp_conn *c);
void tcp_listen_remove(struct tcp_conn *c);
/* The connection at the head of a listener's accept queue, taken off it; NULL when empty. */
struct tcp_conn *tcp_accept_pop(struct tcp_conn *l);
struct tcp_conn *tcp_listen_lookup(struct tw_stack *st, uint8_t family, const uint8_t *laddr, uint16_t lport);
bool tcp_port_in_use(struct tw_stack *st, uint8_t family, const uint8_t *laddr, uint16_t lport);
void tcp_set_state(struct tcp_conn *c, enum tw_state s);
void tcp_notify(struct tcp_conn *c);
void tcp_notify_flush(struct tw_stack *st);
/* Ends a connection: error for the application (0: none), then CLOSED; frees it if orphaned. */
void tcp_conn_done(struct tcp_conn *c, int err);
void tcp_enter_time_wait(struct tcp_conn *c);
unsigned tcp_events(const struct tcp_conn *c);
/* Tells the event hook about `c` (fills sock, local, remote). */
void tcp_conn_event(const struct tcp_conn *c, struct tw_event *ev);

/* output.c: building and sending segments. */
/* What a SYN or SYN-ACK offers, with or without a connection (a SYN cookie's SYN-ACK has none). */
struct tcp_syn_offer {
	uint16_t mss;
	int8_t wscale;              /* -1: no window scale option */
	bool sack, ts;
	uint32_t ts_val, ts_ecr;
};
/* The SYN options in Linux's layouts (tcp_options_write). */
void tcp_syn_options(const struct tcp_syn_offer *offer, struct wire_tcp_opts *o);
/*
 * Builds the segment `t` for `f` (flags, sequence numbers and options set
 * by the caller) with `len` bytes of `data` from offset `off`, and sends it.
 * No connection is needed: a RST for a segment with no connection goes
 * this way. Returns false when nothing was sent.
 */
bool tcp_emit(struct tw_stack *st, const struct tcp_flow *f, struct wire_tcp *t, const struct tcp_ring *data,
	      uint32_t off, uint32_t len);
void tcp_send_syn(struct tcp_conn *c);        /* SYN, or SYN-ACK in SYN-RECEIVED */
void tcp_send_ack(struct tcp_conn *c);
void tcp_send_rst_for(struct tcp_conn *c);    /* R. seq=snd.nxt ack=rcv.nxt */
void tcp_send_probe(struct tcp_conn *c);      /* seq snd.una - 1, no data */
bool tcp_send_persist(struct tcp_conn *c);    /* data the window allows, else a probe */
void tcp_output(struct tcp_conn *c);          /* data, FIN, and owed ACKs */
void tcp_retransmit_head(struct tcp_conn *c, bool rewind, enum tw_rtx_reason why);
/* Resends `len` bytes from `seq` (and the FIN if it ends there); SND.NXT is kept. */
void tcp_send_range(struct tcp_conn *c, uint32_t seq, uint32_t len, enum tw_rtx_reason why);
/* Counts nothing; tells the event hook that sequence space went out again. */
void tcp_retransmit_event(const struct tcp_conn *c, uint32_t seq, uint32_t len, enum tw_rtx_reason why);
/* RFC 9293 3.10.7.1: the RST answering `in`, which came to `dst` from `src`. */
void tcp_reply_rst(struct tw_stack *st, uint8_t family, const uint8_t *dst, const uint8_t *src,
		   const struct wire_tcp *in);
uint32_t tcp_rcv_space(const struct tcp_conn *c);
uint16_t tcp_wnd_field(struct tcp_conn *c, bool syn);
uint32_t tcp_initial_window(const struct tcp_conn *c);
/* The same without a connection: `seg` bytes of payload per segment, `space` of buffer. */
uint32_t tcp_initial_window_for(const struct tw_stack *st, uint32_t seg, uint32_t space);
uint32_t tcp_ts_now(const struct tcp_conn *c);
uint32_t tcp_flight(const struct tcp_conn *c);
void tcp_idle_restart_check(struct tcp_conn *c);

/* input.c: a TCP segment in a validated IP packet for one of the stack's addresses. */
int tcp_input(struct tw_stack *st, const struct ip_packet *pkt);

/* req.c: half-open connections (struct tcp_req). */
int tcp_reqs_init(struct tw_stack *st);
void tcp_reqs_free_all(struct tw_stack *st);
/* A half-open connection for SYN `syn` to listener `l`, its SYN-ACK sent. 0 or a negative TW_DROP_* reason. */
int tcp_req_new(struct tcp_conn *l, uint8_t family, const uint8_t *laddr, const uint8_t *raddr,
		const struct wire_tcp *syn, uint32_t forced_iss);
struct tcp_req *tcp_req_lookup(const struct tw_stack *st, uint8_t family, const uint8_t *laddr, uint16_t lport,
			       const uint8_t *raddr, uint16_t rport);
/* The entry is done with: made into a connection (`to_conn`, which keeps its place in the SYN queue) or gone. */
void tcp_req_release(struct tw_stack *st, struct tcp_req *r, bool to_conn);
void tcp_reqs_drop_listener(struct tcp_conn *l);   /* before it leaves the listener table */
const uint8_t *tcp_req_laddr(const struct tw_stack *st, const struct tcp_req *r);
struct tcp_conn *tcp_req_listener(const struct tw_stack *st, const struct tcp_req *r);
void tcp_req_repeated_syn(struct tw_stack *st, struct tcp_conn *l, struct tcp_req *r);
void tcp_reqs_run(struct tw_stack *st, uint64_t now);
/* The SYN-ACK's timeout after `backoff` retransmissions. */
uint64_t tcp_req_rto(const struct tw_stack *st, unsigned backoff);
uint64_t tcp_reqs_next(const struct tw_stack *st);
/* output.c: a half-open connection's SYN-ACK, from the entry and its listener. */
void tcp_req_send_synack(struct tw_stack *st, const struct tcp_conn *l, struct tcp_req *r);
/* The SYN-ACK for a connection that has no control block (a half-open entry's, a cookie's). */
bool tcp_send_synack_for(struct tw_stack *st, const struct tcp_conn *l, const struct tcp_flow *f, uint32_t iss,
			 uint32_t ack, const struct tcp_syn_offer *offer);
/* The timestamp offset a connection of this 4-tuple has (tcp_choose_isn's). */
uint32_t tcp_ts_offset_of(const struct tw_stack *st, const struct tcp_flow *f);

/* cookie.c: SYN cookies (RFC 4987 3.6), in Linux's layout. */
/* The cookie ISN for a SYN from the peer `f` leads to; `*mss_used` gets the MSS it encodes. */
uint32_t tcp_cookie_isn(const struct tw_stack *st, const struct tcp_flow *f, uint32_t peer_isn, uint16_t peer_mss,
			uint16_t *mss_used);
/* The MSS a returning cookie encodes, or 0 when it is not one of ours or has expired. */
uint16_t tcp_cookie_check(const struct tw_stack *st, const struct tcp_flow *f, uint32_t cookie, uint32_t peer_isn);
uint32_t tcp_cookie_tsval(uint32_t ts_now, int peer_wscale, bool sack, bool ecn);
void tcp_cookie_ts_decode(uint32_t ts_ecr, int *peer_wscale, bool *sack, bool *ecn);

/* rtt.c: RFC 6298. */
void tcp_rtt_sample(struct tcp_conn *c, uint32_t rtt_us);
void tcp_rto_backoff(struct tcp_conn *c);

/* cc/: the algorithms. */
extern const struct tcp_cc_ops tcp_cc_newreno;
/* The algorithm a new connection gets: the stack's. */
const struct tcp_cc_ops *tcp_cc_default(const struct tw_stack *st);

/*
 * recovery.c: loss detection and recovery. It owns the SACK scoreboard and
 * the recovery state, decides what to resend, and tells the congestion
 * control of congestion events; input.c reports what each ACK says.
 */
void tcp_recovery_init(struct tcp_conn *c);
void tcp_recovery_sack(struct tcp_conn *c, const struct wire_tcp_opts *o);   /* before the ACK is processed */
void tcp_recovery_new_ack(struct tcp_conn *c, uint32_t ack, uint32_t acked); /* SND.UNA has moved to `ack` */
void tcp_recovery_dupack(struct tcp_conn *c);
void tcp_recovery_after_ack(struct tcp_conn *c);   /* SACK: enter, go on with or leave recovery */
void tcp_recovery_timeout(struct tcp_conn *c);     /* the retransmission timer fired on data */
/* What may be sent now, `sent` bytes being past SND.UNA: cwnd, the pipe, Limited Transmit. */
uint32_t tcp_recovery_usable(const struct tcp_conn *c, uint32_t sent);
/* Where sending resumes past what the peer SACKed; how much may go before the next SACKed block. */
uint32_t tcp_recovery_skip_sacked(struct tcp_conn *c);
/* How much of the head segment (at most `len` bytes) is not SACKed. */
uint32_t tcp_recovery_unsacked_head(const struct tcp_conn *c, uint32_t len);
bool tcp_recovery_in_fast(const struct tcp_conn *c);
uint32_t tcp_recovery_cwnd(const struct tcp_conn *c);   /* the congestion window in force */

/* buf.c: the chunk pool, byte rings, the send queue's records, out-of-order data. */
void *tcp_pool_get(struct tcp_pool *p);
void tcp_pool_put(struct tcp_pool *p, void *chunk);
void tcp_pool_fini(struct tcp_pool *p);
bool tcp_pool_at_bound(const struct tcp_pool *p);
bool tcp_pool_writable(const struct tcp_pool *p);
bool tcp_ring_write_at(struct tcp_pool *p, struct tcp_ring *r, uint32_t off, const uint8_t *data, uint32_t len);
uint32_t tcp_ring_append(struct tcp_pool *p, struct tcp_ring *r, const uint8_t *data, uint32_t len);
void tcp_ring_read_at(const struct tcp_ring *r, uint32_t off, uint8_t *out, uint32_t len);
void tcp_ring_consume(struct tcp_pool *p, struct tcp_ring *r, uint32_t len);
/* Gives back every chunk once nothing is held: call only when nothing lies beyond len either. */
void tcp_ring_release_if_empty(struct tcp_pool *p, struct tcp_ring *r);
void tcp_ring_free(struct tcp_pool *p, struct tcp_ring *r);
int tcp_ring_set_cap(struct tcp_pool *p, struct tcp_ring *r, uint32_t cap);
void tcp_sndq_sent(struct tcp_pool *p, struct tcp_sndq *q, uint32_t seq, uint32_t len, uint64_t now);
void tcp_sndq_acked(struct tcp_pool *p, struct tcp_sndq *q, uint32_t una);
void tcp_sndq_clear(struct tcp_pool *p, struct tcp_sndq *q);   /* bytes and records */
const struct tcp_txrec *tcp_sndq_record(const struct tcp_sndq *q, uint32_t seq);
uint32_t tcp_rcv_ooo_add(struct tcp_conn *c, uint32_t seq, const uint8_t *data, uint32_t len);
uint32_t tcp_rcv_ooo_merge(struct tcp_conn *c);
uint32_t tcp_rcv_ooo_prune(struct tcp_conn *c);

/* user.c: the user calls of RFC 9293 3.10 as the engine carries them out; src/api/ checks arguments. */
int tcp_usr_connect(struct tcp_conn *c);
int tcp_usr_listen(struct tcp_conn *c, uint16_t backlog);
int tcp_usr_shutdown(struct tcp_conn *c, bool rd, bool wr);
void tcp_usr_set_keepalive(struct tcp_conn *c, bool on);
void tcp_usr_set_keepidle(struct tcp_conn *c, uint32_t idle_s);
long tcp_usr_send(struct tcp_conn *c, const uint8_t *data, uint32_t len, bool more);
long tcp_usr_recv(struct tcp_conn *c, uint8_t *out, uint32_t len, bool peek);
int tcp_usr_set_rcvbuf(struct tcp_conn *c, uint32_t bytes);
int tcp_usr_set_sndbuf(struct tcp_conn *c, uint32_t bytes);
void tcp_usr_set_nodelay(struct tcp_conn *c, bool on);
void tcp_usr_set_cork(struct tcp_conn *c, bool on);
void tcp_usr_set_maxseg(struct tcp_conn *c, uint16_t mss);
void tcp_usr_close(struct tcp_conn *c);
void tcp_usr_shutdown_wr(struct tcp_conn *c);
void tcp_usr_stop_listening(struct tcp_conn *c);
void tcp_usr_abort(struct tcp_conn *c);
void tcp_keepalive_rearm(struct tcp_conn *c);
uint16_t tcp_our_mss(const struct tw_stack *st, uint8_t family, const struct tcp_sockbuf *sb);
void tcp_offer_options(struct tcp_conn *c);

static inline bool tcp_synchronized(const struct tcp_conn *c)
{
	return c->state >= TW_ESTABLISHED;
}
static inline size_t tcp_addr_len(uint8_t family) { return ip_addr_len(family); }
/* The most payload a segment without options can carry on the stack's link. */
static inline uint32_t tcp_mss_for_mtu(const struct tw_stack *st, uint8_t family)
{
	return st->cfg.mtu - (uint32_t)ip_header_len(family) - WIRE_TCP_HDR_MIN;
}
static inline struct tcp_flow tcp_flow_of(const struct tcp_conn *c)
{
	return (struct tcp_flow){ c->family, c->laddr, c->raddr, c->lport, c->rport };
}

#endif
