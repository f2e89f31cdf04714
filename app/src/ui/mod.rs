//! Pages and components; the topology diagrams are drawn on the server (crate::topology).
pub mod account;
pub mod application_form;
pub mod applications;
pub mod approvals;
pub mod certificates;
pub mod clusters;
pub mod environments;
pub mod layout;
pub mod pages;
pub mod plan;
pub mod pools;
pub mod preview;
pub mod table;
pub mod theme;
pub mod topology;
#[cfg(feature = "ssr")]
pub mod topology_html;
