//! Source resolution: verified files, bad files moved aside, resumed downloads.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha512};
use xtask::config::source::SourceSpec;
use xtask::sources::Resolver;

fn spec(file: &str, body: &[u8], urls: Vec<String>) -> SourceSpec {
    SourceSpec {
        file: file.into(),
        urls,
        sha512: Some(hex::encode(Sha512::digest(body))),
        sha256: None,
        debian: None,
        substitute: None,
    }
}

fn body() -> Vec<u8> {
    (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect()
}

fn resolver<'a>(layout: &'a xtask::layout::Layout, offline: bool) -> Resolver<'a> {
    static SAY: fn(&str) = |_m: &str| {};
    Resolver {
        layout,
        mirrors: &[],
        offline,
        say: &SAY,
    }
}

#[test]
fn good_file_in_distfiles_is_used() {
    let tmp = tempfile::tempdir().unwrap();
    let l = common::layout(tmp.path(), &common::repo());
    l.ensure().unwrap();
    let b = body();
    std::fs::write(l.distfiles.join("pkg-1.0.tar.gz"), &b).unwrap();
    let r = resolver(&l, true)
        .resolve(&spec("pkg-1.0.tar.gz", &b, vec![]))
        .unwrap();
    assert_eq!(r.path, l.distfiles.join("pkg-1.0.tar.gz"));
    assert!(!r.substitute);
    assert!(
        l.shared_distfiles().join("pkg-1.0.tar.gz").is_file(),
        "a verified file is shared with other checkouts"
    );
}

fn assert_rejected(bad: &[u8]) {
    let tmp = tempfile::tempdir().unwrap();
    let l = common::layout(tmp.path(), &common::repo());
    l.ensure().unwrap();
    let good = body();
    let path = l.distfiles.join("pkg-1.0.tar.gz");
    std::fs::write(&path, bad).unwrap();
    let err = resolver(&l, true)
        .resolve(&spec("pkg-1.0.tar.gz", &good, vec![]))
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("checksum mismatch for pkg-1.0.tar.gz"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "expected sha512 {}",
            hex::encode(Sha512::digest(&good))
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "actual   sha512 {}",
            hex::encode(Sha512::digest(bad))
        )),
        "{msg}"
    );
    assert!(
        msg.contains("distfiles directory"),
        "names where it came from: {msg}"
    );
    assert!(
        !path.exists(),
        "the bad file must not stay where it would be used"
    );
    let rejected: Vec<_> = std::fs::read_dir(l.distfiles.join(".rejected"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(rejected.len(), 1, "the bad file is moved aside, not lost");
}

#[test]
fn corrupted_file_is_moved_aside() {
    let mut b = body();
    b[1000] ^= 0x40;
    assert_rejected(&b);
}

#[test]
fn file_of_wrong_size_is_moved_aside() {
    let b = body();
    assert_rejected(&b[..b.len() - 1]);
}

/// A server that sends half the body and drops the connection, then honours Range.
fn flaky_server(body: Vec<u8>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate().take(4) {
            let mut conn = conn.unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut range_from = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    range_from = v.trim().trim_end_matches('-').parse::<usize>().ok();
                }
                seen2.lock().unwrap().push(line.trim().to_string());
            }
            match range_from {
                Some(from) => {
                    let rest = &body[from..];
                    write!(
                        conn,
                        "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {}-{}/{}\r\nConnection: close\r\n\r\n",
                        rest.len(),
                        from,
                        body.len() - 1,
                        body.len()
                    )
                    .unwrap();
                    conn.write_all(rest).unwrap();
                }
                None if n == 0 => {
                    write!(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .unwrap();
                    conn.write_all(&body[..body.len() / 2]).unwrap();
                    // Drop the connection midway.
                }
                None => {
                    write!(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .unwrap();
                    conn.write_all(&body).unwrap();
                }
            }
            let _ = conn.flush();
            let mut sink = Vec::new();
            let _ = conn.shutdown(std::net::Shutdown::Write);
            let _ = reader.read_to_end(&mut sink);
        }
    });
    (format!("http://{addr}"), seen)
}

#[test]
fn dropped_download_resumes_then_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let l = common::layout(tmp.path(), &common::repo());
    l.ensure().unwrap();
    let b = body();
    let (base, seen) = flaky_server(b.clone());
    let url = format!("{base}/pkg-1.0.tar.gz");
    let r = resolver(&l, false)
        .resolve(&spec("pkg-1.0.tar.gz", &b, vec![url.clone()]))
        .unwrap();
    assert_eq!(r.origin, url);
    assert_eq!(std::fs::read(&r.path).unwrap(), b);
    let lines = seen.lock().unwrap().clone();
    let want = format!("range: bytes={}-", b.len() / 2);
    assert!(
        lines.iter().any(|l| l.to_ascii_lowercase() == want),
        "the second request resumes where the first stopped: {lines:?}"
    );
}

#[test]
fn offline_without_file_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let l = common::layout(tmp.path(), &common::repo());
    l.ensure().unwrap();
    let err = resolver(&l, true)
        .resolve(&spec("missing-1.0.tar.gz", b"x", vec![]))
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("missing-1.0.tar.gz"), "{msg}");
    assert!(msg.contains("cargo xtask fetch"), "{msg}");
}

#[test]
fn substitute_is_used_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let l = common::layout(tmp.path(), &common::repo());
    l.ensure().unwrap();
    let sub = b"repacked".to_vec();
    std::fs::write(l.distfiles.join("pkg_1.0.orig.tar.xz"), &sub).unwrap();
    let mut s = spec("pkg-1.0.tar.xz", b"upstream", vec![]);
    s.substitute = Some(xtask::config::source::Substitute {
        file: "pkg_1.0.orig.tar.xz".into(),
        sha512: Some(hex::encode(Sha512::digest(&sub))),
        sha256: None,
        why: "test".into(),
        urls: vec![],
        debian: None,
    });
    let r = resolver(&l, true).resolve(&s).unwrap();
    assert!(r.substitute);
    assert_eq!(r.path, l.distfiles.join("pkg_1.0.orig.tar.xz"));
}
