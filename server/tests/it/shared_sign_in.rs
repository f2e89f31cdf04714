//! Sign-in state replicas share through the database: failed sign-in counts and locks, and
//! OpenID Connect sign-ins under way.
use std::{net::IpAddr, time::Duration};

use backend::{
    auth::{
        limiter::{Limits, Locked, SignInLimiter},
        pending::{self, Pending},
    },
    db::Database,
};
use domain::access::Role;
use serde_json::json;

use crate::{
    harness::{DbKind, FreshDatabase, TestApp},
    on_both_databases,
};

/// Failures counted by one portal lock the account at another on the same database.
async fn a_lock_earned_at_one_replica_holds_at_the_other(kind: DbKind) {
    let first = TestApp::spawn_with(FreshDatabase::new(kind).await, |config| config.sign_in_attempts = 3).await;
    let second = TestApp::spawn_with(first.database.shared(), |config| config.sign_in_attempts = 3).await;
    let user = first.user(Role::Viewer, "").await;
    let token = |app: &TestApp, password: &str| {
        app.anonymous().post(app.at("/api/v1/tokens")).basic_auth(&user.name, Some(password)).json(&json!({"name": "ci"})).send()
    };
    for app in [&first, &second, &first] {
        assert_eq!(token(app, "wrong").await.expect("answers").status(), 401);
    }
    let locked = token(&second, &user.password).await.expect("answers");
    assert_eq!(locked.status(), 429, "locked at the other replica, even with the right password");
    assert!(locked.headers().contains_key("retry-after"));
}

const LIMITS: Limits = Limits { attempts: 3, window: Duration::from_secs(600), lockout: Duration::from_secs(900) };
const SECOND: i64 = 1000;

/// The rules of the limiter, on the database's clock-free arithmetic (times given in ms).
async fn the_limiter_counts_windows_and_lockouts(kind: DbKind) {
    let database = FreshDatabase::new(kind).await;
    let db = Database::connect(&database.url).await.expect("the database opens");
    let limiter = SignInLimiter::new(LIMITS);
    let start = 1_800_000_000_000_i64;
    let at = |seconds: i64| start + seconds * SECOND;
    let address = Some(IpAddr::from([192, 168, 99, 7]));
    for second in 0..2 {
        limiter.failed(&db, "alice", address, at(second)).await.expect("counted");
        assert_eq!(limiter.check(&db, "alice", address, at(second)).await.expect("read"), Ok(()));
    }
    limiter.failed(&db, "Alice", address, at(2)).await.expect("counted");
    let locked = limiter.check(&db, "alice", address, at(62)).await.expect("read").expect_err("locked");
    assert_eq!(locked, Locked::Account { retry_after: Duration::from_secs(840) });
    assert_eq!(limiter.check(&db, "bob", address, at(62)).await.expect("read"), Ok(()), "another account from the address");
    assert_eq!(limiter.check(&db, "alice", address, at(902)).await.expect("read"), Ok(()), "the lockout ends");
    limiter.failed(&db, "alice", address, at(903)).await.expect("counted");
    assert_eq!(limiter.check(&db, "alice", address, at(903)).await.expect("read"), Ok(()), "counting starts over");

    // Failures outside the window do not add up; a success clears the account's.
    limiter.failed(&db, "carol", None, at(0)).await.expect("counted");
    limiter.failed(&db, "carol", None, at(1)).await.expect("counted");
    limiter.failed(&db, "carol", None, at(700)).await.expect("counted");
    assert_eq!(limiter.check(&db, "carol", None, at(700)).await.expect("read"), Ok(()));
    limiter.succeeded(&db, "carol").await.expect("cleared");
    limiter.failed(&db, "carol", None, at(701)).await.expect("counted");
    limiter.failed(&db, "carol", None, at(702)).await.expect("counted");
    assert_eq!(limiter.check(&db, "carol", None, at(702)).await.expect("read"), Ok(()));

    // An address trying many accounts is locked (four times the attempts).
    let busy = Some(IpAddr::from([10, 0, 0, 9]));
    for n in 0..12 {
        limiter.failed(&db, &format!("user{n}"), busy, at(0)).await.expect("counted");
    }
    let locked = limiter.check(&db, "someone-else", busy, at(0)).await.expect("read").expect_err("locked");
    assert!(matches!(locked, Locked::Address { .. }), "{locked:?}");
    assert_eq!(limiter.check(&db, "someone-else", Some(IpAddr::from([10, 0, 0, 10])), at(0)).await.expect("read"), Ok(()));
    db.close().await;
}

/// A sign-in started at one replica is completed at another, once, and not after 10 minutes.
async fn oidc_sign_ins_under_way_are_shared_and_taken_once(kind: DbKind) {
    let database = FreshDatabase::new(kind).await;
    let started_at = Database::connect(&database.url).await.expect("the database opens");
    let returned_to = Database::connect(&database.url).await.expect("the database opens again");
    let sign_in = Pending {
        verifier: "verifier".to_owned(),
        nonce: "nonce".to_owned(),
        return_to: "/pools".to_owned(),
        redirect_uri: "https://gatehouse.example/sign-in/oidc/callback".to_owned(),
    };
    let max_age = 600 * SECOND;
    let now = 1_800_000_000_000_i64;
    pending::store(&started_at, "state-1", &sign_in, now, max_age).await.expect("stored");
    pending::store(&started_at, "state-2", &sign_in, now, max_age).await.expect("stored");
    assert_eq!(pending::take(&returned_to, "state-1", now + SECOND, max_age).await.expect("read"), Some(sign_in.clone()));
    assert_eq!(pending::take(&started_at, "state-1", now + SECOND, max_age).await.expect("read"), None, "only once");
    assert_eq!(pending::take(&returned_to, "unknown", now, max_age).await.expect("read"), None);
    assert_eq!(pending::take(&returned_to, "state-2", now + max_age + SECOND, max_age).await.expect("read"), None, "too old");
    started_at.close().await;
    returned_to.close().await;
}

on_both_databases!(
    a_lock_earned_at_one_replica_holds_at_the_other,
    the_limiter_counts_windows_and_lockouts,
    oidc_sign_ins_under_way_are_shared_and_taken_once,
);
