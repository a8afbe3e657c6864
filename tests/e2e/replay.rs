//! `clnrm replay` on a real public CI history, and on a broken file.

use std::path::{Path, PathBuf};

use clnrm::plan::replay::Strategy;

use crate::support::run_bin;

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");

/// The shared data folder sits beside the repository on every machine (`../shared/data`).
fn dataset(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(name);
    assert!(
        path.is_file(),
        "missing dataset {}: the replay tests need the shared data folder beside the repository \
         (`../shared/data/{name}` relative to the workspace root)",
        path.display()
    );
    path
}

/// The row of the table starting with `metric`, as one number per strategy in
/// [`Strategy::ALL`] order.
fn metric_row(stdout: &str, metric: &str) -> Vec<f64> {
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(metric))
        .unwrap_or_else(|| panic!("no `{metric}` row in:\n{stdout}"));
    let values: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("`{v}` in `{line}` is not a number"))
        })
        .collect();
    assert_eq!(values.len(), Strategy::ALL.len(), "{line}");
    values
}

fn column(strategy: Strategy) -> usize {
    Strategy::ALL
        .iter()
        .position(|s| *s == strategy)
        .expect("a listed strategy")
}

#[test]
fn replay_on_the_dune_history_scores_the_planner_near_the_best_heuristic() {
    let file = dataset("dune-debian11-gcc10.csv");
    let output = run_bin(CLNRM, &["replay", file.to_str().expect("utf-8 path")], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("35140 rows, 125 tests, 221 cycles, 81 with failures"),
        "{stdout}"
    );
    let header = stdout
        .lines()
        .find(|l| l.starts_with("metric"))
        .unwrap_or_else(|| panic!("no header row in:\n{stdout}"));
    for strategy in Strategy::ALL {
        assert!(
            header.contains(strategy.label()),
            "`{}` missing from `{header}`",
            strategy.label()
        );
    }
    for metric in ["APFDc", "NAPFD@50%"] {
        metric_row(&stdout, metric);
    }

    let apfd = metric_row(&stdout, "APFD");
    let planner = apfd[column(Strategy::Planner)];
    let random = apfd[column(Strategy::Random)];
    let heuristic = apfd[column(Strategy::LastFailedThenRate)];
    assert!(
        planner > random + 0.2,
        "planner APFD {planner} is not 0.2 above random {random}:\n{stdout}"
    );
    assert!(
        planner >= heuristic - 0.02,
        "planner APFD {planner} is more than 0.02 below last-failed-then-rate {heuristic}:\n{stdout}"
    );
    assert!(
        apfd[column(Strategy::Oracle)] >= planner,
        "the oracle is an upper bound:\n{stdout}"
    );
}

#[test]
fn replay_of_a_malformed_csv_exits_2_naming_the_line() {
    let dir = std::env::temp_dir().join(format!("clnrm-e2e-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let file = dir.join("broken.csv");
    std::fs::write(
        &file,
        "Id;Name;BuildId;Duration;CalcPrio;LastRun;Verdict;Cycle;LastResults\n\
         1;a;1;0.5;0;2020-07-24 04:45:01.571;0;1;[]\n\
         2;b;1;0.5;0;2020-07-24 04:45:01.571;0;1\n",
    )
    .expect("write the broken file");
    let output = run_bin(CLNRM, &["replay", file.to_str().expect("utf-8 path")], &[]);
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("broken.csv: invalid RETECS CSV"),
        "the file is not named:\n{stderr}"
    );
    assert!(
        stderr.contains("line 3: expected 9 `;`-separated fields, found 8"),
        "the line is not named:\n{stderr}"
    );
    assert!(stdout.is_empty(), "{stdout}");
}
