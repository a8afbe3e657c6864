//! End-to-end tests on real Docker. A test that cannot reach Docker fails with the message of
//! `clnrm::docker::connect`; nothing here is skipped.

mod ai_cli;
mod chaos;
mod cleanup;
mod compat;
mod harness;
mod image_pins;
mod interrupt;
mod isolation_hooks;
mod llm;
mod marketplace;
mod marketplace_docker;
mod metrics;
mod otel_harness;
mod partition;
mod replay;
mod secrets;
mod self_telemetry;
mod services;
mod suite_cli;
mod suite_run;
mod support;
mod surrealdb;
mod telemetry;
mod telemetry_grpc;
mod watch_cli;
