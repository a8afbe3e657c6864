//! The model-server plugins (vllm, tgi, ollama) from both front doors, on the local stand-in
//! image (clnrm.toml [images]; scripts/build-llm-image.sh). The chat round trips of the three
//! are `#[clnrm::test]`s in examples/tests/llm.rs.

use clnrm::docker::{Gpus, labels};
use clnrm::{Registry, ServiceSpec};

use crate::support::{containers_with_label, run_bin, run_env, scratch};

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");

#[tokio::test(flavor = "multi_thread")]
async fn an_ollama_model_that_cannot_be_pulled_is_an_infrastructure_error_naming_it() {
    let env = run_env().await;
    let spec = ServiceSpec::new("llm", "ollama").models(["gemma3:270m", "no-such-model:7b"]);
    let err = Registry::builtin()
        .start_all(&env, &[spec])
        .await
        .expect_err("a model that does not exist cannot be pulled");
    let text = format!("{err:?}");
    assert!(
        text.contains("model `no-such-model:7b` could not be pulled"),
        "{text}"
    );
    // Ollama's own words, passed on.
    assert!(text.contains("file does not exist"), "{text}");
    assert!(
        containers_with_label(labels::RUN, env.id())
            .await
            .is_empty(),
        "the container of a failed start is removed"
    );
    env.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn model_servers_are_healthy_while_they_run_and_say_why_not_after() {
    let env = run_env().await;
    let specs = [
        ServiceSpec::new("vllm", "vllm").model("google/gemma-3-270m"),
        ServiceSpec::new("ollama", "ollama"),
    ];
    let services = Registry::builtin().start_all(&env, &specs).await.unwrap();
    for name in ["vllm", "ollama"] {
        assert_eq!(
            services.health(name).await.unwrap(),
            clnrm::HealthStatus::Healthy,
            "{name}"
        );
    }
    // vLLM's metrics are Prometheus text on the same port.
    let vllm = services.get("vllm").unwrap();
    let base = vllm.url().unwrap().trim_end_matches("/v1").to_owned();
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.lines().any(|l| l.starts_with("# TYPE")),
        "{metrics}"
    );
    services.get("ollama").unwrap().stop().await.unwrap();
    assert!(matches!(
        services.health("ollama").await.unwrap(),
        clnrm::HealthStatus::Unhealthy(_)
    ));
    services.stop_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gpu_request_reaches_docker_which_refuses_it_without_a_gpu_runtime() {
    let env = run_env().await;
    let spec = ServiceSpec::new("llm", "vllm")
        .model("google/gemma-3-270m")
        .gpus(Gpus::All);
    let err = Registry::builtin()
        .start_all(&env, &[spec])
        .await
        .expect_err("this machine has no GPU runtime");
    let text = format!("{err:?}");
    assert!(text.contains("failed to start service `llm`"), "{text}");
    assert!(
        text.contains("gpu"),
        "Docker's refusal names the GPU request: {text}"
    );
    env.stop().await.unwrap();
}

#[test]
fn suites_pull_ollama_models_and_validate_the_model_options() {
    let dir = scratch("llm", "suite");
    let suite = dir.join("ollama.clnrm.toml");
    std::fs::write(
        &suite,
        r#"version = 1
[suite]
name = "ollama"

[services.llm]
plugin = "ollama"
models = ["gemma3:270m"]

[[scenarios]]
name = "the pulled model is listed"
[[scenarios.steps]]
name = "tags"
service = "llm"
run = ["curl", "-sf", "http://127.0.0.1:11434/api/tags"]
expect.stdout.contains = "gemma3:270m"
"#,
    )
    .unwrap();
    let out = run_bin(CLNRM, &["run", suite.to_str().unwrap()], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("PASS ollama/the pulled model is listed"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bad = dir.join("bad.clnrm.toml");
    std::fs::write(
        &bad,
        "version = 1\n[suite]\nname = \"bad\"\n\n[services.llm]\nplugin = \"vllm\"\nmodels = [\"x\"]\ngpus = \"some\"\n\n[services.pull]\nplugin = \"ollama\"\nmodel = \"x\"\n\n[[scenarios]]\nname = \"s\"\n[[scenarios.steps]]\nname = \"t\"\nrun = [\"true\"]\nservice = \"llm\"\n",
    )
    .unwrap();
    let out = run_bin(CLNRM, &["validate", bad.to_str().unwrap()], &[]);
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{said}");
    for expected in [
        "bad.clnrm.toml:5:1: error: service \"llm\" uses plugin \"vllm\", which serves one model: add `model = \"org/name\"`",
        "bad.clnrm.toml:7:11: error: `models` in service \"llm\" is for the ollama plugin",
        "bad.clnrm.toml:8:8: error: `gpus` in service \"llm\": expected \"all\" or a number of GPUs, found `some`",
        "bad.clnrm.toml:12:9: error: service \"pull\": ollama pulls a list: write `models = [\"name:tag\"]`",
    ] {
        assert!(said.contains(expected), "missing {expected:?} in:\n{said}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn clnrm_plugins_lists_the_model_servers_and_what_ready_means() {
    let out = run_bin(CLNRM, &["plugins"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for (name, image, ready) in [
        (
            "vllm",
            "vllm/vllm-openai:latest",
            "/v1/models lists the model",
        ),
        (
            "tgi",
            "ghcr.io/huggingface/text-generation-inference:latest",
            "/info names the model",
        ),
        (
            "ollama",
            "ollama/ollama:latest",
            "pulled and listed in /api/tags",
        ),
    ] {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no line for {name} in:\n{stdout}"));
        assert!(line.contains(image), "{line}");
        assert!(stdout.contains(ready), "{name}: {stdout}");
    }
}
