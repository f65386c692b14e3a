//! The server's error type. Every failure a caller can act on carries a stable
//! [`ErrorCode`]; everything else is `Internal`, logged with its context and answered
//! without details (no SQL, no paths).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ream_wire::{ApiError, ErrorCode, Shortfall};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{code}: {message}")]
    Api { code: ErrorCode, message: String, retry_at_ms: Option<i64>, shortfall: Option<Shortfall> },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError::Api { code, message: message.into(), retry_at_ms: None, shortfall: None }
    }

    /// A job its account cannot pay for, with the figures.
    pub fn short(code: ErrorCode, message: impl Into<String>, shortfall: Shortfall) -> AppError {
        AppError::Api { code, message: message.into(), retry_at_ms: None, shortfall: Some(shortfall) }
    }

    /// `AUTH_LOCKED` until `retry_at_ms`, the message saying when in words a person
    /// reads (how long from `now_ms`, and the time in UTC).
    pub fn locked(retry_at_ms: i64, now_ms: i64) -> AppError {
        let secs = ((retry_at_ms - now_ms).max(0) as u64).div_ceil(1_000);
        let (n, unit) = if secs < 60 { (secs, "second") } else { (secs.div_ceil(60), "minute") };
        let left = format!("{n} more {unit}{}", if n == 1 { "" } else { "s" });
        AppError::Api {
            code: ErrorCode::AuthLocked,
            message: format!(
                "too many failed attempts; locked for {left}, until {}",
                crate::clock::iso8601(retry_at_ms)
            ),
            retry_at_ms: Some(retry_at_ms),
            shortfall: None,
        }
    }

    pub fn not_found(what: impl std::fmt::Display) -> AppError {
        AppError::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn invalid(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::InvalidInput, message)
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Api { code, .. } => *code,
            AppError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> AppError {
        AppError::Internal(anyhow::Error::new(e).context("database"))
    }
}

pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        AuthRequired | AuthInvalid | TokenExpired | SessionRevoked | AssertionInvalid | AssertionExpired
        | AssertionReplayed | WorkstationUnknown | WorkstationRevoked | EnrolmentCodeInvalid => {
            StatusCode::UNAUTHORIZED
        }
        AuthLocked => StatusCode::TOO_MANY_REQUESTS,
        Forbidden | MethodDisabled => StatusCode::FORBIDDEN,
        NotFound => StatusCode::NOT_FOUND,
        Conflict | SecretTaken => StatusCode::CONFLICT,
        InvalidInput | RememberInvalid | PinInvalid | DocumentInvalid => StatusCode::UNPROCESSABLE_ENTITY,
        CreditInsufficient | QuotaExceeded => StatusCode::PAYMENT_REQUIRED,
        SpoolFull => StatusCode::INSUFFICIENT_STORAGE,
        Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = match self {
            AppError::Api { code, message, retry_at_ms, shortfall } => {
                ApiError { code, message, retry_at_ms, shortfall }
            }
            AppError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                ApiError {
                    code: ErrorCode::Internal,
                    message: "internal server error".into(),
                    retry_at_ms: None,
                    shortfall: None,
                }
            }
        };
        (status_of(body.code), Json(body)).into_response()
    }
}
