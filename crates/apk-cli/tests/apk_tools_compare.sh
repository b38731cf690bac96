#!/bin/bash
# Runs the hostile suite's cases against Alpine's apk-tools, for docs/apk-format.md
# ("The installer's guarantees, next to apk-tools"). Not part of CI: apk-tools is built by
# hand (see that section).
#
#   HOSTILE_KEEP=/tmp/cases cargo test -p alpinist-apk-cli --test hostile
#   crates/apk-cli/tests/apk_tools_compare.sh /tmp/cases /path/to/apk OUTDIR [APK OPTIONS]
#
# For each case: a root with the base package (`--initdb`), the case's first packages if
# it has any, then the hostile `add`. Prints the exit status, whether the root changed
# (paths, types, modes, sizes, link targets and contents; `lib/apk/db/lock` and
# `var/log/apk.log` aside) and whether the canary outside the root changed. apk runs in a
# private mount namespace (`unshare -m`; apk 2 mounts /proc in the root when run as root)
# with `--no-scripts`. Run it as root, in a scratch directory: an apk that falls for a case
# writes into the canary, which is the absolute path the kept packages name.
set -u
cases=$1 apk=$2 out=$3
shift 3
alpinist=${ALPINIST_APK:-$(dirname "$0")/../../../target/debug/apk}
keys=$cases/keys
canary=$("$alpinist" info "$cases/case-0/hostile/x86_64/evil-1.0-r0.apk" |
	sed -n 's/^l .* -> \(.*\)\/file$/\1/p')
rm -rf --one-file-system "$out"
mkdir -p "$out"

tree() {
	(cd "$1" && find . \( -path ./proc -o -path ./dev -o -path ./lib/apk/db/lock \
		-o -path ./var/log/apk.log \) -prune -o -printf '%y %m %s %l %p\n' | sort
	find . \( -path ./proc -o -path ./dev \) -prune -o -type f -not -name lock \
		-not -name apk.log -exec md5sum {} + | sort)
}
names() { tar -xzOf "$1/x86_64/APKINDEX.tar.gz" APKINDEX | sed -n 's/^P://p'; }
run() { unshare -m --propagation private "$apk" "$@" --no-scripts --no-cache --no-network; }

for c in $(ls -d "$cases"/case-* | sort -V); do
	n=$(basename "$c")
	name=$(sed -n 1p "$c/case.txt")
	add=$(sed -n 2p "$c/case.txt")
	root=$out/$n/root
	mkdir -p "$root"
	rm -rf "$canary" && mkdir -p "$canary/sub" && echo canary >"$canary/file"
	if ! run --root "$root" --initdb --arch x86_64 --keys-dir "$keys" -X "$c/base" "$@" \
		add base >"$out/$n/base" 2>&1; then
		echo "$n | $name | the base package did not install"
		continue
	fi
	if [ -d "$c/first" ]; then
		run --root "$root" --keys-dir "$keys" -X "$c/base" -X "$c/first" "$@" \
			add $(names "$c/first") >"$out/$n/first" 2>&1
	fi
	c0=$(tree "$canary") r0=$(tree "$root")
	# shellcheck disable=SC2086
	run --root "$root" --keys-dir "$keys" -X "$c/base" -X "$c/hostile" "$@" add $add \
		>"$out/$n/out" 2>&1
	rc=$?
	[ "$(tree "$canary")" = "$c0" ] && canary_state=same || canary_state=CHANGED
	[ "$(tree "$root")" = "$r0" ] && root_state=same || root_state=changed
	first=$(grep -m1 -E 'ERROR|WARNING' "$out/$n/out" | cut -c1-100)
	echo "$n | $name | exit $rc | root $root_state | canary $canary_state | $first"
done
