#!/bin/bash
# Checks the v3 packages and index alpinist writes with Alpine's apk-tools 3.0.6, for
# docs/apk-format.md. Not part of CI: apk-tools is built by hand (README.md).
#
#   V3_KEEP=/tmp/v3 cargo test -p alpinist-apk --test v3
#   crates/apk/tests/data/v3/oracle.sh /path/to/apk /tmp/v3 OUTDIR
#
# For each package: `apk verify` and `apk adbdump` with the test key, and `apk extract`
# (as root: it creates the device node). Then the index: `apk adbdump`, and `apk add
# --initdb` of `world` from it into an empty root. Run as root in a scratch directory.
set -u
apk=$1 kept=$2 out=$3
keys=$(cd "$(dirname "$0")/../keys" && pwd)
rm -rf --one-file-system "$out"
mkdir -p "$out/repo/x86_64" "$out/repo/noarch" "$out/root"
rc=0
step() {
	if "$@" >"$out/log" 2>&1; then
		echo "ok   | $*"
	else
		echo "FAIL | $* | $(head -c 200 "$out/log")"
		rc=1
	fi
}
for f in "$kept"/*.apk; do
	step "$apk" verify --keys-dir "$keys" "$f"
	step sh -c "'$apk' adbdump --keys-dir '$keys' '$f' | grep -q '^# sig v00 h04 .*: OK\$'"
	dest=$out/extract/$(basename "$f")
	mkdir -p "$dest"
	step "$apk" extract --keys-dir "$keys" --destination "$dest" "$f"
done
step sh -c "'$apk' adbdump --keys-dir '$keys' '$kept/Packages.adb' | grep -q '^# sig v00 h04 .*: OK\$'"
cp "$kept/Packages.adb" "$out/repo/"
cp "$kept"/big-*.apk "$kept"/hello-*.apk "$out/repo/x86_64/"
cp "$kept"/world-*.apk "$out/repo/noarch/"
step unshare -m --propagation private "$apk" add --root "$out/root" --initdb --arch x86_64 \
	--keys-dir "$keys" --repository "$out/repo/Packages.adb" --no-scripts --no-cache \
	--no-network world
step test "$(cat "$out/root/usr/share/world/a")" = a
exit $rc
