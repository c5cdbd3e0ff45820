#!/usr/bin/env bash
# nmap's OS scan rates threeway's ISNs as it rates Linux's: `nmap -O` against
# `threeway serve` on a TUN interface and against a Linux listener in a
# namespace of its own, five times each in one run. nmap's figure varies from
# run to run for both (it is 8 log2 of the spread of five ISN rates), so
# threeway's median "TCP Sequence Prediction: Difficulty=N" must be at least
# Linux's lowest minus 8, and no threeway run may fall below 240. nmap -O wants
# an open and a closed port: 80 is served, 81 answered with RST.
. "$(dirname "$0")/lib.sh"
net_enter "$@"
net_need nmap

RUNS=5
start_serve --tun tw0 --addr 10.7.0.2/24 --port 80 --app http

start_linux_listener 80

# Prints nmap's Difficulty for $1; its whole output stays in $WORK/nmap-$1-$2.out.
difficulty() {
	local out="$WORK/nmap-$1-$2.out"
	nmap -O -v --max-os-tries 1 -n -Pn -p 80,81 "$1" >"$out" 2>&1 || { cat "$out"; fail "nmap against $1 failed"; }
	local d
	d=$(sed -n 's/^TCP Sequence Prediction: Difficulty=\([0-9]*\) .*/\1/p' "$out")
	[ -n "$d" ] || { cat "$out"; fail "nmap printed no TCP Sequence Prediction for $1"; }
	echo "$d"
}

words() { sed -n 's/^TCP Sequence Prediction: Difficulty=[0-9]* (\(.*\))$/\1/p' "$WORK/nmap-$1-$2.out"; }
tw_all="" linux_all="" linux_min=""
for run in $(seq $RUNS); do
	t=$(difficulty 10.7.0.2 "$run")
	l=$(difficulty 10.8.0.2 "$run")
	printf 'run %d: threeway Difficulty=%s (%s)   Linux Difficulty=%s (%s)\n' "$run" \
		"$t" "$(words 10.7.0.2 "$run")" "$l" "$(words 10.8.0.2 "$run")"
	tw_all="$tw_all $t"
	linux_all="$linux_all $l"
	if [ -z "$linux_min" ] || [ "$l" -lt "$linux_min" ]; then linux_min=$l; fi
done
tw_median=$(printf '%s\n' $tw_all | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
echo "threeway:$tw_all (median $tw_median)   Linux:$linux_all (lowest $linux_min)"
for t in $tw_all; do
	[ "$t" -ge 240 ] || fail "a threeway Difficulty, $t, is below 240"
done
[ "$tw_median" -ge $((linux_min - 8)) ] ||
	fail "threeway's median Difficulty $tw_median is more than 8 below Linux's lowest, $linux_min"
echo "ok: threeway's median Difficulty ($tw_median) is at least Linux's lowest ($linux_min) minus 8; none below 240"
stop_serve
echo "PASS"
