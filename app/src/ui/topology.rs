//! The Topology area: the diagrams drawn on the server (whole with JavaScript off), their text
//! versions, the turn-up tasks (hovering or focusing one highlights its elements, by CSS),
//! and the packet walk (links per step; after hydration also arrow keys and auto-play).
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{
    layout::PageHeader,
    pages::{ErrorNotice, NotFound},
};
use crate::{
    api::{AppError, topology::load_topology},
    topology::page::{Choice, Panel, TopologyPage, WalkData},
};

/// The views of the area, for its sub-navigation: (path below /topology, label).
const VIEWS: &[(&str, &str)] = &[
    ("", "Overview"),
    ("compare", "Hardware beside Cilium"),
    ("hardware", "Hardware"),
    ("cilium", "Cilium"),
    ("walk/arp", "ARP walk"),
    ("walk/bgp", "BGP walk"),
];

#[component]
pub fn TopologyIndex() -> impl IntoView {
    view! { <TopologyScreen view=Signal::derive(String::new) /> }
}

/// `/topology/hardware`, `/topology/cilium`, `/topology/compare`.
#[component]
pub fn TopologyView() -> impl IntoView {
    let params = use_params_map();
    view! { <TopologyScreen view=Signal::derive(move || params.read().get("view").unwrap_or_default()) /> }
}

/// `/topology/applications/{app}`: the application's environments side by side.
#[component]
pub fn TopologyApplication() -> impl IntoView {
    let params = use_params_map();
    view! {
        <TopologyScreen view=Signal::derive(move || format!("applications/{}", params.read().get("app").unwrap_or_default())) />
    }
}

/// `/topology/walk/{arp|bgp}`.
#[component]
pub fn PacketWalk() -> impl IntoView {
    let params = use_params_map();
    view! {
        <TopologyScreen view=Signal::derive(move || format!("walk/{}", params.read().get("kind").unwrap_or_default())) />
    }
}

#[component]
fn TopologyScreen(view: Signal<String>) -> impl IntoView {
    let query = use_query_map();
    let data = Resource::new(
        move || {
            let q = query.read();
            (view.get(), q.get("environment"), q.get("application"), q.get("step"), q.get("caveat"))
        },
        |(view, environment, application, step, caveat)| load_topology(view, environment, application, step, caveat),
    );
    // Survives the walk's steps (each step is a page of its own).
    let playing = RwSignal::new(false);
    view! {
        <Transition fallback=|| view! { <p class="muted">"Drawing…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(page) => view! { <TopologyBody page playing /> }.into_any(),
                    Err(AppError::NotFound(_)) => view! { <NotFound /> }.into_any(),
                    Err(error) => view! {
                        <PageHeader title="Topology" />
                        <TopologyNav current=view.get_untracked() environment=None />
                        <ErrorNotice error />
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn TopologyBody(page: TopologyPage, playing: RwSignal<bool>) -> impl IntoView {
    let svg_href = page.export_href("svg");
    let png_href = page.export_href("png");
    let has_export = !page.export.is_empty();
    let TopologyPage { view, title, lead, environment, environments, panels, walk, sections, .. } = page;
    let body = if let Some(walk) = walk {
        view! { <WalkView walk panels playing /> }.into_any()
    } else if view.is_empty() {
        view! { <TopologyIndexSections sections /> }.into_any()
    } else if view == "compare" {
        view! { <div class="topo-panels topo-compare topo-wide">{panels.into_iter().map(|panel| view! { <PanelView panel /> }).collect_view()}</div> }
            .into_any()
    } else if panels.len() == 1 {
        view! { <div class="topo-panels topo-panels--single topo-wide">{panels.into_iter().map(|panel| view! { <PanelView panel beside=true /> }).collect_view()}</div> }
            .into_any()
    } else {
        view! { <div class="topo-panels topo-wide">{panels.into_iter().map(|panel| view! { <PanelView panel /> }).collect_view()}</div> }
            .into_any()
    };
    view! {
        <PageHeader title=title lead=lead />
        <TopologyNav current=view.clone() environment=environment.clone() />
        <div class="topo-toolbar">
            {(!environments.is_empty()).then(|| view! {
                <span class="label" id="topo-env-label">"Environment"</span>
                <ChoiceChips choices=environments label="topo-env-label" />
            })}
            {has_export.then(|| view! {
                <span class="topo-exports">
                    <a class="button" href=svg_href download data-testid="export-svg">"Download SVG"</a>
                    <a class="button" href=png_href download data-testid="export-png">"Download PNG"</a>
                </span>
            })}
        </div>
        {body}
    }
}

#[component]
fn TopologyNav(current: String, environment: Option<String>) -> impl IntoView {
    let suffix = environment.map(|e| format!("?environment={e}")).unwrap_or_default();
    view! {
        <nav class="sub-nav" aria-label="Topology">
            {VIEWS
                .iter()
                .map(|(path, label)| {
                    let href = if path.is_empty() {
                        "/topology".to_owned()
                    } else if path.starts_with("walk/") {
                        format!("/topology/{path}")
                    } else {
                        format!("/topology/{path}{suffix}")
                    };
                    let here = (*path == current).then_some("page");
                    view! { <a href=href aria-current=here>{*label}</a> }
                })
                .collect_view()}
        </nav>
    }
}

#[component]
fn ChoiceChips(choices: Vec<Choice>, label: &'static str) -> impl IntoView {
    view! {
        <ul class="chips" aria-labelledby=label>
            {choices
                .into_iter()
                .map(|choice| {
                    let current = choice.current.then_some("true");
                    view! { <li><a href=choice.href aria-current=current data-choice=choice.name>{choice.label}</a></li> }
                })
                .collect_view()}
        </ul>
    }
}

/// One diagram: the SVG (drawn on the server), its text version, and its tasks.
#[component]
fn PanelView(panel: Panel, #[prop(optional)] beside: bool) -> impl IntoView {
    let Panel { id, heading, svg, items, tasks } = panel;
    let heading_id = format!("{id}-heading");
    let labelled = heading_id.clone();
    let text = view! {
        <details class="topo-alt" open=beside>
            <summary>{format!("Text version ({} elements)", items.len())}</summary>
            <dl>
                {items.into_iter().map(|item| view! { <dt>{item.label}</dt><dd>{item.text}</dd> }).collect_view()}
            </dl>
        </details>
    };
    let figure = view! { <figure class="topo-figure" data-testid=format!("figure-{id}") inner_html=svg></figure> };
    let tasks = tasks.map(|list| {
        view! {
            <h3 class="visually-hidden">{list.heading.clone()}</h3>
            <ol class="topo-tasks" aria-label=list.heading>
                {list
                    .tasks
                    .into_iter()
                    .map(|task| {
                        let focusable = task.href.is_none().then_some("0");
                        view! {
                            <li data-task=task.id tabindex=focusable>
                                <span class="task__title">{task.title}</span>
                                <p>{task.detail}</p>
                                {task.href.map(|href| {
                                    let label = format!("Do it in Gatehouse: {href}");
                                    view! { <a href=href.clone()>{label}</a> }
                                })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
        }
    });
    if beside {
        view! {
            <section class="topo-panel" aria-labelledby=labelled>
                <h2 id=heading_id class="visually-hidden">{heading}</h2>
                {figure}
            </section>
            <aside>{text}</aside>
        }
        .into_any()
    } else {
        view! {
            <section class="topo-panel" aria-labelledby=labelled>
                <h2 id=heading_id>{heading}</h2>
                {figure}
                {tasks}
                {text}
            </section>
        }
        .into_any()
    }
}

#[component]
fn TopologyIndexSections(sections: Vec<(String, Vec<crate::topology::page::NavLink>)>) -> impl IntoView {
    if sections.is_empty() {
        return view! {
            <section class="empty-state">
                <h2>"Nothing to draw yet"</h2>
                <p>"The diagrams are drawn from the stored plan. Create an environment (with its client networks and routers) and an application, or start Gatehouse with --demo."</p>
            </section>
        }
        .into_any();
    }
    view! {
        <div class="topo-index">
            {sections
                .into_iter()
                .map(|(title, links)| {
                    view! {
                        <section>
                            <h2>{title}</h2>
                            <ul>
                                {links
                                    .into_iter()
                                    .map(|link| view! { <li><a href=link.href>{link.label}</a>" "<span class="muted">{link.detail}</span></li> })
                                    .collect_view()}
                            </ul>
                        </section>
                    }
                })
                .collect_view()}
        </div>
    }
    .into_any()
}

/// The walk: the diagram at this step, the sentence, previous/next (links, so they work
/// without JavaScript), the arrow keys and auto-play (after hydration), every step listed.
#[component]
fn WalkView(walk: WalkData, panels: Vec<Panel>, playing: RwSignal<bool>) -> impl IntoView {
    let WalkData { step, steps, stops, caveats, step_hrefs, .. } = walk;
    let count = steps.len();
    let prev = (step > 1).then(|| step_hrefs[step - 2].clone());
    let next = (step < count).then(|| step_hrefs[step].clone());
    let sentence = steps.get(step - 1).cloned().unwrap_or_default();
    let last_stops = stops && step == count;
    keyboard_and_autoplay(prev.clone(), next.clone(), playing);
    let button = |href: Option<String>, text: &'static str, test_id: &'static str, class: &'static str| match href {
        Some(href) => view! { <a class=class href=href data-testid=test_id>{text}</a> }.into_any(),
        None => view! { <a class=class aria-disabled="true" data-testid=test_id>{text}</a> }.into_any(),
    };
    view! {
        <div class="walk topo-wide">
            <div>{panels.into_iter().map(|panel| view! { <PanelView panel /> }).collect_view()}</div>
            <aside class="walk__side" aria-label="Packet walk">
                <p class=if last_stops { "walk__now walk__now--stops" } else { "walk__now" } aria-live="polite" data-testid="walk-step" data-step=step.to_string() data-stops=last_stops.then_some("true")>
                    <span class="walk__count">{format!("Step {step} of {count}")}{last_stops.then_some(" — the walk stops here")}</span>
                    {sentence}
                </p>
                <div class="walk__controls">
                    {button(prev, "← Previous", "walk-prev", "button")}
                    {button(next.clone(), "Next →", "walk-next", "button button--primary")}
                    <button
                        type="button"
                        class="button"
                        data-testid="walk-play"
                        aria-pressed=move || if playing.get() { "true" } else { "false" }
                        disabled=next.is_none()
                        on:click=move |_| playing.update(|p| *p = !*p)
                    >
                        {move || if playing.get() { "Pause" } else { "Auto-play" }}
                    </button>
                </div>
                <p class="muted">"Keys: ← and → step through the walk."</p>
                <div>
                    <span class="label" id="walk-caveat-label">"Caveat"</span>
                    <ChoiceChips choices=caveats label="walk-caveat-label" />
                </div>
                <ol class="walk__steps">
                    {steps
                        .into_iter()
                        .zip(step_hrefs)
                        .enumerate()
                        .map(|(i, (text, href))| {
                            let current = (i + 1 == step).then_some("step");
                            view! { <li aria-current=current><a href=href>{text}</a></li> }
                        })
                        .collect_view()}
                </ol>
            </aside>
        </div>
    }
}

/// ← and → go to the previous and next step; auto-play goes on every 2.5 s until the end.
fn keyboard_and_autoplay(prev: Option<String>, next: Option<String>, playing: RwSignal<bool>) {
    #[cfg(feature = "hydrate")]
    {
        use leptos_router::hooks::use_navigate;
        use wasm_bindgen::JsCast;

        let navigate = use_navigate();
        let (back, forward) = (prev, next.clone());
        let go = navigate.clone();
        let keys = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.alt_key() || ev.ctrl_key() || ev.meta_key() || ev.shift_key() {
                return;
            }
            let typing = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
            let target = match ev.key().as_str() {
                "ArrowLeft" if !typing => back.clone(),
                "ArrowRight" if !typing => forward.clone(),
                _ => None,
            };
            if let Some(href) = target {
                ev.prevent_default();
                go(&href, Default::default());
            }
        });
        on_cleanup(move || keys.remove());
        Effect::new(move |_| {
            if !playing.get() {
                return;
            }
            match next.clone() {
                Some(href) => {
                    let go = navigate.clone();
                    let timer = set_timeout_with_handle(move || go(&href, Default::default()), std::time::Duration::from_millis(2500)).ok();
                    on_cleanup(move || {
                        if let Some(timer) = timer {
                            timer.clear();
                        }
                    });
                }
                None => playing.set(false),
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (prev, next, playing);
}
