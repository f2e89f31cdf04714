//! Server-only services: database, manifests, schema validation, certificates, cluster.
pub mod audit;
pub mod auth;
pub mod certificates;
pub mod cluster;
pub mod csv;
pub mod db;
pub mod demo;
pub mod environments;
pub mod http;
pub mod manifests;
pub mod plan;
pub mod png;
pub mod policy;
pub mod pools;
pub mod applications;
pub mod allocations;
pub mod schema;
