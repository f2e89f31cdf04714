//! Gatehouse and Kubernetes: connecting to clusters, applying bundles, the Gateway label fix.
pub mod vips;
