//! Step 6: the signed `.apk`: `.PKGINFO`, install scripts, and the files with the owners
//! fakeroot recorded (mtimes fixed at the build date).

use std::collections::BTreeMap;

use alpinist_apk::db::ScriptKind;
use alpinist_apk::package::{MtimePolicy, Owner, OwnerMap, PackageBuilder, Signer};
use alpinist_apk::pkginfo::PkgInfo;
use anyhow::{anyhow, Context as _, Result};

use crate::engine::StepRun;
use crate::stages::packages::package::modes::Owners;
use crate::stages::packages::package::{Package, Packaging};

/// Writes `<name>-<version>.apk` into the step's output.
pub(crate) fn write(
    pk: &Packaging,
    run: &StepRun,
    p: &Package,
    info: PkgInfo,
    owners: &Owners,
    signer: &Signer,
) -> Result<()> {
    let r = pk.recipe();
    let mut b = PackageBuilder::new(info, pk.build.aport.source_date_epoch);
    for (kind, file) in &r.scripts_of(&p.name) {
        let k = ScriptKind::parse(kind).ok_or_else(|| anyhow!("bad script kind {kind}"))?;
        b.scripts.push((
            k,
            std::fs::read(pk.startdir.join(file))
                .with_context(|| format!("{}: script {file}", r.path.display()))?,
        ));
    }
    let mut map = OwnerMap::new();
    let name = |names: &BTreeMap<u32, String>, id: u32| {
        names.get(&id).cloned().unwrap_or_else(|| id.to_string())
    };
    for (rel, o) in owners.iter() {
        if let Some(inner) = rel.strip_prefix(&format!("{}/", p.name)) {
            if o.uid != 0 || o.gid != 0 {
                map.insert(
                    inner.to_string(),
                    Owner {
                        uid: o.uid,
                        gid: o.gid,
                        uname: name(&pk.user_names, o.uid),
                        gname: name(&pk.group_names, o.gid),
                    },
                );
            }
        }
    }
    b.add_tree(&p.dir, &map, MtimePolicy::Fixed)?;
    let bytes = b.build(Some(signer))?;
    let file = format!("{}-{}.apk", p.name, r.full_version());
    std::fs::write(run.out.join(file), bytes)?;
    Ok(())
}
