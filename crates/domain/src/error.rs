//! Error plumbing shared by every domain type: a stable machine code per error, and the
//! field errors that a form or an API body turns into (HTTP 422, one entry per bad field).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A stable, machine-readable code for an error, used by the JSON API
/// (`{"error": {"code": "invalid_cidr", …}}`). Codes never change once published.
pub trait ErrorCode: std::error::Error {
    fn code(&self) -> &'static str;
}

/// One problem with one field of an input, e.g. `pod_cidrs[0]` or
/// `environments.dev.hostnames[1]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Path of the field in the JSON body: dots for objects, `[i]` for lists.
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self { field: field.into(), code: code.to_owned(), message: message.into() }
    }

    pub fn from_error<E: ErrorCode + ?Sized>(field: impl Into<String>, error: &E) -> Self {
        Self { field: field.into(), code: error.code().to_owned(), message: error.to_string() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every field error of an input, not just the first: the user fixes them all in one go.
/// Never empty when returned as an `Err`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.0.iter()
    }

    pub fn as_slice(&self) -> &[FieldError] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// The first error on `field`, if any (handy for forms and tests).
    pub fn get(&self, field: &str) -> Option<&FieldError> {
        self.0.iter().find(|e| e.field == field)
    }

    /// `Ok(value)` when nothing was collected.
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, FieldErrors> {
        if self.0.is_empty() { Ok(value()) } else { Err(self) }
    }
}

impl From<Vec<FieldError>> for FieldErrors {
    fn from(errors: Vec<FieldError>) -> Self {
        Self(errors)
    }
}

impl IntoIterator for FieldErrors {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a FieldErrors {
    type Item = &'a FieldError;
    type IntoIter = std::slice::Iter<'a, FieldError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldErrors {}

/// Collects field errors while an input is parsed into domain types.
#[derive(Default)]
pub struct Collector {
    errors: FieldErrors,
}

impl Collector {
    /// Keeps the value, or records the error under `field` and returns `None`.
    pub fn take<T, E: ErrorCode>(&mut self, field: impl Into<String>, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(FieldError::from_error(field, &e));
                None
            }
        }
    }

    pub fn push(&mut self, field: impl Into<String>, code: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, code, message));
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn finish(self) -> FieldErrors {
        self.errors
    }
}

/// Implements `Serialize` (as the `Display` string) and `Deserialize` (through `FromStr`,
/// so deserialising runs the same parser as forms do) for a string newtype.
macro_rules! serde_via_str {
    ($t:ty) => {
        impl ::serde::Serialize for $t {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> ::serde::Deserialize<'de> for $t {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = <String as ::serde::Deserialize>::deserialize(d)?;
                raw.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_via_str;
