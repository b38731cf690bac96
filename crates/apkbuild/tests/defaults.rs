//! `abuild.sh defaults`: Alpine's build settings as the abuild aport installs them — its
//! default.conf with what its `package()` appends for `$CARCH` — read by running the
//! recipe's own code with make and install as no-ops.

use std::collections::BTreeMap;
use std::process::Command;

/// An abuild-like aport: default.conf from "make install" (stubbed), an append for aarch64
/// and x86_64 only, as the real one has.
const APKBUILD: &str = r#"pkgname=abuild
pkgver=3.18.0
pkgrel=0
pkgdesc="test"
url="https://alpinist.invalid"
arch="all"
license="MIT"
build() { make; }
package() {
	make install DESTDIR="$pkgdir"
	install -m 644 abuild.conf "$pkgdir"/etc/abuild.conf
	case "$CARCH" in
	aarch64|x86_64)
		cat >>"$pkgdir"/usr/share/abuild/default.conf <<-EOF

		export LDFLAGS="\$LDFLAGS -Wl,-z,pack-relative-relocs"
		EOF
	esac
	install -d -m 775 -g abuild "$pkgdir"/var/cache/distfiles
}
"#;

const CONF: &str = r#"export CFLAGS="-Os -fstack-clash-protection"
export LDFLAGS="-Wl,--as-needed,-O1,--sort-common"
export JOBS="${JOBS:-$(nproc)}"
export MAKEFLAGS="-j$JOBS"
SRCDEST=/var/cache/distfiles
"#;

fn defaults(carch: &str) -> BTreeMap<String, String> {
    let dir = tempfile_dir(carch);
    let recipe = dir.join("main/abuild");
    std::fs::create_dir_all(&recipe).unwrap();
    std::fs::write(recipe.join("APKBUILD"), APKBUILD).unwrap();
    std::fs::write(dir.join("default.conf"), CONF).unwrap();
    let sh = dir.join("abuild.sh");
    std::fs::write(&sh, alpinist_apkbuild::ABUILD_SH).unwrap();
    let out = Command::new("bash")
        .arg(&sh)
        .arg("defaults")
        .arg(recipe.join("APKBUILD"))
        .arg(dir.join("default.conf"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("CARCH", carch)
        .env("srcdir", dir.join("src"))
        .env("pkgbasedir", dir.join("pkg"))
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn tempfile_dir(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("alpinist-defaults-{}-{tag}", std::process::id()))
}

#[test]
fn the_arch_s_additions_come_from_the_recipe_s_package_function() {
    let a = defaults("aarch64");
    assert_eq!(
        a["LDFLAGS"],
        "-Wl,--as-needed,-O1,--sort-common -Wl,-z,pack-relative-relocs"
    );
    assert_eq!(a["CFLAGS"], "-Os -fstack-clash-protection");
    let r = defaults("riscv64");
    assert_eq!(r["LDFLAGS"], "-Wl,--as-needed,-O1,--sort-common");
    // Only what the file exports: not its plain assignments, not the caller's variables.
    assert!(
        !a.contains_key("SRCDEST") && !a.contains_key("CARCH") && !a.contains_key("PATH"),
        "{a:?}"
    );
}
