//! The engine: one value that a front end (the desktop app, the terminal client) holds
//! and asks. It keeps the connection, the identified user and the account, tells its
//! front end what changed ([`ClientEvent`]) and follows the server's push channel.
//!
//! Promises: a remembered login's refresh token lives only in the OS keyring and is
//! deleted when the login ends (logout, expiry, revocation); a login that is not
//! remembered leaves nothing behind on disk; when the server cannot be reached the last
//! known account stays visible, marked stale, and the engine reconnects by itself.

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
        let made = Api::new(&settings.server_url()?, &Self::trust(&settings))?;
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
            Err(ClientError::Unreachable(reason)) => self.set_offline(reason),
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
        let trust = ca_file.clone().map(Trust::CaFile).unwrap_or(Trust::System);
        let (policy, pinned) = match Api::new(&server, &trust)?.policy().await {
            Ok(policy) => (policy, None),
            Err(ClientError::CertificateUntrusted(_)) if ca_file.is_none() => {
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
        Ok(self.observe(self.api()?.queues().await)?.queues)
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

    // ----- identification -----

    /// The user directory, for the user-list login (enrolled workstations only).
    pub async fn directory(&self, search: &str) -> Result<Vec<DirectoryEntry>> {
        let key = self.workstation_key().await?;
        let proof = key.proof(ProofPurpose::Directory, search, now_ms());
        Ok(self.observe(self.api()?.directory(search, &proof).await)?.users)
    }

    /// Identifies the user. `remember` is an id from [`Engine::remember_options`]; with it
    /// the login survives restarts until its period ends.
    pub async fn login(&self, input: LoginInput, remember: Option<&str>) -> Result<UserSummary> {
        if remember.is_some() && !self.settings().remember_me {
            return Err(ClientError::Config("remember-me is disabled on this workstation".into()));
        }
        let credentials = match input {
            LoginInput::Pin { pin } => Credentials::Pin { pin },
            LoginInput::Card { card } => Credentials::Card { card },
            LoginInput::CardPin { card, pin } => Credentials::CardPin { card, pin },
            LoginInput::Password { username, password } => Credentials::Password { username, password },
            LoginInput::UserList { username } => {
                let key = self.workstation_key().await?;
                Credentials::UserList { proof: key.proof(ProofPurpose::UserList, &username, now_ms()) }
            }
            LoginInput::Sso => {
                let key = self.workstation_key().await?;
                Credentials::Sso { proof: key.proof(ProofPurpose::Sso, &os_username()?, now_ms()) }
            }
        };
        let req = LoginRequest { credentials, remember: remember.map(Into::into) };
        let tokens = self.observe(self.api()?.login(&req).await)?;
        let mut session = self.inner.session.lock().await;
        // A new login replaces whatever was remembered before.
        self.forget_remembered().await?;
        self.install(&mut session, tokens).await
    }

    /// Makes `tokens` the session in `slot` (the locked session): a remembered one goes to
    /// the keyring before anything can use it, so the keyring always holds the newest
    /// refresh token.
    async fn install(&self, slot: &mut Option<Session>, tokens: SessionTokens) -> Result<UserSummary> {
        if let Some(remember) = &tokens.remember {
            let entry = RememberedSession {
                refresh_token: tokens.refresh_token.clone(),
                expires_at_ms: tokens.refresh_expires_at_ms,
                remember: remember.clone(),
                username: tokens.user.username.clone(),
                method: Some(tokens.method),
            };
            let json = serde_json::to_string(&entry).map_err(|e| ClientError::Protocol(e.to_string()))?;
            self.secret_set(&session_entry(&self.server()?), &json).await?;
        }
        let user = tokens.user.clone();
        let (method, remember) = (tokens.method, tokens.remember.clone());
        let ends = if remember.is_some() { tokens.refresh_expires_at_ms } else { None };
        *slot = Some(Session { tokens, access_valid: true });
        let summary = user.clone();
        self.update(|s| {
            if s.user.as_ref().map(|u| &u.username) != Some(&user.username) {
                s.account = None;
                s.account_as_of_ms = None;
                s.account_stale = false;
            }
            s.user = Some(user);
            s.method = Some(method);
            s.remember = remember;
            s.session_ends_at_ms = ends;
        });
        Ok(summary)
    }

    async fn forget_remembered(&self) -> Result<()> {
        let server = self.server()?;
        self.secret_delete(&session_entry(&server)).await?;
        let _ = std::fs::remove_file(account_cache_path(&server));
        Ok(())
    }

    /// At start: restore a remembered login, or log in by single sign-on when the server
    /// offers it and this workstation is enrolled, or ask for a login.
    pub async fn start(&self) -> Result<Started> {
        let server = self.server()?;
        if let Some(json) = self.secret_get(&session_entry(&server)).await? {
            let remembered: Option<RememberedSession> = serde_json::from_str(&json).ok();
            match remembered {
                Some(r) if r.expires_at_ms.is_none_or(|t| t > now_ms()) => return self.restore(r).await,
                _ => {
                    self.forget_remembered().await?;
                    self.emit(ClientEvent::LoggedOut {
                        reason: "the remembered login has ended".into(),
                        cause: LogoutCause::Expired,
                    });
                    self.emit(ClientEvent::LoginRequired {
                        reason: "log in again".into(),
                        methods: Vec::new(),
                        job: None,
                    });
                    return Ok(Started::Expired);
                }
            }
        }
        let policy = self.policy().await;
        let sso = matches!(&policy, Ok(p) if p.methods.contains(&LoginMethod::Sso));
        if sso && self.settings().workstation_id.is_some() {
            match self.login(LoginInput::Sso, None).await {
                Ok(user) => return Ok(Started::SingleSignOn(user)),
                Err(e) => tracing::info!(error = %e, "single sign-on did not log in"),
            }
        }
        self.emit(ClientEvent::LoginRequired {
            reason: "nobody is logged in".into(),
            methods: Vec::new(),
            job: None,
        });
        Ok(Started::LoginRequired)
    }

    async fn restore(&self, r: RememberedSession) -> Result<Started> {
        let server = self.server()?;
        let cached = read_account_cache(&server).filter(|(a, _)| a.username == r.username);
        let mut session = self.inner.session.lock().await;
        match self.api()?.refresh(&r.refresh_token).await {
            Ok(tokens) => {
                self.set_online();
                let user = self.install(&mut session, tokens).await?;
                Ok(Started::Restored(user))
            }
            Err(ClientError::Unreachable(reason)) => {
                // Offline: stay identified with what we know; refresh once back.
                let full_name = cached.as_ref().map(|(a, _)| a.full_name.clone()).unwrap_or_default();
                let user = UserSummary { username: r.username.clone(), full_name };
                let tokens = SessionTokens {
                    session_id: String::new(),
                    method: r.method.unwrap_or(LoginMethod::Password),
                    user: user.clone(),
                    access_token: String::new(),
                    access_expires_at_ms: 0,
                    refresh_token: r.refresh_token.clone(),
                    refresh_expires_at_ms: r.expires_at_ms,
                    remember: Some(r.remember.clone()),
                };
                *session = Some(Session { tokens, access_valid: false });
                drop(session);
                self.update(|s| {
                    s.user = Some(user.clone());
                    s.method = r.method;
                    s.remember = Some(r.remember.clone());
                    s.session_ends_at_ms = r.expires_at_ms;
                    if let Some((account, as_of)) = cached {
                        s.account = Some(account);
                        s.account_as_of_ms = Some(as_of);
                        s.account_stale = true;
                    }
                });
                self.set_offline(&reason);
                Ok(Started::Restored(user))
            }
            Err(e) if e.ends_session() => {
                drop(session);
                self.forget_remembered().await?;
                self.emit(ClientEvent::LoggedOut {
                    reason: format!("the remembered login has ended ({e})"),
                    cause: LogoutCause::Ended,
                });
                self.emit(ClientEvent::LoginRequired {
                    reason: "log in again".into(),
                    methods: Vec::new(),
                    job: None,
                });
                Ok(Started::Expired)
            }
            Err(e) => self.observe(Err(e)),
        }
    }

    /// Logs out: the server ends the session (when it can be reached) and every local
    /// trace of the login is deleted, including a remembered one not restored yet.
    pub async fn logout(&self) -> Result<()> {
        let session = self.inner.session.lock().await.take();
        let refresh_token = match &session {
            Some(s) if s.access_valid => {
                let _ = self.observe(self.api()?.logout(&s.tokens.access_token).await);
                None
            }
            Some(s) => Some(s.tokens.refresh_token.clone()),
            None => self
                .secret_get(&session_entry(&self.server()?))
                .await?
                .and_then(|json| serde_json::from_str::<RememberedSession>(&json).ok())
                .map(|r| r.refresh_token),
        };
        if let Some(refresh_token) = refresh_token {
            // The server needs an access token to end the session: trade the refresh token.
            if let Ok(tokens) = self.api()?.refresh(&refresh_token).await {
                let _ = self.api()?.logout(&tokens.access_token).await;
            }
        }
        self.end_locally("logged out", LogoutCause::User).await
    }

    /// Forgets the login here (the server has ended it, or its period is over).
    async fn end_locally(&self, reason: &str, cause: LogoutCause) -> Result<()> {
        *self.inner.session.lock().await = None;
        self.forget_remembered().await?;
        let was_user = self.status().user.is_some();
        self.update(|s| {
            s.user = None;
            s.method = None;
            s.remember = None;
            s.session_ends_at_ms = None;
            s.account = None;
            s.account_stale = false;
            s.account_as_of_ms = None;
        });
        if was_user {
            self.emit(ClientEvent::LoggedOut { reason: reason.into(), cause });
        }
        Ok(())
    }

    // ----- authenticated calls -----

    /// A usable access token, refreshing the session when needed.
    async fn access_token(&self, force_refresh: bool) -> Result<String> {
        let mut guard = self.inner.session.lock().await;
        let session = guard.as_mut().ok_or(ClientError::NotLoggedIn)?;
        let fresh = session.access_valid && session.tokens.access_expires_at_ms > now_ms() + 15_000;
        if fresh && !force_refresh {
            return Ok(session.tokens.access_token.clone());
        }
        let refreshed = self.api()?.refresh(&session.tokens.refresh_token).await;
        match self.observe(refreshed) {
            Ok(tokens) => {
                let access = tokens.access_token.clone();
                self.install(&mut guard, tokens).await?;
                Ok(access)
            }
            Err(e) if e.ends_session() => {
                drop(guard);
                self.end_locally(&format!("the session has ended ({e})"), LogoutCause::Ended).await?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Runs an authenticated call, refreshing once if the access token has expired.
    async fn authed<T, F, Fut>(&self, call: F) -> Result<T>
    where
        F: Fn(Api, String) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let token = self.access_token(false).await?;
        let result = match call(self.api()?, token).await {
            Err(ClientError::Server(e))
                if e.code == ErrorCode::TokenExpired || e.code == ErrorCode::AuthInvalid =>
            {
                let token = self.access_token(true).await?;
                call(self.api()?, token).await
            }
            other => other,
        };
        match self.observe(result) {
            Err(e) if e.ends_session() => {
                self.end_locally(&format!("the session has ended ({e})"), LogoutCause::Ended).await?;
                Err(e)
            }
            other => other,
        }
    }

    /// The account, fresh from the server; when it cannot be reached, the last known one
    /// stays in the status (stale) and the error says why.
    pub async fn refresh_account(&self) -> Result<AccountView> {
        let account = self.authed(|api, token| async move { api.me(&token).await }).await?;
        self.set_account(account.clone());
        Ok(account)
    }

    fn set_account(&self, account: AccountView) {
        let now = now_ms();
        let remembered = self.status().remember.is_some();
        if remembered {
            if let Ok(server) = self.server() {
                write_account_cache(&server, &account, now);
            }
        }
        self.update(|s| {
            let newer = s.account.as_ref().is_none_or(|a| a.version <= account.version || s.account_stale);
            if newer {
                s.account = Some(account);
                s.account_as_of_ms = Some(now);
                s.account_stale = false;
            }
        });
    }

    pub async fn transactions(&self, limit: u32) -> Result<TransactionPage> {
        self.authed(|api, token| async move { api.transactions(&token, limit).await }).await
    }

    /// Gives the user a new PIN, returned once.
    pub async fn new_pin(&self) -> Result<String> {
        Ok(self.authed(|api, token| async move { api.new_pin(&token).await }).await?.pin)
    }

    // ----- printing -----

    /// The keyring entry of the key that encrypts the documents kept in this client's
    /// cache folder: named after the folder, so two clients of one OS user with their own
    /// folders (another home, a test) never take each other's key for theirs.
    pub fn spool_key_entry() -> String {
        format!("{SPOOL_KEY_ENTRY} {}", cache_dir().display())
    }

    /// The key the local spool is encrypted with, from the OS keyring (made on first use).
    pub async fn spool_key(&self) -> Result<SpoolKey> {
        let mut cached = self.inner.spool_key.lock().await;
        if let Some(key) = cached.as_ref() {
            return Ok(key.clone());
        }
        let entry = Self::spool_key_entry();
        let scoped = self.secret_get(&entry).await?;
        let stored = match &scoped {
            Some(stored) => Some(stored.clone()),
            // Before the entry was named after the folder it had one name for every folder:
            // documents kept then stay readable.
            None => self.secret_get(SPOOL_KEY_ENTRY).await?,
        };
        let key = match stored {
            Some(stored) => SpoolKey::from_b64(&stored)
                .ok_or_else(|| ClientError::Keyring("the stored spool key is damaged".into()))?,
            None => SpoolKey::generate(),
        };
        if scoped.is_none() {
            self.secret_set(&entry, &key.to_b64()).await?;
        }
        *cached = Some(key.clone());
        Ok(key)
    }

    /// The user's jobs on the server, newest first.
    pub async fn jobs(&self) -> Result<Vec<ream_wire::Job>> {
        Ok(self.authed(|api, token| async move { api.jobs(&token).await }).await?.jobs)
    }

    /// Releases one of the user's held jobs (to the named printer of its queue, or its first).
    pub async fn release_job(&self, id: &str, printer: Option<&str>) -> Result<ream_wire::Job> {
        self.authed(|api, token| async move { api.release_job(&token, id, printer).await }).await
    }

    /// Deletes one of the user's jobs that has not printed.
    pub async fn delete_job(&self, id: &str) -> Result<ream_wire::Job> {
        self.authed(|api, token| async move { api.delete_job(&token, id).await }).await
    }

    /// What the user must decide about a waiting job.
    pub async fn job_dialog(&self, id: &str) -> Result<ream_wire::JobDialog> {
        self.authed(|api, token| async move { api.job_dialog(&token, id).await }).await
    }

    /// Answers a waiting job's dialog.
    pub async fn answer_job(&self, id: &str, answer: &ream_wire::JobAnswer) -> Result<ream_wire::Job> {
        self.authed(|api, token| async move { api.answer_job(&token, id, answer).await }).await
    }

    /// Takes a document printed to this workstation (already in the local spool) to the
    /// server for its user: asks for a login when nobody is identified, keeps trying while
    /// the server is unreachable or failing (with growing pauses, the user told once), and
    /// tells the outcome as an event. The spooled file is deleted only once the server has
    /// the job, or has refused it for good; every attempt carries the job's client id, so
    /// one whose answer was lost is not made twice.
    pub async fn print_spooled(&self, mut job: JobSubmission, document: std::path::PathBuf) {
        if job.queue.is_none() {
            job.queue = self.settings().queue;
        }
        let outcome = self.submit_spooled(&job, &document).await;
        let _ = tokio::fs::remove_file(&document).await;
        let _ = tokio::fs::remove_file(document.with_extension("json")).await;
        match outcome {
            Ok(submitted) => {
                let waiting = submitted.state == ream_wire::JobState::WaitingForUser;
                let id = submitted.id.clone();
                self.emit(ClientEvent::JobSubmitted { job: submitted });
                if waiting {
                    match self.job_dialog(&id).await {
                        Ok(dialog) => self.emit(ClientEvent::JobDialog { dialog: Box::new(dialog) }),
                        Err(e) => tracing::warn!(error = %e, "cannot read the job's dialog"),
                    }
                }
            }
            Err(e) => {
                tracing::info!(job = %job.name, error = %e, "print job refused");
                self.emit(ClientEvent::JobRefused {
                    name: job.name.clone(),
                    reason: e.to_string(),
                    code: e.code().to_string(),
                });
            }
        }
    }

    /// Submits until the server has the job or refuses it for good. Nobody logged in: waits
    /// for a login up to `login_wait_seconds`. The server unreachable or failing: tries
    /// again after growing pauses (1 s doubling to a minute), for as long as it takes.
    async fn submit_spooled(
        &self,
        job: &JobSubmission,
        document: &std::path::Path,
    ) -> Result<ream_wire::Job> {
        const FIRST_PAUSE: Duration = Duration::from_secs(1);
        const LONGEST_PAUSE: Duration = Duration::from_secs(60);
        let wait = Duration::from_secs(self.settings().login_wait_seconds);
        let deadline = tokio::time::Instant::now() + wait;
        let mut status = self.watch_status();
        if status.borrow().user.is_none() {
            // The queue says how its users identify themselves.
            let methods = match self.api()?.queues().await {
                Ok(list) => list
                    .queues
                    .into_iter()
                    .find(|q| job.queue.as_deref().is_none_or(|name| q.name == name))
                    .map(|q| q.detection.login_methods())
                    .unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            let reason = format!("“{}” waits until you log in.", job.name);
            self.emit(ClientEvent::LoginRequired { reason, methods, job: Some(job.name.clone()) });
        }
        let mut pause = FIRST_PAUSE;
        let mut told = false;
        loop {
            let logged_in = status.borrow_and_update().user.is_some();
            if logged_in {
                match self.submit_now(job, document).await {
                    Ok(submitted) => return Ok(submitted),
                    Err(e) if e.is_transient() => {
                        tracing::warn!(job = %job.name, error = %e, "cannot submit yet; the document is kept");
                        if !told {
                            told = true;
                            self.emit(ClientEvent::JobDelayed {
                                name: job.name.clone(),
                                reason: e.to_string(),
                                code: e.code().to_string(),
                            });
                        }
                        // The next try comes after the pause, or sooner when the server
                        // is back (a status change).
                        if let Ok(Err(_)) = tokio::time::timeout(pause, status.changed()).await {
                            return Err(ClientError::NotLoggedIn);
                        }
                        pause = (pause * 2).min(LONGEST_PAUSE);
                        continue;
                    }
                    // The session ended meanwhile: once the engine has let the user go, wait
                    // for a login as at first.
                    Err(e) if e.needs_login() => {
                        let _ = tokio::time::timeout(pause, status.changed()).await;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            match tokio::time::timeout_at(deadline, status.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(ClientError::NotLoggedIn),
                Err(_) => {
                    return Err(ClientError::Config(format!("nobody logged in within {} s", wait.as_secs())))
                }
            }
        }
    }

    /// Submits a spooled document: the whole document for a queue that spools on the
    /// server; for one that spools on the client only its description (with the pages
    /// counted here), the document moving to the held documents until it is released.
    async fn submit_now(&self, job: &JobSubmission, document: &std::path::Path) -> Result<ream_wire::Job> {
        let key = self.spool_key().await?;
        let queues = self.api()?.queues().await?.queues;
        let queue = queues.iter().find(|q| match &job.queue {
            Some(name) => &q.name == name,
            None => q.default,
        });
        if queue.is_none_or(|q| q.spooling != ream_wire::SpoolingMode::Client) {
            // A document that cannot be read here (damaged, or under another key) breaks
            // the upload like a lost connection would; it is told apart, as no retry mends it.
            let unreadable = Arc::new(Mutex::new(None::<String>));
            let submitted = self
                .authed(|api, token| {
                    let key = key.clone();
                    let unreadable = unreadable.clone();
                    let body = ream_print::spool::read(&key, document).inspect_err(move |e| {
                        *unreadable.lock().expect("lock") = Some(e.to_string());
                    });
                    async move { api.submit_job(&token, job, body).await }
                })
                .await;
            if let (Err(_), Some(reason)) = (&submitted, unreadable.lock().expect("lock").take()) {
                return Err(ClientError::Config(format!("the spooled document cannot be read: {reason}")));
            }
            return submitted;
        }
        let scratch = document.parent().unwrap_or(std::path::Path::new("."));
        let pages = match ream_print::spool::count_pages(&key, document, scratch).await {
            Ok(pages) => pages,
            Err(ream_print::spool::CountError::Document(reason)) => {
                return Err(ClientError::Config(format!("the document cannot be read: {reason}")))
            }
            Err(ream_print::spool::CountError::TooLarge(limit)) => {
                return Err(ClientError::Config(format!("the document is larger than {limit} bytes")))
            }
            Err(ream_print::spool::CountError::Io(e)) => {
                return Err(ClientError::Config(format!("cannot read the spooled document: {e}")))
            }
        };
        let holder =
            crate::held::holder_id().map_err(|e| ClientError::Config(format!("held documents: {e}")))?;
        let description = JobSubmission { pages: Some(pages), holder: Some(holder), ..job.clone() };
        let submitted = self
            .authed(|api, token| {
                let description = description.clone();
                async move { api.submit_job(&token, &description, futures_util::stream::empty()).await }
            })
            .await?;
        let kept = crate::held::document_of(&submitted.id);
        if let Err(e) = tokio::fs::rename(document, &kept).await {
            tracing::warn!(error = %e, job = %submitted.id, "cannot keep the document of a client-spooled job");
        }
        Ok(submitted)
    }

    /// Sends a held document to the printer its owner released it to, follows it there
    /// and reports the outcome; the document goes once the server has the report.
    async fn print_here(&self, job: ream_wire::Job, target: ream_wire::PrintTarget) {
        if !self.inner.printing_here.lock().expect("lock").insert(job.id.clone()) {
            return;
        }
        let document = crate::held::document_of(&job.id);
        let report = match self.send_to_printer(&job, &target, &document).await {
            // The printer's job id lets the server ask the printer itself.
            Ok((printer_job_id, impressions)) => ream_wire::DeliveryReport {
                printed: true,
                reason: None,
                printer_job_id: Some(printer_job_id),
                impressions,
            },
            Err(e) => {
                tracing::warn!(job = %job.id, error = %format!("{e:#}"), "printing a held job failed");
                ream_wire::DeliveryReport {
                    printed: false,
                    reason: Some(format!("{e:#}")),
                    printer_job_id: None,
                    impressions: None,
                }
            }
        };
        let reported = self
            .authed(|api, token| {
                let report = report.clone();
                let id = job.id.clone();
                async move { api.report_outcome(&token, &id, &report).await }
            })
            .await;
        match reported {
            Ok(_) => {
                let _ = tokio::fs::remove_file(&document).await;
            }
            // Not reported: the server asks again when this client reconnects.
            Err(e) => tracing::warn!(job = %job.id, error = %e, "cannot report a held job's outcome"),
        }
        self.inner.printing_here.lock().expect("lock").remove(&job.id);
    }

    async fn send_to_printer(
        &self,
        job: &ream_wire::Job,
        target: &ream_wire::PrintTarget,
        document: &std::path::Path,
    ) -> anyhow::Result<(i32, Option<i64>)> {
        use ream_print::printer;
        anyhow::ensure!(document.exists(), "the document is no longer on the workstation that kept it");
        let key = self.spool_key().await?;
        let document = printer::Document::Spooled { path: document.to_path_buf(), key };
        let http = printer::http_client(target.fingerprint.as_deref());
        let request = printer::PrintRequest {
            document: &document,
            job_name: &job.name,
            user: &target.user,
            copies: job.copies,
            duplex: job.duplex,
            colour: job.colour,
            media: &job.media,
        };
        let patience = Duration::from_secs(600);
        let printer_job = printer::print_job_patiently(&http, &target.uri, &request, patience).await?;
        match printer::follow(&http, &target.uri, printer_job, patience).await? {
            printer::Outcome::Completed { impressions } => Ok((printer_job, impressions)),
            printer::Outcome::Failed(reason) => anyhow::bail!(reason),
        }
    }

    // ----- live state -----

    /// Follows the push channel for as long as the engine lives: account changes land in
    /// the status; a lost server is retried with backoff (0.5 s doubling to 5 s) and the
    /// account refreshed when it is back; the end of the session logs out here too.
    pub async fn run(&self) {
        let mut status = self.watch_status();
        let mut backoff = Duration::from_millis(500);
        loop {
            if status.borrow_and_update().user.is_none() {
                if status.changed().await.is_err() {
                    return;
                }
                continue;
            }
            match self.follow_push(&mut backoff).await {
                Ok(()) => {}
                Err(ClientError::NotLoggedIn) => {}
                Err(e) if e.ends_session() => {
                    let _ =
                        self.end_locally(&format!("the session has ended ({e})"), LogoutCause::Ended).await;
                }
                Err(e) => {
                    self.set_offline(&e.to_string());
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn follow_push(&self, backoff: &mut Duration) -> Result<()> {
        let holder =
            crate::held::holder_id().map_err(|e| ClientError::Config(format!("held documents: {e}")))?;
        let mut socket = match self.api()?.push(&self.access_token(false).await?, &holder).await {
            Err(ClientError::Server(e))
                if e.code == ErrorCode::TokenExpired || e.code == ErrorCode::AuthInvalid =>
            {
                self.api()?.push(&self.access_token(true).await?, &holder).await
            }
            other => other,
        }?;
        let mut status = self.watch_status();
        let ends = self.status().session_ends_at_ms;
        let until_end = ends.map(|t| Duration::from_millis((t - now_ms()).max(0) as u64));
        let end = tokio::time::sleep(until_end.unwrap_or(Duration::from_secs(86_400 * 365)));
        tokio::pin!(end);
        let mut keepalive = tokio::time::interval(Duration::from_secs(20));
        keepalive.tick().await;
        loop {
            tokio::select! {
                msg = socket.next() => match msg {
                    Some(Ok(Message::Text(text))) => match serde_json::from_str::<PushEvent>(&text) {
                        Ok(PushEvent::Account { account }) => {
                            *backoff = Duration::from_millis(500);
                            self.set_online();
                            self.set_account(account);
                        }
                        Ok(PushEvent::Job { job }) => {
                            use ream_wire::JobState::{Deleted, Expired, Failed, Rejected};
                            if matches!(job.state, Deleted | Rejected | Expired | Failed) {
                                // A held document whose job is gone goes too.
                                let _ = tokio::fs::remove_file(crate::held::document_of(&job.id)).await;
                            }
                            self.emit(ClientEvent::JobChanged { job });
                        }
                        Ok(PushEvent::PrintHere { job, target }) => {
                            let engine = self.clone();
                            tokio::spawn(async move { engine.print_here(job, target).await });
                        }
                        Ok(PushEvent::SessionEnded { reason }) => {
                            return self.end_locally(&format!("the session has ended ({reason})"), LogoutCause::Ended).await;
                        }
                        Err(e) => tracing::warn!(error = %e, "unknown push message"),
                    },
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(ClientError::Unreachable(format!("push channel: {e}"))),
                    None => return Err(ClientError::Unreachable("the server closed the push channel".into())),
                },
                _ = &mut end, if until_end.is_some() => {
                    return self.end_locally("the remember-me period has ended", LogoutCause::Expired).await;
                }
                _ = keepalive.tick() => {
                    if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                        return Err(ClientError::Unreachable("the push channel broke".into()));
                    }
                }
                changed = status.changed() => {
                    if changed.is_err() || status.borrow_and_update().user.is_none() {
                        let _ = socket.close(None).await;
                        return Ok(());
                    }
                }
            }
        }
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
    use sha2::{Digest, Sha256};
    let id = hex::encode(&Sha256::digest(server.as_bytes())[..8]);
    cache_dir().join(format!("account-{id}.json"))
}

fn write_account_cache(server: &str, account: &AccountView, as_of_ms: i64) {
    let path = account_cache_path(server);
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::create_dir_all(path.parent().expect("has a parent"))?;
        let json = serde_json::json!({"account": account, "as_of_ms": as_of_ms});
        let tmp = path.with_extension("tmp");
        let mut f =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(json.to_string().as_bytes())?;
        std::fs::rename(&tmp, &path)
    };
    if let Err(e) = write() {
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
