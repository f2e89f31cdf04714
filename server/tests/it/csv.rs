//! `/api/v1/pools.csv`: the export, the all-or-nothing import, and the round trip between
//! them, on both databases.
use serde_json::{Value, json};
use sqlx::Row;

use crate::harness::{DbKind, TestApp};

const HEADER: &str = "kind,environment,pool,block,address,owner,application,reason\r\n";


async fn export(app: &TestApp) -> String {
    let response = app.get("/api/v1/pools.csv").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    response.text().await.expect("the export is text")
}

async fn import_with(app: &TestApp, content_type: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = app
        .client
        .post(app.at("/api/v1/pools.csv"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("the import answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn import(app: &TestApp, csv: &str) -> (u16, Value) {
    import_with(app, "text/csv", csv.to_owned()).await
}

/// The `field`s of an error body's `errors`.
fn fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("errors in {body}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The demo plan with an allocation in dev and a reservation in prod whose reasons need
/// quoting.
async fn demo_with_holdings(kind: DbKind) -> TestApp {
    let app = TestApp::spawn_demo(kind).await;
    let dev = app.pool_id("dev", "dev-vips").await;
    let prod = app.pool_id("prod", "prod-vips").await;
    let (status, body) = app
        .post_json(
            &format!("/api/v1/pools/{dev}/allocations"),
            &json!({"address": "192.168.101.193", "owner": "team-a", "application": "api",
                    "reason": "public API\nsecond line"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .post_json(
            &format!("/api/v1/pools/{prod}/reservations"),
            &json!({"start": "192.168.101.245", "reason": "router, \"gw\" uplink"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    app
}

const DEMO_EXPORT: &str = "kind,environment,pool,block,address,owner,application,reason\r\n\
    pool,dev,dev-vips,192.168.101.192/28,,,,\r\n\
    allocation,dev,dev-vips,,192.168.101.193,team-a,api,\"public API\nsecond line\"\r\n\
    pool,prod,prod-vips,192.168.101.240-192.168.101.250,,,,\r\n\
    allocation,prod,prod-vips,,192.168.101.240,api,api,the application's fixed VIP\r\n\
    reservation,prod,prod-vips,,192.168.101.245,,,\"router, \"\"gw\"\" uplink\"\r\n";

async fn the_export_lists_blocks_and_held_addresses_quoted(kind: DbKind) {
    let app = demo_with_holdings(kind).await;
    let response = app.get("/api/v1/pools.csv").await;
    assert!(
        response
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("attachment")),
        "{:?}",
        response.headers()
    );
    assert_eq!(export(&app).await, DEMO_EXPORT);
}

async fn an_export_imports_into_a_fresh_database_unchanged(kind: DbKind) {
    let demo = demo_with_holdings(kind).await;
    let file = export(&demo).await;

    let fresh = TestApp::spawn(kind).await;
    let (status, environments) = demo.get_json("/api/v1/environments").await;
    assert_eq!(status, 200);
    for environment in environments.as_array().expect("a list of environments") {
        let (status, body) = fresh.post_json("/api/v1/environments", environment).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = import(&fresh, &file).await;
    assert_eq!(status, 200, "{body}");
    // The demo's api holds its fixed prod VIP; in the fresh database, without the application,
    // that row is a plain allocation.
    assert_eq!(body, json!({"created_pools": 2, "allocations": 2, "reservations": 1, "unchanged": 0}));
    assert_eq!(export(&fresh).await, file);

    // What was imported is a normal allocation, with its history.
    let (status, holding) = fresh.get_json("/api/v1/allocations/192.168.101.193").await;
    assert_eq!(status, 200, "{holding}");
    assert_eq!(holding["owner"], "team-a");
    assert_eq!(holding["reason"], "public API\nsecond line");
    let (_, history) = fresh.get_json("/api/v1/addresses/192.168.101.193/history").await;
    assert_eq!(history["events"][0]["action"], "allocate", "{history}");
    let (_, pools) = fresh.get_json("/api/v1/environments/prod/pools").await;
    let counts = |field: &str| pools[0][field].as_u64();
    assert_eq!((counts("allocated"), counts("reserved"), counts("free")), (Some(1), Some(1), Some(9)), "{pools}");

    // The same file again changes nothing: its pools exist as listed, its addresses are held
    // as listed.
    let (status, body) = import(&fresh, &file).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"created_pools": 0, "allocations": 0, "reservations": 0, "unchanged": 3}));
    assert_eq!(export(&fresh).await, file);
}

async fn an_import_with_bad_lines_changes_nothing(kind: DbKind) {
    let app = demo_with_holdings(kind).await;
    let (_, pools_before) = app.get_json("/api/v1/environments/dev/pools").await;
    let export_before = export(&app).await;

    let file = format!(
        "{HEADER}\
         pool,dev,dev-extra,192.168.101.160/28,,,,\r\n\
         allocation,dev,dev-extra,,192.168.101.161,team-b,,\r\n\
         pool,staging,staging-vips,192.168.101.128/28,,,,\r\n\
         allocation,dev,dev-vips,,192.168.101.10,team-b,,\r\n\
         pool,dev,dev-more,192.168.101.300/28,,,,\r\n\
         reservation,dev,dev-vips,,192.168.101.200,,,\"held, for \"\"later\"\"\"\r\n"
    );
    let (status, body) = import(&app, &file).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), ["line 4: environment", "line 5: address", "line 6: block"], "{body}");
    let codes: Vec<&str> = body["errors"].as_array().into_iter().flatten().filter_map(|e| e["code"].as_str()).collect();
    assert_eq!(codes, ["unknown_environment", "outside_pool", "invalid_cidr"], "{body}");
    assert_eq!(body["error"], body["errors"][0]);
    assert!(body["errors"][1]["message"].as_str().unwrap_or_default().contains("192.168.101.192/28"), "{body}");

    let (_, pools_after) = app.get_json("/api/v1/environments/dev/pools").await;
    assert_eq!(pools_after, pools_before);
    assert_eq!(export(&app).await, export_before);

    // Without the three lines, the rest imports.
    let good: String = file
        .split_inclusive("\r\n")
        .enumerate()
        .filter(|(i, _)| ![3, 4, 5].contains(i))
        .map(|(_, line)| line)
        .collect();
    let (status, body) = import(&app, &good).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"created_pools": 1, "allocations": 1, "reservations": 1, "unchanged": 0}));
}

async fn a_malformed_file_is_refused(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let before = export(&app).await;

    let (status, body) = import(&app, "kind,environment,pool,cidr\r\npool,dev,x,10.0.0.0/28\r\n").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "unknown_column");
    assert_eq!(body["error"]["field"], "line 1");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("kind,environment,pool,block"), "{body}");

    let (status, body) = import(&app, "").await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("empty_file")), "{body}");
    let unclosed = format!("{HEADER}reservation,dev,dev-vips,,192.168.101.200,,,\"unclosed\r\n");
    let (status, body) = import(&app, &unclosed).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("unclosed_quote")), "{body}");
    assert_eq!(body["error"]["field"], "line 2");

    let (status, body) = import_with(&app, "application/json", "{}").await;
    assert_eq!((status, body["error"]["code"].as_str()), (415, Some("unsupported_media_type")), "{body}");

    let mut huge = String::from(HEADER);
    while huge.len() <= 1024 * 1024 {
        huge.push_str("reservation,dev,dev-vips,,192.168.101.200,,,padding padding padding padding padding\r\n");
    }
    let (status, body) = import_with(&app, "text/csv", huge).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("body_too_large")), "{body}");

    assert_eq!(export(&app).await, before);
}

async fn an_overlapping_pool_line_names_the_rule(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let before = export(&app).await;
    let file = format!(
        "{HEADER}\
         pool,dev,dev-extra,192.168.101.160/28,,,,\r\n\
         pool,dev,dev-clash,192.168.101.176/28,,,,\r\n\
         pool,dev,dev-clash,192.168.101.240/30,,,,\r\n\
         pool,dev,dev-vips,192.168.101.192/28,,,,\r\n\
         pool,dev,dev-vips,192.168.101.208/28,,,,\r\n"
    );
    let (status, body) = import(&app, &file).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), ["line 4: block", "line 6: block"], "{body}");
    let overlap = &body["errors"][0];
    assert_eq!(overlap["code"], "checklist_violation");
    assert_eq!(overlap["rule"], "GH-VIP-DISTINCT", "{body}");
    assert!(overlap["message"].as_str().unwrap_or_default().contains("prod-vips"), "{body}");
    // An existing pool is not changed by an import.
    assert_eq!(body["errors"][1]["code"], "pool_mismatch", "{body}");
    assert_eq!(export(&app).await, before);
}

/// A failure after part of the import is written (injected with a trigger on the address
/// table) leaves nothing behind: the pool written before it is rolled back too.
async fn a_failure_midway_rolls_everything_back(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let before = export(&app).await;
    let db = backend::db::Database::connect(&app.database.url).await.expect("the test connects");
    let statements: &[&str] = match kind {
        DbKind::Sqlite => &["CREATE TRIGGER fail_midway BEFORE INSERT ON addresses \
                             WHEN NEW.address = '192.168.101.170' BEGIN SELECT RAISE(ABORT, 'injected'); END"],
        DbKind::Postgres => &[
            "CREATE FUNCTION fail_midway() RETURNS trigger LANGUAGE plpgsql AS $body$ \
             BEGIN IF NEW.address = '192.168.101.170' THEN RAISE EXCEPTION 'injected'; END IF; RETURN NEW; END $body$",
            "CREATE TRIGGER fail_midway BEFORE INSERT ON addresses FOR EACH ROW EXECUTE FUNCTION fail_midway()",
        ],
    };
    for statement in statements {
        sqlx::query(statement).execute(db.pool()).await.expect("the trigger is created");
    }
    let file = format!(
        "{HEADER}\
         pool,dev,dev-extra,192.168.101.160/28,,,,\r\n\
         allocation,dev,dev-extra,,192.168.101.161,team-b,,\r\n\
         allocation,dev,dev-extra,,192.168.101.170,team-b,,\r\n\
         reservation,dev,dev-vips,,192.168.101.200,,,later\r\n"
    );
    let (status, body) = import(&app, &file).await;
    assert_eq!((status, body["error"]["code"].as_str()), (500, Some("internal")), "{body}");
    assert!(!body.to_string().contains("injected"), "a 500 carries no internal detail: {body}");

    assert_eq!(export(&app).await, before);
    let logged: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM audit_log WHERE object LIKE '%dev-extra%' \
             OR object IN ('address/192.168.101.161', 'address/192.168.101.170', 'address/192.168.101.200')")
            .fetch_one(db.pool())
            .await
            .expect("the audit log is read")
            .get("n");
    assert_eq!(logged, 0, "no audit entry of the failed import remains");
    db.close().await;
}

crate::on_both_databases!(
    the_export_lists_blocks_and_held_addresses_quoted,
    an_export_imports_into_a_fresh_database_unchanged,
    an_import_with_bad_lines_changes_nothing,
    a_malformed_file_is_refused,
    an_overlapping_pool_line_names_the_rule,
    a_failure_midway_rolls_everything_back,
);

