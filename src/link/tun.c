/*
 * A Linux TUN interface: IP packets in and out of the kernel, with no
 * packet-information header (IFF_NO_PI), IPv4 and IPv6 alike. The interface
 * is opened by name, created if it does not exist, and its MTU read from the
 * kernel. The host's side of the link (the kernel's own address on it) can be
 * configured here too, so a tool needs no `ip` command.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "link/link.h"

struct tw_tun {
	int fd;
	char name[IFNAMSIZ];
	uint32_t mtu;
	bool created;               /* the interface did not exist before tw_tun_open */
};

/* The kernel's struct in6_ifreq (linux/ipv6.h), which glibc's headers do not declare. */
struct tun_in6_ifreq {
	struct in6_addr addr;
	uint32_t prefix_len;
	int ifindex;
};

static int ifreq_ioctl(int family, unsigned long req, struct ifreq *ifr)
{
	int s = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	int r = ioctl(s, req, ifr) < 0 ? -errno : 0;
	close(s);
	return r;
}

static int read_mtu(struct tw_tun *t)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->name, sizeof(t->name));
	int r = ifreq_ioctl(AF_INET, SIOCGIFMTU, &ifr);
	if (r == 0)
		t->mtu = (uint32_t)ifr.ifr_mtu;
	return r;
}

/*
 * TUNSETIFF's errors, told apart: EPERM without CAP_NET_ADMIN, EBUSY when
 * another process has the TUN interface, EINVAL when the name belongs to an
 * interface of another kind (reported as EEXIST).
 */
static int attach(struct tw_tun *t, const char *name)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	memcpy(ifr.ifr_name, name, strlen(name));
	bool existed = if_nametoindex(name) != 0;
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		return e == EINVAL && existed ? -EEXIST : -e;
	}
	memcpy(t->name, ifr.ifr_name, sizeof(t->name));
	t->name[IFNAMSIZ - 1] = '\0';
	t->created = !existed;
	return 0;
}

struct tw_tun *tw_tun_open(const char *name, int *err)
{
	int e = 0;
	struct tw_tun *t = NULL;
	if (!name || strlen(name) >= IFNAMSIZ || strchr(name, '/') || strchr(name, '%')) {
		e = name && strlen(name) >= IFNAMSIZ ? -ENAMETOOLONG : -EINVAL;
		goto fail;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		e = -ENOMEM;
		goto fail;
	}
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		e = -errno;
		goto fail;
	}
	if ((e = attach(t, name)) != 0 || (e = read_mtu(t)) != 0)
		goto fail;
	return t;
fail:
	if (t && t->fd >= 0)
		close(t->fd);
	free(t);
	if (err)
		*err = e;
	return NULL;
}

void tw_tun_close(struct tw_tun *t)
{
	if (!t)
		return;
	close(t->fd);
	free(t);
}

int tw_tun_fd(const struct tw_tun *t) { return t->fd; }
const char *tw_tun_name(const struct tw_tun *t) { return t->name; }
uint32_t tw_tun_mtu(const struct tw_tun *t) { return t->mtu; }
bool tw_tun_created(const struct tw_tun *t) { return t->created; }

long tw_tun_read(struct tw_tun *t, uint8_t *buf, size_t cap)
{
	ssize_t n = read(t->fd, buf, cap);
	return n < 0 ? -errno : (long)n;
}

int tw_tun_write(struct tw_tun *t, const uint8_t *pkt, size_t len)
{
	ssize_t n = write(t->fd, pkt, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int tw_tun_set_up(struct tw_tun *t)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->name, sizeof(t->name));
	int r = ifreq_ioctl(AF_INET, SIOCGIFFLAGS, &ifr);
	if (r)
		return r;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	return ifreq_ioctl(AF_INET, SIOCSIFFLAGS, &ifr);
}

static int write_ipv6_conf(const char *ifname, const char *key, const char *value)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", ifname, key);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, value, strlen(value));
	int r = n < 0 ? -errno : 0;
	close(fd);
	return r;
}

int tw_tun_set_ipv6(struct tw_tun *t, bool enabled)
{
	int r = write_ipv6_conf(t->name, "disable_ipv6", enabled ? "0" : "1");
	if (r || !enabled)
		return r == -ENOENT && !enabled ? 0 : r;   /* no IPv6 in the kernel: off already */
	/*
	 * A point-to-point TUN link has nobody to collide with: without duplicate
	 * address detection the address is usable at once, not after a second.
	 */
	return write_ipv6_conf(t->name, "accept_dad", "0");
}

static int add_ipv4(const struct tw_tun *t, const uint8_t a[4], unsigned prefix_len)
{
	struct ifreq ifr;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->name, sizeof(t->name));
	memcpy(&sin.sin_addr, a, 4);
	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	int r = ifreq_ioctl(AF_INET, SIOCSIFADDR, &ifr);
	if (r)
		return r;
	uint32_t mask = prefix_len ? ~0u << (32 - prefix_len) : 0;
	sin.sin_addr.s_addr = htonl(mask);
	memcpy(&ifr.ifr_netmask, &sin, sizeof(sin));
	return ifreq_ioctl(AF_INET, SIOCSIFNETMASK, &ifr);
}

static int add_ipv6(const struct tw_tun *t, const uint8_t a[16], unsigned prefix_len)
{
	struct tun_in6_ifreq req;
	memset(&req, 0, sizeof(req));
	memcpy(&req.addr, a, 16);
	req.prefix_len = prefix_len;
	req.ifindex = (int)if_nametoindex(t->name);
	if (req.ifindex == 0)
		return -errno;
	int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	int r = ioctl(s, SIOCSIFADDR, &req) < 0 ? -errno : 0;
	close(s);
	return r;
}

int tw_tun_add_host_addr(struct tw_tun *t, const struct tw_addr *addr, unsigned prefix_len)
{
	if (!addr)
		return -EINVAL;
	if (addr->family == TW_AF_INET && prefix_len <= 32)
		return add_ipv4(t, addr->bytes, prefix_len);
	if (addr->family == TW_AF_INET6 && prefix_len <= 128)
		return add_ipv6(t, addr->bytes, prefix_len);
	return -EINVAL;
}
