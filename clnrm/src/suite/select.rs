//! Which loaded suites run, and in which order: the planner's [`select_suites_changed`] applied
//! to the suites themselves, for `clnrm run` and `clnrm ai-orchestrate`.

use std::path::{Path, PathBuf};

use super::spec::SuiteSpec;
use crate::plan::{
    Objective, Partition, PlanError, RunOrder, Selection, TestHistoryRecord, select_suites_changed,
    suite_history,
};

/// Whether each suite's file changed (git) since the suite's last green run in
/// `scenario_history` (`suite::scenario` records); `None` where unknown. Git is asked from the
/// first suite's directory.
pub fn suites_changed_since_green(
    suites: &[(PathBuf, SuiteSpec)],
    scenario_history: &[TestHistoryRecord],
) -> Vec<Option<bool>> {
    let names: Vec<&str> = suites
        .iter()
        .map(|(_, s)| s.name.get_ref().as_str())
        .collect();
    let files: Vec<(&Path, &str)> = suites
        .iter()
        .zip(&names)
        .map(|((path, _), name)| (path.as_path(), *name))
        .collect();
    let dir = suites
        .first()
        .map_or(Path::new("."), |(path, _)| crate::vcs::dir_of(path));
    crate::vcs::changed_since_green(dir, &files, &suite_history(&names, scenario_history))
}

/// Orders `suites` (as discovered) by `order` and keeps shard `partition` of them; scenarios
/// keep their order inside a suite, which may depend on it. `changed` is each suite's
/// [`suites_changed_since_green`] (empty: unknown). Returns the suites to run, in run order,
/// and the selection behind them.
pub fn select_loaded_suites(
    suites: Vec<(PathBuf, SuiteSpec)>,
    changed: &[Option<bool>],
    scenario_history: &[TestHistoryRecord],
    order: RunOrder,
    objective: Objective,
    partition: Option<Partition>,
    threads: usize,
) -> Result<(Vec<(PathBuf, SuiteSpec)>, Selection), PlanError> {
    let names: Vec<&str> = suites
        .iter()
        .map(|(_, s)| s.name.get_ref().as_str())
        .collect();
    let selection = select_suites_changed(
        &names,
        changed,
        scenario_history,
        order,
        objective,
        partition,
        threads,
    )?;
    let mut slots: Vec<Option<(PathBuf, SuiteSpec)>> = suites.into_iter().map(Some).collect();
    let ordered = selection
        .run
        .iter()
        .filter_map(|&i| slots[i].take())
        .collect();
    Ok((ordered, selection))
}
