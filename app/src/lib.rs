//! Gatehouse: the Leptos application crate, built twice — `ssr` for the server and
//! `hydrate` for the browser (WASM).
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod domain;
pub mod topology;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod backend;

pub use app::{App, shell};

/// The WASM entry point: attaches the client-side reactive system to the
/// server-rendered HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_lazy(App);
}
