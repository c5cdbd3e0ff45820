/*
 * SipHash-2-4, from the algorithm's description in the SipHash paper: two
 * compression rounds per 8-byte word, four finalization rounds, 64-bit output;
 * and SipHash-1-3, the same with one and three.
 */
#include "wire/siphash.h"

static uint64_t rotl(uint64_t x, unsigned b) { return x << b | x >> (64 - b); }

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

struct sip_state {
	uint64_t v0, v1, v2, v3;
};

static void sip_round(struct sip_state *s)
{
	s->v0 += s->v1; s->v1 = rotl(s->v1, 13); s->v1 ^= s->v0; s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3; s->v3 = rotl(s->v3, 16); s->v3 ^= s->v2;
	s->v0 += s->v3; s->v3 = rotl(s->v3, 21); s->v3 ^= s->v0;
	s->v2 += s->v1; s->v1 = rotl(s->v1, 17); s->v1 ^= s->v2; s->v2 = rotl(s->v2, 32);
}

static void sip_absorb(struct sip_state *s, uint64_t m, int c_rounds)
{
	s->v3 ^= m;
	for (int i = 0; i < c_rounds; i++)
		sip_round(s);
	s->v0 ^= m;
}

/* SipHash-c-d: c compression rounds per word, d finalization rounds. */
static uint64_t siphash(const uint8_t key[16], const void *msg, size_t len, int c_rounds, int d_rounds)
{
	const uint8_t *in = msg;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	struct sip_state s = {
		.v0 = k0 ^ 0x736f6d6570736575ull,
		.v1 = k1 ^ 0x646f72616e646f6dull,
		.v2 = k0 ^ 0x6c7967656e657261ull,
		.v3 = k1 ^ 0x7465646279746573ull,
	};

	size_t whole = len - len % 8;
	for (size_t i = 0; i < whole; i += 8)
		sip_absorb(&s, load_le64(in + i), c_rounds);

	/* The last word: the remaining bytes, and the length's low byte on top. */
	uint64_t last = (uint64_t)(len & 0xff) << 56;
	for (size_t i = 0; i < len % 8; i++)
		last |= (uint64_t)in[whole + i] << (8 * i);
	sip_absorb(&s, last, c_rounds);

	s.v2 ^= 0xff;
	for (int i = 0; i < d_rounds; i++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint64_t wire_siphash24(const uint8_t key[16], const void *msg, size_t len)
{
	return siphash(key, msg, len, 2, 4);
}

uint64_t wire_siphash13(const uint8_t key[16], const void *msg, size_t len)
{
	return siphash(key, msg, len, 1, 3);
}
