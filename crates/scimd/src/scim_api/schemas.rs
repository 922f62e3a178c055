//! The resource types scimd serves: core User + enterprise extension + scimd's MFA extension,
//! and core Group.

use scim::filter::ValueKind;
use scim::schema::{AttributeDef, ResourceSchema, Returned, SchemaDef, enterprise_user_schema};

/// scimd's read-only extension publishing MFA state on every User (product.md §2).
pub const MFA_SCHEMA: &str = "urn:scimd:schemas:extension:mfa:1.0:User";

pub struct Schemas {
    pub user: ResourceSchema,
    pub group: ResourceSchema,
}

impl Schemas {
    pub fn new() -> Self {
        Self {
            user: ResourceSchema::user(vec![(enterprise_user_schema().clone(), false), (mfa_schema(), false)]),
            group: ResourceSchema::group(vec![]),
        }
    }

    /// Every schema definition, for `/Schemas`.
    pub fn all(&self) -> Vec<&SchemaDef> {
        let mut all = vec![&self.user.core];
        all.extend(self.user.extensions.iter().map(|(s, _)| s));
        all.push(&self.group.core);
        all
    }
}

impl Default for Schemas {
    fn default() -> Self {
        Self::new()
    }
}

fn mfa_schema() -> SchemaDef {
    let ro = |a: AttributeDef| a.read_only().returned(Returned::Default);
    SchemaDef {
        id: MFA_SCHEMA,
        name: "MfaUser",
        description: "MFA state of the user in scimd. Read-only: writes are ignored.",
        attributes: vec![
            ro(AttributeDef::string(
                "status",
                "Activation state: pendingActivation, activated, notActivated or activationExpired.",
            )
            .canonical(&["pendingActivation", "activated", "notActivated", "activationExpired"])
            .case_exact()),
            ro(AttributeDef::boolean("blocked", "True while the user has at least one block reason.")),
            ro(AttributeDef::string(
                "blockReasons",
                "Why the user cannot authenticate: inactive, groupDeleted:<group id>, admin.",
            )
            .multi()
            .case_exact()),
            ro(AttributeDef::string("provisioningSource", "Who owns the user: scim, api, console or import.")
                .canonical(&["scim", "api", "console", "import"])
                .case_exact()),
            ro(AttributeDef::new(
                "activationExpiresAt",
                ValueKind::DateTime,
                "When the pending activation code expires.",
            )),
        ],
    }
}
