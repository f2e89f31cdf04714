//! The part of CEL (the Common Expression Language, github.com/google/cel-spec) that
//! Gatehouse's ValidatingAdmissionPolicy uses, for the simulated cluster's admission.
//!
//! Supported: `null`, `true`, `false`, integers, strings (`'…'` or `"…"`, with `\\`, `\'`,
//! `\"` and `\n` escapes), lists `[a, b]`, the variables a policy declares, field selection
//! `a.b`, indexing `a['k']` and `a[0]`, the `has(a.b)` macro, the string methods
//! `startsWith`, `endsWith` and `contains`, `!`, `==`, `!=`, `in`, `&&`, `||`, `c ? a : b` and
//! parentheses. Anything else is refused when the expression is compiled, naming what is
//! missing — so a policy that grows past this subset fails its tests instead of passing
//! untested.
//!
//! Semantics as the spec has them: selecting a field or key that is absent is an error (`no
//! such key`), which `has()` avoids; `&&` and `||` are commutative and absorb errors (`false
//! && error` is `false`, `true || error` is `true`, otherwise the error stands); `==` between
//! values of different types is `false`; `!`, `&&`, `||` and `?:` take booleans only.
//! Values are JSON, as the API server's unstructured objects are.
use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Value),
    Ident(String),
    Select(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    /// `has(e.field)`.
    Has(Box<Expr>, String),
    /// `e.startsWith(x)` and its kin.
    Method(Box<Expr>, String, Vec<Expr>),
    List(Vec<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Equal(Box<Expr>, Box<Expr>),
    NotEqual(Box<Expr>, Box<Expr>),
    In(Box<Expr>, Box<Expr>),
    Conditional(Box<Expr>, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Int(i64),
    Punct(&'static str),
}

const PUNCTUATION: &[&str] = &["==", "!=", "&&", "||", "<=", ">=", "(", ")", "[", "]", "{", "}", ".", ",", "!", "?", ":", "<", ">", "+", "-", "*", "/", "%"];

fn tokens(source: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            let quote = c;
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("a string is not closed".to_owned()),
                    Some(&c) if c == quote => break,
                    Some('\\') => {
                        let escaped = match chars.get(i + 1) {
                            Some('\\') => '\\',
                            Some('\'') => '\'',
                            Some('"') => '"',
                            Some('n') => '\n',
                            other => return Err(format!("the escape \\{} is not simulated", other.map(char::to_string).unwrap_or_default())),
                        };
                        text.push(escaped);
                        i += 2;
                        continue;
                    }
                    Some(&c) => text.push(c),
                }
                i += 1;
            }
            i += 1;
            tokens.push(Token::Str(text));
        } else if c.is_ascii_digit() {
            let start = i;
            while chars.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            tokens.push(Token::Int(digits.parse().map_err(|_| format!("the integer {digits} is too large"))?));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while chars.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let Some(punct) = PUNCTUATION.iter().find(|p| rest.starts_with(**p)) else {
                return Err(format!("unexpected character {c:?}"));
            };
            tokens.push(Token::Punct(punct));
            i += punct.len();
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    /// The identifiers the environment declares (CEL refuses others when it compiles).
    declared: &'a [&'a str],
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn eat(&mut self, punct: &str) -> bool {
        if self.peek() == Some(&Token::Punct(PUNCTUATION.iter().find(|p| **p == punct).copied().unwrap_or(""))) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, punct: &str) -> Result<(), String> {
        if self.eat(punct) { Ok(()) } else { Err(format!("expected {punct:?}, found {}", self.found())) }
    }

    fn found(&self) -> String {
        match self.peek() {
            None => "the end".to_owned(),
            Some(Token::Ident(name)) => name.clone(),
            Some(Token::Str(text)) => format!("'{text}'"),
            Some(Token::Int(n)) => n.to_string(),
            Some(Token::Punct(p)) => (*p).to_owned(),
        }
    }

    fn expression(&mut self) -> Result<Expr, String> {
        let condition = self.or()?;
        if self.eat("?") {
            let then = self.or()?;
            self.expect(":")?;
            let otherwise = self.expression()?;
            return Ok(Expr::Conditional(Box::new(condition), Box::new(then), Box::new(otherwise)));
        }
        Ok(condition)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.eat("||") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.relation()?;
        while self.eat("&&") {
            left = Expr::And(Box::new(left), Box::new(self.relation()?));
        }
        Ok(left)
    }

    fn relation(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            if self.eat("==") {
                left = Expr::Equal(Box::new(left), Box::new(self.unary()?));
            } else if self.eat("!=") {
                left = Expr::NotEqual(Box::new(left), Box::new(self.unary()?));
            } else if self.peek() == Some(&Token::Ident("in".to_owned())) {
                self.at += 1;
                left = Expr::In(Box::new(left), Box::new(self.unary()?));
            } else if let Some(Token::Punct(p @ ("<" | "<=" | ">" | ">=" | "+" | "-" | "*" | "/" | "%"))) = self.peek() {
                return Err(format!("the operator {p} is not simulated"));
            } else {
                return Ok(left);
            }
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("!") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.eat("-") {
            return Err("negation is not simulated".to_owned());
        }
        self.member()
    }

    fn member(&mut self) -> Result<Expr, String> {
        let mut expression = self.primary()?;
        loop {
            if self.eat(".") {
                let Some(Token::Ident(field)) = self.peek().cloned() else {
                    return Err(format!("expected a field name after '.', found {}", self.found()));
                };
                self.at += 1;
                if self.eat("(") {
                    if !["startsWith", "endsWith", "contains"].contains(&field.as_str()) {
                        return Err(format!("the method {field}() is not simulated"));
                    }
                    let arguments = self.arguments()?;
                    if arguments.len() != 1 {
                        return Err(format!("{field}() takes one argument"));
                    }
                    expression = Expr::Method(Box::new(expression), field, arguments);
                } else {
                    expression = Expr::Select(Box::new(expression), field);
                }
            } else if self.eat("[") {
                let index = self.expression()?;
                self.expect("]")?;
                expression = Expr::Index(Box::new(expression), Box::new(index));
            } else {
                return Ok(expression);
            }
        }
    }

    fn arguments(&mut self) -> Result<Vec<Expr>, String> {
        let mut arguments = Vec::new();
        if self.eat(")") {
            return Ok(arguments);
        }
        loop {
            arguments.push(self.expression()?);
            if self.eat(")") {
                return Ok(arguments);
            }
            self.expect(",")?;
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let Some(token) = self.peek().cloned() else { return Err("the expression ends too early".to_owned()) };
        self.at += 1;
        match token {
            Token::Str(text) => Ok(Expr::Literal(Value::String(text))),
            Token::Int(n) => Ok(Expr::Literal(Value::from(n))),
            Token::Punct("(") => {
                let inner = self.expression()?;
                self.expect(")")?;
                Ok(inner)
            }
            Token::Punct("[") => {
                let mut items = Vec::new();
                if !self.eat("]") {
                    loop {
                        items.push(self.expression()?);
                        if self.eat("]") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Ok(Expr::List(items))
            }
            Token::Ident(name) => match name.as_str() {
                "true" => Ok(Expr::Literal(Value::Bool(true))),
                "false" => Ok(Expr::Literal(Value::Bool(false))),
                "null" => Ok(Expr::Literal(Value::Null)),
                "has" => {
                    self.expect("(")?;
                    let argument = self.expression()?;
                    self.expect(")")?;
                    match argument {
                        Expr::Select(operand, field) => Ok(Expr::Has(operand, field)),
                        _ => Err("has() takes a field selection, such as has(object.metadata.labels)".to_owned()),
                    }
                }
                _ if self.peek() == Some(&Token::Punct("(")) => Err(format!("the function {name}() is not simulated")),
                _ if self.declared.contains(&name.as_str()) => Ok(Expr::Ident(name)),
                _ => Err(format!("undeclared reference to '{name}'")),
            },
            Token::Punct(p) => Err(format!("unexpected {p}")),
        }
    }
}

/// Compiles `source` in an environment that declares `declared`.
pub fn compile(source: &str, declared: &[&str]) -> Result<Expr, String> {
    let mut parser = Parser { tokens: tokens(source)?, at: 0, declared };
    let expression = parser.expression()?;
    if parser.at != parser.tokens.len() {
        return Err(format!("unexpected {} after the expression", parser.found()));
    }
    Ok(expression)
}

/// What an expression is evaluated against: its variables' values, and the policy's
/// composited `variables`, each already evaluated (an error is kept, and raised only where
/// the variable is used, as lazily evaluated variables do).
#[derive(Debug, Default)]
pub struct Activation {
    pub values: BTreeMap<String, Value>,
    pub variables: BTreeMap<String, Result<Value, String>>,
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null_type",
        Value::Bool(_) => "bool",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

fn no_overload(operator: &str, values: &[&Value]) -> String {
    let types: Vec<&str> = values.iter().map(|v| type_name(v)).collect();
    format!("no such overload: {operator}({})", types.join(", "))
}

impl Expr {
    pub fn evaluate(&self, activation: &Activation) -> Result<Value, String> {
        match self {
            Expr::Literal(value) => Ok(value.clone()),
            Expr::Ident(name) => activation.values.get(name).cloned().ok_or_else(|| format!("no such attribute: {name}")),
            Expr::Select(operand, field) => {
                if let Expr::Ident(name) = operand.as_ref()
                    && name == "variables"
                {
                    return activation.variables.get(field).cloned().unwrap_or_else(|| Err(format!("no such variable: {field}")));
                }
                match operand.evaluate(activation)? {
                    Value::Object(map) => map.get(field).cloned().ok_or_else(|| format!("no such key: {field}")),
                    other => Err(format!("type '{}' does not support field selection", type_name(&other))),
                }
            }
            Expr::Index(operand, index) => {
                let (operand, index) = (operand.evaluate(activation)?, index.evaluate(activation)?);
                match (&operand, &index) {
                    (Value::Object(map), Value::String(key)) => map.get(key).cloned().ok_or_else(|| format!("no such key: {key}")),
                    (Value::Array(items), Value::Number(n)) => n
                        .as_u64()
                        .and_then(|i| items.get(usize::try_from(i).ok()?))
                        .cloned()
                        .ok_or_else(|| format!("index out of bounds: {n}")),
                    _ => Err(no_overload("_[_]", &[&operand, &index])),
                }
            }
            Expr::Has(operand, field) => match operand.evaluate(activation)? {
                Value::Object(map) => Ok(Value::Bool(map.get(field).is_some_and(|value| !value.is_null()))),
                other => Err(format!("invalid type for field selection: {}", type_name(&other))),
            },
            Expr::Method(receiver, method, arguments) => {
                let receiver = receiver.evaluate(activation)?;
                let argument = arguments.first().map(|a| a.evaluate(activation)).transpose()?.unwrap_or(Value::Null);
                match (&receiver, &argument) {
                    (Value::String(text), Value::String(part)) => Ok(Value::Bool(match method.as_str() {
                        "startsWith" => text.starts_with(part.as_str()),
                        "endsWith" => text.ends_with(part.as_str()),
                        _ => text.contains(part.as_str()),
                    })),
                    _ => Err(no_overload(method, &[&receiver, &argument])),
                }
            }
            Expr::List(items) => Ok(Value::Array(items.iter().map(|item| item.evaluate(activation)).collect::<Result<_, _>>()?)),
            Expr::Not(operand) => match operand.evaluate(activation)? {
                Value::Bool(b) => Ok(Value::Bool(!b)),
                other => Err(no_overload("!_", &[&other])),
            },
            Expr::And(left, right) => logical(left.evaluate(activation), right.evaluate(activation), false),
            Expr::Or(left, right) => logical(left.evaluate(activation), right.evaluate(activation), true),
            Expr::Equal(left, right) => Ok(Value::Bool(left.evaluate(activation)? == right.evaluate(activation)?)),
            Expr::NotEqual(left, right) => Ok(Value::Bool(left.evaluate(activation)? != right.evaluate(activation)?)),
            Expr::In(item, collection) => {
                let (item, collection) = (item.evaluate(activation)?, collection.evaluate(activation)?);
                match (&item, &collection) {
                    (_, Value::Array(items)) => Ok(Value::Bool(items.contains(&item))),
                    (Value::String(key), Value::Object(map)) => Ok(Value::Bool(map.contains_key(key))),
                    _ => Err(no_overload("@in", &[&item, &collection])),
                }
            }
            Expr::Conditional(condition, then, otherwise) => match condition.evaluate(activation)? {
                Value::Bool(true) => then.evaluate(activation),
                Value::Bool(false) => otherwise.evaluate(activation),
                other => Err(no_overload("_?_:_", &[&other])),
            },
        }
    }
}

/// `&&` (`absorbing` false) and `||` (`absorbing` true): the absorbing value wins over an
/// error on either side; otherwise both sides must be booleans.
fn logical(left: Result<Value, String>, right: Result<Value, String>, absorbing: bool) -> Result<Value, String> {
    if matches!(left, Ok(Value::Bool(b)) if b == absorbing) || matches!(right, Ok(Value::Bool(b)) if b == absorbing) {
        return Ok(Value::Bool(absorbing));
    }
    let operator = if absorbing { "_||_" } else { "_&&_" };
    match (left?, right?) {
        (Value::Bool(_), Value::Bool(_)) => Ok(Value::Bool(!absorbing)),
        (left, right) => Err(no_overload(operator, &[&left, &right])),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const DECLARED: &[&str] = &["object", "oldObject", "request", "variables"];

    fn run(source: &str, object: Value) -> Result<Value, String> {
        let activation = Activation {
            values: BTreeMap::from([
                ("object".to_owned(), object),
                ("oldObject".to_owned(), Value::Null),
                ("request".to_owned(), json!({"operation": "CREATE", "userInfo": {"username": "system:serviceaccount:gatehouse:gatehouse"}})),
            ]),
            variables: BTreeMap::from([("broken".to_owned(), Err("no such key: x".to_owned()))]),
        };
        compile(source, DECLARED)?.evaluate(&activation)
    }

    #[test]
    fn labels_are_read_with_has_in_and_index() {
        let labelled = json!({"metadata": {"labels": {"app.kubernetes.io/managed-by": "gatehouse"}}});
        let source = "has(object.metadata.labels) && 'app.kubernetes.io/managed-by' in object.metadata.labels && object.metadata.labels['app.kubernetes.io/managed-by'] == 'gatehouse'";
        assert_eq!(run(source, labelled), Ok(json!(true)));
        assert_eq!(run(source, json!({"metadata": {}})), Ok(json!(false)), "has() guards the absent map");
        assert_eq!(run(source, json!({"metadata": {"labels": {}}})), Ok(json!(false)));
        assert_eq!(run("object.metadata.labels['a'] == 'b'", json!({"metadata": {}})), Err("no such key: labels".to_owned()));
    }

    #[test]
    fn and_and_or_absorb_errors_as_cel_does() {
        assert_eq!(run("false && object.missing", json!({})), Ok(json!(false)));
        assert_eq!(run("object.missing && false", json!({})), Ok(json!(false)), "commutative");
        assert_eq!(run("object.missing || true", json!({})), Ok(json!(true)));
        assert_eq!(run("true && object.missing", json!({})), Err("no such key: missing".to_owned()));
        assert_eq!(run("variables.broken || false", json!({})), Err("no such key: x".to_owned()));
        assert_eq!(run("variables.broken || true", json!({})), Ok(json!(true)), "a variable's error is raised only where needed");
        assert!(run("1 && true", json!({})).is_err_and(|e| e.starts_with("no such overload")));
    }

    #[test]
    fn comparisons_lists_strings_and_conditionals() {
        assert_eq!(run("request.operation in ['CREATE', 'UPDATE']", json!({})), Ok(json!(true)));
        assert_eq!(run("request.operation != 'DELETE' ? 1 : 2", json!({})), Ok(json!(1)));
        assert_eq!(run("oldObject == null", json!({})), Ok(json!(true)));
        assert_eq!(run("object == null", json!({"a": 1})), Ok(json!(false)), "different types are unequal");
        assert_eq!(run("request.userInfo.username.startsWith(\"system:serviceaccount:\")", json!({})), Ok(json!(true)));
        assert_eq!(run("!(object.spec == object.spec)", json!({"spec": {"a": [1, 2]}})), Ok(json!(false)));
    }

    #[test]
    fn what_is_not_simulated_is_refused_when_compiled() {
        assert_eq!(compile("size(object) > 1", DECLARED), Err("the function size() is not simulated".to_owned()));
        assert_eq!(compile("object.spec.replicas > 1", DECLARED), Err("the operator > is not simulated".to_owned()));
        assert_eq!(compile("object.items.all(i, i)", DECLARED), Err("the method all() is not simulated".to_owned()));
        assert_eq!(compile("params.x", DECLARED), Err("undeclared reference to 'params'".to_owned()));
        assert_eq!(compile("has(object)", DECLARED), Err("has() takes a field selection, such as has(object.metadata.labels)".to_owned()));
        assert!(compile("object.a ==", DECLARED).is_err());
        assert!(compile("'open", DECLARED).is_err());
    }
}
