/*
 * The Internet checksum: RFC 1071 (computing), RFC 1624 (incremental update).
 */
#include <string.h>

#include "wire/wire.h"

static const char *const error_names[WIRE_E_COUNT] = {
	[WIRE_OK] = "no error",
	[WIRE_E_TRUNCATED] = "truncated header",
	[WIRE_E_VERSION] = "wrong IP version",
	[WIRE_E_IHL] = "IPv4 header length below 20",
	[WIRE_E_HDR_PAST_END] = "header length past the end of the packet",
	[WIRE_E_TOTAL_LEN] = "IP length does not match the packet",
	[WIRE_E_EXT_HDR] = "IPv6 extension header past the end of the packet",
	[WIRE_E_EXT_CHAIN] = "IPv6 extension header chain out of order or too long",
	[WIRE_E_DOFF] = "TCP data offset below 5",
	[WIRE_E_OPT_LEN] = "TCP option length below 2",
	[WIRE_E_OPT_PAST_END] = "TCP option past the end of the header",
	[WIRE_E_CHECKSUM] = "bad checksum",
};

const char *wire_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err >= WIRE_E_COUNT)
		return "unknown error";
	return error_names[err];
}

/*
 * RFC 1071 2(B): the sum is independent of byte order, so words are added as
 * they lie in memory and the result is put into network order once, at the
 * end. RFC 1071 2(C): eight bytes per step, added as two 32-bit halves into a
 * 64-bit accumulator, so no carry has to be folded inside the loop (the
 * accumulator is folded every 256 MiB, long before it could overflow) and the compiler
 * is free to vectorise.
 */
uint64_t wire_csum_add(uint64_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	/* Start from a 32-bit value so the additions below cannot overflow. */
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	while (len >= 8) {
		size_t chunk = len < 0x10000000u ? len : 0x10000000u; /* 256 MiB */
		len -= chunk & ~(size_t)7;
		for (; chunk >= 8; chunk -= 8, p += 8) {
			uint64_t w;
			memcpy(&w, p, 8);
			sum += (w & 0xffffffffu) + (w >> 32);
		}
		sum = (sum & 0xffffffffu) + (sum >> 32);
	}
	if (len >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		sum += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		sum += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* An odd last byte is the high byte of a word padded with zero. */
		uint8_t pad[2] = { p[0], 0 };
		uint16_t w;
		memcpy(&w, pad, 2);
		sum += w;
	}
	return sum;
}

static bool host_is_little_endian(void)
{
	const uint16_t one = 1;
	uint8_t first;
	memcpy(&first, &one, 1);
	return first == 1;
}

uint16_t wire_csum_finish(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	uint16_t folded = (uint16_t)~sum;
	if (host_is_little_endian())
		folded = (uint16_t)(folded << 8 | folded >> 8);
	return folded;
}

uint16_t wire_csum(const void *buf, size_t len)
{
	return wire_csum_finish(wire_csum_add(0, buf, len));
}

/* RFC 1624 3: HC' = ~(~HC + ~m + m'), in one's-complement arithmetic. */
uint16_t wire_csum_update16(uint16_t csum, uint16_t old_val, uint16_t new_val)
{
	uint32_t sum = (uint16_t)~csum;
	sum += (uint16_t)~old_val;
	sum += new_val;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t wire_csum_update32(uint16_t csum, uint32_t old_val, uint32_t new_val)
{
	csum = wire_csum_update16(csum, (uint16_t)(old_val >> 16), (uint16_t)(new_val >> 16));
	return wire_csum_update16(csum, (uint16_t)old_val, (uint16_t)new_val);
}

/*
 * RFC 9293 3.1 (IPv4) and RFC 8200 8.1 (IPv6): the pseudo-header's words are
 * added as values rather than written out and read back, which would stall
 * the CPU on loads of bytes just stored one at a time. The IPv4 length fits
 * in 16 bits, so its upper word adds nothing.
 */
uint16_t wire_l4_csum(const struct wire_pseudo *ph, const uint8_t *seg, size_t len)
{
	size_t alen = ph->family == 4 ? 4 : 16;
	uint64_t sum = wire_csum_add(0, ph->src, alen);
	sum = wire_csum_add(sum, ph->dst, alen);
	sum += wire_csum_word(0, ph->proto);
	sum += wire_csum_word((uint8_t)(ph->len >> 24), (uint8_t)(ph->len >> 16));
	sum += wire_csum_word((uint8_t)(ph->len >> 8), (uint8_t)ph->len);
	return wire_csum_finish(wire_csum_add(sum, seg, len));
}
