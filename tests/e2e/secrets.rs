//! Secrets never leak: a failing step that prints the generated Postgres password, a token from
//! its `env` and a service URL with its password; every output of the run (terminal, debug logs,
//! JSON, JUnit, the history database) is searched for them.

use std::path::Path;

use crate::support::{ScratchDir, run_bin};

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");

const TOKEN: &str = "tok-4f9a2c7e1b8d";

const LEAKY: &str = r#"
version = 1

[suite]
name = "leaky"

[services.db]
plugin = "postgres"

[[steps]]
name = "print the environment"
service = "db"
run = ["sh", "-c", "env | grep -e PASSWORD -e TOKEN; echo \"pw=<$POSTGRES_PASSWORD> tok=<$API_TOKEN> url=<$CLNRM_DB_URL>\"; echo \"pw=<$POSTGRES_PASSWORD> tok=<$API_TOKEN>\" >&2"]
env = { API_TOKEN = "tok-4f9a2c7e1b8d" }
expect.stdout.contains = "a line that never comes"
"#;

/// Every generated password (24 alphanumeric characters) in the markers the step prints (the
/// debug logs also show the command itself, with `$POSTGRES_PASSWORD` unexpanded).
fn leaked_passwords(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for marker in ["pw=<", "pw=&lt;", "POSTGRES_PASSWORD="] {
        for (i, _) in text.match_indices(marker) {
            let value: String = text[i + marker.len()..]
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            if value.len() >= 16 {
                found.push(format!("{marker}{value}"));
            }
        }
    }
    found
}

fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

#[test]
fn a_failing_step_that_prints_secrets_leaks_none_into_any_output() {
    let dir = ScratchDir::new("secrets");
    let suite = dir.write("leaky.clnrm.toml", LEAKY);
    let history = dir.0.join("history.db");
    let json = dir.0.join("results.json");
    let junit = dir.0.join("junit.xml");
    let out = run_bin(
        CLNRM,
        &[
            "run",
            suite.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
        &[
            ("CLNRM_HISTORY", history.to_str().unwrap()),
            ("CLNRM_LOG", "debug"),
        ],
    );
    let terminal = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "the step fails:\n{terminal}");
    // The step did print its secrets: they are there, masked.
    assert!(terminal.contains("pw=<***>"), "{terminal}");
    assert!(terminal.contains("tok=<***>"), "{terminal}");
    assert!(
        terminal.contains("url=<postgres://clnrm:***@db:5432/"),
        "{terminal}"
    );

    let mut history_text = read_lossy(&history);
    for suffix in ["-wal", "-journal"] {
        history_text.push_str(&read_lossy(&dir.0.join(format!("history.db{suffix}"))));
    }
    let outputs = [
        ("terminal and debug logs", terminal),
        ("JSON report", read_lossy(&json)),
        ("JUnit report", read_lossy(&junit)),
        ("history database", history_text),
    ];
    for (what, text) in &outputs {
        assert!(!text.is_empty(), "{what} was written");
        assert!(
            text.contains("pw=<***>") || text.contains("pw=&lt;***&gt;"),
            "{what} carries the failure output, masked:\n{text}"
        );
        let leaked = leaked_passwords(text);
        assert!(leaked.is_empty(), "{what} leaks the password: {leaked:?}");
        assert!(!text.contains(TOKEN), "{what} leaks the token");
    }
}
