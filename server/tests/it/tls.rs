//! The portal's own HTTPS listener, with a certificate made at test time.
use crate::harness::{DbKind, FreshDatabase, TestApp};

#[tokio::test]
async fn serves_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let cert_path = dir.path().join("tls.crt");
    let key_path = dir.path().join("tls.key");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();

    let app = TestApp::spawn_with(FreshDatabase::new(DbKind::Sqlite).await, |config| {
        config.tls_cert = Some(cert_path.clone());
        config.tls_key = Some(key_path.clone());
    })
    .await;
    assert!(app.url.starts_with("https://"));

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let response = client.get(app.at("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("strict-transport-security").is_some());

    // Plain HTTP to the TLS port gets no page.
    let plain = app.url.replace("https://", "http://");
    assert!(reqwest::get(format!("{plain}/healthz")).await.map(|r| r.status().is_success()).unwrap_or(false) == false);
    app.stop().await;
}

#[tokio::test]
async fn a_missing_key_file_is_a_clear_start_error() {
    let database = FreshDatabase::new(DbKind::Sqlite).await;
    let mut config = gatehouse::Config::for_tests(&database.url, crate::harness::site_root());
    config.tls_cert = Some("/nonexistent/tls.crt".into());
    config.tls_key = Some("/nonexistent/tls.key".into());
    let error = gatehouse::Gatehouse::start(config).await.err().expect("start fails");
    assert!(error.to_string().contains("/nonexistent/tls.crt"), "{error}");
}
