#!/bin/sh
# Installs the repository of tests/common/v3repo.rs with Alpine's apk-tools 3.0.6, as
# install_v3.rs installs it with alpinist, and keeps what apk-tools made: the files in this
# directory (docs/apk-format.md, "Checked against apk-tools").
#
#   V3_INSTALL_KEEP=/tmp/keep cargo test -p alpinist-apk --test install_v3   # repo, keys
#   crates/apk/tests/data/v3/install/oracle.sh /path/to/apk /tmp/keep      # as root
#   V3_INSTALL_KEEP=/tmp/keep cargo test -p alpinist-apk --test install_v3   # tree
#   cp /tmp/keep/{output,tree,installed,triggers,world} crates/apk/tests/data/v3/install/
set -eu
apk=$1
keep=$(cd "$2" && pwd)
root=$keep/root-apk
index=$keep/repo/x86_64/Packages.adb
rm -rf "$root"
{
	"$apk" add --root "$root" --initdb --arch x86_64 --keys-dir "$keep/keys" \
		--repository "$index" --no-scripts --no-cache v3base
	"$apk" add --root "$root" --keys-dir "$keep/keys" \
		--repository "$index" --no-scripts --no-cache v3hello v2tool
} >"$keep/output"
cp "$root/lib/apk/db/installed" "$root/lib/apk/db/triggers" "$root/etc/apk/world" "$keep/"
