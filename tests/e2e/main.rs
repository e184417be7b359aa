//! End-to-end tests of target-postgres: every test runs the built binary with Singer messages
//! on stdin against a real PostgreSQL (`TARGET_POSTGRES_TEST_URL`), each in its own schema, and
//! checks the resulting tables and the state lines on stdout as a user would.
//!
//! Modules: [`names`] (stream, table and column naming), [`types`] (JSON Schema → column
//! types and value encoding), [`loading`] (append, upsert, schema evolution, batching,
//! parallel flushes), [`state`] (which STATE lines are written, and when), [`errors`] (bad
//! input and failures: exit codes, messages, no state for uncommitted data), [`cli`]
//! (arguments, configuration, input handling), [`concurrency`] (parallel flushes and states
//! watched live, time-based flushing, graceful stop), [`deletes`] (`_sdc_*` metadata columns,
//! hard deletes), [`invalid`] (`invalid_records` policies), [`batch`] (BATCH messages and
//! their files), [`crash`] (SIGKILL and replay from the last state), [`overwrite`] (replacing a
//! table's rows in one transaction), [`security`] (hostile names, least privilege, the second
//! signal), [`sessions`] (a closed stdout, the server's timeouts, lock waits), [`outage`] (a server restart mid-load), [`mage`] (driven as Mage drives its
//! destinations), [`tls`] (TLS modes, CA and host name checks, client certificates, against a
//! TLS-only cluster of the tests' own), [`mistakes`] (a new user's mistakes: config typos,
//! stream maps, a missing password, a tap logging to stdout; pool failures and schema
//! changes logged with their cause), [`ssh`] (the SSH tunnel, through an sshd of the tests'
//! own), [`memory`] (peak memory with huge records, within `maximum_batch_size_mb`), [`lanes`] (one
//! table over several connections: last-wins, states behind a held lane, a lane's retry,
//! overwrite and ACTIVATE_VERSION), [`citus`] (distributed tables on a Citus coordinator at
//! `TARGET_POSTGRES_CITUS_URL`; skipped, loudly, without one).

mod batch;
mod citus;
mod cli;
mod concurrency;
mod crash;
mod deletes;
mod errors;
mod invalid;
mod lanes;
mod loading;
mod mage;
mod maps;
mod memory;
mod mistakes;
mod names;
mod outage;
mod overwrite;
mod security;
mod sessions;
mod ssh;
mod state;
mod support;
mod tls;
mod types;
