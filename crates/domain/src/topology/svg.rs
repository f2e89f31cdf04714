//! Draws a [`Scene`] as one standalone SVG document. The same text is served by the API,
//! rasterised for the PNG export and put inline on the pages.
//!
//! Colours are presentation attributes (the light theme), so the file looks right in any
//! viewer and in the PNG renderer; on the pages, the stylesheet's rules for the classes win
//! over presentation attributes and follow the light or dark theme.

use std::fmt::Write;

use super::geometry::{Point, Rect};
use super::scene::{
    ACCENT, Anchor, BOX_TITLE_HEIGHT, BOX_TITLE_SIZE, Element, FONT, LABEL_SIZE, LINE_HEIGHT, LINE_SIZE, Link,
    LinkStyle, Mark, Note, PAD, Scene, Token, Zone, ZoneKind, line_height,
};
use crate::Severity;

const BACKGROUND: &str = "#ffffff";
const TEXT: &str = "#1a1f2b";
const MUTED: &str = "#4b5563";
const BOX_FILL: &str = "#ffffff";
const BOX_STROKE: &str = "#8792a2";
const ZONE_FILL: &str = "#f1f4f8";
const ZONE_STROKE: &str = "#9aa4b2";
const ERROR: &str = "#D55E00";
const WARNING: &str = "#E69F00";
const CURRENT: &str = "#0072B2";
const VISITED: &str = "#56B4E9";
const WORKS: &str = "#009E73";

fn link_colour(style: LinkStyle) -> &'static str {
    match style {
        LinkStyle::Request => "#39414f",
        LinkStyle::Relation => "#6b7280",
        LinkStyle::Health => "#009E73",
        LinkStyle::Routing => "#0072B2",
    }
}

/// XML-escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn render(scene: &Scene) -> String {
    let mut out = String::with_capacity(16 * 1024 + scene.elements.len() * 900);
    let id = escape(&scene.id);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" id="{id}" class="topo" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="group" aria-labelledby="{id}-title {id}-desc" font-family="{font}">"#,
        w = scene.width,
        h = scene.height,
        font = FONT,
    );
    let _ = write!(
        out,
        r#"<title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape(&scene.title),
        escape(&scene.summary)
    );
    out.push_str("\n<defs>");
    for style in [LinkStyle::Request, LinkStyle::Relation, LinkStyle::Health, LinkStyle::Routing] {
        let _ = write!(
            out,
            r#"<marker id="{id}-arrow-{class}" class="topo-arrow topo-arrow--{class}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="5" markerHeight="5" markerUnits="strokeWidth" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="{colour}"/></marker>"#,
            class = style.class(),
            colour = link_colour(style)
        );
    }
    out.push_str("</defs>\n");
    let _ = write!(
        out,
        r#"<rect class="topo-bg" width="{}" height="{}" fill="{BACKGROUND}"/>"#,
        scene.width, scene.height
    );
    out.push('\n');
    for zone in &scene.zones {
        render_zone(&mut out, zone);
    }
    for link in &scene.links {
        render_link(&mut out, &id, link);
    }
    for element in &scene.elements {
        render_element(&mut out, element);
    }
    for note in &scene.notes {
        render_note(&mut out, note);
    }
    for token in &scene.tokens {
        render_token(&mut out, token);
    }
    out.push_str("</svg>");
    out
}

fn classes(base: &str, tasks: &[&str], marks: &[Mark]) -> String {
    let mut class = base.to_owned();
    for task in tasks {
        class.push_str(" task-");
        class.push_str(task);
    }
    for mark in marks {
        class.push(' ');
        class.push_str(mark.class());
    }
    class
}

fn render_zone(out: &mut String, zone: &Zone) {
    let Rect { x, y, w, h } = zone.rect;
    let kind = match zone.kind {
        ZoneKind::Network => "network",
        ZoneKind::Cluster => "cluster",
        // A panel of a composed drawing carries its own heading.
        ZoneKind::Panel => return,
    };
    let class = classes(&format!("topo-zone topo-zone--{kind}"), &zone.tasks, &zone.marks);
    let _ = write!(
        out,
        r#"<g id="{}" class="{class}" role="group" aria-label="{}">"#,
        escape(&zone.id),
        escape(&format!("{}: {}", zone.label, zone.alt))
    );
    let _ = write!(
        out,
        r#"<rect class="topo-zone__area" x="{x}" y="{y}" width="{w}" height="{h}" rx="12" fill="{ZONE_FILL}" stroke="{ZONE_STROKE}" stroke-width="1.5" stroke-dasharray="6 4"/>"#
    );
    let _ = write!(
        out,
        r#"<text class="topo-zone__label" x="{}" y="{}" font-size="{LINE_SIZE}" font-weight="700" fill="{MUTED}">{}</text>"#,
        x + 12,
        y + 19,
        escape(&zone.label)
    );
    out.push_str("</g>\n");
}

fn path_data(points: &[Point]) -> String {
    let mut d = String::with_capacity(points.len() * 12);
    for (i, p) in points.iter().enumerate() {
        let _ = write!(d, "{}{} {}", if i == 0 { 'M' } else { 'L' }, p.x, p.y);
    }
    d
}

fn render_link(out: &mut String, scene_id: &str, link: &Link) {
    let class = classes(&format!("topo-link topo-link--{}", link.style.class()), &link.tasks, &link.marks);
    let _ = write!(
        out,
        r#"<g id="{}" class="{class}" role="img" aria-label="{alt}"><title>{alt}</title>"#,
        escape(&link.id),
        alt = escape(&link.alt)
    );
    let colour = link_colour(link.style);
    let (width, dash) = match link.style {
        LinkStyle::Request => ("2.5", ""),
        LinkStyle::Relation => ("1.5", r#" stroke-dasharray="5 4""#),
        LinkStyle::Health => ("2", r#" stroke-dasharray="2 4""#),
        LinkStyle::Routing => ("2", r#" stroke-dasharray="8 4""#),
    };
    // A marked link is drawn again on top, thicker, in the mark's colour.
    let emphasis = link.marks.iter().find_map(|m| match m {
        Mark::Current => Some(CURRENT),
        Mark::Failed => Some(ERROR),
        Mark::Works => Some(WORKS),
        Mark::Visited => Some(VISITED),
        Mark::Finding { .. } => None,
    });
    for points in &link.paths {
        let d = path_data(points);
        if let Some(mark_colour) = emphasis {
            let _ = write!(
                out,
                r#"<path class="topo-link__halo" d="{d}" fill="none" stroke="{mark_colour}" stroke-width="8" stroke-linecap="round" stroke-linejoin="round" opacity="0.55"/>"#
            );
        }
        let marker = if link.arrow {
            format!(r#" marker-end="url(#{scene_id}-arrow-{})""#, link.style.class())
        } else {
            String::new()
        };
        let _ = write!(
            out,
            r#"<path class="topo-link__line" d="{d}" fill="none" stroke="{colour}" stroke-width="{width}" stroke-linejoin="round"{dash}{marker}/>"#
        );
    }
    if let Some(label) = &link.label {
        let anchor = match label.anchor {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        };
        for (i, line) in label.lines.iter().enumerate() {
            let y = label.at.y + i32::try_from(i).unwrap_or(0) * line_height(LABEL_SIZE);
            let _ = write!(
                out,
                r#"<text class="topo-label" x="{}" y="{y}" text-anchor="{anchor}" font-size="{LABEL_SIZE}" fill="{TEXT}" stroke="{BACKGROUND}" stroke-width="4" stroke-linejoin="round" paint-order="stroke">{}</text>"#,
                label.at.x,
                escape(line)
            );
        }
    }
    out.push_str("</g>\n");
}

/// The short tag drawn for a mark on an element, and its colour.
fn mark_tag(mark: &Mark) -> Option<(String, &'static str)> {
    match mark {
        Mark::Finding { number, severity: Severity::Error } => Some((format!("E{number}"), ERROR)),
        Mark::Finding { number, severity: Severity::Warning } => Some((format!("W{number}"), WARNING)),
        Mark::Failed => Some(("STOPS HERE".to_owned(), ERROR)),
        Mark::Works => Some(("WORKS".to_owned(), WORKS)),
        Mark::Current | Mark::Visited => None,
    }
}

fn render_element(out: &mut String, e: &Element) {
    let Rect { x, y, w, h } = e.rect;
    let mut base = format!("topo-el topo-el--{}", e.kind.class());
    if e.unrecorded {
        base.push_str(" topo-el--unrecorded");
    }
    let class = classes(&base, &e.tasks, &e.marks);
    let title = e.title.join(" ");
    let _ = write!(
        out,
        r#"<g id="{}" class="{class}" role="img" aria-label="{}"><title>{}</title>"#,
        escape(&e.id),
        escape(&format!("{title}: {}", e.alt)),
        escape(&title)
    );
    // Marks first, so the box is drawn over their outlines.
    for (i, mark) in e.marks.iter().enumerate() {
        let by = 5 + 4 * i32::try_from(i).unwrap_or(0);
        let r = e.rect.inflate(by);
        let (stroke, width, dash) = match mark {
            Mark::Finding { severity: Severity::Error, .. } => (ERROR, 3, r#" stroke-dasharray="9 4""#),
            Mark::Finding { severity: Severity::Warning, .. } => (WARNING, 3, r#" stroke-dasharray="3 3""#),
            Mark::Current => (CURRENT, 4, ""),
            Mark::Visited => (VISITED, 3, ""),
            Mark::Failed => (ERROR, 4, ""),
            Mark::Works => (WORKS, 4, ""),
        };
        let _ = write!(
            out,
            r#"<rect class="topo-mark {}" x="{}" y="{}" width="{}" height="{}" rx="{}" fill="none" stroke="{stroke}" stroke-width="{width}"{dash}/>"#,
            mark.class(),
            r.x,
            r.y,
            r.w,
            r.h,
            8 + by
        );
    }
    let dash = if e.unrecorded { r#" stroke-dasharray="6 4""# } else { "" };
    if e.kind == super::scene::Kind::PodGroup {
        // A stack of cards: several pods behind the one drawn.
        for offset in [6, 3] {
            let _ = write!(
                out,
                r#"<rect class="topo-shape topo-stack" x="{}" y="{}" width="{w}" height="{h}" rx="8" fill="{BOX_FILL}" stroke="{BOX_STROKE}" stroke-width="1.5"/>"#,
                x + offset,
                y - offset
            );
        }
    }
    let _ = write!(
        out,
        r#"<rect class="topo-shape" x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="{BOX_FILL}" stroke="{BOX_STROKE}" stroke-width="1.5"{dash}/>"#
    );
    let _ = write!(
        out,
        r#"<path class="topo-accent" d="M{} {y}H{}V{}H{}a8 8 0 0 1-8-8V{}a8 8 0 0 1 8-8z" fill="{}"/>"#,
        x + 8,
        x + ACCENT + 2,
        y + h,
        x + 8,
        y + 8,
        e.kind.accent()
    );
    let text_x = x + ACCENT + PAD;
    let mut baseline = y + PAD + BOX_TITLE_SIZE - 1;
    for line in &e.title {
        let _ = write!(
            out,
            r#"<text class="topo-title" x="{text_x}" y="{baseline}" font-size="{BOX_TITLE_SIZE}" font-weight="700" fill="{TEXT}">{}</text>"#,
            escape(line)
        );
        baseline += BOX_TITLE_HEIGHT;
    }
    baseline += LINE_SIZE - BOX_TITLE_SIZE - 2;
    if e.title.is_empty() {
        // A chip: its lines centred in it.
        let lines = i32::try_from(e.lines.len()).unwrap_or(1);
        baseline = y + (h - lines * LINE_HEIGHT) / 2 + LINE_SIZE;
    }
    for line in &e.lines {
        let _ = write!(
            out,
            r#"<text class="topo-text" x="{text_x}" y="{baseline}" font-size="{LINE_SIZE}" fill="{MUTED}">{}</text>"#,
            escape(line)
        );
        baseline += LINE_HEIGHT;
    }
    // Tags along the top edge, from the right: the badge, then the marks.
    let mut right = x + w - 6;
    let tags = e
        .badge
        .iter()
        .map(|b| (b.clone(), "#0072B2"))
        .chain(e.marks.iter().filter_map(mark_tag));
    for (text, colour) in tags {
        let width = super::geometry::text_width(&text, 11) + 12;
        let left = right - width;
        let _ = write!(
            out,
            r#"<g class="topo-tag"><rect x="{left}" y="{}" width="{width}" height="18" rx="9" fill="{colour}"/><text x="{}" y="{}" text-anchor="middle" font-size="11" font-weight="700" fill="{}">{}</text></g>"#,
            y - 9,
            left + width / 2,
            y + 4,
            if colour == WARNING { TEXT } else { BACKGROUND },
            escape(&text)
        );
        right = left - 4;
    }
    out.push_str("</g>\n");
}

fn render_note(out: &mut String, note: &Note) {
    let _ = write!(out, r#"<g id="{}" class="topo-note">"#, escape(&note.id));
    let mut y = note.y;
    for line in &note.lines {
        y += line.size;
        let mut class = String::from("topo-note__line");
        if let Some(extra) = line.class {
            class.push(' ');
            class.push_str(extra);
        }
        let weight = if line.strong { r#" font-weight="700""# } else { "" };
        let _ = write!(
            out,
            r#"<text class="{class}" x="{}" y="{y}" font-size="{}"{weight} fill="{TEXT}">{}</text>"#,
            note.x,
            line.size,
            escape(&line.text)
        );
        y += line_height(line.size) - line.size;
    }
    out.push_str("</g>\n");
}

fn render_token(out: &mut String, token: &Token) {
    let _ = write!(
        out,
        r#"<g id="{}" class="topo-token" role="img" aria-label="{}"><circle cx="{}" cy="{}" r="14" fill="{TEXT}" stroke="{BACKGROUND}" stroke-width="2.5"/><text x="{}" y="{}" text-anchor="middle" font-size="14" font-weight="700" fill="{BACKGROUND}">{}</text></g>"#,
        escape(&token.id),
        escape(&token.alt),
        token.at.x,
        token.at.y,
        token.at.x,
        token.at.y + 5,
        escape(&token.text)
    );
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::scene::{Kind, boxed};

    #[test]
    fn text_is_escaped_and_the_document_is_whole() {
        let mut scene = Scene::new("t", "A <b> & \"c\"", "summary");
        scene.width = 200;
        scene.height = 100;
        scene.elements.push(boxed("t-x".into(), Kind::Router, crate::topology::geometry::pt(10, 10), 180, "edge & <core>", &[], "alt".into()));
        let svg = render(&scene);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("A &lt;b&gt; &amp; &quot;c&quot;"));
        assert!(svg.contains("edge &amp; &lt;core&gt;"));
        assert!(!svg.contains("<core>"));
    }
}
