//! A clnrm test binary whose own telemetry the tests of `tests/e2e/self_telemetry.rs` check: they
//! run it with `OTEL_*` variables pointing at a receiver and read the span tree it exported. A
//! `[[bin]]`, not a `[[test]]`: one test fails on purpose.
//!
//! `FIXTURE_DIR` names a writable directory (attempt counters, thread names); `OTEL_SUT` the
//! `otel-sut` binary the `sut` test runs with the test's `traceparent`.

use std::path::PathBuf;

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn fixture_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("FIXTURE_DIR").expect("FIXTURE_DIR names a writable directory"))
}

mod plain {
    use super::fixture_dir;

    #[clnrm::test]
    async fn passes() {}

    #[clnrm::test(retries = 1)]
    async fn flaky() -> Result<(), String> {
        let counter = fixture_dir().join("flaky.count");
        let n = std::fs::read_to_string(&counter)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
            .unwrap_or(0)
            + 1;
        std::fs::write(&counter, n.to_string()).map_err(|e| e.to_string())?;
        if n == 1 {
            return Err("the first attempt fails on purpose".to_owned());
        }
        Ok(())
    }

    #[clnrm::test]
    async fn fails() -> Result<(), String> {
        Err("the fixture fails on purpose: expected 1, found 2".to_owned())
    }

    /// Writes the names of this process's threads (`/proc/self/task/*/comm`), one a line.
    #[clnrm::test]
    fn threads() -> Result<(), String> {
        let mut names = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").map_err(|e| e.to_string())? {
            let comm = task.map_err(|e| e.to_string())?.path().join("comm");
            names.push(
                std::fs::read_to_string(comm)
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            );
        }
        std::fs::write(fixture_dir().join("threads"), names.join("\n")).map_err(|e| e.to_string())
    }
}

mod sut {
    /// Runs `otel-sut honest` with the test's `traceparent`: its spans join the test's trace.
    #[clnrm::test]
    fn calls_the_sut(ctx: clnrm::TestContext) -> Result<(), String> {
        let traceparent = ctx
            .traceparent()
            .ok_or("no traceparent: clnrm exports no traces in this process")?;
        let (name, value) = ctx.traceparent_header().ok_or("no header")?;
        if name != "traceparent" || value != traceparent {
            return Err(format!("header {name}: {value}, traceparent {traceparent}"));
        }
        let sut = std::env::var("OTEL_SUT").map_err(|_| "OTEL_SUT names otel-sut")?;
        let output = std::process::Command::new(sut)
            .arg("honest")
            .env("TRACEPARENT", traceparent)
            .env("OTEL_SERVICE_NAME", "sut")
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .output()
            .map_err(|e| e.to_string())?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() || stdout.trim() != "success" {
            return Err(format!(
                "otel-sut: {}: {stdout} {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(())
    }
}

mod cache {
    use super::R;

    async fn ping(url: &str) -> R {
        let client = redis::Client::open(url)?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let pong: String = redis::cmd("PING").query_async(&mut conn).await?;
        if pong != "PONG" {
            return Err(format!("PING answered {pong:?}").into());
        }
        Ok(())
    }

    #[clnrm::test(services(cache = redis))]
    async fn first(ctx: clnrm::TestContext) -> R {
        ping(&ctx.url("cache")?).await
    }

    #[clnrm::test(services(cache = redis))]
    async fn second(ctx: clnrm::TestContext) -> R {
        ping(&ctx.url("cache")?).await
    }
}

clnrm::main!();
