//! The tests an ai command works on, and their history.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::Result;
use crate::ai::AiError;
use crate::history::{HistoryStore, PLAN_RUNS, SUITES_TARGET};
use crate::plan::{TestHistoryRecord, suite_history};
use crate::suite::SuiteSpec;
use crate::vcs::{SourceChanges, last_green_ms};

/// What to work on.
#[derive(Debug, Clone)]
pub enum Workload {
    /// Loaded TOML suites (path, spec), in the order given.
    Suites(Vec<(PathBuf, SuiteSpec)>),
    /// A cargo test target with history: `package::binary`, or just `binary` when unique.
    Target(String),
}

/// The tests of a [`Workload`] with their history.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkUnits {
    /// The history target the tests are recorded under.
    pub target: String,
    /// Test names in file order: `suite::scenario` for suites, the target's tests by name.
    pub tests: Vec<String>,
    /// For suites: suite names in the order given (what a run orders and shards); empty for a
    /// target, whose tests are ordered one by one.
    pub suites: Vec<String>,
    /// The newest runs of the target, as the planner reads them.
    pub history: Vec<TestHistoryRecord>,
    /// Recent failure messages per test, newest first.
    pub failures: BTreeMap<String, Vec<String>>,
    /// Per test and per suite with a green run and a known file: whether its source file
    /// changed since (from git; empty when git cannot tell).
    pub source_changed: BTreeMap<String, bool>,
    /// Files changed since the earliest last green run of these tests, or uncommitted,
    /// relative to the repository's top level and sorted (from git; empty when it cannot tell).
    pub changed_files: Vec<String>,
}

impl WorkUnits {
    /// Whether each of `names` changed since its last green run (`None`: unknown).
    pub fn changed_of(&self, names: &[&str]) -> Vec<Option<bool>> {
        names
            .iter()
            .map(|n| self.source_changed.get(*n).copied())
            .collect()
    }

    /// Reads the tests of `workload` and their history from `store` (no store: no history; a
    /// target then fails as unknown).
    pub fn load(store: Option<&HistoryStore>, workload: &Workload) -> Result<Self> {
        let (target, tests, suites) = match workload {
            Workload::Suites(loaded) => {
                let mut tests = Vec::new();
                let mut suites = Vec::new();
                for (_, spec) in loaded {
                    let suite = spec.name.get_ref();
                    suites.push(suite.clone());
                    for scenario in &spec.scenarios {
                        tests.push(format!("{suite}::{}", scenario.name.get_ref()));
                    }
                }
                (SUITES_TARGET.to_owned(), tests, suites)
            }
            Workload::Target(name) => {
                let target = resolve_target(store, name)?;
                (target, Vec::new(), Vec::new())
            }
        };
        let (history, failures) = match store {
            Some(store) => (
                store.plan_records(&target, PLAN_RUNS)?,
                store.failure_messages(Some(&target), PLAN_RUNS)?,
            ),
            None => (Vec::new(), BTreeMap::new()),
        };
        let tests = if matches!(workload, Workload::Target(_)) {
            let mut names: Vec<String> = history.iter().map(|r| r.test.clone()).collect();
            names.sort();
            names.dedup();
            names
        } else {
            tests
        };
        let (source_changed, changed_files) = source_changes(workload, &suites, &history);
        Ok(WorkUnits {
            target,
            tests,
            suites,
            history,
            failures,
            source_changed,
            changed_files,
        })
    }

    /// `suite` when runs order whole suites, `test` otherwise.
    pub fn unit_kind(&self) -> &'static str {
        if self.suites.is_empty() {
            "test"
        } else {
            "suite"
        }
    }
}

/// What git says changed since the last green runs: per scenario and suite of a suite workload
/// (the suite's file against its own and each scenario's last green run), and the changed files.
fn source_changes(
    workload: &Workload,
    suites: &[String],
    history: &[TestHistoryRecord],
) -> (BTreeMap<String, bool>, Vec<String>) {
    let names: Vec<&str> = suites.iter().map(String::as_str).collect();
    let mut records = history.to_vec();
    records.extend(suite_history(&names, history));
    let green = last_green_ms(&records);
    let since = green.values().min().copied();
    let dir = match workload {
        Workload::Suites(loaded) => loaded
            .first()
            .map_or(Path::new("."), |(path, _)| crate::vcs::dir_of(path)),
        Workload::Target(_) => Path::new("."),
    };
    let Some(changes) = SourceChanges::load(dir, since) else {
        return (BTreeMap::new(), Vec::new());
    };
    let mut changed = BTreeMap::new();
    if let Workload::Suites(loaded) = workload {
        for (path, spec) in loaded {
            let suite = spec.name.get_ref();
            let units = std::iter::once(suite.clone()).chain(
                spec.scenarios
                    .iter()
                    .map(|s| format!("{suite}::{}", s.name.get_ref())),
            );
            for unit in units {
                if let Some(yes) = changes.source_changed(path, green.get(&unit).copied()) {
                    changed.entry(unit).or_insert(yes);
                }
            }
        }
    }
    (changed, changes.changed_files(since))
}

/// `name` itself or the one target ending in `::name`.
fn resolve_target(store: Option<&HistoryStore>, name: &str) -> Result<String> {
    let targets = match store {
        Some(store) => store.targets()?,
        None => Vec::new(),
    };
    let suffix = format!("::{name}");
    let matching: Vec<&String> = targets
        .iter()
        .filter(|t| *t == name || t.ends_with(&suffix))
        .collect();
    match matching.as_slice() {
        [one] => Ok((*one).clone()),
        _ => {
            let exact = matching.iter().find(|t| **t == name);
            match exact {
                Some(t) => Ok((*t).clone()),
                None => Err(AiError::UnknownTarget {
                    name: name.to_owned(),
                    known: if targets.is_empty() {
                        "none".to_owned()
                    } else {
                        targets.join(", ")
                    },
                }
                .into()),
            }
        }
    }
}
