//! The key that signs packages and indexes: made once per cache directory, kept there,
//! so every checkout sharing the store signs with the same key.

use std::path::{Path, PathBuf};

use alpinist_apk::sign;
use anyhow::{Context as _, Result};
use sha2::{Digest, Sha256};

use crate::context::Context;

pub struct SigningKey {
    pub private: PathBuf,
    pub public: PathBuf,
    /// `NAME-<hex>.rsa.pub`, as it appears in signatures and /etc/apk/keys.
    pub public_name: String,
    /// SHA-256 of the public key, for step keys.
    pub fingerprint: String,
}

impl SigningKey {
    pub fn dir(cx: &Context) -> PathBuf {
        cx.layout.cache.join("keys")
    }

    /// The existing key, if any (for `plan`, which must not make one).
    pub fn find(cx: &Context) -> Result<Option<SigningKey>> {
        let dir = Self::dir(cx);
        let mut privs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("rsa"))
                    .collect()
            })
            .unwrap_or_default();
        privs.sort();
        match privs.into_iter().next() {
            Some(p) => Self::load(p).map(Some),
            None => Ok(None),
        }
    }

    /// The key in `<cache>/keys`, made with abuild-keygen's naming when there is none.
    pub fn ensure(cx: &Context) -> Result<SigningKey> {
        if let Some(k) = Self::find(cx)? {
            return Ok(k);
        }
        let dir = Self::dir(cx);
        std::fs::create_dir_all(&dir)?;
        let private = {
            {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_secs();
                eprintln!("making a package signing key in {}", dir.display());
                write_keypair(&dir, "alpinist", 2048, now)?.0
            }
        };
        Self::load(private)
    }

    /// A placeholder for plans made before any key exists.
    pub fn not_yet(cx: &Context) -> SigningKey {
        let private = Self::dir(cx).join("(made on first build).rsa");
        SigningKey {
            public: PathBuf::from(format!("{}.pub", private.display())),
            private,
            public_name: "(none yet)".into(),
            fingerprint: "none yet".into(),
        }
    }

    fn load(private: PathBuf) -> Result<SigningKey> {
        let public = PathBuf::from(format!("{}.pub", private.display()));
        let pem = std::fs::read(&public)
            .with_context(|| format!("reading public key {}", public.display()))?;
        Ok(SigningKey {
            public_name: public
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            fingerprint: hex::encode(Sha256::digest(&pem)),
            private,
            public,
        })
    }

    /// A directory holding only the public key (for `--keys-dir`).
    pub fn public_dir(&self) -> PathBuf {
        self.public.parent().expect("key in a dir").to_path_buf()
    }
}

/// What a step needs of the signing key: the private key's path, and the fingerprint
/// for its key.
#[derive(Clone)]
pub struct SigningKeyRef {
    pub private: PathBuf,
    pub fingerprint: String,
}

impl From<&SigningKey> for SigningKeyRef {
    fn from(k: &SigningKey) -> Self {
        SigningKeyRef {
            private: k.private.clone(),
            fingerprint: k.fingerprint.clone(),
        }
    }
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
    std::fs::write(&public, k.public_pem.as_bytes())
        .with_context(|| format!("writing {}", public.display()))?;
    Ok((private, public))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alpinist_apk::package::Signer;
    use alpinist_apk::sign::SigAlg;

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
