/*
 * The stack object: its configuration, creation and teardown, and the two
 * ways the host drives it, packets in (tw_input) and time (tw_poll).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/random.h>
#else
#include <unistd.h>   /* getentropy */
#endif

#include "ip/ip.h"
#include "tcp/tcp.h"

static void config_defaults(struct tw_stack_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = sizeof(*cfg);
	cfg->mtu = 1500;
	cfg->max_conns = 1u << 20;
	cfg->rcvbuf = 131072;               /* Linux tcp_rmem[1] */
	cfg->sndbuf = 131072;
	cfg->rcvbuf_max = 15u << 20;        /* window scale 8 */
	cfg->rcv_space_initial = 65536;     /* Linux: the window tcp_rmem[1] (131072) gives */
	cfg->sack = cfg->timestamps = cfg->window_scaling = true;
	cfg->min_snd_mss = 48;              /* Linux tcp_min_snd_mss */
	cfg->init_cwnd = 10;                /* RFC 6928 */
	cfg->syn_retries = 6;               /* Linux tcp_syn_retries */
	cfg->synack_retries = 5;            /* Linux tcp_synack_retries */
	cfg->data_retries = 15;             /* Linux tcp_retries2 */
	cfg->rto_initial_us = 1000000;      /* RFC 6298 2.1 */
	cfg->rto_min_us = 200000;           /* Linux TCP_RTO_MIN */
	cfg->rto_max_us = 120000000;        /* Linux TCP_RTO_MAX */
	cfg->syn_linear_retries = 0;
	cfg->delack_us = 40000;             /* Linux TCP_DELACK_MIN */
	cfg->quickack_segs = 16;            /* Linux TCP_MAX_QUICKACKS */
	cfg->time_wait_us = 60000000;       /* Linux TCP_TIMEWAIT_LEN */
	cfg->fin_wait2_us = 60000000;       /* Linux tcp_fin_timeout */
	cfg->challenge_ack_interval_us = 500000;   /* Linux tcp_invalid_ratelimit */
	cfg->keepalive_idle_s = 7200;
	cfg->keepalive_intvl_s = 75;
	cfg->keepalive_probes = 9;
	cfg->probe_max_us = 120000000;
	cfg->slow_start_after_idle = true;  /* Linux tcp_slow_start_after_idle */
	cfg->syncookies = TW_SYNCOOKIES_ON_OVERFLOW;   /* Linux tcp_syncookies = 1 */
	cfg->buffer_max_bytes = 256ull << 20;          /* like Linux's tcp_mem on a small host */
	cfg->reass_max_bytes = 4u << 20;               /* Linux's ipfrag_high_thresh */
	cfg->reass_max_datagrams = 1024;
	cfg->reass_timeout_us = 30000000;              /* Linux's ipfrag_time */
	cfg->reass6_timeout_us = 60000000;             /* RFC 8200 4.5; Linux's ip6frag_time */
}

void tw_stack_config_init_sized(struct tw_stack_config *cfg, size_t size)
{
	struct tw_stack_config d;
	config_defaults(&d);
	size_t known = size < sizeof(d) ? size : sizeof(d);
	/* A newer threeway.h: its extra settings are left zero, which asks for nothing of them. */
	if (size > known)
		memset((uint8_t *)cfg + known, 0, size - known);
	d.size = (uint32_t)size;
	memcpy(cfg, &d, known);
}

_Static_assert(TW_DROP_COUNT <= TW_DROP_SLOTS, "drop reasons fit tw_stack_stats.drops");

/*
 * The caller's config over the defaults: fields past its size are ones it
 * does not know, and keep their defaults; a larger config is accepted when
 * the settings this library lacks are all zero (nothing asked of them).
 */
static int config_from_caller(const struct tw_stack_config *caller, struct tw_stack_config *cfg)
{
	size_t size = caller->size;
	if (size < offsetof(struct tw_stack_config, addrs) + sizeof(caller->addrs))
		return -EINVAL;
	if (size > sizeof(*cfg)) {
		const uint8_t *extra = (const uint8_t *)caller + sizeof(*cfg);
		for (size_t i = 0; i < size - sizeof(*cfg); i++)
			if (extra[i])
				return -E2BIG;
		size = sizeof(*cfg);
	}
	config_defaults(cfg);
	memcpy(cfg, caller, size);
	cfg->size = sizeof(*cfg);
	return 0;
}

static bool config_valid(const struct tw_stack_config *cfg)
{
	if (cfg->mtu < 68 || cfg->mtu > 65535 || cfg->n_addrs > TW_MAX_ADDRS)
		return false;
	for (size_t i = 0; i < cfg->n_addrs; i++) {
		uint8_t f = cfg->addrs[i].family;
		if (f != TW_AF_INET && f != TW_AF_INET6)
			return false;
		/* RFC 8200 5: IPv6 needs an MTU of 1280 at least. */
		if (f == TW_AF_INET6 && cfg->mtu < 1280)
			return false;
	}
	/* Linux's floor for the MSS is 48: room for the 12 bytes of timestamps and some data. */
	if (cfg->min_snd_mss < 48 || cfg->min_snd_mss > cfg->mtu - 40 || cfg->init_cwnd == 0)
		return false;
	/* Counters of retransmissions and quick ACKs are 8 bits wide. */
	if (cfg->syn_retries > 127 || cfg->synack_retries > 127 || cfg->data_retries > 127 ||
	    cfg->quickack_segs > 255 || cfg->keepalive_probes > 127)
		return false;
	if (cfg->rcvbuf < 1 || cfg->sndbuf < 1 || cfg->rcvbuf > (1u << 30) || cfg->sndbuf > (1u << 30))
		return false;
	if (cfg->rcvbuf_max < 2048 || cfg->rcvbuf_max > (1u << 31) || cfg->rcv_space_initial == 0)
		return false;
	if (cfg->rto_min_us == 0 || cfg->rto_initial_us < cfg->rto_min_us || cfg->rto_max_us < cfg->rto_initial_us)
		return false;
	if (cfg->syncookies > TW_SYNCOOKIES_ALWAYS)
		return false;
	if (cfg->reass_max_bytes && cfg->reass_max_datagrams && (!cfg->reass_timeout_us || !cfg->reass6_timeout_us))
		return false;
	return cfg->max_conns > 0 && cfg->delack_us > 0;
}

static int draw_secret(uint8_t secret[16])
{
#if defined(__linux__)
	ssize_t n = getrandom(secret, 16, 0);
	return n == 16 ? 0 : (n < 0 ? -errno : -EIO);
#else
	return getentropy(secret, 16) == 0 ? 0 : -errno;
#endif
}

struct tw_stack *tw_stack_new(const struct tw_stack_config *cfg, int *err)
{
	int e = 0;
	struct tw_stack *st = NULL;

	struct tw_stack_config own;
	if (!cfg) {
		e = -EINVAL;
		goto fail;
	}
	if ((e = config_from_caller(cfg, &own)) != 0)
		goto fail;
	if (!config_valid(&own)) {
		e = -EINVAL;
		goto fail;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		e = -ENOMEM;
		goto fail;
	}
	st->cfg = own;
	if (!own.secret_fixed && (e = draw_secret(st->cfg.secret)) != 0)
		goto fail;
	st->table_mask = 1023;
	st->listen_mask = 255;
	st->ip.cfg = &st->cfg;
	st->ip.stats = &st->stats;
	st->ip.now = &st->now;
	st->ip.out_cap = own.mtu + 128;
	st->table = calloc(st->table_mask + 1, sizeof(*st->table));
	st->listen = calloc(st->listen_mask + 1, sizeof(*st->listen));
	st->ip.out = malloc(st->ip.out_cap);
	if (!st->table || !st->listen || !st->ip.out || tcp_reqs_init(st)) {
		e = -ENOMEM;
		goto fail;
	}
	tcp_wheel_init(&st->wheel, 0);
	uint64_t chunks = own.buffer_max_bytes / TCP_CHUNK_SIZE;
	st->pool.max_in_use = own.buffer_max_bytes ? (uint32_t)(chunks > UINT32_MAX ? UINT32_MAX : chunks ? chunks : 1) : 0;
	return st;
fail:
	if (st) {
		tcp_reqs_free_all(st);
		ip_reass_free(&st->ip);
		free(st->table);
		free(st->listen);
		free(st->ip.out);
		free(st);
	}
	if (err)
		*err = e;
	return NULL;
}

void tw_stack_free(struct tw_stack *st)
{
	if (!st)
		return;
	tcp_stack_free_all(st);
	ip_reass_free(&st->ip);
	free(st->table);
	free(st->listen);
	free(st->ip.out);
	free(st);
}

void tw_stack_set_output(struct tw_stack *st, tw_output_fn output, void *ctx)
{
	st->cfg.output = output;
	st->cfg.output_ctx = ctx;
}

void tw_stack_set_event_hook(struct tw_stack *st, tw_event_fn fn, void *ctx)
{
	st->cfg.event = fn;
	st->cfg.event_ctx = ctx;
}

static void set_now(struct tw_stack *st, uint64_t now)
{
	/* Time never runs backwards inside the stack, whatever the host passes. */
	if (now > st->now)
		st->now = now;
}

int tw_input(struct tw_stack *st, const uint8_t *pkt, size_t len, uint64_t now)
{
	set_now(st, now);
	if (!pkt)
		return ip_drop(&st->ip, TW_DROP_IP_MALFORMED);
	/* The IP layer validates; what it delivers is TCP's. */
	struct ip_packet p;
	int r = ip_input(&st->ip, pkt, len, &p);
	if (r == IP_DELIVER)
		r = tcp_input(st, &p);
	tcp_notify_flush(st);
	return r;
}

uint64_t tw_poll(struct tw_stack *st, uint64_t now)
{
	set_now(st, now);
	ip_reass_expire(&st->ip);
	tcp_timers_run(st, st->now);
	tcp_notify_flush(st);
	/* The deadline after the callbacks, which may have armed new timers. */
	uint64_t tcp_next = tcp_timers_next(st), ip_next = ip_reass_next(&st->ip);
	return tcp_next < ip_next ? tcp_next : ip_next;
}

bool tw_stack_is_local(const struct tw_stack *st, const uint8_t *pkt, size_t len)
{
	return ip_packet_is_local(&st->cfg, pkt, len);
}

void tw_stack_stats_sized(const struct tw_stack *st, struct tw_stack_stats *out, size_t size)
{
	struct tw_stack_stats s = st->stats;
	s.buffer_chunks = st->pool.in_use;
	s.buffer_chunks_allocated = st->pool.allocated;
	s.buffer_refusals = st->pool.refused;
	s.reass_bytes = st->ip.reass.bytes;
	s.reass_datagrams = st->ip.reass.count;
	memcpy(out, &s, size < sizeof(s) ? size : sizeof(s));
}

const char *tw_drop_name(enum tw_drop why)
{
	static const char *const names[TW_DROP_COUNT] = {
		[TW_DROP_IP_MALFORMED] = "ip-malformed", [TW_DROP_NOT_LOCAL] = "not-local",
		[TW_DROP_BAD_SOURCE] = "bad-source", [TW_DROP_PROTOCOL] = "protocol",
		[TW_DROP_FRAGMENT] = "fragment", [TW_DROP_ICMP_MALFORMED] = "icmp-malformed",
		[TW_DROP_ICMP_IGNORED] = "icmp-ignored", [TW_DROP_ICMP_TOO_BIG] = "icmp-too-big",
		[TW_DROP_TCP_MALFORMED] = "tcp-malformed", [TW_DROP_TCP_CHECKSUM] = "tcp-checksum",
		[TW_DROP_BAD_PORT] = "bad-port", [TW_DROP_NO_SOCKET] = "no-socket",
		[TW_DROP_LISTEN_RST] = "listen-rst", [TW_DROP_LISTEN_ACK] = "listen-ack",
		[TW_DROP_LISTEN_NOT_SYN] = "listen-not-syn", [TW_DROP_SYN_QUEUE_FULL] = "syn-queue-full",
		[TW_DROP_ACCEPT_QUEUE_FULL] = "accept-queue-full", [TW_DROP_NO_MEMORY] = "no-memory",
		[TW_DROP_BAD_ACK] = "bad-ack", [TW_DROP_BAD_RST] = "bad-rst", [TW_DROP_NOT_SYN] = "not-syn",
		[TW_DROP_PAWS] = "paws", [TW_DROP_OUT_OF_WINDOW] = "out-of-window", [TW_DROP_NO_ACK] = "no-ack",
		[TW_DROP_RST_CHALLENGED] = "rst-challenged", [TW_DROP_SYN_CHALLENGED] = "syn-challenged",
		[TW_DROP_ACK_OUT_OF_RANGE] = "ack-out-of-range", [TW_DROP_TIME_WAIT_RST] = "time-wait-rst",
		[TW_DROP_FRAG_OVERLAP] = "frag-overlap", [TW_DROP_FRAG_DUPLICATE] = "frag-duplicate",
		[TW_DROP_FRAG_TINY] = "frag-tiny", [TW_DROP_FRAG_TOO_BIG] = "frag-too-big",
		[TW_DROP_FRAG_UNALIGNED] = "frag-unaligned", [TW_DROP_FRAG_BAD_LENGTH] = "frag-bad-length",
		[TW_DROP_FRAG_NO_ROOM] = "frag-no-room", [TW_DROP_FRAG_TIMEOUT] = "frag-timeout",
	};
	if ((unsigned)why >= TW_DROP_COUNT || !names[why])
		return "?";
	return names[why];
}

const char *tw_state_name(enum tw_state s)
{
	static const char *const names[] = {
		[TW_CLOSED] = "CLOSED", [TW_LISTEN] = "LISTEN", [TW_SYN_SENT] = "SYN-SENT",
		[TW_SYN_RECEIVED] = "SYN-RECEIVED", [TW_ESTABLISHED] = "ESTABLISHED",
		[TW_FIN_WAIT_1] = "FIN-WAIT-1", [TW_FIN_WAIT_2] = "FIN-WAIT-2",
		[TW_CLOSE_WAIT] = "CLOSE-WAIT", [TW_CLOSING] = "CLOSING", [TW_LAST_ACK] = "LAST-ACK",
		[TW_TIME_WAIT] = "TIME-WAIT",
	};
	if ((unsigned)s >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[s];
}
