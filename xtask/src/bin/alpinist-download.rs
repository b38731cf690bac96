//! `alpinist-download URL DEST`: one source downloaded the way alpinist downloads every source —
//! the system's trust store (`SSL_CERT_FILE`/`SSL_CERT_DIR`), the proxy for the URL's
//! scheme, `no_proxy`, resumed after a dropped connection. Prints `DOWNLOADED` or
//! `REFUSED: <why>` and exits 0 or 1. The HTTPS test runs it in a process of its own,
//! since the trust store and the proxy settings are read from the environment of the
//! process.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, dest] = args.as_slice() else {
        eprintln!("usage: alpinist-download URL DEST");
        std::process::exit(2);
    };
    match xtask::sources::download(url, std::path::Path::new(dest)) {
        Ok(()) => println!("DOWNLOADED"),
        Err(e) => {
            println!("REFUSED: {e:#}");
            std::process::exit(1);
        }
    }
}
