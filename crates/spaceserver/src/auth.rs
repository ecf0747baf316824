//! Authentication: bearer tokens. The admin token opens every space; a space token opens
//! exactly one space (every mailbox's syncer holds one for its mailbox only). There is no
//! anonymous access.

use crate::api::path::SpaceRef;
use axum::http::HeaderMap;
use std::collections::HashMap;
use std::sync::RwLock;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    Admin,
    Space(String),
}

impl Identity {
    pub fn may_access(&self, target: &SpaceRef) -> bool {
        match (self, target) {
            (Identity::Admin, _) => true,
            (Identity::Space(mine), SpaceRef::Named(s)) => mine == s,
            (Identity::Space(_), SpaceRef::All) => false,
        }
    }
}

pub struct Authenticator {
    admin_token: String,
    /// token → space
    space_tokens: RwLock<HashMap<String, String>>,
}

impl Authenticator {
    pub fn new(admin_token: String) -> Self {
        Self { admin_token, space_tokens: RwLock::new(HashMap::new()) }
    }

    pub fn add_space_token(&self, token: String, space: String) {
        self.space_tokens.write().unwrap_or_else(|e| e.into_inner()).insert(token, space);
    }

    /// Forgets every token of a deleted space.
    pub fn remove_space(&self, space: &str) {
        self.space_tokens.write().unwrap_or_else(|e| e.into_inner()).retain(|_, s| s != space);
    }

    pub fn authenticate(&self, headers: &HeaderMap) -> Option<Identity> {
        let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?.trim();
        if token.is_empty() {
            return None;
        }
        if constant_time_eq(token.as_bytes(), self.admin_token.as_bytes()) {
            return Some(Identity::Admin);
        }
        self.space_tokens.read().unwrap_or_else(|e| e.into_inner()).get(token).map(|s| Identity::Space(s.clone()))
    }
}

/// Compares without leaking through timing how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new random token: 32 bytes, base64url.
pub fn new_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(v: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = v {
            h.insert(axum::http::header::AUTHORIZATION, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn tokens_map_to_identities() {
        let auth = Authenticator::new("admin-secret".into());
        auth.add_space_token("mb1-token".into(), "mb1".into());
        let table = [
            (None, None),
            (Some("Bearer "), None),
            (Some("Basic YTpi"), None),
            (Some("Bearer wrong"), None),
            (Some("Bearer admin-secret"), Some(Identity::Admin)),
            (Some("Bearer mb1-token"), Some(Identity::Space("mb1".into()))),
        ];
        for (h, want) in table {
            assert_eq!(auth.authenticate(&headers(h)), want, "{h:?}");
        }
        auth.remove_space("mb1");
        assert_eq!(auth.authenticate(&headers(Some("Bearer mb1-token"))), None);
    }

    #[test]
    fn space_tokens_reach_only_their_space() {
        let mb1 = Identity::Space("mb1".into());
        assert!(mb1.may_access(&SpaceRef::Named("mb1".into())));
        assert!(!mb1.may_access(&SpaceRef::Named("mb2".into())));
        assert!(!mb1.may_access(&SpaceRef::All));
        assert!(Identity::Admin.may_access(&SpaceRef::All));
        assert_ne!(new_token(), new_token());
        assert_eq!(new_token().len(), 43);
    }
}
