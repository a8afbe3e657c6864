//! Ctrl-C and SIGTERM: remove the containers of every live run, then exit as the signal would
//! have (130 / 143). Installed when the first run environment starts.

use std::sync::{Mutex, Once};

static LIVE: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

pub(crate) fn register(run: &str, network: &str) {
    INSTALL.call_once(install);
    LIVE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((run.to_owned(), network.to_owned()));
}

pub(crate) fn unregister(run: &str) {
    LIVE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|(r, _)| r != run);
}

fn install() {
    let spawned = std::thread::Builder::new()
        .name("clnrm-signals".to_owned())
        .spawn(|| {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let code = rt.block_on(async {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut int), Ok(mut term)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) else {
                    return None;
                };
                tokio::select! {
                    _ = int.recv() => Some(130),
                    _ = term.recv() => Some(143),
                }
            });
            let Some(code) = code else { return };
            let live: Vec<(String, String)> = LIVE
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain(..)
                .collect();
            if !live.is_empty() {
                eprintln!(
                    "clnrm: interrupted, removing the containers of {} run(s)",
                    live.len()
                );
            }
            for (run, network) in live {
                super::env::remove_run_blocking(run, network);
            }
            std::process::exit(code);
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot watch for Ctrl-C/SIGTERM: {e}");
    }
}
