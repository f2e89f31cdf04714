//! Pages, components and (later) the SVG diagrams.
pub mod certificates;
pub mod environments;
pub mod layout;
pub mod pages;
pub mod plan;
pub mod pools;
pub mod theme;
