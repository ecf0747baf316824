//! The decisions of leader election, as pure functions of the Lease and the clock.
//!
//! [`crate::leader`] does the I/O; everything that decides *whether* a candidate may take or
//! keep the Lease, and what it writes, lives here so it can be tested with tables. The record
//! is client-go's (`holderIdentity`, `leaseDurationSeconds`, `acquireTime`, `renewTime`,
//! `leaseTransitions`), so orrery and client-go candidates can share one Lease.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// Who is asking, and for how long a renewal holds the Lease.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub(crate) identity: String,
    pub(crate) lease_duration_seconds: i32,
}

/// What a candidate should do with the Lease as it finds it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Plan {
    /// No Lease yet: create this one (fails harmlessly if another candidate was quicker).
    Create(Lease),
    /// Write this (taking over or renewing). It carries the observed resourceVersion, so the
    /// write fails if anyone else wrote in between: two candidates cannot both win.
    Update(Lease),
    /// Someone else holds an unexpired Lease.
    Wait { holder: String },
}

/// `leaseDurationSeconds` for a configured duration: whole seconds, rounded up (a longer
/// lease only makes standbys wait longer, never lets them in early).
pub(crate) fn duration_seconds(d: Duration) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs.max(1)).unwrap_or(i32::MAX)
}

/// The holder named in the Lease; an empty string (a released Lease) counts as nobody.
pub(crate) fn holder(lease: &Lease) -> Option<&str> {
    lease.spec.as_ref()?.holder_identity.as_deref().filter(|h| !h.is_empty())
}

/// Whether the holder's last renewal has run out: `renewTime + leaseDurationSeconds < now`.
/// Without a `renewTime` (a Lease written by something else), `observed_at` (when this
/// candidate first saw the Lease in its current version) stands in for it, like client-go's
/// observedTime. This assumes candidates' clocks agree to well within the difference between
/// the lease duration and the renew deadline.
pub(crate) fn is_expired(spec: &LeaseSpec, now: Timestamp, observed_at: Timestamp) -> bool {
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()).map_or(observed_at, |t| t.0);
    let secs = spec.lease_duration_seconds.unwrap_or(0).max(0);
    match renewed.checked_add(SignedDuration::from_secs(i64::from(secs))) {
        Ok(until) => until < now,
        Err(_) => false,
    }
}

/// Decides what `me` should do, given the Lease as just read (`None`: it does not exist).
pub(crate) fn plan(
    current: Option<&Lease>,
    me: &Candidate,
    namespace: &str,
    name: &str,
    now: Timestamp,
    observed_at: Timestamp,
) -> Plan {
    let Some(current) = current else {
        let spec = LeaseSpec {
            holder_identity: Some(me.identity.clone()),
            lease_duration_seconds: Some(me.lease_duration_seconds),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(0),
            ..LeaseSpec::default()
        };
        let meta =
            ObjectMeta { name: Some(name.to_owned()), namespace: Some(namespace.to_owned()), ..ObjectMeta::default() };
        return Plan::Create(Lease { metadata: meta, spec: Some(spec) });
    };
    let spec = current.spec.clone().unwrap_or_default();
    let held_by = holder(current);
    let ours = held_by == Some(me.identity.as_str());
    if let Some(other) = held_by
        && !ours
        && !is_expired(&spec, now, observed_at)
    {
        return Plan::Wait { holder: other.to_owned() };
    }
    let mut next = current.clone();
    let mut spec = spec;
    if !ours {
        spec.acquire_time = Some(MicroTime(now));
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
        spec.holder_identity = Some(me.identity.clone());
    }
    spec.renew_time = Some(MicroTime(now));
    spec.lease_duration_seconds = Some(me.lease_duration_seconds);
    next.spec = Some(spec);
    Plan::Update(next)
}

/// The Lease as a leader leaves it on graceful shutdown: nobody holds it and it lasts one
/// second, so a standby takes it at its next attempt instead of waiting out the duration
/// (client-go's ReleaseOnCancel).
pub(crate) fn released(lease: &Lease, now: Timestamp) -> Lease {
    let mut next = lease.clone();
    let spec = next.spec.get_or_insert_with(LeaseSpec::default);
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    spec.acquire_time = Some(MicroTime(now));
    spec.renew_time = Some(MicroTime(now));
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).expect("timestamp")
    }

    fn lease(holder: Option<&str>, renewed: Option<i64>, transitions: i32) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some("l".into()),
                namespace: Some("ns".into()),
                resource_version: Some("7".into()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: holder.map(str::to_owned),
                lease_duration_seconds: Some(10),
                acquire_time: renewed.map(|s| MicroTime(at(s - 100))),
                renew_time: renewed.map(|s| MicroTime(at(s))),
                lease_transitions: Some(transitions),
                ..LeaseSpec::default()
            }),
        }
    }

    fn me() -> Candidate {
        Candidate { identity: "me".into(), lease_duration_seconds: 15 }
    }

    #[test]
    fn whole_seconds_round_up() {
        let cases = [(Duration::from_millis(200), 1), (Duration::from_secs(1), 1), (Duration::from_millis(1001), 2)];
        for (d, want) in cases {
            assert_eq!(duration_seconds(d), want, "{d:?}");
        }
    }

    #[test]
    fn creates_an_absent_lease() {
        let Plan::Create(l) = plan(None, &me(), "ns", "l", at(0), at(0)) else { panic!("should create") };
        let spec = l.spec.expect("spec");
        assert_eq!((spec.holder_identity.as_deref(), spec.lease_transitions), (Some("me"), Some(0)));
        assert_eq!((spec.acquire_time, spec.renew_time), (Some(MicroTime(at(0))), Some(MicroTime(at(0)))));
        assert_eq!((l.metadata.namespace.as_deref(), l.metadata.name.as_deref()), (Some("ns"), Some("l")));
    }

    #[test]
    fn decides_by_holder_and_expiry() {
        // Err(holder we wait for), or Ok((holder, transitions, acquire time)) after an update.
        type Expect = Result<(&'static str, i32, i64), &'static str>;
        let cases: [(Lease, i64, Expect); 6] = [
            // Held by another, renewed 5 s ago with 10 s duration: wait.
            (lease(Some("other"), Some(0), 3), 5, Err("other")),
            // Exactly at the boundary it is still held (expiry is strictly after).
            (lease(Some("other"), Some(0), 3), 10, Err("other")),
            // Expired: take it over, one more transition, acquired now.
            (lease(Some("other"), Some(0), 3), 11, Ok(("me", 4, 11))),
            // Released (empty holder): take it at once.
            (lease(Some(""), Some(0), 3), 1, Ok(("me", 4, 1))),
            (lease(None, Some(0), 3), 1, Ok(("me", 4, 1))),
            // Ours: renew, keeping the acquire time and the transition count.
            (lease(Some("me"), Some(0), 3), 5, Ok(("me", 3, -100))),
        ];
        for (i, (current, now, want)) in cases.into_iter().enumerate() {
            let got = plan(Some(&current), &me(), "ns", "l", at(now), at(now));
            match (got, want) {
                (Plan::Wait { holder }, Err(h)) => assert_eq!(holder, h, "case {i}"),
                (Plan::Update(l), Ok((holder, transitions, acquired))) => {
                    assert_eq!(l.metadata.resource_version.as_deref(), Some("7"), "case {i}: keeps the version");
                    let spec = l.spec.expect("spec");
                    assert_eq!(spec.holder_identity.as_deref(), Some(holder), "case {i}");
                    assert_eq!(spec.lease_transitions, Some(transitions), "case {i}");
                    assert_eq!(spec.acquire_time, Some(MicroTime(at(acquired))), "case {i}");
                    assert_eq!(spec.renew_time, Some(MicroTime(at(now))), "case {i}");
                    assert_eq!(spec.lease_duration_seconds, Some(15), "case {i}");
                }
                (got, want) => panic!("case {i}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn without_times_the_first_observation_counts() {
        let current = lease(Some("other"), None, 0);
        let first_seen = at(0);
        assert!(matches!(plan(Some(&current), &me(), "ns", "l", at(9), first_seen), Plan::Wait { .. }));
        assert!(matches!(plan(Some(&current), &me(), "ns", "l", at(11), first_seen), Plan::Update(_)));
    }

    #[test]
    fn release_frees_the_lease_for_the_next_attempt() {
        let l = released(&lease(Some("me"), Some(0), 2), at(3));
        assert_eq!(holder(&l), None);
        let spec = l.spec.clone().expect("spec");
        assert_eq!((spec.lease_duration_seconds, spec.lease_transitions), (Some(1), Some(2)));
        assert!(matches!(plan(Some(&l), &me(), "ns", "l", at(3), at(3)), Plan::Update(_)));
    }
}
