//! A recipe's own users and groups (`pkgusers`, `pkggroups`): they exist in its sandbox
//! (`<work>/etc/passwd` and `group` in place of the host's), so its package() can hand
//! files to them (`install -g abuild`), and its packages record those owners by name,
//! so the target's install scripts decide the ids.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

/// The recipe's own users and groups, as the build machine's accounts plus those:
/// `<work>/etc/passwd` and `<work>/etc/group`, which the sandbox puts in place of the
/// host's. Their ids are placeholders; the packages record these owners by name.
pub(crate) fn write(work: &Path, users: &[String], groups: &[String]) -> Result<()> {
    if users.is_empty() && groups.is_empty() {
        return Ok(());
    }
    let etc = work.join("etc");
    std::fs::create_dir_all(&etc)?;
    let mut group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let mut passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let known = |text: &str, name: &str| text.lines().any(|l| l.split(':').next() == Some(name));
    for (i, g) in groups.iter().chain(users.iter()).enumerate() {
        if !known(&group, g) {
            group.push_str(&format!("{g}:x:{}:\n", 64000 + i));
        }
    }
    for (i, u) in users.iter().enumerate() {
        if !known(&passwd, u) {
            passwd.push_str(&format!(
                "{u}:x:{}:{}:{u}:/nonexistent:/sbin/nologin\n",
                64000 + groups.len() + i,
                64000 + groups.len() + i
            ));
        }
    }
    std::fs::write(etc.join("group"), group)?;
    std::fs::write(etc.join("passwd"), passwd)?;
    Ok(())
}

/// The ids [`write`] gave the recipe's own users or groups (`<work>/etc/passwd` or
/// `group`), to the names.
pub(crate) fn names(file: &Path, names: &[String]) -> BTreeMap<u32, String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let (name, _, id) = (f.next()?, f.next()?, f.next()?);
            names
                .iter()
                .any(|n| n == name)
                .then(|| Some((id.parse().ok()?, name.to_string())))?
        })
        .collect()
}
