//! `cargo xtask apk …` and `cargo xtask keygen`: the apk v2 tools alpinist needs on a
//! Debian host (verify, info, index, add into a root), on top of the `alpinist-apk` library.
//! Nothing here spawns a process.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};

use alpinist_apk::index::ApkIndex;
use alpinist_apk::package::{Package, Signer};
use alpinist_apk::sign::{self, SigAlg};
pub use alpinist_apk_cli::{add, info_text, load_keys, verify_files, AddOptions};

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
    /// Print a package's .PKGINFO fields and file list
    Info {
        #[arg(value_name = "FILE.apk")]
        file: PathBuf,
    },
    /// Write an APKINDEX.tar.gz for packages (mtime from SOURCE_DATE_EPOCH)
    Index {
        /// Output file
        #[arg(short, long, value_name = "APKINDEX.tar.gz")]
        output: PathBuf,
        /// Sign with this private key; the key name is its file name + ".pub"
        #[arg(long, value_name = "KEY.rsa")]
        sign: Option<PathBuf>,
        /// Text for the DESCRIPTION entry
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        #[arg(required = true, value_name = "FILE.apk")]
        files: Vec<PathBuf>,
    },
    /// Install packages and their dependencies from local repositories into a root
    Add {
        /// Root directory to install into
        #[arg(long, value_name = "DIR")]
        root: PathBuf,
        /// Alpine arch of the root (selects <repo>/<arch>/APKINDEX.tar.gz)
        #[arg(long, value_name = "ARCH")]
        arch: String,
        /// Create the database in a new root
        #[arg(long)]
        initdb: bool,
        /// Repository directory (holding <arch>/APKINDEX.tar.gz); repeatable
        #[arg(short = 'X', long, value_name = "DIR")]
        repository: Vec<PathBuf>,
        /// Trusted public keys, also copied into <root>/etc/apk/keys [default: <root>/etc/apk/keys]
        #[arg(long, value_name = "DIR")]
        keys_dir: Option<PathBuf>,
        /// Only print what would be installed
        #[arg(long)]
        simulate: bool,
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
            let pkg = Package::read(&file).with_context(|| file.display().to_string())?;
            print!("{}", info_text(&pkg));
            Ok(())
        }
        ApkCommand::Index {
            output,
            sign,
            description,
            files,
        } => {
            let signer = sign
                .map(|k| Signer::from_private_key_file(&k, SigAlg::Sha1))
                .transpose()?;
            let bytes = index_bytes(&files, description, signer.as_ref(), source_date_epoch())?;
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
            deps,
        } => {
            let out = add(&AddOptions {
                root: &root,
                arch: &arch,
                initdb,
                repositories: &repository,
                keys_dir: keys_dir.as_deref(),
                simulate,
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

/// Generates a key pair into `dir` with abuild-keygen's names; the private key is mode 0600.
pub fn write_keypair(dir: &Path, name: &str, bits: usize, now: u64) -> Result<(PathBuf, PathBuf)> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let k = sign::keygen(name, bits, now)?;
    std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    let private = dir.join(&k.private_file);
    let public = dir.join(&k.public_file);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&private)
        .with_context(|| private.display().to_string())?;
    f.write_all(k.private_pem.as_bytes())?;
    write_file(&public, k.public_pem.as_bytes())?;
    Ok((private, public))
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
    use alpinist_apk::install;
    use alpinist_apk::package::PackageBuilder;
    use alpinist_apk::pkginfo::PkgInfo;
    use alpinist_apk::sign::Keyring;
    use alpinist_apk::sign::PrivateKey;
    use alpinist_apk::tarball::EntryType;
    use alpinist_apk::tarball::Header;

    fn pkg(name: &str, ver: &str, depends: &[&str], file: &str, signer: &Signer) -> Vec<u8> {
        let info = PkgInfo {
            pkgname: name.into(),
            pkgver: ver.into(),
            arch: "x86_64".into(),
            origin: name.into(),
            builddate: 1_700_000_000,
            depends: depends.iter().map(|s| s.to_string()).collect(),
            ..PkgInfo::default()
        };
        let mut b = PackageBuilder::new(info, 1_700_000_000);
        let mut d = Header::new("etc", EntryType::Directory);
        d.mode = 0o755;
        b.push_entry(d, Vec::new());
        let mut f = Header::new(format!("etc/{file}"), EntryType::Regular);
        f.mode = 0o644;
        f.size = name.len() as u64;
        b.push_entry(f, name.as_bytes().to_vec());
        b.build(Some(signer)).unwrap()
    }

    /// A signed repository with a (depends on b) and b, and the key directory.
    fn repo(dir: &Path) -> (PathBuf, PathBuf) {
        let k = sign::keygen("test", 1024, 0x5f5e100).unwrap();
        let keys = dir.join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        let private = keys.join(&k.private_file);
        std::fs::write(&private, &k.private_pem).unwrap();
        std::fs::write(keys.join(&k.public_file), &k.public_pem).unwrap();
        let signer = Signer {
            key: PrivateKey::from_pem(&k.private_pem).unwrap(),
            key_name: k.public_file.clone(),
            alg: SigAlg::Sha1,
        };
        let repo = dir.join("repo");
        let arch_dir = repo.join("x86_64");
        std::fs::create_dir_all(&arch_dir).unwrap();
        let a = arch_dir.join("a-1-r0.apk");
        let b = arch_dir.join("b-2-r0.apk");
        std::fs::write(&a, pkg("a", "1-r0", &["b>=2"], "a.conf", &signer)).unwrap();
        std::fs::write(&b, pkg("b", "2-r0", &[], "b.conf", &signer)).unwrap();
        let bytes = index_bytes(&[a, b], Some("test".into()), Some(&signer), 1).unwrap();
        std::fs::write(arch_dir.join("APKINDEX.tar.gz"), bytes).unwrap();
        // Only the public key in the keys dir given to add.
        std::fs::remove_file(&private).unwrap();
        (repo, keys)
    }

    #[test]
    fn add_simulate_then_install() {
        let tmp = tempfile::tempdir().unwrap();
        let (repo, keys) = repo(tmp.path());
        let root = tmp.path().join("root");
        let repos = [repo.clone()];
        let deps = ["a".to_string()];
        let mut o = AddOptions {
            root: &root,
            arch: "x86_64",
            initdb: true,
            repositories: &repos,
            keys_dir: Some(&keys),
            simulate: true,
            deps: &deps,
        };
        let out = add(&o).unwrap();
        assert!(
            out.starts_with("(1/2) Installing b (2-r0)\n(2/2) Installing a (1-r0)\nOK: "),
            "{out}"
        );
        assert!(!root.exists(), "simulate wrote something");

        o.simulate = false;
        let out = add(&o).unwrap();
        assert!(out.starts_with("(1/2) Installing b (2-r0)\n"), "{out}");
        assert!(
            out.contains("\nOK: ") && out.ends_with(" 2 packages\n"),
            "{out}"
        );
        assert_eq!(std::fs::read(root.join("etc/a.conf")).unwrap(), b"a");
        assert_eq!(std::fs::read(root.join("etc/b.conf")).unwrap(), b"b");
        assert_eq!(
            std::fs::read_to_string(root.join("etc/apk/world")).unwrap(),
            "a\n"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("etc/apk/arch")).unwrap(),
            "x86_64\n"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("etc/apk/repositories")).unwrap(),
            format!("{}\n", repo.display())
        );
        assert!(root.join("etc/apk/keys/test-5f5e100.rsa.pub").is_file());
        let db = install::read_database(&root).unwrap();
        assert_eq!(db.packages.len(), 2);
        // Installing again is a no-op.
        o.initdb = false;
        let out = add(&o).unwrap();
        assert!(
            out.starts_with("OK: ") && out.ends_with(" 2 packages\n"),
            "{out}"
        );
        // A missing package is apk's error.
        let missing = ["nosuch".to_string()];
        o.deps = &missing;
        let err = add(&o).unwrap_err().to_string();
        assert!(err.contains("unable to select packages"), "{err}");
    }

    #[test]
    fn verify_and_info() {
        let tmp = tempfile::tempdir().unwrap();
        let (repo, keys) = repo(tmp.path());
        let a = repo.join("x86_64/a-1-r0.apk");
        let keyring = load_keys(&keys).unwrap();
        let (report, bad) = verify_files(std::slice::from_ref(&a), &keyring);
        assert_eq!(bad, 0, "{report}");
        assert!(
            report.contains(": OK (RSA, test-5f5e100.rsa.pub)"),
            "{report}"
        );
        let (report, bad) = verify_files(std::slice::from_ref(&a), &Keyring::new());
        assert_eq!(bad, 1);
        assert!(report.contains("signature: no trusted key"), "{report}");
        let info = info_text(&Package::read(&a).unwrap());
        assert!(info.contains("pkgname = a\n"), "{info}");
        assert!(info.contains("depend = b>=2\n"), "{info}");
        assert!(info.contains("- 0644 / "), "{info}");
        assert!(info.contains("d 0755 / "), "{info}");
    }

    #[test]
    fn keygen_writes_abuild_names() {
        let tmp = tempfile::tempdir().unwrap();
        let (private, public) =
            write_keypair(tmp.path(), "me@example.org", 1024, 0x62a9ada3).unwrap();
        assert_eq!(private.file_name().unwrap(), "me@example.org-62a9ada3.rsa");
        assert_eq!(
            public.file_name().unwrap(),
            "me@example.org-62a9ada3.rsa.pub"
        );
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&private).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let signer = Signer::from_private_key_file(&private, SigAlg::Sha1).unwrap();
        assert_eq!(signer.key_name, "me@example.org-62a9ada3.rsa.pub");
    }
}
