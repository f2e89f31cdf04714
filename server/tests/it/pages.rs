use crate::harness::{DbKind, FreshDatabase, TestApp};

const NAVIGATION: &[&str] = &["/", "/topology", "/pools", "/certificates", "/applications", "/checklist"];

async fn pages_render_on_the_server_with_a_nonce_policy(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let html = response.text().await.unwrap();
    assert!(html.contains("What Gatehouse does"));
    // The demo environments are in the server-rendered table.
    assert!(html.contains("href=\"/environments/dev\""), "{html}");
    assert!(html.contains("href=\"/environments/prod\""));

    let policy = headers.get("content-security-policy").unwrap().to_str().unwrap();
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the policy admits scripts by nonce");
    assert!(policy.contains("frame-ancestors 'none'"));
    assert!(policy.contains("script-src 'self' 'nonce-"));
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the hydration script carries the nonce");
    assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(headers.get("referrer-policy").unwrap(), "strict-origin-when-cross-origin");

    // A fresh nonce per response.
    let second = app.get("/").await;
    let second_policy = second.headers().get("content-security-policy").unwrap().to_str().unwrap().to_owned();
    assert_ne!(policy, second_policy);
}

async fn every_section_answers_and_unknown_pages_are_404(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    for path in NAVIGATION {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains("aria-current=\"page\""), "{path} marks itself in the navigation");
    }
    let response = app.get("/environments/dev").await;
    let status = response.status();
    let html = response.text().await.unwrap();
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("192.168.101.11"));

    for missing in ["/no/such/page", "/environments/staging"] {
        let response = app.get(missing).await;
        assert_eq!(response.status(), 404, "{missing}");
        assert!(response.text().await.unwrap().contains("Page not found"), "{missing}");
    }
}

async fn responses_are_compressed(kind: DbKind) {
    let app = TestApp::spawn_demo(kind).await;
    let response = app.client.get(app.at("/")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(response.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
}

async fn the_theme_cookie_is_rendered_on_the_server(kind: DbKind) {
    let app = TestApp::spawn(kind).await;
    let response = app.client.get(app.at("/")).header("cookie", "gatehouse-theme=dark").send().await.unwrap();
    let status = response.status();
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\" data-theme=\"dark\""), "{status}: {}", &html[..300.min(html.len())]);
    let html = app.get("/").await.text().await.unwrap();
    assert!(!html.contains("data-theme=\""), "no choice: the OS decides");
}

/// The site's files: the `.br` or `.gz` a release build (`--precompress`) wrote beside a file
/// when the browser takes it, so nothing is compressed per request; the file itself otherwise.
/// Open to anyone, and revalidated rather than kept forever (the names carry no hash).
async fn the_sites_files_are_served_precompressed_and_revalidated(kind: DbKind) {
    let site = tempfile::tempdir().expect("a temporary site");
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).expect("pkg");
    let css = "body { color: black }\n".repeat(200);
    std::fs::write(pkg.join("gatehouse.css"), &css).expect("the file");
    std::fs::write(pkg.join("gatehouse.css.br"), "the brotli bytes the build wrote").expect("its .br");
    std::fs::write(pkg.join("gatehouse.css.gz"), "the gzip bytes the build wrote").expect("its .gz");
    let root = site.path().to_path_buf();
    let app = TestApp::spawn_with(FreshDatabase::new(kind).await, move |config| config.site_root = root).await;
    let anyone = app.anonymous();
    let get = |encoding: &'static str| anyone.get(app.at("/pkg/gatehouse.css")).header("accept-encoding", encoding).send();
    for (encoding, expected_encoding, body) in [
        ("br, gzip", Some("br"), "the brotli bytes the build wrote".to_owned()),
        ("gzip", Some("gzip"), "the gzip bytes the build wrote".to_owned()),
        ("identity", None, css.clone()),
    ] {
        let response = get(encoding).await.expect("answers");
        assert_eq!(response.status(), 200, "{encoding}");
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(header("content-encoding").as_deref(), expected_encoding, "{encoding}");
        assert_eq!(header("cache-control").as_deref(), Some("no-cache"), "{encoding}");
        assert!(header("content-type").is_some_and(|t| t.starts_with("text/css")), "{encoding}");
        assert_eq!(response.text().await.expect("a body"), body, "{encoding}");
    }
    let first = get("identity").await.expect("answers");
    let modified = first.headers()["last-modified"].clone();
    let again = anyone.get(app.at("/pkg/gatehouse.css")).header("if-modified-since", modified).send().await.expect("answers");
    assert_eq!(again.status(), 304, "unchanged: nothing sent again");
    assert_eq!(anyone.get(app.at("/pkg/missing.js")).send().await.expect("answers").status(), 404);
}

crate::on_both_databases!(
    pages_render_on_the_server_with_a_nonce_policy,
    every_section_answers_and_unknown_pages_are_404,
    responses_are_compressed,
    the_sites_files_are_served_precompressed_and_revalidated,
    the_theme_cookie_is_rendered_on_the_server,
);
