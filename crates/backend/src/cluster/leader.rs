//! Leader election with a `coordination.k8s.io/v1` Lease, so that of several Gatehouse
//! replicas exactly one runs the reconcilers.
//!
//! Every candidate reads the Lease every `retry` period. A free Lease (missing, released, or
//! unchanged for `duration` as this candidate observed it) is taken with a write guarded by
//! the `resourceVersion` it read, so of two candidates racing for it the API server lets
//! exactly one through (409 for the other). The holder renews every `renew` period; one that
//! cannot renew for `renew_deadline` steps down before another may take over. Expiry is
//! judged by the candidate's own clock from when it last saw the Lease change (as client-go
//! does), never by comparing clocks across machines.
//!
//! [`Election::leading`] answers a `watch::Receiver<bool>`; [`while_leading`] runs a
//! reconciler only while it is true, so one election can gate any number of reconcilers.
use std::{
    future::Future,
    sync::Mutex,
    time::{Duration, Instant},
};

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::Timestamp,
};
use kube::{Api, Client, api::PostParams};
use tokio::{sync::watch, task::JoinHandle};

/// Where the Lease is and how long its terms are.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    /// This candidate: the pod's name (or host name) and a random suffix, so two processes on
    /// one host never share an identity.
    pub identity: String,
    /// How long a Lease nobody renews stays taken.
    pub duration: Duration,
    /// How often the holder renews.
    pub renew: Duration,
    /// The holder steps down when it could not renew for this long (less than `duration`).
    pub renew_deadline: Duration,
    /// How often a candidate looks at a Lease someone else holds.
    pub retry: Duration,
}

impl LeaseSettings {
    /// Terms that let another replica take over within about 12 s of the leader's death:
    /// a 10 s Lease, renewed every 2 s, looked at every 2 s.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> LeaseSettings {
        LeaseSettings {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity(),
            duration: Duration::from_secs(10),
            renew: Duration::from_secs(2),
            renew_deadline: Duration::from_secs(7),
            retry: Duration::from_secs(2),
        }
    }
}

/// `POD_NAME`, else `HOSTNAME`, else the kernel's host name, then `-` and 8 random hex digits.
pub fn identity() -> String {
    use ring::rand::SecureRandom as _;
    let host = std::env::var("POD_NAME")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "gatehouse".to_owned());
    let mut suffix = [0u8; 4];
    // A failing system RNG leaves the suffix zero; the process id still tells processes apart.
    let _ = ring::rand::SystemRandom::new().fill(&mut suffix);
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    format!("{host}-{}-{suffix}", std::process::id())
}

/// A running election; [`Election::release`] gives the Lease up (graceful shutdown).
pub struct Election {
    pub settings: LeaseSettings,
    leading: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Election {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Election").field("settings", &self.settings).field("leading", &*self.leading.borrow()).finish()
    }
}

impl Election {
    /// Starts campaigning at once.
    pub fn start(client: Client, settings: LeaseSettings) -> Election {
        let (leading_tx, leading) = watch::channel(false);
        let (stop, stopped) = watch::channel(false);
        let candidate = Candidate { api: Api::namespaced(client, &settings.namespace), settings: settings.clone(), observed: None };
        let task = tokio::spawn(candidate.campaign(leading_tx, stopped));
        Election { settings, leading, stop, task: Mutex::new(Some(task)) }
    }

    /// Whether this process holds the Lease now; changes as it wins or loses it.
    pub fn leading(&self) -> watch::Receiver<bool> {
        self.leading.clone()
    }

    pub fn is_leader(&self) -> bool {
        *self.leading.borrow()
    }

    /// Stops campaigning and, when leading, releases the Lease so another replica takes
    /// over at its next look instead of waiting for the Lease to run out.
    pub async fn release(&self) {
        self.stop.send_replace(true);
        let task = self.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(task) = task {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

/// Runs `reconciler()` whenever `leading` turns true and drops it when it turns false; ends
/// when the election or the reconciler ends.
pub async fn while_leading<F, R>(mut leading: watch::Receiver<bool>, mut reconciler: F)
where
    F: FnMut() -> R,
    R: Future<Output = ()>,
{
    loop {
        if leading.wait_for(|leader| *leader).await.is_err() {
            return;
        }
        tokio::select! {
            () = reconciler() => return,
            lost = leading.wait_for(|leader| !*leader) => if lost.is_err() { return },
        }
    }
}

struct Candidate {
    api: Api<Lease>,
    settings: LeaseSettings,
    /// The Lease's resourceVersion as last read, and when this candidate first saw it.
    observed: Option<(String, Instant)>,
}

/// What one look at the Lease found.
enum Look {
    Holding,
    Following,
}

impl Candidate {
    async fn campaign(mut self, leading: watch::Sender<bool>, mut stopped: watch::Receiver<bool>) {
        let mut renewed = Instant::now();
        loop {
            let was_leading = *leading.borrow();
            let look = self.look().await;
            let now_leading = match look {
                Ok(Look::Holding) => {
                    renewed = Instant::now();
                    true
                }
                Ok(Look::Following) => false,
                Err(error) => {
                    tracing::warn!(%error, lease = %self.settings.name, "reading or writing the leader Lease failed");
                    // A holder keeps leading until the renew deadline, then steps down before
                    // anyone else may take over.
                    was_leading && renewed.elapsed() < self.settings.renew_deadline
                }
            };
            if now_leading != was_leading {
                if now_leading {
                    tracing::info!(identity = %self.settings.identity, lease = %self.settings.name, namespace = %self.settings.namespace, "became the leader");
                } else {
                    tracing::info!(identity = %self.settings.identity, lease = %self.settings.name, "no longer the leader");
                }
                leading.send_replace(now_leading);
            }
            let wait = if now_leading { self.settings.renew } else { self.settings.retry };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stopped.changed() => break,
            }
        }
        if *leading.borrow() {
            leading.send_replace(false);
            match self.give_up().await {
                Ok(()) => tracing::info!(identity = %self.settings.identity, lease = %self.settings.name, "released the leader Lease"),
                Err(error) => tracing::warn!(%error, lease = %self.settings.name, "releasing the leader Lease failed; it runs out on its own"),
            }
        }
    }

    fn spec(&self, now: Timestamp, acquired: Option<MicroTime>, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.settings.identity.clone()),
            lease_duration_seconds: Some(i32::try_from(self.settings.duration.as_secs()).unwrap_or(i32::MAX)),
            acquire_time: Some(acquired.unwrap_or(MicroTime(now))),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// One round: create, renew or take over the Lease when this candidate may.
    async fn look(&mut self) -> Result<Look, kube::Error> {
        let now = Timestamp::now();
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(self.settings.name.clone()), ..ObjectMeta::default() },
                spec: Some(self.spec(now, None, 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => {
                    self.observe(&created);
                    Ok(Look::Holding)
                }
                Err(error) if is_conflict(&error) => Ok(Look::Following),
                Err(error) => Err(error),
            };
        };
        let version = lease.metadata.resource_version.clone().unwrap_or_default();
        let changed = self.observed.as_ref().is_none_or(|(seen, _)| *seen != version);
        if changed {
            self.observed = Some((version, Instant::now()));
        }
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|holder| !holder.is_empty());
        let mine = holder.as_deref() == Some(self.settings.identity.as_str());
        let term = spec.lease_duration_seconds.map_or(self.settings.duration, |s| Duration::from_secs(u64::try_from(s).unwrap_or(0)));
        let expired = self.observed.as_ref().is_some_and(|(_, since)| since.elapsed() >= term);
        if !(mine || holder.is_none() || expired) {
            return Ok(Look::Following);
        }
        let (acquired, transitions) = if mine {
            (spec.acquire_time.clone(), spec.lease_transitions.unwrap_or(0))
        } else {
            (None, spec.lease_transitions.unwrap_or(0).saturating_add(1))
        };
        // The resourceVersion read above guards the write: a candidate that lost the race
        // gets 409 Conflict.
        lease.spec = Some(self.spec(now, acquired, transitions));
        match self.api.replace(&self.settings.name, &PostParams::default(), &lease).await {
            Ok(written) => {
                self.observe(&written);
                Ok(Look::Holding)
            }
            Err(error) if is_conflict(&error) => Ok(Look::Following),
            Err(error) => Err(error),
        }
    }

    fn observe(&mut self, lease: &Lease) {
        self.observed = Some((lease.metadata.resource_version.clone().unwrap_or_default(), Instant::now()));
    }

    /// Clears the holder (if it is still this candidate) and shortens the term to a second.
    async fn give_up(&mut self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else { return Ok(()) };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.settings.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        match self.api.replace(&self.settings.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(()),
            Err(error) if is_conflict(&error) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}
