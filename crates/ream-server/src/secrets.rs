//! Secrets at rest. Passwords, PINs and card numbers are stored only as argon2id hashes;
//! PINs and cards, which must also *find* their owner, get a second, keyed lookup value
//! (HMAC-SHA256 under the server key) so no slow hash has to be tried per user. Tokens
//! and enrolment codes are long random values, stored as SHA-256.

use std::path::Path;

use anyhow::Context;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};

/// The server's secret key: 32 random bytes in a file readable by the server only.
#[derive(Clone)]
pub struct ServerKey([u8; 32]);

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(…)")
    }
}

impl ServerKey {
    /// Reads the key, or creates it (mode 0600) when the file does not exist yet.
    pub fn load_or_create(path: &Path) -> anyhow::Result<ServerKey> {
        match std::fs::read_to_string(path) {
            Ok(text) => ServerKey::from_hex(&text).with_context(|| format!("{}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                write_private(path, hex::encode(key).as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Ok(ServerKey(key))
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Reads the key, which must exist.
    pub fn load(path: &Path) -> anyhow::Result<ServerKey> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        ServerKey::from_hex(&text).with_context(|| format!("{}", path.display()))
    }

    /// The key written as 64 hex digits.
    pub fn from_hex(text: &str) -> anyhow::Result<ServerKey> {
        let bytes = hex::decode(text.trim()).context("not a hex key")?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| anyhow::anyhow!("a server key holds 32 bytes"))?;
        Ok(ServerKey(key))
    }

    #[cfg(test)]
    pub fn for_tests() -> ServerKey {
        ServerKey([7; 32])
    }

    /// The Ed25519 key that signs local print grants and terms: derived from this key, so
    /// that instances sharing the server key share it too.
    pub fn signing_key(&self) -> ed25519_dalek::SigningKey {
        let seed: [u8; 32] = hex::decode(self.lookup("ream-local-grant-key", ""))
            .expect("hex")
            .try_into()
            .expect("an HMAC-SHA256 is 32 bytes");
        ed25519_dalek::SigningKey::from_bytes(&seed)
    }

    /// The lookup value of a PIN or card: deterministic, useless without the key.
    pub fn lookup(&self, domain: &str, secret: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        mac.update(domain.as_bytes());
        mac.update(b"\0");
        mac.update(secret.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Writes a file only its owner can read, created that way (no window where it is not).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents)
}

/// At most this many argon2 computations at once, each on a blocking thread (19 MiB and
/// tens of milliseconds of CPU apiece): a burst of logins waits here instead of holding
/// the async workers, which serve every other request and push channel, or taking memory
/// without bound. One per CPU.
fn argon2_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    })
}

/// Runs `work` on a blocking thread once an argon2 slot is free.
async fn with_argon2<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let _slot = argon2_slots().acquire().await.map_err(|_| anyhow::anyhow!("argon2 slots closed"))?;
    tokio::task::spawn_blocking(work).await.map_err(|e| anyhow::anyhow!("argon2 task: {e}"))
}

/// A slow salted argon2id hash, in PHC string form.
pub async fn hash_secret(secret: &str) -> anyhow::Result<String> {
    let secret = secret.to_owned();
    with_argon2(move || hash_now(&secret)).await?
}

pub async fn verify_secret(secret: &str, phc: &str) -> bool {
    let (secret, phc) = (secret.to_owned(), phc.to_owned());
    with_argon2(move || verify_now(&secret, &phc)).await.unwrap_or(false)
}

/// Spends the same time as a real verification, so an unknown username answers no
/// faster than a wrong password.
pub async fn verify_against_nothing(secret: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let secret = secret.to_owned();
    let _ = with_argon2(move || {
        let phc = DUMMY.get_or_init(|| hash_now("ream-timing-equaliser").expect("argon2"));
        verify_now(&secret, phc)
    })
    .await;
}

fn hash_now(secret: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))
}

fn verify_now(secret: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => Argon2::default().verify_password(secret.as_bytes(), &hash).is_ok(),
        Err(_) => false,
    }
}

/// A new bearer token: 256 random bits, with a readable prefix for secret scanners.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// How a token or one-time code is kept: it carries its own entropy, so a fast hash is
/// enough to make a stolen database useless.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A PIN of `len` random digits.
pub fn random_pin(len: u8) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..len).map(|_| char::from(b'0' + rng.gen_range(0..10))).collect()
}

/// An enrolment code a person can type: 16 characters from an alphabet without look-alikes
/// (80 bits), grouped by four.
pub fn enrolment_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    let chars: Vec<char> = (0..16).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

/// Enrolment codes are compared without their dashes and case, as people type them.
pub fn normalise_enrolment_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_only_their_secret_and_are_salted() {
        let a = hash_secret("1234").await.unwrap();
        let b = hash_secret("1234").await.unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify_secret("1234", &a).await);
        assert!(!verify_secret("1235", &a).await);
        assert!(!verify_secret("1234", "not a hash").await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_hashes_takes_no_more_than_its_slots_at_once() {
        static BUSY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        static MOST: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let slots = argon2_slots().available_permits();
        let burst = (0..slots * 4).map(|_| {
            tokio::spawn(with_argon2(|| {
                use std::sync::atomic::Ordering::SeqCst;
                let now = BUSY.fetch_add(1, SeqCst) + 1;
                MOST.fetch_max(now, SeqCst);
                let _ = hash_now("1234");
                BUSY.fetch_sub(1, SeqCst);
            }))
        });
        for task in burst.collect::<Vec<_>>() {
            task.await.unwrap().unwrap();
        }
        let most = MOST.load(std::sync::atomic::Ordering::SeqCst);
        assert!(most >= 1 && most <= slots, "{most} at once with {slots} slots");
    }

    #[test]
    fn lookups_depend_on_domain_secret_and_key() {
        let k = ServerKey::for_tests();
        assert_eq!(k.lookup("pin", "1234"), k.lookup("pin", "1234"));
        assert_ne!(k.lookup("pin", "1234"), k.lookup("card", "1234"));
        assert_ne!(k.lookup("pin", "1234"), k.lookup("pin", "1235"));
        assert_ne!(k.lookup("pin", "1234"), ServerKey([8; 32]).lookup("pin", "1234"));
    }

    #[test]
    fn key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let a = ServerKey::load_or_create(&path).unwrap();
        let b = ServerKey::load_or_create(&path).unwrap();
        assert_eq!(a.lookup("x", "y"), b.lookup("x", "y"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn generated_secrets_have_their_shape() {
        let pin = random_pin(6);
        assert_eq!(pin.len(), 6);
        assert!(pin.bytes().all(|b| b.is_ascii_digit()));
        let code = enrolment_code();
        assert_eq!(code.len(), 19);
        assert_eq!(normalise_enrolment_code(&code.to_lowercase()).len(), 16);
        assert_ne!(new_token("x_"), new_token("x_"));
    }
}
