//! What a SyncTarget key asks of the world, as a pure function of the cache.

use crate::TargetKey;

/// The mailbox to make (if any) and the one to delete (if any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub create: Option<String>,
    pub delete: Option<String>,
}

/// `uid`: the SyncTarget's UID if it exists; `gone`: the UID it had before it went away or
/// was re-created (whose mailbox must go).
pub fn desired(key: &TargetKey, uid: Option<&str>, gone: Option<&str>) -> Desired {
    let mailbox = |u: &str| orrery_api::mailbox_space_name(&key.0, u);
    let create = uid.map(mailbox);
    let delete = gone.filter(|g| Some(*g) != uid).map(mailbox);
    Desired { create, delete }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let key = ("imw1".to_owned(), "florin".to_owned());
        let table = [
            (Some("u1"), None, Desired { create: Some("imw1-mb-u1".into()), delete: None }),
            (None, Some("u1"), Desired { create: None, delete: Some("imw1-mb-u1".into()) }),
            // Deleted and made again under the same name: a fresh mailbox, the old one goes.
            (Some("u2"), Some("u1"), Desired { create: Some("imw1-mb-u2".into()), delete: Some("imw1-mb-u1".into()) }),
            (Some("u1"), Some("u1"), Desired { create: Some("imw1-mb-u1".into()), delete: None }),
            (None, None, Desired { create: None, delete: None }),
        ];
        for (uid, gone, want) in table {
            assert_eq!(desired(&key, uid, gone), want, "{uid:?} {gone:?}");
        }
    }
}
