/*
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): the keyed hash behind ISNs (RFC 6528), timestamp offsets, ephemeral
 * ports (RFC 6056), the connection table and the IP layer's reassembly
 * table, so none can be predicted or aimed at without the stack's secret.
 * It lives in the wire layer, as pure computation, so every layer can use it.
 */
#ifndef THREEWAY_WIRE_SIPHASH_H
#define THREEWAY_WIRE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t wire_siphash24(const uint8_t key[16], const void *msg, size_t len);
/*
 * SipHash-1-3, for the connection and reassembly tables: per packet, where only a blind
 * attacker's collisions matter (the choice of Rust's HashMap and Linux's
 * hsiphash on 64-bit hosts). Secrets a peer could learn from (ISNs,
 * timestamp offsets, ports) stay on SipHash-2-4.
 */
uint64_t wire_siphash13(const uint8_t key[16], const void *msg, size_t len);

#endif
