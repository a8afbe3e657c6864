//! `clnrm validate` and `clnrm list` on the example suites and on broken files (no Docker).

use std::path::{Path, PathBuf};

use crate::support::run_bin;

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/suites")
}

/// A fresh directory holding `files` (name, text), removed by the caller.
fn scratch_dir(test: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clnrm-e2e-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

const BAD: &str = r#"version = 1
[[steps]]
name = "a"
run = ["true"]
image = "debian:bookworm"
servce = "db"
"#;

const GOOD: &str = r#"version = 1
[suite]
name = "tiny"
[[scenarios]]
name = "says hello"
[[scenarios.steps]]
name = "echo"
run = ["echo", "hello"]
image = "debian:bookworm"
expect.stdout.contains = "hello"
"#;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let output = run_bin(CLNRM, args, &[]);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn validate_accepts_a_good_example_suite() {
    let file = examples().join("signup.clnrm.toml");
    let (code, stdout, stderr) = run(&["validate", file.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("1 suite(s) checked: 1 valid, 0 error(s)"),
        "{stdout}"
    );
}

#[test]
fn validate_reports_a_bad_file_at_its_line_and_column_and_exits_2() {
    let dir = scratch_dir("validate-bad", &[("bad.clnrm.toml", BAD)]);
    let file = dir.join("bad.clnrm.toml");
    let (code, stdout, stderr) = run(&["validate", file.to_str().expect("utf-8")]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(2), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let expected = format!(
        "{}:6:1: error: unknown key `servce` in step \"a\", did you mean `service`?",
        file.display()
    );
    assert!(
        stdout.lines().any(|l| l == expected),
        "want {expected}\n{stdout}"
    );
}

#[test]
fn validate_searches_a_directory_for_suite_files_only() {
    let dir = scratch_dir(
        "validate-dir",
        &[
            ("good.clnrm.toml", GOOD),
            ("nested/bad.clnrm.toml", BAD),
            ("nested/not-a-suite.toml", "this is not toml ["),
        ],
    );
    let (code, stdout, stderr) = run(&["validate", dir.to_str().expect("utf-8")]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(2), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("bad.clnrm.toml:6:1: error:"), "{stdout}");
    assert!(!stdout.contains("not-a-suite"), "{stdout}");
    assert!(
        stdout.contains("2 suite(s) checked: 1 valid, 1 error(s)"),
        "{stdout}"
    );

    // Every example suite of the repository is valid (warnings allowed).
    let (code, stdout, stderr) = run(&["validate", examples().to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("0 error(s)"), "{stdout}");
}

#[test]
fn list_names_suites_scenarios_and_steps_from_the_files() {
    let dir = scratch_dir("list", &[("tiny.clnrm.toml", GOOD)]);
    let (code, stdout, stderr) = run(&["list", dir.to_str().expect("utf-8")]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("suite tiny ("), "{stdout}");
    assert!(
        stdout.contains("  scenario says hello (1 step(s))"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "    step echo: run [\"echo\", \"hello\"] in a fresh debian:bookworm container"
        ),
        "{stdout}"
    );

    let (code, stdout, stderr) = run(&["list", examples().to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for name in ["suite signup", "suite fresh-image", "suite legacy_basic"] {
        assert!(stdout.contains(name), "no `{name}` in\n{stdout}");
    }
    assert!(stdout.contains("step argv is not re-split"), "{stdout}");
}

#[test]
fn list_of_a_broken_suite_exits_2_with_its_diagnostics() {
    let dir = scratch_dir("list-bad", &[("bad.clnrm.toml", BAD)]);
    let (code, stdout, stderr) = run(&["list", dir.to_str().expect("utf-8")]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(2), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("bad.clnrm.toml:6:1: error: unknown key"),
        "{stderr}"
    );
}

#[test]
fn init_writes_a_suite_that_validates_and_runs_and_never_overwrites_without_force() {
    let dir = scratch_dir("init", &[]);
    let dir_arg = dir.to_str().expect("utf-8 temp dir");
    let suite = dir.join("smoke.clnrm.toml");

    let out = run_bin(CLNRM, &["init", dir_arg], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(&suite).expect("init wrote the suite");

    let out = run_bin(CLNRM, &["validate", dir_arg], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Real Docker: the starter suite passes as written.
    let out = run_bin(CLNRM, &["run", dir_arg], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("PASS smoke/smoke"), "{stdout}");

    std::fs::write(&suite, "# edited by the user\n").expect("edit");
    let out = run_bin(CLNRM, &["init", dir_arg], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("exists already; pass --force"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&suite).unwrap(),
        "# edited by the user\n"
    );

    let out = run_bin(CLNRM, &["init", dir_arg, "--force"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&suite).unwrap(), written);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn validate_and_list_finish_on_a_link_loop_and_a_fifo_and_count_each_suite_once() {
    use crate::support::{ScratchDir, Spawned};
    let dir = ScratchDir::new("discovery-loop");
    let suite = std::fs::read_to_string(examples().join("legacy.clnrm.toml")).expect("example");
    dir.write("sub/ok.clnrm.toml", &suite);
    std::os::unix::fs::symlink("..", dir.0.join("sub/up")).expect("symlink");
    let made = std::process::Command::new("mkfifo")
        .arg(dir.0.join("blocked.clnrm.toml"))
        .status()
        .expect("mkfifo");
    assert!(made.success());
    for command in ["validate", "list"] {
        let mut child = Spawned::start(CLNRM, &[command, dir.arg()], &[]);
        // Before the fix, this walked the loop forever (or blocked on the FIFO).
        let code = child.wait_exit(std::time::Duration::from_secs(20));
        let said = child.transcript();
        assert_eq!(code, Some(0), "{command}:\n{said}");
        assert!(said.contains("not a regular file"), "{command}:\n{said}");
        assert!(said.contains("searched already"), "{command}:\n{said}");
        if command == "validate" {
            assert!(
                said.contains("1 suite(s) checked"),
                "the suite once:\n{said}"
            );
        }
    }
}
