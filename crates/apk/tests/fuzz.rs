//! Readers never panic, whatever the input: random bytes, truncations, and flipped bytes of
//! valid packages and indexes.

mod common;

use alpinist_apk::index::ApkIndex;
use alpinist_apk::package::Package;
use alpinist_apk::pkginfo::PkgInfo;
use alpinist_apk::sign::SigAlg;
use alpinist_apk::tarball::TarReader;
use common::*;
use proptest::prelude::*;
use std::sync::OnceLock;

fn valid_package() -> &'static [u8] {
    static P: OnceLock<Vec<u8>> = OnceLock::new();
    P.get_or_init(|| sample_package(Some(&test_signer(SigAlg::Sha1))))
}

fn valid_index() -> &'static [u8] {
    static I: OnceLock<Vec<u8>> = OnceLock::new();
    I.get_or_init(|| {
        let pkg = Package::parse(valid_package()).unwrap();
        ApkIndex::new(
            Some("fuzz".into()),
            vec![alpinist_apk::index::package_info(&pkg, None)],
        )
        .to_bytes(SDE, Some(&test_signer(SigAlg::Sha1)))
        .unwrap()
    })
}

fn real_package() -> &'static [u8] {
    static R: OnceLock<Vec<u8>> = OnceLock::new();
    R.get_or_init(|| std::fs::read(&real_packages()[1]).unwrap())
}

/// Bytes of a signature member that nothing covers and that change no content: the gzip
/// header's mtime/XFL/OS, the FTEXT bit of its flags, and the last deflate byte (it may
/// hold unused padding bits).
fn uncovered(bytes: &[u8], at: usize, xor: u8) -> bool {
    let (s, e) = members(bytes)[0];
    (s + 4..s + 10).contains(&at) || at == e - 9 || (at == s + 3 && xor == 1)
}

fn all_readers(bytes: &[u8]) {
    let _ = Package::parse(bytes);
    let _ = ApkIndex::parse(bytes);
    let _ = PkgInfo::parse(bytes);
    let mut r = TarReader::new(bytes);
    while let Ok(Some(_)) = r.next_entry() {
        let _ = r.read_data(1 << 20);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        all_readers(&bytes);
    }

    #[test]
    fn random_bytes_after_gzip_magic(mut bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        bytes.splice(0..0, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
        all_readers(&bytes);
    }

    #[test]
    fn truncated_package(cut in 0usize..10_000) {
        let p = valid_package();
        let cut = cut % p.len();
        prop_assert!(Package::parse(&p[..cut]).is_err());
        let r = real_package();
        prop_assert!(Package::parse(&r[..cut % r.len()]).is_err());
    }

    #[test]
    fn truncated_index(cut in 0usize..10_000) {
        let i = valid_index();
        prop_assert!(ApkIndex::parse(&i[..cut % i.len()]).is_err());
    }

    #[test]
    fn damaged_package(pos in 0usize..100_000, xor in 1u8..=255) {
        let mut p = valid_package().to_vec();
        let at = pos % p.len();
        prop_assume!(!uncovered(&p, at, xor));
        p[at] ^= xor;
        let keys = test_keyring();
        // Never a panic; and a damaged package never verifies.
        let verified = Package::parse(&p).and_then(|pkg| pkg.verify_signature(&keys).map(|_| ()));
        prop_assert!(verified.is_err(), "byte {} ^ {:#x} accepted", at, xor);
    }

    #[test]
    fn damaged_index(pos in 0usize..100_000, xor in 1u8..=255) {
        let mut i = valid_index().to_vec();
        let at = pos % i.len();
        prop_assume!(!uncovered(&i, at, xor));
        i[at] ^= xor;
        let keys = test_keyring();
        let verified = ApkIndex::parse(&i).and_then(|idx| idx.verify_signature(&keys).map(|_| ()));
        prop_assert!(verified.is_err(), "byte {} ^ {:#x} accepted", at, xor);
    }

    #[test]
    fn pkginfo_text(lines in proptest::collection::vec("[a-z_]{0,12}( = )?[ -~]{0,30}", 0..40)) {
        let text = lines.join("\n");
        if let Ok(p) = PkgInfo::parse(text.as_bytes()) {
            // Whatever parses, writes and parses back to the same thing.
            prop_assert_eq!(PkgInfo::parse(p.to_text().as_bytes()).unwrap(), p);
        }
    }

    #[test]
    fn truncated_pkginfo(cut in 0usize..2000) {
        let pkg = Package::parse(real_package()).unwrap();
        let raw = &pkg.pkginfo_raw;
        let _ = PkgInfo::parse(&raw[..cut % raw.len()]);
    }
}

/// The one flag bit of the signature member's gzip header that changes nothing (FTEXT, a
/// hint decoders ignore) is accepted, as apk accepts it; any other flag bit is not.
#[test]
fn signature_member_ftext_bit_is_harmless() {
    let keys = test_keyring();
    let (s, _) = members(valid_package())[0];
    for bit in 0..8u8 {
        let mut p = valid_package().to_vec();
        p[s + 3] ^= 1 << bit;
        let ok = Package::parse(&p)
            .and_then(|pkg| pkg.verify_signature(&keys).map(|_| ()))
            .is_ok();
        assert_eq!(ok, bit == 0, "FLG bit {bit}");
    }
}
