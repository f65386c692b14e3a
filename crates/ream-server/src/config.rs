//! The server's configuration file (TOML). Every field has a default, so an empty file
//! is a working loopback server with its data in `./ream-data`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ream_wire::{LoginMethod, LoginPolicy, RememberOption};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on. Loopback by default: exposing the server is a decision.
    pub listen: SocketAddr,
    /// Where the SQLite database, the server key and generated certificates live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; a SQLite file in `data_dir` when absent.
    pub database_url: Option<String>,
    /// The file holding the server's secret key (PIN/card lookup). Several instances
    /// sharing one PostgreSQL database must share it. `data_dir/server.key` by default.
    pub secret_key_file: Option<PathBuf>,
    pub server_name: String,
    pub currency: String,
    /// The queue of jobs that name none (a server with one queue needs no default).
    pub default_queue: Option<String>,
    /// The largest document accepted, in bytes.
    pub max_job_bytes: u64,
    /// How long a pull queue keeps a printed job's document for reprints.
    pub reprint_hours: i64,
    /// How long a job may wait, held or for its dialog's answers, before it expires (a
    /// queue may set its own).
    pub held_hours: i64,
    /// The most the documents of one user's jobs may take in the server's spool.
    pub max_user_spool_bytes: u64,
    pub tls: TlsConfig,
    pub login: LoginConfig,
    pub security: SecurityConfig,
    pub cluster: ClusterConfig,
}

/// Several instances serving one PostgreSQL database (`[cluster]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// This instance's name among the others (letters, digits, `.`, `_`, `-`). Setting it
    /// turns cluster mode on: the database must be PostgreSQL, and the server and spool
    /// keys must be given (files, or `REAM_SERVER_KEY` / `REAM_SPOOL_KEY`), never made
    /// here: a key one instance made would be its alone, and PIN and card lookups or
    /// documents made under it would fail on the others.
    pub instance_id: Option<String>,
    /// The file holding the key spooled documents are encrypted under, shared by every
    /// instance. `data_dir/spool.key` by default.
    pub spool_key_file: Option<PathBuf>,
    /// Where documents are spooled (encrypted): a folder every instance reaches (a
    /// network file system). `data_dir/spool` by default.
    pub spool_dir: Option<PathBuf>,
    /// How long an instance holds a job it delivers without renewing its lease (it
    /// renews every third of it): after an instance dies, its jobs wait this long
    /// before another takes them up.
    pub lease_seconds: u64,
    /// On PostgreSQL, changes reach the push channel as the database announces them;
    /// one announced while this instance's listening connection was down is lost, so the
    /// watched accounts are read again after each reconnection and every this many
    /// seconds besides.
    pub push_catch_up_seconds: u64,
    /// Documents in an S3-compatible object store rather than in `spool_dir`.
    pub s3: Option<S3Config>,
}

/// An S3-compatible object store for the spooled documents (`[cluster.s3]`). Its
/// credentials come from the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`),
/// never from this file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    /// The store's URL (`http://…` allowed), for a store other than Amazon's.
    pub endpoint: Option<String>,
    #[serde(default = "default_region")]
    pub region: String,
    /// The folder within the bucket.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// How long one request to the store is tried again (with growing pauses) before it
    /// counts as failed: then an upload is answered "unavailable, try again", and a
    /// delivery waits and reads the document again within its patience.
    #[serde(default = "default_retry_seconds")]
    pub retry_seconds: u64,
}

fn default_retry_seconds() -> u64 {
    180
}

fn default_region() -> String {
    "us-east-1".into()
}

fn default_prefix() -> String {
    "spool".into()
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            instance_id: None,
            spool_key_file: None,
            spool_dir: None,
            lease_seconds: 30,
            push_catch_up_seconds: 30,
            s3: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain. With neither this nor `key`, a loopback server speaks plain
    /// HTTP and any other address gets a generated self-signed certificate.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Serve plain HTTP even on a non-loopback address (behind a TLS-terminating proxy).
    pub disable: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginConfig {
    pub methods: Vec<LoginMethod>,
    /// The remember-me durations offered at login; empty disables remember-me.
    pub remember: Vec<RememberOption>,
    pub pin_min_length: u8,
    pub pin_max_length: u8,
    pub pin_generated_length: u8,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Failed attempts on one identity before it is locked.
    pub max_failed_attempts: i64,
    /// Failed attempts from one address (any identity) before it is locked.
    pub max_failed_attempts_per_source: i64,
    /// How long a lock lasts, and the window failures are counted in.
    pub lockout_seconds: i64,
    pub access_token_seconds: i64,
    /// Lifetime of a session that is not remembered; every refresh extends it.
    pub session_idle_seconds: i64,
    /// For how long after a refresh the replaced refresh token is still honoured (once
    /// more, replacing the tokens again) instead of being taken for theft: a client killed
    /// or cut off before it kept the new token would otherwise lose its login.
    pub refresh_retry_seconds: i64,
    /// How far a workstation proof's time may be from the server's.
    pub proof_max_skew_seconds: i64,
    /// Reverse proxies (addresses or networks) whose `Forwarded` / `X-Forwarded-For`
    /// says who the client is; anyone else's is ignored.
    pub trusted_proxies: Vec<String>,
    pub enrolment_code_seconds: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8631)),
            data_dir: PathBuf::from("ream-data"),
            database_url: None,
            secret_key_file: None,
            server_name: "Ream".into(),
            currency: "EUR".into(),
            default_queue: None,
            max_job_bytes: 4 << 30,
            reprint_hours: 24,
            held_hours: 72,
            max_user_spool_bytes: 4 << 30,
            tls: TlsConfig::default(),
            login: LoginConfig::default(),
            security: SecurityConfig::default(),
            cluster: ClusterConfig::default(),
        }
    }
}

fn remember(id: &str, label: &str, seconds: Option<i64>) -> RememberOption {
    RememberOption { id: id.into(), label: label.into(), seconds }
}

impl Default for LoginConfig {
    fn default() -> Self {
        LoginConfig {
            // The user list logs in without a secret: an administrator turns it on for
            // trusted workstations (`[login] methods`).
            methods: LoginMethod::ALL.into_iter().filter(|m| *m != LoginMethod::UserList).collect(),
            remember: vec![
                remember("1h", "1 hour", Some(3_600)),
                remember("8h", "8 hours", Some(8 * 3_600)),
                remember("1d", "1 day", Some(86_400)),
                remember("1w", "1 week", Some(7 * 86_400)),
                remember("always", "Always", None),
            ],
            pin_min_length: 4,
            pin_max_length: 16,
            pin_generated_length: 6,
        }
    }
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            max_failed_attempts: 5,
            max_failed_attempts_per_source: 10,
            lockout_seconds: 15 * 60,
            access_token_seconds: 15 * 60,
            session_idle_seconds: 24 * 3_600,
            refresh_retry_seconds: 30,
            proof_max_skew_seconds: 60,
            trusted_proxies: Vec::new(),
            enrolment_code_seconds: 24 * 3_600,
        }
    }
}

impl Config {
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        let mut config: Config =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("invalid config {}: {e}", path.display()))?;
        // Relative paths in the file are relative to the file, not to the caller's cwd.
        if let Some(dir) = path.parent() {
            config.resolve_relative_to(dir);
        }
        config.validate()?;
        Ok(config)
    }

    fn resolve_relative_to(&mut self, dir: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        fix(&mut self.data_dir);
        if let Some(p) = self.secret_key_file.as_mut() {
            fix(p);
        }
        if let Some(p) = self.cluster.spool_key_file.as_mut() {
            fix(p);
        }
        if let Some(p) = self.cluster.spool_dir.as_mut() {
            fix(p);
        }
        if let Some(p) = self.tls.cert.as_mut() {
            fix(p);
        }
        if let Some(p) = self.tls.key.as_mut() {
            fix(p);
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        let l = &self.login;
        anyhow::ensure!(
            4 <= l.pin_min_length && l.pin_min_length <= l.pin_max_length && l.pin_max_length <= 16,
            "login.pin_min_length and pin_max_length must satisfy 4 <= min <= max <= 16"
        );
        anyhow::ensure!(
            (l.pin_min_length..=l.pin_max_length).contains(&l.pin_generated_length),
            "login.pin_generated_length must lie between pin_min_length and pin_max_length"
        );
        for (i, r) in l.remember.iter().enumerate() {
            anyhow::ensure!(!r.id.is_empty(), "login.remember[{i}] needs an id");
            anyhow::ensure!(
                r.seconds.is_none_or(|s| s > 0),
                "login.remember[{i}].seconds must be positive (leave it out for 'always')"
            );
            anyhow::ensure!(
                l.remember[..i].iter().all(|o| o.id != r.id),
                "login.remember has the id {:?} twice",
                r.id
            );
        }
        anyhow::ensure!(self.reprint_hours >= 0, "reprint_hours cannot be negative");
        anyhow::ensure!(self.held_hours > 0, "held_hours must be positive");
        anyhow::ensure!(self.max_user_spool_bytes > 0, "max_user_spool_bytes must be positive");
        anyhow::ensure!(self.max_job_bytes > 0, "max_job_bytes must be positive");
        let s = &self.security;
        for (name, v) in [
            ("max_failed_attempts", s.max_failed_attempts),
            ("max_failed_attempts_per_source", s.max_failed_attempts_per_source),
            ("lockout_seconds", s.lockout_seconds),
            ("access_token_seconds", s.access_token_seconds),
            ("session_idle_seconds", s.session_idle_seconds),
            ("proof_max_skew_seconds", s.proof_max_skew_seconds),
            ("enrolment_code_seconds", s.enrolment_code_seconds),
        ] {
            anyhow::ensure!(v > 0, "security.{name} must be positive");
        }
        for p in &s.trusted_proxies {
            p.parse::<crate::proxies::Net>().map_err(|e| anyhow::anyhow!("security.trusted_proxies: {e}"))?;
        }
        anyhow::ensure!(
            (1..=3_600).contains(&self.cluster.lease_seconds),
            "cluster.lease_seconds must be between 1 and 3600"
        );
        anyhow::ensure!(
            (1..=86_400).contains(&self.cluster.push_catch_up_seconds),
            "cluster.push_catch_up_seconds must be between 1 and 86400"
        );
        anyhow::ensure!(
            self.cluster.s3.is_none() || self.cluster.spool_dir.is_none(),
            "cluster.spool_dir and cluster.s3 both say where documents go: keep one"
        );
        if let Some(id) = &self.cluster.instance_id {
            anyhow::ensure!(
                !id.is_empty()
                    && id.len() <= 64
                    && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')),
                "cluster.instance_id must be 1 to 64 letters, digits, '.', '_' or '-'"
            );
            let url = self.database_url();
            anyhow::ensure!(
                url.starts_with("postgres://") || url.starts_with("postgresql://"),
                "cluster.instance_id is set: the instances must share a PostgreSQL database (database_url = \"postgres://…\")"
            );
        }
        Ok(())
    }

    /// Whether this is one of several instances (`[cluster] instance_id`).
    pub fn clustered(&self) -> bool {
        self.cluster.instance_id.is_some()
    }

    pub fn spool_dir(&self) -> PathBuf {
        self.cluster.spool_dir.clone().unwrap_or_else(|| self.data_dir.join("spool"))
    }

    /// The name this instance delivers under: `instance_id`, or `single`.
    pub fn instance(&self) -> &str {
        self.cluster.instance_id.as_deref().unwrap_or("single")
    }

    pub fn spool_key_path(&self) -> PathBuf {
        self.cluster.spool_key_file.clone().unwrap_or_else(|| self.data_dir.join("spool.key"))
    }

    /// `security.trusted_proxies`, parsed (`validate` checked them).
    pub fn trusted_proxies(&self) -> Vec<crate::proxies::Net> {
        self.security.trusted_proxies.iter().filter_map(|p| p.parse().ok()).collect()
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("ream.sqlite3").display()),
        }
    }

    pub fn secret_key_path(&self) -> PathBuf {
        self.secret_key_file.clone().unwrap_or_else(|| self.data_dir.join("server.key"))
    }

    pub fn policy(&self) -> LoginPolicy {
        LoginPolicy {
            methods: self.login.methods.clone(),
            remember_options: self.login.remember.clone(),
            pin_min_length: self.login.pin_min_length,
            pin_max_length: self.login.pin_max_length,
            pin_generated_length: self.login.pin_generated_length,
            server_name: self.server_name.clone(),
            currency: self.currency.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_a_loopback_server() {
        let c: Config = toml::from_str("").unwrap();
        c.validate().unwrap();
        assert!(c.listen.ip().is_loopback());
        assert_eq!(c.security.max_failed_attempts, 5);
        assert_eq!(c.security.lockout_seconds, 900);
        assert_eq!(c.login.pin_generated_length, 6);
    }

    #[test]
    fn bad_policies_are_refused_with_the_field_named() {
        for (toml, field) in [
            ("[login]\npin_min_length = 3", "pin_min_length"),
            ("[login]\npin_generated_length = 20", "pin_generated_length"),
            ("[security]\nlockout_seconds = 0", "lockout_seconds"),
            ("[[login.remember]]\nid = \"x\"\nlabel = \"X\"\nseconds = 0", "seconds"),
        ] {
            let c: Config = toml::from_str(toml).unwrap();
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(field), "{toml:?} gave {err:?}");
        }
        assert!(toml::from_str::<Config>("typo = 1").is_err());
    }

    #[test]
    fn the_readmes_cluster_configuration_is_one() {
        let readme = include_str!("../../../README.md");
        let start = readme.find("# /etc/ream/server.toml on each instance").expect("the README's example");
        let block = &readme[start..];
        let block = &block[..block.find("```").expect("its end")];
        let c: Config = toml::from_str(block).unwrap();
        c.validate().unwrap();
        let s3 = c.cluster.s3.as_ref().expect("documents in an object store");
        assert_eq!(
            (s3.bucket.as_str(), s3.region.as_str(), s3.prefix.as_str()),
            ("ream-spool", "us-east-1", "spool")
        );
        assert!(c.clustered());
        assert_eq!(c.trusted_proxies().len(), 1);
    }

    #[test]
    fn documents_go_to_one_place() {
        let both = "[cluster]\nspool_dir = \"/srv/spool\"\n[cluster.s3]\nbucket = \"b\"\n";
        let err = toml::from_str::<Config>(both).unwrap().validate().unwrap_err().to_string();
        assert!(err.contains("keep one"), "{err}");
    }
}
