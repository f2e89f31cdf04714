//! String formats and the translation of Go RE2 patterns to the `regex` crate.

use std::iter::Peekable;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::Chars;
use std::sync::LazyLock;

use regex::Regex;

/// Checks a string against an OpenAPI `format`. Returns why it does not conform, or `None`.
/// Formats other than the ones below are not checked (`int32`/`int64` apply to integers).
pub(super) fn check_string_format(format: &str, value: &str) -> Option<String> {
    let valid = match format {
        "date-time" => is_date_time(value),
        "byte" => is_base64(value),
        "ipv4" => value.parse::<Ipv4Addr>().is_ok(),
        "ipv6" => value.parse::<Ipv6Addr>().is_ok(),
        "cidr" => is_cidr(value),
        _ => return None,
    };
    (!valid).then(|| {
        let expected = match format {
            "date-time" => "an RFC 3339 date-time such as 2006-01-02T15:04:05Z",
            "byte" => "base64 (standard alphabet, padded)",
            "ipv4" => "an IPv4 address",
            "ipv6" => "an IPv6 address",
            _ => "a CIDR such as 10.0.0.0/24 or fd00::/64",
        };
        format!("{value:?} is not {expected} (format {format})")
    })
}

/// The integer range of `format`, if it has one.
pub(super) fn integer_range(format: &str) -> Option<(i64, i64)> {
    match format {
        "int32" => Some((i32::MIN.into(), i32::MAX.into())),
        "int64" => Some((i64::MIN, i64::MAX)),
        _ => None,
    }
}

fn is_date_time(value: &str) -> bool {
    static DATE_TIME: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|[+-]([0-9]{2}):([0-9]{2}))$",
        )
        .expect("the date-time regex is valid")
    });
    let Some(captures) = DATE_TIME.captures(value) else {
        return false;
    };
    let number = |group: usize| {
        captures
            .get(group)
            .map_or(Some(0), |m| m.as_str().parse::<u32>().ok())
    };
    let in_range =
        |group: usize, min: u32, max: u32| number(group).is_some_and(|n| (min..=max).contains(&n));
    in_range(2, 1, 12)
        && in_range(3, 1, 31)
        && in_range(4, 0, 23)
        && in_range(5, 0, 59)
        && in_range(6, 0, 60)
        && in_range(9, 0, 23)
        && in_range(10, 0, 59)
}

/// Standard base64 with padding, as Go's `encoding/base64.StdEncoding` decodes it (line breaks
/// are skipped).
fn is_base64(value: &str) -> bool {
    let bytes: Vec<u8> = value
        .bytes()
        .filter(|b| !matches!(b, b'\r' | b'\n'))
        .collect();
    if !bytes.len().is_multiple_of(4) {
        return false;
    }
    let padding = bytes.iter().rev().take_while(|b| **b == b'=').count();
    padding <= 2
        && bytes[..bytes.len() - padding]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
}

/// An address and a prefix length, as Go's `net.ParseCIDR` accepts them (host bits may be set).
fn is_cidr(value: &str) -> bool {
    let Some((address, prefix)) = value.split_once('/') else {
        return false;
    };
    let Ok(address) = address.parse::<IpAddr>() else {
        return false;
    };
    let max_prefix = if address.is_ipv4() { 32 } else { 128 };
    !prefix.is_empty()
        && prefix.len() <= 3
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && prefix
            .parse::<u32>()
            .is_ok_and(|prefix| prefix <= max_prefix)
}

/// Rewrites a Go RE2 pattern (the syntax CRDs and CEL use) for the `regex` crate, which accepts
/// nearly the same syntax but differs in three places:
/// - `\d`, `\s`, `\w` are ASCII-only in RE2 but Unicode-aware here, so they are spelled out;
/// - inside a character class RE2 takes `[` literally, `regex` starts a nested class;
/// - inside a character class `regex` reserves `&&`, `--` and `~~` for set operations, so `&`
///   and `~` are escaped there.
pub(super) fn re2_to_rust(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) => out.push_str(&translate_escape(escaped, in_class)),
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                open_class(&mut chars, &mut out);
            }
            '[' if chars.peek() == Some(&':') => copy_posix_class(&mut chars, &mut out),
            '[' => out.push_str(r"\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// After `[`: copies a negation `^` and a leading `]`, which is a literal in both syntaxes.
fn open_class(chars: &mut Peekable<Chars<'_>>, out: &mut String) {
    if chars.peek() == Some(&'^') {
        chars.next();
        out.push('^');
    }
    if chars.peek() == Some(&']') {
        chars.next();
        out.push_str(r"\]");
    }
}

/// Copies `[:alpha:]` (the `[` is already consumed) unchanged.
fn copy_posix_class(chars: &mut Peekable<Chars<'_>>, out: &mut String) {
    out.push('[');
    let mut previous = '[';
    for c in chars.by_ref() {
        out.push(c);
        if previous == ':' && c == ']' {
            break;
        }
        previous = c;
    }
}

fn translate_escape(escaped: char, in_class: bool) -> String {
    let ascii_class = match escaped {
        'd' => "0-9",
        's' => r"\t\n\f\r ",
        'w' => "0-9A-Za-z_",
        'D' | 'S' | 'W' if !in_class => {
            let positive = translate_escape(escaped.to_ascii_lowercase(), true);
            return format!("[^{positive}]");
        }
        _ => return format!("\\{escaped}"),
    };
    if in_class {
        ascii_class.to_owned()
    } else {
        format!("[{ascii_class}]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn re2_translation() {
        assert_eq!(re2_to_rust(r"^\d+$"), "^[0-9]+$");
        assert_eq!(re2_to_rust(r"[\d.]"), "[0-9.]");
        assert_eq!(re2_to_rust(r"\D"), "[^0-9]");
        assert_eq!(re2_to_rust(r"[[]"), r"[\[]");
        assert_eq!(re2_to_rust(r"[]a]"), r"[\]a]");
        assert_eq!(re2_to_rust(r"[&~]"), r"[\&\~]");
        assert_eq!(re2_to_rust(r"[[:alpha:]-]"), r"[[:alpha:]-]");
        assert_eq!(re2_to_rust(r"a\/b\.c"), r"a\/b\.c");
        let digits = Regex::new(&re2_to_rust(r"^\d$")).expect("valid");
        assert!(digits.is_match("7"));
        assert!(!digits.is_match("٧"), "RE2 \\d is ASCII only");
    }

    #[test]
    fn formats() {
        assert!(is_date_time("2026-05-13T10:00:00Z"));
        assert!(is_date_time("2026-05-13T10:00:00.123+02:00"));
        assert!(!is_date_time("2026-13-13T10:00:00Z"));
        assert!(!is_date_time("2026-05-13 10:00:00"));
        assert!(is_base64("aGVsbG8="));
        assert!(is_base64(""));
        assert!(!is_base64("-----BEGIN CERTIFICATE-----"));
        assert!(!is_base64("aGVsbG8"));
        assert!(is_cidr("10.0.0.0/24"));
        assert!(is_cidr("fd00::/64"));
        assert!(!is_cidr("10.0.0.0/33"));
        assert!(!is_cidr("10.0.0.0"));
        assert!(!is_cidr("10.0.0.0/+8"));
        assert!(check_string_format("ipv4", "192.168.1.1").is_none());
        assert!(check_string_format("ipv4", "192.168.1").is_some());
        assert!(check_string_format("ipv6", "fd00::1").is_none());
        assert!(check_string_format("uri", "anything").is_none());
    }
}
