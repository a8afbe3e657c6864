//! Declarative plugins' `[isolation]` hooks on Docker: `marketplace/plugins/mariadb` (a database
//! per test) published into a folder index made by the test (keys generated per test: the
//! official index's secret keys are not in the repository) and installed with the CLI; then two
//! concurrent `#[clnrm::test]`s, and a suite's isolated scenarios, create the same table and never
//! see each other's rows, and every namespace is dropped afterwards. Project-local plugins check
//! that a failing `create` is an infrastructure error naming the command and its output, and a
//! failing `drop` a reported cleanup problem.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clnrm::docker::labels;

use crate::marketplace::Market;
use crate::support::{Spawned, containers_with_label};

const FIXTURE: &str = env!("CARGO_BIN_EXE_hooks-fixture");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A scratch project (the repository's image redirects) where official plugin `name` 1.1.0,
/// with its `[isolation]` hooks, is published into a fresh folder index and installed from it.
fn market_with_hooked(test: &str, name: &str) -> Market {
    let m = Market::new(test);
    std::fs::copy(repo().join("clnrm.toml"), m.path("clnrm.toml")).unwrap();
    let plugin = repo().join("marketplace/plugins").join(name);
    m.ok(&[
        "marketplace",
        "publish",
        plugin.to_str().unwrap(),
        "--index",
        "idx",
        "--key",
        "pub.key",
        "--index-key",
        "root.key",
    ]);
    let out = m.ok(&[
        "marketplace",
        "install",
        name,
        "--index",
        "idx",
        "--root-key",
        "root.pub",
    ]);
    assert!(out.contains(&format!("{name} 1.1.0")), "{out}");
    m
}

/// `SHOW DATABASES` in a running mariadb container, as root.
fn databases(container: &str) -> String {
    let out = std::process::Command::new("docker")
        .args([
            "exec",
            container,
            "sh",
            "-c",
            "mariadb -uroot -p\"$MARIADB_ROOT_PASSWORD\" -N -e 'SHOW DATABASES'",
        ])
        .output()
        .expect("docker exec");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_concurrent_tests_get_their_own_database_and_it_is_dropped_after() {
    let m = market_with_hooked("hooks-harness", "mariadb");
    let meet = m.path("meet");
    std::fs::create_dir_all(&meet).unwrap();
    // A stand-in for nextest: two test processes of one run, at once, sharing one mariadb
    // container (as nextest runs them); the container outlives them until this shell ends, so
    // the namespaces can be looked for from outside afterwards.
    let run_id = format!("{:012x}", u64::from(std::process::id()) * 7907 + 29);
    let script = format!(
        "cd '{}' || exit 9; \
         '{FIXTURE}' --exact first_sees_only_its_rows & a=$!; \
         '{FIXTURE}' --exact second_sees_only_its_rows & b=$!; \
         wait $a; echo first=$?; wait $b; echo second=$?; sleep 600",
        m.dir.display()
    );
    let home = m.path("home");
    let history = m.path("history.db");
    let mut nextest = Spawned::start(
        "sh",
        &["-c", &script],
        &[
            ("NEXTEST_RUN_ID", run_id.as_str()),
            ("NEXTEST", "1"),
            ("CLNRM_HOME", home.to_str().unwrap()),
            ("CLNRM_HISTORY", history.to_str().unwrap()),
            ("CLNRM_HOOKS_MEET", meet.to_str().unwrap()),
        ],
    );
    nextest.wait_for(0, "second=", Duration::from_secs(300));
    let said = nextest.transcript();
    assert!(
        said.contains("first=0") && said.contains("second=0"),
        "{said}"
    );
    assert!(
        said.contains("first_sees_only_its_rows ... ok")
            && said.contains("second_sees_only_its_rows ... ok"),
        "{said}"
    );
    let first = std::fs::read_to_string(meet.join("first.ns")).unwrap();
    let second = std::fs::read_to_string(meet.join("second.ns")).unwrap();
    assert_ne!(first, second);
    let run = format!("nx-{run_id}");
    let containers = containers_with_label(labels::RUN, &run).await;
    assert_eq!(containers.len(), 1, "one shared mariadb: {containers:?}");
    let listed = databases(&containers[0]);
    assert!(
        listed.contains("clnrm") && !listed.contains(&first) && !listed.contains(&second),
        "both namespaces dropped: {listed}"
    );
    // The run ends with its "nextest": the reaper removes the container.
    drop(nextest);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !containers_with_label(labels::RUN, &run).await.is_empty() {
        assert!(Instant::now() < deadline, "{run} left behind");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = std::fs::remove_dir_all(&m.dir);
}

#[test]
fn isolated_suite_scenarios_get_their_own_database() {
    let m = market_with_hooked("hooks-suite", "mariadb");
    let step = |who: &str| {
        format!(
            r#"[[scenarios.steps]]
name = "own table"
run = ["sh", "-c", "mariadb -h 127.0.0.1 -u \"$MARIADB_USER\" -p\"$MARIADB_PASSWORD\" \"$CLNRM_DB_NAMESPACE\" -N -e \"CREATE TABLE items (who VARCHAR(20)); INSERT INTO items VALUES ('{who}'); SELECT who FROM items\"; echo \"url=$CLNRM_DB_URL\""]
service = "db"
expect.stdout.regex = "^{who}\nurl=mysql://clnrm:[^@]+@db:3306/clnrm_[a-z0-9_]+\n$"
"#
        )
    };
    std::fs::write(
        m.path("items.clnrm.toml"),
        format!(
            r#"version = 1
[suite]
name = "hooked"
[services.db]
plugin = "mariadb"
isolation = "namespace"
[[scenarios]]
name = "one"
{}
[[scenarios]]
name = "two"
{}"#,
            step("one"),
            step("two")
        ),
    )
    .unwrap();
    let (code, out, err) = m.run(&["run", "items.clnrm.toml"]);
    assert!(
        code == Some(0) && out.contains("PASS hooked/one") && out.contains("PASS hooked/two"),
        "{out}{err}"
    );
    let _ = std::fs::remove_dir_all(&m.dir);
}

#[test]
fn isolated_rabbitmq_scenarios_get_their_own_vhost() {
    let m = market_with_hooked("hooks-rabbitmq", "rabbitmq");
    let scenario = |name: &str| {
        format!(
            r#"[[scenarios]]
name = "{name}"
[[scenarios.steps]]
name = "own vhost"
run = ["sh", "-c", "rabbitmqctl -q list_permissions -p \"$CLNRM_MQ_NAMESPACE\"; echo \"url=$CLNRM_MQ_URL\""]
service = "mq"
expect.stdout.regex = ["guest\t\\.\\*\t\\.\\*\t\\.\\*", "url=amqp://guest:guest@mq:5672/clnrm_[a-z0-9_]+\n$"]
"#
        )
    };
    std::fs::write(
        m.path("mq.clnrm.toml"),
        format!(
            "version = 1\n[suite]\nname = \"mq\"\n[services.mq]\nplugin = \"rabbitmq\"\nisolation = \"namespace\"\n{}{}",
            scenario("one"),
            scenario("two")
        ),
    )
    .unwrap();
    let (code, out, err) = m.run(&["run", "mq.clnrm.toml"]);
    assert!(
        code == Some(0) && out.contains("PASS mq/one") && out.contains("PASS mq/two"),
        "{out}{err}"
    );
    let _ = std::fs::remove_dir_all(&m.dir);
}

/// A project with local plugins on the toolbox image whose hooks fail on purpose.
fn project_with_hook_plugins(test: &str) -> crate::support::ScratchDir {
    let dir = crate::support::ScratchDir::new(test);
    let config = std::fs::read_to_string(repo().join("clnrm.toml")).unwrap();
    dir.write(
        "clnrm.toml",
        &format!("{config}\n[plugins]\ndir = \"plugins\"\n"),
    );
    let plugin = |name: &str, create: &str, drop: &str| {
        format!(
            r#"schema = 1
[plugin]
name = "{name}"
version = "0.1.0"
description = "a container whose isolation hooks are tested"
clnrm = ">=0.1"
[service]
image = "debian:bookworm"
cmd = ["sleep", "infinity"]
env = {{ NS_DIR = "/tmp/{{namespace}}" }}
[isolation]
create = {create}
drop = {drop}
"#
        )
    };
    dir.write(
        "plugins/broken/plugin.toml",
        &plugin(
            "broken",
            r#"["sh", "-c", "echo cannot make \"$0\" >&2; exit 3", "{namespace}"]"#,
            r#"["rmdir", "/tmp/{namespace}"]"#,
        ),
    );
    dir.write(
        "plugins/plain/plugin.toml",
        r#"schema = 1
[plugin]
name = "plain"
version = "0.1.0"
description = "a container without isolation hooks"
clnrm = ">=0.1"
[service]
image = "debian:bookworm"
cmd = ["sleep", "infinity"]
"#,
    );
    dir.write(
        "plugins/leaky/plugin.toml",
        &plugin(
            "leaky",
            r#"["mkdir", "/tmp/{namespace}"]"#,
            r#"["sh", "-c", "echo cannot drop \"$0\" >&2; exit 4", "{namespace}"]"#,
        ),
    );
    dir
}

fn clnrm_run(dir: &Path, suite: &str) -> (Option<i32>, String) {
    let out = crate::support::own_run(env!("CARGO_BIN_EXE_clnrm-under-test"))
        .args(["run", suite])
        .current_dir(dir)
        .env("CLNRM_HOME", dir.join("home"))
        .env_remove("CLNRM_LOG")
        .output()
        .unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn a_failing_create_hook_is_an_infrastructure_error_with_its_output() {
    let dir = project_with_hook_plugins("hooks-broken");
    dir.write(
        "broken.clnrm.toml",
        r#"version = 1
[suite]
name = "broken"
[services.box]
plugin = "broken"
isolation = "namespace"
[[scenarios]]
name = "never runs"
[[scenarios.steps]]
name = "true"
run = ["true"]
service = "box"
"#,
    );
    let (code, said) = clnrm_run(&dir.0, "broken.clnrm.toml");
    assert_eq!(code, Some(3), "{said}");
    assert!(
        said.contains("the [isolation] create hook of plugin `broken` (`sh -c echo cannot make")
            && said.contains("exited with code 3: cannot make clnrm_"),
        "{said}"
    );
}

#[test]
fn a_failing_drop_hook_is_reported_as_a_cleanup_problem() {
    let dir = project_with_hook_plugins("hooks-leaky");
    dir.write(
        "leaky.clnrm.toml",
        r#"version = 1
[suite]
name = "leaky"
[services.box]
plugin = "leaky"
isolation = "namespace"
[[scenarios]]
name = "namespace in env"
[[scenarios.steps]]
name = "the create hook made it"
run = ["sh", "-c", "test -d \"$NS_DIR\" && test \"$NS_DIR\" = \"/tmp/$CLNRM_BOX_NAMESPACE\" && echo made"]
service = "box"
expect.stdout.contains = "made"
"#,
    );
    let (code, said) = clnrm_run(&dir.0, "leaky.clnrm.toml");
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains("cleanup problem: service `box`: the [isolation] drop hook of plugin `leaky` for namespace `clnrm_")
            && said.contains("exited with code 4: cannot drop clnrm_"),
        "{said}"
    );
}

#[test]
fn namespace_isolation_on_a_plugin_without_hooks_is_an_error_not_ignored() {
    let dir = project_with_hook_plugins("hooks-plain");
    dir.write(
        "plain.clnrm.toml",
        r#"version = 1
[suite]
name = "plain"
[services.box]
plugin = "plain"
isolation = "namespace"
[[scenarios]]
name = "never runs"
[[scenarios.steps]]
name = "true"
run = ["true"]
service = "box"
"#,
    );
    let (code, said) = clnrm_run(&dir.0, "plain.clnrm.toml");
    assert_eq!(code, Some(3), "{said}");
    assert!(
        said.contains(
            "service `box`: `isolation = \"namespace\"` needs a plugin with [isolation] hooks; `plain` has none"
        ),
        "{said}"
    );
}
