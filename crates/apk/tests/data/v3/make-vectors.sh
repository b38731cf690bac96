#!/bin/sh
# Makes the apk v3 vectors in this directory with Alpine's apk-tools 3.0.6 (README.md):
#
#   crates/apk/tests/data/v3/make-vectors.sh /path/to/apk
#
# The trees are the ones crates/apk/tests/v3.rs builds (`hello_tree`, `world_tree`); the
# key is abuild's throwaway test key, in ../keys. Run as root, so that the files are
# root:root as the test's owner map says.
set -eu
apk=$1
here=$(cd "$(dirname "$0")" && pwd)
keys=$here/../keys
key=$keys/testkey-62a9ada3.rsa
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1700000000
umask 022

# hello: directories with several modes, a regular file, a hard link to it, a setuid copy,
# a symlink, an empty file, a 300-byte file and an empty directory. (No FIFO: apk mkpkg
# opens every file to hash it and blocks on a FIFO.)
t=$work/hello
mkdir -p "$t/etc/hello" "$t/usr/bin" "$t/usr/share/doc/hello" "$t/var/empty"
printf '#!/bin/sh\necho hello\n' >"$t/usr/bin/hello"
chmod 0755 "$t/usr/bin/hello"
ln "$t/usr/bin/hello" "$t/usr/bin/hello-again"
cp "$t/usr/bin/hello" "$t/usr/bin/hello-suid"
chmod 4755 "$t/usr/bin/hello-suid"
ln -s hello "$t/usr/bin/hi"
printf 'greeting=hello\n' >"$t/etc/hello/hello.conf"
chmod 0640 "$t/etc/hello/hello.conf"
: >"$t/etc/hello/empty"
i=0
while [ $i -lt 30 ]; do printf 'line %04d\n' $i; i=$((i + 1)); done >"$t/usr/share/doc/hello/README"
chmod 0700 "$t/var/empty"
printf '#!/bin/sh\necho installed\n' >"$work/post-install"
printf '#!/bin/sh\necho removing\n' >"$work/pre-deinstall"

hello() {
	"$apk" mkpkg --no-xattrs \
		-I name:hello -I version:1.0-r0 -I arch:x86_64 \
		-I "description:alpinist v3 test vector" -I license:MIT -I origin:hello \
		-I "maintainer:Alpinist <alpinist@example.org>" -I url:https://example.org/hello \
		-I repo-commit:0123456789abcdef0123456789abcdef01234567 \
		-I build-time:1700000000 -I provider-priority:10 \
		-I "depends:so:libc.musl-x86_64.so.1 !hello-old bar>=1.2 baz<2 qux~1.2" \
		-I "provides:cmd:hello=1.0-r0 so:libhello.so.1=1.0.0 hello-any" \
		-I replaces:hello-old -I "install-if:hello-base docs" -I recommends:hello-doc \
		-I "tags:test vector" -I layer:1 -I replaces-priority:5 \
		-s "post-install:$work/post-install" -s "pre-deinstall:$work/pre-deinstall" \
		-t '/usr/share/doc/*' -t /etc/hello \
		-F "$t" "$@"
}
hello --compression none -o "$here/hello-1.0-r0.none.apk"
hello --compression none --sign-key "$key" -o "$here/hello-1.0-r0.signed.apk"
hello --sign-key "$key" -o "$here/hello-1.0-r0.apk"
hello --compression zstd --sign-key "$key" -o "$here/hello-1.0-r0.zstd.apk"

# world: the fewest fields (arch noarch), one file.
w=$work/world
mkdir -p "$w/usr/share/world"
printf 'a\n' >"$w/usr/share/world/a"
"$apk" mkpkg --no-xattrs -I name:world -I version:2.0-r1 -I arch:noarch -F "$w" \
	--sign-key "$key" -o "$here/world-2.0-r1.apk"

cd "$here"
"$apk" mkndx --keys-dir "$keys" --sign-key "$key" --compression none \
	-d "alpinist v3 test vectors" -o Packages.none.adb hello-1.0-r0.apk world-2.0-r1.apk
"$apk" mkndx --keys-dir "$keys" --sign-key "$key" \
	-d "alpinist v3 test vectors" -o Packages.adb hello-1.0-r0.apk world-2.0-r1.apk
# v2 packages in a v3 index, as abuild writes one with ABUILD_V3_INDEX=1: two of Alpine's
# (from abuild's tests/testdata) and one of alpinist's v2 writer (`v2_package` in
# tests/common/v3.rs). Alpine's are signed by a key not here: --allow-untrusted.
"$apk" mkndx --allow-untrusted --compression none -d "v2 packages" -o Packages.v2.adb \
	v2/alpine-base-3.11.6-r0.apk v2/alpine-base-3.12.0-r0.apk v2/v2pkg-2.1.3-r4.apk
for f in hello-1.0-r0.apk Packages.adb; do
	"$apk" adbdump --keys-dir "$keys" "$f" >"$f.yaml"
done
"$apk" adbdump --allow-untrusted Packages.v2.adb >Packages.v2.adb.yaml
"$apk" verify --keys-dir "$keys" hello-1.0-r0.apk hello-1.0-r0.signed.apk \
	hello-1.0-r0.zstd.apk world-2.0-r1.apk
