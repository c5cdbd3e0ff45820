/*
 * Named constants for scripts, with Linux's values. Errno values come from
 * the host's <errno.h> (threeway runs on Linux) so strerror() names them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "symbols.h"
#include "threeway.h"

struct symbol {
	const char *name;
	int64_t value;
};

static const struct symbol symbols[] = {
	{ "AF_UNSPEC", 0 }, { "AF_INET", DRILL_AF_INET }, { "AF_INET6", DRILL_AF_INET6 },
	{ "PF_INET", DRILL_AF_INET }, { "PF_INET6", DRILL_AF_INET6 },
	{ "SOCK_STREAM", DRILL_SOCK_STREAM }, { "SOCK_DGRAM", 2 }, { "SOCK_RAW", 3 },
	{ "SOCK_NONBLOCK", DRILL_SOCK_NONBLOCK }, { "SOCK_CLOEXEC", 0x80000 },
	{ "IPPROTO_IP", 0 }, { "IPPROTO_TCP", DRILL_IPPROTO_TCP }, { "IPPROTO_UDP", 17 },
	{ "IPPROTO_IPV6", 41 }, { "SOL_SOCKET", DRILL_SOL_SOCKET }, { "SOL_TCP", DRILL_IPPROTO_TCP },
	{ "SOL_IP", 0 }, { "SOL_IPV6", 41 },
	{ "MSG_OOB", 0x1 }, { "MSG_PEEK", DRILL_MSG_PEEK }, { "MSG_DONTROUTE", 0x4 },
	{ "MSG_TRUNC", 0x20 }, { "MSG_DONTWAIT", DRILL_MSG_DONTWAIT }, { "MSG_EOR", 0x80 },
	{ "MSG_WAITALL", 0x100 }, { "MSG_ERRQUEUE", 0x2000 }, { "MSG_NOSIGNAL", 0x4000 },
	{ "MSG_MORE", DRILL_MSG_MORE }, { "MSG_ZEROCOPY", 0x4000000 }, { "MSG_FASTOPEN", 0x20000000 },
	{ "SHUT_RD", DRILL_SHUT_RD }, { "SHUT_WR", DRILL_SHUT_WR }, { "SHUT_RDWR", DRILL_SHUT_RDWR },
	{ "F_GETFD", 1 }, { "F_SETFD", 2 }, { "F_GETFL", DRILL_F_GETFL }, { "F_SETFL", DRILL_F_SETFL },
	{ "O_RDONLY", 0 }, { "O_WRONLY", 1 }, { "O_RDWR", DRILL_O_RDWR }, { "O_NONBLOCK", DRILL_O_NONBLOCK },
	{ "FD_CLOEXEC", 1 },
	{ "SIOCINQ", DRILL_SIOCINQ }, { "FIONREAD", DRILL_SIOCINQ }, { "SIOCOUTQ", 0x5411 },
	{ "SIOCOUTQNSD", 0x894b },
	{ "POLLIN", DRILL_POLLIN }, { "POLLPRI", DRILL_POLLPRI }, { "POLLOUT", DRILL_POLLOUT },
	{ "POLLERR", DRILL_POLLERR }, { "POLLHUP", DRILL_POLLHUP }, { "POLLNVAL", DRILL_POLLNVAL },
	{ "POLLRDNORM", DRILL_POLLRDNORM }, { "POLLRDBAND", 0x80 }, { "POLLWRNORM", DRILL_POLLWRNORM },
	{ "POLLWRBAND", 0x200 }, { "POLLRDHUP", DRILL_POLLRDHUP },
	{ "INADDR_ANY", 0 },
};

/* Every socket option name a script may use; the unsupported ones fail the script as such. */
static const struct drill_sockopt sockopts[] = {
	{ "SO_REUSEADDR", DRILL_SOL_SOCKET, TW_SO_REUSEADDR, true },
	{ "SO_LINGER", DRILL_SOL_SOCKET, TW_SO_LINGER0, true },
	{ "SO_RCVBUF", DRILL_SOL_SOCKET, TW_SO_RCVBUF, true },
	{ "SO_SNDBUF", DRILL_SOL_SOCKET, TW_SO_SNDBUF, true },
	{ "SO_ERROR", DRILL_SOL_SOCKET, 0, true },
	{ "SO_KEEPALIVE", DRILL_SOL_SOCKET, TW_SO_KEEPALIVE, true },
	{ "TCP_NODELAY", DRILL_IPPROTO_TCP, TW_TCP_NODELAY, true },
	{ "TCP_CORK", DRILL_IPPROTO_TCP, TW_TCP_CORK, true },
	{ "TCP_MAXSEG", DRILL_IPPROTO_TCP, TW_TCP_MAXSEG, true },
	{ "TCP_USER_TIMEOUT", DRILL_IPPROTO_TCP, TW_TCP_USER_TIMEOUT, true },
	{ "TCP_KEEPIDLE", DRILL_IPPROTO_TCP, TW_TCP_KEEPIDLE, true },
	{ "TCP_KEEPINTVL", DRILL_IPPROTO_TCP, TW_TCP_KEEPINTVL, true },
	{ "TCP_KEEPCNT", DRILL_IPPROTO_TCP, TW_TCP_KEEPCNT, true },
};

static bool name_is(const char *want, const char *name, size_t len)
{
	return strlen(want) == len && memcmp(want, name, len) == 0;
}

struct errno_name {
	const char *name;
	int value;
};

#define E(x) { #x, x }
static const struct errno_name errno_names[] = {
	E(EPERM), E(ENOENT), E(EINTR), E(EIO), E(EBADF), E(EAGAIN), E(ENOMEM), E(EACCES),
	E(EFAULT), E(EBUSY), E(EEXIST), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOSPC), E(EPIPE),
	E(ERANGE), E(ENOSYS), E(ENOTSOCK), E(EDESTADDRREQ), E(EMSGSIZE), E(EPROTOTYPE),
	E(ENOPROTOOPT), E(EPROTONOSUPPORT), E(ESOCKTNOSUPPORT), E(EOPNOTSUPP), E(EPFNOSUPPORT),
	E(EAFNOSUPPORT), E(EADDRINUSE), E(EADDRNOTAVAIL), E(ENETDOWN), E(ENETUNREACH),
	E(ENETRESET), E(ECONNABORTED), E(ECONNRESET), E(ENOBUFS), E(EISCONN), E(ENOTCONN),
	E(ESHUTDOWN), E(ETIMEDOUT), E(ECONNREFUSED), E(EHOSTDOWN), E(EHOSTUNREACH),
	E(EALREADY), E(EINPROGRESS), E(EWOULDBLOCK), E(ENOTSUP), E(EPROTO), E(ENODATA),
};
#undef E

bool drill_symbol_value(const char *name, size_t len, int64_t *value)
{
	for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
		if (name_is(symbols[i].name, name, len)) {
			*value = symbols[i].value;
			return true;
		}
	}
	int e = drill_errno_value(name, len);
	if (e) {
		*value = e;
		return true;
	}
	return false;
}

int drill_errno_value(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (name_is(errno_names[i].name, name, len))
			return errno_names[i].value;
	return 0;
}

const char *drill_errno_name(int err)
{
	/* EWOULDBLOCK and ENOTSUP share values with EAGAIN and EOPNOTSUPP: the first name wins. */
	for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (errno_names[i].value == err)
			return errno_names[i].name;
	return NULL;
}

const struct drill_sockopt *drill_sockopt_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(sockopts) / sizeof(sockopts[0]); i++)
		if (name_is(sockopts[i].name, name, len))
			return &sockopts[i];
	return NULL;
}

void drill_poll_bits_name(unsigned bits, char *buf, size_t cap)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ DRILL_POLLIN, "POLLIN" }, { DRILL_POLLPRI, "POLLPRI" }, { DRILL_POLLOUT, "POLLOUT" },
		{ DRILL_POLLERR, "POLLERR" }, { DRILL_POLLHUP, "POLLHUP" }, { DRILL_POLLNVAL, "POLLNVAL" },
		{ DRILL_POLLRDNORM, "POLLRDNORM" }, { 0x80, "POLLRDBAND" }, { DRILL_POLLWRNORM, "POLLWRNORM" },
		{ 0x200, "POLLWRBAND" }, { DRILL_POLLRDHUP, "POLLRDHUP" },
	};
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && used < cap; i++) {
		if (!(bits & names[i].bit))
			continue;
		int n = snprintf(buf + used, cap - used, "%s%s", used ? "|" : "", names[i].name);
		used = n < 0 || (size_t)n >= cap - used ? cap : used + (size_t)n;
		bits &= ~names[i].bit;
	}
	if (used < cap && (bits || used == 0))
		snprintf(buf + used, cap - used, "%s%#x", used ? "|" : "", bits);
}
