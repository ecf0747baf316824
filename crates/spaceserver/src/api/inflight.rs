//! Bounds on how many requests are served at once, as kube-apiserver's
//! `--max-requests-inflight` (400) and `--max-mutating-requests-inflight` (200), with the
//! same defaults. Watches are long-running and exempt, as there.
//!
//! kube-apiserver answers a request over its bound with 429; this server queues it (first
//! come, first served) until a slot frees, as API Priority and Fairness queues: the
//! clients here are controllers and syncers that would only retry.
//!
//! Leases are served apart, in a small bound of their own, as API Priority and Fairness
//! gives leader election its own priority level: a controller that cannot renew its Lease
//! within its renew deadline (40 s under `orrery up`) stands down, and at 10,000 WECs a
//! renewal could queue behind the fleet's writes for longer than that.
//!
//! Why bound at all: 10,000 syncers each writing status put 20,000 writes in the server at
//! once. Each holds its parsed object, its patch and the merge in memory while it waits for
//! its commit, and on two cores only a handful compute at any moment. A waiting request
//! holds only its headers and body: the handler's state is made when its turn comes.

use axum::http::Method;
use tokio::sync::{Semaphore, SemaphorePermit};

/// How many requests of each class may be served at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InflightLimits {
    /// Gets, lists and discovery.
    pub readonly: usize,
    /// Creates, updates, patches and deletes.
    pub mutating: usize,
}

impl Default for InflightLimits {
    fn default() -> Self {
        Self { readonly: 400, mutating: 200 }
    }
}

/// How many Lease requests are served at once, apart from every other request.
const LEASES: usize = 10;

/// Which bound a request counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Watches: they last as long as the client wants, and are bounded by connections.
    LongRunning,
    ReadOnly,
    Mutating,
    /// Reads and writes of `coordination.k8s.io` Leases: leader election.
    LeaderElection,
}

/// The class of a request from its method, path and query string. A query that does not
/// parse counts as read-only: it is answered with 400 at once.
pub(crate) fn class(method: &Method, path: &str, query: Option<&str>) -> Class {
    let watch = || super::params::Params::parse(query).is_ok_and(|p| p.watch);
    if is_lease(path) && !(*method == Method::GET && watch()) {
        return Class::LeaderElection;
    }
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => {
            if watch() {
                Class::LongRunning
            } else {
                Class::ReadOnly
            }
        }
        _ => Class::Mutating,
    }
}

/// Whether `path` names Leases (`…/apis/coordination.k8s.io/<version>/namespaces/<ns>/leases…`),
/// in one space or none.
fn is_lease(path: &str) -> bool {
    let Some((_, rest)) = path.split_once("/apis/coordination.k8s.io/") else { return false };
    let mut parts = rest.split('/').skip(1);
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some("namespaces"), Some(_), Some("leases")) | (Some("leases"), _, _)
    )
}

pub(crate) struct Inflight {
    readonly: Semaphore,
    mutating: Semaphore,
    leases: Semaphore,
}

impl Inflight {
    pub(crate) fn new(limits: InflightLimits) -> Self {
        Self {
            readonly: Semaphore::new(limits.readonly.max(1)),
            mutating: Semaphore::new(limits.mutating.max(1)),
            leases: Semaphore::new(LEASES),
        }
    }

    /// Waits for a slot of the request's class; `None` for a long-running request, which
    /// takes none. The slot is held until the permit drops.
    pub(crate) async fn admit(&self, class: Class) -> Option<SemaphorePermit<'_>> {
        let semaphore = match class {
            Class::LongRunning => return None,
            Class::ReadOnly => &self.readonly,
            Class::Mutating => &self.mutating,
            Class::LeaderElection => &self.leases,
        };
        // The semaphores are never closed.
        semaphore.acquire().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn classifies_requests_as_kube_apiserver_does() {
        let cases = [
            (Method::GET, None, Class::ReadOnly),
            (Method::GET, Some("limit=500"), Class::ReadOnly),
            (Method::GET, Some("watch=true&resourceVersion=5"), Class::LongRunning),
            (Method::GET, Some("watch=1"), Class::LongRunning),
            (Method::GET, Some("watch=false"), Class::ReadOnly),
            (Method::GET, Some("watch=maybe"), Class::ReadOnly),
            (Method::HEAD, None, Class::ReadOnly),
            (Method::POST, None, Class::Mutating),
            (Method::PUT, None, Class::Mutating),
            (Method::PATCH, Some("fieldManager=x&force=true"), Class::Mutating),
            (Method::DELETE, None, Class::Mutating),
            // A watch is a GET: any other method with `watch` is a write, and bounded.
            (Method::POST, Some("watch=true"), Class::Mutating),
        ];
        for (method, query, want) in cases {
            assert_eq!(class(&method, "/api/v1/namespaces/default/configmaps", query), want, "{method} ?{query:?}");
        }
        let lease = "/clusters/root/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/orrery-controllers";
        let paths = [
            (Method::PUT, lease, None, Class::LeaderElection),
            (Method::GET, lease, None, Class::LeaderElection),
            (Method::POST, "/apis/coordination.k8s.io/v1/namespaces/ns/leases", None, Class::LeaderElection),
            (Method::GET, "/apis/coordination.k8s.io/v1/leases", None, Class::LeaderElection),
            (Method::GET, "/apis/coordination.k8s.io/v1/leases", Some("watch=true"), Class::LongRunning),
            (Method::GET, "/apis/coordination.k8s.io/v1", None, Class::ReadOnly),
            (Method::PUT, "/api/v1/namespaces/leases/configmaps/x", None, Class::Mutating),
            (Method::PUT, "/apis/apps/v1/namespaces/leases/deployments/x", None, Class::Mutating),
        ];
        for (method, path, query, want) in paths {
            assert_eq!(class(&method, path, query), want, "{method} {path} ?{query:?}");
        }
    }

    #[test]
    fn a_full_class_queues_and_the_others_go_on() {
        let inflight = Inflight::new(InflightLimits { readonly: 1, mutating: 1 });
        let held = inflight.admit(Class::Mutating).now_or_never().flatten();
        assert!(held.is_some(), "the first write waited with a slot free");

        // Another write waits its turn ...
        let mut second = Box::pin(inflight.admit(Class::Mutating));
        assert!((&mut second).now_or_never().is_none(), "a write was admitted past the bound");
        // ... while reads, Lease renewals and watches go on.
        assert!(inflight.admit(Class::ReadOnly).now_or_never().is_some_and(|p| p.is_some()), "a read waited");
        let renewal = inflight.admit(Class::LeaderElection).now_or_never();
        assert!(renewal.is_some_and(|p| p.is_some()), "a Lease renewal waited behind writes");
        assert!(inflight.admit(Class::LongRunning).now_or_never().is_some_and(|p| p.is_none()), "a watch took a slot");

        // Once the first write ends, the queued one has its slot.
        drop(held);
        assert!(second.now_or_never().is_some_and(|p| p.is_some()), "the queued write did not get the freed slot");
    }
}
