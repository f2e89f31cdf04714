//! The frame every page sits in: skip link, banners, header with navigation, main landmark,
//! footer. [`Frame`] is the portal's (it loads who is signed in and hydrates);
//! [`StaticFrame`] is the same markup for a page the server renders once and does not hydrate
//! (a form's answer, the 403 page).
use leptos::prelude::*;
use leptos_router::components::A;

use super::{table::TableWrap, theme::ThemeToggle};
use crate::{
    api::SignedIn,
    domain::access::{Access, Decision, Role},
};

/// The sections of the portal everyone signed in may open, in navigation order.
pub const SECTIONS: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/topology", "Topology"),
    ("/environments", "Environments"),
    ("/pools", "IP Pools"),
    ("/certificates", "Certificates"),
    ("/applications", "Applications"),
    ("/checklist", "Checklist"),
    ("/clusters", "Clusters"),
];

/// The sections only some roles may open, each with its page's rule: the header links one
/// only for a role the rule lets in (a test holds these to the server's rules).
pub const RESTRICTED_SECTIONS: &[(&str, &str, Access)] = &[
    ("/approvals", "Approvals", Access::NETWORK_ADMIN),
    ("/audit", "Audit", Access::NETWORK_ADMIN),
    ("/users", "Users", Access::ADMIN),
];

/// The restricted sections `role` may open.
pub fn restricted_sections(role: Option<Role>) -> impl Iterator<Item = (&'static str, &'static str)> {
    RESTRICTED_SECTIONS
        .iter()
        .filter(move |(_, _, access)| role.is_some() && access.decide(role) == Decision::Allow)
        .map(|(href, label, _)| (*href, *label))
}

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
        <Transition fallback=|| ()>{move || banners(who())}</Transition>
        <header class="site-header">
            <div class="site-header__inner">
                <A href="/" attr:class="brand">
                    <BrandMark />
                </A>
                <nav class="site-nav" aria-label="Main">
                    <ul>
                        {SECTIONS.iter().map(|(href, label)| view! { <li><A href=*href exact=true>{*label}</A></li> }).collect_view()}
                        <Transition fallback=|| ()>
                            {move || {
                                restricted_sections(who().map(|who| who.role))
                                    .map(|(href, label)| view! { <li><A href=href exact=true>{label}</A></li> })
                                    .collect_view()
                            }}
                        </Transition>
                    </ul>
                </nav>
                <ThemeToggle />
                <div class="account">
                    <Transition fallback=|| ()>{move || account_links(who())}</Transition>
                </div>
            </div>
        </header>
        <main id="main" class="page" tabindex="-1">
            {children()}
        </main>
        <Footer />
    }
}

/// The frame of a page rendered once on the server and not hydrated: the same banners,
/// header, navigation and footer as [`Frame`], for `who` and the page at `path`. The theme
/// toggle is left out: it needs the page's script, and a button that does nothing would
/// mislead (the theme chosen on other pages still applies).
#[component]
pub fn StaticFrame(who: Option<SignedIn>, #[prop(into)] path: String, children: Children) -> impl IntoView {
    let role = who.as_ref().map(|who| who.role);
    let link = move |href: &'static str, label: &'static str| {
        let here = (href == path).then_some("page");
        view! { <li><a href=href aria-current=here>{label}</a></li> }
    };
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        {banners(who.clone())}
        <header class="site-header">
            <div class="site-header__inner">
                <a href="/" class="brand">
                    <BrandMark />
                </a>
                <nav class="site-nav" aria-label="Main">
                    <ul>
                        {SECTIONS.iter().map(|(href, label)| link(href, label)).collect_view()}
                        {restricted_sections(role).map(|(href, label)| link(href, label)).collect_view()}
                    </ul>
                </nav>
                <div class="account">{account_links(who)}</div>
            </div>
        </header>
        <main id="main" class="page" tabindex="-1">
            {children()}
        </main>
        <Footer />
    }
}

#[component]
fn BrandMark() -> impl IntoView {
    view! {
        <svg class="brand__mark" viewBox="0 0 32 32" width="28" height="28" aria-hidden="true">
            <path d="M4 28V12l12-8 12 8v16h-8v-9h-8v9z" />
        </svg>
        <span class="brand__name">"Gatehouse"</span>
    }
}

#[component]
fn Footer() -> impl IntoView {
    view! {
        <footer class="site-footer">
            <p>
                "Gatehouse — plan, check and submit Cilium load balancing and TLS termination. "
                <a href="/api/v1/environments" rel="external">"JSON API"</a>
            </p>
        </footer>
    }
}

/// What every page says about the signed-in user: the demo sign-in, the label fix off.
fn banners(who: Option<SignedIn>) -> impl IntoView {
    let demo = who.as_ref().filter(|who| who.demo).map(|who| {
        view! {
            <p class="demo-banner" role="status" data-testid="demo-banner">
                "Demo: you are signed in as "
                <strong>{who.name.clone()}</strong>
                {format!(" ({}) without a password. Everyone visiting this demo shares that account. ", who.role.label())}
                <a href="/sign-in">"Sign in as yourself"</a>
            </p>
        }
    });
    let label_fix = who.as_ref().filter(|who| who.label_fix_off).map(|_| {
        view! {
            <p class="demo-banner label-fix-banner" role="status" data-testid="label-fix-banner">
                "The Gateway label fix is off: generated cilium-gateway-… Services lose their advertisement label, so Gateway VIPs are not announced by ARP or BGP. "
                <a href="/clusters">"Turn it on on the Clusters page"</a>
            </p>
        }
    });
    (demo, label_fix)
}

/// Your account (named as who is signed in) and the sign-out button, or the way to sign in.
fn account_links(who: Option<SignedIn>) -> AnyView {
    match who {
        None => view! { <a href="/sign-in">"Sign in"</a> }.into_any(),
        Some(who) => view! {
            <a href="/account" data-testid="signed-in-as" title="Your account and API tokens">{format!("{} ({})", who.name, who.role.label())}</a>
            <form method="post" action="/sign-out">
                <button class="button" type="submit">"Sign out"</button>
            </form>
        }
        .into_any(),
    }
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

/// A data table in its scrolling region ([`TableWrap`] named `label`): a heading per column,
/// then the rows the children make. `class` adds to `data-table`; `caption` is read by screen
/// readers only; `action_column` names a last column of row actions, for screen readers only.
#[component]
pub fn DataTable(
    #[prop(into)] label: String,
    columns: &'static [&'static str],
    #[prop(optional)] test_id: Option<&'static str>,
    #[prop(optional)] class: Option<&'static str>,
    #[prop(optional)] caption: Option<&'static str>,
    #[prop(optional)] action_column: Option<&'static str>,
    children: Children,
) -> impl IntoView {
    let class = class.map_or_else(|| "data-table".to_owned(), |class| format!("data-table {class}"));
    view! {
        <TableWrap label>
            <table class=class data-testid=test_id>
                {caption.map(|caption| view! { <caption class="visually-hidden">{caption}</caption> })}
                <thead>
                    <tr>
                        {columns.iter().map(|column| view! { <th scope="col">{*column}</th> }).collect_view()}
                        {action_column.map(|name| view! { <th scope="col"><span class="visually-hidden">{name}</span></th> })}
                    </tr>
                </thead>
                <tbody>{children()}</tbody>
            </table>
        </TableWrap>
    }
}
