//! abuild's `postcheck`: what makes a package directory unacceptable (errors) or
//! suspicious (warnings).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::trace::ElfFile;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Findings {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// Checks one package directory. `option(o)` answers abuild's `options_has o` for this
/// package; `name` is the (sub)package name.
pub fn postcheck(
    dir: &Path,
    name: &str,
    elves: &[ElfFile],
    option: &dyn Fn(&str) -> bool,
) -> Findings {
    let mut f = Findings::default();
    if !option("!fhs") {
        for d in [
            "srv",
            "usr/local",
            "opt",
            "tmp",
            "var/tmp",
            "var/lock",
            "var/empty",
            "home",
            "sys",
            "proc",
            "mnt",
            "dev",
        ] {
            let p = dir.join(d);
            if std::fs::read_dir(&p)
                .map(|mut r| r.next().is_some())
                .unwrap_or(false)
            {
                f.errors
                    .push(format!("{name}: packages must not put anything under /{d}"));
            }
        }
        if dir.join("usr/var").exists() {
            f.errors.push(format!("{name}: /usr/var is not allowed"));
        }
    }
    if !option("lib64") {
        for d in ["lib64", "usr/lib64"] {
            if dir.join(d).exists() {
                f.errors.push(format!(
                    "{name}: /{d} is not allowed (options=\"lib64\" to allow)"
                ));
            }
        }
    }
    if dir.join("usr/lib/charset.alias").exists() && !option("charset.alias") {
        f.errors
            .push(format!("{name}: /usr/lib/charset.alias is not allowed"));
    }
    for d in ["bin", "sbin", "lib"]
        .into_iter()
        .filter(|_| !option("!usrmerge"))
    {
        if std::fs::symlink_metadata(dir.join(d))
            .map(|m| m.is_dir())
            .unwrap_or(false)
        {
            f.warnings
                .push(format!("{name}: top-level /{d} (Alpine is moving to /usr)"));
        }
    }
    for (rel, full) in crate::trace::files(dir) {
        let Ok(md) = std::fs::symlink_metadata(&full) else {
            continue;
        };
        let mode = md.permissions().mode();
        if rel.contains('\n') {
            f.errors
                .push(format!("{name}: file name with a newline: {rel:?}"));
        }
        if rel.starts_with("usr/share/man/") && is_uncompressed_man(&rel) {
            f.errors
                .push(format!("{name}: uncompressed man page /{rel}"));
        }
        if (rel.starts_with("etc/init.d/")) && mode & 0o111 == 0 {
            f.errors
                .push(format!("{name}: init script /{rel} is not executable"));
        }
        if mode & 0o6000 != 0 && mode & 0o001 != 0 && !option("suid") {
            f.errors.push(format!(
                "{name}: /{rel} is set-uid/set-gid and executable by others (options=\"suid\" to allow)"
            ));
        }
        if md.nlink() == 0 {
            continue;
        }
    }
    if !option("textrels") {
        for e in elves.iter().filter(|e| e.textrel) {
            f.errors.push(format!(
                "{name}: /{} has text relocations (options=\"textrels\" to allow)",
                e.path
            ));
        }
    }
    let not_suffix = |s: &str| !name.ends_with(s);
    if not_suffix("-doc") {
        for d in ["usr/share/doc", "usr/share/man"] {
            if dir.join(d).exists() {
                f.warnings
                    .push(format!("{name}: /{d} in a package that is not -doc"));
            }
        }
    }
    if not_suffix("-openrc") && (dir.join("etc/init.d").exists() || dir.join("etc/conf.d").exists())
    {
        f.warnings.push(format!(
            "{name}: OpenRC files in a package that is not -openrc"
        ));
    }
    naming_warnings(dir, name, &mut f.warnings);
    mode_warnings(dir, name, elves, &mut f.warnings);
    f
}

/// abuild's warnings for files in a package whose name does not say it has them.
fn naming_warnings(dir: &Path, name: &str, warnings: &mut Vec<String>) {
    let not = |suffix: &str| !name.ends_with(suffix);
    let checks: [(&str, bool); 8] = [
        ("usr/lib/systemd", not("-systemd") && name != "systemd"),
        ("usr/lib/udev", not("-udev") && name != "udev"),
        ("usr/share/devhelp", not("-devhelp")),
        ("usr/share/locale", not("-lang")),
        ("usr/share/bash-completion", not("-bash-completion")),
        ("usr/share/zsh/site-functions", not("-zsh-completion")),
        (
            "usr/share/fish/vendor_completions.d",
            not("-fish-completion"),
        ),
        ("usr/share/fish/completions", true),
    ];
    for (d, wrong) in checks {
        if wrong && dir.join(d).exists() {
            warnings.push(format!("{name}: /{d} in this package"));
        }
    }
    let pycache = crate::trace::files(dir)
        .iter()
        .any(|(rel, _)| rel.starts_with("usr/lib/python") && rel.contains("/__pycache__/"));
    if pycache && not("-pyc") {
        warnings.push(format!("{name}: __pycache__ in a package that is not -pyc"));
    }
}

/// abuild's warnings about modes: an executable conf.d file, a world-writable directory,
/// a set-uid/set-gid program that is not PIE.
fn mode_warnings(dir: &Path, name: &str, elves: &[ElfFile], warnings: &mut Vec<String>) {
    for sub in ["etc/conf.d", "etc/conf.d/user"] {
        let Ok(rd) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            let md = e.metadata();
            if md.is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0) {
                warnings.push(format!(
                    "{name}: /{sub}/{} should not be executable",
                    e.file_name().to_string_lossy()
                ));
            }
        }
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(md) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if md.is_dir() {
                if md.permissions().mode() & 0o777 == 0o777 {
                    warnings.push(format!(
                        "{name}: world-writable directory /{}",
                        e.path().strip_prefix(dir).unwrap_or(&e.path()).display()
                    ));
                }
                stack.push(e.path());
            }
        }
    }
    for e in elves
        .iter()
        .filter(|e| e.etype == goblin::elf::header::ET_EXEC)
    {
        let mode = std::fs::metadata(dir.join(&e.path))
            .map(|m| m.permissions().mode())
            .unwrap_or(0);
        if mode & 0o6000 != 0 {
            warnings.push(format!(
                "{name}: /{} is set-uid/set-gid and not PIE",
                e.path
            ));
        }
    }
}

fn is_uncompressed_man(rel: &str) -> bool {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    match file.rsplit_once('.') {
        Some((_, ext)) => ext.len() == 1 && ext.chars().all(|c| ('0'..='8').contains(&c)),
        None => false,
    }
}
