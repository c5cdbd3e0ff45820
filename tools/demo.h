/*
 * The two forms of `threeway demo`: over a TUN interface against the
 * kernel's TCP and curl (demo_tun.c), and two stacks in memory (cmd_demo.c).
 */
#ifndef THREEWAY_TOOLS_DEMO_H
#define THREEWAY_TOOLS_DEMO_H

#include <stddef.h>
#include <stdio.h>

/* What each of the handshake's three segments means, for printing under it. */
extern const char *const demo_handshake_meaning[3];

/* 1 when the TUN demo can run here; 0 with the reason in `why`. */
int demo_tun_available(char *why, size_t cap);

/* demo_tun_run's result when it could not even start (nothing printed to `out`). */
#define DEMO_TUN_UNAVAILABLE (-1)
/* The exit status, or DEMO_TUN_UNAVAILABLE. */
int demo_tun_run(FILE *out, FILE *err, unsigned verbose, const char *pcap);

#endif
