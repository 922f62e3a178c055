//! Direct database checks that nothing is half-applied, on SQLite (rusqlite, read-only) and
//! PostgreSQL (tokio-postgres): run while the server is up, on a consistent snapshot.

use crate::proc::{Backend, Node};

/// Each check is a query listing offending rows (at most 5, as text); all must be empty.
fn checks(backend: Backend) -> Vec<(&'static str, String)> {
    let inactive = match backend {
        Backend::Sqlite => "u.active = 0",
        Backend::Postgres => "NOT u.active",
    };
    vec![
        (
            "group_members row whose user does not exist",
            "SELECT CAST(gm.user_pk AS TEXT) FROM group_members gm LEFT JOIN users u ON u.pk = gm.user_pk \
             WHERE u.pk IS NULL LIMIT 5"
                .into(),
        ),
        (
            "group_members row whose group does not exist",
            "SELECT CAST(gm.group_pk AS TEXT) FROM group_members gm LEFT JOIN groups g ON g.pk = gm.group_pk \
             WHERE g.pk IS NULL LIMIT 5"
                .into(),
        ),
        (
            "group member of another service",
            "SELECT u.id FROM group_members gm JOIN users u ON u.pk = gm.user_pk JOIN groups g ON g.pk = gm.group_pk \
             WHERE u.service_id <> g.service_id LIMIT 5"
                .into(),
        ),
        (
            "block reason of a user that does not exist",
            "SELECT CAST(r.user_pk AS TEXT) FROM user_block_reasons r LEFT JOIN users u ON u.pk = r.user_pk \
             WHERE u.pk IS NULL LIMIT 5"
                .into(),
        ),
        (
            "activation code of a user that does not exist",
            "SELECT CAST(a.user_pk AS TEXT) FROM activation_codes a LEFT JOIN users u ON u.pk = a.user_pk \
             WHERE u.pk IS NULL LIMIT 5"
                .into(),
        ),
        (
            "pendingActivation user without an activation code",
            "SELECT u.id FROM users u LEFT JOIN activation_codes a ON a.user_pk = u.pk \
             WHERE u.status = 'pendingActivation' AND a.user_pk IS NULL LIMIT 5"
                .into(),
        ),
        (
            "pendingActivation user without an activation email in the outbox",
            "SELECT u.id FROM users u WHERE u.status = 'pendingActivation' AND NOT EXISTS \
             (SELECT 1 FROM outbox o WHERE o.user_id = u.id AND o.template = 'activation') LIMIT 5"
                .into(),
        ),
        (
            "activation code of a user who is not pendingActivation",
            "SELECT u.id FROM activation_codes a JOIN users u ON u.pk = a.user_pk \
             WHERE u.status <> 'pendingActivation' LIMIT 5"
                .into(),
        ),
        (
            "waiting, unclaimed activation email of a user that does not exist",
            "SELECT o.user_id FROM outbox o WHERE o.template = 'activation' AND o.state = 'pending' \
             AND o.claimed_by IS NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id) LIMIT 5"
                .into(),
        ),
        (
            "`active` and the `inactive` block reason disagree",
            format!(
                "SELECT u.id FROM users u WHERE ({inactive}) <> EXISTS \
                 (SELECT 1 FROM user_block_reasons r WHERE r.user_pk = u.pk AND r.reason = 'inactive') LIMIT 5"
            ),
        ),
    ]
}

/// Runs `sql` (one text column) and returns the rows.
async fn rows(node: &Node, sql: &str) -> Vec<String> {
    match node.backend {
        Backend::Sqlite => {
            let path = node.data_dir().join("scimd.db");
            let sql = sql.to_owned();
            tokio::task::spawn_blocking(move || {
                let c = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                    .expect("open the SQLite database read-only");
                let mut st = c.prepare(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
                st.query_map([], |r| r.get::<_, Option<String>>(0))
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
                    .into_iter()
                    .map(Option::unwrap_or_default)
                    .collect()
            })
            .await
            .expect("SQLite query task")
        }
        Backend::Postgres => {
            let url = node.database_url.as_deref().expect("database url");
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect");
            let driver = tokio::spawn(conn);
            let out = client
                .query(sql, &[])
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(|r| r.get::<_, Option<String>>(0).unwrap_or_default())
                .collect();
            drop(client);
            let _ = driver.await;
            out
        }
    }
}

/// Every invariant, plus SQLite's own checks. Panics naming what is broken.
pub async fn check(node: &Node, when: &str) {
    let mut broken = Vec::new();
    if node.backend == Backend::Sqlite {
        let ok = rows(node, "PRAGMA integrity_check").await;
        if ok != ["ok"] {
            broken.push(format!("PRAGMA integrity_check: {ok:?}"));
        }
        let fk = rows(node, "SELECT \"table\" || ' -> ' || parent FROM pragma_foreign_key_check").await;
        if !fk.is_empty() {
            broken.push(format!("PRAGMA foreign_key_check: {fk:?}"));
        }
    }
    for (what, sql) in checks(node.backend) {
        let bad = rows(node, &sql).await;
        if !bad.is_empty() {
            broken.push(format!("{what}: {bad:?}"));
        }
    }
    assert!(broken.is_empty(), "{when}: database integrity broken:\n  {}", broken.join("\n  "));
}

/// The `user_id`s of every activation email in the outbox.
pub async fn outbox_user_ids(node: &Node) -> Vec<String> {
    rows(node, "SELECT user_id FROM outbox WHERE template = 'activation'").await
}

/// Waits until no session of a killed server is left in its PostgreSQL database. A killed
/// client's backend finishes what it already received (a pipelined transaction may still
/// commit) and ends only when it next reads the closed socket; checking before that could see
/// a change appear between two queries. SQLite: nothing to wait for.
pub async fn wait_for_orphaned_sessions(node: &Node) {
    if node.backend != Backend::Postgres {
        return;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let others = rows(
            node,
            "SELECT CAST(pid AS TEXT) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid()",
        )
        .await;
        if others.is_empty() {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "sessions of the killed server still open: {others:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Users whose number of activation emails is not exactly one (the crash workload issues
/// exactly one per user: a duplicate or a missing row is a half-applied create).
pub async fn users_without_exactly_one_email(node: &Node) -> Vec<String> {
    rows(
        node,
        "SELECT u.id FROM users u WHERE (SELECT COUNT(*) FROM outbox o WHERE o.user_id = u.id \
         AND o.template = 'activation') <> 1 LIMIT 5",
    )
    .await
}

/// Rows that some worker still holds (`claimed_by` set), as `id claimed_by state`.
pub async fn claimed_rows(node: &Node) -> Vec<String> {
    rows(node, "SELECT CAST(id AS TEXT) || ' ' || claimed_by || ' ' || state FROM outbox WHERE claimed_by IS NOT NULL")
        .await
}
