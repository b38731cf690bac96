//! SPDX 2.3 software bills of materials: one JSON document per package, written by the
//! aport's build step beside its packages and published to
//! `<repo>/<arch>/sbom/<pkgname>-<pkgver>.spdx.json`; and one per root filesystem or image
//! that merges those of its installed packages.
//!
//! Beside the package, not inside it (as melange does): the `.apk` files stay exactly what
//! abuild would make, so Alpine's apk-tools and any comparison with Alpine's own packages
//! see no extra files, and the document can name what the package's own bytes cannot —
//! the checksum of the finished `.apk`, the toolchain step that compiled it, and whether
//! a documented substitute stood in for a source.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use alpinist_apk::package::Package;
use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::stages::packages::fetch::SourceUse;

/// File name suffix of an SBOM.
pub const SUFFIX: &str = ".spdx.json";
/// Where published SBOMs live, under `<repo>/<arch>/`.
pub const DIR: &str = "sbom";
const NAMESPACE: &str = "https://alpinist.invalid/spdx";
const CREATOR: &str = "Tool: alpinist";

/// What an aport's build knows about where its packages came from.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    pub arch: String,
    /// `main/zlib`.
    pub aport: String,
    /// The aports commit of the recipe.
    pub commit: String,
    /// SOURCE_DATE_EPOCH of the build.
    pub created: u64,
    /// Every source of the recipe.
    pub sources: Vec<SourceItem>,
    /// alpinist's own patches to the aport (`patches/aports/…`): (file, sha256).
    pub aport_patches: Vec<(String, String)>,
    /// Steps that built the toolchain and runtime the package was compiled with:
    /// (step name, key).
    pub toolchain: Vec<(String, String)>,
}

/// One source file of a package.
#[derive(Debug, Clone, Default)]
pub struct SourceItem {
    pub file: String,
    /// Where it is downloaded from; None for a file of the aport itself.
    pub url: Option<String>,
    /// SPDX checksum algorithm (`SHA512`, `SHA256`) and value.
    pub algorithm: &'static str,
    pub checksum: String,
    /// The documented substitute that stood in for it: file, sha512, why.
    pub substitute: Option<(String, String, String)>,
}

impl SourceItem {
    /// A recipe's source, with what fetching it used.
    pub fn from_recipe(
        name: &str,
        url: Option<&str>,
        sha512: &str,
        used: &[SourceUse],
    ) -> SourceItem {
        let substitute = used
            .iter()
            .find(|u| u.file == name)
            .and_then(|u| u.substitute.as_ref())
            .map(|s| (s.file.clone(), s.sha512.clone(), s.why.clone()));
        SourceItem {
            file: name.to_string(),
            url: url.map(str::to_string),
            algorithm: "SHA512",
            checksum: sha512.to_string(),
            substitute,
        }
    }
}

/// SPDX identifiers allow letters, digits, `.` and `-`.
fn spdx_id(kind: &str, name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-{kind}-{clean}")
}

/// Alpine's `license` as an SPDX expression when it is one spdx-tools accepts (listed
/// identifiers only); otherwise NOASSERTION (the text then goes in the comment).
fn license(expr: &str) -> Option<String> {
    if expr.is_empty() || expr.contains("LicenseRef") || expr.contains("DocumentRef") {
        return None;
    }
    spdx::Expression::parse(expr).ok().map(|_| expr.to_string())
}

/// `(step name, key)` of a store output directory (`<store>/<key>-<name>`).
pub fn step_of_output(out: &Path) -> Option<(String, String)> {
    let dir = out.file_name()?.to_string_lossy().into_owned();
    let (key, name) = dir.split_once('-')?;
    Some((name.to_string(), key.to_string()))
}

fn no_assertion(v: &mut Value) {
    for k in ["licenseConcluded", "licenseDeclared", "copyrightText"] {
        if v.get(k).is_none() {
            v[k] = json!("NOASSERTION");
        }
    }
}

/// Where the recipe (or one of its files) is: the aports repository at the commit; for
/// alpinist's own steps, nowhere to download.
fn recipe_location(p: &Provenance, file: Option<&str>) -> String {
    if p.commit.is_empty() || p.aport.starts_with("alpinist/") {
        return "NOASSERTION".into();
    }
    let path = match file {
        Some(f) => format!("{}/{f}", p.aport),
        None => p.aport.clone(),
    };
    format!(
        "git+https://gitlab.alpinelinux.org/alpine/aports.git@{}#{path}",
        p.commit
    )
}

/// The SPDX document of one package file.
pub fn package_document(apk: &Path, p: &Provenance) -> Result<Value> {
    let pkg = Package::read_head(apk).with_context(|| format!("reading {}", apk.display()))?;
    let info = &pkg.pkginfo;
    let sha256 = crate::fsutil::sha256_file(apk)?;
    let created = rfc3339(p.created);
    let main_id = spdx_id("Package", &info.pkgname);
    let mut main = json!({
        "SPDXID": main_id,
        "name": info.pkgname,
        "versionInfo": info.pkgver,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "INSTALL",
        "packageFileName": apk.file_name().map(|n| n.to_string_lossy().into_owned()),
        "checksums": [{"algorithm": "SHA256", "checksumValue": sha256}],
        "description": info.pkgdesc,
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": format!(
                "pkg:apk/alpine/{}@{}?arch={}&origin={}", info.pkgname, info.pkgver, p.arch, info.origin
            ),
        }],
        "comment": format!("Alpine license field: {}; built by alpinist from aports {} at commit {}",
            if info.license.is_empty() { "(none)" } else { &info.license }, p.aport, p.commit),
    });
    if !info.url.is_empty() {
        main["homepage"] = json!(info.url);
    }
    if let Some(l) = license(&info.license) {
        main["licenseDeclared"] = json!(l);
    }
    no_assertion(&mut main);
    let mut packages = vec![main];
    let mut rels = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": main_id,
    })];
    // The recipe at its commit.
    let recipe_id = spdx_id("Recipe", &p.aport);
    let mut recipe = json!({
        "SPDXID": recipe_id,
        "name": if p.aport.starts_with("alpinist/") {
            format!("{} (packaged by alpinist from the stage 1 toolchain)", p.aport)
        } else {
            format!("aports {}/APKBUILD", p.aport)
        },
        "versionInfo": if p.commit.is_empty() { env!("CARGO_PKG_VERSION") } else { &p.commit },
        "downloadLocation": recipe_location(p, None),
        "filesAnalyzed": false,
        "primaryPackagePurpose": "SOURCE",
    });
    no_assertion(&mut recipe);
    packages.push(recipe);
    rels.push(json!({"spdxElementId": main_id, "relationshipType": "GENERATED_FROM", "relatedSpdxElement": recipe_id}));
    for (i, src) in p.sources.iter().enumerate() {
        let id = spdx_id(&format!("Source{i}"), &src.file);
        let is_patch =
            src.url.is_none() && (src.file.ends_with(".patch") || src.file.ends_with(".diff"));
        let mut s = json!({
            "SPDXID": id,
            "name": src.file,
            "downloadLocation": src.url.clone().unwrap_or_else(|| recipe_location(p, Some(&src.file))),
            "filesAnalyzed": false,
            "primaryPackagePurpose": if is_patch { "OTHER" } else { "SOURCE" },
            "checksums": [{"algorithm": src.algorithm, "checksumValue": src.checksum}],
        });
        if let Some((file, sha512, why)) = &src.substitute {
            s["sourceInfo"] = json!(format!(
                "alpinist substitute: the recipe's file could not be had; {file} (sha512 {sha512}) stood in for it"
            ));
            s["comment"] = json!(format!("substitute: {why}"));
        }
        no_assertion(&mut s);
        packages.push(s);
        let kind = if is_patch {
            json!({"spdxElementId": id, "relationshipType": "PATCH_APPLIED", "relatedSpdxElement": main_id})
        } else {
            json!({"spdxElementId": main_id, "relationshipType": "GENERATED_FROM", "relatedSpdxElement": id})
        };
        rels.push(kind);
    }
    for (file, sha256) in &p.aport_patches {
        let id = spdx_id("AlpinistPatch", file);
        let mut s = json!({
            "SPDXID": id,
            "name": format!("patches/aports/{}/{}", p.aport, file),
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "OTHER",
            "checksums": [{"algorithm": "SHA256", "checksumValue": sha256}],
            "comment": "alpinist's patch to the aport",
        });
        no_assertion(&mut s);
        packages.push(s);
        rels.push(json!({"spdxElementId": id, "relationshipType": "PATCH_APPLIED", "relatedSpdxElement": main_id}));
    }
    for (step, key) in &p.toolchain {
        let id = spdx_id("Toolchain", step);
        let mut s = json!({
            "SPDXID": id,
            "name": format!("alpinist step {step}"),
            "versionInfo": key,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "APPLICATION",
            "comment": "the alpinist store key of the step's inputs (sources, patches, flags)",
        });
        no_assertion(&mut s);
        packages.push(s);
        rels.push(json!({"spdxElementId": id, "relationshipType": "BUILD_TOOL_OF", "relatedSpdxElement": main_id}));
    }
    Ok(json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{}-{}", info.pkgname, info.pkgver),
        "documentNamespace": format!("{NAMESPACE}/{}/{}-{}-{}", p.arch, info.pkgname, info.pkgver, &sha256[..16]),
        "creationInfo": {"created": created, "creators": [CREATOR]},
        "packages": packages,
        "relationships": rels,
    }))
}

/// Writes `<pkgname>-<pkgver>.spdx.json` next to every `.apk` in `dir`.
pub fn write_package_documents(dir: &Path, p: &Provenance) -> Result<()> {
    let mut apks: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|x| x.extension().and_then(|e| e.to_str()) == Some("apk"))
        .collect();
    apks.sort();
    for apk in apks {
        let doc = package_document(&apk, p)?;
        let stem = apk
            .file_stem()
            .expect("a file")
            .to_string_lossy()
            .into_owned();
        std::fs::write(
            dir.join(format!("{stem}{SUFFIX}")),
            serde_json::to_vec_pretty(&doc)?,
        )?;
    }
    Ok(())
}

/// A package as the root filesystem's installed database names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Installed {
    pub name: String,
    pub version: String,
}

/// The packages installed in a root filesystem tarball (its `lib/apk/db/installed`).
pub fn installed_in_tarball(tarball: &Path) -> Result<Vec<Installed>> {
    let f =
        std::fs::File::open(tarball).with_context(|| format!("opening {}", tarball.display()))?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    for e in ar.entries()? {
        let mut e = e?;
        let path = e.path()?.into_owned();
        let p = path.to_string_lossy();
        if p.trim_start_matches("./") == "lib/apk/db/installed" {
            let mut text = String::new();
            e.read_to_string(&mut text)?;
            return Ok(parse_installed(&text));
        }
    }
    bail!("{}: no lib/apk/db/installed", tarball.display())
}

fn parse_installed(text: &str) -> Vec<Installed> {
    let mut out = Vec::new();
    for record in text.split("\n\n") {
        let field = |k: &str| {
            record
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(str::to_string)
        };
        if let (Some(name), Some(version)) = (field("P:"), field("V:")) {
            out.push(Installed { name, version });
        }
    }
    out.sort();
    out
}

/// Finds each installed package's SBOM in the repositories' `sbom/` directories.
pub fn find_documents(repos: &[PathBuf], pkgs: &[Installed]) -> Result<Vec<(Installed, Value)>> {
    let mut out = Vec::new();
    for p in pkgs {
        let file = format!("{}-{}{SUFFIX}", p.name, p.version);
        let found = repos
            .iter()
            .map(|r| r.join(DIR).join(&file))
            .find(|f| f.is_file());
        let Some(f) = found else {
            bail!(
                "no SBOM for installed package {} {} ({file} in the sbom/ directory of {}); \
                 rebuild it with this alpinist",
                p.name,
                p.version,
                repos
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let doc: Value = serde_json::from_slice(&std::fs::read(&f)?)
            .with_context(|| format!("reading {}", f.display()))?;
        out.push((p.clone(), doc));
    }
    Ok(out)
}

/// One document for a root filesystem or image: it DESCRIBES the root, which CONTAINS
/// every installed package; each package's own elements and relationships come along,
/// their identifiers prefixed so that they stay unique.
pub fn merge(name: &str, arch: &str, created: u64, docs: &[(Installed, Value)]) -> Value {
    let root_id = spdx_id("Root", name);
    let mut root = json!({
        "SPDXID": root_id,
        "name": name,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "OPERATING-SYSTEM",
    });
    no_assertion(&mut root);
    let mut packages = vec![root];
    let mut rels = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": root_id,
    })];
    let mut seen = BTreeSet::new();
    for (i, (p, doc)) in docs.iter().enumerate() {
        let prefix = format!("P{i}-");
        let rename = |id: &str| -> String {
            match id.strip_prefix("SPDXRef-") {
                Some(rest) if id != "SPDXRef-DOCUMENT" => format!("SPDXRef-{prefix}{rest}"),
                _ => id.to_string(),
            }
        };
        let main = spdx_id("Package", &p.name);
        for pk in doc["packages"].as_array().into_iter().flatten() {
            let mut pk = pk.clone();
            let id = rename(pk["SPDXID"].as_str().unwrap_or_default());
            if seen.insert(id.clone()) {
                pk["SPDXID"] = json!(id);
                packages.push(pk);
            }
        }
        for r in doc["relationships"].as_array().into_iter().flatten() {
            let (a, b) = (
                r["spdxElementId"].as_str().unwrap_or_default(),
                r["relatedSpdxElement"].as_str().unwrap_or_default(),
            );
            if a == "SPDXRef-DOCUMENT" {
                continue;
            }
            rels.push(json!({
                "spdxElementId": rename(a),
                "relationshipType": r["relationshipType"],
                "relatedSpdxElement": rename(b),
            }));
        }
        rels.push(json!({
            "spdxElementId": root_id,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": rename(&main),
        }));
    }
    let digest = hex::encode(Sha256::digest(
        serde_json::to_vec(&packages).unwrap_or_default(),
    ));
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": format!("{NAMESPACE}/{arch}/{name}-{}", &digest[..16]),
        "creationInfo": {"created": rfc3339(created), "creators": [CREATOR]},
        "packages": packages,
        "relationships": rels,
    })
}

/// `x.tar.gz` → `x.spdx.json`, `x.oci.tar` → `x.spdx.json`: where a tarball's SBOM goes.
pub fn beside(tarball: &Path) -> PathBuf {
    let name = tarball
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .strip_suffix(".tar.gz")
        .or_else(|| name.strip_suffix(".oci.tar"))
        .unwrap_or(&name);
    tarball.with_file_name(format!("{stem}{SUFFIX}"))
}

/// The SBOM of a root filesystem tarball, merged from its installed packages' documents
/// found in `repos` (`<repo>/<arch>/` directories).
pub fn for_tarball(tarball: &Path, arch: &str, repos: &[PathBuf], created: u64) -> Result<Value> {
    let installed = installed_in_tarball(tarball)?;
    let docs = find_documents(repos, &installed)?;
    let name = tarball
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".tar.gz").to_string())
        .unwrap_or_default();
    Ok(merge(&name, arch, created, &docs))
}

/// A Unix time as RFC 3339 UTC (`2026-08-22T10:00:00Z`).
pub fn rfc3339(t: u64) -> String {
    alpinist_apk::utc::Utc::from_unix(t).rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_database_records() {
        let db = "C:Q1abc=\nP:musl\nV:1.2.5-r10\nA:aarch64\n\nC:Q1def=\nP:busybox\nV:1.37.0-r0\n\n";
        assert_eq!(
            parse_installed(db),
            vec![
                Installed {
                    name: "busybox".into(),
                    version: "1.37.0-r0".into()
                },
                Installed {
                    name: "musl".into(),
                    version: "1.2.5-r10".into()
                },
            ]
        );
    }

    #[test]
    fn licenses_spdx_tools_would_reject_become_noassertion() {
        assert_eq!(license("MIT").as_deref(), Some("MIT"));
        assert_eq!(
            license("GPL-2.0-or-later AND BSD-3-Clause").as_deref(),
            Some("GPL-2.0-or-later AND BSD-3-Clause")
        );
        assert_eq!(license("custom"), None);
        assert_eq!(license("LicenseRef-foo"), None);
        assert_eq!(license(""), None);
    }
}
