//! The CSV text: records with the line each starts on, the header that maps them onto
//! [`COLUMNS`], and the writer of the exports, with the formula neutralisation both ways.
use super::{COLUMNS, LineError, Malformed, REQUIRED_COLUMNS, malformed};
use crate::db::DbError;

/// One record and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    pub(super) line: usize,
    pub(super) fields: Vec<String>,
}

/// Read after the file: a record of its own, unless a quoted field of the file is never
/// closed and takes it in. The reader accepts such a field at the end of its input, so this
/// is how an unclosed quote is told from a last field that is quoted properly.
const END: &str = "\nend";

/// Splits RFC 4180 text into records (with the `csv` crate). Lines may end with CRLF or LF;
/// a CRLF inside a quoted field is read as LF; blank lines are skipped. The reader is lenient
/// about quotes inside a field: a quote in an unquoted field is kept, and text after a
/// closing quote is joined to the field.
pub(super) fn read_records(text: &str) -> Result<Vec<Record>, Malformed> {
    let input = format!("{text}{END}");
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(input.as_bytes());
    let mut records = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => {
                let line = error.position().map(|position| start_of(&input, position).1);
                return Err(malformed(line, "unreadable", format!("the file cannot be read as CSV: {error}")));
            }
        }
        let Some(position) = record.position() else { continue };
        let (start, line) = start_of(&input, position);
        if start == text.len() + 1 {
            return Ok(records);
        }
        let fields: Vec<String> = record.iter().map(|field| unneutralised(field.replace("\r\n", "\n"))).collect();
        if !(fields.len() == 1 && fields[0].trim().is_empty()) {
            records.push(Record { line, fields });
        }
    }
    let line = records.last().map(|record| record.line);
    let at = line.map_or_else(String::new, |line| format!(" on line {line}"));
    Err(malformed(
        line,
        "unclosed_quote",
        format!("a quoted field of the record{at} is never closed; end it with \""),
    ))
}

/// The byte and line where a record starts. The reader's position is where it stood when it
/// began the record, which is before the line ends it skipped on the way (the LF of a CRLF,
/// blank lines).
fn start_of(input: &str, position: &csv::Position) -> (usize, usize) {
    let from = usize::try_from(position.byte()).unwrap_or(usize::MAX).min(input.len());
    let skipped = &input.as_bytes()[from..];
    let skipped = &skipped[..skipped.iter().take_while(|&&b| b == b'\r' || b == b'\n').count()];
    let newlines = skipped.iter().filter(|&&b| b == b'\n').count();
    let line = usize::try_from(position.line()).unwrap_or(usize::MAX).saturating_add(newlines);
    (from + skipped.len(), line)
}

/// Characters that make a spreadsheet read a cell as a formula (or, for tab and CR, shift it
/// into one); a cell starting with one is written with a leading `'`, which spreadsheets
/// show as text. The reader drops that `'` again, so an exported file imports unchanged.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn neutralised(field: &str) -> std::borrow::Cow<'_, str> {
    if field.starts_with(FORMULA_STARTS) { format!("'{field}").into() } else { field.into() }
}

fn unneutralised(field: String) -> String {
    match field.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest.to_owned(),
        _ => field,
    }
}

/// Writes RFC 4180 text (with the `csv` crate): records end with CRLF, a field is quoted when
/// it holds a comma, a quote or a line end, and every cell is neutralised.
pub(crate) struct Writer(csv::Writer<Vec<u8>>);

impl Writer {
    pub(crate) fn new() -> Writer {
        Writer(csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new()))
    }

    pub(crate) fn record(&mut self, fields: &[&str]) -> Result<(), DbError> {
        self.0.write_record(fields.iter().map(|field| neutralised(field)).map(|field| field.into_owned())).map_err(unwritten)
    }

    /// The text written.
    pub(crate) fn finish(self) -> Result<String, DbError> {
        let bytes = self.0.into_inner().map_err(|error| unwritten(error.into_error()))?;
        String::from_utf8(bytes).map_err(unwritten)
    }
}

/// Writing into memory does not fail; should it, the export is a logged 500.
fn unwritten(error: impl std::fmt::Display) -> DbError {
    DbError::Internal(format!("writing CSV: {error}"))
}

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
                    "line {} has {} but the header has {}; quote a value that contains a comma",
                    record.line,
                    domain::counted(record.fields.len(), "field"),
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
    use crate::csv::{BLOCK, POOL, REASON};

    fn fields(text: &str) -> Vec<(usize, Vec<String>)> {
        read_records(text).unwrap().into_iter().map(|r| (r.line, r.fields)).collect()
    }

    fn written(records: &[&[&str]]) -> String {
        let mut out = Writer::new();
        for record in records {
            out.record(record).unwrap();
        }
        out.finish().unwrap()
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
        assert_eq!(fields("\n\r\n  \n\"a\",b\n"), vec![(4, vec!["a".into(), "b".into()])]);
        // Lenient about quotes inside a field, as the `csv` crate reads them.
        assert_eq!(fields("\"x\"y,b\"c\n"), vec![(1, vec!["xy".into(), "b\"c".into()])]);
    }

    #[test]
    fn a_quoted_field_never_closed_is_reported_on_its_records_line() {
        let cases = [("a,\"open\n", 1), ("a\r\nb,\"open\r\nmore,lines\r\n", 2), ("a\n\"", 2), ("a\n\n\"x\"\"\n", 3)];
        for (text, line) in cases {
            let error = read_records(text).unwrap_err();
            assert_eq!((error.code, error.line), ("unclosed_quote", Some(line)), "{text:?}");
        }
        // Closed at the very end of the file, with or without a line end after it.
        assert_eq!(fields("a,\"closed\""), vec![(1, vec!["a".into(), "closed".into()])]);
        assert_eq!(fields("a,\"closed\"\r\n"), vec![(1, vec!["a".into(), "closed".into()])]);
    }

    #[test]
    fn a_record_is_numbered_by_the_line_it_starts_on() {
        // The third record's quoted field holds a comma and a line end: it starts on line 3,
        // the record after it on line 5 (record number 4).
        let text = "kind,reason\r\npool,\r\nreservation,\"uplink,\r\nsecond line\"\r\nreservation,x,extra\r\n";
        assert_eq!(
            fields(text).iter().map(|(line, fields)| (*line, fields.len())).collect::<Vec<_>>(),
            vec![(1, 2), (2, 2), (3, 2), (5, 3)]
        );
        assert_eq!(fields(text)[2].1[1], "uplink,\nsecond line");
        let text = format!("{}\r\nreservation,dev,dev-vips,,192.168.101.200,,,\"a, b\r\nc\"\r\nx\r\n", COLUMNS.join(","));
        let (lines, errors) = read_file(text.as_bytes()).unwrap();
        assert_eq!((lines.len(), lines[0].line, lines[0].get(REASON)), (1, 2, "a, b\nc"));
        assert_eq!((errors[0].line, errors[0].code.as_str()), (4, "wrong_field_count"));
    }

    #[test]
    fn written_fields_read_back() {
        let values = ["plain", "with, comma", "with \"quotes\"", "two\nlines", ""];
        let out = written(&[&values]);
        assert_eq!(out, "plain,\"with, comma\",\"with \"\"quotes\"\"\",\"two\nlines\",\r\n");
        assert_eq!(fields(&out), vec![(1, values.iter().map(|v| (*v).to_owned()).collect())]);
    }

    #[test]
    fn cells_a_spreadsheet_would_run_are_written_as_text_and_read_back() {
        let values = ["=1+2", "+1", "-2", "@SUM(A1)", "\tx", "a=b", "'plain"];
        let out = written(&[&values]);
        assert_eq!(out, "'=1+2,'+1,'-2,'@SUM(A1),'\tx,a=b,'plain\r\n");
        assert_eq!(fields(&out), vec![(1, values.iter().map(|v| (*v).to_owned()).collect())]);
        assert_eq!(written(&[&["\rx", "=HYPERLINK(\"x\", \"y\")"]]), "\"'\rx\",\"'=HYPERLINK(\"\"x\"\", \"\"y\"\")\"\r\n");
        let round_trip = written(&[&["kind", "reason"], &["reservation", "-1, \"quoted\"\nand more"]]);
        assert_eq!(
            fields(&round_trip),
            vec![
                (1, vec!["kind".into(), "reason".into()]),
                (2, vec!["reservation".into(), "-1, \"quoted\"\nand more".into()]),
            ]
        );
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
