#!/bin/sh
# cmake --install puts the header, both libraries, the tool and threeway.pc in place; a program
# built from pkg-config's flags alone links and runs; the shared library exports tw_* only.
# usage: install_consumer.sh BUILD_DIR CC [EXTRA_CFLAGS...]
set -eu
build=$1 cc=$2
shift 2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT INT TERM
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(find "$prefix" -name threeway.pc -exec dirname {} \;)
for f in "$prefix/include/threeway.h" "$prefix/bin/threeway" "$libdir/../libthreeway.a" "$libdir/../libthreeway.so"; do
	[ -e "$f" ] || { echo "not installed: $f"; exit 1; }
done
cat >"$prefix/consumer.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <threeway.h>
int main(void)
{
	/* A raw IPv4 packet too short to hold a header: the tracer must say so. */
	static const unsigned char pkt[] = { 0x45, 0x00 };
	struct tw_tracer *tr = tw_tracer_new(&(struct tw_trace_config){ .time = TW_TIME_NONE });
	const char *text = tr ? tw_trace_render(tr, 0, 0, TW_LINK_RAW, pkt, sizeof(pkt), sizeof(pkt)) : NULL;
	int ok = text && strcmp(text, "IP  [|ip]\n") == 0 && strcmp(tw_version(), "") != 0;
	if (!ok)
		printf("unexpected: %s", text ? text : "(null)\n");
	tw_tracer_free(tr);
	return ok ? 0 : 1;
}
C
export PKG_CONFIG_PATH="$libdir"
# shellcheck disable=SC2046
"$cc" "$@" -o "$prefix/consumer" "$prefix/consumer.c" $(pkg-config --cflags --libs threeway) -Wl,-rpath,"$libdir/.."
"$prefix/consumer"
exported=$(nm -D --defined-only "$libdir/../libthreeway.so" | awk '$2 ~ /^[TDBR]$/ {print $3}' | grep -v '^tw_' || true)
[ -z "$exported" ] || { echo "libthreeway.so exports symbols without the tw_ prefix:"; echo "$exported"; exit 1; }
echo "installed library, header, tool and pkg-config file work"
