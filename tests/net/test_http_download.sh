#!/usr/bin/env bash
# Interop 1: curl, through the kernel's TCP, downloads 20 MB from `threeway
# serve --app http`, over IPv4 and over IPv6; the SHA-256 matches.
. "$(dirname "$0")/lib.sh"
net_enter "$@"
net_need curl sha256sum

mkdir "$WORK/www"
head -c 20000000 /dev/urandom >"$WORK/www/big.bin"
want=$(sha256sum <"$WORK/www/big.bin" | cut -d' ' -f1)
start_serve --tun tw0 --addr 10.7.0.2/24 --addr 2001:db8:7::2/64 --port 80 --app http --root "$WORK/www"

for url in http://10.7.0.2/big.bin 'http://[2001:db8:7::2]/big.bin'; do
	rm -f "$WORK/got"
	code=$(curl -sS --max-time 60 -o "$WORK/got" -w '%{http_code} %{size_download}' "$url") ||
		fail "curl $url failed"
	[ "$code" = "200 20000000" ] || fail "curl $url: status and size '$code'"
	got=$(sha256sum <"$WORK/got" | cut -d' ' -f1)
	[ "$got" = "$want" ] || fail "curl $url: SHA-256 $got, want $want"
	echo "ok: $url, 20000000 bytes, SHA-256 $got"
done

# HEAD, keep-alive (two requests on one connection) and a missing file.
head_out=$(curl -sS --max-time 10 -I http://10.7.0.2/big.bin)
grep -q '^Content-Length: 20000000' <<<"$head_out" || fail "HEAD: $head_out"
two=$(curl -sS --max-time 10 -v http://10.7.0.2/info http://10.7.0.2/info 2>&1)
grep -q 'Re-using existing connection' <<<"$two" || fail "the second request did not reuse the connection"
[ "$(curl -s -o /dev/null -w '%{http_code}' http://10.7.0.2/nothing-here)" = 404 ] || fail "missing file: not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' --path-as-is http://10.7.0.2/../etc/passwd)" = 400 ] ||
	fail "a path out of the root was not refused"
stop_serve
echo "PASS"
