//! The wire types: what /api/v1, the server functions and the OpenAPI document send and
//! receive. Plain serde types, wasm-safe, shared by the backend (which returns them), the app
//! (pages and server functions) and the server (/api/v1), so each shape is written once.

pub mod cluster;
pub mod pools;
pub mod submissions;
pub mod verification;
