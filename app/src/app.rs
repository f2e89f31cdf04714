//! The HTML shell, the router and the page frame.
//!
//! Pages that load data render with `SsrMode::Async`: the server waits for their data and
//! sends whole HTML, so they read the same with JavaScript off (no streamed fragments that
//! only a script can put in place).
use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    Lazy, LazyRoute, ParamSegment, SsrMode, StaticSegment, WildcardSegment,
    components::{Route, Router, Routes},
    lazy_route,
};

use crate::ui::{
    account::{AccountPage, AuditPage, SignInPage, UsersPage},
    approvals::{ApprovalPage, ApprovalsPage},
    certificates::{CertificatePage, CertificatesPage},
    environments::{EditEnvironmentPage, EnvironmentPage, EnvironmentsPage, NewEnvironmentPage},
    layout::Frame,
    plan::{ConflictsPage, OutputsPage},
    application_form::{EditApplicationPage, NewApplicationPage},
    applications::{ApplicationPage, ApplicationsPage},
    clusters::{ClustersPage, VipsPage},
    preview::ApplicationPreviewPage,
    pages::{
        ChecklistPage, NotFound, OverviewPage,
    },
    pools::{PoolPage, PoolsPage},
    theme::Theme,
    topology::Topology,
};

/// The document around the application. Rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let theme = Theme::from_request();
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme.map(Theme::as_str)>
            <head>
                <DocumentHead />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// What every document's head carries: character set, viewport, colour schemes, the icon
/// and the stylesheet.
#[component]
fn DocumentHead() -> impl IntoView {
    view! {
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <meta
            name="description"
            content="Gatehouse plans, checks and submits Cilium load balancing and TLS termination for Kubernetes."
        />
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/pkg/gatehouse.css" />
    }
}

/// A whole document rendered once on the server, without the hydration script: a form's
/// answer or the 403 page (see [`crate::ui::account`]). `body` is the page inside
/// [`crate::ui::layout::StaticFrame`].
#[cfg(feature = "ssr")]
pub fn static_document(theme: Option<Theme>, title: &str, body: impl FnOnce() -> AnyView) -> String {
    let owner = Owner::new();
    let html = owner.with(|| {
        provide_meta_context();
        let title = format!("{title} · Gatehouse");
        view! {
            <!DOCTYPE html>
            <html lang="en" data-theme=theme.map(Theme::as_str)>
                <head>
                    <DocumentHead />
                    <title>{title}</title>
                </head>
                <body>{body()}</body>
            </html>
        }
        .to_html()
    });
    drop(owner);
    html
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|page: String| {
            if page.is_empty() { "Gatehouse".to_owned() } else { format!("{page} · Gatehouse") }
        } />
        <Router>
            <Frame>
                <Routes fallback=|| view! { <NotFound /> <HydrationMark /> }>
                    <Route path=StaticSegment("") view={Lazy::<OverviewRoute>::new()} ssr=SsrMode::Async />
                    <Route path=StaticSegment("topology") view={Lazy::<TopologyRoute>::new()} ssr=SsrMode::Async />
                    <Route path=(StaticSegment("topology"), WildcardSegment("view")) view={Lazy::<TopologyRoute>::new()} ssr=SsrMode::Async />
                    <Route path=StaticSegment("pools") view={Lazy::<PoolsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=(StaticSegment("pools"), StaticSegment("conflicts")) view={Lazy::<ConflictsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=(StaticSegment("pools"), StaticSegment("outputs")) view={Lazy::<OutputsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=(StaticSegment("pools"), ParamSegment("id")) view={Lazy::<PoolRoute>::new()} ssr=SsrMode::Async />
                    <Route path=StaticSegment("certificates") view={Lazy::<CertificatesRoute>::new()} ssr=SsrMode::Async />
                    <Route path=(StaticSegment("certificates"), ParamSegment("id")) view={Lazy::<CertificateRoute>::new()} ssr=SsrMode::Async />
                    <Route path=StaticSegment("applications") view={Lazy::<ApplicationsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=StaticSegment("approvals") view={Lazy::<ApprovalsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=(StaticSegment("approvals"), ParamSegment("id")) view={Lazy::<ApprovalRoute>::new()} ssr=SsrMode::Async />
                    <Route path=(StaticSegment("applications"), StaticSegment("new")) view={Lazy::<NewApplicationRoute>::new()} ssr=SsrMode::Async />
                    <Route path=(StaticSegment("applications"), ParamSegment("name")) view={Lazy::<ApplicationRoute>::new()} ssr=SsrMode::Async />
                    <Route path=(StaticSegment("applications"), ParamSegment("name"), StaticSegment("edit")) view={Lazy::<EditApplicationRoute>::new()} ssr=SsrMode::Async />
                    <Route path=(StaticSegment("applications"), ParamSegment("name"), StaticSegment("preview")) view={Lazy::<ApplicationPreviewRoute>::new()} ssr=SsrMode::Async />
                    <Route path=StaticSegment("clusters") view={Lazy::<ClustersRoute>::new()} ssr=SsrMode::Async />
                    <Route path=StaticSegment("vips") view={Lazy::<VipsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=StaticSegment("sign-in") view={Lazy::<SignInRoute>::new()} ssr=SsrMode::Async />
                    <Route path=StaticSegment("account") view={Lazy::<AccountRoute>::new()} ssr=SsrMode::Async />
                    <Route path=StaticSegment("users") view={Lazy::<UsersRoute>::new()} ssr=SsrMode::Async />
                    <Route path=StaticSegment("audit") view={Lazy::<AuditRoute>::new()} ssr=SsrMode::Async />
                    <Route path=StaticSegment("checklist") view={Lazy::<ChecklistRoute>::new()} ssr=SsrMode::Async />
                    <Route path=StaticSegment("environments") view={Lazy::<EnvironmentsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=(StaticSegment("environments"), StaticSegment("new")) view={Lazy::<NewEnvironmentRoute>::new()} />
                    <Route
                        path=(StaticSegment("environments"), ParamSegment("name"))
                        view={Lazy::<EnvironmentRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("environments"), ParamSegment("name"), StaticSegment("edit"))
                        view={Lazy::<EditEnvironmentRoute>::new()}
                        ssr=SsrMode::Async
                    />
                </Routes>
            </Frame>
        </Router>
    }
}

/// The access rule of every page route, by the path the server registers it under. A page
/// missing here answers 403 to everyone (and fails the role × route test).
#[cfg(feature = "ssr")]
pub fn page_rule(path: &str) -> crate::domain::access::Access {
    use crate::domain::access::Access;
    let rules = [
        ("/", Access::VIEWER),
        ("/topology", Access::VIEWER),
        ("/topology/{*view}", Access::VIEWER),
        ("/pools", Access::VIEWER),
        ("/pools/conflicts", Access::VIEWER),
        ("/pools/outputs", Access::VIEWER),
        ("/pools/{id}", Access::VIEWER),
        ("/certificates", Access::VIEWER),
        ("/certificates/{id}", Access::VIEWER),
        ("/applications", Access::VIEWER),
        ("/approvals", Access::NETWORK_ADMIN),
        ("/approvals/{id}", Access::NETWORK_ADMIN),
        ("/applications/new", Access::APP_TEAM),
        ("/applications/{name}", Access::VIEWER),
        ("/applications/{name}/edit", Access::APP_TEAM),
        ("/applications/{name}/preview", Access::APP_TEAM),
        ("/clusters", Access::VIEWER),
        ("/vips", Access::VIEWER),
        ("/checklist", Access::VIEWER),
        ("/sign-in", Access::Public),
        ("/account", Access::VIEWER),
        ("/users", Access::ADMIN),
        ("/audit", Access::NETWORK_ADMIN),
        ("/environments", Access::VIEWER),
        ("/environments/new", Access::NETWORK_ADMIN),
        ("/environments/{name}", Access::VIEWER),
        ("/environments/{name}/edit", Access::NETWORK_ADMIN),
    ];
    rules.into_iter().find(|(rule_path, _)| *rule_path == path).map_or(Access::Unlisted, |(_, access)| access)
}

/// Marks `<body data-hydrated>` once the page's own view has hydrated — after its lazily
/// loaded chunk arrived, not merely the shell — so tests (and curious people) can tell when
/// the page reacts to input.
#[component]
fn HydrationMark() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}

/// Every page is a lazy route: `cargo leptos build --release --split` moves each page's code
/// into its own WASM chunk, fetched when the page is first shown, so the first download is
/// the shell (router, frame, theme) rather than the whole portal.
macro_rules! lazy_pages {
    ($($route:ident => $page:ident),* $(,)?) => {
        $(
            struct $route;

            #[lazy_route]
            impl LazyRoute for $route {
                fn data() -> Self {
                    $route
                }

                fn view(this: Self) -> AnyView {
                    let _ = this;
                    view! { <$page /> <HydrationMark /> }.into_any()
                }
            }
        )*
    };
}

lazy_pages! {
    OverviewRoute => OverviewPage,
    TopologyRoute => Topology,
    PoolsRoute => PoolsPage,
    ConflictsRoute => ConflictsPage,
    OutputsRoute => OutputsPage,
    PoolRoute => PoolPage,
    CertificatesRoute => CertificatesPage,
    CertificateRoute => CertificatePage,
    ApplicationsRoute => ApplicationsPage,
    ApprovalsRoute => ApprovalsPage,
    ApprovalRoute => ApprovalPage,
    NewApplicationRoute => NewApplicationPage,
    ApplicationRoute => ApplicationPage,
    EditApplicationRoute => EditApplicationPage,
    ApplicationPreviewRoute => ApplicationPreviewPage,
    ClustersRoute => ClustersPage,
    VipsRoute => VipsPage,
    ChecklistRoute => ChecklistPage,
    SignInRoute => SignInPage,
    AccountRoute => AccountPage,
    UsersRoute => UsersPage,
    AuditRoute => AuditPage,
    EnvironmentsRoute => EnvironmentsPage,
    NewEnvironmentRoute => NewEnvironmentPage,
    EnvironmentRoute => EnvironmentPage,
    EditEnvironmentRoute => EditEnvironmentPage,
}
