//! Redis: a logical database per test, flushed (`FLUSHDB ASYNC`) when the test ends, off the
//! next test's path.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::sync::Semaphore;

/// The logical databases of one Redis server, lent to tests one each.
pub(crate) struct RedisDbs {
    host: String,
    port: u16,
    /// Several processes lend from this server (nextest): databases are handed out round-robin
    /// by a counter kept in database 0, so no two processes pick the same one at once.
    across_processes: Option<u32>,
    free: Mutex<Vec<u32>>,
    available: Semaphore,
}

/// Sends `commands` as RESP arrays and returns each reply as text (arrays joined by spaces;
/// errors as `Err`).
pub(crate) async fn redis_commands(
    host: &str,
    port: u16,
    commands: &[&[&str]],
) -> std::result::Result<Vec<String>, String> {
    let stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| e.to_string())?;
    let (read, mut write) = stream.into_split();
    let mut request = Vec::new();
    for command in commands {
        request.extend_from_slice(format!("*{}\r\n", command.len()).as_bytes());
        for part in *command {
            request.extend_from_slice(format!("${}\r\n{part}\r\n", part.len()).as_bytes());
        }
    }
    write.write_all(&request).await.map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(read);
    let mut replies = Vec::new();
    for _ in commands {
        replies.push(read_reply(&mut reader).await?);
    }
    Ok(replies)
}

async fn read_reply<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> std::result::Result<String, String> {
    let mut line = String::new();
    if reader
        .read_line(&mut line)
        .await
        .map_err(|e| e.to_string())?
        == 0
    {
        return Err("connection closed".to_owned());
    }
    let line = line.trim_end().to_owned();
    let (kind, rest) = line.split_at(line.len().min(1));
    match kind {
        "+" | ":" => Ok(rest.to_owned()),
        "-" => Err(rest.to_owned()),
        "$" => {
            let len: i64 = rest.parse().map_err(|_| format!("bad reply {line:?}"))?;
            if len < 0 {
                return Ok(String::new());
            }
            let mut data = String::new();
            reader
                .read_line(&mut data)
                .await
                .map_err(|e| e.to_string())?;
            Ok(data.trim_end().to_owned())
        }
        "*" => {
            let n: i64 = rest.parse().map_err(|_| format!("bad reply {line:?}"))?;
            let mut parts = Vec::new();
            for _ in 0..n.max(0) {
                parts.push(Box::pin(read_reply(reader)).await?);
            }
            Ok(parts.join(" "))
        }
        _ => Err(format!("bad reply {line:?}")),
    }
}

impl RedisDbs {
    /// Asks the server how many logical databases it has and lends all but database 0.
    pub(crate) async fn new(
        host: &str,
        port: u16,
        across_processes: bool,
    ) -> std::result::Result<Arc<Self>, String> {
        let replies = redis_commands(host, port, &[&["CONFIG", "GET", "databases"]]).await?;
        let count: u32 = replies[0]
            .split_whitespace()
            .last()
            .and_then(|n| n.parse().ok())
            .unwrap_or(16);
        let free: Vec<u32> = (1..count).rev().collect();
        Ok(Arc::new(RedisDbs {
            host: host.to_owned(),
            port,
            across_processes: across_processes.then_some(count.max(2) - 1),
            available: Semaphore::new(free.len()),
            free: Mutex::new(free),
        }))
    }

    /// A logical database of the test's own; waits while all are lent.
    pub(crate) async fn lease(&self) -> std::result::Result<u32, String> {
        if let Some(lendable) = self.across_processes {
            let n = redis_commands(&self.host, self.port, &[&["INCR", "clnrm:next-db"]]).await?;
            let n: u64 = n[0]
                .parse()
                .map_err(|_| format!("bad counter {:?}", n[0]))?;
            return Ok(1 + ((n - 1) % u64::from(lendable)) as u32);
        }
        let permit = self.available.acquire().await.map_err(|e| e.to_string())?;
        permit.forget();
        self.free
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .ok_or_else(|| "no free logical database".to_owned())
    }

    /// Flushes `db` and lends it again. `FLUSHDB ASYNC` (Redis 4+) empties the keyspace at once
    /// and frees the values in a background thread, so the next lease of `db` never waits for
    /// a large flush; a server that refuses `ASYNC` gets a plain `FLUSHDB`.
    pub(crate) async fn release(&self, db: u32) {
        let db_text = db.to_string();
        let flushed = match redis_commands(
            &self.host,
            self.port,
            &[&["SELECT", &db_text], &["FLUSHDB", "ASYNC"]],
        )
        .await
        {
            Err(e) if e.contains("syntax") || e.contains("wrong number") => {
                redis_commands(
                    &self.host,
                    self.port,
                    &[&["SELECT", &db_text], &["FLUSHDB"]],
                )
                .await
            }
            other => other,
        };
        if let Err(e) = flushed {
            tracing::warn!("cannot flush redis database {db}: {e}");
        }
        if self.across_processes.is_none() {
            self.free.lock().unwrap_or_else(|p| p.into_inner()).push(db);
            self.available.add_permits(1);
        }
    }

    /// `redis://HOST:PORT/DB`.
    pub(crate) fn url(&self, db: u32) -> String {
        format!("redis://{}:{}/{db}", self.host, self.port)
    }
}
