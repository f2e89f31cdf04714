//! A fresh PostgreSQL database per bench run, dropped afterwards.
use sqlx::{Connection, Executor, PgConnection};

pub async fn fresh_postgres(admin_url: &str) -> (String, String) {
    let name = format!(
        "gh_bench_{}_{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
    );
    let mut admin = PgConnection::connect(admin_url).await.expect("connect to PostgreSQL");
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create the bench database");
    admin.close().await.ok();
    let (base, query) = admin_url.split_once('?').map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    let url = match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    };
    (url, name)
}

pub async fn drop_postgres(admin_url: &str, name: &str) {
    if let Ok(mut admin) = PgConnection::connect(admin_url).await {
        let _ = admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
        admin.close().await.ok();
    }
}
