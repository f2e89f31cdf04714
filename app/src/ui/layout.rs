//! The frame every page sits in: skip link, header with navigation, main landmark, footer.
use leptos::prelude::*;
use leptos_router::components::A;

use super::theme::ThemeToggle;

/// The sections of the portal, in navigation order.
pub const SECTIONS: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/topology", "Topology"),
    ("/pools", "IP Pools"),
    ("/certificates", "Certificates"),
    ("/applications", "Applications"),
    ("/checklist", "Checklist"),
    ("/clusters", "Clusters"),
];

/// Who is signed in and what every page must say (the banners); a page that changes what
/// the banners say asks for it again.
#[derive(Clone, Copy)]
pub struct SignedInNow(pub Resource<Result<Option<crate::api::SignedIn>, crate::api::AppError>>);

#[component]
pub fn Frame(children: Children) -> impl IntoView {
    let signed_in = Resource::new(|| (), |_| crate::api::signed_in_as());
    provide_context(SignedInNow(signed_in));
    let who = move || signed_in.get().and_then(Result::ok).flatten();
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <Transition fallback=|| ()>
            {move || {
                who()
                    .filter(|who| who.demo)
                    .map(|who| {
                        view! {
                            <p class="demo-banner" role="status" data-testid="demo-banner">
                                "Demo: you are signed in as "
                                <strong>{who.name}</strong>
                                {format!(" ({}) without a password. Everyone visiting this demo shares that account. ", who.role.label())}
                                <a href="/sign-in" rel="external">"Sign in as yourself"</a>
                            </p>
                        }
                    })
            }}
            {move || {
                who()
                    .filter(|who| who.label_fix_off)
                    .map(|_| {
                        view! {
                            <p class="demo-banner label-fix-banner" role="status" data-testid="label-fix-banner">
                                "The Gateway label fix is off: generated cilium-gateway-… Services lose their advertisement label, so Gateway VIPs are not announced by ARP or BGP. "
                                <a href="/clusters">"Turn it on on the Clusters page"</a>
                            </p>
                        }
                    })
            }}
        </Transition>
        <header class="site-header">
            <div class="site-header__inner">
                <A href="/" attr:class="brand">
                    <svg class="brand__mark" viewBox="0 0 32 32" width="28" height="28" aria-hidden="true">
                        <path d="M4 28V12l12-8 12 8v16h-8v-9h-8v9z" />
                    </svg>
                    <span class="brand__name">"Gatehouse"</span>
                </A>
                <nav class="site-nav" aria-label="Main">
                    <ul>
                        {SECTIONS
                            .iter()
                            .map(|(href, label)| {
                                view! {
                                    <li>
                                        <A href=*href exact=true>
                                            {*label}
                                        </A>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                </nav>
                <ThemeToggle />
                <div class="account">
                    <Transition fallback=|| ()>{move || who().map_or_else(|| view! { <a href="/sign-in" rel="external">"Sign in"</a> }.into_any(), account_links)}</Transition>
                </div>
            </div>
        </header>
        <main id="main" class="page" tabindex="-1">
            {children()}
        </main>
        <footer class="site-footer">
            <p>
                "Gatehouse — plan, check and submit Cilium load balancing and TLS termination. "
                <a href="/api/v1/environments">"JSON API"</a>
            </p>
        </footer>
    }
}

/// The signed-in user's links (account, and the audit log and users for the roles that may
/// see them) and the sign-out button: server-rendered pages, so links leave the router.
fn account_links(who: crate::api::SignedIn) -> AnyView {
    use crate::domain::access::Role;
    view! {
        {(who.role >= Role::NetworkAdmin).then(|| view! { <a href="/approvals">"Approvals"</a> })}
        {(who.role >= Role::NetworkAdmin).then(|| view! { <a href="/audit" rel="external">"Audit log"</a> })}
        {(who.role == Role::Admin).then(|| view! { <a href="/users" rel="external">"Users"</a> })}
        <a href="/account" rel="external" data-testid="signed-in-as">{format!("{} ({})", who.name, who.role.label())}</a>
        <form method="post" action="/sign-out">
            <button class="button" type="submit">"Sign out"</button>
        </form>
    }
    .into_any()
}

/// A page heading with an optional lead paragraph.
#[component]
pub fn PageHeader(#[prop(into)] title: String, #[prop(optional, into)] lead: Option<String>) -> impl IntoView {
    view! {
        <leptos_meta::Title text=title.clone() />
        <div class="page-header">
            <h1>{title}</h1>
            {lead.map(|lead| view! { <p class="lead">{lead}</p> })}
        </div>
    }
}

/// What a section will hold, shown until it holds something.
#[component]
pub fn EmptyState(#[prop(into)] title: String, children: Children) -> impl IntoView {
    view! {
        <section class="empty-state" aria-labelledby="empty-state-title">
            <h2 id="empty-state-title">{title}</h2>
            {children()}
        </section>
    }
}
