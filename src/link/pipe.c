/*
 * The in-memory link: two directions, each with its own impairments, and one
 * queue of packets ordered by the time they are due.
 *
 * Every random decision comes from the pipe's own generator (xoshiro256**,
 * seeded through splitmix64), so the same seed and the same sends repeat
 * exactly. A decision whose probability is 0 draws nothing, so an unimpaired
 * direction leaves the generator, and with it the other direction, alone.
 *
 * Packets are ordered by (due time, sequence number given at enqueue): equal
 * due times pop in the order they were sent. A packet due no earlier than
 * the last one queued (the usual case: a fixed delay) joins a FIFO and pops
 * in O(1); one that overtakes (jitter, reordering) goes to a binary min-heap
 * beside it, and pop takes the earlier head of the two. Packets live in buffers taken from a free list and given back
 * once delivered, so after warm-up neither send nor pop allocates.
 */
#include <stdlib.h>
#include <string.h>

#include "link/link.h"

struct pipe_pkt {
	struct pipe_pkt *next;      /* free-list link */
	uint8_t *buf;
	size_t cap;                 /* bytes at buf; only ever grows */
	size_t len;
	uint64_t due;
	uint64_t seq;               /* breaks ties between equal due times */
	int dir;
};

struct heap_ent {
	uint64_t due, seq;
	struct pipe_pkt *k;
};

struct link_pipe {
	uint64_t rng[4];            /* xoshiro256** state */
	struct tw_impairment imp[2];
	struct tw_pipe_stats stats[2];
	struct heap_ent *heap;      /* min-heap of queued packets */
	struct pipe_pkt **fifo;     /* packets sent in due order: a ring */
	size_t fhead, flen, fcap;
	uint64_t ftail_due;
	size_t n, cap;
	uint64_t next_seq;
	struct pipe_pkt *free_list;
	struct pipe_pkt *current;   /* the last popped packet, still lent to the caller */
};

/* What the impairments decided for one packet, before any memory is touched. */
struct pipe_fate {
	uint64_t due;
	bool reordered, duplicate;
	unsigned n_corrupt;         /* 0, 1 or 2 bytes changed */
	size_t at[2];               /* distinct offsets of the changed bytes */
	uint8_t flip[2];            /* nonzero, so each changed byte really changes */
};

/* ---------------------------------------------------------------- generator */

/* splitmix64: spreads any seed, 0 included, into a well-mixed state. */
static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna, 2018). */
static uint64_t rng_next(uint64_t s[4])
{
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, 1): the top 53 bits fill a double's mantissa exactly. */
static double rng_double(uint64_t s[4])
{
	return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

/*
 * Uniform in [0, n), n > 0. Draws below 2^64 mod n (which is (0 - n) % n in
 * 64 bits) are redrawn, so no value is favoured as a plain modulo would.
 */
static uint64_t rng_below(uint64_t s[4], uint64_t n)
{
	uint64_t threshold = (0 - n) % n;
	uint64_t x;

	do
		x = rng_next(s);
	while (x < threshold);
	return x % n;
}

/* True with probability `prob`; draws only when prob > 0 (NaN counts as 0). */
static bool chance(uint64_t s[4], double prob)
{
	if (!(prob > 0))
		return false;
	return rng_double(s) < prob;
}

/* ----------------------------------------------------------------- the fate */

/*
 * now + delay, stopping one short of UINT64_MAX: a due time past the clock's
 * end must neither wrap to the start nor read as "nothing queued".
 */
static uint64_t due_at(uint64_t now, uint64_t delay)
{
	const uint64_t last = UINT64_MAX - 1;
	return now >= last || delay > last - now ? last : now + delay;
}

/*
 * What changing bytes does to the Internet checksum of the packet: the sum
 * of the changes to the 16-bit big-endian words, modulo 0xffff. Checksum
 * domains (IPv4 header, pseudo-header and TCP segment) all start at even
 * offsets, so a byte's place in its word is the parity of its offset.
 */
static uint32_t csum_delta(const uint8_t *pkt, const struct pipe_fate *f)
{
	int64_t delta = 0;
	for (unsigned i = 0; i < f->n_corrupt; i++) {
		uint8_t old = pkt[f->at[i]], now = (uint8_t)(old ^ f->flip[i]);
		delta += ((int64_t)now - old) * (f->at[i] % 2 ? 1 : 256);
	}
	return (uint32_t)(((delta % 0xffff) + 0xffff) % 0xffff);
}

/*
 * One or two distinct offsets in a packet of `len` > 0 bytes, each with a
 * nonzero XOR. A single changed byte always changes the checksum; two can
 * cancel out (the Internet checksum cannot see every double error), so the
 * second change is drawn again until they do not: the link makes exactly
 * the corruption a receiver's checksum must catch.
 */
static void decide_corruption(uint64_t s[4], const uint8_t *pkt, size_t len, struct pipe_fate *f)
{
	f->n_corrupt = len > 1 ? 1 + (unsigned)rng_below(s, 2) : 1;
	f->at[0] = (size_t)rng_below(s, len);
	if (f->n_corrupt == 2) {
		/* Draw from the len - 1 other offsets, skipping over the first. */
		f->at[1] = (size_t)rng_below(s, len - 1);
		if (f->at[1] >= f->at[0])
			f->at[1]++;
	}
	for (unsigned i = 0; i < f->n_corrupt; i++)
		f->flip[i] = (uint8_t)(1 + rng_below(s, 255));
	while (f->n_corrupt == 2 && csum_delta(pkt, f) == 0)
		f->flip[1] = (uint8_t)(1 + rng_below(s, 255));
}

/* delay + uniform[0, jitter], then maybe held back behind later packets. */
static void decide_time(uint64_t s[4], const struct tw_impairment *imp, uint64_t now,
			struct pipe_fate *f)
{
	uint64_t delay = imp->delay_us;

	if (imp->jitter_us > 0)
		delay += rng_below(s, (uint64_t)imp->jitter_us + 1);
	f->reordered = chance(s, imp->reorder);
	if (f->reordered) {
		/*
		 * With no hold-back configured, wait one more delay (at least 1 ms),
		 * long enough for packets sent soon after to overtake.
		 */
		uint64_t extra = imp->reorder_us;
		if (extra == 0)
			extra = imp->delay_us > 1000 ? imp->delay_us : 1000;
		delay += extra;
	}
	f->due = due_at(now, delay);
}

/*
 * Every draw for one packet, in the contract's order: loss, corruption,
 * delay, reorder, duplicate. Drawing them all before allocating means a
 * failed allocation cannot shift the random sequence of later packets.
 * Returns false when the packet is lost.
 */
static bool decide(uint64_t s[4], const struct tw_impairment *imp, const uint8_t *pkt, size_t len,
		   uint64_t now, struct pipe_fate *f)
{
	*f = (struct pipe_fate){ 0 };
	if (chance(s, imp->loss))
		return false;
	/* An empty packet has no byte to change: it passes uncorrupted and uncounted. */
	if (chance(s, imp->corrupt) && len > 0)
		decide_corruption(s, pkt, len, f);
	decide_time(s, imp, now, f);
	f->duplicate = chance(s, imp->duplicate);
	return true;
}

/* --------------------------------------------------------------------- heap */

static bool before(const struct heap_ent *a, const struct heap_ent *b)
{
	if (a->due != b->due)
		return a->due < b->due;
	return a->seq < b->seq;
}

/* Room for one more packet; the array doubles so pushes cost O(1) amortized. */
static bool heap_reserve(struct link_pipe *p)
{
	if (p->n < p->cap)
		return true;
	size_t cap = p->cap ? p->cap * 2 : 16;
	if (cap > SIZE_MAX / sizeof(*p->heap))
		return false;
	struct heap_ent *heap = realloc(p->heap, cap * sizeof(*heap));
	if (!heap)
		return false;
	p->heap = heap;
	p->cap = cap;
	return true;
}

/* Needs heap_reserve() first, so it cannot fail. */
static void heap_push(struct link_pipe *p, struct pipe_pkt *k)
{
	size_t i = p->n++;

	k->seq = p->next_seq++;
	struct heap_ent e = { k->due, k->seq, k };
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(&e, &p->heap[parent]))
			break;
		p->heap[i] = p->heap[parent];
		i = parent;
	}
	p->heap[i] = e;
}

static struct pipe_pkt *heap_pop(struct link_pipe *p)
{
	struct pipe_pkt *top = p->heap[0].k;
	struct heap_ent last = p->heap[--p->n];
	size_t i = 0;

	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= p->n)
			break;
		if (child + 1 < p->n && before(&p->heap[child + 1], &p->heap[child]))
			child++;
		if (!before(&p->heap[child], &last))
			break;
		p->heap[i] = p->heap[child];
		i = child;
	}
	if (p->n > 0)
		p->heap[i] = last;
	return top;
}

/* ------------------------------------------------------------------ buffers */

static void pkt_release(struct link_pipe *p, struct pipe_pkt *k)
{
	k->next = p->free_list;
	p->free_list = k;
}

/* A buffer from the free list (or a new one) holding a copy of `len` bytes; NULL on no memory. */
static struct pipe_pkt *pkt_take(struct link_pipe *p, const uint8_t *bytes, size_t len)
{
	struct pipe_pkt *k = p->free_list;

	if (k)
		p->free_list = k->next;
	else if (!(k = calloc(1, sizeof(*k))))
		return NULL;
	/* At least one byte, so even an empty packet is handed out as a real pointer. */
	size_t need = len > 0 ? len : 1;
	if (need > k->cap) {
		uint8_t *buf = realloc(k->buf, need);
		if (!buf) {
			pkt_release(p, k);
			return NULL;
		}
		k->buf = buf;
		k->cap = need;
	}
	if (len > 0)
		memcpy(k->buf, bytes, len);
	k->len = len;
	return k;
}

static void pkt_free(struct pipe_pkt *k)
{
	free(k->buf);
	free(k);
}

/* A copy of `bytes` queued in `dir` at `due`; NULL on no memory. */
static bool fifo_push(struct link_pipe *p, struct pipe_pkt *k)
{
	if (p->flen && k->due < p->ftail_due)
		return false;
	if (p->flen == p->fcap) {
		size_t cap = p->fcap ? p->fcap * 2 : 64;
		struct pipe_pkt **f = malloc(cap * sizeof(*f));
		if (!f)
			return false;
		for (size_t i = 0; i < p->flen; i++)
			f[i] = p->fifo[(p->fhead + i) % p->fcap];
		free(p->fifo);
		p->fifo = f;
		p->fcap = cap;
		p->fhead = 0;
	}
	k->seq = p->next_seq++;
	p->fifo[(p->fhead + p->flen) % p->fcap] = k;
	p->flen++;
	p->ftail_due = k->due;
	return true;
}

static struct pipe_pkt *enqueue(struct link_pipe *p, int dir, const uint8_t *bytes, size_t len,
				uint64_t due)
{
	struct pipe_pkt *k = pkt_take(p, bytes, len);
	if (!k)
		return NULL;
	k->due = due;
	k->dir = dir;
	if (fifo_push(p, k))
		return k;
	if (!heap_reserve(p)) {
		pkt_release(p, k);
		return NULL;
	}
	heap_push(p, k);
	return k;
}

/* ---------------------------------------------------------------- the pipe */

static bool valid_dir(int dir)
{
	return dir == LINK_A_TO_B || dir == LINK_B_TO_A;
}

struct link_pipe *link_pipe_new(uint64_t seed, const struct tw_impairment *a_to_b,
				const struct tw_impairment *b_to_a)
{
	struct link_pipe *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	for (int i = 0; i < 4; i++)
		p->rng[i] = splitmix64(&seed);
	if (a_to_b)
		p->imp[LINK_A_TO_B] = *a_to_b;
	if (b_to_a)
		p->imp[LINK_B_TO_A] = *b_to_a;
	return p;
}

void link_pipe_free(struct link_pipe *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		pkt_free(p->heap[i].k);
	while (p->free_list) {
		struct pipe_pkt *k = p->free_list;
		p->free_list = k->next;
		pkt_free(k);
	}
	if (p->current)
		pkt_free(p->current);
	for (size_t i = 0; i < p->flen; i++)
		pkt_free(p->fifo[(p->fhead + i) % p->fcap]);
	free(p->fifo);
	free(p->heap);
	free(p);
}

bool link_pipe_send(struct link_pipe *p, int dir, const uint8_t *pkt, size_t len, uint64_t now)
{
	if (!valid_dir(dir))
		return false;
	const struct tw_impairment *imp = &p->imp[dir];
	struct tw_pipe_stats *st = &p->stats[dir];
	struct pipe_fate f;

	st->sent++;
	if (imp->mtu != 0 && len > imp->mtu) {
		st->too_big++;
		return false;
	}
	if (!decide(p->rng, imp, pkt, len, now, &f)) {
		st->lost++;
		return false;
	}
	struct pipe_pkt *k = enqueue(p, dir, pkt, len, f.due);
	if (!k)
		return false;
	/* The heap orders by time alone, so the queued bytes may change in place. */
	for (unsigned i = 0; i < f.n_corrupt; i++)
		k->buf[f.at[i]] ^= f.flip[i];
	if (f.n_corrupt > 0)
		st->corrupted++;
	if (f.reordered)
		st->reordered++;
	/*
	 * The copy is made on the way, after any corruption, so both carry the
	 * same bytes. Due at the same time and sent next, it pops right after.
	 */
	if (f.duplicate && enqueue(p, dir, k->buf, k->len, f.due))
		st->duplicated++;
	return true;
}

uint64_t link_pipe_next_due(const struct link_pipe *p)
{
	uint64_t h = p->n > 0 ? p->heap[0].due : UINT64_MAX;
	uint64_t f = p->flen ? p->fifo[p->fhead]->due : UINT64_MAX;
	return h < f ? h : f;
}

bool link_pipe_pop(struct link_pipe *p, uint64_t now, int *dir, const uint8_t **pkt, size_t *len)
{
	/*
	 * The caller is done with the packet it popped last. Only a pop gives it
	 * back: a host that answers a packet sends while still reading it.
	 */
	if (p->current) {
		pkt_release(p, p->current);
		p->current = NULL;
	}
	struct pipe_pkt *k;
	struct pipe_pkt *f = p->flen ? p->fifo[p->fhead] : NULL;
	if (p->n && (!f || p->heap[0].due < f->due || (p->heap[0].due == f->due && p->heap[0].seq < f->seq))) {
		if (p->heap[0].due > now)
			return false;
		k = heap_pop(p);
	} else {
		if (!f || f->due > now)
			return false;
		k = f;
		p->fhead = (p->fhead + 1) % p->fcap;
		p->flen--;
	}
	p->current = k;
	p->stats[k->dir].delivered++;
	*dir = k->dir;
	*pkt = k->buf;
	*len = k->len;
	return true;
}

void link_pipe_stats(const struct link_pipe *p, int dir, struct tw_pipe_stats *out)
{
	*out = valid_dir(dir) ? p->stats[dir] : (struct tw_pipe_stats){ 0 };
}
