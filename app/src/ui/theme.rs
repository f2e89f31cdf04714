//! Light and dark themes. With no choice made the page follows the operating system
//! (`prefers-color-scheme` in CSS); the toggle stores a choice in a cookie so the server
//! renders the chosen theme on the next request without an inline script.
use leptos::prelude::*;

pub const THEME_COOKIE: &str = "gatehouse-theme";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn parse(value: &str) -> Option<Theme> {
        match value {
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }

    pub fn opposite(self) -> Theme {
        match self {
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::Light,
        }
    }

    /// The theme chosen in the request's cookie, if any.
    pub fn from_cookie_header(header: &str) -> Option<Theme> {
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == THEME_COOKIE)
            .and_then(|(_, value)| Theme::parse(value.trim()))
    }

    /// On the server: the theme the current request asked for. In the browser: none.
    pub fn from_request() -> Option<Theme> {
        #[cfg(feature = "ssr")]
        {
            use_context::<axum::http::request::Parts>().and_then(|parts| {
                parts
                    .headers
                    .get_all(axum::http::header::COOKIE)
                    .iter()
                    .filter_map(|value| value.to_str().ok())
                    .find_map(Theme::from_cookie_header)
            })
        }
        #[cfg(not(feature = "ssr"))]
        {
            None
        }
    }
}

/// The theme the document shows right now: the explicit choice, else the OS preference.
#[cfg(feature = "hydrate")]
fn effective_theme() -> Theme {
    let root_choice = document()
        .document_element()
        .and_then(|root| root.get_attribute("data-theme"))
        .and_then(|value| Theme::parse(&value));
    root_choice.unwrap_or_else(|| {
        let prefers_dark = window()
            .match_media("(prefers-color-scheme: dark)")
            .ok()
            .flatten()
            .is_some_and(|query| query.matches());
        if prefers_dark { Theme::Dark } else { Theme::Light }
    })
}

#[cfg(feature = "hydrate")]
fn apply_theme(theme: Theme) {
    use wasm_bindgen::JsCast;
    if let Some(root) = document().document_element() {
        let _ = root.set_attribute("data-theme", theme.as_str());
    }
    if let Ok(html) = document().dyn_into::<web_sys::HtmlDocument>() {
        let _ = html.set_cookie(&format!(
            "{THEME_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            theme.as_str()
        ));
    }
}

/// A button that switches between light and dark. It works once the page has hydrated.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    // Unknown until hydration has looked at the document.
    let current = RwSignal::new(Theme::from_request());
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| current.set(Some(effective_theme())));

    let toggle = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let next = effective_theme().opposite();
            apply_theme(next);
            current.set(Some(next));
        }
    };
    let label = move || match current.get() {
        Some(Theme::Dark) => "Switch to light theme",
        Some(Theme::Light) => "Switch to dark theme",
        None => "Switch theme",
    };
    view! {
        <button
            type="button"
            class="theme-toggle"
            data-testid="theme-toggle"
            on:click=toggle
            aria-label=label
            title=label
        >
            <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                <path
                    class="theme-toggle__icon"
                    d="M12 3a9 9 0 1 0 9 9 7 7 0 0 1-9-9z"
                />
            </svg>
        </button>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_theme_cookie_among_others() {
        assert_eq!(
            Theme::from_cookie_header("a=b; gatehouse-theme=dark; c=d"),
            Some(Theme::Dark)
        );
        assert_eq!(Theme::from_cookie_header("gatehouse-theme=purple"), None);
        assert_eq!(Theme::from_cookie_header(""), None);
    }
}
