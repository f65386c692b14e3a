//! Whom the client trusts to be its server: the system's roots, a CA file, or one
//! certificate pinned by its SHA-256 fingerprint (trust on first use, confirmed by the
//! user). The same rustls configuration serves HTTPS and the push WebSocket.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

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

pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// Fingerprints compare without regard to case or separators.
pub fn same_fingerprint(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.chars().filter(char::is_ascii_hexdigit).map(|c| c.to_ascii_uppercase()).collect::<String>()
    };
    norm(a) == norm(b)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

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
            .with_custom_certificate_verifier(Arc::new(Fingerprint {
                pinned: Some(pin.clone()),
                presented: presented.clone(),
                provider: provider(),
            }))
            .with_no_client_auth(),
        Trust::Inspect => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Fingerprint {
                pinned: None,
                presented: presented.clone(),
                provider: provider(),
            }))
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

/// Accepts exactly the pinned certificate (or, inspecting, any), and records what it saw.
/// Handshake signatures are still verified, so the server must hold the certificate's key.
#[derive(Debug)]
struct Fingerprint {
    pinned: Option<String>,
    presented: Arc<Mutex<Option<String>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Fingerprint {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = fingerprint(end_entity);
        *self.presented.lock().expect("lock") = Some(seen.clone());
        match &self.pinned {
            Some(pin) if !same_fingerprint(pin, &seen) => {
                Err(rustls::Error::General(format!("certificate {seen} is not the pinned one")))
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Whether an error (anywhere in its chain) is a refused server certificate.
pub fn is_certificate_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return matches!(r, rustls::Error::InvalidCertificate(_) | rustls::Error::General(_));
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if is_certificate_error(inner) {
                    return true;
                }
            }
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_compare_loosely() {
        assert!(same_fingerprint("ab:cd:ef", "ABCDEF"));
        assert!(!same_fingerprint("ab:cd:ef", "ABCDEE"));
        assert_eq!(fingerprint(b"x").len(), 95);
    }
}
