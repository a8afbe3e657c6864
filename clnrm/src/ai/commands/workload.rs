//! The tests an ai command works on, and their history.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::Result;
use crate::ai::AiError;
use crate::history::{HistoryStore, PLAN_RUNS, SUITES_TARGET};
use crate::plan::TestHistoryRecord;
use crate::suite::SuiteSpec;

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
}

impl WorkUnits {
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
        Ok(WorkUnits {
            target,
            tests,
            suites,
            history,
            failures,
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
