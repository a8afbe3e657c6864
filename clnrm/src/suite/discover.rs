//! Finding suite files: `clnrm run tests/` and `clnrm validate .` take files and directories.

use std::path::{Path, PathBuf};

use super::error::SuiteError;

/// The file name ending of a suite.
pub const SUITE_EXTENSION: &str = ".clnrm.toml";

/// Expands `paths` into suite files, in argument order.
///
/// A file is taken as it is, whatever its name. A directory is searched recursively for
/// `*.clnrm.toml`, sorted by path, skipping hidden directories and `target/` (build output
/// holds copies). Errors: [`SuiteError::Io`] for a path that does not exist or cannot be read.
pub fn discover_suites(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SuiteError> {
    let mut found = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| SuiteError::Io {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            let mut in_dir = Vec::new();
            walk(path, &mut in_dir)?;
            in_dir.sort();
            found.extend(in_dir);
        } else {
            found.push(path.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|p| seen.insert(p.clone()));
    Ok(found)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SuiteError> {
    let io = |source| SuiteError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() || (kind.is_symlink() && path.is_dir()) {
            if !name.starts_with('.') && name != "target" {
                walk(&path, out)?;
            }
        } else if (name.ends_with(SUITE_EXTENSION) && name.len() > SUITE_EXTENSION.len())
            || name.ends_with(super::template::TEMPLATE_EXTENSION)
        {
            out.push(path);
        }
    }
    Ok(())
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
    fn a_missing_path_is_an_io_error_naming_it() {
        let err = discover_suites(&[PathBuf::from("/nonexistent/x.clnrm.toml")]).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/x.clnrm.toml"),
            "{err}"
        );
    }
}
