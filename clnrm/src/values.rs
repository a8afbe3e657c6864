//! The scalar vocabulary both front doors share (the `#[clnrm::test]` harness and TOML suites):
//! small pure parsers for durations, memory sizes, image references, old-format command strings,
//! and "did you mean" suggestions.

use std::time::Duration;

/// Parses `"500ms"`, `"30s"`, `"2m"`, `"1h"`, `"1m 30s"`, `"1m30s"`.
///
/// Units: `ms`, `s`, `m`, `h`. Every number needs a unit; a bare integer is only accepted as a
/// TOML integer (seconds), not inside a string.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let expected = "expected a duration like \"500ms\", \"30s\", \"2m\" or \"1m 30s\"";
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("{expected}, found an empty string"));
    }
    let mut total = Duration::ZERO;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("{expected}, found \"{text}\""));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("duration \"{text}\" is too large"))?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let (per_unit, nanos) = match unit {
            "ms" => (0, 1_000_000u64),
            "s" => (1, 0),
            "m" => (60, 0),
            "h" => (3600, 0),
            "" => {
                return Err(format!(
                    "{expected}: the number {number} in \"{text}\" has no unit"
                ));
            }
            other => {
                return Err(format!(
                    "{expected}: unknown unit `{other}` in \"{text}\" (use ms, s, m or h)"
                ));
            }
        };
        let part = if nanos > 0 {
            number
                .checked_mul(nanos)
                .map(Duration::from_nanos)
                .ok_or_else(|| format!("duration \"{text}\" is too large"))?
        } else {
            number
                .checked_mul(per_unit)
                .map(Duration::from_secs)
                .ok_or_else(|| format!("duration \"{text}\" is too large"))?
        };
        total = total
            .checked_add(part)
            .ok_or_else(|| format!("duration \"{text}\" is too large"))?;
    }
    Ok(total)
}

/// Parses a memory size (`"256m"`, `"1g"`, `"512k"`, `"1024"`, `"256mb"`, `"1GiB"`) into bytes.
///
/// Units are binary, like Docker's `--memory`: `k` = 1024, `m` = 1024², `g` = 1024³.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let expected = "expected a memory size like \"256m\" or \"1g\" (units b, k, m, g)";
    let trimmed = text.trim();
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!("{expected}, found \"{text}\""));
    }
    let number: u64 = trimmed[..digits]
        .parse()
        .map_err(|_| format!("memory size \"{text}\" is too large"))?;
    let unit = trimmed[digits..].trim().to_ascii_lowercase();
    let factor: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("{expected}, found \"{text}\"")),
    };
    let bytes = number
        .checked_mul(factor)
        .ok_or_else(|| format!("memory size \"{text}\" is too large"))?;
    if bytes == 0 {
        return Err(format!("{expected}, found zero"));
    }
    Ok(bytes)
}

/// Checks a Docker image reference: `[registry[:port]/]path[:tag][@algo:hex]`.
///
/// Returns what is wrong, naming what was expected.
pub fn check_image_reference(reference: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("invalid image reference \"{reference}\": {why}"));
    if reference.is_empty() {
        return bad("expected \"repo:tag\", found an empty string");
    }
    if reference
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return bad("it contains whitespace");
    }
    let (name_tag, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (reference, None),
    };
    if let Some(digest) = digest {
        let ok = digest.split_once(':').is_some_and(|(algo, hex)| {
            !algo.is_empty()
                && algo
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
                && hex.len() >= 32
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        });
        if !ok {
            return bad("expected a digest like `@sha256:<64 hex digits>` after `@`");
        }
    }
    // The tag is after the last ':' that follows the last '/'.
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (
            &name_tag[..last_slash + i],
            Some(&name_tag[last_slash + i + 1..]),
        ),
        None => (name_tag, None),
    };
    if let Some(tag) = tag {
        let valid = !tag.is_empty()
            && tag.len() <= 128
            && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !valid {
            return bad(
                "the tag after `:` must be 1-128 of letters, digits, `_`, `.`, `-` (not starting with `.` or `-`)",
            );
        }
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 {
        let first = components[0];
        let is_registry = first.contains('.') || first.contains(':') || first == "localhost";
        if is_registry {
            let (host, port) = match first.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (first, None),
            };
            let host_ok = !host.is_empty()
                && host.split('.').all(|l| {
                    !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
            if !host_ok || !port_ok {
                return bad(
                    "expected a registry host like `registry.example.com:5000` before the first `/`",
                );
            }
            components.remove(0);
        }
    }
    for component in components {
        if !valid_path_component(component) {
            return bad(
                "repository path components must be lowercase letters and digits, separated by `.`, `_`, `__` or `-`",
            );
        }
    }
    Ok(())
}

fn valid_path_component(component: &str) -> bool {
    if component.is_empty() {
        return false;
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes: Vec<char> = component.chars().collect();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    // Separators: `.`, `_`, `__`, or one or more `-`.
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if alnum(c) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep: String = bytes[start..i].iter().collect();
        let ok = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|c| c == '-');
        if !ok {
            return false;
        }
    }
    true
}

/// Whether an image reference names a tag or digest (`postgres:16`, not `postgres`).
pub fn image_has_tag(reference: &str) -> bool {
    let name = reference.split('@').next().unwrap_or(reference);
    reference.contains('@')
        || name
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
}

/// Splits an old-format command string (`sh -lc 'echo "hi"'`) into argv, like the upstream
/// clnrm project did: whitespace separates words, single and double quotes group, `\` escapes
/// outside single quotes. No shell is involved.
pub fn split_command_line(line: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut single = false;
    let mut double = false;
    let mut escape = false;
    for c in line.chars() {
        if escape {
            current.push(c);
            escape = false;
            continue;
        }
        match c {
            '\\' if !single => {
                escape = true;
                in_word = true;
            }
            '\'' if !double => {
                single = !single;
                in_word = true;
            }
            '"' if !single => {
                double = !double;
                in_word = true;
            }
            c if c.is_whitespace() && !single && !double => {
                if in_word {
                    args.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if single || double {
        return Err(format!(
            "unbalanced {} quote in command \"{line}\"",
            if single { "single" } else { "double" }
        ));
    }
    if escape {
        return Err(format!("command \"{line}\" ends with a lone `\\`"));
    }
    if in_word {
        args.push(current);
    }
    if args.is_empty() {
        return Err("expected a command, found an empty string".into());
    }
    Ok(args)
}

/// Edit distance in characters (optimal string alignment: insertions, deletions,
/// substitutions and transpositions of neighbours each cost 1, so `imgae` is 1 from `image`).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if word.chars().count() > 64 {
        return None;
    }
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {

    /// This module is the shared vocabulary's one home: the harness front door reads it here,
    /// never through the suite front door (`crate::suite`), and both front doors use it.
    #[test]
    fn both_front_doors_use_the_shared_values_and_the_harness_never_reaches_into_suite() {
        fn sources(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
            for entry in std::fs::read_dir(dir).expect("read source directory") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    sources(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).expect("read source");
                    out.push((path.display().to_string(), text));
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let (mut harness, mut suite) = (Vec::new(), Vec::new());
        sources(&src.join("harness"), &mut harness);
        sources(&src.join("suite"), &mut suite);
        for (path, text) in &harness {
            assert!(
                !text.contains("suite::"),
                "{path} reaches into the suite front door; shared value parsers live in `clnrm::values`"
            );
        }
        for (door, files) in [("harness", &harness), ("suite", &suite)] {
            assert!(
                files.iter().any(|(_, t)| t.contains("crate::values")),
                "the {door} front door does not use `clnrm::values`"
            );
        }
    }
    use super::*;

    #[test]
    fn durations_accept_units_and_combinations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h1m1s"), Ok(Duration::from_secs(3661)));
        assert!(parse_duration("30").unwrap_err().contains("has no unit"));
        assert!(
            parse_duration("3 weeks")
                .unwrap_err()
                .contains("unknown unit `weeks`")
        );
        assert!(parse_duration("").is_err());
        assert!(
            parse_duration("99999999999999999999s")
                .unwrap_err()
                .contains("too large")
        );
        assert!(
            parse_duration("18446744073709551615h")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn memory_sizes_are_binary_units() {
        assert_eq!(parse_memory("256m"), Ok(256 << 20));
        assert_eq!(parse_memory("1g"), Ok(1 << 30));
        assert_eq!(parse_memory("1GiB"), Ok(1 << 30));
        assert_eq!(parse_memory("512"), Ok(512));
        assert!(parse_memory("lots").is_err());
        assert!(parse_memory("1t").is_err());
        assert!(parse_memory("0m").is_err());
        assert!(
            parse_memory("99999999999g")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn image_references_follow_docker_grammar() {
        for ok in [
            "postgres:16",
            "redis:7",
            "debian:bookworm",
            "library/postgres:16.2-alpine",
            "ghcr.io/org/app:v1.2.3",
            "localhost:5000/app",
            "postgres@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(check_image_reference(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "Postgres:16",
            "postgres:",
            "post gres",
            "postgres:-x",
            "a//b",
            "app@md5",
        ] {
            assert!(check_image_reference(bad).is_err(), "{bad}");
        }
        assert!(image_has_tag("postgres:16"));
        assert!(!image_has_tag("localhost:5000/app"));
    }

    #[test]
    fn command_lines_split_like_upstream() {
        assert_eq!(
            split_command_line(r#"sh -lc 'echo "test"'"#).unwrap(),
            vec!["sh", "-lc", r#"echo "test""#]
        );
        assert_eq!(split_command_line("echo ''").unwrap(), vec!["echo", ""]);
        assert!(split_command_line("echo 'oops").is_err());
        assert!(split_command_line("   ").is_err());
    }

    #[test]
    fn suggestions_pick_the_closest_known_word() {
        assert_eq!(closest("comand", &["command", "name"]), Some("command"));
        assert_eq!(closest("zzzzzz", &["command", "name"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("imgae", "image"), 1);
        assert_eq!(closest("tpc", &["log", "tcp"]), Some("tcp"));
    }
}
