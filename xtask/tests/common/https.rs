//! A real HTTPS file server on loopback (rustls), with a certificate from a CA made for
//! the test: what a corporate network's TLS-inspecting proxy or a private mirror looks
//! like to alpinist. The CA is known to nothing on the machine until a test names it
//! (`SSL_CERT_FILE`).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A server that serves the files of one directory until the test ends.
pub struct HttpsServer {
    /// `https://127.0.0.1:<port>`, no trailing slash.
    pub url: String,
    /// The test CA's certificate (PEM): the only place that trusts the server.
    pub ca_pem: PathBuf,
    /// Every path requested, in order, with the status served.
    pub requests: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

/// Serves the files of `root` (by file name: `/<name>` or `/<dir>/<name>` gives
/// `root/<name>`) over HTTPS on a free loopback port.
pub fn serve(root: &Path) -> HttpsServer {
    let dir = tempfile::tempdir().unwrap();
    // The CA, and the server's certificate for 127.0.0.1 signed by it.
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "alpinist test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let ca_pem = dir.path().join("alpinist-test-ca.pem");
    std::fs::write(&ca_pem, ca_cert.pem()).unwrap();

    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (config, log, root) = (config.clone(), log.clone(), root.clone());
            std::thread::spawn(move || {
                let _ = handle(stream, config, &log, &root);
            });
        }
    });
    HttpsServer {
        url,
        ca_pem,
        requests,
        _dir: dir,
    }
}

/// One connection: a TLS handshake (a client that does not trust the CA ends it
/// here), one GET, the file or a 404.
fn handle(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    log: &Mutex<Vec<String>>,
    root: &Path,
) -> std::io::Result<()> {
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, stream);
    let mut reader = BufReader::new(&mut tls);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
    }
    drop(reader);
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    let name = path.rsplit('/').next().unwrap_or("");
    let file = root.join(name);
    let body = (!name.is_empty() && !name.starts_with('.'))
        .then(|| std::fs::read(&file).ok())
        .flatten();
    let status = if body.is_some() { 200 } else { 404 };
    log.lock().unwrap().push(format!("{status} {path}"));
    let body = body.unwrap_or_default();
    write!(
        tls,
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        if status == 200 { "OK" } else { "Not Found" },
        body.len()
    )?;
    tls.write_all(&body)?;
    tls.flush()?;
    tls.conn.send_close_notify();
    let _ = tls.conn.complete_io(&mut tls.sock);
    Ok(())
}
