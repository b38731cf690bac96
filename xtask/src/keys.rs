//! The key that signs packages and indexes: made once per cache directory, kept there,
//! so every checkout sharing the store signs with the same key.

use std::path::PathBuf;

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
                crate::cmd_apk::write_keypair(&dir, "alpinist", 2048, now)?.0
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
