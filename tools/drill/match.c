/*
 * Matching what the stack sent against a script's outbound line: wait for
 * the packet until its time plus the tolerance, map it into the script's
 * numbers, join segments that continue each other into one longer line,
 * then compare flags, seq, length, ack, window (when written), urgent
 * pointer and options (in order, TS values aside), the payload, and the
 * time.
 */
#include <stdio.h>
#include <string.h>

#include "opts.h"
#include "run.h"

#define ANY_WAIT_US (3600ull * 1000000)             /* how long * waits for a packet */

struct diff {
	char *buf;
	size_t cap, used;
};

static void diff_add(struct diff *d, const char *field, const char *actual, const char *expected)
{
	if (d->used >= d->cap)
		return;
	int n = snprintf(d->buf + d->used, d->cap - d->used, "%s%s %s, expected %s", d->used ? "; " : "", field, actual,
			 expected);
	d->used = n < 0 || (size_t)n >= d->cap - d->used ? d->cap : d->used + (size_t)n;
}

static void diff_num(struct diff *d, const char *field, uint32_t actual, uint32_t expected)
{
	char a[16], e[16];
	if (actual == expected)
		return;
	snprintf(a, sizeof(a), "%u", actual);
	snprintf(e, sizeof(e), "%u", expected);
	diff_add(d, field, a, e);
}

static void flags_text(uint8_t f, char *buf)
{
	static const struct { uint8_t bit; char c; } order[] = {
		{ DRILL_TH_FIN, 'F' }, { DRILL_TH_SYN, 'S' }, { DRILL_TH_RST, 'R' }, { DRILL_TH_PSH, 'P' },
		{ DRILL_TH_ACK, '.' }, { DRILL_TH_URG, 'U' }, { DRILL_TH_ECE, 'E' }, { DRILL_TH_CWR, 'W' },
	};
	size_t n = 0;
	buf[n++] = '[';
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (f & order[i].bit)
			buf[n++] = order[i].c;
	if (n == 1)
		buf[n++] = '-';
	buf[n++] = ']';
	buf[n] = '\0';
}

/* In order, kind by kind; TS values are not compared, everything else byte for byte. */
static bool options_match(const uint8_t *e, size_t elen, const uint8_t *a, size_t alen)
{
	size_t eo = 0, ao = 0;
	struct drill_opt_view ev, av;
	for (;;) {
		int re = drill_opt_next(e, elen, &eo, &ev), ra = drill_opt_next(a, alen, &ao, &av);
		if (re == 0 && ra == 0)
			return true;
		if (re <= 0 || ra <= 0 || ev.kind != av.kind || ev.len != av.len)
			return false;
		if (ev.kind != DRILL_OPT_TS && ev.len > 2 && memcmp(ev.data, av.data, ev.len - 2u))
			return false;
	}
}

static void compare(const struct drill_packet *pk, const struct drill_seg *a, struct diff *d)
{
	char x[600], y[600];
	if (pk->has_ports && (a->sport != pk->sport || a->dport != pk->dport)) {
		snprintf(x, sizeof(x), "%u>%u", a->sport, a->dport);
		snprintf(y, sizeof(y), "%u>%u", pk->sport, pk->dport);
		diff_add(d, "ports", x, y);
	}
	if (a->flags != pk->flags) {
		flags_text(a->flags, x);
		flags_text(pk->flags, y);
		diff_add(d, "flags", x, y);
	}
	diff_num(d, "seq", a->seq, pk->seq);
	diff_num(d, "length", (uint32_t)a->payload_len, pk->len);
	diff_num(d, "ack", a->ack, pk->has_ack ? pk->ack : 0);
	if (pk->has_win)
		diff_num(d, "win", a->win, pk->win);
	diff_num(d, "urg", a->urg, pk->urg);
	if (!pk->opts.any && !options_match(pk->opts.bytes, pk->opts.len, a->opts, a->opts_len)) {
		char ax[200], ex[200];
		drill_opts_format(a->opts, a->opts_len, ax, sizeof(ax));
		drill_opts_format(pk->opts.bytes, pk->opts.len, ex, sizeof(ex));
		snprintf(x, sizeof(x), "<%s>", ax);
		snprintf(y, sizeof(y), "<%s>", ex);
		diff_add(d, "options", x, y);
	}
}

/* The payload is what the application wrote: the filler of its sequence numbers. */
static bool payload_ok(const struct drill_seg *live, uint32_t *bad_seq)
{
	uint32_t first = live->seq + (live->flags & DRILL_TH_SYN ? 1 : 0);
	for (size_t i = 0; i < live->payload_len; i++) {
		if (live->payload[i] != drill_fill_byte(first + (uint32_t)i)) {
			*bad_seq = first + (uint32_t)i;
			return false;
		}
	}
	return true;
}

static bool right_tuple(const struct drill_run *r, const struct drill_packet *pk, const struct drill_seg *s)
{
	size_t n = r->cfg->local.family == TW_AF_INET ? 4 : 16;
	if (s->src.family != r->cfg->local.family || memcmp(s->src.bytes, r->cfg->local.bytes, n) ||
	    memcmp(s->dst.bytes, r->cfg->remote.bytes, n))
		return false;
	return pk->has_ports || (s->sport == r->flow.local_port && s->dport == r->flow.remote_port);
}

/* One queued packet, parsed and mapped; false (the run failed) if it is not for the connection under test. */
static bool take_live(struct drill_run *r, const struct drill_event *ev, size_t i, struct drill_seg *live)
{
	struct drill_sent *p = drill_queue_at(r, i);
	char why[128], t[32];
	if (drill_seg_parse(p->bytes, p->len, live, why, sizeof(why))) {
		drill_render_bytes(r, p->bytes, p->len, p->at, r->actual, sizeof(r->actual));
		drill_fail(r, ev->line, "the stack sent a malformed packet at %s s: %s", drill_fmt_time(p->at, t, sizeof(t)),
			   why);
		return false;
	}
	uint32_t bad;
	if (!payload_ok(live, &bad)) {
		drill_render_bytes(r, p->bytes, p->len, p->at, r->actual, sizeof(r->actual));
		drill_fail(r, ev->line, "the payload at sequence number %u is not what the application wrote", bad);
		return false;
	}
	if (!right_tuple(r, &ev->pkt, live)) {
		struct drill_seg e;
		drill_script_seg(r, &ev->pkt, live, &e);
		drill_render(r, &e, p->at, r->expected, sizeof(r->expected));
		drill_render_bytes(r, p->bytes, p->len, p->at, r->actual, sizeof(r->actual));
		drill_fail(r, ev->line, "the stack sent a packet for another connection");
		return false;
	}
	return true;
}

static bool have_one(struct drill_run *r) { return drill_queue_has(r, 1); }
static bool have_wanted(struct drill_run *r) { return drill_queue_has(r, r->want); }

/* Whether `next` continues `prev` as one more piece of a longer segment. */
static bool continues(const struct drill_seg *prev, const struct drill_seg *next, size_t piece)
{
	uint8_t same = (uint8_t)~(DRILL_TH_FIN | DRILL_TH_PSH | DRILL_TH_CWR);
	return (next->flags & same) == (prev->flags & same) && !(prev->flags & DRILL_TH_FIN) &&
	       next->seq == prev->seq + (uint32_t)prev->payload_len && next->ack == prev->ack &&
	       next->win == prev->win && next->urg == prev->urg && next->opts_len == prev->opts_len &&
	       prev->payload_len == piece && next->payload_len > 0;
}

/*
 * Segments that continue each other may stand for one longer line, as
 * packetdrill joins TSO/GSO segments: the same header but for FIN, PSH and
 * CWR, each starting where the previous ended, all but the last as long as
 * the first. The joined segment keeps the first's seq and CWR and the
 * last's other flags. False if the run failed.
 */
static bool join(struct drill_run *r, const struct drill_event *ev, uint64_t deadline, struct drill_seg *joined,
		 size_t *count, uint64_t *at)
{
	struct drill_seg prev = *joined, next;
	size_t piece = joined->payload_len, total = piece;
	while (total < ev->pkt.len) {
		r->want = *count + 1;
		if (!drill_advance(r, deadline, have_wanted))
			return false;
		if (r->q_overflow) {
			drill_unexpected_packet(r, ev);
			return false;
		}
		if (r->q_len <= *count)
			return true;    /* nothing more came: the comparison shows the short length */
		if (!take_live(r, ev, *count, &next))
			return false;
		drill_flow_to_script(&r->flow, &next);
		if (!continues(&prev, &next, piece) || (total + next.payload_len < ev->pkt.len && next.payload_len != piece))
			return true;
		total += next.payload_len;
		uint32_t seq = joined->seq;
		uint8_t cwr = joined->flags & DRILL_TH_CWR;
		*joined = next;
		joined->seq = seq;
		joined->flags = (uint8_t)((next.flags & ~DRILL_TH_CWR) | cwr);
		joined->payload = NULL;   /* in pieces, each already checked */
		joined->payload_len = total;
		*at = drill_queue_at(r, *count)->at;
		(*count)++;
		prev = next;
	}
	return true;
}

/* Replaces the first `from` in `buf` with `to`, if it fits. */
static void replace_first(char *buf, size_t cap, const char *from, const char *to)
{
	char *at = strstr(buf, from);
	size_t len = strlen(buf), nf = strlen(from), nt = strlen(to);
	if (!at || len - nf + nt >= cap)
		return;
	memmove(at + nt, at + nf, len - (size_t)(at - buf) - nf + 1);
	memcpy(at, to, nt);
}

/* The script's packet and the stack's, for the report; what the line leaves open shows as such. */
static void show_packets(struct drill_run *r, const struct drill_packet *pk, uint64_t expected_at,
			 const struct drill_seg *actual, uint64_t actual_at)
{
	struct drill_seg e;
	drill_script_seg(r, pk, actual, &e);
	drill_render(r, &e, expected_at, r->expected, sizeof(r->expected));
	if (actual) {
		drill_render(r, actual, actual_at, r->actual, sizeof(r->actual));
		return;
	}
	if (!pk->has_win)
		replace_first(r->expected, sizeof(r->expected), ", win 0", ", win *");
	if (pk->opts.any)
		replace_first(r->expected, sizeof(r->expected), ", length", ", options [...], length");
}

static void fail_timing(struct drill_run *r, const struct drill_event *ev, const struct when *w, uint64_t at,
			uint64_t tol)
{
	char a[32], b[32], c[32], d[32];
	if (w->lo == w->hi)
		drill_fail(r, ev->line, "timing error: the packet was expected at %s s (tolerance %s s), the stack sent it at %s s",
			   drill_fmt_time(w->lo, a, sizeof(a)), drill_fmt_time(tol, b, sizeof(b)), drill_fmt_time(at, c, sizeof(c)));
	else
		drill_fail(r, ev->line, "timing error: the packet was expected between %s and %s s (tolerance %s s), "
			   "the stack sent it at %s s", drill_fmt_time(w->lo, a, sizeof(a)), drill_fmt_time(w->hi, b, sizeof(b)),
			   drill_fmt_time(tol, c, sizeof(c)), drill_fmt_time(at, d, sizeof(d)));
}

void drill_run_outbound(struct drill_run *r, const struct drill_event *ev, const struct when *w)
{
	const struct drill_packet *pk = &ev->pkt;
	uint64_t tol = drill_tolerance(r, w->lo);
	uint64_t deadline = w->any ? r->now + ANY_WAIT_US : w->hi + tol;
	char t[32];
	if (!drill_advance(r, deadline, have_one) || r->q_overflow || !r->q_len) {
		if (r->failed)
			return;
		if (r->q_overflow) {
			drill_unexpected_packet(r, ev);
			return;
		}
		show_packets(r, pk, w->lo, NULL, 0);
		drill_fail(r, ev->line, "expected a packet by %s s, but no packet was sent", drill_fmt_time(deadline, t, sizeof(t)));
		return;
	}
	struct drill_seg live, mapped;
	if (!take_live(r, ev, 0, &live))
		return;
	drill_flow_learn(&r->flow, pk, &live);
	mapped = live;
	drill_flow_to_script(&r->flow, &mapped);
	size_t count = 1;
	uint64_t at = drill_queue_at(r, 0)->at;
	if (!r->cfg->strict_segments && live.payload_len && mapped.payload_len < pk->len &&
	    !join(r, ev, deadline, &mapped, &count, &at))
		return;
	char diffs[768] = "";
	struct diff d = { .buf = diffs, .cap = sizeof(diffs) };
	compare(pk, &mapped, &d);
	if (d.used) {
		show_packets(r, pk, w->lo, &mapped, at);
		drill_fail(r, ev->line, "the stack's packet differs: %s", diffs);
		return;
	}
	if (!w->any && (at + tol < w->lo || at > w->hi + tol)) {
		show_packets(r, pk, w->lo, &mapped, at);
		fail_timing(r, ev, w, at, tol);
		return;
	}
	drill_flow_remember_ts(&r->flow, pk, &live);
	drill_queue_pop(r, count);
}

