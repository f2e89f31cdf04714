//! Inputs into objects: files, directories (recursively), standard input, and `kubectl get -o
//! yaml` Lists. Anything that is not a readable stream of Kubernetes objects is an
//! [`InputError`] naming the file, the line and the reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::yaml::{self, Node, Pos};

/// A larger input is refused rather than read: a whole cluster's export of 10,000 objects is
/// about 10 MB.
pub const MAX_INPUT_BYTES: usize = 32 * 1024 * 1024;

/// Why the inputs cannot be linted (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("{path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}: {size} bytes is more than the {limit} bytes `gatehouse lint` reads from one input; split the file (one per namespace or kind)")]
    TooLarge { path: String, size: u64, limit: usize },
    #[error("{path}: not a text file (a NUL byte at offset {offset}); give YAML or JSON manifests")]
    Binary { path: String, offset: usize },
    #[error("{path}: not UTF-8 text (an invalid byte at offset {offset}); give YAML or JSON manifests")]
    NotUtf8 { path: String, offset: usize },
    #[error("{path}:{line}:{column}: invalid YAML: {message}")]
    Yaml { path: String, line: u32, column: u32, message: String },
    #[error("{path}:{line}:{column}: {reason}")]
    Object { path: String, line: u32, column: u32, reason: String },
    #[error("{path}: no .yaml, .yml or .json file in this directory or below it")]
    EmptyDirectory { path: String },
}

impl InputError {
    pub(crate) fn at(file: &SourceFile, pos: Pos, reason: impl Into<String>) -> Self {
        InputError::Object { path: file.path.clone(), line: pos.line, column: pos.column, reason: reason.into() }
    }
}

/// One input as text, named as findings will name it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as given (or `stdin`, or `cluster/<name>.yaml` for a live cluster).
    pub path: String,
    pub text: String,
}

impl SourceFile {
    /// Checks size and encoding of raw bytes read from `path`.
    pub fn from_bytes(path: impl Into<String>, bytes: Vec<u8>) -> Result<Self, InputError> {
        let path = path.into();
        if bytes.len() > MAX_INPUT_BYTES {
            return Err(InputError::TooLarge { path, size: bytes.len() as u64, limit: MAX_INPUT_BYTES });
        }
        if let Some(offset) = bytes.iter().position(|b| *b == 0) {
            return Err(InputError::Binary { path, offset });
        }
        match String::from_utf8(bytes) {
            Ok(text) => Ok(SourceFile { path, text }),
            Err(error) => Err(InputError::NotUtf8 { path, offset: error.utf8_error().valid_up_to() }),
        }
    }
}

/// The files named on the command line: a file as is, a directory's `.yaml`, `.yml` and
/// `.json` files below it (sorted, hidden entries skipped), `-` as standard input.
pub fn read_paths(paths: &[PathBuf], stdin: &mut dyn std::io::Read) -> Result<Vec<SourceFile>, InputError> {
    let mut files = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut bytes = Vec::new();
            // One byte more than the limit is enough to know it is too much.
            let limit = MAX_INPUT_BYTES as u64 + 1;
            std::io::Read::read_to_end(&mut std::io::Read::take(&mut *stdin, limit), &mut bytes)
                .map_err(|e| InputError::Read { path: "stdin".to_owned(), reason: e.to_string() })?;
            files.push(SourceFile::from_bytes("stdin", bytes)?);
            continue;
        }
        let metadata = std::fs::metadata(path).map_err(|e| read_error(path, &e))?;
        if metadata.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            if found.is_empty() {
                return Err(InputError::EmptyDirectory { path: path.display().to_string() });
            }
            found.sort();
            for file in found {
                files.push(read_file(&file)?);
            }
        } else {
            files.push(read_file(path)?);
        }
    }
    Ok(files)
}

fn read_error(path: &Path, error: &std::io::Error) -> InputError {
    InputError::Read { path: path.display().to_string(), reason: error.to_string() }
}

fn read_file(path: &Path) -> Result<SourceFile, InputError> {
    let size = std::fs::metadata(path).map_err(|e| read_error(path, &e))?.len();
    if size > MAX_INPUT_BYTES as u64 {
        return Err(InputError::TooLarge { path: path.display().to_string(), size, limit: MAX_INPUT_BYTES });
    }
    let bytes = std::fs::read(path).map_err(|e| read_error(path, &e))?;
    SourceFile::from_bytes(path.display().to_string(), bytes)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), InputError> {
    for entry in std::fs::read_dir(dir).map_err(|e| read_error(dir, &e))? {
        let entry = entry.map_err(|e| read_error(dir, &e))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // Symbolic links to directories are not followed, so a link loop cannot recurse.
        let kind = entry.file_type().map_err(|e| read_error(&path, &e))?;
        if kind.is_dir() {
            walk(&path, found)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
            found.push(path);
        }
    }
    Ok(())
}

/// One Kubernetes object of an input, with where it starts.
#[derive(Debug, Clone)]
pub struct Object {
    /// Index of its file in the inputs.
    pub file: usize,
    pub pos: Pos,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// Empty for cluster-scoped objects and for namespaced ones that leave it to `kubectl -n`.
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub node: Node,
}

impl Object {
    /// Where a field of the object starts (the key of the last path element that exists).
    pub fn pos_of(&self, path: &[&str]) -> Pos {
        let mut node = &self.node;
        let mut pos = self.pos;
        for key in path {
            match node.entry(key) {
                Some(entry) => {
                    pos = entry.key_pos;
                    node = &entry.value;
                }
                None => break,
            }
        }
        pos
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// Every object of every file, `List` documents expanded into their items.
pub fn objects(files: &[SourceFile]) -> Result<Vec<Object>, InputError> {
    let mut out = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let documents = yaml::documents(&file.text).map_err(|e| InputError::Yaml {
            path: file.path.clone(),
            line: e.pos.line,
            column: e.pos.column,
            message: e.message,
        })?;
        for document in documents {
            let kind = object_kind(file, &document)?;
            if kind.ends_with("List") && document.get("items").is_some() {
                for item in document.items_at(&["items"]) {
                    object_kind(file, item)?;
                    out.push(object(index, file, item.clone())?);
                }
            } else {
                out.push(object(index, file, document)?);
            }
        }
    }
    Ok(out)
}

fn object_kind<'a>(file: &SourceFile, node: &'a Node) -> Result<&'a str, InputError> {
    if !matches!(node, Node::Map { .. }) {
        return Err(InputError::at(file, node.pos(), "this document is not a mapping, so it is not a Kubernetes object (each document needs apiVersion, kind and metadata)"));
    }
    node.str_at(&["kind"]).filter(|k| !k.is_empty()).ok_or_else(|| {
        InputError::at(file, node.pos(), "this document has no `kind`, so it is not a Kubernetes object; add kind and apiVersion (e.g. kind: Service, apiVersion: v1)")
    })
}

fn object(index: usize, file: &SourceFile, node: Node) -> Result<Object, InputError> {
    let string_map = |path: &[&str]| -> Result<BTreeMap<String, String>, InputError> {
        let Some(map) = node.at(path) else { return Ok(BTreeMap::new()) };
        if map.is_null() {
            return Ok(BTreeMap::new());
        }
        if !matches!(map, Node::Map { .. }) {
            return Err(InputError::at(file, map.pos(), format!("metadata.{} must be a mapping of strings", path[1])));
        }
        Ok(map.string_map())
    };
    Ok(Object {
        file: index,
        pos: node.pos(),
        api_version: node.str_at(&["apiVersion"]).unwrap_or_default().to_owned(),
        kind: node.str_at(&["kind"]).unwrap_or_default().to_owned(),
        name: node.str_at(&["metadata", "name"]).unwrap_or_default().to_owned(),
        namespace: node.str_at(&["metadata", "namespace"]).unwrap_or_default().to_owned(),
        labels: string_map(&["metadata", "labels"])?,
        annotations: string_map(&["metadata", "annotations"])?,
        node,
    })
}
