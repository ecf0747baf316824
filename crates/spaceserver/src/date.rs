//! The `Date` header of responses sent over the network, never indexed by HPACK.
//!
//! hyper adds `Date` itself, and HTTP/2's header compression then indexes each new value:
//! a connection that sees a response every second fills its 4 KiB dynamic table with
//! dates, about 9 KiB of encoder state, and the client's decoder mirrors it. A value marked
//! sensitive is sent as a literal and never indexed, which costs some 30 bytes a response
//! and nothing per connection: at 10,000 syncers, 90 MB in the server alone.

use axum::http::HeaderValue;
use jiff::Timestamp;
use jiff::fmt::rfc2822::DateTimePrinter;
use std::cell::RefCell;

thread_local! {
    /// The value for the current second, per thread: formatting is not free, and a busy
    /// server answers many requests within one second.
    static CURRENT: RefCell<Option<(i64, HeaderValue)>> = const { RefCell::new(None) };
}

/// The `Date` header value for `now` (RFC 9110's IMF-fixdate), marked sensitive; `None`
/// for a time it cannot express (a year past 9999), when a response goes without one.
pub fn header_value(now: Timestamp) -> Option<HeaderValue> {
    let second = now.as_second();
    CURRENT.with_borrow_mut(|current| match current {
        Some((s, v)) if *s == second => Some(v.clone()),
        _ => {
            let v = format(now)?;
            *current = Some((second, v.clone()));
            Some(v)
        }
    })
}

fn format(now: Timestamp) -> Option<HeaderValue> {
    let text = DateTimePrinter::new().timestamp_to_rfc9110_string(&now).ok()?;
    let mut v = HeaderValue::from_str(&text).ok()?;
    v.set_sensitive(true);
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_imf_fixdate_and_never_indexed() {
        let cases = [
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (1_795_452_939, "Mon, 23 Nov 2026 16:55:39 GMT"),
            (1_795_452_940, "Mon, 23 Nov 2026 16:55:40 GMT"),
        ];
        for (second, want) in cases {
            let v = header_value(Timestamp::from_second(second).expect("in range")).expect("a date");
            assert_eq!(v.to_str().expect("ascii"), want);
            assert!(v.is_sensitive(), "{want}");
        }
        // Within a second, the cached value.
        let a = header_value(Timestamp::from_second(1_795_452_940).expect("in range"));
        let b = header_value(Timestamp::new(1_795_452_940, 999_000_000).expect("in range"));
        assert_eq!(a, b);
    }
}
