//! Leptos' server rendering does not stall when many portals share one process: eight demo
//! portals, 1,000 page GETs in flight 64 at a time, each given 5 s. Generating a route list
//! sets a process-wide flag that starves resources polled meanwhile (leptos #4773); the
//! portals generate theirs once per process, before any page renders.
use std::time::Duration;

use futures_util::{StreamExt, stream};

use crate::harness::{DbKind, TestApp};

const PAGES: [&str; 5] = ["/", "/checklist", "/applications", "/pools", "/clusters"];

/// GETs every URL, 64 at a time, each given 5 s; answers the ones that failed or stalled.
async fn fetch_all(urls: Vec<String>) -> Vec<String> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("a client");
    stream::iter(urls)
        .map(|url| {
            let client = client.clone();
            async move {
                match client.get(&url).send().await {
                    Ok(response) if response.status().is_success() => match response.text().await {
                        Ok(_) => None,
                        Err(error) => Some(format!("{url}: the body did not finish: {error}")),
                    },
                    Ok(response) => Some(format!("{url}: {}", response.status())),
                    Err(error) => Some(format!("{url}: {error}")),
                }
            }
        })
        .buffer_unordered(64)
        .filter_map(|failure| async move { failure })
        .collect()
        .await
}

fn urls(portals: &[TestApp], count: usize) -> Vec<String> {
    (0..count).map(|n| portals[n % portals.len()].at(PAGES[n % PAGES.len()])).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_portals_in_one_process_render_a_thousand_pages_without_a_stall() {
    let mut portals = Vec::new();
    for _ in 0..4 {
        portals.push(TestApp::spawn_demo(DbKind::Sqlite).await);
    }
    // Four more portals start, and list their routes, while the first four render pages.
    let starting = async {
        let mut more = Vec::new();
        for _ in 0..4 {
            let portal = TestApp::spawn_demo(DbKind::Sqlite).await;
            let _ = portal.rules.len();
            more.push(portal);
        }
        more
    };
    let (mut failures, more) = tokio::join!(fetch_all(urls(&portals, 500)), starting);
    portals.extend(more);
    failures.extend(fetch_all(urls(&portals, 500)).await);
    assert!(failures.is_empty(), "{} of 1,000 page GETs failed or stalled:\n{}", failures.len(), failures.join("\n"));
}
