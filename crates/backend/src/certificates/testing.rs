//! Certificates and keys of every kind, made at test time (the unit tests, and feature
//! `test-support` for the integration tests): ECDSA P-256/P-384 and Ed25519 keys from
//! rcgen, RSA keys from the `rsa` crate, each in PKCS#8, PKCS#1 or SEC1; CAs and
//! intermediates; and the keys Gatehouse must refuse (RSA 1024, P-521, DSA, encrypted).
#![expect(clippy::unwrap_used, reason = "test fixtures: a failure here is a failed test")]

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519, PKCS_RSA_SHA256,
};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
use time::{Duration, OffsetDateTime};
use yasna::models::ObjectIdentifier;

use super::parse::{read_tlv, sequence};
use super::pem;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    P256,
    P384,
    Ed25519,
    Rsa(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `PRIVATE KEY`
    Pkcs8,
    /// `RSA PRIVATE KEY`
    Pkcs1,
    /// `EC PRIVATE KEY`
    Sec1,
}

/// A fresh key pair.
pub struct TestKey {
    pub kind: KeyKind,
    pkcs8: Vec<u8>,
}

impl TestKey {
    pub fn new(kind: KeyKind) -> Self {
        let pkcs8 = match kind {
            KeyKind::P256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap().serialize_der(),
            KeyKind::P384 => KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap().serialize_der(),
            KeyKind::Ed25519 => KeyPair::generate_for(&PKCS_ED25519).unwrap().serialize_der(),
            KeyKind::Rsa(bits) => {
                let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits).unwrap();
                key.to_pkcs8_der().unwrap().as_bytes().to_vec()
            }
        };
        Self { kind, pkcs8 }
    }

    pub fn p256() -> Self {
        Self::new(KeyKind::P256)
    }

    /// The key as PEM in `encoding` (PKCS#1 for RSA keys only, SEC1 for ECDSA keys only).
    pub fn pem(&self, encoding: Encoding) -> String {
        match (encoding, self.kind) {
            (Encoding::Pkcs8, _) => pem::encode("PRIVATE KEY", &self.pkcs8),
            (Encoding::Pkcs1, KeyKind::Rsa(_)) => {
                rsa::RsaPrivateKey::from_pkcs8_der(&self.pkcs8).unwrap().to_pkcs1_pem(LineEnding::LF).unwrap().to_string()
            }
            (Encoding::Sec1, KeyKind::P256) => pem::encode("EC PRIVATE KEY", &self.sec1(&[1, 2, 840, 10045, 3, 1, 7])),
            (Encoding::Sec1, KeyKind::P384) => pem::encode("EC PRIVATE KEY", &self.sec1(&[1, 3, 132, 0, 34])),
            (encoding, kind) => panic!("{kind:?} keys have no {encoding:?} form"),
        }
    }

    /// PKCS#8 (ring puts the ECPrivateKey without its curve inside) turned into a
    /// stand-alone SEC1 `ECPrivateKey` with the curve named, as OpenSSL writes it.
    fn sec1(&self, curve: &[u64]) -> Vec<u8> {
        let outer = sequence(&self.pkcs8).unwrap();
        let inner = sequence(outer[2].content).unwrap();
        let secret = inner[1].content;
        let public = inner.iter().find(|f| f.tag == 0xA1).map(|f| read_tlv(f.content).unwrap().0.content).unwrap();
        yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_u8(1);
                w.next().write_bytes(secret);
                w.next().write_tagged(yasna::Tag::context(0), |w| w.write_oid(&ObjectIdentifier::from_slice(curve)));
                w.next().write_tagged(yasna::Tag::context(1), |w| {
                    w.write_bitvec_bytes(&public[1..], (public.len() - 1) * 8);
                });
            });
        })
    }

    /// The whole key, PKCS#8 DER.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The secret part alone: the ECDSA scalar, the Ed25519 seed, or (RSA) the whole
    /// PKCS#8 document — what must never be found in the database or a response.
    pub fn secret_bytes(&self) -> Vec<u8> {
        if let KeyKind::Rsa(_) = self.kind {
            return self.pkcs8.clone();
        }
        let outer = sequence(&self.pkcs8).unwrap();
        let private = outer[2].content;
        match self.kind {
            KeyKind::Ed25519 => read_tlv(private).unwrap().0.content.to_vec(),
            _ => sequence(private).unwrap()[1].content.to_vec(),
        }
    }

    fn key_pair(&self) -> KeyPair {
        match self.kind {
            KeyKind::Rsa(_) => KeyPair::from_pkcs8_der_and_sign_algo(&self.pkcs8.as_slice().into(), &PKCS_RSA_SHA256).unwrap(),
            _ => KeyPair::try_from(self.pkcs8.as_slice()).unwrap(),
        }
    }
}

/// From `not_before` to `not_after`, in days from now (negative: in the past).
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub from_days: i64,
    pub to_days: i64,
}

impl Validity {
    pub const YEAR: Validity = Validity { from_days: -1, to_days: 365 };
    pub const EXPIRED: Validity = Validity { from_days: -400, to_days: -35 };
    pub const NOT_YET_VALID: Validity = Validity { from_days: 10, to_days: 375 };
    pub const EXPIRING: Validity = Validity { from_days: -300, to_days: 12 };
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

fn leaf_params(sans: &[&str], validity: Validity) -> CertificateParams {
    let mut params = CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name = dn(sans.first().copied().unwrap_or("test"));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = OffsetDateTime::now_utc();
    params.not_before = now + Duration::days(validity.from_days);
    params.not_after = now + Duration::days(validity.to_days);
    params
}

/// A self-signed server certificate (PEM) for `sans`.
pub fn self_signed(sans: &[&str], key: &TestKey, validity: Validity) -> String {
    leaf_params(sans, validity).self_signed(&key.key_pair()).unwrap().pem()
}

/// A CA (root or intermediate) that issues test certificates.
pub struct TestCa {
    certificate: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    pub fn root(common_name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let certificate = Self::params(common_name).self_signed(&key).unwrap();
        Self { certificate, key }
    }

    pub fn intermediate(&self, common_name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let certificate = Self::params(common_name).signed_by(&key, &self.certificate, &self.key).unwrap();
        Self { certificate, key }
    }

    fn params(common_name: &str) -> CertificateParams {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = dn(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        params
    }

    pub fn pem(&self) -> String {
        self.certificate.pem()
    }

    /// A server certificate (PEM, the leaf alone) for `sans` and `key`.
    pub fn issue(&self, sans: &[&str], key: &TestKey, validity: Validity) -> String {
        leaf_params(sans, validity).signed_by(&key.key_pair(), &self.certificate, &self.key).unwrap().pem()
    }
}

/// A certificate (PEM) for a public key rcgen cannot sign for (RSA 1024, P-521), built
/// field by field and signed by a throwaway ECDSA P-256 issuer.
fn certificate_for(sans: &[&str], spki: &[u8]) -> String {
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
    let rng = ring::rand::SystemRandom::new();
    let issuer_pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let issuer = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, issuer_pkcs8.as_ref(), &rng).unwrap();
    let ecdsa_with_sha256 = ObjectIdentifier::from_slice(&[1, 2, 840, 10045, 4, 3, 2]);
    let name = |w: yasna::DERWriter<'_>, common_name: &str| {
        w.write_sequence(|w| {
            w.next().write_set(|w| {
                w.next().write_sequence(|w| {
                    w.next().write_oid(&ObjectIdentifier::from_slice(&[2, 5, 4, 3]));
                    w.next().write_utf8_string(common_name);
                });
            });
        });
    };
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let tbs = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_tagged(yasna::Tag::context(0), |w| w.write_u8(2));
            w.next().write_bigint_bytes(&random_integer(16), true);
            w.next().write_sequence(|w| w.next().write_oid(&ecdsa_with_sha256));
            name(w.next(), "Test issuer");
            w.next().write_sequence(|w| {
                w.next().write_utctime(&yasna::models::UTCTime::from_datetime(now - Duration::days(1)));
                w.next().write_utctime(&yasna::models::UTCTime::from_datetime(now + Duration::days(365)));
            });
            name(w.next(), sans.first().copied().unwrap_or("test"));
            w.next().write_der(spki);
            w.next().write_tagged(yasna::Tag::context(3), |w| {
                w.write_sequence(|w| {
                    w.next().write_sequence(|w| {
                        w.next().write_oid(&ObjectIdentifier::from_slice(&[2, 5, 29, 17]));
                        w.next().write_bytes(&yasna::construct_der(|w| {
                            w.write_sequence(|w| {
                                for san in sans {
                                    w.next().write_tagged_implicit(yasna::Tag::context(2), |w| {
                                        w.write_ia5_string(san);
                                    });
                                }
                            });
                        }));
                    });
                });
            });
        });
    });
    let signature = issuer.sign(&rng, &tbs).unwrap();
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_der(&tbs);
            w.next().write_sequence(|w| w.next().write_oid(&ecdsa_with_sha256));
            w.next().write_bitvec_bytes(signature.as_ref(), signature.as_ref().len() * 8);
        });
    });
    pem::encode("CERTIFICATE", &der)
}

/// A certificate and key (PEM) of an algorithm Gatehouse refuses.
pub struct Refused {
    pub certificate_pem: String,
    pub key_pem: String,
}

/// An RSA 1024 key (PKCS#1) with a certificate for it.
pub fn rsa_1024(sans: &[&str]) -> Refused {
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024).unwrap();
    let spki = rsa::pkcs8::EncodePublicKey::to_public_key_der(&key.to_public_key()).unwrap();
    Refused {
        certificate_pem: certificate_for(sans, spki.as_bytes()),
        key_pem: key.to_pkcs1_pem(LineEnding::LF).unwrap().to_string(),
    }
}

/// An ECDSA P-521 key (PKCS#8) with a certificate for it.
pub fn p521(sans: &[&str]) -> Refused {
    let key = p521::SecretKey::random(&mut p521::elliptic_curve::rand_core::OsRng);
    let spki = p521::pkcs8::EncodePublicKey::to_public_key_der(&key.public_key()).unwrap();
    Refused {
        certificate_pem: certificate_for(sans, spki.as_bytes()),
        key_pem: p521::pkcs8::EncodePrivateKey::to_pkcs8_pem(&key, LineEnding::LF).unwrap().to_string(),
    }
}

fn random_integer(bytes: usize) -> Vec<u8> {
    use ring::rand::SecureRandom as _;
    let mut out = vec![0u8; bytes];
    ring::rand::SystemRandom::new().fill(&mut out).unwrap();
    out[0] = (out[0] & 0x7F) | 0x40;
    out
}

/// A DSA private key in PKCS#8 (`PRIVATE KEY`), with random domain parameters: Gatehouse
/// refuses DSA by its algorithm identifier, whatever the numbers.
pub fn dsa_key_pem() -> String {
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(0);
            w.next().write_sequence(|w| {
                w.next().write_oid(&ObjectIdentifier::from_slice(&[1, 2, 840, 10040, 4, 1]));
                w.next().write_sequence(|w| {
                    for size in [256, 32, 256] {
                        w.next().write_bigint_bytes(&random_integer(size), true);
                    }
                });
            });
            w.next().write_bytes(&yasna::construct_der(|w| w.write_bigint_bytes(&random_integer(32), true)));
        });
    });
    pem::encode("PRIVATE KEY", &der)
}

/// A PKCS#8 key encrypted under a passphrase (`ENCRYPTED PRIVATE KEY`: PBES2 with PBKDF2
/// and AES-256-CBC, as `openssl pkcs8 -topk8` writes).
pub fn encrypted_pkcs8_pem() -> String {
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                w.next().write_oid(&ObjectIdentifier::from_slice(&[1, 2, 840, 113_549, 1, 5, 13]));
                w.next().write_sequence(|w| {
                    w.next().write_sequence(|w| {
                        w.next().write_oid(&ObjectIdentifier::from_slice(&[1, 2, 840, 113_549, 1, 5, 12]));
                        w.next().write_sequence(|w| {
                            w.next().write_bytes(&random_integer(16));
                            w.next().write_u32(2048);
                        });
                    });
                    w.next().write_sequence(|w| {
                        w.next().write_oid(&ObjectIdentifier::from_slice(&[2, 16, 840, 1, 101, 3, 4, 1, 42]));
                        w.next().write_bytes(&random_integer(16));
                    });
                });
            });
            w.next().write_bytes(&random_integer(160));
        });
    });
    pem::encode("ENCRYPTED PRIVATE KEY", &der)
}

/// A key in OpenSSL's legacy encrypted form (`Proc-Type: 4,ENCRYPTED`).
pub fn legacy_encrypted_pem() -> String {
    let body = pem::encode("EC PRIVATE KEY", &random_integer(121));
    body.replacen(
        "-----\n",
        "-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,0123456789ABCDEF0123456789ABCDEF\n\n",
        1,
    )
}

/// The PEM with its END line and the last part of its body cut off.
pub fn truncate(pem: &str) -> String {
    let end = pem.find("-----END").unwrap_or(pem.len());
    pem[..end / 2].to_owned()
}
