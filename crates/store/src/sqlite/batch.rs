//! Group commit: the writer runs every job that arrived together in one transaction, each job
//! isolated from the others so that one job's failure never loses another's work.
//!
//! A job is isolated in one of two ways:
//! - [`Guard::Savepoint`] (the default): the job runs inside `SAVEPOINT job`; a failure rolls
//!   back to it. SQLite then copies every page the job's first change to it touches into the
//!   savepoint's journal: for a create, a dozen 4 KiB pages (the table, its indexes, the
//!   outbox), about a tenth of the writer's time.
//! - [`Guard::FailsBeforeChanging`]: for jobs whose expected failures (a taken login, a
//!   missing row) all come before their first change, e.g. a create whose first statement is
//!   the insert that may conflict. SQLite undoes a failed statement by itself, so such a job
//!   needs no savepoint. Should it fail anyway after a change (a disk error, a bug), only the
//!   whole transaction can undo that change: the batch is rolled back, the jobs before it are
//!   answered "try again", and the jobs after it run in a new transaction.

use super::internal;
use domain::ports::{StoreError, StoreResult};
use rusqlite::Connection;

/// Answers a job's caller: with its result once the batch is durable (`None`), or with the
/// error that kept the batch from committing.
pub(super) type Completion = Box<dyn FnOnce(Option<StoreError>) + Send>;
pub(super) type Job = Box<dyn FnOnce(&Connection) -> Ran + Send>;

/// What running a job left behind.
pub(super) struct Ran {
    pub answer: Completion,
    /// The job failed after changing rows, with no savepoint to undo just its own changes.
    pub spoiled: bool,
}

/// How a job's changes are undone if it fails (module docs).
#[derive(Clone, Copy, Debug)]
pub(super) enum Guard {
    Savepoint,
    FailsBeforeChanging,
}

/// Wraps `f` as a job whose result is sent on `done` once its batch has committed.
pub(super) fn job<T, F>(guard: Guard, f: F, done: tokio::sync::oneshot::Sender<StoreResult<T>>) -> Job
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
{
    Box::new(move |conn: &Connection| {
        let (result, spoiled) = match guard {
            Guard::Savepoint => (run_in_savepoint(conn, f), false),
            Guard::FailsBeforeChanging => run_without_savepoint(conn, f),
        };
        let answer: Completion = Box::new(move |commit_error: Option<StoreError>| {
            let _ = done.send(match commit_error {
                None => result,
                Some(e) => Err(e),
            });
        });
        Ran { answer, spoiled }
    })
}

/// Runs one statement from the connection's statement cache (these run once per job: parsing
/// them every time showed up in profiles).
pub(super) fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_in_savepoint<T>(conn: &Connection, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
    exec_cached(conn, "SAVEPOINT job").map_err(internal)?;
    let result = run_catching_panics(conn, f);
    if result.is_err() {
        exec_cached(conn, "ROLLBACK TO job").map_err(internal)?;
    }
    exec_cached(conn, "RELEASE job").map_err(internal)?;
    result
}

/// Returns the job's result, and whether it failed after changing rows (`total_changes`
/// counts the rows of every completed statement; a failed statement counts none).
fn run_without_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> (StoreResult<T>, bool) {
    if conn.is_autocommit() {
        // No group transaction (BEGIN failed): the savepoint is the job's own transaction,
        // without which each statement would commit on its own.
        return (run_in_savepoint(conn, f), false);
    }
    let before = conn.total_changes();
    let result = run_catching_panics(conn, f);
    let spoiled = result.is_err() && conn.total_changes() != before;
    (result, spoiled)
}

fn run_catching_panics<T>(conn: &Connection, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
        .unwrap_or_else(|_| Err(StoreError::Internal("a write job panicked".into())))
}

/// Runs a batch in one transaction and commits it. Returns the answers of the committed jobs
/// (to be sent once the commit is durable); every other job has been answered already.
pub(super) fn run(conn: &Connection, batch: Vec<Job>) -> Vec<Completion> {
    let mut in_group = begin(conn);
    // Set when a spoiled transaction could not be rolled back: nothing of it may commit.
    let mut doomed = false;
    let mut pending: Vec<Completion> = Vec::with_capacity(batch.len());
    for job in batch {
        let ran = job(conn);
        if !ran.spoiled {
            pending.push(ran.answer);
            continue;
        }
        // Only the whole transaction undoes the spoiled job's changes; the jobs after it get
        // a transaction of their own.
        let err = StoreError::Unavailable(
            "a write committed in the same batch as this one failed, so nothing was saved; try again".into(),
        );
        pending.drain(..).for_each(|answer| answer(Some(err.clone())));
        (ran.answer)(None);
        if conn.execute_batch("ROLLBACK").is_ok() && conn.is_autocommit() {
            in_group = begin(conn);
        } else {
            doomed = true;
        }
    }
    if !in_group {
        // Each job was its own transaction (its savepoint), committed already.
        return pending;
    }
    let committed = if doomed {
        Err(StoreError::Internal("a failed write could not be rolled back".into()))
    } else {
        exec_cached(conn, "COMMIT").map_err(internal)
    };
    match committed {
        Ok(()) => pending,
        Err(err) => {
            let _ = conn.execute_batch("ROLLBACK");
            tracing::error!(error = %err, "group commit failed");
            pending.into_iter().for_each(|answer| answer(Some(err.clone())));
            Vec::new()
        }
    }
}

/// Starts the group transaction; false when another process holds the write lock beyond the
/// busy timeout. Each job's savepoint then acts as its own transaction: slower, still correct.
fn begin(conn: &Connection) -> bool {
    match exec_cached(conn, "BEGIN IMMEDIATE") {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "cannot begin a group transaction; committing jobs one by one");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    fn table() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY)").expect("schema");
        conn
    }

    fn insert(
        guard: Guard,
        keys: &'static [&'static str],
        fail_after: bool,
    ) -> (Job, oneshot::Receiver<StoreResult<()>>) {
        let (done, answer) = oneshot::channel();
        let f = move |c: &Connection| {
            for k in keys {
                c.execute("INSERT INTO t (k) VALUES (?1)", [k]).map_err(|e| StoreError::Conflict(e.to_string()))?;
            }
            if fail_after { Err(StoreError::Internal("failed after its changes".into())) } else { Ok(()) }
        };
        (job(guard, f, done), answer)
    }

    fn keys(conn: &Connection) -> Vec<String> {
        let mut st = conn.prepare("SELECT k FROM t ORDER BY k").expect("prepare");
        st.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows")
    }

    fn settle(answers: Vec<Completion>) {
        answers.into_iter().for_each(|a| a(None));
    }

    #[test]
    fn a_job_failing_before_its_first_change_needs_no_savepoint_and_spoils_nothing() {
        let conn = table();
        conn.execute("INSERT INTO t (k) VALUES ('taken')", []).expect("seed");
        let (a, mut a_answer) = insert(Guard::FailsBeforeChanging, &["a"], false);
        let (b, mut b_answer) = insert(Guard::FailsBeforeChanging, &["taken"], false);
        let (c, mut c_answer) = insert(Guard::Savepoint, &["c"], false);
        settle(run(&conn, vec![a, b, c]));
        assert!(a_answer.try_recv().expect("answered").is_ok());
        assert!(matches!(b_answer.try_recv().expect("answered"), Err(StoreError::Conflict(_))));
        assert!(c_answer.try_recv().expect("answered").is_ok());
        assert_eq!(keys(&conn), ["a", "c", "taken"]);
    }

    #[test]
    fn a_savepoint_job_failing_halfway_loses_only_its_own_changes() {
        let conn = table();
        let (a, mut a_answer) = insert(Guard::Savepoint, &["a"], false);
        let (b, mut b_answer) = insert(Guard::Savepoint, &["b1", "b2"], true);
        settle(run(&conn, vec![a, b]));
        assert!(a_answer.try_recv().expect("answered").is_ok());
        assert!(matches!(b_answer.try_recv().expect("answered"), Err(StoreError::Internal(_))));
        assert_eq!(keys(&conn), ["a"]);
    }

    #[test]
    fn a_job_failing_after_a_change_without_savepoint_rolls_back_its_batch_and_the_rest_runs_anew() {
        let conn = table();
        let (before, mut before_answer) = insert(Guard::Savepoint, &["before"], false);
        let (spoiler, mut spoiler_answer) = insert(Guard::FailsBeforeChanging, &["half"], true);
        let (after, mut after_answer) = insert(Guard::FailsBeforeChanging, &["after"], false);
        let committed = run(&conn, vec![before, spoiler, after]);
        // Answered at once: the job before (nothing of it was kept) and the spoiler itself.
        assert!(matches!(before_answer.try_recv().expect("answered"), Err(StoreError::Unavailable(_))));
        assert!(matches!(spoiler_answer.try_recv().expect("answered"), Err(StoreError::Internal(_))));
        assert!(after_answer.try_recv().is_err(), "the job after waits for its commit to be durable");
        assert_eq!(committed.len(), 1);
        settle(committed);
        assert!(after_answer.try_recv().expect("answered").is_ok());
        assert_eq!(keys(&conn), ["after"]);
        assert!(conn.is_autocommit(), "the batch's transaction was committed");
    }

    #[test]
    fn outside_a_group_transaction_a_job_without_savepoint_is_still_all_or_nothing() {
        let conn = table();
        let (spoiler, mut answer) = insert(Guard::FailsBeforeChanging, &["x", "y"], true);
        // As when BEGIN failed: the job runs in autocommit mode.
        let ran = spoiler(&conn);
        assert!(!ran.spoiled);
        (ran.answer)(None);
        assert!(answer.try_recv().expect("answered").is_err());
        assert!(keys(&conn).is_empty());
    }
}
