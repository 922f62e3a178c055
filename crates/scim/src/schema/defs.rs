//! The standard schemas of RFC 7643 §8.7.1 (core User, core Group) and §8.7.1's Enterprise User
//! extension, and the common attributes of RFC 7643 §3.1.
//!
//! Built once (they are consulted on every request) and handed out as `&'static`.

use super::{AttributeDef as A, Mutability, Returned, SchemaDef, Uniqueness};
use std::sync::LazyLock;

/// URN of the core User schema (RFC 7643 §4.1).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the Enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// URN of the core Group schema (RFC 7643 §4.2).
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// `value`, `display`, `type`, `primary`: the usual shape of a multi-valued attribute
/// (RFC 7643 §2.4).
fn multi_complex(name: &'static str, description: &'static str, value: A, types: &[&'static str]) -> A {
    A::complex(
        name,
        description,
        vec![
            value,
            A::string("display", "A human-readable name, primarily used for display purposes."),
            A::string("type", "A label indicating the attribute's function.").canonical(types),
            A::boolean(
                "primary",
                "A Boolean value indicating the 'primary' or preferred attribute value for this \
                 attribute. The primary attribute value 'true' MUST appear no more than once.",
            ),
        ],
    )
    .multi()
}

static COMMON: LazyLock<Vec<A>> = LazyLock::new(|| {
    vec![
        A::string("id", "Unique identifier for the SCIM resource as defined by the service provider.")
            .case_exact()
            .read_only()
            .returned(Returned::Always)
            .uniqueness(Uniqueness::Server),
        A::string(
            "externalId",
            "A String that is an identifier for the resource as defined by the provisioning client.",
        )
        .case_exact(),
        A::complex(
            "meta",
            "A complex attribute containing resource metadata.",
            vec![
                A::string("resourceType", "The name of the resource type of the resource.").case_exact().read_only(),
                A::date_time("created", "The DateTime that the resource was added to the service provider.")
                    .read_only(),
                A::date_time(
                    "lastModified",
                    "The most recent DateTime that the details of this resource were updated at the service provider.",
                )
                .read_only(),
                A::reference("location", &["uri"], "The URI of the resource being returned.").case_exact().read_only(),
                A::string("version", "The version of the resource being returned.").case_exact().read_only(),
            ],
        )
        .read_only(),
    ]
});

/// `id`, `externalId` and `meta`: the common attributes every resource has (RFC 7643 §3.1).
/// They belong to no schema, so discovery documents do not list them (as in RFC 7643 §8.7.1).
pub fn common_attributes() -> &'static [A] {
    &COMMON
}

static USER: LazyLock<SchemaDef> = LazyLock::new(|| {
    SchemaDef {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: vec![
        A::string(
            "userName",
            "Unique identifier for the User, typically used by the user to directly authenticate \
             to the service provider. Each User MUST include a non-empty userName value. This \
             identifier MUST be unique across the service provider's entire set of Users.",
        )
        .required()
        .uniqueness(Uniqueness::Server),
        A::complex(
            "name",
            "The components of the user's real name.",
            vec![
                A::string("formatted", "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display."),
                A::string("familyName", "The family name of the User, or last name in most Western languages."),
                A::string("givenName", "The given name of the User, or first name in most Western languages."),
                A::string("middleName", "The middle name(s) of the User."),
                A::string("honorificPrefix", "The honorific prefix(es) of the User, or title in most Western languages."),
                A::string("honorificSuffix", "The honorific suffix(es) of the User, or suffix in most Western languages."),
            ],
        ),
        A::string("displayName", "The name of the User, suitable for display to end-users."),
        A::string("nickName", "The casual way to address the user in real life."),
        A::reference("profileUrl", &["external"], "A fully qualified URL pointing to a page representing the User's online profile."),
        A::string("title", "The user's title, such as \"Vice President.\""),
        A::string("userType", "Used to identify the relationship between the organization and the user."),
        A::string("preferredLanguage", "Indicates the User's preferred written or spoken language."),
        A::string("locale", "Used to indicate the User's default location for purposes of localizing items such as currency, date time format, or numerical representations."),
        A::string("timezone", "The User's time zone in the 'Olson' time zone database format, e.g., 'America/Los_Angeles'."),
        A::boolean("active", "A Boolean value indicating the User's administrative status."),
        A::string("password", "The User's cleartext password. This attribute is intended to be used as a means to specify an initial password when creating a new User or to reset an existing User's password.")
            .mutability(Mutability::WriteOnly)
            .returned(Returned::Never),
        multi_complex(
            "emails",
            "Email addresses for the user.",
            A::string("value", "Email addresses for the user."),
            &["work", "home", "other"],
        ),
        multi_complex(
            "phoneNumbers",
            "Phone numbers for the User.",
            A::string("value", "Phone number of the User."),
            &["work", "home", "mobile", "fax", "pager", "other"],
        ),
        multi_complex(
            "ims",
            "Instant messaging addresses for the User.",
            A::string("value", "Instant messaging address for the User."),
            &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
        ),
        multi_complex(
            "photos",
            "URLs of photos of the User.",
            A::reference("value", &["external"], "URL of a photo of the User."),
            &["photo", "thumbnail"],
        ),
        A::complex(
            "addresses",
            "A physical mailing address for this User.",
            vec![
                A::string("formatted", "The full mailing address, formatted for display or use with a mailing label."),
                A::string("streetAddress", "The full street address component, which may include house number, street name, P.O. box, and multi-line extended street address information."),
                A::string("locality", "The city or locality component."),
                A::string("region", "The state or region component."),
                A::string("postalCode", "The zip code or postal code component."),
                A::string("country", "The country name component."),
                A::string("type", "A label indicating the attribute's function, e.g., 'work' or 'home'.")
                    .canonical(&["work", "home", "other"]),
                A::boolean("primary", "A Boolean value indicating the 'primary' or preferred address."),
            ],
        )
        .multi(),
        A::complex(
            "groups",
            "A list of groups to which the user belongs, either through direct membership, through nested groups, or dynamically calculated.",
            vec![
                A::string("value", "The identifier of the User's group.").read_only(),
                A::reference("$ref", &["User", "Group"], "The URI of the corresponding 'Group' resource to which the user belongs.")
                    .read_only(),
                A::string("display", "A human-readable name, primarily used for display purposes.")
                    .read_only(),
                A::string("type", "A label indicating the attribute's function, e.g., 'direct' or 'indirect'.")
                    .canonical(&["direct", "indirect"])
                    .read_only(),
            ],
        )
        .multi()
        .read_only(),
        multi_complex(
            "entitlements",
            "A list of entitlements for the User that represent a thing the User has.",
            A::string("value", "The value of an entitlement."),
            &[],
        ),
        multi_complex(
            "roles",
            "A list of roles for the User that collectively represent who the User is, e.g., 'Student', 'Faculty'.",
            A::string("value", "The value of a role."),
            &[],
        ),
        multi_complex(
            "x509Certificates",
            "A list of certificates issued to the User.",
            A::binary("value", "The value of an X.509 certificate."),
            &[],
        ),
    ],
}
});

static ENTERPRISE_USER: LazyLock<SchemaDef> = LazyLock::new(|| SchemaDef {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: vec![
        A::string(
            "employeeNumber",
            "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization.",
        ),
        A::string("costCenter", "Identifies the name of a cost center."),
        A::string("organization", "Identifies the name of an organization."),
        A::string("division", "Identifies the name of a division."),
        A::string("department", "Identifies the name of a department."),
        A::complex(
            "manager",
            "The User's manager. A complex type that optionally allows service providers to represent organizational hierarchy by referencing the 'id' attribute of another User.",
            vec![
                A::string("value", "The id of the SCIM resource representing the User's manager."),
                A::reference("$ref", &["User"], "The URI of the SCIM resource representing the User's manager."),
                A::string("displayName", "The displayName of the User's manager.").read_only(),
            ],
        ),
    ],
});

static GROUP: LazyLock<SchemaDef> = LazyLock::new(|| SchemaDef {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: vec![
        // RFC 7643 §8.7.1 has `required: false, uniqueness: none`; Entra matches groups on
        // displayName and the product requires unique names (product.md §2.3).
        A::string("displayName", "A human-readable name for the Group.").required().uniqueness(Uniqueness::Server),
        A::complex(
            "members",
            "A list of members of the Group.",
            vec![
                A::string("value", "Identifier of the member of this Group.").mutability(Mutability::Immutable),
                A::reference(
                    "$ref",
                    &["User", "Group"],
                    "The URI corresponding to a SCIM resource that is a member of this Group.",
                )
                .mutability(Mutability::Immutable),
                // Not in RFC 7643 §8.7.1 (only in §4.2's prose). Immutable rather than readOnly:
                // the display text a client sends with a member is kept and returned.
                A::string("display", "A human-readable name for the member.").mutability(Mutability::Immutable),
                A::string("type", "A label indicating the type of resource, e.g., 'User' or 'Group'.")
                    .canonical(&["User", "Group"])
                    .mutability(Mutability::Immutable),
            ],
        )
        .multi(),
    ],
});

/// The core User schema (RFC 7643 §4.1, §8.7.1).
pub fn user_schema() -> &'static SchemaDef {
    &USER
}

/// The Enterprise User extension (RFC 7643 §4.3, §8.7.1).
pub fn enterprise_user_schema() -> &'static SchemaDef {
    &ENTERPRISE_USER
}

/// The core Group schema (RFC 7643 §4.2, §8.7.1).
pub fn group_schema() -> &'static SchemaDef {
    &GROUP
}
