//! Certificates Gatehouse issues itself: `--demo` gives each environment its own key pair
//! and certificate, signed by a demo CA made at seed time (rcgen with ring, ECDSA P-256).

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

use domain::PrivateKeyPem;

/// A chain (leaf, then the CA) and the leaf's key, ready for the upload path.
pub struct Issued {
    pub chain_pem: String,
    pub key_pem: PrivateKeyPem,
}

/// A CA that lives only as long as the seeding: its key is never stored.
pub struct DemoCa {
    certificate: rcgen::Certificate,
    key: KeyPair,
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Gatehouse demo");
    name.push(DnType::CommonName, common_name);
    name
}

impl DemoCa {
    pub fn new() -> Result<Self, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name("Gatehouse demo CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(3650);
        let certificate = params.self_signed(&key)?;
        Ok(Self { certificate, key })
    }

    /// A server certificate for `hostnames`, valid from yesterday for `days` days, with a
    /// fresh key.
    pub fn issue(&self, hostnames: &[String], days: i64) -> Result<Issued, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(hostnames.to_vec())?;
        params.distinguished_name = name(hostnames.first().map_or("gatehouse", String::as_str));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(days);
        let leaf = params.signed_by(&key, &self.certificate, &self.key)?;
        Ok(Issued {
            chain_pem: format!("{}{}", leaf.pem(), self.certificate.pem()),
            key_pem: PrivateKeyPem::new(key.serialize_pem()),
        })
    }
}
