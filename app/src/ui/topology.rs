//! The Topology area. The server draws the diagrams and renders everything static to HTML
//! ([`super::topology_html`]), so each page is whole with JavaScript off and the WASM bundle
//! carries no diagram code; hovering or focusing a turn-up task highlights its elements by
//! CSS alone. What hydrates is the packet walk's controls: previous and next (links), the
//! arrow keys and auto-play.
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{
    layout::PageHeader,
    pages::{ErrorNotice, NotFound},
};
use crate::{
    api::{AppError, topology::load_topology},
    topology::page::{TopologyScreen, WalkControls},
};

/// `/topology` and everything below it: the view is the rest of the path (`hardware`,
/// `applications/api`, `walk/bgp`, …); the server says whether it exists.
#[component]
pub fn Topology() -> impl IntoView {
    let params = use_params_map();
    view! { <Screen view=Signal::derive(move || params.read().get("view").unwrap_or_default()) /> }
}

#[component]
fn Screen(view: Signal<String>) -> impl IntoView {
    let query = use_query_map();
    let data = Resource::new(
        move || {
            let q = query.read();
            (view.get(), q.get("environment"), q.get("application"), q.get("step"), q.get("caveat"))
        },
        |(view, environment, application, step, caveat)| load_topology(view, environment, application, step, caveat),
    );
    // Both outlive a step (each step is a page of its own): auto-play goes on, and the
    // step's sentence is announced in a live region that stays in place.
    let playing = RwSignal::new(false);
    let announced = RwSignal::new(String::new());
    view! {
        <p class="visually-hidden" aria-live="polite">{announced}</p>
        <Transition fallback=|| view! { <p class="muted">"Drawing…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(TopologyScreen { title, lead, head, body, walk, .. }) => view! {
                        <PageHeader title=title lead=lead />
                        <div inner_html=head></div>
                        {match walk {
                            Some(walk) => view! { <Walk figure=body walk playing announced /> }.into_any(),
                            None => view! { <div inner_html=body></div> }.into_any(),
                        }}
                    }
                    .into_any(),
                    Err(AppError::NotFound(_)) => view! { <NotFound /> }.into_any(),
                    Err(error) => view! { <PageHeader title="Topology" /><ErrorNotice error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The walk: the server's HTML around the auto-play button.
#[component]
fn Walk(figure: String, walk: WalkControls, playing: RwSignal<bool>, announced: RwSignal<String>) -> impl IntoView {
    let WalkControls { top, rest, sentence, prev, next } = walk;
    Effect::new(move |_| announced.set(sentence.clone()));
    let last = next.is_none();
    keyboard_and_autoplay(prev, next, playing);
    view! {
        <div class="walk topo-wide">
            <div inner_html=figure></div>
            <aside class="walk__side" aria-label="Packet walk">
                <div inner_html=top></div>
                <button
                    type="button"
                    class="button walk__play"
                    data-testid="walk-play"
                    aria-pressed=move || if playing.get() { "true" } else { "false" }
                    disabled=last
                    on:click=move |_| playing.update(|p| *p = !*p)
                >
                    {move || if playing.get() { "Pause" } else { "Auto-play" }}
                </button>
                <div inner_html=rest></div>
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
