/*
 * Settings. packetdrill's defaults: local 192.168.0.1, remote 192.0.2.1
 * (fd3d:fa7b:d17d::1 and 2001:db8::1 for IPv6), port 8080 for bind and
 * connect, MTU 1500, a tolerance of 4 ms. Unlike packetdrill, the tolerance
 * does not grow with the time between events unless --tolerance_percent
 * says so.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

void drill_config_init(struct drill_config *c)
{
	memset(c, 0, sizeof(*c));
	c->ip_version = 4;
	c->bind_port = 8080;
	c->connect_port = 8080;
	c->mtu = 1500;
	c->tolerance_us = 4000;
}

static int parse_long(const char *value, long lo, long hi, long *out)
{
	if (!value || !*value)
		return -1;
	char *end;
	errno = 0;
	long v = strtol(value, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int set_port(uint16_t *port, const char *name, const char *value, int line, struct drill_error *err)
{
	long v;
	if (parse_long(value, 1, 65535, &v)) {
		drill_error_set(err, line, "--%s wants a port from 1 to 65535, not '%s'", name, value ? value : "");
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

static int set_address(char *dst, const char *name, const char *value, int line, struct drill_error *err)
{
	uint8_t bytes[16];
	if (!value || strlen(value) >= 64 ||
	    (inet_pton(AF_INET, value, bytes) != 1 && inet_pton(AF_INET6, value, bytes) != 1)) {
		drill_error_set(err, line, "--%s wants an IPv4 or IPv6 address, not '%s'", name, value ? value : "");
		return -1;
	}
	strcpy(dst, value);
	return 0;
}

static int set_ip_version(struct drill_config *c, const char *value, int line, struct drill_error *err)
{
	if (value && !strcmp(value, "ipv4")) {
		c->ip_version = 4;
	} else if (value && !strcmp(value, "ipv6")) {
		c->ip_version = 6;
	} else if (value && !strcmp(value, "ipv4-mapped-ipv6")) {
		drill_error_unsupported(err, line, "unsupported: --ip_version=ipv4-mapped-ipv6");
		return -1;
	} else {
		drill_error_set(err, line, "--ip_version wants ipv4 or ipv6, not '%s'", value ? value : "");
		return -1;
	}
	return 0;
}

bool drill_config_is_flag(const char *name)
{
	return !strcmp(name, "strict_segments");
}

int drill_config_set(struct drill_config *c, const char *name, const char *value, int line, struct drill_error *err)
{
	long v;
	if (drill_config_is_flag(name)) {
		if (value) {
			drill_error_set(err, line, "--%s takes no value", name);
			return -1;
		}
		c->strict_segments = true;
		return 0;
	}
	if (!strcmp(name, "ip_version"))
		return set_ip_version(c, value, line, err);
	if (!strcmp(name, "local_ip"))
		return set_address(c->local_text, name, value, line, err);
	if (!strcmp(name, "remote_ip"))
		return set_address(c->remote_text, name, value, line, err);
	if (!strcmp(name, "bind_port"))
		return set_port(&c->bind_port, name, value, line, err);
	if (!strcmp(name, "connect_port"))
		return set_port(&c->connect_port, name, value, line, err);
	if (!strcmp(name, "mtu")) {
		if (parse_long(value, 576, 65535, &v)) {
			drill_error_set(err, line, "--mtu wants a number from 576 to 65535, not '%s'", value ? value : "");
			return -1;
		}
		c->mtu = (uint32_t)v;
		return 0;
	}
	if (!strcmp(name, "tolerance_usecs")) {
		if (parse_long(value, 1, 100000000, &v)) {
			drill_error_set(err, line, "--tolerance_usecs wants a positive number of microseconds, not '%s'",
					value ? value : "");
			return -1;
		}
		c->tolerance_us = v;
		return 0;
	}
	if (!strcmp(name, "tolerance_percent")) {
		char *end;
		double d = value ? strtod(value, &end) : -1;
		if (!value || *end || end == value || !(d >= 0 && d <= 100)) {
			drill_error_set(err, line, "--tolerance_percent wants a percentage from 0 to 100, not '%s'",
					value ? value : "");
			return -1;
		}
		c->tolerance_percent = d;
		return 0;
	}
	if (!strcmp(name, "tcp_ts_tick_usecs") && value && !strcmp(value, "0"))
		return 0;   /* outbound TS values are never compared: 0 says just that */
	drill_error_unsupported(err, line, "unsupported: option --%s", name);
	return -1;
}

static int resolve(struct tw_addr *a, const char *text, const char *dflt4, const char *dflt6, int version,
		   const char *name, struct drill_error *err)
{
	const char *s = *text ? text : (version == 4 ? dflt4 : dflt6);
	memset(a, 0, sizeof(*a));
	a->family = version == 4 ? TW_AF_INET : TW_AF_INET6;
	if (inet_pton(version == 4 ? AF_INET : AF_INET6, s, a->bytes) != 1) {
		drill_error_set(err, 0, "--%s=%s is not an IPv%d address (see --ip_version)", name, s, version);
		return -1;
	}
	return 0;
}

int drill_config_finish(struct drill_config *c, struct drill_error *err)
{
	if (resolve(&c->local, c->local_text, "192.168.0.1", "fd3d:fa7b:d17d::1", c->ip_version, "local_ip", err) ||
	    resolve(&c->remote, c->remote_text, "192.0.2.1", "2001:db8::1", c->ip_version, "remote_ip", err))
		return -1;
	if (!memcmp(c->local.bytes, c->remote.bytes, sizeof(c->local.bytes))) {
		drill_error_set(err, 0, "the local and the remote address are the same");
		return -1;
	}
	if (c->ip_version == 6 && c->mtu < 1280) {
		drill_error_set(err, 0, "IPv6 needs an MTU of 1280 at least, not %u", c->mtu);
		return -1;
	}
	return 0;
}
