//! What the harness reads before the run (history, for the order) and writes after it (history,
//! JSON and JUnit on request).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::runner::TestRun;
use crate::__macro_support::TestDef;
use crate::history::{HistoryStore, PLAN_RUNS, default_history_path};
use crate::plan::{Objective, Partition, PlanError, RunOrder, TestCandidate, TestHistoryRecord};
use crate::report::{RunRecord, TestRecord};

/// Where to write reports, from `--json PATH` / `--junit PATH` / `--metrics-file PATH` (taken
/// out of the arguments before libtest-mimic sees them) or `CLNRM_JSON` / `CLNRM_JUNIT` /
/// `CLNRM_METRICS_FILE`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Outputs {
    pub(crate) json: Option<PathBuf>,
    pub(crate) junit: Option<PathBuf>,
    pub(crate) metrics: Option<PathBuf>,
}

/// Which tests run and in which order, from `--partition K/N` / `--order planned|file` (taken
/// out of the arguments before libtest-mimic sees them) or `CLNRM_PARTITION` / `CLNRM_ORDER`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Choice {
    pub(crate) partition: Option<Partition>,
    pub(crate) order: RunOrder,
    pub(crate) objective: Objective,
}

/// Splits clnrm's own flags from libtest's. Flags win over the environment; a bad partition or
/// order is an error naming the value and what was expected.
pub(crate) fn split_args(args: Vec<String>) -> Result<(Vec<String>, Outputs, Choice), PlanError> {
    let env = |key: &str| std::env::var(key).ok().filter(|v| !v.trim().is_empty());
    let mut outputs = Outputs {
        json: env("CLNRM_JSON").map(PathBuf::from),
        junit: env("CLNRM_JUNIT").map(PathBuf::from),
        metrics: env("CLNRM_METRICS_FILE").map(PathBuf::from),
    };
    let mut partition = env("CLNRM_PARTITION");
    let mut order = env("CLNRM_ORDER");
    let mut objective = env("CLNRM_OBJECTIVE");
    let mut rest = Vec::new();
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let value = |inline: Option<String>, iter: &mut std::vec::IntoIter<String>| {
            inline.or_else(|| iter.next())
        };
        match flag.as_str() {
            "--json" | "--junit" => match value(inline, &mut iter) {
                Some(path) if flag == "--json" => outputs.json = Some(PathBuf::from(path)),
                Some(path) => outputs.junit = Some(PathBuf::from(path)),
                None => rest.push(arg),
            },
            "--metrics-file" => match value(inline, &mut iter) {
                Some(path) => outputs.metrics = Some(PathBuf::from(path)),
                None => rest.push(arg),
            },
            "--partition" => {
                partition = Some(value(inline, &mut iter).unwrap_or_default());
            }
            "--order" => order = Some(value(inline, &mut iter).unwrap_or_default()),
            "--objective" => objective = Some(value(inline, &mut iter).unwrap_or_default()),
            _ => rest.push(arg),
        }
    }
    let choice = Choice {
        partition: partition.as_deref().map(Partition::parse).transpose()?,
        order: order
            .as_deref()
            .map(RunOrder::parse)
            .transpose()?
            .unwrap_or_default(),
        objective: objective
            .as_deref()
            .map(Objective::parse)
            .transpose()?
            .unwrap_or_default(),
    };
    Ok((rest, outputs, choice))
}

/// `package::binary` of this test binary, like nextest's binary id.
pub(crate) fn target_name() -> String {
    if let Ok(id) = std::env::var("NEXTEST_BINARY_ID") {
        return id;
    }
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "<package>".to_owned());
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|stem| match stem.rsplit_once('-') {
            Some((name, hash))
                if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) =>
            {
                name.to_owned()
            }
            _ => stem,
        })
        .unwrap_or_else(|| "<target>".to_owned());
    format!("{package}::{binary}")
}

/// The history store, or `None` with a warning: history never stops a test run.
pub(crate) fn open_history(manifest_dir: &Path) -> Option<HistoryStore> {
    let path = default_history_path(manifest_dir, |k| std::env::var(k).ok());
    match HistoryStore::open(&path) {
        Ok(store) => Some(store),
        Err(e) => {
            eprintln!("clnrm: warning: no history this run: {e:?}");
            None
        }
    }
}

/// Orders `defs` (given in file order) as `choice` says, from `target`'s history, and keeps
/// shard K of N of them; returns the tests of the other shards, in file order. Listing keeps
/// file order (only the shard is applied), so `--list` stays stable. A test whose source file
/// (found from `manifest_dir`) changed since its last green run counts as more likely to fail.
pub(crate) fn select_tests(
    defs: &mut Vec<&'static TestDef>,
    manifest_dir: &Path,
    history: Option<&HistoryStore>,
    target: &str,
    choice: &Choice,
    listing: bool,
) -> Vec<&'static TestDef> {
    let order = if listing {
        RunOrder::File
    } else {
        choice.order
    };
    if order == RunOrder::File && choice.partition.is_none() {
        return Vec::new();
    }
    let records: Vec<TestHistoryRecord> = history
        .and_then(|h| h.plan_records(target, PLAN_RUNS).ok())
        .unwrap_or_default();
    let mut candidates: Vec<TestCandidate> = defs
        .iter()
        .map(|d| TestCandidate::new(super::spec::test_name(d.module_path, d.fn_name)))
        .collect();
    if order == RunOrder::Planned && !records.is_empty() {
        mark_changed_sources(&mut candidates, defs, manifest_dir, &records);
    }
    let selection = crate::plan::select(
        &candidates,
        &records,
        order,
        choice.objective,
        choice.partition,
        1,
    )
    .or_else(|e| {
        // History the planner cannot read must not decide shards: plan without it.
        eprintln!("clnrm: warning: history not used for the plan: {e}");
        crate::plan::select(
            &candidates,
            &[],
            order,
            choice.objective,
            choice.partition,
            1,
        )
    });
    let Ok(selection) = selection else {
        return Vec::new();
    };
    let others = selection.other_shards.iter().map(|&i| defs[i]).collect();
    let mut run = selection.run;
    if order == RunOrder::Planned {
        run = advised_run(run, &candidates, &records, manifest_dir);
    }
    *defs = run.iter().map(|&i| defs[i]).collect();
    others
}

/// The planned run order, merged with the LLM advisor's when one is configured (cached
/// advice at once, fresh advice within the budget, else statistics only; one line says which).
fn advised_run(
    run: Vec<usize>,
    candidates: &[TestCandidate],
    records: &[TestHistoryRecord],
    manifest_dir: &Path,
) -> Vec<usize> {
    let env = |k: &str| std::env::var(k).ok();
    let names: Vec<String> = run.iter().map(|&i| candidates[i].name.clone()).collect();
    let history_path = default_history_path(manifest_dir, env);
    // `CLNRM_AI_*`, else the `[ai]` table of the project's clnrm.toml.
    let settings = match crate::ai::config::with_project_file(manifest_dir, env) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("clnrm: order: statistics only ({e})");
            return run;
        }
    };
    let Some(consultation) =
        crate::ai::run_advice::consult_for_run(names, records, &history_path, settings)
    else {
        return run;
    };
    let index: HashMap<&str, usize> = run
        .iter()
        .map(|&i| (candidates[i].name.as_str(), i))
        .collect();
    consultation
        .order
        .iter()
        .filter_map(|name| index.get(name.as_str()).copied())
        .collect()
}

/// Sets each candidate's `source_changed` from git: its test's file against its last green run.
fn mark_changed_sources(
    candidates: &mut [TestCandidate],
    defs: &[&'static TestDef],
    manifest_dir: &Path,
    records: &[TestHistoryRecord],
) {
    let files: Vec<Option<PathBuf>> = defs
        .iter()
        .map(|d| crate::vcs::locate_source(manifest_dir, d.file))
        .collect();
    let units: Vec<(&Path, &str)> = files
        .iter()
        .zip(candidates.iter())
        .filter_map(|(file, c)| Some((file.as_deref()?, c.name.as_str())))
        .collect();
    let changed = crate::vcs::changed_since_green(manifest_dir, &units, records);
    let by_name: HashMap<String, Option<bool>> = units
        .iter()
        .map(|(_, name)| (*name).to_owned())
        .zip(changed)
        .collect();
    for candidate in candidates {
        candidate.source_changed = by_name.get(&candidate.name).copied().flatten();
    }
}

/// The run as a whole.
pub(crate) struct Finished {
    pub(crate) target: String,
    pub(crate) started_at: SystemTime,
    pub(crate) duration: Duration,
    pub(crate) test_threads: usize,
    pub(crate) service_starts: Vec<(String, Duration)>,
}

/// Appends the run to the history and writes the requested reports. Problems are warnings:
/// the test results stand.
pub(crate) fn finish(
    run: &Finished,
    results: &[TestRun],
    history: Option<&HistoryStore>,
    outputs: &Outputs,
) {
    if results.is_empty() {
        return;
    }
    let record = RunRecord {
        run_id: format!("{:016x}", rand::random::<u64>()),
        target: run.target.clone(),
        started_at: run.started_at,
        duration: run.duration,
        tests: results
            .iter()
            .map(|r| TestRecord {
                name: r.name.clone(),
                outcome: r.verdict,
                duration: r.duration,
                attempts: r.attempts,
                message: r.message.clone(),
                started_at: r.started_at,
                file: Some(r.file.to_owned()),
                line: Some(r.line),
                faults: Vec::new(),
            })
            .collect(),
    };
    let metrics = crate::telemetry::metrics::global();
    for test in &record.tests {
        metrics.test_finished(&record.target, test);
    }
    if let Some(path) = &outputs.metrics {
        // Under nextest every test is a process: they add up in one file.
        let run = std::env::var("NEXTEST_RUN_ID").ok();
        if let Err(e) =
            crate::telemetry::metrics::write_metrics_file(path, &metrics.snapshot(), run.as_deref())
        {
            eprintln!("clnrm: warning: {e:?}");
        }
    }
    if let Some(history) = history
        && let Err(e) = history.append(&record)
    {
        eprintln!("clnrm: warning: the run was not added to the history: {e:?}");
    }
    if let Some(path) = &outputs.junit
        && let Err(e) = crate::report::write_junit(path, &record)
    {
        eprintln!("clnrm: warning: {e:?}");
    }
    if let Some(path) = &outputs.json {
        let mut json = crate::report::json(&record);
        // What the harness knows beyond the record: service start-up and the time each test
        // waited for its services and isolation.
        json["test_threads"] = run.test_threads.into();
        json["services"] = run
            .service_starts
            .iter()
            .map(|(name, took)| serde_json::json!({"name": name, "start_secs": took.as_secs_f64()}))
            .collect();
        if let Some(tests) = json["tests"].as_array_mut() {
            for test in tests {
                let run = results.iter().find(|r| test["name"] == r.name.as_str());
                test["setup_wait_secs"] = run.map(|r| r.setup_wait.as_secs_f64()).into();
                // The wait per service (its container, then the test's namespace in it).
                test["service_waits"] = run
                    .map(|r| {
                        r.service_waits
                            .iter()
                            .map(|(service, wait)| {
                                serde_json::json!({
                                    "service": service,
                                    "start_secs": wait.start.as_secs_f64(),
                                    "isolation_secs": wait.isolation.as_secs_f64(),
                                })
                            })
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
                    .into();
                // The faults injected into its services: what, when, how long.
                let faults = run.map(|r| r.faults.as_slice()).unwrap_or_default();
                test["faults"] = serde_json::to_value(faults).unwrap_or_default();
            }
        }
        let text = serde_json::to_string_pretty(&json).unwrap_or_default();
        if let Err(e) = crate::report::write_atomically(path, text.as_bytes()) {
            eprintln!("clnrm: warning: {e:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    fn def(fn_name: &'static str, file: &'static str) -> &'static TestDef {
        Box::leak(Box::new(TestDef {
            module_path: "fixture::t",
            fn_name,
            file,
            line: 1,
            services: &[],
            scope: None,
            timeout: None,
            retries: None,
            tags: &[],
            exclusive: None,
            ignore: None,
            body: crate::__macro_support::TestFn::Sync(|_| Ok(())),
        }))
    }

    #[test]
    fn a_test_whose_file_changed_since_its_last_green_run_is_planned_first() {
        let now = SystemTime::now();
        let hour_ago = now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 - 3600;
        // `file!()` is relative to the workspace root, the repository here; the manifest dir is
        // the package's, one level down.
        let repo = crate::vcs::tests::repo(&["pkg/tests/same.rs", "pkg/tests/edited.rs"], hour_ago);
        let store = HistoryStore::open(&repo.path().join("history.db")).unwrap();
        store
            .append(&RunRecord {
                run_id: "green".into(),
                target: "pkg::t".into(),
                started_at: now,
                duration: Duration::from_secs(2),
                tests: ["t::a_same", "t::b_edited"]
                    .map(|name| TestRecord {
                        name: name.into(),
                        outcome: crate::report::Outcome::Passed,
                        duration: Duration::from_secs(1),
                        attempts: 1,
                        message: None,
                        started_at: now,
                        file: None,
                        line: None,
                        faults: Vec::new(),
                    })
                    .into(),
            })
            .unwrap();
        std::fs::write(repo.path().join("pkg/tests/edited.rs"), "v2\n").unwrap();
        let planned = Choice {
            partition: None,
            order: RunOrder::Planned,
            objective: Objective::default(),
        };
        let mut defs = vec![
            def("a_same", "pkg/tests/same.rs"),
            def("b_edited", "pkg/tests/edited.rs"),
        ];
        let manifest_dir = repo.path().join("pkg");
        select_tests(
            &mut defs,
            &manifest_dir,
            Some(&store),
            "pkg::t",
            &planned,
            false,
        );
        let order: Vec<&str> = defs.iter().map(|d| d.fn_name).collect();
        assert_eq!(order, ["b_edited", "a_same"]);

        let mut defs = vec![
            def("a_same", "pkg/tests/same.rs"),
            def("b_edited", "pkg/tests/edited.rs"),
        ];
        let file = Choice {
            order: RunOrder::File,
            ..planned
        };
        select_tests(
            &mut defs,
            &manifest_dir,
            Some(&store),
            "pkg::t",
            &file,
            false,
        );
        let order: Vec<&str> = defs.iter().map(|d| d.fn_name).collect();
        assert_eq!(order, ["a_same", "b_edited"], "file order ignores changes");
    }

    #[test]
    fn report_flags_are_taken_out_before_libtest_sees_the_arguments() {
        let (rest, outputs, choice) = split_args(strings(&[
            "bin",
            "--json",
            "out.json",
            "--junit=j.xml",
            "--metrics-file",
            "m.prom",
            "--partition",
            "2/3",
            "--order=file",
            "--objective",
            "Failures",
            "--exact",
            "a::b",
        ]))
        .unwrap();
        assert_eq!(rest, strings(&["bin", "--exact", "a::b"]));
        assert_eq!(outputs.json, Some(PathBuf::from("out.json")));
        assert_eq!(outputs.junit, Some(PathBuf::from("j.xml")));
        assert_eq!(outputs.metrics, Some(PathBuf::from("m.prom")));
        assert_eq!(choice.partition, Some(Partition::new(2, 3).unwrap()));
        assert_eq!(choice.order, RunOrder::File);
        assert_eq!(choice.objective, Objective::Failures);
        let err = split_args(strings(&["bin", "--objective=fast"]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("fast"), "{err}");
    }

    #[test]
    fn a_bad_partition_or_order_is_an_error_naming_the_value() {
        let err = split_args(strings(&["bin", "--partition=3/2"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid partition `3/2`: K must be between 1 and 2 (K is 1-based)"
        );
        let err = split_args(strings(&["bin", "--partition"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid partition ``: expected `K/N`, e.g. `2/4`"
        );
        let err = split_args(strings(&["bin", "--order", "fast"])).unwrap_err();
        assert!(err.to_string().starts_with("invalid order `fast`"));
    }
}
