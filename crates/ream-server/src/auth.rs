//! Identification: the rules of every login method, lockout, sessions and workstation
//! proofs. HTTP handlers and the admin command line call these; nothing here knows HTTP.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use ream_wire::{
    Credentials, ErrorCode, LoginMethod, ProofPurpose, SessionTokens, UserSummary, WorkstationProof,
};

use crate::error::{AppError, AppResult};
use crate::secrets::{self, hash_secret, new_token, token_hash, verify_secret};
use crate::state::AppState;
use crate::store::{new_id, FailureRow, NewSession, SessionRow, UserRow, WorkstationRow};

/// Who made a request: the session and its user.
#[derive(Debug, Clone)]
pub struct AuthContext {
    pub session: SessionRow,
    pub user: UserRow,
}

fn invalid() -> AppError {
    AppError::new(ErrorCode::AuthInvalid, "the credentials are not valid")
}

/// Checks a PIN against the policy: digits only, within the allowed length.
pub fn check_pin_format(state: &AppState, pin: &str) -> AppResult<()> {
    let l = &state.config.login;
    let len = pin.len();
    if !pin.bytes().all(|b| b.is_ascii_digit())
        || len < l.pin_min_length as usize
        || len > l.pin_max_length as usize
    {
        return Err(AppError::new(
            ErrorCode::PinInvalid,
            format!("a PIN is {} to {} digits", l.pin_min_length, l.pin_max_length),
        ));
    }
    Ok(())
}

/// Normalises a card number as readers type it: trimmed, upper case.
pub fn normalise_card(card: &str) -> String {
    card.trim().to_ascii_uppercase()
}

/// Sets a user's PIN (hashed, with its lookup value).
pub async fn set_pin(state: &AppState, user_id: &str, pin: &str) -> AppResult<()> {
    check_pin_format(state, pin)?;
    let lookup = state.key.lookup("pin", pin);
    let hash = hash_secret(pin).await?;
    state.store.set_pin(user_id, Some((&lookup, &hash))).await
}

/// Gives the user a new random PIN no one else has, and returns it (shown once).
pub async fn generate_pin(state: &AppState, user_id: &str) -> AppResult<String> {
    for _ in 0..20 {
        let pin = secrets::random_pin(state.config.login.pin_generated_length);
        match set_pin(state, user_id, &pin).await {
            Err(e) if e.code() == ErrorCode::SecretTaken => continue,
            other => return other.map(|_| pin),
        }
    }
    Err(AppError::Internal(anyhow::anyhow!("no free PIN found in 20 draws")))
}

pub async fn add_card(state: &AppState, user_id: &str, card: &str) -> AppResult<crate::store::CardRow> {
    let card = normalise_card(card);
    if card.len() < 4 || card.len() > 64 || !card.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AppError::invalid("a card number is 4 to 64 letters or digits"));
    }
    let lookup = state.key.lookup("card", &card);
    let hash = hash_secret(&card).await?;
    let hint = card[card.len() - 2..].to_string();
    state.store.add_card(user_id, &lookup, &hash, &hint).await
}

/// Identifies a user and opens a session.
pub async fn login(
    state: &AppState,
    credentials: &Credentials,
    remember: Option<&str>,
    source: &str,
) -> AppResult<SessionTokens> {
    let method = credentials.method();
    if !state.config.login.methods.contains(&method) {
        return Err(AppError::new(
            ErrorCode::MethodDisabled,
            format!("login by {} is not enabled on this server", method.as_str()),
        ));
    }
    let remember_option = match remember {
        None => None,
        Some(id) => Some(
            state
                .config
                .login
                .remember
                .iter()
                .find(|o| o.id == id)
                .ok_or_else(|| {
                    AppError::new(ErrorCode::RememberInvalid, format!("remember-me {id:?} is not offered"))
                })?
                .clone(),
        ),
    };
    let attempt =
        Attempt::take(state, source_key(source), state.config.security.max_failed_attempts_per_source)
            .await?;
    let (user, workstation) = identify(state, credentials, attempt).await?;
    if user.is_disabled() {
        return Err(AppError::new(ErrorCode::Forbidden, "this account is disabled"));
    }
    state.store.clear_failures(&identity_key(&user.username)).await?;
    if let Some(ws) = &workstation {
        state.store.touch_workstation(&ws.id).await?;
    }

    let now = state.now_ms();
    let refresh_expires = match &remember_option {
        Some(o) => o.seconds.map(|s| now + s * 1_000),
        None => Some(now + state.config.security.session_idle_seconds * 1_000),
    };
    let access_token = new_token("ra_");
    let refresh_token = new_token("rr_");
    let access_expires = access_expiry(state, now, refresh_expires);
    let id = new_id();
    state
        .store
        .insert_session(&NewSession {
            id: &id,
            user_id: &user.id,
            method: method.as_str(),
            workstation_id: workstation.as_ref().map(|w| w.id.as_str()),
            remember: remember_option.as_ref().map(|o| o.id.as_str()),
            access_hash: &token_hash(&access_token),
            access_expires_at_ms: access_expires,
            refresh_hash: &token_hash(&refresh_token),
            refresh_expires_at_ms: refresh_expires,
        })
        .await?;
    tracing::info!(user = %user.username, method = method.as_str(), "login");
    Ok(SessionTokens {
        session_id: id,
        method,
        user: UserSummary { username: user.username, full_name: user.full_name },
        access_token,
        access_expires_at_ms: access_expires,
        refresh_token,
        refresh_expires_at_ms: refresh_expires,
        remember: remember_option.map(|o| o.id),
    })
}

fn access_expiry(state: &AppState, now: i64, refresh_expires: Option<i64>) -> i64 {
    let access = now + state.config.security.access_token_seconds * 1_000;
    refresh_expires.map_or(access, |r| access.min(r))
}

fn identity_key(username: &str) -> String {
    format!("user:{username}")
}

/// The key failed attempts from one client address are counted under: the address, or
/// for IPv6 its /64 (one subscriber's network: a host picks any address in it at will).
pub fn source_key(source: &str) -> String {
    match source.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("src:{net}/64")
        }
        Ok(std::net::IpAddr::V6(v6)) => format!("src:{}", v6.to_ipv4_mapped().expect("mapped")),
        _ => format!("src:{source}"),
    }
}

/// One attempt at a secret, counted against `key` before the secret is checked, so that
/// checking and counting are one step: however many run at once, at most the limit are
/// ever checked in a window. Settled by [`Attempt::failed`] or [`Attempt::succeeded`].
pub struct Attempt {
    key: String,
    max: i64,
}

impl Attempt {
    /// Takes the attempt; `AUTH_LOCKED` when the key has none left.
    pub async fn take(state: &AppState, key: String, max: i64) -> AppResult<Attempt> {
        let window = state.config.security.lockout_seconds * 1_000;
        match state.store.take_attempt(&key, max, window).await? {
            Some(until) => {
                log_lock(&key, until, max);
                Err(AppError::locked(until, state.now_ms()))
            }
            None => Ok(Attempt { key, max }),
        }
    }

    /// The secret was right (or the attempt ended before any was checked).
    pub async fn succeeded(self, state: &AppState) -> AppResult<()> {
        state.store.give_back_attempt(&self.key).await
    }

    /// The secret was wrong: it stays counted; the lock's end when it was the last.
    pub async fn failed(self, state: &AppState) -> AppResult<Option<i64>> {
        let window = state.config.security.lockout_seconds * 1_000;
        let locked = state.store.lock_if_spent(&self.key, self.max, window).await?;
        if let Some(until) = locked {
            log_lock(&self.key, until, self.max);
        }
        Ok(locked)
    }
}

/// Says in the log that a key was locked (an administrator may lift it: `ream-server
/// admin lockout lift`).
fn log_lock(key: &str, until: i64, max: i64) {
    let until = crate::clock::iso8601(until);
    match parse_key(key) {
        Some((LockKind::User, name)) => {
            tracing::warn!(user = %name, %until, "identity locked after {max} failed logins");
        }
        Some((LockKind::Source, address)) => {
            tracing::warn!(source = %address, %until, "source address locked after {max} failed attempts");
        }
        None => tracing::warn!(%key, %until, "locked after {max} failed attempts"),
    }
}

/// Settles a wrong secret: the source's attempt and, when one was taken, the identity's
/// stay counted; the answer says whether this attempt locked either.
async fn fail(state: &AppState, source: Attempt, identity: Option<Attempt>) -> AppError {
    let mut locked = None;
    match source.failed(state).await {
        Ok(l) => locked = locked.or(l),
        Err(e) => return e,
    }
    if let Some(identity) = identity {
        match identity.failed(state).await {
            Ok(l) => locked = locked.or(l),
            Err(e) => return e,
        }
    }
    match locked {
        Some(until) => AppError::locked(until, state.now_ms()),
        None => invalid(),
    }
}

/// No secret was checked (the identity is locked): the source's attempt is given back.
async fn not_tried(state: &AppState, source: Attempt, e: AppError) -> AppError {
    match source.succeeded(state).await {
        Ok(()) => e,
        Err(other) => other,
    }
}

/// The identity's attempt, taken once it is known who is being tried.
async fn identity_attempt(state: &AppState, username: &str) -> AppResult<Attempt> {
    Attempt::take(state, identity_key(username), state.config.security.max_failed_attempts).await
}

/// What failed attempts are counted against: an identity (a username) or a source (a
/// client address, across identities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    User,
    Source,
}

fn parse_key(key: &str) -> Option<(LockKind, &str)> {
    match key.split_once(':')? {
        ("user", name) => Some((LockKind::User, name)),
        ("src", address) => Some((LockKind::Source, address)),
        _ => None,
    }
}

fn key_of(kind: LockKind, name: &str) -> String {
    match kind {
        LockKind::User => identity_key(name),
        LockKind::Source => source_key(name),
    }
}

/// The failed attempts counted against an identity or a source in the current window,
/// and the lock's end while it is locked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Lockout {
    pub kind: LockKind,
    /// The username, or the client address.
    pub name: String,
    pub failures: i64,
    pub locked_until_ms: Option<i64>,
}

fn lockout_of(state: &AppState, kind: LockKind, name: &str, row: Option<&FailureRow>) -> Lockout {
    let now = state.now_ms();
    let window = state.config.security.lockout_seconds * 1_000;
    let current =
        row.filter(|r| r.window_start_ms + window > now || r.locked_until_ms.is_some_and(|t| t > now));
    Lockout {
        kind,
        name: name.to_string(),
        failures: current.map_or(0, |r| r.failures),
        locked_until_ms: current.and_then(|r| r.locked_until_ms).filter(|&t| t > now),
    }
}

/// The identities and sources locked now.
pub async fn lockouts(state: &AppState) -> AppResult<Vec<Lockout>> {
    let rows = state.store.failure_rows().await?;
    Ok(rows
        .iter()
        .filter_map(|r| parse_key(&r.key).map(|(kind, name)| lockout_of(state, kind, name, Some(r))))
        .filter(|l| l.locked_until_ms.is_some())
        .collect())
}

/// Lifts the lock on an identity or a source (if any) and forgets its failed attempts;
/// the answer is what there was.
pub async fn unlock(state: &AppState, kind: LockKind, name: &str, actor: &str) -> AppResult<Lockout> {
    let key = key_of(kind, name);
    let before = lockout_of(state, kind, name, state.store.failure_row(&key).await?.as_ref());
    state.store.clear_failures(&key).await?;
    if before.locked_until_ms.is_some() {
        tracing::info!(?kind, %name, actor, "lock lifted");
    }
    Ok(before)
}

/// Who the credentials identify. The source's attempt is settled here: counted when a
/// secret was wrong (or nobody has it), given back otherwise.
async fn identify(
    state: &AppState,
    credentials: &Credentials,
    source: Attempt,
) -> AppResult<(UserRow, Option<WorkstationRow>)> {
    let store = &state.store;
    let found = match credentials {
        Credentials::Pin { pin } => {
            let user = match check_pin_format(state, pin) {
                Ok(()) => store.user_by_pin_lookup(&state.key.lookup("pin", pin)).await?,
                Err(_) => None,
            };
            let Some(user) = user else { return Err(fail(state, source, None).await) };
            let identity = match identity_attempt(state, &user.username).await {
                Ok(a) => a,
                Err(e) => return Err(not_tried(state, source, e).await),
            };
            let right = match &user.pin_hash {
                Some(h) => verify_secret(pin, h).await,
                None => false,
            };
            if !right {
                return Err(fail(state, source, Some(identity)).await);
            }
            (user, None)
        }
        Credentials::Card { card } => {
            let card = normalise_card(card);
            let Some(row) = store.card_by_lookup(&state.key.lookup("card", &card)).await? else {
                return Err(fail(state, source, None).await);
            };
            let user = store.user_by_id(&row.user_id).await?;
            let identity = match identity_attempt(state, &user.username).await {
                Ok(a) => a,
                Err(e) => return Err(not_tried(state, source, e).await),
            };
            if !verify_secret(&card, &row.hash).await {
                return Err(fail(state, source, Some(identity)).await);
            }
            (user, None)
        }
        Credentials::CardPin { card, pin } => {
            let card = normalise_card(card);
            let Some(row) = store.card_by_lookup(&state.key.lookup("card", &card)).await? else {
                // As much work as for a known card, so the answer's time does not tell
                // which card numbers exist.
                secrets::verify_against_nothing(pin).await;
                secrets::verify_against_nothing(&card).await;
                return Err(fail(state, source, None).await);
            };
            let user = store.user_by_id(&row.user_id).await?;
            let identity = match identity_attempt(state, &user.username).await {
                Ok(a) => a,
                Err(e) => return Err(not_tried(state, source, e).await),
            };
            // Both checked whatever the first says: the same work either way.
            let pin_ok = match user.pin_hash.as_deref() {
                Some(h) => verify_secret(pin, h).await,
                None => {
                    secrets::verify_against_nothing(pin).await;
                    false
                }
            };
            let card_ok = verify_secret(&card, &row.hash).await;
            if !(pin_ok && card_ok) {
                return Err(fail(state, source, Some(identity)).await);
            }
            (user, None)
        }
        Credentials::Password { username, password } => {
            let identity = match identity_attempt(state, username).await {
                Ok(a) => a,
                Err(e) => return Err(not_tried(state, source, e).await),
            };
            let user = store.find_user(username).await?;
            let ok = match user.as_ref().and_then(|u| u.password_hash.as_deref()) {
                Some(h) => verify_secret(password, h).await,
                None => {
                    secrets::verify_against_nothing(password).await;
                    false
                }
            };
            match user {
                Some(user) if ok => (user, None),
                _ => return Err(fail(state, source, Some(identity)).await),
            }
        }
        Credentials::UserList { proof } => {
            let identified = async {
                let ws = verify_proof(state, proof, ProofPurpose::UserList).await?;
                let user =
                    store.find_user(&proof.subject).await?.ok_or_else(|| AppError::not_found("user"))?;
                no_secretless_admin(&user, "the user list")?;
                Ok((user, Some(ws)))
            };
            let identified = identified.await;
            source.succeeded(state).await?;
            return identified;
        }
        Credentials::Sso { proof } => {
            let identified = async {
                let ws = verify_proof(state, proof, ProofPurpose::Sso).await?;
                let user = store.find_user(&proof.subject).await?.ok_or_else(|| {
                    AppError::new(
                        ErrorCode::AuthInvalid,
                        format!("no Ream account for the OS user {}", proof.subject),
                    )
                })?;
                no_secretless_admin(&user, "single sign-on")?;
                Ok((user, Some(ws)))
            };
            let identified = identified.await;
            source.succeeded(state).await?;
            return identified;
        }
    };
    source.succeeded(state).await?;
    Ok(found)
}

/// An administrator is identified by a secret, never by a workstation's word alone: any
/// process of the workstation's OS user can sign a user-list or single sign-on proof.
fn no_secretless_admin(user: &UserRow, how: &str) -> AppResult<()> {
    if user.is_admin() {
        tracing::warn!(user = %user.username, how, "refused an administrator's login without a secret");
        return Err(AppError::new(ErrorCode::AuthInvalid, "an administrator logs in with a password"));
    }
    Ok(())
}

/// The enrolled workstation's public key.
pub fn workstation_key(ws: &WorkstationRow) -> AppResult<VerifyingKey> {
    let key_bytes: [u8; 32] = STANDARD
        .decode(&ws.public_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("stored workstation key is malformed")))?;
    VerifyingKey::from_bytes(&key_bytes)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored workstation key: {e}")))
}

/// Checks a workstation proof: an enrolled, unrevoked workstation signed it, for this
/// purpose, recently, and it has not been seen before.
pub async fn verify_proof(
    state: &AppState,
    proof: &WorkstationProof,
    purpose: ProofPurpose,
) -> AppResult<WorkstationRow> {
    let fields_ok = [&proof.workstation_id, &proof.subject, &proof.nonce].iter().all(|f| !f.contains('\n'))
        && (16..=128).contains(&proof.nonce.len());
    if !fields_ok {
        return Err(AppError::new(ErrorCode::AssertionInvalid, "malformed workstation proof"));
    }
    let ws =
        state.store.workstation(&proof.workstation_id).await?.ok_or_else(|| {
            AppError::new(ErrorCode::WorkstationUnknown, "this workstation is not enrolled")
        })?;
    if ws.revoked_at_ms.is_some() {
        return Err(AppError::new(ErrorCode::WorkstationRevoked, "this workstation's enrolment was revoked"));
    }
    let key = workstation_key(&ws)?;
    let signature =
        STANDARD.decode(&proof.signature).ok().and_then(|b| Signature::from_slice(&b).ok()).ok_or_else(
            || AppError::new(ErrorCode::AssertionInvalid, "the proof's signature is malformed"),
        )?;
    if key.verify(&proof.bytes_to_verify(), &signature).is_err() || proof.purpose != purpose {
        return Err(AppError::new(ErrorCode::AssertionInvalid, "the proof's signature does not verify"));
    }
    let now = state.now_ms();
    let skew = state.config.security.proof_max_skew_seconds * 1_000;
    if (now - proof.issued_at_ms).abs() > skew {
        return Err(AppError::new(
            ErrorCode::AssertionExpired,
            "the proof is too old (or the clocks disagree)",
        ));
    }
    if !state.store.use_nonce(&ws.id, &proof.nonce, proof.issued_at_ms + skew + 1_000).await? {
        return Err(AppError::new(ErrorCode::AssertionReplayed, "this proof was used already"));
    }
    Ok(ws)
}

/// Checks a public key for enrolment: base64 of 32 bytes that form an Ed25519 point.
pub fn check_public_key(b64: &str) -> AppResult<()> {
    let bytes: [u8; 32] = STANDARD
        .decode(b64)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| AppError::invalid("public_key must be base64 of 32 bytes"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| AppError::invalid("public_key is not an Ed25519 key"))?;
    Ok(())
}

/// Resolves a bearer access token to its live session.
pub async fn authenticate(state: &AppState, access_token: &str) -> AppResult<AuthContext> {
    let session = state
        .store
        .session_by_access(&token_hash(access_token))
        .await?
        .ok_or_else(|| AppError::new(ErrorCode::AuthInvalid, "unknown access token"))?;
    check_session_live(state, &session)?;
    if session.access_expires_at_ms <= state.now_ms() {
        return Err(AppError::new(ErrorCode::TokenExpired, "the access token has expired; refresh it"));
    }
    let user = state.store.user_by_id(&session.user_id).await?;
    if user.is_disabled() {
        return Err(AppError::new(ErrorCode::Forbidden, "this account is disabled"));
    }
    Ok(AuthContext { session, user })
}

/// A session is live until revoked or until its refresh token expires.
pub fn check_session_live(state: &AppState, session: &SessionRow) -> AppResult<()> {
    if session.revoked_at_ms.is_some() {
        let reason = session.revoked_reason.as_deref().unwrap_or("ended");
        return Err(AppError::new(ErrorCode::SessionRevoked, format!("the session has ended ({reason})")));
    }
    if session.refresh_expires_at_ms.is_some_and(|t| t <= state.now_ms()) {
        return Err(AppError::new(ErrorCode::TokenExpired, "the session has expired; log in again"));
    }
    Ok(())
}

/// Trades a refresh token for new tokens. A remembered session keeps its end; a
/// session-only one is extended.
pub async fn refresh(state: &AppState, refresh_token: &str) -> AppResult<SessionTokens> {
    let hash = token_hash(refresh_token);
    let session = match state.store.session_by_refresh(&hash).await? {
        Some(session) => session,
        None => match state.store.session_by_previous_refresh(&hash).await? {
            // Replaced a moment ago: most likely its holder never got the answer (killed, or
            // cut off); it gets new tokens once more, and the ones it missed stop working.
            Some(session)
                if session.revoked_at_ms.is_none()
                    && session.rotated_at_ms.is_some_and(|t| {
                        state.now_ms() - t <= state.config.security.refresh_retry_seconds * 1_000
                    }) =>
            {
                tracing::info!(session = %session.id, "a refresh retried with the token it replaced");
                session
            }
            Some(stolen) => {
                if stolen.revoked_at_ms.is_none() {
                    tracing::warn!(session = %stolen.id, "a replaced refresh token was presented; ending the session");
                    state.store.revoke_session(&stolen.id, "refresh token reused").await?;
                }
                return Err(AppError::new(ErrorCode::SessionRevoked, "this refresh token was already used"));
            }
            None => return Err(AppError::new(ErrorCode::AuthInvalid, "unknown refresh token")),
        },
    };
    check_session_live(state, &session)?;
    let user = state.store.user_by_id(&session.user_id).await?;
    if user.is_disabled() {
        return Err(AppError::new(ErrorCode::Forbidden, "this account is disabled"));
    }
    let now = state.now_ms();
    let refresh_expires = match session.remember {
        Some(_) => session.refresh_expires_at_ms,
        None => Some(now + state.config.security.session_idle_seconds * 1_000),
    };
    let access_token = new_token("ra_");
    let new_refresh = new_token("rr_");
    let access_expires = access_expiry(state, now, refresh_expires);
    let rotated = state
        .store
        .rotate_session(
            &session.id,
            &session.refresh_hash,
            &hash,
            &token_hash(&access_token),
            access_expires,
            &token_hash(&new_refresh),
            refresh_expires,
        )
        .await?;
    if !rotated {
        return Err(AppError::new(ErrorCode::AuthInvalid, "this refresh token was just used"));
    }
    Ok(SessionTokens {
        session_id: session.id,
        method: LoginMethod::parse(&session.method).unwrap_or(LoginMethod::Password),
        user: UserSummary { username: user.username, full_name: user.full_name },
        access_token,
        access_expires_at_ms: access_expires,
        refresh_token: new_refresh,
        refresh_expires_at_ms: refresh_expires,
        remember: session.remember,
    })
}
