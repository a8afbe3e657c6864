//! The checks on the function under `#[clnrm::test]`: a free, non-generic, safe Rust `fn` (async
//! or not) taking nothing or one `TestContext` by value, and no second test attribute. The return
//! type is left to the type system (the expansion passes it through `IntoTestResult`).

use quote::ToTokens;
use syn::{Attribute, FnArg, ItemFn, Type};

/// What the expansion needs to know about a checked function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TestSignature {
    /// `async fn`.
    pub(crate) is_async: bool,
    /// Takes a `TestContext`.
    pub(crate) takes_context: bool,
}

/// Checks `func` and returns every problem at once, each on its token.
pub(crate) fn check_signature(func: &ItemFn) -> syn::Result<TestSignature> {
    let mut errors: Vec<syn::Error> = Vec::new();
    let sig = &func.sig;

    for attr in &func.attrs {
        if let Some(message) = conflicting_attribute(attr) {
            errors.push(syn::Error::new_spanned(attr, message));
        }
    }
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new_spanned(
            constness,
            "a test cannot be a `const fn`",
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(
            unsafety,
            "a test cannot be an `unsafe fn`; put the unsafe code in an `unsafe` block",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            "a test cannot be an `extern fn`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let params = &sig.generics;
        let generics = match &sig.generics.where_clause {
            Some(where_clause) => quote::quote!(#params #where_clause),
            None => params.to_token_stream(),
        };
        errors.push(syn::Error::new_spanned(
            generics,
            "a test cannot be generic: the harness calls it with no type or lifetime arguments",
        ));
    }

    let mut takes_context = false;
    for (index, input) in sig.inputs.iter().enumerate() {
        match input {
            FnArg::Receiver(receiver) => errors.push(syn::Error::new_spanned(
                receiver,
                "a test cannot take `self`: write it as a free function",
            )),
            FnArg::Typed(typed) if index == 0 => match context_problem(&typed.ty) {
                None => takes_context = true,
                Some(message) => errors.push(syn::Error::new_spanned(&typed.ty, message)),
            },
            FnArg::Typed(_) => {}
        }
    }
    if sig.inputs.len() > 1 {
        let extra: Vec<&FnArg> = sig.inputs.iter().skip(1).collect();
        errors.push(syn::Error::new_spanned(
            quote::quote!(#(#extra),*),
            "a test takes at most one parameter, `ctx: clnrm::TestContext`; \
             reach services through `ctx.url(\"name\")`",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            "a test cannot be variadic",
        ));
    }

    let mut errors = errors.into_iter();
    match errors.next() {
        None => Ok(TestSignature {
            is_async: sig.asyncness.is_some(),
            takes_context,
        }),
        Some(mut first) => {
            for error in errors {
                first.combine(error);
            }
            Err(first)
        }
    }
}

/// Whether `attr` is a test attribute of its own (`#[test]`, `#[tokio::test]`, a second
/// `#[clnrm::test]`) or a libtest attribute that has a `#[clnrm::test(...)]` key instead.
pub(crate) fn conflicting_attribute(attr: &Attribute) -> Option<String> {
    let path = attr.path();
    let written = path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect::<Vec<_>>()
        .join("::");
    let last = path.segments.last()?.ident.to_string();
    match last.as_str() {
        "test" => Some(format!(
            "`#[clnrm::test]` already registers this function as a test; remove `#[{written}]`"
        )),
        "ignore" if path.segments.len() == 1 => Some(
            "`#[ignore]` does not apply to clnrm tests; write `#[clnrm::test(ignore)]` or \
             `#[clnrm::test(ignore = \"reason\")]`"
                .to_owned(),
        ),
        "should_panic" if path.segments.len() == 1 => Some(
            "`#[should_panic]` does not apply to clnrm tests; return an `Err` or assert on the \
             outcome instead"
                .to_owned(),
        ),
        _ => None,
    }
}

/// Why `ty` is not a `TestContext` taken by value, if it is not.
fn context_problem(ty: &Type) -> Option<&'static str> {
    match ty {
        Type::Group(group) => context_problem(&group.elem),
        Type::Paren(paren) => context_problem(&paren.elem),
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            if last.ident == "TestContext" && last.arguments.is_empty() {
                None
            } else {
                Some(NOT_A_CONTEXT)
            }
        }
        Type::Reference(reference) if context_problem(&reference.elem).is_none() => Some(
            "take the `TestContext` by value: `ctx: clnrm::TestContext` (the test owns it until it ends)",
        ),
        _ => Some(NOT_A_CONTEXT),
    }
}

const NOT_A_CONTEXT: &str = "the parameter of a test must be `ctx: clnrm::TestContext`; reach services through `ctx.url(\"name\")`";

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn check(tokens: proc_macro2::TokenStream) -> syn::Result<TestSignature> {
        check_signature(&syn::parse2(tokens).expect("the test input is a fn"))
    }

    fn messages(tokens: proc_macro2::TokenStream) -> Vec<String> {
        match check(tokens) {
            Ok(sig) => panic!("expected errors, got {sig:?}"),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn async_fn_with_context_is_accepted() {
        let sig = check(quote!(
            async fn t(ctx: clnrm::TestContext) -> clnrm::Result<()> {
                Ok(())
            }
        ));
        assert_eq!(
            sig.unwrap(),
            TestSignature {
                is_async: true,
                takes_context: true
            }
        );
    }

    #[test]
    fn sync_fn_without_parameters_is_accepted() {
        let sig = check(quote!(
            fn t() {}
        ));
        assert_eq!(
            sig.unwrap(),
            TestSignature {
                is_async: false,
                takes_context: false
            }
        );
    }

    #[test]
    fn any_path_ending_in_test_context_is_accepted() {
        assert!(
            check(quote!(
                fn t(_: TestContext) {}
            ))
            .is_ok()
        );
        assert!(
            check(quote!(
                fn t(mut ctx: ::clnrm::harness::TestContext) {}
            ))
            .is_ok()
        );
    }

    #[test]
    fn context_by_reference_asks_for_by_value() {
        assert_eq!(
            messages(quote!(
                fn t(ctx: &clnrm::TestContext) {}
            )),
            vec![
                "take the `TestContext` by value: `ctx: clnrm::TestContext` (the test owns it until it ends)"
            ]
        );
    }

    #[test]
    fn every_signature_problem_is_reported_at_once() {
        let found = messages(quote! {
            #[tokio::test]
            const unsafe extern "C" fn t<T>(&self, a: u32) {}
        });
        assert_eq!(found.len(), 7, "{found:?}");
        assert!(found[0].contains("remove `#[tokio::test]`"));
        assert!(found[1].contains("`const fn`"));
        assert!(found[2].contains("`unsafe fn`"));
        assert!(found[3].contains("`extern fn`"));
        assert!(found[4].contains("cannot be generic"));
        assert!(found[5].contains("cannot take `self`"));
        assert!(found[6].contains("at most one parameter"));
    }

    #[test]
    fn second_parameter_is_reported() {
        assert_eq!(
            messages(quote!(
                fn t(ctx: TestContext, other: TestContext) {}
            )),
            vec![
                "a test takes at most one parameter, `ctx: clnrm::TestContext`; reach services through `ctx.url(\"name\")`"
            ]
        );
    }

    #[test]
    fn libtest_ignore_points_to_the_ignore_key() {
        assert!(
            messages(quote!(
                #[ignore]
                fn t() {}
            ))[0]
                .contains("#[clnrm::test(ignore)]")
        );
    }
}
