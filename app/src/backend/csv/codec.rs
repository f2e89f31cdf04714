//! The CSV text: records with the line each starts on, the header that maps them onto
//! [`COLUMNS`], and the writer of the exports, with the formula neutralisation both ways.
use super::{COLUMNS, LineError, Malformed, REQUIRED_COLUMNS, malformed};

/// One record and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    pub(super) line: usize,
    pub(super) fields: Vec<String>,
}

/// Whether the reader stands at the end of a field: a comma, a line end (LF or CRLF) or the
/// end of the text.
pub(super) fn at_field_end(chars: &std::iter::Peekable<std::str::Chars<'_>>) -> bool {
    let mut ahead = chars.clone();
    match ahead.next() {
        None | Some(',' | '\n') => true,
        Some('\r') => ahead.next() == Some('\n'),
        Some(_) => false,
    }
}

/// Splits RFC 4180 text into records. Lines may end with CRLF or LF (a CRLF inside a quoted
/// field is read as LF); blank lines are skipped.
pub(super) fn read_records(text: &str) -> Result<Vec<Record>, Malformed> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut quoted = false;
        loop {
            let mut field = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                quoted = true;
                let opened = line;
                loop {
                    match chars.next() {
                        None => {
                            return Err(malformed(
                                Some(opened),
                                "unclosed_quote",
                                format!(
                                    "the quoted field that starts on line {opened} is never closed; end it with \""
                                ),
                            ));
                        }
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some('\r') if chars.peek() == Some(&'\n') => {
                            chars.next();
                            field.push('\n');
                            line += 1;
                        }
                        Some('\n') => {
                            field.push('\n');
                            line += 1;
                        }
                        Some(ch) => field.push(ch),
                    }
                }
                if !at_field_end(&chars) {
                    return Err(malformed(
                        Some(line),
                        "text_after_quote",
                        format!(
                            "line {line} has text after the closing quote of a field; put the whole field in quotes \
                             and write a quote inside it as \"\""
                        ),
                    ));
                }
            } else {
                while !at_field_end(&chars) {
                    match chars.next() {
                        Some('"') => {
                            return Err(malformed(
                                Some(line),
                                "stray_quote",
                                format!(
                                    "line {line} has a quote inside an unquoted field; put the whole field in quotes \
                                     and write a quote inside it as \"\""
                                ),
                            ));
                        }
                        Some(ch) => field.push(ch),
                        None => break,
                    }
                }
            }
            fields.push(unneutralised(field));
            match chars.next() {
                Some(',') => {}
                Some('\r') => {
                    chars.next();
                    line += 1;
                    break;
                }
                Some('\n') => {
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        let blank = !quoted && fields.len() == 1 && fields[0].trim().is_empty();
        if !blank {
            records.push(Record { line: start, fields });
        }
    }
    Ok(records)
}

/// Characters that make a spreadsheet read a cell as a formula (or, for tab and CR, shift it
/// into one); a cell starting with one is written with a leading `'`, which spreadsheets
/// show as text. The reader drops that `'` again, so an exported file imports unchanged.
pub(super) const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

pub(super) fn neutralised(field: &str) -> std::borrow::Cow<'_, str> {
    if field.starts_with(FORMULA_STARTS) { format!("'{field}").into() } else { field.into() }
}

pub(super) fn unneutralised(field: String) -> String {
    match field.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest.to_owned(),
        _ => field,
    }
}

pub(super) fn push_field(out: &mut String, field: &str) {
    let field = &*neutralised(field);
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

pub(crate) fn push_record(out: &mut String, fields: &[&str]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, field);
    }
    out.push_str("\r\n");
}

// =============================================================================================
// Reading a file into lines

/// A data line with its values by column ([`COLUMNS`] order; absent columns are empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Values {
    pub(super) line: usize,
    pub(super) values: [String; 8],
}

impl Values {
    pub(super) fn get(&self, column: usize) -> &str {
        self.values[column].trim()
    }
}

/// The data lines of a file, and the lines that could not be split into its columns.
pub(super) fn read_file(body: &[u8]) -> Result<(Vec<Values>, Vec<LineError>), Malformed> {
    let text = std::str::from_utf8(body).map_err(|error| {
        let line = body[..error.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        malformed(Some(line), "not_utf8", format!("line {line} is not UTF-8 text; save the file as UTF-8"))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = read_records(text)?.into_iter();
    let expected = COLUMNS.join(",");
    let header = records.next().ok_or_else(|| {
        malformed(None, "empty_file", format!("the file is empty; its first line must be the header {expected}"))
    })?;
    let mut positions: Vec<usize> = Vec::with_capacity(header.fields.len());
    for name in &header.fields {
        let name = name.trim().to_ascii_lowercase();
        let Some(column) = COLUMNS.iter().position(|c| *c == name) else {
            return Err(malformed(
                Some(header.line),
                "unknown_column",
                format!("the header names an unknown column `{name}`; the first line must be the header {expected}"),
            ));
        };
        if positions.contains(&column) {
            return Err(malformed(
                Some(header.line),
                "duplicate_column",
                format!("the header names the column `{name}` twice; name each column once"),
            ));
        }
        positions.push(column);
    }
    for required in REQUIRED_COLUMNS {
        if !header.fields.iter().any(|name| name.trim().eq_ignore_ascii_case(required)) {
            return Err(malformed(
                Some(header.line),
                "missing_column",
                format!("the header has no `{required}` column; the first line must be the header {expected}"),
            ));
        }
    }
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for record in records {
        if record.fields.len() != positions.len() {
            errors.push(LineError::new(
                record.line,
                None,
                "wrong_field_count",
                format!(
                    "line {} has {} field(s) but the header has {}; quote a value that contains a comma",
                    record.line,
                    record.fields.len(),
                    positions.len()
                ),
            ));
            continue;
        }
        let mut values: [String; 8] = Default::default();
        for (field, &column) in record.fields.into_iter().zip(&positions) {
            values[column] = field;
        }
        lines.push(Values { line: record.line, values });
    }
    Ok((lines, errors))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "in tests a failed parse is a failed test")]
mod tests {
    use super::*;
    use crate::backend::csv::{BLOCK, POOL};

    fn fields(text: &str) -> Vec<(usize, Vec<String>)> {
        read_records(text).unwrap().into_iter().map(|r| (r.line, r.fields)).collect()
    }

    #[test]
    fn records_follow_rfc_4180() {
        let text = "a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\r\nlines\"\r\n\r\nlast,,\n";
        assert_eq!(
            fields(text),
            vec![
                (1, vec!["a".into(), "b".into(), "c".into()]),
                (2, vec!["x, y".into(), "say \"hi\"".into(), "two\nlines".into()]),
                (5, vec!["last".into(), String::new(), String::new()]),
            ]
        );
        assert_eq!(fields("a,b"), vec![(1, vec!["a".into(), "b".into()])]);
        assert_eq!(read_records("a,\"open\n").unwrap_err().code, "unclosed_quote");
        assert_eq!(read_records("a,\"x\"y\n").unwrap_err().code, "text_after_quote");
        assert_eq!(read_records("a\nb,x\"y\n").unwrap_err().line, Some(2));
    }

    #[test]
    fn written_fields_read_back() {
        let values = ["plain", "with, comma", "with \"quotes\"", "two\nlines", ""];
        let mut out = String::new();
        push_record(&mut out, &values);
        assert_eq!(out, "plain,\"with, comma\",\"with \"\"quotes\"\"\",\"two\nlines\",\r\n");
        assert_eq!(fields(&out), vec![(1, values.iter().map(|v| (*v).to_owned()).collect())]);
    }

    #[test]
    fn cells_a_spreadsheet_would_run_are_written_as_text_and_read_back() {
        let values = ["=1+2", "+1", "-2", "@SUM(A1)", "\tx", "a=b", "'plain"];
        let mut out = String::new();
        push_record(&mut out, &values);
        assert_eq!(out, "'=1+2,'+1,'-2,'@SUM(A1),'\tx,a=b,'plain\r\n");
        assert_eq!(fields(&out), vec![(1, values.iter().map(|v| (*v).to_owned()).collect())]);
        let mut carriage_return = String::new();
        push_field(&mut carriage_return, "\rx");
        assert_eq!(carriage_return, "\"'\rx\"");
    }

    #[test]
    fn the_header_is_checked() {
        let code = |text: &str| read_file(text.as_bytes()).unwrap_err().code;
        assert_eq!(code(""), "empty_file");
        assert_eq!(code("kind,environment,pool,colour\n"), "unknown_column");
        assert_eq!(code("kind,environment,pool,pool\n"), "duplicate_column");
        assert_eq!(code("kind,environment,block\n"), "missing_column");
        assert_eq!(read_file(b"kind,\xff\n").unwrap_err().code, "not_utf8");
        // Any order, optional columns left out, a byte-order mark.
        let text = "\u{feff}Pool,kind,environment,block\ndev-vips,pool,dev,10.0.0.0/28\nx\n";
        let (lines, errors) = read_file(text.as_bytes()).unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!((lines[0].get(POOL), lines[0].get(BLOCK)), ("dev-vips", "10.0.0.0/28"));
        assert_eq!((errors[0].line, errors[0].code.as_str()), (3, "wrong_field_count"));
    }
}
