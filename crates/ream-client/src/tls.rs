//! Whom the client trusts to be its server: the system's roots, a CA file, or one
//! certificate pinned by its SHA-256 fingerprint (trust on first use, confirmed by the
//! user). The same rustls configuration serves HTTPS and the push WebSocket.

use std::path::Path;
use std::sync::{Arc, Mutex};

use ream_print::tls::{provider, Fingerprint};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::error::{ClientError, Result};

/// How the server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    System,
    CaFile(std::path::PathBuf),
    Pinned(String),
    /// Accept any certificate, only to learn its fingerprint before asking the user.
    Inspect,
}

/// A rustls configuration plus what the server last presented.
#[derive(Clone)]
pub struct TlsContext {
    pub config: Arc<rustls::ClientConfig>,
    presented: Arc<Mutex<Option<String>>>,
}

impl TlsContext {
    /// The fingerprint of the last certificate seen (pinned and inspecting modes).
    pub fn presented(&self) -> Option<String> {
        self.presented.lock().expect("lock").clone()
    }
}

pub use ream_print::tls::{fingerprint, same_fingerprint};

pub fn context(trust: &Trust) -> Result<TlsContext> {
    let presented = Arc::new(Mutex::new(None));
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Config(format!("TLS: {e}")))?;
    let config = match trust {
        Trust::System => {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::CaFile(path) => builder.with_root_certificates(roots_from(path)?).with_no_client_auth(),
        Trust::Pinned(pin) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Fingerprint::new(
                Some(pin.clone()),
                presented.clone(),
            )))
            .with_no_client_auth(),
        Trust::Inspect => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Fingerprint::new(None, presented.clone())))
            .with_no_client_auth(),
    };
    Ok(TlsContext { config: Arc::new(config), presented })
}

fn roots_from(path: &Path) -> Result<rustls::RootCertStore> {
    let bad = |e: String| ClientError::Config(format!("CA file {}: {e}", path.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
        roots.add(cert.map_err(|e| bad(e.to_string()))?).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    Ok(roots)
}

/// Whether an error (anywhere in its chain) is a refused server certificate.
pub fn is_certificate_error(e: &(dyn std::error::Error + 'static)) -> bool {
    rustls_error(e)
        .is_some_and(|r| matches!(r, rustls::Error::InvalidCertificate(_) | rustls::Error::General(_)))
}

/// Whether `e` says the other end answered a TLS handshake with something that is not
/// TLS: an `https://` address whose server speaks plain HTTP.
pub fn is_not_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    rustls_error(e).is_some_and(|r| {
        matches!(
            r,
            rustls::Error::InvalidMessage(
                rustls::InvalidMessage::InvalidContentType | rustls::InvalidMessage::UnknownProtocolVersion
            )
        )
    })
}

/// The rustls error somewhere in `e`'s chain (also inside I/O errors).
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(found) = io.get_ref().and_then(|inner| rustls_error(inner)) {
                return Some(found);
            }
        }
        cur = err.source();
    }
    None
}
