/*
 * libFuzzer target over the whole parse and render path: the wire parsers,
 * the emitters on what parsed cleanly, and the tracer in every mode and link
 * type. Any crash, leak, overread, undefined behaviour or hang is a finding.
 *
 * Input: one control byte (link type, verbosity, -S), then the packet.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "threeway.h"
#include "wire/wire.h"

static const int linktypes[] = { TW_LINK_RAW, TW_LINK_ETHERNET, TW_LINK_LINUX_SLL, TW_LINK_LINUX_SLL2 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A segment that parses cleanly must emit again to the same bytes. */
static void check_tcp_round_trip(const uint8_t *seg, size_t len, const struct wire_pseudo *ph)
{
	struct wire_tcp t;
	if (wire_tcp_parse(&t, seg, len, ph) != 0)
		return;
	uint8_t *out = malloc(len ? len : 1);
	if (!out)
		return;
	/* Without a pseudo-header the checksum field is written as parsed (0xffff stays 0xffff). */
	size_t n = wire_tcp_emit(&t, out, len, NULL);
	if (n != len || memcmp(out, seg, len) != 0)
		abort();
	free(out);
}

static void exercise_wire_layer(const uint8_t *p, size_t len)
{
	struct wire_ipv4 ip4;
	struct wire_ipv6 ip6;
	struct wire_pseudo ph;

	if (wire_ipv4_parse(&ip4, p, len) == 0 && ip4.proto == WIRE_PROTO_TCP) {
		wire_ipv4_pseudo(&ip4, &ph);
		check_tcp_round_trip(ip4.payload, ip4.payload_len, &ph);
	}
	if (wire_ipv6_parse(&ip6, p, len) == 0 && ip6.proto == WIRE_PROTO_TCP) {
		wire_ipv6_pseudo(&ip6, &ph);
		check_tcp_round_trip(ip6.payload, ip6.payload_len, &ph);
	}
	struct wire_tcp t;
	wire_tcp_parse(&t, p, len, NULL);
	struct wire_tcp_opts o;
	wire_tcp_opts_parse(&o, p, len > WIRE_TCP_OPT_SPACE ? WIRE_TCP_OPT_SPACE : len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t control = data[0];
	const uint8_t *pkt = data + 1;
	size_t len = size - 1;

	exercise_wire_layer(pkt, len);

	struct tw_trace_config cfg = {
		.verbose = (control >> 2) % 3,
		.absolute_seq = control & 0x10,
		.time = (control >> 5) % 3,
	};
	struct tw_tracer *tr = tw_tracer_new(&cfg);
	if (!tr)
		return 0;
	int linktype = linktypes[control & 3];
	/* Render the packet whole, then cut short by the capture, as a snap length would. */
	tw_trace_render(tr, 1700000000, 0, linktype, pkt, len, len);
	if (len > 1)
		tw_trace_render(tr, 1700000000, 1, linktype, pkt, len / 2, len);
	tw_trace_render(tr, -1, 999999, linktype, pkt, len, len + 7);
	tw_tracer_free(tr);
	return 0;
}
