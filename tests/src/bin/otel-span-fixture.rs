//! `#[clnrm::test]`s with an `otel = true` service, for `tests/e2e/otel_harness.rs`: `otel-sut`
//! (mounted from `OTEL_SUT`) serves HTTP in a shared container and sends its spans to clnrm's
//! receiver; the tests send requests with their `traceparent` and check the spans of their own
//! trace with `TestContext::expect_spans`. A `[[bin]]`: some tests fail on purpose.

use clnrm::TestContext;
use clnrm::telemetry::{AttrValue, Bounds, SpanExpect, SpanExpectations, SpanKind};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// `GET path` on the service `app`, with the test's `traceparent`; the answer's body.
async fn get(
    ctx: &TestContext,
    path: &str,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let (name, value) = ctx
        .traceparent_header()
        .ok_or("an otel = true service gives the test a traceparent")?;
    let mut stream =
        tokio::net::TcpStream::connect((ctx.host("app")?, ctx.port("app", 8080)?)).await?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: app\r\n{name}: {value}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    if body != "success" {
        return Err(format!("GET {path}: {answer:?}").into());
    }
    Ok(body)
}

/// Exactly `count` server spans `GET /orders/{id}` from `app` for `path`, status 200.
fn orders(path: &str, count: u32, status: i64) -> SpanExpectations {
    let mut span = SpanExpect::new("order");
    span.name = Some("GET /orders/{id}".to_owned());
    span.service = Some("app".to_owned());
    span.kind = Some(SpanKind::Server);
    span.attrs = vec![
        ("url.path".to_owned(), AttrValue::String(path.to_owned())),
        (
            "http.response.status_code".to_owned(),
            AttrValue::Int(status),
        ),
    ];
    span.count = Bounds {
        min: Some(f64::from(count)),
        max: Some(f64::from(count)),
    };
    SpanExpectations {
        spans: vec![span],
        ..SpanExpectations::default()
    }
}

async fn requests_and_spans(ctx: &TestContext, path: &str, count: u32) -> R {
    for _ in 0..count {
        get(ctx, path).await?;
    }
    let verdict = ctx.expect_spans(&orders(path, count, 200)).await?;
    let spans = ctx.spans("app").await?;
    if spans.len() != count as usize {
        return Err(format!(
            "{} span(s) of app in this test's trace: {spans:#?}",
            spans.len()
        )
        .into());
    }
    println!("verdict: {verdict}");
    Ok(())
}

mod honest {
    use super::*;

    #[clnrm::test(services(app = generic(image = "debian:bookworm", cmd("otel-sut", "http", "8080"), port = 8080, wait_port = 8080, otel = true, mount = "${OTEL_SUT}:/usr/local/bin/otel-sut:ro")))]
    async fn two_requests(ctx: TestContext) -> R {
        requests_and_spans(&ctx, "/orders/2", 2).await
    }

    #[clnrm::test(services(app = generic(image = "debian:bookworm", cmd("otel-sut", "http", "8080"), port = 8080, wait_port = 8080, otel = true, mount = "${OTEL_SUT}:/usr/local/bin/otel-sut:ro")))]
    async fn three_requests(ctx: TestContext) -> R {
        requests_and_spans(&ctx, "/orders/3", 3).await
    }

    /// The service answers 200: an expectation of 500 fails with the nearest miss.
    #[clnrm::test(services(app = generic(image = "debian:bookworm", cmd("otel-sut", "http", "8080"), port = 8080, wait_port = 8080, otel = true, mount = "${OTEL_SUT}:/usr/local/bin/otel-sut:ro")))]
    async fn expects_a_500(ctx: TestContext) -> R {
        get(&ctx, "/orders/5").await?;
        ctx.expect_spans(&orders("/orders/5", 1, 500)).await?;
        Ok(())
    }
}

mod lying {
    use super::*;

    /// `otel-sut http-lie` answers "success" and sends no span.
    #[clnrm::test(services(app = generic(image = "debian:bookworm", cmd("otel-sut", "http-lie", "8080"), port = 8080, wait_port = 8080, otel = true, mount = "${OTEL_SUT}:/usr/local/bin/otel-sut:ro")))]
    async fn says_success(ctx: TestContext) -> R {
        get(&ctx, "/orders/1").await?;
        ctx.expect_spans(&orders("/orders/1", 1, 200)).await?;
        Ok(())
    }
}

clnrm::main!();
