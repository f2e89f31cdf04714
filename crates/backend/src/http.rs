//! HTTP details of server rendering: the Content-Security-Policy that admits the
//! hydration script by its per-response nonce and nothing else from outside.

/// The policy for server-rendered pages. `'wasm-unsafe-eval'` lets the hydration module
/// compile its WebAssembly; it does not admit `eval` of JavaScript.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The policy for everything that is not a page (JSON, YAML, SVG, files).
pub const DEFAULT_POLICY: &str = "default-src 'none'; img-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
