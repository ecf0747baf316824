//! Bounds on how many requests are served at once, as kube-apiserver's
//! `--max-requests-inflight` (400) and `--max-mutating-requests-inflight` (200), with the
//! same defaults. Watches are long-running and exempt, as there.
//!
//! kube-apiserver answers a request over its bound with 429; this server queues it (first
//! come, first served) until a slot frees, as API Priority and Fairness queues: the
//! clients here are controllers and syncers that would only retry.
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

/// Which bound a request counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Watches: they last as long as the client wants, and are bounded by connections.
    LongRunning,
    ReadOnly,
    Mutating,
}

/// The class of a request from its method and query string. A query that does not parse
/// counts as read-only: it is answered with 400 at once.
pub(crate) fn class(method: &Method, query: Option<&str>) -> Class {
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => {
            if super::params::Params::parse(query).is_ok_and(|p| p.watch) {
                Class::LongRunning
            } else {
                Class::ReadOnly
            }
        }
        _ => Class::Mutating,
    }
}

pub(crate) struct Inflight {
    readonly: Semaphore,
    mutating: Semaphore,
}

impl Inflight {
    pub(crate) fn new(limits: InflightLimits) -> Self {
        Self { readonly: Semaphore::new(limits.readonly.max(1)), mutating: Semaphore::new(limits.mutating.max(1)) }
    }

    /// Waits for a slot of the request's class; `None` for a long-running request, which
    /// takes none. The slot is held until the permit drops.
    pub(crate) async fn admit(&self, class: Class) -> Option<SemaphorePermit<'_>> {
        let semaphore = match class {
            Class::LongRunning => return None,
            Class::ReadOnly => &self.readonly,
            Class::Mutating => &self.mutating,
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
            assert_eq!(class(&method, query), want, "{method} ?{query:?}");
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
        // ... while reads and watches go on.
        assert!(inflight.admit(Class::ReadOnly).now_or_never().is_some_and(|p| p.is_some()), "a read waited");
        assert!(inflight.admit(Class::LongRunning).now_or_never().is_some_and(|p| p.is_none()), "a watch took a slot");

        // Once the first write ends, the queued one has its slot.
        drop(held);
        assert!(second.now_or_never().is_some_and(|p| p.is_some()), "the queued write did not get the freed slot");
    }
}
