//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics.
//!
//! Controllers run in several replicas for availability, but two replicas reconciling the
//! same objects would fight. One Lease decides who works: the leader renews it every retry
//! period; standbys take it only when it is absent, released, or its last renewal is older
//! than its duration. Every write carries the resourceVersion that was read, so of two
//! candidates racing for an expired Lease exactly one write succeeds. The leader stops
//! calling itself leader once it has gone `renew_deadline` without a successful renewal, which
//! is shorter than the lease duration: it has stepped down before any standby may take over.
//!
//! Losing the lease is not the end: the elector goes back to campaigning, so a replica that
//! was cut off briefly becomes a standby again instead of exiting.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::lease::{self, Candidate, Plan};
use crate::shutdown::Shutdown;

/// Where the Lease is, who we are, and the timing (client-go's names and defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    /// Unique per replica (e.g. [`unique_identity`]): two replicas with one identity would
    /// both believe they hold the Lease.
    pub identity: String,
    /// How long standbys wait after the last renewal before taking over.
    pub lease_duration: Duration,
    /// How long the leader keeps leading without a successful renewal.
    pub renew_deadline: Duration,
    /// How often the leader renews and standbys retry.
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry period.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// client-go's rules: the leader must step down (`renew_deadline`) before standbys may
    /// take over (`lease_duration`), and must get more than one (jittered) try at renewing.
    pub fn validate(&self) -> Result<(), LeaderError> {
        let bad = |what: &str| Err(LeaderError::InvalidConfig(what.to_owned()));
        if self.namespace.is_empty() || self.name.is_empty() {
            return bad("the Lease namespace and name must not be empty");
        }
        if self.identity.is_empty() {
            return bad("the identity must not be empty; use a unique one per replica");
        }
        if self.retry_period.is_zero() {
            return bad("retry_period must be greater than zero");
        }
        if self.lease_duration <= self.renew_deadline {
            return bad("lease_duration must be greater than renew_deadline");
        }
        if self.renew_deadline.as_secs_f64() <= self.retry_period.as_secs_f64() * (1.0 + JITTER) {
            return bad("renew_deadline must be greater than 1.2 × retry_period");
        }
        Ok(())
    }
}

/// Standbys wait up to this fraction of the retry period longer, so candidates started
/// together do not hit the server in lockstep.
const JITTER: f64 = 0.2;

#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("invalid leader election settings: {0}")]
    InvalidConfig(String),
    #[error("cannot start the leader election thread: {0}")]
    Thread(#[from] std::io::Error),
    #[error("cannot make the leader election client: {0}")]
    Client(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// `<prefix>_<16 random hex digits>`, the shape client-go uses (hostname + "_" + uuid).
pub fn unique_identity(prefix: &str) -> String {
    format!("{prefix}_{:016x}", rand::random::<u64>())
}

/// Campaigns for, holds and releases one Lease; see the module docs.
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
    me: Candidate,
    leading: watch::Sender<bool>,
    /// The Lease as we last wrote it: what a graceful shutdown releases.
    written: Option<Lease>,
    /// The resourceVersion last read and when it was first seen (for Leases without times).
    observed: Option<(Option<String>, Timestamp)>,
}

/// The result of one attempt at taking or renewing the Lease.
#[derive(Debug)]
enum Attempt {
    Leading,
    /// Someone else holds it (`None`: another writer was quicker, holder unknown).
    Standby {
        holder: Option<String>,
    },
}

/// Why leading ended.
enum Ended {
    Shutdown,
    Lost,
}

impl LeaderElector {
    pub fn new(client: kube::Client, config: LeaseConfig) -> Result<Self, LeaderError> {
        config.validate()?;
        let me = Candidate {
            identity: config.identity.clone(),
            lease_duration_seconds: lease::duration_seconds(config.lease_duration),
        };
        let api = Api::namespaced(client, &config.namespace);
        Ok(Self { api, config, me, leading: watch::Sender::new(false), written: None, observed: None })
    }

    /// `true` while this candidate is the leader. Work that needs leadership should start on
    /// `true` and stop promptly on `false`.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.leading.subscribe()
    }

    pub fn identity(&self) -> &str {
        &self.config.identity
    }

    /// Campaigns and leads on a thread of its own, with a single-threaded runtime of its own,
    /// until `shutdown` fires (then as [`LeaderElector::run`]).
    ///
    /// A leader steps down once it has gone the renew deadline without renewing. As one task
    /// among a busy process's thousands, the elector waits behind all of them for every
    /// wake-up and every answer: `orrery up` with 10,000 WECs took over 30 s for one renewal
    /// and stopped its controllers. On a thread of its own the OS scheduler runs it soon
    /// after each timer or answer, whatever the rest of the process is doing.
    ///
    /// A kube client sends through a task on the runtime that made it, so the client is made
    /// on the elector's runtime, by `make_client`.
    pub fn spawn_dedicated<E>(
        make_client: impl FnOnce() -> Result<kube::Client, E>,
        config: LeaseConfig,
        shutdown: Shutdown,
    ) -> Result<DedicatedElector, LeaderError>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let elector = {
            let _on_its_runtime = runtime.enter();
            let client = make_client().map_err(|e| LeaderError::Client(e.into()))?;
            Self::new(client, config)?
        };
        let leading = elector.subscribe();
        let (done, finished) = oneshot::channel();
        std::thread::Builder::new().name("leader-election".into()).spawn(move || {
            runtime.block_on(elector.run(shutdown));
            let _ = done.send(());
        })?;
        Ok(DedicatedElector { leading, finished })
    }

    /// Campaigns and leads until `shutdown` fires; then, if leading, announces `false` and
    /// releases the Lease so a standby takes over at its next retry instead of waiting for
    /// the lease to expire.
    pub async fn run(mut self, shutdown: Shutdown) {
        while let Some(acquired) = self.campaign(&shutdown).await {
            tracing::info!(lease = %self.lease_name(), identity = %self.config.identity, "became leader");
            self.leading.send_replace(true);
            let ended = self.lead(&shutdown, acquired).await;
            self.leading.send_replace(false);
            match ended {
                Ended::Lost => tracing::warn!(lease = %self.lease_name(), "lost leadership; campaigning again"),
                Ended::Shutdown => {
                    self.release().await;
                    return;
                }
            }
        }
    }

    /// Tries until the Lease is ours; returns when the winning attempt started (the lease is
    /// only counted from then), or `None` on shutdown.
    async fn campaign(&mut self, shutdown: &Shutdown) -> Option<Instant> {
        loop {
            if shutdown.is_triggered() {
                return None;
            }
            let started = Instant::now();
            // Not cut short by shutdown: a write the server applied but we never heard about
            // would leave a Lease that nobody releases. `lead` sees the shutdown at once.
            match tokio::time::timeout(self.config.renew_deadline, self.try_acquire_or_renew()).await {
                Ok(Ok(Attempt::Leading)) => return Some(started),
                Ok(Ok(Attempt::Standby { holder })) => {
                    tracing::debug!(lease = %self.lease_name(), ?holder, "standing by")
                }
                Ok(Err(e)) => tracing::warn!(lease = %self.lease_name(), error = %e, "cannot read or take the lease"),
                Err(_) => tracing::warn!(lease = %self.lease_name(), "taking the lease timed out"),
            }
            let wait = self.config.retry_period.mul_f64(1.0 + rand::random_range(0.0..JITTER));
            tokio::select! {
                () = shutdown.wait() => return None,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Renews every retry period until shutdown, or until a renewal has not succeeded within
    /// the renew deadline, or the Lease turns out to be someone else's.
    async fn lead(&mut self, shutdown: &Shutdown, mut renewed: Instant) -> Ended {
        let mut next_try = renewed + self.config.retry_period;
        loop {
            let deadline = renewed + self.config.renew_deadline;
            tokio::select! {
                () = shutdown.wait() => return Ended::Shutdown,
                () = tokio::time::sleep_until(next_try.min(deadline)) => {}
            }
            let started = Instant::now();
            if started >= deadline {
                tracing::warn!(lease = %self.lease_name(), "no successful renewal within the renew deadline");
                return Ended::Lost;
            }
            match tokio::time::timeout_at(deadline, self.try_acquire_or_renew()).await {
                Ok(Ok(Attempt::Leading)) => {
                    let took = started.elapsed();
                    if took > self.config.retry_period {
                        tracing::warn!(lease = %self.lease_name(), took_ms = took.as_millis() as u64, "slow lease renewal");
                    }
                    renewed = started;
                    next_try = started + self.config.retry_period;
                }
                Ok(Ok(Attempt::Standby { holder: Some(holder) })) => {
                    tracing::warn!(lease = %self.lease_name(), %holder, "the lease has another holder");
                    return Ended::Lost;
                }
                Ok(Ok(Attempt::Standby { holder: None })) => {
                    tracing::debug!(lease = %self.lease_name(), "renewal raced another write; retrying");
                    next_try = Instant::now() + self.config.retry_period;
                }
                Ok(Err(e)) => {
                    tracing::warn!(lease = %self.lease_name(), error = %e, "renewing the lease failed; retrying");
                    next_try = Instant::now() + self.config.retry_period;
                }
                Err(_) => {
                    tracing::warn!(lease = %self.lease_name(), "renewing the lease timed out");
                    return Ended::Lost;
                }
            }
        }
    }

    /// One read-decide-write round (client-go's tryAcquireOrRenew).
    async fn try_acquire_or_renew(&mut self) -> Result<Attempt, kube::Error> {
        let current = self.api.get_opt(&self.config.name).await?;
        let now = Timestamp::now();
        let version = current.as_ref().and_then(|l| l.metadata.resource_version.clone());
        let observed_at = match &self.observed {
            Some((seen, at)) if *seen == version => *at,
            _ => {
                self.observed = Some((version, now));
                now
            }
        };
        let (ns, name) = (&self.config.namespace, &self.config.name);
        let written = match lease::plan(current.as_ref(), &self.me, ns, name, now, observed_at) {
            Plan::Wait { holder } => return Ok(Attempt::Standby { holder: Some(holder) }),
            Plan::Create(l) => self.api.create(&PostParams::default(), &l).await,
            Plan::Update(l) => self.api.replace(name, &PostParams::default(), &l).await,
        };
        match written {
            Ok(l) => {
                self.written = Some(l);
                Ok(Attempt::Leading)
            }
            // 409: AlreadyExists on create, Conflict on a stale resourceVersion.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Standby { holder: None }),
            Err(e) => Err(e),
        }
    }

    /// Clears the holder in the Lease we last wrote. The write carries that version, so if
    /// anyone has written since (the Lease is no longer ours) it fails and changes nothing.
    async fn release(&mut self) {
        let Some(ours) = self.written.take() else { return };
        if lease::holder(&ours) != Some(self.config.identity.as_str()) {
            return;
        }
        let next = lease::released(&ours, Timestamp::now());
        let params = PostParams::default();
        let write = self.api.replace(&self.config.name, &params, &next);
        match tokio::time::timeout(self.config.renew_deadline, write).await {
            Ok(Ok(_)) => tracing::info!(lease = %self.lease_name(), "released the lease"),
            Ok(Err(e)) => tracing::warn!(lease = %self.lease_name(), error = %e, "releasing the lease failed"),
            Err(_) => tracing::warn!(lease = %self.lease_name(), "releasing the lease timed out"),
        }
    }

    fn lease_name(&self) -> String {
        format!("{}/{}", self.config.namespace, self.config.name)
    }
}

/// A [`LeaderElector`] on its own thread ([`LeaderElector::spawn_dedicated`]).
#[derive(Debug)]
pub struct DedicatedElector {
    leading: watch::Receiver<bool>,
    finished: oneshot::Receiver<()>,
}

impl DedicatedElector {
    /// As [`LeaderElector::subscribe`].
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.leading.clone()
    }

    /// Resolves once the elector has stopped: after shutdown, and after releasing the Lease
    /// if it held it, so a standby need not wait for it to expire.
    pub async fn finished(self) {
        let _ = self.finished.await;
    }
}

impl Drop for LeaderElector {
    /// If `run` is cancelled (its task aborted) while leading, nobody is left renewing: say
    /// so, or watchers would keep acting on a stale `true`.
    fn drop(&mut self) {
        self.leading.send_replace(false);
    }
}

impl std::fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElector")
            .field("config", &self.config)
            .field("leading", &*self.leading.borrow())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_like_client_go() {
        let ok = LeaseConfig::new("ns", "l", "me");
        assert_eq!(ok.validate().ok(), Some(()));
        let short = LeaseConfig {
            lease_duration: Duration::from_secs(1),
            renew_deadline: Duration::from_millis(700),
            retry_period: Duration::from_millis(200),
            ..ok.clone()
        };
        assert_eq!(short.validate().ok(), Some(()));
        let bad = [
            LeaseConfig { identity: String::new(), ..ok.clone() },
            LeaseConfig { name: String::new(), ..ok.clone() },
            LeaseConfig { renew_deadline: Duration::from_secs(15), ..ok.clone() },
            LeaseConfig { retry_period: Duration::from_secs(9), ..ok.clone() },
            LeaseConfig { retry_period: Duration::ZERO, ..ok.clone() },
        ];
        for config in bad {
            assert!(config.validate().is_err(), "{config:?} should be rejected");
        }
    }

    #[test]
    fn identities_differ() {
        let (a, b) = (unique_identity("host"), unique_identity("host"));
        assert!(a.starts_with("host_") && a != b, "{a} {b}");
    }
}
