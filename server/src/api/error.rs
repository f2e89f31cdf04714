//! The API's error policy: a user-facing error has the right status and a body
//! `{"error": {"code", "message", "field"?, "rule"?}, "errors": [...]?}` that says what to fix.
//! Anything unexpected is logged and becomes a 500 with no internal detail.
use backend::db::DbError;
use domain::{FieldErrors, Finding};
use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// Rules whose findings mean two objects claim the same thing (answered 409, not 422).
const COLLISION_RULES: &[&str] = &[
    "GH-RANGE-OVERLAP",
    "GH-POD-CIDR-DISTINCT",
    "GH-VIP-DISTINCT",
    "GH-VIP-DUPLICATE",
    "GH-HOSTNAME-DISTINCT",
    "GH-TLS-DISTINCT",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

#[derive(Debug, Serialize)]
struct ErrorBody {
    error: ErrorDetail,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<ErrorDetail>,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    // Boxed: handlers return `Result<_, ApiError>` everywhere, and the Ok path stays small.
    error: Box<ErrorDetail>,
    errors: Vec<ErrorDetail>,
    /// Seconds after which the same request may succeed (`Retry-After`).
    retry_after: Option<u32>,
}

fn detail(code: &str, message: impl Into<String>) -> ErrorDetail {
    ErrorDetail { code: code.to_owned(), message: message.into(), field: None, rule: None }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError { status, error: Box::new(detail(code, message)), errors: Vec::new(), retry_after: None }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.error.field = Some(field.into());
        self
    }

    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }

    pub fn with_rule(mut self, rule: impl Into<String>) -> ApiError {
        self.error.rule = Some(rule.into());
        self
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not take that method; see the API section of the README",
        )
    }

    /// Values that parse as JSON but break a rule: 422 with every field error.
    pub fn unprocessable(errors: &FieldErrors) -> ApiError {
        let details: Vec<ErrorDetail> = errors
            .iter()
            .map(|error| ErrorDetail {
                code: error.code.clone(),
                message: error.message.clone(),
                field: Some(error.field.clone()),
                rule: None,
            })
            .collect();
        let first = details
            .first()
            .cloned()
            .unwrap_or_else(|| detail("invalid", "the request breaks a rule"));
        ApiError { status: StatusCode::UNPROCESSABLE_ENTITY, error: Box::new(first), errors: details, retry_after: None }
    }

    /// One value that parses as JSON but breaks a rule: 422 naming its field.
    pub fn invalid_field(field: &str, code: &str, message: impl Into<String>) -> ApiError {
        ApiError::unprocessable(&FieldErrors::from(vec![domain::FieldError::new(field, code, message)]))
    }

    /// A change refused because it would break error-level checklist rules: 409 when it
    /// collides with another object (an overlap, a duplicate), 422 otherwise.
    pub fn rejected(findings: &[Finding]) -> ApiError {
        let details: Vec<ErrorDetail> = findings
            .iter()
            .map(|finding| ErrorDetail {
                code: "checklist_violation".to_owned(),
                message: finding.sentence(),
                field: finding.field.as_ref().map(|field| field.to_string()),
                rule: Some(finding.rule.to_string()),
            })
            .collect();
        let collides = findings.iter().any(|finding| COLLISION_RULES.contains(&&*finding.rule));
        let status = if collides { StatusCode::CONFLICT } else { StatusCode::UNPROCESSABLE_ENTITY };
        let first = details
            .first()
            .cloned()
            .unwrap_or_else(|| detail("checklist_violation", "the change breaks the checklist"));
        ApiError { status, error: Box::new(first), errors: details, retry_after: None }
    }

    /// 503 with `Retry-After`: the database was too busy to answer in time.
    pub fn busy() -> ApiError {
        let mut error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_busy",
            "the database is busy with other changes; nothing was changed — send the request again in a moment",
        );
        error.retry_after = Some(1);
        error
    }

    /// Logs the cause; the caller sees only that something went wrong.
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error answering an API request");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on the server; the server log has the details",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &str {
        &self.error.code
    }

    pub fn with_message(mut self, message: impl Into<String>) -> ApiError {
        self.error.message = message.into();
        self
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> ApiError {
        match error {
            DbError::NotFound(message) => ApiError::not_found("not_found", message),
            DbError::Conflict(message) => ApiError::conflict("conflict", message),
            DbError::Denied(denied) => denied.into(),
            DbError::Invalid(errors) => ApiError::unprocessable(&errors),
            DbError::Rejected(findings) => ApiError::rejected(&findings),
            other if other.is_busy() => {
                tracing::warn!(error = %other, "the database was busy; answered 503");
                ApiError::busy()
            }
            other => ApiError::internal(&other),
        }
    }
}

impl From<backend::policy::Denied> for ApiError {
    fn from(denied: backend::policy::Denied) -> ApiError {
        let error = ApiError::new(StatusCode::FORBIDDEN, denied.code, denied.message);
        match denied.field {
            Some(field) => error.with_field(field),
            None => error,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: *self.error, errors: self.errors };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
        }
        response
    }
}
