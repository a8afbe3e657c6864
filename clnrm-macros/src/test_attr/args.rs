//! The arguments of `#[clnrm::test(...)]`, parsed the tokio way: one `set_*` per key refuses a
//! second value and keeps the key's span, then [`TestSpecBuilder::build`] applies the rules that
//! span several keys. Errors point at the offending token and say what was expected.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Ident, Lit, LitInt, LitStr, Token};

/// Every key with an example of how it is written; an unknown key lists them.
const KEYS: &[(&str, &str)] = &[
    ("services", "services(db = postgres, cache = redis)"),
    ("scope", "scope = \"shared\""),
    ("timeout", "timeout = 30"),
    ("retries", "retries = 2"),
    ("tags", "tags(\"slow\", \"db\")"),
    ("exclusive", "exclusive = \"migrations\""),
    ("ignore", "ignore = \"reason\""),
];

/// The values `scope` accepts.
const SCOPES: &[&str] = &["shared", "test"];

/// Everything `#[clnrm::test(...)]` says, syntax-checked but not validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TestSpec {
    /// `services(...)`, in the order written.
    pub(crate) services: Vec<ServiceSpec>,
    /// `scope = "shared" | "test"`.
    pub(crate) scope: Option<String>,
    /// `timeout = 30` or `timeout = "1m 30s"`.
    pub(crate) timeout: Option<TimeoutSpec>,
    /// `retries = 2`.
    pub(crate) retries: Option<u32>,
    /// `tags("slow", "db")`.
    pub(crate) tags: Vec<String>,
    /// `exclusive = "migrations"`.
    pub(crate) exclusive: Option<String>,
    /// `ignore` (`Some(None)`) or `ignore = "reason"` (`Some(Some(reason))`).
    pub(crate) ignore: Option<Option<String>>,
}

/// `timeout = 30` (seconds) or `timeout = "1m 30s"` (parsed at run time).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TimeoutSpec {
    /// Whole seconds.
    Secs(i64),
    /// A duration string.
    Text(String),
}

/// One entry of `services(...)`: `db = postgres(image = "postgres:16")`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServiceSpec {
    /// The local name (`db`).
    pub(crate) name: String,
    /// The plugin name (`postgres`).
    pub(crate) plugin: String,
    /// The options in parentheses after the plugin name, in the order written.
    pub(crate) options: Vec<OptionSpec>,
}

/// One option of a service: `image = "postgres:16"` or `env("A=1", "B=2")`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OptionSpec {
    /// The option's key.
    pub(crate) key: String,
    /// The option's value.
    pub(crate) value: OptionValueSpec,
}

/// The value of a service option, as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OptionValueSpec {
    /// `key = "text"`
    Str(String),
    /// `key = 42` or `key = -1`
    Int(i64),
    /// `key = true`
    Bool(bool),
    /// `key("a", "b")`
    List(Vec<String>),
}

/// Parses the tokens inside `#[clnrm::test(...)]`.
pub(crate) fn parse_args(args: TokenStream) -> syn::Result<TestSpec> {
    TestSpecBuilder::parse_from.parse2(args)?.build()
}

/// The keys seen so far, each with the span of its key for errors.
#[derive(Default)]
pub(crate) struct TestSpecBuilder {
    services: Option<(Vec<ServiceSpec>, Span)>,
    scope: Option<(String, Span)>,
    timeout: Option<(TimeoutSpec, Span)>,
    retries: Option<(u32, Span)>,
    tags: Option<(Vec<String>, Span)>,
    exclusive: Option<(String, Span)>,
    ignore: Option<(Option<String>, Span)>,
}

impl TestSpecBuilder {
    /// Parses `key = value, key(...), key` until the end of the attribute's arguments.
    fn parse_from(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut builder = Self::default();
        while !input.is_empty() {
            builder.parse_arg(input)?;
            if input.is_empty() {
                break;
            }
            if !input.peek(Token![,]) {
                return Err(input.error("expected `,` between arguments"));
            }
            input.parse::<Token![,]>()?;
        }
        Ok(builder)
    }

    fn parse_arg(&mut self, input: ParseStream<'_>) -> syn::Result<()> {
        if !input.peek(Ident::peek_any) {
            return Err(input.error(format!("expected an argument: {}", key_list())));
        }
        let key = input.call(Ident::parse_any)?;
        let span = key.span();
        match key.unraw().to_string().as_str() {
            "services" => {
                let content = parenthesized(input, &key)?;
                let services = parse_services(&content)?;
                self.set_services(services, span)
            }
            "scope" => {
                let scope = parse_str_value(input, &key, "a string")?;
                self.set_scope(scope, span)
            }
            "timeout" => {
                let lit = parse_value(input, &key, "a number of seconds or a duration string")?;
                let timeout = match lit {
                    Lit::Int(secs) => TimeoutSpec::Secs(parse_int(&secs, &key)?),
                    Lit::Str(text) => TimeoutSpec::Text(text.value()),
                    other => {
                        return Err(expected(
                            &other,
                            &key,
                            "a number of seconds or a duration string",
                        ));
                    }
                };
                self.set_timeout(timeout, span)
            }
            "retries" => {
                let retries = match parse_value(input, &key, "a whole number")? {
                    Lit::Int(retries) => parse_int(&retries, &key)?,
                    other => return Err(expected(&other, &key, "a whole number")),
                };
                self.set_retries(retries, span)
            }
            "tags" => {
                let content = parenthesized(input, &key)?;
                let tags = parse_str_list(&content, "tag")?;
                self.set_tags(tags, span)
            }
            "exclusive" => {
                let group = parse_str_value(input, &key, "a group name")?;
                self.set_exclusive(group, span)
            }
            "ignore" => {
                let reason = if input.peek(Token![=]) {
                    Some(parse_str_value(input, &key, "a reason")?.value())
                } else if input.is_empty() || input.peek(Token![,]) {
                    None
                } else {
                    return Err(input.error("expected `ignore` or `ignore = \"reason\"`"));
                };
                self.set_ignore(reason, span)
            }
            _ => Err(unknown_key(&key)),
        }
    }

    fn set_services(&mut self, services: Vec<ServiceSpec>, span: Span) -> syn::Result<()> {
        set_once(&mut self.services, "services", services, span)
    }

    fn set_scope(&mut self, scope: LitStr, span: Span) -> syn::Result<()> {
        let value = scope.value();
        if !SCOPES.contains(&value.as_str()) {
            return Err(syn::Error::new(
                scope.span(),
                format!(
                    "unknown scope {value:?}; expected \"shared\" (one container per run) or \"test\" (one container per test)"
                ),
            ));
        }
        set_once(&mut self.scope, "scope", value, span)
    }

    fn set_timeout(&mut self, timeout: TimeoutSpec, span: Span) -> syn::Result<()> {
        set_once(&mut self.timeout, "timeout", timeout, span)
    }

    fn set_retries(&mut self, retries: u32, span: Span) -> syn::Result<()> {
        set_once(&mut self.retries, "retries", retries, span)
    }

    fn set_tags(&mut self, tags: Vec<String>, span: Span) -> syn::Result<()> {
        set_once(&mut self.tags, "tags", tags, span)
    }

    fn set_exclusive(&mut self, group: LitStr, span: Span) -> syn::Result<()> {
        let value = group.value();
        if value.is_empty() {
            return Err(syn::Error::new(
                group.span(),
                "the `exclusive` group name cannot be empty",
            ));
        }
        set_once(&mut self.exclusive, "exclusive", value, span)
    }

    fn set_ignore(&mut self, reason: Option<String>, span: Span) -> syn::Result<()> {
        set_once(&mut self.ignore, "ignore", reason, span)
    }

    /// Applies the rules across keys and returns the spec.
    pub(crate) fn build(self) -> syn::Result<TestSpec> {
        if let (Some((_, scope_span)), None) = (&self.scope, &self.services) {
            return Err(syn::Error::new(
                *scope_span,
                "`scope` has no effect: this test declares no `services(...)`",
            ));
        }
        Ok(TestSpec {
            services: self
                .services
                .map(|(services, _)| services)
                .unwrap_or_default(),
            scope: self.scope.map(|(scope, _)| scope),
            timeout: self.timeout.map(|(timeout, _)| timeout),
            retries: self.retries.map(|(retries, _)| retries),
            tags: self.tags.map(|(tags, _)| tags).unwrap_or_default(),
            exclusive: self.exclusive.map(|(group, _)| group),
            ignore: self.ignore.map(|(reason, _)| reason),
        })
    }
}

/// Stores a key's value, refusing a second one with an error on the second key.
fn set_once<T>(slot: &mut Option<(T, Span)>, key: &str, value: T, span: Span) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(
            span,
            format!("`{key}` is set more than once"),
        ));
    }
    *slot = Some((value, span));
    Ok(())
}

/// `services(db = postgres, cache = redis(image = "redis:7"))`, the part inside the parentheses.
fn parse_services(input: ParseStream<'_>) -> syn::Result<Vec<ServiceSpec>> {
    let mut services: Vec<ServiceSpec> = Vec::new();
    while !input.is_empty() {
        if !input.peek(Ident::peek_any) {
            return Err(input.error("expected a service as `name = plugin`, as in `db = postgres`"));
        }
        let name = input.call(Ident::parse_any)?;
        let local = name.unraw().to_string();
        if services.iter().any(|service| service.name == local) {
            return Err(syn::Error::new(
                name.span(),
                format!("service `{local}` is declared more than once"),
            ));
        }
        if !input.peek(Token![=]) {
            return Err(error_after(
                input,
                &name,
                format!(
                    "expected `=` and a plugin after the service name, as in `{local} = postgres`"
                ),
            ));
        }
        input.parse::<Token![=]>()?;
        let plugin = parse_plugin(input, &local)?;
        let options = if input.peek(syn::token::Paren) {
            let content;
            syn::parenthesized!(content in input);
            parse_options(&content, &local)?
        } else {
            Vec::new()
        };
        services.push(ServiceSpec {
            name: local,
            plugin,
            options,
        });
        if input.is_empty() {
            break;
        }
        if !input.peek(Token![,]) {
            return Err(input.error("expected `,` between services"));
        }
        input.parse::<Token![,]>()?;
    }
    Ok(services)
}

/// The plugin after `db =`: an identifier (`postgres`) or a string (`"my-plugin"`).
fn parse_plugin(input: ParseStream<'_>, service: &str) -> syn::Result<String> {
    if input.peek(LitStr) {
        let plugin: LitStr = input.parse()?;
        if plugin.value().is_empty() {
            return Err(syn::Error::new(
                plugin.span(),
                "the plugin name cannot be empty",
            ));
        }
        return Ok(plugin.value());
    }
    if input.peek(Ident::peek_any) {
        let plugin = input.call(Ident::parse_any)?;
        if input.peek(Token![::]) {
            return Err(syn::Error::new(
                plugin.span(),
                "a plugin is named, not a path: write `postgres` or \"my-plugin\"",
            ));
        }
        return Ok(plugin.unraw().to_string());
    }
    Err(input.error(format!(
        "expected the plugin of service `{service}`: a name (`postgres`) or a string (\"my-plugin\")"
    )))
}

/// The options of one service, the part inside `redis(...)`.
fn parse_options(input: ParseStream<'_>, service: &str) -> syn::Result<Vec<OptionSpec>> {
    let mut options: Vec<OptionSpec> = Vec::new();
    while !input.is_empty() {
        if !input.peek(Ident::peek_any) {
            return Err(input.error(format!(
                "expected an option of service `{service}`: `key = \"value\"` or `key(\"a\", \"b\")`"
            )));
        }
        let key = input.call(Ident::parse_any)?;
        let name = key.unraw().to_string();
        if options.iter().any(|option| option.key == name) {
            return Err(syn::Error::new(
                key.span(),
                format!("option `{name}` of service `{service}` is set more than once"),
            ));
        }
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            parse_option_value(input, &name)?
        } else if input.peek(syn::token::Paren) {
            let content;
            syn::parenthesized!(content in input);
            OptionValueSpec::List(parse_str_list(&content, "value")?)
        } else {
            return Err(error_after(
                input,
                &key,
                format!("expected `{name} = \"value\"` or `{name}(\"a\", \"b\")`"),
            ));
        };
        options.push(OptionSpec { key: name, value });
        if input.is_empty() {
            break;
        }
        if !input.peek(Token![,]) {
            return Err(input.error("expected `,` between options"));
        }
        input.parse::<Token![,]>()?;
    }
    Ok(options)
}

/// The literal after `key =` in a service option: a string, an integer (maybe negative) or a bool.
fn parse_option_value(input: ParseStream<'_>, key: &str) -> syn::Result<OptionValueSpec> {
    const EXPECTED: &str = "a string, an integer, `true` or `false`";
    if input.peek(Token![-]) && input.peek2(LitInt) {
        let minus = input.parse::<Token![-]>()?;
        let int: LitInt = input.parse()?;
        let negative = format!("-{}", int.base10_digits());
        let value = negative.parse::<i64>().map_err(|_| {
            syn::Error::new(
                minus.span,
                format!("`{key}` does not fit in a 64-bit integer"),
            )
        })?;
        reject_suffix(&int)?;
        return Ok(OptionValueSpec::Int(value));
    }
    if !input.peek(Lit) {
        return Err(input.error(format!("expected {EXPECTED} for option `{key}`")));
    }
    match input.parse::<Lit>()? {
        Lit::Str(text) => Ok(OptionValueSpec::Str(text.value())),
        Lit::Int(int) => {
            reject_suffix(&int)?;
            Ok(OptionValueSpec::Int(int.base10_parse()?))
        }
        Lit::Bool(flag) => Ok(OptionValueSpec::Bool(flag.value)),
        other => Err(syn::Error::new(
            other.span(),
            format!(
                "expected {EXPECTED} for option `{key}`, found {}",
                lit_kind(&other)
            ),
        )),
    }
}

/// `"a", "b", ...` inside parentheses; `what` names one element in errors ("tag").
fn parse_str_list(input: ParseStream<'_>, what: &str) -> syn::Result<Vec<String>> {
    let mut values = Vec::new();
    while !input.is_empty() {
        if !input.peek(LitStr) {
            return Err(input.error(format!("expected a string {what}, as in \"slow\"")));
        }
        let value: LitStr = input.parse()?;
        if value.value().is_empty() {
            return Err(syn::Error::new(
                value.span(),
                format!("a {what} cannot be empty"),
            ));
        }
        values.push(value.value());
        if input.is_empty() {
            break;
        }
        if !input.peek(Token![,]) {
            return Err(input.error("expected `,` between strings"));
        }
        input.parse::<Token![,]>()?;
    }
    Ok(values)
}

/// The `(...)` after a list key such as `services` or `tags`.
fn parenthesized<'a>(
    input: ParseStream<'a>,
    key: &Ident,
) -> syn::Result<syn::parse::ParseBuffer<'a>> {
    if !input.peek(syn::token::Paren) {
        return Err(error_after(input, key, format!("expected {}", usage(key))));
    }
    let content;
    syn::parenthesized!(content in input);
    Ok(content)
}

/// The literal after `key =`; `what` says what the key wants, for errors.
fn parse_value(input: ParseStream<'_>, key: &Ident, what: &str) -> syn::Result<Lit> {
    if !input.peek(Token![=]) {
        return Err(error_after(input, key, format!("expected {}", usage(key))));
    }
    input.parse::<Token![=]>()?;
    if !input.peek(Lit) {
        return Err(error_after(
            input,
            key,
            format!("expected {what} for `{key}`, as in `{}`", usage(key)),
        ));
    }
    input.parse()
}

/// `key = "text"`.
fn parse_str_value(input: ParseStream<'_>, key: &Ident, what: &str) -> syn::Result<LitStr> {
    match parse_value(input, key, what)? {
        Lit::Str(text) => Ok(text),
        other => Err(expected(&other, key, what)),
    }
}

/// An unsuffixed integer literal that fits in `T`.
fn parse_int<T>(int: &LitInt, key: &Ident) -> syn::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    reject_suffix(int)?;
    int.base10_parse()
        .map_err(|error| syn::Error::new(int.span(), format!("invalid `{key}`: {error}")))
}

fn reject_suffix(int: &LitInt) -> syn::Result<()> {
    if int.suffix().is_empty() {
        return Ok(());
    }
    Err(syn::Error::new(
        int.span(),
        format!(
            "remove the suffix `{}`: write a plain number (a `timeout` is in seconds; \
             for other units write a string such as \"2m\")",
            int.suffix()
        ),
    ))
}

/// A literal of the wrong kind for `key`.
fn expected(found: &Lit, key: &Ident, what: &str) -> syn::Error {
    syn::Error::new(
        found.span(),
        format!(
            "expected {what} for `{key}`, found {}; write `{}`",
            lit_kind(found),
            usage(key)
        ),
    )
}

fn lit_kind(lit: &Lit) -> &'static str {
    match lit {
        Lit::Str(_) => "a string",
        Lit::Int(_) => "an integer",
        Lit::Float(_) => "a float",
        Lit::Bool(_) => "a bool",
        Lit::Char(_) => "a char",
        Lit::Byte(_) | Lit::ByteStr(_) | Lit::CStr(_) => "a byte literal",
        _ => "a literal",
    }
}

/// An error at the next token, or at `after` when the input ends there.
fn error_after(input: ParseStream<'_>, after: &Ident, message: String) -> syn::Error {
    if input.is_empty() {
        syn::Error::new(after.span(), message)
    } else {
        input.error(message)
    }
}

/// How `key` is written, from [`KEYS`].
fn usage(key: &Ident) -> &'static str {
    let name = key.unraw().to_string();
    KEYS.iter()
        .find(|(known, _)| *known == name)
        .map_or("", |(_, usage)| usage)
}

fn key_list() -> String {
    let keys: Vec<String> = KEYS.iter().map(|(key, _)| format!("`{key}`")).collect();
    format!("valid keys are {}", keys.join(", "))
}

fn unknown_key(key: &Ident) -> syn::Error {
    let name = key.unraw().to_string();
    // A close spelling, or a key sharing the first four letters (`retry` for `retries`).
    let stem: String = name.chars().take(4).collect();
    let suggestion = KEYS
        .iter()
        .map(|(known, _)| (edit_distance(&name, known), *known))
        .filter(|(distance, known)| *distance <= 2 || (stem.len() == 4 && known.starts_with(&stem)))
        .min()
        .map(|(_, known)| format!("; did you mean `{known}`?"))
        .unwrap_or_default();
    syn::Error::new(
        key.span(),
        format!("unknown key `{name}`{suggestion}\nnote: {}", key_list()),
    )
}

/// Levenshtein distance, for "did you mean" on a misspelt key.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(tokens: TokenStream) -> TestSpec {
        parse_args(tokens).unwrap_or_else(|error| panic!("expected a spec, got error: {error}"))
    }

    fn error(tokens: TokenStream) -> String {
        match parse_args(tokens) {
            Ok(spec) => panic!("expected an error, got {spec:?}"),
            Err(error) => error.to_string(),
        }
    }

    fn str_option(key: &str, value: &str) -> OptionSpec {
        OptionSpec {
            key: key.to_owned(),
            value: OptionValueSpec::Str(value.to_owned()),
        }
    }

    #[test]
    fn no_arguments_build_the_default_spec() {
        assert_eq!(parse(quote!()), TestSpec::default());
    }

    #[test]
    fn services_keep_their_order_plugins_and_options() {
        let spec = parse(quote! {
            services(
                db = postgres,
                cache = redis(image = "redis:7", isolation = "schema", memory = "256m", env("A=1", "B=2")),
                llm = "my-plugin"(port = 8080, offset = -1, gpu = false),
            )
        });
        assert_eq!(
            spec.services,
            vec![
                ServiceSpec {
                    name: "db".to_owned(),
                    plugin: "postgres".to_owned(),
                    options: vec![],
                },
                ServiceSpec {
                    name: "cache".to_owned(),
                    plugin: "redis".to_owned(),
                    options: vec![
                        str_option("image", "redis:7"),
                        str_option("isolation", "schema"),
                        str_option("memory", "256m"),
                        OptionSpec {
                            key: "env".to_owned(),
                            value: OptionValueSpec::List(vec!["A=1".to_owned(), "B=2".to_owned()]),
                        },
                    ],
                },
                ServiceSpec {
                    name: "llm".to_owned(),
                    plugin: "my-plugin".to_owned(),
                    options: vec![
                        OptionSpec {
                            key: "port".to_owned(),
                            value: OptionValueSpec::Int(8080),
                        },
                        OptionSpec {
                            key: "offset".to_owned(),
                            value: OptionValueSpec::Int(-1),
                        },
                        OptionSpec {
                            key: "gpu".to_owned(),
                            value: OptionValueSpec::Bool(false),
                        },
                    ],
                },
            ]
        );
    }

    #[test]
    fn every_key_is_stored_in_the_spec() {
        let spec = parse(quote! {
            services(db = postgres), scope = "test", timeout = "1m 30s", retries = 2,
            tags("slow", "db"), exclusive = "migrations", ignore = "needs a GPU",
        });
        assert_eq!(spec.scope.as_deref(), Some("test"));
        assert_eq!(spec.timeout, Some(TimeoutSpec::Text("1m 30s".to_owned())));
        assert_eq!(spec.retries, Some(2));
        assert_eq!(spec.tags, vec!["slow".to_owned(), "db".to_owned()]);
        assert_eq!(spec.exclusive.as_deref(), Some("migrations"));
        assert_eq!(spec.ignore, Some(Some("needs a GPU".to_owned())));
    }

    #[test]
    fn timeout_in_seconds_and_bare_ignore_are_accepted() {
        let spec = parse(quote!(timeout = 30, ignore));
        assert_eq!(spec.timeout, Some(TimeoutSpec::Secs(30)));
        assert_eq!(spec.ignore, Some(None));
    }

    #[test]
    fn raw_identifiers_lose_their_prefix() {
        let spec = parse(quote!(services(r#type = r#match(r#loop = 1))));
        assert_eq!(spec.services[0].name, "type");
        assert_eq!(spec.services[0].plugin, "match");
        assert_eq!(spec.services[0].options[0].key, "loop");
    }

    #[test]
    fn unknown_key_lists_the_valid_keys_and_suggests_the_closest() {
        let message = error(quote!(retry = 2));
        assert_eq!(
            message,
            "unknown key `retry`; did you mean `retries`?\nnote: valid keys are `services`, \
             `scope`, `timeout`, `retries`, `tags`, `exclusive`, `ignore`"
        );
    }

    #[test]
    fn unknown_key_far_from_any_key_suggests_nothing() {
        assert!(error(quote!(flavor = "multi_thread")).starts_with("unknown key `flavor`\n"));
    }

    #[test]
    fn duplicate_key_is_refused() {
        assert_eq!(
            error(quote!(retries = 1, retries = 2)),
            "`retries` is set more than once"
        );
    }

    #[test]
    fn string_retries_is_refused_with_the_expected_form() {
        assert_eq!(
            error(quote!(retries = "two")),
            "expected a whole number for `retries`, found a string; write `retries = 2`"
        );
    }

    #[test]
    fn retries_beyond_u32_are_refused() {
        assert_eq!(
            error(quote!(retries = 5000000000)),
            "invalid `retries`: number too large to fit in target type"
        );
    }

    #[test]
    fn suffixed_timeout_is_refused() {
        assert!(error(quote!(timeout = 30s)).starts_with("remove the suffix `s`"));
    }

    #[test]
    fn unknown_scope_names_both_valid_scopes() {
        assert!(
            error(quote!(services(db = postgres), scope = "global"))
                .starts_with("unknown scope \"global\"; expected \"shared\"")
        );
    }

    #[test]
    fn scope_without_services_is_refused() {
        assert_eq!(
            error(quote!(scope = "test")),
            "`scope` has no effect: this test declares no `services(...)`"
        );
    }

    #[test]
    fn duplicate_service_name_is_refused() {
        assert_eq!(
            error(quote!(services(db = postgres, db = redis))),
            "service `db` is declared more than once"
        );
    }

    #[test]
    fn duplicate_service_option_is_refused() {
        assert_eq!(
            error(quote!(services(db = postgres(image = "a", image = "b")))),
            "option `image` of service `db` is set more than once"
        );
    }

    #[test]
    fn service_without_plugin_shows_the_expected_form() {
        assert_eq!(
            error(quote!(services(postgres))),
            "expected `=` and a plugin after the service name, as in `postgres = postgres`"
        );
    }

    #[test]
    fn services_written_with_equals_is_refused() {
        assert_eq!(
            error(quote!(services = postgres)),
            "expected services(db = postgres, cache = redis)"
        );
    }

    #[test]
    fn plugin_path_is_refused() {
        assert!(
            error(quote!(services(db = clnrm::postgres)))
                .starts_with("a plugin is named, not a path")
        );
    }

    #[test]
    fn ignore_with_a_number_asks_for_a_reason() {
        assert_eq!(
            error(quote!(ignore = 5)),
            "expected a reason for `ignore`, found an integer; write `ignore = \"reason\"`"
        );
    }

    #[test]
    fn non_string_tag_is_refused() {
        assert_eq!(
            error(quote!(tags(slow))),
            "expected a string tag, as in \"slow\""
        );
    }

    #[test]
    fn empty_tag_and_group_are_refused() {
        assert_eq!(error(quote!(tags(""))), "a tag cannot be empty");
        assert_eq!(
            error(quote!(exclusive = "")),
            "the `exclusive` group name cannot be empty"
        );
    }

    #[test]
    fn float_option_value_is_refused() {
        assert_eq!(
            error(quote!(services(db = postgres(ratio = 0.5)))),
            "expected a string, an integer, `true` or `false` for option `ratio`, found a float"
        );
    }

    #[test]
    fn missing_comma_between_arguments_is_reported() {
        assert_eq!(
            error(quote!(retries = 2 timeout = 3)),
            "expected `,` between arguments"
        );
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("retry", "retries"), 3);
        assert_eq!(edit_distance("timout", "timeout"), 1);
        assert_eq!(edit_distance("tags", "tags"), 0);
        assert_eq!(edit_distance("", "scope"), 5);
    }
}
