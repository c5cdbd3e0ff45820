/*
 * The in-memory link: every impairment alone, the order packets come out in,
 * the same seed repeating a run exactly, and buffers that are reused and all
 * freed (the sanitizer build fails the run on a leak).
 *
 * Each packet carries its number in its first four bytes and a pattern after
 * them that depends on the number, so a packet can be named on arrival and
 * checked byte for byte against the one that was sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "link/link.h"
#include "wire/wire.h"

#define SEED 0x7468726565776179u   /* "threeway" */
#define MAX_LEN 1500

/* ------------------------------------------------------------------ helpers */

/* Packet `id` of `len` bytes: the pattern, then the id in the first four bytes. */
static void make_pkt(uint8_t *buf, uint32_t id, size_t len)
{
	for (size_t k = 0; k < len; k++)
		buf[k] = (uint8_t)(id * 131u + k * 7u + 1u);
	if (len >= 4) {
		buf[0] = (uint8_t)(id >> 24);
		buf[1] = (uint8_t)(id >> 16);
		buf[2] = (uint8_t)(id >> 8);
		buf[3] = (uint8_t)id;
	}
}

static uint32_t pkt_id(const uint8_t *buf)
{
	return (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
}

/* Lengths from 20 to 1419 bytes, varied so buffers must grow. */
static size_t len_for(uint32_t id)
{
	return 20 + (id * 37u) % 1400;
}

static void assert_pkt(const uint8_t *got, size_t got_len, uint32_t id, size_t len)
{
	uint8_t want[MAX_LEN];

	make_pkt(want, id, len);
	assert_int_equal(got_len, len);
	assert_memory_equal(got, want, len);
}

static bool send_id(struct link_pipe *p, int dir, uint32_t id, size_t len, uint64_t now)
{
	uint8_t buf[MAX_LEN];

	make_pkt(buf, id, len);
	return link_pipe_send(p, dir, buf, len, now);
}

static struct link_pipe *pipe_new(uint64_t seed, const struct tw_impairment *a_to_b,
				  const struct tw_impairment *b_to_a)
{
	struct link_pipe *p = link_pipe_new(seed, a_to_b, b_to_a);
	assert_non_null(p);
	return p;
}

struct popped {
	int dir;
	uint32_t id;
	size_t len;
	uint64_t at;                /* when it was due, and popped */
	uint64_t hash;              /* of its bytes */
};

/* FNV-1a, to compare delivered bytes between runs. */
static uint64_t hash_bytes(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3u;
	return h;
}

/*
 * Pops every queued packet at the moment it falls due, checking that it is
 * not handed out a microsecond early. Returns how many came out.
 */
static size_t drain(struct link_pipe *p, struct popped *out, size_t max)
{
	size_t n = 0;
	uint64_t due;

	while ((due = link_pipe_next_due(p)) != UINT64_MAX) {
		const uint8_t *pkt = NULL;
		size_t len = 0;
		int dir = -1;

		if (due > 0)
			assert_false(link_pipe_pop(p, due - 1, &dir, &pkt, &len));
		assert_true(link_pipe_pop(p, due, &dir, &pkt, &len));
		assert_non_null(pkt);
		assert_true(n < max);
		out[n++] = (struct popped){
			.dir = dir, .id = len >= 4 ? pkt_id(pkt) : 0, .len = len, .at = due,
			.hash = hash_bytes(pkt, len),
		};
	}
	return n;
}

static void assert_stats(const struct link_pipe *p, int dir, struct tw_pipe_stats want)
{
	struct tw_pipe_stats got;

	link_pipe_stats(p, dir, &got);
	assert_int_equal(got.sent, want.sent);
	assert_int_equal(got.delivered, want.delivered);
	assert_int_equal(got.lost, want.lost);
	assert_int_equal(got.duplicated, want.duplicated);
	assert_int_equal(got.reordered, want.reordered);
	assert_int_equal(got.corrupted, want.corrupted);
	assert_int_equal(got.too_big, want.too_big);
}

static bool same_popped(const struct popped *a, const struct popped *b)
{
	return a->dir == b->dir && a->id == b->id && a->len == b->len && a->at == b->at &&
	       a->hash == b->hash;
}

/* Two runs delivered the same packets, with the same bytes, at the same times. */
static bool same_run(const struct popped *a, size_t na, const struct popped *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!same_popped(&a[i], &b[i]))
			return false;
	return true;
}

static struct tw_pipe_stats stats_of(const struct link_pipe *p, int dir)
{
	struct tw_pipe_stats s;
	link_pipe_stats(p, dir, &s);
	return s;
}

/* ------------------------------------------------------------ no impairment */

/* Every packet arrives, unchanged, in order, exactly `delay` after it was sent. */
static void test_pipe_no_impairment_delivers_every_packet_at_delay(void **state)
{
	(void)state;
	const struct tw_impairment imp = { .delay_us = 500 };
	struct link_pipe *p = pipe_new(SEED, &imp, NULL);
	static uint8_t sent[100][MAX_LEN];

	for (uint32_t i = 0; i < 100; i++) {
		make_pkt(sent[i], i, len_for(i));
		assert_true(link_pipe_send(p, LINK_A_TO_B, sent[i], len_for(i), 1000 + 3 * i));
	}
	assert_int_equal(link_pipe_next_due(p), 1500);

	/* Check the bytes themselves here, while each is still valid. */
	for (uint32_t i = 0; i < 100; i++) {
		const uint8_t *pkt;
		size_t len;
		int dir;
		uint64_t due = 1000 + 3 * i + 500;

		assert_int_equal(link_pipe_next_due(p), due);
		assert_false(link_pipe_pop(p, due - 1, &dir, &pkt, &len));
		assert_true(link_pipe_pop(p, due, &dir, &pkt, &len));
		assert_int_equal(dir, LINK_A_TO_B);
		assert_int_equal(len, len_for(i));
		assert_memory_equal(pkt, sent[i], len);
	}
	assert_int_equal(link_pipe_next_due(p), UINT64_MAX);
	assert_stats(p, LINK_A_TO_B, (struct tw_pipe_stats){ .sent = 100, .delivered = 100 });
	assert_stats(p, LINK_B_TO_A, (struct tw_pipe_stats){ 0 });
	link_pipe_free(p);
}

/* NULL impairments mean none: delivered at once. */
static void test_pipe_null_impairment_delivers_at_once(void **state)
{
	(void)state;
	struct link_pipe *p = pipe_new(SEED, NULL, NULL);
	struct popped got[2];

	assert_true(send_id(p, LINK_A_TO_B, 1, 60, 77));
	assert_true(send_id(p, LINK_B_TO_A, 2, 60, 77));
	assert_int_equal(drain(p, got, 2), 2);
	assert_int_equal(got[0].at, 77);
	assert_int_equal(got[0].dir, LINK_A_TO_B);
	assert_int_equal(got[1].dir, LINK_B_TO_A);
	link_pipe_free(p);
}

/* Packets due at the same time come out in the order they were sent, across directions. */
static void test_pipe_equal_due_pops_in_send_order(void **state)
{
	(void)state;
	const struct tw_impairment imp = { .delay_us = 40 };
	struct link_pipe *p = pipe_new(SEED, &imp, &imp);
	static struct popped got[300];

	for (uint32_t i = 0; i < 300; i++)
		assert_true(send_id(p, (int)(i % 2), i, 64, 5));
	assert_int_equal(drain(p, got, 300), 300);
	for (uint32_t i = 0; i < 300; i++) {
		assert_int_equal(got[i].id, i);
		assert_int_equal(got[i].dir, (int)(i % 2));
		assert_int_equal(got[i].at, 45);
	}
	link_pipe_free(p);
}

/* Sent out of time order, packets still come out by due time, then by send order. */
static void test_pipe_pops_by_due_time_then_send_order(void **state)
{
	(void)state;
	struct link_pipe *p = pipe_new(SEED, NULL, NULL);
	static struct popped got[2000];
	static uint64_t sent_at[2000];
	uint32_t x = 0x2545f491u;

	for (uint32_t i = 0; i < 2000; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		sent_at[i] = x % 300;       /* many ties */
		assert_true(send_id(p, LINK_A_TO_B, i, 32, sent_at[i]));
	}
	assert_int_equal(drain(p, got, 2000), 2000);
	for (uint32_t i = 0; i < 2000; i++) {
		assert_int_equal(got[i].at, sent_at[got[i].id]);
		if (i > 0 && got[i].at == got[i - 1].at)
			assert_true(got[i].id > got[i - 1].id);
		if (i > 0)
			assert_true(got[i].at >= got[i - 1].at);
	}
	link_pipe_free(p);
}

/* ------------------------------------------------------------------- loss */

static void test_pipe_loss_all_delivers_nothing(void **state)
{
	(void)state;
	const struct tw_impairment imp = { .loss = 1.0 };
	struct link_pipe *p = pipe_new(SEED, &imp, NULL);
	const uint8_t *pkt;
	size_t len;
	int dir;

	for (uint32_t i = 0; i < 100; i++)
		assert_false(send_id(p, LINK_A_TO_B, i, 40, i));
	assert_int_equal(link_pipe_next_due(p), UINT64_MAX);
	assert_false(link_pipe_pop(p, UINT64_MAX, &dir, &pkt, &len));
	assert_stats(p, LINK_A_TO_B, (struct tw_pipe_stats){ .sent = 100, .lost = 100 });
	link_pipe_free(p);
}

/* 30% of 10,000: the standard deviation is about 46, so 2,700..3,300 is over 6 of them. */
static void test_pipe_loss_rate_within_band(void **state)
{
	(void)state;
	const struct tw_impairment imp = { .loss = 0.3, .delay_us = 10 };
	struct link_pipe *p = pipe_new(SEED, &imp, NULL);
	static struct popped got[10000];
	uint64_t refused = 0;

	for (uint32_t i = 0; i < 10000; i++)
		refused += !send_id(p, LINK_A_TO_B, i, 40, i);
	struct tw_pipe_stats s = stats_of(p, LINK_A_TO_B);
	assert_int_equal(s.lost, refused);
	assert_in_range(s.lost, 2700, 3300);
	size_t n = drain(p, got, 10000);
	assert_int_equal(n, 10000 - refused);
	for (size_t i = 1; i < n; i++)
		assert_true(got[i].id > got[i - 1].id);
	assert_stats(p, LINK_A_TO_B, (struct tw_pipe_stats){
		.sent = 10000, .delivered = n, .lost = refused });
	link_pipe_free(p);
}

/* Every impairment at once, so every draw takes part in what is compared. */
static size_t run_seeded(uint64_t seed, struct popped *got, size_t max)
{
	const struct tw_impairment imp = {
		.loss = 0.3, .duplicate = 0.1, .reorder = 0.1, .corrupt = 0.1,
		.delay_us = 100, .jitter_us = 50,
	};
	struct link_pipe *p = pipe_new(seed, &imp, NULL);

	for (uint32_t i = 0; i < 10000; i++)
		send_id(p, LINK_A_TO_B, i, len_for(i), (uint64_t)i * 20);
	size_t n = drain(p, got, max);
	link_pipe_free(p);
	return n;
}

static void test_pipe_same_seed_repeats_other_seed_differs(void **state)
{
	(void)state;
	static struct popped first[20000], again[20000], other[20000];
	size_t n1 = run_seeded(SEED, first, 20000);
	size_t n2 = run_seeded(SEED, again, 20000);
	size_t n3 = run_seeded(SEED + 1, other, 20000);

	assert_true(n1 > 7000 && n1 < 9000);
	assert_true(same_run(first, n1, again, n2));
	/* The ids alone differ too: a different packet is lost, not just re-timed. */
	bool ids_differ = n1 != n3;
	for (size_t i = 0; !ids_differ && i < n1; i++)
		ids_differ = first[i].id != other[i].id;
	assert_true(ids_differ);
}

/* ------------------------------------------------------------- corruption */

/*
 * Every packet has 1 or 2 bytes changed, never 0 and never 3; both counts
 * happen; the first and the last byte can both be hit.
 */
static void test_pipe_corrupt_changes_one_or_two_bytes(void **state)
{
	(void)state;
	const struct tw_impairment imp = { .corrupt = 1.0 };
	struct link_pipe *p = pipe_new(SEED, &imp, NULL);
	unsigned by_count[3] = { 0 };
	unsigned first_hit = 0, last_hit = 0;

	for (uint32_t i = 0; i < 5000; i++) {
		size_t len = 1 + i % 64;
		uint8_t want[64];
		const uint8_t *pkt;
		size_t got_len;
		int dir;
		unsigned diff = 0;

		make_pkt(want, i, len);
		assert_true(link_pipe_send(p, LINK_A_TO_B, want, len, i));
		assert_true(link_pipe_pop(p, i, &dir, &pkt, &got_len));
		assert_int_equal(got_len, len);
		for (size_t k = 0; k < len; k++)
			diff += pkt[k] != want[k];
		assert_in_range(diff, 1, len > 1 ? 2 : 1);
		by_count[diff]++;
		first_hit += pkt[0] != want[0];
		last_hit += len > 1 && pkt[len - 1] != want[len - 1];
	}
	assert_int_equal(by_count[0], 0);
	assert_true(by_count[1] > 1000);
	assert_true(by_count[2] > 1000);
	assert_true(first_hit > 0);
	assert_true(last_hit > 0);
	assert_stats(p, LINK_A_TO_B, (struct tw_pipe_stats){
		.sent = 5000, .delivered = 5000, .corrupted = 5000 });
	link_pipe_free(p);
}

/*
 * Every corruption is one the Internet checksum sees: the packet's sum
 * changes. Packets of zeros and 0xff bytes give double changes every chance
 * to cancel out (0x00 -> 0xff in one byte and 0xff -> 0x00 in another of the
 * same lane).
 */
static void test_pipe_corruption_always_changes_the_checksum(void **state)
{
	(void)state;
	const struct tw_impairment imp = { .corrupt = 1.0 };
	struct link_pipe *p = pipe_new(SEED, &imp, NULL);
	for (uint32_t i = 0; i < 20000; i++) {
		uint8_t want[40];
		size_t len = 2 + i % 39;
		for (size_t k = 0; k < len; k++)
			want[k] = (k * 7 + i) % 3 ? 0x00 : 0xff;
		const uint8_t *pkt;
		size_t got_len;
		int dir;
		assert_true(link_pipe_send(p, LINK_A_TO_B, want, len, i));
		assert_true(link_pipe_pop(p, i, &dir, &pkt, &got_len));
		/* Sums compared modulo 0xffff, where 0x0000 and 0xffff are the same. */
		uint32_t before = wire_csum(want, len) % 0xffff, after = wire_csum(pkt, len) % 0xffff;
		assert_true(before != after);
	}
	link_pipe_free(p);
}

/* An empty packet has nothing to corrupt: it arrives empty and is not counted. */
static void test_pipe_empty_packet_is_delivered_uncorrupted(void **state)
{
	(void)state;
	const struct tw_impairment imp = { .corrupt = 1.0 };
	struct link_pipe *p = pipe_new(SEED, &imp, NULL);
	const uint8_t *pkt = NULL;
	size_t len = 99;
	int dir;

	assert_true(link_pipe_send(p, LINK_A_TO_B, NULL, 0, 3));
	assert_true(link_pipe_pop(p, 3, &dir, &pkt, &len));
	assert_non_null(pkt);
	assert_int_equal(len, 0);
	assert_stats(p, LINK_A_TO_B, (struct tw_pipe_stats){ .sent = 1, .delivered = 1 });
	link_pipe_free(p);
}

/* ------------------------------------------------------------ duplication */

static void test_pipe_duplicate_all_delivers_two_copies(void **state)
{
	(void)state;
	const struct tw_impairment imp = { .duplicate = 1.0, .delay_us = 10 };
	struct link_pipe *p = pipe_new(SEED, &imp, NULL);
	static struct popped got[100];

	for (uint32_t i = 0; i < 50; i++)
		assert_true(send_id(p, LINK_A_TO_B, i, len_for(i), i));
	assert_int_equal(drain(p, got, 100), 100);
	for (uint32_t i = 0; i < 50; i++) {
		uint8_t want[MAX_LEN];
		make_pkt(want, i, len_for(i));
		for (int c = 0; c < 2; c++) {
			assert_int_equal(got[2 * i + c].id, i);
			assert_int_equal(got[2 * i + c].at, i + 10);
			assert_int_equal(got[2 * i + c].len, len_for(i));
			assert_int_equal(got[2 * i + c].hash, hash_bytes(want, len_for(i)));
		}
	}
	assert_stats(p, LINK_A_TO_B, (struct tw_pipe_stats){
		.sent = 50, .delivered = 100, .duplicated = 50 });
	link_pipe_free(p);
}

/* Both copies of a corrupted packet carry the same changed bytes. */
static void test_pipe_duplicate_copies_the_corrupted_bytes(void **state)
{
	(void)state;
	const struct tw_impairment imp = { .duplicate = 1.0, .corrupt = 1.0 };
	struct link_pipe *p = pipe_new(SEED, &imp, NULL);
	struct popped got[2];
	uint8_t want[200];

	make_pkt(want, 7, sizeof(want));
	assert_true(send_id(p, LINK_A_TO_B, 7, sizeof(want), 0));
	assert_int_equal(drain(p, got, 2), 2);
	assert_int_equal(got[0].hash, got[1].hash);
	assert_true(got[0].hash != hash_bytes(want, sizeof(want)));
	link_pipe_free(p);
}

/* ---------------------------------------------------------------- reorder */

/* Some packets are held back one more delay (1 ms here) and later ones overtake them. */
static void test_pipe_reorder_lets_later_packet_overtake(void **state)
{
	(void)state;
	const struct tw_impairment imp = { .reorder = 0.5, .delay_us = 100 };
	struct link_pipe *p = pipe_new(SEED, &imp, NULL);
	static struct popped got[200];
	uint64_t held = 0;
	bool overtaken = false;

	for (uint32_t i = 0; i < 200; i++)
		assert_true(send_id(p, LINK_A_TO_B, i, 80, (uint64_t)i * 10));
	assert_int_equal(drain(p, got, 200), 200);
	for (size_t i = 0; i < 200; i++) {
		uint64_t sent = (uint64_t)got[i].id * 10;
		assert_true(got[i].at == sent + 100 || got[i].at == sent + 100 + 1000);
		held += got[i].at == sent + 1100;
		if (i > 0 && got[i].id < got[i - 1].id)
			overtaken = true;
	}
	assert_true(overtaken);
	assert_in_range(held, 50, 150);
	assert_stats(p, LINK_A_TO_B, (struct tw_pipe_stats){
		.sent = 200, .delivered = 200, .reordered = held });
	link_pipe_free(p);
}

/* The hold-back is reorder_us, or with none set, the delay but at least 1 ms. */
static void test_pipe_reorder_hold_back_time(void **state)
{
	(void)state;
	const struct tw_impairment given = { .reorder = 1.0, .delay_us = 100, .reorder_us = 5000 };
	const struct tw_impairment from_delay = { .reorder = 1.0, .delay_us = 3000 };
	struct link_pipe *p = pipe_new(SEED, &given, &from_delay);

	assert_true(send_id(p, LINK_A_TO_B, 1, 40, 1000));
	assert_int_equal(link_pipe_next_due(p), 1000 + 100 + 5000);
	link_pipe_free(p);

	p = pipe_new(SEED, &given, &from_delay);
	assert_true(send_id(p, LINK_B_TO_A, 1, 40, 1000));
	assert_int_equal(link_pipe_next_due(p), 1000 + 3000 + 3000);
	assert_int_equal(stats_of(p, LINK_B_TO_A).reordered, 1);
	link_pipe_free(p);
}

/* ----------------------------------------------------------------- jitter */

/* Due times fall in [delay, delay + jitter], and spread over the whole range. */
static void test_pipe_jitter_within_bounds(void **state)
{
	(void)state;
	const struct tw_impairment imp = { .delay_us = 1000, .jitter_us = 500 };
	struct link_pipe *p = pipe_new(SEED, &imp, NULL);
	uint64_t lo = UINT64_MAX, hi = 0;

	for (uint64_t i = 0; i < 3000; i++) {
		uint64_t now = i * 10000;
		assert_true(send_id(p, LINK_A_TO_B, (uint32_t)i, 40, now));
		uint64_t d = link_pipe_next_due(p) - now;
		assert_in_range(d, 1000, 1500);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		struct popped got[1];
		assert_int_equal(drain(p, got, 1), 1);
	}
	assert_true(lo <= 1010);
	assert_true(hi >= 1490);
	link_pipe_free(p);
}

/* Jitter includes its upper bound: with jitter 1 both delay and delay + 1 occur. */
static void test_pipe_jitter_includes_upper_bound(void **state)
{
	(void)state;
	const struct tw_impairment imp = { .delay_us = 1000, .jitter_us = 1 };
	struct link_pipe *p = pipe_new(SEED, &imp, NULL);
	unsigned seen[2] = { 0 };

	for (uint64_t i = 0; i < 200; i++) {
		assert_true(send_id(p, LINK_A_TO_B, (uint32_t)i, 40, i * 10));
		uint64_t d = link_pipe_next_due(p) - i * 10;
		assert_in_range(d, 1000, 1001);
		seen[d - 1000]++;
		struct popped got[1];
		assert_int_equal(drain(p, got, 1), 1);
	}
	assert_true(seen[0] > 0);
	assert_true(seen[1] > 0);
	link_pipe_free(p);
}

/* -------------------------------------------------------------------- MTU */

static void test_pipe_mtu_drops_larger_packets(void **state)
{
	(void)state;
	/* Too big is decided before loss: those packets are not counted as lost. */
	const struct tw_impairment imp = { .mtu = 100 };
	const struct tw_impairment lossy = { .mtu = 100, .loss = 1.0 };
	struct link_pipe *p = pipe_new(SEED, &imp, &lossy);
	static struct popped got[4];

	assert_true(send_id(p, LINK_A_TO_B, 1, 100, 0));
	assert_false(send_id(p, LINK_A_TO_B, 2, 101, 0));
	assert_false(send_id(p, LINK_A_TO_B, 3, 1500, 0));
	assert_true(send_id(p, LINK_A_TO_B, 4, 20, 0));
	assert_false(send_id(p, LINK_B_TO_A, 5, 101, 0));
	assert_int_equal(drain(p, got, 4), 2);
	assert_int_equal(got[0].id, 1);
	assert_int_equal(got[1].id, 4);
	assert_stats(p, LINK_A_TO_B, (struct tw_pipe_stats){
		.sent = 4, .delivered = 2, .too_big = 2 });
	assert_stats(p, LINK_B_TO_A, (struct tw_pipe_stats){ .sent = 1, .too_big = 1 });
	link_pipe_free(p);
}

/* MTU 0 is no limit. */
static void test_pipe_mtu_zero_is_unlimited(void **state)
{
	(void)state;
	struct link_pipe *p = pipe_new(SEED, NULL, NULL);
	uint8_t *big = calloc(1, 65535);
	const uint8_t *pkt;
	size_t len;
	int dir;

	assert_non_null(big);
	big[65534] = 0x5a;
	assert_true(link_pipe_send(p, LINK_A_TO_B, big, 65535, 0));
	assert_true(link_pipe_pop(p, 0, &dir, &pkt, &len));
	assert_int_equal(len, 65535);
	assert_memory_equal(pkt, big, 65535);
	free(big);
	link_pipe_free(p);
}

/* ------------------------------------------------------------ the queue */

static void test_pipe_pop_before_due_returns_false(void **state)
{
	(void)state;
	const struct tw_impairment imp = { .delay_us = 10 };
	struct link_pipe *p = pipe_new(SEED, &imp, NULL);
	const uint8_t *pkt;
	size_t len;
	int dir;

	assert_true(send_id(p, LINK_A_TO_B, 1, 40, 0));
	assert_true(send_id(p, LINK_A_TO_B, 2, 40, 5));
	assert_false(link_pipe_pop(p, 0, &dir, &pkt, &len));
	assert_false(link_pipe_pop(p, 9, &dir, &pkt, &len));
	assert_int_equal(link_pipe_next_due(p), 10);
	assert_true(link_pipe_pop(p, 10, &dir, &pkt, &len));
	assert_int_equal(pkt_id(pkt), 1);
	assert_false(link_pipe_pop(p, 14, &dir, &pkt, &len));
	assert_int_equal(link_pipe_next_due(p), 15);
	/* Popping late is fine: anything due at or before `now` comes out. */
	assert_true(link_pipe_pop(p, 1000, &dir, &pkt, &len));
	assert_int_equal(pkt_id(pkt), 2);
	assert_stats(p, LINK_A_TO_B, (struct tw_pipe_stats){ .sent = 2, .delivered = 2 });
	link_pipe_free(p);
}

static void test_pipe_next_due_empty_is_uint64_max(void **state)
{
	(void)state;
	struct link_pipe *p = pipe_new(SEED, NULL, NULL);
	const uint8_t *pkt;
	size_t len;
	int dir;

	assert_int_equal(link_pipe_next_due(p), UINT64_MAX);
	assert_false(link_pipe_pop(p, UINT64_MAX, &dir, &pkt, &len));
	assert_true(send_id(p, LINK_A_TO_B, 1, 40, 123));
	assert_int_equal(link_pipe_next_due(p), 123);
	assert_true(link_pipe_pop(p, 123, &dir, &pkt, &len));
	assert_int_equal(link_pipe_next_due(p), UINT64_MAX);
	link_pipe_free(p);
}

/*
 * A due time past the clock's end stays just short of it: wrapping would
 * deliver at once, and UINT64_MAX would read as "nothing queued".
 */
static void test_pipe_due_time_saturates(void **state)
{
	(void)state;
	const struct tw_impairment imp = { .delay_us = 100 };
	struct link_pipe *p = pipe_new(SEED, &imp, NULL);
	const uint8_t *pkt;
	size_t len;
	int dir;

	assert_true(send_id(p, LINK_A_TO_B, 1, 40, UINT64_MAX - 10));
	assert_true(send_id(p, LINK_A_TO_B, 2, 40, UINT64_MAX));
	assert_int_equal(link_pipe_next_due(p), UINT64_MAX - 1);
	assert_false(link_pipe_pop(p, UINT64_MAX - 2, &dir, &pkt, &len));
	assert_true(link_pipe_pop(p, UINT64_MAX - 1, &dir, &pkt, &len));
	assert_int_equal(pkt_id(pkt), 1);
	assert_true(link_pipe_pop(p, UINT64_MAX, &dir, &pkt, &len));
	assert_int_equal(pkt_id(pkt), 2);
	assert_int_equal(link_pipe_next_due(p), UINT64_MAX);
	link_pipe_free(p);
}

/* The sanitizer build fails this test if anything queued, pooled or lent out leaks. */
static void test_pipe_free_with_packets_queued(void **state)
{
	(void)state;
	const struct tw_impairment imp = { .delay_us = 50, .duplicate = 0.5 };
	struct link_pipe *p = pipe_new(SEED, &imp, &imp);
	const uint8_t *pkt;
	size_t len;
	int dir;

	for (uint32_t i = 0; i < 100; i++)
		assert_true(send_id(p, (int)(i % 2), i, len_for(i), i));
	for (int i = 0; i < 3; i++)
		assert_true(link_pipe_pop(p, 1000, &dir, &pkt, &len));
	link_pipe_free(p);
	link_pipe_free(NULL);
}

/* A popped packet's bytes survive sends (a host answers while reading) until the next pop. */
static void test_pipe_popped_bytes_stay_valid_across_sends(void **state)
{
	(void)state;
	struct link_pipe *p = pipe_new(SEED, NULL, NULL);
	struct tw_pipe_stats s;
	const uint8_t *pkt;
	size_t len;
	int dir;

	assert_true(send_id(p, LINK_A_TO_B, 1, 300, 0));
	assert_true(link_pipe_pop(p, 0, &dir, &pkt, &len));
	for (uint32_t i = 2; i < 40; i++)
		assert_true(send_id(p, LINK_B_TO_A, i, MAX_LEN, 0));
	(void)link_pipe_next_due(p);
	link_pipe_stats(p, LINK_A_TO_B, &s);
	assert_pkt(pkt, len, 1, 300);
	link_pipe_free(p);
}

/*
 * Once warmed up, the same buffers go round: the one in flight and the one
 * lent out by the last pop. Neither moves, because neither needs to grow.
 */
static void test_pipe_buffers_are_reused(void **state)
{
	(void)state;
	struct link_pipe *p = pipe_new(SEED, NULL, NULL);
	const uint8_t *seen[2];
	size_t n_seen = 0;
	const uint8_t *pkt;
	size_t len;
	int dir;

	/* Warm-up: two buffers of the largest size. */
	assert_true(send_id(p, LINK_A_TO_B, 0, MAX_LEN, 0));
	assert_true(send_id(p, LINK_A_TO_B, 1, MAX_LEN, 0));
	assert_true(link_pipe_pop(p, 0, &dir, &pkt, &len));
	assert_true(link_pipe_pop(p, 0, &dir, &pkt, &len));

	for (uint32_t i = 2; i < 1000; i++) {
		bool known = false;

		assert_true(send_id(p, LINK_A_TO_B, i, len_for(i), i));
		assert_true(link_pipe_pop(p, i, &dir, &pkt, &len));
		assert_pkt(pkt, len, i, len_for(i));
		for (size_t k = 0; k < n_seen; k++)
			known = known || seen[k] == pkt;
		if (!known) {
			assert_true(n_seen < 2);
			seen[n_seen++] = pkt;
		}
	}
	assert_int_equal(n_seen, 2);
	link_pipe_free(p);
}

/* ------------------------------------------------------------- directions */

/* Impairing a to b changes nothing of b to a: every packet arrives intact, at once, in order. */
static void test_pipe_directions_are_independent(void **state)
{
	(void)state;
	const struct tw_impairment bad = {
		.loss = 0.5, .corrupt = 1.0, .duplicate = 0.5, .reorder = 0.5,
		.delay_us = 1000, .jitter_us = 999, .mtu = 1000,
	};
	struct link_pipe *p = pipe_new(SEED, &bad, NULL);
	static struct popped got[2000];
	uint32_t next_b = 0;

	for (uint32_t i = 0; i < 500; i++) {
		send_id(p, LINK_A_TO_B, i, len_for(i), i);
		assert_true(send_id(p, LINK_B_TO_A, i, len_for(i), i));
	}
	size_t n = drain(p, got, 2000);
	for (size_t i = 0; i < n; i++) {
		if (got[i].dir != LINK_B_TO_A)
			continue;
		uint8_t want[MAX_LEN];
		make_pkt(want, next_b, len_for(next_b));
		assert_int_equal(got[i].id, next_b);
		assert_int_equal(got[i].at, next_b);
		assert_int_equal(got[i].hash, hash_bytes(want, len_for(next_b)));
		next_b++;
	}
	assert_int_equal(next_b, 500);
	assert_stats(p, LINK_B_TO_A, (struct tw_pipe_stats){ .sent = 500, .delivered = 500 });
	struct tw_pipe_stats a = stats_of(p, LINK_A_TO_B);
	assert_true(a.lost > 0 && a.corrupted > 0 && a.duplicated > 0 && a.reordered > 0);
	assert_true(a.too_big > 0);
	link_pipe_free(p);
}

/* A direction without impairment draws nothing, so it cannot shift the other's fate. */
static void test_pipe_unimpaired_direction_draws_nothing(void **state)
{
	(void)state;
	const struct tw_impairment bad = {
		.loss = 0.3, .corrupt = 0.3, .duplicate = 0.3, .reorder = 0.3,
		.delay_us = 200, .jitter_us = 100,
	};
	const struct tw_impairment delay_only = { .delay_us = 7 };
	struct link_pipe *quiet = pipe_new(SEED, &bad, &delay_only);
	struct link_pipe *alone = pipe_new(SEED, &bad, &delay_only);
	static struct popped got_quiet[2000], got_alone[2000];
	size_t n_quiet = 0, n_alone;

	for (uint32_t i = 0; i < 1000; i++) {
		send_id(quiet, LINK_A_TO_B, i, len_for(i), i);
		assert_true(send_id(quiet, LINK_B_TO_A, i, 40, i));
		send_id(alone, LINK_A_TO_B, i, len_for(i), i);
	}
	static struct popped all[4000];
	size_t n_all = drain(quiet, all, 4000);
	for (size_t i = 0; i < n_all; i++)
		if (all[i].dir == LINK_A_TO_B)
			got_quiet[n_quiet++] = all[i];
	n_alone = drain(alone, got_alone, 2000);
	assert_true(n_alone > 500);
	assert_true(same_run(got_quiet, n_quiet, got_alone, n_alone));
	link_pipe_free(quiet);
	link_pipe_free(alone);
}

static void test_pipe_unknown_direction_is_refused(void **state)
{
	(void)state;
	struct link_pipe *p = pipe_new(SEED, NULL, NULL);
	uint8_t buf[4] = { 0 };

	assert_false(link_pipe_send(p, 2, buf, sizeof(buf), 0));
	assert_false(link_pipe_send(p, -1, buf, sizeof(buf), 0));
	assert_int_equal(link_pipe_next_due(p), UINT64_MAX);
	assert_stats(p, 2, (struct tw_pipe_stats){ 0 });
	assert_stats(p, LINK_A_TO_B, (struct tw_pipe_stats){ 0 });
	link_pipe_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipe_no_impairment_delivers_every_packet_at_delay),
		cmocka_unit_test(test_pipe_null_impairment_delivers_at_once),
		cmocka_unit_test(test_pipe_equal_due_pops_in_send_order),
		cmocka_unit_test(test_pipe_pops_by_due_time_then_send_order),
		cmocka_unit_test(test_pipe_loss_all_delivers_nothing),
		cmocka_unit_test(test_pipe_loss_rate_within_band),
		cmocka_unit_test(test_pipe_same_seed_repeats_other_seed_differs),
		cmocka_unit_test(test_pipe_corrupt_changes_one_or_two_bytes),
		cmocka_unit_test(test_pipe_corruption_always_changes_the_checksum),
		cmocka_unit_test(test_pipe_empty_packet_is_delivered_uncorrupted),
		cmocka_unit_test(test_pipe_duplicate_all_delivers_two_copies),
		cmocka_unit_test(test_pipe_duplicate_copies_the_corrupted_bytes),
		cmocka_unit_test(test_pipe_reorder_lets_later_packet_overtake),
		cmocka_unit_test(test_pipe_reorder_hold_back_time),
		cmocka_unit_test(test_pipe_jitter_within_bounds),
		cmocka_unit_test(test_pipe_jitter_includes_upper_bound),
		cmocka_unit_test(test_pipe_mtu_drops_larger_packets),
		cmocka_unit_test(test_pipe_mtu_zero_is_unlimited),
		cmocka_unit_test(test_pipe_pop_before_due_returns_false),
		cmocka_unit_test(test_pipe_next_due_empty_is_uint64_max),
		cmocka_unit_test(test_pipe_due_time_saturates),
		cmocka_unit_test(test_pipe_free_with_packets_queued),
		cmocka_unit_test(test_pipe_popped_bytes_stay_valid_across_sends),
		cmocka_unit_test(test_pipe_buffers_are_reused),
		cmocka_unit_test(test_pipe_directions_are_independent),
		cmocka_unit_test(test_pipe_unimpaired_direction_draws_nothing),
		cmocka_unit_test(test_pipe_unknown_direction_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
