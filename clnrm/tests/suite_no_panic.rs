//! Property tests: no input makes parse + validate panic, and positions stay inside the file.
//! (The cargo-fuzz target in `fuzz/` explores further; these run on every `cargo test`.)

use clnrm::suite::{SuiteSource, check_suite};
use proptest::prelude::*;

const EXAMPLES: &[&str] = &[
    include_str!("../../examples/suites/signup.clnrm.toml"),
    include_str!("../../examples/suites/http-api.clnrm.toml"),
    include_str!("../../examples/suites/fresh-image.clnrm.toml"),
    include_str!("../../examples/suites/legacy.clnrm.toml"),
    // The older `[test]` + `[containers.NAME]` + `exec` + `assert` shape.
    include_str!("../../tests/compat/runs/containers-exec.clnrm.toml"),
    // The oldest `clnrm init` shape: top-level `name`, `[[scenarios]]` with `cmd`, `[policy]`.
    include_str!("../../tests/compat/runs/init/basic.clnrm.toml"),
    include_str!("../../tests/compat/refused/init-disallowed-command.clnrm.toml"),
    // Steps naming no service among several services.
    include_str!("../../tests/compat/runs/default-container/several-services.clnrm.toml"),
];

fn check(text: &str) {
    let source = SuiteSource::new("p.clnrm.toml", text);
    let checked = check_suite(&source, &["generic", "postgres", "redis"]);
    let lines = text.split('\n').count();
    for d in &checked.diagnostics {
        assert!(
            d.line >= 1 && d.line <= lines,
            "{d} (file has {lines} lines)"
        );
        assert!(d.column >= 1, "{d}");
    }
}

/// Line-level mutations of a valid suite: drop, duplicate or overwrite a line.
fn mutate(text: &str, ops: &[(u8, usize, String)]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for (op, at, junk) in ops {
        if lines.is_empty() {
            break;
        }
        let i = at % lines.len();
        match op % 4 {
            0 => {
                lines.remove(i);
            }
            1 => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            2 => lines[i] = junk.clone(),
            _ => {
                // Cut the line at a char boundary and append junk.
                let cut = lines[i]
                    .char_indices()
                    .map(|(b, _)| b)
                    .nth(junk.len() % 7)
                    .unwrap_or(0);
                lines[i] = format!("{}{}", &lines[i][..cut], junk);
            }
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check(&text);
    }

    #[test]
    fn toml_shaped_text_never_panics(text in "(\\[{1,2}[a-z._\"]{0,12}\\]{0,2}\n|[a-z_]{1,10} = (\"[^\"\n]{0,10}\"|-?[0-9]{1,6}|\\[[0-9\", ]{0,12}\\]|\\{[a-z =\"0-9,]{0,20}\\}|true|1\\.5)\n){0,14}") {
        check(&text);
    }

    #[test]
    fn mutated_examples_never_panic(
        which in 0..EXAMPLES.len(),
        ops in proptest::collection::vec((any::<u8>(), any::<usize>(), "[\\[\\]a-z_=\"0-9 {}.,-]{0,16}"), 1..6),
    ) {
        check(&mutate(EXAMPLES[which], &ops));
    }
}

#[test]
fn deeply_nested_values_do_not_overflow_the_stack() {
    for depth in [100, 10_000, 200_000] {
        let nested = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let text = format!(
            "version = 1\n[[steps]]\nname = \"a\"\nrun = [\"true\"]\nimage = \"debian:bookworm\"\nexpect.json = {{ \"/a\" = {nested} }}\n"
        );
        check(&text);
        let inline = format!(
            "version = 1\nx = {}1{}\n",
            "{a=".repeat(depth),
            "}".repeat(depth)
        );
        check(&inline);
    }
}
