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
    let (build_arch, cbuild) = build_machine(arches, arch);
    let sr = sysroot.display().to_string();
    // Alpine's build settings (abuild's default.conf for the arch).
    let d = &settings.defaults;
    let (cflags, cxxflags, ldflags) = (d.get("CFLAGS"), d.get("CXXFLAGS"), d.get("LDFLAGS"));
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
        ("BUILDCFLAGS".into(), d.build_machine("CFLAGS").into()),
        ("BUILDLDFLAGS".into(), d.build_machine("LDFLAGS").into()),
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
        // abuild's cross setup: libtool must not add the build machine's or the
        // sysroot's library directories as rpaths.
        (
            "lt_cv_sys_lib_dlsearch_path_spec".into(),
            format!("{sr}/lib {sr}/usr/lib /usr/lib /lib /usr/local/lib"),
        ),
        ("JOBS".into(), jobs.to_string()),
        ("MAKEFLAGS".into(), format!("-j{jobs}")),
    ];
    // The rest of what default.conf exports (GOFLAGS, RUSTFLAGS, CMAKE_GENERATOR,
    // CARGO_PROFILE_RELEASE_*, …), as Alpine's builders have it.
    for (k, v) in &d.vars {
        if !["CFLAGS", "CXXFLAGS", "LDFLAGS", "CPPFLAGS"].contains(&k.as_str()) {
            env.push((k.clone(), v.clone()));
        }
    }
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

/// `CBUILD_ARCH` and `CBUILD` for a build for `arch`: the arch file that claims this
/// machine (`rust.host_arch`) and its triple, except when that triple is `arch`'s own.
/// Building for the build machine's own arch (x86_64 on an x86_64 host) is still a cross
/// build: the host is glibc, the target musl, and the target's programs cannot run here
/// (no /lib/ld-musl-*.so.1). abuild would call it native (CBUILD = CHOST) and run
/// check() and configure's test programs; CBUILD is then the host compiler's own
/// triple, and abuild's `cross_compiling` says yes.
pub fn build_machine(arches: &ArchTable, arch: &Arch) -> (String, String) {
    let (build_arch, cbuild) = match arches.build_machine() {
        Some(b) => (b.name.clone(), b.triple.clone()),
        None => (
            std::env::consts::ARCH.to_string(),
            format!("{}-unknown-linux-musl", std::env::consts::ARCH),
        ),
    };
    if cbuild == arch.triple {
        return (build_arch, host_compiler_triple());
    }
    (build_arch, cbuild)
}

/// The host C compiler's triple (`gcc -dumpmachine`, e.g. `x86_64-linux-gnu`), or
/// `<arch>-pc-linux-gnu` when gcc cannot say.
fn host_compiler_triple() -> String {
    static TRIPLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TRIPLE
        .get_or_init(|| {
            crate::exec::Cmd::new("gcc")
                .arg("-dumpmachine")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .filter(|t| !t.is_empty() && !t.contains("alpine"))
                .unwrap_or_else(|| format!("{}-pc-linux-gnu", std::env::consts::ARCH))
        })
        .clone()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> ArchTable {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../toolchains/arch");
        ArchTable::load(&dir).expect("toolchains/arch loads")
    }

    fn var<'a>(env: &'a [(String, String)], k: &str) -> &'a str {
        env.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{k} not set"))
    }

    #[test]
    fn every_arch_is_a_cross_build_even_the_build_machine_s_own() {
        let t = table();
        let Some(native) = t.build_machine() else {
            eprintln!("no arch file claims this machine: nothing to check");
            return;
        };
        for a in t.arches.values() {
            let env = recipe_env(
                &t,
                a,
                Path::new("/toolchain"),
                Path::new("/build/sysroot"),
                &BuildSettings::default(),
                2,
            );
            let (cbuild, chost) = (var(&env, "CBUILD"), var(&env, "CHOST"));
            assert_ne!(cbuild, chost, "{}: abuild would call this native", a.name);
            assert_eq!(var(&env, "CBUILD_ARCH"), native.name);
            if a.name != native.name {
                // Other arches keep the build machine's Alpine triple.
                assert_eq!(cbuild, native.triple, "{}", a.name);
            }
        }
    }
}
