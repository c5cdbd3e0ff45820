/*
 * Statistics over a host's initial sequence numbers and TCP timestamps, for
 * `threeway audit-isn`: nmap's figures (GCD, ISR, SP and its Difficulty
 * words), predictors fitted on a sliding window and scored on the next ISN,
 * whether one 4-tuple's ISNs advance with time (RFC 6528), and what TSval
 * tells of the host's clock. Pure functions over samples: no I/O, no clock.
 */
#ifndef THREEWAY_ISN_STATS_H
#define THREEWAY_ISN_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One SYN-ACK: the peer's ISN and TSval, when our SYN left and its answer came (µs, one clock). */
struct isn_sample {
	uint32_t isn;
	uint64_t sent_us;
	uint64_t recv_us;
	bool has_ts;
	uint32_t tsval;
};

/* The smaller distance between a and b going either way round the sequence space (nmap's MOD_DIFF). */
uint32_t isn_mod_diff(uint32_t a, uint32_t b);

/* The greatest common divisor of n values; 0 when all are 0. */
uint32_t isn_gcd(const uint32_t *v, size_t n);

/* What nmap's OS scan reports on its SEQ line, computed as nmap computes it. */
struct isn_nmap {
	uint32_t gcd;       /* GCD of the differences of consecutive ISNs; 0: a constant ISN */
	double avg_rate;    /* mean ISN increase per second */
	unsigned isr;       /* SEQ.ISR: round(8 * log2(avg_rate)) */
	unsigned sp;        /* SEQ.SP, printed as "TCP Sequence Prediction: Difficulty=SP" */
};

/* nmap needs at least 4 samples, in the order sent; returns false with fewer. */
bool isn_nmap_figures(const struct isn_sample *s, size_t n, struct isn_nmap *out);

/* nmap's words for a Difficulty: "Trivial joke", "Easy", ... "Good luck!". */
const char *isn_difficulty_words(unsigned sp);

/* How often a predictor fitted on `window` consecutive ISNs guessed the next within ±tolerance. */
struct isn_score {
	size_t tried;
	size_t hits;
};

/*
 * An LCG modulo 2^32, x' = a x + c, fitted to every transition of x[0..n-1]
 * (n >= 3). Returns false when no (a, c) fits all of them. Constant
 * increments are the LCG with a = 1.
 */
bool isn_lcg_fit(const uint32_t *x, size_t n, uint32_t *a, uint32_t *c);

/* The LCG predictor over the samples: fit on each window, predict the sample after it. */
struct isn_score isn_score_lcg(const struct isn_sample *s, size_t n, size_t window, uint32_t tolerance);

/* A linear clock, ISN = α + β·t (least squares on send times), predicting the next sample. */
struct isn_score isn_score_clock(const struct isn_sample *s, size_t n, size_t window, uint32_t tolerance);

/* The ISNs of one 4-tuple, probed again and again: do they move forward, and how fast? */
struct isn_advance {
	size_t steps;        /* consecutive pairs */
	size_t forward;      /* pairs whose second ISN is after the first (sequence space) */
	double rate;         /* ISN units per second over the whole series */
};

void isn_tuple_advance(const struct isn_sample *s, size_t n, struct isn_advance *out);

/* What TSval tells. */
struct isn_ts {
	size_t with_ts;      /* samples of different connections that carried a timestamp */
	bool hz_known;
	double hz;           /* TSval ticks per second, as measured */
	double nominal_hz;   /* ... snapped to the clock rate stacks use, when near one */
	size_t compared;     /* connections compared with the line of the one before */
	size_t on_line;      /* ... whose TSval lay on it */
	bool shared;         /* different connections' TSvals lie on one line */
	uint32_t last_tsval; /* the last TSval seen, and when */
	uint64_t last_recv_us;
};

/*
 * `spread`: SYN-ACKs of different 4-tuples; `tuple`: SYN-ACKs of one 4-tuple
 * (its TSvals share an offset on any stack, so they give the clock's rate).
 */
void isn_ts_analyse(const struct isn_sample *spread, size_t n_spread, const struct isn_sample *tuple,
		    size_t n_tuple, struct isn_ts *out);

/*
 * Does TSval count the host's uptime? `uptime_s` is the host's real uptime
 * when the last TSval arrived. True when TSval / nominal Hz is within
 * `slack_s` of it (modulo the 2^32 wrap of TSval).
 */
bool isn_ts_counts_uptime(const struct isn_ts *ts, double uptime_s, double slack_s);

#endif
