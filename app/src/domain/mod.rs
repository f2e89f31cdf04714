//! Pure domain logic: typed values, IP math, the plan model and the checklist.
//! No leptos, axum, sqlx or kube imports: this runs in the browser and on the server.

pub mod error;
pub mod model;
pub mod names;
pub mod net;

pub use error::{ErrorCode, FieldError, FieldErrors};
pub use model::*;
pub use names::*;
pub use net::{Cidr, CidrError, IpAddr, IpAddrError, IpFamily, IpRange, IpRangeError, Span, overlapping_pairs};
pub mod checklist;
pub mod seed;

pub use checklist::{Finding, Report, Severity, check_plan};
pub use seed::seed_plan;
