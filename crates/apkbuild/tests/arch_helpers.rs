//! abuild.sh's per-arch helpers read what alpinist gives the recipe (toolchains/arch/*.toml
//! through the environment), not a table of their own.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Evaluates `body` as an APKBUILD in `meta` mode with `env`; returns `pkgdesc`.
fn pkgdesc(body: &str, env: &[(&str, &str)]) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "alpinist-arch-helpers-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let recipe = dir.join("main/t");
    std::fs::create_dir_all(&recipe).unwrap();
    std::fs::write(recipe.join("APKBUILD"), body).unwrap();
    let sh = dir.join("abuild.sh");
    std::fs::write(&sh, alpinist_apkbuild::ABUILD_SH).unwrap();
    let out = Command::new("bash")
        .arg(&sh)
        .arg("meta")
        .arg(recipe.join("APKBUILD"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("srcdir", dir.join("src"))
        .env("pkgbasedir", dir.join("pkg"))
        .env("tmpdir", dir.join("tmp"))
        .envs(env.iter().copied())
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
        .find_map(|f| f.strip_prefix("pkgdesc=").map(str::to_string))
        .unwrap()
}

const TABLE: &str = "armhf=armv6-alpine-linux-musleabihf armv7=armv7-alpine-linux-musleabihf \
                     ppc64le=powerpc64le-alpine-linux-musl x86=i586-alpine-linux-musl";

#[test]
fn arch_and_triplet_come_from_the_table_alpinist_gives() {
    let body = r#"pkgname=t
pkgver=1
pkgrel=0
pkgdesc="$(arch_to_hostspec armv7) $(arch_to_triplet mips) $(triplet_to_arch i586-alpine-linux-musl) $(triplet_to_arch armv6-alpine-linux-musleabihf) $(triplet_to_arch sparc-x-linux-gnu || echo none)"
"#;
    assert_eq!(
        pkgdesc(body, &[("ALPINIST_ARCH_TRIPLETS", TABLE)]),
        "armv7-alpine-linux-musleabihf unknown x86 armhf none"
    );
    // Without the table no arch is known: nothing is hard-coded in the script.
    assert_eq!(pkgdesc(body, &[]), "unknown unknown   none");
}

#[test]
fn the_meson_cross_file_names_the_arch_as_its_arch_file_does() {
    let body = r#"pkgname=t
pkgver=1
pkgrel=0
pkgdesc="$(grep -E '^(cpu_family|cpu|endian) ' "$(_alp_meson_cross)" | tr '\n' ';')"
"#;
    let env = [
        ("CARCH", "ppc64le"),
        ("ALPINIST_MESON_CPU_FAMILY", "ppc64"),
        ("ALPINIST_MESON_CPU", "ppc64le"),
        ("ALPINIST_ENDIAN", "little"),
    ];
    assert_eq!(
        pkgdesc(body, &env),
        "cpu_family = 'ppc64';cpu = 'ppc64le';endian = 'little';"
    );
    let env = [
        ("CARCH", "s390x"),
        ("ALPINIST_MESON_CPU_FAMILY", "s390x"),
        ("ALPINIST_MESON_CPU", "s390x"),
        ("ALPINIST_ENDIAN", "big"),
    ];
    assert_eq!(
        pkgdesc(body, &env),
        "cpu_family = 's390x';cpu = 's390x';endian = 'big';"
    );
}
