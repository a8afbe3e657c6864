//! `--metrics-file PATH`: the text exposition written at exit, atomically (a temporary file
//! and a rename, so node_exporter's textfile collector never reads half a file).
//!
//! Under `cargo nextest run` every test is a process of its own, each ending with its own
//! metrics. They are added up: a writer takes a lock on a hidden file next to `PATH`
//! (`.NAME.lock`), which also holds the nextest run id of the last writer; when it is this
//! run's, the file's series are read back and added to the new ones. A file of another run (or
//! of no nextest run) is replaced. The run id never appears in the metrics.

use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use super::registry::Snapshot;
use super::text::{parse_text, prometheus_text};
use crate::{Error, Result};

/// Writes `snapshot` to `path` as Prometheus text; with `merge_run` (the `NEXTEST_RUN_ID` of
/// this process), adds it to what the other processes of that run wrote there.
pub fn write_metrics_file(path: &Path, snapshot: &Snapshot, merge_run: Option<&str>) -> Result<()> {
    let io = |action: &'static str, path: PathBuf| {
        move |source| Error::Io {
            action,
            path,
            source,
        }
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(io("failed to create directory", parent.to_path_buf()))?;
    }
    let name = path
        .file_name()
        .map_or_else(|| "metrics".into(), |n| n.to_string_lossy().into_owned());
    let lock_path = path.with_file_name(format!(".{name}.lock"));
    let mut lock = std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(io("failed to open", lock_path.clone()))?;
    lock.lock()
        .map_err(io("failed to lock", lock_path.clone()))?;
    let mut last_run = String::new();
    let _ = lock.read_to_string(&mut last_run);
    let mut merged = snapshot.clone();
    if let Some(run) = merge_run
        && last_run.trim() == run
        && let Ok(text) = std::fs::read_to_string(path)
    {
        match parse_text(&text) {
            Ok(earlier) => merged.merge(&earlier),
            Err(e) => eprintln!(
                "clnrm: warning: {} is replaced, not added to: {e}",
                path.display()
            ),
        }
    }
    crate::report::write_atomically(path, prometheus_text(&merged).as_bytes())?;
    let mark = (|| {
        lock.set_len(0)?;
        lock.rewind()?;
        lock.write_all(merge_run.unwrap_or_default().as_bytes())
    })();
    mark.map_err(io("failed to write", lock_path))
}

#[cfg(test)]
mod tests {
    use super::super::registry::tests::test;
    use super::super::registry::{Family, Metrics, Value};
    use super::*;
    use crate::report::Outcome;
    use crate::report::scratch::ScratchDir;

    fn one_pass() -> Snapshot {
        let metrics = Metrics::new();
        metrics.test_finished("s", &test(Outcome::Passed, 0.03));
        metrics.snapshot()
    }

    fn passes(path: &Path) -> f64 {
        let back = parse_text(&std::fs::read_to_string(path).unwrap()).unwrap();
        match &back.find(Family::TestRuns, &[("outcome", "pass")])[0].value {
            Value::Counter(n) => *n,
            Value::Histogram(_) => panic!("a counter"),
        }
    }

    #[test]
    fn processes_of_one_nextest_run_add_up_and_another_run_starts_over() {
        let dir = ScratchDir::new();
        let path = dir.path().join("out/clnrm.prom");
        write_metrics_file(&path, &one_pass(), Some("run-1")).unwrap();
        write_metrics_file(&path, &one_pass(), Some("run-1")).unwrap();
        write_metrics_file(&path, &one_pass(), Some("run-1")).unwrap();
        assert_eq!(passes(&path), 3.0);
        write_metrics_file(&path, &one_pass(), Some("run-2")).unwrap();
        assert_eq!(passes(&path), 1.0, "a new run replaces the file");
        write_metrics_file(&path, &one_pass(), None).unwrap();
        write_metrics_file(&path, &one_pass(), None).unwrap();
        assert_eq!(passes(&path), 1.0, "outside nextest each run replaces it");
        let mut names: Vec<_> = std::fs::read_dir(dir.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".clnrm.prom.lock", "clnrm.prom"]);
    }

    #[test]
    fn concurrent_writers_of_one_run_lose_nothing() {
        let dir = ScratchDir::new();
        let path = dir.path().join("clnrm.prom");
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| write_metrics_file(&path, &one_pass(), Some("run")).unwrap());
            }
        });
        assert_eq!(passes(&path), 8.0);
    }
}
