//! Pure domain logic: typed values, IP math, the plan model and the checklist.
//! No leptos, axum, sqlx or kube imports: this runs in the browser and on the server.
//!
//! - [`names`]: hostnames, Kubernetes names, labels, environment names, ports, ASNs, images.
//! - [`net`]: IP addresses, CIDRs, ranges, and the sort-and-sweep overlap search.
//! - [`model`]: environments, VIP pools, applications, certificates, allocations, the plan,
//!   and the raw `…Input` forms that parse into them collecting every [`FieldError`].
//! - [`certificates`]: the certificate upload form, statuses and SAN coverage.
//! - [`placement`]: the cluster and namespace an environment puts an application in.
//! - [`checklist`]: the rules over a plan.
//! - [`seed`]: the seed example plan.
//! - [`topology`]: the diagrams laid out from a plan (hardware, Cilium, comparisons, packet walks).

pub mod certificates;
pub mod change;
pub mod access;
pub mod checklist;
pub mod error;
pub mod model;
pub mod names;
pub mod net;
pub mod placement;
pub mod seed;
pub mod text;
pub mod topology;

pub use certificates::{
    CertificateDetails, CertificateStatus, CertificateUpload, CertificateUploadInput, CertificateView, InventoryQuery,
    PrivateKeyPem, SecretReference,
};
pub use checklist::{Finding, Report, RuleInfo, Severity, application_report, check_application, check_plan, namespace_clashes, rules};
pub use error::{ErrorCode, FieldError, FieldErrors};
pub use model::*;
pub use names::*;
pub use net::{
    Cidr, CidrError, IpAddr, IpAddrError, IpFamily, IpRange, IpRangeError, Span, naive_overlaps, overlapping_pairs,
};
pub use placement::{NamespaceTemplate, NamespaceTemplateError};
pub use seed::seed_plan;
pub use text::counted;
