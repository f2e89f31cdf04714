//! PNG export of the diagrams: the SVG the API serves, rasterised in pure Rust (resvg and
//! tiny-skia) with the system's fonts, read once per process.

use std::sync::{Arc, OnceLock};

use resvg::{tiny_skia, usvg};

/// Pixels per SVG unit: twice the drawing's size, sharp on a projector.
pub const SCALE: f32 = 2.0;

#[derive(Debug, thiserror::Error)]
pub enum PngError {
    #[error(
        "PNG export needs a TrueType font on the server and none was found; install one (on Debian: apt-get install fonts-dejavu-core) or use the SVG"
    )]
    NoFonts,
    #[error("the diagram could not be read as SVG: {0}")]
    Svg(String),
    #[error("the diagram is too large to rasterise ({width}×{height})")]
    TooLarge { width: u32, height: u32 },
    #[error("the PNG could not be encoded: {0}")]
    Encode(String),
}

fn fonts() -> Option<Arc<usvg::fontdb::Database>> {
    static FONTS: OnceLock<Option<Arc<usvg::fontdb::Database>>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = usvg::fontdb::Database::new();
            db.load_system_fonts();
            if db.is_empty() {
                return None;
            }
            // The family the diagrams ask for first, when the system has it.
            let preferred = ["DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial"];
            let known = |family: &str| db.faces().any(|f| f.families.iter().any(|(name, _)| name == family));
            if let Some(family) = preferred.into_iter().find(|f| known(f)) {
                db.set_sans_serif_family(family);
            }
            Some(Arc::new(db))
        })
        .clone()
}

/// Rasterises `svg` at [`SCALE`] on its own white background.
pub fn render(svg: &str) -> Result<Vec<u8>, PngError> {
    let fontdb = fonts().ok_or(PngError::NoFonts)?;
    let options = usvg::Options { fontdb, font_family: "sans-serif".to_owned(), ..usvg::Options::default() };
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| PngError::Svg(e.to_string()))?;
    let size = tree.size();
    let (width, height) = ((size.width() * SCALE).ceil(), (size.height() * SCALE).ceil());
    // Both are small positive floats here (diagrams are a few thousand units at most).
    let (width, height) = (width as u32, height as u32);
    if u64::from(width) * u64::from(height) > 200_000_000 {
        return Err(PngError::TooLarge { width, height });
    }
    let mut pixmap = tiny_skia::Pixmap::new(width.max(1), height.max(1)).ok_or(PngError::TooLarge { width, height })?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::from_scale(SCALE, SCALE), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| PngError::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use domain::seed_plan;
    use domain::topology::{Query, View, export, svg};

    type Pairs<'a> = &'a [(&'a str, &'a str)];

    const VIEWS: &[(&str, &str, Pairs<'_>)] = &[
        ("hardware-prod", "hardware", &[]),
        ("cilium-prod", "cilium", &[]),
        ("cilium-dev", "cilium", &[("environment", "dev")]),
        ("compare-prod", "compare", &[]),
        ("application-api", "applications/api", &[]),
        ("walk-arp-4", "walk/arp", &[("step", "4")]),
        ("walk-arp-label", "walk/arp", &[("caveat", "gateway-label"), ("step", "3")]),
        ("walk-bgp-vm", "walk/bgp", &[("caveat", "frr-vm"), ("step", "4")]),
    ];

    /// Every view of the seed becomes a PNG twice the drawing's size with many colours
    /// (text, accents, outlines), not a blank page. With $TOPOLOGY_PREVIEW set, the SVGs and
    /// PNGs are written there to be looked at.
    #[test]
    fn the_seed_diagrams_rasterise_to_non_blank_pngs() {
        let plan = seed_plan();
        let preview = std::env::var_os("TOPOLOGY_PREVIEW");
        for (name, view, pairs) in VIEWS {
            let view = View::parse(view).unwrap_or_else(|e| panic!("{e}"));
            let scene = export(&plan, 0, &view, &Query::from_pairs(pairs)).unwrap_or_else(|e| panic!("{name}: {e}"));
            let text = svg::render(&scene);
            let png = render(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}: PNG signature");
            let pixmap = tiny_skia::Pixmap::decode_png(&png).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((pixmap.width(), pixmap.height()), (2 * scene.width as u32, 2 * scene.height as u32), "{name}");
            // Every 7th pixel is plenty to tell a drawing from a blank page.
            let sample: Vec<_> = pixmap.pixels().iter().step_by(7).collect();
            let colours: HashSet<[u8; 4]> = sample.iter().map(|p| [p.red(), p.green(), p.blue(), p.alpha()]).collect();
            assert!(colours.len() > 100, "{name}: only {} colours", colours.len());
            let white = sample.iter().filter(|p| (p.red(), p.green(), p.blue()) == (255, 255, 255)).count();
            assert!(white < sample.len() * 95 / 100, "{name}: almost blank");
            if let Some(dir) = &preview {
                let path = std::path::Path::new(dir).join(name);
                std::fs::write(path.with_extension("svg"), &text).unwrap_or_else(|e| panic!("{e}"));
                std::fs::write(path.with_extension("png"), &png).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }

    #[test]
    fn malformed_svg_is_an_error_not_a_panic() {
        assert!(matches!(render("<svg"), Err(PngError::Svg(_)) | Err(PngError::NoFonts)));
    }
}
