//! Finding suite files: `clnrm run tests/` and `clnrm validate .` take files and directories.

use std::path::{Path, PathBuf};

use super::error::SuiteError;

/// The file name ending of a suite.
pub const SUITE_EXTENSION: &str = ".clnrm.toml";

/// What [`discover`] found: suite files in argument order, and what it passed over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Suite files, each once (by real path), in argument order.
    pub files: Vec<PathBuf>,
    /// What was passed over and why (not regular files, links leading back into searched
    /// directories), one sentence each, naming the path.
    pub warnings: Vec<String>,
}

/// Expands `paths` into suite files, in argument order; what it passes over is logged as a
/// warning (see [`discover`] to get the warnings instead).
pub fn discover_suites(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SuiteError> {
    let found = discover(paths)?;
    for warning in &found.warnings {
        tracing::warn!("{warning}");
    }
    Ok(found.files)
}

/// Expands `paths` into suite files, in argument order.
///
/// A file is taken as it is, whatever its name. A directory is searched recursively for
/// `*.clnrm.toml`, sorted by path, skipping hidden directories and `target/` (build output
/// holds copies). Links to directories are followed once: a directory already searched (a link
/// loop such as `up -> ..`, or two links to one place) is passed over with a warning, and a file
/// reached by several paths counts once. Anything that is not a regular file (a FIFO, a socket,
/// a device) is passed over with a warning: reading it could block forever. Errors:
/// [`SuiteError::Io`] for a path that does not exist or cannot be read.
pub fn discover(paths: &[PathBuf]) -> Result<Discovery, SuiteError> {
    let mut walk = Walk::default();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| SuiteError::Io {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            let mut in_dir = Vec::new();
            walk.dir(path, &mut in_dir)?;
            in_dir.sort();
            for file in in_dir {
                walk.take(file);
            }
        } else if meta.is_file() {
            walk.take(path.clone());
        } else {
            walk.found.warnings.push(not_regular(path));
        }
    }
    Ok(walk.found)
}

fn not_regular(path: &Path) -> String {
    format!(
        "{}: not a regular file (a FIFO, socket or device); passed over",
        path.display()
    )
}

#[derive(Default)]
struct Walk {
    found: Discovery,
    /// Real paths of the directories searched and of the files taken.
    searched: std::collections::HashSet<PathBuf>,
    taken: std::collections::HashSet<PathBuf>,
}

impl Walk {
    /// Takes `file` unless its real path was taken already.
    fn take(&mut self, file: PathBuf) {
        let real = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        if self.taken.insert(real) {
            self.found.files.push(file);
        }
    }

    fn dir(&mut self, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SuiteError> {
        let io = |source| SuiteError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let real = std::fs::canonicalize(dir).map_err(io)?;
        if !self.searched.insert(real.clone()) {
            self.found.warnings.push(format!(
                "{}: leads to {}, which is searched already (a link loop, or a second link to \
                 one place); passed over",
                dir.display(),
                real.display()
            ));
            return Ok(());
        }
        // In name order, so which of two paths to one place is kept does not depend on the
        // file system's order.
        let mut entries = std::fs::read_dir(dir)
            .map_err(io)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(io)?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let path = entry.path();
            let kind = entry.file_type().map_err(io)?;
            // What a link points to; a dangling link is nothing to search.
            let target = if kind.is_symlink() {
                match std::fs::metadata(&path) {
                    Ok(meta) => meta.file_type(),
                    Err(_) => continue,
                }
            } else {
                kind
            };
            if target.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    self.dir(&path, out)?;
                }
            } else if is_suite_name(&name) {
                if target.is_file() {
                    out.push(path);
                } else {
                    self.found.warnings.push(not_regular(&path));
                }
            }
        }
        Ok(())
    }
}

/// Is `name` the file name of a suite (`*.clnrm.toml`, or a `*.clnrm.toml.tera` template)?
fn is_suite_name(name: &str) -> bool {
    (name.ends_with(SUITE_EXTENSION) && name.len() > SUITE_EXTENSION.len())
        || name.ends_with(super::template::TEMPLATE_EXTENSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_yield_only_suite_files_sorted_and_skip_target() {
        let root = std::env::temp_dir().join(format!("clnrm-discover-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for dir in ["a/b", "target", ".hidden"] {
            std::fs::create_dir_all(root.join(dir)).expect("mkdir");
        }
        for file in [
            "z.clnrm.toml",
            "a/b/y.clnrm.toml",
            "a/plain.toml",
            "target/t.clnrm.toml",
            ".hidden/h.clnrm.toml",
        ] {
            std::fs::write(root.join(file), "").expect("write");
        }
        let found = discover_suites(std::slice::from_ref(&root)).expect("discover");
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(
            found,
            vec![root.join("a/b/y.clnrm.toml"), root.join("z.clnrm.toml")]
        );
    }

    #[test]
    fn link_loops_are_searched_once_and_fifos_are_passed_over_with_warnings() {
        let root = std::env::temp_dir().join(format!("clnrm-discover-loop-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("a/b")).expect("mkdir");
        std::fs::write(root.join("a/b/s.clnrm.toml"), "").expect("write");
        std::fs::write(root.join("top.clnrm.toml"), "").expect("write");
        // A loop back to the root, and a second link to a directory searched anyway.
        std::os::unix::fs::symlink("..", root.join("a/up")).expect("symlink");
        std::os::unix::fs::symlink(root.join("a/b"), root.join("again")).expect("symlink");
        std::os::unix::fs::symlink(root.join("gone"), root.join("dangling")).expect("symlink");
        let fifo = root.join("pipe.clnrm.toml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());

        let found = discover(std::slice::from_ref(&root)).expect("discover");
        assert_eq!(
            found.files,
            vec![root.join("a/b/s.clnrm.toml"), root.join("top.clnrm.toml")],
            "each suite once, the FIFO left out"
        );
        assert!(
            found
                .warnings
                .iter()
                .any(|w| w.contains("pipe.clnrm.toml") && w.contains("not a regular file")),
            "{:?}",
            found.warnings
        );
        assert!(
            found
                .warnings
                .iter()
                .any(|w| w.contains("searched already")),
            "{:?}",
            found.warnings
        );
        // Named directly, a FIFO is passed over too (reading it would block).
        let direct = discover(std::slice::from_ref(&fifo)).expect("discover");
        assert!(direct.files.is_empty());
        assert_eq!(direct.warnings.len(), 1);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_missing_path_is_an_io_error_naming_it() {
        let err = discover_suites(&[PathBuf::from("/nonexistent/x.clnrm.toml")]).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/x.clnrm.toml"),
            "{err}"
        );
    }
}
