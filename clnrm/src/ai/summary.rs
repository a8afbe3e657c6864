//! The advisor's input: plain data the planner fills in, and the caps that keep the
//! prompt compact.
//!
//! Caps (all deterministic; nothing is sampled):
//! - at most [`MAX_TESTS`] tests are sent, the first ones of the statistical order; the
//!   rest keep their statistical place after the advised ones;
//! - per test at most [`MAX_FAILURE_MESSAGES`] recent failure messages, each cut to
//!   [`MAX_MESSAGE_CHARS`] characters, newlines folded to ` | `;
//! - at most [`MAX_CHANGED_FILES`] changed files, each cut to [`MAX_PATH_CHARS`], with a
//!   `(+N more)` marker;
//! - insights: at most [`MAX_FAILURES`] failures, each with its message cut to
//!   [`MAX_MESSAGE_CHARS`] and the last [`MAX_LOG_LINES`] log lines, at most
//!   [`MAX_LOG_CHARS`] characters.
//!
//! With these caps a prompt stays under roughly 30 kB whatever the suite size.

use serde::Serialize;

/// Most tests sent to the advisor in one call.
pub const MAX_TESTS: usize = 50;
/// Most recent failure messages per test.
pub const MAX_FAILURE_MESSAGES: usize = 2;
/// Longest failure message, in characters, after folding newlines.
pub const MAX_MESSAGE_CHARS: usize = 200;
/// Most changed files listed.
pub const MAX_CHANGED_FILES: usize = 30;
/// Longest changed-file path, in characters.
pub const MAX_PATH_CHARS: usize = 120;
/// Most failures sent to the insights call.
pub const MAX_FAILURES: usize = 20;
/// Most log lines per failure (the last ones).
pub const MAX_LOG_LINES: usize = 20;
/// Longest log tail per failure, in characters (the end is kept).
pub const MAX_LOG_CHARS: usize = 1200;

/// The outcome of a test's latest run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LastOutcome {
    /// Passed on the first attempt.
    Passed,
    /// Failed.
    Failed,
    /// Passed only on retry.
    Flaky,
    /// Not run (ignored, filtered, cancelled).
    Skipped,
}

/// What the planner knows about one test.
#[derive(Debug, Clone, PartialEq)]
pub struct TestSummary {
    /// Full test name, unique in the run; the advisor must answer with exactly these names.
    pub name: String,
    /// Recorded runs.
    pub runs: u32,
    /// Recorded failures.
    pub failures: u32,
    /// Share of consecutive runs whose outcome changed, 0..=1.
    pub flip_rate: f64,
    /// Median duration in milliseconds.
    pub median_ms: u64,
    /// Outcome of the latest run; `None` for a test never run.
    pub last_outcome: Option<LastOutcome>,
    /// Recent failure messages, newest first (capped when sent).
    pub recent_failures: Vec<String>,
}

/// Input of [`super::advise`]: the tests in the statistical plan's order (most urgent
/// first) and the files changed since the last run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AdvisorInput {
    /// Tests in statistical order. Names must be unique.
    pub tests: Vec<TestSummary>,
    /// Paths changed since the last recorded run.
    pub changed_files: Vec<String>,
}

/// One failing test, for [`super::explain_failures`].
#[derive(Debug, Clone, PartialEq)]
pub struct FailureReport {
    /// Full test name.
    pub test: String,
    /// The failure message.
    pub message: String,
    /// The last lines of the test's and its services' logs, oldest first.
    pub log_tail: String,
}

/// Input of [`super::explain_failures`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InsightsInput {
    /// The failures of one run. Test names must be unique.
    pub failures: Vec<FailureReport>,
}

/// The compact, serialized form of one test (short keys keep prompts small).
#[derive(Debug, Serialize)]
pub(crate) struct CompactTest<'a> {
    pub(crate) name: &'a str,
    pub(crate) runs: u32,
    pub(crate) fails: u32,
    /// Two decimals, so prompts are byte-for-byte deterministic.
    pub(crate) flip: f64,
    pub(crate) median_ms: u64,
    pub(crate) last: Option<LastOutcome>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) recent_failures: Vec<String>,
}

/// The compact form of one failure.
#[derive(Debug, Serialize)]
pub(crate) struct CompactFailure<'a> {
    pub(crate) test: &'a str,
    pub(crate) message: String,
    pub(crate) log_tail: String,
}

pub(crate) fn compact_tests(tests: &[TestSummary]) -> Vec<CompactTest<'_>> {
    tests
        .iter()
        .take(MAX_TESTS)
        .map(|t| CompactTest {
            name: &t.name,
            runs: t.runs,
            fails: t.failures,
            flip: (t.flip_rate.clamp(0.0, 1.0) * 100.0).round() / 100.0,
            median_ms: t.median_ms,
            last: t.last_outcome,
            recent_failures: t
                .recent_failures
                .iter()
                .take(MAX_FAILURE_MESSAGES)
                .map(|m| one_line(m, MAX_MESSAGE_CHARS))
                .collect(),
        })
        .collect()
}

pub(crate) fn compact_changed_files(files: &[String]) -> Vec<String> {
    let mut out: Vec<String> = files
        .iter()
        .take(MAX_CHANGED_FILES)
        .map(|f| truncate_chars(f, MAX_PATH_CHARS))
        .collect();
    if files.len() > MAX_CHANGED_FILES {
        out.push(format!("(+{} more)", files.len() - MAX_CHANGED_FILES));
    }
    out
}

pub(crate) fn compact_failures(failures: &[FailureReport]) -> Vec<CompactFailure<'_>> {
    failures
        .iter()
        .take(MAX_FAILURES)
        .map(|f| CompactFailure {
            test: &f.test,
            message: one_line(&f.message, MAX_MESSAGE_CHARS),
            log_tail: log_tail(&f.log_tail),
        })
        .collect()
}

/// Folds newlines to ` | ` and cuts to `max` characters (with a trailing `…`).
pub(crate) fn one_line(text: &str, max: usize) -> String {
    // An LLM's text reaches a terminal: no escape sequences, no control characters.
    let text = crate::report::printable(text);
    let folded = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    truncate_chars(&folded, max)
}

/// Cuts to at most `max` characters, marking the cut with `…`.
pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The last [`MAX_LOG_LINES`] lines, then the last [`MAX_LOG_CHARS`] characters of those.
fn log_tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let tail = lines[lines.len().saturating_sub(MAX_LOG_LINES)..].join("\n");
    let count = tail.chars().count();
    if count <= MAX_LOG_CHARS {
        return tail;
    }
    let mut out = String::from("…");
    out.extend(tail.chars().skip(count - (MAX_LOG_CHARS - 1)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(name: &str) -> TestSummary {
        TestSummary {
            name: name.to_owned(),
            runs: 10,
            failures: 1,
            flip_rate: 0.123_456,
            median_ms: 40,
            last_outcome: Some(LastOutcome::Passed),
            recent_failures: vec![],
        }
    }

    #[test]
    fn only_the_first_tests_of_the_statistical_order_are_sent() {
        let tests: Vec<_> = (0..MAX_TESTS + 7).map(|i| test(&format!("t{i}"))).collect();
        let compact = compact_tests(&tests);
        assert_eq!(compact.len(), MAX_TESTS);
        assert_eq!(compact[0].name, "t0");
        assert_eq!(compact[0].flip, 0.12);
    }

    #[test]
    fn failure_messages_are_folded_cut_and_limited() {
        let mut t = test("a");
        t.recent_failures = vec![
            format!("assertion failed\n  left: {}\n", "x".repeat(500)),
            "second".to_owned(),
            "third is dropped".to_owned(),
        ];
        let compact = compact_tests(std::slice::from_ref(&t));
        let msgs = &compact[0].recent_failures;
        assert_eq!(msgs.len(), MAX_FAILURE_MESSAGES);
        assert!(msgs[0].starts_with("assertion failed | left: xxx"));
        assert_eq!(msgs[0].chars().count(), MAX_MESSAGE_CHARS);
        assert!(msgs[0].ends_with('…'));
        assert_eq!(msgs[1], "second");
    }

    #[test]
    fn changed_files_beyond_the_cap_are_counted_not_listed() {
        let files: Vec<String> = (0..MAX_CHANGED_FILES + 3)
            .map(|i| format!("src/f{i}.rs"))
            .collect();
        let compact = compact_changed_files(&files);
        assert_eq!(compact.len(), MAX_CHANGED_FILES + 1);
        assert_eq!(compact.last().unwrap(), "(+3 more)");
    }

    #[test]
    fn log_tails_keep_the_last_lines_and_characters() {
        let log: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let tail = log_tail(&log);
        assert!(tail.starts_with("line 80"));
        assert!(tail.ends_with("line 99"));
        let long = "y".repeat(5000);
        let tail = log_tail(&long);
        assert_eq!(tail.chars().count(), MAX_LOG_CHARS);
        assert!(tail.starts_with('…'));
    }

    #[test]
    fn truncation_respects_multibyte_characters() {
        assert_eq!(truncate_chars("ééééé", 3), "éé…");
        assert_eq!(truncate_chars("éé", 3), "éé");
    }
}
