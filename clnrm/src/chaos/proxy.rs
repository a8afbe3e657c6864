//! The TCP proxy clnrm puts in front of a service: a listener on the loopback that forwards
//! every connection to the service's published port, through the toxics in force.
//!
//! One task per connection owns both sockets, so a reset can set `SO_LINGER 0` on the client's
//! socket before closing it (the client then reads "connection reset by peer"). Each direction
//! is a reader (blackhole, data limit, latency stamp) and a writer (waits for the stamp, paces
//! bandwidth, slices) joined by a channel, so latency delays bytes without slowing throughput.
//! A disabled proxy ("down") closes its live connections and stops listening: new connections
//! are refused.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::toxic::{Dice, Effects, Stream, Toxic, Toxics, effects};

const CHUNK: usize = 32 * 1024;

/// A running proxy. Clones share it; it stops when the last clone is dropped.
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    listen: SocketAddr,
    upstream: Mutex<String>,
    enabled: watch::Sender<bool>,
    /// Whether the listener is bound right now (it follows `enabled`).
    listening: watch::Sender<bool>,
    toxics: watch::Sender<Toxics>,
    versions: AtomicU64,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.accept.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
        // Live connections end with the proxy.
        self.enabled.send_replace(false);
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("name", &self.inner.name)
            .field("listen", &self.inner.listen)
            .field("upstream", &self.upstream())
            .finish()
    }
}

/// A proxy as Toxiproxy's REST API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyInfo {
    /// Its name.
    pub name: String,
    /// `host:port` it listens on.
    pub listen: String,
    /// `host:port` it forwards to.
    pub upstream: String,
    /// `false` when down.
    pub enabled: bool,
    /// Its toxics.
    pub toxics: Vec<Toxic>,
}

/// Why a proxy could not be started or changed.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The listen address could not be bound.
    #[error("proxy `{name}`: cannot listen on {listen}")]
    Bind {
        /// The proxy.
        name: String,
        /// The address.
        listen: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A toxic of that name is already there.
    #[error("toxic `{toxic}` already exists on proxy `{proxy}`")]
    ToxicExists {
        /// The proxy.
        proxy: String,
        /// The toxic.
        toxic: String,
    },
    /// No toxic of that name.
    #[error("toxic `{toxic}` not found on proxy `{proxy}`")]
    ToxicNotFound {
        /// The proxy.
        proxy: String,
        /// The toxic.
        toxic: String,
    },
    /// The toxic's values are invalid.
    #[error("{0}")]
    Invalid(String),
}

impl Proxy {
    /// Listens on `listen` (`127.0.0.1:0` picks a free port) and forwards to `upstream`.
    pub async fn start(
        name: impl Into<String>,
        listen: &str,
        upstream: impl Into<String>,
    ) -> Result<Proxy, ProxyError> {
        let name = name.into();
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| ProxyError::Bind {
                name: name.clone(),
                listen: listen.to_owned(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ProxyError::Bind {
            name: name.clone(),
            listen: listen.to_owned(),
            source,
        })?;
        let proxy = Proxy {
            inner: Arc::new(Inner {
                name,
                listen: addr,
                upstream: Mutex::new(upstream.into()),
                enabled: watch::Sender::new(true),
                listening: watch::Sender::new(true),
                toxics: watch::Sender::new(Vec::new()),
                versions: AtomicU64::new(0),
                accept: Mutex::new(None),
            }),
        };
        let task = tokio::spawn(accept_loop(Arc::downgrade(&proxy.inner), Some(listener)));
        *proxy.inner.accept.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        Ok(proxy)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Where clients connect.
    pub fn listen_addr(&self) -> SocketAddr {
        self.inner.listen
    }

    /// Where it forwards to.
    pub fn upstream(&self) -> String {
        self.inner
            .upstream
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Forwards new connections to `upstream` (a service restarted on new ports).
    pub fn set_upstream(&self, upstream: impl Into<String>) {
        *self
            .inner
            .upstream
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = upstream.into();
    }

    /// Up or down. Down closes every live connection and refuses new ones.
    pub fn set_enabled(&self, enabled: bool) {
        self.inner.enabled.send_if_modified(|e| {
            let changed = *e != enabled;
            *e = enabled;
            changed
        });
    }

    /// Up or down, and returns once the listener follows (bound again, or closed).
    pub async fn set_enabled_and_wait(&self, enabled: bool) {
        self.set_enabled(enabled);
        let mut listening = self.inner.listening.subscribe();
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            listening.wait_for(|l| *l == enabled),
        )
        .await;
    }

    /// `false` when down.
    pub fn enabled(&self) -> bool {
        *self.inner.enabled.borrow()
    }

    /// The toxics in force.
    pub fn toxics(&self) -> Vec<Toxic> {
        self.inner
            .toxics
            .borrow()
            .iter()
            .map(|(t, _)| t.clone())
            .collect()
    }

    /// Adds `toxic`; live connections feel it at once.
    pub fn add_toxic(&self, toxic: Toxic) -> Result<Toxic, ProxyError> {
        let toxic = toxic.validate().map_err(ProxyError::Invalid)?;
        let version = self.inner.versions.fetch_add(1, Ordering::Relaxed);
        let mut exists = false;
        self.inner.toxics.send_if_modified(|toxics| {
            exists = toxics.iter().any(|(t, _)| t.name == toxic.name);
            if !exists {
                toxics.push((toxic.clone(), version));
            }
            !exists
        });
        if exists {
            return Err(ProxyError::ToxicExists {
                proxy: self.inner.name.clone(),
                toxic: toxic.name,
            });
        }
        Ok(toxic)
    }

    /// Replaces the toxic named `name` (its attributes, stream or toxicity).
    pub fn update_toxic(&self, name: &str, toxic: Toxic) -> Result<Toxic, ProxyError> {
        let toxic = Toxic {
            name: name.to_owned(),
            ..toxic
        }
        .validate()
        .map_err(ProxyError::Invalid)?;
        let version = self.inner.versions.fetch_add(1, Ordering::Relaxed);
        let mut found = false;
        self.inner.toxics.send_if_modified(|toxics| {
            if let Some(slot) = toxics.iter_mut().find(|(t, _)| t.name == name) {
                *slot = (toxic.clone(), version);
                found = true;
            }
            found
        });
        if !found {
            return Err(self.not_found(name));
        }
        Ok(toxic)
    }

    /// Removes the toxic named `name`.
    pub fn remove_toxic(&self, name: &str) -> Result<(), ProxyError> {
        let mut found = false;
        self.inner.toxics.send_if_modified(|toxics| {
            let before = toxics.len();
            toxics.retain(|(t, _)| t.name != name);
            found = toxics.len() != before;
            found
        });
        if found {
            Ok(())
        } else {
            Err(self.not_found(name))
        }
    }

    fn not_found(&self, toxic: &str) -> ProxyError {
        ProxyError::ToxicNotFound {
            proxy: self.inner.name.clone(),
            toxic: toxic.to_owned(),
        }
    }

    /// Removes every toxic and brings it up: what Toxiproxy's `/reset` does.
    pub fn reset(&self) {
        self.inner.toxics.send_if_modified(|toxics| {
            let had = !toxics.is_empty();
            toxics.clear();
            had
        });
        self.set_enabled(true);
    }

    /// Toxiproxy's view of it.
    pub fn info(&self) -> ProxyInfo {
        ProxyInfo {
            name: self.inner.name.clone(),
            listen: self.inner.listen.to_string(),
            upstream: self.upstream(),
            enabled: self.enabled(),
            toxics: self.toxics(),
        }
    }
}

async fn accept_loop(proxy: std::sync::Weak<Inner>, mut listener: Option<TcpListener>) {
    let Some(strong) = proxy.upgrade() else {
        return;
    };
    let mut enabled = strong.enabled.subscribe();
    let listening = strong.listening.clone();
    let addr = strong.listen;
    drop(strong);
    loop {
        let up = *enabled.borrow_and_update();
        if !up {
            // Down: nothing listens, so connecting is refused.
            listener = None;
            listening.send_replace(false);
            if enabled.changed().await.is_err() {
                return;
            }
            continue;
        }
        if listener.is_none() {
            match TcpListener::bind(addr).await {
                Ok(l) => {
                    listener = Some(l);
                    listening.send_replace(true);
                }
                Err(e) => {
                    tracing::warn!("chaos proxy: cannot listen again on {addr}: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            }
        }
        let Some(bound) = listener.as_ref() else {
            continue;
        };
        tokio::select! {
            accepted = bound.accept() => {
                let Ok((client, _)) = accepted else { continue };
                let Some(inner) = proxy.upgrade() else { return };
                let upstream = inner.upstream.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let toxics = inner.toxics.subscribe();
                let enabled = inner.enabled.subscribe();
                drop(inner);
                tokio::spawn(connection(client, upstream, toxics, enabled));
            }
            changed = enabled.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// How a connection ends when a toxic or the proxy ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Close,
    Reset,
}

async fn connection(
    mut client: TcpStream,
    upstream: String,
    toxics: watch::Receiver<Toxics>,
    mut enabled: watch::Receiver<bool>,
) {
    let _ = client.set_nodelay(true);
    let mut server = match TcpStream::connect(&upstream).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!("chaos proxy: upstream {upstream}: {e}");
            let _ = client.set_zero_linger();
            return;
        }
    };
    let _ = server.set_nodelay(true);
    let (end_tx, mut end_rx) = watch::channel(None::<End>);
    let end = {
        let (client_read, client_write) = client.split();
        let (server_read, server_write) = server.split();
        let dice = Arc::new(Mutex::new(Dice::default()));
        let up = pump(
            client_read,
            server_write,
            Stream::Upstream,
            toxics.clone(),
            Arc::clone(&dice),
            end_tx.clone(),
        );
        let down = pump(
            server_read,
            client_write,
            Stream::Downstream,
            toxics,
            dice,
            end_tx,
        );
        tokio::select! {
            _ = async { tokio::join!(up, down) } => None,
            end = async {
                loop {
                    if let Some(end) = *end_rx.borrow_and_update() {
                        return end;
                    }
                    if end_rx.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            } => Some(end),
            _ = async {
                loop {
                    if !*enabled.borrow_and_update() || enabled.changed().await.is_err() {
                        return;
                    }
                }
            } => Some(End::Close),
        }
    };
    if end == Some(End::Reset) {
        let _ = client.set_zero_linger();
        let _ = server.set_zero_linger();
    }
}

enum Piece {
    Data {
        due: Instant,
        bytes: Vec<u8>,
        bandwidth: Option<u64>,
        slicer: Option<(u64, u64, u64)>,
    },
    Eof {
        slow_close: Option<u64>,
    },
}

/// One direction: read, apply the reader-side toxics, hand over to the writer.
async fn pump<R, W>(
    mut reader: R,
    writer: W,
    stream: Stream,
    mut toxics: watch::Receiver<Toxics>,
    dice: Arc<Mutex<Dice>>,
    end: watch::Sender<Option<End>>,
) where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let (tx, rx) = mpsc::channel::<Piece>(64);
    let read_side = async move {
        let mut buf = vec![0u8; CHUNK];
        let mut forwarded: u64 = 0;
        // When each timed toxic was first seen by this connection.
        let mut seen: std::collections::HashMap<String, Instant> = Default::default();
        loop {
            let fx: Effects = {
                let current = toxics.borrow_and_update();
                effects(
                    &current,
                    stream,
                    &mut dice.lock().unwrap_or_else(|p| p.into_inner()),
                )
            };
            let now = Instant::now();
            let mut deadline: Option<(Instant, End)> = None;
            if let Some((key, ms)) = &fx.reset_peer {
                let since = *seen.entry(key.clone()).or_insert(now);
                deadline = Some((since + Duration::from_millis(*ms), End::Reset));
            }
            if let Some((key, ms)) = &fx.timeout
                && *ms > 0
            {
                let since = *seen.entry(key.clone()).or_insert(now);
                let at = since + Duration::from_millis(*ms);
                if deadline.is_none_or(|(d, _)| at < d) {
                    deadline = Some((at, End::Close));
                }
            }
            if let Some((at, how)) = deadline
                && at <= now
            {
                end.send_replace(Some(how));
                return;
            }
            tokio::select! {
                read = reader.read(&mut buf) => {
                    let n = match read {
                        Ok(0) | Err(_) => {
                            let _ = tx.send(Piece::Eof { slow_close: fx.slow_close }).await;
                            return;
                        }
                        Ok(n) => n,
                    };
                    if fx.timeout.is_some() {
                        // A blackhole: the bytes go nowhere.
                        continue;
                    }
                    let mut n = n as u64;
                    let mut last = false;
                    if let Some(limit) = fx.limit_data
                        && forwarded + n >= limit
                    {
                        n = limit.saturating_sub(forwarded);
                        last = true;
                    }
                    forwarded += n;
                    let delay = match fx.latency {
                        Some((latency, jitter)) => {
                            let jitter = if jitter > 0 {
                                rand::random_range(0..=2 * jitter) as i64 - jitter as i64
                            } else {
                                0
                            };
                            Duration::from_millis((latency as i64 + jitter).max(0) as u64)
                        }
                        None => Duration::ZERO,
                    };
                    let piece = Piece::Data {
                        // From when the bytes arrived, not from when the read began.
                        due: Instant::now() + delay,
                        bytes: buf[..n as usize].to_vec(),
                        bandwidth: fx.bandwidth,
                        slicer: fx.slicer,
                    };
                    if n > 0 && tx.send(piece).await.is_err() {
                        return;
                    }
                    if last {
                        // Let the writer deliver what was allowed, then close.
                        let _ = tx.send(Piece::Eof { slow_close: None }).await;
                        tx.closed().await;
                        end.send_replace(Some(End::Close));
                        return;
                    }
                }
                changed = toxics.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = async {
                    match deadline {
                        Some((at, _)) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
        }
    };
    tokio::join!(read_side, write_side(writer, rx));
}

async fn write_side<W: tokio::io::AsyncWrite + Unpin>(
    mut writer: W,
    mut rx: mpsc::Receiver<Piece>,
) {
    while let Some(piece) = rx.recv().await {
        match piece {
            Piece::Data {
                due,
                bytes,
                bandwidth,
                slicer,
            } => {
                // Only a real delay goes through the timer: its millisecond ticks would add
                // about a millisecond to every chunk otherwise.
                if due > Instant::now() {
                    tokio::time::sleep_until(due).await;
                }
                let slices: Vec<&[u8]> = match slicer {
                    Some((average, variation, _)) => slice(&bytes, average, variation),
                    None => vec![&bytes[..]],
                };
                for (i, part) in slices.iter().enumerate() {
                    if i > 0
                        && let Some((_, _, delay_us)) = slicer
                    {
                        tokio::time::sleep(Duration::from_micros(delay_us)).await;
                    }
                    if write_paced(&mut writer, part, bandwidth).await.is_err() {
                        return;
                    }
                }
            }
            Piece::Eof { slow_close } => {
                if let Some(ms) = slow_close {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                let _ = writer.shutdown().await;
                return;
            }
        }
    }
}

fn slice(bytes: &[u8], average: u64, variation: u64) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let size = if variation > 0 {
            let low = average.saturating_sub(variation).max(1);
            rand::random_range(low..=average + variation)
        } else {
            average.max(1)
        };
        let (head, tail) = rest.split_at((size as usize).min(rest.len()));
        out.push(head);
        rest = tail;
    }
    out
}

/// Writes `bytes`, at most `rate` KB/s when limited (0: never).
async fn write_paced<W: tokio::io::AsyncWrite + Unpin>(
    writer: &mut W,
    bytes: &[u8],
    rate: Option<u64>,
) -> std::io::Result<()> {
    match rate {
        None => writer.write_all(bytes).await,
        Some(0) => std::future::pending().await,
        Some(kb) => {
            let per_second = kb as f64 * 1024.0;
            // Pieces of about 10 ms each, so the pace is even.
            let piece = ((per_second / 100.0) as usize).max(1);
            for part in bytes.chunks(piece) {
                let started = Instant::now();
                writer.write_all(part).await?;
                let budget = Duration::from_secs_f64(part.len() as f64 / per_second);
                tokio::time::sleep_until(started + budget).await;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn round_trip(addr: SocketAddr) -> std::io::Result<Duration> {
        let mut s = TcpStream::connect(addr).await?;
        let t0 = std::time::Instant::now();
        s.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"ping");
        Ok(t0.elapsed())
    }

    #[tokio::test]
    async fn bytes_pass_unchanged_and_latency_delays_them() {
        let echo = echo_server().await;
        let proxy = Proxy::start("echo", "127.0.0.1:0", echo.to_string())
            .await
            .unwrap();
        let plain = round_trip(proxy.listen_addr()).await.unwrap();
        assert!(plain < Duration::from_millis(100), "{plain:?}");
        proxy
            .add_toxic(Toxic::latency(Duration::from_millis(150)))
            .unwrap();
        let slow = round_trip(proxy.listen_addr()).await.unwrap();
        assert!(slow >= Duration::from_millis(150), "{slow:?}");
        proxy.reset();
        assert!(proxy.toxics().is_empty());
    }

    #[tokio::test]
    async fn reset_peer_resets_and_down_refuses() {
        let echo = echo_server().await;
        let proxy = Proxy::start("echo", "127.0.0.1:0", echo.to_string())
            .await
            .unwrap();
        proxy.add_toxic(Toxic::reset_peer(Duration::ZERO)).unwrap();
        let err = round_trip(proxy.listen_addr()).await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
            ),
            "{err:?}"
        );
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err:?}");
        proxy.reset();
        proxy.set_enabled_and_wait(false).await;
        let refused = TcpStream::connect(proxy.listen_addr()).await.unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
        proxy.set_enabled_and_wait(true).await;
        round_trip(proxy.listen_addr()).await.unwrap();
    }

    #[tokio::test]
    async fn a_duplicate_toxic_is_refused_and_a_missing_one_is_not_found() {
        let proxy = Proxy::start("x", "127.0.0.1:0", "127.0.0.1:9")
            .await
            .unwrap();
        proxy.add_toxic(Toxic::bandwidth(1)).unwrap();
        assert!(matches!(
            proxy.add_toxic(Toxic::bandwidth(2)),
            Err(ProxyError::ToxicExists { .. })
        ));
        assert!(matches!(
            proxy.remove_toxic("nope"),
            Err(ProxyError::ToxicNotFound { .. })
        ));
        proxy.remove_toxic("bandwidth_downstream").unwrap();
    }

    #[test]
    fn slices_cover_the_bytes_in_order() {
        let bytes: Vec<u8> = (0..=255).collect();
        let parts = slice(&bytes, 10, 5);
        assert!(parts.iter().all(|p| (1..=15).contains(&p.len())));
        assert_eq!(parts.concat(), bytes);
    }
}
