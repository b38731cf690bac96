//! HTTP downloads (ureq) with resume, and `file://` mirrors.
//!
//! HTTPS is checked as every other tool on the machine checks it (apt, curl, git): against
//! the system's CA certificates (`/etc/ssl/certs`, or `SSL_CERT_FILE`/`SSL_CERT_DIR` when
//! set), so a network whose proxy inspects TLS with its own CA works as it does for them.
//! Proxies come from `https_proxy`/`http_proxy`/`all_proxy` (either case) for the URL's
//! scheme, and `no_proxy` names the hosts reached directly, as curl reads them.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::{anyhow, Context as _, Result};
use ureq::tls::{Certificate, RootCerts, TlsConfig};

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
            // A certificate that is not trusted, a 404: the same again next time.
            Err(Failure::Final(e)) => return Err(e),
            Err(Failure::Again(e)) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| anyhow!("download failed")))
}

/// Why one attempt failed: worth another try (a dropped connection) or not.
enum Failure {
    Again(anyhow::Error),
    Final(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure::Again(e.into())
    }
}

/// One attempt; Ok(true) when the body was complete.
fn download_once(url: &str, part: &Path) -> Result<bool, Failure> {
    if let Some(path) = url.strip_prefix("file://") {
        // A local mirror directory (`--mirror file:///path`).
        std::fs::copy(path, part).with_context(|| format!("copying {path}"))?;
        return Ok(true);
    }
    let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let agent = agent_for(url).map_err(Failure::Final)?;
    let mut req = agent.get(url);
    if have > 0 {
        req = req.header("Range", format!("bytes={have}-"));
    }
    let mut resp = req.call().map_err(|e| explain(url, e))?;
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

/// A request error as one line that says what to do; certificate problems and HTTP
/// statuses are final.
fn explain(url: &str, e: ureq::Error) -> Failure {
    let host = host_of(url).unwrap_or(url);
    match &e {
        ureq::Error::StatusCode(code) => Failure::Final(anyhow!("HTTP status {code}")),
        ureq::Error::Rustls(_) | ureq::Error::Tls(_) | ureq::Error::Pem(_) => {
            Failure::Final(anyhow!(
                "TLS with {host} failed: {e}; the certificate must be signed by a CA in {}: add the CA there (or point SSL_CERT_FILE at a bundle that has it)",
                trust_store_name()
            ))
        }
        ureq::Error::Io(io) if io.to_string().contains("certificate") => Failure::Final(anyhow!(
            "the TLS certificate of {host} is not trusted ({io}); the certificate must be signed by a CA in {}: add the CA there (or point SSL_CERT_FILE at a bundle that has it)",
            trust_store_name()
        )),
        _ => Failure::Again(anyhow!("{e}")),
    }
}

/// Where the trusted CAs were read from, for messages.
fn trust_store_name() -> String {
    match (
        std::env::var("SSL_CERT_FILE"),
        std::env::var("SSL_CERT_DIR"),
    ) {
        (Ok(f), Ok(d)) => format!("SSL_CERT_FILE ({f}) or SSL_CERT_DIR ({d})"),
        (Ok(f), Err(_)) => format!("SSL_CERT_FILE ({f})"),
        (Err(_), Ok(d)) => format!("SSL_CERT_DIR ({d})"),
        _ => "the system's CA certificates (/etc/ssl/certs)".to_string(),
    }
}

/// The agent for `url`: the system's trust store and the proxy for its scheme and host.
fn agent_for(url: &str) -> Result<ureq::Agent> {
    let roots = system_roots()?;
    let scheme = url.split("://").next().unwrap_or("");
    let proxy = match host_of(url) {
        Some(host) if !no_proxy(host, env_var(&["no_proxy", "NO_PROXY"]).as_deref()) => {
            proxy_url(scheme).map(|p| ureq::Proxy::new(&p).with_context(|| format!("proxy {p}")))
        }
        _ => None,
    }
    .transpose()?;
    Ok(ureq::Agent::config_builder()
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .proxy(proxy)
        .timeout_connect(Some(std::time::Duration::from_secs(20)))
        .timeout_recv_body(Some(std::time::Duration::from_secs(120)))
        .build()
        .into())
}

/// The system's CA certificates (`SSL_CERT_FILE`/`SSL_CERT_DIR` when set), read once.
/// A machine without any (no ca-certificates package) gets Mozilla's, built in.
fn system_roots() -> Result<RootCerts> {
    static ROOTS: OnceLock<std::result::Result<RootCerts, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                if let Some(e) = found.errors.first() {
                    if std::env::var_os("SSL_CERT_FILE").is_some()
                        || std::env::var_os("SSL_CERT_DIR").is_some()
                    {
                        return Err(format!("reading the CA certificates: {e}"));
                    }
                }
                return Ok(RootCerts::WebPki);
            }
            let certs: Vec<Certificate<'static>> = found
                .certs
                .iter()
                .map(|c| Certificate::from_der(c.as_ref()).to_owned())
                .collect();
            Ok(RootCerts::Specific(Arc::new(certs)))
        })
        .clone()
        .map_err(|e| anyhow!("{e} ({})", trust_store_name()))
}

/// The first variable of `names` that is set and not empty.
fn env_var(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
}

/// The proxy for a URL scheme, as curl chooses it.
fn proxy_url(scheme: &str) -> Option<String> {
    match scheme {
        "https" => env_var(&["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]),
        "http" => env_var(&["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]),
        _ => None,
    }
}

/// The host of a URL (`https://user@host:port/path` → `host`; `[::1]` → `::1`).
fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let hostport = authority.rsplit('@').next()?;
    if let Some(v6) = hostport.strip_prefix('[') {
        return v6.split(']').next();
    }
    hostport.split(':').next().filter(|h| !h.is_empty())
}

/// Whether `no_proxy` (comma-separated: `*`, host names, `.domain` or `domain` for a
/// domain and its hosts, IP addresses; a `:port` is ignored) names `host`.
fn no_proxy(host: &str, list: Option<&str>) -> bool {
    let host = host.to_ascii_lowercase();
    list.unwrap_or("").split(',').any(|entry| {
        let e = entry.trim().to_ascii_lowercase();
        let e = e.rsplit_once(':').map_or(e.as_str(), |(h, p)| {
            if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') {
                h
            } else {
                e.as_str()
            }
        });
        let domain = e.trim_start_matches("*.").trim_start_matches('.');
        e == "*"
            || (!domain.is_empty() && (host == domain || host.ends_with(&format!(".{domain}"))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_a_url() {
        assert_eq!(
            host_of("https://deb.debian.org/debian/x"),
            Some("deb.debian.org")
        );
        assert_eq!(host_of("https://u:p@127.0.0.1:8443/x"), Some("127.0.0.1"));
        assert_eq!(host_of("http://[::1]:80/"), Some("::1"));
        assert_eq!(host_of("https://example.org"), Some("example.org"));
        assert_eq!(host_of("nonsense"), None);
    }

    #[test]
    fn no_proxy_names_hosts_domains_and_everything() {
        let list = Some("localhost, .internal.example,example.org:8080,10.0.0.1");
        assert!(no_proxy("localhost", list));
        assert!(no_proxy("a.internal.example", list));
        assert!(no_proxy("internal.example", list));
        assert!(no_proxy("example.org", list));
        assert!(no_proxy("www.example.org", list));
        assert!(no_proxy("10.0.0.1", list));
        assert!(!no_proxy("deb.debian.org", list));
        assert!(!no_proxy("notexample.org", list));
        assert!(no_proxy("deb.debian.org", Some("*")));
        assert!(!no_proxy("deb.debian.org", None));
        assert!(!no_proxy("deb.debian.org", Some("")));
    }
}
