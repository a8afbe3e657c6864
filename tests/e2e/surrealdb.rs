//! The `surrealdb` plugin against the real SurrealDB server (clnrm.toml redirects
//! `surrealdb/surrealdb` to the image scripts/build-surrealdb-image.sh compiles from crates.io's
//! `surrealdb-server`), from both front doors: `#[clnrm::test]`s (tests/src/bin/surrealdb-fixture.rs)
//! and suites with `surql` steps.

use clnrm::docker::labels;
use clnrm::{Registry, ServiceSpec};

use crate::support::{containers_with_label, own_run, run_bin, run_env, scratch};

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");
const FIXTURE: &str = env!("CARGO_BIN_EXE_surrealdb-fixture");

/// `test NAME ... RESULT` of libtest's output.
fn result_of<'a>(stdout: &'a str, name: &str) -> Option<&'a str> {
    stdout
        .lines()
        .find(|l| {
            l.strip_prefix("test ")
                .is_some_and(|r| r.starts_with(&format!("{name} ")))
        })
        .and_then(|l| l.rsplit("... ").next())
        .map(str::trim)
}

#[test]
fn concurrent_tests_write_the_same_record_id_apart_and_a_refused_statement_fails_with_its_message()
{
    let dir = scratch("surrealdb", "fixture");
    let out = own_run(FIXTURE)
        .args(["--test-threads", "3", "--nocapture"])
        .env("CLNRM_HISTORY", dir.join("history.db"))
        .output()
        .expect("the surrealdb fixture runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let both = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(101), "{both}");
    assert_eq!(result_of(&stdout, "writer_a"), Some("ok"), "{both}");
    assert_eq!(result_of(&stdout, "writer_b"), Some("ok"), "{both}");
    for who in ["a", "b"] {
        assert!(
            both.contains(&format!(
                "{who} wrote item:shared and read back only its own"
            )),
            "{both}"
        );
    }
    assert_eq!(
        result_of(&stdout, "refused_statement_fails_the_test"),
        Some("FAILED"),
        "{both}"
    );
    // A test failure (not an infrastructure error) that names the statement and carries the
    // server's own message.
    assert!(
        both.contains(
            "SurrealQL statement 2 of 2 failed: An error occurred: the fixture refuses this"
        ),
        "{both}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_is_usable_when_ready_with_generated_credentials_and_limits() {
    let env = run_env().await;
    let spec = ServiceSpec::new("db", "surrealdb")
        .memory(512 * 1024 * 1024)
        .cpus(1.0);
    let services = Registry::builtin().start_all(&env, &[spec]).await.unwrap();
    let db = services.get("db").unwrap();
    // clnrm.toml redirects the official image to the local build.
    assert_eq!(db.image(), "clnrm-local/surrealdb:3.3.5");
    let url = db.url().unwrap().to_owned();
    let credentials = db.credentials().unwrap();
    assert_eq!(credentials.user, "root");
    assert_eq!(credentials.password.len(), 24);
    assert!(
        url.starts_with(&format!("http://root:{}@", credentials.password)),
        "{url}"
    );
    assert!(!db.redacted_url().unwrap().contains(&credentials.password));
    // Ready means usable: the root user runs queries at once (SurrealDB 3 wants a namespace and
    // a database defined before records go in).
    let results = clnrm::plugins::surql(
        &format!("{url}?ns=app&db=app"),
        "DEFINE NAMESPACE app; DEFINE DATABASE app; RETURN 1 + 1; \
         CREATE thing:one SET n = 7; SELECT VALUE n FROM thing:one;",
    )
    .await
    .unwrap();
    assert_eq!(results[2], serde_json::json!(2));
    assert_eq!(results[4], serde_json::json!([7]));
    // Wrong credentials: the whole request is refused, with the server's words.
    let wrong = url.replace(&credentials.password, "not-the-password");
    let err = clnrm::plugins::surql(&wrong, "RETURN 1").await.unwrap_err();
    assert!(err.to_string().contains("HTTP 401"), "{err}");
    // The limits reached Docker.
    let inspect = db
        .docker()
        .inspect_container(db.container_id(), None)
        .await
        .unwrap();
    let host = inspect.host_config.unwrap();
    assert_eq!(host.memory, Some(512 * 1024 * 1024));
    assert_eq!(host.nano_cpus, Some(1_000_000_000));
    assert_eq!(
        services.health("db").await.unwrap(),
        clnrm::HealthStatus::Healthy
    );
    db.stop().await.unwrap();
    assert!(matches!(
        services.health("db").await.unwrap(),
        clnrm::HealthStatus::Unhealthy(_)
    ));
    services.stop_all().await.unwrap();
    env.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_never_serves_fails_with_its_log_tail_and_is_removed() {
    let env = run_env().await;
    // An address `start` cannot parse: the server exits at once, saying why.
    let spec = ServiceSpec::new("db", "surrealdb")
        .cmd(["start", "--bind", "not-an-address", "memory"])
        .startup_timeout(std::time::Duration::from_secs(20));
    let err = Registry::builtin()
        .start_all(&env, &[spec])
        .await
        .expect_err("the server cannot bind that");
    let text = format!("{err:?}");
    assert!(text.contains("last log lines"), "{text}");
    assert!(text.contains("not-an-address"), "{text}");
    assert!(
        containers_with_label(labels::RUN, env.id())
            .await
            .is_empty(),
        "the container of a failed start is removed"
    );
    env.stop().await.unwrap();
}

#[test]
fn suites_run_surql_steps_in_the_scenarios_own_namespace_and_fail_on_a_refused_statement() {
    let dir = scratch("surrealdb", "suite");
    let suite = dir.join("surreal.clnrm.toml");
    std::fs::write(
        &suite,
        r#"version = 1
[suite]
name = "surreal"

[services.db]
plugin = "surrealdb"
isolation = "database"

[services.tools]
plugin = "generic"
image = "debian:bookworm"
cmd = ["sleep", "infinity"]

[[scenarios]]
name = "writes and reads"
[[scenarios.steps]]
name = "create"
service = "db"
surql = "CREATE person:ada SET name = 'Ada'; SELECT VALUE name FROM person;"
expect.json = { "/1/0" = "Ada" }
[[scenarios.steps]]
name = "namespace for commands"
service = "tools"
shell = "echo ns=$CLNRM_DB_NS db=$CLNRM_DB_DB url=$CLNRM_DB_URL"
expect.stdout.regex = ['ns=clnrm_[a-z0-9]+ db=test url=http://root:[^@]+@db:8000\?ns=clnrm_']

[[scenarios]]
name = "starts empty"
[[scenarios.steps]]
# The same record id as the other scenario: CREATE fails if the record exists, so this passes
# only in a namespace of its own.
name = "same id, own record"
service = "db"
surql = "CREATE person:ada SET name = 'Grace'; SELECT VALUE name FROM person;"
expect.json = { "/1" = ["Grace"] }

[[scenarios]]
name = "refused"
[[scenarios.steps]]
name = "throws"
service = "db"
surql = "RETURN 1; THROW 'not today';"
"#,
    )
    .unwrap();
    let out = run_bin(CLNRM, &["run", suite.to_str().unwrap()], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let said = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("PASS surreal/writes and reads ("), "{said}");
    assert!(said.contains("PASS surreal/starts empty ("), "{said}");
    assert!(said.contains("FAIL surreal/refused ("), "{said}");
    assert!(
        said.contains("SurrealQL statement 2 of 2 failed: An error occurred: not today"),
        "{said}"
    );

    let bad = dir.join("bad.clnrm.toml");
    std::fs::write(
        &bad,
        "version = 1\n[suite]\nname = \"bad\"\n\n[services.cache]\nplugin = \"redis\"\n\n[[scenarios]]\nname = \"s\"\n[[scenarios.steps]]\nname = \"q\"\nservice = \"cache\"\nsurql = \"RETURN 1\"\n",
    )
    .unwrap();
    let out = run_bin(CLNRM, &["validate", bad.to_str().unwrap()], &[]);
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("bad.clnrm.toml:12:11: error: step \"q\" sends SurrealQL to service \"cache\", which uses plugin \"redis\""),
        "{said}"
    );
}

#[test]
fn clnrm_plugins_lists_surrealdb_with_its_image_and_what_ready_means() {
    let out = run_bin(CLNRM, &["plugins"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some("surrealdb"))
        .unwrap_or_else(|| panic!("no line for surrealdb in:\n{stdout}"));
    assert!(line.contains("surrealdb/surrealdb:v3.3.5"), "{line}");
    assert!(line.contains(env!("CARGO_PKG_VERSION")), "{line}");
    assert!(
        stdout.contains("ready when /health answers 200 and a root query succeeds"),
        "{stdout}"
    );
}
