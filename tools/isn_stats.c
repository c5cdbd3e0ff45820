/*
 * Statistics over ISNs and TSvals (see isn_stats.h). nmap's figures follow
 * its OS scan (osscan2.cc, makeTSeqFP) step by step, so the numbers printed
 * here are the numbers nmap would print for the same samples.
 */
#include <math.h>

#include "isn_stats.h"

uint32_t isn_mod_diff(uint32_t a, uint32_t b)
{
	uint32_t up = a - b, down = b - a;
	return up < down ? up : down;
}

static uint32_t gcd2(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

uint32_t isn_gcd(const uint32_t *v, size_t n)
{
	uint32_t g = 0;
	for (size_t i = 0; i < n; i++)
		g = gcd2(g, v[i]);
	return g;
}

/* ISN increase per second from sample i to the next, as nmap keeps it: a float, a zero interval taken as 1 µs. */
static float step_rate(const struct isn_sample *s, size_t i)
{
	uint64_t dt = s[i + 1].sent_us - s[i].sent_us;
	return (float)(isn_mod_diff(s[i + 1].isn, s[i].isn) * 1000000.0 / (double)(dt ? dt : 1));
}

bool isn_nmap_figures(const struct isn_sample *s, size_t n, struct isn_nmap *out)
{
	*out = (struct isn_nmap){ 0 };
	if (n < 4)
		return false;
	size_t m = n - 1;
	uint32_t g = 0;
	double avg = 0;
	/* nmap keeps each rate as a float and their sum as a double. */
	for (size_t i = 0; i < m; i++) {
		g = gcd2(g, isn_mod_diff(s[i + 1].isn, s[i].isn));
		avg += step_rate(s, i);
	}
	avg /= (double)m;
	out->gcd = g;
	if (g == 0)
		return true;        /* a constant ISN: rate, SP and ISR 0 */
	out->avg_rate = avg;
	/* Below one a second the logarithm is negative: ISR 0 (nmap would wrap it). */
	out->isr = avg < 1 ? 0 : (unsigned)(log(avg) / log(2.0) * 8 + 0.5);
	/* nmap divides the rates by the GCD only when it is above 9 (a host counting in 64,000s). */
	double div = g > 9 ? (double)g : 1.0;
	double var = 0;
	for (size_t i = 0; i < m; i++) {
		double r = step_rate(s, i) / div - avg / div;
		var += r * r;
	}
	/* n - 2: the sample's deviation, as nmap takes it; then 8 * log2, rounded. */
	double sd = sqrt(var / (double)(n - 2));
	out->sp = sd <= 1 ? 0 : (unsigned)(log(sd) / log(2.0) * 8 + 0.5);
	return true;
}

const char *isn_difficulty_words(unsigned sp)
{
	/* nmap's seqidx2difficultystr. */
	if (sp < 3)
		return "Trivial joke";
	if (sp < 6)
		return "Easy";
	if (sp < 11)
		return "Medium";
	if (sp < 12)
		return "Formidable";
	if (sp < 16)
		return "Worthy challenge";
	return "Good luck!";
}

/* The inverse of an odd number modulo 2^32 (Newton's iteration doubles the correct bits each step). */
static uint32_t inverse_odd(uint32_t x)
{
	uint32_t y = x;
	for (int i = 0; i < 5; i++)
		y *= 2 - x * y;
	return y;
}

static int trailing_zeros(uint32_t x)
{
	int k = 0;
	while (!(x & 1)) {
		x >>= 1;
		k++;
	}
	return k;
}

static bool lcg_fits(const uint32_t *x, size_t n, uint32_t a, uint32_t c)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (a * x[i] + c != x[i + 1])
			return false;
	return true;
}

/* Candidates for `a` number 2^k, k the trailing zeros of a difference; beyond this, no fit is tried. */
#define LCG_MAX_ZEROS 16

bool isn_lcg_fit(const uint32_t *x, size_t n, uint32_t *a, uint32_t *c)
{
	if (n < 3)
		return false;
	/*
	 * Differences obey d[i+1] = a d[i] (mod 2^32). The difference with the
	 * fewest trailing zeros, 2^k·o, fixes a modulo 2^(32-k); the 2^k
	 * candidates that remain are each checked on every transition.
	 */
	size_t best = n;
	int best_k = 33;
	for (size_t i = 0; i + 2 < n; i++) {
		uint32_t d = x[i + 1] - x[i];
		if (d == 0)
			continue;
		int k = trailing_zeros(d);
		if (k < best_k) {
			best_k = k;
			best = i;
		}
	}
	if (best == n) {
		/* No step moved before the last: only a constant ISN (a = 1, c = 0) fits. */
		*a = 1;
		*c = 0;
		return lcg_fits(x, n, 1, 0);
	}
	if (best_k > LCG_MAX_ZEROS)
		return false;
	uint32_t d0 = x[best + 1] - x[best], d1 = x[best + 2] - x[best + 1];
	int k = best_k;
	if (k > 0 && (d1 & ((UINT32_C(1) << k) - 1)))
		return false;
	uint32_t a0 = (d1 >> k) * inverse_odd(d0 >> k);
	uint32_t step = k ? UINT32_C(1) << (32 - k) : 0;
	for (uint32_t j = 0; j < (UINT32_C(1) << k); j++) {
		uint32_t cand = (k ? a0 & (step - 1) : a0) + j * step;
		uint32_t cc = x[1] - cand * x[0];
		if (lcg_fits(x, n, cand, cc)) {
			*a = cand;
			*c = cc;
			return true;
		}
	}
	return false;
}

static bool within(uint32_t guess, uint32_t actual, uint32_t tolerance)
{
	return isn_mod_diff(guess, actual) <= tolerance;
}

/* Fitting needs three ISNs and one more to check the fit; scoring at least one more to predict. */
#define WINDOW_MIN 4
#define WINDOW_MAX 64

struct isn_score isn_score_lcg(const struct isn_sample *s, size_t n, size_t window, uint32_t tolerance)
{
	struct isn_score sc = { 0 };
	uint32_t x[WINDOW_MAX];
	if (window < WINDOW_MIN || window > WINDOW_MAX)
		return sc;
	for (size_t j = 0; j + window < n; j++) {
		for (size_t i = 0; i < window; i++)
			x[i] = s[j + i].isn;
		uint32_t a, c;
		sc.tried++;
		if (isn_lcg_fit(x, window, &a, &c) && within(a * x[window - 1] + c, s[j + window].isn, tolerance))
			sc.hits++;
	}
	return sc;
}

struct isn_score isn_score_clock(const struct isn_sample *s, size_t n, size_t window, uint32_t tolerance)
{
	struct isn_score sc = { 0 };
	if (window < WINDOW_MIN || window > WINDOW_MAX)
		return sc;
	for (size_t j = 0; j + window < n; j++) {
		/* ISNs unwrapped from the window's first, each step taken as the shorter way round. */
		double st = 0, su = 0, stt = 0, stu = 0, u = 0;
		for (size_t i = 0; i < window; i++) {
			if (i)
				u += (double)(int32_t)(s[j + i].isn - s[j + i - 1].isn);
			double t = (double)(s[j + i].sent_us - s[j].sent_us) / 1e6;
			st += t;
			su += u;
			stt += t * t;
			stu += t * u;
		}
		double w = (double)window, den = w * stt - st * st;
		double beta = den > 0 ? (w * stu - st * su) / den : 0;
		double alpha = (su - beta * st) / w;
		double t_next = (double)(s[j + window].sent_us - s[j].sent_us) / 1e6;
		double guess = fmod(alpha + beta * t_next, 4294967296.0);
		if (guess < 0)
			guess += 4294967296.0;
		if (guess >= 4294967296.0)      /* a tiny negative rounded up to 2^32 */
			guess = 0;
		sc.tried++;
		if (within(s[j].isn + (uint32_t)guess, s[j + window].isn, tolerance))
			sc.hits++;
	}
	return sc;
}

void isn_tuple_advance(const struct isn_sample *s, size_t n, struct isn_advance *out)
{
	*out = (struct isn_advance){ 0 };
	if (n < 2)
		return;
	double total = 0;
	for (size_t i = 0; i + 1 < n; i++) {
		int32_t d = (int32_t)(s[i + 1].isn - s[i].isn);
		out->steps++;
		if (d > 0)
			out->forward++;
		total += d;
	}
	uint64_t span = s[n - 1].sent_us - s[0].sent_us;
	out->rate = span ? total * 1e6 / (double)span : 0;
}

/* The least-squares slope of TSval (unwrapped) against the time it arrived, in ticks per second. */
static bool ts_slope(const struct isn_sample *s, size_t n, double *hz)
{
	double st = 0, su = 0, stt = 0, stu = 0, u = 0, k = 0;
	const struct isn_sample *first = NULL, *prev = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!s[i].has_ts)
			continue;
		if (!first)
			first = &s[i];
		if (prev)
			u += (double)(int32_t)(s[i].tsval - prev->tsval);
		prev = &s[i];
		double t = (double)(s[i].recv_us - first->recv_us) / 1e6;
		st += t;
		su += u;
		stt += t * t;
		stu += t * u;
		k++;
	}
	double den = k * stt - st * st;
	if (k < 3 || den <= 0)
		return false;
	*hz = (k * stu - st * su) / den;
	return *hz > 0;
}

/*
 * The rate measured over a few SYN-ACKs 10 ms apart is off by a percent or
 * so (ticks of 1 ms against arrival jitter), and a percent of days of uptime
 * is hours: so the measured rate is taken for the nearest of the rates
 * stacks use (RFC 7323 5.4: 1 ms to 1 s a tick; Linux counts 1000 Hz, older
 * kernels their jiffies, Linux's usec option 1 MHz) when within 5% of it.
 */
static double ts_nominal_hz(double hz)
{
	static const double rates[] = { 1, 10, 100, 250, 300, 1000, 1000000 };
	for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
		if (fabs(hz - rates[i]) <= rates[i] * 0.05)
			return rates[i];
	return hz;
}

void isn_ts_analyse(const struct isn_sample *spread, size_t n_spread, const struct isn_sample *tuple,
		    size_t n_tuple, struct isn_ts *out)
{
	*out = (struct isn_ts){ 0 };
	const struct isn_sample *first = NULL;
	for (size_t i = 0; i < n_spread; i++) {
		if (!spread[i].has_ts)
			continue;
		out->with_ts++;
		if (!first)
			first = &spread[i];
		out->last_tsval = spread[i].tsval;
		out->last_recv_us = spread[i].recv_us;
	}
	for (size_t i = 0; i < n_tuple; i++)
		if (tuple[i].has_ts && tuple[i].recv_us >= out->last_recv_us) {
			out->last_tsval = tuple[i].tsval;
			out->last_recv_us = tuple[i].recv_us;
		}
	/*
	 * One 4-tuple's TSvals share an offset on every stack, so their slope
	 * is the clock's rate; without them the connections' own slope is
	 * tried, which is the clock's rate only if they share a line.
	 */
	out->hz_known = ts_slope(tuple, n_tuple, &out->hz) || ts_slope(spread, n_spread, &out->hz);
	if (!out->hz_known || !first)
		return;
	out->nominal_hz = ts_nominal_hz(out->hz);
	/*
	 * Each connection against the one before it, so that an error in Hz
	 * does not add up over the run: on the line when within 2 ticks plus
	 * 5 ms of arrival jitter of where the previous one's line puts it.
	 */
	double tol = 2 + out->hz * 0.005;
	const struct isn_sample *prev = first;
	for (size_t i = 0; i < n_spread; i++) {
		if (!spread[i].has_ts || &spread[i] == first)
			continue;
		double expect = fmod(out->hz * (double)(spread[i].recv_us - prev->recv_us) / 1e6, 4294967296.0);
		int32_t r = (int32_t)(spread[i].tsval - prev->tsval - (uint32_t)expect);
		out->compared++;
		if (fabs((double)r) <= tol)
			out->on_line++;
		prev = &spread[i];
	}
	/* Nine in ten on one line: a clock shared by connections, not offsets of their own. */
	out->shared = out->compared > 0 && out->on_line * 10 >= out->compared * 9;
}

bool isn_ts_counts_uptime(const struct isn_ts *ts, double uptime_s, double slack_s)
{
	if (!ts->hz_known || uptime_s < 0)
		return false;
	double expect = fmod(uptime_s * ts->nominal_hz, 4294967296.0);
	int32_t r = (int32_t)(ts->last_tsval - (uint32_t)expect);
	return fabs((double)r) <= slack_s * ts->nominal_hz;
}
