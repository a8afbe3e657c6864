//! Arbitrary UTF-8 through parse + validate: must never panic, and every diagnostic must
//! carry a sane position and render.
#![no_main]

use clnrm::suite::{SuiteSource, check_suite};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let source = SuiteSource::new("fuzz.clnrm.toml", text);
    let checked = check_suite(&source, &["generic", "postgres", "redis"]);
    let lines = text.split('\n').count();
    for d in &checked.diagnostics {
        assert!(d.line >= 1 && d.line <= lines, "line {} of {lines}", d.line);
        assert!(d.column >= 1);
        assert!(!d.message.is_empty());
        let _ = d.to_string();
    }
    if checked.spec.is_some() && !checked.has_errors() {
        // A clean spec must have something to run.
        let spec = checked.spec.unwrap();
        assert!(spec.scenarios.iter().all(|s| !s.steps.is_empty()) || spec.scenarios.is_empty());
    }
});
