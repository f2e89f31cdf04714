//! Integration tests: the real server on 127.0.0.1 port 0, real HTTP, a fresh database per
//! test — every database test runs on SQLite and on PostgreSQL.
mod harness;
/// Starting a `gatehouse` process, shared with the jobs bench.
#[path = "../../benches/support/replica.rs"]
mod replica_process;

mod allocations;
mod architecture;
mod auth;
mod auth_hardening;
mod binary;
mod certificate_owners;
mod certificates;
mod cluster;
mod csv;
mod deploy;
mod drift;
mod environments;
mod forms;
mod health;
mod lint;
mod metrics;
mod ownership;
mod pages;
mod plan;
mod tenancy;
mod tls;
mod topology;
mod vip_holds;
mod replicas;
mod jobs;
mod shared_sign_in;
mod stall;
mod openapi;
mod verify;
