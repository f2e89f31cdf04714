//! The HTML shell, the router and the page frame.
//!
//! Pages that load data render with `SsrMode::Async`: the server waits for their data and
//! sends whole HTML, so they read the same with JavaScript off (no streamed fragments that
//! only a script can put in place).
use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment, WildcardSegment,
    components::{Route, Router, Routes},
};

use crate::ui::{
    environments::{EditEnvironmentPage, EnvironmentPage, EnvironmentsPage, NewEnvironmentPage},
    layout::Frame,
    plan::{ConflictsPage, OutputsPage},
    pages::{ApplicationsPage, CertificatesPage, ChecklistPage, NotFound, OverviewPage},
    pools::{PoolPage, PoolsPage},
    theme::Theme,
    topology::Topology,
};

/// The document around the application. Rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let theme = Theme::from_request();
    #[cfg(feature = "ssr")]
    crate::backend::http::set_content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme.map(Theme::as_str)>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <meta
                    name="description"
                    content="Gatehouse plans, checks and submits Cilium load balancing and TLS termination for Kubernetes."
                />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <link rel="stylesheet" href="/pkg/gatehouse.css" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Lets tests (and curious people) see that the WASM bundle has taken over the page.
    #[cfg(feature = "hydrate")]
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Title formatter=|page: String| {
            if page.is_empty() { "Gatehouse".to_owned() } else { format!("{page} · Gatehouse") }
        } />
        <Router>
            <Frame>
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=StaticSegment("") view=OverviewPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("topology") view=Topology ssr=SsrMode::Async />
                    <Route path=(StaticSegment("topology"), WildcardSegment("view")) view=Topology ssr=SsrMode::Async />
                    <Route path=StaticSegment("pools") view=PoolsPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("pools"), StaticSegment("conflicts")) view=ConflictsPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("pools"), StaticSegment("outputs")) view=OutputsPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("pools"), ParamSegment("id")) view=PoolPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("certificates") view=CertificatesPage />
                    <Route path=StaticSegment("applications") view=ApplicationsPage />
                    <Route path=StaticSegment("checklist") view=ChecklistPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("environments") view=EnvironmentsPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("environments"), StaticSegment("new")) view=NewEnvironmentPage />
                    <Route
                        path=(StaticSegment("environments"), ParamSegment("name"))
                        view=EnvironmentPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("environments"), ParamSegment("name"), StaticSegment("edit"))
                        view=EditEnvironmentPage
                        ssr=SsrMode::Async
                    />
                </Routes>
            </Frame>
        </Router>
    }
}
