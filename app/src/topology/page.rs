//! What a topology page receives from the server: the drawn SVG of each panel, its text
//! version, and the few facts the interactive parts need (tasks, walk steps, links).

use serde::{Deserialize, Serialize};

use super::scene::TextItem;
use super::tasks::Task;
use crate::domain::Finding;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Panel {
    /// The SVG's id (and the prefix of every id in it).
    pub id: String,
    pub heading: String,
    pub svg: String,
    pub items: Vec<TextItem>,
    pub tasks: Option<TaskList>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskList {
    pub heading: String,
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub name: String,
    pub label: String,
    pub href: String,
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NavLink {
    pub label: String,
    pub href: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
