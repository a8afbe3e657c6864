//! The optional LLM advisor: an Ollama / OpenAI-compatible client, compact prompts,
//! JSON-schema answers and their validation.
//!
//! The advisor is never a dependency of a run. [`advise`] and [`explain_failures`] never
//! fail: any problem (no server, timeout, HTTP error, refusal, invalid or rejected answer)
//! leaves the caller's statistical plan in force and yields a one-line `notice`.
//!
//! Every call is bounded by [`AiConfig::timeout`], 120 s unless `CLNRM_AI_TIMEOUT` says
//! otherwise ([`config::DEFAULT_TIMEOUT`]). That is generous on purpose: on a CPU-only,
//! 2-core machine under load a real advisor call to a 270M-parameter model took 41 to 95 s.
//! A call that takes longer becomes a notice like any other failure.
//!
//! - [`config`]: [`AiConfig`], parsed from `CLNRM_AI_*` values by the pure [`parse_ai_env`].
//! - [`client`]: [`AiClient`], one interface over two backends (Ollama's native `/api/chat`,
//!   OpenAI-compatible `/v1/chat/completions`), backend detection and model choice.
//! - [`summary`]: the plain input data ([`TestSummary`], [`FailureReport`]) and the caps that
//!   keep prompts compact.
//! - [`advisor`]: prompts, JSON schemas, validation and the two entry points.
//! - [`commands`]: what `clnrm ai-predict`, `ai-optimize` and `ai-orchestrate` do.
//! - [`replay`]: the replay benchmark's ablation with the advisor (`clnrm replay --ai`).
//! - [`run_advice`]: the advisor inside a test run: a time budget, a cache of validated
//!   advice keyed by history state and test set, merging with the statistical plan.

pub mod advisor;
pub mod client;
pub mod commands;
pub mod config;
mod error;
pub mod replay;
pub mod run_advice;
pub mod service;
pub mod summary;

pub use advisor::{
    AdvisorOutcome, InsightGroup, InsightsOutcome, Risk, advise, advise_with, explain_failures,
    explain_failures_with, validate_advice, validate_insights,
};
pub use client::{AiClient, Backend, ModelInfo, choose_model};
pub use config::{AiConfig, BackendChoice, parse_ai_env};
pub use error::AiError;
pub use summary::{AdvisorInput, FailureReport, InsightsInput, LastOutcome, TestSummary};
