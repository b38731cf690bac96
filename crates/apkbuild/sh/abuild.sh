# alpinist's APKBUILD environment: the variables, helpers and phase driver that an
# APKBUILD expects from abuild, written from the behaviour described in
# docs/apkbuild.md. Run by bash; the Rust side sets the build environment (CARCH, CHOST,
# CC, CFLAGS, srcdir, pkgbasedir, CBUILDROOT, …) and calls one of the modes at the end.
#
#   abuild.sh meta APKBUILD          print the recipe's variables (NUL-separated)
#   abuild.sh build APKBUILD         unpack, prepare, build (and check when native)
#   abuild.sh rootpkg APKBUILD       package() and the split functions (under fakeroot)
#   abuild.sh split APKBUILD NAME FUNC   one split function (called by rootpkg)
#   abuild.sh env APKBUILD           source the recipe and start an interactive shell
#   abuild.sh defaults APKBUILD CONF abuild's own aport: the build settings it installs for
#                                    $CARCH (see below), printed as NAME=VALUE (NUL-separated)

set -e
umask 022

# --- messages -------------------------------------------------------------------------
_alp_who() { printf '%s' "${subpkgname:-${pkgname:-APKBUILD}}"; }
msg() { printf '>>> %s: %s\n' "$(_alp_who)" "$*" >&2; }
msg2() { printf '\t%s\n' "$*" >&2; }
warning() { printf '>>> WARNING: %s: %s\n' "$(_alp_who)" "$*" >&2; }
warning2() { printf '\t%s\n' "$*" >&2; }
error() { printf '>>> ERROR: %s: %s\n' "$(_alp_who)" "$*" >&2; }
error2() { printf '\t%s\n' "$*" >&2; }
die() {
	error "$@"
	exit 1
}

# --- predicates -----------------------------------------------------------------------
cross_compiling() { [ "$CBUILD" != "$CHOST" ]; }
cross_creating() { [ "$CHOST" != "$CTARGET" ]; }
is_function() { [ "$(type -t "$1" 2>/dev/null)" = function ]; }

# list_has NEEDLE LIST…: true at the first NEEDLE, false at the first !NEEDLE.
list_has() {
	local needle="$1" i
	shift
	for i in "$@"; do
		[ "$i" = "$needle" ] && return 0
		[ "$i" = "!$needle" ] && return 1
	done
	return 1
}

options_has() {
	local name="${subpkgname:-$pkgname}"
	# shellcheck disable=SC2086
	list_has "$name::$1" $options || list_has "$pkgname::$1" $options || list_has "$1" $options
}

_alp_names() {
	local i
	for i in "$@"; do
		i="${i%%[<>=~]*}"
		printf '%s\n' "${i#!}"
	done
}
depends_has() {
	# shellcheck disable=SC2086
	_alp_names $depends | grep -qx -- "$1"
}
makedepends_has() {
	# shellcheck disable=SC2086
	_alp_names $makedepends $makedepends_build $makedepends_host | grep -qx -- "$1"
}
subpackages_has() {
	local i
	for i in $subpackages; do
		[ "${i%%:*}" = "$1" ] && return 0
	done
	return 1
}
subpackage_types_has() {
	local i n
	for i in $subpackages; do
		n="${i%%:*}"
		[ "${n##*-}" = "$1" ] && return 0
	done
	return 1
}
want_check() {
	[ -n "$ABUILD_BOOTSTRAP" ] && return 1
	cross_compiling && return 1
	options_has "!check" && return 1
	return 0
}

# --- arch and triplets ----------------------------------------------------------------
# Alpine arch names and triplets come from alpinist's arch files (toolchains/arch/*.toml),
# handed over as ALPINIST_ARCH_TRIPLETS="aarch64=aarch64-alpine-linux-musl …".
arch_to_triplet() {
	local e
	for e in $ALPINIST_ARCH_TRIPLETS; do
		if [ "${e%%=*}" = "$1" ]; then
			echo "${e#*=}"
			return 0
		fi
	done
	echo unknown
}
arch_to_hostspec() { arch_to_triplet "$@"; }
# The arch whose triplet has the same CPU part (i586-…, armv7-…, powerpc64le-…).
triplet_to_arch() {
	local e t
	for e in $ALPINIST_ARCH_TRIPLETS; do
		t="${e#*=}"
		if [ "${t%%-*}" = "${1%%-*}" ]; then
			echo "${e%%=*}"
			return 0
		fi
	done
	return 1
}
triplet_to_libc() {
	case "$1" in
	*-*-*-musl*) echo musl ;;
	*-*-*-gnu*) echo glibc ;;
	*-*-*-uclibc*) echo uclibc ;;
	*) echo unknown ;;
	esac
}

# --- moving files into subpackages ----------------------------------------------------
amove() {
	[ -n "$subpkgdir" ] || die "amove is only valid inside a split function"
	cd "$pkgdir" || return 1
	local ret=0 i parent
	for i in "$@"; do
		while [ "${i#/}" != "$i" ]; do i="${i#/}"; done
		while [ "${i%/}" != "$i" ]; do i="${i%/}"; done
		if [ ! -e "$i" ] && [ ! -L "$i" ]; then
			error "$i not found"
			ret=1
			continue
		fi
		case "$i" in
		*/*) parent="${i%/*}" ;;
		*) parent="" ;;
		esac
		mkdir -p "$subpkgdir/$parent"
		mv "$i" "$subpkgdir/$parent/"
		[ -n "$parent" ] && rmdir -p "$parent" 2>/dev/null || true
	done
	cd "$pkgdir"
	return $ret
}

_alp_move_if_there() {
	local i
	for i in "$@"; do
		if [ -e "$pkgdir/$i" ] || [ -L "$pkgdir/$i" ]; then
			amove "$i" || return 1
		fi
	done
}

# --- default split functions ----------------------------------------------------------
default_dev() {
	local i
	depends="$depends_dev"
	pkgdesc="$pkgdesc (development files)"
	cd "$pkgdir" || return 0
	local libdirs=
	for i in lib usr; do [ -d "$i" ] && libdirs="$libdirs $i"; done
	# shellcheck disable=SC2046,SC2086
	_alp_move_if_there usr/include usr/lib/pkgconfig usr/share/pkgconfig \
		usr/share/aclocal usr/share/gettext usr/bin/*-config usr/share/vala/vapi \
		usr/share/gir-[0-9]* usr/share/qt*/mkspecs usr/lib/qt*/mkspecs \
		usr/lib/cmake usr/share/cmake usr/lib/glade/modules usr/share/glade/catalogs || return 1
	# shellcheck disable=SC2046,SC2086
	_alp_move_if_there $(find . -name include -type d 2>/dev/null | sed 's|^\./||') || return 1
	if [ -n "$libdirs" ]; then
		if ! subpackage_types_has static; then
			# shellcheck disable=SC2046,SC2086
			_alp_move_if_there $(find $libdirs -name '*.a' 2>/dev/null) || return 1
		fi
		# shellcheck disable=SC2046,SC2086
		_alp_move_if_there $(find $libdirs \( -name '*.[cho]' -o -name '*.prl' \) 2>/dev/null) || return 1
	fi
	for i in lib/*.so usr/lib/*.so; do
		if [ -L "$i" ]; then
			amove "$i" || return 1
		fi
	done
	return 0
}
dev() { default_dev; }

default_static() {
	local i devpkg
	depends="$depends_static"
	pkgdesc="$pkgdesc (static library)"
	if [ -z "$depends" ]; then
		devpkg="${subpkgname%-libs-static}"
		devpkg="${devpkg%-static}-dev"
		subpackages_has "$devpkg" && depends="$devpkg"
	fi
	cd "$pkgdir" || return 0
	# shellcheck disable=SC2046
	amove $(find lib usr/lib -name '*.a' 2>/dev/null)
}
static() { default_static; }

default_libs() {
	depends="$depends_libs"
	pkgdesc="$pkgdesc (libraries)"
	cd "$pkgdir" || return 0
	local i found=
	for i in lib/lib*.so.[0-9]* usr/lib/lib*.so.[0-9]*; do
		if [ -e "$i" ] || [ -L "$i" ]; then
			found="$found $i"
		fi
	done
	# shellcheck disable=SC2086
	[ -n "$found" ] && amove $found || true
}
libs() { default_libs; }

default_doc() {
	local i
	depends="$depends_doc"
	pkgdesc="$pkgdesc (documentation)"
	install_if="docs $pkgname=$pkgver-r$pkgrel"
	cd "$pkgdir" || return 0
	_alp_move_if_there usr/share/doc usr/share/man usr/share/info usr/share/html \
		usr/share/sgml usr/share/licenses usr/share/gtk-doc usr/share/ri usr/share/help || return 1
	_alp_compress_man
	rm -f "$subpkgdir/usr/share/info/dir"
	return 0
}
doc() { default_doc; }

# Man pages gzipped as abuild does: links follow their targets, hard links stay links.
_alp_compress_man() {
	local mandir="$subpkgdir/usr/share/man"
	[ -d "$mandir" ] || return 0
	local prev_inode= prev_name= inode name
	find "$mandir" \( -type f -o -type l \) \( -name '*.[0-9n]' -o -name '*.[0-9n][a-z]*' \) \
		! -name '*.gz' ! -name '*.bz2' ! -name '*.xz' -printf '%i %p\n' | sort |
		while read -r inode name; do
			if [ -L "$name" ]; then
				ln -s "$(readlink "$name").gz" "$name.gz"
				rm -f "$name"
			elif [ "$inode" = "$prev_inode" ]; then
				ln -s "${prev_name##*/}.gz" "$name.gz"
				rm -f "$name"
			else
				gzip -n -9 -k "$name"
				rm -f "$name"
				prev_inode="$inode"
				prev_name="$name"
			fi
		done
}

default_lang() {
	depends="$depends_lang"
	pkgdesc="Languages for package $pkgname"
	install_if="$pkgname=$pkgver-r$pkgrel lang"
	amove "${langdir:-/usr/share/locale}"
}
lang() { default_lang; }

default_openrc() {
	depends="$depends_openrc"
	pkgdesc="$pkgdesc (OpenRC init scripts)"
	install_if="openrc ${subpkgname%-openrc}=$pkgver-r$pkgrel"
	_alp_move_if_there etc/conf.d etc/init.d etc/user/conf.d etc/user/init.d || true
}
openrc() { default_openrc; }

default_systemd() {
	depends="$depends_systemd"
	pkgdesc="$pkgdesc (systemd files)"
	install_if="systemd ${subpkgname%-systemd}=$pkgver-r$pkgrel"
	amove usr/lib/systemd
}
systemd() { default_systemd; }

default_udev() {
	depends="$depends_udev"
	pkgdesc="$pkgdesc (udev rules)"
	install_if="udev ${subpkgname%-udev}=$pkgver-r$pkgrel"
	amove usr/lib/udev
}
udev() { default_udev; }

default_devhelp() {
	depends=
	pkgdesc="$pkgname - devhelp files"
	install_if="$pkgname=$pkgver-r$pkgrel devhelp"
	amove usr/share/devhelp
}
devhelp() { default_devhelp; }

default_bashcomp() {
	depends=
	pkgdesc="Bash completions for $pkgname"
	install_if="${subpkgname%-bash-completion}=$pkgver-r$pkgrel bash-completion"
	amove usr/share/bash-completion/completions
}
bashcomp() { default_bashcomp; }

default_zshcomp() {
	depends=
	pkgdesc="Zsh completions for $pkgname"
	install_if="${subpkgname%-zsh-completion}=$pkgver-r$pkgrel zsh"
	amove usr/share/zsh/site-functions
}
zshcomp() { default_zshcomp; }

default_fishcomp() {
	depends=
	pkgdesc="Fish completions for $pkgname"
	install_if="${subpkgname%-fish-completion}=$pkgver-r$pkgrel fish"
	if [ -d "$pkgdir/usr/share/fish/completions" ]; then
		warning "fish completions in usr/share/fish/completions; use vendor_completions.d"
		amove usr/share/fish/completions
	fi
	_alp_move_if_there usr/share/fish/vendor_completions.d
}
fishcomp() { default_fishcomp; }

default_pyc() {
	depends=
	pkgdesc="Precompiled Python bytecode for ${subpkgname%-pyc}"
	install_if="${subpkgname%-pyc}=$pkgver-r$pkgrel pyc"
	cd "$pkgdir" || return 0
	# shellcheck disable=SC2046
	amove $(find usr/lib/python* -type d -name __pycache__ 2>/dev/null)
}
pyc() { default_pyc; }

default_nftrules() {
	depends=
	pkgdesc="$pkgdesc (nftables ruleset)"
	install_if="nftables-rulesets ${subpkgname%-nftrules}=$pkgver-r$pkgrel"
	cd "$pkgdir" || return 0
	amove usr/share/nftables.avail/*.nft
}
nftrules() { default_nftrules; }

default_dbg() {
	depends=
	pkgdesc="$pkgdesc (debug symbols)"
	local f
	cd "$pkgdir" || return 0
	mkdir -p "$subpkgdir"
	find . -type f | while read -r f; do
		f="${f#./}"
		case "$f" in usr/lib/debug/*) continue ;; esac
		# Shared objects only (ET_DYN = 3, read in either byte order), as abuild does.
		case "$(head -c 4 "$f" 2>/dev/null | tr -d '\000')" in *ELF) ;; *) continue ;; esac
		case "$(od -An -tu2 -j16 -N2 "$f" | tr -d ' ')" in 3 | 768) ;; *) continue ;; esac
		if true; then
			mkdir -p "$subpkgdir/usr/lib/debug/${f%/*}"
			"${CROSS_COMPILE}objcopy" --only-keep-debug "$f" "$subpkgdir/usr/lib/debug/$f.debug" || continue
			"${CROSS_COMPILE}objcopy" --add-gnu-debuglink="$subpkgdir/usr/lib/debug/$f.debug" \
				--strip-unneeded -R .comment "$f" "$f.tmp" && cat "$f.tmp" >"$f" && rm -f "$f.tmp"
		fi
	done
}
dbg() { default_dbg; }

# --- default phases -------------------------------------------------------------------
_alp_localname() {
	local s="$1"
	case "$s" in *::*) s="${s%%::*}" ;; esac
	printf '%s' "${s##*/}"
}

default_unpack() {
	local u f
	for u in $source; do
		f="$(_alp_localname "$u")"
		case "$f" in
		*.tar | *.tar.gz | *.tgz | *.tar.bz2 | *.tar.lz | *.tar.lzma | *.tar.xz | *.tar.zst)
			msg "Unpacking $f..."
			# As abuild run by its ordinary user: owners not restored, the umask
			# applied to the archive's modes (GNU tar's default only when not root;
			# as root a tarball's 0775 directories would reach packages as 0775).
			tar -C "$srcdir" --no-same-owner --no-same-permissions -xf "$srcdir/$f" \
				|| die "failed to unpack $f"
			;;
		*.zip)
			msg "Unpacking $f..."
			unzip -n -q "$srcdir/$f" -d "$srcdir" || die "failed to unpack $f"
			;;
		esac
	done
}
unpack() { default_unpack; }

default_prepare() {
	local u f failed=
	mkdir -p "$tmpdir"
	[ -d "$builddir" ] && cd "$builddir"
	for u in $source; do
		f="$(_alp_localname "$u")"
		case "$f" in
		*.patch | *.patch.gz | *.patch.xz) ;;
		*) continue ;;
		esac
		[ -d "$builddir" ] || die "Is \$builddir set correctly? $builddir does not exist"
		msg "$f"
		case "$f" in
		*.patch.gz) gunzip -c "$srcdir/$f" | patch ${patch_args:--p1} || failed="$failed $f" ;;
		*.patch.xz) unxz -c "$srcdir/$f" | patch ${patch_args:--p1} || failed="$failed $f" ;;
		*) patch ${patch_args:--p1} -i "$srcdir/$f" || failed="$failed $f" ;;
		esac
	done
	if [ -n "$failed" ]; then
		error "The following patches failed to apply:"
		for f in $failed; do error2 "$f"; done
		return 1
	fi
}
prepare() { default_prepare; }
build() { :; }

# --- build-system wrappers (abuild ships these as scripts) ------------------------------
_alp_meson_list() {
	local w sep=
	for w in "$@"; do
		printf "%s'%s'" "$sep" "$w"
		sep=", "
	done
}

_alp_meson_cross() {
	# Meson's names for the arch, from its arch file.
	local family="${ALPINIST_MESON_CPU_FAMILY:-$CARCH}" cpu="${ALPINIST_MESON_CPU:-$CARCH}"
	local endian="${ALPINIST_ENDIAN:-little}"
	local f="$tmpdir/meson-cross-$CARCH.ini"
	mkdir -p "$tmpdir"
	cat >"$f" <<-EOF
	[binaries]
	c = '${CC}'
	cpp = '${CXX}'
	ar = '${CROSS_COMPILE}ar'
	nm = '${CROSS_COMPILE}nm'
	strip = '${CROSS_COMPILE}strip'
	objcopy = '${CROSS_COMPILE}objcopy'
	pkg-config = 'pkg-config'
	pkgconfig = 'pkg-config'

	[properties]
	sys_root = '${CBUILDROOT}'
	pkg_config_libdir = '${PKG_CONFIG_LIBDIR}'

	[host_machine]
	system = 'linux'
	cpu_family = '${family}'
	cpu = '${cpu}'
	endian = '${endian}'

	[built-in options]
	c_args = [$(_alp_meson_list $CFLAGS)]
	cpp_args = [$(_alp_meson_list $CXXFLAGS)]
	c_link_args = [$(_alp_meson_list $LDFLAGS)]
	cpp_link_args = [$(_alp_meson_list $LDFLAGS)]
	EOF
	printf '%s' "$f"
}

# abuild-meson: meson setup with Alpine's choices, cross-aware.
abuild-meson() {
	local cross= pyopt=
	cross_compiling && cross="--cross-file=$(_alp_meson_cross)"
	# python.bytecompile exists from meson 1.2 on; older hosts (Debian 12) lack it.
	if meson --version | awk -F. '{ exit !($1 > 1 || ($1 == 1 && $2 >= 2)) }'; then
		pyopt=-Dpython.bytecompile=0
	fi
	# shellcheck disable=SC2086
	meson setup \
		--prefix=/usr --libdir=/usr/lib --libexecdir=/usr/libexec --bindir=/usr/bin \
		--sbindir=/usr/sbin --includedir=/usr/include --datadir=/usr/share \
		--mandir=/usr/share/man --infodir=/usr/share/info --localedir=/usr/share/locale \
		--sysconfdir=/etc --localstatedir=/var --sharedstatedir=/var/lib \
		--buildtype=plain --auto-features=auto --wrap-mode=nodownload \
		-Db_lto=false -Db_staticpic=true -Db_pie=true $pyopt \
		$cross "$@"
}

# --- driver ---------------------------------------------------------------------------
_alp_source_recipe() {
	APKBUILD="$1"
	startdir="${APKBUILD%/*}"
	cd "$startdir"
	# shellcheck disable=SC1090
	. "$APKBUILD"
	: "${pkgname:?APKBUILD sets no pkgname}"
	pkgdir="$pkgbasedir/$pkgname"
	: "${builddir:=$srcdir/$pkgname-$pkgver}"
	makedepends="${makedepends:-$makedepends_build $makedepends_host}"
	repo="${startdir%/*}"
	repo="${repo##*/}"
}

_alp_run_phase() {
	local phase="$1"
	msg "$phase"
	if [ -d "$builddir" ]; then cd "$builddir"; else cd "$startdir"; fi
	export GIT_CEILING_DIRECTORIES="$startdir"
	"$phase"
}

# Variables the Rust side reads after sourcing (and after each split function).
_ALP_VARS="pkgname pkgver pkgrel pkgdesc url license arch depends depends_dev depends_doc
depends_libs depends_static depends_openrc depends_lang makedepends makedepends_build
makedepends_host checkdepends subpackages source sha512sums sha256sums options provides
provider_priority replaces replaces_priority install triggers install_if builddir ldpath
sonameprefix somask pcprefix pkgusers pkggroups langdir maintainer patch_args"

_alp_dump() {
	local v
	for v in $_ALP_VARS; do
		printf '%s=%s\0' "$v" "${!v}"
	done
	printf 'functions=%s\0' "$(declare -F | awk '{print $3}' | tr '\n' ' ')"
}

mode="$1"
shift
case "$mode" in
meta)
	_alp_source_recipe "$1"
	_alp_dump
	;;
build)
	_alp_source_recipe "$1"
	mkdir -p "$srcdir" "$tmpdir"
	_alp_run_phase unpack
	_alp_run_phase prepare
	_alp_run_phase build
	if want_check && is_function check; then
		_alp_run_phase check
	else
		msg "check skipped ($(cross_compiling && echo cross build || echo '!check'))"
	fi
	;;
rootpkg)
	_alp_source_recipe "$1"
	rm -rf "$pkgbasedir"
	mkdir -p "$pkgbasedir"
	is_function package || die "APKBUILD has no package() function"
	_alp_run_phase package
	[ -d "$pkgdir" ] || die "Missing $pkgdir: package() must create it (a meta package runs mkdir -p \"\$pkgdir\")"
	for _alp_sp in $subpackages; do
		_alp_name="${_alp_sp%%:*}"
		_alp_func="${_alp_sp#*:}"
		[ "$_alp_func" = "$_alp_sp" ] && _alp_func=
		_alp_func="${_alp_func%%:*}"
		if [ -z "$_alp_func" ]; then
			case "$_alp_name" in
			*-bash-completion) _alp_func=bashcomp ;;
			*-zsh-completion) _alp_func=zshcomp ;;
			*-fish-completion) _alp_func=fishcomp ;;
			*) _alp_func="${_alp_name##*-}" ;;
			esac
		fi
		bash "$ALPINIST_ABUILD_SH" split "$APKBUILD" "$_alp_name" "$_alp_func"
	done
	( _alp_dump ) >"$pkgbasedir/.meta.$pkgname"
	# Ownership and modes as fakeroot sees them: what the packages will record.
	find "$pkgbasedir" -mindepth 1 -printf '%U\t%G\t%m\t%P\0' >"$pkgbasedir/.owners"
	;;
split)
	_alp_source_recipe "$1"
	subpkgname="$2"
	subpkgdir="$pkgbasedir/$subpkgname"
	export subpkgname subpkgdir
	provides=
	install_if=
	is_function "$3" || die "split function $3() for $subpkgname is not defined"
	msg "running split function $3"
	cd "$pkgdir"
	"$3"
	[ -d "$subpkgdir" ] || die "Missing $subpkgdir: split function $3() moved nothing"
	( _alp_dump ) >"$pkgbasedir/.meta.$subpkgname"
	;;
defaults)
	# Alpine's builders take their flags from the default.conf the abuild package installs:
	# its source tree's file (CONF, put where `make install` puts it), then whatever the
	# aport's package() appends for $CARCH (RELR on some arches, -fno-plt on x86_64).
	# package() runs here with make and install as no-ops: the build system's work is
	# not needed, the recipe's own additions are.
	_alp_source_recipe "$1"
	mkdir -p "$pkgdir/usr/share/abuild"
	cp "$2" "$pkgdir/usr/share/abuild/default.conf"
	make() { :; }
	install() { :; }
	is_function package || die "the abuild aport has no package()"
	mkdir -p "$builddir"
	cd "$builddir"
	package >&2
	# What the file exports, in a shell that has nothing else.
	env -i CARCH="$CARCH" bash -c '. "$1" >/dev/null 2>&1; while IFS= read -r -d "" kv; do
		case "${kv%%=*}" in PWD|SHLVL|_|CARCH|OLDPWD) ;; *) printf "%s\0" "$kv" ;; esac
	done < <(env -0)' defaults "$pkgdir/usr/share/abuild/default.conf"
	;;
env)
	_alp_source_recipe "$1"
	if [ -d "$builddir" ]; then cd "$builddir"; else cd "$srcdir" 2>/dev/null || cd "$startdir"; fi
	msg "APKBUILD environment for $pkgname (CHOST=$CHOST); exit to leave"
	exec bash --norc -i
	;;
*)
	die "abuild.sh: unknown mode $mode"
	;;
esac
