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

#ifdef __cplusplus
}
#endif

#endif
