//! The compatibility corpus (`tests/compat/`): suites in the older clnrm's shapes, each with
//! the verdict its first line names, validated and run through the built CLI on real Docker.

use std::path::{Path, PathBuf};

use crate::support::run_bin;

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");

fn corpus(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("compat")
        .join(dir)
}

/// Every `*.clnrm.toml` under `dir`, sorted.
fn suites(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("corpus directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(suites(&path));
        } else if path.to_string_lossy().ends_with(".clnrm.toml")
            || path.to_string_lossy().ends_with(".clnrm.toml.tera")
        {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The first line's `# verdict: KIND[: TEXT]`, as (KIND, TEXT).
fn verdict(path: &Path) -> (String, String) {
    let text = std::fs::read_to_string(path).expect("read suite");
    let first = text.lines().next().unwrap_or_default();
    // Templates say it in a Tera comment: their imports must come before any text.
    let rest = first
        .strip_prefix("# verdict: ")
        .or_else(|| {
            first
                .strip_prefix("{# verdict: ")
                .and_then(|r| r.strip_suffix(" #}"))
        })
        .unwrap_or_else(|| panic!("{}: first line is not `# verdict: ...`", path.display()));
    match rest.split_once(": ") {
        Some((kind, what)) => (kind.to_owned(), what.to_owned()),
        None => (rest.to_owned(), String::new()),
    }
}

/// Runs `clnrm` with its history in a scratch directory; (exit code, stdout, stderr).
fn clnrm(scratch: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let history = scratch.join("history.db");
    let output = run_bin(
        CLNRM,
        args,
        &[("CLNRM_HISTORY", history.to_str().expect("utf-8"))],
    );
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clnrm-e2e-compat-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

#[test]
fn refused_corpus_suites_are_refused_at_their_key_and_never_run() {
    let dir = scratch("refused");
    let files = suites(&corpus("refused"));
    assert!(files.len() >= 9, "only {} refused suites", files.len());
    let mut wrong = Vec::new();
    for file in &files {
        let (kind, text) = verdict(file);
        assert_eq!(kind, "refused", "{}", file.display());
        let path = file.to_str().expect("utf-8");
        let (code, stdout, _) = clnrm(&dir, &["validate", path]);
        let positioned = stdout.lines().any(|l| {
            l.starts_with(&format!("{path}:")) && l.contains(": error: ") && l.contains(&text)
        });
        if code != Some(2) || !positioned {
            wrong.push(format!(
                "{path}: validate exit {code:?}, want 2 and an error with {text:?}:\n{stdout}"
            ));
        }
        // The fake-green family: `run` refuses them too, before any container starts.
        let (code, stdout, stderr) = clnrm(&dir, &["run", path]);
        if code != Some(2) || stdout.contains("PASS ") {
            wrong.push(format!(
                "{path}: run exit {code:?}, want 2:\n{stdout}\n{stderr}"
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

#[test]
fn runnable_corpus_suites_validate_run_and_get_their_verdicts_on_docker() {
    let dir = scratch("runs");
    let runs = corpus("runs");
    let files = suites(&runs);
    assert!(files.len() >= 9, "only {} runnable suites", files.len());
    assert!(
        files.iter().any(|f| f.to_string_lossy().ends_with(".tera")),
        "no template among {files:?}"
    );

    let (code, stdout, stderr) = clnrm(&dir, &["validate", runs.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let valid = format!(
        "{n} suite(s) checked: {n} valid, 0 error(s)",
        n = files.len()
    );
    assert!(stdout.contains(&valid), "want {valid:?}:\n{stdout}");
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("warnings by kind: "))
        .unwrap_or_else(|| panic!("no warning summary:\n{stdout}"));
    for kind in ["mapped from the older format", "descriptive keys ignored"] {
        assert!(summary.contains(kind), "{summary}");
    }

    let json = dir.join("results.json");
    let (code, stdout, stderr) = clnrm(
        &dir,
        &[
            "run",
            runs.to_str().expect("utf-8"),
            "--jobs",
            "2",
            "--json",
            json.to_str().expect("utf-8"),
        ],
    );
    let report = std::fs::read_to_string(&json).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    // Some suites fail or time out on purpose (their checks, spans and the oldest shape's
    // `max_execution_time` among them, are evaluated); nothing is an infra error.
    assert_eq!(code, Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&report).expect("JSON report");
    let tests = report["tests"].as_array().expect("tests");
    let mut wrong = Vec::new();
    let mut ran = 0;
    for file in &files {
        let (kind, text) = verdict(file);
        let path = file.display().to_string();
        let records: Vec<&serde_json::Value> = tests
            .iter()
            .filter(|t| t["file"].as_str() == Some(path.as_str()))
            .collect();
        if records.is_empty() {
            wrong.push(format!("{path}: did not run"));
            continue;
        }
        ran += 1;
        let outcome = |t: &&serde_json::Value| t["outcome"].as_str().unwrap_or_default().to_owned();
        let ok = match kind.as_str() {
            "passed" => records.iter().all(|t| outcome(t) == "passed"),
            "failed" | "timed_out" => records.iter().any(|t| {
                outcome(t) == kind && t["message"].as_str().unwrap_or_default().contains(&text)
            }),
            other => panic!("{path}: unexpected verdict {other} under runs/"),
        };
        if !ok {
            wrong.push(format!("{path}: want {kind} {text:?}, got {records:#?}"));
        }
    }
    assert_eq!(ran, files.len(), "{}", wrong.join("\n"));
    assert!(
        wrong.is_empty(),
        "{}\nstdout:\n{stdout}",
        wrong.join("\n\n")
    );
}

#[test]
fn a_service_that_exits_after_start_is_an_infrastructure_error_with_its_log_tail() {
    let dir = scratch("infra");
    let file = corpus("infra").join("service-exits.clnrm.toml");
    let (kind, text) = verdict(&file);
    assert_eq!(kind, "infra");
    let json = dir.join("results.json");
    let (code, stdout, stderr) = clnrm(
        &dir,
        &[
            "run",
            file.to_str().expect("utf-8"),
            "--json",
            json.to_str().expect("utf-8"),
        ],
    );
    let report = std::fs::read_to_string(&json).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(3), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&report).expect("JSON report");
    let test = &report["tests"][0];
    assert_eq!(test["outcome"], "infra_error", "{report:#}");
    let message = test["message"].as_str().unwrap_or_default();
    assert!(message.contains(&text), "{message}");
    // The service's own last words, not Docker's "container is not running".
    assert!(message.contains("quitting now"), "{message}");
    assert!(!message.contains("409"), "{message}");
}

#[test]
fn template_variables_come_from_vars_then_the_environment_then_the_command_line() {
    let dir = scratch("vars");
    let file = dir.join("greets.clnrm.toml.tera");
    std::fs::write(
        &file,
        r#"[vars]
greeting = "from-vars"

[test.metadata]
name = "greets"

[services.app]
type = "generic_container"
image = "debian:bookworm"

[[steps]]
name = "says"
command = ["echo", "{{ greeting }}"]
"#,
    )
    .expect("write template");
    let path = file.to_str().expect("utf-8");
    let list = |args: &[&str], env: &[(&str, &str)]| {
        let output = run_bin(CLNRM, args, env);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert_eq!(output.status.code(), Some(0), "{stdout}");
        stdout
    };
    let said = |stdout: &str| {
        stdout
            .lines()
            .find(|l| l.contains("step says"))
            .unwrap_or_else(|| panic!("no step in\n{stdout}"))
            .to_owned()
    };
    let from_vars = list(&["list", path], &[]);
    assert!(said(&from_vars).contains("\"from-vars\""), "{from_vars}");
    let from_env = list(&["list", path], &[("CLNRM_VAR_GREETING", "from-env")]);
    assert!(said(&from_env).contains("\"from-env\""), "{from_env}");
    let from_cli = list(
        &["list", "--var", "greeting=from-cli", path],
        &[("CLNRM_VAR_GREETING", "from-env")],
    );
    assert!(said(&from_cli).contains("\"from-cli\""), "{from_cli}");
    let bad = run_bin(CLNRM, &["list", "--var", "novalue", path], &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("expected NAME=VALUE"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
