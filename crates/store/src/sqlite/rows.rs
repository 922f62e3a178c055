//! Row ↔ domain conversions shared by the SQLite modules.

use domain::Timestamp;

pub(crate) fn ts(t: Timestamp) -> String {
    domain::format_timestamp(t)
}

pub(crate) fn parse_ts(s: &str) -> rusqlite::Result<Timestamp> {
    domain::parse_timestamp(s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("bad timestamp {s:?}").into())
    })
}

pub(crate) fn parse_opt_ts(s: Option<String>) -> rusqlite::Result<Option<Timestamp>> {
    s.map(|s| parse_ts(&s)).transpose()
}

pub(crate) fn json_text(v: &serde_json::Value) -> String {
    v.to_string()
}

pub(crate) fn parse_json(s: &str) -> rusqlite::Result<serde_json::Value> {
    serde_json::from_str(s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

pub(crate) fn bad_data(what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, what.into())
}

/// True when the error is a UNIQUE constraint violation.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

pub(crate) fn bind_params(params: &[crate::sql_query::SqlParam]) -> Vec<Box<dyn rusqlite::ToSql>> {
    params
        .iter()
        .map(|p| -> Box<dyn rusqlite::ToSql> {
            match p {
                crate::sql_query::SqlParam::Text(t) => Box::new(t.clone()),
                crate::sql_query::SqlParam::Int(i) => Box::new(*i),
            }
        })
        .collect()
}
