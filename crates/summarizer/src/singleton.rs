//! Singleton status return and `kubestellar.io/executing-count`, decided for one WDS
//! object from where it runs.
//!
//! A WEC is *qualified* when a placement asking for `wantSingletonReportedState` carries
//! the object there (KubeStellar's API semantics, issue #3478: WECs reached only through
//! other placements do not count).
//!
//! - `executing-count` is the number of qualified WECs when singleton status is asked for,
//!   else the number of WECs running the object; `0` once it runs nowhere (only on objects
//!   that had a count).
//! - With exactly one qualified WEC, the object's `.status` is that WEC's. Otherwise the
//!   status is cleared, and `orrery.io/singleton-status` says why. When singleton status
//!   stops being asked for, the status the summarizer wrote is cleared and the annotation
//!   removed.

use crate::controller::Returned;
use serde_json::Value;

/// One WEC the object runs in.
#[derive(Clone, Copy, Debug)]
pub struct Destination<'a> {
    /// The SyncTarget's name.
    pub wec: &'a str,
    /// Reached through a placement asking for singleton status.
    pub qualified: bool,
    /// What it reported, if anything yet.
    pub status: Option<&'a Returned>,
}

/// What to do with the object's `.status`.
#[derive(Clone, Debug, PartialEq)]
pub enum StatusWrite {
    /// Not the summarizer's: leave it.
    Leave,
    Set(Value),
    Clear,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The `kubestellar.io/executing-count` value; `None`: no such annotation.
    pub executing_count: Option<String>,
    /// The `orrery.io/singleton-status` value; `None`: no such annotation.
    pub note: Option<String>,
    pub status: StatusWrite,
}

/// The decision for an object running in `destinations`, whose annotations are now
/// `had_count` (executing-count present) and `had_note` (singleton-status present).
pub fn decide(destinations: &[Destination<'_>], had_count: bool, had_note: bool) -> Decision {
    let qualified: Vec<&Destination<'_>> = destinations.iter().filter(|d| d.qualified).collect();
    let cleared = |note: Option<String>| (StatusWrite::Clear, note);
    if qualified.is_empty() {
        let executing_count = match destinations.len() {
            0 if !had_count => None,
            n => Some(n.to_string()),
        };
        let (status, note) = if had_note { cleared(None) } else { (StatusWrite::Leave, None) };
        return Decision { executing_count, note, status };
    }
    let executing_count = Some(qualified.len().to_string());
    let (status, note) = match qualified.as_slice() {
        [one] => match one.status {
            Some(r) => (StatusWrite::Set(r.status()), Some(format!("returned from {}", one.wec))),
            None => cleared(Some(format!("waiting for {} to report", one.wec))),
        },
        many => cleared(Some(format!(
            "not returned: {} qualified WECs ({}); singleton status needs exactly 1",
            many.len(),
            names(many)
        ))),
    };
    Decision { executing_count, note, status }
}

/// Up to five WEC names, then how many more.
fn names(destinations: &[&Destination<'_>]) -> String {
    let mut out: Vec<&str> = destinations.iter().take(5).map(|d| d.wec).collect();
    out.sort_unstable();
    let mut text = out.join(", ");
    if destinations.len() > 5 {
        text.push_str(&format!(" and {} more", destinations.len() - 5));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d<'a>(wec: &'a str, qualified: bool, status: Option<&'a Returned>) -> Destination<'a> {
        Destination { wec, qualified, status }
    }

    #[test]
    fn table() {
        let s = Returned::new(&json!({"readyReplicas": 1}), "2026-11-22T10:00:00Z".into());
        let set = StatusWrite::Set(json!({"readyReplicas": 1}));
        type Case<'a> = (&'a str, Vec<Destination<'a>>, bool, bool, Option<&'a str>, Option<&'a str>, StatusWrite);
        let cases: Vec<Case<'_>> = vec![
            // (case, destinations, had_count, had_note, count, note prefix, status)
            ("never placed", vec![], false, false, None, None, StatusWrite::Leave),
            ("placed no more", vec![], true, false, Some("0"), None, StatusWrite::Leave),
            ("singleton placed no more", vec![], true, true, Some("0"), None, StatusWrite::Clear),
            (
                "not asked, three WECs",
                vec![d("a", false, None), d("b", false, None), d("c", false, Some(&s))],
                false,
                false,
                Some("3"),
                None,
                StatusWrite::Leave,
            ),
            (
                "asked, one WEC, reported",
                vec![d("a", true, Some(&s))],
                false,
                false,
                Some("1"),
                Some("returned from a"),
                set.clone(),
            ),
            (
                "asked, one WEC, not yet",
                vec![d("a", true, None)],
                false,
                false,
                Some("1"),
                Some("waiting for a"),
                StatusWrite::Clear,
            ),
            (
                "asked, three WECs",
                vec![d("a", true, Some(&s)), d("b", true, None), d("c", true, None)],
                true,
                true,
                Some("3"),
                Some("not returned: 3 qualified WECs (a, b, c)"),
                StatusWrite::Clear,
            ),
            // Issue #3478: only qualified WECs count.
            (
                "one qualified of three",
                vec![d("a", false, None), d("b", true, Some(&s)), d("c", false, None)],
                false,
                false,
                Some("1"),
                Some("returned from b"),
                set.clone(),
            ),
            ("no longer asked", vec![d("a", false, Some(&s))], true, true, Some("1"), None, StatusWrite::Clear),
        ];
        for (case, dests, had_count, had_note, count, note, status) in cases {
            let got = decide(&dests, had_count, had_note);
            assert_eq!(got.executing_count.as_deref(), count, "{case}");
            match (got.note.as_deref(), note) {
                (Some(g), Some(w)) => assert!(g.starts_with(w), "{case}: {g}"),
                (g, w) => assert_eq!(g, w, "{case}"),
            }
            assert_eq!(got.status, status, "{case}");
        }
    }

    #[test]
    fn long_lists_are_cut() {
        let names: Vec<String> = (0..8).map(|i| format!("w{i}")).collect();
        let dests: Vec<Destination<'_>> = names.iter().map(|n| d(n, true, None)).collect();
        let note = decide(&dests, false, false).note.expect("note");
        assert!(note.contains("w0, w1, w2, w3, w4 and 3 more"), "{note}");
    }
}
