//! The live progress display of `clnrm run` and `clnrm watch`, on real Docker.

use std::time::Duration;

use crate::support::{ScratchDir, Spawned, containers_owned_by, run_bin};

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");

/// Long enough for a round that starts a fresh container on a busy machine.
const ROUND: Duration = Duration::from_secs(120);

/// A suite named `name` with one scenario `name` whose `echo hello` must print `expect`.
fn suite(name: &str, expect: &str) -> String {
    format!(
        r#"version = 1
[suite]
name = "{name}"
[[scenarios]]
name = "{name}"
[[scenarios.steps]]
name = "echo"
run = ["echo", "hello"]
image = "debian:bookworm"
expect.stdout.contains = "{expect}"
"#
    )
}

/// A suite whose one step runs for a minute.
const SLOW: &str = r#"version = 1
[suite]
name = "slow"
[[steps]]
name = "sleep"
run = ["sleep", "60"]
image = "debian:bookworm"
"#;

/// An unknown key on line 6, column 1.
const BAD: &str = r#"version = 1
[[steps]]
name = "a"
run = ["true"]
image = "debian:bookworm"
servce = "db"
"#;

/// Two scenarios, the second after a pause, so the status area is redrawn while it runs.
const TWO_SCENARIOS: &str = r#"version = 1
[suite]
name = "live"
[[scenarios]]
name = "first"
[[scenarios.steps]]
name = "echo"
run = ["echo", "hello"]
image = "debian:bookworm"
expect.stdout.contains = "hello"
[[scenarios]]
name = "second"
[[scenarios.steps]]
name = "pause"
run = ["sleep", "1"]
image = "debian:bookworm"
"#;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn progress_always_redraws_a_status_area_on_stderr_and_keeps_stdout_plain() {
    let dir = ScratchDir::new("progress-always");
    dir.write("live.clnrm.toml", TWO_SCENARIOS);
    let history = dir.0.join("history.db");
    let out = run_bin(
        CLNRM,
        &["run", dir.arg(), "--progress", "always"],
        &[("CLNRM_HISTORY", history.to_str().expect("utf-8"))],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr:?}"
    );

    // Results: the same lines as without a terminal, no escape codes.
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("PASS live/first ("), "{stdout}");
    assert!(lines[1].starts_with("PASS live/second ("), "{stdout}");
    assert!(lines[2].starts_with("2 passed, 0 failed ("), "{stdout}");
    assert!(!stdout.contains('\x1b'), "{stdout:?}");

    // The status area: drawn, then redrawn in place (cursor up over it, lines erased), showing
    // the suite's phases and the counts, and cleared at the end.
    for shown in [
        "\x1b[2K  live: starting services (",
        "\x1b[2K  live: running second (",
        "\x1b[2K  1 passed, 0 failed, 1 remaining; suites: 1 running, 0 waiting (",
    ] {
        assert!(stderr.contains(shown), "no {shown:?} in {stderr:?}");
    }
    let redraws = stderr.matches("\r\x1b[2A\x1b[?7l\x1b[2K").count();
    assert!(redraws >= 2, "{redraws} redraws in {stderr:?}");
    // (The last area is the counts alone: the suite has finished.)
    assert!(
        stderr.ends_with("\r\x1b[1A\x1b[?7l\x1b[J\x1b[?7h"),
        "the area is not cleared at the end: {stderr:?}"
    );
}

#[test]
fn into_a_pipe_run_prints_plain_lines_without_escape_codes() {
    let dir = ScratchDir::new("progress-pipe");
    dir.write("live.clnrm.toml", TWO_SCENARIOS);
    let history = dir.0.join("history.db");
    // `--progress auto` (the default): stdout and stderr are pipes here.
    let out = run_bin(
        CLNRM,
        &["run", dir.arg()],
        &[("CLNRM_HISTORY", history.to_str().expect("utf-8"))],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("PASS live/first ("), "{stdout}");
    assert!(stdout.contains("2 passed, 0 failed ("), "{stdout}");
    assert!(
        !stdout.contains('\x1b') && !stderr.contains('\x1b'),
        "stdout: {stdout:?}\nstderr: {stderr:?}"
    );
}

/// The lines of one round of `watch` from `mark`: waits for a line containing `until` (stdout
/// and stderr come through two pipes, so their order is not kept), then for the watcher to wait
/// again, then for a quiet second (a round that starts another would show here).
fn round(watch: &mut Spawned, mark: usize, until: &str) -> String {
    watch.wait_for(mark, until, ROUND);
    watch.wait_for(mark, "watch: waiting for changes", ROUND);
    watch.settle(Duration::from_secs(1));
    watch.since(mark).join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_reruns_only_the_suites_a_change_affects_with_their_new_verdicts() {
    let dir = ScratchDir::new("watch-affected");
    let a = dir.write("a/a.clnrm.toml", &suite("a", "hello"));
    let b = dir.write("b/b.clnrm.toml", &suite("b", "hello"));
    let fixture = dir.write("a/fixtures/users.json", "[]");
    // The history lives beside suite `a`: its writes must not start rounds.
    let history = dir.0.join("a/history.db");
    let mut watch = Spawned::start(
        CLNRM,
        &["watch", dir.arg()],
        &[("CLNRM_HISTORY", history.to_str().expect("utf-8"))],
    );

    // First round: everything.
    let lines = round(&mut watch, 0, "2 passed, 0 failed (");
    assert!(
        lines.contains("PASS a/a (") && lines.contains("PASS b/b ("),
        "{lines}"
    );
    assert!(
        lines.contains("waiting for changes to 2 suite(s)"),
        "{lines}"
    );

    // The suite file changes so that it fails: only it re-runs, with the new verdict.
    let mark = watch.mark();
    std::fs::write(&a, suite("a", "goodbye")).expect("edit a");
    let lines = round(&mut watch, mark, "0 passed, 1 failed (");
    assert!(lines.contains("a.clnrm.toml changed"), "{lines}");
    assert!(lines.contains("FAIL a/a ("), "{lines}");
    assert!(!lines.contains("b/b"), "b re-ran:\n{lines}");
    assert_eq!(
        lines.matches("passed").count(),
        1,
        "one round only:\n{lines}"
    );

    // Touching the other suite re-runs only that one.
    let mark = watch.mark();
    std::fs::write(&b, suite("b", "hello")).expect("touch b");
    let lines = round(&mut watch, mark, "1 passed, 0 failed (");
    assert!(lines.contains("PASS b/b ("), "{lines}");
    assert!(!lines.contains("a/a"), "a re-ran:\n{lines}");
    assert_eq!(
        lines.matches("passed").count(),
        1,
        "one round only:\n{lines}"
    );

    // Another file of a suite's directory re-runs the suites of that directory.
    let mark = watch.mark();
    std::fs::write(&fixture, "[{}]").expect("edit the fixture");
    let lines = round(&mut watch, mark, "0 passed, 1 failed (");
    assert!(
        lines.contains("users.json changed: re-running") && lines.contains("FAIL a/a ("),
        "{lines}"
    );
    assert!(!lines.contains("b/b"), "b re-ran:\n{lines}");

    // A new suite runs; a deleted one is dropped.
    let mark = watch.mark();
    dir.write("c/c.clnrm.toml", &suite("c", "hello"));
    let lines = round(&mut watch, mark, "1 passed, 0 failed (");
    assert!(
        lines.contains("watch: new suite") && lines.contains("PASS c/c ("),
        "{lines}"
    );
    assert!(!lines.contains("a/a") && !lines.contains("b/b"), "{lines}");
    assert!(
        lines.contains("waiting for changes to 3 suite(s)"),
        "{lines}"
    );
    let mark = watch.mark();
    std::fs::remove_file(&b).expect("delete b");
    let lines = round(&mut watch, mark, "b.clnrm.toml removed");
    assert!(
        lines.contains("waiting for changes to 2 suite(s)"),
        "{lines}"
    );
    assert!(!lines.contains("passed"), "something ran:\n{lines}");

    // SIGTERM while idle: a clean exit, nothing left behind.
    let pid = watch.id();
    watch.signal("TERM");
    assert_eq!(
        watch.wait_exit(Duration::from_secs(30)),
        Some(143),
        "{}",
        watch.transcript()
    );
    assert_eq!(containers_owned_by(pid).await, Vec::<String>::new());
    assert!(history.is_file(), "no history written");
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_waits_out_an_invalid_suite_and_sigterm_mid_round_removes_its_containers() {
    let dir = ScratchDir::new("watch-invalid");
    dir.write("q.clnrm.toml", &suite("q", "hello"));
    let history = dir.0.join("history.db");
    let mut watch = Spawned::start(
        CLNRM,
        &["watch", dir.arg(), "--jobs", "1"],
        &[("CLNRM_HISTORY", history.to_str().expect("utf-8"))],
    );
    round(&mut watch, 0, "1 passed, 0 failed (");

    // An invalid suite: its diagnostic, then the watcher waits on.
    let mark = watch.mark();
    let bad = dir.write("c.clnrm.toml", BAD);
    watch.wait_for(
        mark,
        "c.clnrm.toml:6:1: error: unknown key `servce` in step \"a\", did you mean `service`?",
        ROUND,
    );
    let lines = round(
        &mut watch,
        mark,
        "c.clnrm.toml has errors; not run until it changes",
    );
    assert!(
        lines.contains("waiting for changes to 2 suite(s)"),
        "{lines}"
    );
    assert!(watch.is_running(), "it exited:\n{}", watch.transcript());

    // The fix runs (a minute-long step); SIGTERM in the middle removes its containers.
    let mark = watch.mark();
    std::fs::write(&bad, SLOW).expect("fix c");
    watch.wait_for(mark, "c.clnrm.toml changed", ROUND);
    let pid = watch.id();
    let deadline = std::time::Instant::now() + ROUND;
    while containers_owned_by(pid).await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no container started:\n{}",
            watch.transcript()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    watch.signal("TERM");
    assert_eq!(
        watch.wait_exit(Duration::from_secs(60)),
        Some(143),
        "{}",
        watch.transcript()
    );
    assert_eq!(containers_owned_by(pid).await, Vec::<String>::new());
}

/// A suite whose Postgres schema comes from `../migrations`, outside the watched directory.
const MIGRATED: &str = r#"version = 1
[suite]
name = "migrated"
[services.db]
plugin = "postgres"
image = "postgres:16"
isolation = "database"
migrations = "../migrations"
[[scenarios]]
name = "schema"
[[scenarios.steps]]
name = "widgets exist"
run = ["psql", "-qtAc", "select count(*) from widgets"]
service = "db"
expect.stdout.regex = ['^0$']
"#;

#[test]
fn watch_reruns_a_suite_when_its_migrations_change_outside_the_watched_directory() {
    let dir = ScratchDir::new("watch-migrations");
    dir.write("suites/migrated.clnrm.toml", MIGRATED);
    let migration = dir.write(
        "migrations/001_widgets.sql",
        "create table widgets (id int);\n",
    );
    let history = dir.0.join("history.db");
    let suites = dir.0.join("suites");
    let mut watch = Spawned::start(
        CLNRM,
        &["watch", suites.to_str().expect("utf-8")],
        &[("CLNRM_HISTORY", history.to_str().expect("utf-8"))],
    );
    let lines = round(&mut watch, 0, "1 passed, 0 failed (");
    assert!(lines.contains("PASS migrated/schema ("), "{lines}");

    // The migration no longer creates `widgets`: the suite re-runs on its own and fails.
    let mark = watch.mark();
    std::fs::write(&migration, "create table gadgets (id int);\n").expect("edit the migration");
    let lines = round(&mut watch, mark, "0 passed, 1 failed (");
    assert!(
        lines.contains("001_widgets.sql changed: re-running")
            && lines.contains("FAIL migrated/schema ("),
        "{lines}"
    );

    watch.signal("TERM");
    assert_eq!(
        watch.wait_exit(Duration::from_secs(30)),
        Some(143),
        "{}",
        watch.transcript()
    );
}

/// How many rounds `watch` finished, by their summary lines (`N passed, M failed (…)`).
fn rounds_in(log: &std::path::Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(" passed, ") && l.contains(" failed"))
        .count()
}

fn wait_for_rounds(log: &std::path::Path, n: usize) {
    let deadline = std::time::Instant::now() + ROUND;
    while rounds_in(log) < n {
        assert!(
            std::time::Instant::now() < deadline,
            "no round {n} within {ROUND:?}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn watch_writing_its_output_and_history_into_the_watched_directory_runs_one_round_per_user_change()
{
    let dir = ScratchDir::new("watch-own-writes");
    dir.write("a.clnrm.toml", &suite("a", "hello"));
    dir.write(".gitignore", "ignored/\n*.log.old\n");
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&dir.0)
        .status()
        .expect("git runs");
    assert!(git.success());
    // Output into the watched directory, history in its default place (./target/clnrm).
    let log = dir.0.join("watch.log");
    let out = std::fs::File::create(&log).expect("log file");
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../clnrm.toml");
    let mut child = std::process::Command::new(CLNRM)
        .args(["watch", "."])
        .current_dir(&dir.0)
        .env("CLNRM_CONFIG", config)
        .env_remove("CLNRM_HISTORY")
        // The default place is `$CARGO_TARGET_DIR/clnrm` when that is set.
        .env_remove("CARGO_TARGET_DIR")
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().expect("dup"))
        .stderr(out)
        .spawn()
        .expect("clnrm watch starts");
    let result = std::panic::catch_unwind(|| {
        wait_for_rounds(&log, 1);
        assert!(
            dir.0.join("target/clnrm/history.db").exists(),
            "the history went under the watched directory"
        );
        // Its own output and history, written all the time, start nothing.
        std::thread::sleep(Duration::from_secs(4));
        assert_eq!(rounds_in(&log), 1, "rounds without a change");
        // Nor do ignored paths and target/.
        dir.write("ignored/notes.txt", "x");
        dir.write("target/debug/out.txt", "x");
        dir.write("x.log.old", "x");
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(rounds_in(&log), 1, "rounds after ignored changes");
        // One change by the user: exactly one more round.
        dir.write(
            "a.clnrm.toml",
            &format!("# edited\n{}", suite("a", "hello")),
        );
        wait_for_rounds(&log, 2);
        std::thread::sleep(Duration::from_secs(4));
        assert_eq!(rounds_in(&log), 2, "rounds after one change");
    });
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    if let Err(panic) = result {
        eprintln!("{}", std::fs::read_to_string(&log).unwrap_or_default());
        std::panic::resume_unwind(panic);
    }
    assert_eq!(status.code(), Some(143));
}
