use domain::access::Role;

use crate::harness::{ADMIN_PASSWORD, DbKind, FreshDatabase, TestApp};

const NAVIGATION: &[&str] = &["/", "/topology", "/environments", "/pools", "/certificates", "/applications", "/checklist"];

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

/// Markup must come back as text: no raw `<script>` from the text (in text and in
/// attributes alike, `<` is escaped).
fn assert_escaped(page: &str, html: &str) {
    assert!(!html.contains("<script>alert"), "{page}: the markup came back raw:\n{html}");
    assert!(html.contains("&lt;script&gt;alert("), "{page}: the text is shown, escaped:\n{html}");
}

/// What a user types — a token's name, a scope, and so the audit log's entries — comes back
/// escaped on the account, users and audit pages: on the pages a `GET` renders (and the data
/// they carry for hydration) and on the answers to their forms.
async fn text_a_user_typed_comes_back_escaped(kind: DbKind) {
    let app = TestApp::spawn(kind).await;
    let hostile = r#"<script>alert("x")</script>' onmouseover="alert(1)"#;
    let admin = app.sign_in("admin", ADMIN_PASSWORD).await.expect("the admin signs in");
    let browser = app.client_with_session(&admin);

    // The account page's token form answers with the page, the token shown once.
    let created = browser.post(app.at("/account/tokens")).form(&[("name", hostile), ("role", "viewer")]).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let html = created.text().await.unwrap();
    assert_escaped("POST /account/tokens", &html);
    assert!(html.contains("data-testid=\"new-token\">ghp_"), "{html}");
    let html = browser.get(app.at("/account")).send().await.unwrap().text().await.unwrap();
    assert_escaped("GET /account", &html);
    assert!(!html.contains("data-testid=\"new-token\""), "the token is shown only once");

    // The users page: a refused scope names what was typed, beside the field, and keeps it.
    let refused = browser
        .post(app.at("/users"))
        .form(&[("name", "eve"), ("password", "a long enough passphrase"), ("role", "app_team"), ("scopes", hostile)])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert_escaped("POST /users", &html);
    assert!(html.contains("<li data-field=\"scopes\">Scopes: "), "the field, why and how to fix it: {html}");
    assert!(html.contains("value=\"eve\""), "what was typed stays: {html}");
    assert!(html.contains("value=\"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;' onmouseover=&quot;alert(1)\""), "quotes never close the attribute: {html}");
    let user = app.user(Role::AppTeam, "namespace:cd-service").await;
    let refused = browser.post(app.at(&format!("/users/{}", user.name))).form(&[("role", "app_team"), ("scopes", hostile)]).send().await.unwrap();
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert_escaped("POST /users/{name}", &html);
    assert!(html.contains("data-testid=\"row-error\""), "the row says what to fix: {html}");

    // The audit log shows the token's entry, on the page and on a filtered page.
    for path in ["/audit", "/audit?action=token.create&object=token%2F"] {
        let response = browser.get(app.at(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let html = response.text().await.unwrap();
        assert_escaped(path, &html);
    }
    let response = browser.get(app.at("/audit?actor=%3Cscript%3Ealert(%22x%22)&from=tomorrow")).send().await.unwrap();
    assert_eq!(response.status(), 422, "a malformed bound is a clear refusal, not a 500");
    let html = response.text().await.unwrap();
    assert_escaped("/audit?actor=…", &html);
    assert!(html.contains("<li data-field=\"from\">From: "), "{html}");
}

/// The account pages sit in the portal's frame: logo, theme toggle, footer, and the
/// navigation a role may use.
async fn the_account_pages_share_the_portals_frame(kind: DbKind) {
    let app = TestApp::spawn(kind).await;
    let admin = app.sign_in("admin", ADMIN_PASSWORD).await.expect("the admin signs in");
    let browser = app.client_with_session(&admin);
    for path in ["/account", "/users", "/audit"] {
        let html = browser.get(app.at(path)).send().await.unwrap().text().await.unwrap();
        for part in ["class=\"brand__mark\"", "data-testid=\"theme-toggle\"", "class=\"site-footer\"", "href=\"/environments\"", "href=\"/approvals\"", "href=\"/users\"", "href=\"/audit\""] {
            assert!(html.contains(part), "{path} has {part}");
        }
    }
    let sign_in = app.anonymous().get(app.at("/sign-in")).send().await.unwrap().text().await.unwrap();
    assert!(sign_in.contains("class=\"site-footer\"") && sign_in.contains("id=\"password\""), "{sign_in}");

    let viewer = app.user(Role::Viewer, "").await;
    let session = app.sign_in(&viewer.name, &viewer.password).await.expect("the viewer signs in");
    let viewer = app.client_with_session(&session);
    let html = viewer.get(app.at("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("href=\"/environments\""), "{html}");
    for admin_only in ["href=\"/approvals\"", "href=\"/users\"", "href=\"/audit\""] {
        assert!(!html.contains(admin_only), "a viewer is not shown {admin_only}");
    }
    let forbidden = viewer.get(app.at("/users")).send().await.unwrap();
    assert_eq!(forbidden.status(), 403);
    let html = forbidden.text().await.unwrap();
    assert!(html.contains("class=\"brand__mark\"") && html.contains("class=\"site-footer\"") && html.contains("Ask an admin for another role"), "{html}");
}

crate::on_both_databases!(
    text_a_user_typed_comes_back_escaped,
    the_account_pages_share_the_portals_frame,
    pages_render_on_the_server_with_a_nonce_policy,
    every_section_answers_and_unknown_pages_are_404,
    responses_are_compressed,
    the_sites_files_are_served_precompressed_and_revalidated,
    the_theme_cookie_is_rendered_on_the_server,
);
