/*
 * tw_trace_render as an embedder calls it: any bytes are safe, including
 * ones built to exhaust a small thread stack, and unsupported link types
 * get a clear line; what a long-lived tracer remembers stays bounded.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "threeway.h"
#include "trace/trace.h"
#include "wire/wire.h"

static size_t count(const char *text, const char *needle)
{
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/*
 * IPv4 inside IPv4 as deep as 64 KiB allows: each level a 20-byte header of
 * protocol 4 whose total length covers everything after it.
 */
static uint8_t *build_ip_in_ip(size_t *len)
{
	size_t levels = 65535 / WIRE_IPV4_HDR_MIN;
	uint8_t *pkt = calloc(levels, WIRE_IPV4_HDR_MIN);
	assert_non_null(pkt);
	for (size_t i = 0; i < levels; i++) {
		struct wire_ipv4 ip = { .ttl = 64, .proto = 4, .src = { 10, 0, 0, 1 }, .dst = { 10, 0, 0, 2 } };
		ip.total_len = (uint16_t)((levels - i) * WIRE_IPV4_HDR_MIN);
		assert_int_equal(wire_ipv4_emit(&ip, pkt + i * WIRE_IPV4_HDR_MIN, WIRE_IPV4_HDR_MIN), WIRE_IPV4_HDR_MIN);
	}
	*len = levels * WIRE_IPV4_HDR_MIN;
	return pkt;
}

struct render_job {
	const uint8_t *pkt;
	size_t len;
	char *text;
};

static void *render_on_thread(void *arg)
{
	struct render_job *job = arg;
	struct tw_tracer *tr = tw_tracer_new(&(struct tw_trace_config){ .verbose = 1, .time = TW_TIME_NONE });
	const char *text = tr ? tw_trace_render(tr, 0, 0, TW_LINK_RAW, job->pkt, job->len, job->len) : NULL;
	job->text = text ? strdup(text) : NULL;
	tw_tracer_free(tr);
	return NULL;
}

/* Nesting stops at 16 inner headers, so a 3,000-deep packet renders on a 256 KiB stack. */
static void test_render_deep_ip_in_ip_on_a_small_stack(void **state)
{
	(void)state;
	struct render_job job = { 0 };
	uint8_t *pkt = build_ip_in_ip(&job.len);
	job.pkt = pkt;

	pthread_attr_t attr;
	pthread_t thread;
	assert_int_equal(pthread_attr_init(&attr), 0);
	assert_int_equal(pthread_attr_setstacksize(&attr, 256 * 1024), 0);
	assert_int_equal(pthread_create(&thread, &attr, render_on_thread, &job), 0);
	assert_int_equal(pthread_join(thread, NULL), 0);
	pthread_attr_destroy(&attr);

	assert_non_null(job.text);
	assert_int_equal(count(job.text, "proto IPIP (4)"), 17);
	assert_non_null(strstr(job.text, " [|ip]\n"));
	free(job.text);
	free(pkt);
}

static void test_render_unsupported_link_type(void **state)
{
	(void)state;
	static const uint8_t pkt[] = { 0x45, 0x00, 0x00, 0x14 };
	struct tw_tracer *tr = tw_tracer_new(&(struct tw_trace_config){ .time = TW_TIME_NONE });
	assert_non_null(tr);
	assert_string_equal(tw_trace_render(tr, 0, 0, 105, pkt, sizeof(pkt), sizeof(pkt)),
			    "[unsupported link-type 105]\n");
	tw_tracer_free(tr);
}

/* Every byte value, every length up to 64, every link type and mode: no crash, one line or more. */
static void test_render_short_packets_of_every_kind(void **state)
{
	(void)state;
	static const int linktypes[] = { TW_LINK_ETHERNET, TW_LINK_RAW, TW_LINK_LINUX_SLL, TW_LINK_LINUX_SLL2 };
	uint8_t pkt[64];
	for (unsigned mode = 0; mode < 3; mode++) {
		struct tw_tracer *tr = tw_tracer_new(&(struct tw_trace_config){ .verbose = mode });
		assert_non_null(tr);
		for (size_t l = 0; l < sizeof(linktypes) / sizeof(linktypes[0]); l++)
			for (unsigned fill = 0; fill < 256; fill += 17)
				for (size_t len = 0; len <= sizeof(pkt); len++) {
					memset(pkt, (int)fill, sizeof(pkt));
					if (len)
						pkt[0] = (uint8_t)(fill & 1 ? 0x45 : 0x60);
					const char *text = tw_trace_render(tr, 1, 2, linktypes[l], pkt, len, len + fill % 3);
					assert_non_null(text);
					assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
				}
		tw_tracer_free(tr);
	}
}

/* A data segment with ACK from 10.1.x.y:sport to 10.0.0.2:80, rendered; the text. */
static const char *render_segment(struct tw_tracer *tr, uint32_t client, uint32_t seq, uint32_t ack)
{
	static const uint8_t data[10] = "0123456789";
	uint8_t pkt[WIRE_IPV4_HDR_MIN + 20 + sizeof(data)];
	struct wire_ipv4 ip = { .ttl = 64, .proto = WIRE_PROTO_TCP, .total_len = sizeof(pkt),
				.src = { 10, 1, (uint8_t)(client >> 16), (uint8_t)(client >> 8) }, .dst = { 10, 0, 0, 2 } };
	struct wire_tcp t = { .sport = (uint16_t)(1024 + (client & 0xff)), .dport = 80, .seq = seq, .ack = ack,
			      .flags = WIRE_TCP_ACK | WIRE_TCP_PSH, .wnd = 512, .payload = data,
			      .payload_len = sizeof(data) };
	struct wire_pseudo ph;
	assert_int_equal(wire_ipv4_emit(&ip, pkt, sizeof(pkt)), WIRE_IPV4_HDR_MIN);
	wire_ipv4_pseudo(&ip, &ph);
	assert_int_equal(wire_tcp_emit(&t, pkt + WIRE_IPV4_HDR_MIN, sizeof(pkt) - WIRE_IPV4_HDR_MIN, &ph),
			 sizeof(pkt) - WIRE_IPV4_HDR_MIN);
	const char *text = tw_trace_render(tr, 0, 0, TW_LINK_RAW, pkt, sizeof(pkt), sizeof(pkt));
	assert_non_null(text);
	return text;
}

/*
 * Relative sequence numbers need a table of connections, which tcpdump lets
 * grow for ever: here it holds two generations at most. A connection that
 * keeps sending stays relative however many others come and go; one idle
 * while more than a generation of others begin is forgotten and rebased.
 */
static void test_render_connection_table_bounded(void **state)
{
	(void)state;
	struct tw_tracer *tr = tw_tracer_new(&(struct tw_trace_config){ .time = TW_TIME_NONE });
	assert_non_null(tr);
	enum { BUSY = 1, IDLE = 2, OTHERS = 5 * TRACE_CONV_GENERATION };
	assert_non_null(strstr(render_segment(tr, BUSY, 7000, 9000), "seq 7000:7010, ack 9000"));
	assert_non_null(strstr(render_segment(tr, IDLE, 1000, 5000), "seq 1000:1010, ack 5000"));
	assert_non_null(strstr(render_segment(tr, IDLE, 1010, 5000), "seq 10:20, ack 1"));
	uint32_t busy_seq = 7010;
	for (uint32_t i = 0; i < OTHERS; i++) {
		render_segment(tr, 256 + i, 100, 200);
		if (i % 1000 == 0) {
			char want[64];
			snprintf(want, sizeof(want), "seq %u:%u, ack 1", busy_seq - 7000, busy_seq - 7000 + 10);
			assert_non_null(strstr(render_segment(tr, BUSY, busy_seq, 9000), want));
			busy_seq += 10;
		}
		size_t n = tr->convs[0].n + tr->convs[1].n, cap = tr->convs[0].cap + tr->convs[1].cap;
		assert_true(n <= 2 * TRACE_CONV_GENERATION);
		assert_true(cap <= 4 * TRACE_CONV_GENERATION);
	}
	/* Forgotten: its next segment prints absolute numbers and sets new bases, as a first one does. */
	assert_non_null(strstr(render_segment(tr, IDLE, 1020, 5000), "seq 1020:1030, ack 5000"));
	assert_non_null(strstr(render_segment(tr, IDLE, 1030, 5000), "seq 10:20, ack 1"));
	tw_tracer_free(tr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_deep_ip_in_ip_on_a_small_stack),
		cmocka_unit_test(test_render_unsupported_link_type),
		cmocka_unit_test(test_render_short_packets_of_every_kind),
		cmocka_unit_test(test_render_connection_table_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
