//! Gatehouse: the Leptos application crate, built twice — `ssr` for the server and
//! `hydrate` for the browser (WASM).
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod ui;

/// The services, under the name the app has always used (server side only).
#[cfg(feature = "ssr")]
pub use backend;

pub use app::{App, shell};
/// The pure domain crate, and its topology layouts, under the names the app has always used.
pub use domain::{self, topology};

/// The WASM entry point: attaches the client-side reactive system to the
/// server-rendered HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_lazy(App);
}
