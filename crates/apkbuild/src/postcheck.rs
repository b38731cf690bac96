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
    for d in ["bin", "sbin", "lib"] {
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
    f
}

fn is_uncompressed_man(rel: &str) -> bool {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    match file.rsplit_once('.') {
        Some((_, ext)) => ext.len() == 1 && ext.chars().all(|c| ('0'..='8').contains(&c)),
        None => false,
    }
}
