//! What the client engine tells its front ends (the desktop app's webview, the headless
//! client's terminal): its status and its events.

use serde::{Deserialize, Serialize};

use crate::{AccountView, LoginMethod, UserSummary};

/// The link to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Connection {
    /// No server configured yet.
    NotConfigured,
    Connecting,
    Online,
    /// The server cannot be reached; the engine keeps trying.
    Offline {
        since_ms: i64,
        reason: String,
    },
}

/// Everything a front end shows about the client, in one value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ClientStatus {
    pub server: Option<String>,
    pub connection: Connection,
    /// The identified user, if any.
    pub user: Option<UserSummary>,
    pub method: Option<LoginMethod>,
    /// The remember-me choice of the current login (`None`: this session only).
    pub remember: Option<String>,
    /// When the login ends by itself (`None` with a user: only by logout).
    pub session_ends_at_ms: Option<i64>,
    /// The last account state received.
    pub account: Option<AccountView>,
    /// True when `account` may be out of date (the server is unreachable).
    pub account_stale: bool,
    /// When `account` was received.
    pub account_as_of_ms: Option<i64>,
    pub workstation_id: Option<String>,
    /// Grows with every change: of two statuses, the one with the higher revision is the
    /// newer. A front end may receive a command's reply after a later pushed status, and
    /// must not go back to the older one.
    #[serde(default)]
    pub revision: u64,
    /// Jobs printed while offline whose journal entries the server has not yet answered.
    #[serde(default)]
    pub offline_pending: u32,
}

/// The codes of the client engine's own errors (a server's refusal keeps the server's
/// [`crate::ErrorCode`]). Stable: front ends word each of them; never renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClientErrorCode {
    NotConfigured,
    ServerUnreachable,
    CertificateChanged,
    CertificateUntrusted,
    /// The user declined the server's certificate.
    Declined,
    NotEnrolled,
    NotLoggedIn,
    Keyring,
    /// A setting, an argument or a local file is not as it must be (the message says).
    Config,
    /// Something that is not a Ream server answered.
    Protocol,
    /// The server cannot be reached and the job's queue does not print without it.
    OfflineRefused,
    /// The user cancelled the job.
    Cancelled,
}

impl ClientErrorCode {
    pub const ALL: [ClientErrorCode; 12] = [
        ClientErrorCode::NotConfigured,
        ClientErrorCode::ServerUnreachable,
        ClientErrorCode::CertificateChanged,
        ClientErrorCode::CertificateUntrusted,
        ClientErrorCode::Declined,
        ClientErrorCode::NotEnrolled,
        ClientErrorCode::NotLoggedIn,
        ClientErrorCode::Keyring,
        ClientErrorCode::Config,
        ClientErrorCode::Protocol,
        ClientErrorCode::OfflineRefused,
        ClientErrorCode::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClientErrorCode::NotConfigured => "NOT_CONFIGURED",
            ClientErrorCode::ServerUnreachable => "SERVER_UNREACHABLE",
            ClientErrorCode::CertificateChanged => "CERTIFICATE_CHANGED",
            ClientErrorCode::CertificateUntrusted => "CERTIFICATE_UNTRUSTED",
            ClientErrorCode::Declined => "DECLINED",
            ClientErrorCode::NotEnrolled => "NOT_ENROLLED",
            ClientErrorCode::NotLoggedIn => "NOT_LOGGED_IN",
            ClientErrorCode::Keyring => "KEYRING",
            ClientErrorCode::Config => "CONFIG",
            ClientErrorCode::Protocol => "PROTOCOL",
            ClientErrorCode::OfflineRefused => "OFFLINE_REFUSED",
            ClientErrorCode::Cancelled => "CANCELLED",
        }
    }
}

/// Why a login ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum LogoutCause {
    /// The user logged out here.
    #[default]
    User,
    /// The remember-me period ended.
    Expired,
    /// The server ended the session (logout elsewhere, revocation, a locked account).
    Ended,
}

/// Something happened that a front end may want to show or act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientEvent {
    /// The status changed (any field).
    Status {
        status: Box<ClientStatus>,
    },
    /// Nobody is identified and something needs a user: ask for a login.
    LoginRequired {
        reason: String,
        /// The methods to offer; empty means any the server enables.
        #[serde(default)]
        methods: Vec<crate::LoginMethod>,
        /// The print job waiting for this login, if one is.
        #[serde(default)]
        job: Option<String>,
    },
    /// The user was logged out (by logout, expiry of the remember-me period, or the server).
    LoggedOut {
        reason: String,
        /// Why, for front ends to say in their own language.
        #[serde(default)]
        cause: LogoutCause,
    },
    ServerUnreachable {
        reason: String,
    },
    ServerBack,
    /// A document printed to this workstation reached the server as this job.
    JobSubmitted {
        job: crate::Job,
    },
    /// A document printed to this workstation could not be submitted.
    JobRefused {
        name: String,
        reason: String,
        /// The stable code of the refusal (the server's, such as `CREDIT_INSUFFICIENT`,
        /// or the client's, such as `NOT_LOGGED_IN`), for front ends to translate.
        #[serde(default)]
        code: String,
    },
    /// A document printed to this workstation cannot reach the server yet (unreachable,
    /// or failing): it is kept and sent again until the server takes it. Told once per job.
    JobDelayed {
        name: String,
        reason: String,
        #[serde(default)]
        code: String,
    },
    /// One of the user's jobs changed state on the server (printed, failed, held…).
    JobChanged {
        job: crate::Job,
    },
    /// A job waits for the user's choices: show its dialog, answer with `answer_job`.
    JobDialog {
        dialog: Box<crate::JobDialog>,
    },
    /// The server cannot be reached and a job may go to a fallback printer (or, with
    /// no printer offered, be tried again or cancelled): ask the user, answer with
    /// `answer_fallback`.
    FallbackOffered {
        offer: Box<FallbackOffer>,
    },
    /// The offer for this job stands no more (answered, or the server is back).
    FallbackClosed {
        job: String,
    },
    /// A job was printed on a fallback printer while the server was unreachable.
    OfflinePrinted {
        name: String,
        printer: String,
    },
    /// Jobs printed offline were reported to the server (`refused`: jobs whose entries
    /// it did not take, which administrators see).
    OfflineReported {
        reported: u32,
        refused: u32,
    },
}

/// How a printer offered for fallback is, asked of it when the offer is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PrinterState {
    Idle,
    Processing,
    Stopped,
    /// It did not answer.
    Unreachable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct FallbackChoice {
    pub name: String,
    pub uri: String,
    /// A printer of this workstation's own spooler, not one the administrator set.
    pub local: bool,
    pub state: PrinterState,
}

/// A job the server cannot take now, and what the user may do with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct FallbackOffer {
    /// The client's id of the job, to answer with.
    pub job: String,
    pub name: String,
    pub queue: Option<String>,
    pub pages: Option<i64>,
    /// Empty: only Try again or Cancel.
    pub printers: Vec<FallbackChoice>,
    /// The user may type a printer's address.
    pub may_type: bool,
    /// Why the server cannot take it.
    pub reason: String,
}

/// The user's answer to a [`FallbackOffer`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum FallbackAnswer {
    /// Print on this printer: a name among the offer's printers, or (when the offer allows
    /// it) an address typed (`ipp://host/…`, `ipps://…`, or a host name).
    Print { printer: String },
    /// Try the server again now.
    TryAgain,
    /// Drop the job.
    Cancel,
}

/// What a person offers to prove who they are. User-list and single sign-on logins are
/// signed by the workstation key, which the engine holds; the front end only names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum LoginInput {
    UserList { username: String },
    Pin { pin: String },
    Card { card: String },
    CardPin { card: String, pin: String },
    Password { username: String, password: String },
    Sso,
}

impl LoginInput {
    pub fn method(&self) -> LoginMethod {
        match self {
            LoginInput::UserList { .. } => LoginMethod::UserList,
            LoginInput::Pin { .. } => LoginMethod::Pin,
            LoginInput::Card { .. } => LoginMethod::Card,
            LoginInput::CardPin { .. } => LoginMethod::CardPin,
            LoginInput::Password { .. } => LoginMethod::Password,
            LoginInput::Sso => LoginMethod::Sso,
        }
    }
}

/// The desktop's About screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct About {
    pub version: String,
    pub server: Option<String>,
    /// The certificate fingerprint the client trusts for `server`, if pinned.
    pub server_fingerprint: Option<String>,
    pub workstation_id: Option<String>,
    /// The operating-system account running the client.
    pub os_user: String,
}

/// The desktop's own settings, beside the engine's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DesktopSettings {
    pub server: Option<String>,
    /// `"en"` or `"fr"`; `None` follows the operating system's locale.
    pub language: Option<String>,
    /// False when remember-me was disabled at installation.
    pub remember_me: bool,
}
