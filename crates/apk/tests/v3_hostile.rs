//! Hostile v3 packages and indexes: each is refused with one line that says what is wrong.
//! Most are signed by the trusted test key, so that the refusal comes from the checks after
//! the signature (the schema, the blocks, the data), not from a missing signature.

mod common;

use std::io::Write;

use alpinist_apk::adb::container::{
    block_header, write_block, Compression, FileWriter, BLOCK_ADB, BLOCK_DATA, BLOCK_SIG,
};
use alpinist_apk::adb::index::{write_adb_file, IndexV3};
use alpinist_apk::adb::schema::{SCHEMA_INDEX, SCHEMA_PACKAGE, S_IFREG};
use alpinist_apk::adb::sig;
use alpinist_apk::adb::wire::{Val, T_ARRAY, T_BLOB32, T_BLOB8, T_INT, T_OBJECT};
use alpinist_apk::adb::write::AdbWriter;
use common::v3::*;
use sha2::{Digest, Sha256};

/// A minimal valid pkginfo.
fn info(w: &mut AdbWriter) -> Val {
    let name = w.blob(b"evil");
    let version = w.blob(b"1.0-r0");
    w.object(&[name, version])
}

fn acl(w: &mut AdbWriter, mode: u64) -> Val {
    let m = w.int(mode);
    let root = w.blob(b"root");
    w.object(&[m, root, root])
}

/// A regular file object holding `content`.
fn file(w: &mut AdbWriter, name: &str, content: &[u8]) -> Val {
    let n = w.blob(name.as_bytes());
    let a = acl(w, 0o644);
    let size = w.int(content.len() as u64);
    let mtime = w.int(0);
    let hash = w.blob(&Sha256::digest(content));
    w.object(&[n, a, size, mtime, hash])
}

fn dir(w: &mut AdbWriter, name: &str, files: &[Val]) -> Val {
    let n = w.blob(name.as_bytes());
    let a = acl(w, 0o755);
    let f = w.object(files);
    w.object(&[n, a, f])
}

/// A package ADB whose root has `info` and `paths` (any values).
fn package_adb(build: impl FnOnce(&mut AdbWriter) -> Vec<Val>) -> Vec<u8> {
    let mut w = AdbWriter::new();
    let root_slots = build(&mut w);
    let root = w.object(&root_slots);
    w.set_root(root);
    w.finish().unwrap()
}

/// A package with one directory `etc` holding `etc/f` (content `content`).
fn simple_adb(content: &[u8]) -> Vec<u8> {
    package_adb(|w| {
        let i = info(w);
        let f = file(w, "f", content);
        let d = dir(w, "etc", &[f]);
        let p = w.object(&[d]);
        vec![i, p]
    })
}

/// A signed file of `schema` with the given DATA blocks (path index, file index, bytes).
fn signed(schema: u32, adb: &[u8], data: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let mut f =
        write_adb_file(Vec::new(), schema, adb, Some(&v3_key()), Compression::None).unwrap();
    for (d, i, bytes) in data {
        let mut payload = d.to_le_bytes().to_vec();
        payload.extend_from_slice(&i.to_le_bytes());
        payload.extend_from_slice(bytes);
        write_block(&mut f, BLOCK_DATA, &payload).unwrap();
    }
    f.finish().unwrap()
}

fn pkg(adb: &[u8], data: &[(u32, u32, &[u8])]) -> Vec<u8> {
    signed(SCHEMA_PACKAGE, adb, data)
}

/// Reads a package to its end, trusting the test key; the error message.
fn refusal(bytes: &[u8]) -> String {
    match read_all(bytes, Some(&v3_keys())) {
        Ok(_) => "ACCEPTED".into(),
        Err(e) => e,
    }
}

fn deflate(plain: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(b"ADBd".to_vec(), flate2::Compression::fast());
    e.write_all(plain).unwrap();
    e.finish().unwrap()
}

/// Offset of the first DATA block of an uncompressed file.
fn first_data_block(bytes: &[u8]) -> usize {
    let mut at = 8;
    loop {
        let word = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        if word >> 30 == BLOCK_DATA {
            return at;
        }
        at += ((word & 0x3fff_ffff) as usize).next_multiple_of(8);
    }
}

type Case = (&'static str, Vec<u8>, &'static str);

fn cases() -> Vec<Case> {
    let ok = simple_adb(b"hello\n");
    let good = pkg(&ok, &[(1, 1, b"hello\n")]);
    assert_eq!(refusal(&good), "ACCEPTED", "the base case is valid");
    let mut v = offset_cases();
    v.extend(type_cases());
    v.extend(schema_cases());
    v.extend(field_cases());
    v.extend(block_cases(&ok, &good));
    v.extend(signature_cases(&ok, &good));
    v
}

/// Offsets and counts.
fn offset_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let mut case = |name, bytes, want| v.push((name, bytes, want));
    case(
        "a blob past the end of the block",
        pkg(
            &package_adb(|w| {
                let bad = Val::new(T_BLOB8, 0x00ff_ffff);
                let v = w.blob(b"1.0");
                vec![w.object(&[bad, v])]
            }),
            &[],
        ),
        "ADB: info.name: a blob at offset 16777215 (1 bytes) runs past the end",
    );
    case(
        "a blob length past the end of the block",
        pkg(
            &package_adb(|w| {
                let len = w.blob_unshared(&[0xff; 4]);
                let bad = Val::new(T_BLOB32, len.value() + 1);
                vec![w.object(&[bad])]
            }),
            &[],
        ),
        "ADB: info.name: a blob at offset",
    );
    case(
        "a value inside the ADB header",
        pkg(&package_adb(|_| vec![Val::new(T_OBJECT, 4)]), &[]),
        "inside the ADB header",
    );
    case(
        "an array claiming 2^28 slots",
        pkg(
            &package_adb(|w| {
                let i = info(w);
                let count = w.blob_unshared(&0x0fff_ffffu32.to_le_bytes());
                vec![i, Val::new(T_ARRAY, count.value() + 1)]
            }),
            &[],
        ),
        "claims",
    );
    case(
        "an object with a slot count of 0",
        pkg(
            &package_adb(|w| {
                let zero = w.blob_unshared(&[0, 0, 0, 0, 0, 0, 0]);
                vec![Val::new(T_OBJECT, zero.value() + 1)]
            }),
            &[],
        ),
        "slot count of 0",
    );
    case(
        "a package object with more fields than its schema",
        pkg(
            &package_adb(|w| {
                let i = info(w);
                vec![
                    i,
                    Val::NULL,
                    Val::NULL,
                    Val::NULL,
                    Val::NULL,
                    Val::new(T_INT, 1),
                ]
            }),
            &[],
        ),
        "ADB: package object has 6 fields, the schema has 5",
    );
    case(
        "a shared directory listed 2000 times",
        pkg(
            &package_adb(|w| {
                let i = info(w);
                let files: Vec<Val> = (0..4000).map(|n| file(w, &format!("f{n}"), b"")).collect();
                let d = dir(w, "d", &files);
                let p = w.object(&vec![d; 2000]);
                vec![i, p]
            }),
            &[],
        ),
        "limit: too many values",
    );
    v
}

/// Type confusion.
fn type_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let mut case = |name, bytes, want| v.push((name, bytes, want));
    case(
        "an integer as the name",
        pkg(
            &package_adb(|w| {
                let v = w.blob(b"1.0");
                vec![w.object(&[Val::new(T_INT, 5), v])]
            }),
            &[],
        ),
        "ADB: info.name: expected a blob, found an integer",
    );
    case(
        "a blob as the paths array",
        pkg(
            &package_adb(|w| {
                let i = info(w);
                vec![i, w.blob(b"paths")]
            }),
            &[],
        ),
        "ADB: paths: expected an object or array, found a blob",
    );
    case(
        "a blob as an ACL",
        pkg(
            &package_adb(|w| {
                let i = info(w);
                let n = w.blob(b"etc");
                let a = w.blob(b"0755");
                let d = w.object(&[n, a]);
                vec![i, w.object(&[d])]
            }),
            &[],
        ),
        "ADB: paths[1].acl: expected an object or array, found a blob",
    );
    case(
        "a boolean as a size",
        pkg(
            &package_adb(|w| {
                let i = info(w);
                let n = w.blob(b"f");
                let f = w.object(&[n, Val::NULL, Val(1)]);
                let d = dir(w, "etc", &[f]);
                vec![i, w.object(&[d])]
            }),
            &[],
        ),
        "ADB: paths[1].files[1].size: expected an integer, found a boolean",
    );
    case(
        "a null dependency in an array",
        pkg(
            &package_adb(|w| {
                let n = w.blob(b"evil");
                let v = w.blob(b"1.0");
                let raw = w.blob_unshared(&[2, 0, 0, 0, 0, 0, 0, 0]);
                let d = Val::new(T_ARRAY, raw.value() + 1);
                let mut s = vec![Val::NULL; 15];
                s[0] = n;
                s[1] = v;
                s[14] = d;
                vec![w.object(&s)]
            }),
            &[],
        ),
        "ADB: info.depends: [1] is null",
    );
    v
}

/// What the schema says a value may be.
fn schema_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let mut case = |name, bytes, want| v.push((name, bytes, want));
    let with_file = |name: &str| {
        pkg(
            &package_adb(|w| {
                let i = info(w);
                let f = file(w, name, b"");
                let d = dir(w, "etc", &[f]);
                vec![i, w.object(&[d])]
            }),
            &[],
        )
    };
    case(
        "a file name with a slash",
        with_file("a/b"),
        "not a single path component",
    );
    case(
        "a file name '..'",
        with_file(".."),
        "not a single path component",
    );
    case(
        "a directory '../outside'",
        pkg(
            &package_adb(|w| {
                let i = info(w);
                let d = dir(w, "../outside", &[]);
                vec![i, w.object(&[d])]
            }),
            &[],
        ),
        "ADB: paths[1].name: path contains '..' or '.' components",
    );
    case(
        "an absolute directory",
        pkg(
            &package_adb(|w| {
                let i = info(w);
                let d = dir(w, "/etc", &[]);
                vec![i, w.object(&[d])]
            }),
            &[],
        ),
        "absolute path",
    );
    case(
        "a directory listed twice",
        pkg(
            &package_adb(|w| {
                let i = info(w);
                let a = dir(w, "etc", &[]);
                let b = {
                    let n = w.blob(b"etc");
                    let m = acl(w, 0o700);
                    w.object(&[n, m])
                };
                vec![i, w.object(&[a, b])]
            }),
            &[],
        ),
        "directory 'etc' is listed twice",
    );
    case(
        "a hard link to a file that is not there",
        pkg(
            &package_adb(|w| {
                let i = info(w);
                let n = w.blob(b"link");
                let a = acl(w, 0o644);
                let h = w.blob(&Sha256::digest(b""));
                let t = w.blob_parts(&[&S_IFREG.to_le_bytes(), b"etc/shadow"]);
                let size = w.int(0);
                let f = w.object(&[n, a, size, size, h, t]);
                let d = dir(w, "etc", &[f]);
                vec![i, w.object(&[d])]
            }),
            &[],
        ),
        "hard link to 'etc/shadow', which is not an earlier regular file",
    );
    case(
        "a target of unknown type",
        pkg(
            &package_adb(|w| {
                let i = info(w);
                let n = w.blob(b"sock");
                let t = w.blob_parts(&[&0o140000u16.to_le_bytes(), b"x"]);
                let f = w.object(&[n, Val::NULL, Val::NULL, Val::NULL, Val::NULL, t]);
                let d = dir(w, "etc", &[f]);
                vec![i, w.object(&[d])]
            }),
            &[],
        ),
        "unknown file type 140000",
    );
    case(
        "a mode with file type bits",
        pkg(
            &package_adb(|w| {
                let i = info(w);
                let n = w.blob(b"x");
                let a = acl(w, 0o100644);
                let d = w.object(&[n, a]);
                vec![i, w.object(&[d])]
            }),
            &[],
        ),
        "ADB: paths[1].acl.mode: mode 100644 has bits beyond 7777",
    );
    v
}

/// Metadata fields and file fields apk-tools checks.
fn field_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let mut case = |name, bytes, want| v.push((name, bytes, want));
    case(
        "an invalid package name",
        pkg(
            &package_adb(|w| {
                let n = w.blob(b"-evil");
                let v = w.blob(b"1.0");
                vec![w.object(&[n, v])]
            }),
            &[],
        ),
        "ADB: info.name: a package name must start with a letter or digit",
    );
    case(
        "an invalid version",
        pkg(
            &package_adb(|w| {
                let n = w.blob(b"evil");
                let v = w.blob(b"1.0-rx");
                vec![w.object(&[n, v])]
            }),
            &[],
        ),
        "ADB: info.version: '1.0-rx' is not a valid version",
    );
    case(
        "a file name that is not UTF-8",
        pkg(
            &package_adb(|w| {
                let i = info(w);
                let n = w.blob(b"\xff\xfe");
                let f = w.object(&[n]);
                let d = dir(w, "etc", &[f]);
                vec![i, w.object(&[d])]
            }),
            &[],
        ),
        "ADB: paths[1].files[1].name: not valid UTF-8",
    );
    case(
        "a regular file without a hash",
        pkg(
            &package_adb(|w| {
                let i = info(w);
                let n = w.blob(b"f");
                let f = w.object(&[n]);
                let d = dir(w, "etc", &[f]);
                vec![i, w.object(&[d])]
            }),
            &[],
        ),
        "a regular file without a hash",
    );
    case(
        "no info",
        pkg(
            &package_adb(|_| vec![Val::NULL, Val::NULL, Val::NULL, Val::new(T_INT, 1)]),
            &[],
        ),
        "ADB: info: a package without info",
    );
    v
}

/// Blocks.
fn block_cases(ok: &[u8], good: &[u8]) -> Vec<Case> {
    let mut v = Vec::new();
    let mut case = |name, bytes, want| v.push((name, bytes, want));
    case(
        "no DATA block for a file",
        pkg(ok, &[]),
        "data: file etc/f: no DATA block for its content",
    );
    case(
        "a DATA block for another file",
        pkg(ok, &[(1, 2, b"hello\n")]),
        "the next DATA block is for path 1 file 2, not 1 1",
    );
    case(
        "a DATA block longer than the file",
        pkg(ok, &[(1, 1, b"hello\nworld\n")]),
        "its DATA block holds 12 bytes, the file has 6",
    );
    case(
        "content that does not match its hash",
        pkg(ok, &[(1, 1, b"HELLO\n")]),
        "data: file etc/f: content does not match its hash",
    );
    case(
        "an extra DATA block",
        pkg(ok, &[(1, 1, b"hello\n"), (1, 1, b"hello\n")]),
        "format: a DATA block of 14 bytes after the last file's content",
    );
    let mut overlap = good.to_vec();
    let at = first_data_block(&overlap);
    // The DATA block claims the bytes of a next block: it runs past the end.
    overlap[at..at + 4].copy_from_slice(&block_header(BLOCK_DATA, 8 + 6 + 16)[..4]);
    case(
        "a DATA block overlapping what follows",
        overlap,
        "its DATA block holds 22 bytes",
    );
    let mut short_adb = good.to_vec();
    let adb_len = u32::from_le_bytes(short_adb[8..12].try_into().unwrap());
    short_adb[8..12].copy_from_slice(&(adb_len - 16).to_le_bytes());
    case(
        "an ADB block that ends inside itself",
        short_adb,
        "format: block of unknown type",
    );
    let mut tail = good.to_vec();
    tail.extend_from_slice(b"\0\0");
    case(
        "trailing bytes",
        tail,
        "format: file ends 2 bytes into a block header",
    );
    let mut tail = deflate(good);
    tail.extend_from_slice(b"junk");
    case(
        "bytes after the deflate stream",
        tail,
        "format: bytes after the end of the compressed stream",
    );
    let mut pad = good.to_vec();
    let n = pad.len();
    pad[n - 1] = 1;
    case(
        "padding that is not zero",
        pad,
        "format: block padding is not zero",
    );
    {
        let mut f = FileWriter::new(Vec::new(), SCHEMA_PACKAGE, Compression::None).unwrap();
        write_block(&mut f, BLOCK_SIG, &[0; 20]).unwrap();
        case(
            "a SIG block first",
            f.finish().unwrap(),
            "format: the first block is a SIG block",
        );
    }
    {
        let mut f = write_adb_file(
            Vec::new(),
            SCHEMA_PACKAGE,
            ok,
            Some(&v3_key()),
            Compression::None,
        )
        .unwrap();
        write_block(&mut f, BLOCK_ADB, ok).unwrap();
        case(
            "a second ADB block",
            f.finish().unwrap(),
            "format: a second ADB block",
        );
    }
    {
        let mut f = FileWriter::new(Vec::new(), SCHEMA_PACKAGE, Compression::None).unwrap();
        f.write_all(&(3u32 << 30 | 3).to_le_bytes()).unwrap();
        f.write_all(&[0; 12]).unwrap();
        case(
            "a block of type 3",
            f.finish().unwrap(),
            "format: block of unknown type 3",
        );
    }
    {
        let mut f =
            write_adb_file(Vec::new(), SCHEMA_PACKAGE, ok, None, Compression::None).unwrap();
        for _ in 0..17 {
            write_block(&mut f, BLOCK_SIG, &[0; 40]).unwrap();
        }
        case(
            "17 SIG blocks",
            f.finish().unwrap(),
            "limit: more than 16 SIG blocks",
        );
    }
    let mut compat = good.to_vec();
    compat[12] = 1;
    case(
        "ADB compat version 1",
        compat,
        "ADB compat version 1 is not supported",
    );
    case(
        "an index read as a package",
        signed(SCHEMA_INDEX, ok, &[]),
        "format: schema 'indx', not 'pckg'",
    );
    case(
        "not an ADB file",
        b"\x1f\x8b\x08\0\0\0\0\0".to_vec(),
        "format: no ADB prefix",
    );
    case(
        "a truncated file",
        good[..good.len() - 5].to_vec(),
        "format: file ends",
    );
    case(
        "ADBc with algorithm 9",
        b"ADBc\x09\x00ADB.pckg".to_vec(),
        "unsupported compression algorithm 9",
    );
    v
}

/// Signatures.
fn signature_cases(ok: &[u8], good: &[u8]) -> Vec<Case> {
    let mut v = Vec::new();
    let mut case = |name, bytes, want| v.push((name, bytes, want));
    {
        let other = simple_adb(b"other\n");
        let sig = sig::sign(&v3_key(), SCHEMA_PACKAGE, &other).unwrap();
        let mut f =
            write_adb_file(Vec::new(), SCHEMA_PACKAGE, ok, None, Compression::None).unwrap();
        write_block(&mut f, BLOCK_SIG, &sig.to_bytes()).unwrap();
        let mut bytes = f.finish().unwrap();
        bytes.extend_from_slice(&good[first_data_block(good)..]);
        case(
            "a signature over a different ADB block",
            bytes,
            "signature: the ADB block does not match its intact signature by testkey-62a9ada3.rsa.pub",
        );
    }
    {
        let mut bad = good.to_vec();
        let sig_at =
            8 + (u32::from_le_bytes(bad[8..12].try_into().unwrap()) as usize).next_multiple_of(8);
        bad[sig_at + 4 + 18 + 10] ^= 0x40;
        case(
            "a damaged signature",
            bad,
            "signature: the signature by testkey-62a9ada3.rsa.pub is damaged",
        );
    }
    {
        let mut schema = good.to_vec();
        schema[4..8].copy_from_slice(b"idb\0");
        case(
            "a signed package with its schema changed",
            schema,
            "format: schema 'idb\\u{0}', not 'pckg'",
        );
    }
    {
        let k = alpinist_apk::sign::keygen("other", 1024, 1).unwrap();
        let other = alpinist_apk::sign::PrivateKey::from_pem(&k.private_pem).unwrap();
        let bytes = write_adb_file(
            Vec::new(),
            SCHEMA_PACKAGE,
            ok,
            Some(&other),
            Compression::None,
        )
        .unwrap()
        .finish()
        .unwrap();
        case(
            "signed by an unknown key",
            bytes,
            "signature: no trusted key for key id",
        );
    }
    case(
        "unsigned",
        write_adb_file(Vec::new(), SCHEMA_PACKAGE, ok, None, Compression::None)
            .unwrap()
            .finish()
            .unwrap(),
        "signature: not signed",
    );
    v
}

#[test]
fn every_hostile_package_is_refused_with_one_line() {
    let mut failures = Vec::new();
    let cases = cases();
    assert_eq!(cases.len(), 49);
    for (name, bytes, want) in cases {
        let got = refusal(&bytes);
        if got == "ACCEPTED" || !got.contains(want) || got.contains('\n') {
            failures.push(format!("{name}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Decompression bombs: a small file that inflates to a huge ADB block, a huge DATA block
/// or endless zeros after a valid package is refused after reading at most the limits.
#[test]
fn decompression_bombs_are_refused_early() {
    let keys = v3_keys();
    let mut huge_adb = b"ADB.pckg".to_vec();
    huge_adb.extend_from_slice(&block_header(BLOCK_ADB, 1 << 29));
    huge_adb.resize(huge_adb.len() + (64 << 20), 0);
    let e = read_all(&deflate(&huge_adb), Some(&keys)).unwrap_err();
    assert!(
        e.starts_with("limit: ADB block of 536870912 bytes is larger than"),
        "{e}"
    );

    let ok = simple_adb(b"hello\n");
    let mut huge_data = write_adb_file(
        Vec::new(),
        SCHEMA_PACKAGE,
        &ok,
        Some(&v3_key()),
        Compression::None,
    )
    .unwrap()
    .finish()
    .unwrap();
    huge_data.extend_from_slice(&block_header(BLOCK_DATA, 8 + (1 << 40)));
    huge_data.extend_from_slice(&1u32.to_le_bytes());
    huge_data.extend_from_slice(&1u32.to_le_bytes());
    huge_data.resize(huge_data.len() + (64 << 20), 0);
    let e = read_all(&deflate(&huge_data), Some(&keys)).unwrap_err();
    assert!(
        e.contains("its DATA block holds 1099511627776 bytes, the file has 6"),
        "{e}"
    );

    let mut zeros = pkg(&ok, &[(1, 1, b"hello\n")]);
    zeros.resize(zeros.len() + (64 << 20), 0);
    let start = std::time::Instant::now();
    let e = read_all(&deflate(&zeros), Some(&keys)).unwrap_err();
    assert!(
        e.contains("block size 0 is smaller than its 4-byte header"),
        "{e}"
    );
    assert!(start.elapsed().as_secs() < 20);

    // An index too.
    let mut huge_index = b"ADB.indx".to_vec();
    huge_index.extend_from_slice(&block_header(BLOCK_ADB, 1 << 29));
    huge_index.resize(huge_index.len() + (1 << 20), 0);
    let e = IndexV3::parse(&deflate(&huge_index), Some(&keys)).unwrap_err();
    assert!(e.to_string().starts_with("limit: ADB block of"), "{e}");
}

/// A hostile index: records are checked as a package's info is, after the signature.
#[test]
fn hostile_indexes_are_refused() {
    let keys = v3_keys();
    let index = |build: &dyn Fn(&mut AdbWriter) -> Val| {
        let mut w = AdbWriter::new();
        let p = build(&mut w);
        let packages = w.object(&[p]);
        let root = w.object(&[Val::NULL, packages]);
        w.set_root(root);
        signed(SCHEMA_INDEX, &w.finish().unwrap(), &[])
    };
    let bad_name = index(&|w| {
        let n = w.blob(b"e/../evil");
        let v = w.blob(b"1.0");
        w.object(&[n, v])
    });
    let e = IndexV3::parse(&bad_name, Some(&keys))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "ADB: packages[1].name: a package name may only hold letters, digits and + - . _"
    );
    let with_data = {
        let mut f = write_adb_file(
            Vec::new(),
            SCHEMA_INDEX,
            &simple_adb(b""),
            Some(&v3_key()),
            Compression::None,
        )
        .unwrap();
        write_block(&mut f, BLOCK_DATA, &[0; 8]).unwrap();
        f.finish().unwrap()
    };
    let e = IndexV3::parse(&with_data, Some(&keys))
        .unwrap_err()
        .to_string();
    assert_eq!(e, "format: a DATA block in an index");
    // A valid index whose package name spec would leave the repository.
    let mut w = AdbWriter::new();
    let p = info(&mut w);
    let packages = w.object(&[p]);
    let spec = w.blob(b"../${name}.apk");
    let root = w.object(&[Val::NULL, packages, spec]);
    w.set_root(root);
    let i = IndexV3::parse(
        &signed(SCHEMA_INDEX, &w.finish().unwrap(), &[]),
        Some(&keys),
    )
    .unwrap();
    let e = i.package_path(&i.meta.packages[0]).unwrap_err().to_string();
    assert!(
        e.contains("'../evil.apk' for evil-1.0-r0: path contains '..'"),
        "{e}"
    );
    // The schema is signed: a package's signature does not make it an index.
    let ok = simple_adb(b"");
    let s = sig::sign(&v3_key(), SCHEMA_PACKAGE, &ok).unwrap();
    let mut f = write_adb_file(Vec::new(), SCHEMA_INDEX, &ok, None, Compression::None).unwrap();
    write_block(&mut f, BLOCK_SIG, &s.to_bytes()).unwrap();
    let e = IndexV3::parse(&f.finish().unwrap(), Some(&keys))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("signature: the ADB block does not match its intact signature"),
        "{e}"
    );
}

/// Every prefix of apk-tools' packages and index, whatever the compression, is refused:
/// a stream cut after its last block but before its end marker too.
#[test]
fn every_cut_of_a_vector_is_refused() {
    let keys = v3_keys();
    for name in [
        "hello-1.0-r0.signed.apk",
        "hello-1.0-r0.apk",
        "hello-1.0-r0.zstd.apk",
    ] {
        let bytes = vector(name);
        assert!(read_all(&bytes, Some(&keys)).is_ok());
        for cut in 0..bytes.len() {
            let e = read_all(&bytes[..cut], Some(&keys));
            assert!(
                e.is_err(),
                "{name} cut at {cut} of {} accepted",
                bytes.len()
            );
        }
    }
    for name in ["Packages.adb", "Packages.none.adb"] {
        let bytes = vector(name);
        for cut in 0..bytes.len() {
            assert!(
                IndexV3::parse(&bytes[..cut], Some(&keys)).is_err(),
                "{name} cut at {cut}"
            );
        }
    }
}
