//! HTTP downloads (ureq) with resume, and `file://` mirrors.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _, Result};

/// Downloads `url` to `dest`, resuming from `dest.part` after a dropped connection.
pub fn download(url: &str, dest: &Path) -> Result<()> {
    let part = PathBuf::from(format!("{}.part", dest.display()));
    let mut last_err = None;
    for _attempt in 0..5 {
        match download_once(url, &part) {
            Ok(true) => {
                std::fs::rename(&part, dest)?;
                return Ok(());
            }
            Ok(false) => last_err = Some(anyhow!("connection ended early")),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| anyhow!("download failed")))
}

/// One attempt; Ok(true) when the body was complete.
fn download_once(url: &str, part: &Path) -> Result<bool> {
    if let Some(path) = url.strip_prefix("file://") {
        // A local mirror directory (`--mirror file:///path`).
        std::fs::copy(path, part).with_context(|| format!("copying {path}"))?;
        return Ok(true);
    }
    let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(std::time::Duration::from_secs(20)))
        .timeout_recv_body(Some(std::time::Duration::from_secs(120)))
        .build()
        .into();
    let mut req = agent.get(url);
    if have > 0 {
        req = req.header("Range", format!("bytes={have}-"));
    }
    let mut resp = req.call().map_err(|e| anyhow!("{e}"))?;
    let status = resp.status().as_u16();
    let resumed = status == 206;
    let expected_len: Option<u64> = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let mut out = if resumed {
        OpenOptions::new().append(true).open(part)?
    } else {
        File::create(part)?
    };
    let mut reader = resp.body_mut().with_config().limit(u64::MAX).reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.write_all(&buf[..n])?;
                got += n as u64;
            }
            Err(_) => {
                out.flush()?;
                return Ok(false);
            }
        }
    }
    out.flush()?;
    Ok(match expected_len {
        Some(len) => got == len,
        None => true,
    })
}
