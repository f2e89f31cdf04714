//! Pages, components and (later) the SVG diagrams.
pub mod layout;
pub mod pages;
pub mod theme;
