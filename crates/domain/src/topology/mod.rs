//! Topology diagrams: the hardware design beside the Cilium design, dev beside prod for an
//! application, and packet walks — laid out from the plan with deterministic coordinates.
//!
//! Pure Rust like the domain (no web, database or kube types). The server lays the scenes
//! out and draws them ([`svg::render`]); pages embed the same SVG, so the browser only gets
//! what interaction needs.

pub mod application;
pub mod cilium;
pub mod compose;
pub mod design;
pub mod geometry;
pub mod hardware;
pub mod layout;
pub mod live;
pub mod network;
pub mod page;
pub mod scene;
pub mod svg;
pub mod tasks;
pub mod view;
pub mod walk;

pub use design::Design;
pub use page::TopologyPage;
pub use scene::{Scene, TextItem};
pub use view::{Query, TopologyError, View, export, page};

#[cfg(test)]
mod tests;
