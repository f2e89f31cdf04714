use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// Errors that cross the wire from a server function to the page. Messages are written for
/// the person reading the page; internal details stay in the server log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    /// The caller's role or scopes do not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// Fields that do not parse, each with its path and how to fix it.
    #[error("{} {} fixing", crate::domain::counted(.0.len(), "field"), if .0.len() == 1 { "needs" } else { "need" })]
    Fields(Vec<crate::domain::FieldError>),
    /// Error-level checklist findings the change would add; nothing was saved.
    #[error("the change breaks {}", crate::domain::counted(.0.len(), "checklist rule"))]
    Rejected(Vec<crate::domain::Finding>),
    /// The database was too busy to answer in time; nothing was changed.
    #[error("{0}")]
    Busy(String),
    #[error("something went wrong on the server; the server log has the details")]
    Internal,
    #[error("the request to the server failed: {0}")]
    Transport(String),
}

impl AppError {
    /// The HTTP status a page showing this error is served with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::NotFound(_) => 404,
            AppError::Invalid(_) | AppError::Fields(_) | AppError::Rejected(_) => 422,
            AppError::Conflict(_) => 409,
            AppError::Forbidden(_) => 403,
            AppError::Busy(_) => 503,
            AppError::Internal | AppError::Transport(_) => 500,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<crate::backend::db::DbError> for AppError {
    fn from(error: crate::backend::db::DbError) -> Self {
        use crate::backend::db::DbError;
        match error {
            DbError::NotFound(message) => AppError::NotFound(message),
            DbError::Conflict(message) => AppError::Conflict(message),
            DbError::Denied(denied) => AppError::Forbidden(denied.message),
            DbError::Invalid(errors) => AppError::Fields(errors.into_vec()),
            DbError::Rejected(findings) => AppError::Rejected(findings),
            other if other.is_busy() => {
                tracing::warn!(error = %other, "the database was busy in a server function");
                AppError::Busy("the database is busy with other changes; nothing was changed — try again in a moment".to_owned())
            }
            other => {
                tracing::error!(error = %other, "database error in a server function");
                AppError::Internal
            }
        }
    }
}
