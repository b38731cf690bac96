//! RSA keys and signatures as abuild and apk v2 use them (spec §5.4).
//!
//! A signature is RSASSA-PKCS1-v1_5 over the digest of the exact bytes being signed (the
//! compressed control member of a package, or the whole index member of an `APKINDEX.tar.gz`),
//! i.e. what `openssl dgst -sha1|-sha256|-sha512 -sign KEY` produces. It travels in a tar
//! member named `.SIGN.<ALG>.<key name>`, where the key name is the file name of the public
//! key in `/etc/apk/keys`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPublicKey};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha1::{Digest, Sha1};
use sha2::{Sha256, Sha512};

/// Default key size of `abuild-keygen`.
pub const DEFAULT_KEY_BITS: usize = 4096;
/// apk skips signature members larger than this.
pub const MAX_SIGNATURE: u64 = 65536;

/// Errors about keys and signatures.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("{what} is not a PEM RSA private key (PKCS#1 or PKCS#8)")]
    BadPrivateKey { what: String },
    #[error("{what} is not a PEM RSA public key")]
    BadPublicKey { what: String },
    #[error("cannot read key {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("signature does not match")]
    Mismatch,
    #[error("key generation failed: {0}")]
    Keygen(String),
    #[error("key name {0:?} must not be empty or contain '/'")]
    BadName(String),
}

/// The digest under an RSA signature, named as in `.SIGN.<ALG>.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SigAlg {
    /// `.SIGN.RSA.`: SHA-1 (abuild's default).
    Sha1,
    /// `.SIGN.RSA256.`
    Sha256,
    /// `.SIGN.RSA512.`
    Sha512,
}

impl SigAlg {
    /// The `.SIGN.…` prefix for this algorithm, including the final dot.
    pub fn prefix(self) -> &'static str {
        match self {
            SigAlg::Sha1 => ".SIGN.RSA.",
            SigAlg::Sha256 => ".SIGN.RSA256.",
            SigAlg::Sha512 => ".SIGN.RSA512.",
        }
    }

    /// The member name carrying a signature made with the key named `key_name`.
    pub fn member_name(self, key_name: &str) -> String {
        format!("{}{key_name}", self.prefix())
    }

    /// Digest of `data` with this algorithm.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            SigAlg::Sha1 => Sha1::digest(data).to_vec(),
            SigAlg::Sha256 => Sha256::digest(data).to_vec(),
            SigAlg::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn padding(self) -> Pkcs1v15Sign {
        match self {
            SigAlg::Sha1 => Pkcs1v15Sign::new::<Sha1>(),
            SigAlg::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
            SigAlg::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
        }
    }
}

impl fmt::Display for SigAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SigAlg::Sha1 => "RSA",
            SigAlg::Sha256 => "RSA256",
            SigAlg::Sha512 => "RSA512",
        })
    }
}

/// What a `.SIGN.*` member name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureName<'a> {
    /// An RSA signature we can check.
    Rsa { alg: SigAlg, key_name: &'a str },
    /// `.SIGN.DSA.*` or anything else after `.SIGN.`: understood by apk, not by us, or junk.
    Unsupported(&'a str),
}

/// Parses a `.SIGN.*` member name; `None` when the name does not start with `.SIGN.`.
pub fn parse_signature_name(name: &str) -> Option<SignatureName<'_>> {
    let rest = name.strip_prefix(".SIGN.")?;
    for alg in [SigAlg::Sha512, SigAlg::Sha256, SigAlg::Sha1] {
        if let Some(key_name) = name.strip_prefix(alg.prefix()) {
            if !key_name.is_empty() && !key_name.contains('/') {
                return Some(SignatureName::Rsa { alg, key_name });
            }
        }
    }
    Some(SignatureName::Unsupported(rest))
}

/// An RSA private key.
#[derive(Clone)]
pub struct PrivateKey(RsaPrivateKey);

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(..)")
    }
}

impl PrivateKey {
    /// Parses a PEM private key: `BEGIN RSA PRIVATE KEY` (PKCS#1, older `openssl genrsa`) or
    /// `BEGIN PRIVATE KEY` (PKCS#8, OpenSSL 3).
    pub fn from_pem(pem: &str) -> Result<PrivateKey, SignError> {
        RsaPrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem))
            .map(PrivateKey)
            .map_err(|_| SignError::BadPrivateKey {
                what: "input".to_string(),
            })
    }

    /// Reads and parses a PEM private key file.
    pub fn from_file(path: &Path) -> Result<PrivateKey, SignError> {
        let text = std::fs::read_to_string(path).map_err(|source| SignError::Io {
            path: path.display().to_string(),
            error: source,
        })?;
        PrivateKey::from_pem(&text).map_err(|_| SignError::BadPrivateKey {
            what: path.display().to_string(),
        })
    }

    /// Signs `data` (hashing it with `alg` first), like `openssl dgst -<alg> -sign`.
    pub fn sign(&self, alg: SigAlg, data: &[u8]) -> Result<Vec<u8>, SignError> {
        self.0
            .sign(alg.padding(), &alg.digest(data))
            .map_err(|e| SignError::Sign(e.to_string()))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.to_public_key())
    }

    /// PKCS#8 PEM, as OpenSSL 3's `genrsa` writes.
    pub fn to_pem(&self) -> Result<String, SignError> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map(|z| z.to_string())
            .map_err(|e| SignError::Keygen(e.to_string()))
    }
}

/// An RSA public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(RsaPublicKey);

impl PublicKey {
    /// Parses `BEGIN PUBLIC KEY` (SubjectPublicKeyInfo, what `openssl rsa -pubout` and
    /// abuild-keygen write) or `BEGIN RSA PUBLIC KEY` (PKCS#1).
    pub fn from_pem(pem: &str) -> Result<PublicKey, SignError> {
        RsaPublicKey::from_public_key_pem(pem)
            .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
            .map(PublicKey)
            .map_err(|_| SignError::BadPublicKey {
                what: "input".to_string(),
            })
    }

    /// SubjectPublicKeyInfo PEM with LF line ends, like `openssl rsa -pubout`.
    pub fn to_pem(&self) -> Result<String, SignError> {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| SignError::Keygen(e.to_string()))
    }

    /// The key id apk v3 signatures name their key by: the first 16 bytes of the SHA-512
    /// of the key's PKCS#1 DER encoding (OpenSSL's `i2d_PublicKey`, apk-tools
    /// `apk_pkey_init`).
    pub fn adb_key_id(&self) -> [u8; 16] {
        let der = self
            .0
            .to_pkcs1_der()
            .expect("an RSA public key always has a DER encoding");
        Sha512::digest(der.as_bytes())[..16]
            .try_into()
            .expect("16 bytes")
    }

    /// Checks an RSASSA-PKCS1-v1_5 signature over `data` hashed with `alg`.
    pub fn verify(&self, alg: SigAlg, data: &[u8], signature: &[u8]) -> Result<(), SignError> {
        self.verify_digest(alg, &alg.digest(data), signature)
    }

    /// Like [`PublicKey::verify`] for an already computed digest.
    pub fn verify_digest(
        &self,
        alg: SigAlg,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<(), SignError> {
        self.0
            .verify(alg.padding(), digest, signature)
            .map_err(|_| SignError::Mismatch)
    }

    /// The digest a signature carries, if it is a well-formed PKCS#1 v1.5 signature for `alg`
    /// under this key (`s^e mod n` has the `00 01 FF… 00 DigestInfo` layout).
    ///
    /// When [`PublicKey::verify`] fails this tells the two causes apart: a well-formed
    /// signature means the signed data changed; garbage means the signature itself is damaged
    /// (or made with another key).
    pub fn signed_digest(&self, alg: SigAlg, signature: &[u8]) -> Option<Vec<u8>> {
        use rsa::traits::PublicKeyParts;
        let k = self.0.size();
        if signature.len() != k {
            return None;
        }
        let s = rsa::BigUint::from_bytes_be(signature);
        if &s >= self.0.n() {
            return None;
        }
        let m = s.modpow(self.0.e(), self.0.n()).to_bytes_be();
        if m.len() > k {
            return None;
        }
        let mut em = vec![0u8; k - m.len()];
        em.extend_from_slice(&m);
        let padding = alg.padding();
        let t_len = padding.prefix.len() + padding.hash_len.unwrap_or(0);
        if k < t_len + 11 || em[0] != 0 || em[1] != 1 {
            return None;
        }
        let ps_end = k - t_len - 1;
        if em[2..ps_end].iter().any(|&b| b != 0xff) || em[ps_end] != 0 {
            return None;
        }
        let t = &em[ps_end + 1..];
        let (prefix, digest) = t.split_at(padding.prefix.len());
        (prefix == &*padding.prefix).then(|| digest.to_vec())
    }
}

/// Trusted public keys by file name (the name `.SIGN.*` members refer to).
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: BTreeMap<String, PublicKey>,
}

impl Keyring {
    pub fn new() -> Keyring {
        Keyring::default()
    }

    pub fn insert(&mut self, name: impl Into<String>, key: PublicKey) {
        self.keys.insert(name.into(), key);
    }

    /// Adds every file in `dir` that parses as a public key, named by its file name; other
    /// files are skipped, as apk skips them. Returns how many keys were added.
    pub fn load_dir(&mut self, dir: &Path) -> Result<usize, SignError> {
        let io = |source| SignError::Io {
            path: dir.display().to_string(),
            error: source,
        };
        let mut added = 0;
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            // Follows symlinks, as /etc/apk/keys often holds links into /usr/share/apk/keys.
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            if let Ok(key) = PublicKey::from_pem(&text) {
                self.keys.insert(name, key);
                added += 1;
            }
        }
        Ok(added)
    }

    pub fn get(&self, name: &str) -> Option<&PublicKey> {
        self.keys.get(name)
    }

    /// Every key with its name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &PublicKey)> {
        self.keys.iter().map(|(n, k)| (n.as_str(), k))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A key pair made by [`keygen`], with the file names abuild-keygen would use.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    pub private_pem: String,
    pub public_pem: String,
    /// `NAME-<hex unix time>.rsa`
    pub private_file: String,
    /// `NAME-<hex unix time>.rsa.pub`: the key name in `.SIGN.RSA.<…>` and `/etc/apk/keys`.
    pub public_file: String,
}

/// The base file name abuild-keygen uses: `"${emailaddr:-$USER}-$(printf "%x" $(date +%s))"`.
pub fn key_base_name(name: &str, unix_time: u64) -> String {
    format!("{name}-{unix_time:x}")
}

/// Generates an RSA key pair named as abuild-keygen names it, `NAME-<hex time>.rsa[.pub]`.
pub fn keygen(name: &str, bits: usize, unix_time: u64) -> Result<GeneratedKey, SignError> {
    if name.is_empty() || name.contains('/') {
        return Err(SignError::BadName(name.to_string()));
    }
    let mut rng = rsa::rand_core::OsRng;
    let key = RsaPrivateKey::new(&mut rng, bits).map_err(|e| SignError::Keygen(e.to_string()))?;
    let private = PrivateKey(key);
    let base = key_base_name(name, unix_time);
    Ok(GeneratedKey {
        private_pem: private.to_pem()?,
        public_pem: private.public_key().to_pem()?,
        private_file: format!("{base}.rsa"),
        public_file: format!("{base}.rsa.pub"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_names() {
        assert_eq!(
            parse_signature_name(".SIGN.RSA.k.rsa.pub"),
            Some(SignatureName::Rsa {
                alg: SigAlg::Sha1,
                key_name: "k.rsa.pub"
            })
        );
        assert_eq!(
            parse_signature_name(".SIGN.RSA256.k"),
            Some(SignatureName::Rsa {
                alg: SigAlg::Sha256,
                key_name: "k"
            })
        );
        assert_eq!(
            parse_signature_name(".SIGN.DSA.k"),
            Some(SignatureName::Unsupported("DSA.k"))
        );
        assert_eq!(parse_signature_name(".PKGINFO"), None);
    }

    #[test]
    fn keygen_names_and_round_trip() {
        let k = keygen("me@example.org", 1024, 0x62a9ada3).unwrap();
        assert_eq!(k.private_file, "me@example.org-62a9ada3.rsa");
        assert_eq!(k.public_file, "me@example.org-62a9ada3.rsa.pub");
        assert!(k.private_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(k.public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let private = PrivateKey::from_pem(&k.private_pem).unwrap();
        let public = PublicKey::from_pem(&k.public_pem).unwrap();
        for alg in [SigAlg::Sha1, SigAlg::Sha256, SigAlg::Sha512] {
            let sig = private.sign(alg, b"data").unwrap();
            public.verify(alg, b"data", &sig).unwrap();
            assert!(public.verify(alg, b"datA", &sig).is_err());
            assert_eq!(public.signed_digest(alg, &sig), Some(alg.digest(b"data")));
            let mut bad = sig.clone();
            bad[10] ^= 1;
            assert_eq!(public.signed_digest(alg, &bad), None);
        }
        assert!(keygen("a/b", 1024, 0).is_err());
    }
}
