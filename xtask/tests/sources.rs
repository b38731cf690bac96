//! Source resolution: verified files, bad files moved aside, resumed downloads.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha512};
use xtask::config::source::SourceSpec;
use xtask::sources::Resolver;

use xtask::sources::substitute::{adapt, AportSources, AportSubstitute};

fn spec(file: &str, body: &[u8], urls: Vec<String>) -> SourceSpec {
    SourceSpec {
        file: file.into(),
        urls,
        sha512: Some(hex::encode(Sha512::digest(body))),
        sha256: None,
        debian: None,
        git: None,
        git_file: None,
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
        git: None,
        git_file: None,
        local: None,
    });
    let r = resolver(&l, true).resolve(&s).unwrap();
    assert!(r.substitute);
    assert_eq!(r.path, l.distfiles.join("pkg_1.0.orig.tar.xz"));
}

#[test]
fn the_recipes_own_file_wins_over_a_substitute_at_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let l = common::layout(tmp.path(), &common::repo());
    l.ensure().unwrap();
    // The substitute is in the distfiles; the file itself only behind its URL.
    let sub = b"repacked".to_vec();
    std::fs::write(l.distfiles.join("pkg_1.0.orig.tar.xz"), &sub).unwrap();
    let remote = tmp.path().join("remote");
    std::fs::create_dir_all(&remote).unwrap();
    std::fs::write(remote.join("pkg-1.0.tar.xz"), b"upstream").unwrap();
    let url = format!("file://{}/pkg-1.0.tar.xz", remote.display());
    let mut s = spec("pkg-1.0.tar.xz", b"upstream", vec![url.clone()]);
    s.substitute = Some(xtask::config::source::Substitute {
        file: "pkg_1.0.orig.tar.xz".into(),
        sha512: Some(hex::encode(Sha512::digest(&sub))),
        sha256: None,
        why: "test".into(),
        urls: vec![],
        debian: None,
        git: None,
        git_file: None,
        local: None,
    });
    let r = resolver(&l, false).resolve(&s).unwrap();
    assert!(!r.substitute, "{r:?}");
    assert_eq!(r.origin, url);
    assert_eq!(std::fs::read(&r.path).unwrap(), b"upstream");
}

/// A tarball with `top/` holding `files`, compressed as `name` says (.tar.gz or .tar.xz).
fn tarball(path: &std::path::Path, top: &str, files: &[(&str, &str)]) {
    let mut raw = Vec::new();
    {
        let mut b = tar::Builder::new(&mut raw);
        for (name, text) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(text.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(1_000_000);
            b.append_data(&mut h, format!("{top}/{name}"), text.as_bytes())
                .unwrap();
        }
        b.finish().unwrap();
    }
    let out = std::fs::File::create(path).unwrap();
    if path.to_string_lossy().ends_with(".xz") {
        let mut e = xz2::write::XzEncoder::new(out, 6);
        e.write_all(&raw).unwrap();
        e.finish().unwrap();
    } else {
        let mut e = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        e.write_all(&raw).unwrap();
        e.finish().unwrap();
    }
}

fn listing(path: &std::path::Path) -> Vec<(String, String, u64)> {
    let f = std::fs::File::open(path).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut v = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mtime = e.header().mtime().unwrap();
        let mut text = String::new();
        e.read_to_string(&mut text).unwrap();
        v.push((name, text, mtime));
    }
    v
}

fn aport_substitute(dir: &std::path::Path, patches: Option<&str>) -> AportSubstitute {
    let text = format!(
        "[[substitute]]\nfor = \"demo-1.0.tar.gz\"\nfor_sha512 = \"00\"\nfile = \"demo_1.0.orig.tar.xz\"\nsha512 = \"11\"\ntop = \"demo-1.0\"\nwhy = \"test\"\nurls = [\"https://alpinist.invalid/demo_1.0.orig.tar.xz\"]\n{}",
        patches
            .map(|p| format!("patches = \"{p}\"\n"))
            .unwrap_or_default()
    );
    let f = dir.join("sources.toml");
    std::fs::write(&f, text).unwrap();
    AportSources::load(&[f])
        .unwrap()
        .substitute("demo-1.0.tar.gz", "00")
        .unwrap()
        .clone()
}

#[test]
fn a_substitute_is_adapted_to_the_recipes_name_top_directory_and_compression() {
    let tmp = tempfile::tempdir().unwrap();
    let orig = tmp.path().join("demo_1.0.orig.tar.xz");
    tarball(
        &orig,
        "demo-1.0.orig",
        &[("Makefile", "all:\n"), ("hello.c", "int main(){}\n")],
    );
    let patches = tmp.path().join("patches");
    std::fs::create_dir_all(&patches).unwrap();
    std::fs::write(
        patches.join("0001-version.patch"),
        "--- /dev/null\n+++ b/VERSION\n@@ -0,0 +1 @@\n+1.0\n",
    )
    .unwrap();
    let sub = aport_substitute(tmp.path(), Some(patches.to_str().unwrap()));
    let dist = tmp.path().join("distfiles");
    let made = adapt(&sub, &orig, &dist, tmp.path()).unwrap();
    assert_eq!(made.file_name().unwrap(), "demo-1.0.tar.gz");
    let l = listing(&made);
    let names: Vec<&str> = l.iter().map(|(n, _, _)| n.as_str()).collect();
    // One top directory, the recipe's; sorted; the patch's file is there.
    assert_eq!(
        names,
        [
            "demo-1.0",
            "demo-1.0/Makefile",
            "demo-1.0/VERSION",
            "demo-1.0/hello.c"
        ]
    );
    assert_eq!(l[2].1, "1.0\n");
    // The new file is clamped to the archive's newest time; the others keep theirs.
    assert!(l.iter().all(|(_, _, t)| *t == 1_000_000), "{l:?}");

    // Deterministic: made again elsewhere, the same bytes.
    let again = adapt(&sub, &orig, &tmp.path().join("distfiles2"), tmp.path()).unwrap();
    assert_eq!(
        std::fs::read(&made).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

#[test]
fn a_substitute_whose_patch_does_not_apply_says_which() {
    let tmp = tempfile::tempdir().unwrap();
    let orig = tmp.path().join("demo_1.0.orig.tar.xz");
    tarball(&orig, "demo-1.0.orig", &[("Makefile", "all:\n")]);
    let patches = tmp.path().join("patches");
    std::fs::create_dir_all(&patches).unwrap();
    std::fs::write(
        patches.join("0001-bad.patch"),
        "--- a/Makefile\n+++ b/Makefile\n@@ -1 +1 @@\n-nothing like this\n+x\n",
    )
    .unwrap();
    let sub = aport_substitute(tmp.path(), Some(patches.to_str().unwrap()));
    let err = adapt(&sub, &orig, &tmp.path().join("d"), tmp.path()).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("0001-bad.patch does not apply"), "{msg}");
    assert!(msg.contains("demo_1.0.orig.tar.xz"), "{msg}");
    assert!(!tmp
        .path()
        .join("d/.substituted")
        .read_dir()
        .unwrap()
        .flatten()
        .any(|e| e.path().join("demo-1.0.tar.gz").exists()));
}

#[test]
fn a_substitute_must_not_share_the_recipes_file_name() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("sources.toml");
    std::fs::write(&f, "[[substitute]]\nfor = \"a-1.tar.gz\"\nfor_sha512 = \"00\"\nfile = \"a-1.tar.gz\"\nsha512 = \"11\"\nwhy = \"x\"\nlocal = \"fix.patch\"\n").unwrap();
    let err = AportSources::load(&[f]).unwrap_err();
    assert!(
        format!("{err:#}").contains("must have a file name of its own"),
        "{err:#}"
    );
}

#[test]
fn a_single_file_substitute_is_compressed_as_the_recipes_name_says() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("sources.toml");
    std::fs::write(
        &f,
        "[[substitute]]\nfor = \"patch-1.2.patch.xz\"\nfor_sha512 = \"00\"\nfile = \"fix.patch\"\nsha512 = \"11\"\nwhy = \"x\"\nlocal = \"fix.patch\"\n",
    )
    .unwrap();
    let sub = AportSources::load(&[f])
        .unwrap()
        .substitute("patch-1.2.patch.xz", "00")
        .unwrap()
        .clone();
    let from = tmp.path().join("fix.patch");
    std::fs::write(&from, "--- a/x\n+++ b/x\n").unwrap();
    let made = adapt(&sub, &from, &tmp.path().join("d"), tmp.path()).unwrap();
    assert_eq!(made.file_name().unwrap(), "patch-1.2.patch.xz");
    let mut text = String::new();
    xz2::read::XzDecoder::new(std::fs::File::open(&made).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "--- a/x\n+++ b/x\n");
}

#[test]
fn https_trusts_the_system_store_and_ssl_cert_file_and_honours_proxies() {
    let files = tempfile::tempdir().unwrap();
    let b = body();
    std::fs::write(files.path().join("pkg-1.0.tar.gz"), &b).unwrap();
    let server = common::https::serve(files.path());
    let scratch = tempfile::tempdir().unwrap();
    let dest = scratch.path().join("pkg-1.0.tar.gz");
    let url = format!("{}/dist/pkg-1.0.tar.gz", server.url);
    let run = |env: &[(&str, &str)]| -> String {
        let _ = std::fs::remove_file(&dest);
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_alpinist-download"));
        c.arg(&url).arg(&dest);
        for k in [
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "https_proxy",
            "HTTPS_PROXY",
            "http_proxy",
            "HTTP_PROXY",
            "all_proxy",
            "ALL_PROXY",
            "no_proxy",
            "NO_PROXY",
        ] {
            c.env_remove(k);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(
            out.status.success(),
            text == "DOWNLOADED",
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let ca = server.ca_pem.display().to_string();

    // The test CA, named only through SSL_CERT_FILE: downloaded and the same bytes.
    assert_eq!(run(&[("SSL_CERT_FILE", &ca)]), "DOWNLOADED");
    assert_eq!(std::fs::read(&dest).unwrap(), b);

    // The machine's own trust store does not know the CA: refused, on one line that
    // names the host and the certificate problem, and nothing is left behind.
    let refused = run(&[]);
    assert!(refused.starts_with("REFUSED"), "{refused}");
    assert!(
        refused.contains("127.0.0.1") && refused.contains("UnknownIssuer"),
        "{refused}"
    );
    assert!(
        refused.contains("SSL_CERT_FILE"),
        "says what to do: {refused}"
    );
    assert!(!dest.exists());
    let served = server.requests.lock().unwrap().clone();
    assert_eq!(
        served,
        ["200 /dist/pkg-1.0.tar.gz"],
        "the refused client never asked"
    );

    // A proxy for https (nothing listens there) is used...
    let via_proxy = run(&[
        ("SSL_CERT_FILE", &ca),
        ("https_proxy", "http://127.0.0.1:9"),
    ]);
    assert!(via_proxy.starts_with("REFUSED"), "{via_proxy}");
    // ...unless no_proxy names the host.
    let direct = run(&[
        ("SSL_CERT_FILE", &ca),
        ("HTTPS_PROXY", "http://127.0.0.1:9"),
        ("NO_PROXY", "localhost,127.0.0.1"),
    ]);
    assert_eq!(direct, "DOWNLOADED");
}
