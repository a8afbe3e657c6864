//! The live progress display of `clnrm run` and `clnrm watch`, as pure functions: run events go
//! in, result lines and status-area frames come out. [`crate::reporter`] writes them.
//!
//! The status area is a few lines at the bottom of the terminal (one per running suite, then the
//! counts), redrawn in place with ANSI sequences; finished scenarios print as lines above it, the
//! same lines as without a terminal.

use std::fmt::Write as _;
use std::time::Instant;

use clnrm::report::{Outcome, RunEvent, TestRecord};

/// The line printed for a finished scenario: `PASS suite/scenario (0.4 s)`, with the reason for
/// anything but a pass.
pub(crate) fn result_line(record: &TestRecord) -> String {
    let label = match record.outcome {
        Outcome::Passed => "PASS",
        Outcome::Flaky => "FLAKY",
        Outcome::Failed => "FAIL",
        Outcome::TimedOut => "TIMEOUT",
        Outcome::InfraError => "ERROR",
        Outcome::Ignored => "SKIP",
        Outcome::Interrupted => "INTERRUPTED",
    };
    let name = record.name.replacen("::", "/", 1);
    let secs = record.duration.as_secs_f64();
    match (&record.message, record.outcome) {
        (Some(reason), outcome) if outcome != Outcome::Passed => {
            format!("{label} {name} ({secs:.1} s): {reason}")
        }
        _ => format!("{label} {name} ({secs:.1} s)"),
    }
}

/// What a run has done so far, for the status area.
#[derive(Debug)]
pub(crate) struct Progress {
    started: Instant,
    suites: usize,
    suites_done: usize,
    scenarios: usize,
    passed: usize,
    failed: usize,
    errors: usize,
    skipped: usize,
    running: Vec<Running>,
}

#[derive(Debug)]
struct Running {
    suite: String,
    /// Scenarios of the suite not finished yet.
    left: usize,
    doing: Doing,
    since: Instant,
}

#[derive(Debug)]
enum Doing {
    StartingServices,
    Scenario(String),
    Between,
}

impl Progress {
    /// A run of `suites` suites holding `scenarios` scenarios, started at `started`.
    pub(crate) fn new(suites: usize, scenarios: usize, started: Instant) -> Progress {
        Progress {
            started,
            suites,
            suites_done: 0,
            scenarios,
            passed: 0,
            failed: 0,
            errors: 0,
            skipped: 0,
            running: Vec::new(),
        }
    }

    /// Takes in one event; returns the line to print above the status area, if any.
    pub(crate) fn apply(&mut self, event: &RunEvent<'_>, now: Instant) -> Option<String> {
        match *event {
            RunEvent::SuiteStarted {
                suite, scenarios, ..
            } => self.running.push(Running {
                suite: suite.to_owned(),
                left: scenarios,
                doing: Doing::StartingServices,
                since: now,
            }),
            RunEvent::ServicesReady { suite, .. } => {
                if let Some(r) = self.running.iter_mut().find(|r| r.suite == suite) {
                    r.doing = Doing::Between;
                    r.since = now;
                }
            }
            RunEvent::ScenarioStarted { name } => {
                if let Some((r, scenario)) = self.suite_of(name) {
                    r.doing = Doing::Scenario(scenario.to_owned());
                    r.since = now;
                }
            }
            RunEvent::ScenarioFinished(record) => {
                match record.outcome {
                    Outcome::Passed | Outcome::Flaky => self.passed += 1,
                    Outcome::Failed | Outcome::TimedOut => self.failed += 1,
                    Outcome::InfraError => self.errors += 1,
                    Outcome::Ignored | Outcome::Interrupted => self.skipped += 1,
                }
                if let Some((r, _)) = self.suite_of(&record.name) {
                    r.left = r.left.saturating_sub(1);
                    r.doing = Doing::Between;
                    r.since = now;
                }
                return Some(result_line(record));
            }
            RunEvent::SuiteFinished { suite } => {
                if let Some(i) = self.running.iter().position(|r| r.suite == suite) {
                    self.running.remove(i);
                }
                self.suites_done += 1;
            }
            _ => {}
        }
        None
    }

    /// The running suite of a `suite::scenario` name, and the scenario part.
    fn suite_of<'n>(&mut self, name: &'n str) -> Option<(&mut Running, &'n str)> {
        self.running.iter_mut().find_map(|r| {
            let scenario = name.strip_prefix(r.suite.as_str())?.strip_prefix("::")?;
            Some((r, scenario))
        })
    }

    /// The status area at `now`: a line per running suite, then the counts.
    pub(crate) fn status(&self, now: Instant) -> Vec<String> {
        let mut lines: Vec<String> = self
            .running
            .iter()
            .map(|r| {
                let secs = now.saturating_duration_since(r.since).as_secs_f64();
                match &r.doing {
                    Doing::StartingServices => {
                        format!("  {}: starting services ({secs:.1} s)", r.suite)
                    }
                    Doing::Scenario(s) => format!("  {}: running {s} ({secs:.1} s)", r.suite),
                    Doing::Between if r.left == 0 => {
                        format!("  {}: stopping services ({secs:.1} s)", r.suite)
                    }
                    Doing::Between => format!("  {}: services ready ({secs:.1} s)", r.suite),
                }
            })
            .collect();
        let finished = self.passed + self.failed + self.errors + self.skipped;
        let mut counts = format!("{} passed, {} failed", self.passed, self.failed);
        for (n, what) in [(self.errors, "error(s)"), (self.skipped, "skipped")] {
            if n > 0 {
                let _ = write!(counts, ", {n} {what}");
            }
        }
        let waiting = self
            .suites
            .saturating_sub(self.suites_done + self.running.len());
        lines.push(format!(
            "  {counts}, {} remaining; suites: {} running, {waiting} waiting ({:.1} s)",
            self.scenarios.saturating_sub(finished),
            self.running.len(),
            now.saturating_duration_since(self.started).as_secs_f64()
        ));
        lines
    }
}

/// The bytes that replace a status area of `previous` lines (drawn by an earlier frame, the
/// cursor on the line below it) with `lines`; no lines clears it. Line wrapping is off while
/// drawing, so a line wider than the terminal is cut instead of moving the area's bottom.
pub(crate) fn frame(previous: usize, lines: &[String]) -> String {
    let mut out = String::new();
    if previous > 0 {
        // To the start of the area's first line.
        let _ = write!(out, "\r\x1b[{previous}A");
    }
    out.push_str("\x1b[?7l");
    for line in lines {
        // Erase the old line, then write the new one.
        let _ = writeln!(out, "\x1b[2K{line}");
    }
    // Erase what is left of a taller earlier area.
    out.push_str("\x1b[J\x1b[?7h");
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::{Duration, SystemTime};

    use super::*;

    fn record(name: &str, outcome: Outcome, secs: f64, message: Option<&str>) -> TestRecord {
        TestRecord {
            name: name.to_owned(),
            outcome,
            duration: Duration::from_secs_f64(secs),
            attempts: 1,
            message: message.map(str::to_owned),
            started_at: SystemTime::UNIX_EPOCH,
            file: None,
            line: None,
            faults: Vec::new(),
        }
    }

    #[test]
    fn result_lines_name_the_verdict_scenario_time_and_reason() {
        assert_eq!(
            result_line(&record("greet::says hello", Outcome::Passed, 0.42, None)),
            "PASS greet/says hello (0.4 s)"
        );
        assert_eq!(
            result_line(&record(
                "greet::bye",
                Outcome::Failed,
                1.0,
                Some("step `echo`: stdout does not contain \"bye\"")
            )),
            "FAIL greet/bye (1.0 s): step `echo`: stdout does not contain \"bye\""
        );
    }

    #[test]
    fn the_status_area_follows_the_events_of_two_suites() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut p = Progress::new(3, 5, t0);
        let a_path = Path::new("a.clnrm.toml");
        let b_path = Path::new("b.clnrm.toml");

        let started = [
            RunEvent::SuiteStarted {
                path: a_path,
                suite: "a",
                scenarios: 2,
            },
            RunEvent::SuiteStarted {
                path: b_path,
                suite: "b",
                scenarios: 1,
            },
        ];
        for e in &started {
            assert_eq!(p.apply(e, at(0)), None);
        }
        assert_eq!(
            p.status(at(1500)),
            [
                "  a: starting services (1.5 s)",
                "  b: starting services (1.5 s)",
                "  0 passed, 0 failed, 5 remaining; suites: 2 running, 1 waiting (1.5 s)",
            ]
        );

        p.apply(
            &RunEvent::ServicesReady {
                suite: "a",
                took: Duration::from_secs(2),
            },
            at(2000),
        );
        p.apply(&RunEvent::ScenarioStarted { name: "a::first" }, at(2000));
        assert_eq!(p.status(at(2300))[0], "  a: running first (0.3 s)");

        let passed = record("a::first", Outcome::Passed, 0.5, None);
        assert_eq!(
            p.apply(&RunEvent::ScenarioFinished(&passed), at(2500)),
            Some("PASS a/first (0.5 s)".to_owned())
        );
        let failed = record("b::only", Outcome::Failed, 0.1, Some("boom"));
        assert_eq!(
            p.apply(&RunEvent::ScenarioFinished(&failed), at(2600)),
            Some("FAIL b/only (0.1 s): boom".to_owned())
        );
        p.apply(&RunEvent::SuiteFinished { suite: "b" }, at(2700));
        assert_eq!(
            p.status(at(3000)),
            [
                "  a: services ready (0.5 s)",
                "  1 passed, 1 failed, 3 remaining; suites: 1 running, 1 waiting (3.0 s)",
            ]
        );

        let skipped = record("c::x", Outcome::Ignored, 0.0, Some("not run"));
        p.apply(&RunEvent::ScenarioFinished(&skipped), at(3100));
        assert_eq!(
            p.status(at(3100)).last().map(String::as_str),
            Some(
                "  1 passed, 1 failed, 1 skipped, 2 remaining; suites: 1 running, 1 waiting (3.1 s)"
            )
        );

        let last = record("a::second", Outcome::Passed, 0.2, None);
        p.apply(&RunEvent::ScenarioFinished(&last), at(3300));
        assert_eq!(p.status(at(3400))[0], "  a: stopping services (0.1 s)");
    }

    #[test]
    fn a_frame_moves_up_over_the_old_area_and_rewrites_every_line() {
        let lines = vec![
            "  a: starting services (0.1 s)".to_owned(),
            "  counts".to_owned(),
        ];
        assert_eq!(
            frame(0, &lines),
            "\x1b[?7l\x1b[2K  a: starting services (0.1 s)\n\x1b[2K  counts\n\x1b[J\x1b[?7h"
        );
        assert_eq!(
            frame(3, &lines),
            "\r\x1b[3A\x1b[?7l\x1b[2K  a: starting services (0.1 s)\n\x1b[2K  counts\n\x1b[J\x1b[?7h"
        );
        // Clearing: up over the area, erase to the end of the screen.
        assert_eq!(frame(2, &[]), "\r\x1b[2A\x1b[?7l\x1b[J\x1b[?7h");
    }
}
