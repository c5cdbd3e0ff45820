/*
 * One script's run: a fresh stack on a virtual clock, the packets it sent
 * and nobody has matched yet, the script's file descriptors, the
 * connection under test with its sequence-number mapping, and the first
 * failure. Shared by the executor (run.c), the system calls (syscall.c)
 * and the report (report.c).
 */
#ifndef DRILL_RUN_H
#define DRILL_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "script.h"
#include "segment.h"
#include "threeway.h"

#define DRILL_MAX_FDS 256
#define DRILL_MAX_QUEUED 4096       /* packets sent and not yet matched */
#define DRILL_TS_MAP 32
#define DRILL_REMOTE_PORT 40000     /* the peer's port when the script writes none */

/* A socket the script holds, by the number the script gave it. */
struct drill_fd {
	int fd;
	struct tw_sock *s;
	bool nonblock, listener;
	uint64_t written, read;     /* stream bytes, to fill and check the payload pattern */
};

/* A packet the stack sent, and when. */
struct drill_sent {
	uint64_t at;
	size_t len;
	uint8_t *bytes;
};

/*
 * The connection under test and how its sequence numbers map, as
 * packetdrill maps them: the peer's ISN is the seq of the script's SYN; the
 * stack's is learned from its first SYN or SYN-ACK. Unknown ISNs map by 0.
 */
struct drill_flow {
	uint16_t local_port, remote_port;
	bool local_isn_known, remote_isn_known;
	uint32_t live_local_isn, script_local_isn, remote_isn;
	bool listening;             /* the next inbound SYN opens a new connection */
	bool new_syn_pending;       /* a SYN with a new ISN, that a SYN-ACK may answer */
	uint32_t new_syn_seq;
	bool ts_sent;
	uint32_t last_ts_val;       /* the stack's latest TS val */
	struct { uint32_t script, live; } ts_map[DRILL_TS_MAP];   /* script TS val -> live */
	size_t n_ts_map, ts_next;
};

/* A system call under way. */
struct drill_call_state {
	bool active;
	const struct drill_event *ev;
	uint64_t started;
	uint64_t end;               /* START...END: when the script says it returns */
	uint64_t deadline;          /* ... and when it must have, with the tolerance */
	uint64_t poll_until;        /* poll's timeout; UINT64_MAX for none */
	bool may_block;
	bool began;                 /* connect: the SYN is out; write: tried once */
	uint64_t done_bytes;        /* a blocking write, so far */
};

struct drill_run {
	const struct drill_config *cfg;
	const char *name;
	FILE *out;
	bool verbose;
	struct tw_stack *st;
	struct tw_tracer *tracer;       /* messages: script-space numbers, -S */
	struct tw_tracer *live_tracer;  /* -v: the wire as tcpdump shows it */
	uint64_t now, next_timer;

	struct drill_sent *q;
	size_t q_head, q_len, q_cap;
	bool q_overflow;
	size_t want;                        /* packets a join waits for */

	struct drill_fd fds[DRILL_MAX_FDS];
	size_t n_fds;
	struct drill_flow flow;

	struct drill_call_state pending;    /* a START...END call still blocked */
	struct drill_call_state *plain;     /* a blocking call without ...END, waiting alone */

	const struct drill_event *ev;       /* the event being run */
	uint64_t last_script_time;          /* the previous event's time in the script */
	bool prev_inbound;

	uint8_t *scratch;                   /* DRILL_SEG_MAX bytes: packets built, payloads */

	bool failed;
	int fail_line;
	char fail_msg[1024];
	char expected[1024], actual[2048];  /* tcpdump lines, "" if none */
};

/* An event's time, resolved: a point (lo == hi) or a range; END of a blocking call. */
struct when {
	uint64_t lo, hi;
	uint64_t end;
	bool any;                   /* * */
};

/* run.c */
uint64_t drill_tolerance(const struct drill_run *r, uint64_t expected);
bool drill_advance(struct drill_run *r, uint64_t until, bool (*stop)(struct drill_run *r));
void drill_refresh_timers(struct drill_run *r);
struct drill_fd *drill_fd_find(struct drill_run *r, int fd);
struct drill_fd *drill_fd_add(struct drill_run *r, int fd, struct tw_sock *s);
void drill_fd_remove(struct drill_run *r, struct drill_fd *f);
uint8_t drill_fill_byte(uint32_t seq);
struct drill_sent *drill_queue_at(struct drill_run *r, size_t i);
void drill_queue_pop(struct drill_run *r, size_t n);
bool drill_queue_has(struct drill_run *r, size_t n);
/* Fails the run if a packet is waiting that nothing in the script matched; true then. */
bool drill_unexpected_packet(struct drill_run *r, const struct drill_event *ev);

/* flow.c */
void drill_flow_reset(struct drill_run *r, uint16_t local_port, uint16_t remote_port);
void drill_flow_connect(struct drill_run *r, struct tw_sock *s);
void drill_flow_listen(struct drill_run *r, struct tw_sock *s);
void drill_flow_inbound_syn(struct drill_flow *f, const struct drill_packet *pk);
void drill_flow_learn(struct drill_flow *f, const struct drill_packet *pk, const struct drill_seg *live);
void drill_flow_to_script(const struct drill_flow *f, struct drill_seg *s);
void drill_flow_to_live(const struct drill_flow *f, struct drill_seg *s);
void drill_flow_remember_ts(struct drill_flow *f, const struct drill_packet *pk, const struct drill_seg *live);
void drill_flow_note_sent(struct drill_flow *f, const uint8_t *pkt, size_t len);
/* The packet a script line describes, in the script's numbers; `actual` fills what the line leaves open. */
void drill_script_seg(struct drill_run *r, const struct drill_packet *pk, const struct drill_seg *actual,
		      struct drill_seg *s);

/* match.c */
void drill_run_outbound(struct drill_run *r, const struct drill_event *ev, const struct when *w);

/* syscall.c */
void drill_call_begin(struct drill_run *r, struct drill_call_state *cs, const struct drill_event *ev, uint64_t end);
/* Tries the call (again); true once it has returned, its result checked. */
bool drill_call_step(struct drill_run *r, struct drill_call_state *cs);

/* report.c */
void drill_fail(struct drill_run *r, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The packet as tcpdump -S prints it, at script time `at`, into `buf`. */
void drill_render(struct drill_run *r, const struct drill_seg *seg, uint64_t at, char *buf, size_t cap);
void drill_render_bytes(struct drill_run *r, const uint8_t *pkt, size_t len, uint64_t at, char *buf, size_t cap);
/* "0.2" for 200000 us, "0.200123" when it needs the digits. */
const char *drill_fmt_time(uint64_t us, char *buf, size_t cap);
/* PASS, or FAIL with the packets and every socket's state. */
void drill_report(struct drill_run *r);

#endif
