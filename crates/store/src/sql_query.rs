//! Compiles domain queries ([`domain::query::Condition`]) to parameterised SQL `WHERE` text.
//! Shared by the backends; the few differences are behind [`Dialect`].

use domain::query::{Condition, GroupField, Op, QueryValue, UserField};

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    Text(String),
    Int(i64),
}

/// What differs between SQL dialects.
pub trait Dialect: Sync {
    /// Placeholder for the `n`-th parameter (1-based).
    fn placeholder(&self, n: usize) -> String;
    /// `haystack` contains `needle` (both SQL expressions), case-sensitively.
    fn contains(&self, haystack: &str, needle: &str) -> String;
    /// A boolean literal comparable with a boolean column.
    fn bool_literal(&self, b: bool) -> &'static str;
}

pub struct Sqlite;
impl Dialect for Sqlite {
    fn placeholder(&self, n: usize) -> String {
        format!("?{n}")
    }
    fn contains(&self, haystack: &str, needle: &str) -> String {
        format!("instr({haystack}, {needle}) > 0")
    }
    fn bool_literal(&self, b: bool) -> &'static str {
        if b { "1" } else { "0" }
    }
}

pub struct Postgres;
impl Dialect for Postgres {
    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }
    fn contains(&self, haystack: &str, needle: &str) -> String {
        format!("strpos({haystack}, {needle}) > 0")
    }
    fn bool_literal(&self, b: bool) -> &'static str {
        if b { "TRUE" } else { "FALSE" }
    }
}

/// How a field is stored: the column to compare and whether values are case-folded first.
#[derive(Debug, Clone, Copy)]
pub enum Column {
    Text {
        column: &'static str,
        fold: bool,
    },
    Bool(&'static str),
    /// An `EXISTS` sub-query taking one id parameter.
    Exists(&'static str),
    /// A boolean SQL expression (compared with `Bool` values).
    BoolExpr(&'static str),
}

pub fn user_column(f: UserField) -> Column {
    match f {
        UserField::Id => Column::Text { column: "u.id", fold: false },
        UserField::UserName => Column::Text { column: "u.user_name_key", fold: true },
        UserField::ExternalId => Column::Text { column: "u.external_id", fold: false },
        UserField::Email => Column::Text { column: "u.email_key", fold: true },
        UserField::DisplayName => Column::Text { column: "u.display_name_key", fold: true },
        UserField::Active => Column::Bool("u.active"),
        UserField::Created => Column::Text { column: "u.created", fold: false },
        UserField::LastModified => Column::Text { column: "u.last_modified", fold: false },
        UserField::MemberOf => Column::Exists(
            "EXISTS (SELECT 1 FROM group_members gm JOIN groups g ON g.pk = gm.group_pk \
             WHERE gm.user_pk = u.pk AND g.id = {})",
        ),
        UserField::Status => Column::Text { column: "u.status", fold: false },
        UserField::Blocked => Column::BoolExpr("EXISTS (SELECT 1 FROM user_block_reasons r WHERE r.user_pk = u.pk)"),
        // Not stored folded: folded in the query (`lower` is ASCII-only on SQLite).
        UserField::GivenName => Column::Text { column: "lower(u.given_name)", fold: true },
        UserField::FamilyName => Column::Text { column: "lower(u.family_name)", fold: true },
        UserField::ActivationExpiresAt => Column::Text { column: "u.activation_expires_at", fold: false },
        UserField::Source => Column::Text { column: "u.source", fold: false },
    }
}

pub fn group_column(f: GroupField) -> Column {
    match f {
        GroupField::Id => Column::Text { column: "g.id", fold: false },
        GroupField::DisplayName => Column::Text { column: "g.display_name_key", fold: true },
        GroupField::ExternalId => Column::Text { column: "g.external_id", fold: false },
        GroupField::Created => Column::Text { column: "g.created", fold: false },
        GroupField::LastModified => Column::Text { column: "g.last_modified", fold: false },
        GroupField::Member => Column::Exists(
            "EXISTS (SELECT 1 FROM group_members gm JOIN users u ON u.pk = gm.user_pk \
             WHERE gm.group_pk = g.pk AND u.id = {})",
        ),
    }
}

/// Accumulates SQL text and parameters.
pub struct Compiler<'d> {
    dialect: &'d dyn Dialect,
    pub params: Vec<SqlParam>,
}

impl<'d> Compiler<'d> {
    pub fn new(dialect: &'d dyn Dialect) -> Self {
        Self { dialect, params: Vec::new() }
    }

    pub fn bind(&mut self, p: SqlParam) -> String {
        self.params.push(p);
        self.dialect.placeholder(self.params.len())
    }

    /// Compiles `cond`. Every comparison yields true or false, never NULL, so `NOT` behaves
    /// as SCIM expects (`not (externalId eq "x")` matches users without an externalId).
    pub fn condition<F: Copy>(&mut self, cond: &Condition<F>, column: &dyn Fn(F) -> Column) -> String {
        match cond {
            Condition::True => "1=1".into(),
            Condition::False => "1=0".into(),
            Condition::And(cs) if cs.is_empty() => "1=1".into(),
            Condition::Or(cs) if cs.is_empty() => "1=0".into(),
            Condition::And(cs) => self.join(cs, " AND ", column),
            Condition::Or(cs) => self.join(cs, " OR ", column),
            Condition::Not(c) => format!("NOT ({})", self.condition(c, column)),
            Condition::Cmp(f, op, v) => self.compare(column(*f), *op, v),
        }
    }

    fn join<F: Copy>(&mut self, cs: &[Condition<F>], sep: &str, column: &dyn Fn(F) -> Column) -> String {
        let parts: Vec<String> = cs.iter().map(|c| format!("({})", self.condition(c, column))).collect();
        parts.join(sep)
    }

    fn compare(&mut self, col: Column, op: Op, v: &QueryValue) -> String {
        match col {
            Column::Bool(c) => match (op, v) {
                (Op::Present, _) => "1=1".into(),
                (Op::Eq, QueryValue::Bool(b)) => format!("{c} = {}", self.dialect.bool_literal(*b)),
                (Op::Ne, QueryValue::Bool(b)) => format!("{c} <> {}", self.dialect.bool_literal(*b)),
                _ => "1=0".into(),
            },
            Column::BoolExpr(e) => match (op, v) {
                (Op::Present, _) => "1=1".into(),
                (Op::Eq, QueryValue::Bool(true)) | (Op::Ne, QueryValue::Bool(false)) => e.to_owned(),
                (Op::Eq, QueryValue::Bool(false)) | (Op::Ne, QueryValue::Bool(true)) => format!("NOT {e}"),
                _ => "1=0".into(),
            },
            Column::Exists(template) => match (op, v) {
                (Op::Eq, QueryValue::Text(t)) => {
                    let p = self.bind(SqlParam::Text(t.clone()));
                    template.replace("{}", &p)
                }
                (Op::Ne, QueryValue::Text(t)) => {
                    let p = self.bind(SqlParam::Text(t.clone()));
                    format!("NOT {}", template.replace("{}", &p))
                }
                _ => "1=0".into(),
            },
            Column::Text { column: c, fold } => {
                let text = match v {
                    QueryValue::Text(t) if fold => t.to_lowercase(),
                    QueryValue::Text(t) => t.clone(),
                    QueryValue::Bool(b) => b.to_string(),
                    QueryValue::None => {
                        return match op {
                            Op::Present | Op::Ne => format!("{c} IS NOT NULL AND {c} <> ''"),
                            Op::Eq => format!("({c} IS NULL OR {c} = '')"),
                            _ => "1=0".into(),
                        };
                    }
                };
                if op == Op::Present {
                    return format!("{c} IS NOT NULL AND {c} <> ''");
                }
                let p = self.bind(SqlParam::Text(text));
                match op {
                    Op::Eq => format!("{c} IS NOT NULL AND {c} = {p}"),
                    Op::Ne => format!("({c} IS NULL OR {c} <> {p})"),
                    Op::Gt => format!("{c} IS NOT NULL AND {c} > {p}"),
                    Op::Ge => format!("{c} IS NOT NULL AND {c} >= {p}"),
                    Op::Lt => format!("{c} IS NOT NULL AND {c} < {p}"),
                    Op::Le => format!("{c} IS NOT NULL AND {c} <= {p}"),
                    Op::Contains => format!("{c} IS NOT NULL AND {}", self.dialect.contains(c, &p)),
                    Op::StartsWith => {
                        format!("{c} IS NOT NULL AND substr({c}, 1, length({p})) = {p}")
                    }
                    Op::EndsWith => format!(
                        "{c} IS NOT NULL AND length({c}) >= length({p}) AND substr({c}, length({c}) - length({p}) + 1) = {p}"
                    ),
                    Op::Present => unreachable_present(),
                }
            }
        }
    }
}

// `Present` returns early above; this keeps the match exhaustive without a panic path.
fn unreachable_present() -> String {
    "1=1".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_insensitive_fields_and_binds_values() {
        let mut c = Compiler::new(&Sqlite);
        let cond = Condition::And(vec![
            Condition::Cmp(UserField::UserName, Op::Eq, QueryValue::Text("Alice@X".into())),
            Condition::Not(Box::new(Condition::Cmp(UserField::ExternalId, Op::Eq, QueryValue::Text("E1".into())))),
        ]);
        let sql = c.condition(&cond, &user_column);
        assert!(sql.contains("u.user_name_key IS NOT NULL AND u.user_name_key = ?1"), "{sql}");
        assert!(sql.contains("NOT ("), "{sql}");
        assert_eq!(c.params, vec![SqlParam::Text("alice@x".into()), SqlParam::Text("E1".into())]);
    }
}
