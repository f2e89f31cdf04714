//! YAML (and JSON, which is YAML) read into a tree that remembers where every node and every
//! mapping key starts, so findings can point at a line and column.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    fn of(marker: Marker) -> Self {
        // yaml-rust2's lines are 1-based and its columns 0-based.
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Pos { line: clamp(marker.line()), column: clamp(marker.col()).saturating_add(1) }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Scalar { text: String, plain: bool, pos: Pos },
    Map { entries: Vec<Entry>, pos: Pos },
    Seq { items: Vec<Node>, pos: Pos },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

impl Node {
    pub fn pos(&self) -> Pos {
        match self {
            Node::Scalar { pos, .. } | Node::Map { pos, .. } | Node::Seq { pos, .. } => *pos,
        }
    }

    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match self {
            Node::Map { entries, .. } => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// The node at a path of mapping keys.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    /// A scalar's text; `None` for null (`~`, `null`, nothing) and for collections.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar { text, plain: true, .. } if is_null(text) => None,
            Node::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn str_at(&self, path: &[&str]) -> Option<&str> {
        self.at(path).and_then(Node::as_str)
    }

    pub fn items(&self) -> &[Node] {
        match self {
            Node::Seq { items, .. } => items,
            _ => &[],
        }
    }

    /// The sequence at a path of mapping keys; empty when there is none.
    pub fn items_at(&self, path: &[&str]) -> &[Node] {
        self.at(path).map_or(&[], Node::items)
    }

    /// A mapping's entries as strings (labels, ConfigMap data); a null value is empty.
    pub fn string_map(&self) -> std::collections::BTreeMap<String, String> {
        self.entries().iter().map(|e| (e.key.clone(), e.value.as_str().unwrap_or_default().to_owned())).collect()
    }

    pub fn entries(&self) -> &[Entry] {
        match self {
            Node::Map { entries, .. } => entries,
            _ => &[],
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Node::Scalar { text, plain: true, .. } if is_null(text))
    }

    /// A plain scalar `true`/`false`, or a quoted one (some tools quote booleans).
    pub fn as_bool(&self) -> Option<bool> {
        match self.as_str()? {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => None,
        }
    }

    /// Where the value of `key` starts, else where the key is, else this node.
    pub fn pos_of(&self, key: &str) -> Pos {
        self.entry(key).map_or(self.pos(), |e| e.key_pos)
    }
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// A parse error: where and what the parser said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

/// The documents of a YAML stream, each with the position of its first node. Empty documents
/// (only comments, or nothing between two `---`) are left out.
pub fn documents(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| YamlError { pos: Pos::of(*e.marker()), message: e.info().to_owned() })?;
    if let Some(message) = builder.error {
        return Err(YamlError { pos: builder.error_pos, message });
    }
    Ok(builder.documents.into_iter().filter(|d| !d.is_null()).collect())
}

enum Frame {
    Map { entries: Vec<Entry>, key: Option<(String, Pos)>, pos: Pos, anchor: usize },
    Seq { items: Vec<Node>, pos: Pos, anchor: usize },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    documents: Vec<Node>,
    anchors: HashMap<usize, Node>,
    error: Option<String>,
    error_pos: Pos,
}

impl Builder {
    fn push_node(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                Some((key, key_pos)) => entries.push(Entry { key, key_pos, value: node }),
                None => match node {
                    Node::Scalar { text, pos, .. } => *key = Some((text, pos)),
                    other => {
                        if self.error.is_none() {
                            self.error = Some("a mapping key is a mapping or a sequence, which Kubernetes objects never use".to_owned());
                            self.error_pos = other.pos();
                        }
                        *key = Some((String::new(), other.pos()));
                    }
                },
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let pos = Pos::of(mark);
        match event {
            Event::Scalar(text, style, anchor, _) => {
                self.push_node(Node::Scalar { text, plain: style == TScalarStyle::Plain, pos }, anchor);
            }
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map { entries: Vec::new(), key: None, pos, anchor }),
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq { items: Vec::new(), pos, anchor }),
            Event::MappingEnd => {
                if let Some(Frame::Map { entries, pos, anchor, .. }) = self.stack.pop() {
                    // The parser marks a block mapping where its first key's `:` is; the
                    // mapping starts at that key.
                    let pos = entries.first().map_or(pos, |e| e.key_pos.min(pos));
                    self.push_node(Node::Map { entries, pos }, anchor);
                }
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { items, pos, anchor }) = self.stack.pop() {
                    self.push_node(Node::Seq { items, pos }, anchor);
                }
            }
            Event::Alias(anchor) => {
                let node = self.anchors.get(&anchor).cloned();
                match node {
                    Some(node) => self.push_node(node, 0),
                    None => {
                        if self.error.is_none() {
                            self.error = Some("an alias refers to an anchor that is not defined before it".to_owned());
                            self.error_pos = pos;
                        }
                    }
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        let docs = documents("---\nkind: Service\nspec:\n  ports:\n    - port: 80\n---\n# only a comment\n---\n{\"kind\": \"List\"}\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].entry("kind").unwrap().key_pos, Pos { line: 2, column: 1 });
        let port = &docs[0].at(&["spec", "ports"]).unwrap().items()[0];
        assert_eq!(port.entry("port").unwrap().key_pos, Pos { line: 5, column: 7 });
        assert_eq!(docs[1].str_at(&["kind"]), Some("List"));
    }

    #[test]
    fn a_bad_document_says_where() {
        let error = documents("kind: Service\nspec: [a, b\n").unwrap_err();
        assert!(error.pos.line >= 2, "{error:?}");
    }
}
