//! What a topology page shows: [`TopologyPage`], built on the server from the plan; and what
//! the browser receives, [`TopologyScreen`]: the page drawn to HTML on the server, and only the
//! facts the walk's controls need (so the WASM bundle carries no diagram code).

use serde::{Deserialize, Serialize};

use super::scene::TextItem;
use super::tasks::Task;
use crate::Finding;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopologyPage {
    /// The view's path below /topology (`hardware`, `walk/arp`, …; empty for the index).
    pub view: String,
    pub title: String,
    pub lead: String,
    pub environment: Option<String>,
    pub application: Option<String>,
    /// Environments to switch to, with this view's link for each.
    pub environments: Vec<Choice>,
    pub applications: Vec<String>,
    pub panels: Vec<Panel>,
    /// The checklist findings drawn on the panels (application view).
    pub findings: Vec<Finding>,
    pub walk: Option<WalkData>,
    /// The API path of this view's export, with its query; add `.svg` or `.png` to the path.
    pub export: String,
    /// The index's links, by section.
    pub sections: Vec<(String, Vec<NavLink>)>,
}

impl TopologyPage {
    /// The export URL with `extension` (`svg` or `png`) put before the query.
    pub fn export_href(&self, extension: &str) -> String {
        match self.export.split_once('?') {
            Some((path, query)) => format!("{path}.{extension}?{query}"),
            None => format!("{}.{extension}", self.export),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panel {
    /// The SVG's id (and the prefix of every id in it).
    pub id: String,
    pub heading: String,
    pub svg: String,
    pub items: Vec<TextItem>,
    pub tasks: Option<TaskList>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskList {
    pub heading: String,
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub name: String,
    pub label: String,
    pub href: String,
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NavLink {
    pub label: String,
    pub href: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkData {
    pub kind: String,
    /// 1-based.
    pub step: usize,
    pub steps: Vec<String>,
    /// The last step is where the walk stops (a caveat bit).
    pub stops: bool,
    pub caveat: String,
    pub caveats: Vec<Choice>,
    /// The page of each step, 1-based order.
    pub step_hrefs: Vec<String>,
}

/// A topology page as the browser receives it.
///
/// On the wire it is a list of strings (see [`TopologyScreen::to_strings`]): the bundle
/// already reads `Vec<String>`, so this type adds no deserializer to the WASM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopologyScreen {
    pub title: String,
    pub lead: String,
    /// The sub-navigation and the toolbar (environments, downloads): HTML rendered on the
    /// server, like `body`.
    pub head: String,
    /// The diagrams with their text versions and tasks, or the index; for a walk, its
    /// diagram.
    pub body: String,
    pub walk: Option<WalkControls>,
}

/// The walk's side column: HTML around the auto-play button, which hydrates, and where the
/// arrow keys lead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkControls {
    /// The step's sentence, previous and next.
    pub top: String,
    /// The caveat choice and the list of steps.
    pub rest: String,
    /// The step's sentence, for the live region.
    pub sentence: String,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl TopologyScreen {
    /// `[title, lead, head, body]`, and for a walk `top, rest, sentence, prev, next` with an
    /// empty string for no link.
    pub fn to_strings(&self) -> Vec<String> {
        let mut out = vec![self.title.clone(), self.lead.clone(), self.head.clone(), self.body.clone()];
        if let Some(w) = &self.walk {
            out.extend([w.top.clone(), w.rest.clone(), w.sentence.clone()]);
            out.extend([&w.prev, &w.next].map(|link| link.clone().unwrap_or_default()));
        }
        out
    }

    pub fn from_strings(parts: Vec<String>) -> Option<TopologyScreen> {
        let mut parts = parts.into_iter();
        let mut next = || parts.next();
        let (title, lead, head, body) = (next()?, next()?, next()?, next()?);
        let walk = match next() {
            None => None,
            Some(top) => {
                let (rest, sentence) = (next()?, next()?);
                let link = |s: String| (!s.is_empty()).then_some(s);
                Some(WalkControls { top, rest, sentence, prev: link(next()?), next: link(next()?) })
            }
        };
        Some(TopologyScreen { title, lead, head, body, walk })
    }
}

impl Serialize for TopologyScreen {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_strings().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TopologyScreen {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let parts = Vec::<String>::deserialize(deserializer)?;
        TopologyScreen::from_strings(parts).ok_or_else(|| serde::de::Error::custom("a topology screen has 4 or 9 parts"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_screen_survives_its_wire_form() {
        let plain = TopologyScreen { title: "t".into(), lead: "l".into(), head: "<nav>".into(), body: "<svg/>".into(), walk: None };
        let walk = TopologyScreen {
            walk: Some(WalkControls { top: "a".into(), rest: "b".into(), sentence: "c".into(), prev: None, next: Some("/n".into()) }),
            ..plain.clone()
        };
        for screen in [plain, walk] {
            let json = serde_json::to_string(&screen).unwrap_or_default();
            assert_eq!(serde_json::from_str::<TopologyScreen>(&json).ok(), Some(screen));
        }
        assert!(serde_json::from_str::<TopologyScreen>(r#"["only", "two"]"#).is_err());
    }
}
