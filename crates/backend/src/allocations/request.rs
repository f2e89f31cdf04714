//! What is asked for: allocations and reservations as sent, parsed with every field's problem.
use super::*;

/// `POST /api/v1/pools/{id}/allocations` as sent; every field text so that every problem is
/// reported with its field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AllocationInput {
    pub address: Option<String>,
    pub owner: Option<String>,
    pub application: Option<String>,
    pub reason: Option<String>,
}

/// An allocation to make: a given address, or the pool's lowest free one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationRequest {
    pub address: Option<IpAddr>,
    pub owner: String,
    pub application: Option<K8sName>,
    pub reason: Option<String>,
}

impl TryFrom<AllocationInput> for AllocationRequest {
    type Error = FieldErrors;

    fn try_from(input: AllocationInput) -> Result<Self, FieldErrors> {
        let mut c = Collector::default();
        let address = match blank_to_none(input.address.as_deref()) {
            None => None,
            Some(text) => c.take("address", IpAddr::parse(text)),
        };
        let owner = text_field(&mut c, "owner", input.owner.as_deref(), MAX_OWNER_LEN, true);
        let application = blank_to_none(input.application.as_deref()).and_then(|text| c.take("application", K8sName::parse(text)));
        let reason = text_field(&mut c, "reason", input.reason.as_deref(), MAX_REASON_LEN, false);
        match owner {
            Some(owner) if c.is_empty() => Ok(AllocationRequest { address, owner, application, reason }),
            _ => Err(c.finish()),
        }
    }
}

/// `POST /api/v1/pools/{id}/reservations` as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReservationInput {
    pub start: Option<String>,
    pub stop: Option<String>,
    pub reason: Option<String>,
}

/// A reservation to make: `start..=stop` (one address when they are equal), with a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationRequest {
    pub start: IpAddr,
    pub stop: IpAddr,
    pub reason: String,
}

impl ReservationRequest {
    pub fn count(&self) -> u128 {
        self.stop.to_u128() - self.start.to_u128() + 1
    }
}

impl TryFrom<ReservationInput> for ReservationRequest {
    type Error = FieldErrors;

    fn try_from(input: ReservationInput) -> Result<Self, FieldErrors> {
        let mut c = Collector::default();
        let start = c.take("start", IpAddr::parse(input.start.as_deref().unwrap_or_default()));
        let stop = match blank_to_none(input.stop.as_deref()) {
            None => start,
            Some(text) => c.take("stop", IpAddr::parse(text)),
        };
        let reason = text_field(&mut c, "reason", input.reason.as_deref(), MAX_REASON_LEN, true);
        if let (Some(start), Some(stop)) = (start, stop)
            && let Err(error) = check_range(start, stop)
        {
            c.push(error.field, &error.code, error.message);
        }
        match (start, stop, reason) {
            (Some(start), Some(stop), Some(reason)) if c.is_empty() => Ok(ReservationRequest { start, stop, reason }),
            _ => Err(c.finish()),
        }
    }
}

/// `start..=stop` is a range of one family, in order, of at most [`MAX_RANGE`] addresses.
pub(super) fn check_range(start: IpAddr, stop: IpAddr) -> Result<(), FieldError> {
    if start.family() != stop.family() {
        return Err(FieldError::new(
            "stop",
            "family_mismatch",
            format!("{start} is {} and {stop} is {}; a range stays in one family", start.family(), stop.family()),
        ));
    }
    if stop < start {
        return Err(FieldError::new(
            "stop",
            "invalid_ip_range",
            format!("the range ends ({stop}) before it starts ({start}); swap start and stop"),
        ));
    }
    let count = stop.to_u128() - start.to_u128();
    if count >= MAX_RANGE {
        return Err(FieldError::new(
            "stop",
            "range_too_large",
            format!(
                "{start}–{stop} spans {} addresses; one request covers at most {MAX_RANGE} — split it into several",
                count.saturating_add(1)
            ),
        ));
    }
    Ok(())
}

pub(super) fn blank_to_none(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

/// A free-text field: trimmed, within `max` characters, no control characters (a reason may
/// span lines).
pub(super) fn text_field(c: &mut Collector, field: &str, text: Option<&str>, max: usize, required: bool) -> Option<String> {
    let Some(text) = blank_to_none(text) else {
        if required {
            c.push(field, "required", format!("`{field}` is required"));
        }
        return None;
    };
    let len = text.chars().count();
    if len > max {
        c.push(field, "too_long", format!("`{field}` is {len} characters long; the limit is {max}"));
        return None;
    }
    if text.chars().any(|ch| ch.is_control() && !(field == "reason" && matches!(ch, '\n' | '\t'))) {
        c.push(field, "invalid_text", format!("`{field}` contains control characters; write plain text"));
        return None;
    }
    Some(text.to_owned())
}
