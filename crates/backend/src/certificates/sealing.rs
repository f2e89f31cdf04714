//! Private keys at rest: AES-256-GCM under a 32-byte secret key that never reaches the
//! database — from `GATEHOUSE_SECRET_KEY`, or a key file created with mode 0600 on first
//! run. Each sealed key is bound to its row by the associated data, so a ciphertext copied
//! to another row (or another certificate) does not open.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

const KEY_LEN: usize = 32;

/// The secret key that seals private keys. `Debug` shows only its id.
pub struct SecretKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
    id: String,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey(id {}, <redacted>)", self.id)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    #[error(
        "{source_name} must be 32 random bytes written as 64 hex digits or as base64 (44 characters), for example from `head -c 32 /dev/urandom | base64`; {problem}"
    )]
    Invalid { source_name: String, problem: String },
    #[error("could not read the secret key file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("could not create the secret key file {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("the system random number generator failed")]
    Random,
}

/// Where the key came from, for the startup log (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    Environment,
    File { path: PathBuf, created: bool, readable_by_others: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the sealed key does not open with this secret key: the secret key differs from the one that sealed it, or the row was altered")]
    Open,
    #[error("the system random number generator failed")]
    Random,
}

impl SecretKey {
    fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> Self {
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        context.update(b"gatehouse secret key id\0");
        context.update(bytes.as_slice());
        let id = context.finish().as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
        Self { bytes, id }
    }

    /// Reads the text form: 64 hex digits, or base64 (standard or URL-safe, padding
    /// optional) of exactly 32 bytes. `source_name` names where it came from in errors;
    /// the value itself is never repeated.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, SecretKeyError> {
        let text = text.trim();
        let invalid = |problem: String| SecretKeyError::Invalid { source_name: source_name.to_owned(), problem };
        if text.is_empty() {
            return Err(invalid("it is empty".to_owned()));
        }
        let decoded: Zeroizing<Vec<u8>> = if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Zeroizing::new(
                (0..KEY_LEN)
                    .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap_or_default())
                    .collect(),
            )
        } else {
            let unpadded = text.trim_end_matches('=');
            let engine = if unpadded.contains(['-', '_']) {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
            } else {
                base64::engine::general_purpose::STANDARD_NO_PAD
            };
            Zeroizing::new(
                engine
                    .decode(unpadded)
                    .map_err(|_| invalid(format!("the {} characters given are neither hex nor base64", text.len())))?,
            )
        };
        let bytes: [u8; KEY_LEN] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| invalid(format!("it decodes to {} bytes, not 32", decoded.len())))?;
        Ok(Self::from_bytes(Zeroizing::new(bytes)))
    }

    pub fn generate() -> Result<Self, SecretKeyError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        SystemRandom::new().fill(bytes.as_mut_slice()).map_err(|_| SecretKeyError::Random)?;
        Ok(Self::from_bytes(bytes))
    }

    /// The text form of a key derived from `seed`, for test servers that must open what an
    /// earlier server on the same database sealed. Never use it for real data: anyone who
    /// knows the seed knows the key.
    #[doc(hidden)]
    pub fn derived_text_for_tests(seed: &str) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, seed.as_bytes());
        digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The text form written to key files: base64 of the 32 bytes.
    fn encode(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.bytes.as_slice()))
    }

    /// A short public name of the key (8 bytes of a hash), stored with each sealed key so
    /// that a server started with another secret key says so instead of failing later.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> LessSafeKey {
        // A 32-byte key is always a valid AES-256 key.
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, self.bytes.as_slice()).unwrap_or_else(|_| unreachable!()))
    }

    /// `nonce ‖ ciphertext ‖ tag` of `plaintext`, bound to `associated_data`.
    pub fn seal(&self, plaintext: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
        sealed.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        self.cipher()
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(associated_data), &mut body)
            .map_err(|_| SealError::Random)?;
        sealed.extend_from_slice(&body);
        Ok(sealed)
    }

    pub fn open(&self, sealed: &[u8], associated_data: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SealError::Open);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
        let mut body = Zeroizing::new(body.to_vec());
        let plaintext_len = self
            .cipher()
            .open_in_place(nonce, Aad::from(associated_data), body.as_mut_slice())
            .map_err(|_| SealError::Open)?
            .len();
        body.truncate(plaintext_len);
        Ok(body)
    }
}

/// The secret key from `GATEHOUSE_SECRET_KEY` when it is set, otherwise from `file`, which is
/// created (mode 0600, its directory too) with a fresh random key when it does not exist.
pub fn load_or_create(value: Option<&str>, file: &Path) -> Result<(SecretKey, KeyOrigin), SecretKeyError> {
    if let Some(value) = value {
        return Ok((SecretKey::parse(value, "GATEHOUSE_SECRET_KEY")?, KeyOrigin::Environment));
    }
    let read = |path: &Path| -> Result<(SecretKey, KeyOrigin), SecretKeyError> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path).map_err(|source| SecretKeyError::Read { path: path.to_owned(), source })?,
        );
        let key = SecretKey::parse(&text, &format!("the secret key file {}", path.display()))?;
        Ok((key, KeyOrigin::File { path: path.to_owned(), created: false, readable_by_others: readable_by_others(path) }))
    };
    if file.exists() {
        return read(file);
    }
    if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| SecretKeyError::Create { path: file.to_owned(), source })?;
    }
    let key = SecretKey::generate()?;
    match create_private_file(file) {
        Ok(mut handle) => {
            let mut text = key.encode();
            text.push('\n');
            handle
                .write_all(text.as_bytes())
                .and_then(|()| handle.sync_all())
                .map_err(|source| SecretKeyError::Create { path: file.to_owned(), source })?;
            Ok((key, KeyOrigin::File { path: file.to_owned(), created: true, readable_by_others: false }))
        }
        // Another process sharing the directory created it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read(file),
        Err(source) => Err(SecretKeyError::Create { path: file.to_owned(), source }),
    }
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(unix)]
fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

#[cfg(not(unix))]
fn readable_by_others(_path: &Path) -> bool {
    false
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "in tests a failure is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn sealing_round_trips_and_is_bound_to_its_associated_data() {
        let key = SecretKey::generate().unwrap();
        let secret = b"-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n";
        let sealed = key.seal(secret, b"row 1").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"), "no plaintext in the sealed bytes");
        assert_eq!(key.open(&sealed, b"row 1").unwrap().as_slice(), secret);
        assert_eq!(key.open(&sealed, b"row 2").unwrap_err(), SealError::Open, "bound to its row");
        let other = SecretKey::generate().unwrap();
        assert_eq!(other.open(&sealed, b"row 1").unwrap_err(), SealError::Open, "another secret key");
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(key.open(&tampered, b"row 1").unwrap_err(), SealError::Open);
        assert_ne!(key.seal(secret, b"row 1").unwrap(), sealed, "a fresh nonce each time");
    }

    #[test]
    fn the_text_form_is_hex_or_base64_of_32_bytes() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let from_hex = SecretKey::parse(hex, "GATEHOUSE_SECRET_KEY").unwrap();
        let base64 = base64::engine::general_purpose::STANDARD.encode(from_hex.bytes.as_slice());
        let from_base64 = SecretKey::parse(&format!("  {base64}\n"), "GATEHOUSE_SECRET_KEY").unwrap();
        assert_eq!(from_hex.id(), from_base64.id());
        assert_eq!(SecretKey::parse(base64.trim_end_matches('='), "x").unwrap().id(), from_hex.id());
        let short = SecretKey::parse("c2hvcnQ=", "GATEHOUSE_SECRET_KEY").unwrap_err().to_string();
        assert!(short.contains("GATEHOUSE_SECRET_KEY") && short.contains("decodes to 5 bytes, not 32"), "{short}");
        let garbage = SecretKey::parse("not a key at all!", "GATEHOUSE_SECRET_KEY").unwrap_err().to_string();
        assert!(garbage.contains("neither hex nor base64") && !garbage.contains("not a key at all"), "{garbage}");
        assert!(!format!("{from_hex:?}").contains("0011"), "Debug redacts the key");
    }

    #[test]
    fn the_key_file_is_created_private_and_read_back() {
        let dir = std::env::temp_dir().join(format!("gatehouse-key-{}", std::process::id()));
        let file = dir.join("nested").join("secret.key");
        let (first, origin) = load_or_create(None, &file).unwrap();
        assert!(matches!(origin, KeyOrigin::File { created: true, .. }));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let (again, origin) = load_or_create(None, &file).unwrap();
        assert_eq!(first.id(), again.id());
        assert!(matches!(origin, KeyOrigin::File { created: false, readable_by_others: false, .. }));
        let (from_env, origin) = load_or_create(Some(&"ab".repeat(32)), &file).unwrap();
        assert_eq!(origin, KeyOrigin::Environment);
        assert_ne!(from_env.id(), first.id());
        std::fs::write(&file, "garbage").unwrap();
        let error = load_or_create(None, &file).unwrap_err().to_string();
        assert!(error.contains("secret key file") && error.contains("secret.key"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
