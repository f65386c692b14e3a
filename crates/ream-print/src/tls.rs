//! Certificates pinned by their SHA-256 fingerprint: trust on first use for the
//! client's server (confirmed by the user) and for printers on IPPS (recorded by the
//! administrator when the printer is added).

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

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

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts exactly the pinned certificate (or, with no pin, any: only to learn its
/// fingerprint), and records what it saw. Handshake signatures are still verified, so
/// the peer must hold the certificate's key.
#[derive(Debug)]
pub struct Fingerprint {
    pinned: Option<String>,
    presented: Arc<Mutex<Option<String>>>,
    provider: Arc<CryptoProvider>,
}

impl Fingerprint {
    pub fn new(pinned: Option<String>, presented: Arc<Mutex<Option<String>>>) -> Fingerprint {
        Fingerprint { pinned, presented, provider: provider() }
    }

    /// A rustls client configuration that trusts this way.
    pub fn client_config(self) -> rustls::ClientConfig {
        rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(self))
            .with_no_client_auth()
    }
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
