//! What the server puts in each server function's Leptos context: the database and the
//! signed-in caller. The backend takes both as arguments; only the app reads the context.
use backend::{auth::Principal, db::Database};
use leptos::prelude::use_context;

use super::AppError;

/// The database of this request, provided as context by the server.
pub fn use_database() -> Result<Database, AppError> {
    use_context::<Database>().ok_or_else(|| {
        tracing::error!("no Database in the Leptos context");
        AppError::Internal
    })
}

/// The signed-in caller of this server function (the server puts it in the context).
pub fn current() -> Result<Principal, AppError> {
    use_context::<Principal>().ok_or_else(|| {
        tracing::error!("a server function that changes data ran without a signed-in caller");
        AppError::Internal
    })
}
