//! A hand-written HTTP/1.1 server on 127.0.0.1:0 that answers like Ollama or an
//! OpenAI-compatible server, and records every request it receives.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) body: String,
}

impl Recorded {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("request body is JSON")
    }
}

/// What the server answers.
pub(crate) enum Reply {
    /// A status and a JSON body.
    Json(u16, Value),
    /// A status and a raw body.
    Raw(u16, String),
    /// 200 with `Transfer-Encoding: chunked`, one HTTP chunk per item, 20 ms apart;
    /// with `hang_after`, the connection then stays open without finishing.
    Chunks {
        parts: Vec<String>,
        hang_after: bool,
    },
    /// Reads the request and never answers.
    Hang,
    /// A status and a JSON body, sent after a delay.
    JsonAfter(Duration, u16, Value),
}

pub(crate) struct MockServer {
    pub(crate) url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl MockServer {
    pub(crate) async fn start(
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let log = Arc::clone(&requests);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let handler = Arc::clone(&handler);
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let _ = serve(stream, &*handler, &log).await;
                });
            }
        });
        Self { url, requests }
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub(crate) fn paths(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// The bodies of the requests to `path`.
    pub(crate) fn bodies(&self, path: &str) -> Vec<Value> {
        self.requests()
            .iter()
            .filter(|r| r.path == path)
            .map(Recorded::json)
            .collect()
    }
}

async fn serve(
    mut stream: TcpStream,
    handler: &(dyn Fn(&Recorded) -> Reply + Send + Sync),
    log: &Mutex<Vec<Recorded>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.lines();
    let mut start = lines.next().unwrap_or("").split(' ');
    let method = start.next().unwrap_or("").to_owned();
    let path = start.next().unwrap_or("").to_owned();
    let length: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
    let request = Recorded { method, path, body };
    log.lock().unwrap().push(request.clone());
    match handler(&request) {
        Reply::Json(status, value) => {
            write_full(&mut stream, status, "application/json", &value.to_string()).await
        }
        Reply::Raw(status, body) => write_full(&mut stream, status, "text/html", &body).await,
        Reply::Chunks { parts, hang_after } => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n")
                .await?;
            for part in parts {
                stream
                    .write_all(format!("{:x}\r\n{part}\r\n", part.len()).as_bytes())
                    .await?;
                stream.flush().await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if hang_after {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            stream.write_all(b"0\r\n\r\n").await
        }
        Reply::JsonAfter(delay, status, value) => {
            tokio::time::sleep(delay).await;
            write_full(&mut stream, status, "application/json", &value.to_string()).await
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
    }
}

async fn write_full(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
