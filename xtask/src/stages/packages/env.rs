//! The environment an APKBUILD sees for a cross build.

use std::path::{Path, PathBuf};

use crate::config::arch::{Arch, ArchTable};
use crate::stages::packages::BuildSettings;

/// The environment an APKBUILD sees for a cross build (abuild's, §1.8).
pub fn recipe_env(
    arches: &ArchTable,
    arch: &Arch,
    toolchain: &Path,
    sysroot: &Path,
    settings: &BuildSettings,
    jobs: usize,
) -> Vec<(String, String)> {
    let t = &arch.triple;
    // CBUILD: the arch file that claims this machine; CBUILD_ARCH its Alpine name.
    let (build_arch, cbuild) = match arches.build_machine() {
        Some(b) => (b.name.clone(), b.triple.clone()),
        None => (
            std::env::consts::ARCH.to_string(),
            format!("{}-unknown-linux-musl", std::env::consts::ARCH),
        ),
    };
    let sr = sysroot.display().to_string();
    let cflags = "-Os -fstack-clash-protection -Wformat -Werror=format-security";
    let cxxflags = format!("{cflags} -D_GLIBCXX_ASSERTIONS=1");
    let ldflags = "-Wl,--as-needed,-O1,--sort-common";
    let path = format!(
        "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        toolchain.join("bin").display()
    );
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), path),
        ("LANG".into(), "C.UTF-8".into()),
        ("LC_ALL".into(), "C.UTF-8".into()),
        ("TZ".into(), "UTC".into()),
        ("CARCH".into(), arch.name.clone()),
        ("CHOST".into(), t.clone()),
        ("CTARGET".into(), t.clone()),
        ("CBUILD".into(), cbuild.clone()),
        ("CTARGET_ARCH".into(), arch.name.clone()),
        ("CBUILD_ARCH".into(), build_arch),
        ("CLIBC".into(), "musl".into()),
        ("CTARGET_LIBC".into(), "musl".into()),
        ("CBUILDROOT".into(), sr.clone()),
        ("CROSS_COMPILE".into(), format!("{t}-")),
        ("CC".into(), format!("{t}-gcc")),
        ("CXX".into(), format!("{t}-g++")),
        ("LD".into(), format!("{t}-ld")),
        ("HOSTCC".into(), "gcc".into()),
        ("HOSTCXX".into(), "g++".into()),
        ("HOSTLD".into(), "ld".into()),
        ("HOSTCFLAGS".into(), "-O2".into()),
        ("HOSTLDFLAGS".into(), String::new()),
        ("BUILDCC".into(), "gcc".into()),
        ("BUILDCXX".into(), "g++".into()),
        ("BUILDCFLAGS".into(), cflags.into()),
        ("BUILDLDFLAGS".into(), ldflags.into()),
        ("CPPFLAGS".into(), format!("--sysroot={sr}")),
        ("CFLAGS".into(), format!("--sysroot={sr} {cflags}")),
        ("CXXFLAGS".into(), format!("--sysroot={sr} {cxxflags}")),
        ("LDFLAGS".into(), format!("--sysroot={sr} {ldflags}")),
        // Only the sysroot's .pc files: the host's must never leak into a cross build.
        (
            "PKG_CONFIG_PATH".into(),
            format!("{sr}/usr/lib/pkgconfig/:{sr}/usr/share/pkgconfig/"),
        ),
        (
            "PKG_CONFIG_LIBDIR".into(),
            format!("{sr}/usr/lib/pkgconfig:{sr}/usr/share/pkgconfig"),
        ),
        ("PKG_CONFIG_SYSROOT_DIR".into(), sr.clone()),
        ("JOBS".into(), jobs.to_string()),
        ("MAKEFLAGS".into(), format!("-j{jobs}")),
    ];
    // Per-arch names from toolchains/arch/*.toml, for abuild.sh's helpers
    // (arch_to_hostspec, triplet_to_arch, the Meson cross file).
    env.extend(arch_env(arches, arch));
    if let Some(b) = &settings.bootstrap {
        env.push(("BOOTSTRAP".into(), b.clone()));
    }
    // Rust: rustup's tools keep working under the recipe's own HOME, and recipes learn
    // Rust's name for the target (alpinist's own variable).
    env.push(("ALPINIST_RUST_TARGET".into(), arch.rust_target()));
    if let Some(home) = rustup_home() {
        env.push(("RUSTUP_HOME".into(), home.display().to_string()));
        if let Some(bin) =
            crate::host::which("cargo").and_then(|c| c.parent().map(Path::to_path_buf))
        {
            let p = &mut env[0].1;
            p.push(':');
            p.push_str(&bin.display().to_string());
        }
    }
    env.extend(settings.env.iter().cloned());
    env
}

/// rustup's data directory, when rustup manages this host's Rust.
fn rustup_home() -> Option<PathBuf> {
    let home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustup")))?;
    home.join("toolchains").is_dir().then_some(home)
}

/// alpinist's own variables naming the arch for abuild.sh: every arch's triple
/// (`ALPINIST_ARCH_TRIPLETS`, `name=triple …`) and the Meson names and byte order of
/// `arch`. Inputs of every package built with them.
pub fn arch_env(arches: &ArchTable, arch: &Arch) -> Vec<(String, String)> {
    vec![
        ("ALPINIST_ARCH_TRIPLETS".into(), arches.triplets()),
        (
            "ALPINIST_MESON_CPU_FAMILY".into(),
            arch.meson.cpu_family.clone(),
        ),
        ("ALPINIST_MESON_CPU".into(), arch.meson.cpu.clone()),
        ("ALPINIST_ENDIAN".into(), arch.elf.endian.clone()),
    ]
}
