//! The advisor against local servers that answer like Ollama or an OpenAI-compatible server.

mod support;

use std::time::{Duration, Instant};

use clnrm::ai::{
    AdvisorInput, AiClient, AiConfig, AiError, Backend, BackendChoice, FailureReport,
    InsightsInput, LastOutcome, TestSummary, advise, advise_with, explain_failures,
};
use serde_json::{Value, json};
use support::{MockServer, Recorded, Reply};

fn summary(name: &str) -> TestSummary {
    TestSummary {
        name: name.to_owned(),
        runs: 20,
        failures: 2,
        flip_rate: 0.1,
        median_ms: 120,
        last_outcome: Some(LastOutcome::Passed),
        recent_failures: vec!["assertion failed: left == right".to_owned()],
    }
}

fn input(names: &[&str]) -> AdvisorInput {
    AdvisorInput {
        tests: names.iter().map(|n| summary(n)).collect(),
        changed_files: vec!["src/db.rs".to_owned()],
    }
}

fn config(url: &str) -> AiConfig {
    AiConfig {
        base_url: url.to_owned(),
        timeout: Duration::from_secs(5),
        ..AiConfig::default()
    }
}

fn ollama_chat(content: &Value) -> Value {
    json!({"model": "m", "message": {"role": "assistant", "content": content.to_string()}, "done": true, "done_reason": "stop"})
}

fn openai_chat(content: &Value) -> Value {
    json!({"object": "chat.completion", "choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": content.to_string()}}]})
}

fn good_advice() -> Value {
    json!({"order": ["db::c", "api::a", "api::b"],
           "risks": [{"test": "db::c", "risk": 0.9, "rationale": "touches src/db.rs"}]})
}

/// An Ollama that lists three models and answers chats with `chat`.
async fn ollama(chat: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> MockServer {
    MockServer::start(move |r| match r.path.as_str() {
        "/api/version" => Reply::Json(200, json!({"version": "0.12.3"})),
        "/api/tags" => Reply::Json(200, json!({"models": [
            {"name": "llama3.1:8b-instruct-q4_K_M", "size": 4_900_000_000u64, "details": {"parameter_size": "8.0B", "family": "llama"}},
            {"name": "nomic-embed-text:latest", "size": 274_000_000u64, "details": {"parameter_size": "137M", "family": "nomic-bert"}},
            {"name": "qwen2.5:0.5b-instruct", "size": 398_000_000u64, "details": {"parameter_size": "494.03M", "family": "qwen2"}},
            {"name": "qwen2.5:0.5b", "size": 398_000_000u64, "details": {"parameter_size": "494.03M", "family": "qwen2"}},
        ]})),
        "/api/chat" => chat(r),
        _ => Reply::Json(404, json!({"error": "not found"})),
    })
    .await
}

/// An OpenAI-compatible server (no `/api/version`) answering chats with `chat`.
async fn openai(chat: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> MockServer {
    MockServer::start(move |r| match r.path.as_str() {
        "/v1/models" => Reply::Json(
            200,
            json!({"object": "list", "data": [
                {"id": "Qwen/Qwen2.5-7B-Instruct", "object": "model", "owned_by": "vllm"},
                {"id": "Qwen/Qwen2.5-1.5B-Instruct", "object": "model", "owned_by": "vllm"},
                {"id": "Qwen/Qwen2.5-0.5B", "object": "model", "owned_by": "vllm"},
            ]}),
        ),
        "/v1/chat/completions" => chat(r),
        _ => Reply::Json(
            404,
            json!({"error": {"message": "File Not Found", "code": 404}}),
        ),
    })
    .await
}

#[tokio::test]
async fn ollama_answer_reorders_the_plan_and_the_request_carries_schema_model_and_temperature() {
    let server = ollama(|_| Reply::Json(200, ollama_chat(&good_advice()))).await;
    let outcome = advise(&config(&server.url), &input(&["api::a", "api::b", "db::c"])).await;

    assert_eq!(outcome.notice, None);
    assert_eq!(outcome.order.unwrap(), ["db::c", "api::a", "api::b"]);
    assert_eq!(outcome.risks["db::c"].risk, 0.9);
    assert_eq!(outcome.risks["db::c"].rationale, "touches src/db.rs");
    assert_eq!(outcome.model.as_deref(), Some("qwen2.5:0.5b-instruct"));
    assert_eq!(
        server.paths(),
        ["GET /api/version", "GET /api/tags", "POST /api/chat"]
    );

    let body = &server.bodies("/api/chat")[0];
    assert_eq!(body["model"], "qwen2.5:0.5b-instruct");
    assert_eq!(body["stream"], false);
    assert_eq!(body["options"]["temperature"], 0.0);
    assert_eq!(body["options"]["seed"], 0);
    assert_eq!(
        body["format"]["properties"]["order"]["items"]["enum"],
        json!(["api::a", "api::b", "db::c"])
    );
    assert_eq!(body["format"]["required"], json!(["order", "risks"]));
    assert_eq!(body["messages"][0]["role"], "system");
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains(r#"{"name":"api::a","runs":20,"fails":2,"flip":0.1,"median_ms":120,"last":"passed","recent_failures":["assertion failed: left == right"]}"#), "{user}");
    assert!(user.contains(r#"Changed files: ["src/db.rs"]"#), "{user}");
}

#[tokio::test]
async fn the_same_input_gives_byte_identical_requests() {
    let server = ollama(|_| Reply::Json(200, ollama_chat(&good_advice()))).await;
    let config = config(&server.url);
    advise(&config, &input(&["api::a", "api::b", "db::c"])).await;
    advise(&config, &input(&["api::a", "api::b", "db::c"])).await;
    let chats: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/chat")
        .map(|r| r.body)
        .collect();
    assert_eq!(chats.len(), 2);
    assert_eq!(chats[0], chats[1]);
}

#[tokio::test]
async fn ollama_stream_is_assembled_from_ndjson_chunks_split_anywhere() {
    let answer = good_advice().to_string();
    let (first, second) = answer.split_at(answer.len() / 2);
    let lines = [
        json!({"message": {"role": "assistant", "content": first}, "done": false}).to_string(),
        json!({"message": {"role": "assistant", "content": second}, "done": false}).to_string(),
        json!({"message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop"}).to_string(),
    ];
    let stream = format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2]);
    // HTTP chunks cut through lines, not at their ends.
    let parts: Vec<String> = stream
        .as_bytes()
        .chunks(37)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let server = ollama(move |_| Reply::Chunks {
        parts: parts.clone(),
        hang_after: false,
    })
    .await;
    let config = AiConfig {
        stream: true,
        model: Some("qwen2.5:0.5b-instruct".to_owned()),
        ..config(&server.url)
    };

    let outcome = advise(&config, &input(&["api::a", "api::b", "db::c"])).await;

    assert_eq!(outcome.notice, None);
    assert_eq!(outcome.order.unwrap(), ["db::c", "api::a", "api::b"]);
    assert_eq!(
        server.paths(),
        ["GET /api/version", "POST /api/chat"],
        "a configured model skips listing"
    );
    assert_eq!(server.bodies("/api/chat")[0]["stream"], true);
}

#[tokio::test]
async fn an_error_inside_the_stream_is_reported() {
    let parts = vec![
        format!(
            "{}\n",
            json!({"message": {"role": "assistant", "content": "{\"order\": ["}, "done": false})
        ),
        format!(
            "{}\n",
            json!({"error": "model runner has unexpectedly stopped"})
        ),
    ];
    let server = ollama(move |_| Reply::Chunks {
        parts: parts.clone(),
        hang_after: false,
    })
    .await;
    let config = AiConfig {
        stream: true,
        ..config(&server.url)
    };

    let outcome = advise(&config, &input(&["api::a", "api::b"])).await;

    assert_eq!(outcome.order, None);
    assert_eq!(
        outcome.notice.unwrap(),
        format!(
            "notice: LLM advisor unavailable (server error from {}: model runner has unexpectedly stopped); using the statistical plan",
            server.url
        )
    );
}

#[tokio::test]
async fn a_stream_that_ends_without_done_is_rejected() {
    let parts = vec![format!(
        "{}\n",
        json!({"message": {"role": "assistant", "content": "{}"}, "done": false})
    )];
    let server = ollama(move |_| Reply::Chunks {
        parts: parts.clone(),
        hang_after: false,
    })
    .await;
    let outcome = advise(
        &AiConfig {
            stream: true,
            ..config(&server.url)
        },
        &input(&["api::a"]),
    )
    .await;
    assert!(
        outcome
            .notice
            .unwrap()
            .contains("stream ended before its final `done` line")
    );
}

#[tokio::test]
async fn http_500_leaves_the_plan_with_the_servers_message() {
    let server =
        ollama(|_| Reply::Json(500, json!({"error": "llama runner process has terminated"}))).await;
    let outcome = advise(&config(&server.url), &input(&["api::a", "api::b"])).await;
    assert_eq!(outcome.order, None);
    assert_eq!(
        outcome.notice.unwrap(),
        format!(
            "notice: LLM advisor unavailable (HTTP 500 from {}/api/chat: llama runner process has terminated); using the statistical plan",
            server.url
        )
    );
}

#[tokio::test]
async fn a_server_that_never_answers_is_cut_off_at_the_timeout() {
    let server = MockServer::start(|_| Reply::Hang).await;
    let config = AiConfig {
        timeout: Duration::from_millis(400),
        ..config(&server.url)
    };
    let started = Instant::now();
    let outcome = advise(&config, &input(&["api::a"])).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    assert_eq!(
        outcome.notice.unwrap(),
        format!(
            "notice: LLM advisor unavailable (no answer from {} within 400 ms); using the statistical plan",
            server.url
        )
    );
}

#[tokio::test]
async fn a_stream_that_stalls_midway_is_cut_off_at_the_timeout() {
    let parts = vec![format!(
        "{}\n",
        json!({"message": {"role": "assistant", "content": "{"}, "done": false})
    )];
    let server = ollama(move |_| Reply::Chunks {
        parts: parts.clone(),
        hang_after: true,
    })
    .await;
    let config = AiConfig {
        stream: true,
        timeout: Duration::from_millis(600),
        ..config(&server.url)
    };
    let started = Instant::now();
    let outcome = advise(&config, &input(&["api::a"])).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(outcome.notice.unwrap().contains("within 600 ms"));
}

#[tokio::test]
async fn connection_refused_gives_the_one_line_notice() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let outcome = advise(&config(&url), &input(&["api::a"])).await;
    assert_eq!(outcome.order, None);
    assert_eq!(
        outcome.notice.unwrap(),
        format!(
            "notice: LLM advisor unavailable (connection refused at {url}); using the statistical plan"
        )
    );
}

#[tokio::test]
async fn a_garbage_body_is_rejected() {
    let server = ollama(|_| Reply::Raw(200, "<html>502 bad gateway</html>".to_owned())).await;
    let notice = advise(&config(&server.url), &input(&["api::a"]))
        .await
        .notice
        .unwrap();
    assert!(
        notice.starts_with(&format!(
            "notice: LLM advisor rejected (invalid answer from {}: body is not JSON",
            server.url
        )),
        "{notice}"
    );
    assert!(
        notice.ends_with("<html>502 bad gateway</html>); using the statistical plan"),
        "{notice}"
    );
}

#[tokio::test]
async fn a_model_answer_that_is_not_json_is_rejected() {
    let server = ollama(|_| {
        Reply::Json(200, json!({"message": {"role": "assistant", "content": "Sure! Run db::c first."}, "done": true}))
    })
    .await;
    let notice = advise(&config(&server.url), &input(&["api::a"]))
        .await
        .notice
        .unwrap();
    assert!(
        notice.contains("the model's answer is not JSON"),
        "{notice}"
    );
}

#[tokio::test]
async fn answers_that_drop_invent_or_repeat_tests_are_rejected() {
    let cases = [
        (
            json!({"order": ["db::c", "api::a"], "risks": []}),
            "`order` misses 1 of 3 tests (first: `api::b`)",
        ),
        (
            json!({"order": ["db::c", "api::a", "api::b", "api::z"], "risks": []}),
            "`order` names unknown test `api::z`",
        ),
        (
            json!({"order": ["db::c", "db::c", "api::a", "api::b"], "risks": []}),
            "`order` names test `db::c` twice",
        ),
        (
            json!({"order": ["db::c", "api::a", "api::b"], "risks": [{"test": "db::c", "risk": 7, "rationale": "x"}]}),
            "risk 7 for `db::c` is outside 0..=1",
        ),
    ];
    for (answer, reason) in cases {
        let server = ollama(move |_| Reply::Json(200, ollama_chat(&answer))).await;
        let outcome = advise(&config(&server.url), &input(&["api::a", "api::b", "db::c"])).await;
        assert_eq!(outcome.order, None);
        assert!(outcome.risks.is_empty());
        assert_eq!(
            outcome.notice.unwrap(),
            format!("notice: LLM advisor rejected ({reason}); using the statistical plan")
        );
    }
}

#[tokio::test]
async fn tests_beyond_the_cap_keep_their_statistical_place_after_the_advised_ones() {
    let names: Vec<String> = (0..55).map(|i| format!("t{i:02}")).collect();
    // The "model" reverses whatever it was sent.
    let server = ollama(|r| {
        let sent = r.json()["format"]["properties"]["order"]["items"]["enum"].clone();
        let mut order: Vec<Value> = sent.as_array().unwrap().clone();
        order.reverse();
        Reply::Json(200, ollama_chat(&json!({"order": order, "risks": []})))
    })
    .await;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let outcome = advise(&config(&server.url), &input(&refs)).await;
    let order = outcome.order.unwrap();
    let mut expected: Vec<String> = names[..50].iter().rev().cloned().collect();
    expected.extend(names[50..].iter().cloned());
    assert_eq!(order, expected);
}

#[tokio::test]
async fn openai_server_is_detected_and_its_smallest_instruct_model_chosen() {
    let server = openai(|_| Reply::Json(200, openai_chat(&good_advice()))).await;
    let client = AiClient::connect(&config(&server.url)).await.unwrap();
    assert_eq!(client.backend(), Backend::OpenAi);
    assert_eq!(client.model(), "Qwen/Qwen2.5-1.5B-Instruct");

    let outcome = advise_with(&client, &input(&["api::a", "api::b", "db::c"]))
        .await
        .unwrap();
    assert_eq!(outcome.order.unwrap(), ["db::c", "api::a", "api::b"]);
    assert_eq!(
        server.paths(),
        [
            "GET /api/version",
            "GET /v1/models",
            "POST /v1/chat/completions"
        ]
    );
    let body = &server.bodies("/v1/chat/completions")[0];
    assert_eq!(body["model"], "Qwen/Qwen2.5-1.5B-Instruct");
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(body["seed"], 0);
    assert_eq!(body["stream"], false);
    assert_eq!(body["max_tokens"], 128 + 96 * 3);
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(
        body["response_format"]["json_schema"]["name"],
        "clnrm_test_advice"
    );
    assert_eq!(
        body["response_format"]["json_schema"]["schema"]["properties"]["risks"]["items"]["properties"]
            ["risk"],
        json!({"type": "number", "minimum": 0, "maximum": 1})
    );
}

#[tokio::test]
async fn ollama_is_detected_by_its_version_endpoint() {
    let server = ollama(|_| Reply::Hang).await;
    let client = AiClient::connect(&config(&server.url)).await.unwrap();
    assert_eq!(client.backend(), Backend::Ollama);
    assert_eq!(client.version().await.unwrap().as_deref(), Some("0.12.3"));
    assert_eq!(client.list_models().await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_server_with_neither_api_is_named() {
    let server = MockServer::start(|_| Reply::Json(404, json!({"detail": "Not Found"}))).await;
    let err = AiClient::connect(&config(&server.url)).await.unwrap_err();
    assert!(matches!(err, AiError::NoBackend { .. }));
    assert_eq!(
        err.to_string(),
        format!("no Ollama or OpenAI-compatible API at {}", server.url)
    );
}

#[tokio::test]
async fn a_forced_backend_skips_detection() {
    let server = openai(|_| Reply::Json(200, openai_chat(&good_advice()))).await;
    let config = AiConfig {
        backend: BackendChoice::OpenAi,
        ..config(&server.url)
    };
    let client = AiClient::connect(&config).await.unwrap();
    assert_eq!(client.backend(), Backend::OpenAi);
    assert_eq!(server.paths(), ["GET /v1/models"]);
}

#[tokio::test]
async fn a_rejected_json_schema_falls_back_to_json_object_once_and_for_all() {
    let server = openai(|r| {
        if r.json()["response_format"]["type"] == "json_schema" {
            Reply::Json(400, json!({"error": {"code": 400, "message": "response_format type must be one of \"text\" or \"json_object\"", "type": "invalid_request_error"}}))
        } else {
            Reply::Json(200, openai_chat(&good_advice()))
        }
    })
    .await;
    let client = AiClient::connect(&config(&server.url)).await.unwrap();
    let tests = input(&["api::a", "api::b", "db::c"]);
    let first = advise_with(&client, &tests).await.unwrap();
    let second = advise_with(&client, &tests).await.unwrap();
    assert_eq!(first.order, second.order);
    let formats: Vec<Value> = server
        .bodies("/v1/chat/completions")
        .iter()
        .map(|b| b["response_format"]["type"].clone())
        .collect();
    assert_eq!(formats, ["json_schema", "json_object", "json_object"]);
}

#[tokio::test]
async fn a_refusal_is_reported() {
    let server = openai(|_| {
        Reply::Json(200, json!({"choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": null, "refusal": "I can't help with that."}}]}))
    })
    .await;
    let outcome = advise(&config(&server.url), &input(&["api::a"])).await;
    assert_eq!(
        outcome.notice.unwrap(),
        "notice: LLM advisor rejected (the model refused: I can't help with that.); using the statistical plan"
    );
}

#[tokio::test]
async fn an_answer_cut_at_the_token_limit_is_rejected() {
    let server = openai(|_| {
        Reply::Json(
            200,
            json!({"choices": [{"index": 0, "finish_reason": "length",
            "message": {"role": "assistant", "content": "{\"order\": [\"api"}}]}),
        )
    })
    .await;
    let notice = advise(&config(&server.url), &input(&["api::a"]))
        .await
        .notice
        .unwrap();
    assert!(notice.contains("answer cut at the token limit"), "{notice}");
}

#[tokio::test]
async fn an_unknown_configured_model_is_reported_with_the_servers_message() {
    let server = ollama(|_| {
        Reply::Json(
            404,
            json!({"error": "model \"nope\" not found, try pulling it first"}),
        )
    })
    .await;
    let config = AiConfig {
        model: Some("nope".to_owned()),
        ..config(&server.url)
    };
    let notice = advise(&config, &input(&["api::a"])).await.notice.unwrap();
    assert!(
        notice.contains("HTTP 404 from") && notice.contains("model \"nope\" not found"),
        "{notice}"
    );
}

fn failures() -> InsightsInput {
    let failure = |test: &str, message: &str| FailureReport {
        test: test.to_owned(),
        message: message.to_owned(),
        log_tail: "db  | FATAL: too many connections\napp | retrying".to_owned(),
    };
    InsightsInput {
        failures: vec![
            failure("db::insert", "connection refused"),
            failure("db::select", "connection refused"),
            failure("api::login", "expected 200, got 500"),
        ],
    }
}

#[tokio::test]
async fn insights_group_known_failures_and_list_the_rest() {
    let server = ollama(|_| {
        Reply::Json(
            200,
            ollama_chat(&json!({"groups": [{
            "cause": "database connection limit", "tests": ["db::select", "db::insert"],
            "insight": "Postgres refused connections: too many clients.",
            "recommendation": "Raise max_connections or pool fewer connections per test."}]})),
        )
    })
    .await;
    let outcome = explain_failures(&config(&server.url), &failures()).await;
    assert_eq!(outcome.notice, None);
    assert_eq!(outcome.groups.len(), 1);
    assert_eq!(outcome.groups[0].tests, ["db::select", "db::insert"]);
    assert_eq!(outcome.groups[0].cause, "database connection limit");
    assert_eq!(outcome.ungrouped, ["api::login"]);
    let body = &server.bodies("/api/chat")[0];
    assert_eq!(
        body["format"]["properties"]["groups"]["items"]["properties"]["tests"]["items"]["enum"],
        json!(["db::insert", "db::select", "api::login"])
    );
    assert!(
        body["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("FATAL: too many connections")
    );
}

#[tokio::test]
async fn insights_naming_a_test_that_did_not_fail_are_rejected() {
    let server = ollama(|_| {
        Reply::Json(200, ollama_chat(&json!({"groups": [{
            "cause": "flaky network", "tests": ["db::insert", "net::ping"], "insight": "i", "recommendation": "r"}]})))
    })
    .await;
    let outcome = explain_failures(&config(&server.url), &failures()).await;
    assert!(outcome.groups.is_empty());
    assert_eq!(
        outcome.ungrouped,
        ["db::insert", "db::select", "api::login"]
    );
    assert_eq!(
        outcome.notice.unwrap(),
        "notice: LLM insights rejected (group 1 names `net::ping`, which is not a failing test); no insights for this run"
    );
}

#[tokio::test]
async fn an_empty_plan_asks_nothing() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let outcome = advise(&config(&url), &AdvisorInput::default()).await;
    assert_eq!(outcome, Default::default());
}

#[tokio::test]
async fn escape_sequences_in_an_answer_never_reach_the_terminal() {
    // Retitle the terminal, clear the screen, ring the bell, move the cursor, hide text.
    let hostile = "\x1b]0;owned\x07\x1b[2J\x1b[Hfine\x07\x08 \x1b[8mhidden\x1b[0m\r";
    let server = ollama(move |_| {
        Reply::Json(
            200,
            ollama_chat(&json!({"order": ["db::c", "api::a", "api::b"],
                "risks": [{"test": "db::c", "risk": 0.9, "rationale": hostile}]})),
        )
    })
    .await;
    let outcome = advise(&config(&server.url), &input(&["api::a", "api::b", "db::c"])).await;
    let rationale = &outcome.risks["db::c"].rationale;
    assert_eq!(rationale, "fine hidden");
    assert!(!rationale.chars().any(char::is_control), "{rationale:?}");

    let server = ollama(move |_| {
        Reply::Json(
            200,
            ollama_chat(&json!({"groups": [{"cause": "db\x1b[2J down",
                "tests": ["db::insert", "db::select"],
                "insight": "\x1b]0;x\x07pool exhausted", "recommendation": "raise\x07 the limit"}]})),
        )
    })
    .await;
    let outcome = explain_failures(&config(&server.url), &failures()).await;
    let group = &outcome.groups[0];
    assert_eq!(
        (
            group.cause.as_str(),
            group.insight.as_str(),
            group.recommendation.as_str()
        ),
        ("db down", "pool exhausted", "raise the limit")
    );
}

// The advisor inside a test run (`clnrm::ai::run_advice`): budget, cache, merge.

mod run_advice {
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    use clnrm::ai::run_advice::{
        AdviceSource, Consultation, advisor_input, consult, consult_for_run,
    };
    use serde_json::json;

    use super::support::Reply;
    use super::{config, ollama, ollama_chat};

    fn stat() -> Vec<String> {
        ["api::a", "api::b", "db::c"].map(String::from).to_vec()
    }

    fn cache_dir(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("clnrm-advice-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    async fn consult_in(url: &str, dir: &Path, budget: Duration) -> (Consultation, Duration) {
        let (config, dir) = (config(url), dir.to_path_buf());
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let c = consult(
                &config,
                &dir,
                "k1",
                stat(),
                advisor_input(&stat(), &[]),
                budget,
            );
            (c, started.elapsed())
        })
        .await
        .unwrap()
    }

    fn chats(server: &super::support::MockServer) -> usize {
        server
            .paths()
            .iter()
            .filter(|p| p.as_str() == "POST /api/chat")
            .count()
    }

    // advised db::c, api::a, api::b against statistical api::a, api::b, db::c: mean ranks
    // a (0 + 1), b (1 + 2), c (2 + 0) -> a, c, b
    const MERGED: [&str; 3] = ["api::a", "db::c", "api::b"];

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn advice_within_the_budget_is_merged_applied_and_cached_for_the_next_run() {
        let server = ollama(|_| Reply::Json(200, ollama_chat(&super::good_advice()))).await;
        let dir = cache_dir("fresh");
        let (first, _) = consult_in(&server.url, &dir, Duration::from_secs(5)).await;
        assert_eq!(first.order, MERGED);
        assert!(
            matches!(&first.source, AdviceSource::Fresh { model } if model == "qwen2.5:0.5b-instruct"),
            "{:?}",
            first.source
        );
        assert_eq!(
            first.line(),
            "clnrm: order: fresh LLM advice (qwen2.5:0.5b-instruct) merged with the statistical plan"
        );
        let (second, took) = consult_in(&server.url, &dir, Duration::from_secs(5)).await;
        assert_eq!(second.order, MERGED);
        assert!(
            matches!(second.source, AdviceSource::Cached { .. }),
            "{:?}",
            second.source
        );
        assert!(
            took < Duration::from_millis(500),
            "cached advice took {took:?}"
        );
        assert_eq!(chats(&server), 1, "the cached run asks nothing");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn late_advice_never_holds_up_the_run_and_is_applied_on_the_next_one() {
        let server = ollama(|_| {
            Reply::JsonAfter(
                Duration::from_millis(1500),
                200,
                ollama_chat(&super::good_advice()),
            )
        })
        .await;
        let dir = cache_dir("late");
        let budget = Duration::from_millis(200);
        let (first, took) = consult_in(&server.url, &dir, budget).await;
        assert!(
            took < Duration::from_millis(1000),
            "held up {took:?} with a 200 ms budget"
        );
        assert_eq!(first.order, stat());
        assert_eq!(
            first.line(),
            "clnrm: order: statistics only (no LLM advice within 200 ms; it is cached for the next run when it comes)"
        );
        first
            .pending
            .expect("the advisor is still answering")
            .join()
            .unwrap();
        let (second, _) = consult_in(&server.url, &dir, budget).await;
        assert_eq!(second.order, MERGED);
        assert!(
            matches!(second.source, AdviceSource::Cached { .. }),
            "{:?}",
            second.source
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn invalid_advice_is_rejected_and_not_cached() {
        let invented = json!({"order": ["db::c", "api::a", "api::zzz"], "risks": []});
        let server = ollama(move |_| Reply::Json(200, ollama_chat(&invented))).await;
        let dir = cache_dir("invalid");
        let (first, _) = consult_in(&server.url, &dir, Duration::from_secs(5)).await;
        assert_eq!(first.order, stat());
        assert!(
            matches!(&first.source, AdviceSource::StatisticsOnly { reason } if reason.contains("rejected")),
            "{:?}",
            first.source
        );
        assert!(!dir.join("k1.json").exists(), "rejected advice was cached");
        let (second, _) = consult_in(&server.url, &dir, Duration::from_secs(5)).await;
        assert!(matches!(second.source, AdviceSource::StatisticsOnly { .. }));
        assert_eq!(chats(&server), 2, "nothing cached: the next run asks again");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn server_down_gives_statistics_only_and_one_notice_and_no_llm_configured_gives_nothing() {
        let dir = cache_dir("down");
        let history = dir.join("history.db");
        let down = |k: &str| match k {
            "CLNRM_AI_URL" => Some("http://127.0.0.1:9".to_owned()),
            "CLNRM_AI_BUDGET" => Some("2s".to_owned()),
            _ => None,
        };
        let c = consult_for_run(stat(), &[], &history, down).expect("an LLM is configured");
        assert_eq!(c.order, stat());
        let line = c.line();
        assert!(
            line.starts_with("clnrm: order: statistics only (notice: LLM advisor unavailable"),
            "{line}"
        );
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(consult_for_run(stat(), &[], &history, |_| None).is_none());
        let under_nextest = |k: &str| {
            if k == "NEXTEST" {
                Some("1".into())
            } else {
                down(k)
            }
        };
        assert!(consult_for_run(stat(), &[], &history, under_nextest).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

// ---- replay --ai ------------------------------------------------------------------------------

/// Five cycles of `a` (passes) and `b` (fails), `b` taking 3 s and `a` 1 s.
fn replay_rows() -> Vec<clnrm::plan::replay::RetecsRow> {
    (1..=5)
        .flat_map(|cycle| {
            [("a", 1.0, false), ("b", 3.0, true)].map(|(name, secs, failed)| {
                clnrm::plan::replay::RetecsRow {
                    line: 0,
                    id: String::new(),
                    name: name.to_owned(),
                    build_id: None,
                    duration_secs: secs,
                    last_run: String::new(),
                    failed,
                    cycle,
                }
            })
        })
        .collect()
}

/// The names the advisor was asked about, in the order sent (the schema's `enum`).
fn sent_names(body: &Value) -> Vec<Value> {
    body["format"]["properties"]["order"]["items"]["enum"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn replay_ai_sees_only_earlier_cycles_and_its_latency_is_charged_to_the_cycle() {
    // The advisor keeps the order it was sent, after 300 ms: only the wait tells it apart.
    let server = ollama(|r| {
        let order = sent_names(&r.json());
        Reply::JsonAfter(
            Duration::from_millis(300),
            200,
            ollama_chat(&json!({"order": order, "risks": []})),
        )
    })
    .await;
    let planner = clnrm::plan::PlannerConfig::default();
    let ablation = clnrm::ai::replay::replay_ai(&replay_rows(), &planner, &config(&server.url), 2)
        .await
        .unwrap();

    assert_eq!(ablation.scored_cycles, 5);
    assert_eq!(ablation.answered(), 2);
    assert_eq!(ablation.model.as_deref(), Some("qwen2.5:0.5b-instruct"));
    let cycles: Vec<i64> = ablation.cycles.iter().map(|c| c.cycle).collect();
    assert_eq!(cycles, [4, 5], "the last two scored cycles");
    // Before cycle 4 the advisor knows three runs of each test, before cycle 5 four.
    let bodies = server.bodies("/api/chat");
    assert_eq!(bodies.len(), 2);
    for (body, runs) in bodies.iter().zip([3, 4]) {
        let user = body["messages"][1]["content"].as_str().unwrap();
        assert!(
            user.contains(&format!(r#"{{"name":"b","runs":{runs},"fails":{runs},"#)),
            "{user}"
        );
        assert_eq!(
            sent_names(body),
            [json!("b"), json!("a")],
            "the planner's order"
        );
    }
    for c in &ablation.cycles {
        assert_eq!(c.notice, None);
        assert!(c.latency_secs >= 0.3, "{c:?}");
        // b (3 s, failing) first, then a: APFD 1 - 1/2 + 1/4, APFDc (4 - 1.5) / 4
        assert_eq!(c.plan.apfd, 0.75);
        assert_eq!(c.plan.apfdc, 2.5 / 4.0);
        // the same order, started `latency` later: same APFD, APFDc over the longer time
        assert_eq!(c.merged.apfd, 0.75);
        let expected = 2.5 / (4.0 + c.latency_secs);
        assert!((c.merged.apfdc - expected).abs() < 1e-9, "{c:?}");
        assert_eq!(c.advised, c.merged);
        assert!(c.merged.first_failure_share > c.plan.first_failure_share);
    }
}

#[tokio::test]
async fn replay_ai_keeps_the_planners_order_for_rejected_advice_and_without_a_server() {
    // Advice naming a test that is not in the cycle is rejected.
    let server = ollama(|_| {
        Reply::Json(
            200,
            ollama_chat(&json!({"order": ["b", "a", "zz"], "risks": []})),
        )
    })
    .await;
    let planner = clnrm::plan::PlannerConfig::default();
    let rows = replay_rows();
    let ablation = clnrm::ai::replay::replay_ai(&rows, &planner, &config(&server.url), 1)
        .await
        .unwrap();
    assert_eq!(ablation.answered(), 0);
    let c = &ablation.cycles[0];
    let notice = c.notice.as_deref().unwrap();
    assert!(notice.contains("unknown test `zz`"), "{notice}");
    assert_eq!(c.merged.apfd, c.plan.apfd);
    assert!(c.merged.apfdc <= c.plan.apfdc);

    // No server at all: every cycle keeps the planner's order and says why.
    let down = format!("http://127.0.0.1:{}", free_port());
    let ablation = clnrm::ai::replay::replay_ai(&rows, &planner, &config(&down), 3)
        .await
        .unwrap();
    assert_eq!((ablation.answered(), ablation.cycles.len()), (0, 3));
    for c in &ablation.cycles {
        let notice = c.notice.as_deref().unwrap();
        assert!(notice.starts_with("no advisor: "), "{notice}");
        assert_eq!(c.advised.apfd, c.plan.apfd);
    }
}

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
