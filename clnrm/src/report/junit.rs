//! JUnit XML in the de-facto schema CI tools read (Jenkins, GitLab, GitHub Actions reporters),
//! with the Maven Surefire extensions for retries that nextest emits too.
//!
//! One `<testsuite>` per run, named after the target. Each test is a `<testcase>` with
//! `classname` = its module path (the target for a top-level test), `name` = the function name
//! and `time` in seconds. Per outcome:
//!
//! | outcome | element |
//! |---|---|
//! | passed | none |
//! | failed | `<failure type="test failure">`, plus one `<rerunFailure>` per retry |
//! | timed out | `<failure type="timeout">`, plus one `<rerunFailure>` per retry |
//! | infra error | `<error type="infrastructure">` |
//! | ignored | `<skipped/>` |
//! | interrupted | `<skipped message="interrupted by SIGTERM ..."/>` |
//! | flaky | one `<flakyFailure>` per failed attempt, and `<system-out>` saying so |
//!
//! A flaky test counts as passed in the `tests`/`failures` attributes, as in Surefire and nextest.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use super::record::{Outcome, RunRecord, TestRecord};
use super::time::rfc3339_utc;
use super::write::write_atomically;
use crate::Result;

/// The run as a JUnit XML document.
pub fn junit_xml(run: &RunRecord) -> String {
    let summary = run.summary();
    let counts = format!(
        "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\"",
        summary.total(),
        summary.failed + summary.timed_out,
        summary.infra_error,
        summary.ignored + summary.interrupted,
        seconds(run.duration),
        rfc3339_utc(run.started_at),
    );
    let target = attr(&run.target);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(xml, "<testsuites name=\"{target}\" {counts}>");
    let _ = writeln!(xml, "    <testsuite name=\"{target}\" {counts}>");
    xml.push_str("        <properties>\n");
    let _ = writeln!(
        xml,
        "            <property name=\"run_id\" value=\"{}\"/>",
        attr(&run.run_id)
    );
    xml.push_str("        </properties>\n");
    for test in &run.tests {
        testcase(&mut xml, &run.target, test);
    }
    xml.push_str("    </testsuite>\n</testsuites>\n");
    xml
}

/// Writes [`junit_xml`] to `path` atomically, creating parent directories.
pub fn write_junit(path: &Path, run: &RunRecord) -> Result<()> {
    write_atomically(path, junit_xml(run).as_bytes())
}

fn testcase(xml: &mut String, target: &str, test: &TestRecord) {
    let classname = test.module_path().unwrap_or(target);
    let _ = write!(
        xml,
        "        <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
        attr(test.fn_name()),
        attr(classname),
        seconds(test.duration)
    );
    if let Some(file) = &test.file {
        let _ = write!(xml, " file=\"{}\"", attr(file));
    }
    if let Some(line) = test.line {
        let _ = write!(xml, " line=\"{line}\"");
    }
    let message = test.message.as_deref();
    let retries = test.attempts.saturating_sub(1);
    match test.outcome {
        Outcome::Passed => {
            xml.push_str("/>\n");
            return;
        }
        Outcome::Failed | Outcome::TimedOut => {
            let (kind, fallback) = match test.outcome {
                Outcome::TimedOut => ("timeout", "timed out"),
                _ => ("test failure", "failed"),
            };
            xml.push_str(">\n");
            element(xml, "failure", kind, message.unwrap_or(fallback), message);
            for _ in 0..retries {
                element(xml, "rerunFailure", kind, message.unwrap_or(fallback), None);
            }
        }
        Outcome::InfraError => {
            xml.push_str(">\n");
            let summary = message.unwrap_or("infrastructure error");
            element(xml, "error", "infrastructure", summary, message);
        }
        Outcome::Interrupted => {
            xml.push_str(">\n");
            let reason = message.unwrap_or("interrupted");
            let _ = writeln!(xml, "            <skipped message=\"{}\"/>", attr(reason));
        }
        Outcome::Ignored => {
            xml.push_str(">\n");
            match message {
                Some(reason) => {
                    let _ = writeln!(xml, "            <skipped message=\"{}\"/>", attr(reason));
                }
                None => xml.push_str("            <skipped/>\n"),
            }
        }
        Outcome::Flaky => {
            xml.push_str(">\n");
            for attempt in 1..=retries {
                let summary = format!("attempt {attempt} of {} failed", test.attempts);
                let body = if attempt == 1 { message } else { None };
                element(xml, "flakyFailure", "test failure", &summary, body);
            }
            let _ = writeln!(
                xml,
                "            <system-out>flaky: passed on attempt {} of {}</system-out>",
                test.attempts, test.attempts
            );
        }
    }
    xml.push_str("        </testcase>\n");
}

/// `<name message=".." type="..">body</name>`; the message attribute is the first line only.
fn element(xml: &mut String, name: &str, kind: &str, message: &str, body: Option<&str>) {
    let first_line = message.lines().next().unwrap_or_default();
    let _ = write!(
        xml,
        "            <{name} message=\"{}\" type=\"{}\"",
        attr(first_line),
        attr(kind)
    );
    match body {
        Some(body) => {
            let _ = writeln!(xml, ">{}</{name}>", text(body));
        }
        None => xml.push_str("/>\n"),
    }
}

/// Seconds with millisecond precision, as JUnit readers expect (`1.250`).
fn seconds(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64())
}

/// `s` escaped for an attribute value in double quotes. Newlines and tabs become character
/// references so that attribute normalisation keeps them.
pub(crate) fn attr(s: &str) -> String {
    escape(s, true)
}

/// `s` escaped for element content.
pub(crate) fn text(s: &str) -> String {
    escape(s, false)
}

fn escape(s: &str, in_attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attribute => out.push_str("&quot;"),
            '\'' if in_attribute => out.push_str("&apos;"),
            '\n' if in_attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if in_attribute => out.push_str("&#9;"),
            '\t' | '\n' => out.push(c),
            // XML 1.0 cannot carry these even as character references (ANSI colour codes from
            // test output are the usual case): keep them visible as Rust-style escapes.
            c if is_forbidden_in_xml(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Characters outside XML 1.0's `Char` production (surrogates cannot occur in a `str`).
fn is_forbidden_in_xml(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::scratch::ScratchDir;
    use std::time::{Duration, UNIX_EPOCH};

    fn test(
        name: &str,
        outcome: Outcome,
        millis: u64,
        attempts: u32,
        message: Option<&str>,
    ) -> TestRecord {
        TestRecord {
            name: name.into(),
            outcome,
            duration: Duration::from_millis(millis),
            attempts,
            message: message.map(Into::into),
            started_at: UNIX_EPOCH + Duration::from_secs(1_714_564_800),
            file: None,
            line: None,
            faults: Vec::new(),
        }
    }

    fn run(tests: Vec<TestRecord>) -> RunRecord {
        RunRecord {
            run_id: "run-1".into(),
            target: "api".into(),
            started_at: UNIX_EPOCH + Duration::from_millis(1_714_564_800_250),
            duration: Duration::from_millis(4321),
            tests,
        }
    }

    #[test]
    fn markup_characters_are_escaped_in_attributes_and_text() {
        assert_eq!(
            attr(r#"<a & "b" 'c'>"#),
            "&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;"
        );
        assert_eq!(text(r#"<a & "b" 'c'>"#), r#"&lt;a &amp; "b" 'c'&gt;"#);
    }

    #[test]
    fn newlines_and_tabs_survive_in_attributes_as_character_references() {
        assert_eq!(attr("a\nb\tc\r"), "a&#10;b&#9;c&#13;");
        assert_eq!(text("a\nb\tc\r"), "a\nb\tc&#13;");
    }

    #[test]
    fn control_characters_xml_cannot_carry_become_visible_escapes() {
        assert_eq!(
            text("\u{1b}[31mred\u{1b}[0m\u{0}"),
            "\\u{1b}[31mred\\u{1b}[0m\\u{0}"
        );
        assert_eq!(attr("\u{7}\u{ffff}"), "\\u{7}\\u{ffff}");
        assert_eq!(text("héllo ✓"), "héllo ✓");
    }

    #[test]
    fn suite_attributes_count_failures_errors_and_skips_with_flaky_as_passed() {
        let xml = junit_xml(&run(vec![
            test("a::passes", Outcome::Passed, 10, 1, None),
            test("a::fails", Outcome::Failed, 10, 1, Some("boom")),
            test("a::hangs", Outcome::TimedOut, 10, 1, None),
            test("a::flakes", Outcome::Flaky, 10, 2, Some("boom")),
            test("a::skipped", Outcome::Ignored, 0, 0, None),
            test(
                "a::no_db",
                Outcome::InfraError,
                10,
                1,
                Some("db did not start"),
            ),
        ]));
        let counts = "tests=\"6\" failures=\"2\" errors=\"1\" skipped=\"1\" time=\"4.321\"";
        assert_eq!(xml.matches(counts).count(), 2, "{xml}");
        assert_eq!(xml.matches("<testcase ").count(), 6);
        assert_eq!(xml.matches("<failure ").count(), 2);
        assert_eq!(xml.matches("<error ").count(), 1);
        assert_eq!(xml.matches("<skipped/>").count(), 1);
        assert_eq!(xml.matches("<flakyFailure ").count(), 1);
    }

    #[test]
    fn a_small_run_renders_exactly() {
        let mut failing = test(
            "api::users::rejects_<bad>_email",
            Outcome::Failed,
            1250,
            2,
            Some("assertion failed: left == right\n  left: \"a&b\""),
        );
        failing.file = Some("tests/api/users.rs".into());
        failing.line = Some(42);
        let xml = junit_xml(&run(vec![
            test("api::users::creates_user", Outcome::Passed, 120, 1, None),
            failing,
            test(
                "api::orders::lists",
                Outcome::Flaky,
                900,
                3,
                Some("connection reset"),
            ),
            test("smoke", Outcome::Ignored, 0, 0, Some("needs GPU")),
            test(
                "api::hangs",
                Outcome::TimedOut,
                60_000,
                1,
                Some("timed out after 60 s"),
            ),
            test("api::no_db", Outcome::InfraError, 2000, 1, None),
        ]));
        let expected = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="api" tests="6" failures="2" errors="1" skipped="1" time="4.321" timestamp="2024-05-01T12:00:00.250Z">
    <testsuite name="api" tests="6" failures="2" errors="1" skipped="1" time="4.321" timestamp="2024-05-01T12:00:00.250Z">
        <properties>
            <property name="run_id" value="run-1"/>
        </properties>
        <testcase name="creates_user" classname="api::users" time="0.120"/>
        <testcase name="rejects_&lt;bad&gt;_email" classname="api::users" time="1.250" file="tests/api/users.rs" line="42">
            <failure message="assertion failed: left == right" type="test failure">assertion failed: left == right
  left: "a&amp;b"</failure>
            <rerunFailure message="assertion failed: left == right" type="test failure"/>
        </testcase>
        <testcase name="lists" classname="api::orders" time="0.900">
            <flakyFailure message="attempt 1 of 3 failed" type="test failure">connection reset</flakyFailure>
            <flakyFailure message="attempt 2 of 3 failed" type="test failure"/>
            <system-out>flaky: passed on attempt 3 of 3</system-out>
        </testcase>
        <testcase name="smoke" classname="api" time="0.000">
            <skipped message="needs GPU"/>
        </testcase>
        <testcase name="hangs" classname="api" time="60.000">
            <failure message="timed out after 60 s" type="timeout">timed out after 60 s</failure>
        </testcase>
        <testcase name="no_db" classname="api" time="2.000">
            <error message="infrastructure error" type="infrastructure"/>
        </testcase>
    </testsuite>
</testsuites>
"#;
        assert_eq!(xml, expected);
    }

    #[test]
    fn write_junit_writes_the_document_to_the_path() {
        let dir = ScratchDir::new();
        let path = dir.path().join("reports/junit.xml");
        let run = run(vec![test("a::b", Outcome::Passed, 1, 1, None)]);
        write_junit(&path, &run).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), junit_xml(&run));
    }
}
