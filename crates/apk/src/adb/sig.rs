//! SIG blocks (apk-tools `adb_trust_write_signatures`, `adb_trust_verify_signature`).
//!
//! ```text
//! SIG payload = u8 version (0) ‖ u8 hash algorithm ‖ key id [16] ‖ RSA signature
//! signed      = schema (u32 LE) ‖ version ‖ hash algorithm ‖ key id ‖ digest(ADB payload)
//! ```
//!
//! The signature is RSASSA-PKCS1-v1_5 with SHA-512 over `signed`; the digest of the ADB
//! block's payload inside it is SHA-512 when apk-tools writes it (algorithm 4), and may be
//! SHA-256 (3) when read. The key is found by its id ([`PublicKey::adb_key_id`]), not by a
//! file name as in v2; the same RSA keys sign v2 and v3.

use sha2::{Digest, Sha256, Sha512};

use super::AdbError;
use crate::sign::{Keyring, PrivateKey, PublicKey, SigAlg};

/// apk-tools' digest numbers (`APK_DIGEST_*`).
pub const HASH_SHA256: u8 = 3;
pub const HASH_SHA512: u8 = 4;
pub const HASH_SHA256_160: u8 = 5;
/// The one signature format there is.
pub const SIGN_VERSION: u8 = 0;
/// Version, algorithm and key id.
const SIG_HEADER: usize = 18;
/// Largest SIG payload read (apk-tools writes at most 2048 bytes of signature).
pub const MAX_SIG_BLOCK: u64 = 4096;
/// Most SIG blocks read.
pub const MAX_SIG_BLOCKS: usize = 16;

/// One SIG block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigBlock {
    pub version: u8,
    pub hash_alg: u8,
    pub key_id: [u8; 16],
    pub signature: Vec<u8>,
}

impl SigBlock {
    /// Reads a SIG payload. A version other than 0 is kept (and never verifies), as
    /// apk-tools skips what it does not know.
    pub fn parse(payload: &[u8]) -> Result<SigBlock, AdbError> {
        if payload.len() < SIG_HEADER {
            return Err(AdbError::Format(format!(
                "SIG block of {} bytes is shorter than a signature header",
                payload.len()
            )));
        }
        Ok(SigBlock {
            version: payload[0],
            hash_alg: payload[1],
            key_id: payload[2..SIG_HEADER].try_into().expect("16 bytes"),
            signature: payload[SIG_HEADER..].to_vec(),
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![self.version, self.hash_alg];
        b.extend_from_slice(&self.key_id);
        b.extend_from_slice(&self.signature);
        b
    }

    /// What the RSA signature covers, for a block with this header.
    fn signed_message(&self, schema: u32, adb: &[u8]) -> Option<Vec<u8>> {
        let md = adb_digest(self.hash_alg, adb)?;
        let mut m = schema.to_le_bytes().to_vec();
        m.extend_from_slice(&[self.version, self.hash_alg]);
        m.extend_from_slice(&self.key_id);
        m.extend_from_slice(&md);
        Some(m)
    }
}

/// The digest of an ADB payload by apk-tools' algorithm number; `None` for one we do not
/// know.
pub fn adb_digest(alg: u8, adb: &[u8]) -> Option<Vec<u8>> {
    match alg {
        HASH_SHA256 => Some(Sha256::digest(adb).to_vec()),
        HASH_SHA256_160 => Some(Sha256::digest(adb)[..20].to_vec()),
        HASH_SHA512 => Some(Sha512::digest(adb).to_vec()),
        _ => None,
    }
}

/// Signs an ADB payload of `schema` as `apk mkpkg --sign-key` does.
pub fn sign(key: &PrivateKey, schema: u32, adb: &[u8]) -> Result<SigBlock, AdbError> {
    let mut block = SigBlock {
        version: SIGN_VERSION,
        hash_alg: HASH_SHA512,
        key_id: key.public_key().adb_key_id(),
        signature: Vec::new(),
    };
    let message = block.signed_message(schema, adb).expect("SHA-512 is known");
    block.signature = key
        .sign(SigAlg::Sha512, &message)
        .map_err(|e| AdbError::Write(e.to_string()))?;
    Ok(block)
}

/// Checks the SIG blocks against trusted keys, as apk-tools does: the first signature made
/// by a trusted key (found by key id) that verifies makes the ADB block trusted. Returns the
/// key's name.
pub fn verify(
    sigs: &[SigBlock],
    keys: &Keyring,
    schema: u32,
    adb: &[u8],
) -> Result<String, AdbError> {
    if sigs.is_empty() {
        return Err(AdbError::Unsigned);
    }
    let ids: Vec<(&str, &PublicKey, [u8; 16])> =
        keys.iter().map(|(n, k)| (n, k, k.adb_key_id())).collect();
    let mut failure = None;
    for sig in sigs.iter().filter(|s| s.version == SIGN_VERSION) {
        for (name, key, _) in ids.iter().filter(|(_, _, id)| *id == sig.key_id) {
            let Some(message) = sig.signed_message(schema, adb) else {
                failure.get_or_insert(AdbError::Format(format!(
                    "signature by {name} uses unknown digest algorithm {}",
                    sig.hash_alg
                )));
                continue;
            };
            if key.verify(SigAlg::Sha512, &message, &sig.signature).is_ok() {
                return Ok(name.to_string());
            }
            // A well-formed signature under this key was made over other bytes.
            let intact = key.signed_digest(SigAlg::Sha512, &sig.signature).is_some();
            failure.get_or_insert(if intact {
                AdbError::Modified {
                    key: name.to_string(),
                }
            } else {
                AdbError::BadSignature {
                    key: name.to_string(),
                }
            });
        }
    }
    Err(failure.unwrap_or_else(|| AdbError::Untrusted {
        ids: sigs.iter().map(|s| hex::encode(s.key_id)).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign;

    #[test]
    fn sign_and_verify() {
        let k = sign::keygen("t", 1024, 1).unwrap();
        let private = PrivateKey::from_pem(&k.private_pem).unwrap();
        let mut keys = Keyring::new();
        keys.insert("t.rsa.pub", PublicKey::from_pem(&k.public_pem).unwrap());
        let adb = b"\0\0\0\0\0\0\0\0some values";
        let s = sign(&private, 0x676b6370, adb).unwrap();
        assert_eq!(SigBlock::parse(&s.to_bytes()).unwrap(), s);
        assert_eq!(
            verify(std::slice::from_ref(&s), &keys, 0x676b6370, adb).unwrap(),
            "t.rsa.pub"
        );
        let e = verify(std::slice::from_ref(&s), &keys, 0x78646e69, adb).unwrap_err();
        assert!(
            matches!(e, AdbError::Modified { .. }),
            "schema is signed: {e}"
        );
        let e = verify(
            std::slice::from_ref(&s),
            &keys,
            0x676b6370,
            b"\0\0\0\0\0\0\0\0other",
        )
        .unwrap_err();
        assert!(matches!(e, AdbError::Modified { .. }), "{e}");
        let mut bad = s.clone();
        bad.signature[3] ^= 1;
        let e = verify(&[bad], &keys, 0x676b6370, adb).unwrap_err();
        assert!(matches!(e, AdbError::BadSignature { .. }), "{e}");
        let e = verify(&[s], &Keyring::new(), 0x676b6370, adb).unwrap_err();
        assert!(matches!(e, AdbError::Untrusted { .. }), "{e}");
        assert!(matches!(
            verify(&[], &keys, 0, adb),
            Err(AdbError::Unsigned)
        ));
    }
}
