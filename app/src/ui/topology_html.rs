//! The static parts of the topology pages, rendered to HTML on the server (ssr only): the
//! sub-navigation, the toolbar, the diagrams with their text versions and tasks, the index,
//! and the walk's caveats and step list. The browser gets this as a string and hydrates only
//! the walk's controls ([`super::topology`]).
use leptos::prelude::*;

use crate::topology::page::{Choice, NavLink, Panel, TopologyPage, TopologyScreen, WalkControls};

/// The views of the area, for its sub-navigation: (path below /topology, label).
const VIEWS: &[(&str, &str)] = &[
    ("", "Overview"),
    ("compare", "Hardware beside Cilium"),
    ("hardware", "Hardware"),
    ("cilium", "Cilium"),
    ("walk/arp", "ARP walk"),
    ("walk/bgp", "BGP walk"),
];

/// Draws `page` for the browser.
pub fn screen(page: TopologyPage) -> TopologyScreen {
    let svg_href = page.export_href("svg");
    let png_href = page.export_href("png");
    let has_export = !page.export.is_empty();
    let TopologyPage { view, title, lead, environment, application, applications, environments, panels, walk, sections, .. } = page;
    // The per-application views open on the application in view, else on the first one.
    let application = application.or_else(|| applications.into_iter().next());
    let head = view! {
        <Nav current=view.clone() environment=environment application />
        <div class="topo-toolbar">
            {(!environments.is_empty()).then(|| view! {
                <span class="label" id="topo-env-label">"Environment"</span>
                <Chips choices=environments label="topo-env-label" />
            })}
            {has_export.then(|| view! {
                <span class="topo-exports">
                    <a class="button" href=svg_href download data-testid="export-svg">"Download SVG"</a>
                    <a class="button" href=png_href download data-testid="export-png">"Download PNG"</a>
                </span>
            })}
        </div>
    }
    .to_html();
    let (body, controls) = match walk {
        Some(walk) => {
            let count = walk.steps.len();
            let step = walk.step.clamp(1, count.max(1));
            let sentence = walk.steps.get(step - 1).cloned().unwrap_or_default();
            let stops = walk.stops && step == count;
            let prev = (step > 1).then(|| walk.step_hrefs[step - 2].clone());
            let next = (step < count).then(|| walk.step_hrefs[step].clone());
            let link = |href: Option<String>, text: &'static str, test_id: &'static str, class: &'static str| {
                view! { <a class=class href=href.clone() aria-disabled=href.is_none().then_some("true") data-testid=test_id>{text}</a> }
            };
            let top = view! {
                <p class=if stops { "walk__now walk__now--stops" } else { "walk__now" } data-testid="walk-step" data-step=step.to_string() data-stops=stops.then_some("true")>
                    <span class="walk__count">{format!("Step {step} of {count}")}{stops.then_some(" — the walk stops here")}</span>
                    {sentence.clone()}
                </p>
                <div class="walk__controls">
                    {link(prev.clone(), "← Previous", "walk-prev", "button")}
                    {link(next.clone(), "Next →", "walk-next", "button button--primary")}
                </div>
            }
            .to_html();
            let rest = view! {
                <p class="muted">"Keys: ← and → step through the walk."</p>
                <div>
                    <span class="label" id="walk-caveat-label">"Caveat"</span>
                    <Chips choices=walk.caveats label="walk-caveat-label" />
                </div>
                <ol class="walk__steps">
                    {walk
                        .steps
                        .iter()
                        .zip(&walk.step_hrefs)
                        .enumerate()
                        .map(|(i, (text, href))| {
                            let current = (i + 1 == step).then_some("step");
                            view! { <li aria-current=current><a href=href.clone()>{text.clone()}</a></li> }
                        })
                        .collect_view()}
                </ol>
            }
            .to_html();
            let controls = WalkControls { top, rest, sentence, prev, next };
            (panels.into_iter().map(|panel| panel_html(panel, false)).collect::<String>(), Some(controls))
        }
        None if view.is_empty() => (view! { <Index sections /> }.to_html(), None),
        None => {
            let (class, beside) = match (view.as_str(), panels.len()) {
                ("compare", _) => ("topo-panels topo-compare topo-wide", false),
                (_, 1) => ("topo-panels topo-panels--single topo-wide", true),
                _ => ("topo-panels topo-wide", false),
            };
            let inner: String = panels.into_iter().map(|panel| panel_html(panel, beside)).collect();
            (format!(r#"<div class="{class}">{inner}</div>"#), None)
        }
    };
    TopologyScreen { title, lead, head, body, walk: controls }
}

/// The per-application views of the area: (path prefix below /topology, label).
const APPLICATION_VIEWS: &[(&str, &str)] = &[("applications", "Dev beside prod"), ("live", "Live")];

#[component]
fn Nav(current: String, environment: Option<String>, application: Option<String>) -> impl IntoView {
    let suffix = environment.map(|e| format!("?environment={e}")).unwrap_or_default();
    let per_application = application.map(|app| {
        APPLICATION_VIEWS
            .iter()
            .map(|(prefix, label)| {
                let here = current.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/')).then_some("page");
                view! { <a href=format!("/topology/{prefix}/{app}") aria-current=here>{*label}</a> }
            })
            .collect_view()
    });
    view! {
        <nav class="sub-nav" aria-label="Topology">
            {VIEWS
                .iter()
                .map(|(path, label)| {
                    let href = match *path {
                        "" => "/topology".to_owned(),
                        p if p.starts_with("walk/") => format!("/topology/{p}"),
                        p => format!("/topology/{p}{suffix}"),
                    };
                    let here = (*path == current).then_some("page");
                    view! { <a href=href aria-current=here>{*label}</a> }
                })
                .collect_view()}
            {per_application}
        </nav>
    }
}

#[component]
fn Chips(choices: Vec<Choice>, label: &'static str) -> impl IntoView {
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

/// One diagram: the SVG, its text version and its tasks. `beside`: the text version sits
/// in a column of its own, open.
fn panel_html(panel: Panel, beside: bool) -> String {
    let Panel { id, heading, svg, items, tasks } = panel;
    let heading_id = format!("{id}-heading");
    let labelled = heading_id.clone();
    let text = view! {
        <details class="topo-alt" open=beside>
            <summary>{format!("Text version ({} elements)", items.len())}</summary>
            <dl>{items.into_iter().map(|item| view! { <dt>{item.label}</dt><dd>{item.text}</dd> }).collect_view()}</dl>
        </details>
    };
    let figure = view! { <figure class="topo-figure" data-testid=format!("figure-{id}") inner_html=svg></figure> };
    let tasks = tasks.map(|list| {
        view! {
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
                                    view! { <a href=href>{label}</a> }
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
        .to_html()
    } else {
        view! {
            <section class="topo-panel" aria-labelledby=labelled>
                <h2 id=heading_id>{heading}</h2>
                {figure}
                {tasks}
                {text}
            </section>
        }
        .to_html()
    }
}

#[component]
fn Index(sections: Vec<(String, Vec<NavLink>)>) -> impl IntoView {
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
