//! Block-style YAML for JSON values, safe for YAML 1.1 readers.
//!
//! kubectl (sigs.k8s.io/yaml on go-yaml v2) reads YAML 1.1, where `yes`, `no`, `on`, `off`,
//! `y` and `n` are booleans, `0755` is octal and `1_000` an integer. serde_yaml writes YAML 1.2
//! and leaves those plain, so `allowFirstLastIPs: Yes` or a ConfigMap value `no` would reach the
//! API server as a boolean. This emitter leaves a string plain only when it starts with a letter
//! (or `/`) and holds no character YAML treats specially; everything else is double-quoted, with every
//! character escaped that some YAML reader would not keep as it is.

use std::fmt::{self, Write};

use serde_json::{Map, Value};

/// A value written as one YAML document (no leading `---`).
pub struct Document<'a>(pub &'a Value);

impl fmt::Display for Document<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::Object(map) if !map.is_empty() => mapping(f, map, 0, false),
            Value::Array(items) if !items.is_empty() => sequence(f, items, 0),
            scalar => {
                write_scalar(f, scalar)?;
                f.write_char('\n')
            }
        }
    }
}

/// Writes `map` at `indent`; with `inline_first`, the first key follows a `- ` already written.
fn mapping(f: &mut fmt::Formatter<'_>, map: &Map<String, Value>, indent: usize, inline_first: bool) -> fmt::Result {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !inline_first {
            pad(f, indent)?;
        }
        write_string(f, key)?;
        f.write_char(':')?;
        child(f, value, indent + 2)?;
    }
    Ok(())
}

fn sequence(f: &mut fmt::Formatter<'_>, items: &[Value], indent: usize) -> fmt::Result {
    for item in items {
        pad(f, indent)?;
        f.write_char('-')?;
        match item {
            Value::Object(map) if !map.is_empty() => {
                f.write_char(' ')?;
                mapping(f, map, indent + 2, true)?;
            }
            other => child(f, other, indent + 2)?,
        }
    }
    Ok(())
}

/// The value after `key:` or `-`: inline when it is a scalar or empty, else on the next lines.
fn child(f: &mut fmt::Formatter<'_>, value: &Value, indent: usize) -> fmt::Result {
    match value {
        Value::Object(map) if !map.is_empty() => {
            f.write_char('\n')?;
            mapping(f, map, indent, false)
        }
        Value::Array(items) if !items.is_empty() => {
            f.write_char('\n')?;
            sequence(f, items, indent)
        }
        scalar => {
            f.write_char(' ')?;
            write_scalar(f, scalar)?;
            f.write_char('\n')
        }
    }
}

fn write_scalar(f: &mut fmt::Formatter<'_>, value: &Value) -> fmt::Result {
    match value {
        Value::Null => f.write_str("null"),
        Value::Bool(b) => write!(f, "{b}"),
        Value::Number(n) => write!(f, "{n}"),
        Value::String(s) => write_string(f, s),
        Value::Array(_) => f.write_str("[]"),
        Value::Object(_) => f.write_str("{}"),
    }
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    if is_plain_safe(s) {
        return f.write_str(s);
    }
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            // Control characters, and what a YAML 1.1 reader takes for a line break (NEL, LS,
            // PS) or a byte-order mark, are escaped; everything else is printable as is.
            c if c < ' '
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}') =>
            {
                write!(f, "\\u{:04X}", u32::from(c))?;
            }
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

fn pad(f: &mut fmt::Formatter<'_>, indent: usize) -> fmt::Result {
    write!(f, "{:indent$}", "")
}

/// Whether `s` reads back as the same string in YAML 1.1 and 1.2 when written plain.
pub fn is_plain_safe(s: &str) -> bool {
    const WORDS: [&str; 9] = ["y", "n", "yes", "no", "true", "false", "on", "off", "null"];
    let mut chars = s.chars();
    // A letter or `/` first: never a number, date, null, anchor, tag or indicator.
    let safe_start = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '/');
    safe_start
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && !WORDS.contains(&s.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn yaml(value: &Value) -> String {
        Document(value).to_string()
    }

    #[test]
    fn yaml_1_1_lookalikes_are_quoted() {
        let words = ["no", "Yes", "ON", "off", "y", "N", "true", "null", "~", "0755", "1e3", "1_000", "2026-01-01", "1:20", ".inf", "", "-", "a: b", "#x", "*.example.com", "<<", "="];
        for word in words {
            assert!(!is_plain_safe(word), "{word:?} must be quoted");
            let text = yaml(&json!({ "k": word }));
            let back: Value = serde_yaml::from_str(&text).unwrap_or_default();
            assert_eq!(back, json!({ "k": word }), "{text}");
        }
        for word in ["dev", "api-tls", "app.kubernetes.io/name", "LoadBalancer", "v1", "tls.crt", "nope", "yesterday", "/", "/actuator/health"] {
            assert!(is_plain_safe(word), "{word:?} may stay plain");
        }
    }

    #[test]
    fn block_layout() {
        let value = json!({
            "b": [{ "x": 1, "y": [true, null] }, "s", [], {}],
            "a": { "nested": { "deep": "v" }, "empty": {} },
            "c": "multi\nline",
        });
        let expected = r#"a:
  empty: {}
  nested:
    deep: v
b:
  - x: 1
    "y":
      - true
      - null
  - s
  - []
  - {}
c: "multi\nline"
"#;
        assert_eq!(yaml(&value), expected);
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "\\PC*".prop_map(Value::String),
            prop::sample::select(vec!["no", "on", "0x1f", "07", "- a", "a #b", "[x]", "{y}", "'q'", "\"d\"", "é", "\t", " lead", "\u{2028}", "\u{85}", "\u{feff}", "\r\n", "😀"])
                .prop_map(|s| Value::String(s.to_owned())),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("\\PC{0,8}", inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn round_trips_through_a_yaml_reader(value in arbitrary_json()) {
            let text = yaml(&value);
            let back: Value = serde_yaml::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(back, value, "{}", text);
        }
    }
}
