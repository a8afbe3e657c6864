//! Table-driven: malformed suites, each with the diagnostic it must produce (position included).

use clnrm::suite::{SuiteSource, check_suite};

const PLUGINS: &[&str] = &["generic", "postgres", "redis"];

/// Services most cases refer to (lines 1-10).
const BASE: &str = r#"version = 1
[suite]
name = "s"
timeout = "1m"
[services.db]
plugin = "postgres"
image = "postgres:16"
ports = [5432]
[services.cache]
plugin = "redis"
"#;

struct Case {
    name: &'static str,
    /// Appended to BASE when `with_base`.
    toml: &'static str,
    with_base: bool,
    /// `line:col: severity: message` that must be among the diagnostics.
    expected: &'static str,
}

const fn base(name: &'static str, toml: &'static str, expected: &'static str) -> Case {
    Case {
        name,
        toml,
        with_base: true,
        expected,
    }
}
const fn bare(name: &'static str, toml: &'static str, expected: &'static str) -> Case {
    Case {
        name,
        toml,
        with_base: false,
        expected,
    }
}

fn cases() -> Vec<Case> {
    vec![
        base(
            "unknown_step_key_suggests_closest",
            r#"[[steps]]
name = "a"
run = ["true"]
servce = "db"
"#,
            "14:1: error: unknown key `servce` in step \"a\", did you mean `service`?",
        ),
        base(
            "unknown_top_level_table_suggests_steps",
            r#"[[step]]
name = "a"
"#,
            "11:3: error: unknown key `step` in the top level, did you mean `steps`?",
        ),
        base(
            "unknown_top_level_table_suggests_suite",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
[suite2]
"#,
            "15:2: error: unknown key `suite2` in the top level, did you mean `suite`?",
        ),
        bare(
            "unknown_key_in_suite_table",
            r#"version = 1
[suite]
name = "s"
descripton = "typo"
[[steps]]
name = "a"
run = ["true"]
image = "debian:bookworm"
"#,
            "4:1: error: unknown key `descripton` in [suite], did you mean `description`?",
        ),
        bare(
            "unknown_service_key_suggests_image",
            r#"version = 1
[services.app]
imgae = "debian:bookworm"
[[steps]]
name = "a"
run = ["true"]
service = "app"
"#,
            "3:1: error: unknown key `imgae` in service \"app\", did you mean `image`?",
        ),
        base(
            "unknown_expect_key_suggests_exit_code",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
expect.exit_cod = 1
"#,
            "15:8: error: unknown key `exit_cod` in expect of step \"a\", did you mean `exit_code`?",
        ),
        base(
            "unknown_output_key_suggests_contains",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
expect.stdout.contain = "x"
"#,
            "15:15: error: unknown key `contain` in expect.stdout of step \"a\", did you mean `contains`?",
        ),
        base(
            "unknown_http_key_suggests_method",
            r#"[[steps]]
name = "a"
http = { service = "db", port = 5432, methd = "GET" }
"#,
            "13:39: error: unknown key `methd` in http of step \"a\", did you mean `method`?",
        ),
        base(
            "unknown_wait_for_key_suggests_tcp",
            r#"[services.w]
image = "debian:bookworm"
wait_for = { tpc = 80 }
[[steps]]
name = "a"
run = ["true"]
service = "w"
"#,
            "13:14: error: unknown key `tpc` in wait_for of service \"w\", did you mean `tcp`?",
        ),
        bare(
            "unknown_plugin_lists_known_plugins",
            r#"version = 1
[services.db]
plugin = "postgress"
[[steps]]
name = "a"
run = ["true"]
service = "db"
"#,
            "3:10: error: service \"db\" uses unknown plugin \"postgress\"; did you mean \"postgres\"? known: generic, postgres, redis",
        ),
        base(
            "unknown_service_in_step_lists_known_services",
            r#"[[steps]]
name = "migrate"
run = ["true"]
service = "pg"
"#,
            "14:11: error: step \"migrate\" uses unknown service \"pg\"; known: db, cache",
        ),
        base(
            "unknown_service_in_depends_on_is_reported",
            r#"[services.app]
image = "debian:bookworm"
depends_on = ["db", "queue"]
[[steps]]
name = "a"
run = ["true"]
service = "app"
"#,
            "13:21: error: service \"app\" depends on unknown service \"queue\"; known: db, cache, app",
        ),
        base(
            "unknown_service_in_http_step_is_reported",
            r#"[[steps]]
name = "a"
http = { service = "api", path = "/" }
"#,
            "13:20: error: step \"a\" uses unknown service \"api\"; known: db, cache",
        ),
        base(
            "bad_regex_reports_the_regex_error",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
expect.stdout.regex = "a(b"
"#,
            "15:23: error: invalid regex in expect.stdout of step \"a\": unclosed group",
        ),
        bare(
            "dependency_cycle_is_named",
            r#"version = 1
[services.a]
image = "debian:bookworm"
depends_on = ["b"]
[services.b]
image = "debian:bookworm"
depends_on = "a"
[[steps]]
name = "x"
run = ["true"]
service = "a"
"#,
            "7:14: error: dependency cycle: a -> b -> a; services cannot wait for each other",
        ),
        bare(
            "self_dependency_is_a_cycle",
            r#"version = 1
[services.a]
image = "debian:bookworm"
depends_on = ["a"]
[[steps]]
name = "x"
run = ["true"]
service = "a"
"#,
            "4:15: error: dependency cycle: a -> a; services cannot wait for each other",
        ),
        base(
            "duplicate_step_names_are_reported",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
[[steps]]
name = "a"
run = ["false"]
service = "db"
"#,
            "16:8: error: duplicate step name \"a\" in scenario \"s\" (first used on line 12)",
        ),
        base(
            "duplicate_scenario_names_are_reported",
            r#"[[scenarios]]
name = "s1"
[[scenarios.steps]]
name = "a"
run = ["true"]
service = "db"
[[scenarios]]
name = "s1"
[[scenarios.steps]]
name = "a"
run = ["true"]
service = "db"
"#,
            "18:8: error: duplicate scenario name \"s1\" (first used on line 12)",
        ),
        bare(
            "zero_suite_timeout_is_impossible",
            r#"version = 1
[suite]
timeout = 0
[[steps]]
name = "a"
run = ["true"]
image = "debian:bookworm"
"#,
            "3:11: error: impossible timeout: the suite `timeout` is zero; expected a positive duration",
        ),
        base(
            "zero_step_timeout_is_impossible",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
timeout = "0s"
"#,
            "15:11: error: impossible timeout: `timeout` of step \"a\" is zero; expected a positive duration",
        ),
        base(
            "step_timeout_longer_than_suite_is_impossible",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
timeout = "1m 30s"
"#,
            "15:11: error: impossible timeout: `timeout` of step \"a\" (1m 30s) is longer than the suite timeout (1m)",
        ),
        base(
            "startup_timeout_longer_than_suite_is_impossible",
            r#"[services.app]
image = "debian:bookworm"
startup_timeout = "2m"
[[steps]]
name = "a"
run = ["true"]
service = "app"
"#,
            "13:19: error: impossible timeout: `startup_timeout` of service \"app\" (2m) is longer than the suite timeout (1m)",
        ),
        base(
            "step_without_action_is_reported_at_its_header",
            r#"[[steps]]
name = "a"
service = "db"
"#,
            "11:1: error: step \"a\" has no action; expected one of `run`, `shell`, `http`, `chaos` or `surql`",
        ),
        base(
            "step_with_two_actions_is_reported",
            r#"[[steps]]
name = "a"
run = ["true"]
http = { service = "db", port = 5432 }
"#,
            "14:1: error: step \"a\" has both `run` and `http`; a step has exactly one action",
        ),
        base(
            "run_and_shell_together_are_two_actions",
            r#"[[steps]]
name = "a"
run = ["true"]
shell = "true"
service = "db"
"#,
            "14:1: error: step \"a\" has both `run` and `shell`; a step has exactly one action",
        ),
        base(
            "empty_run_array_is_reported",
            r#"[[steps]]
name = "a"
run = []
service = "db"
"#,
            "13:7: error: `run` in step \"a\" is an empty array; expected the program and its arguments, like [\"psql\", \"-c\", \"select 1\"]",
        ),
        base(
            "empty_program_name_is_reported",
            r#"[[steps]]
name = "a"
run = ["", "x"]
service = "db"
"#,
            "13:8: error: `run` in step \"a\": the program name (first item) is empty",
        ),
        base(
            "run_without_service_or_image_is_reported",
            r#"[[steps]]
name = "a"
run = ["true"]
"#,
            "13:1: error: step \"a\" runs a command but says nowhere to run it; expected `service = \"NAME\"` or `image = \"repo:tag\"`",
        ),
        base(
            "run_with_service_and_image_is_reported",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
image = "debian:bookworm"
"#,
            "15:9: error: step \"a\" names both `service` and `image`; use one: exec in a service, or a fresh container of an image",
        ),
        bare(
            "uppercase_image_reference_is_invalid",
            r#"version = 1
[services.app]
image = "Debian:bookworm"
[[steps]]
name = "a"
run = ["true"]
service = "app"
"#,
            "3:9: error: invalid image reference \"Debian:bookworm\": repository path components must be lowercase letters and digits, separated by `.`, `_`, `__` or `-` (in service \"app\")",
        ),
        base(
            "invalid_step_image_reference_is_reported",
            r#"[[steps]]
name = "a"
run = ["true"]
image = "debian:"
"#,
            "14:9: error: invalid image reference \"debian:\": the tag after `:` must be 1-128 of letters, digits, `_`, `.`, `-` (not starting with `.` or `-`) (in step \"a\")",
        ),
        base(
            "duration_with_unknown_unit_is_reported",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
timeout = "30sec"
"#,
            "15:11: error: `timeout` in step \"a\": expected a duration like \"500ms\", \"30s\", \"2m\" or \"1m 30s\": unknown unit `sec` in \"30sec\" (use ms, s, m or h)",
        ),
        base(
            "duration_string_without_unit_is_reported",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
timeout = "30"
"#,
            "15:11: error: `timeout` in step \"a\": expected a duration like \"500ms\", \"30s\", \"2m\" or \"1m 30s\": the number 30 in \"30\" has no unit",
        ),
        base(
            "negative_duration_is_reported",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
timeout = -5
"#,
            "15:11: error: `timeout` in step \"a\": -5 is out of range; expected a duration: whole seconds (0 or more) or a string like \"30s\"",
        ),
        base(
            "bad_memory_string_is_reported",
            r#"[services.app]
image = "debian:bookworm"
memory = "lots"
[[steps]]
name = "a"
run = ["true"]
service = "app"
"#,
            "13:10: error: `memory` in service \"app\": expected a memory size like \"256m\" or \"1g\" (units b, k, m, g), found \"lots\"",
        ),
        base(
            "port_above_65535_is_out_of_range",
            r#"[services.app]
image = "debian:bookworm"
ports = [8080, 70000]
[[steps]]
name = "a"
run = ["true"]
service = "app"
"#,
            "13:16: error: `ports` in service \"app\": 70000 is out of range; expected a port number from 1 to 65535",
        ),
        base(
            "port_zero_is_out_of_range",
            r#"[[steps]]
name = "a"
http = { service = "db", port = 0 }
"#,
            "13:33: error: `port` in http of step \"a\": 0 is out of range; expected a port number from 1 to 65535",
        ),
        base(
            "http_port_not_declared_by_service_is_reported",
            r#"[[steps]]
name = "a"
http = { service = "db", port = 8080 }
"#,
            "13:33: error: step \"a\" calls port 8080 of service \"db\", which declares only 5432",
        ),
        base(
            "http_without_port_on_service_without_ports_is_reported",
            r#"[[steps]]
name = "a"
http = { service = "cache", path = "/" }
"#,
            "13:20: error: step \"a\" needs `port` in `http`: service \"cache\" declares no `ports`",
        ),
        bare(
            "missing_version_is_reported",
            r#"[suite]
name = "s"
[[steps]]
name = "a"
run = ["true"]
image = "debian:bookworm"
"#,
            "1:1: error: missing top-level `version = 1` (the suite format version)",
        ),
        bare(
            "unsupported_version_is_reported",
            r#"version = 2
[[steps]]
name = "a"
run = ["true"]
image = "debian:bookworm"
"#,
            "1:11: error: unsupported suite version 2; this clnrm reads version 1",
        ),
        base(
            "wrong_type_for_name_says_what_was_expected",
            r#"[[steps]]
name = 5
run = ["true"]
service = "db"
"#,
            "12:8: error: `name` in step #1: expected a string, found an integer",
        ),
        base(
            "non_string_env_value_is_reported",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
env = { DEBUG = true }
"#,
            "15:17: error: `env.DEBUG` in step \"a\": expected a string (quote numbers and booleans), found a boolean",
        ),
        base(
            "unknown_scope_is_reported",
            r#"[services.app]
image = "debian:bookworm"
scope = "suite"
[[steps]]
name = "a"
run = ["true"]
service = "app"
"#,
            "13:9: error: unknown scope \"suite\" in service \"app\"; expected \"shared\" or \"test\"",
        ),
        base(
            "schema_isolation_on_redis_is_reported",
            r#"[services.r]
plugin = "redis"
isolation = "schema"
[[steps]]
name = "a"
run = ["true"]
service = "r"
"#,
            "13:13: error: `isolation = \"schema\"` is only for postgres services; service \"r\" uses plugin \"redis\"",
        ),
        base(
            "database_isolation_on_a_generic_service_is_reported",
            r#"[services.app]
image = "debian:bookworm"
isolation = "database"
[[steps]]
name = "a"
run = ["true"]
service = "app"
"#,
            "13:13: error: `isolation = \"database\"` is for postgres, redis and surrealdb services; service \"app\" uses plugin \"generic\"",
        ),
        base(
            "unknown_isolation_is_reported",
            r#"[services.p]
plugin = "postgres"
isolation = "table"
[[steps]]
name = "a"
run = ["true"]
service = "p"
"#,
            "13:13: error: unknown isolation \"table\" in service \"p\"; expected \"database\", \"schema\", \"namespace\" or \"none\"",
        ),
        base(
            "namespace_isolation_on_postgres_is_reported",
            r#"[services.p]
plugin = "postgres"
isolation = "namespace"
[[steps]]
name = "a"
run = ["true"]
service = "p"
"#,
            "13:13: error: `isolation = \"namespace\"` is for plugins with [isolation] hooks; service \"p\" uses plugin \"postgres\" (postgres takes \"database\" or \"schema\", redis \"database\")",
        ),
        base(
            "isolation_with_scope_test_is_a_warning",
            r#"[services.p]
plugin = "postgres"
scope = "test"
isolation = "database"
[[steps]]
name = "a"
run = ["true"]
service = "p"
"#,
            "14:13: warning: `isolation` of service \"p\" has no effect with `scope = \"test\"`: each scenario has the whole container",
        ),
        base(
            "migrations_on_redis_are_reported",
            r#"[services.r]
plugin = "redis"
isolation = "database"
migrations = "sql"
[[steps]]
name = "a"
run = ["true"]
service = "r"
"#,
            "14:14: error: `migrations` is only for postgres services; service \"r\" uses plugin \"redis\"",
        ),
        base(
            "migrations_without_isolation_are_reported",
            r#"[services.p]
plugin = "postgres"
migrations = "sql"
[[steps]]
name = "a"
run = ["true"]
service = "p"
"#,
            "13:14: error: `migrations` of service \"p\" are applied to the template of isolated databases; add `isolation = \"database\"` or `\"schema\"` (and keep `scope = \"shared\"`)",
        ),
        base(
            "missing_migrations_directory_is_reported",
            r#"[services.p]
plugin = "postgres"
isolation = "database"
migrations = "no-such-dir"
[[steps]]
name = "a"
run = ["true"]
service = "p"
"#,
            "14:14: error: `migrations` of service \"p\": `no-such-dir` is not a directory (paths are relative to the suite file)",
        ),
        base(
            "migrations_that_are_not_a_string_are_reported",
            r#"[services.p]
plugin = "postgres"
isolation = "database"
migrations = ["sql"]
[[steps]]
name = "a"
run = ["true"]
service = "p"
"#,
            "14:14: error: `migrations` in service \"p\": expected a string, found an array",
        ),
        base(
            "shared_service_depending_on_a_per_scenario_one_is_reported",
            r#"[services.fresh]
image = "debian:bookworm"
scope = "test"
[services.app]
image = "debian:bookworm"
depends_on = ["fresh"]
[[steps]]
name = "a"
run = ["true"]
service = "app"
"#,
            "16:15: error: service \"app\" is shared by the suite's scenarios but depends on \"fresh\", which has `scope = \"test\"` (a fresh container per scenario); give service \"app\" `scope = \"test\"` too",
        ),
        base(
            "wait_for_with_two_kinds_is_reported",
            r#"[services.app]
image = "debian:bookworm"
wait_for = { log = "ready", tcp = 80 }
[[steps]]
name = "a"
run = ["true"]
service = "app"
"#,
            "13:12: error: wait_for of service \"app\": expected exactly one of `log`, `tcp`, `http`, `command`, found `log` and `tcp`",
        ),
        base(
            "unknown_http_method_is_reported",
            r#"[[steps]]
name = "a"
http = { service = "db", port = 5432, method = "FETCH" }
"#,
            "13:48: error: unknown HTTP method \"FETCH\" in http of step \"a\"; expected one of: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS",
        ),
        base(
            "http_path_without_slash_is_reported",
            r#"[[steps]]
name = "a"
http = { service = "db", port = 5432, path = "health" }
"#,
            "13:46: error: `path` in http of step \"a\" must start with `/`, like \"/health\"",
        ),
        base(
            "http_with_body_and_json_is_reported",
            r#"[[steps]]
name = "a"
http = { service = "db", port = 5432, body = "x", json = { a = 1 } }
"#,
            "13:51: error: http of step \"a\" has both `body` and `json`; keep one",
        ),
        base(
            "status_expectation_on_command_is_reported",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
expect.status = 200
"#,
            "15:17: error: `expect.status` of step \"a\" is for http steps; a command has `expect.exit_code`",
        ),
        base(
            "exit_code_expectation_on_http_is_reported",
            r#"[[steps]]
name = "a"
http = { service = "db", port = 5432 }
expect.exit_code = 0
"#,
            "14:20: error: `expect.exit_code` of step \"a\" is for commands; an http step has `expect.status`",
        ),
        base(
            "json_pointer_without_slash_is_reported",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
[steps.expect.json]
"data" = 1
"#,
            "16:1: error: JSON pointer \"data\" in expect of step \"a\" must be empty or start with `/`, like \"/data/0/name\"",
        ),
        bare(
            "generic_service_without_image_is_reported",
            r#"version = 1
[services.app]
ports = [80]
[[steps]]
name = "a"
run = ["true"]
service = "app"
"#,
            "2:1: error: service \"app\" uses the generic plugin and needs an `image = \"repo:tag\"`",
        ),
        base(
            "steps_and_scenarios_together_are_reported",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
[[scenarios]]
name = "b"
"#,
            "15:1: error: a suite has top-level [[steps]] or [[scenarios]], not both; move the steps into a scenario",
        ),
        bare(
            "suite_without_steps_is_reported",
            r#"version = 1
[suite]
name = "s"
"#,
            "1:1: error: suite has no steps; expected [[steps]] or [[scenarios]]",
        ),
        bare(
            "invalid_toml_is_reported_with_position",
            r#"version = 1
[suite
name = "s"
"#,
            "2:7: error: invalid TOML: unclosed table, expected `]`",
        ),
        base(
            "step_without_name_is_reported",
            r#"[[steps]]
run = ["true"]
service = "db"
"#,
            "11:1: error: step #1 has no `name`; expected name = \"...\"",
        ),
        base(
            "negative_cpus_is_reported",
            r#"[services.app]
image = "debian:bookworm"
cpus = -1.5
[[steps]]
name = "a"
run = ["true"]
service = "app"
"#,
            "13:8: error: `cpus` in service \"app\": expected a positive number of CPUs like 0.5 or 2",
        ),
        base(
            "negative_retries_is_reported",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
retries = -1
"#,
            "15:11: error: `retries` in step \"a\": -1 is out of range; expected a number of retries from 0 to 1000",
        ),
        base(
            "relative_workdir_is_reported",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
workdir = "app"
"#,
            "15:11: error: `workdir` of step \"a\" is \"app\"; expected an absolute path like \"/app\"",
        ),
        base(
            "empty_shell_script_is_reported",
            r#"[[steps]]
name = "a"
shell = "  "
service = "db"
"#,
            "13:9: error: `shell` in step \"a\" is empty; expected a script for `sh -c`",
        ),
        base(
            "invalid_service_name_is_reported",
            r#"[services."my db"]
image = "debian:bookworm"
[[steps]]
name = "a"
run = ["true"]
service = "my db"
"#,
            "11:1: error: invalid service name \"my db\"; expected letters, digits, `_`, `-` or `.`, starting with a letter or digit",
        ),
        base(
            "zero_max_duration_is_impossible",
            r#"[[steps]]
name = "a"
run = ["true"]
service = "db"
expect.max_duration = "0ms"
"#,
            "15:23: error: impossible expectation: `expect.max_duration` of step \"a\" is zero",
        ),
        bare(
            "empty_scenario_steps_array_is_reported",
            r#"version = 1
[[scenarios]]
name = "s"
steps = []
"#,
            "2:1: error: scenario \"s\" has no steps; expected [[scenarios.steps]]",
        ),
        bare(
            "empty_top_level_steps_array_is_reported",
            r#"version = 1
steps = []
"#,
            "2:9: error: `steps` is empty; expected at least one [[steps]]",
        ),
        base(
            "cpus_string_that_is_not_a_number_is_reported",
            r#"[services.x]
image = "debian:bookworm"
cpus = "half"
[[steps]]
name = "a"
run = ["true"]
service = "x"
"#,
            "13:8: error: `cpus` in service \"x\": expected a positive number of CPUs like 0.5 or 2",
        ),
        bare(
            "plain_toml_with_template_syntax_says_it_looks_like_a_template",
            r#"[test.metadata]
name = "t"
{% if fast %}
timeout = "10s"
{% endif %}
"#,
            "3:1: error: this file looks like a Tera template (`{{ }}` / `{% %}`) of the older clnrm; name it `*.clnrm.toml.tera` to have it rendered before parsing",
        ),
        bare(
            "legacy_typo_suggests_command",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:latest"
[[steps]]
name = "a"
comand = ["echo", "hi"]
"#,
            "8:1: error: unknown key `comand` in step \"a\", did you mean `command`?",
        ),
        bare(
            "legacy_step_without_service_among_many_is_reported",
            r#"[test.metadata]
name = "t"
[services.a]
image = "alpine:3"
[services.b]
image = "alpine:3"
[[steps]]
name = "x"
command = ["echo"]
"#,
            "9:11: error: step \"x\" does not say which service runs its command; expected `service = \"NAME\"` (known: a, b) or a `[containers] default_image` in the project's cleanroom.toml for steps that name no service",
        ),
        bare(
            "oldest_policy_security_level_high_is_refused",
            r#"name = "t"
[[scenarios]]
name = "s"
steps = [{ name = "a", cmd = ["true"] }]
[policy]
security_level = "high"
"#,
            "6:18: error: `security_level = \"high\"` in [policy] is not supported: clnrm isolates a step in its own container on the run's own network and enforces nothing stricter; use \"medium\"",
        ),
        bare(
            "oldest_policy_security_level_unknown_value_is_reported",
            r#"name = "t"
[[scenarios]]
name = "s"
steps = [{ name = "a", cmd = ["true"] }]
[policy]
security_level = "paranoid"
"#,
            "6:18: error: `security_level` in [policy]: expected \"low\", \"medium\" or \"high\", found \"paranoid\"",
        ),
        bare(
            "oldest_policy_max_execution_time_must_be_seconds",
            r#"name = "t"
[[scenarios]]
name = "s"
steps = [{ name = "a", cmd = ["true"] }]
[policy]
max_execution_time = "5m"
"#,
            "6:22: error: `max_execution_time` in [policy]: expected a number of seconds from 1 to 86400, found a string",
        ),
        bare(
            "oldest_policy_max_execution_time_is_the_suite_timeout",
            r#"name = "t"
[[scenarios]]
name = "s"
steps = [{ name = "a", cmd = ["true"] }]
[policy]
max_execution_time = 300
"#,
            "6:22: warning: `max_execution_time = 300` in [policy] is the suite's timeout: the run fails after 300 s",
        ),
        bare(
            "oldest_policy_medium_is_the_default_isolation",
            r#"name = "t"
[[scenarios]]
name = "s"
steps = [{ name = "a", cmd = ["true"] }]
[policy]
security_level = "medium"
"#,
            "6:18: warning: `security_level = \"medium\"` in [policy] the older clnrm's default isolation, what clnrm gives: every clnrm step runs in its own container on the run's own network",
        ),
        bare(
            "oldest_disallowed_command_in_a_step_is_refused",
            r#"name = "t"
[[scenarios]]
name = "s"
steps = [{ name = "wipe", cmd = ["/bin/rm", "-rf", "/x"] }]
[policy]
disallowed_commands = ["rm"]
"#,
            "4:33: error: step \"wipe\" runs `rm`, which `disallowed_commands` in [policy] (line 6) forbids",
        ),
        bare(
            "oldest_shell_step_with_disallowed_commands_is_refused",
            r#"name = "t"
[[scenarios]]
name = "s"
steps = [{ name = "script", cmd = ["sh", "-c", "echo hi"] }]
[policy]
disallowed_commands = ["rm"]
"#,
            "4:35: error: step \"script\" runs a shell (`sh`) while [policy] has `disallowed_commands`: clnrm checks the command as written and cannot see what a shell runs; run the program directly",
        ),
        bare(
            "oldest_allowed_network_hosts_is_refused",
            r#"name = "t"
[[scenarios]]
name = "s"
steps = [{ name = "a", cmd = ["true"] }]
[policy]
allowed_network_hosts = ["example.com"]
"#,
            "6:1: error: `allowed_network_hosts` in [policy] is not supported: clnrm does not restrict the hosts a step may reach",
        ),
        bare(
            "oldest_max_memory_mb_is_refused",
            r#"name = "t"
[[scenarios]]
name = "s"
steps = [{ name = "a", cmd = ["true"] }]
[policy]
max_memory_mb = 512
"#,
            "6:1: error: `max_memory_mb` in [policy] is not supported: a memory limit for the steps' container is not supported",
        ),
        bare(
            "oldest_max_cpu_usage_is_refused",
            r#"name = "t"
[[scenarios]]
name = "s"
steps = [{ name = "a", cmd = ["true"] }]
[policy]
max_cpu_usage = 0.5
"#,
            "6:1: error: `max_cpu_usage` in [policy] is not supported: a CPU limit for the steps' container is not supported",
        ),
        bare(
            "oldest_scenario_timeout_ms_is_refused",
            r#"name = "t"
[[scenarios]]
name = "s"
timeout_ms = 1000
steps = [{ name = "a", cmd = ["true"] }]
"#,
            "4:1: error: `timeout_ms` in scenario \"s\" is not supported: a time limit per scenario is not supported; give the top-level `[policy] max_execution_time`",
        ),
        bare(
            "oldest_scenario_policy_is_refused",
            r#"name = "t"
[[scenarios]]
name = "s"
policy = { security_level = "low" }
steps = [{ name = "a", cmd = ["true"] }]
"#,
            "4:1: error: `policy` in scenario \"s\" is not supported: a policy per scenario is not supported (the older clnrm applied the top-level `[policy]` instead); move its keys to the top-level `[policy]`",
        ),
        bare(
            "oldest_services_array_is_refused",
            r#"name = "t"
[[scenarios]]
name = "s"
steps = [{ name = "a", cmd = ["true"] }]
[[services]]
name = "database"
"#,
            "5:3: error: `services` in the top level is not supported: the oldest shape's `[[services]]` (commented out in its `clnrm init` output) is not read; write the suite in a later shape with `[services.NAME]`",
        ),
        bare(
            "oldest_step_without_cmd_is_reported",
            r#"name = "t"
[[scenarios]]
name = "s"
steps = [{ name = "a" }]
"#,
            "4:10: error: step \"a\" has no `cmd`; expected cmd = [\"program\", \"arg\", ...]",
        ),
        bare(
            "oldest_step_unknown_key_suggests_cmd",
            r#"name = "t"
[[scenarios]]
name = "s"
steps = [{ name = "a", cmd = ["true"], comd = ["x"] }]
"#,
            "4:40: error: unknown key `comd` in step \"a\", did you mean `cmd`?",
        ),
        bare(
            "oldest_concurrent_true_is_refused",
            r#"name = "t"
[[scenarios]]
name = "s"
concurrent = true
steps = [{ name = "a", cmd = ["true"] }]
"#,
            "4:14: error: `concurrent = true` in scenario \"s\" is not supported: steps of a scenario run in order",
        ),
        bare(
            "oldest_expected_exit_code_must_be_an_integer",
            r#"name = "t"
[[scenarios]]
name = "s"
steps = [{ name = "a", cmd = ["false"], expected_exit_code = "1" }]
"#,
            "4:62: error: `expected_exit_code` in step \"a\": expected an exit code (integer), found a string",
        ),
        bare(
            "oldest_shape_without_scenarios_is_reported",
            r#"name = "t"
[policy]
security_level = "low"
"#,
            "1:1: error: suite has no scenarios; expected [[scenarios]] with `steps = [{ name = \"...\", cmd = [...] }]`",
        ),
        bare(
            "legacy_expect_success_without_run_is_reported",
            r#"[meta]
name = "t"
[service.a]
plugin = "generic_container"
image = "alpine:3"
[[scenario]]
name = "s"
service = "a"
expect_success = false
[[scenario.steps]]
name = "x"
command = ["false"]
"#,
            "9:1: error: `expect_success` in scenario \"s\" applies to its `run` command, and it has none; give the steps an `expected_exit_code`",
        ),
        bare(
            "legacy_span_expectation_on_clnrm_own_span_is_an_error",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
[[steps]]
name = "a"
command = ["echo"]
[[expect.span]]
name = "clnrm.run"
"#,
            "10:8: error: `name = \"clnrm.run\"` in expect.span[clnrm.run] names a span of clnrm itself: it proves only that clnrm ran, not that the system under test did anything; expect a span the system under test sends",
        ),
        bare(
            "legacy_otel_validation_is_an_error",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
[[steps]]
name = "a"
command = ["echo"]
[otel_validation]
enabled = true
"#,
            "9:2: error: `otel_validation` in the top level asks for a check clnrm does not evaluate: the v0.4 `[otel_validation]` shape is not read; write the spans as `[[expect.span]]` (see the README's span expectations)",
        ),
        bare(
            "legacy_assertions_hermetic_holds_by_construction",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
[[steps]]
name = "a"
command = ["echo"]
[assertions]
execution_should_be_hermetic = true
"#,
            "10:1: warning: [assertions]: `execution_should_be_hermetic` holds by construction: the older clnrm checked its run had a session of its own; every clnrm suite runs in its own network and containers",
        ),
        bare(
            "legacy_assertions_more_commands_than_steps_is_an_error",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
[[steps]]
name = "a"
command = ["echo"]
[assertions]
container_should_have_executed_commands = 2
"#,
            "10:43: error: [assertions]: `container_should_have_executed_commands = 2` can never hold: the suite runs 1 command(s)",
        ),
        bare(
            "legacy_assertions_command_count_is_mapped",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
[[steps]]
name = "a"
command = ["echo"]
[assertions]
container_should_have_executed_commands = 1
"#,
            "10:1: warning: [assertions]: `container_should_have_executed_commands = 1` holds when the suite passes: all its 1 step(s) run",
        ),
        bare(
            "legacy_assertions_all_steps_pass_with_a_tolerated_failure_is_an_error",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
[[steps]]
name = "a"
command = ["false"]
continue_on_failure = true
[assertions]
all_steps_should_pass = true
"#,
            "11:1: error: [assertions]: `all_steps_should_pass` does not hold when step \"a\" fails, which `continue_on_failure` allows",
        ),
        bare(
            "legacy_assertions_other_keys_are_an_error",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
[[steps]]
name = "a"
command = ["echo"]
[assertions]
plugin_should_be_loaded = "alpine"
"#,
            "10:1: error: `plugin_should_be_loaded` in [assertions] asks for a check clnrm does not evaluate (the older clnrm skipped it with a log line); express it as a step expectation",
        ),
        bare(
            "legacy_health_check_is_read_as_wait_for_command",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
health_check = { cmd = ["true"] }
[[steps]]
name = "a"
command = ["echo"]
"#,
            "6:16: warning: service \"c\": `health_check` is read as `wait_for = { command = [...] }`, polled until the start-up timeout",
        ),
        bare(
            "legacy_health_check_without_cmd_is_reported",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
health_check = { interval = 1 }
[[steps]]
name = "a"
command = ["echo"]
"#,
            "6:16: error: health_check of service \"c\" has no `cmd`; expected cmd = [\"program\", \"arg\", ...]",
        ),
        bare(
            "legacy_wait_for_span_is_an_error",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
wait_for_span = "ready"
[[steps]]
name = "a"
command = ["echo"]
"#,
            "6:1: error: `wait_for_span` in service \"c\" asks for a check clnrm does not evaluate: waiting for a span before the steps is not supported; clnrm checks spans after each scenario (`[[expect.span]]`)",
        ),
        bare(
            "legacy_generic_container_is_mapped_with_a_note",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
[[steps]]
name = "a"
command = ["echo"]
"#,
            "4:8: warning: service \"c\": the older plugin \"generic_container\" runs as \"generic\"",
        ),
        bare(
            "legacy_type_differing_from_plugin_is_ignored_with_a_note",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
plugin = "generic"
[[steps]]
name = "a"
command = ["echo"]
"#,
            "4:8: warning: service \"c\": `type = \"generic_container\"` is ignored, as the older clnrm ignored it; `plugin = \"generic\"` decides",
        ),
        bare(
            "legacy_surrealdb_plugin_is_mapped_to_the_builtin",
            r#"[test.metadata]
name = "t"
[services.db]
plugin = "surrealdb"
[[steps]]
name = "a"
command = ["echo"]
"#,
            "4:10: warning: service \"db\": the older plugin \"surrealdb\" runs as the built-in \"surrealdb\" (port 8000) with the older command line",
        ),
        bare(
            "legacy_strict_outside_surrealdb_is_reported",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
strict = false
[[steps]]
name = "a"
command = ["echo"]
"#,
            "6:1: error: service \"c\": `strict` is only for the older \"surrealdb\" plugin",
        ),
        bare(
            "legacy_ollama_plugin_is_mapped_to_the_built_in",
            r#"[test.metadata]
name = "t"
[services.llm]
plugin = "ollama"
env = { endpoint = "http://localhost:11434", default_model = "gemma3:270m" }
[[steps]]
name = "a"
command = ["echo"]
"#,
            "4:10: warning: service \"llm\": the older plugin \"ollama\" runs as the built-in \"ollama\", a server clnrm starts (port 11434; steps reach it at $CLNRM_LLM_URL), pulling `models = [\"gemma3:270m\"]` from its `env`",
        ),
        bare(
            "legacy_vllm_plugin_is_mapped_to_the_built_in_with_its_env_model",
            r#"[test.metadata]
name = "t"
[services.llm]
plugin = "vllm"
env = { endpoint = "http://localhost:8000", model = "Qwen/Qwen2.5-0.5B-Instruct" }
[[steps]]
name = "a"
command = ["echo"]
"#,
            "4:10: warning: service \"llm\": the older plugin \"vllm\" runs as the built-in \"vllm\", a server clnrm starts (port 8000; steps reach it at $CLNRM_LLM_URL), serving `model = \"Qwen/Qwen2.5-0.5B-Instruct\"` from its `env`",
        ),
        bare(
            "legacy_tgi_plugin_without_a_model_is_reported",
            r#"[test.metadata]
name = "t"
[services.llm]
plugin = "tgi"
env = { endpoint = "http://localhost:8080" }
[[steps]]
name = "a"
command = ["echo"]
"#,
            "4:10: error: service \"llm\": the older plugin \"tgi\" serves one model: name it in `env` (`model_id = \"org/name\"`)",
        ),
        bare(
            "legacy_unknown_plugin_without_image_stays_an_error",
            r#"[test.metadata]
name = "t"
[services.x]
plugin = "nosuchplugin"
[[steps]]
name = "a"
command = ["echo"]
"#,
            "4:10: error: service \"x\" uses unknown plugin \"nosuchplugin\"; known: generic, postgres, redis",
        ),
        bare(
            "legacy_credentials_outside_surrealdb_are_reported",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
username = "root"
[[steps]]
name = "a"
command = ["echo"]
"#,
            "6:12: error: service \"c\": `username` / `password` are only for the older \"surrealdb\" plugin; pass credentials with `env`",
        ),
        bare(
            "legacy_environment_is_read_as_env",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
environment = { A = "1" }
[[steps]]
name = "a"
command = ["echo"]
"#,
            "6:1: warning: service \"c\": `environment` is read as `env`",
        ),
        bare(
            "legacy_env_and_environment_together_are_reported",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
environment = { A = "1" }
env = { B = "2" }
[[steps]]
name = "a"
command = ["echo"]
"#,
            "7:1: error: service \"c\" gives both `env` and `environment`; keep one",
        ),
        bare(
            "legacy_volume_without_container_path_is_reported",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
[[services.c.volumes]]
host_path = "/tmp"
[[steps]]
name = "a"
command = ["echo"]
"#,
            "6:1: error: a volume of service \"c\" has no `container_path`",
        ),
        bare(
            "legacy_volume_relative_container_path_is_reported",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
[[services.c.volumes]]
host_path = "/tmp"
container_path = "data"
[[steps]]
name = "a"
command = ["echo"]
"#,
            "8:18: error: volume of service \"c\": `container_path` must be absolute, like \"/data\"; found \"data\"",
        ),
        bare(
            "legacy_volume_missing_host_path_is_reported",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
[[services.c.volumes]]
host_path = "/nonexistent/clnrm-compat"
container_path = "/data"
[[steps]]
name = "a"
command = ["echo"]
"#,
            "7:13: error: volume of service \"c\": host path `/nonexistent/clnrm-compat` does not exist (relative paths are relative to the suite file)",
        ),
        bare(
            "legacy_volume_read_only_must_be_a_boolean",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
[[services.c.volumes]]
host_path = "/tmp"
container_path = "/data"
read_only = "yes"
[[steps]]
name = "a"
command = ["echo"]
"#,
            "9:13: error: `read_only` in a volume of service \"c\": expected true or false, found a string",
        ),
        bare(
            "legacy_regex_not_is_checked_to_compile",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
[[steps]]
name = "a"
command = ["echo"]
expected_output_regex_not = "(a"
"#,
            "9:29: error: invalid regex in expect.stdout of step \"a\": unclosed group",
        ),
        bare(
            "legacy_should_fail_with_an_exit_code_is_reported",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
[[steps]]
name = "a"
command = ["echo"]
should_fail = true
expected_exit_code = 2
"#,
            "10:1: error: step \"a\" gives both `should_fail` and `expected_exit_code`; keep one",
        ),
        bare(
            "legacy_step_description_is_a_descriptive_warning",
            r#"[test.metadata]
name = "t"
[services.c]
type = "generic_container"
image = "alpine:3"
[[steps]]
name = "a"
command = ["echo"]
description = "says hi"
"#,
            "9:1: warning: `description` in step \"a\" only describes the suite; ignored",
        ),
        bare(
            "legacy_metadata_hermetic_is_a_descriptive_warning",
            r#"[test.metadata]
name = "t"
hermetic = true
[services.c]
type = "generic_container"
image = "alpine:3"
[[steps]]
name = "a"
command = ["echo"]
"#,
            "3:1: warning: `hermetic` in [test.metadata] only describes the suite; ignored",
        ),
        bare(
            "legacy_scenario_artifacts_are_an_error",
            r#"[meta]
name = "t"
[service.c]
image = "alpine:3"
[[scenario]]
name = "s"
run = "echo hi"
artifacts = { collect = ["spans:default"] }
"#,
            "8:1: error: `artifacts` in scenario \"s\" asks for a check clnrm does not evaluate: artifact collection (spans, logs, files) is not supported yet",
        ),
        bare(
            "legacy_concurrent_scenario_is_an_error",
            r#"[meta]
name = "t"
[service.c]
image = "alpine:3"
[[scenario]]
name = "s"
run = "echo hi"
concurrent = true
"#,
            "8:14: error: `concurrent = true` in scenario \"s\" is not supported: steps of a scenario run in order",
        ),
        bare(
            "legacy_steps_without_any_service_run_in_the_default_image",
            r#"[test.metadata]
name = "t"
[[steps]]
name = "a"
command = ["echo"]
"#,
            "5:11: warning: steps that name no service run in a container of \"alpine:latest\" (the older clnrm\'s default image; set `[containers] default_image` in cleanroom.toml to change it)",
        ),
        bare(
            "legacy_scenario_run_with_unbalanced_quote_is_reported",
            r#"[meta]
name = "t"
[services.c]
image = "alpine:3"
[[scenario]]
name = "s"
run = "sh -c 'echo"
"#,
            "7:7: error: `run` in scenario \"s\": unbalanced single quote in command \"sh -c 'echo\"",
        ),
        bare(
            "legacy_bad_regex_is_reported",
            r#"[test.metadata]
name = "t"
[services.c]
image = "alpine:3"
[[steps]]
name = "a"
command = ["echo"]
expected_output_regex = "[a-"
"#,
            "8:25: error: invalid regex in expect.stdout of step \"a\": unclosed character class",
        ),
        // The older `[test]` + `[containers.NAME]` + `exec` shape.
        bare(
            "older_test_table_with_metadata_too_is_reported",
            r#"[test]
name = "t"
[test.metadata]
name = "u"
[containers.c]
image = "alpine:3"
[[steps]]
name = "a"
exec = ["true"]
"#,
            "2:1: error: [test] gives both `name` and [test.metadata]; keep one",
        ),
        bare(
            "older_container_without_image_is_reported",
            r#"[test]
name = "t"
[containers.c]
env = { A = "b" }
[[steps]]
name = "a"
exec = ["true"]
"#,
            "3:1: error: container \"c\" has no `image`; expected image = \"repo:tag\"",
        ),
        bare(
            "older_container_is_mapped_to_an_idling_generic_service",
            r#"[test]
name = "t"
[containers.c]
image = "alpine:3"
[[steps]]
name = "a"
container = "c"
exec = ["true"]
"#,
            "3:1: warning: container \"c\" runs as a \"generic\" service of that name kept running with `sleep infinity` for its steps to `exec` in (give `command` to run the image's own)",
        ),
        bare(
            "older_container_bad_port_is_reported",
            r#"[test]
name = "t"
[containers.c]
image = "alpine:3"
ports = ["5432:x:y"]
[[steps]]
name = "a"
exec = ["true"]
"#,
            "5:10: error: port \"5432:x:y\" of container \"c\": expected \"CONTAINER:HOST\" or \"PORT\", like \"5432\"",
        ),
        bare(
            "older_container_volume_without_container_path_is_reported",
            r#"[test]
name = "t"
[containers.c]
image = "alpine:3"
volumes = [{ host = "/tmp" }]
[[steps]]
name = "a"
exec = ["true"]
"#,
            "5:12: error: a volume of container \"c\" has no `container`",
        ),
        bare(
            "older_container_healthcheck_with_unbalanced_quote_is_reported",
            r#"[test]
name = "t"
[containers.c]
image = "alpine:3"
healthcheck = "sh -c 'true"
[[steps]]
name = "a"
exec = ["true"]
"#,
            "5:15: error: `healthcheck` of container \"c\": unbalanced single quote in command \"sh -c 'true\"",
        ),
        bare(
            "older_container_workdir_is_refused",
            r#"[test]
name = "t"
[containers.c]
image = "alpine:3"
workdir = "/srv"
[[steps]]
name = "a"
exec = ["true"]
"#,
            "5:1: error: `workdir` in container \"c\" is not supported: a container's working directory is not supported; give the steps a `workdir`",
        ),
        bare(
            "older_step_with_command_and_exec_is_reported",
            r#"[test]
name = "t"
[containers.c]
image = "alpine:3"
[[steps]]
name = "a"
command = ["true"]
exec = ["true"]
"#,
            "8:1: error: step \"a\" gives both `command` and `exec`; keep one",
        ),
        bare(
            "older_step_with_service_and_container_is_reported",
            r#"[test]
name = "t"
[containers.c]
image = "alpine:3"
[[steps]]
name = "a"
service = "c"
container = "c"
exec = ["true"]
"#,
            "8:1: error: step \"a\" gives both `service` and `container`; keep one",
        ),
        bare(
            "older_step_unknown_container_is_reported",
            r#"[test]
name = "t"
[containers.c]
image = "alpine:3"
[[steps]]
name = "a"
container = "d"
exec = ["true"]
"#,
            "7:13: error: step \"a\" uses unknown service \"d\"; did you mean \"c\"? known: c",
        ),
        bare(
            "older_assert_unknown_check_is_refused",
            r#"[test]
name = "t"
[containers.c]
image = "alpine:3"
[[steps]]
name = "a"
exec = ["true"]
assert.stderr_regex = "x"
"#,
            "8:8: error: unknown key `stderr_regex` in `assert` of step \"a\", did you mean `stdout_regex`?",
        ),
        bare(
            "older_assert_exit_code_twice_is_reported",
            r#"[test]
name = "t"
[containers.c]
image = "alpine:3"
[[steps]]
name = "a"
exec = ["true"]
assert.exit_code = 0
expected_exit_code = 1
"#,
            "9:22: error: step \"a\" gives `expected_exit_code` and `assert.exit_code` (line 8); keep one",
        ),
        bare(
            "older_assert_wrong_type_is_reported",
            r#"[test]
name = "t"
[containers.c]
image = "alpine:3"
[[steps]]
name = "a"
exec = ["true"]
[steps.assert]
stdout_contains = 3
"#,
            "9:19: error: `stdout_contains` in `assert` of step \"a\": expected a string, found an integer",
        ),
        bare(
            "older_retry_delay_is_refused",
            r#"[test]
name = "t"
[containers.c]
image = "alpine:3"
[[steps]]
name = "a"
exec = ["true"]
retry = { attempts = 3, delay = "1s" }
"#,
            "8:33: error: `retry` of step \"a\": a delay between attempts is not supported (clnrm retries at once); remove it or set \"0s\"",
        ),
        bare(
            "older_retry_without_attempts_is_reported",
            r#"[test]
name = "t"
[containers.c]
image = "alpine:3"
[[steps]]
name = "a"
exec = ["true"]
retry = { delay = "0s" }
"#,
            "8:9: error: `retry` of step \"a\" has no `attempts`; expected attempts = 3",
        ),
        bare(
            "older_depends_on_a_later_step_is_reported",
            r#"[test]
name = "t"
[containers.c]
image = "alpine:3"
[[steps]]
name = "a"
exec = ["true"]
depends_on = ["b"]
[[steps]]
name = "b"
exec = ["true"]
"#,
            "8:15: error: step \"a\" depends on step \"b\", which comes later; steps run in file order, so move it before this one",
        ),
        bare(
            "older_depends_on_an_unknown_step_is_reported",
            r#"[test]
name = "t"
[containers.c]
image = "alpine:3"
[[steps]]
name = "a"
exec = ["true"]
depends_on = ["nope"]
"#,
            "8:15: error: step \"a\" depends on unknown step \"nope\"",
        ),
        bare(
            "older_parallel_is_ignored_with_a_warning",
            r#"parallel = 4
[test]
name = "t"
[containers.c]
image = "alpine:3"
[[steps]]
name = "a"
exec = ["true"]
"#,
            "1:1: warning: `parallel` in the top level is ignored: a limit on steps run at once; clnrm runs a scenario's steps one after another (suites in parallel with `clnrm run --jobs N`)",
        ),
        bare(
            "older_testcontainers_plugin_is_mapped_to_generic",
            r#"[test]
name = "t"
[services]
c = { type = "container", plugin = "testcontainers", image = "alpine:3" }
[[steps]]
name = "a"
command = ["true"]
"#,
            "4:36: warning: service \"c\": the older plugin \"testcontainers\" runs as \"generic\"",
        ),
        bare(
            "older_surrealdb_strict_is_ignored_with_a_warning",
            r#"[test.metadata]
name = "t"
[services.db]
plugin = "surrealdb"
strict = true
[[steps]]
name = "a"
command = ["echo"]
"#,
            "5:1: warning: `strict` in service \"db\" is ignored: the older clnrm never read it (its surrealdb factory took `strict` from `env`), so it had no effect; an error on other plugins",
        ),
    ]
}

fn render(case: &Case) -> Vec<String> {
    let text = if case.with_base {
        format!("{BASE}{}", case.toml)
    } else {
        case.toml.to_owned()
    };
    let source = SuiteSource::new("suite.clnrm.toml", text);
    let checked = check_suite(&source, PLUGINS);
    checked
        .diagnostics
        .iter()
        .map(|d| format!("{}:{}: {}: {}", d.line, d.column, d.severity, d.message))
        .collect()
}

#[test]
fn every_malformed_suite_reports_its_problem_at_its_position() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let got = render(case);
        if !got.iter().any(|d| d == case.expected) {
            failures.push(format!(
                "case `{}`\n  expected: {}\n  got:\n    {}",
                case.name,
                case.expected,
                got.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
