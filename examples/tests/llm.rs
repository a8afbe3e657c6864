//! Model servers as services: a test talks to vLLM, TGI or Ollama the way an application does,
//! through the OpenAI-compatible chat API (and Ollama's own API).
//!
//! On a machine that reaches the registries the official images run (with a GPU for vLLM and
//! TGI). This repository's clnrm.toml redirects all three to one local stand-in image
//! (scripts/build-llm-image.sh): llama.cpp's server with Gemma 3 270M, which reads each
//! official image's command line and serves the part of its API the plugins rely on.
//!
//! Run with `cargo test -p clnrm-examples --test llm`.

use serde_json::{Value, json};

const MODEL: &str = "google/gemma-3-270m";

/// One chat completion from `base` (an OpenAI-style base URL ending in `/v1`).
async fn chat(base: &str, model: &str) -> clnrm::Result<Value> {
    let answer: Value = reqwest::Client::new()
        .post(format!("{base}/chat/completions"))
        .json(&json!({
            "model": model,
            "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 8,
        }))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(clnrm::Error::other)?
        .json()
        .await
        .map_err(clnrm::Error::other)?;
    let message = &answer["choices"][0]["message"];
    assert_eq!(message["role"], "assistant", "{answer}");
    assert!(message["content"].is_string(), "{answer}");
    assert!(
        answer["usage"]["completion_tokens"].as_u64() >= Some(1),
        "no token was generated: {answer}"
    );
    Ok(answer)
}

#[clnrm::test(services(llm = vllm(model = "google/gemma-3-270m")))]
async fn vllm_answers_a_chat_completion(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    let base = ctx.url("llm")?;
    assert!(base.ends_with("/v1"), "{base}");
    chat(&base, MODEL).await?;
    Ok(())
}

#[clnrm::test(services(llm = tgi(model = "google/gemma-3-270m")))]
async fn tgi_answers_a_chat_completion_and_names_its_model(
    ctx: clnrm::TestContext,
) -> clnrm::Result<()> {
    let base = ctx.url("llm")?;
    chat(&base, MODEL).await?;
    let info: Value = reqwest::get(format!("{}/info", base.trim_end_matches("/v1")))
        .await
        .map_err(clnrm::Error::other)?
        .json()
        .await
        .map_err(clnrm::Error::other)?;
    assert_eq!(info["model_id"], MODEL);
    Ok(())
}

#[clnrm::test(services(llm = ollama(models("gemma3:270m"))))]
async fn ollama_lists_the_model_it_pulled_and_answers_with_it(
    ctx: clnrm::TestContext,
) -> clnrm::Result<()> {
    let base = ctx.url("llm")?;
    let tags: Value = reqwest::get(format!("{base}/api/tags"))
        .await
        .map_err(clnrm::Error::other)?
        .json()
        .await
        .map_err(clnrm::Error::other)?;
    let names: Vec<&str> = tags["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["gemma3:270m"]);
    chat(&format!("{base}/v1"), "gemma3:270m").await?;
    Ok(())
}

clnrm::main!();
