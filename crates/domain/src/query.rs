//! Protocol-neutral queries. The SCIM layer translates its filters into these; each store
//! compiles them to indexed SQL. Anything a query cannot express is evaluated by the caller
//! on the candidates a looser query returned.

/// Indexed fields a user query can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserField {
    Id,
    /// Compared case-insensitively (RFC 7643: `userName` is `caseExact: false`).
    UserName,
    /// Compared exactly (`caseExact: true`).
    ExternalId,
    /// The work (or primary) email, compared case-insensitively.
    Email,
    DisplayName,
    Active,
    Created,
    LastModified,
    /// Member of the group with this id.
    MemberOf,
    /// The stored status text (`pendingActivation`…); an expired pending code still reads
    /// `pendingActivation` here, see [`UserField::ActivationExpiresAt`].
    Status,
    /// Has at least one block reason (compared with a `Bool`).
    Blocked,
    /// Compared case-insensitively.
    GivenName,
    /// Compared case-insensitively.
    FamilyName,
    /// When the pending activation code expires (timestamp text).
    ActivationExpiresAt,
    /// The provisioning source (`scim`, `api`, `console`, `import`).
    Source,
}

/// Indexed fields a group query can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupField {
    Id,
    /// Compared case-insensitively.
    DisplayName,
    ExternalId,
    /// Has the user with this id as a member.
    Member,
    Created,
    LastModified,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Contains,
    StartsWith,
    EndsWith,
    Gt,
    Ge,
    Lt,
    Le,
    Present,
}

/// A value to compare with. Timestamps are passed as RFC 3339 UTC text with millisecond
/// precision, the stored form, so text order is time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryValue {
    Text(String),
    Bool(bool),
    None,
}

/// A condition tree over the fields `F`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition<F> {
    True,
    False,
    Cmp(F, Op, QueryValue),
    And(Vec<Condition<F>>),
    Or(Vec<Condition<F>>),
    Not(Box<Condition<F>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDirection {
    Ascending,
    Descending,
}

/// One page of a listing: 0-based offset and count (SCIM's 1-based `startIndex` is converted
/// by the protocol layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub offset: u64,
    pub limit: u64,
}

/// A query: condition, optional sort, page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query<F> {
    pub condition: Condition<F>,
    pub sort: Option<(F, SortDirection)>,
    /// `None` returns every match (used when the caller filters further in memory).
    pub page: Option<PageRequest>,
}

pub type UserQuery = Query<UserField>;
pub type GroupQuery = Query<GroupField>;

/// A page of results with the total number of matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
}
