//! Atomic file writes: a reader sees the old file or the new one, never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::{Error, Result};

/// Writes `contents` to `path` through a temporary file in the same directory and a rename,
/// creating missing parent directories.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io("failed to create directory", parent))?;
    }
    let temp = temp_path(path);
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(contents)?;
        file.sync_all()
    })();
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(io("failed to write", &temp)(source));
    }
    std::fs::rename(&temp, path).map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        io("failed to replace", path)(source)
    })
}

/// `dir/.name.tmp-PID-N`: unique per process and call, so concurrent writers never share one.
fn temp_path(path: &Path) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().map_or_else(
        || "report".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::scratch::ScratchDir;

    #[test]
    fn writing_creates_missing_parent_directories_and_leaves_no_temp_file() {
        let dir = ScratchDir::new();
        let path = dir.path().join("a/b/report.xml");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["report.xml"]);
    }

    #[test]
    fn a_path_under_a_regular_file_is_an_io_error_naming_the_directory() {
        let dir = ScratchDir::new();
        std::fs::write(dir.path().join("file"), "x").unwrap();
        let err = write_atomically(&dir.path().join("file/report.json"), b"{}").unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("failed to create directory"),
            "{message}"
        );
        assert!(message.contains("file"), "{message}");
    }
}
