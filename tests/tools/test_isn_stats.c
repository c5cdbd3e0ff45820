/*
 * The statistics of `threeway audit-isn` on sequences whose answer is known:
 * constant increments, an LCG, a clock, random numbers, a constant; nmap's
 * figures worked by hand; the TSval verdicts.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "isn_stats.h"

#define N 200
#define WINDOW 8
#define TOL 65535
#define GAP_US 10000            /* probes 10 ms apart, as the tool sends them */

static struct isn_sample s[N];

static uint64_t rng_state;

static uint32_t rng(void)
{
	/* xorshift64*: a fixed, repeatable stand-in for a good ISN generator. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * UINT64_C(2685821657736338717)) >> 32);
}

/* Send times 10 ms apart give or take up to 0.5 ms, answers 200 µs later. */
static void times(void)
{
	rng_state = 42;
	uint64_t t = 1000000;
	for (int i = 0; i < N; i++) {
		s[i] = (struct isn_sample){ .sent_us = t, .recv_us = t + 200 };
		t += GAP_US - 500 + rng() % 1000;
	}
}

static void test_mod_diff_takes_the_shorter_way(void **state)
{
	(void)state;
	assert_int_equal(isn_mod_diff(10, 3), 7);
	assert_int_equal(isn_mod_diff(3, 10), 7);
	assert_int_equal(isn_mod_diff(2, 0xfffffffe), 4);     /* across the wrap */
	uint32_t v[] = { 64000, 128000, 192000 };
	assert_int_equal(isn_gcd(v, 3), 64000);
	uint32_t z[] = { 0, 0 };
	assert_int_equal(isn_gcd(z, 2), 0);
}

static void test_nmap_figures_by_hand(void **state)
{
	(void)state;
	/*
	 * Six probes 100 ms apart (nmap's own pacing), ISN steps 1000, 3000, ...:
	 * rates 10,000 and 30,000 per second, mean 18,000, ISR = round(8 log2
	 * 18000) = 113. GCD 1000 > 9, so the rates are divided by it: 10 and 30
	 * about 18, squares 64+144+64+144+64 = 480, / (6 - 2) = 120, sqrt 10.95,
	 * 8 log2 = 27.6: SP 28.
	 */
	uint32_t steps[] = { 1000, 3000, 1000, 3000, 1000 };
	s[0] = (struct isn_sample){ .isn = 0xfffff000, .sent_us = 0 };
	for (int i = 0; i < 5; i++)
		s[i + 1] = (struct isn_sample){ .isn = s[i].isn + steps[i], .sent_us = (uint64_t)(i + 1) * 100000 };
	struct isn_nmap f;
	assert_true(isn_nmap_figures(s, 6, &f));
	assert_int_equal(f.gcd, 1000);
	assert_int_equal(f.isr, 113);
	assert_int_equal(f.sp, 28);
	assert_string_equal(isn_difficulty_words(f.sp), "Good luck!");
	assert_false(isn_nmap_figures(s, 3, &f));          /* nmap wants four */
}

static void test_difficulty_words_as_nmap(void **state)
{
	(void)state;
	assert_string_equal(isn_difficulty_words(0), "Trivial joke");
	assert_string_equal(isn_difficulty_words(2), "Trivial joke");
	assert_string_equal(isn_difficulty_words(3), "Easy");
	assert_string_equal(isn_difficulty_words(6), "Medium");
	assert_string_equal(isn_difficulty_words(11), "Formidable");
	assert_string_equal(isn_difficulty_words(12), "Worthy challenge");
	assert_string_equal(isn_difficulty_words(16), "Good luck!");
	assert_string_equal(isn_difficulty_words(260), "Good luck!");
}

static void test_constant_increments_are_predicted(void **state)
{
	(void)state;
	times();
	for (int i = 0; i < N; i++)
		s[i].isn = 0xffff0000u + (uint32_t)i * 64000;  /* crosses the wrap at once */
	struct isn_nmap f;
	assert_true(isn_nmap_figures(s, N, &f));
	assert_int_equal(f.gcd, 64000);
	assert_true(f.sp < 100);
	struct isn_score lcg = isn_score_lcg(s, N, WINDOW, TOL), clk = isn_score_clock(s, N, WINDOW, TOL);
	assert_int_equal(lcg.tried, N - WINDOW);
	assert_int_equal(lcg.hits, lcg.tried);                 /* the LCG with a = 1, exact */
	assert_int_equal(clk.tried, N - WINDOW);
	assert_true(clk.hits * 10 >= clk.tried * 9);           /* a clock of 6.4 M/s, off by the jitter */
	uint32_t a, c;
	uint32_t x[] = { 5, 64005, 128005, 192005 };
	assert_true(isn_lcg_fit(x, 4, &a, &c));
	assert_int_equal(a * 192005u + c, 256005u);
}

static void test_lcg_is_predicted_exactly(void **state)
{
	(void)state;
	times();
	s[0].isn = 12345;
	for (int i = 1; i < N; i++)
		s[i].isn = 1103515245u * s[i - 1].isn + 12345u;
	struct isn_score lcg = isn_score_lcg(s, N, WINDOW, 0), clk = isn_score_clock(s, N, WINDOW, TOL);
	assert_int_equal(lcg.hits, N - WINDOW);
	assert_true(clk.hits <= 2);
	uint32_t x[4], a, c;
	for (int i = 0; i < 4; i++)
		x[i] = s[i].isn;
	assert_true(isn_lcg_fit(x, 4, &a, &c));
	assert_int_equal(a, 1103515245u);
	assert_int_equal(c, 12345u);
	/* An even multiplier: differences gain a factor 2 each step, the fit still finds it. */
	x[0] = 7;
	for (int i = 1; i < 4; i++)
		x[i] = 6 * x[i - 1] + 1;
	assert_true(isn_lcg_fit(x, 4, &a, &c));
	assert_int_equal(a * x[3] + c, 6 * x[3] + 1);
}

static void test_random_isns_are_not_predicted(void **state)
{
	(void)state;
	times();
	for (int i = 0; i < N; i++)
		s[i].isn = rng();
	struct isn_nmap f;
	assert_true(isn_nmap_figures(s, N, &f));
	assert_int_equal(f.gcd, 1);
	assert_true(f.sp >= 240);                               /* nmap would say "Good luck!" */
	assert_true(f.isr >= 240);
	assert_int_equal(isn_score_lcg(s, N, WINDOW, TOL).hits, 0);
	assert_int_equal(isn_score_clock(s, N, WINDOW, TOL).hits, 0);
	uint32_t x[WINDOW];
	for (int i = 0; i < WINDOW; i++)
		x[i] = s[i].isn;
	uint32_t a, c;
	assert_false(isn_lcg_fit(x, WINDOW, &a, &c));
}

static void test_constant_isn(void **state)
{
	(void)state;
	times();
	for (int i = 0; i < N; i++)
		s[i].isn = 0xdeadbeef;
	struct isn_nmap f;
	assert_true(isn_nmap_figures(s, N, &f));
	assert_int_equal(f.gcd, 0);
	assert_int_equal(f.sp, 0);
	assert_int_equal(f.isr, 0);
	assert_int_equal(isn_score_lcg(s, N, WINDOW, 0).hits, N - WINDOW);
}

static void test_clock_isn_is_predicted_by_the_clock(void **state)
{
	(void)state;
	times();
	/* M alone (RFC 6528 without F): a 4 µs clock, what the send times predict to the tick. */
	for (int i = 0; i < N; i++)
		s[i].isn = 0xfff00000u + (uint32_t)(s[i].sent_us / 4);
	assert_true(isn_score_clock(s, N, WINDOW, TOL).hits >= N - WINDOW - 1);
	/* M + F with F keyed per 4-tuple: the clock predicts nothing. */
	for (int i = 0; i < N; i++)
		s[i].isn = (uint32_t)(s[i].sent_us / 4) + rng();
	assert_int_equal(isn_score_clock(s, N, WINDOW, TOL).hits, 0);
}

static void test_tuple_advances_with_time(void **state)
{
	(void)state;
	times();
	for (int i = 0; i < 8; i++)
		s[i].isn = 0xfffffff0u + (uint32_t)(s[i].sent_us / 4) - 250000;
	struct isn_advance adv;
	isn_tuple_advance(s, 8, &adv);
	assert_int_equal(adv.steps, 7);
	assert_int_equal(adv.forward, 7);
	assert_true(fabs(adv.rate - 250000) < 1000);
	for (int i = 0; i < 8; i++)
		s[i].isn = rng();
	isn_tuple_advance(s, 8, &adv);
	assert_true(adv.forward < 7);
}

static void test_ts_shared_clock_counts_uptime(void **state)
{
	(void)state;
	times();
	/* TSval = milliseconds since boot, the host up 3 days when the first answer came. */
	double up0 = 3 * 86400.0;
	for (int i = 0; i < N; i++) {
		s[i].has_ts = true;
		s[i].tsval = (uint32_t)((up0 + (double)(s[i].recv_us - s[0].recv_us) / 1e6) * 1000);
	}
	struct isn_ts ts;
	isn_ts_analyse(s, N, NULL, 0, &ts);
	assert_int_equal(ts.with_ts, N);
	assert_true(ts.hz_known);
	assert_true(fabs(ts.hz - 1000) < 1);
	assert_true(ts.shared);
	double up_last = up0 + (double)(ts.last_recv_us - s[0].recv_us) / 1e6;
	assert_true(isn_ts_counts_uptime(&ts, up_last, 60));
	assert_false(isn_ts_counts_uptime(&ts, up_last + 3600, 60));
}

static void test_ts_uptime_is_found_with_a_rate_measured_off(void **state)
{
	(void)state;
	/* A 1000 Hz clock measured as 1008 Hz: after four hours up, 0.8% is two minutes. */
	struct isn_ts ts = { .hz_known = true, .hz = 1008, .last_tsval = 15000u * 1000 };
	ts.nominal_hz = 1000;
	assert_true(isn_ts_counts_uptime(&ts, 15000, 60));
	/* And isn_ts_analyse snaps such a rate to 1000 Hz; one far from any stays as it is. */
	times();
	for (int i = 0; i < N; i++) {
		s[i].has_ts = true;
		s[i].tsval = (uint32_t)((double)s[i].recv_us * 1.008 / 1000);
	}
	isn_ts_analyse(s, N, NULL, 0, &ts);
	assert_true(fabs(ts.hz - 1008) < 2);
	assert_true(ts.nominal_hz == 1000);
	for (int i = 0; i < N; i++)
		s[i].tsval = (uint32_t)((double)s[i].recv_us * 0.6 / 1000);
	isn_ts_analyse(s, N, NULL, 0, &ts);
	assert_true(fabs(ts.nominal_hz - 600) < 2);
}

static void test_ts_offsets_per_connection(void **state)
{
	(void)state;
	static struct isn_sample tuple[8];
	times();
	for (int i = 0; i < N; i++) {
		s[i].has_ts = true;
		s[i].tsval = (uint32_t)(s[i].recv_us / 1000) + rng();
	}
	uint32_t off = rng();
	for (int i = 0; i < 8; i++)
		tuple[i] = (struct isn_sample){ .recv_us = s[N - 1].recv_us + (uint64_t)(i + 1) * 10000,
					       .has_ts = true,
					       .tsval = (uint32_t)((s[N - 1].recv_us + (uint64_t)(i + 1) * 10000) / 1000) + off };
	struct isn_ts ts;
	isn_ts_analyse(s, N, tuple, 8, &ts);
	assert_true(ts.hz_known);
	assert_true(fabs(ts.hz - 1000) < 50);
	assert_false(ts.shared);
	assert_true(ts.on_line < 5);
	assert_int_equal(ts.last_tsval, tuple[7].tsval);
	assert_false(isn_ts_counts_uptime(&ts, (double)tuple[7].recv_us / 1e6, 60));
	/* No timestamps at all: nothing known. */
	for (int i = 0; i < N; i++)
		s[i].has_ts = false;
	isn_ts_analyse(s, N, NULL, 0, &ts);
	assert_int_equal(ts.with_ts, 0);
	assert_false(ts.hz_known);
	assert_false(ts.shared);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mod_diff_takes_the_shorter_way),
		cmocka_unit_test(test_nmap_figures_by_hand),
		cmocka_unit_test(test_difficulty_words_as_nmap),
		cmocka_unit_test(test_constant_increments_are_predicted),
		cmocka_unit_test(test_lcg_is_predicted_exactly),
		cmocka_unit_test(test_random_isns_are_not_predicted),
		cmocka_unit_test(test_constant_isn),
		cmocka_unit_test(test_clock_isn_is_predicted_by_the_clock),
		cmocka_unit_test(test_tuple_advances_with_time),
		cmocka_unit_test(test_ts_shared_clock_counts_uptime),
		cmocka_unit_test(test_ts_uptime_is_found_with_a_rate_measured_off),
		cmocka_unit_test(test_ts_offsets_per_connection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
