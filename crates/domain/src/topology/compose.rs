//! Several scenes side by side in one drawing (the exports of the composed views).

use super::scene::{Scene, Zone, ZoneKind};

const GAP: i32 = 32;

/// `panels` left to right, each keeping its own ids, as one scene `id`.
pub fn beside(id: &str, title: String, panels: Vec<Scene>) -> Scene {
    let summary = panels.iter().map(|p| p.summary.as_str()).collect::<Vec<_>>().join(" ");
    let mut out = Scene::new(id, title, summary);
    let mut x = 0;
    for mut panel in panels {
        panel.translate(x, 0);
        out.zones.push(Zone {
            id: format!("{}-panel", panel.id),
            kind: ZoneKind::Panel,
            rect: super::geometry::Rect::new(x, 0, panel.width, panel.height),
            label: panel.title.clone(),
            alt: panel.summary.clone(),
            tasks: Vec::new(),
            marks: Vec::new(),
        });
        out.height = out.height.max(panel.height);
        x += panel.width + GAP;
        out.zones.append(&mut panel.zones);
        out.elements.append(&mut panel.elements);
        out.links.append(&mut panel.links);
        out.notes.append(&mut panel.notes);
        out.tokens.append(&mut panel.tokens);
    }
    out.width = (x - GAP).max(0);
    out
}
