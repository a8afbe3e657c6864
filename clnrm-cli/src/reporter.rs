//! Writing a run's events to the terminal: plain lines (one per finished scenario, on stdout), or
//! those lines plus a live status area on stderr, redrawn in place (as cargo and nextest draw
//! their progress on stderr, so stdout stays the results alone).

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clnrm::report::RunEvent;

use crate::progress::{Progress, frame, result_line};

/// How often the status area is redrawn when nothing happens (its clocks move).
const TICK: Duration = Duration::from_millis(200);

/// `--progress`: when to show the live status area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum ProgressMode {
    /// When stdout and stderr are both terminals (and `TERM` is not `dumb`).
    #[default]
    Auto,
    /// Always, even into a pipe or a file.
    Always,
    /// Never: plain lines only.
    Never,
}

impl ProgressMode {
    fn live(self) -> bool {
        match self {
            ProgressMode::Always => true,
            ProgressMode::Never => false,
            ProgressMode::Auto => {
                std::io::stdout().is_terminal()
                    && std::io::stderr().is_terminal()
                    && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
            }
        }
    }
}

/// Prints one run's events.
pub(crate) struct Reporter {
    live: Option<Mutex<Live>>,
}

struct Live {
    progress: Progress,
    /// Lines of the status area on screen now.
    height: usize,
}

impl Reporter {
    /// A reporter for a run of `suites` suites holding `scenarios` scenarios.
    pub(crate) fn new(mode: ProgressMode, suites: usize, scenarios: usize) -> Reporter {
        let live = mode.live().then(|| {
            Mutex::new(Live {
                progress: Progress::new(suites, scenarios, Instant::now()),
                height: 0,
            })
        });
        Reporter { live }
    }

    /// Takes one event of the run (the `on_event` of `run_suites`).
    pub(crate) fn event(&self, event: &RunEvent<'_>) {
        let Some(live) = &self.live else {
            if let RunEvent::ScenarioFinished(record) = event {
                println!("{}", result_line(record));
            }
            return;
        };
        let mut live = live.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if let Some(line) = live.progress.apply(event, now) {
            live.clear();
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
        live.draw(now);
    }

    /// Awaits `run`, redrawing the status area meanwhile; clears it at the end.
    pub(crate) async fn drive<F: Future>(&self, run: F) -> F::Output {
        let Some(live) = &self.live else {
            return run.await;
        };
        let mut run = std::pin::pin!(run);
        let mut tick = tokio::time::interval(TICK);
        let output = loop {
            tokio::select! {
                output = &mut run => break output,
                _ = tick.tick() => {
                    live.lock().unwrap_or_else(|p| p.into_inner()).draw(Instant::now());
                }
            }
        };
        live.lock().unwrap_or_else(|p| p.into_inner()).clear();
        output
    }
}

impl Live {
    fn draw(&mut self, now: Instant) {
        let lines = self.progress.status(now);
        write_stderr(&frame(self.height, &lines));
        self.height = lines.len();
    }

    fn clear(&mut self) {
        if self.height > 0 {
            write_stderr(&frame(self.height, &[]));
            self.height = 0;
        }
    }
}

fn write_stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}
