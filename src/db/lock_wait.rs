//! The lock-wait watch: a flush (or a catalog read) that has run for `lock_wait_warning_seconds`
//! while its session waits for a lock gets one warning naming the table and the sessions
//! holding the lock, with their application_name, state and (shortened) query.
//!
//! Without it a load held up by someone's open transaction just stops, silently. Watching
//! costs nothing per record and next to nothing per flush: a flush registers itself in a
//! map when it starts and leaves when it ends. One thread sleeps until the oldest running
//! flush reaches the threshold; only then does it look the flush's backend up, in
//! `pg_locks` and `pg_stat_activity` (`pg_blocking_pids`), on a connection of its own that
//! it opens the first time it is needed. A flush that finishes in time is never looked at.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use postgres::Client;

use crate::db::connect::Endpoint;
use crate::error::excerpt;
use crate::schema::naming::qualified_name;

/// What a waiting session waits for and who holds it: one row per blocking session.
const BLOCKERS_SQL: &str = "\
    SELECT w.locktype, n.nspname::text, c.relname::text, w.mode, \
           blocker.pid, b.usename::text, b.application_name, b.state, b.query \
      FROM (SELECT locktype, relation, mode FROM pg_catalog.pg_locks \
             WHERE pid = $1 AND NOT granted LIMIT 1) w \
      LEFT JOIN pg_catalog.pg_class c ON c.oid = w.relation \
      LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     CROSS JOIN LATERAL unnest(pg_catalog.pg_blocking_pids($1)) AS blocker(pid) \
      LEFT JOIN pg_catalog.pg_stat_activity b ON b.pid = blocker.pid \
     ORDER BY blocker.pid";

/// What pg_stat_activity shows of another role's session to a role without
/// pg_read_all_stats.
const HIDDEN_QUERY: &str = "<insufficient privilege>";

/// Blocking sessions named in one warning; the rest are counted.
const NAMED_BLOCKERS: usize = 3;

/// The watch, shared by the flush workers and the reader.
pub struct LockWatch {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a watched piece of work gets a session while the thread sleeps
    /// without a deadline, and on shutdown.
    wake: Condvar,
    /// How long work runs before it is looked at.
    threshold: Duration,
    /// Where the thread's own connection goes.
    endpoint: Endpoint,
}

#[derive(Default)]
struct State {
    watched: HashMap<u64, Watched>,
    next_id: u64,
    /// Whether the thread sleeps without a deadline (nothing to look at yet).
    idle: bool,
    shutdown: bool,
}

/// One piece of work being watched.
struct Watched {
    /// `flush of table ... (stream ...)`, for the warning.
    what: String,
    /// The backend of the session it runs on now, if any.
    pid: Option<i32>,
    /// Bumped whenever the session changes, so a late answer about an old one is dropped.
    generation: u64,
    /// When it started on this session.
    started: Instant,
    /// When to look next.
    next_check: Instant,
    /// Whether its warning was logged (once per piece of work).
    reported: bool,
}

/// A look-up the thread is about to make.
struct Check {
    id: u64,
    generation: u64,
    pid: i32,
    what: String,
    running: Duration,
}

impl LockWatch {
    /// Starts the watch thread: work running `threshold` on a session gets looked at, on a
    /// connection to `endpoint` opened when first needed.
    pub fn start(endpoint: Endpoint, threshold: Duration) -> LockWatch {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            threshold: threshold.max(Duration::from_millis(100)),
            endpoint,
        });
        let thread_shared = Arc::clone(&shared);
        if let Err(error) = std::thread::Builder::new()
            .name("lock-watch".into())
            .spawn(move || thread_shared.run())
        {
            log::warn!(
                "could not start the lock-wait watch ({error}); lock waits are not reported"
            );
        }
        LockWatch { shared }
    }

    /// Watches `what` until the returned guard is dropped; [`Watching::on_session`] says
    /// which session it runs on.
    pub fn watch(&self, what: String) -> Watching<'_> {
        let mut state = self.shared.lock();
        let id = state.next_id;
        state.next_id += 1;
        let now = Instant::now();
        state.watched.insert(
            id,
            Watched {
                what,
                pid: None,
                generation: 0,
                started: now,
                next_check: now,
                reported: false,
            },
        );
        Watching { watch: self, id }
    }
}

impl Drop for LockWatch {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.wake.notify_all();
    }
}

/// A watched piece of work; it leaves the watch when dropped.
pub struct Watching<'a> {
    watch: &'a LockWatch,
    id: u64,
}

impl Watching<'_> {
    /// The work runs on the session with backend `pid` from now on (`None`: on none, or on
    /// one whose pid is unknown); the clock starts again.
    pub fn on_session(&self, pid: Option<i32>) {
        let shared = &self.watch.shared;
        let mut state = shared.lock();
        let wake = pid.is_some() && state.idle;
        if let Some(watched) = state.watched.get_mut(&self.id) {
            let now = Instant::now();
            watched.pid = pid;
            watched.generation += 1;
            watched.started = now;
            watched.next_check = now + shared.threshold;
        }
        drop(state);
        if wake {
            shared.wake.notify_one();
        }
    }
}

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        self.watch.shared.lock().watched.remove(&self.id);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The thread: sleeps until some work reaches its next check, looks it up, repeats.
    fn run(&self) {
        let mut client: Option<Client> = None;
        while let Some(checks) = self.next_checks() {
            for check in checks {
                let message = match self.describe(&mut client, check.pid) {
                    Ok(None) => continue,
                    Ok(Some(waits_for)) => format!(
                        "{} has run for {:.0?} and {waits_for}; it keeps waiting",
                        check.what, check.running
                    ),
                    Err(error) => {
                        client = None;
                        format!(
                            "{} has run for {:.0?}; looking up whether it waits for a lock failed: {error}",
                            check.what, check.running
                        )
                    }
                };
                if self.mark_reported(&check) {
                    log::warn!("{message}");
                }
            }
        }
    }

    /// Waits for the next work due a check and returns every such one; `None` on shutdown.
    fn next_checks(&self) -> Option<Vec<Check>> {
        let mut state = self.lock();
        loop {
            if state.shutdown {
                return None;
            }
            let now = Instant::now();
            let mut checks = Vec::new();
            let mut next: Option<Instant> = None;
            for (&id, watched) in state.watched.iter_mut() {
                let Some(pid) = watched.pid.filter(|_| !watched.reported) else {
                    continue;
                };
                if watched.next_check <= now {
                    watched.next_check = now + self.threshold;
                    checks.push(Check {
                        id,
                        generation: watched.generation,
                        pid,
                        what: watched.what.clone(),
                        running: now - watched.started,
                    });
                } else {
                    next = Some(next.map_or(watched.next_check, |n| n.min(watched.next_check)));
                }
            }
            if !checks.is_empty() {
                return Some(checks);
            }
            state.idle = next.is_none();
            state = match next {
                Some(deadline) => {
                    self.wake
                        .wait_timeout(state, deadline.saturating_duration_since(now))
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
                None => self
                    .wake
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            };
        }
    }

    /// Marks the checked work reported; false when it has ended or moved to another
    /// session since (the answer is about someone else then).
    fn mark_reported(&self, check: &Check) -> bool {
        let mut state = self.lock();
        match state.watched.get_mut(&check.id) {
            Some(watched) if watched.generation == check.generation && !watched.reported => {
                watched.reported = true;
                true
            }
            _ => false,
        }
    }

    /// What the backend `pid` waits for and who holds it, or `None` when it waits for no
    /// lock.
    fn describe(
        &self,
        client: &mut Option<Client>,
        pid: i32,
    ) -> Result<Option<String>, postgres::Error> {
        let client = match client {
            Some(client) => client,
            None => client.insert(self.endpoint.open_session()?.client),
        };
        let rows = client.query(BLOCKERS_SQL, &[&pid])?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let locktype: Option<String> = first.try_get(0)?;
        let schema: Option<String> = first.try_get(1)?;
        let table: Option<String> = first.try_get(2)?;
        let relation = schema
            .zip(table)
            .map(|(schema, table)| qualified_name(&schema, &table));
        let mode: Option<String> = first.try_get(3)?;
        let mut holders = Vec::new();
        for row in rows.iter().take(NAMED_BLOCKERS) {
            let blocker = Blocker {
                pid: row.try_get(4)?,
                user: row.try_get(5)?,
                application_name: row.try_get(6)?,
                state: row.try_get(7)?,
                query: row.try_get(8)?,
            };
            holders.push(blocker.to_string());
        }
        if rows.len() > NAMED_BLOCKERS {
            holders.push(format!("{} more", rows.len() - NAMED_BLOCKERS));
        }
        Ok(Some(format!(
            "waits for {} on {}, held by {}",
            mode.as_deref().unwrap_or("a lock"),
            lock_target(locktype.as_deref(), relation.as_deref()),
            holders.join(", ")
        )))
    }
}

/// What a lock is on, in words: the table, or rows another transaction holds.
fn lock_target(locktype: Option<&str>, relation: Option<&str>) -> String {
    match (locktype, relation) {
        (_, Some(relation)) => relation.to_string(),
        (Some("transactionid") | Some("tuple"), None) => "rows another transaction holds".into(),
        (Some("advisory"), None) => "an advisory lock".into(),
        (Some(other), None) => format!("a lock of type {other}"),
        (None, None) => "an object".into(),
    }
}

/// A session holding a lock that a watched one waits for.
struct Blocker {
    pid: Option<i32>,
    user: Option<String>,
    application_name: Option<String>,
    state: Option<String>,
    query: Option<String>,
}

impl std::fmt::Display for Blocker {
    /// `pid 42 (user "u", application_name "psql", state "idle in transaction", query
    /// "LOCK TABLE ...")`; what this role may not see is left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "pid {pid}")?,
            None => f.write_str("a session")?,
        }
        let mut details = Vec::new();
        if let Some(user) = &self.user {
            details.push(format!("user \"{user}\""));
        }
        if let Some(name) = &self.application_name {
            details.push(format!("application_name \"{name}\""));
        }
        if let Some(state) = &self.state {
            details.push(format!("state \"{state}\""));
        }
        match self.query.as_deref() {
            Some(HIDDEN_QUERY) => {
                details.push(
                    "state and query hidden from this role (pg_read_all_stats shows them)".into(),
                );
            }
            Some(query) if !query.trim().is_empty() => {
                let one_line = query.split_whitespace().collect::<Vec<_>>().join(" ");
                details.push(format!("query \"{}\"", excerpt(&one_line)));
            }
            _ => {}
        }
        if !details.is_empty() {
            write!(f, " ({})", details.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocker_is_named_with_what_is_visible_and_a_one_line_shortened_query() {
        let blocker = Blocker {
            pid: Some(42),
            user: Some("etl".into()),
            application_name: Some("psql".into()),
            state: Some("idle in transaction".into()),
            query: Some(format!(
                "LOCK TABLE t\n   IN ACCESS EXCLUSIVE MODE; {}",
                "x".repeat(200)
            )),
        };
        let text = blocker.to_string();
        assert!(
            text.starts_with(
                "pid 42 (user \"etl\", application_name \"psql\", state \"idle in transaction\", \
                 query \"LOCK TABLE t IN ACCESS EXCLUSIVE MODE; xxx"
            ),
            "{text}"
        );
        assert!(text.ends_with("…\")"), "{text}");
        let hidden = Blocker {
            pid: Some(7),
            user: None,
            application_name: None,
            state: None,
            query: None,
        };
        assert_eq!(hidden.to_string(), "pid 7");
        let other_role = Blocker {
            pid: Some(8),
            user: Some("etl".into()),
            application_name: Some("psql".into()),
            state: None,
            query: Some(HIDDEN_QUERY.into()),
        };
        assert_eq!(
            other_role.to_string(),
            "pid 8 (user \"etl\", application_name \"psql\", state and query hidden from this \
             role (pg_read_all_stats shows them))"
        );
    }

    #[test]
    fn lock_targets_name_the_table_or_the_rows() {
        assert_eq!(lock_target(Some("relation"), Some("s.t")), "s.t");
        assert_eq!(
            lock_target(Some("transactionid"), None),
            "rows another transaction holds"
        );
        assert_eq!(lock_target(Some("advisory"), None), "an advisory lock");
        assert_eq!(
            lock_target(Some("virtualxid"), None),
            "a lock of type virtualxid"
        );
    }
}
