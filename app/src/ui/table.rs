//! A table wider than a phone scrolls sideways within its own box, never the page.
use leptos::prelude::*;

/// The scrolling box around a table. It is a named region that takes the keyboard focus, so
/// the arrow keys scroll it for someone without a mouse (WCAG 2.1.1; axe's
/// `scrollable-region-focusable`); `label` names it for screen readers. `plain` drops the
/// border and background, for a table inside a panel of its own.
#[component]
pub fn TableWrap(#[prop(into)] label: String, #[prop(optional)] plain: bool, children: Children) -> impl IntoView {
    let class = if plain { "table-wrap table-wrap--plain" } else { "table-wrap" };
    view! {
        <div class=class role="region" aria-label=label tabindex="0">
            {children()}
        </div>
    }
}
