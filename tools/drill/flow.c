/*
 * The connection under test and its sequence numbers, mapped as packetdrill
 * maps them: the peer's ISN is the seq of the script's inbound SYN and its
 * later seqs are relative to it; the stack's ISN is learned from its first
 * SYN or SYN-ACK, and outbound seqs, inbound acks and SACK edges are
 * relative to it. Inbound TS ecr values are translated to TS vals the stack
 * really sent.
 */
#include <string.h>

#include "opts.h"
#include "run.h"

void drill_flow_reset(struct drill_run *r, uint16_t local_port, uint16_t remote_port)
{
	memset(&r->flow, 0, sizeof(r->flow));
	r->flow.local_port = local_port;
	r->flow.remote_port = remote_port;
}

void drill_flow_connect(struct drill_run *r, struct tw_sock *s)
{
	struct tw_conn_info ci;
	tw_conn_info(s, &ci);
	drill_flow_reset(r, ci.local.port, ci.remote.port);
}

void drill_flow_listen(struct drill_run *r, struct tw_sock *s)
{
	struct tw_conn_info ci;
	tw_conn_info(s, &ci);
	drill_flow_reset(r, ci.local.port, DRILL_REMOTE_PORT);
	r->flow.listening = true;
}

/* An inbound SYN: the peer's ISN, or a SYN with a new one that a SYN-ACK may take up (TIME-WAIT reuse). */
void drill_flow_inbound_syn(struct drill_flow *f, const struct drill_packet *pk)
{
	if (!(pk->flags & DRILL_TH_SYN))
		return;
	if (f->listening || !f->remote_isn_known) {
		if (f->listening) {
			f->local_isn_known = false;
			f->live_local_isn = f->script_local_isn = 0;
		}
		f->listening = false;
		f->remote_isn_known = true;
		f->remote_isn = pk->seq;
	} else if (!(pk->flags & DRILL_TH_ACK) && pk->seq != f->remote_isn) {
		f->new_syn_pending = true;
		f->new_syn_seq = pk->seq;
	}
}

/*
 * The stack's ISN from its first SYN or SYN-ACK; and again from a SYN-ACK
 * answering a SYN with a new ISN, which starts a new connection on the same
 * ports (packetdrill would keep the old mapping there).
 */
void drill_flow_learn(struct drill_flow *f, const struct drill_packet *pk, const struct drill_seg *live)
{
	if (!(pk->flags & DRILL_TH_SYN) || !(live->flags & DRILL_TH_SYN))
		return;
	bool renewed = f->new_syn_pending && (live->flags & DRILL_TH_ACK) && live->ack == f->new_syn_seq + 1;
	if (f->local_isn_known && !renewed)
		return;
	f->local_isn_known = true;
	f->live_local_isn = live->seq;
	f->script_local_isn = pk->seq;
	if (renewed) {
		f->remote_isn = f->new_syn_seq;
		f->new_syn_pending = false;
	}
}

static uint32_t local_offset(const struct drill_flow *f, bool syn)
{
	return syn ? f->live_local_isn - f->script_local_isn : f->live_local_isn;
}

static uint32_t remote_offset(const struct drill_flow *f, bool syn)
{
	return syn ? 0 : f->remote_isn;
}

/* A packet the stack sent, into the script's numbers. */
void drill_flow_to_script(const struct drill_flow *f, struct drill_seg *s)
{
	bool syn = s->flags & DRILL_TH_SYN;
	s->seq -= local_offset(f, syn);
	if (s->flags & DRILL_TH_ACK)
		s->ack -= remote_offset(f, syn);
	drill_opts_shift_sack(s->opts, s->opts_len, 0u - remote_offset(f, syn));
}

/* An inbound TS ecr: the live TS val the script's value stands for, else the latest one sent. */
static void map_ecr(const struct drill_flow *f, struct drill_seg *s)
{
	uint32_t val, ecr;
	size_t off;
	if (!(s->flags & DRILL_TH_ACK) || !drill_opts_find_ts(s->opts, s->opts_len, &val, &ecr, &off))
		return;
	for (size_t i = 0; i < f->n_ts_map; i++) {
		if (f->ts_map[i].script == ecr) {
			drill_put32(s->opts + off, f->ts_map[i].live);
			return;
		}
	}
	if (f->ts_sent)
		drill_put32(s->opts + off, f->last_ts_val);
}

/* A packet of the script, into live numbers. */
void drill_flow_to_live(const struct drill_flow *f, struct drill_seg *s)
{
	bool syn = s->flags & DRILL_TH_SYN;
	s->seq += remote_offset(f, syn);
	if (s->flags & DRILL_TH_ACK)
		s->ack += local_offset(f, syn);
	drill_opts_shift_sack(s->opts, s->opts_len, local_offset(f, syn));
	map_ecr(f, s);
}

void drill_flow_remember_ts(struct drill_flow *f, const struct drill_packet *pk, const struct drill_seg *live)
{
	uint32_t sval, secr, lval, lecr;
	size_t off;
	if (pk->opts.any || !drill_opts_find_ts(pk->opts.bytes, pk->opts.len, &sval, &secr, &off) ||
	    !drill_opts_find_ts(live->opts, live->opts_len, &lval, &lecr, &off))
		return;
	for (size_t i = 0; i < f->n_ts_map; i++) {
		if (f->ts_map[i].script == sval) {
			f->ts_map[i].live = lval;
			return;
		}
	}
	size_t i = f->n_ts_map < DRILL_TS_MAP ? f->n_ts_map++ : f->ts_next++ % DRILL_TS_MAP;
	f->ts_map[i].script = sval;
	f->ts_map[i].live = lval;
}

void drill_flow_note_sent(struct drill_flow *f, const uint8_t *pkt, size_t len)
{
	struct drill_seg seg;
	char why[64];
	uint32_t val, ecr;
	size_t off;
	if (drill_seg_parse(pkt, len, &seg, why, sizeof(why)) == 0 &&
	    drill_opts_find_ts(seg.opts, seg.opts_len, &val, &ecr, &off)) {
		f->ts_sent = true;
		f->last_ts_val = val;
	}
}

/*
 * The packet a script line describes, in the script's numbers: what an
 * inbound line injects (before mapping), what an outbound line expects.
 * The payload is zeros in the scratch buffer, for the caller to fill.
 */
void drill_script_seg(struct drill_run *r, const struct drill_packet *pk, const struct drill_seg *actual,
			 struct drill_seg *s)
{
	memset(s, 0, sizeof(*s));
	bool out = pk->outbound;
	s->src = out ? r->cfg->local : r->cfg->remote;
	s->dst = out ? r->cfg->remote : r->cfg->local;
	s->sport = pk->has_ports ? pk->sport : out ? r->flow.local_port : r->flow.remote_port;
	s->dport = pk->has_ports ? pk->dport : out ? r->flow.remote_port : r->flow.local_port;
	s->seq = pk->seq;
	s->ack = pk->has_ack ? pk->ack : 0;
	s->flags = pk->flags;
	s->win = pk->has_win ? pk->win : actual ? actual->win : 0;
	s->urg = pk->urg;
	if (pk->opts.any && actual) {
		s->opts_len = actual->opts_len;
		memcpy(s->opts, actual->opts, actual->opts_len);
	} else if (!pk->opts.any) {
		s->opts_len = pk->opts.len;
		memcpy(s->opts, pk->opts.bytes, pk->opts.len);
	}
	memset(r->scratch + DRILL_SEG_MAX, 0, pk->len);
	s->payload = r->scratch + DRILL_SEG_MAX;
	s->payload_len = pk->len;
}

