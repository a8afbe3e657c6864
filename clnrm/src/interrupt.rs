//! Ctrl-C and SIGTERM, for every front end (the harness, `clnrm run`, `watch`, the `ai-*`
//! commands).
//!
//! The first signal does not kill the process. It is recorded ([`signal`], [`wait`]): no further
//! container or network is created (`creating` refuses), front ends stop starting work and
//! report what was cut short as interrupted (never as failures), and whatever they hold
//! ([`hold`]) is waited for, up to [`GRACE`]. Then [`finish`] waits for container creations in
//! flight, removes every container and network this process owns (by the owner label, and every
//! run registered with `register_run`) and exits with 128 + the signal number (130 / 143).
//! A second signal skips the wait: the removal still happens, then the exit.
//!
//! Installed by the first run environment ([`crate::RunEnv::start`]), by the harness and by the
//! CLI; installing twice is harmless.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// How long the first signal waits for front ends to wind down (report, record) before
/// [`finish`] runs anyway.
pub const GRACE: Duration = Duration::from_secs(10);

/// How long [`finish`] waits for container creations in flight before it sweeps.
const CREATIONS_GRACE: Duration = Duration::from_secs(15);

/// The signal that interrupted the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Signal {
    /// The exit code of a process ended by this signal: 128 + its number (130, 143).
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    /// `SIGINT` / `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

static STATE: OnceLock<watch::Sender<Option<Signal>>> = OnceLock::new();
static INSTALL: Once = Once::new();
static HOLDS: AtomicUsize = AtomicUsize::new(0);
static CREATING: AtomicUsize = AtomicUsize::new(0);
static LIVE: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
static FINISHING: Mutex<()> = Mutex::new(());

fn state() -> &'static watch::Sender<Option<Signal>> {
    STATE.get_or_init(|| watch::channel(None).0)
}

/// The signal that interrupted this process, if one did.
pub fn signal() -> Option<Signal> {
    *state().borrow()
}

/// Has a signal interrupted this process?
pub fn is_interrupted() -> bool {
    signal().is_some()
}

/// Resolves once a signal interrupts the process (at once if one did already).
pub async fn wait() -> Signal {
    let mut rx = state().subscribe();
    match rx.wait_for(Option::is_some).await {
        Ok(signal) => signal.unwrap_or(Signal::Interrupt),
        // The sender lives in a static: it is never dropped.
        Err(_) => std::future::pending().await,
    }
}

/// Blocks the calling (non-async) thread until a signal interrupts the process.
pub fn wait_blocking() -> Signal {
    loop {
        if let Some(signal) = signal() {
            return signal;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Records `signal` as if it had been received (for front ends that receive signals
/// themselves, and for tests).
pub fn raise(signal: Signal) {
    if state().borrow().is_none() {
        // Before anything winds down: the tests and attempts cut short end as interrupted.
        crate::telemetry::open::end_interrupted(true);
    }
    state().send_if_modified(|current| {
        if current.is_none() {
            *current = Some(signal);
            true
        } else {
            false
        }
    });
}

/// Keeps [`finish`] from running (for up to [`GRACE`] after the signal) while the holder winds
/// down: a front end holds one while it can still report and record what it did.
#[derive(Debug)]
#[must_use = "the hold ends when dropped"]
pub struct Hold(());

/// Takes a [`Hold`].
pub fn hold() -> Hold {
    HOLDS.fetch_add(1, Ordering::SeqCst);
    Hold(())
}

impl Drop for Hold {
    fn drop(&mut self) {
        HOLDS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A container or network creation in flight; [`finish`] waits for it before sweeping.
#[derive(Debug)]
pub(crate) struct Creating {
    answered: bool,
}

impl Creating {
    /// Docker answered the request (created, or refused): nothing more can appear from it.
    pub(crate) fn answered(&mut self) {
        self.answered = true;
    }
}

impl Drop for Creating {
    fn drop(&mut self) {
        if !self.answered {
            // Dropped before Docker answered (a run winding down drops its futures): Docker may
            // still create the container or network after this, so the final sweep looks again.
            *lock(&ABANDONED) = Some(Instant::now());
        }
        CREATING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// When a creation was last abandoned before Docker answered.
static ABANDONED: Mutex<Option<Instant>> = Mutex::new(None);

/// How long Docker may take to finish a creation whose request was abandoned.
const ABANDONED_GRACE: Duration = Duration::from_millis(2500);

/// When the final sweep looks a second time, at the least.
const RESWEEP_AFTER: Duration = Duration::from_millis(1000);

/// Announces a container or network creation; `Err` once the process was interrupted (nothing
/// may be created then: it could outlive the final sweep).
pub(crate) fn creating() -> Result<Creating, Signal> {
    CREATING.fetch_add(1, Ordering::SeqCst);
    // Checked after counting: either `finish` sees this creation, or this sees the signal.
    if let Some(signal) = signal() {
        CREATING.fetch_sub(1, Ordering::SeqCst);
        return Err(signal);
    }
    Ok(Creating { answered: false })
}

/// Registers a run whose containers and network [`finish`] removes.
pub(crate) fn register_run(run: &str, network: &str) {
    install();
    lock(&LIVE).push((run.to_owned(), network.to_owned()));
}

/// Forgets a run that was torn down.
pub(crate) fn unregister_run(run: &str) {
    lock(&LIVE).retain(|(r, _)| r != run);
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Watches for SIGINT and SIGTERM on a thread of its own (once per process).
pub fn install() {
    INSTALL.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("clnrm-signals".to_owned())
            .spawn(watch_signals);
        if let Err(e) = spawned {
            tracing::warn!("cannot watch for Ctrl-C/SIGTERM: {e}");
        }
    });
}

fn watch_signals() {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let first = rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return None;
        };
        let first = tokio::select! {
            _ = int.recv() => Signal::Interrupt,
            _ = term.recv() => Signal::Terminate,
        };
        raise(first);
        eprintln!(
            "clnrm: {first} received: stopping (no new work starts; what runs is cut short and \
             its containers removed); send it again to stop at once"
        );
        let deadline = tokio::time::Instant::now() + GRACE;
        let holds_released = async {
            while HOLDS.load(Ordering::SeqCst) > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::select! {
            () = holds_released => {}
            () = tokio::time::sleep_until(deadline) => {
                eprintln!("clnrm: still winding down after {} s: stopping now", GRACE.as_secs());
            }
            _ = int.recv() => eprintln!("clnrm: second signal: stopping now"),
            _ = term.recv() => eprintln!("clnrm: second signal: stopping now"),
        }
        Some(first)
    });
    if let Some(signal) = first {
        finish(signal);
    }
}

/// Removes everything this process created in Docker (after the creations in flight ended),
/// then exits with the signal's exit code. Called by the signal thread, or by a front end that
/// wound down before the grace ran out. Runs once; a concurrent caller waits for the exit.
pub fn finish(signal: Signal) -> ! {
    let _once = lock(&FINISHING);
    let waited = Instant::now();
    while CREATING.load(Ordering::SeqCst) > 0 && waited.elapsed() < CREATIONS_GRACE {
        std::thread::sleep(Duration::from_millis(20));
    }
    let runs: Vec<(String, String)> = lock(&LIVE).drain(..).collect();
    let mut removed = crate::docker::remove_owned_blocking(runs.clone());
    // Always look again: a creation abandoned mid-request can still land (Docker gets
    // `ABANDONED_GRACE` for it), and a container being created or removed by another thread
    // while the first sweep listed can be missed by it (seen once in ten interrupted harness
    // runs outside nextest on a busy machine).
    let again = Instant::now() + RESWEEP_AFTER;
    let again = match *lock(&ABANDONED) {
        Some(at) => again.max(at + ABANDONED_GRACE),
        None => again,
    };
    std::thread::sleep(again.saturating_duration_since(Instant::now()));
    removed += crate::docker::remove_owned_blocking(runs);
    if removed > 0 {
        eprintln!("clnrm: removed {removed} container(s) and network(s) of the interrupted run");
    }
    // The spans still open end as interrupted; all are delivered (bounded), as on a normal exit.
    crate::telemetry::open::end_interrupted(false);
    crate::telemetry::flush();
    std::process::exit(i32::from(signal.exit_code()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_exit_as_the_shell_reports_them() {
        assert_eq!(Signal::Interrupt.exit_code(), 130);
        assert_eq!(Signal::Terminate.exit_code(), 143);
        assert_eq!(Signal::Terminate.to_string(), "SIGTERM");
    }
}
