//! The oldest upstream `clnrm init` output (its `tests/basic.toml`): a top-level `name`,
//! `[[scenarios]]` whose `steps` are `{ name, cmd }` tables (`cmd` an argv array,
//! `expected_exit_code` optional) and a `[policy]` table. The older runner ran each step's `cmd`
//! in a container, compared its exit code with `expected_exit_code` (0 by default) and stopped a
//! scenario at its first failing step; it validated `[policy]` and enforced none of it. Here
//! every step runs in a container of the default image, and each `[policy]` key is evaluated
//! or refused: what each key becomes is in [`OLD_KEYS`](crate::suite::compat::OLD_KEYS)
//! (places `InitTop`, `InitScenario`, `InitStep`, `Policy`).

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::Walker;
use crate::suite::compat::Place;
use crate::suite::diagnostic::DiagnosticKind;
use crate::suite::spec::{
    Action, Command, ExecSpec, Expectations, ScenarioSpec, Spanned, StepSpec, SuiteSpec,
};

/// Programs that run a script clnrm cannot see into when checking `disallowed_commands`.
const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "ksh", "busybox"];

/// Whether `root` is the oldest shape: no `version`, and a `[policy]`, a top-level string `name`
/// next to `[[scenarios]]`, or scenario steps with `cmd`.
pub(super) fn is_oldest(root: &DeTable<'_>) -> bool {
    if root.contains_key("version") {
        return false;
    }
    let cmd_steps = root
        .get("scenarios")
        .and_then(|s| s.get_ref().as_array())
        .is_some_and(|scenarios| {
            scenarios.iter().any(|s| {
                s.get_ref()
                    .as_table()
                    .and_then(|t| t.get("steps"))
                    .and_then(|steps| steps.get_ref().as_array())
                    .is_some_and(|steps| {
                        steps.iter().any(|step| {
                            step.get_ref()
                                .as_table()
                                .is_some_and(|t| t.contains_key("cmd"))
                        })
                    })
            })
        });
    let named = root
        .get("name")
        .is_some_and(|n| matches!(n.get_ref(), DeValue::String(_)))
        && root.contains_key("scenarios");
    root.contains_key("policy") || named || cmd_steps
}

impl Walker<'_> {
    pub(super) fn oldest_suite(&mut self, root: &DeTable<'_>, spec: &mut SuiteSpec) {
        let top = "the top level";
        self.check_keys(
            root,
            top,
            &["name", "scenarios", "policy"],
            Some(Place::InitTop),
        );
        if let Some(name) = self.string(root, "name", top) {
            if name.get_ref().trim().is_empty() {
                self.sink
                    .error(name.span(), "`name` in the top level is empty");
            } else {
                spec.name = name;
            }
        }
        let disallowed = match self.table(root, "policy", top) {
            Some((policy, _)) => self.policy(policy, spec),
            None => Vec::new(),
        };
        if !root.contains_key("scenarios") {
            self.sink.error(
                0..0,
                "suite has no scenarios; expected [[scenarios]] with `steps = [{ name = \"...\", cmd = [...] }]`",
            );
        }
        for (index, (table, header)) in self.tables(root, "scenarios", top).into_iter().enumerate()
        {
            let scenario = self.oldest_scenario(table, header, index, &disallowed);
            spec.scenarios.push(scenario);
        }
    }

    fn oldest_scenario(
        &mut self,
        table: &DeTable<'_>,
        header: Range<usize>,
        index: usize,
        disallowed: &[Spanned<String>],
    ) -> ScenarioSpec {
        let name = self.name_of(table, &header, format!("scenario #{}", index + 1));
        let what = format!("scenario \"{}\"", name.get_ref());
        let what = what.as_str();
        self.check_keys(table, what, &["name", "steps"], Some(Place::InitScenario));
        if let Some(value) = table.get("concurrent")
            && self.bool(table, "concurrent", what) == Some(true)
        {
            self.sink.error(
                value.span(),
                format!("`concurrent = true` in {what} is not supported: steps of a scenario run in order"),
            );
        }
        let mut steps: Vec<StepSpec> = Vec::new();
        let mut seen = Vec::new();
        let tables = self.tables(table, "steps", what);
        if tables.is_empty() {
            self.sink.error(
                header,
                format!(
                    "{what} has no steps; expected steps = [{{ name = \"...\", cmd = [...] }}]"
                ),
            );
        }
        for (index, (step, header)) in tables.into_iter().enumerate() {
            let step_name = self.name_of(step, &header, format!("step #{}", index + 1));
            let kept = match self.oldest_step(step, header, step_name.clone(), disallowed) {
                Some(step) => {
                    steps.push(step);
                    true
                }
                None => false,
            };
            self.duplicate(&seen, &step_name, kept, name.get_ref());
            seen.push((step_name, kept));
        }
        ScenarioSpec { name, steps }
    }

    fn oldest_step(
        &mut self,
        table: &DeTable<'_>,
        header: Range<usize>,
        name: Spanned<String>,
        disallowed: &[Spanned<String>],
    ) -> Option<StepSpec> {
        let what = format!("step \"{}\"", name.get_ref());
        let what = what.as_str();
        self.check_keys(table, what, &["name"], Some(Place::InitStep));
        let mut expect = Expectations::default();
        if let Some(code) = table.get("expected_exit_code") {
            expect.exit_code = self.exit_code(code, "expected_exit_code", what);
        }
        if !table.contains_key("cmd") {
            self.sink.error(
                header,
                format!("{what} has no `cmd`; expected cmd = [\"program\", \"arg\", ...]"),
            );
            return None;
        }
        let argv = self.argv(table, "cmd", what)?;
        self.disallowed(&argv, disallowed, what);
        let target = self.legacy_target(None, argv.span(), what, &[])?;
        Some(StepSpec {
            name,
            action: Action::Exec(ExecSpec {
                command: Spanned::new(argv.span(), Command::Argv(argv.into_inner())),
                target,
            }),
            expect,
            timeout: None,
            env: BTreeMap::new(),
            workdir: None,
            continue_on_failure: false,
            retries: 0,
        })
    }

    /// `[policy]`: `security_level`, `max_execution_time` (the suite's timeout) and
    /// `disallowed_commands` (returned, checked on each step) are evaluated; the rest refused.
    fn policy(&mut self, table: &DeTable<'_>, spec: &mut SuiteSpec) -> Vec<Spanned<String>> {
        let what = "[policy]";
        self.check_keys(table, what, &[], Some(Place::Policy));
        if let Some(level) = self.string(table, "security_level", what) {
            match level.get_ref().to_ascii_lowercase().as_str() {
                shown @ ("low" | "medium") => {
                    let asks = if shown == "low" {
                        "asks for less isolation than clnrm gives"
                    } else {
                        "the older clnrm's default isolation, what clnrm gives"
                    };
                    self.sink.note(
                        DiagnosticKind::Mapped,
                        level.span(),
                        format!(
                            "`security_level = \"{shown}\"` in {what} {asks}: every clnrm step runs in its own container on the run's own network"
                        ),
                    );
                }
                "high" => self.sink.error(
                    level.span(),
                    format!(
                        "`security_level = \"high\"` in {what} is not supported: clnrm isolates a step in its own container on the run's own network and enforces nothing stricter; use \"medium\""
                    ),
                ),
                _ => self.sink.error(
                    level.span(),
                    format!(
                        "`security_level` in {what}: expected \"low\", \"medium\" or \"high\", found \"{}\"",
                        level.get_ref()
                    ),
                ),
            }
        }
        if let Some(value) = table.get("max_execution_time")
            && let Some(seconds) = self.int_in(
                value,
                "max_execution_time",
                what,
                1..86_401,
                "a number of seconds from 1 to 86400",
            )
        {
            let secs = u64::try_from(*seconds.get_ref()).unwrap_or(1);
            self.sink.note(
                DiagnosticKind::Mapped,
                seconds.span(),
                format!("`max_execution_time = {secs}` in {what} is the suite's timeout: the run fails after {secs} s"),
            );
            spec.timeout = Some(Spanned::new(seconds.span(), Duration::from_secs(secs)));
        }
        let mut disallowed = Vec::new();
        if let Some(value) = table.get("disallowed_commands") {
            disallowed = self
                .strings(value, "disallowed_commands", what)
                .unwrap_or_default();
            for command in &disallowed {
                if command.get_ref().trim().is_empty() || command.get_ref().contains(' ') {
                    self.sink.error(
                        command.span(),
                        format!("`disallowed_commands` in {what}: expected a program name like \"rm\", found \"{}\"", command.get_ref()),
                    );
                }
            }
        }
        disallowed
    }

    /// A step whose command, as written, names a disallowed program (any argv item or any word
    /// of one), or that runs a shell whose script clnrm cannot see into, is an error.
    fn disallowed(
        &mut self,
        argv: &Spanned<Vec<String>>,
        disallowed: &[Spanned<String>],
        what: &str,
    ) {
        if disallowed.is_empty() {
            return;
        }
        let program = |word: &str| word.rsplit('/').next().unwrap_or(word).to_owned();
        let words: Vec<String> = argv
            .get_ref()
            .iter()
            .flat_map(|item| {
                item.split(|c: char| c.is_whitespace() || ";|&()`$<>".contains(c))
                    .filter(|w| !w.is_empty())
                    .map(program)
                    .collect::<Vec<_>>()
            })
            .collect();
        if let Some(bad) = disallowed
            .iter()
            .find(|d| words.iter().any(|w| w == d.get_ref()))
        {
            let (line, _) = self.sink.source.line_col(bad.span().start);
            self.sink.error(
                argv.span(),
                format!(
                    "{what} runs `{}`, which `disallowed_commands` in [policy] (line {line}) forbids",
                    bad.get_ref()
                ),
            );
        } else if let Some(shell) = words.iter().find(|w| SHELLS.contains(&w.as_str())) {
            self.sink.error(
                argv.span(),
                format!(
                    "{what} runs a shell (`{shell}`) while [policy] has `disallowed_commands`: clnrm checks the command as written and cannot see what a shell runs; run the program directly"
                ),
            );
        }
    }
}
