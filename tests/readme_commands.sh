#!/bin/sh
# The README opens with exactly two set-up commands, and .ci/run runs the second verbatim.
set -eu
top=$1
cmds=$(awk '/^```sh$/{n++; getline; if (n <= 2) print; }' "$top/README.md")
first_block_line=$(grep -n '^```sh$' "$top/README.md" | head -1 | cut -d: -f1)
heading_lines=$(head -n "$first_block_line" "$top/README.md" | grep -c '^```' || true)
[ "$heading_lines" -eq 1 ] || { echo "README: a code block comes before the set-up commands"; exit 1; }
second=$(printf '%s\n' "$cmds" | sed -n 2p)
case "$second" in *ctest*) ;; *) echo "README: the second command does not run the tests"; exit 1;; esac
first=$(printf '%s\n' "$cmds" | sed -n 1p)
case "$first" in *"threeway demo"*) ;; *) echo "README: the first command does not run the demo"; exit 1;; esac
# The first command installs only what the demo needs; the test tools belong to the second.
for test_only in libcmocka-dev libclang-rt tcpdump tshark netcat iputils-ping python3; do
	case "$first" in *"$test_only"*) echo "README: the first command installs $test_only, which only the tests need"; exit 1;; esac
done
grep -qxF "$second" "$top/.ci/run" || { echo ".ci/run does not run README's second command verbatim"; exit 1; }
grep -q '^export THREEWAY_REQUIRE_NETNS=1$' "$top/.ci/run" || { echo ".ci/run does not set THREEWAY_REQUIRE_NETNS=1"; exit 1; }
echo "README commands and .ci/run agree"
