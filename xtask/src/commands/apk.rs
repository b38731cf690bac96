//! `cargo xtask apk …` and `cargo xtask keygen`: the apk tools alpinist needs on a Debian
//! host (verify, info, index, add into a root; v2, and v3 for verify, index and add), on
//! top of the `alpinist-apk` library.
//! Nothing here spawns a process.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};

use alpinist_apk::add::{add, AddOptions};
use alpinist_apk::index::ApkIndex;
use alpinist_apk::package::Signer;
use alpinist_apk::sign::{self, SigAlg};
use alpinist_apk_cli::{index_v3, info_file, load_keys, verify_files};

use crate::keys::write_keypair;

/// Trusted keys when `--keys-dir` is not given (as apk on Alpine).
const DEFAULT_KEYS_DIR: &str = "/etc/apk/keys";

#[derive(Debug, Subcommand)]
pub enum ApkCommand {
    /// Check packages: gzip members, datahash, per-file checksums and the signature
    Verify {
        /// Directory of trusted public keys (file name = key name) [default: /etc/apk/keys]
        #[arg(long, value_name = "DIR")]
        keys_dir: Option<PathBuf>,
        /// Packages to check; exits non-zero unless all are good
        #[arg(required = true, value_name = "FILE.apk")]
        files: Vec<PathBuf>,
    },
    /// Print a package's metadata (v2: .PKGINFO fields) and file list; v2 or v3
    Info {
        #[arg(value_name = "FILE.apk")]
        file: PathBuf,
    },
    /// Write an APKINDEX.tar.gz for packages (mtime from SOURCE_DATE_EPOCH), or with
    /// --format v3 a Packages.adb as `apk mkndx` writes it (of v3 and v2 packages)
    Index {
        /// Output file
        #[arg(short, long, value_name = "APKINDEX.tar.gz|Packages.adb")]
        output: PathBuf,
        /// Sign with this private key; the key name is its file name + ".pub"
        #[arg(long, value_name = "KEY.rsa")]
        sign: Option<PathBuf>,
        /// Text for the DESCRIPTION entry (v3: the index's description)
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// Index format: v2 (APKINDEX.tar.gz) or v3 (Packages.adb)
        #[arg(long, value_name = "v2|v3", default_value = "v2", value_parser = ["v2", "v3"])]
        format: String,
        /// v3: where packages are, relative to the index (`apk mkndx --pkgname-spec`)
        #[arg(long, value_name = "SPEC")]
        pkgname_spec: Option<String>,
        #[arg(required = true, value_name = "FILE.apk")]
        files: Vec<PathBuf>,
    },
    /// Install packages and their dependencies from local repositories into a root
    Add {
        /// Root directory to install into
        #[arg(long, value_name = "DIR")]
        root: PathBuf,
        /// Alpine arch of the root (selects <repo>/<arch>/APKINDEX.tar.gz or Packages.adb)
        #[arg(long, value_name = "ARCH")]
        arch: String,
        /// Create the database in a new root
        #[arg(long)]
        initdb: bool,
        /// Repository: a directory (holding <arch>/APKINDEX.tar.gz or <arch>/Packages.adb)
        /// or a v3 index (…/Packages.adb); repeatable
        #[arg(short = 'X', long, value_name = "DIR")]
        repository: Vec<PathBuf>,
        /// Trusted public keys, also copied into <root>/etc/apk/keys [default: <root>/etc/apk/keys]
        #[arg(long, value_name = "DIR")]
        keys_dir: Option<PathBuf>,
        /// Only print what would be installed
        #[arg(long)]
        simulate: bool,
        /// Use indexes that are not signed by a trusted key (unsigned, or by an unknown
        /// key) and install their packages without checking trust; integrity is still
        /// checked, and each package must match its index record
        #[arg(long)]
        allow_untrusted: bool,
        /// Packages or dependencies to add to the world (name, name=ver, so:…)
        #[arg(value_name = "DEP")]
        deps: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Key name, usually an e-mail address; files are NAME-<hex time>.rsa[.pub]
    pub name: String,
    /// Where to write the key pair [default: current directory]
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

pub fn run(cmd: ApkCommand) -> Result<()> {
    match cmd {
        ApkCommand::Verify { keys_dir, files } => {
            let keys = load_keys(keys_dir.as_deref().unwrap_or(Path::new(DEFAULT_KEYS_DIR)))?;
            let (report, bad) = verify_files(&files, &keys);
            print!("{report}");
            if bad > 0 {
                bail!("{bad} of {} packages failed verification", files.len());
            }
            Ok(())
        }
        ApkCommand::Info { file } => {
            print!("{}", info_file(&file)?);
            Ok(())
        }
        ApkCommand::Index {
            output,
            sign,
            description,
            format,
            pkgname_spec,
            files,
        } => {
            let signer = sign
                .map(|k| Signer::from_private_key_file(&k, SigAlg::Sha1))
                .transpose()?;
            let bytes = if format == "v3" {
                let key = signer.as_ref().map(|s| &s.key);
                index_v3(&files, description.as_deref(), pkgname_spec.as_deref(), key)?
            } else {
                if pkgname_spec.is_some() {
                    bail!("--pkgname-spec is for v3 indexes (--format v3)");
                }
                index_bytes(&files, description, signer.as_ref(), source_date_epoch())?
            };
            write_file(&output, &bytes)?;
            println!("{}: {} packages", output.display(), files.len());
            Ok(())
        }
        ApkCommand::Add {
            root,
            arch,
            initdb,
            repository,
            keys_dir,
            simulate,
            allow_untrusted,
            deps,
        } => {
            let out = add(&AddOptions {
                root: &root,
                arch: &arch,
                initdb,
                repositories: &repository,
                keys_dir: keys_dir.as_deref(),
                simulate,
                allow_untrusted,
                deps: &deps,
            })?;
            print!("{out}");
            Ok(())
        }
    }
}

pub fn keygen(args: KeygenArgs) -> Result<()> {
    let dir = args.out_dir.unwrap_or_else(|| PathBuf::from("."));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let (private, public) = write_keypair(&dir, &args.name, sign::DEFAULT_KEY_BITS, now)?;
    println!("private key: {}", private.display());
    println!("public key:  {}", public.display());
    Ok(())
}

fn write_file(path: &Path, data: &[u8]) -> Result<()> {
    std::fs::write(path, data).with_context(|| format!("writing {}", path.display()))
}

/// `SOURCE_DATE_EPOCH`, else now (as `apk index` does).
fn source_date_epoch() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        })
}

fn index_bytes(
    files: &[PathBuf],
    description: Option<String>,
    signer: Option<&Signer>,
    mtime: u64,
) -> Result<Vec<u8>> {
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let idx = ApkIndex::from_package_files(description, &paths, None)?;
    Ok(idx.to_bytes(mtime, signer)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alpinist_apk::package::PackageBuilder;
    use alpinist_apk::pkginfo::PkgInfo;
    use alpinist_apk::tarball::{EntryType, Header};
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        apk: ApkCommand,
    }

    /// `cargo xtask apk ARGS…`, as the command line would give it.
    fn apk(args: &[&std::ffi::OsStr]) -> Result<()> {
        let mut argv = vec![std::ffi::OsStr::new("apk")];
        argv.extend_from_slice(args);
        run(Cli::try_parse_from(argv)?.apk)
    }

    /// A repository whose index is not signed, holding one unsigned package `a`.
    fn unsigned_repo(dir: &Path) -> PathBuf {
        let repo = dir.join("repo");
        let arch_dir = repo.join("x86_64");
        std::fs::create_dir_all(&arch_dir).unwrap();
        let info = PkgInfo {
            pkgname: "a".into(),
            pkgver: "1-r0".into(),
            arch: "x86_64".into(),
            origin: "a".into(),
            builddate: 1_700_000_000,
            ..PkgInfo::default()
        };
        let mut b = PackageBuilder::new(info, 1_700_000_000);
        let mut f = Header::new("a.txt", EntryType::Regular);
        f.mode = 0o644;
        f.size = 2;
        b.push_entry(f, b"a\n".to_vec());
        let pkg = arch_dir.join("a-1-r0.apk");
        std::fs::write(&pkg, b.build(None).unwrap()).unwrap();
        let idx = ApkIndex::from_package_files(None, &[pkg.as_path()], None).unwrap();
        std::fs::write(
            arch_dir.join("APKINDEX.tar.gz"),
            idx.to_bytes(1, None).unwrap(),
        )
        .unwrap();
        repo
    }

    #[test]
    fn add_uses_an_unsigned_index_only_with_allow_untrusted() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = unsigned_repo(tmp.path());
        let (root, keys) = (tmp.path().join("root"), tmp.path().join("keys"));
        std::fs::create_dir_all(&keys).unwrap();
        let add = |extra: &[&str]| {
            let mut args: Vec<&std::ffi::OsStr> = ["add", "--arch", "x86_64", "--initdb"]
                .iter()
                .chain(extra)
                .map(std::ffi::OsStr::new)
                .collect();
            args.extend([
                "--root".as_ref(),
                root.as_os_str(),
                "--keys-dir".as_ref(),
                keys.as_os_str(),
                "-X".as_ref(),
                repo.as_os_str(),
                "a".as_ref(),
            ]);
            apk(&args)
        };
        let err = add(&[]).unwrap_err().to_string();
        assert!(err.contains("not signed"), "{err}");
        assert!(err.contains("--allow-untrusted"), "{err}");
        assert!(!root.exists(), "a refused add left the root it made");

        add(&["--allow-untrusted"]).unwrap();
        assert_eq!(std::fs::read(root.join("a.txt")).unwrap(), b"a\n");
        let db = alpinist_apk::install::read_database(&root).unwrap();
        assert_eq!(db.packages.len(), 1);
        assert_eq!(db.packages[0].info.name, "a");
    }

    /// `index --format v3 --sign KEY` writes a signed `Packages.adb`; `add` installs from
    /// it, named by its path, trusting it with the key's public half.
    #[test]
    fn index_format_v3_is_signed_and_add_installs_from_it() {
        use alpinist_apk::adb::build::PackageV3Builder;
        use alpinist_apk::adb::container::Compression;
        use alpinist_apk::adb::schema::{AclV3, PkgInfoV3};
        let tmp = tempfile::tempdir().unwrap();
        let k = sign::keygen("v3", 1024, 0x6500_0000).unwrap();
        let keys = tmp.path().join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        std::fs::write(keys.join(&k.public_file), &k.public_pem).unwrap();
        let private = tmp.path().join(k.public_file.trim_end_matches(".pub"));
        std::fs::write(&private, &k.private_pem).unwrap();
        let arch_dir = tmp.path().join("repo/x86_64");
        std::fs::create_dir_all(&arch_dir).unwrap();
        let mut b = PackageV3Builder::new(PkgInfoV3 {
            name: "a".into(),
            version: "1-r0".into(),
            arch: "x86_64".into(),
            ..PkgInfoV3::default()
        });
        b.push_file("a.txt", AclV3::root(0o644), 1, b"a\n".to_vec());
        let pkg = arch_dir.join("a-1-r0.apk");
        std::fs::write(&pkg, b.build(None, Compression::Deflate).unwrap()).unwrap();
        let index = arch_dir.join("Packages.adb");
        let os = |s: &'static str| std::ffi::OsStr::new(s);
        apk(&[
            os("index"),
            os("--format"),
            os("v3"),
            os("--sign"),
            private.as_os_str(),
            os("-o"),
            index.as_os_str(),
            pkg.as_os_str(),
        ])
        .unwrap();
        let root = tmp.path().join("root");
        apk(&[
            os("add"),
            os("--arch"),
            os("x86_64"),
            os("--initdb"),
            os("--root"),
            root.as_os_str(),
            os("--keys-dir"),
            keys.as_os_str(),
            os("-X"),
            index.as_os_str(),
            os("a"),
        ])
        .unwrap();
        assert_eq!(std::fs::read(root.join("a.txt")).unwrap(), b"a\n");
    }
}
