//! The workstation's identity: an Ed25519 key pair made at enrolment, whose public half
//! the server registered. It signs proofs for single sign-on and the user list.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use rand::RngCore;
use ream_wire::{ProofPurpose, WorkstationProof};

use crate::error::{ClientError, Result};

pub struct WorkstationKey {
    pub id: String,
    key: SigningKey,
}

impl WorkstationKey {
    pub fn generate() -> SigningKey {
        SigningKey::generate(&mut rand::rngs::OsRng)
    }

    pub fn public_key_b64(key: &SigningKey) -> String {
        STANDARD.encode(key.verifying_key().to_bytes())
    }

    pub fn secret_b64(key: &SigningKey) -> String {
        STANDARD.encode(key.to_bytes())
    }

    pub fn from_secret_b64(id: String, secret: &str) -> Result<WorkstationKey> {
        let bytes: [u8; 32] = STANDARD
            .decode(secret.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| ClientError::Keyring("the stored workstation key is damaged".into()))?;
        Ok(WorkstationKey { id, key: SigningKey::from_bytes(&bytes) })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// An Ed25519 signature of `bytes` (the journal's entries).
    pub fn sign(&self, bytes: &[u8]) -> [u8; 64] {
        self.key.sign(bytes).to_bytes()
    }

    /// Whether `signature` (base64) is this key's over `bytes`.
    pub fn verifies(&self, bytes: &[u8], signature: &str) -> bool {
        use ed25519_dalek::Verifier;
        let sig = STANDARD.decode(signature).ok().and_then(|b| ed25519_dalek::Signature::from_slice(&b).ok());
        sig.is_some_and(|s| self.key.verifying_key().verify(bytes, &s).is_ok())
    }

    /// A fresh, single-use proof.
    pub fn proof(&self, purpose: ProofPurpose, subject: &str, now_ms: i64) -> WorkstationProof {
        let mut raw = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let nonce = hex::encode(raw);
        let bytes = WorkstationProof::signed_bytes(&self.id, purpose, subject, now_ms, &nonce);
        WorkstationProof {
            workstation_id: self.id.clone(),
            purpose,
            subject: subject.into(),
            issued_at_ms: now_ms,
            nonce,
            signature: STANDARD.encode(self.key.sign(&bytes).to_bytes()),
        }
    }
}

/// The name of the OS account this process runs as, from the password database (not
/// from the environment, which the user can set to anything).
pub fn os_username() -> Result<String> {
    // SAFETY: getpwuid_r writes into the buffers we own and sized; the returned name
    // points into `buf`, which outlives its use here.
    unsafe {
        let uid = libc::getuid();
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result);
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return Err(ClientError::Config(format!("no account name for uid {uid}")));
        }
        Ok(std::ffi::CStr::from_ptr(pwd.pw_name).to_string_lossy().into_owned())
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Verifier;

    #[test]
    fn proofs_verify_with_the_public_key_and_have_fresh_nonces() {
        let key = WorkstationKey::generate();
        let public = key.verifying_key();
        let ws = WorkstationKey::from_secret_b64("ws-1".into(), &WorkstationKey::secret_b64(&key)).unwrap();
        let a = ws.proof(ProofPurpose::Sso, "alice", 1_000);
        let b = ws.proof(ProofPurpose::Sso, "alice", 1_000);
        assert_ne!(a.nonce, b.nonce);
        let sig = ed25519_dalek::Signature::from_slice(&STANDARD.decode(&a.signature).unwrap()).unwrap();
        assert!(public.verify(&a.bytes_to_verify(), &sig).is_ok());
        assert!(WorkstationKey::from_secret_b64("x".into(), "short").is_err());
    }

    #[test]
    fn the_os_user_has_a_name() {
        assert!(!os_username().unwrap().is_empty());
    }
}
