//! TLS for the server: the administrator's certificate, or a self-signed one generated
//! on first start for a non-loopback address. Clients pin its SHA-256 fingerprint.

use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::secrets::write_private;

/// What the server will serve with.
pub enum TlsSetup {
    Plain,
    Tls { cert: PathBuf, key: PathBuf, fingerprint: String, generated: bool },
}

pub fn setup(config: &Config) -> anyhow::Result<TlsSetup> {
    match (&config.tls.cert, &config.tls.key) {
        (Some(cert), Some(key)) => {
            let fingerprint = fingerprint_of_pem(cert)?;
            Ok(TlsSetup::Tls { cert: cert.clone(), key: key.clone(), fingerprint, generated: false })
        }
        (Some(_), None) | (None, Some(_)) => anyhow::bail!("tls.cert and tls.key go together"),
        (None, None) if config.tls.disable || config.listen.ip().is_loopback() => Ok(TlsSetup::Plain),
        (None, None) => {
            let dir = config.data_dir.join("tls");
            let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
            let generated = !cert.exists();
            if generated {
                generate_self_signed(config, &dir, &cert, &key)?;
            }
            let fingerprint = fingerprint_of_pem(&cert)?;
            Ok(TlsSetup::Tls { cert, key, fingerprint, generated })
        }
    }
}

fn generate_self_signed(config: &Config, dir: &Path, cert: &Path, key: &Path) -> anyhow::Result<()> {
    let mut names = vec!["localhost".to_string()];
    if !config.listen.ip().is_unspecified() {
        names.push(config.listen.ip().to_string());
    }
    if let Ok(host) = std::fs::read_to_string("/etc/hostname") {
        let host = host.trim();
        if !host.is_empty() {
            names.push(host.to_string());
        }
    }
    let certified = rcgen::generate_simple_self_signed(names).context("generating a certificate")?;
    std::fs::create_dir_all(dir)?;
    write_private(key, certified.key_pair.serialize_pem().as_bytes())
        .with_context(|| format!("writing {}", key.display()))?;
    std::fs::write(cert, certified.cert.pem()).with_context(|| format!("writing {}", cert.display()))?;
    Ok(())
}

/// SHA-256 of the first certificate's DER, as `AB:CD:…`.
pub fn fingerprint_of_pem(path: &Path) -> anyhow::Result<String> {
    let pem = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let b64: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .with_context(|| format!("{} holds no PEM certificate", path.display()))?;
    Ok(fingerprint(&der))
}

pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}
