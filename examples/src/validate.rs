//! Pure checks and code generation: no I/O, unit-tested here.

use rand::Rng;

use crate::error::{Error, Result};

/// The longest URL accepted, in bytes (what common browsers and proxies handle safely).
pub const MAX_URL_LEN: usize = 2048;

/// Characters of generated codes: base62, so codes need no escaping anywhere.
pub const CODE_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Length of generated codes: 62^7 ≈ 3.5e12, so random draws practically never collide.
pub const CODE_LEN: usize = 7;

/// The longest custom code accepted.
pub const MAX_CODE_LEN: usize = 32;

/// Checks that `url` is an absolute `http` or `https` URL with a plausible host, and returns it
/// normalised: surrounding whitespace trimmed, scheme and host lower-cased.
///
/// User information (`user:pass@host`) is refused: it is the classic way to disguise where a
/// short link leads (`https://bank.example@evil.example/`).
pub fn validate_url(url: &str) -> Result<String> {
    let invalid = |reason| {
        Err(Error::InvalidUrl {
            url: url.to_owned(),
            reason,
        })
    };
    let trimmed = url.trim();
    if trimmed.is_empty() {
        return invalid("empty");
    }
    if trimmed.len() > MAX_URL_LEN {
        return invalid("longer than 2048 bytes");
    }
    if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("contains whitespace or control characters");
    }
    let Some((scheme, rest)) = trimmed.split_once("://") else {
        return invalid("not an absolute url (no `scheme://`)");
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return invalid("scheme must be http or https");
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    if authority.contains('@') {
        return invalid("user information (`user@`) is not allowed");
    }
    let (host, port) = split_host_port(authority);
    if host.is_empty() {
        return invalid("missing host");
    }
    if !valid_host(host) {
        return invalid("invalid host");
    }
    if let Some(port) = port
        && (port.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0))
    {
        return invalid("invalid port");
    }
    Ok(format!(
        "{scheme}://{}{}{tail}",
        host.to_ascii_lowercase(),
        port.map(|p| format!(":{p}")).unwrap_or_default()
    ))
}

/// Splits `host[:port]`, minding bracketed IPv6 literals (`[::1]:8080`).
fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => {
                let (host, rest) = authority.split_at(end + 1);
                (host, rest.strip_prefix(':'))
            }
            None => (authority, None),
        };
    }
    match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Checks a custom code: 1 to 32 characters of `A-Z a-z 0-9 _ -`.
pub fn validate_code(code: &str) -> Result<()> {
    let invalid = |reason| {
        Err(Error::InvalidCode {
            code: code.to_owned(),
            reason,
        })
    };
    if code.is_empty() {
        return invalid("empty");
    }
    if code.len() > MAX_CODE_LEN {
        return invalid("longer than 32 characters");
    }
    if !code
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return invalid("only letters, digits, `_` and `-` are allowed");
    }
    Ok(())
}

/// Draws a random code of [`CODE_LEN`] characters from [`CODE_ALPHABET`].
pub fn generate_code(rng: &mut impl Rng) -> String {
    (0..CODE_LEN)
        .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn reason(result: Result<impl std::fmt::Debug>) -> &'static str {
        match result {
            Err(Error::InvalidUrl { reason, .. } | Error::InvalidCode { reason, .. }) => reason,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn http_and_https_urls_are_accepted() {
        for url in [
            "http://example.com",
            "https://example.com/",
            "https://sub.example.com:8443/a/b?q=1&r=2#frag",
            "http://127.0.0.1:8080/x",
            "http://[::1]:3000/",
            "https://localhost",
        ] {
            assert_eq!(validate_url(url).unwrap(), url, "{url}");
        }
    }

    #[test]
    fn scheme_and_host_are_lower_cased_and_whitespace_trimmed() {
        assert_eq!(
            validate_url("  HTTPS://Example.COM/Path?Q=A  ").unwrap(),
            "https://example.com/Path?Q=A"
        );
    }

    #[test]
    fn bad_urls_are_refused_with_a_reason() {
        assert_eq!(reason(validate_url("")), "empty");
        assert_eq!(reason(validate_url("   ")), "empty");
        assert_eq!(
            reason(validate_url("example.com")),
            "not an absolute url (no `scheme://`)"
        );
        assert_eq!(
            reason(validate_url("ftp://example.com/file")),
            "scheme must be http or https"
        );
        assert_eq!(
            reason(validate_url("javascript://alert(1)")),
            "scheme must be http or https"
        );
        assert_eq!(
            reason(validate_url("https://exa mple.com")),
            "contains whitespace or control characters"
        );
        assert_eq!(reason(validate_url("https:///path")), "missing host");
        assert_eq!(reason(validate_url("https://exa_mple.com")), "invalid host");
        assert_eq!(reason(validate_url("https://-a.com")), "invalid host");
        assert_eq!(reason(validate_url("https://a..com")), "invalid host");
        assert_eq!(reason(validate_url("http://[::1/")), "invalid host");
        assert_eq!(reason(validate_url("http://a.com:0/")), "invalid port");
        assert_eq!(reason(validate_url("http://a.com:99999/")), "invalid port");
        assert_eq!(reason(validate_url("http://a.com:/")), "invalid port");
        assert_eq!(
            reason(validate_url("https://bank.example@evil.example/")),
            "user information (`user@`) is not allowed"
        );
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(reason(validate_url(&long)), "longer than 2048 bytes");
    }

    #[test]
    fn invalid_url_message_names_the_url_and_reason() {
        let err = validate_url("ftp://x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid url `ftp://x`: scheme must be http or https"
        );
    }

    #[test]
    fn custom_codes_are_checked() {
        validate_code("abc").unwrap();
        validate_code("My_Link-2").unwrap();
        validate_code(&"a".repeat(MAX_CODE_LEN)).unwrap();
        assert_eq!(reason(validate_code("")), "empty");
        assert_eq!(
            reason(validate_code(&"a".repeat(MAX_CODE_LEN + 1))),
            "longer than 32 characters"
        );
        for bad in ["a/b", "a b", "ä", "a?", "a.b"] {
            assert_eq!(
                reason(validate_code(bad)),
                "only letters, digits, `_` and `-` are allowed",
                "{bad}"
            );
        }
    }

    #[test]
    fn generated_codes_are_valid_base62_of_fixed_length() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..1000 {
            let code = generate_code(&mut rng);
            assert_eq!(code.len(), CODE_LEN);
            assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{code}");
            validate_code(&code).unwrap();
        }
    }

    #[test]
    fn generated_codes_are_deterministic_for_a_seed_and_vary_across_draws() {
        let draw = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..100)
                .map(|_| generate_code(&mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
        let mut distinct = draw(3);
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 100);
    }
}
