//! Mage's state: bookmarks merged stream by stream, kept in the `--state` file.
//!
//! Mage's destinations write `{"bookmarks": {...}}` after each batch, taking each stream's
//! bookmark from the latest STATE that names it, and the source reads that file to resume.
//! Here the merge runs over the whole run, on top of what the file held when the run
//! started, so a run that syncs only some streams keeps the others' bookmarks. The file is
//! replaced atomically (written beside it, then renamed), so a crash never leaves half a
//! state behind.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::protocol::state::StateOutput;

/// Merges bookmarks and writes `{"bookmarks": ...}` to the state file, or to stdout as a
/// line when Mage gave no `--state`.
pub struct MageState {
    /// Every stream's latest bookmark.
    bookmarks: Map<String, Value>,
    /// The `--state` file, if any.
    file: Option<PathBuf>,
    /// The state last written, for the run's final log line.
    last_written: LastWritten,
}

/// The state a [`MageState`] wrote last, kept for the line Mage's destination ends a run
/// with: `Final state for bookmark properties update completed.`, the state in its `state`
/// tag, from which Mage's run metrics and its sync view show the destination's state.
#[derive(Clone, Default)]
pub struct LastWritten(Arc<Mutex<Option<String>>>);

impl LastWritten {
    /// Logs Mage's final-state line, if a state was written.
    pub fn log_final_state(&self) {
        let slot = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(state) = slot.as_deref() {
            log::info!(state = state; "Final state for bookmark properties update completed.");
        }
    }

    fn set(&self, state: &str) {
        let mut slot = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Some(state.to_string());
    }
}

impl MageState {
    /// A state output for `file` (stdout without one), starting from the bookmarks the file
    /// already holds.
    pub fn open(file: Option<&Path>) -> Result<MageState> {
        let mut bookmarks = Map::new();
        if let Some(path) = file {
            match fs::read_to_string(path) {
                Ok(text) if !text.trim().is_empty() => {
                    let previous: Value = serde_json::from_str(&text).map_err(|e| {
                        Error::Usage(format!(
                            "--state {}: not a JSON state ({e})",
                            path.display()
                        ))
                    })?;
                    if let Some(Value::Object(previous)) = previous.get("bookmarks") {
                        bookmarks = previous.clone();
                    }
                }
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(Error::Usage(format!(
                        "--state {}: cannot read it ({error})",
                        path.display()
                    )))
                }
            }
        }
        Ok(MageState {
            bookmarks,
            file: file.map(Path::to_path_buf),
            last_written: LastWritten::default(),
        })
    }

    /// Where the state last written can be read once the run is over.
    pub fn last_written(&self) -> LastWritten {
        self.last_written.clone()
    }
}

impl StateOutput for MageState {
    /// Merges the value's bookmarks into the ones kept so far, as the state arrives: the
    /// result holds only bookmarks of states read up to this one, so it waits for the same
    /// commits. A value without a `bookmarks` object adds nothing (and never wipes what is
    /// kept); its other keys (`currently_syncing`) are dropped, as Mage does.
    fn prepare(&mut self, value: &str) -> String {
        if let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(value) {
            if let Some(Value::Object(bookmarks)) = object.remove("bookmarks") {
                for (stream, bookmark) in bookmarks {
                    self.bookmarks.insert(stream, bookmark);
                }
            }
        }
        let mut state = Map::new();
        state.insert("bookmarks".into(), Value::Object(self.bookmarks.clone()));
        Value::Object(state).to_string()
    }

    fn describe(&self) -> String {
        match &self.file {
            Some(path) => format!("the state file {}", path.display()),
            None => "stdout".to_string(),
        }
    }

    fn write_state(&mut self, state: &str) -> std::io::Result<()> {
        match &self.file {
            Some(path) => super::replace_file(path, format!("{state}\n").as_bytes())?,
            None => {
                let mut stdout = std::io::stdout().lock();
                writeln!(stdout, "{state}")?;
                stdout.flush()?;
            }
        }
        self.last_written.set(state);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "target-postgres-mage-state-{}-{name}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir.join("state.json")
    }

    fn file_json(path: &Path) -> Value {
        serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
    }

    /// Prepares and writes each value, as the tracker does when every state is eligible.
    fn push(state: &mut MageState, value: &str) {
        let prepared = state.prepare(value);
        state.write_state(&prepared).unwrap();
    }

    #[test]
    fn bookmarks_merge_per_stream_and_the_file_is_replaced() {
        let path = temp_path("merge");
        let _ = fs::remove_file(&path);
        let mut state = MageState::open(Some(&path)).unwrap();
        push(&mut state, r#"{"bookmarks": {"a": {"id": 1}}}"#);
        push(
            &mut state,
            r#"{"bookmarks": {"b": {"id": 7}}, "currently_syncing": "b"}"#,
        );
        push(&mut state, r#"{"bookmarks": {"a": {"id": 2}}}"#);
        assert_eq!(
            file_json(&path),
            serde_json::json!({"bookmarks": {"a": {"id": 2}, "b": {"id": 7}}})
        );
        assert!(!path.with_extension("json.writing").exists());
    }

    #[test]
    fn a_new_run_keeps_the_bookmarks_of_streams_it_does_not_sync() {
        let path = temp_path("resume");
        fs::write(
            &path,
            r#"{"bookmarks": {"old": {"at": "2020"}, "a": {"id": 0}}}"#,
        )
        .unwrap();
        let mut state = MageState::open(Some(&path)).unwrap();
        push(&mut state, r#"{"bookmarks": {"a": {"id": 5}}}"#);
        assert_eq!(
            file_json(&path),
            serde_json::json!({"bookmarks": {"old": {"at": "2020"}, "a": {"id": 5}}})
        );
    }

    #[test]
    fn a_state_without_a_bookmarks_object_never_wipes_the_kept_bookmarks() {
        let path = temp_path("plain");
        fs::write(&path, r#"{"bookmarks": {"a": {"id": 1}}}"#).unwrap();
        let mut state = MageState::open(Some(&path)).unwrap();
        for value in [
            r#"{"cursor": 3}"#,
            r#"{"bookmarks": null, "currently_syncing": "x"}"#,
            r#"{"bookmarks": [1]}"#,
            "7",
        ] {
            push(&mut state, value);
            assert_eq!(
                file_json(&path),
                serde_json::json!({"bookmarks": {"a": {"id": 1}}}),
                "{value}"
            );
        }
    }

    #[test]
    fn states_skipped_while_waiting_still_contribute_their_bookmarks() {
        // The tracker writes only the latest of several states that become eligible
        // together: the merge must already hold the earlier ones' bookmarks.
        let path = temp_path("skipped");
        let _ = fs::remove_file(&path);
        let mut state = MageState::open(Some(&path)).unwrap();
        let _first = state.prepare(r#"{"bookmarks": {"a": {"id": 1}}}"#);
        let second = state.prepare(r#"{"bookmarks": {"b": {"id": 1}}}"#);
        state.write_state(&second).unwrap();
        assert_eq!(
            file_json(&path),
            serde_json::json!({"bookmarks": {"a": {"id": 1}, "b": {"id": 1}}})
        );
    }

    #[test]
    fn an_unreadable_state_file_is_a_usage_error() {
        let path = temp_path("broken");
        fs::write(&path, "{not json").unwrap();
        let error = MageState::open(Some(&path)).err().unwrap();
        assert_eq!(error.exit_code(), 2, "{error}");
    }
}
