//! Integer geometry and text measuring for the diagrams.
//!
//! Text is measured with a per-character width table for DejaVu Sans (the font the SVG asks
//! for first, and the one the PNG export renders with); other sans-serif fonts are narrower,
//! so text sized by this table fits in them too.

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

pub const fn pt(x: i32, y: i32) -> Point {
    Point { x, y }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

impl Rect {
    pub const fn new(x: i32, y: i32, w: i32, h: i32) -> Rect {
        Rect { x, y, w, h }
    }

    pub const fn right(&self) -> i32 {
        self.x + self.w
    }

    pub const fn bottom(&self) -> i32 {
        self.y + self.h
    }

    pub const fn cx(&self) -> i32 {
        self.x + self.w / 2
    }

    pub const fn cy(&self) -> i32 {
        self.y + self.h / 2
    }

    pub const fn top(&self) -> Point {
        pt(self.cx(), self.y)
    }

    pub const fn bottom_mid(&self) -> Point {
        pt(self.cx(), self.bottom())
    }

    pub const fn left_at(&self, y: i32) -> Point {
        pt(self.x, y)
    }

    pub const fn right_at(&self, y: i32) -> Point {
        pt(self.right(), y)
    }

    /// Whether the two rectangles share interior area (touching edges do not count).
    pub const fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.right() && other.x < self.right() && self.y < other.bottom() && other.y < self.bottom()
    }

    /// Whether `other` lies wholly inside this rectangle.
    pub const fn contains(&self, other: &Rect) -> bool {
        other.x >= self.x && other.y >= self.y && other.right() <= self.right() && other.bottom() <= self.bottom()
    }

    pub const fn inflate(&self, by: i32) -> Rect {
        Rect::new(self.x - by, self.y - by, self.w + 2 * by, self.h + 2 * by)
    }

    pub const fn translate(&self, dx: i32, dy: i32) -> Rect {
        Rect::new(self.x + dx, self.y + dy, self.w, self.h)
    }
}

/// The advance of one character in DejaVu Sans, in thousandths of the font size.
fn advance(c: char) -> u32 {
    match c {
        ' ' => 318,
        'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' => 278,
        'f' | 't' | 'r' | 'I' | '(' | ')' | '[' | ']' | '/' | '\\' | '-' => 352,
        'm' | 'w' | 'M' | 'W' | '@' | '%' => 880,
        '0'..='9' => 636,
        'A'..='Z' => 700,
        '→' | '←' | '↔' | '—' => 838,
        c if c.is_ascii() => 600,
        _ => 760,
    }
}

/// Width of `text` at `size` pixels, rounded up.
pub fn text_width(text: &str, size: i32) -> i32 {
    let thousandths: u32 = text.chars().map(advance).sum();
    let size = u32::try_from(size.max(0)).unwrap_or(0);
    i32::try_from((thousandths * size).div_ceil(1000)).unwrap_or(i32::MAX)
}

/// Breaks `text` into lines no wider than `width` at `size`: at spaces first, then after
/// `-`, `/`, `.`, `,` or `=` inside a long word (addresses, hostnames, ranges), and inside a
/// word only when nothing else fits.
pub fn wrap(text: &str, width: i32, size: i32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
        if text_width(&candidate, size) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut rest = word;
        while text_width(rest, size) > width {
            let cut = split_point(rest, width, size);
            lines.push(rest[..cut].to_owned());
            rest = &rest[cut..];
        }
        line = rest.to_owned();
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Byte index to cut an over-long word at: after the last `-`, `,`, `/` or `=` that fits,
/// else after the last `.` that fits, else after the last character that fits; always at
/// least one character.
fn split_point(word: &str, width: i32, size: i32) -> usize {
    let mut fits = 0;
    let (mut strong, mut weak) = (None, None);
    for (i, c) in word.char_indices() {
        let end = i + c.len_utf8();
        if text_width(&word[..end], size) > width {
            break;
        }
        fits = end;
        if end < word.len() {
            match c {
                '-' | '/' | ',' | '=' | '_' => strong = Some(end),
                '.' => weak = Some(end),
                _ => {}
            }
        }
    }
    let first_char = word.chars().next().map_or(word.len(), char::len_utf8);
    strong.or(weak).unwrap_or(fits).max(first_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_measured_and_wrapped_within_the_width() {
        assert!(text_width("mmmm", 10) > text_width("iiii", 10));
        assert_eq!(text_width("", 13), 0);
        let lines = wrap("The HTTPRoute api-prod sends requests for api.mdhlabs.com to Service api", 150, 13);
        assert!(lines.len() > 2, "{lines:?}");
        assert!(lines.iter().all(|l| text_width(l, 13) <= 150), "{lines:?}");
        assert_eq!(lines.join(" "), "The HTTPRoute api-prod sends requests for api.mdhlabs.com to Service api");
    }

    #[test]
    fn long_words_break_after_separators() {
        let lines = wrap("192.168.101.240-192.168.101.250", 130, 13);
        assert_eq!(lines, ["192.168.101.240-", "192.168.101.250"]);
        let hard = wrap("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 40, 13);
        assert!(hard.len() > 3 && hard.iter().all(|l| !l.is_empty()), "{hard:?}");
        assert_eq!(wrap("", 100, 13), [""]);
    }

    #[test]
    fn rectangles_overlap_only_with_shared_area() {
        let a = Rect::new(0, 0, 10, 10);
        assert!(a.overlaps(&Rect::new(5, 5, 10, 10)));
        assert!(!a.overlaps(&Rect::new(10, 0, 10, 10)), "touching edges");
        assert!(a.inflate(2).contains(&a));
        assert_eq!(a.translate(3, 4).bottom_mid(), pt(8, 14));
    }
}
