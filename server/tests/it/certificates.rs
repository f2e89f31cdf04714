//! Certificates through the real API on both databases: uploads of every key type, status,
//! history, GH-TLS-DISTINCT, every bad input with nothing stored, keys never in plaintext at
//! rest nor in any response, and the TLS Secret in the bundle, validated against the schemas.
#![expect(clippy::unwrap_used, reason = "in tests a failure is a failed test")]
use backend::certificates::testing::{self, Encoding, KeyKind, TestCa, TestKey, Validity, self_signed};
use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{DbKind, FreshDatabase, TestApp};

const DEV_HOST: &str = "ledger-dev.mdhlabs.com";

fn body(name: &str, certificate: &str, key: &str) -> Value {
    json!({"name": name, "certificate_pem": certificate, "private_key_pem": key})
}

async fn upload(app: &TestApp, environment: &str, name: &str, certificate: &str, key: &str) -> (u16, Value) {
    app.post_json(&format!("/api/v1/environments/{environment}/certificates"), &body(name, certificate, key)).await
}

/// A P-256 key in PKCS#8 and a self-signed certificate for `hosts`.
fn pair(hosts: &[&str], validity: Validity) -> (TestKey, String, String) {
    let key = TestKey::p256();
    let certificate = self_signed(hosts, &key, validity);
    let pem = key.pem(Encoding::Pkcs8);
    (key, certificate, pem)
}

/// What of `key` is found in `haystack`, if anything: its PEM body, its DER, or its secret
/// bytes raw, in hex, or in base64 at any alignment. (Single PEM lines are not searched: the
/// last ones encode the public key, which the certificate holds too.)
fn leak(haystack: &[u8], key: &TestKey) -> Option<String> {
    let pem = key.pem(Encoding::Pkcs8);
    let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
    let secret = key.secret_bytes();
    let mut needles: Vec<(String, Vec<u8>)> = vec![
        ("the PEM body".to_owned(), body.into_bytes()),
        ("the PEM body's first line".to_owned(), pem.lines().nth(1).unwrap_or_default().as_bytes().to_vec()),
        ("the PKCS#8 DER".to_owned(), key.pkcs8_der().to_vec()),
        ("the secret bytes".to_owned(), secret.clone()),
        ("the secret bytes in hex".to_owned(), secret.iter().map(|b| format!("{b:02x}")).collect::<String>().into_bytes()),
    ];
    for shift in 0..3 {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&secret[shift..]);
        // Drop the last characters, which depend on what follows the secret.
        let inner = encoded.trim_end_matches('=');
        needles.push((format!("the secret bytes in base64 (shift {shift})"), inner.as_bytes()[..inner.len() - 2].to_vec()));
    }
    needles
        .into_iter()
        .find(|(_, needle)| haystack.windows(needle.len()).any(|w| w == needle.as_slice()))
        .map(|(what, _)| what)
}

async fn count(app: &TestApp, table: &str) -> i64 {
    use sqlx::Row;
    let db = backend::db::Database::connect(&app.database.url).await.unwrap();
    let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}")).fetch_one(db.pool()).await.unwrap();
    let n = row.try_get("n").unwrap();
    db.close().await;
    n
}

async fn ledger_application(app: &TestApp) {
    let ledger = json!({
        "name": "ledger", "namespace": "ledger", "image": "registry.example/ledger:2.0.1", "replicas": 2, "port": 8080,
        "environments": {"dev": {"hostnames": [DEV_HOST], "certificate": "ledger-tls", "vip": "auto"}}
    });
    let (status, created) = app.post_json("/api/v1/applications", &ledger).await;
    assert_eq!(status, 201, "{created}");
}

async fn upload_read_back_and_replace_with_history(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let root = TestCa::root("Ledger Root");
    let intermediate = root.intermediate("Ledger Intermediate");
    let key = TestKey::p256();
    let leaf = intermediate.issue(&[DEV_HOST], &key, Validity::YEAR);
    let chain = format!("{leaf}{}", intermediate.pem());
    let (status, first) = upload(&app, "dev", "ledger-tls", &chain, &key.pem(Encoding::Sec1)).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["environment"], "dev");
    assert_eq!(first["name"], "ledger-tls");
    assert_eq!(first["subject"], format!("CN={DEV_HOST}"));
    assert_eq!(first["issuer"], "CN=Ledger Intermediate");
    assert_eq!(first["sans"], json!([DEV_HOST]));
    assert_eq!(first["key_type"], "ECDSA P-256");
    assert_eq!(first["status"], "valid", "unused and in date");
    assert_eq!(first["chain_length"], 2);
    assert_eq!(first["fingerprint_sha256"].as_str().unwrap().len(), 64);
    assert!(first["not_after"].as_str().unwrap().ends_with('Z'));
    assert_eq!(first["findings"], json!([]));
    let id = first["id"].as_i64().unwrap();

    let (status, fetched) = app.get_json(&format!("/api/v1/certificates/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(fetched["chain"][1]["subject"], "CN=Ledger Intermediate");
    assert_eq!(fetched["chain"][1]["is_ca"], true);
    assert_eq!(fetched["history"], json!([]));

    // A renewal replaces it; the old one stays as history.
    let renewed_key = TestKey::p256();
    let renewed = self_signed(&[DEV_HOST], &renewed_key, Validity::YEAR);
    let (status, second) = upload(&app, "dev", "ledger-tls", &renewed, &renewed_key.pem(Encoding::Pkcs8)).await;
    assert_eq!(status, 201, "{second}");
    let second_id = second["id"].as_i64().unwrap();
    let (_, current) = app.get_json(&format!("/api/v1/certificates/{second_id}")).await;
    assert_eq!(current["history"][0]["id"], id);
    assert_eq!(current["history"][0]["status"], "superseded");
    assert!(current["history"][0]["superseded_at"].is_string());
    let (_, old) = app.get_json(&format!("/api/v1/certificates/{id}")).await;
    assert_eq!((old["status"].as_str(), old["current_id"].as_i64()), (Some("superseded"), Some(second_id)));

    let (_, dev) = app.get_json("/api/v1/environments/dev/certificates").await;
    let names: Vec<&str> = dev.as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["api-tls", "ledger-tls"], "the demo's certificate and the current ledger one");
    let (status, _) = app.get_json("/api/v1/environments/staging/certificates").await;
    assert_eq!(status, 404);

    // Both writes are in the audit log, without key material.
    let db = backend::db::Database::connect(&app.database.url).await.unwrap();
    let entries = backend::audit::list(&db, Some("certificate/dev/ledger-tls")).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["certificate.upload", "certificate.replace"]);
    for entry in &entries {
        let text = serde_json::to_string(entry).unwrap();
        assert_eq!(leak(text.as_bytes(), &key), None);
        assert_eq!(leak(text.as_bytes(), &renewed_key), None);
    }
    db.close().await;
}

async fn every_key_type_and_encoding_uploads(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let rsa = TestKey::new(KeyKind::Rsa(2048));
    let cases = [
        (TestKey::p256(), Encoding::Pkcs8, "ECDSA P-256"),
        (TestKey::p256(), Encoding::Sec1, "ECDSA P-256"),
        (TestKey::new(KeyKind::P384), Encoding::Sec1, "ECDSA P-384"),
        (TestKey::new(KeyKind::Ed25519), Encoding::Pkcs8, "Ed25519"),
    ];
    let mut uploads: Vec<(String, String, String)> = cases
        .iter()
        .map(|(key, encoding, key_type)| {
            (self_signed(&[DEV_HOST], key, Validity::YEAR), key.pem(*encoding), (*key_type).to_owned())
        })
        .collect();
    let rsa_certificate = self_signed(&[DEV_HOST], &rsa, Validity::YEAR);
    uploads.push((rsa_certificate.clone(), rsa.pem(Encoding::Pkcs1), "RSA 2048".to_owned()));
    uploads.push((rsa_certificate, rsa.pem(Encoding::Pkcs8), "RSA 2048".to_owned()));
    for (i, (certificate, key, key_type)) in uploads.iter().enumerate() {
        let (status, stored) = upload(&app, "dev", &format!("kind-{i}"), certificate, key).await;
        assert_eq!(status, 201, "{key_type}: {stored}");
        assert_eq!(stored["key_type"], key_type.as_str());
    }
}

async fn status_follows_validity_and_hostnames(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    // An application may name a certificate before it is uploaded: the checklist says so.
    ledger_application(&app).await;
    let (_, report) = app.get_json("/api/v1/applications/ledger/checklist").await;
    let rules: Vec<&str> = report["findings"].as_array().unwrap().iter().filter_map(|f| f["rule"].as_str()).collect();
    assert!(rules.contains(&"GH-CERT-MISSING"), "{report}");

    let cases = [
        (vec![DEV_HOST], Validity::EXPIRED, "expired", Some("GH-CERT-EXPIRED")),
        (vec![DEV_HOST], Validity::NOT_YET_VALID, "not_yet_valid", Some("GH-CERT-EXPIRED")),
        (vec!["ledger.mdhlabs.com"], Validity::YEAR, "mismatch", Some("GH-CERT-SAN")),
        (vec![DEV_HOST], Validity::EXPIRING, "expiring", Some("GH-CERT-EXPIRING")),
        (vec!["*.mdhlabs.com"], Validity::YEAR, "valid", None),
        (vec!["*.dev.mdhlabs.com"], Validity::YEAR, "mismatch", Some("GH-CERT-SAN")),
        (vec![DEV_HOST], Validity::YEAR, "valid", None),
    ];
    for (hosts, validity, expected, rule) in cases {
        let (_, certificate, key) = pair(&hosts, validity);
        let (status, stored) = upload(&app, "dev", "ledger-tls", &certificate, &key).await;
        assert_eq!(status, 201, "{hosts:?}: {stored}");
        assert_eq!(stored["status"], expected, "{hosts:?} {validity:?}: {stored}");
        assert_eq!(stored["used_by"][0]["application"], "ledger");
        assert_eq!(stored["used_by"][0]["gateway"], "ledger-dev/ledger-dev");
        let found: Vec<&str> = stored["findings"].as_array().unwrap().iter().filter_map(|f| f["rule"].as_str()).collect();
        match rule {
            Some(rule) => assert!(found.contains(&rule), "{hosts:?} {validity:?}: {stored}"),
            None => assert!(found.is_empty(), "{stored}"),
        }
        if expected == "mismatch" {
            assert_eq!(stored["used_by"][0]["uncovered"], json!([DEV_HOST]));
            assert!(stored["status_detail"].as_str().unwrap().contains(DEV_HOST), "{stored}");
        }
    }
    let (_, report) = app.get_json("/api/v1/applications/ledger/checklist").await;
    assert_eq!(report["errors"], 0, "a valid certificate covering the hostname: {report}");

    // Filters and order come from the query string.
    let (_, valid_dev) = app.get_json("/api/v1/certificates?environment=dev&status=valid").await;
    let names: Vec<&str> = valid_dev.as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["api-tls", "ledger-tls"]);
    let (_, by_expiry) = app.get_json("/api/v1/certificates?sort=expiry").await;
    let places: Vec<String> =
        by_expiry.as_array().unwrap().iter().map(|c| format!("{}/{}", c["environment"], c["name"]).replace('"', "")).collect();
    assert_eq!(places, ["dev/api-tls", "dev/ledger-tls", "prod/api-tls"], "the demo's dev certificate expires first");
    let (_, none) = app.get_json("/api/v1/certificates?status=expired").await;
    assert_eq!(none, json!([]));
}

async fn dev_and_prod_never_share_a_certificate_or_key(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let key = TestKey::p256();
    let certificate = self_signed(&[DEV_HOST, "ledger.mdhlabs.com"], &key, Validity::YEAR);
    let key_pem = key.pem(Encoding::Pkcs8);
    let (status, _) = upload(&app, "dev", "ledger-tls", &certificate, &key_pem).await;
    assert_eq!(status, 201);
    let before = count(&app, "certificates").await;

    let (status, error) = upload(&app, "prod", "ledger-tls", &certificate, &key_pem).await;
    assert_eq!(status, 409, "{error}");
    assert_eq!(error["error"]["rule"], "GH-TLS-DISTINCT");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("ledger-tls in dev") && message.contains("same certificate"), "{message}");

    // Another certificate for the same key: refused as a shared key.
    let reissued = self_signed(&["ledger.mdhlabs.com"], &key, Validity::YEAR);
    let (status, error) = upload(&app, "prod", "ledger-tls", &reissued, &key_pem).await;
    assert_eq!((status, error["error"]["rule"].as_str()), (409, Some("GH-TLS-DISTINCT")), "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("private key"), "{error}");

    // A key dev used before its renewal is still dev's key.
    let (_, fresh, fresh_key) = pair(&[DEV_HOST], Validity::YEAR);
    let (status, _) = upload(&app, "dev", "ledger-tls", &fresh, &fresh_key).await;
    assert_eq!(status, 201);
    let (status, error) = upload(&app, "prod", "ledger-tls", &certificate, &key_pem).await;
    assert_eq!(status, 409, "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("replaced there on"), "{error}");
    assert_eq!(count(&app, "certificates").await, before + 1, "only dev's renewal was stored");
}

async fn bad_input_gets_its_own_message_and_nothing_is_stored(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let (_, certificate, key) = pair(&[DEV_HOST], Validity::YEAR);
    let (_, _, other_key) = pair(&[DEV_HOST], Validity::YEAR);
    let rsa_1024 = testing::rsa_1024(&[DEV_HOST]);
    let p521 = testing::p521(&[DEV_HOST]);
    let root = TestCa::root("Root");
    let intermediate = root.intermediate("Intermediate");
    let chained_key = TestKey::p256();
    let leaf = intermediate.issue(&[DEV_HOST], &chained_key, Validity::YEAR);
    let huge = format!("{certificate}{}", "#".repeat(1024 * 1024));
    let certificates = count(&app, "certificates").await;
    let audit = count(&app, "audit_log").await;

    let cases: Vec<(&str, Value, u16, &str, &str, &str)> = vec![
        ("not a certificate", body("x", "hello", &key), 422, "not_a_certificate", "certificate_pem", "no PEM block"),
        ("a key as certificate", body("x", &key, &key), 422, "key_in_certificate_field", "certificate_pem", "private key field"),
        ("key of another certificate", body("x", &certificate, &other_key), 422, "key_mismatch", "private_key_pem", "does not belong"),
        ("truncated certificate", body("x", &testing::truncate(&certificate), &key), 422, "truncated", "certificate_pem", "cut off"),
        ("truncated key", body("x", &certificate, &testing::truncate(&key)), 422, "truncated", "private_key_pem", "cut off"),
        ("encrypted key", body("x", &certificate, &testing::encrypted_pkcs8_pem()), 422, "encrypted_key", "private_key_pem", "passphrase"),
        ("legacy encrypted key", body("x", &certificate, &testing::legacy_encrypted_pem()), 422, "encrypted_key", "private_key_pem", "passphrase"),
        ("RSA 1024", body("x", &rsa_1024.certificate_pem, &rsa_1024.key_pem), 422, "unsupported_algorithm", "certificate_pem", "RSA 1024"),
        ("P-521", body("x", &p521.certificate_pem, &p521.key_pem), 422, "unsupported_algorithm", "certificate_pem", "P-521"),
        ("DSA key", body("x", &certificate, &testing::dsa_key_pem()), 422, "unsupported_algorithm", "private_key_pem", "DSA"),
        ("chain out of order", body("x", &format!("{}{leaf}", intermediate.pem()), &chained_key.pem(Encoding::Pkcs8)), 422, "chain_out_of_order", "certificate_pem", "in this order"),
        ("file over 1 MiB", body("x", &huge, &key), 413, "file_too_large", "certificate_pem", "1 MiB"),
        ("no key", json!({"name": "x", "certificate_pem": certificate}), 422, "required", "private_key_pem", "private key is required"),
        ("bad name", body("API TLS", &certificate, &key), 422, "invalid_k8s_name", "name", "not a valid Kubernetes name"),
        ("both forms", json!({"name": "x", "certificate_pem": certificate, "secret_ref": {"namespace": "a", "name": "b"}}), 422, "ambiguous_source", "secret_ref", "not both"),
        ("unknown field", json!({"name": "x", "key": "y"}), 400, "malformed_body", "", "every value a string"),
    ];
    for (what, request, status, code, field, fragment) in cases {
        let (got, error) = app.post_json("/api/v1/environments/dev/certificates", &request).await;
        assert_eq!(got, status, "{what}: {error}");
        assert_eq!(error["error"]["code"], code, "{what}: {error}");
        if !field.is_empty() {
            assert_eq!(error["error"]["field"], field, "{what}: {error}");
        }
        let message = error["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(fragment), "{what}: {message}");
        assert!(!message.contains(&key.lines().nth(1).unwrap()[..20]), "{what} echoes the upload: {message}");
    }

    // A body over the route's limit: its own 413, not a generic one.
    let (status, error) = upload(&app, "dev", "x", &"#".repeat(2 * 1024 * 1024), &"#".repeat(1024 * 1024 + 10)).await;
    assert_eq!((status, error["error"]["code"].as_str()), (413, Some("file_too_large")), "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("1 MiB each"), "{error}");
    let (status, error) = upload(&app, "staging", "x", &certificate, &key).await;
    assert_eq!((status, error["error"]["code"].as_str()), (404, Some("environment_not_found")), "{error}");

    assert_eq!(count(&app, "certificates").await, certificates, "nothing stored");
    assert_eq!(count(&app, "audit_log").await, audit, "nothing recorded");
}

async fn keys_are_never_stored_in_plaintext(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let keys = [TestKey::p256(), TestKey::new(KeyKind::P384), TestKey::new(KeyKind::Ed25519)];
    for (i, key) in keys.iter().enumerate() {
        let certificate = self_signed(&[DEV_HOST], key, Validity::YEAR);
        let (status, stored) = upload(&app, "dev", &format!("scan-{i}"), &certificate, &key.pem(Encoding::Pkcs8)).await;
        assert_eq!(status, 201, "{stored}");
    }
    // Every byte the database holds.
    let contents: Vec<u8> = match kind {
        DbKind::Sqlite => {
            let file = backend::db::sqlite_file(&app.database.url).unwrap();
            let mut bytes = std::fs::read(&file).unwrap();
            for suffix in ["-wal", "-shm"] {
                if let Ok(more) = std::fs::read(format!("{}{suffix}", file.display())) {
                    bytes.extend(more);
                }
            }
            bytes
        }
        DbKind::Postgres => {
            use sqlx::{Connection, Row};
            let mut conn = sqlx::PgConnection::connect(&app.database.url).await.unwrap();
            let mut text = Vec::new();
            for table in ["certificates", "audit_log", "environments", "applications"] {
                let rows = sqlx::query(&format!("SELECT row_to_json(t)::text AS row FROM {table} t"))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                for row in rows {
                    text.extend(row.try_get::<String, _>("row").unwrap().into_bytes());
                }
            }
            let sealed = sqlx::query("SELECT sealed_key FROM certificates WHERE sealed_key IS NOT NULL")
                .fetch_all(&mut conn)
                .await
                .unwrap();
            assert!(sealed.len() >= 3, "the keys are there, sealed");
            for row in sealed {
                text.extend(row.try_get::<Vec<u8>, _>("sealed_key").unwrap());
            }
            conn.close().await.unwrap();
            text
        }
    };
    assert!(contents.len() > 10_000);
    assert!(contents.windows(b"BEGIN CERTIFICATE".len()).any(|w| w == b"BEGIN CERTIFICATE"), "the scan reads the stored chains");
    for key in &keys {
        assert_eq!(leak(&contents, key), None, "{:?} key found in the database", key.kind);
    }
}

async fn no_response_ever_carries_a_key(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let (key, certificate, key_pem) = pair(&[DEV_HOST], Validity::YEAR);
    let mut responses = Vec::new();
    let (_, created) = upload(&app, "dev", "ledger-tls", &certificate, &key_pem).await;
    let id = created["id"].as_i64().unwrap();
    responses.push(created.to_string());
    // Refusals, even of a body that puts the key where a JSON reader would quote it.
    let misplaced = json!({"name": "ledger-tls", "certificate_pem": certificate, "secret_ref": key_pem});
    for bad in [body("ledger-tls", &certificate, &testing::truncate(&key_pem)), body("Bad Name", &certificate, &key_pem), misplaced] {
        responses.push(app.post_json("/api/v1/environments/dev/certificates", &bad).await.1.to_string());
    }
    responses.push(upload(&app, "prod", "ledger-tls", &certificate, &key_pem).await.1.to_string());
    for path in [
        "/api/v1/certificates".to_owned(),
        format!("/api/v1/certificates/{id}"),
        "/api/v1/environments/dev/certificates".to_owned(),
        "/api/v1/certificates?status=valid&sort=-expiry".to_owned(),
        "/certificates".to_owned(),
        format!("/certificates/{id}"),
        "/checklist".to_owned(),
        "/api/v1/bundle.yaml".to_owned(),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        responses.push(response.text().await.unwrap());
    }
    for (i, text) in responses.iter().enumerate() {
        assert_eq!(leak(text.as_bytes(), &key), None, "response {i}: {text}");
    }
}

/// The bundle of one application in one environment is the one place a key goes: as the
/// Gateway's `kubernetes.io/tls` Secret, matching the certificate, valid against the schema.
async fn the_bundle_carries_the_tls_secret_for_the_gateway(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let registry = backend::schema::SchemaRegistry::load(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/crds")),
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/kubernetes-schemas")),
    )
    .unwrap();
    for environment in ["dev", "prod"] {
        let yaml = app.get(&format!("/api/v1/applications/api/bundle.yaml?environment={environment}")).await.text().await.unwrap();
        let objects: Vec<Value> = serde_yaml::Deserializer::from_str(&yaml)
            .map(|document| serde_yaml::from_value::<Value>(serde_yaml::Value::deserialize(document).unwrap()).unwrap())
            .collect();
        let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
        assert_eq!(kinds, ["Namespace", "ConfigMap", "Deployment", "Service", "Secret", "Gateway", "HTTPRoute"]);
        for object in &objects {
            registry.validate(object).unwrap_or_else(|v| panic!("{} breaks its schema: {v:?}", object["kind"]));
        }
        let secret = &objects[4];
        assert_eq!(secret["type"], "kubernetes.io/tls");
        let gateway = &objects[5];
        assert_eq!(gateway["spec"]["listeners"][0]["tls"]["certificateRefs"][0]["name"], secret["metadata"]["name"]);
        let decode = |field: &str| {
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(secret["data"][field].as_str().unwrap()).unwrap())
                .unwrap()
        };
        let (chain, key) = (decode("tls.crt"), decode("tls.key"));
        let parsed = backend::certificates::parse_upload(&chain, &domain::PrivateKeyPem::new(key))
            .expect("the Secret's key belongs to its certificate");
        let host = if environment == "dev" { "api-dev.mdhlabs.com" } else { "api.mdhlabs.com" };
        assert_eq!(parsed.leaf().sans, [host]);
    }
    let whole = app.get("/api/v1/bundle.yaml").await.text().await.unwrap();
    assert!(!whole.contains("tls.key") && !whole.contains("kubernetes.io/tls"), "no keys in the whole plan's bundle");
}

async fn the_demo_gives_each_environment_its_own_certificate(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let (_, all) = app.get_json("/api/v1/certificates").await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2);
    for (certificate, host) in all.iter().zip(["api-dev.mdhlabs.com", "api.mdhlabs.com"]) {
        assert_eq!(certificate["name"], "api-tls");
        assert_eq!(certificate["sans"], json!([host]));
        assert_eq!(certificate["status"], "valid", "{certificate}");
        assert_eq!(certificate["issuer"], "O=Gatehouse demo, CN=Gatehouse demo CA");
        assert_eq!(certificate["used_by"][0]["application"], "api");
    }
    assert_ne!(all[0]["fingerprint_sha256"], all[1]["fingerprint_sha256"]);
    let (_, conflicts) = app.get_json("/api/v1/conflicts").await;
    assert_eq!(conflicts["findings"], json!([]), "the demo plan is clean with its certificates");
}

async fn delete_refuses_while_in_use_and_takes_history_along(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let (_, demo) = app.get_json("/api/v1/certificates?environment=dev").await;
    let demo_id = demo[0]["id"].as_i64().unwrap();
    let response = app.client.delete(app.at(&format!("/api/v1/certificates/{demo_id}"))).send().await.unwrap();
    assert_eq!(response.status(), 409);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "certificate_in_use");
    assert!(error["error"]["message"].as_str().unwrap().contains("application api"), "{error}");

    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, certificate, key) = pair(&["spare.mdhlabs.com"], Validity::YEAR);
        ids.push(upload(&app, "dev", "spare-tls", &certificate, &key).await.1["id"].as_i64().unwrap());
    }
    let response = app.client.delete(app.at(&format!("/api/v1/certificates/{}", ids[0]))).send().await.unwrap();
    assert_eq!(response.status(), 204, "an old version alone");
    let (_, current) = app.get_json(&format!("/api/v1/certificates/{}", ids[2])).await;
    assert_eq!(current["history"].as_array().map(Vec::len), Some(1));
    let response = app.client.delete(app.at(&format!("/api/v1/certificates/{}", ids[2]))).send().await.unwrap();
    assert_eq!(response.status(), 204);
    for id in &ids {
        let (status, _) = app.get_json(&format!("/api/v1/certificates/{id}")).await;
        assert_eq!(status, 404, "version {id} went with the certificate");
    }
    let response = app.client.delete(app.at("/api/v1/environments/dev")).send().await.unwrap();
    assert_eq!(response.status(), 409);
    let (status, error) = app.get_json("/api/v1/certificates/api-tls").await;
    assert_eq!((status, error["error"]["code"].as_str()), (404, Some("certificate_not_found")), "ids are numbers");

    // An environment whose only remaining use is a certificate says so.
    let staging = json!({"name": "staging", "node_subnets": ["192.168.120.0/24"], "pod_cidrs": ["10.120.0.0/16"],
        "service_cidr": "10.121.0.0/16", "advertisement": {"mode": "arp", "label": {"key": "gatehouse.io/advertise", "value": "staging"}},
        "namespace_template": "{namespace}-staging"});
    let (status, created) = app.post_json("/api/v1/environments", &staging).await;
    assert_eq!(status, 201, "{created}");
    let (_, certificate, key) = pair(&["staging.mdhlabs.com"], Validity::YEAR);
    assert_eq!(upload(&app, "staging", "staging-tls", &certificate, &key).await.0, 201);
    let response = app.client.delete(app.at("/api/v1/environments/staging")).send().await.unwrap();
    assert_eq!(response.status(), 409);
    let error: Value = response.json().await.unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("certificates: [staging-tls]"), "{error}");
}

async fn a_secret_reference_is_pending_until_a_cluster_is_connected(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let reference = json!({"name": "wildcard-tls", "secret_ref": {"namespace": "certificates", "name": "wildcard-tls"}, "owners": ["cd-service-*"]});
    let (status, stored) = app.post_json("/api/v1/environments/dev/certificates", &reference).await;
    assert_eq!(status, 201, "{stored}");
    assert_eq!(stored["source"], "secret");
    assert_eq!(stored["owners"], json!(["cd-service-*"]));
    assert_eq!(stored["status"], "pending");
    assert_eq!(stored["status_detail"], "pending: resolved once a cluster is connected");
    assert_eq!(stored["secret_ref"], json!({"namespace": "certificates", "name": "wildcard-tls"}));
    assert!(stored.get("fingerprint_sha256").is_none());

    // Pointing the demo application at it: a warning, and the bundle refers to that Secret.
    let (_, mut api) = app.get_json("/api/v1/applications/api").await;
    api["environments"]["dev"]["certificate"] = json!("wildcard-tls");
    let (status, body) = app.send_json(Method::PUT, "/api/v1/applications/api", &api).await;
    assert_eq!(status, 200, "{body}");
    let (_, report) = app.get_json("/api/v1/applications/api/checklist").await;
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["findings"][0]["rule"], "GH-CERT-UNVERIFIED");
    let yaml = app.get("/api/v1/applications/api/bundle.yaml?environment=dev").await.text().await.unwrap();
    assert!(yaml.contains("kind: ReferenceGrant") && !yaml.contains("kubernetes.io/tls"), "{yaml}");
    assert!(yaml.contains("namespace: certificates"), "the listener refers to the Secret where it is: {yaml}");
}

async fn the_secret_key_must_be_the_one_that_sealed_the_keys(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let database = app.stop().await;
    let shared = database.shared();
    let other_key = "ab".repeat(32);
    let error = gatehouse::Gatehouse::start({
        let mut config = gatehouse::Config::for_tests(&shared.url, crate::harness::site_root());
        config.secret_key = Some(gatehouse::config::SecretText(other_key));
        config
    })
    .await
    .err()
    .expect("another secret key is refused");
    let message = error.to_string();
    assert!(message.contains("sealed under secret key") && message.contains("GATEHOUSE_SECRET_KEY"), "{message}");
    assert!(!message.contains(&"ab".repeat(8)), "the key itself is never shown: {message}");

    let error = gatehouse::Gatehouse::start({
        let mut config = gatehouse::Config::for_tests(&shared.url, crate::harness::site_root());
        config.secret_key = Some(gatehouse::config::SecretText("tooshort".to_owned()));
        config
    })
    .await
    .err()
    .expect("a malformed secret key is refused");
    assert!(error.to_string().contains("GATEHOUSE_SECRET_KEY must be 32 random bytes"), "{error}");

    // The same key as before: the stored keys open.
    let again = TestApp::spawn_with(database, |_| {}).await;
    let response = again.get("/api/v1/applications/api/bundle.yaml?environment=prod").await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("tls.key"));
}

/// A sealed key is bound to its row: copied into another certificate's row it does not
/// open, and the bundle that needs it fails without saying more than that.
async fn a_sealed_key_moved_to_another_row_does_not_open(kind: DbKind) {
    use sqlx::Row;
    let app = TestApp::spawn_demo(kind).await;
    let db = backend::db::Database::connect(&app.database.url).await.unwrap();
    let rows = sqlx::query("SELECT id, sealed_key FROM certificates ORDER BY id").fetch_all(db.pool()).await.unwrap();
    let (dev_id, prod_id): (i64, i64) = (rows[0].try_get("id").unwrap(), rows[1].try_get("id").unwrap());
    let dev_sealed: Vec<u8> = rows[0].try_get("sealed_key").unwrap();
    sqlx::query("UPDATE certificates SET sealed_key = $1 WHERE id = $2")
        .bind(dev_sealed)
        .bind(prod_id)
        .execute(db.pool())
        .await
        .unwrap();
    db.close().await;
    let (status, error) = app.get_json("/api/v1/applications/api/bundle.yaml?environment=prod").await;
    assert_eq!((status, error["error"]["code"].as_str()), (500, Some("internal")), "{error}");
    assert!(!error.to_string().contains("sealed"), "no internal detail: {error}");
    let response = app.get("/api/v1/applications/api/bundle.yaml?environment=dev").await;
    assert_eq!(response.status(), 200, "dev's own row {dev_id} still opens");
}

/// Without GATEHOUSE_SECRET_KEY the key lives in a file beside the SQLite database, created
/// private on first run and used again after a restart.
async fn the_key_file_is_created_beside_the_database_and_reused() {
    let database = FreshDatabase::new(DbKind::Sqlite).await;
    let db_file = backend::db::sqlite_file(&database.url).unwrap();
    let key_file = db_file.parent().unwrap().join("secret.key");
    let app = TestApp::spawn_with(database, |config| {
        config.secret_key = None;
        config.demo = true;
    })
    .await;
    let text = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(text.trim().len(), 44, "base64 of 32 bytes");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let database = app.stop().await;
    let again = TestApp::spawn_with(database, |config| config.secret_key = None).await;
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), text, "not replaced");
    let response = again.get("/api/v1/applications/api/bundle.yaml?environment=dev").await;
    assert_eq!(response.status(), 200, "the demo keys open with the file's key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_file_is_created_beside_the_sqlite_database_and_reused() {
    the_key_file_is_created_beside_the_database_and_reused().await;
}

/// The inventory and the certificate page are whole on the server: no JavaScript needed to
/// read them or to filter.
async fn the_pages_are_rendered_on_the_server(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let response = app.get("/certificates").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    for expected in [
        "data-testid=\"certificate-dev-api-tls\"",
        "data-testid=\"certificate-prod-api-tls\"",
        "data-testid=\"expiry-timeline\"",
        "class=\"timeline__bar status--valid\"",
        "api-dev.mdhlabs.com",
        "cd-service/api-prod",
        "status status--valid",
        "Upload a certificate",
    ] {
        assert!(html.contains(expected), "{expected} in {html}");
    }
    let prod_only = app.get("/certificates?environment=prod&sort=-expiry").await.text().await.unwrap();
    assert!(prod_only.contains("certificate-prod-api-tls") && !prod_only.contains("certificate-dev-api-tls"));
    assert!(prod_only.contains("<option value=\"prod\" selected"), "the form shows the filter in force");
    let none = app.get("/certificates?status=expired").await.text().await.unwrap();
    assert!(none.contains("None of the 2 certificates match"), "{none}");

    let (_, dev) = app.get_json("/api/v1/certificates?environment=dev").await;
    let id = dev[0]["id"].as_i64().unwrap();
    let (_, certificate, key) = pair(&["api-dev.mdhlabs.com"], Validity::EXPIRING);
    let (status, renewed) = upload(&app, "dev", "api-tls", &certificate, &key).await;
    assert_eq!(status, 201, "{renewed}");
    let html = app.get(&format!("/certificates/{}", renewed["id"])).await.text().await.unwrap();
    for expected in ["data-testid=\"certificate-sans\"", "api-dev.mdhlabs.com", "status status--expiring", "data-testid=\"certificate-history\"", "SHA-256 fingerprint"] {
        assert!(html.contains(expected), "{expected} in {html}");
    }
    let old = app.get(&format!("/certificates/{id}")).await.text().await.unwrap();
    assert!(old.contains("This version was replaced") && old.contains("data-testid=\"certificate-chain\""), "{old}");
    assert!(old.contains("CN=Gatehouse demo CA"));
    let response = app.get("/certificates/999999").await;
    assert_eq!(response.status(), 404);
}

use serde::Deserialize as _;

crate::on_both_databases!(
    upload_read_back_and_replace_with_history,
    every_key_type_and_encoding_uploads,
    status_follows_validity_and_hostnames,
    dev_and_prod_never_share_a_certificate_or_key,
    bad_input_gets_its_own_message_and_nothing_is_stored,
    keys_are_never_stored_in_plaintext,
    no_response_ever_carries_a_key,
    the_bundle_carries_the_tls_secret_for_the_gateway,
    the_demo_gives_each_environment_its_own_certificate,
    delete_refuses_while_in_use_and_takes_history_along,
    a_secret_reference_is_pending_until_a_cluster_is_connected,
    the_secret_key_must_be_the_one_that_sealed_the_keys,
    the_pages_are_rendered_on_the_server,
    a_sealed_key_moved_to_another_row_does_not_open,
);
