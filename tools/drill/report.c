/*
 * What a run says: PASS, or FAIL with the line, what went wrong, the packet
 * the script expected and the one the stack sent (as tcpdump -S prints
 * them, in the script's sequence numbers), and the state of every socket
 * the script holds.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <string.h>

#include "run.h"

void drill_fail(struct drill_run *r, int line, const char *fmt, ...)
{
	if (r->failed)
		return;   /* the first failure is the one that matters */
	va_list ap;
	r->failed = true;
	r->fail_line = line;
	va_start(ap, fmt);
	vsnprintf(r->fail_msg, sizeof(r->fail_msg), fmt, ap);
	va_end(ap);
}

const char *drill_fmt_time(uint64_t us, char *buf, size_t cap)
{
	unsigned long long sec = us / 1000000, frac = us % 1000000;
	if (frac % 1000 == 0)
		snprintf(buf, cap, "%llu.%03llu", sec, frac / 1000);
	else
		snprintf(buf, cap, "%llu.%06llu", sec, frac);
	return buf;
}

void drill_render_bytes(struct drill_run *r, const uint8_t *pkt, size_t len, uint64_t at, char *buf, size_t cap)
{
	const char *text = tw_trace_render(r->tracer, (int64_t)(at / 1000000), (uint32_t)(at % 1000000), TW_LINK_RAW,
					   pkt, len, len);
	snprintf(buf, cap, "%s", text ? text : "(out of memory)");
	size_t n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
}

void drill_render(struct drill_run *r, const struct drill_seg *seg, uint64_t at, char *buf, size_t cap)
{
	size_t n = drill_seg_build(seg, r->scratch, DRILL_SEG_MAX);
	if (!n) {
		snprintf(buf, cap, "(a packet too large to show)");
		return;
	}
	drill_render_bytes(r, r->scratch, n, at, buf, cap);
}

static void endpoint_text(const struct tw_endpoint *ep, char *buf, size_t cap)
{
	char a[64];
	if (!ep->addr.family || !inet_ntop(ep->addr.family == TW_AF_INET ? AF_INET : AF_INET6, ep->addr.bytes, a, sizeof(a)))
		snprintf(a, sizeof(a), "*");
	snprintf(buf, cap, "%s.%u", a, ep->port);
}

static void print_socket(FILE *out, const struct drill_fd *f)
{
	struct tw_conn_info ci;
	char l[80], rm[80], rto[32];
	tw_conn_info(f->s, &ci);
	endpoint_text(&ci.local, l, sizeof(l));
	endpoint_text(&ci.remote, rm, sizeof(rm));
	if (ci.state == TW_LISTEN || (ci.state == TW_CLOSED && !ci.iss && !ci.irs)) {
		fprintf(out, "  fd %d: %s %s\n", f->fd, tw_state_name(ci.state), ci.local.addr.family ? l : "");
		return;
	}
	fprintf(out, "  fd %d: %s %s > %s, snd.una %u snd.nxt %u rcv.nxt %u (relative to the ISNs), snd.wnd %u, "
		"rcv.wnd %u, cwnd %u, rto %s s\n", f->fd, tw_state_name(ci.state), l, rm, ci.snd_una - ci.iss,
		ci.snd_nxt - ci.iss, ci.rcv_nxt - ci.irs, ci.snd_wnd, ci.rcv_wnd, ci.cwnd,
		drill_fmt_time(ci.rto_us, rto, sizeof(rto)));
}

static void print_state(const struct drill_run *r)
{
	if (!r->st)
		return;
	const struct drill_flow *f = &r->flow;
	if (f->local_isn_known || f->remote_isn_known) {
		fprintf(r->out, "  sequence numbers: ");
		if (f->local_isn_known)
			fprintf(r->out, "the stack's ISN %u (%u in the script)%s", f->live_local_isn, f->script_local_isn,
				f->remote_isn_known ? ", " : "\n");
		if (f->remote_isn_known)
			fprintf(r->out, "the peer's ISN %u\n", f->remote_isn);
	}
	if (!r->n_fds) {
		fprintf(r->out, "  no socket open in the script\n");
		return;
	}
	/* By descriptor, as the script numbers them. */
	for (int last = -1;;) {
		const struct drill_fd *next = NULL;
		for (size_t i = 0; i < r->n_fds; i++)
			if (r->fds[i].fd > last && (!next || r->fds[i].fd < next->fd))
				next = &r->fds[i];
		if (!next)
			break;
		print_socket(r->out, next);
		last = next->fd;
	}
}

void drill_report(struct drill_run *r)
{
	if (!r->failed) {
		fprintf(r->out, "PASS %s\n", r->name);
		return;
	}
	if (r->fail_line)
		fprintf(r->out, "FAIL %s:%d: %s\n", r->name, r->fail_line, r->fail_msg);
	else
		fprintf(r->out, "FAIL %s: %s\n", r->name, r->fail_msg);
	if (r->expected[0])
		fprintf(r->out, "  script: %s\n", r->expected);
	if (r->expected[0] || r->actual[0])
		fprintf(r->out, "  actual: %s\n", r->actual[0] ? r->actual : "(no packet)");
	print_state(r);
}
