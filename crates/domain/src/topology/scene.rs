//! A laid-out diagram: zones, boxes, links and notes with fixed coordinates, ids, classes
//! and a text alternative each. Built by the views, drawn by [`super::svg`].

use super::geometry::{Point, Rect, pt, text_width, wrap};
use crate::Severity;

pub const FONT: &str = "'DejaVu Sans', 'Liberation Sans', Arial, sans-serif";
pub const TITLE_SIZE: i32 = 20;
pub const BOX_TITLE_SIZE: i32 = 15;
pub const LINE_SIZE: i32 = 13;
pub const LABEL_SIZE: i32 = 12;
pub const BOX_TITLE_HEIGHT: i32 = 20;
pub const LINE_HEIGHT: i32 = 17;
pub const PAD: i32 = 9;
pub const ACCENT: i32 = 6;

/// What an element is; decides its accent colour (Okabe–Ito) and class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Clients,
    Router,
    Appliance,
    Vip,
    Keys,
    Host,
    Node,
    Pod,
    PodGroup,
    Gateway,
    HttpRoute,
    Service,
    Deployment,
    ConfigMap,
    Pool,
    Advertisement,
}

impl Kind {
    pub fn class(self) -> &'static str {
        match self {
            Kind::Clients => "clients",
            Kind::Router => "router",
            Kind::Appliance => "appliance",
            Kind::Vip => "vip",
            Kind::Keys => "keys",
            Kind::Host => "host",
            Kind::Node => "node",
            Kind::Pod => "pod",
            Kind::PodGroup => "pod-group",
            Kind::Gateway => "gateway",
            Kind::HttpRoute => "httproute",
            Kind::Service => "service",
            Kind::Deployment => "deployment",
            Kind::ConfigMap => "configmap",
            Kind::Pool => "pool",
            Kind::Advertisement => "advertisement",
        }
    }

    /// The accent colour, from the Okabe–Ito palette (distinguishable with the common
    /// colour-vision deficiencies). Colour is never the only cue: every box is labelled.
    pub fn accent(self) -> &'static str {
        match self {
            Kind::Clients => "#56B4E9",
            Kind::Router | Kind::Advertisement => "#0072B2",
            Kind::Appliance | Kind::Vip | Kind::Gateway | Kind::Pool => "#E69F00",
            Kind::Keys => "#CC79A7",
            Kind::HttpRoute => "#F0E442",
            Kind::Service | Kind::Deployment | Kind::Pod | Kind::PodGroup => "#009E73",
            Kind::Host | Kind::Node | Kind::ConfigMap => "#7A8494",
        }
    }
}

/// A state drawn on an element or link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// A checklist finding, numbered in the diagram's finding list.
    Finding { number: usize, severity: Severity },
    /// The packet walk is here now.
    Current,
    /// The packet walk passed here.
    Visited,
    /// The packet walk stops here.
    Failed,
    /// Works (in a walk step that contrasts it with what fails).
    Works,
}

impl Mark {
    pub fn class(&self) -> &'static str {
        match self {
            Mark::Finding { severity: Severity::Error, .. } => "finding-error",
            Mark::Finding { severity: Severity::Warning, .. } => "finding-warning",
            Mark::Current => "walk-current",
            Mark::Visited => "walk-visited",
            Mark::Failed => "walk-failed",
            Mark::Works => "walk-works",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub id: String,
    pub kind: Kind,
    pub rect: Rect,
    pub title: Vec<String>,
    pub lines: Vec<String>,
    /// The text alternative: what this is and why it is here, in a sentence or two.
    pub alt: String,
    /// Turn-up tasks that concern this element (highlighted when the task is focused).
    pub tasks: Vec<&'static str>,
    pub marks: Vec<Mark>,
    /// A short tag drawn on the top edge (e.g. `ARP`), if any.
    pub badge: Option<String>,
    /// Not recorded in the plan: drawn dashed.
    pub unrecorded: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneKind {
    /// A network of clients or hosts.
    Network,
    /// A Kubernetes cluster, or one environment of an application.
    Cluster,
    /// A whole diagram inside a composed one.
    Panel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub id: String,
    pub kind: ZoneKind,
    pub rect: Rect,
    pub label: String,
    pub alt: String,
    pub tasks: Vec<&'static str>,
    pub marks: Vec<Mark>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStyle {
    /// The request's path.
    Request,
    /// A relation between objects (assigns, terminates, selects, runs).
    Relation,
    /// Health checks or probes.
    Health,
    /// Route advertisement (BGP) or address resolution (ARP).
    Routing,
}

impl LinkStyle {
    pub fn class(self) -> &'static str {
        match self {
            LinkStyle::Request => "request",
            LinkStyle::Relation => "relation",
            LinkStyle::Health => "health",
            LinkStyle::Routing => "routing",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// Text next to a link: lines from `at` downwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkLabel {
    pub lines: Vec<String>,
    pub at: Point,
    pub anchor: Anchor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: String,
    pub style: LinkStyle,
    /// Polylines; each ends in an arrowhead when `arrow` is set.
    pub paths: Vec<Vec<Point>>,
    pub arrow: bool,
    pub label: Option<LinkLabel>,
    pub alt: String,
    pub tasks: Vec<&'static str>,
    pub marks: Vec<Mark>,
}

/// Free text: the diagram's title, a caption, a list of findings or tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub id: String,
    pub x: i32,
    pub y: i32,
    pub lines: Vec<NoteLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteLine {
    pub text: String,
    pub size: i32,
    pub strong: bool,
    /// An extra class, e.g. `finding-error` for a finding's line.
    pub class: Option<&'static str>,
}

impl Note {
    pub fn height(&self) -> i32 {
        self.lines.iter().map(|l| line_height(l.size)).sum()
    }
}

pub fn line_height(size: i32) -> i32 {
    size * 13 / 10 + 2
}

/// A small filled circle with a short text: where the packet is in a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: String,
    pub at: Point,
    pub text: String,
    pub alt: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scene {
    /// Prefix of every id in the scene; unique per diagram on a page.
    pub id: String,
    pub title: String,
    pub summary: String,
    pub width: i32,
    pub height: i32,
    pub zones: Vec<Zone>,
    pub elements: Vec<Element>,
    pub links: Vec<Link>,
    pub notes: Vec<Note>,
    pub tokens: Vec<Token>,
}

/// One line of the text version of a diagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextItem {
    pub id: String,
    pub label: String,
    pub text: String,
}

impl Scene {
    pub fn new(id: &str, title: impl Into<String>, summary: impl Into<String>) -> Scene {
        Scene { id: id.to_owned(), title: title.into(), summary: summary.into(), ..Scene::default() }
    }

    /// `<scene id>-<local>`: ids are unique on a page that shows several diagrams.
    pub fn id_of(&self, local: &str) -> String {
        format!("{}-{local}", self.id)
    }

    pub fn element(&self, id: &str) -> Option<&Element> {
        self.elements.iter().find(|e| e.id == id)
    }

    pub fn element_mut(&mut self, id: &str) -> Option<&mut Element> {
        self.elements.iter_mut().find(|e| e.id == id)
    }

    pub fn link_mut(&mut self, id: &str) -> Option<&mut Link> {
        self.links.iter_mut().find(|l| l.id == id)
    }

    pub fn zone_mut(&mut self, id: &str) -> Option<&mut Zone> {
        self.zones.iter_mut().find(|z| z.id == id)
    }

    /// Puts `mark` on the element, link or zone with this id; false when there is none.
    pub fn mark(&mut self, id: &str, mark: Mark) -> bool {
        if let Some(e) = self.element_mut(id) {
            push_once(&mut e.marks, mark);
        } else if let Some(l) = self.link_mut(id) {
            push_once(&mut l.marks, mark);
        } else if let Some(z) = self.zone_mut(id) {
            push_once(&mut z.marks, mark);
        } else {
            return false;
        }
        true
    }

    /// Every id in the scene (elements, zones, links, notes, tokens).
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.zones
            .iter()
            .map(|z| z.id.as_str())
            .chain(self.elements.iter().map(|e| e.id.as_str()))
            .chain(self.links.iter().map(|l| l.id.as_str()))
            .chain(self.notes.iter().map(|n| n.id.as_str()))
            .chain(self.tokens.iter().map(|t| t.id.as_str()))
    }

    /// The text version: zones, then elements, then links, each with its alternative.
    pub fn text_items(&self) -> Vec<TextItem> {
        let zones = self.zones.iter().filter(|z| z.kind != ZoneKind::Panel).map(|z| TextItem {
            id: z.id.clone(),
            label: z.label.clone(),
            text: z.alt.clone(),
        });
        let elements =
            self.elements.iter().map(|e| TextItem { id: e.id.clone(), label: e.title.join(" "), text: e.alt.clone() });
        let links = self.links.iter().filter(|l| !l.alt.is_empty()).map(|l| TextItem {
            id: l.id.clone(),
            label: link_kind_label(l.style).to_owned(),
            text: l.alt.clone(),
        });
        zones.chain(elements).chain(links).collect()
    }

    /// Moves everything in the scene by (dx, dy).
    pub fn translate(&mut self, dx: i32, dy: i32) {
        for z in &mut self.zones {
            z.rect = z.rect.translate(dx, dy);
        }
        for e in &mut self.elements {
            e.rect = e.rect.translate(dx, dy);
        }
        for l in &mut self.links {
            for p in l.paths.iter_mut().flatten() {
                *p = pt(p.x + dx, p.y + dy);
            }
            if let Some(label) = &mut l.label {
                label.at = pt(label.at.x + dx, label.at.y + dy);
            }
        }
        for n in &mut self.notes {
            n.x += dx;
            n.y += dy;
        }
        for t in &mut self.tokens {
            t.at = pt(t.at.x + dx, t.at.y + dy);
        }
    }

    /// Adds a wrapped paragraph note at (x, y) no wider than `width`; returns its height.
    pub fn paragraph(&mut self, local_id: &str, at: Point, width: i32, text: &str, size: i32, strong: bool) -> i32 {
        let lines = wrap(text, width, size)
            .into_iter()
            .map(|text| NoteLine { text, size, strong, class: None })
            .collect();
        let note = Note { id: self.id_of(local_id), x: at.x, y: at.y, lines };
        let height = note.height();
        self.notes.push(note);
        height
    }
}

fn push_once(marks: &mut Vec<Mark>, mark: Mark) {
    if !marks.contains(&mark) {
        marks.push(mark);
    }
}

fn link_kind_label(style: LinkStyle) -> &'static str {
    match style {
        LinkStyle::Request => "Request path",
        LinkStyle::Relation => "Relation",
        LinkStyle::Health => "Health checks",
        LinkStyle::Routing => "Route announcement",
    }
}

/// A box of `width` holding `title` and `lines`, wrapped to fit; its height follows.
pub fn boxed(id: String, kind: Kind, at: Point, width: i32, title: &str, lines: &[String], alt: String) -> Element {
    let inner = width - 2 * PAD - ACCENT;
    let title = if title.is_empty() { Vec::new() } else { wrap(title, inner, BOX_TITLE_SIZE) };
    let lines: Vec<String> = lines.iter().flat_map(|l| wrap(l, inner, LINE_SIZE)).collect();
    let h = box_height(title.len(), lines.len());
    Element {
        id,
        kind,
        rect: Rect::new(at.x, at.y, width, h),
        title,
        lines,
        alt,
        tasks: Vec::new(),
        marks: Vec::new(),
        badge: None,
        unrecorded: false,
    }
}

pub fn box_height(title_lines: usize, lines: usize) -> i32 {
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX / 64);
    2 * PAD + count(title_lines) * BOX_TITLE_HEIGHT + count(lines) * LINE_HEIGHT
}

/// Label lines for a link, wrapped to `width`.
pub fn label(text: &str, at: Point, anchor: Anchor, width: i32) -> Option<LinkLabel> {
    Some(LinkLabel { lines: wrap(text, width, LABEL_SIZE), at, anchor })
}

/// The width the widest of `lines` takes at `size`.
pub fn widest(lines: &[String], size: i32) -> i32 {
    lines.iter().map(|l| text_width(l, size)).max().unwrap_or(0)
}

/// A straight link (or an orthogonal one with a bend half way) between two points.
pub fn elbow(from: Point, to: Point) -> Vec<Point> {
    if from.x == to.x || from.y == to.y {
        vec![from, to]
    } else {
        let mid = (from.y + to.y) / 2;
        vec![from, pt(from.x, mid), pt(to.x, mid), to]
    }
}

pub fn link(id: String, style: LinkStyle, paths: Vec<Vec<Point>>, alt: String) -> Link {
    Link { id, style, paths, arrow: true, label: None, alt, tasks: Vec::new(), marks: Vec::new() }
}
