//! The engine: one value that a front end (the desktop app, the terminal client) holds
//! and asks. It keeps the connection, the identified user and the account, tells its
//! front end what changed ([`ClientEvent`]) and follows the server's push channel.
//!
//! Promises: a remembered login's refresh token lives only in the OS keyring and is
//! deleted when the login ends (logout, expiry, revocation); a login that is not
//! remembered leaves nothing behind on disk; when the server cannot be reached the last
//! known account stays visible, marked stale, and the engine reconnects by itself; the
//! user's front ends share one login (see [`crate::agent`]), and no two of them ever spend
//! the same refresh token.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt, TryStreamExt};
use ream_wire::{
    AccountView, ClientEvent, ClientStatus, Connection, Credentials, DirectoryEntry, EnrolRequest, ErrorCode,
    JobSubmission, LoginInput, LoginMethod, LoginPolicy, LoginRequest, LogoutCause, ProofPurpose, PushEvent,
    RememberOption, SessionTokens, TransactionPage, UserSummary,
};
use tokio::sync::{broadcast, watch};
use tokio_tungstenite::tungstenite::Message;

use ream_print::spool::SpoolKey;

use crate::api::Api;
use crate::error::{ClientError, Result};
use crate::secrets::{session_entry, workstation_key_entry, RememberedSession, SecretStore};
use crate::settings::{cache_dir, Settings};
use crate::tls::Trust;
use crate::workstation::{now_ms, os_username, WorkstationKey};

mod local;
mod offline;
mod printing;
mod push;
mod session;

pub use offline::typed_printer;

/// How `connect` went.
#[derive(Debug, Clone)]
pub struct Connected {
    pub policy: LoginPolicy,
    /// The fingerprint the user accepted, when the certificate was pinned now.
    pub pinned: Option<String>,
}

/// How `start` went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// A remembered login was restored.
    Restored(UserSummary),
    /// The user's running client (`ream run`, the desktop app) lends its login.
    Shared(UserSummary),
    /// Logged in automatically as the OS user.
    SingleSignOn(UserSummary),
    /// Nobody is identified; a `LoginRequired` event was sent.
    LoginRequired,
    /// The remembered login had ended; it was deleted.
    Expired,
}

struct Session {
    tokens: SessionTokens,
    /// False once the access token is known to be useless (restored from the keyring).
    access_valid: bool,
    /// Lent by this user's running client (see [`crate::agent`]): no refresh token here;
    /// a new access token is asked of that client, never refreshed by this process.
    lent: bool,
}

/// The keyring entry of the key that encrypts this workstation's spool.
const SPOOL_KEY_ENTRY: &str = "spool-key";

struct Inner {
    spool_key: tokio::sync::Mutex<Option<SpoolKey>>,
    settings: Mutex<Settings>,
    save_settings: bool,
    secrets: Arc<dyn SecretStore>,
    api: Mutex<Option<Api>>,
    policy: Mutex<Option<LoginPolicy>>,
    session: tokio::sync::Mutex<Option<Session>>,
    status: watch::Sender<ClientStatus>,
    events: broadcast::Sender<ClientEvent>,
    /// Held jobs this client is sending to a printer right now.
    printing_here: Mutex<std::collections::HashSet<String>>,
    /// This engine lends its login to the user's other front ends ([`crate::agent`]).
    agent: std::sync::atomic::AtomicBool,
    /// Grows with every login attempt: a job waiting for a login waits on while the user
    /// is trying (a mistyped PIN, a lockout sat out).
    login_attempts: watch::Sender<u64>,
    /// The server's offline terms, as last fetched in this run.
    terms: Mutex<Option<ream_wire::OfflineTerms>>,
    /// Jobs offered for fallback printing, waiting for the user's answer.
    offers: offline::Offers,
    /// One journal writer (or replayer) at a time.
    journal_lock: tokio::sync::Mutex<()>,
    /// The port the local printer listens on (0 until it does).
    local_port: std::sync::atomic::AtomicU16,
    /// The largest document the server takes, as it last said (0: not known yet).
    max_job_bytes: std::sync::atomic::AtomicU64,
    /// Opens the front end's window, when it has one (the desktop app); false when it
    /// cannot (the app is quitting).
    window: std::sync::OnceLock<Box<dyn Fn() -> bool + Send + Sync>>,
}

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

const EMPTY_STATUS: ClientStatus = ClientStatus {
    server: None,
    connection: Connection::NotConfigured,
    user: None,
    method: None,
    remember: None,
    session_ends_at_ms: None,
    account: None,
    account_stale: false,
    account_as_of_ms: None,
    workstation_id: None,
    revision: 0,
    offline_pending: 0,
};

impl Engine {
    /// An engine over these settings, keeping its secrets in `secrets`. With
    /// `save_settings`, changes (server, pin, enrolment) are written to the settings file.
    pub fn new(settings: Settings, secrets: Arc<dyn SecretStore>, save_settings: bool) -> Engine {
        let mut status = EMPTY_STATUS.clone();
        status.server = settings.server.clone();
        status.workstation_id = settings.workstation_id.clone();
        if settings.server.is_some() {
            status.connection = Connection::Connecting;
        }
        let (events, _) = broadcast::channel(256);
        Engine {
            inner: Arc::new(Inner {
                spool_key: tokio::sync::Mutex::new(None),
                settings: Mutex::new(settings),
                save_settings,
                secrets,
                api: Mutex::new(None),
                policy: Mutex::new(None),
                session: tokio::sync::Mutex::new(None),
                status: watch::channel(status).0,
                events,
                printing_here: Mutex::default(),
                agent: std::sync::atomic::AtomicBool::new(false),
                login_attempts: watch::channel(0).0,
                terms: Mutex::new(None),
                offers: Mutex::default(),
                journal_lock: tokio::sync::Mutex::new(()),
                local_port: std::sync::atomic::AtomicU16::new(0),
                max_job_bytes: std::sync::atomic::AtomicU64::new(0),
                window: std::sync::OnceLock::new(),
            }),
        }
    }

    pub fn settings(&self) -> Settings {
        self.inner.settings.lock().expect("lock").clone()
    }

    pub fn status(&self) -> ClientStatus {
        self.inner.status.borrow().clone()
    }

    pub fn watch_status(&self) -> watch::Receiver<ClientStatus> {
        self.inner.status.subscribe()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ClientEvent> {
        self.inner.events.subscribe()
    }

    fn emit(&self, event: ClientEvent) {
        let _ = self.inner.events.send(event);
    }

    fn update(&self, change: impl FnOnce(&mut ClientStatus)) {
        let mut changed = false;
        self.inner.status.send_if_modified(|s| {
            let before = s.clone();
            change(s);
            changed = *s != before;
            if changed {
                s.revision += 1;
            }
            changed
        });
        if changed {
            self.emit(ClientEvent::Status { status: Box::new(self.status()) });
        }
    }

    fn server(&self) -> Result<String> {
        self.inner.settings.lock().expect("lock").server_url()
    }

    fn trust(settings: &Settings) -> Trust {
        match (&settings.pinned_fingerprint, &settings.ca_file) {
            (Some(pin), _) => Trust::Pinned(pin.clone()),
            (None, Some(ca)) => Trust::CaFile(ca.clone()),
            (None, None) => Trust::System,
        }
    }

    fn api(&self) -> Result<Api> {
        let mut api = self.inner.api.lock().expect("lock");
        if let Some(a) = api.as_ref() {
            return Ok(a.clone());
        }
        let settings = self.settings();
        let server = settings.server_url()?;
        crate::settings::check_server_url(&server, settings.allow_insecure_http)?;
        let made = Api::new(&server, &Self::trust(&settings))?;
        *api = Some(made.clone());
        Ok(made)
    }

    fn save(&self, change: impl FnOnce(&mut Settings)) -> Result<()> {
        let mut settings = self.inner.settings.lock().expect("lock");
        change(&mut settings);
        *self.inner.api.lock().expect("lock") = None;
        if self.inner.save_settings {
            settings.save()?;
        }
        Ok(())
    }

    /// Notes the outcome of talking to the server in the status.
    fn observe<T>(&self, result: Result<T>) -> Result<T> {
        match &result {
            Err(ClientError::Unreachable(reason) | ClientError::AnswerLost(reason)) => {
                self.set_offline(reason)
            }
            Err(e @ ClientError::CertificateChanged { .. }) => self.set_offline(&e.to_string()),
            Ok(_) => self.set_online(),
            Err(_) => {}
        }
        result
    }

    fn set_offline(&self, reason: &str) {
        if !matches!(self.status().connection, Connection::Offline { .. }) {
            self.emit(ClientEvent::ServerUnreachable { reason: reason.to_string() });
        }
        self.update(|s| {
            if !matches!(s.connection, Connection::Offline { .. }) {
                s.connection = Connection::Offline { since_ms: now_ms(), reason: reason.to_string() };
            }
            if s.account.is_some() {
                s.account_stale = true;
            }
        });
    }

    fn set_online(&self) {
        let was_offline = matches!(self.status().connection, Connection::Offline { .. });
        self.update(|s| s.connection = Connection::Online);
        if was_offline {
            self.emit(ClientEvent::ServerBack);
        }
    }

    // ----- connection and trust -----

    /// Sets the server. An `https` server whose certificate the system (or `ca_file`) does
    /// not vouch for is shown to the user by its fingerprint: `confirm` decides, and an
    /// accepted certificate is pinned; a different one is refused from then on.
    pub async fn connect(
        &self,
        server: &str,
        ca_file: Option<std::path::PathBuf>,
        confirm: impl AsyncFnOnce(String) -> bool,
    ) -> Result<Connected> {
        let server = server.trim().trim_end_matches('/').to_string();
        let settings = self.settings();
        crate::settings::check_server_url(&server, settings.allow_insecure_http)?;
        let fixed = settings.locked;
        if fixed.server
            && settings.server.as_deref().map(|s| s.trim_end_matches('/')) != Some(server.as_str())
        {
            return Err(ClientError::Config(format!(
                "this computer's Ream server is set by its administrator ({}); it cannot be changed here",
                settings.server.unwrap_or_default()
            )));
        }
        // Where the administrator fixed the server's trust, it is theirs: no other CA file,
        // no certificate accepted at the prompt.
        let ca_file = if fixed.trust { settings.ca_file.clone() } else { ca_file };
        let trust = match (&settings.pinned_fingerprint, fixed.trust) {
            (Some(pin), true) => Trust::Pinned(pin.clone()),
            _ => ca_file.clone().map(Trust::CaFile).unwrap_or(Trust::System),
        };
        let (policy, pinned) = match Api::new(&server, &trust)?.policy().await {
            Ok(policy) => (policy, settings.pinned_fingerprint.clone().filter(|_| fixed.trust)),
            Err(ClientError::CertificateUntrusted(_)) if ca_file.is_none() && !fixed.trust => {
                let inspect = Api::new(&server, &Trust::Inspect)?;
                inspect.policy().await?;
                let fingerprint = inspect
                    .presented_fingerprint()
                    .ok_or_else(|| ClientError::Protocol("no certificate seen".into()))?;
                if !confirm(fingerprint.clone()).await {
                    return Err(ClientError::Declined);
                }
                let policy = Api::new(&server, &Trust::Pinned(fingerprint.clone()))?.policy().await?;
                (policy, Some(fingerprint))
            }
            Err(e) => return Err(e),
        };
        let same_server = self.settings().server.as_deref() == Some(server.as_str());
        self.save(|s| {
            if !same_server {
                s.workstation_id = None;
            }
            s.server = Some(server.clone());
            s.ca_file = ca_file;
            s.pinned_fingerprint = pinned.clone();
        })?;
        *self.inner.policy.lock().expect("lock") = Some(policy.clone());
        let workstation_id = self.settings().workstation_id;
        self.update(|s| {
            s.server = Some(server);
            s.connection = Connection::Online;
            s.workstation_id = workstation_id;
        });
        Ok(Connected { policy, pinned })
    }

    /// The server's login policy (asked once, then remembered for this run).
    pub async fn policy(&self) -> Result<LoginPolicy> {
        if let Some(p) = self.inner.policy.lock().expect("lock").clone() {
            return Ok(p);
        }
        let policy = self.observe(self.api()?.policy().await)?;
        *self.inner.policy.lock().expect("lock") = Some(policy.clone());
        Ok(policy)
    }

    /// The login policy as this workstation can use it, for a front end to offer: the user
    /// list and single sign-on need the workstation's key, so until it is enrolled they
    /// are left out — unless nothing else is left, when trying one says what is missing.
    pub async fn usable_policy(&self) -> Result<LoginPolicy> {
        let mut policy = self.policy().await?;
        if self.settings().workstation_id.is_none() {
            let needs_key = |m: &LoginMethod| matches!(m, LoginMethod::UserList | LoginMethod::Sso);
            if policy.methods.iter().any(|m| !needs_key(m)) {
                policy.methods.retain(|m| !needs_key(m));
            }
        }
        Ok(policy)
    }

    /// The remember-me durations to offer: none when remember-me was disabled at install.
    pub async fn remember_options(&self) -> Result<Vec<RememberOption>> {
        if !self.settings().remember_me {
            return Ok(Vec::new());
        }
        Ok(self.policy().await?.remember_options)
    }

    /// Whether `remember` is one of the server's remember-me durations, said before any
    /// secret is asked for.
    pub async fn check_remember(&self, remember: &str) -> Result<()> {
        if !self.settings().remember_me {
            return Err(ClientError::Config("remember-me is disabled on this workstation".into()));
        }
        let offered = self.remember_options().await?;
        if offered.iter().any(|o| o.id == remember) {
            return Ok(());
        }
        let ids: Vec<&str> = offered.iter().map(|o| o.id.as_str()).collect();
        Err(ClientError::Config(if ids.is_empty() {
            format!("remember-me ({remember}) is not offered by this server")
        } else {
            format!("{remember} is not a remember-me duration of this server: it offers {}", ids.join(", "))
        }))
    }

    /// Points the client at `server` for a front end that asks about certificates itself
    /// (the desktop app): a certificate nobody vouches for is accepted only when it is
    /// `fingerprint` (or the one already pinned for this server); otherwise the call fails
    /// with [`ClientError::CertificateUnconfirmed`], naming the presented fingerprint to
    /// show the user. Moving to another server ends the login on the old one first. Once
    /// connected, a user is identified again as at start (remembered login, SSO, or a
    /// `LoginRequired` event).
    pub async fn set_server(&self, server: &str, fingerprint: Option<&str>) -> Result<Connected> {
        let server = server.trim().trim_end_matches('/').to_string();
        let settings = self.settings();
        let switching = settings.server.as_deref() != Some(server.as_str());
        let expected = match fingerprint {
            Some(f) => Some(f.to_string()),
            None if !switching => settings.pinned_fingerprint.clone(),
            None => None,
        };
        if switching && settings.server.is_some() && self.status().user.is_some() {
            self.logout().await?;
        }
        let presented = Mutex::new(None);
        let connected = self
            .connect(&server, None, async |seen: String| {
                let accepted = expected.as_deref().is_some_and(|e| crate::tls::same_fingerprint(e, &seen));
                *presented.lock().expect("lock") = Some(seen);
                accepted
            })
            .await;
        let connected = match connected {
            Err(ClientError::Declined) => {
                let fingerprint = presented.lock().expect("lock").clone().unwrap_or_default();
                return Err(ClientError::CertificateUnconfirmed { fingerprint });
            }
            other => other?,
        };
        if self.status().user.is_none() {
            self.start().await?;
        }
        Ok(connected)
    }

    /// The server's queues and how each identifies its users (public).
    pub async fn queues(&self) -> Result<Vec<ream_wire::QueueInfo>> {
        Ok(self.server_queues().await?.queues)
    }

    /// The server's queues, noting the largest document it takes.
    pub(crate) async fn server_queues(&self) -> Result<ream_wire::QueueInfoList> {
        let list = self.observe(self.api()?.queues().await)?;
        if let Some(max) = list.max_job_bytes {
            self.inner.max_job_bytes.store(max, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(list)
    }

    /// The largest document the server takes, once it has said (see [`Self::server_queues`]).
    pub fn max_job_bytes(&self) -> Option<u64> {
        match self.inner.max_job_bytes.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            max => Some(max),
        }
    }

    /// What the About screen shows.
    pub fn about(&self) -> ream_wire::About {
        let settings = self.settings();
        ream_wire::About {
            version: env!("CARGO_PKG_VERSION").to_string(),
            server: settings.server,
            server_fingerprint: settings.pinned_fingerprint,
            workstation_id: settings.workstation_id,
            os_user: os_username().unwrap_or_default(),
        }
    }

    /// The settings a desktop user sees and changes.
    pub fn desktop_settings(&self) -> ream_wire::DesktopSettings {
        let settings = self.settings();
        ream_wire::DesktopSettings {
            server: settings.server,
            language: settings.language,
            remember_me: settings.remember_me,
        }
    }

    /// Chooses the interface language (one of [`crate::settings::LANGUAGES`]), or `None`
    /// to follow the operating system's locale; kept in the settings file.
    pub async fn set_language(&self, language: Option<&str>) -> Result<ream_wire::DesktopSettings> {
        if let Some(l) = language.filter(|l| !crate::settings::LANGUAGES.contains(l)) {
            let known = crate::settings::LANGUAGES.join(", ");
            return Err(ClientError::Config(format!("unknown language {l:?}: one of {known}, or none")));
        }
        self.save(|s| s.language = language.map(str::to_string))?;
        Ok(self.desktop_settings())
    }

    /// Enrols this workstation with a one-time code from an administrator. The private
    /// key goes to the OS keyring; the settings keep only the workstation's id.
    pub async fn enrol(&self, code: &str, name: &str) -> Result<String> {
        let server = self.server()?;
        let key = WorkstationKey::generate();
        let req = EnrolRequest {
            code: code.into(),
            name: name.into(),
            public_key: WorkstationKey::public_key_b64(&key),
        };
        let done = self.observe(self.api()?.enrol(&req).await)?;
        self.secret_set(&workstation_key_entry(&server), &WorkstationKey::secret_b64(&key)).await?;
        self.save(|s| s.workstation_id = Some(done.workstation_id.clone()))?;
        let id = done.workstation_id.clone();
        self.update(|s| s.workstation_id = Some(id));
        Ok(done.workstation_id)
    }

    async fn workstation_key(&self) -> Result<WorkstationKey> {
        let server = self.server()?;
        let id = self.settings().workstation_id.ok_or(ClientError::NotEnrolled)?;
        let secret =
            self.secret_get(&workstation_key_entry(&server)).await?.ok_or(ClientError::NotEnrolled)?;
        WorkstationKey::from_secret_b64(id, &secret)
    }

    // ----- keyring, off the async threads -----

    async fn secret_get(&self, name: &str) -> Result<Option<String>> {
        let (store, name) = (self.inner.secrets.clone(), name.to_string());
        keyring_call(tokio::task::spawn_blocking(move || store.get(&name))).await
    }

    async fn secret_set(&self, name: &str, value: &str) -> Result<()> {
        let (store, name, value) = (self.inner.secrets.clone(), name.to_string(), value.to_string());
        keyring_call(tokio::task::spawn_blocking(move || store.set(&name, &value))).await
    }

    async fn secret_delete(&self, name: &str) -> Result<()> {
        let (store, name) = (self.inner.secrets.clone(), name.to_string());
        tokio::task::spawn_blocking(move || store.delete(&name))
            .await
            .map_err(|e| ClientError::Keyring(e.to_string()))?
    }
}

// ----- the account cache: only for remembered logins, so an offline start has something
// to show; deleted with the login. Readable by the user only.

/// How long a keyring call may take before it counts as failed: a Secret Service that
/// does not answer must not hold a print job (or the spooler behind it) for ever.
const KEYRING_PATIENCE: Duration = Duration::from_secs(10);

async fn keyring_call<T>(call: tokio::task::JoinHandle<Result<T>>) -> Result<T> {
    match tokio::time::timeout(KEYRING_PATIENCE, call).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(ClientError::Keyring(e.to_string())),
        Err(_) => Err(ClientError::Keyring(format!(
            "the keyring did not answer in {} s",
            KEYRING_PATIENCE.as_secs()
        ))),
    }
}

fn account_cache_path(server: &str) -> std::path::PathBuf {
    crate::files::per_server("account", server)
}

fn write_account_cache(server: &str, account: &AccountView, as_of_ms: i64) {
    let json = serde_json::json!({"account": account, "as_of_ms": as_of_ms});
    let written = std::fs::create_dir_all(cache_dir()).and_then(|()| {
        crate::files::replace_synced(&account_cache_path(server), json.to_string().as_bytes())
    });
    if let Err(e) = written {
        tracing::warn!(error = %e, "cannot cache the account");
    }
}

fn read_account_cache(server: &str) -> Option<(AccountView, i64)> {
    let text = std::fs::read_to_string(account_cache_path(server)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some((serde_json::from_value(v["account"].clone()).ok()?, v["as_of_ms"].as_i64()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Memory(Mutex<std::collections::HashMap<String, String>>);

    impl SecretStore for Memory {
        fn get(&self, name: &str) -> Result<Option<String>> {
            Ok(self.0.lock().unwrap().get(name).cloned())
        }
        fn set(&self, name: &str, value: &str) -> Result<()> {
            self.0.lock().unwrap().insert(name.into(), value.into());
            Ok(())
        }
        fn delete(&self, name: &str) -> Result<()> {
            self.0.lock().unwrap().remove(name);
            Ok(())
        }
    }

    #[test]
    fn every_change_of_the_status_makes_a_newer_revision() {
        let engine = Engine::new(Settings::default(), Arc::new(Memory::default()), false);
        let mut events = engine.subscribe();
        let first = engine.status().revision;
        engine.update(|s| s.connection = Connection::Online);
        let online = engine.status();
        assert!(online.revision > first);
        // The event carries the status with its revision.
        match events.try_recv().unwrap() {
            ClientEvent::Status { status } => assert_eq!(*status, online),
            other => panic!("{other:?}"),
        }
        // Nothing changed: no new revision, no event.
        engine.update(|s| s.connection = Connection::Online);
        assert_eq!(engine.status().revision, online.revision);
        assert!(events.try_recv().is_err());
        engine.update(|s| s.account_stale = true);
        assert!(engine.status().revision > online.revision);
    }

    #[tokio::test]
    async fn a_server_the_administrator_fixed_or_plain_http_away_from_here_is_refused() {
        let fixed = Settings {
            server: Some("https://print.example:8631".into()),
            locked: crate::settings::Locked { server: true, trust: true, remember_me: false },
            ..Settings::default()
        };
        let engine = Engine::new(fixed, Arc::new(Memory::default()), false);
        let asked = std::sync::atomic::AtomicBool::new(false);
        let refused = engine
            .connect("https://elsewhere.example", None, async |_| {
                asked.store(true, std::sync::atomic::Ordering::SeqCst);
                true
            })
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("set by its administrator"), "{refused}");
        assert_eq!(engine.settings().server.as_deref(), Some("https://print.example:8631"));
        let engine = Engine::new(Settings::default(), Arc::new(Memory::default()), false);
        let refused = engine.connect("http://10.0.0.7:8631", None, async |_| true).await.unwrap_err();
        assert!(refused.to_string().contains("unencrypted"), "{refused}");
        assert!(!asked.load(std::sync::atomic::Ordering::SeqCst), "nothing asked, nothing contacted");
    }

    #[tokio::test]
    async fn the_language_is_one_the_desktop_speaks_or_none() {
        let engine = Engine::new(Settings::default(), Arc::new(Memory::default()), false);
        assert_eq!(engine.desktop_settings().language, None);
        assert_eq!(engine.set_language(Some("fr")).await.unwrap().language.as_deref(), Some("fr"));
        assert_eq!(engine.settings().language.as_deref(), Some("fr"));
        assert_eq!(engine.set_language(Some("de")).await.unwrap_err().code(), "CONFIG");
        assert_eq!(engine.settings().language.as_deref(), Some("fr"));
        assert_eq!(engine.set_language(None).await.unwrap().language, None);
    }

    fn policy(methods: &[LoginMethod]) -> LoginPolicy {
        LoginPolicy {
            methods: methods.to_vec(),
            remember_options: Vec::new(),
            pin_min_length: 4,
            pin_max_length: 16,
            pin_generated_length: 6,
            server_name: "Ream".into(),
            currency: "EUR".into(),
        }
    }

    /// An engine whose server's policy (offering `methods`) is known already.
    fn engine_offering(methods: &[LoginMethod], workstation_id: Option<&str>) -> Engine {
        let settings = Settings {
            server: Some("http://127.0.0.1:9".into()),
            workstation_id: workstation_id.map(str::to_string),
            ..Settings::default()
        };
        let engine = Engine::new(settings, Arc::new(Memory::default()), false);
        *engine.inner.policy.lock().unwrap() = Some(policy(methods));
        engine
    }

    #[tokio::test]
    async fn user_list_and_sso_are_offered_only_on_an_enrolled_workstation() {
        use LoginMethod::*;
        let unenrolled = engine_offering(&LoginMethod::ALL, None);
        assert_eq!(unenrolled.usable_policy().await.unwrap().methods, [Pin, Card, CardPin, Password]);
        // The server's own policy is unchanged (start-up, the terminal's `policy`).
        assert_eq!(unenrolled.policy().await.unwrap().methods, LoginMethod::ALL);
        let enrolled = engine_offering(&LoginMethod::ALL, Some("w-1"));
        assert_eq!(enrolled.usable_policy().await.unwrap().methods, LoginMethod::ALL);
        // Nothing else offered: kept, so that trying says the workstation is not enrolled.
        let only_keyed = engine_offering(&[UserList, Sso], None);
        assert_eq!(only_keyed.usable_policy().await.unwrap().methods, [UserList, Sso]);
    }

    /// A job waits for its user's login from the prompt, and again from every try: a user
    /// who mistypes a PIN (or sits out a lockout) past the wait still gets the job printed.
    #[tokio::test(start_paused = true)]
    async fn a_job_waits_for_a_login_while_the_user_keeps_trying() {
        let settings = Settings {
            server: Some("http://127.0.0.1:9".into()),
            login_wait_seconds: 3,
            ..Settings::default()
        };
        let engine = Engine::new(settings, Arc::new(Memory::default()), false);
        let job = JobSubmission { name: "a.pdf".into(), copies: 1, ..JobSubmission::default() };
        let waiting = tokio::spawn({
            let engine = engine.clone();
            async move { engine.submit_spooled(&job, std::path::Path::new("/nowhere.spool")).await }
        });
        tokio::time::sleep(Duration::from_secs(2)).await;
        engine.inner.login_attempts.send_modify(|n| *n += 1);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!waiting.is_finished(), "a try starts the wait again");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let refused = waiting.await.unwrap().unwrap_err();
        assert_eq!(refused.to_string(), "nobody logged in within 3 s");
    }

    #[tokio::test]
    async fn about_names_the_server_and_its_pinned_certificate() {
        let settings = Settings {
            server: Some("https://print.example".into()),
            pinned_fingerprint: Some("AB:CD".into()),
            ..Settings::default()
        };
        let about = Engine::new(settings, Arc::new(Memory::default()), false).about();
        assert_eq!(about.server.as_deref(), Some("https://print.example"));
        assert_eq!(about.server_fingerprint.as_deref(), Some("AB:CD"));
        assert!(!about.os_user.is_empty());
    }
}
