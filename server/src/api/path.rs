//! A path extractor whose rejections follow the API's error policy: `/pools/abc` says that
//! the pool id is a number, in the JSON error shape, rather than axum's plain-text 400.
use axum::{
    extract::{FromRequestParts, Path, RawPathParams, rejection::PathRejection},
    http::request::Parts,
};
use serde::de::DeserializeOwned;

use super::ApiError;

pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => {
                let params = RawPathParams::from_request_parts(parts, state).await.ok();
                Err(rejection_to_error(rejection, params))
            }
        }
    }
}

fn rejection_to_error(rejection: PathRejection, params: Option<RawPathParams>) -> ApiError {
    use axum::extract::path::ErrorKind;
    let PathRejection::FailedToDeserializePathParams(failure) = &rejection else {
        return ApiError::new(rejection.status(), "invalid_path", rejection.body_text());
    };
    match failure.kind() {
        ErrorKind::ParseErrorAtKey { key, value, expected_type } => ApiError::bad_request(
            "invalid_path",
            format!(
                "`{value}` is not a valid {key}: it must be {} — use the id the API lists, such as /api/v1/pools/3",
                expected(expected_type)
            ),
        )
        .with_field(key.clone()),
        // A route with one parameter reports no key: it is the one whose value failed.
        ErrorKind::ParseError { value, expected_type } | ErrorKind::ParseErrorAtIndex { value, expected_type, .. } => {
            let key = params
                .iter()
                .flat_map(|params| params.iter())
                .find(|(_, raw)| raw == value)
                .map(|(key, _)| key.to_owned());
            let error = ApiError::bad_request(
                "invalid_path",
                format!(
                    "`{value}` is not a valid {}: it must be {} — use the id the API lists, such as /api/v1/pools/3",
                    key.as_deref().unwrap_or("address"),
                    expected(expected_type)
                ),
            );
            match key {
                Some(key) => error.with_field(key),
                None => error,
            }
        }
        _ => ApiError::bad_request("invalid_path", rejection.body_text()),
    }
}

fn expected(type_name: &str) -> &'static str {
    match type_name {
        "i64" | "i32" | "u64" | "u32" | "usize" => "a whole number",
        _ => "of the kind the route expects",
    }
}
