/*
 * A packetdrill script, parsed and validated: its header settings and its
 * events (packets and system calls), each with its line and time. The
 * runner acts on this and never on the text.
 */
#ifndef DRILL_SCRIPT_H
#define DRILL_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "threeway.h"

/* Why a script cannot run or failed: the line (0 for none) and one sentence. */
struct drill_error {
	int line;
	bool unsupported;           /* valid packetdrill that the runner cannot execute */
	char msg[512];
};

void drill_error_set(struct drill_error *e, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void drill_error_unsupported(struct drill_error *e, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ time */

enum drill_time_kind {
	DRILL_TIME_ABS,             /* 0.100 */
	DRILL_TIME_REL,             /* +.1: from when the previous event ended */
	DRILL_TIME_ANY,             /* *: outbound packets only */
	DRILL_TIME_ABS_RANGE,       /* 0.1~0.2: outbound packets only */
	DRILL_TIME_REL_RANGE,       /* +0.1~+0.2: outbound packets only */
};

struct drill_time {
	enum drill_time_kind kind;
	int64_t us, end_us;         /* microseconds; end_us for ranges */
};

/* -------------------------------------------------------------- packets */

enum {
	DRILL_TH_FIN = 0x01, DRILL_TH_SYN = 0x02, DRILL_TH_RST = 0x04, DRILL_TH_PSH = 0x08,
	DRILL_TH_ACK = 0x10, DRILL_TH_URG = 0x20, DRILL_TH_ECE = 0x40, DRILL_TH_CWR = 0x80,
};

enum {
	DRILL_OPT_EOL = 0, DRILL_OPT_NOP = 1, DRILL_OPT_MSS = 2, DRILL_OPT_WSCALE = 3,
	DRILL_OPT_SACK_PERM = 4, DRILL_OPT_SACK = 5, DRILL_OPT_TS = 8,
};

#define DRILL_OPT_SPACE 40          /* a TCP header's options area */

/* TCP options as they are on the wire, in the order written. */
struct drill_opts {
	bool any;                   /* <...>: not compared */
	uint8_t len;
	uint8_t bytes[DRILL_OPT_SPACE];
};

struct drill_packet {
	bool outbound;              /* > (the stack sends) or < (the script injects) */
	uint8_t flags;              /* DRILL_TH_* */
	bool has_ports;             /* SRC>DST written before the flags */
	uint16_t sport, dport;
	uint32_t seq;               /* start of start:end(len) */
	uint16_t len;
	bool has_ack;               /* ack N written */
	uint32_t ack;
	bool has_win;
	uint16_t win;
	uint16_t urg;
	struct drill_opts opts;
};

/* --------------------------------------------------------- system calls */

enum drill_call {
	DRILL_SOCKET, DRILL_BIND, DRILL_LISTEN, DRILL_ACCEPT, DRILL_CONNECT,
	DRILL_READ, DRILL_WRITE, DRILL_SEND, DRILL_RECV, DRILL_SHUTDOWN, DRILL_CLOSE,
	DRILL_POLL, DRILL_FCNTL, DRILL_IOCTL, DRILL_SETSOCKOPT, DRILL_GETSOCKOPT,
};

#define DRILL_MAX_POLLFDS 16

struct drill_pollfd {
	int fd;
	unsigned events, revents;
};

struct drill_syscall {
	enum drill_call call;
	const char *name;           /* as written, for messages */
	int fd;                     /* the first argument (not for poll) */
	bool has_end;               /* START...END: the call may block until END */
	int64_t end_us;
	/* Arguments, by call. */
	uint64_t len;               /* read, write, send, recv */
	int flags;                  /* send/recv MSG_*, socket type flags, fcntl F_SETFL value */
	int how;                    /* shutdown */
	int backlog;                /* listen */
	int cmd;                    /* fcntl, ioctl */
	int level, opt_level;       /* setsockopt/getsockopt: level written, the option's level */
	int tw_opt;                 /* enum tw_sockopt, 0 for SO_ERROR */
	bool is_linger, is_so_error;
	int value;                  /* setsockopt's value, SO_LINGER's onoff */
	int linger;                 /* SO_LINGER's linger */
	bool check_out;             /* [N] of getsockopt or ioctl: compared */
	int64_t out_value;
	bool has_addr;              /* a sockaddr written, not ... */
	struct tw_endpoint addr;
	struct drill_pollfd pfds[DRILL_MAX_POLLFDS];
	size_t n_pfds;
	int timeout_ms;             /* poll */
	/* What the script expects. */
	int64_t ret;
	int err;                    /* errno written after the result, 0 if none */
};

/* ---------------------------------------------------------------- script */

enum drill_event_kind { DRILL_EV_PACKET, DRILL_EV_SYSCALL };

struct drill_event {
	int line;
	struct drill_time time;
	enum drill_event_kind kind;
	struct drill_packet pkt;
	struct drill_syscall call;
};

/* A header line --name=value. */
struct drill_setting {
	int line;
	char name[64];
	char value[256];
	bool has_value;
};

struct drill_script {
	struct drill_setting *settings;
	size_t n_settings;
	struct drill_event *events;
	size_t n_events;
};

struct drill_parse_flags {
	bool ignore_shell;          /* skip backquoted shell commands instead of refusing them */
};

/*
 * Parses `len` bytes of script text. 0 and a script to free with
 * drill_script_free, or -1 with the first problem in `err`. Any bytes at all
 * are safe to parse.
 */
int drill_parse(const char *text, size_t len, const struct drill_parse_flags *flags,
		struct drill_script *out, struct drill_error *err);
void drill_script_free(struct drill_script *s);

#endif
