//! Identification and the authenticated calls: login, start (a remembered login or
//! single sign-on), logout, the access token and its refresh, the account.

use super::*;
use crate::agent;
use ream_wire::{AgentReply, AgentRequest, LentSession};

impl Engine {
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
        self.inner.login_attempts.send_modify(|n| *n += 1);
        let tokens = self.observe(self.api()?.login(&req).await);
        self.inner.login_attempts.send_modify(|n| *n += 1);
        let tokens = tokens?;
        let mut session = self.inner.session.lock().await;
        if !self.is_agent() {
            // The user's running client takes the login over: it alone refreshes it.
            let adopt = AgentRequest::Adopt { server: self.server()?, tokens: tokens.clone() };
            if let Some(AgentReply::Done) = agent::ask(&adopt).await {
                let user = tokens.user.clone();
                let ends = tokens.remember.as_ref().and(tokens.refresh_expires_at_ms);
                let lent = LentSession {
                    user: tokens.user.clone(),
                    method: tokens.method,
                    remember: tokens.remember.clone(),
                    session_ends_at_ms: ends,
                    access_token: tokens.access_token.clone(),
                    access_expires_at_ms: tokens.access_expires_at_ms,
                };
                self.install_lent(&mut session, lent);
                return Ok(user);
            }
        }
        // A new login replaces whatever was remembered before.
        self.forget_remembered().await?;
        self.install(&mut session, tokens).await
    }

    /// True when this process uses the login of the user's running client.
    pub fn shares_login(&self) -> bool {
        self.inner.session.try_lock().is_ok_and(|s| s.as_ref().is_some_and(|s| s.lent))
    }

    pub(super) fn is_agent(&self) -> bool {
        self.inner.agent.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// From now on this engine lends its login to the user's other front ends.
    pub(crate) fn serve_as_agent(&self) {
        self.inner.agent.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// How this front end opens its window, for a second launch of the app
    /// ([`AgentRequest::OpenWindow`]); `open` answers false when it cannot (quitting,
    /// refused as `QUITTING`: the launch waits for the claim instead). Set once; a client
    /// without a window never sets it.
    pub fn set_window_opener(&self, open: impl Fn() -> bool + Send + Sync + 'static) {
        if self.inner.window.set(Box::new(open)).is_err() {
            tracing::warn!("the window opener was set already");
        }
    }

    /// Makes a login lent by the running client the session in `slot`. Its access token
    /// is empty when that client cannot reach the server.
    fn install_lent(&self, slot: &mut Option<Session>, lent: LentSession) {
        let access_valid = !lent.access_token.is_empty();
        let user = lent.user.clone();
        let (method, remember, ends) = (lent.method, lent.remember.clone(), lent.session_ends_at_ms);
        let tokens = SessionTokens {
            session_id: String::new(),
            method: lent.method,
            user: lent.user,
            access_token: lent.access_token,
            access_expires_at_ms: lent.access_expires_at_ms,
            refresh_token: String::new(),
            refresh_expires_at_ms: lent.session_ends_at_ms,
            remember: lent.remember,
        };
        *slot = Some(Session { tokens, access_valid, lent: true });
        self.show_identified(user, method, remember, ends);
    }

    /// The status of an identified user (the account shown goes if it was someone else's).
    fn show_identified(
        &self,
        user: UserSummary,
        method: LoginMethod,
        remember: Option<String>,
        ends: Option<i64>,
    ) {
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
    }

    /// Answers another front end of this user (see [`crate::agent`]).
    pub(crate) async fn agent_answer(&self, request: AgentRequest) -> AgentReply {
        let refused = |e: ClientError| AgentReply::Refused { code: e.code().into(), message: e.to_string() };
        let asked = match &request {
            AgentRequest::Session { server }
            | AgentRequest::Adopt { server, .. }
            | AgentRequest::Logout { server } => server,
            // The printer takes jobs whether or not a server is set (they wait for a login).
            AgentRequest::PrinterPort => {
                return match self.serving_port() {
                    Some(port) => AgentReply::Printer { port },
                    None => refused(ClientError::Config("this client's local printer is not serving".into())),
                }
            }
            AgentRequest::OpenWindow => {
                return match self.inner.window.get() {
                    Some(open) if open() => AgentReply::Done,
                    Some(_) => AgentReply::Refused {
                        code: "QUITTING".into(),
                        message: "the running Ream client is quitting".into(),
                    },
                    None => refused(ClientError::Config(
                        "the running Ream client (`ream run`) has no window".into(),
                    )),
                }
            }
            AgentRequest::FallbackOffers => return AgentReply::Offers { offers: self.local_offers() },
            AgentRequest::LocalPrint(ask) => {
                return AgentReply::Local(self.answer_local_print(ask.clone()).await)
            }
            AgentRequest::Fallback { job, answer } => {
                return match self.answer_local(job, answer.clone()) {
                    Ok(()) => AgentReply::Done,
                    Err(e) => refused(e),
                }
            }
        };
        let server = match self.server() {
            Ok(server) => server,
            Err(e) => return refused(e),
        };
        if *asked != server {
            return refused(ClientError::Config(format!(
                "the running Ream client uses the server {server}, not {asked}"
            )));
        }
        match request {
            AgentRequest::Session { .. } => match self.lend().await {
                Ok(lent) => AgentReply::Session(lent),
                Err(e) => refused(e),
            },
            AgentRequest::Adopt { tokens, .. } => {
                let mut session = self.inner.session.lock().await;
                let adopted = match self.forget_remembered().await {
                    Ok(()) => self.install(&mut session, tokens).await,
                    Err(e) => Err(e),
                };
                match adopted {
                    Ok(user) => {
                        tracing::info!(user = %user.username, "took over a login made by another front end");
                        AgentReply::Done
                    }
                    Err(e) => refused(e),
                }
            }
            AgentRequest::Logout { .. } => match self.logout().await {
                Ok(()) => AgentReply::Done,
                Err(e) => refused(e),
            },
            AgentRequest::FallbackOffers
            | AgentRequest::Fallback { .. }
            | AgentRequest::LocalPrint(_)
            | AgentRequest::PrinterPort
            | AgentRequest::OpenWindow => {
                unreachable!("answered above")
            }
        }
    }

    /// The login as lent to another front end: a fresh access token, or none while the
    /// server cannot be reached (the user is still named).
    async fn lend(&self) -> Result<LentSession> {
        let access_token = match self.access_token(false).await {
            Ok(token) => token,
            Err(ClientError::Unreachable(_)) => String::new(),
            Err(e) => return Err(e),
        };
        let guard = self.inner.session.lock().await;
        let session = guard.as_ref().ok_or(ClientError::NotLoggedIn)?;
        Ok(LentSession {
            user: session.tokens.user.clone(),
            method: session.tokens.method,
            remember: session.tokens.remember.clone(),
            session_ends_at_ms: self.status().session_ends_at_ms,
            access_expires_at_ms: if access_token.is_empty() {
                0
            } else {
                session.tokens.access_expires_at_ms
            },
            access_token,
        })
    }

    /// Makes `tokens` the session in `slot` (the locked session): a remembered one goes to
    /// the keyring before anything can use it, so the keyring always holds the newest
    /// refresh token.
    pub(super) async fn install(
        &self,
        slot: &mut Option<Session>,
        tokens: SessionTokens,
    ) -> Result<UserSummary> {
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
        *slot = Some(Session { tokens, access_valid: true, lent: false });
        let summary = user.clone();
        self.show_identified(user, method, remember, ends);
        Ok(summary)
    }

    pub(super) async fn forget_remembered(&self) -> Result<()> {
        let server = self.server()?;
        self.secret_delete(&session_entry(&server)).await?;
        let _ = std::fs::remove_file(account_cache_path(&server));
        self.forget_offline_terms();
        Ok(())
    }

    /// At start: restore a remembered login, or log in by single sign-on when the server
    /// offers it and this workstation is enrolled, or ask for a login.
    pub async fn start(&self) -> Result<Started> {
        let server = self.server()?;
        self.note_journal();
        if !self.is_agent() {
            match agent::ask(&AgentRequest::Session { server: server.clone() }).await {
                Some(AgentReply::Session(lent)) => {
                    let user = lent.user.clone();
                    let online = !lent.access_token.is_empty();
                    let mut session = self.inner.session.lock().await;
                    self.install_lent(&mut session, lent);
                    drop(session);
                    if online {
                        self.set_online();
                    } else {
                        self.set_offline("the running Ream client cannot reach the server");
                    }
                    return Ok(Started::Shared(user));
                }
                Some(AgentReply::Refused { code, .. }) if code == "NOT_LOGGED_IN" => {
                    self.emit(ClientEvent::LoginRequired {
                        reason: "nobody is logged in".into(),
                        methods: Vec::new(),
                        job: None,
                    });
                    return Ok(Started::LoginRequired);
                }
                Some(AgentReply::Refused { code, message }) => return Err(refusal(&code, message)),
                // No running client (or one that does not answer): this process manages
                // the login itself, refreshing it under the session lock.
                Some(
                    AgentReply::Done
                    | AgentReply::Offers { .. }
                    | AgentReply::Local(_)
                    | AgentReply::Printer { .. },
                )
                | None => {}
            }
        }
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

    pub(super) async fn restore(&self, r: RememberedSession) -> Result<Started> {
        let server = self.server()?;
        let mut session = self.inner.session.lock().await;
        let _lock = session_lock().await;
        // Another front end may have refreshed it between our read and the lock.
        let r = self.remembered(&server).await.filter(|n| n.username == r.username).unwrap_or(r);
        let cached = read_account_cache(&server).filter(|(a, _)| a.username == r.username);
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
                *session = Some(Session { tokens, access_valid: false, lent: false });
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
        if !self.is_agent() {
            // The running client holds the login: it logs out, for every front end.
            match agent::ask(&AgentRequest::Logout { server: self.server()? }).await {
                Some(AgentReply::Done) => return self.end_locally("logged out", LogoutCause::User).await,
                Some(AgentReply::Refused { code, message }) => return Err(refusal(&code, message)),
                Some(
                    AgentReply::Session(_)
                    | AgentReply::Offers { .. }
                    | AgentReply::Local(_)
                    | AgentReply::Printer { .. },
                )
                | None => {}
            }
        }
        let session = self.inner.session.lock().await.take();
        let _lock = session_lock().await;
        let refresh_token = match &session {
            Some(s) if s.access_valid => {
                let _ = self.observe(self.api()?.logout(&s.tokens.access_token).await);
                None
            }
            Some(s) => self
                .remembered(&self.server()?)
                .await
                .map(|r| r.refresh_token)
                .or(Some(s.tokens.refresh_token.clone())),
            None => self.remembered(&self.server()?).await.map(|r| r.refresh_token),
        };
        if let Some(refresh_token) = refresh_token {
            // The server needs an access token to end the session: trade the refresh token.
            if let Ok(tokens) = self.api()?.refresh(&refresh_token).await {
                let _ = self.api()?.logout(&tokens.access_token).await;
            }
        }
        self.end_locally("logged out", LogoutCause::User).await
    }

    /// The remembered login in the keyring, if any (and readable).
    async fn remembered(&self, server: &str) -> Option<RememberedSession> {
        let json = self.secret_get(&session_entry(server)).await.ok()??;
        serde_json::from_str(&json).ok()
    }

    /// Forgets the login here (the server has ended it, or its period is over). A lent
    /// login is only let go: the running client owns what is remembered of it.
    pub(super) async fn end_locally(&self, reason: &str, cause: LogoutCause) -> Result<()> {
        let was_lent = self.inner.session.lock().await.take().is_some_and(|s| s.lent);
        if !was_lent {
            self.forget_remembered().await?;
        }
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

    /// A usable access token: asked of the running client for a lent login, otherwise
    /// refreshed here when needed, under the session lock and from the newest refresh
    /// token (another front end of this user may have refreshed the remembered login).
    pub(super) async fn access_token(&self, force_refresh: bool) -> Result<String> {
        let mut guard = self.inner.session.lock().await;
        let session = guard.as_mut().ok_or(ClientError::NotLoggedIn)?;
        let fresh = session.access_valid && session.tokens.access_expires_at_ms > now_ms() + 15_000;
        if fresh && !force_refresh {
            return Ok(session.tokens.access_token.clone());
        }
        if session.lent {
            return self.borrow_again(guard).await;
        }
        let _lock = session_lock().await;
        if session.tokens.remember.is_some() {
            if let Some(newest) = self.remembered(&self.server()?).await {
                if newest.username == session.tokens.user.username {
                    session.tokens.refresh_token = newest.refresh_token;
                }
            }
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

    /// A new access token for a lent login, from the running client. That client gone,
    /// a remembered login is taken up here (the keyring has it); otherwise the user is
    /// let go, as the login lived in that client only.
    async fn borrow_again(&self, mut guard: tokio::sync::MutexGuard<'_, Option<Session>>) -> Result<String> {
        let server = self.server()?;
        let username = guard.as_ref().map(|s| s.tokens.user.username.clone()).unwrap_or_default();
        let reply = agent::ask(&AgentRequest::Session { server: server.clone() }).await;
        let ended = match reply {
            Some(AgentReply::Session(lent)) if lent.user.username == username => {
                if lent.access_token.is_empty() {
                    return self.observe(Err(ClientError::Unreachable(
                        "the running Ream client cannot reach the server".into(),
                    )));
                }
                let token = lent.access_token.clone();
                self.install_lent(&mut guard, lent);
                return Ok(token);
            }
            Some(AgentReply::Session(_)) => "another user logged in on the running Ream client".to_string(),
            Some(AgentReply::Refused { code, message }) if code != "NOT_LOGGED_IN" => {
                return Err(refusal(&code, message))
            }
            Some(AgentReply::Refused { message, .. }) => {
                format!("the running Ream client logged out ({message})")
            }
            Some(
                AgentReply::Done
                | AgentReply::Offers { .. }
                | AgentReply::Local(_)
                | AgentReply::Printer { .. },
            )
            | None => {
                drop(guard);
                if let Some(r) = self.remembered(&server).await.filter(|r| r.username == username) {
                    self.restore(r).await?;
                    return Box::pin(self.access_token(false)).await;
                }
                self.end_locally("the running Ream client quit", LogoutCause::Ended).await?;
                return Err(ClientError::NotLoggedIn);
            }
        };
        drop(guard);
        self.end_locally(&ended, LogoutCause::Ended).await?;
        Err(ClientError::NotLoggedIn)
    }

    /// Runs an authenticated call, refreshing once if the access token has expired.
    pub(super) async fn authed<T, F, Fut>(&self, call: F) -> Result<T>
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

    pub(super) fn set_account(&self, account: AccountView) {
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
}

/// An error the running client answered with, under its code.
pub(super) fn refusal(code: &str, message: String) -> ClientError {
    match code {
        "SERVER_UNREACHABLE" => ClientError::Unreachable(message),
        "NOT_LOGGED_IN" => ClientError::NotLoggedIn,
        _ => match serde_json::from_value::<ErrorCode>(serde_json::Value::String(code.into())) {
            Ok(code) => {
                ClientError::Server(ream_wire::ApiError { code, message, retry_at_ms: None, shortfall: None })
            }
            Err(_) => ClientError::Config(message),
        },
    }
}

/// How long a front end waits for another to finish refreshing the login.
const SESSION_LOCK_PATIENCE: Duration = Duration::from_secs(30);

/// The cross-process lock every refresh of this user's login is made under, so that two
/// front ends never spend the same refresh token. Held until dropped. A lock that cannot
/// be had (or is held too long) is logged and gone without: the server's grace for a
/// just-replaced token covers that rare case.
async fn session_lock() -> Option<std::fs::File> {
    let path = cache_dir().join("session.lock");
    let take = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        std::fs::create_dir_all(path.parent().expect("has a parent"))?;
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        file.lock()?;
        Ok(file)
    });
    match tokio::time::timeout(SESSION_LOCK_PATIENCE, take).await {
        Ok(Ok(Ok(file))) => Some(file),
        Ok(Ok(Err(e))) => {
            tracing::warn!(error = %e, "cannot take the session lock; refreshing without it");
            None
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot take the session lock; refreshing without it");
            None
        }
        Err(_) => {
            tracing::warn!("another front end held the session lock for 30 s; refreshing without it");
            None
        }
    }
}
