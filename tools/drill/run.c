/*
 * The executor: a fresh stack per script, driven through the public API on
 * a virtual clock. Between events the clock jumps from one timer to the
 * next (tw_poll), so a script of minutes runs in milliseconds. Inbound
 * packets are built and given to tw_input at their time; what the stack
 * sends is queued with its time and matched, in order, against the
 * script's outbound lines; system calls go to the socket API (syscall.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drill.h"
#include "lexer.h"
#include "run.h"

#define MAX_STEPS 5000000u                          /* timer firings in one wait */
#define PLAIN_WAIT_US (24ull * 3600 * 1000000)      /* how long a lone blocking call may wait */

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* The filler of every payload, a function of the byte's sequence number so misplaced bytes show. */
uint8_t drill_fill_byte(uint32_t seq)
{
	return (uint8_t)((seq * 2654435761u) >> 24);
}

/* ------------------------------------------------------------- the clock */

uint64_t drill_tolerance(const struct drill_run *r, uint64_t expected)
{
	uint64_t tol = (uint64_t)r->cfg->tolerance_us;
	if (r->cfg->tolerance_percent > 0 && expected > r->last_script_time) {
		uint64_t dynamic = (uint64_t)(r->cfg->tolerance_percent / 100.0 * (double)(expected - r->last_script_time));
		if (dynamic > tol)
			tol = dynamic;
	}
	return tol;
}

void drill_refresh_timers(struct drill_run *r)
{
	r->next_timer = tw_poll(r->st, r->now);
}

static uint64_t next_wakeup(const struct drill_run *r)
{
	uint64_t t = r->next_timer;
	if (r->pending.active)
		t = min_u64(t, min_u64(r->pending.deadline, r->pending.poll_until));
	if (r->plain && r->plain->active)
		t = min_u64(t, r->plain->poll_until);
	return t;
}

/* Gives the blocked calls their chance after anything happened. */
static void retry_calls(struct drill_run *r)
{
	struct drill_call_state *p = &r->pending;
	if (p->active && !drill_call_step(r, p) && r->now >= p->deadline) {
		char a[32], b[32];
		drill_fail(r, p->ev->line, "%s() should have returned at %s s, but at %s s it is still blocked",
			   p->ev->call.name, drill_fmt_time(p->end, a, sizeof(a)), drill_fmt_time(r->now, b, sizeof(b)));
		p->active = false;
	}
	if (r->plain && r->plain->active)
		drill_call_step(r, r->plain);
}

bool drill_advance(struct drill_run *r, uint64_t until, bool (*stop)(struct drill_run *r))
{
	for (unsigned steps = 0;; steps++) {
		if (r->failed)
			return false;
		if (stop && stop(r))
			return true;
		if (steps == MAX_STEPS) {
			drill_fail(r, r->ev ? r->ev->line : 0, "the stack's timers keep firing at %llu us without end",
				   (unsigned long long)r->now);
			return false;
		}
		uint64_t t = next_wakeup(r);
		if (t > until) {
			if (r->now >= until)
				return true;
			t = until;
		}
		if (t > r->now)
			r->now = t;
		drill_refresh_timers(r);
		retry_calls(r);
	}
}

/* ------------------------------------------------- what the stack sends */

static void capture(void *ctx, const uint8_t *pkt, size_t len)
{
	struct drill_run *r = ctx;
	drill_flow_note_sent(&r->flow, pkt, len);
	if (r->verbose && r->live_tracer) {
		char t[32];
		const char *text = tw_trace_render(r->live_tracer, (int64_t)(r->now / 1000000), (uint32_t)(r->now % 1000000),
						   TW_LINK_RAW, pkt, len, len);
		fprintf(r->out, "  %s > %s", drill_fmt_time(r->now, t, sizeof(t)), text ? text : "(out of memory)\n");
	}
	if (r->q_len == DRILL_MAX_QUEUED) {
		r->q_overflow = true;
		return;
	}
	if (r->q_head + r->q_len == r->q_cap) {
		if (r->q_head) {
			memmove(r->q, r->q + r->q_head, r->q_len * sizeof(*r->q));
			r->q_head = 0;
		} else {
			size_t cap = r->q_cap ? r->q_cap * 2 : 64;
			struct drill_sent *q = realloc(r->q, cap * sizeof(*q));
			if (!q) {
				r->q_overflow = true;
				return;
			}
			r->q = q;
			r->q_cap = cap;
		}
	}
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy) {
		r->q_overflow = true;
		return;
	}
	memcpy(copy, pkt, len);
	r->q[r->q_head + r->q_len++] = (struct drill_sent){ .at = r->now, .len = len, .bytes = copy };
}

struct drill_sent *drill_queue_at(struct drill_run *r, size_t i)
{
	return i < r->q_len ? &r->q[r->q_head + i] : NULL;
}

void drill_queue_pop(struct drill_run *r, size_t n)
{
	for (size_t i = 0; i < n && r->q_len; i++) {
		free(r->q[r->q_head].bytes);
		r->q_head++;
		r->q_len--;
	}
	if (!r->q_len)
		r->q_head = 0;
}

bool drill_queue_has(struct drill_run *r, size_t n)
{
	return r->q_len >= n || r->q_overflow;
}


/* ------------------------------------------------------ file descriptors */

struct drill_fd *drill_fd_find(struct drill_run *r, int fd)
{
	for (size_t i = 0; i < r->n_fds; i++)
		if (r->fds[i].fd == fd)
			return &r->fds[i];
	return NULL;
}

struct drill_fd *drill_fd_add(struct drill_run *r, int fd, struct tw_sock *s)
{
	if (r->n_fds == DRILL_MAX_FDS)
		return NULL;
	struct drill_fd *f = &r->fds[r->n_fds++];
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->s = s;
	return f;
}

void drill_fd_remove(struct drill_run *r, struct drill_fd *f)
{
	*f = r->fds[--r->n_fds];
}

/* ----------------------------------------------------------- the events */

static struct when resolve_time(const struct drill_run *r, const struct drill_event *ev)
{
	bool inbound = ev->kind == DRILL_EV_PACKET && !ev->pkt.outbound;
	/* As packetdrill: back-to-back inbound packets keep the script's spacing. */
	uint64_t base = inbound && r->prev_inbound ? r->last_script_time : r->now;
	const struct drill_time *t = &ev->time;
	struct when w = { .lo = r->now, .hi = r->now };
	bool rel = t->kind == DRILL_TIME_REL || t->kind == DRILL_TIME_REL_RANGE;
	uint64_t origin = rel ? base : 0;
	switch (t->kind) {
	case DRILL_TIME_ANY:
		w.any = true;
		break;
	case DRILL_TIME_ABS:
	case DRILL_TIME_REL:
		w.lo = w.hi = origin + (uint64_t)t->us;
		break;
	case DRILL_TIME_ABS_RANGE:
	case DRILL_TIME_REL_RANGE:
		w.lo = origin + (uint64_t)t->us;
		w.hi = origin + (uint64_t)t->end_us;
		break;
	}
	if (ev->kind == DRILL_EV_SYSCALL && ev->call.has_end)
		w.end = origin + (uint64_t)ev->call.end_us;
	return w;
}

/* The first packet in the queue, which nothing in the script expects at this point. */
bool drill_unexpected_packet(struct drill_run *r, const struct drill_event *ev)
{
	if (r->q_overflow) {
		drill_fail(r, ev->line, "the stack sent more than %d packets that the script does not match",
			   DRILL_MAX_QUEUED);
		return true;
	}
	struct drill_sent *p = drill_queue_at(r, 0);
	if (!p)
		return false;
	char t[32];
	struct drill_seg seg;
	char why[128];
	if (drill_seg_parse(p->bytes, p->len, &seg, why, sizeof(why)) == 0) {
		drill_flow_to_script(&r->flow, &seg);
		drill_render(r, &seg, p->at, r->actual, sizeof(r->actual));
	} else {
		drill_render_bytes(r, p->bytes, p->len, p->at, r->actual, sizeof(r->actual));
	}
	drill_fail(r, ev->line, "the stack sent a packet at %s s that the script does not expect before this line",
		   drill_fmt_time(p->at, t, sizeof(t)));
	return true;
}

/* Runs the clock to `at` for an inbound packet or a call: none may come late, and no packet may be pending. */
static bool arrive(struct drill_run *r, const struct drill_event *ev, uint64_t at, const char *what)
{
	if (at > r->now && !drill_advance(r, at, NULL))
		return false;
	if (r->failed || drill_unexpected_packet(r, ev))
		return false;
	if (r->now > at + drill_tolerance(r, at)) {
		char a[32], b[32];
		drill_fail(r, ev->line, "timing error: %s expected at %s s, but the previous event ended at %s s", what,
			   drill_fmt_time(at, a, sizeof(a)), drill_fmt_time(r->now, b, sizeof(b)));
		return false;
	}
	return true;
}

static void run_inbound(struct drill_run *r, const struct drill_event *ev, uint64_t at)
{
	const struct drill_packet *pk = &ev->pkt;
	if (!arrive(r, ev, at, "the inbound packet"))
		return;
	if (pk->has_ports) {
		r->flow.remote_port = pk->sport;
		r->flow.local_port = pk->dport;
	}
	drill_flow_inbound_syn(&r->flow, pk);
	struct drill_seg s;
	drill_script_seg(r, pk, NULL, &s);
	drill_flow_to_live(&r->flow, &s);
	uint32_t first = s.seq + (s.flags & DRILL_TH_SYN ? 1 : 0);
	uint8_t *payload = r->scratch + DRILL_SEG_MAX;
	for (size_t i = 0; i < pk->len; i++)
		payload[i] = drill_fill_byte(first + (uint32_t)i);
	size_t n = drill_seg_build(&s, r->scratch, DRILL_SEG_MAX);
	if (!n) {
		drill_fail(r, ev->line, "the packet does not fit in an IP packet");
		return;
	}
	if (r->verbose && r->live_tracer) {
		char t[32];
		const char *text = tw_trace_render(r->live_tracer, (int64_t)(r->now / 1000000), (uint32_t)(r->now % 1000000),
						   TW_LINK_RAW, r->scratch, n, n);
		fprintf(r->out, "  %s < %s", drill_fmt_time(r->now, t, sizeof(t)), text ? text : "(out of memory)\n");
	}
	int dropped = tw_input(r->st, r->scratch, n, r->now);
	if (r->verbose && dropped < 0)
		fprintf(r->out, "          (the stack dropped it: %s)\n", tw_drop_name(-dropped));
	drill_refresh_timers(r);
	retry_calls(r);
}

static bool plain_done(struct drill_run *r)
{
	return !r->plain || !r->plain->active;
}

static void run_syscall(struct drill_run *r, const struct drill_event *ev, const struct when *w)
{
	if (!arrive(r, ev, w->lo, "the system call"))
		return;
	if (ev->call.has_end && r->pending.active) {
		drill_fail(r, ev->line, "a blocking call while the blocking %s() of line %d has not returned",
			   r->pending.ev->call.name, r->pending.ev->line);
		return;
	}
	struct drill_call_state cs;
	drill_call_begin(r, &cs, ev, w->end);
	if (drill_call_step(r, &cs) || r->failed)
		return;
	if (ev->call.has_end) {
		r->pending = cs;
		return;
	}
	r->plain = &cs;
	drill_advance(r, r->now + PLAIN_WAIT_US, plain_done);
	r->plain = NULL;
	if (!r->failed && cs.active)
		drill_fail(r, ev->line, "%s() blocks, and nothing the stack has scheduled completes it (a blocking call "
			   "written without ...END holds the script: no packet can arrive meanwhile)", ev->call.name);
}

static bool pending_done(struct drill_run *r)
{
	return !r->pending.active;
}

static void run_events(struct drill_run *r, const struct drill_script *s)
{
	for (size_t i = 0; i < s->n_events && !r->failed; i++) {
		const struct drill_event *ev = &s->events[i];
		r->ev = ev;
		struct when w = resolve_time(r, ev);
		if (ev->kind == DRILL_EV_SYSCALL)
			run_syscall(r, ev, &w);
		else if (ev->pkt.outbound)
			drill_run_outbound(r, ev, &w);
		else
			run_inbound(r, ev, w.lo);
		r->prev_inbound = ev->kind == DRILL_EV_PACKET && !ev->pkt.outbound;
		r->last_script_time = w.any ? r->now : w.lo;
	}
	/* A START...END call still blocked must return by its END. */
	if (!r->failed && r->pending.active)
		drill_advance(r, r->pending.deadline, pending_done);
}

/* ------------------------------------------------------------ one script */

static int setup(struct drill_run *r)
{
	struct tw_stack_config sc;
	int err = 0;
	tw_stack_config_init(&sc);
	sc.addrs[0] = r->cfg->local;
	sc.n_addrs = 1;
	sc.mtu = r->cfg->mtu;
	for (size_t i = 0; i < sizeof(sc.secret); i++)
		sc.secret[i] = (uint8_t)(0x5a ^ i);   /* fixed: every run of a script is the same */
	sc.secret_fixed = true;
	sc.output = capture;
	sc.output_ctx = r;
	/* packetdrill's Linux defaults.sh: tcp_rmem max 15 MiB, SACK and timestamps on, 5 SYN retries. */
	sc.rcvbuf_max = 15u << 20;
	/* tcp_rmem[1] is 540000: half of it is the receive space, and the window a SYN's is cut from. */
	sc.rcv_space_initial = 540000 / 2;
	sc.rcvbuf = 540000 / 2;
	sc.sack = sc.timestamps = true;
	sc.syn_retries = 5;
	sc.synack_retries = 5;
	r->st = tw_stack_new(&sc, &err);
	if (!r->st)
		return err ? err : -ENOMEM;
	struct tw_trace_config tc = { .absolute_seq = true, .time = TW_TIME_EPOCH };
	struct tw_trace_config lc = { .time = TW_TIME_NONE };
	r->tracer = tw_tracer_new(&tc);
	r->live_tracer = r->verbose ? tw_tracer_new(&lc) : NULL;
	r->scratch = malloc(2 * DRILL_SEG_MAX);
	if (!r->tracer || (r->verbose && !r->live_tracer) || !r->scratch)
		return -ENOMEM;
	drill_flow_reset(r, r->cfg->bind_port, DRILL_REMOTE_PORT);
	drill_refresh_timers(r);
	return 0;
}

static void teardown(struct drill_run *r)
{
	tw_stack_free(r->st);
	tw_tracer_free(r->tracer);
	tw_tracer_free(r->live_tracer);
	drill_queue_pop(r, r->q_len);
	free(r->q);
	free(r->scratch);
}

static int configure(struct drill_config *cfg, const struct drill_script *s, const struct drill_settings *set,
		     struct drill_error *err)
{
	drill_config_init(cfg);
	for (size_t i = 0; i < s->n_settings; i++) {
		const struct drill_setting *st = &s->settings[i];
		if (drill_config_set(cfg, st->name, st->has_value ? st->value : NULL, st->line, err))
			return -1;
	}
	for (size_t i = 0; set && i < set->n_options; i++) {
		char name[64];
		const char *opt = set->options[i], *eq = strchr(opt, '=');
		size_t n = eq ? (size_t)(eq - opt) : strlen(opt);
		snprintf(name, sizeof(name), "%.*s", (int)n, opt);
		if (drill_config_set(cfg, name, eq ? eq + 1 : NULL, 0, err))
			return -1;
	}
	return drill_config_finish(cfg, err);
}

static enum drill_verdict refuse(const char *name, const struct drill_error *err, const struct drill_settings *set,
				 FILE *out)
{
	bool skip = err->unsupported && set && set->skip_unsupported;
	if (err->line)
		fprintf(out, "%s %s:%d: %s\n", skip ? "SKIP" : "FAIL", name, err->line, err->msg);
	else
		fprintf(out, "%s %s: %s\n", skip ? "SKIP" : "FAIL", name, err->msg);
	return skip ? DRILL_SKIP : DRILL_FAIL;
}

enum drill_verdict drill_run_text(const char *name, const char *text, size_t len, const struct drill_settings *set,
				  FILE *out)
{
	struct drill_parse_flags pf = { .ignore_shell = set && set->ignore_shell };
	struct drill_script s;
	struct drill_error err;
	struct drill_config cfg;
	memset(&err, 0, sizeof(err));
	if (drill_parse(text, len, &pf, &s, &err))
		return refuse(name, &err, set, out);
	if (configure(&cfg, &s, set, &err)) {
		drill_script_free(&s);
		return refuse(name, &err, set, out);
	}
	struct drill_run *r = calloc(1, sizeof(*r));
	if (!r) {
		drill_script_free(&s);
		fprintf(out, "FAIL %s: out of memory\n", name);
		return DRILL_FAIL;
	}
	r->cfg = &cfg;
	r->name = name;
	r->out = out;
	r->verbose = set && set->verbose;
	int e = setup(r);
	if (e)
		drill_fail(r, 0, "cannot create the stack: %s", strerror(-e));
	else
		run_events(r, &s);
	drill_report(r);
	enum drill_verdict v = r->failed ? DRILL_FAIL : DRILL_PASS;
	teardown(r);
	free(r);
	drill_script_free(&s);
	return v;
}

enum drill_verdict drill_run_file(const char *path, const struct drill_settings *set, FILE *out)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(out, "FAIL %s: cannot open: %s\n", path, strerror(errno));
		return DRILL_FAIL;
	}
	size_t cap = DRILL_MAX_SCRIPT_BYTES + 1;
	char *buf = malloc(cap);
	size_t n = buf ? fread(buf, 1, cap, f) : 0;
	bool bad = !buf || ferror(f);
	fclose(f);
	enum drill_verdict v;
	if (bad) {
		fprintf(out, "FAIL %s: cannot read\n", path);
		v = DRILL_FAIL;
	} else if (n == cap) {
		fprintf(out, "FAIL %s: the script is larger than %u bytes\n", path, DRILL_MAX_SCRIPT_BYTES);
		v = DRILL_FAIL;
	} else {
		v = drill_run_text(path, buf, n, set, out);
	}
	free(buf);
	return v;
}

int drill_check_option(const char *option, char *why, size_t cap)
{
	struct drill_config cfg;
	struct drill_error err;
	char name[64];
	const char *eq = strchr(option, '=');
	size_t n = eq ? (size_t)(eq - option) : strlen(option);
	drill_config_init(&cfg);
	if (n >= sizeof(name)) {
		snprintf(why, cap, "unknown option --%.40s", option);
		return -1;
	}
	snprintf(name, sizeof(name), "%.*s", (int)n, option);
	if (drill_config_set(&cfg, name, eq ? eq + 1 : NULL, 0, &err)) {
		/* An option the runner does not know at all reads better as just that on a command line. */
		if (err.unsupported && !strncmp(err.msg, "unsupported: option --", 22))
			snprintf(why, cap, "unknown option '--%s'", name);
		else
			snprintf(why, cap, "%s", err.msg);
		return -1;
	}
	return 0;
}
