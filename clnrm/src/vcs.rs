//! Which source files changed since a test last passed, asked of git.
//!
//! The I/O half of the planner's "source changed since last green run" signal (the planner
//! itself stays pure: it only reads [`crate::plan::TestCandidate::source_changed`]). Two git
//! processes answer for every file at once: `git status --porcelain -z` (uncommitted changes,
//! untracked files included) and one `git log` walk back to the earliest green run asked about.
//! Git missing, not a repository, or any git error: every answer is `None` (unknown), with a
//! debug trace, never an error.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::plan::{TestHistoryRecord, TestOutcome};

/// What git says about a working tree: uncommitted files and the last commit touching each file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceChanges {
    /// The repository's top level (canonical).
    root: PathBuf,
    /// Files with uncommitted changes or untracked, relative to `root` (`/`-separated).
    uncommitted: HashSet<String>,
    /// Newest commit time touching each file, milliseconds since the Unix epoch, for the commits
    /// walked (those since the earliest green run asked about).
    last_commit_ms: HashMap<String, i64>,
}

impl SourceChanges {
    /// Asks git about the repository containing `dir`, walking the commits since `since_ms`
    /// (milliseconds since the Unix epoch; `None`: no commit is walked, only uncommitted files
    /// count). `None` when git is missing, `dir` is not in a repository, or git fails.
    pub fn load(dir: &Path, since_ms: Option<i64>) -> Option<Self> {
        let root = git(dir, &["rev-parse", "--show-toplevel"])?;
        let root = PathBuf::from(String::from_utf8_lossy(&root).trim_end_matches(['\n', '\r']));
        let root = root.canonicalize().unwrap_or(root);
        let status = git(
            &root,
            &["status", "--porcelain", "-z", "--untracked-files=all"],
        )?;
        let uncommitted = parse_status(&status);
        let mut last_commit_ms = HashMap::new();
        if let Some(since_ms) = since_ms {
            // One second of slack: commit times have whole seconds, green runs milliseconds.
            let since = format!("--since=@{}", since_ms.div_euclid(1000) - 1);
            let log = git(
                &root,
                &[
                    "log",
                    "--format=%x01%ct",
                    "--name-only",
                    "--no-renames",
                    "-z",
                    &since,
                ],
            )?;
            last_commit_ms = parse_log(&log);
        }
        Some(Self {
            root,
            uncommitted,
            last_commit_ms,
        })
    }

    /// The repository's top level.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `path` relative to the top level, `/`-separated; a relative `path` is taken against the
    /// current directory. `None` when it lies outside the repository.
    pub fn relative(&self, path: &Path) -> Option<String> {
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir().ok()?.join(path)
        };
        let absolute = absolute.canonicalize().unwrap_or(absolute);
        let rel = absolute.strip_prefix(&self.root).ok()?;
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        Some(parts.join("/"))
    }

    /// Whether `file` changed since the green run that started at `last_green_ms`: it has
    /// uncommitted changes, or a commit touching it is newer. `None` without a green run (a new
    /// test: the planner counts those apart) or for a file outside the repository.
    pub fn source_changed(&self, file: &Path, last_green_ms: Option<i64>) -> Option<bool> {
        let last_green_ms = last_green_ms?;
        let rel = self.relative(file)?;
        Some(
            self.uncommitted.contains(&rel)
                || self
                    .last_commit_ms
                    .get(&rel)
                    .is_some_and(|&at| at > last_green_ms),
        )
    }

    /// The files changed since `since_ms`, relative to the top level and sorted: uncommitted
    /// ones, and those a commit newer than `since_ms` touched (`None`: uncommitted ones only).
    pub fn changed_files(&self, since_ms: Option<i64>) -> Vec<String> {
        let mut files: Vec<String> = self.uncommitted.iter().cloned().collect();
        if let Some(since_ms) = since_ms {
            files.extend(
                self.last_commit_ms
                    .iter()
                    .filter(|&(_, &at)| at > since_ms)
                    .map(|(f, _)| f.clone()),
            );
        }
        files.sort();
        files.dedup();
        files
    }
}

/// The start time of each test's newest passed execution in `history`, milliseconds since the
/// Unix epoch (records without a time are left out).
pub fn last_green_ms(history: &[TestHistoryRecord]) -> HashMap<String, i64> {
    let mut green: HashMap<String, i64> = HashMap::new();
    for record in history {
        if record.outcome != TestOutcome::Passed {
            continue;
        }
        if let Some(at) = record.timestamp_ms {
            let entry = green.entry(record.test.clone()).or_insert(at);
            *entry = (*entry).max(at);
        }
    }
    green
}

/// Whether each `(file, test)` changed since `test`'s last green run in `history`, asking git
/// once about the repository holding `dir`. All `None` when git cannot tell, and no git process
/// at all when no test has a green run.
pub fn changed_since_green(
    dir: &Path,
    units: &[(&Path, &str)],
    history: &[TestHistoryRecord],
) -> Vec<Option<bool>> {
    let green = last_green_ms(history);
    let times: Vec<Option<i64>> = units
        .iter()
        .map(|(_, test)| green.get(*test).copied())
        .collect();
    let Some(since) = times.iter().flatten().min().copied() else {
        return vec![None; units.len()];
    };
    match SourceChanges::load(dir, Some(since)) {
        Some(changes) => units
            .iter()
            .zip(times)
            .map(|((file, _), at)| changes.source_changed(file, at))
            .collect(),
        None => vec![None; units.len()],
    }
}

/// Where a source path `file!()` gave lives: as is when absolute, else under the first of
/// `base` and its ancestors holding it (`file!()` is relative to the cargo workspace root, which
/// is `CARGO_MANIFEST_DIR` or one of its ancestors). `None` when no such file exists.
pub fn locate_source(base: &Path, file: &str) -> Option<PathBuf> {
    let path = Path::new(file);
    if path.is_absolute() {
        return path.exists().then(|| path.to_path_buf());
    }
    base.ancestors()
        .map(|dir| dir.join(path))
        .find(|candidate| candidate.is_file())
}

/// The directory to ask git from about `file`: its parent, or `.` for a bare file name.
pub fn dir_of(file: &Path) -> &Path {
    file.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Runs `git -C dir args...`; its stdout, or `None` (with a debug trace) when it cannot run or
/// fails.
fn git(dir: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output();
    match output {
        Ok(out) if out.status.success() => Some(out.stdout),
        Ok(out) => {
            tracing::debug!(
                dir = %dir.display(),
                ?args,
                status = %out.status,
                stderr = %String::from_utf8_lossy(&out.stderr).trim(),
                "git failed; source changes unknown"
            );
            None
        }
        Err(e) => {
            tracing::debug!(error = %e, "git not available; source changes unknown");
            None
        }
    }
}

/// Paths of `git status --porcelain -z`: `XY path\0`, and for a rename or copy the original
/// path as one more entry (both count as changed).
fn parse_status(out: &[u8]) -> HashSet<String> {
    let mut files = HashSet::new();
    let mut entries = out.split(|&b| b == 0).filter(|e| !e.is_empty());
    while let Some(entry) = entries.next() {
        if entry.len() < 4 {
            continue;
        }
        files.insert(String::from_utf8_lossy(&entry[3..]).into_owned());
        if matches!(entry[0], b'R' | b'C')
            && let Some(original) = entries.next()
        {
            files.insert(String::from_utf8_lossy(original).into_owned());
        }
    }
    files
}

/// Newest commit time per file from `git log --format=%x01%ct --name-only -z`: each commit is
/// `\x01<secs>\n` followed by its `\0`-terminated file names (newest commit first).
fn parse_log(out: &[u8]) -> HashMap<String, i64> {
    let mut last = HashMap::new();
    let mut at: Option<i64> = None;
    for token in out.split(|&b| b == 0) {
        let token = String::from_utf8_lossy(token);
        let token = token.trim_start_matches('\n');
        if let Some(header) = token.strip_prefix('\u{1}') {
            // A commit header, possibly followed by its first file name after the newline.
            let (secs, first) = header.split_once('\n').unwrap_or((header, ""));
            at = secs.trim().parse::<i64>().ok().map(|s| s * 1000);
            if let (Some(at), false) = (at, first.is_empty()) {
                last.entry(first.to_owned()).or_insert(at);
            }
        } else if let (Some(at), false) = (at, token.is_empty()) {
            last.entry(token.to_owned()).or_insert(at);
        }
    }
    last
}

#[cfg(test)]
pub(crate) mod tests;
