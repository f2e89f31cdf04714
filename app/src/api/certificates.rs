//! Server functions of the Certificates area. Everything shown is computed on the server —
//! statuses, uses, the expiry timeline's geometry — so the page only lays it out. Shapes
//! are those of /api/v1/certificates.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::AppError;
use crate::domain::{CertificateStatus, CertificateUploadInput, CertificateView, Finding, InventoryQuery};

/// One bar of the expiry timeline, in the SVG's coordinates (0‥[`TIMELINE_WIDTH`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineBar {
    pub id: i64,
    pub label: String,
    pub start: f64,
    pub end: f64,
    pub status: CertificateStatus,
    /// The whole story for a tooltip: name, status, dates.
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineTick {
    pub x: f64,
    pub label: String,
}

/// Validity periods against a calendar, with today and the 30-day warning line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelineView {
    pub bars: Vec<TimelineBar>,
    pub ticks: Vec<TimelineTick>,
    pub today: f64,
    pub warning: f64,
}

pub const TIMELINE_WIDTH: f64 = 1000.0;

/// The inventory: the certificates that pass the filters, the environments to filter by
/// and upload to, and the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryView {
    pub certificates: Vec<CertificateView>,
    /// Current certificates before filtering.
    pub total: usize,
    pub environments: Vec<String>,
    pub timeline: TimelineView,
}

/// What an upload stored, and what the checklist now says about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadedView {
    pub id: i64,
    pub findings: Vec<Finding>,
}

#[cfg(feature = "ssr")]
fn use_secret_key() -> Result<std::sync::Arc<crate::backend::certificates::SecretKey>, AppError> {
    use_context::<std::sync::Arc<crate::backend::certificates::SecretKey>>().ok_or_else(|| {
        tracing::error!("no secret key in the Leptos context");
        AppError::Internal
    })
}

#[cfg(feature = "ssr")]
impl From<crate::backend::certificates::CertificateError> for AppError {
    fn from(error: crate::backend::certificates::CertificateError) -> Self {
        use crate::backend::certificates::CertificateError;
        match error {
            CertificateError::Upload(error) => AppError::Fields(vec![error.to_field_error()]),
            CertificateError::Db(error) => error.into(),
            CertificateError::Seal(error) => {
                tracing::error!(%error, "a stored key does not open");
                AppError::Internal
            }
        }
    }
}

/// Bars from `not_before` to `not_after` on a time axis from a month before today (or the
/// earliest start, up to half a year back) to the latest expiry (up to three years ahead).
#[cfg(feature = "ssr")]
pub fn timeline(certificates: &[CertificateView], now: i64) -> TimelineView {
    use time::format_description::well_known::Rfc3339;
    use time::{Date, Month, OffsetDateTime};
    const DAY: i64 = 86_400;
    let parse = |text: &Option<String>| {
        text.as_deref().and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok()).map(OffsetDateTime::unix_timestamp)
    };
    let dated: Vec<(&CertificateView, i64, i64)> =
        certificates.iter().filter_map(|c| Some((c, parse(&c.not_before)?, parse(&c.not_after)?))).collect();
    let first = dated.iter().map(|(_, start, _)| *start).min().unwrap_or(now).clamp(now - 180 * DAY, now - 30 * DAY);
    let last = dated.iter().map(|(_, _, end)| *end).max().unwrap_or(now).clamp(now + 60 * DAY, now + 3 * 365 * DAY);
    let span = (last - first) as f64;
    let x = |t: i64| ((t.clamp(first, last) - first) as f64 / span * TIMELINE_WIDTH * 100.0).round() / 100.0;
    let bars = dated
        .iter()
        .map(|(c, start, end)| TimelineBar {
            id: c.id,
            label: format!("{} / {}", c.environment, c.name),
            start: x(*start),
            end: x(*end),
            status: c.status,
            title: format!("{}/{}: {} — {}", c.environment, c.name, c.status.label(), c.status_detail),
        })
        .collect();
    // A tick on the first of every month (every third month beyond a year and a half).
    let step = if last - first > 540 * DAY { 3 } else { 1 };
    let mut ticks = Vec::new();
    if let Ok(start) = OffsetDateTime::from_unix_timestamp(first) {
        let (mut year, mut month) = (start.year(), start.month());
        loop {
            month = month.next();
            if month == Month::January {
                year += 1;
            }
            if (u8::from(month) - 1) % step != 0 {
                continue;
            }
            let Ok(date) = Date::from_calendar_date(year, month, 1) else { break };
            let at = date.midnight().assume_utc().unix_timestamp();
            if at > last {
                break;
            }
            let label = if month == Month::January || ticks.is_empty() {
                format!("{} {year}", &month.to_string()[..3])
            } else {
                month.to_string()[..3].to_owned()
            };
            ticks.push(TimelineTick { x: x(at), label });
        }
    }
    TimelineView { bars, ticks, today: x(now), warning: x(now + crate::domain::checklist::EXPIRY_WARNING_SECONDS) }
}

/// The inventory for `?environment=…&status=…&sort=…`.
#[server(input = leptos::server_fn::codec::Json)]
pub async fn list_certificates(query: InventoryQuery) -> Result<InventoryView, AppError> {
    use crate::backend::{certificates, environments, plan};
    let db = crate::backend::db::use_database()?;
    let all = certificates::list(&db, &InventoryQuery { sort: query.sort, ..InventoryQuery::default() }).await?;
    let total = all.len();
    let certificates = query.apply(all);
    let environments = environments::list(&db).await?.into_iter().map(|e| e.name.to_string()).collect();
    let timeline = timeline(&certificates, plan::now_unix());
    Ok(InventoryView { certificates, total, environments, timeline })
}

/// One version with its chain and history.
#[server]
pub async fn get_certificate(id: i64) -> Result<CertificateView, AppError> {
    let db = crate::backend::db::use_database()?;
    crate::backend::certificates::get(&db, id).await?.ok_or_else(|| AppError::NotFound(format!("there is no certificate with id {id}")))
}

/// Parses, verifies and stores an upload (or a Secret reference) for `environment`.
#[server(input = leptos::server_fn::codec::Json)]
pub async fn upload_certificate(environment: String, input: CertificateUploadInput) -> Result<UploadedView, AppError> {
    use crate::backend::certificates;
    let db = crate::backend::db::use_database()?;
    let secret_key = use_secret_key()?;
    let upload =
        crate::domain::CertificateUpload::parse(input).map_err(|errors| AppError::Fields(errors.into_vec()))?;
    let uploaded =
        certificates::upload(&db, &secret_key, crate::backend::ANONYMOUS, &environment, &upload).await?;
    Ok(UploadedView { id: uploaded.certificate.id, findings: uploaded.findings })
}

#[server]
pub async fn delete_certificate(id: i64) -> Result<(), AppError> {
    let db = crate::backend::db::use_database()?;
    Ok(crate::backend::certificates::delete(&db, crate::backend::ANONYMOUS, id).await?)
}
