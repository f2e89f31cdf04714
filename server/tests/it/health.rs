use crate::harness::{DbKind, TestApp};

async fn health_and_readiness(kind: DbKind) {
    let app = TestApp::spawn(kind).await;
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")));
}

crate::on_both_databases!(health_and_readiness);
