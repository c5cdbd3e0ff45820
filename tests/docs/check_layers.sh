#!/bin/sh
# The layers' dependencies point one way: api -> tcp -> ip -> wire, with trace
# and link knowing wire only. Every project #include in src/ must name a layer
# its own layer may use; the public threeway.h is allowed everywhere.
set -eu
top=$1
allowed() {
	case $1 in
	wire) echo "wire" ;;
	ip) echo "ip wire" ;;
	tcp) echo "tcp ip wire" ;;
	trace) echo "trace wire" ;;
	link) echo "link wire" ;;
	api) echo "api tcp ip wire trace link" ;;
	*) echo "" ;;
	esac
}
bad=0
checked=0
for file in $(cd "$top" && find src -name '*.[ch]' | sort); do
	layer=$(echo "$file" | cut -d/ -f2)
	ok=$(allowed "$layer")
	[ -n "$ok" ] || { echo "$file: in no known layer"; bad=1; continue; }
	for dep in $(sed -n 's/^#include "\([a-z]*\)\/.*/\1/p' "$top/$file"); do
		checked=$((checked + 1))
		case " $ok " in
		*" $dep "*) ;;
		*) echo "$file: includes $dep/, which the $layer layer may not use (it may use: $ok)"; bad=1 ;;
		esac
	done
	# Headers are named with their layer's folder ("tcp/seq.h"), so the check above sees them all.
	loose=$(grep '^#include "[a-z_]*\.h"' "$top/$file" | grep -v '"threeway.h"' || true)
	[ -z "$loose" ] || { echo "$file: an include without its layer's folder: $loose"; bad=1; }
done
[ "$bad" = 0 ] || exit 1
echo "layers: $checked project includes in src/, all pointing one way"
