//! An uploaded chain and key, parsed and verified: the certificates with x509-parser, the
//! key with rustls' ring provider (PKCS#1, PKCS#8, SEC1), the key matched against the
//! leaf's SubjectPublicKeyInfo, and every chain link's signature checked against the next
//! certificate's key. Each way an upload can be wrong has its own [`UploadError`].

use std::borrow::Cow;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::error::X509Error;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::Oid;
use zeroize::Zeroizing;

use super::pem::{self, Block, PemError};
use domain::certificates::CertificateDetails;
use domain::{FieldError, PrivateKeyPem};

const CERTIFICATE_FIELD: &str = "certificate_pem";
const KEY_FIELD: &str = "private_key_pem";

/// Why an upload is refused. Every message says what was found and how to fix it, and
/// none repeats the uploaded text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    #[error("the {what} could not be read: {source}")]
    Pem { field: &'static str, what: &'static str, source: PemError },
    #[error(
        "the certificate field holds no certificate ({found}); paste the PEM chain that starts with -----BEGIN CERTIFICATE-----, leaf first"
    )]
    NotACertificate { found: String },
    #[error(
        "certificate {position} of the chain is not a valid X.509 certificate ({reason}); export it again from the CA or the old load balancer"
    )]
    InvalidCertificate { position: usize, reason: String },
    #[error(
        "the certificate field holds a private key ({label}); keys go in the private key field only, so the chain can be stored without it"
    )]
    KeyInCertificateField { label: String },
    #[error(
        "the private key field holds no private key ({found}); paste the key that starts with -----BEGIN PRIVATE KEY-----, -----BEGIN RSA PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----"
    )]
    NotAPrivateKey { found: String },
    #[error("the private key field holds {count} private keys; upload the one key that belongs to the certificate")]
    SeveralKeys { count: usize },
    #[error(
        "the private key is encrypted with a passphrase; Gatehouse encrypts keys itself and cannot ask for the passphrase, so decrypt it first (openssl pkey -in key.pem -out plain.pem)"
    )]
    EncryptedKey { field: &'static str },
    #[error("{what} is not supported: {why}; issue a certificate with an RSA key of 2048 bits or more, an ECDSA P-256 or P-384 key, or an Ed25519 key")]
    UnsupportedAlgorithm { field: &'static str, what: String, why: &'static str },
    #[error("the {what} ends early: the file was cut off; upload the whole file again")]
    TruncatedDer { field: &'static str, what: &'static str },
    #[error("the private key could not be read ({reason}); export it again in PEM form")]
    InvalidKey { reason: String },
    #[error(
        "the private key does not belong to the certificate: the certificate's public key is {certificate_key} ({certificate_fingerprint}…), the private key's is {key} ({key_fingerprint}…); upload the key that was generated with this certificate's request"
    )]
    KeyMismatch { certificate_key: String, certificate_fingerprint: String, key: String, key_fingerprint: String },
    #[error("the chain is out of order; a chain starts with the server's certificate and each certificate is followed by its issuer. Upload it in this order: {expected}")]
    ChainOutOfOrder { expected: String },
    #[error(
        "certificate {position} of the chain ({subject}) did not issue certificate {previous} ({previous_subject}, issued by {previous_issuer}); remove unrelated certificates and add the right intermediate"
    )]
    ChainBroken { position: usize, subject: String, previous: usize, previous_subject: String, previous_issuer: String },
}

impl UploadError {
    pub fn field(&self) -> &'static str {
        match self {
            Self::Pem { field, .. }
            | Self::EncryptedKey { field }
            | Self::UnsupportedAlgorithm { field, .. }
            | Self::TruncatedDer { field, .. } => field,
            Self::NotAPrivateKey { .. } | Self::SeveralKeys { .. } | Self::InvalidKey { .. } | Self::KeyMismatch { .. } => {
                KEY_FIELD
            }
            _ => CERTIFICATE_FIELD,
        }
    }

    /// A stable code for the JSON API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Pem { source: PemError::Truncated { .. }, .. } | Self::TruncatedDer { .. } => "truncated",
            Self::Pem { source: PemError::NoBlocks, field: CERTIFICATE_FIELD, .. } | Self::NotACertificate { .. } => {
                "not_a_certificate"
            }
            Self::Pem { source: PemError::NoBlocks, .. } | Self::NotAPrivateKey { .. } => "not_a_private_key",
            Self::Pem { .. } => "damaged_pem",
            Self::InvalidCertificate { .. } => "invalid_certificate",
            Self::KeyInCertificateField { .. } => "key_in_certificate_field",
            Self::SeveralKeys { .. } => "several_keys",
            Self::EncryptedKey { .. } => "encrypted_key",
            Self::UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            Self::InvalidKey { .. } => "invalid_key",
            Self::KeyMismatch { .. } => "key_mismatch",
            Self::ChainOutOfOrder { .. } => "chain_out_of_order",
            Self::ChainBroken { .. } => "chain_broken",
        }
    }

    pub fn to_field_error(&self) -> FieldError {
        FieldError::new(self.field(), self.code(), self.to_string())
    }
}

/// A verified upload: the chain (leaf first) and the key, both as clean PEM holding only
/// what they should.
pub struct ParsedUpload {
    pub chain: Vec<CertificateDetails>,
    pub chain_pem: String,
    pub key_pem: Zeroizing<String>,
}

impl std::fmt::Debug for ParsedUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedUpload").field("chain", &self.chain).field("key_pem", &"<redacted>").finish()
    }
}

impl ParsedUpload {
    pub fn leaf(&self) -> &CertificateDetails {
        // `parse_upload` never returns an empty chain.
        &self.chain[0]
    }
}

/// Parses and verifies a certificate chain and its private key.
pub fn parse_upload(certificate_pem: &str, private_key_pem: &PrivateKeyPem) -> Result<ParsedUpload, UploadError> {
    let certificate_blocks = pem::blocks(certificate_pem)
        .map_err(|source| UploadError::Pem { field: CERTIFICATE_FIELD, what: "certificate file", source })?;
    if let Some(key) = certificate_blocks.iter().find(|b| b.label.ends_with("PRIVATE KEY")) {
        return Err(UploadError::KeyInCertificateField { label: key.label.clone() });
    }
    let ders: Vec<&[u8]> =
        certificate_blocks.iter().filter(|b| b.label == "CERTIFICATE").map(|b| b.der.as_slice()).collect();
    if ders.is_empty() {
        return Err(UploadError::NotACertificate { found: found_labels(&certificate_blocks) });
    }
    let certificates = ders.iter().enumerate().map(|(i, der)| parse_certificate(i + 1, der)).collect::<Result<Vec<_>, _>>()?;

    let leaf_key = KeyAlgorithm::of_spki(certificates[0].public_key().raw)
        .map_err(|_| UploadError::InvalidCertificate { position: 1, reason: "its public key cannot be read".to_owned() })?;
    leaf_key.check_supported(CERTIFICATE_FIELD, "the certificate's key")?;

    let key = read_private_key(private_key_pem)?;
    let key_spki = load_key(&key)?;
    let position = certificates.iter().position(|c| same_public_key(c.public_key().raw, &key_spki));
    match position {
        Some(0) => {}
        Some(i) => {
            let mut order: Vec<usize> = vec![i];
            order.extend((0..certificates.len()).filter(|j| *j != i));
            return Err(out_of_order(&certificates, &chain_order(&certificates, i).unwrap_or(order)));
        }
        None => {
            let key_type = KeyAlgorithm::of_spki(&key_spki).map(|k| k.describe()).unwrap_or_else(|_| "unknown".to_owned());
            return Err(UploadError::KeyMismatch {
                certificate_key: leaf_key.describe(),
                certificate_fingerprint: sha256_hex(certificates[0].public_key().raw)[..16].to_owned(),
                key: key_type,
                key_fingerprint: sha256_hex(&key_spki)[..16].to_owned(),
            });
        }
    }
    check_chain(&certificates)?;

    let chain = certificates.iter().map(details).collect::<Result<Vec<_>, _>>()?;
    let chain_pem = ders.iter().map(|der| pem::encode("CERTIFICATE", der)).collect();
    let key_pem = Zeroizing::new(pem::encode(&key.label, &key.der));
    Ok(ParsedUpload { chain, chain_pem, key_pem })
}

fn found_labels(blocks: &[Block]) -> String {
    let labels: Vec<&str> = blocks.iter().map(|b| b.label.as_str()).collect();
    let found = labels.join(", ");
    if labels.contains(&"CERTIFICATE REQUEST") || labels.contains(&"NEW CERTIFICATE REQUEST") {
        format!("found {found}: that is the signing request; upload the certificate the CA issued for it")
    } else {
        format!("found {found}")
    }
}

fn parse_certificate(position: usize, der: &[u8]) -> Result<X509Certificate<'_>, UploadError> {
    match x509_parser::parse_x509_certificate(der) {
        Ok(([], certificate)) => Ok(certificate),
        Ok(_) => Err(UploadError::InvalidCertificate { position, reason: "unexpected bytes after the certificate".to_owned() }),
        Err(x509_parser::nom::Err::Incomplete(_)) => {
            Err(UploadError::TruncatedDer { field: CERTIFICATE_FIELD, what: "certificate data" })
        }
        Err(x509_parser::nom::Err::Error(error) | x509_parser::nom::Err::Failure(error)) => {
            if der_is_truncated(der) {
                Err(UploadError::TruncatedDer { field: CERTIFICATE_FIELD, what: "certificate data" })
            } else {
                Err(UploadError::InvalidCertificate { position, reason: error.to_string() })
            }
        }
    }
}

/// Whether the outer DER element claims more bytes than there are.
fn der_is_truncated(der: &[u8]) -> bool {
    matches!(read_tlv(der), Err(DerError::Truncated))
}

/// The key block of the key field: exactly one, unencrypted, of a kind rustls reads.
fn read_private_key(private_key_pem: &PrivateKeyPem) -> Result<Block, UploadError> {
    let blocks = pem::blocks(private_key_pem.expose())
        .map_err(|source| UploadError::Pem { field: KEY_FIELD, what: "key file", source })?;
    if blocks.iter().any(Block::is_encrypted) {
        return Err(UploadError::EncryptedKey { field: KEY_FIELD });
    }
    let mut keys: Vec<Block> = Vec::new();
    let mut others: Vec<String> = Vec::new();
    for block in blocks {
        match block.label.as_str() {
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => keys.push(block),
            "EC PARAMETERS" => {}
            "DSA PRIVATE KEY" => {
                return Err(UploadError::UnsupportedAlgorithm {
                    field: KEY_FIELD,
                    what: "a DSA key".to_owned(),
                    why: "DSA is not used for TLS any more",
                });
            }
            "OPENSSH PRIVATE KEY" => {
                return Err(UploadError::NotAPrivateKey {
                    found: "found an OpenSSH key, which is for SSH, not for TLS".to_owned(),
                });
            }
            other => others.push(other.to_owned()),
        }
    }
    match keys.len() {
        0 => Err(UploadError::NotAPrivateKey { found: format!("found {}", others.join(", ")) }),
        1 => {
            let key = keys.remove(0);
            KeyAlgorithm::of_private_key(&key)?.check_supported(KEY_FIELD, "the private key")?;
            Ok(key)
        }
        count => Err(UploadError::SeveralKeys { count }),
    }
}

/// Loads the key with rustls' ring provider (which also checks that its parts agree) and
/// answers its SubjectPublicKeyInfo.
fn load_key(key: &Block) -> Result<Vec<u8>, UploadError> {
    let der: PrivateKeyDer<'_> = match key.label.as_str() {
        "RSA PRIVATE KEY" => PrivatePkcs1KeyDer::from(key.der.as_slice()).into(),
        "EC PRIVATE KEY" => PrivateSec1KeyDer::from(key.der.as_slice()).into(),
        _ => PrivatePkcs8KeyDer::from(key.der.as_slice()).into(),
    };
    let signing_key = rustls::crypto::ring::sign::any_supported_type(&der).map_err(|_| UploadError::InvalidKey {
        reason: format!("it is labelled {} but its contents are not a usable key of that kind", key.label),
    })?;
    signing_key
        .public_key()
        .map(|spki| spki.as_ref().to_vec())
        .ok_or_else(|| UploadError::InvalidKey { reason: "its public key cannot be derived".to_owned() })
}

/// Two SubjectPublicKeyInfos hold the same key: same algorithm, parameters (a NULL counts as
/// absent) and key bits.
fn same_public_key(a: &[u8], b: &[u8]) -> bool {
    match (spki_parts(a), spki_parts(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn check_chain(certificates: &[X509Certificate<'_>]) -> Result<(), UploadError> {
    let Some(broken) = (0..certificates.len().saturating_sub(1))
        .find(|&i| !signed_by(certificates, i, i + 1).unwrap_or(false))
    else {
        return Ok(());
    };
    // A signature Gatehouse cannot check is said so, rather than called a broken chain.
    if let Err(algorithm) = signed_by(certificates, broken, broken + 1) {
        return Err(UploadError::UnsupportedAlgorithm {
            field: CERTIFICATE_FIELD,
            what: format!("the signature of certificate {} ({algorithm})", broken + 1),
            why: "ring, the cryptography library Gatehouse verifies chains with, does not implement it",
        });
    }
    match chain_order(certificates, 0) {
        Some(order) => Err(out_of_order(certificates, &order)),
        None => {
            let previous = &certificates[broken];
            Err(UploadError::ChainBroken {
                position: broken + 2,
                subject: name(certificates[broken + 1].subject()),
                previous: broken + 1,
                previous_subject: name(previous.subject()),
                previous_issuer: name(previous.issuer()),
            })
        }
    }
}

/// Whether certificate `child` is signed by the key of certificate `issuer`; `Err` names a
/// signature algorithm that cannot be checked.
fn signed_by(certificates: &[X509Certificate<'_>], child: usize, issuer: usize) -> Result<bool, String> {
    let child = &certificates[child];
    match child.verify_signature(Some(certificates[issuer].public_key())) {
        Ok(()) => Ok(true),
        Err(X509Error::SignatureUnsupportedAlgorithm) => Err(oid_name(&child.signature_algorithm.algorithm)),
        Err(_) => Ok(false),
    }
}

/// An order of every certificate starting at `leaf` in which each is signed by the next.
fn chain_order(certificates: &[X509Certificate<'_>], leaf: usize) -> Option<Vec<usize>> {
    let mut order = vec![leaf];
    while order.len() < certificates.len() {
        let last = order[order.len() - 1];
        let next = (0..certificates.len())
            .find(|candidate| !order.contains(candidate) && signed_by(certificates, last, *candidate).unwrap_or(false))?;
        order.push(next);
    }
    Some(order)
}

fn out_of_order(certificates: &[X509Certificate<'_>], order: &[usize]) -> UploadError {
    let expected = order
        .iter()
        .map(|&i| format!("certificate {} ({})", i + 1, name(certificates[i].subject())))
        .collect::<Vec<_>>()
        .join(", then ");
    UploadError::ChainOutOfOrder { expected }
}

fn name(name: &x509_parser::x509::X509Name<'_>) -> String {
    let text = name.to_string();
    if text.is_empty() { "an empty name".to_owned() } else { text }
}

fn oid_name(oid: &Oid<'_>) -> String {
    x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry())
        .map(str::to_owned)
        .unwrap_or_else(|_| oid.to_id_string())
}

fn details(certificate: &X509Certificate<'_>) -> Result<CertificateDetails, UploadError> {
    let key = KeyAlgorithm::of_spki(certificate.public_key().raw)
        .map_err(|_| UploadError::InvalidCertificate { position: 0, reason: "its public key cannot be read".to_owned() })?;
    let mut sans = Vec::new();
    if let Ok(Some(extension)) = certificate.subject_alternative_name() {
        for general in &extension.value.general_names {
            match general {
                GeneralName::DNSName(dns) => sans.push((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => sans.extend(ip_text(bytes)),
                _ => {}
            }
        }
    }
    Ok(CertificateDetails {
        subject: name(certificate.subject()),
        issuer: name(certificate.issuer()),
        serial: certificate.raw_serial_as_string().to_ascii_uppercase(),
        sans,
        not_before: certificate.validity().not_before.timestamp(),
        not_after: certificate.validity().not_after.timestamp(),
        fingerprint_sha256: sha256_hex(certificate.as_raw()),
        public_key_sha256: sha256_hex(certificate.public_key().raw),
        key_type: key.describe(),
        key_bits: key.bits(),
        signature_algorithm: oid_name(&certificate.signature_algorithm.algorithm),
        is_ca: certificate.is_ca(),
    })
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(|b| std::net::Ipv4Addr::from(b).to_string()),
        16 => <[u8; 16]>::try_from(bytes).ok().map(|b| std::net::Ipv6Addr::from(b).to_string()),
        _ => None,
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

// =============================================================================================
// Key algorithms, read from the DER so that unsupported keys get a message naming them

/// The content bytes of the object identifiers this module knows.
mod oid {
    pub const RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
    pub const RSA_PSS: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A];
    pub const EC: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
    pub const P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    pub const P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
    pub const P521: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x23];
    pub const ED25519: &[u8] = &[0x2B, 0x65, 0x70];
    pub const DSA: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x38, 0x04, 0x01];
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const NULL: u8 = 0x05;
const OID: u8 = 0x06;
const CONTEXT_0: u8 = 0xA0;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Rsa { bits: u32 },
    Ecdsa { curve: &'static str, bits: u32 },
    Ed25519,
    /// Anything else, by name: `DSA`, `ECDSA secp256k1`, `Ed448`, `RSASSA-PSS`…
    Other(String),
}

impl KeyAlgorithm {
    pub fn describe(&self) -> String {
        match self {
            Self::Rsa { bits } => format!("RSA {bits}"),
            Self::Ecdsa { curve, .. } => format!("ECDSA {curve}"),
            Self::Ed25519 => "Ed25519".to_owned(),
            Self::Other(name) => name.clone(),
        }
    }

    pub fn bits(&self) -> u32 {
        match self {
            Self::Rsa { bits } | Self::Ecdsa { bits, .. } => *bits,
            Self::Ed25519 => 256,
            Self::Other(_) => 0,
        }
    }

    fn check_supported(&self, field: &'static str, whose: &str) -> Result<(), UploadError> {
        let why = match self {
            Self::Rsa { bits } if *bits < 2048 => "RSA keys under 2048 bits are too weak and refused by browsers",
            Self::Rsa { bits } if *bits > 8192 => "RSA keys over 8192 bits are beyond what the TLS library signs with",
            Self::Ecdsa { curve: "P-521", .. } => "P-521 is not implemented by ring, the TLS library Gatehouse uses",
            Self::Ecdsa { curve: "P-256" | "P-384", .. } | Self::Rsa { .. } | Self::Ed25519 => return Ok(()),
            Self::Ecdsa { .. } => "browsers only accept the NIST curves P-256 and P-384 for ECDSA",
            Self::Other(name) if name == "DSA" => "DSA is not used for TLS any more",
            Self::Other(_) => "TLS servers do not use this kind of key",
        };
        Err(UploadError::UnsupportedAlgorithm { field, what: format!("{whose} ({})", self.describe()), why })
    }

    /// From a SubjectPublicKeyInfo: `SEQUENCE { SEQUENCE { OID, params }, BIT STRING }`.
    pub fn of_spki(der: &[u8]) -> Result<Self, DerError> {
        let (algorithm, parameters, key) = spki_parts(der)?;
        let rsa_bits = || {
            let key = key.get(1..).ok_or(DerError::Malformed)?;
            rsa_modulus_bits(sequence(key)?.first().ok_or(DerError::Malformed)?)
        };
        Self::from_oids(&algorithm, parameters.as_deref(), rsa_bits, key.len())
    }

    /// From a private key block of any of the three encodings.
    fn of_private_key(block: &Block) -> Result<Self, UploadError> {
        let truncated = || UploadError::TruncatedDer { field: KEY_FIELD, what: "private key data" };
        let invalid = || UploadError::InvalidKey {
            reason: format!("it is labelled {} but its contents are not a key of that kind", block.label),
        };
        let map = |error: DerError| match error {
            DerError::Truncated => truncated(),
            DerError::Malformed => invalid(),
        };
        let fields = sequence(&block.der).map_err(map)?;
        match block.label.as_str() {
            // RSAPrivateKey: version, modulus, …
            "RSA PRIVATE KEY" => Ok(Self::Rsa { bits: rsa_modulus_bits(fields.get(1).ok_or_else(invalid)?).map_err(map)? }),
            // ECPrivateKey: version, privateKey, [0] parameters, [1] publicKey
            "EC PRIVATE KEY" => {
                let secret = fields.get(1).filter(|f| f.tag == OCTET_STRING).ok_or_else(invalid)?;
                let curve = fields.iter().find(|f| f.tag == CONTEXT_0).map(|f| read_tlv(f.content)).transpose().map_err(map)?;
                match curve {
                    Some((curve, _)) if curve.tag == OID => {
                        Ok(Self::from_oids(oid::EC, Some(curve.content), || Ok(0), 0).map_err(map)?)
                    }
                    _ => Ok(Self::curve_by_size(secret.content.len())),
                }
            }
            // PrivateKeyInfo: version, AlgorithmIdentifier, privateKey; an
            // EncryptedPrivateKeyInfo starts with its AlgorithmIdentifier instead.
            _ => {
                if fields.first().is_some_and(|f| f.tag == SEQUENCE) {
                    return Err(UploadError::EncryptedKey { field: KEY_FIELD });
                }
                let algorithm = fields.get(1).filter(|f| f.tag == SEQUENCE).ok_or_else(invalid)?;
                let algorithm = children(algorithm.content).map_err(map)?;
                let oid = algorithm.first().filter(|f| f.tag == OID).ok_or_else(invalid)?.content;
                let parameters = algorithm.get(1).filter(|p| p.tag == OID).map(|p| p.content);
                let private = fields.get(2).filter(|f| f.tag == OCTET_STRING).ok_or_else(invalid)?.content;
                let rsa_bits = || rsa_modulus_bits(sequence(private)?.get(1).ok_or(DerError::Malformed)?);
                Self::from_oids(oid, parameters, rsa_bits, 0).map_err(map)
            }
        }
    }

    fn from_oids(
        algorithm: &[u8],
        parameters: Option<&[u8]>,
        rsa_bits: impl FnOnce() -> Result<u32, DerError>,
        ec_point_len: usize,
    ) -> Result<Self, DerError> {
        Ok(match algorithm {
            oid::RSA => Self::Rsa { bits: rsa_bits()? },
            oid::EC => match parameters {
                Some(oid::P256) => Self::Ecdsa { curve: "P-256", bits: 256 },
                Some(oid::P384) => Self::Ecdsa { curve: "P-384", bits: 384 },
                Some(oid::P521) => Self::Ecdsa { curve: "P-521", bits: 521 },
                Some(other) => Self::Other(format!("ECDSA {}", oid_text(other))),
                // Implicit curve: judge by the size of the uncompressed point (04 ‖ x ‖ y).
                None => Self::curve_by_size(ec_point_len.saturating_sub(2) / 2),
            },
            oid::ED25519 => Self::Ed25519,
            oid::DSA => Self::Other("DSA".to_owned()),
            oid::RSA_PSS => Self::Other("RSASSA-PSS".to_owned()),
            other => Self::Other(oid_text(other)),
        })
    }

    fn curve_by_size(scalar_len: usize) -> Self {
        match scalar_len {
            32 => Self::Ecdsa { curve: "P-256", bits: 256 },
            48 => Self::Ecdsa { curve: "P-384", bits: 384 },
            65 | 66 => Self::Ecdsa { curve: "P-521", bits: 521 },
            n => Self::Other(format!("ECDSA on an unnamed {}-bit curve", n * 8)),
        }
    }
}

fn oid_text(content: &[u8]) -> String {
    oid_name(&Oid::new(Cow::Borrowed(content)))
}

/// `(algorithm OID, parameters unless NULL, key bits)` of a SubjectPublicKeyInfo.
type SpkiParts = (Vec<u8>, Option<Vec<u8>>, Vec<u8>);

fn spki_parts(der: &[u8]) -> Result<SpkiParts, DerError> {
    let (outer, _) = read_tlv(der)?;
    let fields = children(outer.content)?;
    let algorithm = children(fields.first().filter(|f| f.tag == SEQUENCE).ok_or(DerError::Malformed)?.content)?;
    let oid = algorithm.first().filter(|f| f.tag == OID).ok_or(DerError::Malformed)?;
    let parameters = algorithm.get(1).filter(|p| p.tag != NULL).map(|p| p.content.to_vec());
    let key = fields.get(1).filter(|f| f.tag == BIT_STRING).ok_or(DerError::Malformed)?;
    Ok((oid.content.to_vec(), parameters, key.content.to_vec()))
}

fn rsa_modulus_bits(modulus: &Tlv<'_>) -> Result<u32, DerError> {
    if modulus.tag != INTEGER {
        return Err(DerError::Malformed);
    }
    let digits = modulus.content.iter().position(|b| *b != 0).map_or(&[][..], |i| &modulus.content[i..]);
    let Some(first) = digits.first() else { return Ok(0) };
    Ok(u32::try_from(digits.len() * 8).unwrap_or(u32::MAX) - first.leading_zeros())
}

// =============================================================================================
// Just enough DER to read the outline of keys

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerError {
    /// An element claims more bytes than there are: the data was cut off.
    Truncated,
    Malformed,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
}

pub(crate) fn read_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), DerError> {
    let (&tag, rest) = input.split_first().ok_or(DerError::Truncated)?;
    if tag & 0x1F == 0x1F {
        return Err(DerError::Malformed);
    }
    let (&first, rest) = rest.split_first().ok_or(DerError::Truncated)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7F);
        if count == 0 || count > 4 {
            return Err(DerError::Malformed);
        }
        let bytes = rest.get(..count).ok_or(DerError::Truncated)?;
        (bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b)), &rest[count..])
    };
    let content = rest.get(..len).ok_or(DerError::Truncated)?;
    Ok((Tlv { tag, content }, &rest[len..]))
}

pub(crate) fn children(mut content: &[u8]) -> Result<Vec<Tlv<'_>>, DerError> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (tlv, rest) = read_tlv(content)?;
        out.push(tlv);
        content = rest;
    }
    Ok(out)
}

/// The elements of the SEQUENCE that `der` is.
pub(crate) fn sequence(der: &[u8]) -> Result<Vec<Tlv<'_>>, DerError> {
    let (outer, _) = read_tlv(der)?;
    if outer.tag != SEQUENCE {
        return Err(DerError::Malformed);
    }
    children(outer.content)
}
