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

/// What an `UNAVAILABLE` answer's `Retry-After` says.
const RETRY_AFTER_SECONDS: u16 = 5;

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

    /// `UNAVAILABLE`: a part the server needs does not answer in time; nothing was done.
    pub fn unavailable(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::Unavailable, message)
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
        match e {
            // Every connection busy for the pool's whole wait: past capacity, the request
            // is turned away whole rather than left to queue without end.
            sqlx::Error::PoolTimedOut => {
                tracing::warn!("no database connection came free in time: a request is turned away");
                AppError::unavailable("the server is too busy to answer now; try again shortly")
            }
            e => AppError::Internal(anyhow::Error::new(e).context("database")),
        }
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
        Unavailable => StatusCode::SERVICE_UNAVAILABLE,
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
        let status = status_of(body.code);
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // A balancer or a client may try again (on another instance) after this.
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, RETRY_AFTER_SECONDS.into());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_too_busy_to_lend_a_connection_answers_unavailable_with_when_to_try_again() {
        let answer = AppError::from(sqlx::Error::PoolTimedOut).into_response();
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.headers()[axum::http::header::RETRY_AFTER], "5");
        let other = AppError::from(sqlx::Error::RowNotFound).into_response();
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR, "anything else stays internal");
        assert!(other.headers().get(axum::http::header::RETRY_AFTER).is_none());
    }
}
