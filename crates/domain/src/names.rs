//! Names: hostnames, Kubernetes object names, labels, environment names, ports, ASNs,
//! container image references, HTTP paths and ConfigMap keys.
//!
//! Every type has private fields, a `parse` constructor (also `FromStr`), `Display`, and serde
//! through the same parser, so a value of the type is always valid.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::{ErrorCode, serde_via_str};

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Shared DNS-1123 label check: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most `max` characters.
/// Checks run in the order that gives the most useful message.
enum LabelProblem {
    Empty,
    TooLong(usize),
    InvalidChar(char),
    BadEdge,
    UpperCase,
}

fn dns1123_label_problem(s: &str, max: usize) -> Option<LabelProblem> {
    if s.is_empty() {
        return Some(LabelProblem::Empty);
    }
    let len = s.chars().count();
    if len > max {
        return Some(LabelProblem::TooLong(len));
    }
    if let Some(ch) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
        return Some(LabelProblem::InvalidChar(ch));
    }
    let bytes = s.as_bytes();
    if bytes[0] == b'-' || bytes[bytes.len() - 1] == b'-' {
        return Some(LabelProblem::BadEdge);
    }
    if bytes.iter().any(u8::is_ascii_uppercase) {
        return Some(LabelProblem::UpperCase);
    }
    None
}

/// A name that must be a DNS-1123 label: generates the newtype, its error enum and impls.
macro_rules! dns_label_newtype {
    ($(#[$meta:meta])* $name:ident, $error:ident, $what:literal, $code:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        pub enum $error {
            #[error("{what} is required", what = $what)]
            Empty,
            #[error("`{input}` is not a valid {what}: it is {len} characters long and the limit is 63; shorten it", what = $what)]
            TooLong { input: String, len: usize },
            #[error("`{input}` is not a valid {what}: `{ch}` is not allowed; use lower-case letters, digits and `-`", what = $what)]
            InvalidChar { input: String, ch: char },
            #[error("`{input}` is not a valid {what}: it must start and end with a letter or a digit", what = $what)]
            BadEdge { input: String },
            #[error("`{input}` is not a valid {what}: use lower case, e.g. `{suggestion}`", what = $what)]
            UpperCase { input: String, suggestion: String },
        }

        impl ErrorCode for $error {
            fn code(&self) -> &'static str {
                match self {
                    Self::Empty => "required",
                    _ => $code,
                }
            }
        }

        impl $name {
            pub fn parse(input: &str) -> Result<Self, $error> {
                let s = input.trim();
                match dns1123_label_problem(s, 63) {
                    None => Ok(Self(s.to_owned())),
                    Some(LabelProblem::Empty) => Err($error::Empty),
                    Some(LabelProblem::TooLong(len)) => Err($error::TooLong { input: s.to_owned(), len }),
                    Some(LabelProblem::InvalidChar(ch)) => Err($error::InvalidChar { input: s.to_owned(), ch }),
                    Some(LabelProblem::BadEdge) => Err($error::BadEdge { input: s.to_owned() }),
                    Some(LabelProblem::UpperCase) => Err($error::UpperCase {
                        input: s.to_owned(),
                        suggestion: s.to_ascii_lowercase(),
                    }),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = $error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        serde_via_str!($name);
    };
}

dns_label_newtype!(
    /// A Kubernetes object name that must be a DNS-1123 label (namespaces, Services,
    /// Deployments, pools): lower-case letters, digits and `-`, at most 63 characters.
    K8sName,
    K8sNameError,
    "Kubernetes name",
    "invalid_k8s_name"
);

dns_label_newtype!(
    /// The name of an environment (`dev`, `prod`). It ends up in object names, labels and
    /// hostnames, so it is a DNS-1123 label.
    EnvironmentName,
    EnvironmentNameError,
    "environment name",
    "invalid_environment_name"
);

// ---------------------------------------------------------------------------------------------
// K8sSubdomain

/// A Kubernetes object name that may be a DNS-1123 subdomain (Secrets, ConfigMaps,
/// Certificates): dot-separated lower-case labels, at most 253 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct K8sSubdomain(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum K8sSubdomainError {
    #[error("a Kubernetes name is required")]
    Empty,
    #[error("`{input}` is not a valid Kubernetes name: it is {len} characters long and the limit is 253; shorten it")]
    TooLong { input: String, len: usize },
    #[error(
        "`{input}` is not a valid Kubernetes name: `{ch}` is not allowed; use lower-case letters, digits, `-` and `.`"
    )]
    InvalidChar { input: String, ch: char },
    #[error(
        "`{input}` is not a valid Kubernetes name: every dot-separated part must start and end with a letter or a digit"
    )]
    BadEdge { input: String },
    #[error("`{input}` is not a valid Kubernetes name: use lower case, e.g. `{suggestion}`")]
    UpperCase { input: String, suggestion: String },
}

impl ErrorCode for K8sSubdomainError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "required",
            _ => "invalid_k8s_name",
        }
    }
}

/// Kubernetes' `IsDNS1123Subdomain`: total length ≤ 253 and every part a label (Kubernetes
/// does not limit the parts to 63 characters here, unlike DNS).
fn subdomain_problem(s: &str) -> Option<LabelProblem> {
    if s.is_empty() {
        return Some(LabelProblem::Empty);
    }
    let len = s.chars().count();
    if len > 253 {
        return Some(LabelProblem::TooLong(len));
    }
    if let Some(ch) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.')) {
        return Some(LabelProblem::InvalidChar(ch));
    }
    let mut upper = false;
    for part in s.split('.') {
        match dns1123_label_problem(part, 253) {
            None => {}
            Some(LabelProblem::UpperCase) => upper = true,
            Some(LabelProblem::Empty | LabelProblem::BadEdge) => return Some(LabelProblem::BadEdge),
            Some(other) => return Some(other),
        }
    }
    upper.then_some(LabelProblem::UpperCase)
}

impl K8sSubdomain {
    pub fn parse(input: &str) -> Result<Self, K8sSubdomainError> {
        let s = input.trim();
        match subdomain_problem(s) {
            None => Ok(Self(s.to_owned())),
            Some(LabelProblem::Empty) => Err(K8sSubdomainError::Empty),
            Some(LabelProblem::TooLong(len)) => Err(K8sSubdomainError::TooLong { input: s.to_owned(), len }),
            Some(LabelProblem::InvalidChar(ch)) => Err(K8sSubdomainError::InvalidChar { input: s.to_owned(), ch }),
            Some(LabelProblem::BadEdge) => Err(K8sSubdomainError::BadEdge { input: s.to_owned() }),
            Some(LabelProblem::UpperCase) => {
                Err(K8sSubdomainError::UpperCase { input: s.to_owned(), suggestion: s.to_ascii_lowercase() })
            }
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<K8sName> for K8sSubdomain {
    fn from(name: K8sName) -> Self {
        Self(name.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Hostname

/// A DNS hostname as used in HTTPRoutes, Gateway listeners and certificate SANs (RFC 1123):
/// lower-cased on parse, at most 253 characters, labels of at most 63, and a wildcard only as
/// a whole leading label (`*.example.com`). An IP address is not a hostname.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hostname(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostnameError {
    #[error("a hostname is required")]
    Empty,
    #[error("`{input}` is {len} characters long; a hostname has at most 253")]
    TooLong { input: String, len: usize },
    #[error("`{input}`: the label `{label}` is longer than 63 characters; shorten it")]
    LabelTooLong { input: String, label: String },
    #[error("`{input}` contains `{ch}`; a hostname has only letters, digits, `-` and `.`")]
    InvalidChar { input: String, ch: char },
    #[error("`{input}` has an empty label (a leading dot or two dots in a row); remove the extra dot")]
    EmptyLabel { input: String },
    #[error("`{input}` ends with a dot; write the hostname without it: `{suggestion}`")]
    TrailingDot { input: String, suggestion: String },
    #[error("`{input}`: the label `{label}` must start and end with a letter or a digit")]
    BadEdge { input: String, label: String },
    #[error("`{input}`: a wildcard is only allowed as the whole first label, like `*.example.com`")]
    MisplacedWildcard { input: String },
    #[error("`{input}` is an IP address; a route or certificate name here must be a DNS hostname")]
    IpAddress { input: String },
}

impl ErrorCode for HostnameError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "required",
            _ => "invalid_hostname",
        }
    }
}

impl Hostname {
    pub fn parse(input: &str) -> Result<Self, HostnameError> {
        let s = input.trim().to_ascii_lowercase();
        if s.is_empty() {
            return Err(HostnameError::Empty);
        }
        let len = s.chars().count();
        if len > 253 {
            return Err(HostnameError::TooLong { input: s, len });
        }
        if s.parse::<std::net::IpAddr>().is_ok() {
            return Err(HostnameError::IpAddress { input: s });
        }
        if let Some(stripped) = s.strip_suffix('.')
            && !stripped.is_empty()
            && !stripped.ends_with('.')
        {
            let suggestion = stripped.to_owned();
            return Err(HostnameError::TrailingDot { input: s, suggestion });
        }
        let (wildcard, rest) = match s.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, s.as_str()),
        };
        if rest.contains('*') || (!wildcard && s == "*") {
            return Err(HostnameError::MisplacedWildcard { input: s.clone() });
        }
        if let Some(ch) = rest.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.')) {
            return Err(HostnameError::InvalidChar { input: s.clone(), ch });
        }
        for label in rest.split('.') {
            if label.is_empty() {
                return Err(HostnameError::EmptyLabel { input: s.clone() });
            }
            if label.len() > 63 {
                return Err(HostnameError::LabelTooLong { input: s.clone(), label: label.to_owned() });
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(HostnameError::BadEdge { input: s.clone(), label: label.to_owned() });
            }
        }
        // All-numeric last label: looks like a mistyped IPv4 address (e.g. "10.0.0.300").
        if rest.rsplit('.').next().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
            return Err(HostnameError::IpAddress { input: s.clone() });
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }

    /// The hostname without its first label (`api.example.com` → `example.com`); for a
    /// wildcard, the domain the wildcard stands under.
    pub fn parent(&self) -> Option<&str> {
        self.0.split_once('.').map(|(_, rest)| rest)
    }

    /// Whether this certificate name (a SAN) covers `host`, as browsers decide (RFC 6125):
    /// equal names match; a wildcard `*.example.com` covers exactly one extra leftmost label
    /// (`api.example.com`, not `example.com` nor `a.b.example.com`). A wildcard host is
    /// only covered by the same wildcard.
    pub fn matches(&self, host: &Hostname) -> bool {
        if self.0 == host.0 {
            return true;
        }
        if !self.is_wildcard() || host.is_wildcard() {
            return false;
        }
        match (self.parent(), host.parent()) {
            // Browsers refuse wildcards directly under a top-level domain (`*.com`).
            (Some(base), Some(host_parent)) => base.contains('.') && base == host_parent,
            _ => false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Labels

/// A Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a name of at most
/// 63 characters of `[A-Za-z0-9._-]` that starts and ends with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabelKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelKeyError {
    #[error("a label key is required")]
    Empty,
    #[error("`{input}` has more than one `/`; a label key is `prefix/name` or just `name`")]
    TooManySlashes { input: String },
    #[error("`{input}`: the prefix before `/` must be a lower-case DNS subdomain like `gatehouse.io` ({reason})")]
    InvalidPrefix { input: String, reason: K8sSubdomainError },
    #[error("`{input}`: the name part is empty; write something after the `/`")]
    EmptyName { input: String },
    #[error("`{input}`: the name part is {len} characters long and the limit is 63; shorten it")]
    NameTooLong { input: String, len: usize },
    #[error("`{input}` contains `{ch}`; a label name has only letters, digits, `-`, `_` and `.`")]
    InvalidChar { input: String, ch: char },
    #[error("`{input}`: the name part must start and end with a letter or a digit")]
    BadEdge { input: String },
}

impl ErrorCode for LabelKeyError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "required",
            _ => "invalid_label_key",
        }
    }
}

/// Problems of a label name or value: `[A-Za-z0-9._-]`, alphanumeric at both ends.
fn label_name_problem(s: &str) -> Option<LabelProblem> {
    if let Some(ch) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        return Some(LabelProblem::InvalidChar(ch));
    }
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(a), Some(b)) if !(a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric()) => Some(LabelProblem::BadEdge),
        _ => None,
    }
}

impl LabelKey {
    pub fn parse(input: &str) -> Result<Self, LabelKeyError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(LabelKeyError::Empty);
        }
        let owned = || s.to_owned();
        let name = match s.split_once('/') {
            None => s,
            Some((prefix, name)) => {
                if name.contains('/') {
                    return Err(LabelKeyError::TooManySlashes { input: owned() });
                }
                if let Err(reason) = K8sSubdomain::parse(prefix) {
                    return Err(LabelKeyError::InvalidPrefix { input: owned(), reason });
                }
                if prefix.trim() != prefix {
                    return Err(LabelKeyError::InvalidChar { input: owned(), ch: ' ' });
                }
                name
            }
        };
        if name.is_empty() {
            return Err(LabelKeyError::EmptyName { input: owned() });
        }
        let len = name.chars().count();
        if len > 63 {
            return Err(LabelKeyError::NameTooLong { input: owned(), len });
        }
        match label_name_problem(name) {
            Some(LabelProblem::InvalidChar(ch)) => Err(LabelKeyError::InvalidChar { input: owned(), ch }),
            Some(_) => Err(LabelKeyError::BadEdge { input: owned() }),
            None => Ok(Self(owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn prefix(&self) -> Option<&str> {
        self.0.split_once('/').map(|(p, _)| p)
    }

    pub fn name(&self) -> &str {
        self.0.split_once('/').map_or(self.0.as_str(), |(_, n)| n)
    }
}

/// A Kubernetes label value: empty, or at most 63 characters of `[A-Za-z0-9._-]` that start
/// and end with a letter or digit.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabelValue(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelValueError {
    #[error("the label value `{input}` is {len} characters long and the limit is 63; shorten it")]
    TooLong { input: String, len: usize },
    #[error("the label value `{input}` contains `{ch}`; use letters, digits, `-`, `_` and `.`")]
    InvalidChar { input: String, ch: char },
    #[error("the label value `{input}` must start and end with a letter or a digit")]
    BadEdge { input: String },
}

impl ErrorCode for LabelValueError {
    fn code(&self) -> &'static str {
        "invalid_label_value"
    }
}

impl LabelValue {
    pub fn parse(input: &str) -> Result<Self, LabelValueError> {
        let s = input.trim();
        let len = s.chars().count();
        if len > 63 {
            return Err(LabelValueError::TooLong { input: s.to_owned(), len });
        }
        match label_name_problem(s) {
            Some(LabelProblem::InvalidChar(ch)) => Err(LabelValueError::InvalidChar { input: s.to_owned(), ch }),
            Some(_) => Err(LabelValueError::BadEdge { input: s.to_owned() }),
            None => Ok(Self(s.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<EnvironmentName> for LabelValue {
    fn from(name: EnvironmentName) -> Self {
        Self(name.0)
    }
}

/// A label `key=value`, serialised as `{"key": …, "value": …}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    pub key: LabelKey,
    pub value: LabelValue,
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

// ---------------------------------------------------------------------------------------------
// Port

/// A TCP port, 1–65535. Serialised as a JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u16")]
pub struct Port(u16);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("a port is required")]
    Empty,
    #[error("`{input}` is not a port number; write a number from 1 to 65535, like 8080")]
    NotANumber { input: String },
    #[error("port {value} is out of range; a port is a number from 1 to 65535")]
    OutOfRange { value: i64 },
}

impl ErrorCode for PortError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "required",
            _ => "invalid_port",
        }
    }
}

impl Port {
    pub fn new(value: i64) -> Result<Self, PortError> {
        match u16::try_from(value) {
            Ok(p) if p != 0 => Ok(Self(p)),
            _ => Err(PortError::OutOfRange { value }),
        }
    }

    pub fn parse(input: &str) -> Result<Self, PortError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(PortError::Empty);
        }
        match parse_decimal(s) {
            Some(v) => Self::new(i64::try_from(v).unwrap_or(i64::MAX)),
            None => Err(PortError::NotANumber { input: s.to_owned() }),
        }
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<i64> for Port {
    type Error = PortError;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Port> for u16 {
    fn from(p: Port) -> Self {
        p.0
    }
}

/// Digits only (no sign, no spaces); saturates instead of overflowing.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |acc, b| acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))))
}

// ---------------------------------------------------------------------------------------------
// Asn

/// A BGP autonomous system number, 1–4294967294, excluding the reserved 23456 (AS_TRANS)
/// and 65535 / 4294967295 (RFC 7300). Serialised as a JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Asn(u32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsnError {
    #[error("an AS number is required")]
    Empty,
    #[error("`{input}` is not an AS number; write a plain number like 65001")]
    NotANumber { input: String },
    #[error("AS {value} is out of range; an AS number is from 1 to 4294967294 (private: 64512–65534)")]
    OutOfRange { value: i64 },
    #[error("AS {value} is reserved ({why}); pick a private AS number from 64512–65534 or 4200000000–4294967294")]
    Reserved { value: u32, why: &'static str },
}

impl ErrorCode for AsnError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "required",
            _ => "invalid_asn",
        }
    }
}

impl Asn {
    pub fn new(value: i64) -> Result<Self, AsnError> {
        let v = u32::try_from(value).map_err(|_| AsnError::OutOfRange { value })?;
        let why = match v {
            0 => "RFC 7607: AS 0 may not be used",
            23456 => "AS_TRANS, RFC 6793",
            65535 | 4_294_967_295 => "last AS number of its range, RFC 7300",
            _ => return Ok(Self(v)),
        };
        Err(AsnError::Reserved { value: v, why })
    }

    pub fn parse(input: &str) -> Result<Self, AsnError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(AsnError::Empty);
        }
        let digits = s.strip_prefix("AS").or_else(|| s.strip_prefix("as")).unwrap_or(s);
        match parse_decimal(digits) {
            Some(v) => Self::new(i64::try_from(v).unwrap_or(i64::MAX)),
            None => Err(AsnError::NotANumber { input: s.to_owned() }),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// Private-use AS numbers (RFC 6996): 64512–65534 and 4200000000–4294967294.
    pub fn is_private(self) -> bool {
        matches!(self.0, 64_512..=65_534 | 4_200_000_000..=4_294_967_294)
    }
}

impl TryFrom<i64> for Asn {
    type Error = AsnError;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Asn> for u32 {
    fn from(a: Asn) -> Self {
        a.0
    }
}

// ---------------------------------------------------------------------------------------------
// ImageRef

/// A container image reference, `[registry[:port]/]repository[:tag][@sha256:digest]`, validated
/// like the Docker reference grammar (distribution/reference): the repository path is lower
/// case; the first component is a registry when it has a `.` or `:` or is `localhost`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRef {
    registry: Option<String>,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    #[error("an image reference is required")]
    Empty,
    #[error("`{input}`: the repository path must be lower case, e.g. `{suggestion}`")]
    UpperCase { input: String, suggestion: String },
    #[error(
        "`{input}`: `{component}` is not a valid repository path component; use lower-case letters and digits separated by `.`, `_`, `__` or `-`"
    )]
    InvalidPath { input: String, component: String },
    #[error("`{input}`: the registry `{registry}` is not a valid host[:port]")]
    InvalidRegistry { input: String, registry: String },
    #[error(
        "`{input}`: the tag `{tag}` is invalid; a tag is up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
    )]
    InvalidTag { input: String, tag: String },
    #[error("`{input}`: the digest must be `sha256:` followed by 64 lower-case hex digits")]
    InvalidDigest { input: String },
    #[error("`{input}`: the repository name is {len} characters long; the limit is 255")]
    TooLong { input: String, len: usize },
}

impl ErrorCode for ImageRefError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "required",
            _ => "invalid_image",
        }
    }
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !is_lower_alnum(b[0]) || !is_lower_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_lower_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_lower_alnum(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `host[:port]` where host is dot-separated `[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?` or `[ipv6]`.
fn is_registry(s: &str) -> bool {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        match rest.split_once(']') {
            Some((v6, after)) => {
                if v6.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                match after {
                    "" => return true,
                    p => match p.strip_prefix(':') {
                        Some(port) => ("", Some(port)),
                        None => return false,
                    },
                }
            }
            None => return false,
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    if host.is_empty() {
        return s.starts_with('[');
    }
    host.split('.').all(|c| {
        let b = c.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
    })
}

/// `[\w][\w.-]{0,127}`
fn is_tag(s: &str) -> bool {
    let b = s.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty() && b.len() <= 128 && word(b[0]) && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

impl ImageRef {
    pub fn parse(input: &str) -> Result<Self, ImageRefError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(ImageRefError::Empty);
        }
        let owned = || s.to_owned();
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => {
                let hex = d.strip_prefix("sha256:").unwrap_or("");
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                    return Err(ImageRefError::InvalidDigest { input: owned() });
                }
                (n, Some(d.to_owned()))
            }
            None => (s, None),
        };
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &name_tag[last_slash + i + 1..];
                if !is_tag(tag) {
                    return Err(ImageRefError::InvalidTag { input: owned(), tag: tag.to_owned() });
                }
                (&name_tag[..last_slash + i], Some(tag.to_owned()))
            }
            None => (name_tag, None),
        };
        let len = name.chars().count();
        if len > 255 {
            return Err(ImageRefError::TooLong { input: owned(), len });
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => {
                if !is_registry(first) {
                    return Err(ImageRefError::InvalidRegistry { input: owned(), registry: first.to_owned() });
                }
                (Some(first.to_owned()), rest)
            }
            _ => (None, name),
        };
        for component in path.split('/') {
            if is_path_component(component) {
                continue;
            }
            let lower = component.to_ascii_lowercase();
            if lower != component && is_path_component(&lower) {
                let suggestion = s.replacen(path, &path.to_ascii_lowercase(), 1);
                return Err(ImageRefError::UpperCase { input: owned(), suggestion });
            }
            return Err(ImageRefError::InvalidPath { input: owned(), component: component.to_owned() });
        }
        Ok(Self { registry, repository: path.to_owned(), tag, digest })
    }

    /// The registry host (`registry.example`, `localhost:5000`); `None` means Docker Hub.
    pub fn registry(&self) -> Option<&str> {
        self.registry.as_deref()
    }

    /// The repository path without registry, tag or digest (`cd-service`, `team/api`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// `sha256:<hex>`
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(r) = &self.registry {
            write!(f, "{r}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// HttpPath and ConfigKey

/// An HTTP path prefix for an HTTPRoute match or a probe: starts with `/`, no spaces,
/// no query (`?`) or fragment (`#`), at most 1024 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HttpPath(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpPathError {
    #[error("a path is required")]
    Empty,
    #[error("`{input}` must start with `/`, e.g. `/{input}`")]
    NoLeadingSlash { input: String },
    #[error("`{input}` contains `{ch}`; a path has no spaces, `?` or `#`")]
    InvalidChar { input: String, ch: char },
    #[error("the path is {len} characters long; the limit is 1024")]
    TooLong { len: usize },
}

impl ErrorCode for HttpPathError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "required",
            _ => "invalid_path",
        }
    }
}

impl HttpPath {
    pub fn parse(input: &str) -> Result<Self, HttpPathError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(HttpPathError::Empty);
        }
        let len = s.chars().count();
        if len > 1024 {
            return Err(HttpPathError::TooLong { len });
        }
        if !s.starts_with('/') {
            return Err(HttpPathError::NoLeadingSlash { input: s.to_owned() });
        }
        if let Some(ch) = s.chars().find(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#')) {
            return Err(HttpPathError::InvalidChar { input: s.to_owned(), ch });
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A ConfigMap data key: `[-._a-zA-Z0-9]+`, at most 253 characters, not `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigKeyError {
    #[error("a ConfigMap key is required")]
    Empty,
    #[error("the ConfigMap key `{input}` contains `{ch}`; use letters, digits, `-`, `_` and `.`")]
    InvalidChar { input: String, ch: char },
    #[error("the ConfigMap key is {len} characters long; the limit is 253")]
    TooLong { len: usize },
    #[error("`{input}` cannot be a ConfigMap key; pick a name")]
    DotName { input: String },
}

impl ErrorCode for ConfigKeyError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "required",
            _ => "invalid_config_key",
        }
    }
}

impl ConfigKey {
    pub fn parse(input: &str) -> Result<Self, ConfigKeyError> {
        // No trim: a key with spaces is wrong, and must be shown as such.
        let s = input;
        if s.is_empty() {
            return Err(ConfigKeyError::Empty);
        }
        let len = s.chars().count();
        if len > 253 {
            return Err(ConfigKeyError::TooLong { len });
        }
        if let Some(ch) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
            return Err(ConfigKeyError::InvalidChar { input: s.to_owned(), ch });
        }
        if s == "." || s == ".." {
            return Err(ConfigKeyError::DotName { input: s.to_owned() });
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `FromStr`, `Display`, `AsRef<str>` and serde for the single-`String` newtypes above.
macro_rules! string_newtype_impls {
    ($($t:ident => $e:ident),* $(,)?) => {$(
        impl FromStr for $t {
            type Err = $e;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        serde_via_str!($t);
    )*};
}

string_newtype_impls!(
    K8sSubdomain => K8sSubdomainError,
    Hostname => HostnameError,
    LabelKey => LabelKeyError,
    LabelValue => LabelValueError,
    HttpPath => HttpPathError,
    ConfigKey => ConfigKeyError,
);

macro_rules! parse_display_impls {
    ($($t:ident => $e:ident),* $(,)?) => {$(
        impl FromStr for $t {
            type Err = $e;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    )*};
}

parse_display_impls!(Port => PortError, Asn => AsnError, ImageRef => ImageRefError);
serde_via_str!(ImageRef);

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "in tests a failed parse is a failed test")]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn k8s_name_accepts_dns_labels_and_explains_rejections() {
        assert_eq!(K8sName::parse("cd-service").map(|n| n.to_string()), Ok("cd-service".to_owned()));
        assert_eq!(K8sName::parse(" api ").map(|n| n.to_string()), Ok("api".to_owned()));
        let err = K8sName::parse("Api").unwrap_err();
        assert_eq!(err.code(), "invalid_k8s_name");
        assert!(err.to_string().contains("did you mean") || err.to_string().contains("e.g. `api`"), "{err}");
        assert!(matches!(K8sName::parse("my_app"), Err(K8sNameError::InvalidChar { ch: '_', .. })));
        assert!(matches!(K8sName::parse("-api"), Err(K8sNameError::BadEdge { .. })));
        assert!(matches!(K8sName::parse("api-"), Err(K8sNameError::BadEdge { .. })));
        assert!(matches!(K8sName::parse(&"a".repeat(64)), Err(K8sNameError::TooLong { len: 64, .. })));
        assert!(K8sName::parse(&"a".repeat(63)).is_ok());
        assert_eq!(K8sName::parse("").unwrap_err().code(), "required");
    }

    #[test]
    fn environment_name_is_a_dns_label() {
        assert!(EnvironmentName::parse("prod").is_ok());
        let err = EnvironmentName::parse("Prod").unwrap_err();
        assert_eq!(err.code(), "invalid_environment_name");
        assert!(err.to_string().contains("environment name"), "{err}");
        assert!(EnvironmentName::parse("dev.eu").is_err());
    }

    #[test]
    fn k8s_subdomain_allows_dots() {
        assert!(K8sSubdomain::parse("api-tls").is_ok());
        assert!(K8sSubdomain::parse("api.tls.v2").is_ok());
        assert!(matches!(K8sSubdomain::parse("api..tls"), Err(K8sSubdomainError::BadEdge { .. })));
        assert!(matches!(K8sSubdomain::parse(".api"), Err(K8sSubdomainError::BadEdge { .. })));
        assert!(matches!(K8sSubdomain::parse("API.tls"), Err(K8sSubdomainError::UpperCase { .. })));
        assert!(K8sSubdomain::parse(&"a".repeat(253)).is_ok());
        assert!(matches!(K8sSubdomain::parse(&"a".repeat(254)), Err(K8sSubdomainError::TooLong { .. })));
    }

    #[test]
    fn hostname_is_lower_cased_and_validated() {
        let h = Hostname::parse("API-Dev.MDHLabs.com").unwrap();
        assert_eq!(h.as_str(), "api-dev.mdhlabs.com");
        assert!(!h.is_wildcard());
        assert!(Hostname::parse("*.mdhlabs.com").unwrap().is_wildcard());
        assert!(Hostname::parse("localhost").is_ok());
        for (input, expected) in [
            ("api.*.com", "wildcard"),
            ("a*.example.com", "wildcard"),
            ("*", "wildcard"),
            ("api..example.com", "empty label"),
            ("api.example.com.", "without it"),
            ("-api.example.com", "start and end"),
            ("api_x.example.com", "`_`"),
            ("192.168.1.1", "IP address"),
            ("10.0.0.300", "IP address"),
            ("::1", "IP address"),
        ] {
            let err = Hostname::parse(input).unwrap_err();
            assert_eq!(err.code(), "invalid_hostname");
            assert!(err.to_string().contains(expected), "{input}: {err}");
        }
        let long_label = format!("{}.example.com", "a".repeat(64));
        assert!(matches!(Hostname::parse(&long_label), Err(HostnameError::LabelTooLong { .. })));
        let long = ["a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(63)].join(".");
        assert!(matches!(Hostname::parse(&long), Err(HostnameError::TooLong { len: 255, .. })));
    }

    #[test]
    fn wildcard_san_covers_exactly_one_label() {
        let san = |s: &str| Hostname::parse(s).unwrap();
        assert!(san("*.mdhlabs.com").matches(&san("api.mdhlabs.com")));
        assert!(!san("*.mdhlabs.com").matches(&san("mdhlabs.com")));
        assert!(!san("*.mdhlabs.com").matches(&san("a.b.mdhlabs.com")));
        assert!(!san("*.mdhlabs.com").matches(&san("api.other.com")));
        assert!(san("*.mdhlabs.com").matches(&san("*.mdhlabs.com")));
        assert!(!san("api.mdhlabs.com").matches(&san("*.mdhlabs.com")));
        assert!(!san("*.com").matches(&san("example.com")), "no wildcard under a top-level domain");
        assert!(san("api.mdhlabs.com").matches(&san("API.mdhlabs.com")));
    }

    #[test]
    fn label_key_and_value() {
        let k = LabelKey::parse("gatehouse.io/advertise").unwrap();
        assert_eq!(k.prefix(), Some("gatehouse.io"));
        assert_eq!(k.name(), "advertise");
        assert_eq!(LabelKey::parse("app").unwrap().prefix(), None);
        assert!(LabelKey::parse("App_Name.v1").is_ok(), "names may use upper case, `_` and `.`");
        assert!(matches!(LabelKey::parse("a/b/c"), Err(LabelKeyError::TooManySlashes { .. })));
        assert!(matches!(LabelKey::parse("Gatehouse.io/x"), Err(LabelKeyError::InvalidPrefix { .. })));
        assert!(matches!(LabelKey::parse("gatehouse.io/"), Err(LabelKeyError::EmptyName { .. })));
        assert!(matches!(LabelKey::parse("_x"), Err(LabelKeyError::BadEdge { .. })));
        assert!(matches!(LabelKey::parse(&"x".repeat(64)), Err(LabelKeyError::NameTooLong { .. })));
        assert_eq!(LabelKey::parse("a b").unwrap_err().code(), "invalid_label_key");

        assert!(LabelValue::parse("").unwrap().is_empty());
        assert!(LabelValue::parse("dev").is_ok());
        assert!(matches!(LabelValue::parse("dev-"), Err(LabelValueError::BadEdge { .. })));
        assert!(matches!(LabelValue::parse("a/b"), Err(LabelValueError::InvalidChar { ch: '/', .. })));
        assert!(matches!(LabelValue::parse(&"v".repeat(64)), Err(LabelValueError::TooLong { .. })));

        let label: Label = serde_json::from_str(r#"{"key": "gatehouse.io/advertise", "value": "dev"}"#).unwrap();
        assert_eq!(label.to_string(), "gatehouse.io/advertise=dev");
        assert_eq!(serde_json::to_string(&label).unwrap(), r#"{"key":"gatehouse.io/advertise","value":"dev"}"#);
        assert!(serde_json::from_str::<Label>(r#"{"key": "bad key", "value": "dev"}"#).is_err());
    }

    #[test]
    fn port_is_1_to_65535() {
        assert_eq!(Port::parse("8080").map(Port::get), Ok(8080));
        assert!(matches!(Port::parse("0"), Err(PortError::OutOfRange { value: 0 })));
        assert!(matches!(Port::new(65_536), Err(PortError::OutOfRange { .. })));
        assert!(matches!(Port::new(-1), Err(PortError::OutOfRange { .. })));
        assert!(matches!(Port::parse("80a"), Err(PortError::NotANumber { .. })));
        assert!(matches!(Port::parse("99999999999999999999999"), Err(PortError::OutOfRange { .. })));
        assert_eq!(serde_json::to_string(&Port::new(443).unwrap()).unwrap(), "443");
        assert!(serde_json::from_str::<Port>("0").is_err());
        assert_eq!(serde_json::from_str::<Port>("8080").unwrap().get(), 8080);
    }

    #[test]
    fn asn_rejects_reserved_numbers_and_knows_private_ones() {
        for reserved in [0, 23_456, 65_535, 4_294_967_295] {
            let err = Asn::new(reserved).unwrap_err();
            assert_eq!(err.code(), "invalid_asn");
            assert!(err.to_string().contains("reserved"), "{err}");
        }
        assert!(matches!(Asn::new(4_294_967_296), Err(AsnError::OutOfRange { .. })));
        assert!(matches!(Asn::new(-5), Err(AsnError::OutOfRange { .. })));
        assert!(Asn::new(64_512).unwrap().is_private());
        assert!(Asn::new(65_534).unwrap().is_private());
        assert!(Asn::new(4_200_000_000).unwrap().is_private());
        assert!(!Asn::new(3320).unwrap().is_private());
        assert_eq!(Asn::parse("AS65001").map(Asn::get), Ok(65_001));
        assert!(matches!(Asn::parse("65.001"), Err(AsnError::NotANumber { .. })));
    }

    #[test]
    fn image_refs_follow_the_docker_grammar() {
        let img = ImageRef::parse("registry.example/cd-service:1.4.2").unwrap();
        assert_eq!(img.registry(), Some("registry.example"));
        assert_eq!(img.repository(), "cd-service");
        assert_eq!(img.tag(), Some("1.4.2"));
        assert_eq!(img.digest(), None);
        let digest = format!("sha256:{}", "a".repeat(64));
        let img = ImageRef::parse(&format!("localhost:5000/team/api_v2@{digest}")).unwrap();
        assert_eq!(img.registry(), Some("localhost:5000"));
        assert_eq!(img.repository(), "team/api_v2");
        assert_eq!(img.digest(), Some(digest.as_str()));
        let img = ImageRef::parse("nginx").unwrap();
        assert_eq!((img.registry(), img.repository(), img.tag()), (None, "nginx", None));
        assert!(ImageRef::parse(&format!("[fd00::1]:5000/a/b:c@{digest}")).is_ok());
        assert!(ImageRef::parse("a__b/c---d").is_ok());

        let upper = ImageRef::parse("registry.example/CD-Service:1.4.2").unwrap_err();
        assert!(upper.to_string().contains("registry.example/cd-service:1.4.2"), "{upper}");
        assert!(matches!(ImageRef::parse("a/.b"), Err(ImageRefError::InvalidPath { .. })));
        assert!(matches!(ImageRef::parse("a/b___c"), Err(ImageRefError::InvalidPath { .. })));
        assert!(matches!(ImageRef::parse("api:-x"), Err(ImageRefError::InvalidTag { .. })));
        assert!(matches!(ImageRef::parse("api:"), Err(ImageRefError::InvalidTag { .. })));
        assert!(matches!(ImageRef::parse("api@sha256:abc"), Err(ImageRefError::InvalidDigest { .. })));
        assert!(matches!(ImageRef::parse("bad_host.io:x/api"), Err(ImageRefError::InvalidRegistry { .. })));
        assert_eq!(ImageRef::parse("").unwrap_err().code(), "required");
    }

    #[test]
    fn http_paths_and_config_keys() {
        assert!(HttpPath::parse("/actuator/health/readiness").is_ok());
        let err = HttpPath::parse("health").unwrap_err();
        assert!(err.to_string().contains("`/health`"), "{err}");
        assert!(matches!(HttpPath::parse("/a b"), Err(HttpPathError::InvalidChar { .. })));
        assert!(matches!(HttpPath::parse("/a?b"), Err(HttpPathError::InvalidChar { ch: '?', .. })));
        assert!(ConfigKey::parse("SPRING_PROFILES_ACTIVE").is_ok());
        assert!(ConfigKey::parse("application.properties").is_ok());
        assert!(matches!(ConfigKey::parse("A B"), Err(ConfigKeyError::InvalidChar { .. })));
        assert!(matches!(ConfigKey::parse(".."), Err(ConfigKeyError::DotName { .. })));
        assert!(matches!(ConfigKey::parse(&"k".repeat(254)), Err(ConfigKeyError::TooLong { .. })));
    }

    #[test]
    fn serde_goes_through_the_parser() {
        let h: Hostname = serde_json::from_str(r#""API.example.com""#).unwrap();
        assert_eq!(serde_json::to_string(&h).unwrap(), r#""api.example.com""#);
        let err = serde_json::from_str::<K8sName>(r#""Bad_Name""#).unwrap_err();
        assert!(err.to_string().contains("Kubernetes name"), "{err}");
        let img: ImageRef = serde_json::from_str(r#""registry.example/cd-service:1.4.2""#).unwrap();
        assert_eq!(serde_json::to_string(&img).unwrap(), r#""registry.example/cd-service:1.4.2""#);
        assert!(serde_json::from_str::<Asn>("23456").is_err());
    }

    /// Round trip parse → Display → parse for anything that parses; never a panic.
    macro_rules! round_trip {
        ($name:ident, $t:ty, $valid:expr) => {
            proptest! {
                #[test]
                fn $name(garbage in any::<String>(), valid in $valid) {
                    for input in [garbage.as_str(), valid.as_str()] {
                        if let Ok(v) = <$t>::from_str(input) {
                            let again = <$t>::from_str(&v.to_string());
                            prop_assert_eq!(again.as_ref(), Ok(&v), "{:?}", input);
                        }
                    }
                }
            }
        };
    }

    round_trip!(k8s_name_round_trip, K8sName, "[a-zA-Z0-9_-]{0,70}");
    round_trip!(environment_name_round_trip, EnvironmentName, "[a-z0-9-]{0,65}");
    round_trip!(k8s_subdomain_round_trip, K8sSubdomain, "[a-z0-9.-]{0,70}");
    round_trip!(hostname_round_trip, Hostname, "(\\*\\.)?([a-zA-Z0-9-]{1,10}\\.){0,4}[a-zA-Z0-9-]{1,10}\\.?");
    round_trip!(label_key_round_trip, LabelKey, "([a-z0-9.-]{1,20}/)?[a-zA-Z0-9._-]{0,65}");
    round_trip!(label_value_round_trip, LabelValue, "[a-zA-Z0-9._-]{0,65}");
    round_trip!(port_round_trip, Port, "[0-9]{1,6}");
    round_trip!(asn_round_trip, Asn, "(AS)?[0-9]{1,11}");
    round_trip!(
        image_round_trip,
        ImageRef,
        "([a-z0-9.-]{1,12}(:[0-9]{1,5})?/)?[a-zA-Z0-9._/-]{1,20}(:[a-zA-Z0-9._-]{1,10})?(@sha256:[0-9a-f]{64})?"
    );
    round_trip!(http_path_round_trip, HttpPath, "/?[a-z0-9/ ?#._-]{0,30}");
    round_trip!(config_key_round_trip, ConfigKey, "[a-zA-Z0-9._ -]{0,30}");

    proptest! {
        #[test]
        fn valid_dns_labels_always_parse(name in "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?") {
            prop_assert!(K8sName::parse(&name).is_ok());
            prop_assert!(EnvironmentName::parse(&name).is_ok());
            prop_assert!(K8sSubdomain::parse(&name).is_ok());
        }

        #[test]
        fn valid_ports_and_asns_parse(port in 1u16.., asn in 1u32..4_294_967_295) {
            prop_assert_eq!(Port::parse(&port.to_string()).map(Port::get), Ok(port));
            let reserved = matches!(asn, 23_456 | 65_535);
            prop_assert_eq!(Asn::new(i64::from(asn)).is_ok(), !reserved);
        }
    }
}
