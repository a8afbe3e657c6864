//! [`SourceChanges`] against real temporary git repositories.

use std::path::Path;
use std::process::Command;

use super::*;
use crate::report::scratch::ScratchDir;

/// Runs git in `dir` with commit dates fixed to `at_secs`, panicking on failure (test setup).
pub(crate) fn git_at(dir: &Path, at_secs: i64, args: &[&str]) {
    let date = format!("@{at_secs} +0000");
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A repository with `files` committed at `at_secs`.
pub(crate) fn repo(files: &[&str], at_secs: i64) -> ScratchDir {
    let dir = ScratchDir::new();
    git_at(dir.path(), at_secs, &["init", "-q"]);
    git_at(dir.path(), at_secs, &["config", "user.name", "clnrm test"]);
    git_at(
        dir.path(),
        at_secs,
        &["config", "user.email", "test@clnrm.invalid"],
    );
    for file in files {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "v1\n").unwrap();
    }
    git_at(dir.path(), at_secs, &["add", "-A"]);
    git_at(dir.path(), at_secs, &["commit", "-q", "-m", "first"]);
    dir
}

const COMMITTED: i64 = 1_700_000_000;
const GREEN_MS: i64 = (COMMITTED + 100) * 1000;

#[test]
fn an_untouched_file_has_not_changed_since_its_green_run() {
    let dir = repo(&["tests/a.rs", "tests/b.rs"], COMMITTED);
    let changes = SourceChanges::load(dir.path(), Some(GREEN_MS)).expect("a repository");
    let file = dir.path().join("tests/a.rs");
    assert_eq!(changes.source_changed(&file, Some(GREEN_MS)), Some(false));
    assert!(changes.changed_files(Some(GREEN_MS)).is_empty());
}

#[test]
fn an_uncommitted_edit_or_a_new_file_counts_as_changed() {
    let dir = repo(&["tests/a.rs", "tests/b.rs"], COMMITTED);
    std::fs::write(dir.path().join("tests/a.rs"), "v2\n").unwrap();
    std::fs::write(dir.path().join("tests/new.rs"), "v1\n").unwrap();
    let changes = SourceChanges::load(dir.path(), Some(GREEN_MS)).unwrap();
    let at = |f: &str| changes.source_changed(&dir.path().join(f), Some(GREEN_MS));
    assert_eq!(at("tests/a.rs"), Some(true));
    assert_eq!(at("tests/new.rs"), Some(true), "untracked files count");
    assert_eq!(at("tests/b.rs"), Some(false));
    assert_eq!(
        changes.changed_files(Some(GREEN_MS)),
        ["tests/a.rs", "tests/new.rs"]
    );
}

#[test]
fn a_commit_after_the_green_run_counts_as_changed_and_one_before_does_not() {
    let dir = repo(&["a.rs", "b.rs"], COMMITTED);
    std::fs::write(dir.path().join("a.rs"), "v2\n").unwrap();
    git_at(
        dir.path(),
        COMMITTED + 200,
        &["commit", "-q", "-am", "after green"],
    );
    let changes = SourceChanges::load(dir.path(), Some(GREEN_MS)).unwrap();
    assert_eq!(
        changes.source_changed(&dir.path().join("a.rs"), Some(GREEN_MS)),
        Some(true)
    );
    assert_eq!(
        changes.source_changed(&dir.path().join("b.rs"), Some(GREEN_MS)),
        Some(false)
    );
    let later_green = (COMMITTED + 300) * 1000;
    assert_eq!(
        changes.source_changed(&dir.path().join("a.rs"), Some(later_green)),
        Some(false),
        "green again after the commit"
    );
    assert_eq!(changes.changed_files(Some(GREEN_MS)), ["a.rs"]);
}

#[test]
fn a_test_without_a_green_run_or_a_file_outside_the_repository_is_unknown() {
    let dir = repo(&["a.rs"], COMMITTED);
    let changes = SourceChanges::load(dir.path(), None).unwrap();
    assert_eq!(changes.source_changed(&dir.path().join("a.rs"), None), None);
    let outside = std::env::temp_dir().join("clnrm-not-in-the-repo.rs");
    assert_eq!(changes.source_changed(&outside, Some(GREEN_MS)), None);
}

#[test]
fn outside_a_repository_nothing_is_known_and_nothing_fails() {
    let dir = ScratchDir::new();
    // A broken `.git` above it: git fails, whatever repository holds the temp dir.
    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    std::fs::write(dir.path().join(".git"), "gitdir: /nonexistent\n").unwrap();
    assert_eq!(SourceChanges::load(&plain, Some(GREEN_MS)), None);
    assert_eq!(SourceChanges::load(&dir.path().join("missing"), None), None);
}

#[test]
fn the_last_green_run_is_the_newest_passed_record_with_a_time() {
    let record = |test: &str, at: Option<i64>, outcome| TestHistoryRecord {
        test: test.into(),
        run_id: 1,
        timestamp_ms: at,
        duration_secs: 1.0,
        outcome,
        retries: 0,
    };
    let green = last_green_ms(&[
        record("a", Some(10), TestOutcome::Passed),
        record("a", Some(30), TestOutcome::Passed),
        record("a", Some(40), TestOutcome::Failed),
        record("b", Some(5), TestOutcome::Flaky),
        record("c", None, TestOutcome::Passed),
    ]);
    assert_eq!(green.get("a"), Some(&30));
    assert_eq!(green.get("b"), None, "flaky is not green");
    assert_eq!(green.get("c"), None);
}
