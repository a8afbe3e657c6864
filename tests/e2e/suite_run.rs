//! `clnrm run` on real Docker: passing suites, a failing expectation, argv fidelity, reports,
//! and Docker unreachable.

use std::path::{Path, PathBuf};

use crate::support::run_bin;

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/suites")
        .join(name)
        .to_str()
        .expect("utf-8")
        .to_owned()
}

/// A fresh directory for one test, removed by the caller.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clnrm-e2e-run-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

/// Runs `clnrm` with the history kept in `dir`; (exit code, stdout, stderr).
fn clnrm(dir: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let history = dir.join("history.db");
    let mut envs = vec![("CLNRM_HISTORY", history.to_str().expect("utf-8"))];
    envs.extend_from_slice(extra_env);
    let output = run_bin(CLNRM, args, &envs);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn example_suites_with_services_and_fresh_containers_pass() {
    let dir = scratch_dir("pass");
    let json = dir.join("results.json");
    let (code, stdout, stderr) = clnrm(
        &dir,
        &[
            "run",
            &example("signup.clnrm.toml"),
            &example("fresh-image.clnrm.toml"),
            &example("http-api.clnrm.toml"),
            "--jobs",
            "3",
            "--json",
            json.to_str().expect("utf-8"),
        ],
        &[],
    );
    let report = std::fs::read_to_string(&json).unwrap_or_default();
    let history = dir.join("history.db").is_file();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for name in [
        "PASS signup/signup (",
        "PASS fresh-image/fresh-image (",
        "PASS http-api/health (",
        "PASS http-api/post (",
    ] {
        assert!(stdout.contains(name), "no `{name}` in\n{stdout}");
    }
    assert!(stdout.contains("4 passed, 0 failed"), "{stdout}");
    assert!(report.contains("\"signup::signup\""), "{report}");
    assert!(history, "no history database written");
}

#[test]
fn a_failing_expectation_exits_1_with_the_reason_and_writes_junit() {
    let dir = scratch_dir("fail");
    let suite = dir.join("greet.clnrm.toml");
    std::fs::write(
        &suite,
        r#"version = 1
[suite]
name = "greet"
[[scenarios]]
name = "says goodbye"
[[scenarios.steps]]
name = "echo"
run = ["echo", "hello"]
image = "debian:bookworm"
expect.stdout.contains = "goodbye"
[[scenarios]]
name = "says hello"
[[scenarios.steps]]
name = "echo"
run = ["echo", "hello"]
image = "debian:bookworm"
expect.stdout.contains = "hello"
"#,
    )
    .expect("write suite");
    let junit = dir.join("junit.xml");
    let (code, stdout, stderr) = clnrm(
        &dir,
        &[
            "run",
            suite.to_str().expect("utf-8"),
            "--junit",
            junit.to_str().expect("utf-8"),
        ],
        &[],
    );
    let xml = std::fs::read_to_string(&junit).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("FAIL greet/says goodbye (",)
            && stdout
                .contains("step `echo`: stdout does not contain \"goodbye\"; stdout: \"hello\\n\""),
        "{stdout}"
    );
    assert!(stdout.contains("PASS greet/says hello ("), "{stdout}");
    assert!(stdout.contains("1 passed, 1 failed"), "{stdout}");
    assert!(xml.contains("<failure"), "{xml}");
}

#[test]
fn argv_items_reach_the_container_exactly_as_written() {
    let dir = scratch_dir("argv");
    let suite = dir.join("argv.clnrm.toml");
    // `\A` and `\z`: the whole output, nothing before or after.
    std::fs::write(
        &suite,
        r#"version = 1
[[steps]]
name = "quoted"
run = ["sh", "-c", "echo 'a b' && echo c"]
image = "debian:bookworm"
expect.stdout.regex = ['\Aa b\nc\n\z']
[[steps]]
name = "one argument with spaces"
run = ["printf", "%s|", "x y", "z"]
image = "debian:bookworm"
expect.stdout.regex = ['\Ax y\|z\|\z']
"#,
    )
    .expect("write suite");
    let (code, stdout, stderr) = clnrm(&dir, &["run", suite.to_str().expect("utf-8")], &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("PASS argv/argv ("), "{stdout}");
}

#[test]
fn an_invalid_suite_exits_2_before_anything_runs() {
    let dir = scratch_dir("invalid");
    let suite = dir.join("bad.clnrm.toml");
    std::fs::write(&suite, "version = 1\n[[steps]]\nname = \"a\"\n").expect("write suite");
    let (code, stdout, stderr) = clnrm(&dir, &["run", suite.to_str().expect("utf-8")], &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(2), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("bad.clnrm.toml:2:"), "{stderr}");
    assert!(
        !stdout.contains("PASS") && !stdout.contains("FAIL"),
        "{stdout}"
    );
}

#[test]
fn docker_unreachable_exits_3() {
    let dir = scratch_dir("nodocker");
    let (code, stdout, stderr) = clnrm(
        &dir,
        &["run", &example("fresh-image.clnrm.toml")],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(3), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("cannot reach Docker"), "{stderr}");
}

#[test]
fn a_suite_timeout_fails_only_the_scenarios_it_cut_short() {
    let dir = scratch_dir("timeout");
    let suite = dir.join("slow.clnrm.toml");
    std::fs::write(
        &suite,
        r#"version = 1
[suite]
name = "slow"
timeout = "4s"
[[scenarios]]
name = "fast"
[[scenarios.steps]]
name = "true"
run = ["true"]
image = "debian:bookworm"
[[scenarios]]
name = "sleeps"
[[scenarios.steps]]
name = "sleep"
run = ["sleep", "30"]
image = "debian:bookworm"
"#,
    )
    .expect("write suite");
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = clnrm(&dir, &["run", suite.to_str().expect("utf-8")], &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("PASS slow/fast ("), "{stdout}");
    assert!(
        stdout.contains("TIMEOUT slow/sleeps (0.0 s): suite timeout of 4.0 s ran out"),
        "{stdout}"
    );
    assert!(!stdout.contains("TIMEOUT slow/fast"), "{stdout}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(25),
        "{stdout}"
    );
}
