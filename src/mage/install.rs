//! `target-postgres mage-install`: makes this binary a destination Mage can start.
//!
//! Mage has no setting that names a destination's executable: it runs
//! `python3 <mage_integrations/destinations/<name>/__init__.py> <flags>`, `<name>` being the
//! `destination:` of the pipeline's YAML. So the plug-in is a package folder next to Mage's
//! own destinations whose `__init__.py` (the [`SHIM`], shipped in this repository as
//! `src/mage/shim/__init__.py`) replaces its Python process with this binary when run, and
//! does nothing when Mage imports it to find its path. Installing asks the Python that Mage
//! runs with where `mage_integrations` is, and writes the shim there with this binary's
//! absolute path in it.

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The shim, as shipped: the binary's path is empty (looked up on PATH).
pub const SHIM: &str = include_str!("shim/__init__.py");

/// The one line of [`SHIM`] that an install fills with the binary's path.
const PATH_LINE: &str = "TARGET_POSTGRES = \"\"";

/// What tells a shim of ours from any other `__init__.py` (Mage's own destinations).
const SHIM_MARKER: &str = "\"\"\"A Mage destination that runs target-postgres.";

/// What Python prints: the folder of Mage's destinations.
const FIND_DESTINATIONS: &str = "import mage_integrations.destinations as d, os, sys; \
     sys.stdout.write(os.path.dirname(os.path.abspath(d.__file__)))";

/// What `mage-install` was asked to do.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The destination's name: the package folder and the YAML's `destination:` value.
    pub name: String,
    /// The Python that Mage runs with (`python3` on PATH is what Mage itself runs).
    pub python: String,
    /// The binary the shim runs.
    pub binary: PathBuf,
}

/// What an install wrote.
#[derive(Debug)]
pub struct Installed {
    /// The shim's path.
    pub file: PathBuf,
    /// The binary it runs.
    pub binary: PathBuf,
    /// Whether it replaced an earlier shim of ours.
    pub replaced: bool,
}

/// Finds Mage's destinations with `options.python`, and writes the shim there.
pub fn install(options: &InstallOptions) -> Result<Installed> {
    check_name(&options.name)?;
    let binary = fs::canonicalize(&options.binary).map_err(|e| {
        Error::Usage(format!(
            "mage-install: cannot resolve this binary's path {}: {e}",
            options.binary.display()
        ))
    })?;
    let destinations = find_destinations(&options.python)?;
    let folder = destinations.join(&options.name);
    let file = folder.join("__init__.py");
    let replaced = match fs::read_to_string(&file) {
        Ok(text) if text.starts_with(SHIM_MARKER) => true,
        Ok(_) => {
            return Err(Error::Usage(format!(
                "mage-install: {} is not a target-postgres shim (a destination of Mage's own?); \
                 left alone: choose another --name",
                file.display()
            )))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if folder.exists() {
                return Err(Error::Usage(format!(
                    "mage-install: {} already exists and holds no target-postgres shim; left \
                     alone: choose another --name",
                    folder.display()
                )));
            }
            false
        }
        Err(error) => {
            return Err(Error::Usage(format!(
                "mage-install: cannot read {}: {error}",
                file.display()
            )))
        }
    };
    let text = shim_for(&binary)?;
    fs::create_dir_all(&folder).map_err(|e| write_error(&folder, &e))?;
    super::replace_file(&file, text.as_bytes()).map_err(|e| write_error(&file, &e))?;
    Ok(Installed {
        file,
        binary,
        replaced,
    })
}

/// The shim with `binary` as the program it runs.
pub fn shim_for(binary: &Path) -> Result<String> {
    let path = binary.to_str().ok_or_else(|| {
        Error::Usage(format!(
            "mage-install: the binary's path is not UTF-8: {}",
            binary.display()
        ))
    })?;
    // A JSON string is a valid Python string literal (the same escapes).
    let literal = serde_json::to_string(path).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(SHIM.replacen(PATH_LINE, &format!("TARGET_POSTGRES = {literal}"), 1))
}

/// A destination name Mage can import as `mage_integrations.destinations.<name>`.
fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "mage-install: --name must be a Python module name (letters, digits, _; not \
             starting with a digit), got \"{name}\""
        )))
    }
}

/// Asks `python` where `mage_integrations.destinations` lives.
fn find_destinations(python: &str) -> Result<PathBuf> {
    let output = Command::new(python)
        .args(["-c", FIND_DESTINATIONS])
        .output()
        .map_err(|e| {
            Error::Usage(format!(
                "mage-install: cannot run {python} ({e}); pass the Python Mage runs with as \
                 --python"
            ))
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("no message");
        return Err(Error::Usage(format!(
            "mage-install: {python} cannot import mage_integrations ({reason}); pass the \
             Python Mage runs with as --python"
        )));
    }
    let path = PathBuf::from(OsString::from_vec(output.stdout));
    if !path.is_dir() {
        return Err(Error::Usage(format!(
            "mage-install: {python} names {} as Mage's destinations folder, which is not a \
             folder",
            path.display()
        )));
    }
    Ok(path)
}

fn write_error(path: &Path, error: &std::io::Error) -> Error {
    Error::Usage(format!(
        "mage-install: cannot write {}: {error} (run as a user who may write to Mage's \
         installation)",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shim_has_one_path_line_and_starts_with_the_marker() {
        assert_eq!(SHIM.matches(PATH_LINE).count(), 1);
        assert!(SHIM.starts_with(SHIM_MARKER));
    }

    #[test]
    fn the_binary_path_becomes_a_python_string_literal() {
        let text = shim_for(Path::new("/opt/a \"b\"\\c/target-postgres")).unwrap();
        assert!(
            text.contains(r#"TARGET_POSTGRES = "/opt/a \"b\"\\c/target-postgres""#),
            "{text}"
        );
        assert!(!text.contains(PATH_LINE));
    }

    #[test]
    fn names_must_be_module_names() {
        for good in ["target_postgres", "tp2", "_x"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "2tp", "target-postgres", "a.b", "../x", "é"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
