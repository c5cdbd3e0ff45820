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
	TF_IN_RECOVERY = 1u << 11,  /* NewReno fast recovery (RFC 6582) */
	TF_RTT_TIMING = 1u << 12,   /* rtt_seq is being timed (no timestamps) */
	TF_PEER_FIN = 1u << 13,     /* the peer's FIN has been received */
	TF_LISTENER = 1u << 14,     /* a listening socket */
	TF_PROBING = 1u << 15,      /* rtx timer is the zero-window probe timer */
};

/*
 * Socket options and buffers: everything a connection needs once it carries
 * data. Half-open connections have none, so a SYN flood costs a control
 * block and nothing more.
 */
struct tcp_ring {
	uint8_t *buf;               /* allocated on first use */
	uint32_t cap, head, len;    /* head: offset of the first byte */
};

#define TCP_OOO_MAX 8
#define TCP_SACKED_MAX 8
/*
 * Receive rings hold this much beyond the buffer size: the advertised window
 * is rounded up to the scale unit rather than move its right edge left, so
 * the peer may send up to one unit (at most 2^14) past the space counted.
 */
#define TCP_RCV_SLACK (1u << 14)

struct tcp_sockbuf {
	struct tcp_ring snd;        /* bytes from snd.una on: sent-unacked, then unsent */
	struct tcp_ring rcv;        /* unread in-order bytes; out-of-order data lies beyond len */
	struct wire_sack_block ooo[TCP_OOO_MAX];   /* out-of-order ranges, most recent first */
	uint8_t n_ooo;
	struct wire_sack_block sacked[TCP_SACKED_MAX];   /* what the peer SACKed, sorted */
	uint8_t n_sacked;
	uint32_t high_rxt;          /* RFC 6675 HighRxt: the highest byte resent in recovery */
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
	struct tcp_sockbuf *notify_next;   /* the stack's queue of callbacks to run */
	struct tcp_conn *owner;
	struct tcp_sockbuf *prev, *next;   /* every sockbuf of the stack, to free them all */
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
	uint32_t cwnd, ssthresh, recover;
	uint32_t snd_sml;           /* end of the last small segment sent (Minshall) */
	uint16_t snd_mss;           /* payload per segment, options excluded */
	uint16_t rcv_mss;           /* advertised in our SYN */
	uint16_t rcv_seg_max;       /* largest segment received: a "full" one */
	uint8_t snd_wscale, rcv_wscale;
	uint8_t backoff;            /* retransmissions of the current head */
	uint8_t dupacks;
	uint8_t quickacks;
	uint8_t err;                /* pending errno for SO_ERROR */
	uint8_t probes;             /* keepalive or window probes sent unanswered */
	uint16_t backlog;           /* listener: accept queue limit; child: unused */
	uint16_t queued;            /* listener: connections in the accept queue */
	uint16_t half_open;         /* listener: connections in SYN-RECEIVED */
	uint32_t ts_recent_stamp;   /* seconds clock when TS.Recent was set (RFC 7323 5.5) */
	uint64_t rtx_at, delack_at, idle_at;   /* deadlines; 0: unarmed */
	uint64_t oow_ack_at;        /* last challenge or out-of-window ACK */
};

/* The control block without its buffers stays at most 256 bytes (lwIP's is 288). */
_Static_assert(sizeof(struct tcp_conn) <= 256 || sizeof(void *) > 8, "tcp_conn grew past 256 bytes");

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
	uint8_t *out;               /* one outgoing packet */
	size_t out_cap;
	uint32_t port_counter;      /* RFC 6056 algorithm 3 */
	struct tcp_sockbuf *sockbufs;  /* every connection that has buffers */
	struct tcp_sockbuf *notify;    /* sockets whose callback is due */
	struct tcp_conn *free_conns;   /* recycled control blocks */
	uint32_t n_free;
	struct tcp_sockbuf *free_sockbufs;   /* recycled buffers and options (rings freed) */
	uint32_t n_free_sockbufs;
	struct tw_stack_stats stats;
};

/* ---------------------------------------------------------------- functions */

/* isn.c: RFC 6528 ISNs, timestamp offsets, keyed hashes of a 4-tuple. */
enum tcp_hash_use { TCP_HASH_ISN = 1, TCP_HASH_TS, TCP_HASH_TABLE, TCP_HASH_PORT };
uint64_t tcp_tuple_hash(const struct tw_stack *st, enum tcp_hash_use use, uint8_t family,
			const uint8_t *laddr, uint16_t lport, const uint8_t *raddr, uint16_t rport);
/* Sets c->iss (unless `forced_iss` is non-zero) and c->ts_offset. */
void tcp_choose_isn(const struct tw_stack *st, struct tcp_conn *c, uint32_t forced_iss);

/* timer.c: the wheel, and what each deadline does. */
void tcp_wheel_init(struct tcp_wheel *w, uint64_t now);
void tcp_timer_update(struct tcp_conn *c);   /* after changing rtx_at, delack_at or idle_at */
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
bool tcp_has_addr(const struct tw_stack *st, uint8_t family, const uint8_t *addr);

/* icmp.c: echo replies. 0 when answered, or a negative TW_DROP_* reason. */
int tcp_icmp_input(struct tw_stack *st, uint8_t family, const uint8_t *src, const uint8_t *dst,
		   const uint8_t *msg, size_t len);
unsigned tcp_events(const struct tcp_conn *c);

/* output.c: building and sending segments. */
void tcp_send_syn(struct tcp_conn *c);        /* SYN, or SYN-ACK in SYN-RECEIVED */
void tcp_send_ack(struct tcp_conn *c);
void tcp_send_rst_for(struct tcp_conn *c);    /* R. seq=snd.nxt ack=rcv.nxt */
void tcp_send_probe(struct tcp_conn *c);      /* seq snd.una - 1, no data */
bool tcp_send_persist(struct tcp_conn *c);    /* data the window allows, else a probe */
void tcp_output(struct tcp_conn *c);          /* data, FIN, and owed ACKs */
void tcp_retransmit_head(struct tcp_conn *c, bool rewind);
void tcp_send_range(struct tcp_conn *c, uint32_t seq, uint32_t len);   /* resend, SND.NXT kept */
void tcp_reply_rst(struct tw_stack *st, uint8_t family, const uint8_t *laddr, const uint8_t *raddr,
		   const struct wire_tcp *seg);
uint32_t tcp_rcv_space(const struct tcp_conn *c);
uint16_t tcp_wnd_field(struct tcp_conn *c, bool syn);
uint32_t tcp_initial_window(const struct tcp_conn *c);
uint32_t tcp_ts_now(const struct tcp_conn *c);
uint32_t tcp_flight(const struct tcp_conn *c);

/* input.c */
int tcp_input(struct tw_stack *st, const uint8_t *pkt, size_t len);

/* rtt.c: RFC 6298 and congestion control (RFC 5681, RFC 6582). */
void tcp_rtt_sample(struct tcp_conn *c, uint32_t rtt_us);
void tcp_rto_backoff(struct tcp_conn *c);
void tcp_cc_init(struct tcp_conn *c);
void tcp_cc_ack(struct tcp_conn *c, uint32_t acked);
bool tcp_cc_dupack(struct tcp_conn *c);       /* true: fast retransmit now */
void tcp_cc_partial_or_full_ack(struct tcp_conn *c, uint32_t ack, uint32_t acked);
void tcp_cc_timeout(struct tcp_conn *c);
void tcp_cc_enter_recovery(struct tcp_conn *c, uint32_t inflate_segs);

/* sack.c: the scoreboard and RFC 6675 recovery. */
void tcp_sack_update(struct tcp_conn *c, const struct wire_tcp_opts *o);
void tcp_sack_trim(struct tcp_conn *c);
bool tcp_sack_head_lost(const struct tcp_conn *c);
void tcp_sack_recover(struct tcp_conn *c);
uint32_t tcp_sack_pipe(const struct tcp_conn *c);
uint32_t tcp_sack_skip(struct tcp_conn *c);

/* buf.c: the rings. */
int tcp_ring_reserve(struct tcp_ring *r);
void tcp_ring_free(struct tcp_ring *r);
uint32_t tcp_ring_write(struct tcp_ring *r, const uint8_t *data, uint32_t len);
void tcp_ring_write_at(struct tcp_ring *r, uint32_t off, const uint8_t *data, uint32_t len);
void tcp_ring_read_at(const struct tcp_ring *r, uint32_t off, uint8_t *out, uint32_t len);
void tcp_ring_consume(struct tcp_ring *r, uint32_t len);
uint32_t tcp_rcv_ooo_add(struct tcp_conn *c, uint32_t seq, const uint8_t *data, uint32_t len);
uint32_t tcp_rcv_ooo_merge(struct tcp_conn *c);

/* api-side operations (user.c) */
int tcp_usr_connect(struct tcp_conn *c);
void tcp_usr_close(struct tcp_conn *c);
void tcp_usr_shutdown_wr(struct tcp_conn *c);
void tcp_usr_stop_listening(struct tcp_conn *c);
void tcp_usr_abort(struct tcp_conn *c);
void tcp_after_read(struct tcp_conn *c);
void tcp_keepalive_rearm(struct tcp_conn *c);
uint16_t tcp_our_mss(const struct tw_stack *st, uint8_t family, const struct tcp_sockbuf *sb);
void tcp_offer_options(struct tcp_conn *c);

static inline bool tcp_synchronized(const struct tcp_conn *c)
{
	return c->state >= TW_ESTABLISHED;
}
static inline size_t tcp_addr_len(uint8_t family) { return family == TW_AF_INET ? 4 : 16; }

#endif
