//! Placement shared by the views: a main column with a side column on each hand, rows of
//! boxes of equal height, and grids of nodes (or hosts) holding their pods.

use super::design::{Design, Node};
use super::geometry::{Rect, pt};
use super::scene::{
    Anchor, Element, Kind, Link, LinkStyle, Note, NoteLine, PAD, Scene, TITLE_SIZE, Zone, ZoneKind, boxed, elbow,
    label, link,
};

/// A box to place: everything but its position.
#[derive(Debug, Clone)]
pub struct Spec {
    pub local: String,
    pub kind: Kind,
    pub title: String,
    pub lines: Vec<String>,
    pub alt: String,
    pub tasks: Vec<&'static str>,
    pub badge: Option<String>,
    pub unrecorded: bool,
}

impl Spec {
    pub fn new(local: impl Into<String>, kind: Kind, title: impl Into<String>, lines: Vec<String>, alt: impl Into<String>) -> Spec {
        Spec {
            local: local.into(),
            kind,
            title: title.into(),
            lines,
            alt: alt.into(),
            tasks: Vec::new(),
            badge: None,
            unrecorded: false,
        }
    }

    pub fn tasks(mut self, tasks: &[&'static str]) -> Spec {
        self.tasks = tasks.to_vec();
        self
    }

    pub fn badge(mut self, badge: Option<String>) -> Spec {
        self.badge = badge;
        self
    }

    pub fn unrecorded(mut self, unrecorded: bool) -> Spec {
        self.unrecorded = unrecorded;
        self
    }

    pub fn place(self, scene: &Scene, x: i32, y: i32, width: i32) -> Element {
        let mut e = boxed(scene.id_of(&self.local), self.kind, pt(x, y), width, &self.title, &self.lines, self.alt);
        e.tasks = self.tasks;
        e.badge = self.badge;
        e.unrecorded = self.unrecorded;
        e
    }
}

/// Three columns: left side, main, right side.
#[derive(Debug, Clone, Copy)]
pub struct Columns {
    pub left: i32,
    pub side: i32,
    pub gap: i32,
    pub main: i32,
}

impl Columns {
    pub fn main_x(&self) -> i32 {
        self.left + self.side + self.gap
    }

    pub fn right_x(&self) -> i32 {
        self.main_x() + self.main + self.gap
    }

    pub fn width(&self) -> i32 {
        2 * self.side + 2 * self.gap + self.main
    }

    pub fn center(&self) -> i32 {
        self.main_x() + self.main / 2
    }

    /// Places up to three boxes side by side at `y`, all as tall as the tallest; returns the
    /// rectangles (left, main, right) of those placed.
    pub fn row(&self, scene: &mut Scene, y: i32, slots: [Option<Spec>; 3]) -> [Option<Rect>; 3] {
        let xs = [(self.left, self.side), (self.main_x(), self.main), (self.right_x(), self.side)];
        let mut placed: Vec<(usize, Element)> = Vec::new();
        for (i, slot) in slots.into_iter().enumerate() {
            if let Some(spec) = slot {
                let (x, w) = xs[i];
                placed.push((i, spec.place(scene, x, y, w)));
            }
        }
        let h = placed.iter().map(|(_, e)| e.rect.h).max().unwrap_or(0);
        let mut rects = [None; 3];
        for (i, mut e) in placed {
            e.rect.h = h;
            rects[i] = Some(e.rect);
            scene.elements.push(e);
        }
        rects
    }

    /// Places boxes in one centred row across the main column and the sides, each at most
    /// `max` wide; returns their rectangles.
    pub fn spread(&self, scene: &mut Scene, y: i32, specs: Vec<Spec>, max: i32) -> Vec<Rect> {
        let n = i32::try_from(specs.len()).unwrap_or(1).max(1);
        let w = ((self.width() - (n - 1) * self.gap) / n).min(max);
        let total = n * w + (n - 1) * self.gap;
        let mut x = self.left + (self.width() - total) / 2;
        let mut elements: Vec<Element> = Vec::new();
        for spec in specs {
            elements.push(spec.place(scene, x, y, w));
            x += w + self.gap;
        }
        let h = elements.iter().map(|e| e.rect.h).max().unwrap_or(0);
        let mut rects = Vec::new();
        for mut e in elements {
            e.rect.h = h;
            rects.push(e.rect);
            scene.elements.push(e);
        }
        rects
    }
}

/// The diagram's visible title and subtitle at the top; returns the y below them.
pub fn heading(scene: &mut Scene, x: i32, y: i32, title: &str, subtitle: &str, width: i32) -> i32 {
    let mut lines = vec![NoteLine { text: title.to_owned(), size: TITLE_SIZE, strong: true, class: None }];
    lines.extend(
        super::geometry::wrap(subtitle, width, 13)
            .into_iter()
            .map(|text| NoteLine { text, size: 13, strong: false, class: None }),
    );
    let note = Note { id: scene.id_of("heading"), x, y, lines };
    let bottom = y + note.height();
    scene.notes.push(note);
    bottom
}

pub fn zone(scene: &mut Scene, local: &str, kind: ZoneKind, rect: Rect, label: String, alt: String) -> usize {
    scene.zones.push(Zone { id: scene.id_of(local), kind, rect, label, alt, tasks: Vec::new(), marks: Vec::new() });
    scene.zones.len() - 1
}

/// A request-path link from the bottom of `from` to the top of `to`.
pub fn down(scene: &Scene, from_local: &str, to_local: &str, from: Rect, to: Rect, alt: String) -> Link {
    link(
        scene.id_of(&format!("link-{from_local}-{to_local}")),
        LinkStyle::Request,
        vec![elbow(from.bottom_mid(), to.top())],
        alt,
    )
}

/// A dashed relation from a side box (`from`, local id `from_local`) to the main box `to`
/// beside it, a third of the way down `to`: the link `link-{from_local}-{to_local}`.
pub fn beside(
    scene: &mut Scene,
    (from_local, from): (&str, Option<Rect>),
    (to_local, to): (&str, Rect),
    alt: String,
    tasks: &[&'static str],
) {
    let Some(from) = from else { return };
    let y = to.y + to.h / 3;
    let (start, end) = if from.x < to.x { (pt(from.right(), y), pt(to.x, y)) } else { (pt(from.x, y), pt(to.right(), y)) };
    let mut l = link(scene.id_of(&format!("link-{from_local}-{to_local}")), LinkStyle::Relation, vec![vec![start, end]], alt);
    l.tasks = tasks.to_vec();
    scene.links.push(l);
}

/// Puts a label to the right of a vertical link segment between y0 and y1 at x.
pub fn side_label(link: &mut Link, x: i32, y0: i32, y1: i32, text: &str, width: i32) {
    let lines = super::geometry::wrap(text, width, super::scene::LABEL_SIZE);
    let height = i32::try_from(lines.len()).unwrap_or(1) * super::scene::line_height(super::scene::LABEL_SIZE);
    let y = (y0 + y1) / 2 - height / 2 + super::scene::LABEL_SIZE;
    link.label = label(text, pt(x + 10, y), Anchor::Start, width);
}

/// What a node (or host) box says besides its name.
pub struct NodeText {
    /// Instead of the node's name (hardware hosts).
    pub title: Option<String>,
    pub lines: Vec<String>,
    pub alt: String,
    pub badge: Option<String>,
}

pub struct NodeGrid {
    pub rects: Vec<Rect>,
    /// Whether all nodes sit in one row (then links can reach each from above).
    pub one_row: bool,
    pub bottom: i32,
}

const NODE_GAP: i32 = 14;
const CHIP_H: i32 = 26;
const CHIP_GAP: i32 = 6;

/// Lays out `nodes` in a grid across `width` from (x, y): one row up to three, then three
/// or four columns. Each node box holds its pods as chips — grouped into one chip beyond
/// [`super::design::POD_GROUP_THRESHOLD`] — unless `pods` is false (hardware hosts).
#[expect(clippy::too_many_arguments, reason = "a layout call names every dimension")]
pub fn node_grid(
    scene: &mut Scene,
    design: &Design<'_>,
    x: i32,
    y: i32,
    width: i32,
    kind: Kind,
    text: &dyn Fn(usize, &Node) -> NodeText,
    pods: bool,
) -> NodeGrid {
    let nodes = &design.nodes;
    let n = nodes.len();
    let cols = if n <= 3 { n.max(1) } else if n <= 9 { 3 } else { 4 };
    let cols_i = i32::try_from(cols).unwrap_or(4);
    let w = ((width - (cols_i - 1) * NODE_GAP) / cols_i).min(240);
    let total = cols_i * w + (cols_i - 1) * NODE_GAP;
    let x0 = x + (width - total) / 2;
    let app_name = design.app.as_ref().map(|a| a.app.name.to_string()).unwrap_or_default();
    let chip_cols = if w >= 200 { 2 } else { 1 };

    // Text first, to know the tallest node: every box in the grid has the same height.
    let mut boxes: Vec<Element> = Vec::with_capacity(n);
    let mut height = 0;
    for (i, node) in nodes.iter().enumerate() {
        let t = text(i, node);
        let mut e = boxed(scene.id_of(&node.id), kind, pt(0, 0), w, t.title.as_deref().unwrap_or(&node.name), &t.lines, t.alt);
        e.badge = t.badge;
        e.unrecorded = node.address.is_none();
        let chips = if !pods || node.pods.is_empty() {
            0
        } else if node.grouped() {
            1
        } else {
            node.pods.len()
        };
        let chip_rows = i32::try_from(chips.div_ceil(chip_cols)).unwrap_or(0);
        let chip_area = if chip_rows > 0 { chip_rows * (CHIP_H + CHIP_GAP) } else { 0 };
        height = height.max(e.rect.h + chip_area);
        boxes.push(e);
    }
    let mut rects = Vec::with_capacity(n);
    let mut chips_out: Vec<Element> = Vec::new();
    for (i, (node, mut e)) in nodes.iter().zip(boxes).enumerate() {
        let col = i32::try_from(i % cols).unwrap_or(0);
        let row = i32::try_from(i / cols).unwrap_or(0);
        let text_h = e.rect.h;
        e.rect = Rect::new(x0 + col * (w + NODE_GAP), y + row * (height + NODE_GAP), w, height);
        rects.push(e.rect);
        if pods && !node.pods.is_empty() {
            let inner_x = e.rect.x + PAD + super::scene::ACCENT;
            let inner_w = w - 2 * PAD - super::scene::ACCENT;
            let chip_w = (inner_w - (i32::try_from(chip_cols).unwrap_or(1) - 1) * CHIP_GAP) / i32::try_from(chip_cols).unwrap_or(1);
            let top = e.rect.y + text_h - PAD + CHIP_GAP;
            if node.grouped() {
                let first = node.pods.first().copied().unwrap_or(1);
                let last = node.pods.last().copied().unwrap_or(first);
                let mut chip = boxed(
                    scene.id_of(&format!("{}-pods", node.id)),
                    Kind::PodGroup,
                    pt(inner_x, top),
                    inner_w,
                    "",
                    &[format!("{} pods of {app_name}", node.pods.len())],
                    format!(
                        "{} pods of {app_name} on {} (replicas {first} to {last} in turn), grouped: a node shows its pods one by one up to {}",
                        node.pods.len(),
                        node.name,
                        super::design::POD_GROUP_THRESHOLD
                    ),
                );
                chip.rect.h = CHIP_H;
                chips_out.push(chip);
            } else {
                for (k, pod) in node.pods.iter().enumerate() {
                    let cx = i32::try_from(k % chip_cols).unwrap_or(0);
                    let cy = i32::try_from(k / chip_cols).unwrap_or(0);
                    let mut chip = boxed(
                        scene.id_of(&format!("pod-{pod}")),
                        Kind::Pod,
                        pt(inner_x + cx * (chip_w + CHIP_GAP), top + cy * (CHIP_H + CHIP_GAP)),
                        chip_w,
                        "",
                        &[format!("{app_name} pod {pod}")],
                        format!(
                            "Pod {pod} of {app_name} on {}; its IP comes from pod CIDR {} when Cilium's IPAM starts it",
                            node.name,
                            design.pod_cidrs()
                        ),
                    );
                    chip.lines.truncate(1);
                    chip.rect.h = CHIP_H;
                    chips_out.push(chip);
                }
            }
        }
        scene.elements.push(e);
    }
    scene.elements.extend(chips_out);
    let rows = i32::try_from(n.div_ceil(cols)).unwrap_or(1);
    NodeGrid { rects, one_row: n <= cols, bottom: y + rows * height + (rows - 1) * NODE_GAP }
}

/// Links from a point above the grid down to every node of a one-row grid, through a bus at
/// `bus_y`; or, when the grid has several rows, one link to the zone's top edge.
#[expect(clippy::too_many_arguments, reason = "a layout call names every dimension")]
pub fn fan(
    scene: &Scene,
    from: Rect,
    grid: &NodeGrid,
    design: &Design<'_>,
    zone_top: i32,
    bus_y: i32,
    alt: &dyn Fn(&Node) -> String,
    all_alt: String,
) -> Vec<Link> {
    let start = from.bottom_mid();
    if grid.one_row {
        design
            .nodes
            .iter()
            .zip(&grid.rects)
            .map(|(node, rect)| {
                let path = vec![start, pt(start.x, bus_y), pt(rect.cx(), bus_y), rect.top()];
                link(scene.id_of(&format!("link-fan-{}", node.id)), LinkStyle::Request, vec![path], alt(node))
            })
            .collect()
    } else {
        vec![link(scene.id_of("link-fan-all"), LinkStyle::Request, vec![vec![start, pt(start.x, zone_top)]], all_alt)]
    }
}
