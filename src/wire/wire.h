/*
 * The wire layer: bytes <-> validated representations of IPv4, IPv6, TCP and
 * TCP options, and the Internet checksum. No I/O, no allocation, libc only.
 *
 * Every parser fills its representation as far as the bytes allow and returns
 * 0, or the first problem found as a negative WIRE_E_* reason. Fields filled
 * before the problem stay valid, so a printer can show what is there; a stack
 * drops the packet. Pointers in a representation borrow the parsed buffer.
 *
 * Every emitter writes a complete header into caller storage and returns the
 * bytes written, or 0 when the buffer is too small or the representation
 * cannot be encoded.
 */
#ifndef THREEWAY_WIRE_H
#define THREEWAY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Why a parse failed. wire_strerror() names each one. */
enum wire_error {
	WIRE_OK = 0,
	WIRE_E_TRUNCATED = 1,     /* fewer bytes than the fixed header needs */
	WIRE_E_VERSION,           /* IP version field is not the one parsed */
	WIRE_E_IHL,               /* IPv4 header length below 20 bytes */
	WIRE_E_HDR_PAST_END,      /* header length runs past the bytes at hand */
	WIRE_E_TOTAL_LEN,         /* IP length below the header, or past the bytes at hand */
	WIRE_E_EXT_HDR,           /* IPv6 extension header runs past the packet */
	WIRE_E_EXT_CHAIN,         /* too many IPv6 extension headers, or HBH not first */
	WIRE_E_DOFF,              /* TCP data offset below 5 */
	WIRE_E_OPT_LEN,           /* TCP option length 0 or 1 */
	WIRE_E_OPT_PAST_END,      /* TCP option runs past the header */
	WIRE_E_CHECKSUM,          /* checksum does not verify */
	WIRE_E_COUNT
};

const char *wire_strerror(int err);

/* ------------------------------------------------------------------ checksums */

/*
 * RFC 1071 one's-complement sum. The partial sum is kept in memory order, so it
 * can be carried from one buffer to the next as long as every buffer but the
 * last has an even length. wire_csum_finish() folds and complements it into
 * the checksum as a host-order number, ready for wire_put16().
 */
uint64_t wire_csum_add(uint64_t sum, const void *buf, size_t len);
uint16_t wire_csum_finish(uint64_t sum);
uint16_t wire_csum(const void *buf, size_t len);

/*
 * The 16-bit word of two bytes as wire_csum_add would load it from memory:
 * to add a header's fields to a sum from their values, rather than writing
 * them out and reading them back (which stalls on bytes just stored).
 */
static inline uint64_t wire_csum_word(uint8_t first, uint8_t second)
{
	const uint8_t bytes[2] = { first, second };
	uint16_t w;
	memcpy(&w, bytes, 2);
	return w;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit or 32-bit field. */
uint16_t wire_csum_update16(uint16_t csum, uint16_t old_val, uint16_t new_val);
uint16_t wire_csum_update32(uint16_t csum, uint32_t old_val, uint32_t new_val);

/* The pseudo-header that TCP's checksum covers (RFC 9293 3.1, RFC 8200 8.1). */
struct wire_pseudo {
	uint8_t family;           /* 4 or 6 */
	uint8_t proto;            /* upper-layer protocol, 6 for TCP */
	uint8_t src[16], dst[16]; /* IPv4 uses the first 4 bytes */
	uint32_t len;             /* upper-layer length: header and data */
};

/*
 * Checksum of the pseudo-header and the segment as it stands: 0 when the
 * segment's checksum field is right. With the field zeroed it is the value to
 * store.
 */
uint16_t wire_l4_csum(const struct wire_pseudo *ph, const uint8_t *seg, size_t len);

/* ------------------------------------------------------------- byte helpers */

static inline uint16_t wire_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t wire_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void wire_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void wire_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* ---------------------------------------------------------------------- IPv4 */

#define WIRE_IPV4_HDR_MIN 20
#define WIRE_IPV4_FLAG_RES 0x8000
#define WIRE_IPV4_FLAG_DF 0x4000
#define WIRE_IPV4_FLAG_MF 0x2000
#define WIRE_IPV4_OFFMASK 0x1fff

struct wire_ipv4 {
	uint8_t hdr_len;          /* bytes, options included */
	uint8_t tos;              /* DSCP and ECN */
	uint16_t total_len;       /* as on the wire */
	uint16_t id;
	uint16_t frag;            /* flags and offset, as on the wire */
	uint8_t ttl;
	uint8_t proto;
	uint16_t csum;            /* as on the wire */
	uint8_t src[4], dst[4];
	const uint8_t *opts;      /* hdr_len - 20 bytes of options, borrowed */
	uint8_t opts_len;
	const uint8_t *payload;   /* borrowed; of a fragment with a non-zero offset, not a transport header */
	size_t payload_len;       /* bytes present: at most total_len - hdr_len */
	size_t missing;           /* bytes the total length promises beyond the buffer */
};

static inline bool wire_ipv4_df(const struct wire_ipv4 *ip) { return ip->frag & WIRE_IPV4_FLAG_DF; }
static inline bool wire_ipv4_mf(const struct wire_ipv4 *ip) { return ip->frag & WIRE_IPV4_FLAG_MF; }
static inline uint16_t wire_ipv4_frag_offset(const struct wire_ipv4 *ip)
{
	return (uint16_t)((ip->frag & WIRE_IPV4_OFFMASK) * 8);
}

/* Trailing bytes past total_len (link padding) are not payload. */
int wire_ipv4_parse(struct wire_ipv4 *ip, const uint8_t *buf, size_t len);
/*
 * Writes the header with its checksum. total_len is taken as set; hdr_len as
 * set, or 20 when 0, and must be 20 + opts_len.
 */
size_t wire_ipv4_emit(const struct wire_ipv4 *ip, uint8_t *buf, size_t cap);
void wire_ipv4_pseudo(const struct wire_ipv4 *ip, struct wire_pseudo *ph);

/* ---------------------------------------------------------------------- IPv6 */

#define WIRE_IPV6_HDR_LEN 40
/*
 * DEVIATION(RFC 8200 4.1): RFC 8200 sets no limit on the number of extension
 * headers; more than 8 is refused (WIRE_E_EXT_CHAIN), as no legitimate packet
 * needs them and a long chain only costs a receiver work.
 */
#define WIRE_IPV6_MAX_EXT 8

enum {
	WIRE_PROTO_HOPOPTS = 0,
	WIRE_PROTO_ICMP = 1,
	WIRE_PROTO_TCP = 6,
	WIRE_PROTO_UDP = 17,
	WIRE_PROTO_ROUTING = 43,
	WIRE_PROTO_FRAGMENT = 44,
	WIRE_PROTO_ICMPV6 = 58,
	WIRE_PROTO_NONE = 59,
	WIRE_PROTO_DSTOPTS = 60,
};

struct wire_ipv6_ext {
	uint8_t type;             /* WIRE_PROTO_HOPOPTS, _ROUTING, _FRAGMENT, _DSTOPTS */
	uint16_t len;             /* bytes of the whole extension header */
	const uint8_t *data;      /* the header itself, borrowed */
};

struct wire_ipv6 {
	uint8_t tclass;
	uint32_t flow;            /* 20 bits */
	uint16_t plen;            /* the Payload Length field, as on the wire */
	uint8_t next;             /* the fixed header's next-header field */
	uint8_t hlim;
	uint8_t src[16], dst[16];
	uint8_t n_ext;
	struct wire_ipv6_ext ext[WIRE_IPV6_MAX_EXT];
	bool fragmented;          /* a fragment header was walked */
	uint16_t frag_offset;     /* bytes */
	bool frag_more;
	uint32_t frag_id;
	uint8_t frag_next;        /* the Fragment header's Next Header: the fragmentable part's first */
	uint8_t n_ext_unfrag;     /* extension headers before the Fragment header (the unfragmentable part) */
	uint16_t unfrag_len;      /* their bytes */
	const uint8_t *frag_data; /* the fragment's data: the bytes after the Fragment header, borrowed */
	size_t frag_data_len;
	uint8_t proto;            /* upper layer after the extension headers */
	const uint8_t *payload;   /* upper-layer bytes, borrowed; when frag_offset != 0, fragment data */
	size_t payload_len;       /* upper-layer bytes present */
	size_t missing;           /* bytes plen promises beyond the buffer */
};

int wire_ipv6_parse(struct wire_ipv6 *ip, const uint8_t *buf, size_t len);
/* Writes the fixed header only; extension headers are the caller's. */
size_t wire_ipv6_emit(const struct wire_ipv6 *ip, uint8_t *buf, size_t cap);
/*
 * Of a parsed fragment: writes the fixed header with Payload Length `plen`
 * and the extension headers before the Fragment header, the one that named
 * the Fragment header now naming frag_next (RFC 8200 4.5's reassembled
 * header). Returns the bytes written, or 0 when not a fragment or no room.
 */
size_t wire_ipv6_emit_unfragmentable(const struct wire_ipv6 *ip, uint16_t plen, uint8_t *buf, size_t cap);
void wire_ipv6_pseudo(const struct wire_ipv6 *ip, struct wire_pseudo *ph);

/* ------------------------------------------------------------ TCP options */

enum wire_tcp_opt_kind {
	WIRE_OPT_EOL = 0,
	WIRE_OPT_NOP = 1,
	WIRE_OPT_MSS = 2,
	WIRE_OPT_WSCALE = 3,
	WIRE_OPT_SACK_PERM = 4,
	WIRE_OPT_SACK = 5,
	WIRE_OPT_TS = 8,
	WIRE_OPT_MD5 = 19,
	WIRE_OPT_MPTCP = 30,
	WIRE_OPT_TFO = 34,
};

/* Bits of wire_tcp_opts.has: which options were present and well formed. */
#define WIRE_HAS_MSS (1u << 0)
#define WIRE_HAS_WSCALE (1u << 1)
#define WIRE_HAS_SACK_PERM (1u << 2)
#define WIRE_HAS_SACK (1u << 3)
#define WIRE_HAS_TS (1u << 4)
#define WIRE_HAS_MD5 (1u << 5)
#define WIRE_HAS_MPTCP (1u << 6)
#define WIRE_HAS_TFO (1u << 7)
#define WIRE_HAS_UNKNOWN (1u << 8)
#define WIRE_HAS_EOL (1u << 9)

#define WIRE_TCP_OPT_SPACE 40     /* at most 40 bytes of options */
#define WIRE_SACK_MAX 4
#define WIRE_TFO_COOKIE_MAX 16
#define WIRE_MD5_LEN 16

struct wire_sack_block {
	uint32_t left, right;
};

/* One option, in the order it stands on the wire. */
struct wire_tcp_opt {
	uint8_t kind;
	uint8_t len;              /* bytes on the wire, kind and length included */
	uint8_t off;              /* offset of the option within the options area */
	bool malformed;           /* framing fits, but the length is wrong for the kind */
};

/*
 * The options of one segment: the values a stack acts on, plus the list in
 * wire order. Parsing fills both and borrows the options area as `raw`. To
 * emit, start from a zeroed struct, push each option in wire order
 * (wire_tcp_opt_push) and set the values of the known kinds; the data of
 * opaque kinds (unknown, MPTCP, MD5, TFO) is copied into `built`. A parsed
 * struct emits again byte for byte.
 */
struct wire_tcp_opts {
	uint32_t has;
	uint16_t mss;
	uint8_t wscale;           /* as sent: a receiver clamps it to 14 (RFC 7323 2.3) */
	uint32_t ts_val, ts_ecr;
	uint8_t sack_count;
	struct wire_sack_block sack[WIRE_SACK_MAX];
	uint8_t tfo_cookie_len;   /* 0 with WIRE_HAS_TFO: a cookie request */
	const uint8_t *raw;       /* the options area when parsed (borrowed), else NULL */
	uint8_t raw_len;
	uint8_t count;
	struct wire_tcp_opt list[WIRE_TCP_OPT_SPACE];
	uint8_t built[WIRE_TCP_OPT_SPACE]; /* opaque option data pushed for emitting */
};

/* Parses an options area of at most 40 bytes (longer is WIRE_E_OPT_PAST_END). */
int wire_tcp_opts_parse(struct wire_tcp_opts *o, const uint8_t *buf, size_t len);

/*
 * Appends an option to o->list for emitting. Values of known kinds come from
 * o's fields; opaque kinds copy len - 2 bytes of `data`. Returns false when
 * 40 bytes would not hold it, after an EOL, or when o was filled by a parse.
 */
bool wire_tcp_opt_push(struct wire_tcp_opts *o, uint8_t kind, uint8_t len, const uint8_t *data);

/* Bytes the options take on the wire, padded to a multiple of 4 (a parsed area keeps its size). */
size_t wire_tcp_opts_size(const struct wire_tcp_opts *o);
/*
 * Writes the options in list order from the values, then pads with EOL to a
 * multiple of 4; for a parsed area, the bytes after the list are written back
 * as they came.
 */
size_t wire_tcp_opts_emit(const struct wire_tcp_opts *o, uint8_t *buf, size_t cap);

/* ----------------------------------------------------------------------- TCP */

#define WIRE_TCP_HDR_MIN 20

#define WIRE_TCP_FIN 0x01
#define WIRE_TCP_SYN 0x02
#define WIRE_TCP_RST 0x04
#define WIRE_TCP_PSH 0x08
#define WIRE_TCP_ACK 0x10
#define WIRE_TCP_URG 0x20
#define WIRE_TCP_ECE 0x40
#define WIRE_TCP_CWR 0x80

struct wire_tcp {                 /* host byte order */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t hdr_len;          /* data offset in bytes */
	uint8_t reserved;         /* the 4 bits before the flags (NS/AE included) */
	uint8_t flags;            /* WIRE_TCP_* */
	uint16_t wnd;             /* as on the wire, unscaled */
	uint16_t csum;            /* as on the wire */
	uint16_t urp;
	struct wire_tcp_opts opt;
	const uint8_t *payload;   /* borrowed */
	size_t payload_len;
};

/*
 * Parses a segment of `len` bytes. With a pseudo-header, the checksum is
 * verified last (WIRE_E_CHECKSUM); with NULL it is not.
 */
int wire_tcp_parse(struct wire_tcp *t, const uint8_t *buf, size_t len, const struct wire_pseudo *ph);
/*
 * The length of the TCP header that starts `buf`, as its data offset says
 * (20 at least), without parsing it: 0 when fewer than 13 bytes are there
 * to say it. For a first fragment, which must hold the whole header.
 */
size_t wire_tcp_header_len(const uint8_t *buf, size_t len);

/*
 * Writes header, options and payload, and the checksum when ph is given
 * (ph->len is set from what is written). hdr_len is computed from the options.
 * An IPv4 segment over 65,535 bytes cannot be encoded (its pseudo-header
 * length is 16 bits).
 */
size_t wire_tcp_emit(const struct wire_tcp *t, uint8_t *buf, size_t cap, struct wire_pseudo *ph);

/* Sequence space a segment occupies: data, plus one for SYN and one for FIN. */
static inline uint32_t wire_tcp_seg_len(const struct wire_tcp *t)
{
	return (uint32_t)t->payload_len + !!(t->flags & WIRE_TCP_SYN) + !!(t->flags & WIRE_TCP_FIN);
}

/* ---------------------------------------------------------------------- ICMP */

enum {
	WIRE_ICMP_ECHO_REPLY = 0,       /* RFC 792 */
	WIRE_ICMP_ECHO_REQUEST = 8,
	WIRE_ICMP_TIME_EXCEEDED = 11,   /* RFC 792; code 1: fragment reassembly time exceeded */
	WIRE_ICMP6_TIME_EXCEEDED = 3,   /* RFC 4443 3.3; code 1 likewise */
	WIRE_ICMP6_PARAM_PROBLEM = 4,   /* RFC 4443 3.4; code 0: erroneous header field, at the pointer */
	WIRE_ICMP6_ECHO_REQUEST = 128,  /* RFC 4443 4.1 */
	WIRE_ICMP6_ECHO_REPLY = 129,    /* RFC 4443 4.2 */
};

#define WIRE_ICMP_HDR_LEN 8

/*
 * An ICMP or ICMPv6 message as its first 8 bytes read for echo: type, code,
 * identifier, sequence number, then the data. Other types parse the same way
 * (id and seq are then just the 4 bytes after the checksum).
 */
struct wire_icmp {
	uint8_t type, code;
	uint16_t csum;            /* as on the wire */
	uint16_t id, seq;
	const uint8_t *data;      /* borrowed */
	size_t data_len;
};

/*
 * Parses `len` bytes of ICMP (ph NULL: RFC 792's checksum of the message
 * alone) or ICMPv6 (ph given: RFC 4443 2.3's checksum with the pseudo-header,
 * ph->len set by the caller). The checksum is verified last.
 */
int wire_icmp_parse(struct wire_icmp *m, const uint8_t *buf, size_t len, const struct wire_pseudo *ph);
/*
 * Does the message at `buf` start with an error type (RFC 792's 3, 4, 5, 11,
 * 12; RFC 4443 2.1's types below 128)? Reads the type only: for a message
 * whose checksum cannot be checked yet (a first fragment).
 */
bool wire_icmp_is_error(const uint8_t *buf, size_t len, bool v6);
/* Writes the message and its checksum (ph as for parsing; ph->len is set here). */
size_t wire_icmp_emit(const struct wire_icmp *m, uint8_t *buf, size_t cap, struct wire_pseudo *ph);

#endif
