//! Prints a fresh ECDSA P-256 key and a self-signed certificate for the hostnames given on
//! the command line, as JSON `{"certificate_pem", "private_key_pem"}`, for the end-to-end
//! tests: they upload real certificates made at test time, as the integration tests do.
use backend::certificates::testing::{Encoding, TestKey, Validity, self_signed};

fn main() {
    let hosts: Vec<String> = std::env::args().skip(1).collect();
    if hosts.is_empty() {
        eprintln!("usage: test-certificate HOSTNAME…");
        std::process::exit(2);
    }
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let key = TestKey::p256();
    let certificate = self_signed(&hosts, &key, Validity::YEAR);
    println!("{}", serde_json::json!({"certificate_pem": certificate, "private_key_pem": key.pem(Encoding::Pkcs8)}));
}
