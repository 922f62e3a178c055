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

/// An UPDATE of one row that sets only the columns that changed, besides `last_modified` and
/// `version`: SQLite rewrites the index entries of every column an UPDATE sets, changed or not,
/// and each index page touched is a page written to the WAL.
pub(crate) struct ChangedColumns {
    columns: Vec<&'static str>,
    values: Vec<Box<dyn rusqlite::ToSql>>,
}

impl ChangedColumns {
    pub(crate) fn new() -> Self {
        Self { columns: Vec::new(), values: Vec::new() }
    }

    /// Sets `columns` to `values` (as many of each).
    pub(crate) fn set(&mut self, columns: &[&'static str], values: Vec<Box<dyn rusqlite::ToSql>>) {
        debug_assert_eq!(columns.len(), values.len());
        self.columns.extend_from_slice(columns);
        self.values.extend(values);
    }

    /// `UPDATE table SET last_modified = now, version = version + 1, … WHERE pk = pk`.
    pub(crate) fn execute(
        self,
        c: &rusqlite::Connection,
        table: &str,
        pk: i64,
        now: Timestamp,
    ) -> rusqlite::Result<usize> {
        let mut sql = format!("UPDATE {table} SET last_modified = ?2, version = version + 1");
        for (i, column) in self.columns.iter().enumerate() {
            sql.push_str(&format!(", {column} = ?{}", i + 3));
        }
        sql.push_str(" WHERE pk = ?1");
        let (pk, now) = (pk, ts(now));
        let mut params: Vec<&dyn rusqlite::ToSql> = vec![&pk, &now];
        params.extend(self.values.iter().map(|v| v.as_ref()));
        c.prepare_cached(&sql)?.execute(params.as_slice())
    }
}
