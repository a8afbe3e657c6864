//! A small system under test that sends real OTLP through the OpenTelemetry SDK (OTLP/HTTP
//! protobuf, or OTLP/gRPC with `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`, configured by the standard
//! `OTEL_*` variables), for the span expectation tests.
//!
//! `otel-sut MODE [--peer HOST:PORT]`:
//! - `serve`: sends one `otel-sut.start` span, then sleeps (a container's main process);
//! - `honest`: under `TRACEPARENT`, a server span `handle order` (`http.request.method`,
//!   `http.route`, `http.response.status_code = 200`) with a child `store.write` that really
//!   writes and reads back a file, and with `--peer` a client span `connect` that really opens
//!   a TCP connection there (`server.address`, `server.port`); flushes, prints "success";
//! - `lie`: prints "success" and sends nothing;
//! - `wrong-attr`: as `honest`, but the response status attribute says 500;
//! - `no-propagation`: as `honest`, but ignores `TRACEPARENT` (a trace of its own);
//! - `http PORT`: an HTTP server; each request gets a server span `GET /orders/{id}` parented by
//!   the request's `traceparent` header, and the answer "success";
//! - `http-lie PORT`: the same answers, and no span at all.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().cloned().unwrap_or_default();
    let mut peer = None;
    let mut port = None;
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--peer" => peer = rest.next().cloned(),
            other if mode.starts_with("http") && port.is_none() => port = Some(other.to_owned()),
            other => fail(&format!("unknown argument {other:?}")),
        }
    }
    match mode.as_str() {
        "lie" => println!("success"),
        "http" => {
            let port =
                port.unwrap_or_else(|| fail("http: expected a port, like `otel-sut http 8080`"));
            serve_http(Some(&provider()), &port);
        }
        "http-lie" => {
            let port = port.unwrap_or_else(|| {
                fail("http-lie: expected a port, like `otel-sut http-lie 8080`")
            });
            serve_http(None, &port);
        }
        "serve" => {
            let provider = provider();
            let tracer = opentelemetry::global::tracer("otel-sut");
            let mut span = tracer.start("otel-sut.start");
            span.set_attribute(KeyValue::new("process.pid", i64::from(std::process::id())));
            span.end();
            flush(&provider);
            println!("serving");
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        "honest" | "wrong-attr" | "no-propagation" => {
            let provider = provider();
            let parent = if mode == "no-propagation" {
                Context::new()
            } else {
                parent_from_env()
            };
            let status = if mode == "wrong-attr" { 500 } else { 200 };
            let result = work(&parent, status, peer.as_deref());
            flush(&provider);
            if let Err(e) = provider.shutdown() {
                fail(&format!("exporter shutdown: {e}"));
            }
            match result {
                Ok(()) => println!("success"),
                Err(e) => fail(&e),
            }
        }
        other => fail(&format!(
            "unknown mode {other:?}; expected serve, http, honest, lie, wrong-attr or no-propagation"
        )),
    }
}

/// Answers every HTTP request with "success", under a server span parented by its
/// `traceparent` header.
/// Answers every request with "success"; with a provider, each in a server span.
fn serve_http(provider: Option<&SdkTracerProvider>, port: &str) {
    let listener = std::net::TcpListener::bind(format!("0.0.0.0:{port}"))
        .unwrap_or_else(|e| fail(&format!("listen on {port}: {e}")));
    println!("listening on {port}");
    let tracer = opentelemetry::global::tracer("otel-sut");
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => break,
            }
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let mut lines = head.lines();
        let request = lines.next().unwrap_or_default().to_owned();
        let mut carrier = HashMap::new();
        for line in lines {
            if let Some((k, v)) = line.split_once(':') {
                carrier.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let parent = TraceContextPropagator::new().extract(&carrier);
        let mut parts = request.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut span = tracer
            .span_builder("GET /orders/{id}")
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("http.request.method", method),
                KeyValue::new("url.path", path),
                KeyValue::new("http.response.status_code", 200_i64),
            ])
            .start_with_context(&tracer, &parent);
        let body = "success";
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(answer.as_bytes());
        span.end();
        if let Some(provider) = provider {
            flush(provider);
        }
    }
}

fn fail(why: &str) -> ! {
    eprintln!("otel-sut: {why}");
    std::process::exit(2)
}

fn provider() -> SdkTracerProvider {
    let grpc = [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ]
    .iter()
    .find_map(|k| std::env::var(k).ok())
    .is_some_and(|p| p == "grpc");
    let exporter = if grpc {
        // tonic's channel lives on a runtime (its connection task runs on the worker thread);
        // the batch processor's thread only hands it requests.
        let runtime = Box::leak(Box::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap_or_else(|e| fail(&format!("tokio runtime: {e}"))),
        ));
        let _inside = runtime.enter();
        opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
    } else {
        opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
    }
    .unwrap_or_else(|e| fail(&format!("OTLP exporter: {e}")));
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    provider
}

fn flush(provider: &SdkTracerProvider) {
    if let Err(e) = provider.force_flush() {
        fail(&format!("exporter flush: {e}"));
    }
}

/// The W3C trace context of `TRACEPARENT` (an empty context without one).
fn parent_from_env() -> Context {
    let mut carrier = HashMap::new();
    if let Ok(value) = std::env::var("TRACEPARENT") {
        carrier.insert("traceparent".to_owned(), value);
    }
    TraceContextPropagator::new().extract(&carrier)
}

fn work(parent: &Context, status: i64, peer: Option<&str>) -> Result<(), String> {
    let tracer = opentelemetry::global::tracer("otel-sut");
    let server = tracer
        .span_builder("handle order")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", "/orders/{id}"),
        ])
        .start_with_context(&tracer, parent);
    let cx = parent.with_span(server);

    let mut store = tracer
        .span_builder("store.write")
        .with_kind(SpanKind::Internal)
        .start_with_context(&tracer, &cx);
    let path = std::env::temp_dir().join(format!("otel-sut-{}", std::process::id()));
    let written = b"order 42";
    let stored = std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(written))
        .and_then(|()| {
            let mut back = Vec::new();
            std::fs::File::open(&path)?.read_to_end(&mut back)?;
            Ok(back)
        });
    let _ = std::fs::remove_file(&path);
    let result = match stored {
        Ok(back) if back == written => {
            store.set_attribute(KeyValue::new("file.size", back.len() as i64));
            store.add_event("file.verified", Vec::new());
            Ok(())
        }
        Ok(_) => Err("the file read back differs".to_owned()),
        Err(e) => Err(format!("file: {e}")),
    };
    if let Err(e) = &result {
        store.set_status(Status::error(e.clone()));
    }
    store.end();

    if let Some(peer) = peer {
        let (host, port) = peer
            .rsplit_once(':')
            .ok_or_else(|| format!("--peer {peer:?}: expected HOST:PORT"))?;
        let mut connect = tracer
            .span_builder("connect")
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("server.address", host.to_owned()),
                KeyValue::new("server.port", port.parse::<i64>().unwrap_or(0)),
            ])
            .start_with_context(&tracer, &cx);
        let connected = std::net::ToSocketAddrs::to_socket_addrs(peer)
            .map_err(|e| e.to_string())
            .and_then(|mut addrs| addrs.next().ok_or_else(|| "no address".to_owned()))
            .and_then(|addr| {
                std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = connected {
            connect.set_status(Status::error(format!("connect {peer}: {e}")));
        }
        connect.end();
    }

    let span = cx.span();
    span.set_attribute(KeyValue::new("http.response.status_code", status));
    span.end();
    result
}
