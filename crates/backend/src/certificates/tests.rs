//! The parser and verifier against certificates and keys made here and now.
#![expect(clippy::unwrap_used, reason = "in tests a failure is a failed test")]

use std::sync::OnceLock;

use super::parse::{UploadError, parse_upload};
use super::testing::{self, Encoding, KeyKind, TestCa, TestKey, Validity, self_signed};
use domain::PrivateKeyPem;

const HOST: &str = "api-dev.mdhlabs.com";

fn rsa_2048() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::new(KeyKind::Rsa(2048)))
}

fn key(pem: &str) -> PrivateKeyPem {
    PrivateKeyPem::new(pem.to_owned())
}

fn refused(certificate: &str, key_pem: &str) -> UploadError {
    parse_upload(certificate, &key(key_pem)).unwrap_err()
}

#[test]
fn every_key_type_in_every_encoding_is_read_and_matched() {
    let cases = [
        (KeyKind::P256, Encoding::Pkcs8, "ECDSA P-256", 256),
        (KeyKind::P256, Encoding::Sec1, "ECDSA P-256", 256),
        (KeyKind::P384, Encoding::Pkcs8, "ECDSA P-384", 384),
        (KeyKind::P384, Encoding::Sec1, "ECDSA P-384", 384),
        (KeyKind::Ed25519, Encoding::Pkcs8, "Ed25519", 256),
        (KeyKind::Rsa(2048), Encoding::Pkcs8, "RSA 2048", 2048),
        (KeyKind::Rsa(2048), Encoding::Pkcs1, "RSA 2048", 2048),
    ];
    for (kind, encoding, key_type, bits) in cases {
        let fresh;
        let test_key = if kind == KeyKind::Rsa(2048) {
            rsa_2048()
        } else {
            fresh = TestKey::new(kind);
            &fresh
        };
        let certificate = self_signed(&[HOST], test_key, Validity::YEAR);
        let key_pem = test_key.pem(encoding);
        let parsed = parse_upload(&certificate, &key(&key_pem))
            .unwrap_or_else(|error| panic!("{kind:?} in {encoding:?}: {error}"));
        let leaf = parsed.leaf();
        assert_eq!((leaf.key_type.as_str(), leaf.key_bits), (key_type, bits), "{kind:?} {encoding:?}");
        assert_eq!(leaf.sans, [HOST]);
        assert_eq!(leaf.subject, format!("CN={HOST}"));
        assert_eq!(leaf.fingerprint_sha256.len(), 64);
        let label = key_pem.lines().next().unwrap();
        assert!(parsed.key_pem.starts_with(label), "the key keeps its encoding: {label}");
        assert_eq!(parsed.chain_pem.matches("BEGIN CERTIFICATE").count(), 1);
    }
}

#[test]
fn a_chain_in_order_is_verified_link_by_link() {
    let root = TestCa::root("Test Root");
    let intermediate = root.intermediate("Test Intermediate");
    let leaf_key = TestKey::p256();
    let leaf = intermediate.issue(&[HOST, "*.dev.mdhlabs.com", "192.168.101.240"], &leaf_key, Validity::YEAR);
    let chain = format!("{leaf}{}{}", intermediate.pem(), root.pem());
    let parsed = parse_upload(&chain, &key(&leaf_key.pem(Encoding::Pkcs8))).unwrap();
    assert_eq!(parsed.chain.len(), 3);
    assert_eq!(parsed.leaf().issuer, "CN=Test Intermediate");
    assert_eq!(parsed.leaf().sans, [HOST, "*.dev.mdhlabs.com", "192.168.101.240"], "wildcards and IP SANs kept");
    assert!(parsed.chain[1].is_ca && parsed.chain[2].is_ca);
    assert_eq!(parsed.chain[2].subject, parsed.chain[2].issuer, "the root is self-signed");
    assert!(!parsed.leaf().serial.is_empty());
    assert!(parsed.chain_pem.matches("BEGIN CERTIFICATE").count() == 3);
    assert!(!parsed.chain_pem.contains("PRIVATE KEY"));
}

#[test]
fn a_chain_out_of_order_is_refused_with_the_right_order() {
    let root = TestCa::root("Test Root");
    let intermediate = root.intermediate("Test Intermediate");
    let leaf_key = TestKey::p256();
    let leaf = intermediate.issue(&[HOST], &leaf_key, Validity::YEAR);
    let key_pem = leaf_key.pem(Encoding::Pkcs8);

    let swapped = refused(&format!("{leaf}{}{}", root.pem(), intermediate.pem()), &key_pem);
    assert_eq!(swapped.code(), "chain_out_of_order");
    assert_eq!(
        swapped.to_string(),
        "the chain is out of order; a chain starts with the server's certificate and each certificate is followed by its issuer. \
         Upload it in this order: certificate 1 (CN=api-dev.mdhlabs.com), then certificate 3 (CN=Test Intermediate), then certificate 2 (CN=Test Root)"
    );
    let leaf_last = refused(&format!("{}{leaf}", intermediate.pem()), &key_pem);
    assert_eq!(leaf_last.code(), "chain_out_of_order", "{leaf_last}");
    assert!(leaf_last.to_string().contains("certificate 2 (CN=api-dev.mdhlabs.com), then certificate 1"), "{leaf_last}");

    let stranger = TestCa::root("Someone Else");
    let broken = refused(&format!("{leaf}{}", stranger.pem()), &key_pem);
    assert_eq!(broken.code(), "chain_broken");
    assert!(broken.to_string().contains("certificate 2 of the chain (CN=Someone Else) did not issue certificate 1"), "{broken}");
    assert!(broken.to_string().contains("issued by CN=Test Intermediate"), "{broken}");
}

#[test]
fn a_key_of_another_certificate_is_a_mismatch() {
    let certificate = self_signed(&[HOST], &TestKey::p256(), Validity::YEAR);
    let other = TestKey::p256();
    let error = refused(&certificate, &other.pem(Encoding::Pkcs8));
    assert_eq!((error.code(), error.field()), ("key_mismatch", "private_key_pem"));
    assert!(error.to_string().contains("does not belong to the certificate"), "{error}");
    let ed = TestKey::new(KeyKind::Ed25519);
    let error = refused(&certificate, &ed.pem(Encoding::Pkcs8));
    assert!(error.to_string().contains("ECDSA P-256") && error.to_string().contains("Ed25519"), "{error}");
}

#[test]
fn expired_not_yet_valid_and_wildcard_certificates_parse_with_their_dates() {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let key_pair = TestKey::p256();
    let key_pem = key_pair.pem(Encoding::Pkcs8);
    let expired = parse_upload(&self_signed(&[HOST], &key_pair, Validity::EXPIRED), &key(&key_pem)).unwrap();
    assert!(expired.leaf().not_after < now);
    let early = parse_upload(&self_signed(&[HOST], &key_pair, Validity::NOT_YET_VALID), &key(&key_pem)).unwrap();
    assert!(early.leaf().not_before > now);
    let wildcard = parse_upload(&self_signed(&["*.mdhlabs.com"], &key_pair, Validity::YEAR), &key(&key_pem)).unwrap();
    assert_eq!(wildcard.leaf().sans, ["*.mdhlabs.com"]);
}

#[test]
fn what_is_not_a_certificate_says_what_it_is() {
    let key_pair = TestKey::p256();
    let key_pem = key_pair.pem(Encoding::Pkcs8);
    let certificate = self_signed(&[HOST], &key_pair, Validity::YEAR);

    let text = refused("hello, this is not PEM", &key_pem);
    assert_eq!((text.code(), text.field()), ("not_a_certificate", "certificate_pem"));
    assert!(text.to_string().contains("no PEM block"), "{text}");

    let key_there = refused(&format!("{certificate}{key_pem}"), &key_pem);
    assert_eq!(key_there.code(), "key_in_certificate_field");

    let csr = rcgen::CertificateParams::new(vec![HOST.to_owned()])
        .unwrap()
        .serialize_request(&rcgen::KeyPair::generate().unwrap())
        .unwrap()
        .pem()
        .unwrap();
    let request = refused(&csr, &key_pem);
    assert_eq!(request.code(), "not_a_certificate");
    assert!(request.to_string().contains("signing request"), "{request}");

    let garbage = super::pem::encode("CERTIFICATE", b"\x30\x03\x02\x01\x05");
    assert_eq!(refused(&garbage, &key_pem).code(), "invalid_certificate");

    let in_key_field = refused(&certificate, &certificate);
    assert_eq!((in_key_field.code(), in_key_field.field()), ("not_a_private_key", "private_key_pem"));
    let two_keys = refused(&certificate, &format!("{key_pem}{}", TestKey::p256().pem(Encoding::Pkcs8)));
    assert_eq!(two_keys.code(), "several_keys");
}

#[test]
fn truncated_files_are_named_as_such() {
    let key_pair = TestKey::p256();
    let key_pem = key_pair.pem(Encoding::Pkcs8);
    let certificate = self_signed(&[HOST], &key_pair, Validity::YEAR);
    let cut = refused(&testing::truncate(&certificate), &key_pem);
    assert_eq!((cut.code(), cut.field()), ("truncated", "certificate_pem"));
    assert!(cut.to_string().contains("cut off"), "{cut}");
    let cut_key = refused(&certificate, &testing::truncate(&key_pem));
    assert_eq!((cut_key.code(), cut_key.field()), ("truncated", "private_key_pem"));
    // The END line kept but the data inside cut: still "truncated".
    let der = super::pem::blocks(&certificate).unwrap().remove(0).der;
    let short = super::pem::encode("CERTIFICATE", &der[..der.len() - 40]);
    assert_eq!(refused(&short, &key_pem).code(), "truncated");
    let key_der = super::pem::blocks(&key_pem).unwrap().remove(0).der;
    let short_key = super::pem::encode("PRIVATE KEY", &key_der[..key_der.len() - 20]);
    assert_eq!(refused(&certificate, &short_key).code(), "truncated");
}

#[test]
fn encrypted_keys_are_refused_with_how_to_decrypt() {
    let certificate = self_signed(&[HOST], &TestKey::p256(), Validity::YEAR);
    for key_pem in [testing::encrypted_pkcs8_pem(), testing::legacy_encrypted_pem()] {
        let error = refused(&certificate, &key_pem);
        assert_eq!(error.code(), "encrypted_key");
        assert!(error.to_string().contains("openssl pkey"), "{error}");
    }
    // An encrypted key mislabelled as a plain one is still recognised.
    let relabelled = testing::encrypted_pkcs8_pem().replace("ENCRYPTED PRIVATE KEY", "PRIVATE KEY");
    assert_eq!(refused(&certificate, &relabelled).code(), "encrypted_key");
}

#[test]
fn unsupported_algorithms_are_named() {
    let rsa = testing::rsa_1024(&[HOST]);
    let error = refused(&rsa.certificate_pem, &rsa.key_pem);
    assert_eq!((error.code(), error.field()), ("unsupported_algorithm", "certificate_pem"));
    assert!(error.to_string().contains("RSA 1024") && error.to_string().contains("too weak"), "{error}");
    // The weak key alone, against a good certificate.
    let good = self_signed(&[HOST], rsa_2048(), Validity::YEAR);
    let error = refused(&good, &rsa.key_pem);
    assert_eq!((error.code(), error.field()), ("unsupported_algorithm", "private_key_pem"));

    let p521 = testing::p521(&[HOST]);
    let error = refused(&p521.certificate_pem, &p521.key_pem);
    assert_eq!(error.code(), "unsupported_algorithm");
    assert!(error.to_string().contains("ECDSA P-521"), "{error}");
    assert!(refused(&good, &p521.key_pem).to_string().contains("P-521"));

    let dsa = refused(&good, &testing::dsa_key_pem());
    assert_eq!(dsa.code(), "unsupported_algorithm");
    assert!(dsa.to_string().contains("DSA"), "{dsa}");
    let traditional = testing::dsa_key_pem().replace("PRIVATE KEY", "DSA PRIVATE KEY");
    assert_eq!(refused(&good, &traditional).code(), "unsupported_algorithm");
}

#[test]
fn nothing_of_the_key_shows_in_debug_output() {
    let key_pair = TestKey::p256();
    let key_pem = key_pair.pem(Encoding::Pkcs8);
    let parsed = parse_upload(&self_signed(&[HOST], &key_pair, Validity::YEAR), &key(&key_pem)).unwrap();
    let body_line = key_pem.lines().nth(1).unwrap();
    let shown = format!("{parsed:?}");
    assert!(!shown.contains(body_line) && shown.contains("redacted"), "{shown}");
}
