//! `clnrm ai-predict`, `ai-optimize` and `ai-orchestrate` judged from outside: against a local
//! server answering like Ollama (the one the advisor's own tests use), against no server at all
//! (statistics and one notice, never an error), on real Docker with a failing scenario, and on a
//! real cargo test target (`tests/seeded`, package `clnrm-seeded`, whose tests fail only with `CLNRM_SEED_FAILURE=1`).

#[path = "../../clnrm/tests/support/mod.rs"]
mod llm_server;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clnrm::history::{HistoryStore, SUITES_TARGET};
use clnrm::report::{Outcome, RunRecord, TestRecord};
use llm_server::{MockServer, Recorded, Reply};
use serde_json::{Value, json};

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");

/// Nothing listens on port 1: connections are refused at once.
const NO_SERVER: &str = "http://127.0.0.1:1";

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn both(&self) -> String {
        format!(
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    fn notices(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("notice: "))
            .collect()
    }
}

fn scratch(tag: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("ai-cli")
        .join(format!("{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Runs `clnrm ARGS` with the history in `dir` and the LLM at `llm`, off the async runtime
/// (the mock server runs on it).
async fn clnrm(dir: &Path, args: &[&str], llm: &str) -> Out {
    clnrm_with(dir, args, llm, &[]).await
}

/// [`clnrm`] with more environment variables.
async fn clnrm_with(dir: &Path, args: &[&str], llm: &str, envs: &[(&str, &str)]) -> Out {
    let history = dir.join("history.db");
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let llm = llm.to_owned();
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut all = vec![
            ("CLNRM_HISTORY", history.to_str().expect("utf-8")),
            ("CLNRM_AI_URL", &llm),
            ("CLNRM_AI_TIMEOUT", "20s"),
        ];
        all.extend(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let out = crate::support::run_bin(CLNRM, &args, &all);
        Out {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("clnrm ran")
}

/// A suite `greet` whose scenarios `says goodbye` and `says farewell` fail (hello is printed)
/// and `says hello` passes, and a suite `other` that passes and comes first in file order.
fn write_suites(dir: &Path) -> String {
    let step = |expect: &str| {
        format!(
            "[[scenarios.steps]]\nname = \"echo\"\nrun = [\"echo\", \"hello\"]\nimage = \"debian:bookworm\"\nexpect.stdout.contains = \"{expect}\"\n"
        )
    };
    std::fs::write(
        dir.join("zz-greet.clnrm.toml"),
        format!(
            "version = 1\n[suite]\nname = \"greet\"\n\
             [[scenarios]]\nname = \"says hello\"\n{}\
             [[scenarios]]\nname = \"says goodbye\"\n{}\
             [[scenarios]]\nname = \"says farewell\"\n{}",
            step("hello"),
            step("goodbye"),
            step("farewell"),
        ),
    )
    .expect("write suite");
    std::fs::write(
        dir.join("other.clnrm.toml"),
        format!(
            "version = 1\n[suite]\nname = \"other\"\n[[scenarios]]\nname = \"works\"\n{}",
            step("hello")
        ),
    )
    .expect("write suite");
    dir.to_str().expect("utf-8").to_owned()
}

/// Appends `runs` runs of `target` to `dir`'s history: `(test, outcome, seconds, message)`.
fn seed(dir: &Path, target: &str, runs: usize, tests: &[(&str, Outcome, f64, &str)]) {
    let store = HistoryStore::open(&dir.join("history.db")).expect("history opens");
    for run in 0..runs {
        let now = SystemTime::now();
        store
            .append(&RunRecord {
                run_id: format!("seed-{run}"),
                target: target.to_owned(),
                started_at: now,
                duration: Duration::from_secs(1),
                tests: tests
                    .iter()
                    .map(|&(name, outcome, secs, message)| TestRecord {
                        name: name.to_owned(),
                        outcome,
                        duration: Duration::from_secs_f64(secs),
                        attempts: 1,
                        message: (!message.is_empty()).then(|| message.to_owned()),
                        started_at: now,
                        file: None,
                        line: None,
                        faults: Vec::new(),
                    })
                    .collect(),
            })
            .expect("seed the history");
    }
}

fn seed_suites(dir: &Path) {
    seed(
        dir,
        SUITES_TARGET,
        2,
        &[
            ("greet::says hello", Outcome::Passed, 0.5, ""),
            (
                "greet::says goodbye",
                Outcome::Failed,
                0.5,
                "step `echo`: stdout does not contain \"goodbye\"",
            ),
            ("greet::says farewell", Outcome::Passed, 0.5, ""),
            ("other::works", Outcome::Passed, 3.0, ""),
        ],
    );
}

/// An Ollama with one model whose chat answers come from `chat` (given the request body).
async fn ollama(chat: impl Fn(&Value) -> Value + Send + Sync + 'static) -> MockServer {
    MockServer::start(move |r: &Recorded| match r.path.as_str() {
        "/api/version" => Reply::Json(200, json!({"version": "0.12.3"})),
        "/api/tags" => Reply::Json(
            200,
            json!({"models": [{"name": "qwen2.5:0.5b-instruct", "size": 398_000_000u64,
                "details": {"parameter_size": "494.03M", "family": "qwen2"}}]}),
        ),
        "/api/chat" => Reply::Json(
            200,
            json!({"model": "qwen2.5:0.5b-instruct", "done": true, "done_reason": "stop",
                "message": {"role": "assistant", "content": chat(&r.json()).to_string()}}),
        ),
        _ => Reply::Json(404, json!({"error": "not found"})),
    })
    .await
}

/// The test names the advisor was asked about: the schema's `enum`.
fn asked_names(body: &Value) -> Vec<String> {
    let schema = &body["format"];
    let names = schema
        .pointer("/properties/order/items/enum")
        .or_else(|| schema.pointer("/properties/groups/items/properties/tests/items/enum"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    names
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// Advice that reverses the order it was given and rates the first test it was asked about.
fn advice(body: &Value) -> Value {
    let mut names = asked_names(body);
    names.reverse();
    let risky = names.last().cloned().unwrap_or_default();
    json!({"order": names, "risks": [{"test": risky, "risk": 0.9,
        "rationale": "mock model: its goodbye check failed in both recorded runs"}]})
}

// ---- ai-predict -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_without_a_server_prints_statistics_and_one_notice() {
    let dir = scratch("predict-none");
    let suites = write_suites(&dir);
    seed_suites(&dir);
    for (args, notice) in [
        (
            vec!["ai-predict", &suites],
            "notice: LLM advisor unavailable (",
        ),
        (
            vec!["ai-predict", &suites, "--no-ai"],
            "notice: LLM advisor not asked (--no-ai); statistics only",
        ),
    ] {
        let out = clnrm(&dir, &args, NO_SERVER).await;
        assert_eq!(out.code, Some(0), "{}", out.both());
        let notices = out.notices();
        assert_eq!(notices.len(), 1, "one notice\n{}", out.both());
        assert!(notices[0].starts_with(notice), "{}", out.both());
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert!(
            lines[0].starts_with("risk of 4 test(s) of clnrm-suites"),
            "{}",
            out.both()
        );
        assert!(
            lines[1].ends_with("greet::says goodbye  (500 ms, 2 run(s) seen)"),
            "the seeded failure is the riskiest\n{}",
            out.both()
        );
        assert!(
            lines[2].contains("failed 2 of last 2 runs"),
            "{}",
            out.both()
        );
        assert!(!out.stdout.contains("LLM"), "{}", out.both());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_with_an_llm_prints_its_rationale_next_to_the_statistics() {
    let dir = scratch("predict-llm");
    let suites = write_suites(&dir);
    seed_suites(&dir);
    let server = ollama(advice).await;
    let out = clnrm(&dir, &["ai-predict", &suites], &server.url).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(out.notices().is_empty(), "{}", out.both());
    assert!(
        out.stdout
            .contains("(statistics and LLM `qwen2.5:0.5b-instruct`)"),
        "{}",
        out.both()
    );
    assert!(
        out.stdout
            .contains("LLM 90 %: mock model: its goodbye check failed in both recorded runs"),
        "{}",
        out.both()
    );
    // The advisor saw every scenario, the riskiest first, and its recent failure message.
    let chats = server.bodies("/api/chat");
    assert_eq!(chats.len(), 1);
    let asked = asked_names(&chats[0]);
    assert_eq!(asked.len(), 4);
    assert_eq!(asked[0], "greet::says goodbye");
    assert!(
        chats[0].to_string().contains("stdout does not contain"),
        "{}",
        chats[0]
    );

    let json = clnrm(&dir, &["ai-predict", &suites, "--json"], &server.url).await;
    assert_eq!(json.code, Some(0), "{}", json.both());
    let report: Value = serde_json::from_str(&json.stdout).expect("--json prints JSON");
    assert_eq!(report["tests"][0]["name"], "greet::says goodbye");
    assert_eq!(report["tests"][0]["llm_risk"], 0.9);
    let order = report["llm_order"].as_array().expect("the LLM's order");
    assert_eq!(order.len(), 4);
}

/// `--ai-service`: clnrm starts the model server itself (the ollama plugin, on the local
/// stand-in image: llama.cpp with Gemma 3 270M), asks it, and removes it at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_asks_a_model_server_it_started_itself_and_removes_it() {
    let dir = scratch("predict-service");
    let suites = write_suites(&dir);
    seed_suites(&dir);
    let out = clnrm_with(
        &dir,
        &["ai-predict", &suites, "--ai-service", "ollama=gemma3:270m"],
        NO_SERVER,
        &[("CLNRM_AI_TIMEOUT", "900s")],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(
        out.stderr.contains("clnrm: advisor at http://"),
        "{}",
        out.both()
    );
    // The model answered: its advice was used, or rejected with a reason; never unreachable
    // (CLNRM_AI_URL points nowhere: only the started service can answer).
    assert!(
        out.stdout.contains("LLM `gemma3:270m`") || out.stderr.contains("LLM advisor rejected"),
        "{}",
        out.both()
    );
    assert!(!out.stderr.contains("unavailable"), "{}", out.both());
    let left =
        crate::support::containers_with_label(clnrm::docker::labels::SERVICE, "advisor").await;
    assert!(left.is_empty(), "the advisor's server is removed: {left:?}");
    let bad = clnrm(
        &dir,
        &["ai-predict", &suites, "--ai-service", "postgres=16"],
        NO_SERVER,
    )
    .await;
    assert_eq!(bad.code, Some(2), "{}", bad.both());
    assert!(
        bad.stderr.contains("not a model server plugin"),
        "{}",
        bad.both()
    );
}

/// Runs `git ARGS` in `dir` with author and commit dates `secs` seconds from now.
pub(crate) fn git_at(dir: &Path, secs: i64, args: &[&str]) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let date = format!("@{} +0000", now as i64 + secs);
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=clnrm test",
            "-c",
            "user.email=test@clnrm.invalid",
        ])
        .args(args)
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_ranks_suites_whose_file_changed_since_their_last_green_run_first() {
    let dir = scratch("predict-git");
    let suite = |name: &str| {
        format!(
            "version = 1\n[suite]\nname = \"{name}\"\n[[scenarios]]\nname = \"works\"\n\
             [[scenarios.steps]]\nname = \"echo\"\nrun = [\"echo\", \"hi\"]\n\
             image = \"debian:bookworm\"\n"
        )
    };
    let suites = dir.join("suites");
    std::fs::create_dir_all(&suites).unwrap();
    for name in ["alpha", "beta", "gamma"] {
        std::fs::write(suites.join(format!("{name}.clnrm.toml")), suite(name)).unwrap();
    }
    git_at(&dir, 0, &["init", "-q"]);
    git_at(&dir, -3600, &["add", "-A"]);
    git_at(&dir, -3600, &["commit", "-q", "-m", "suites"]);
    // Every suite passed just now, equally fast.
    seed(
        &dir,
        SUITES_TARGET,
        2,
        &[
            ("alpha::works", Outcome::Passed, 1.0, ""),
            ("beta::works", Outcome::Passed, 1.0, ""),
            ("gamma::works", Outcome::Passed, 1.0, ""),
        ],
    );
    // Since then: beta is edited and not committed, gamma's edit is committed.
    let edited = |name: &str| format!("{}# edited\n", suite(name));
    std::fs::write(suites.join("beta.clnrm.toml"), edited("beta")).unwrap();
    std::fs::write(suites.join("gamma.clnrm.toml"), edited("gamma")).unwrap();
    git_at(
        &dir,
        60,
        &[
            "commit",
            "-q",
            "-m",
            "edit gamma",
            "suites/gamma.clnrm.toml",
        ],
    );
    let paths = suites.to_str().expect("utf-8");

    let out = clnrm(&dir, &["ai-predict", paths, "--no-ai", "--json"], NO_SERVER).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    let report: Value = serde_json::from_str(&out.stdout).expect("--json prints JSON");
    let tests = report["tests"].as_array().expect("tests");
    let names: Vec<&str> = tests.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["beta::works", "gamma::works", "alpha::works"]);
    let says_changed = |t: &Value| {
        t["reasons"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r == "source changed since last green run"))
    };
    assert!(
        says_changed(&tests[0]) && says_changed(&tests[1]),
        "{}",
        out.both()
    );
    assert!(!says_changed(&tests[2]), "{}", out.both());

    // The plan of ai-optimize puts them first too.
    let out = clnrm(&dir, &["ai-optimize", paths, "--json"], NO_SERVER).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    let plan: Value = serde_json::from_str(&out.stdout).expect("--json prints JSON");
    let order: Vec<&str> = plan["plan"]["tests"]
        .as_array()
        .expect("plan.tests")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(order, ["beta", "gamma", "alpha"], "{}", out.both());

    // The advisor is told which files changed, relative to the repository.
    let server = ollama(advice).await;
    let out = clnrm(&dir, &["ai-predict", paths], &server.url).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    let chat = server.bodies("/api/chat")[0].to_string();
    assert!(chat.contains("suites/beta.clnrm.toml"), "{chat}");
    assert!(chat.contains("suites/gamma.clnrm.toml"), "{chat}");
    assert!(!chat.contains("suites/alpha.clnrm.toml"), "{chat}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_reads_a_cargo_targets_history_by_its_binary_name() {
    let dir = scratch("predict-target");
    seed(
        &dir,
        "clnrm-examples::shortener",
        3,
        &[
            ("shortener::creates_link", Outcome::Passed, 0.2, ""),
            (
                "shortener::resolves_link",
                Outcome::Failed,
                0.3,
                "assertion failed: left == right",
            ),
        ],
    );
    let out = clnrm(
        &dir,
        &["ai-predict", "--target", "shortener", "--no-ai"],
        NO_SERVER,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(
        out.stdout
            .starts_with("risk of 2 test(s) of clnrm-examples::shortener"),
        "{}",
        out.both()
    );
    assert!(
        out.stdout.contains("failed 3 of last 3 runs"),
        "{}",
        out.both()
    );

    let unknown = clnrm(&dir, &["ai-predict", "--target", "nope"], NO_SERVER).await;
    assert_eq!(unknown.code, Some(2), "{}", unknown.both());
    assert!(
        unknown.stderr.contains(
            "error: no history for target `nope`; targets with history: clnrm-examples::shortener"
        ),
        "{}",
        unknown.both()
    );
}

// ---- ai-optimize ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimize_plans_suites_first_by_risk_and_puts_each_in_one_shard() {
    let dir = scratch("optimize");
    let suites = write_suites(&dir);
    seed_suites(&dir);
    let out = clnrm(
        &dir,
        &[
            "ai-optimize",
            &suites,
            "--jobs",
            "1",
            "--shards",
            "2",
            "--json",
        ],
        NO_SERVER,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    let plan: Value = serde_json::from_str(&out.stdout).expect("--json prints JSON");
    assert_eq!(plan["unit"], "suite");
    let order: Vec<&str> = plan["plan"]["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["greet", "other"],
        "the suite with the failure first"
    );
    // One lane: the wall time is the sum either way.
    assert_eq!(
        plan["plan"]["predicted_wall_secs"],
        plan["plan"]["file_order_wall_secs"]
    );
    let shards = plan["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 2);
    assert_eq!(shards[0]["units"], json!(["other"]), "3 s alone");
    assert_eq!(shards[1]["units"], json!(["greet"]), "3 × 0.5 s");

    let text = clnrm(&dir, &["ai-optimize", &suites, "--shards", "2"], NO_SERVER).await;
    assert_eq!(text.code, Some(0), "{}", text.both());
    assert!(
        text.stdout
            .starts_with("plan of 2 suite(s) of clnrm-suites on 2 lane(s): predicted 3.0 s against 3.0 s in file order"),
        "{}",
        text.both()
    );
    assert!(
        text.stdout.contains("shard 1/2: 1 suite(s), 3.0 s: other"),
        "{}",
        text.both()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimize_applies_a_valid_llm_order_and_caches_it() {
    let dir = scratch("optimize-llm");
    let suites = write_suites(&dir);
    seed_suites(&dir);
    // the statistics put greet first; the advisor swaps the two
    let advice = json!({"order": ["other", "greet"], "risks": []});
    let server = MockServer::start(move |r: &Recorded| match r.path.as_str() {
        "/api/version" => Reply::Json(200, json!({"version": "0.12.3"})),
        "/api/tags" => Reply::Json(
            200,
            json!({"models": [{"name": "qwen2.5:0.5b-instruct", "size": 398_000_000u64,
            "details": {"parameter_size": "494.03M", "family": "qwen2"}}]}),
        ),
        "/api/chat" => Reply::Json(
            200,
            json!({"model": "m", "done": true,
            "message": {"role": "assistant", "content": advice.to_string()}}),
        ),
        _ => Reply::Json(404, json!({"error": "not found"})),
    })
    .await;
    let order_of = |out: &Out| -> Vec<String> {
        let plan: Value = serde_json::from_str(&out.stdout).expect("--json prints JSON");
        plan["plan"]["tests"]
            .as_array()
            .expect("plan.tests")
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let stats = clnrm(
        &dir,
        &["ai-optimize", &suites, "--json", "--no-ai"],
        NO_SERVER,
    )
    .await;
    assert_eq!(order_of(&stats), ["greet", "other"], "{}", stats.both());
    let fresh = clnrm(&dir, &["ai-optimize", &suites, "--json"], &server.url).await;
    assert_eq!(fresh.code, Some(0), "{}", fresh.both());
    assert_eq!(order_of(&fresh), ["other", "greet"], "{}", fresh.both());
    assert!(
        fresh.stderr.contains("clnrm: order: fresh LLM advice (qwen2.5:0.5b-instruct) merged with the statistical plan"),
        "{}",
        fresh.both()
    );
    let cached = clnrm(&dir, &["ai-optimize", &suites, "--json"], &server.url).await;
    assert_eq!(order_of(&cached), ["other", "greet"], "{}", cached.both());
    assert!(
        cached.stderr.contains("clnrm: order: cached LLM advice"),
        "{}",
        cached.both()
    );
    let chats = server
        .paths()
        .iter()
        .filter(|p| p.as_str() == "POST /api/chat")
        .count();
    assert_eq!(chats, 1, "the second run used the cache");
}

// ---- ai-orchestrate (Docker) --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orchestrate_runs_the_plan_and_groups_the_failures_by_message_without_an_llm() {
    let dir = scratch("orchestrate-stats");
    let suites = write_suites(&dir);
    seed_suites(&dir);
    let report = dir.join("report.json");
    let out = clnrm(
        &dir,
        &[
            "ai-orchestrate",
            &suites,
            "--jobs",
            "1",
            "--json",
            report.to_str().unwrap(),
        ],
        NO_SERVER,
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.both());
    // Two notices: no advice before the run, no insights after it.
    assert_eq!(out.notices().len(), 2, "{}", out.both());
    let greet = out
        .stdout
        .find("FAIL greet/says goodbye")
        .expect("greet ran");
    let other = out.stdout.find("PASS other/works").expect("other ran");
    assert!(
        greet < other,
        "the suite with the seeded failure ran first\n{}",
        out.both()
    );
    assert!(
        out.stdout.contains(
            "2 failure(s) in 1 group(s) by likely cause:\n  \
             2 × step `echo`: stdout does not contain … [similar messages]\n"
        ),
        "{}",
        out.both()
    );
    assert!(
        out.stdout
            .contains("      tests: greet::says goodbye, greet::says farewell"),
        "{}",
        out.both()
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report written"))
            .expect("the report parses");
    let groups = json["analysis"]["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["source"], "statistics");
    assert_eq!(groups[0]["tests"].as_array().unwrap().len(), 2);
    assert_eq!(
        json["prediction"]["tests"][0]["name"],
        "greet::says goodbye"
    );
    assert_eq!(json["plan"]["plan"]["tests"][0]["name"], "greet");
    assert_eq!(json["tests"].as_array().unwrap().len(), 4, "{json:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orchestrate_prints_the_llms_insights_for_the_failures_it_grouped() {
    let dir = scratch("orchestrate-llm");
    let suites = write_suites(&dir);
    let server = ollama(|body| {
        if body["format"].pointer("/properties/groups").is_some() {
            json!({"groups": [{"cause": "mock model: the greeting printed is not the one expected",
                "tests": asked_names(body),
                "insight": "mock model: both steps echo hello",
                "recommendation": "mock model: expect hello or echo the farewell"}]})
        } else {
            advice(body)
        }
    })
    .await;
    let out = clnrm(&dir, &["ai-orchestrate", &suites], &server.url).await;
    assert_eq!(out.code, Some(1), "{}", out.both());
    assert!(out.notices().is_empty(), "{}", out.both());
    for line in [
        "  2 × mock model: the greeting printed is not the one expected [LLM `qwen2.5:0.5b-instruct`]",
        "      insight: mock model: both steps echo hello",
        "      recommendation: mock model: expect hello or echo the farewell",
    ] {
        assert!(out.stdout.contains(line), "no {line:?}\n{}", out.both());
    }
    let insights = server
        .bodies("/api/chat")
        .into_iter()
        .find(|b| b["format"].pointer("/properties/groups").is_some())
        .expect("the LLM was asked for insights");
    let mut asked = asked_names(&insights);
    asked.sort();
    assert_eq!(asked, ["greet::says farewell", "greet::says goodbye"]);
}

// ---- ai-orchestrate --target (a real cargo test target) -----------------------------------------

/// The cargo test target `tests/seeded`, as the harness names it in the history.
const SEEDED: &str = "clnrm-seeded::seeded";

/// Switches on the seeded target's two failures.
const SEED_FAILURE: (&str, &str) = ("CLNRM_SEED_FAILURE", "1");

fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| option_env!("CARGO").unwrap_or("cargo").to_owned())
}

/// Runs the seeded target once with plain `cargo test` (its failures on), from the workspace
/// root and in the build directory this test was built in, so its history starts in `dir`.
async fn seed_by_running_the_target(dir: &Path) {
    let history = dir.join("history.db");
    let out = tokio::task::spawn_blocking(move || {
        let mut cargo = Command::new(cargo_program());
        cargo
            .args(["test", "-p", "clnrm-seeded", "--test", "seeded"])
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
            .env("CLNRM_HISTORY", &history)
            .env(SEED_FAILURE.0, SEED_FAILURE.1);
        // What cargo and nextest set for this test, as `ai-orchestrate` drops it too: some build
        // scripts track `CARGO_MANIFEST_DIR`, and a changed value rebuilds half the workspace.
        for (key, _) in std::env::vars() {
            if key.starts_with("NEXTEST")
                || key.starts_with("CARGO_PKG_")
                || key.starts_with("CARGO_BIN_EXE_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_CRATE_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_RUSTC_CURRENT_DIR",
                ]
                .contains(&key.as_str())
            {
                cargo.env_remove(key);
            }
        }
        cargo.output().expect("cargo runs")
    })
    .await
    .expect("cargo ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("test result: FAILED. 1 passed; 2 failed"),
        "the seeded target fails twice with CLNRM_SEED_FAILURE=1\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn runs_recorded(dir: &Path, target: &str) -> usize {
    let store = HistoryStore::open(&dir.join("history.db")).expect("history opens");
    let rows = store.records(Some(target), 100).expect("history reads");
    rows.iter()
        .map(|r| r.run_id.clone())
        .collect::<BTreeSet<_>>()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orchestrate_runs_a_cargo_test_target_in_the_planned_order_and_groups_its_failures() {
    let dir = scratch("orchestrate-target");
    seed_by_running_the_target(&dir).await;
    let report = dir.join("report.json");
    let out = clnrm_with(
        &dir,
        &[
            "ai-orchestrate",
            "--target",
            "seeded",
            "--no-ai",
            "-j",
            "1",
            "--json",
            report.to_str().unwrap(),
        ],
        NO_SERVER,
        &[SEED_FAILURE],
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.both());
    assert!(
        out.stdout
            .starts_with("risk of 3 test(s) of clnrm-seeded::seeded"),
        "{}",
        out.both()
    );
    assert!(
        out.stdout.contains(
            "running `cargo test -p clnrm-seeded --test seeded -- --order planned --test-threads 1`"
        ),
        "{}",
        out.both()
    );
    // The test binary's own output streamed through, in the planned order: the two tests that
    // failed last time first, although `catalog` comes first by name.
    let line = |name: &str, result: &str| {
        let start = format!("test {name} ");
        out.stdout
            .lines()
            .position(|l| l.starts_with(&start) && l.ends_with(&format!(" ... {result}")))
            .unwrap_or_else(|| panic!("no `{start}... {result}`\n{}", out.both()))
    };
    let catalog = line("catalog::lists_items_in_name_order", "ok");
    assert!(
        line("checkout::totals_the_basket", "FAILED") < catalog,
        "{}",
        out.both()
    );
    assert!(
        line("checkout::applies_the_discount", "FAILED") < catalog,
        "{}",
        out.both()
    );
    assert!(
        out.stdout
            .contains("2 failure(s) in 1 group(s) by likely cause:\n  2 × "),
        "{}",
        out.both()
    );
    assert!(out.stdout.contains("[similar messages]"), "{}", out.both());
    assert!(out.stdout.contains("1 passed, 2 failed"), "{}", out.both());
    assert!(
        runs_recorded(&dir, SEEDED) == 2,
        "the harness recorded the run, and only it: the seed run and this one"
    );

    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report written"))
            .expect("the report parses");
    assert_eq!(json["target"], SEEDED);
    assert_eq!(json["summary"]["failed"], 2);
    let tests: Vec<&str> = json["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tests.len(), 3, "{json:#}");
    let groups = json["analysis"]["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{json:#}");
    assert_eq!(groups[0]["source"], "statistics");
    let mut grouped: Vec<&str> = groups[0]["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    grouped.sort_unstable();
    assert_eq!(
        grouped,
        [
            "checkout::applies_the_discount",
            "checkout::totals_the_basket"
        ]
    );
    assert_eq!(json["prediction"]["target"], SEEDED);
    assert_eq!(json["plan"]["unit"], "test");

    let green = clnrm(
        &dir,
        &["ai-orchestrate", "--target", SEEDED, "--no-ai"],
        NO_SERVER,
    )
    .await;
    assert_eq!(green.code, Some(0), "{}", green.both());
    assert!(
        green.stdout.contains("3 passed, 0 failed"),
        "{}",
        green.both()
    );
    assert!(!green.stdout.contains("failure(s) in"), "{}", green.both());
    assert_eq!(runs_recorded(&dir, SEEDED), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orchestrate_target_partitions_split_its_tests_between_the_shards() {
    let dir = scratch("orchestrate-target-shards");
    seed_by_running_the_target(&dir).await;
    let mut seen = Vec::new();
    for shard in ["1/2", "2/2"] {
        // Each shard plans from the same history, as CI machines sharing one snapshot do (a
        // shard's run adds to its history, which would move the next shard's split).
        let machine = dir.join(format!("shard-{}", &shard[..1]));
        std::fs::create_dir_all(&machine).unwrap();
        for file in ["history.db", "history.db-wal"] {
            if dir.join(file).exists() {
                std::fs::copy(dir.join(file), machine.join(file)).expect("copy the history");
            }
        }
        let report = machine.join("report.json");
        let out = clnrm(
            &machine,
            &[
                "ai-orchestrate",
                "--target",
                SEEDED,
                "--no-ai",
                "--partition",
                shard,
                "--json",
                report.to_str().unwrap(),
            ],
            NO_SERVER,
        )
        .await;
        assert_eq!(out.code, Some(0), "{}", out.both());
        assert!(
            out.stdout
                .contains(&format!("-- --order planned --partition {shard}`")),
            "{}",
            out.both()
        );
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(&report).expect("report written"))
                .expect("the report parses");
        let tests: Vec<String> = json["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        assert!(!tests.is_empty() && tests.len() < 3, "{shard}: {tests:?}");
        seen.extend(tests);
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "catalog::lists_items_in_name_order",
            "checkout::applies_the_discount",
            "checkout::totals_the_basket"
        ],
        "every test ran in exactly one shard"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orchestrate_target_prints_the_llms_insights_for_its_failures() {
    let dir = scratch("orchestrate-target-llm");
    seed_by_running_the_target(&dir).await;
    let server = ollama(|body| {
        if body["format"].pointer("/properties/groups").is_some() {
            json!({"groups": [{"cause": "mock model: CLNRM_SEED_FAILURE is set",
                "tests": asked_names(body),
                "insight": "mock model: both checkout tests read the seed variable",
                "recommendation": "mock model: unset CLNRM_SEED_FAILURE"}]})
        } else {
            advice(body)
        }
    })
    .await;
    let out = clnrm_with(
        &dir,
        &["ai-orchestrate", "--target", SEEDED],
        &server.url,
        &[SEED_FAILURE],
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.both());
    assert!(out.notices().is_empty(), "{}", out.both());
    for line in [
        "  2 × mock model: CLNRM_SEED_FAILURE is set [LLM `qwen2.5:0.5b-instruct`]",
        "      insight: mock model: both checkout tests read the seed variable",
        "      recommendation: mock model: unset CLNRM_SEED_FAILURE",
        "LLM 90 %: mock model: its goodbye check failed in both recorded runs",
    ] {
        assert!(out.stdout.contains(line), "no {line:?}\n{}", out.both());
    }
    let insights = server
        .bodies("/api/chat")
        .into_iter()
        .find(|b| b["format"].pointer("/properties/groups").is_some())
        .expect("the LLM was asked for insights");
    let mut asked = asked_names(&insights);
    asked.sort();
    assert_eq!(
        asked,
        [
            "checkout::applies_the_discount",
            "checkout::totals_the_basket"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orchestrate_refuses_an_unknown_target_or_one_that_is_not_a_test_target() {
    let dir = scratch("orchestrate-target-unknown");
    seed(
        &dir,
        "clnrm-e2e::bin/harness-fixture",
        1,
        &[("basic::passes", Outcome::Passed, 0.1, "")],
    );
    let unknown = clnrm(
        &dir,
        &["ai-orchestrate", "--target", "nope", "--no-ai"],
        NO_SERVER,
    )
    .await;
    assert_eq!(unknown.code, Some(2), "{}", unknown.both());
    assert!(
        unknown.stderr.contains(
            "error: no history for target `nope`; targets with history: clnrm-e2e::bin/harness-fixture"
        ),
        "{}",
        unknown.both()
    );
    let bin = clnrm(
        &dir,
        &[
            "ai-orchestrate",
            "--target",
            "clnrm-e2e::bin/harness-fixture",
            "--no-ai",
        ],
        NO_SERVER,
    )
    .await;
    assert_eq!(bin.code, Some(2), "{}", bin.both());
    assert!(
        bin.stderr.contains(
            "error: `clnrm-e2e::bin/harness-fixture` is not a cargo test target named \
             `package::binary`: ai-orchestrate runs `cargo test -p PACKAGE --test BINARY`"
        ),
        "{}",
        bin.both()
    );
    assert!(
        !bin.stdout.contains("running `"),
        "nothing ran\n{}",
        bin.both()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orchestrate_target_that_does_not_compile_is_a_build_error_not_failed_tests() {
    let dir = scratch("orchestrate-target-broken");
    // A crate of its own (outside the workspace) whose test target has a type error.
    let krate = dir.join("broken");
    std::fs::create_dir_all(krate.join("tests")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
         [workspace]\n[[test]]\nname = \"checks\"\npath = \"tests/checks.rs\"\nharness = false\n",
    )
    .unwrap();
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(krate.join("src/lib.rs"), "").unwrap();
    std::fs::write(
        krate.join("tests/checks.rs"),
        "fn main() {\n    let count: u32 = \"three\";\n    let _ = count;\n}\n",
    )
    .unwrap();
    seed(
        &dir,
        "broken::checks",
        1,
        &[("counts", Outcome::Passed, 0.1, "")],
    );
    let history = dir.join("history.db");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(CLNRM)
            .args(["ai-orchestrate", "--target", "checks", "--no-ai"])
            .current_dir(&krate)
            .env("CLNRM_HISTORY", &history)
            .env("CARGO_TARGET_DIR", krate.join("target"))
            .output()
            .expect("clnrm runs")
    })
    .await
    .unwrap();
    let out = Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(out.code, Some(2), "{}", out.both());
    assert!(
        out.stderr.contains("error[E0308]: mismatched types"),
        "cargo's errors streamed\n{}",
        out.both()
    );
    assert!(
        out.stderr.contains(
            "error: the test target `broken::checks` did not build: \
             `cargo test -p broken --test checks --no-run` exited with exit code 101; no test ran"
        ),
        "{}",
        out.both()
    );
    assert!(!out.stdout.contains("running `"), "{}", out.both());
    assert!(
        !out.stdout.contains("failed ("),
        "no test summary\n{}",
        out.both()
    );
}

// ---- the advisor inside cargo test (the harness fixture) ----------------------------------------

/// Runs the harness fixture binary with `args` and `envs`, outside nextest's environment.
fn harness_fixture(args: &[&str], envs: &[(&str, &str)]) -> Out {
    let mut cmd = crate::support::own_run(env!("CARGO_BIN_EXE_harness-fixture"));
    cmd.args(args)
        .envs(envs.iter().copied())
        .env_remove("CLNRM_JSON")
        .env_remove("CLNRM_JUNIT")
        .stdin(std::process::Stdio::null());
    let out = cmd.output().expect("the fixture runs");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn the_harness_asks_the_advisor_within_its_budget_caches_the_answer_and_says_what_it_used() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the mock server");
    // An Ollama that answers every advice request with the sent tests in reverse order.
    let server = runtime.block_on(MockServer::start(|r: &Recorded| match r.path.as_str() {
        "/api/version" => Reply::Json(200, json!({"version": "0.12.3"})),
        "/api/tags" => Reply::Json(
            200,
            json!({"models": [{"name": "qwen2.5:0.5b-instruct", "size": 398_000_000u64,
            "details": {"parameter_size": "494.03M", "family": "qwen2"}}]}),
        ),
        "/api/chat" => {
            let body = r.json();
            let mut order: Vec<Value> = body["format"]["properties"]["order"]["items"]["enum"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            order.reverse();
            let advice = json!({"order": order, "risks": []});
            Reply::Json(
                200,
                json!({"model": "m", "done": true,
                "message": {"role": "assistant", "content": advice.to_string()}}),
            )
        }
        _ => Reply::Json(404, json!({"error": "not found"})),
    }));
    let dir = scratch("harness-advice");
    let history = dir.join("history.db");
    let envs = [
        ("CLNRM_HISTORY", history.to_str().expect("utf-8")),
        ("CLNRM_AI_URL", server.url.as_str()),
        ("CLNRM_AI_TIMEOUT", "20s"),
        ("CLNRM_AI_BUDGET", "20s"),
    ];
    let run = || harness_fixture(&["basic::sync_"], &envs);
    let line = |out: &Out| -> String {
        let lines: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("clnrm: order: "))
            .collect();
        assert_eq!(lines.len(), 1, "one line on the order:\n{}", out.both());
        lines[0].to_owned()
    };
    // no history: fresh advice; the run records two passes, a new history state
    let first = run();
    assert_eq!(first.code, Some(0), "{}", first.both());
    assert!(
        line(&first).starts_with("clnrm: order: fresh LLM advice (qwen2.5:0.5b-instruct)"),
        "{}",
        first.both()
    );
    let second = run();
    assert!(
        line(&second).starts_with("clnrm: order: fresh LLM advice"),
        "{}",
        second.both()
    );
    // the same passes again: the same state, the cached advice, no new request
    let third = run();
    assert_eq!(third.code, Some(0), "{}", third.both());
    assert_eq!(
        line(&third),
        "clnrm: order: cached LLM advice (qwen2.5:0.5b-instruct) merged with the statistical plan",
        "{}",
        third.both()
    );
    let chats = server
        .paths()
        .iter()
        .filter(|p| p.as_str() == "POST /api/chat")
        .count();
    assert_eq!(chats, 2, "{:?}", server.paths());

    // the same settings from the `[ai]` table of the project's clnrm.toml instead of the
    // environment: the advisor is configured, its cached advice applies
    let project = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../clnrm.toml"))
        .expect("the repository's clnrm.toml");
    let config = dir.join("clnrm.toml");
    let with_ai = |table: &str| {
        std::fs::write(&config, format!("{project}\n[ai]\n{table}")).expect("write clnrm.toml");
        harness_fixture(
            &["basic::sync_"],
            &[
                ("CLNRM_HISTORY", history.to_str().expect("utf-8")),
                ("CLNRM_CONFIG", config.to_str().expect("utf-8")),
                ("CLNRM_AI_URL", ""),
                ("CLNRM_AI_TIMEOUT", ""),
                ("CLNRM_AI_BUDGET", ""),
            ],
        )
    };
    let from_file = with_ai(&format!(
        "url = \"{}\"\ntimeout = \"20s\"\nbudget = \"20s\"\n",
        server.url
    ));
    assert_eq!(from_file.code, Some(0), "{}", from_file.both());
    assert_eq!(
        line(&from_file),
        "clnrm: order: cached LLM advice (qwen2.5:0.5b-instruct) merged with the statistical plan",
        "{}",
        from_file.both()
    );
    // a bad value in the table: statistics only, naming the file, its line and what was expected
    let bad_line = project.lines().count() + 4; // a blank line, `[ai]`, `url`, then `budget`
    let bad = with_ai(&format!("url = \"{}\"\nbudget = \"soon\"\n", server.url));
    assert_eq!(bad.code, Some(0), "{}", bad.both());
    assert_eq!(
        line(&bad),
        format!(
            "clnrm: order: statistics only ({}:{bad_line}: [ai] budget = `soon`: expected a positive duration such as \"800ms\" or \"2s\")",
            config.display()
        ),
        "{}",
        bad.both()
    );

    // no LLM configured: nothing said, nothing asked
    let plain = harness_fixture(
        &["basic::sync_"],
        &[
            ("CLNRM_HISTORY", history.to_str().expect("utf-8")),
            ("CLNRM_AI_URL", ""),
        ],
    );
    assert_eq!(plain.code, Some(0), "{}", plain.both());
    assert!(!plain.stderr.contains("clnrm: order:"), "{}", plain.both());
    // the server is down (and no advice cached for a fresh history): statistics only, one
    // line, the run goes on; with the cache above, the cached advice would still apply
    let fresh_history = dir.join("fresh").join("history.db");
    let down = harness_fixture(
        &["basic::sync_"],
        &[
            ("CLNRM_HISTORY", fresh_history.to_str().expect("utf-8")),
            ("CLNRM_AI_URL", NO_SERVER),
        ],
    );
    assert_eq!(down.code, Some(0), "{}", down.both());
    assert!(
        line(&down).starts_with("clnrm: order: statistics only (notice: LLM advisor unavailable"),
        "{}",
        down.both()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- replay --ai ------------------------------------------------------------------------------

/// Six cycles of `a` (1 s, passes), `b` (3 s, fails) and `c` (0.5 s, fails from cycle 4 on).
fn write_history_csv(dir: &Path) -> String {
    use std::fmt::Write as _;
    let mut csv = String::from("Id;Name;Duration;CalcPrio;LastRun;Verdict;Cycle;LastResults\n");
    let mut id = 0;
    for cycle in 1..=6 {
        for (name, secs, failed) in [("a", 1.0, false), ("b", 3.0, true), ("c", 0.5, cycle >= 4)] {
            id += 1;
            let verdict = u8::from(failed);
            writeln!(csv, "{id};{name};{secs};0;;{verdict};{cycle};[]").expect("a String");
        }
    }
    let path = dir.join("history.csv");
    std::fs::write(&path, csv).expect("write the history");
    path.to_str().expect("utf-8").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_ai_prints_the_advisors_ablation_on_the_last_cycles() {
    let dir = scratch("replay-ai");
    let csv = write_history_csv(&dir);
    let server = ollama(advice).await;
    let args = ["replay", csv.as_str(), "--ai", "--ai-cycles", "2"];
    let out = clnrm(&dir, &args, &server.url).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    let header = out
        .stdout
        .lines()
        .find(|l| l.starts_with("LLM ablation"))
        .unwrap_or_else(|| panic!("no ablation in:\n{}", out.both()));
    assert!(
        header
            .contains("last 2 of 6 scored cycles, model `qwen2.5:0.5b-instruct`, 2 of 2 answered"),
        "{header}"
    );
    let rows: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w == "5" || w == "6")
        })
        .collect();
    assert_eq!(rows.len(), 2, "{}", out.stdout);
    assert!(
        rows.iter().all(|r| !r.contains("planner's order")),
        "{rows:?}"
    );
    // Asked twice, about the three tests each time.
    let asked = server.bodies("/api/chat");
    assert_eq!(asked.len(), 2);
    assert!(asked.iter().all(|b| asked_names(b).len() == 3));

    // No server: the planner's order on every cycle, and why.
    let out = clnrm(&dir, &args, NO_SERVER).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(
        out.stdout.contains("no model answered, 0 of 2 answered"),
        "{}",
        out.both()
    );
    assert_eq!(
        out.stdout.matches("(planner's order: no advisor: ").count(),
        2,
        "{}",
        out.both()
    );
}
