//! Which suites a batch of changed files affects (`clnrm watch`). Pure: the caller discovers the
//! suites before and after the batch and collects the changed paths; nothing here touches the
//! file system.
//!
//! The rules:
//! - a suite file that appeared is run, one that is gone is dropped, one that changed is re-run;
//! - any other changed path (a file or directory: data, migrations, scripts) belongs to the
//!   suites of its *nearest* directory that holds a suite file, searching upwards from the
//!   path: `db/migrations/001.sql` re-runs the suites in `db/` if there are any, else those in
//!   the nearest ancestor with suites; it never re-runs suites in a sibling directory;
//! - a changed path below a directory a suite references (its services' `migrations`, see
//!   [`SuiteSpec::referenced_dirs`](super::SuiteSpec::referenced_dirs)) re-runs that suite too,
//!   wherever the directory is;
//! - ignored: anything below a hidden directory or `target/` (relative to that suite
//!   directory, as discovery skips them), hidden files, and editor leftovers of a suite file
//!   (`a.clnrm.toml~`, `a.clnrm.toml.swp`, `4913`), so saving a suite re-runs only that suite.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::discover::SUITE_EXTENSION;

/// What a batch of changes means for the watched suites. Every suite is in at most one list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Affected {
    /// Suite files that appeared, in discovery order.
    pub added: Vec<PathBuf>,
    /// Known suite files that changed, in discovery order.
    pub changed: Vec<PathBuf>,
    /// Known suites re-run because another file of their directory changed, each with the
    /// first such file of the batch, in discovery order.
    pub touched: Vec<(PathBuf, PathBuf)>,
    /// Suite files that are gone, in their former order.
    pub removed: Vec<PathBuf>,
}

impl Affected {
    /// The suites to (re)load and run: added, changed, then touched.
    pub fn to_run(&self) -> Vec<&Path> {
        self.added
            .iter()
            .chain(&self.changed)
            .chain(self.touched.iter().map(|(suite, _)| suite))
            .map(PathBuf::as_path)
            .collect()
    }

    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.changed.is_empty()
            && self.touched.is_empty()
            && self.removed.is_empty()
    }
}

/// Sorts `changed` paths out against the suites discovered `before` and `now` (see the module
/// docs for the rules). Paths are compared as given: pass them in one form (e.g. canonical).
pub fn affected_suites(before: &[PathBuf], now: &[PathBuf], changed: &[PathBuf]) -> Affected {
    affected_suites_referencing(before, now, changed, &[])
}

/// [`affected_suites`], where `references` also lists, per suite file, the directories it
/// references (its `migrations`): a change below one of them re-runs that suite.
pub fn affected_suites_referencing(
    before: &[PathBuf],
    now: &[PathBuf],
    changed: &[PathBuf],
    references: &[(PathBuf, Vec<PathBuf>)],
) -> Affected {
    let known: BTreeSet<&Path> = before.iter().map(PathBuf::as_path).collect();
    let current: BTreeSet<&Path> = now.iter().map(PathBuf::as_path).collect();
    let changed_set: BTreeSet<&Path> = changed.iter().map(PathBuf::as_path).collect();

    let added: Vec<PathBuf> = now
        .iter()
        .filter(|p| !known.contains(p.as_path()))
        .cloned()
        .collect();
    let removed: Vec<PathBuf> = before
        .iter()
        .filter(|p| !current.contains(p.as_path()))
        .cloned()
        .collect();
    let changed_suites: Vec<PathBuf> = now
        .iter()
        .filter(|p| known.contains(p.as_path()) && changed_set.contains(p.as_path()))
        .cloned()
        .collect();

    // Other files: the suites of the nearest directory holding suites, with the first cause.
    let mut causes: Vec<(&Path, &Path)> = Vec::new(); // (suite directory, changed file)
    for path in changed {
        if current.contains(path.as_path()) || known.contains(path.as_path()) {
            continue;
        }
        // A suite file, an editor's copy of one, or a directory holding suites: the suite
        // lists say what happened to those.
        if is_suite_like(path) || before.iter().chain(now).any(|s| s.starts_with(path)) {
            continue;
        }
        let Some(dir) = nearest_suite_dir(path, now) else {
            continue;
        };
        if is_ignored_below(path, dir) {
            continue;
        }
        if !causes.iter().any(|(d, _)| *d == dir) {
            causes.push((dir, path));
        }
    }
    let touched = now
        .iter()
        .filter(|p| known.contains(p.as_path()) && !changed_set.contains(p.as_path()))
        .filter_map(|suite| {
            let by_dir = suite
                .parent()
                .and_then(|dir| causes.iter().find(|(d, _)| *d == dir))
                .map(|(_, cause)| cause.to_path_buf());
            let by_reference = || {
                let (_, dirs) = references.iter().find(|(s, _)| s == suite)?;
                changed
                    .iter()
                    .find(|path| !is_suite_like(path) && dirs.iter().any(|d| path.starts_with(d)))
                    .cloned()
            };
            Some((suite.clone(), by_dir.or_else(by_reference)?))
        })
        .collect();

    Affected {
        added,
        changed: changed_suites,
        touched,
        removed,
    }
}

/// A suite file, or an editor's leftover of one (backup, swap, temporary copy).
fn is_suite_like(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.contains(SUITE_EXTENSION)
}

/// The nearest ancestor directory of `path` that holds one of `suites`.
fn nearest_suite_dir<'a>(path: &Path, suites: &'a [PathBuf]) -> Option<&'a Path> {
    path.ancestors().skip(1).find_map(|dir| {
        suites
            .iter()
            .filter_map(|s| s.parent())
            .find(|parent| *parent == dir)
    })
}

/// Hidden or `target` components between `dir` and `path`, a hidden file, or an editor file.
fn is_ignored_below(path: &Path, dir: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(dir) else {
        return true;
    };
    let mut components = rel.components().peekable();
    while let Some(c) = components.next() {
        let name = c.as_os_str().to_string_lossy();
        let last = components.peek().is_none();
        if name.starts_with('.') || (!last && name == "target") {
            return true;
        }
        if last && (name.ends_with('~') || name.ends_with(".swp") || name == "4913") {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> Vec<PathBuf> {
        list.iter().map(PathBuf::from).collect()
    }

    const SUITES: &[&str] = &[
        "/w/api/a.clnrm.toml",
        "/w/api/b.clnrm.toml",
        "/w/db/c.clnrm.toml",
        "/w/top.clnrm.toml",
    ];

    #[test]
    fn a_changed_suite_file_reruns_only_that_suite() {
        let suites = paths(SUITES);
        let got = affected_suites(&suites, &suites, &paths(&["/w/api/b.clnrm.toml"]));
        assert_eq!(
            got,
            Affected {
                changed: paths(&["/w/api/b.clnrm.toml"]),
                ..Affected::default()
            }
        );
        assert_eq!(got.to_run(), vec![Path::new("/w/api/b.clnrm.toml")]);
    }

    #[test]
    fn a_new_suite_is_added_and_a_deleted_one_removed() {
        let before = paths(SUITES);
        let mut now = paths(&SUITES[1..]);
        now.push("/w/db/new.clnrm.toml".into());
        let got = affected_suites(
            &before,
            &now,
            &paths(&["/w/api/a.clnrm.toml", "/w/db/new.clnrm.toml"]),
        );
        assert_eq!(got.added, paths(&["/w/db/new.clnrm.toml"]));
        assert_eq!(got.removed, paths(&["/w/api/a.clnrm.toml"]));
        assert!(got.changed.is_empty() && got.touched.is_empty(), "{got:?}");
        assert_eq!(got.to_run(), vec![Path::new("/w/db/new.clnrm.toml")]);
    }

    #[test]
    fn another_file_reruns_the_suites_of_its_nearest_suite_directory() {
        let suites = paths(SUITES);
        let got = affected_suites(&suites, &suites, &paths(&["/w/api/fixtures/users.json"]));
        assert_eq!(
            got.touched,
            vec![
                (
                    "/w/api/a.clnrm.toml".into(),
                    "/w/api/fixtures/users.json".into()
                ),
                (
                    "/w/api/b.clnrm.toml".into(),
                    "/w/api/fixtures/users.json".into()
                ),
            ]
        );
        assert!(got.changed.is_empty() && got.added.is_empty(), "{got:?}");

        // A directory without suites belongs to the nearest ancestor that has some.
        let got = affected_suites(&suites, &suites, &paths(&["/w/scripts/seed.sh"]));
        assert_eq!(
            got.touched,
            vec![("/w/top.clnrm.toml".into(), "/w/scripts/seed.sh".into())]
        );
    }

    #[test]
    fn a_changed_suite_is_not_also_listed_as_touched() {
        let suites = paths(SUITES);
        let got = affected_suites(
            &suites,
            &suites,
            &paths(&["/w/db/migrations/001.sql", "/w/db/c.clnrm.toml"]),
        );
        assert_eq!(got.changed, paths(&["/w/db/c.clnrm.toml"]));
        assert!(got.touched.is_empty(), "{got:?}");
    }

    #[test]
    fn hidden_target_and_editor_files_are_ignored() {
        let suites = paths(SUITES);
        let got = affected_suites(
            &suites,
            &suites,
            &paths(&[
                "/w/api/.git/index",
                "/w/api/.a.clnrm.toml.swp",
                "/w/api/a.clnrm.toml~",
                "/w/api/a.clnrm.toml.tmp.1234",
                "/w/api/4913",
                "/w/api/notes.txt~",
                "/w/db/target/debug/x",
                "/w/db/sub/.cache",
                "/elsewhere/file.txt",
            ]),
        );
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn a_removed_directory_of_suites_drops_them_and_reruns_nothing_else() {
        let before = paths(SUITES);
        let now = paths(&[SUITES[0], SUITES[1], SUITES[3]]);
        let got = affected_suites(&before, &now, &paths(&["/w/db/c.clnrm.toml", "/w/db"]));
        assert_eq!(
            got,
            Affected {
                removed: paths(&["/w/db/c.clnrm.toml"]),
                ..Affected::default()
            }
        );
    }

    #[test]
    fn a_file_named_target_still_counts() {
        let suites = paths(SUITES);
        let got = affected_suites(&suites, &suites, &paths(&["/w/db/target"]));
        assert_eq!(
            got.touched,
            vec![("/w/db/c.clnrm.toml".into(), "/w/db/target".into())]
        );
    }

    #[test]
    fn a_change_in_a_referenced_directory_outside_the_suite_tree_reruns_that_suite() {
        let suites = paths(SUITES);
        let references = vec![(
            PathBuf::from("/w/api/a.clnrm.toml"),
            paths(&["/shared/migrations"]),
        )];
        let changed = paths(&["/shared/migrations/002_add_index.sql"]);
        let got = affected_suites_referencing(&suites, &suites, &changed, &references);
        assert_eq!(
            got.touched,
            vec![(
                PathBuf::from("/w/api/a.clnrm.toml"),
                PathBuf::from("/shared/migrations/002_add_index.sql")
            )]
        );
        // Without the reference nothing links that file to a suite.
        assert!(affected_suites(&suites, &suites, &changed).is_empty());
    }
}
