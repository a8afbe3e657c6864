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
fn replay_on_the_dune_history_beats_the_published_baselines_with_each_objective() {
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
        stdout.contains("35140 rows (0.5 % failing), 125 tests, 221 cycles"),
        "{stdout}"
    );
    // the published protocol comes first: 81 cycles with a failure (all have >= 2 rows)
    assert!(
        stdout.contains("published protocol (one item per execution; cycles with >= 1 failure and >= 2 items): 81 cycles"),
        "{stdout}"
    );
    assert!(stdout.contains("per-test protocol"), "{stdout}");
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
    metric_row(&stdout, "NAPFD@50%");
    let baselines: Vec<usize> = Strategy::ALL
        .iter()
        .filter(|s| s.is_baseline())
        .map(|s| column(*s))
        .collect();
    let best = |row: &[f64]| baselines.iter().map(|&i| row[i]).fold(f64::MIN, f64::max);

    let apfd = metric_row(&stdout, "APFD");
    let by_failures = apfd[column(Strategy::PlannerFailures)];
    assert!(
        by_failures > best(&apfd),
        "plan:failures APFD {by_failures} is not above the best baseline:\n{stdout}"
    );
    assert!(
        apfd[column(Strategy::Oracle)] >= by_failures,
        "the oracle is an upper bound:\n{stdout}"
    );
    let apfdc = metric_row(&stdout, "APFDc");
    let by_time = apfdc[column(Strategy::PlannerTime)];
    assert!(
        by_time > best(&apfdc),
        "plan:time APFDc {by_time} is not above the best baseline:\n{stdout}"
    );
    let ttff = metric_row(&stdout, "TTFF-share");
    let waited = ttff[column(Strategy::PlannerTime)];
    let best_wait = baselines.iter().map(|&i| ttff[i]).fold(f64::MAX, f64::min);
    assert!(
        waited < best_wait,
        "plan:time waits {waited} of a cycle for the first failure, a baseline {best_wait}:\n{stdout}"
    );
    for comparison in ["APFD:  plan:failures", "APFDc: plan:time"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(comparison)
                && l.contains("Wilcoxon signed-rank n = ")
                && l.contains("A12 = ")),
            "no `{comparison}` comparison line:\n{stdout}"
        );
    }
}

#[test]
fn replay_reads_the_standard_retecs_header_and_refuses_a_missing_column() {
    let dir = std::env::temp_dir().join(format!("clnrm-e2e-replay-hdr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let good = dir.join("standard.csv");
    let mut text = String::from("Id;Name;Duration;CalcPrio;LastRun;Verdict;Cycle;LastResults\n");
    for cycle in 1..=3 {
        text += &[
            format!("{cycle}1;a;1.0;0;2016-01-01;0;{cycle};[]\n"),
            format!("{cycle}2;b;2.0;0;2016-01-01;1;{cycle};[1]\n"),
        ]
        .concat();
    }
    std::fs::write(&good, text).expect("write the file");
    let bad = dir.join("no-verdict.csv");
    std::fs::write(&bad, "Id;Name;Duration;Cycle\n1;a;1;1\n").expect("write the file");
    let ok = run_bin(CLNRM, &["replay", good.to_str().expect("utf-8 path")], &[]);
    let refused = run_bin(CLNRM, &["replay", bad.to_str().expect("utf-8 path")], &[]);
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("6 rows (50.0 % failing), 2 tests, 3 cycles"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no-verdict.csv: invalid RETECS CSV")
            && stderr
                .contains("line 1: missing column(s) Verdict in header `Id;Name;Duration;Cycle`"),
        "{stderr}"
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
        stderr.contains("line 3: expected 9 `;`-separated fields (one per header column), found 8"),
        "the line is not named:\n{stderr}"
    );
    assert!(stdout.is_empty(), "{stdout}");
}
