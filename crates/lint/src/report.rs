//! The report: human text (`file:line:column`, severity, rule id, message and fix), JSON, or
//! SARIF 2.1.0 for code scanning.

use serde_json::{Value, json};

use crate::catalogue::{Level, catalogue};
use crate::{Located, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "text" => Some(Format::Text),
            "json" => Some(Format::Json),
            "sarif" => Some(Format::Sarif),
            _ => None,
        }
    }
}

/// The report of the findings at or above `threshold`.
pub fn render(outcome: &Outcome, format: Format, threshold: Level) -> String {
    let shown: Vec<&Located> = outcome.findings.iter().filter(|f| f.rule.level.reaches(threshold)).collect();
    match format {
        Format::Text => text(outcome, &shown),
        Format::Json => pretty(&json_report(outcome, &shown)),
        Format::Sarif => pretty(&sarif(outcome, &shown)),
    }
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

fn path<'a>(outcome: &'a Outcome, f: &Located) -> &'a str {
    outcome.files.get(f.loc.file).map_or("-", String::as_str)
}

fn count(shown: &[&Located], level: Level) -> usize {
    shown.iter().filter(|f| f.rule.level == level).count()
}

fn text(outcome: &Outcome, shown: &[&Located]) -> String {
    let mut out = String::new();
    for f in shown {
        out.push_str(&format!(
            "{}:{}:{}: {}[{}] {}\n    fix: {}\n",
            path(outcome, f),
            f.loc.pos.line,
            f.loc.pos.column,
            f.rule.level.as_str(),
            f.rule.id,
            f.message,
            f.fix
        ));
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    out.push_str(&format!(
        "{}, {}, {} info in {} ({})\n",
        plural(count(shown, Level::Error), "error"),
        plural(count(shown, Level::Warning), "warning"),
        count(shown, Level::Info),
        plural(outcome.files.len(), "input"),
        plural(outcome.objects, "object"),
    ));
    out
}

fn json_report(outcome: &Outcome, shown: &[&Located]) -> Value {
    json!({
        "errors": count(shown, Level::Error),
        "warnings": count(shown, Level::Warning),
        "info": count(shown, Level::Info),
        "inputs": outcome.files,
        "objects": outcome.objects,
        "findings": shown.iter().map(|f| json!({
            "rule": f.rule.id,
            "severity": f.rule.level,
            "message": f.message,
            "fix": f.fix,
            "file": path(outcome, f),
            "line": f.loc.pos.line,
            "column": f.loc.pos.column,
            "objects": f.objects,
        })).collect::<Vec<_>>(),
    })
}

/// `GH-VIP-DISTINCT` → `VipDistinct`: SARIF's rule name is an identifier-like word.
fn rule_name(id: &str) -> String {
    id.trim_start_matches("GH-")
        .split('-')
        .map(|part| {
            let lower = part.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars.next().map_or_else(String::new, |c| c.to_ascii_uppercase().to_string() + chars.as_str())
        })
        .collect()
}

/// A path as a URI reference: unreserved characters and `/` kept, the rest percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.replace('\\', "/").bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn sarif(outcome: &Outcome, shown: &[&Located]) -> Value {
    let rules = catalogue();
    let results: Vec<Value> = shown
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.rule.id,
                "ruleIndex": rules.iter().position(|r| r.id == f.rule.id).unwrap_or(0),
                "level": f.rule.level.sarif(),
                "message": {"text": format!("{}. Fix: {}.", f.message, f.fix)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri(path(outcome, f))},
                        "region": {"startLine": f.loc.pos.line, "startColumn": f.loc.pos.column},
                    },
                    "logicalLocations": f.objects.iter().map(|o| json!({"fullyQualifiedName": o})).collect::<Vec<_>>(),
                }],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "gatehouse lint",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|r| json!({
                    "id": r.id,
                    "name": rule_name(r.id),
                    "shortDescription": {"text": r.title},
                    "fullDescription": {"text": r.training},
                    "help": {"text": r.training},
                    "defaultConfiguration": {"level": r.level.sarif()},
                })).collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_and_uris() {
        assert_eq!(rule_name("GH-VIP-DISTINCT"), "VipDistinct");
        assert_eq!(uri("deploy/my dir/a.yaml"), "deploy/my%20dir/a.yaml");
    }
}
