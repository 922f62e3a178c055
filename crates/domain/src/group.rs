//! Groups, membership deltas and tombstones of deleted groups.

use crate::Timestamp;
use crate::service::ServiceId;

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: String,
    pub service: ServiceId,
    pub display_name: String,
    pub external_id: Option<String>,
    /// Other attributes, verbatim (canonical SCIM JSON without id, meta, schemas,
    /// displayName, externalId, members). Members live in their own table.
    pub attributes: serde_json::Value,
    pub created: Timestamp,
    pub last_modified: Timestamp,
    pub version: i64,
}

/// A member of a group: a user of the same service, with the display text the client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: String,
    pub display: Option<String>,
}

/// One membership change, applied as a set operation in the store: never a read-modify-write
/// of the member list, so concurrent PATCHes cannot lose members and a change costs the same
/// in a 10-member and a 100,000-member group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipChange {
    Add(Vec<Member>),
    Remove(Vec<String>),
    RemoveAll,
    Replace(Vec<Member>),
}

/// The members of one add, each user once, in the order first given: a user listed twice is
/// added once, with the last display text given for it (an entry without one keeps the
/// earlier). Stores apply an add as one set operation, which needs each user once.
pub fn distinct_members(members: &[Member]) -> Vec<Member> {
    let mut position: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut out: Vec<Member> = Vec::with_capacity(members.len());
    for m in members {
        match position.get(m.user_id.as_str()) {
            Some(&i) => {
                if m.display.is_some() {
                    out[i].display.clone_from(&m.display);
                }
            }
            None => {
                position.insert(&m.user_id, out.len());
                out.push(m.clone());
            }
        }
    }
    out
}

/// What the store reports back about a membership change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipOutcome {
    /// Member ids that named no user of this service; skipped (product.md §2.2).
    pub unknown_members: Vec<String>,
}

/// A group about to be created.
#[derive(Debug, Clone)]
pub struct NewGroup {
    pub id: String,
    pub service: ServiceId,
    pub display_name: String,
    pub external_id: Option<String>,
    pub attributes: serde_json::Value,
    pub members: Vec<Member>,
}

/// What remains of a deleted group: enough to recognise its restoration and to know whom its
/// deletion blocked (product.md §2.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Tombstone {
    pub group_id: String,
    pub service: ServiceId,
    pub display_name: String,
    pub external_id: Option<String>,
    pub member_ids: Vec<String>,
    pub deleted: Timestamp,
}

/// Result of creating a group: a fresh one, or one that took over a tombstone's id.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedGroup {
    pub group: Group,
    /// Set when the group restored a deleted one; its former members were unblocked.
    pub restored_from_tombstone: bool,
    pub membership: MembershipOutcome,
}

#[cfg(test)]
mod distinct_members_tests {
    use super::{Member, distinct_members};

    fn m(id: &str, display: Option<&str>) -> Member {
        Member { user_id: id.into(), display: display.map(Into::into) }
    }

    #[test]
    fn each_user_once_in_first_order_with_the_last_display_given() {
        let got = distinct_members(&[
            m("a", Some("A1")),
            m("b", None),
            m("a", None),
            m("c", Some("C")),
            m("b", Some("B")),
            m("a", Some("A2")),
        ]);
        assert_eq!(got, vec![m("a", Some("A2")), m("b", Some("B")), m("c", Some("C"))]);
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(distinct_members(&[]).is_empty());
    }
}
