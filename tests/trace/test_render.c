/*
 * tw_trace_render as an embedder calls it: any bytes are safe, including
 * ones built to exhaust a small thread stack, and unsupported link types
 * get a clear line.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_deep_ip_in_ip_on_a_small_stack),
		cmocka_unit_test(test_render_unsupported_link_type),
		cmocka_unit_test(test_render_short_packets_of_every_kind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
