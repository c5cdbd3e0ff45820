/*
 * The constants a packetdrill script names (SOCK_STREAM, POLLIN, TCP_NODELAY,
 * ECONNREFUSED ...), with Linux's values, since packetdrill scripts are
 * written against Linux.
 */
#ifndef DRILL_SYMBOLS_H
#define DRILL_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Linux's values for what the runner acts on. */
enum {
	DRILL_AF_INET = 2, DRILL_AF_INET6 = 10,
	DRILL_SOCK_STREAM = 1, DRILL_SOCK_NONBLOCK = 0x800,
	DRILL_IPPROTO_TCP = 6, DRILL_SOL_SOCKET = 1,
	DRILL_MSG_PEEK = 0x2, DRILL_MSG_DONTWAIT = 0x40, DRILL_MSG_MORE = 0x8000,
	DRILL_SHUT_RD = 0, DRILL_SHUT_WR = 1, DRILL_SHUT_RDWR = 2,
	DRILL_F_GETFL = 3, DRILL_F_SETFL = 4, DRILL_O_RDWR = 2, DRILL_O_NONBLOCK = 0x800,
	DRILL_SIOCINQ = 0x541b,
	DRILL_POLLIN = 0x1, DRILL_POLLPRI = 0x2, DRILL_POLLOUT = 0x4, DRILL_POLLERR = 0x8,
	DRILL_POLLHUP = 0x10, DRILL_POLLNVAL = 0x20, DRILL_POLLRDNORM = 0x40,
	DRILL_POLLWRNORM = 0x100, DRILL_POLLRDHUP = 0x2000,
};

/* The value of a named constant (errno names included); false if the name is unknown. */
bool drill_symbol_value(const char *name, size_t len, int64_t *value);

/* The errno value of a name such as "ECONNREFUSED"; 0 if it is not an errno name. */
int drill_errno_value(const char *name, size_t len);

/* "ECONNREFUSED" for ECONNREFUSED, or NULL. */
const char *drill_errno_name(int err);

/*
 * A socket option the runner knows by name: its level (DRILL_SOL_SOCKET or
 * DRILL_IPPROTO_TCP), its tw_sockopt (0 for SO_LINGER and SO_ERROR, which
 * are handled apart), and whether the runner supports it.
 */
struct drill_sockopt {
	const char *name;
	int level;
	int tw_opt;
	bool supported;
};
const struct drill_sockopt *drill_sockopt_find(const char *name, size_t len);

/* "POLLIN|POLLOUT" for poll bits, into `buf`. */
void drill_poll_bits_name(unsigned bits, char *buf, size_t cap);

#endif
