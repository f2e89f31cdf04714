//! PEM blocks (RFC 7468, with the RFC 1421 headers of legacy encrypted keys), read strictly
//! enough to say what is wrong with a file: no block at all, a block cut off before its END
//! line, a damaged body. Text around the blocks (`subject=…`, `Bag Attributes`) is ignored.

use base64::Engine as _;
use zeroize::Zeroizing;

/// One `-----BEGIN …-----` … `-----END …-----` block.
pub struct Block {
    pub label: String,
    /// `Proc-Type: 4,ENCRYPTED`, `DEK-Info: …` of legacy OpenSSL keys.
    pub headers: Vec<(String, String)>,
    /// The decoded body; wiped when dropped, as it may be a private key.
    pub der: Zeroizing<Vec<u8>>,
    /// 1-based line of the BEGIN line.
    pub line: usize,
}

impl Block {
    /// A legacy OpenSSL key encrypted under a passphrase (`Proc-Type: 4,ENCRYPTED`).
    pub fn is_encrypted(&self) -> bool {
        self.label == "ENCRYPTED PRIVATE KEY"
            || self.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("Proc-Type") && v.contains("ENCRYPTED"))
    }
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Block({} at line {}, {} bytes)", self.label, self.line, self.der.len())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    #[error("there is no PEM block in it (a line like -----BEGIN CERTIFICATE-----)")]
    NoBlocks,
    #[error("the {label} block that starts on line {line} has no -----END {label}----- line: the file was cut off")]
    Truncated { label: String, line: usize },
    #[error("the {begin} block that starts on line {line} ends with -----END {end}-----; a block ends with the label it began with")]
    Mismatched { begin: String, end: String, line: usize },
    #[error("the {label} block that starts on line {line} is damaged: its body is not valid base64")]
    Damaged { label: String, line: usize },
    #[error("the {label} block that starts on line {line} is empty")]
    Empty { label: String, line: usize },
}

fn marker<'a>(line: &'a str, kind: &str) -> Option<&'a str> {
    line.strip_prefix("-----")?.strip_prefix(kind)?.strip_prefix(' ')?.strip_suffix("-----")
}

/// Every block of `text`, in order.
pub fn blocks(text: &str) -> Result<Vec<Block>, PemError> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line.trim()));
    while let Some((line_no, line)) = lines.next() {
        let Some(label) = marker(line, "BEGIN") else { continue };
        let label = label.to_owned();
        let mut headers = Vec::new();
        let mut body = Zeroizing::new(String::new());
        let mut in_headers = true;
        let mut ended = false;
        for (_, line) in lines.by_ref() {
            if let Some(end) = marker(line, "END") {
                if end != label {
                    return Err(PemError::Mismatched { begin: label, end: end.to_owned(), line: line_no });
                }
                ended = true;
                break;
            }
            if marker(line, "BEGIN").is_some() {
                break;
            }
            if in_headers {
                if let Some((key, value)) = line.split_once(':') {
                    headers.push((key.trim().to_owned(), value.trim().to_owned()));
                    continue;
                }
                in_headers = false;
            }
            body.push_str(line);
        }
        if !ended {
            return Err(PemError::Truncated { label, line: line_no });
        }
        if body.is_empty() {
            return Err(PemError::Empty { label, line: line_no });
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|_| PemError::Damaged { label: label.clone(), line: line_no })?;
        out.push(Block { label, headers, der: Zeroizing::new(der), line: line_no });
    }
    if out.is_empty() {
        return Err(PemError::NoBlocks);
    }
    Ok(out)
}

/// The PEM text of one block: 64 characters of base64 per line.
pub fn encode(label: &str, der: &[u8]) -> String {
    let body = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
    let mut out = String::with_capacity(body.len() + body.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in body.as_bytes().chunks(64) {
        // Base64 is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "in tests a failed parse is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_and_surrounding_text_is_ignored() {
        let der: Vec<u8> = (0..200u8).collect();
        let text = format!("subject=CN=x\n{}\nnoise\n{}", encode("CERTIFICATE", &der), encode("CERTIFICATE", &der[..10]));
        let found = blocks(&text).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].label, "CERTIFICATE");
        assert_eq!(found[0].line, 2);
        assert_eq!(*found[0].der, der);
        assert_eq!(*found[1].der, der[..10]);
    }

    #[test]
    fn each_damage_has_its_own_error() {
        let whole = encode("CERTIFICATE", &[1, 2, 3, 4, 5, 6]);
        assert_eq!(blocks("hello").unwrap_err(), PemError::NoBlocks);
        let cut = &whole[..whole.find("-----END").unwrap()];
        assert_eq!(blocks(cut).unwrap_err(), PemError::Truncated { label: "CERTIFICATE".into(), line: 1 });
        let swapped = whole.replace("END CERTIFICATE", "END PRIVATE KEY");
        assert!(matches!(blocks(&swapped).unwrap_err(), PemError::Mismatched { .. }));
        let damaged = whole.replace("AQIDBAUG", "AQ!DBAUG");
        assert!(matches!(blocks(&damaged).unwrap_err(), PemError::Damaged { .. }));
        assert!(matches!(
            blocks("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----").unwrap_err(),
            PemError::Empty { .. }
        ));
    }

    #[test]
    fn legacy_encryption_headers_are_read() {
        let text = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAQID\n-----END RSA PRIVATE KEY-----\n";
        let found = blocks(text).unwrap();
        assert!(found[0].is_encrypted());
        assert_eq!(*found[0].der, vec![1, 2, 3]);
        assert!(format!("{:?}", found[0]).contains("3 bytes"), "Debug shows the size, not the bytes");
    }
}
