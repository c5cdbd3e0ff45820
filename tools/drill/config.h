/*
 * What a script runs with: addresses, ports, MTU, timing tolerance. The
 * defaults are packetdrill's; a script's --name=value header lines change
 * them, and the command line's change them last.
 */
#ifndef DRILL_CONFIG_H
#define DRILL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "script.h"
#include "threeway.h"

struct drill_config {
	int ip_version;             /* 4 or 6 */
	char local_text[64], remote_text[64];   /* --local_ip, --remote_ip as given; "" for the default */
	struct tw_addr local, remote;           /* set by drill_config_finish */
	uint16_t bind_port, connect_port;
	uint32_t mtu;
	int64_t tolerance_us;
	double tolerance_percent;   /* of the time since the previous event, when larger */
	bool strict_segments;       /* one outbound line, one segment: no joining */
};

void drill_config_init(struct drill_config *c);

/*
 * Applies one setting, "name" without its dashes and `value` (NULL when
 * none was written). 0, or -1 with the reason in `err` at `line` (marked
 * unsupported for packetdrill options the runner does not implement).
 */
int drill_config_set(struct drill_config *c, const char *name, const char *value, int line, struct drill_error *err);

/* Fills the default addresses for the IP version and checks the whole. 0 or -1. */
int drill_config_finish(struct drill_config *c, struct drill_error *err);

/* Whether `name` is a setting that takes no value (--strict_segments). */
bool drill_config_is_flag(const char *name);

#endif
