//! The parts of the Certificates pages that only show data, rendered to HTML on the server:
//! the filters, the expiry timeline, the table, a certificate's facts, chain and history.
//! Ordinary components, but never compiled into the WASM bundle — the page receives their
//! HTML and hydrates only what reacts (the upload form, the delete button).
use leptos::prelude::*;

use super::super::layout::{DataTable, EmptyState};
use crate::domain::{
    CertificateStatus, CertificateView, InventoryQuery,
    certificates::{CertificateOwners, InventorySort},
};

/// The inventory below the page header: filters, then the timeline and the table (or why
/// there is nothing to show).
pub fn inventory(certificates: Vec<CertificateView>, total: usize, environments: Vec<String>, filters: InventoryQuery, now: i64) -> String {
    let timeline = timeline(&certificates, now);
    render(move || view! {
        <FilterForm environments filters />
        {if total == 0 {
            view! {
                <EmptyState title="No certificates uploaded yet">
                    <p>"Each environment's Gateway terminates TLS with a certificate of its own. Upload a PEM chain and its key below, or refer to a kubernetes.io/tls Secret in the cluster."</p>
                </EmptyState>
            }.into_any()
        } else if certificates.is_empty() {
            view! { <p class="muted" data-testid="no-match">{format!("None of the {total} certificates match these filters. ")}<a href="/certificates">"Show all"</a></p> }.into_any()
        } else {
            view! {
                <Timeline timeline />
                <CertificateTable certificates />
            }.into_any()
        }}
    })
}

/// A certificate's page below its header.
pub fn certificate(certificate: CertificateView) -> String {
    render(move || view! { <CertificateFacts certificate /> })
}

fn render<V: IntoView + 'static>(view: impl FnOnce() -> V) -> String {
    let owner = Owner::new();
    owner.with(|| view().into_view().to_html())
}

#[component]
fn StatusBadge(status: CertificateStatus) -> impl IntoView {
    view! { <span class=format!("status status--{}", status.as_str())>{status.label()}</span> }
}

/// A SHA-256 fingerprint as colon-separated byte pairs, the way browsers show it.
fn grouped(hex: &str) -> String {
    hex.as_bytes().chunks(2).map(|pair| String::from_utf8_lossy(pair).to_ascii_uppercase()).collect::<Vec<_>>().join(":")
}

fn day(rfc3339: &Option<String>) -> String {
    rfc3339.as_deref().and_then(|t| t.split('T').next()).unwrap_or("—").to_owned()
}

// =============================================================================================
// The expiry timeline

/// One bar of the expiry timeline, in the SVG's coordinates (0‥[`TIMELINE_WIDTH`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineBar {
    pub id: i64,
    pub label: String,
    pub start: f64,
    pub end: f64,
    pub status: CertificateStatus,
    /// The whole story for a tooltip: name, status, dates.
    pub title: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimelineTick {
    pub x: f64,
    pub label: String,
}

/// Validity periods against a calendar, with today and the 30-day warning line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimelineView {
    pub bars: Vec<TimelineBar>,
    pub ticks: Vec<TimelineTick>,
    pub today: f64,
    pub warning: f64,
}

const TIMELINE_WIDTH: f64 = 1000.0;

/// Bars from `not_before` to `not_after` on a time axis from a month before today (or the
/// earliest start, up to half a year back) to the latest expiry (up to three years ahead).
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

// =============================================================================================
// Components

/// Plain GET form: the filters live in the query string, so links can be shared and the
/// form works without JavaScript.
#[component]
fn FilterForm(environments: Vec<String>, filters: InventoryQuery) -> impl IntoView {
    let chosen_environment = filters.environment.clone().unwrap_or_default();
    let chosen_status = filters.status;
    let chosen_sort = filters.sort;
    view! {
        <form class="filters" method="get" action="/certificates" aria-label="Filter and sort">
            <div class="field">
                <label for="filter-environment">"Environment"</label>
                <select id="filter-environment" name="environment">
                    <option value="" selected=chosen_environment.is_empty()>"All environments"</option>
                    {environments.into_iter().map(|name| {
                        let selected = name == chosen_environment;
                        view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="filter-status">"Status"</label>
                <select id="filter-status" name="status">
                    <option value="" selected=chosen_status.is_none()>"Any status"</option>
                    {CertificateStatus::ALL.into_iter().filter(|s| *s != CertificateStatus::Superseded).map(|status| view! {
                        <option value=status.as_str() selected=chosen_status == Some(status)>{status.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="filter-sort">"Sort by"</label>
                <select id="filter-sort" name="sort">
                    {InventorySort::ALL.into_iter().map(|(sort, key, label)| view! {
                        <option value=key selected=chosen_sort == sort>{label}</option>
                    }).collect_view()}
                </select>
            </div>
            <button type="submit" class="button">"Apply"</button>
        </form>
    }
}

/// Validity periods as bars against the calendar; today and 30 days from now marked.
#[component]
fn Timeline(timeline: TimelineView) -> impl IntoView {
    const ROW: f64 = 26.0;
    const LABEL: f64 = 190.0;
    const TOP: f64 = 24.0;
    let height = TOP + ROW * timeline.bars.len() as f64 + 8.0;
    let full = LABEL + TIMELINE_WIDTH;
    let at = move |x: f64| format!("{:.1}", LABEL + x);
    view! {
        <figure class="timeline" data-testid="expiry-timeline">
            <figcaption>"Expiry timeline"</figcaption>
            <svg viewBox=format!("0 0 {full} {height}") role="group" aria-label="Validity of each certificate against the calendar, with today and the 30-day warning marked">
                {timeline.ticks.into_iter().map(|tick| view! {
                    <line class="timeline__tick" x1=at(tick.x) x2=at(tick.x) y1="16" y2=format!("{height}") />
                    <text class="timeline__tick-label" x=at(tick.x) y="12">{tick.label}</text>
                }).collect_view()}
                <rect class="timeline__warning" x=at(timeline.today) y="16" width=format!("{:.1}", timeline.warning - timeline.today) height=format!("{}", height - 16.0) />
                {timeline.bars.into_iter().enumerate().map(|(i, bar)| {
                    let y = TOP + ROW * i as f64;
                    let href = format!("/certificates/{}", bar.id);
                    view! {
                        <a href=href>
                            <title>{bar.title.clone()}</title>
                            <text class="timeline__label" x="0" y=format!("{:.1}", y + 14.0)>{bar.label}</text>
                            <rect class=format!("timeline__bar status--{}", bar.status.as_str()) x=at(bar.start) y=format!("{:.1}", y + 3.0)
                                width=format!("{:.1}", (bar.end - bar.start).max(2.0)) height="14" rx="3" />
                        </a>
                    }
                }).collect_view()}
                <line class="timeline__today" x1=at(timeline.today) x2=at(timeline.today) y1="16" y2=format!("{height}") />
                <text class="timeline__today-label" x=at(timeline.today) y=format!("{}", height - 2.0)>"today"</text>
            </svg>
        </figure>
    }
}

#[component]
fn CertificateTable(certificates: Vec<CertificateView>) -> impl IntoView {
    view! {
        <DataTable label="Certificates" test_id="certificates" class="certificates" columns=&["Environment", "Certificate", "Status", "Names (SANs)", "Expires", "Key", "Owners", "Used by"]>
            {certificates.into_iter().map(|c| {
                let row_id = format!("certificate-{}-{}", c.environment, c.name);
                let (href, name) = (format!("/certificates/{}", c.id), c.name.clone());
                let expires = match c.days_left {
                    Some(days) => format!("{} ({days} days)", day(&c.not_after)),
                    None => "—".to_owned(),
                };
                view! {
                    <tr data-testid=row_id>
                        <td>{c.environment.clone()}</td>
                        <th scope="row"><a href=href>{name}</a></th>
                        <td><StatusBadge status=c.status /><br /><span class="muted small">{c.status_detail.clone()}</span></td>
                        <td><ul class="plain">{c.sans.iter().map(|san| view! { <li><code>{san.clone()}</code></li> }).collect_view()}</ul></td>
                        <td>{expires}</td>
                        <td>{c.key_type.clone().unwrap_or_else(|| "—".to_owned())}</td>
                        <td data-testid="owners"><Owners owners=c.owners.clone() /></td>
                        <td><Uses certificate=c /></td>
                    </tr>
                }
            }).collect_view()}
        </DataTable>
    }
}

/// The namespaces that may use a certificate, or that none may yet.
#[component]
fn Owners(owners: CertificateOwners) -> impl IntoView {
    if owners.is_empty() {
        return view! { <span class="muted">"no namespace yet"</span> }.into_any();
    }
    view! { <ul class="plain">{owners.iter().map(|owner| view! { <li><code>{owner.to_string()}</code></li> }).collect_view()}</ul> }.into_any()
}

#[component]
fn Uses(certificate: CertificateView) -> impl IntoView {
    if certificate.used_by.is_empty() {
        return view! { <span class="muted">"no application yet"</span> }.into_any();
    }
    view! {
        <ul class="plain">
            {certificate.used_by.into_iter().map(|u| view! {
                <li>
                    "application "<strong>{u.application}</strong>", Gateway "<code>{u.gateway}</code>
                    {(!u.allowed).then(|| view! { <span class="field__error">" — its namespace is not an owner"</span> })}
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}


#[component]
fn CertificateFacts(certificate: CertificateView) -> impl IntoView {
    let history = certificate.history.clone().unwrap_or_default();
    let chain = certificate.chain.clone().unwrap_or_default();
    let is_current = certificate.superseded_at.is_none();
    let source = match &certificate.secret_ref {
        Some(reference) => format!("Secret {}/{} in the cluster", reference.namespace, reference.name),
        None => "uploaded PEM; the key is stored encrypted".to_owned(),
    };
    let fact = |label: &'static str, value: Option<String>| {
        value.map(|value| view! { <dt>{label}</dt><dd>{value}</dd> })
    };
    view! {
        <p><a href="/certificates">"← All certificates"</a></p>
        {certificate.current_id.map(|current| view! {
            <p class="notice" role="status">"This version was replaced. "<a href=format!("/certificates/{current}")>"See the current one"</a>"."</p>
        })}
        <p class="status-line" data-testid="certificate-status"><StatusBadge status=certificate.status />" "{certificate.status_detail.clone()}</p>
        <dl class="facts" data-testid="certificate-facts">
            {fact("Subject", certificate.subject.clone())}
            <dt>"Names (SANs)"</dt>
            <dd data-testid="certificate-sans">
                {if certificate.sans.is_empty() {
                    view! { <span class="muted">{if certificate.source == "secret" { "unknown until the Secret is read" } else { "none: browsers ignore the subject's CN, so this certificate covers no hostname" }}</span> }.into_any()
                } else {
                    view! { <ul class="plain">{certificate.sans.iter().map(|san| view! { <li><code>{san.clone()}</code></li> }).collect_view()}</ul> }.into_any()
                }}
            </dd>
            {fact("Issuer", certificate.issuer.clone())}
            {fact("Serial", certificate.serial.clone())}
            {fact("Valid from", certificate.not_before.clone())}
            {fact("Valid until", certificate.not_after.clone())}
            {fact("Key", certificate.key_type.clone().map(|k| format!("{k} ({} bits)", certificate.key_bits.unwrap_or_default())))}
            {fact("SHA-256 fingerprint", certificate.fingerprint_sha256.as_deref().map(grouped))}
            <dt>"Owners"</dt>
            <dd data-testid="certificate-owners">
                <Owners owners=certificate.owners.clone() />
                <p class="muted small">"Only applications placed in these namespaces may use it."</p>
            </dd>
            <dt>"Source"</dt><dd>{source}</dd>
            <dt>"Uploaded"</dt><dd>{format!("{} by {}", certificate.uploaded_at, certificate.uploaded_by)}</dd>
            {fact("Replaced", certificate.superseded_at.clone())}
        </dl>
        <h2>"Used by"</h2>
        {if certificate.used_by.is_empty() {
            view! { <p class="muted">{if is_current { "No application's Gateway uses this certificate yet." } else { "An old version is used by nothing." }}</p> }.into_any()
        } else {
            view! {
                <ul class="uses">
                    {certificate.used_by.clone().into_iter().map(|u| view! {
                        <li>
                            "Application "<strong>{u.application}</strong>", Gateway "<code>{u.gateway}</code>
                            ", serving "{u.hostnames.join(", ")}
                            {(!u.uncovered.is_empty()).then(|| view! { <span class="field__error">{format!(" — not covered: {}", u.uncovered.join(", "))}</span> })}
                            {(!u.allowed).then(|| view! { <span class="field__error">" — its namespace is not an owner: no bundle or submission with this certificate"</span> })}
                        </li>
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
        {(!chain.is_empty()).then(|| view! {
            <h2>"Chain"</h2>
            <ol class="chain" data-testid="certificate-chain">
                {chain.into_iter().map(|link| view! {
                    <li>
                        <p><strong>{link.subject}</strong>{if link.is_ca { " (CA)" } else { "" }}</p>
                        <p class="muted">{format!("issued by {} · {} · valid {} to {} · {}", link.issuer, link.key_type, link.not_before, link.not_after, link.signature_algorithm)}</p>
                        <p class="muted"><code>{grouped(&link.fingerprint_sha256)}</code></p>
                    </li>
                }).collect_view()}
            </ol>
        })}
        <h2>"History"</h2>
        {if history.is_empty() {
            view! { <p class="muted">"No other versions."</p> }.into_any()
        } else {
            view! {
                <DataTable label="History" test_id="certificate-history" columns=&["Uploaded", "Status", "Valid until", "Fingerprint"]>
                    {history.into_iter().map(|version| {
                        let (href, uploaded) = (format!("/certificates/{}", version.id), version.uploaded_at.clone());
                        view! {
                        <tr>
                            <th scope="row"><a href=href>{uploaded}</a></th>
                            <td><StatusBadge status=version.status /></td>
                            <td>{day(&version.not_after)}</td>
                            <td><code>{version.fingerprint_sha256.clone().map(|f| f[..16].to_owned()).unwrap_or_default()}</code></td>
                        </tr>
                    }}).collect_view()}
                </DataTable>
            }.into_any()
        }}
    }
}
