#!/bin/bash
# Runs the v3 hostile suite's cases against Alpine's apk-tools 3, as apk_tools_compare.sh
# does for v2 (docs/apk-format.md, "The installer's guarantees, next to apk-tools"). Not
# part of CI.
#
#   HOSTILE_KEEP=/tmp/cases3 cargo test -p alpinist-apk-cli --test hostile_v3 hostile_v3_packages_leave
#   crates/apk-cli/tests/apk_tools_compare_v3.sh /tmp/cases3 /path/to/apk OUTDIR
#
# For each case: a root with the base package (`--initdb`, from the case's base
# Packages.adb), the case's first packages if it has any, then the hostile `add` from the
# hostile Packages.adb. Prints the exit status, whether the root changed and whether the
# canary outside the root changed. Run as root, in a scratch directory.
set -u
cases=$1 apk=$2 out=$3
shift 3
keys=$cases/keys
canary=$(cat "$cases/canary.txt")
rm -rf --one-file-system "$out"
mkdir -p "$out"

tree() {
	(cd "$1" && find . \( -path ./proc -o -path ./dev -o -path ./lib/apk/db/lock \
		-o -path ./var/log/apk.log \) -prune -o -printf '%y %m %s %l %p\n' | sort
	find . \( -path ./proc -o -path ./dev \) -prune -o -type f -not -name lock \
		-not -name apk.log -exec md5sum {} + | sort)
}
run() { unshare -m --propagation private "$apk" "$@" --no-scripts --no-cache --no-network; }
ndx() { echo "$1/x86_64/Packages.adb"; }

for c in $(ls -d "$cases"/case-* | sort -V); do
	n=$(basename "$c")
	name=$(sed -n 1p "$c/case.txt")
	add=$(sed -n 2p "$c/case.txt")
	first=$(sed -n 3p "$c/case.txt")
	root=$out/$n/root
	mkdir -p "$root"
	rm -rf "$canary" && mkdir -p "$canary/sub" && echo canary >"$canary/file"
	if ! run --root "$root" --initdb --arch x86_64 --keys-dir "$keys" -X "$(ndx "$c/base")" \
		"$@" add base >"$out/$n/base" 2>&1; then
		echo "$n | $name | the base package did not install"
		continue
	fi
	if [ -n "$first" ]; then
		# shellcheck disable=SC2086
		run --root "$root" --keys-dir "$keys" -X "$(ndx "$c/base")" -X "$(ndx "$c/first")" \
			"$@" add $first >"$out/$n/first" 2>&1
	fi
	c0=$(tree "$canary") r0=$(tree "$root")
	# shellcheck disable=SC2086
	run --root "$root" --keys-dir "$keys" -X "$(ndx "$c/base")" -X "$(ndx "$c/hostile")" \
		"$@" add $add >"$out/$n/out" 2>&1
	rc=$?
	[ "$(tree "$canary")" = "$c0" ] && canary_state=same || canary_state=CHANGED
	[ "$(tree "$root")" = "$r0" ] && root_state=same || root_state=changed
	first_err=$(grep -m1 -E 'ERROR|WARNING' "$out/$n/out" | cut -c1-100)
	echo "$n | $name | exit $rc | root $root_state | canary $canary_state | $first_err"
done
