//! The expansion of `#[clnrm::test(...)]`: the user's function, unchanged, followed by one
//! `inventory::submit!` of a `::clnrm::__macro_support::TestDef` that describes it.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, ReturnType};

use super::args::{self, OptionSpec, OptionValueSpec, ServiceSpec, TestSpec, TimeoutSpec};
use super::signature::{self, TestSignature};

/// Expands `#[clnrm::test(args)] item`. On error the function is still emitted (without the
/// attributes that caused the error) next to the error, so the user and rust-analyzer see that
/// one error and not a cascade of "cannot find function" ones.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "`#[clnrm::test]` goes on a function: `async fn name(ctx: clnrm::TestContext)`",
            )
            .to_compile_error();
            return quote! { #item #error };
        }
    };
    match check(args, &func) {
        Ok((spec, sig)) => generate(&func, &spec, sig),
        Err(error) => {
            func.attrs
                .retain(|attr| signature::conflicting_attribute(attr).is_none());
            let error = error.to_compile_error();
            quote! {
                #[allow(dead_code)]
                #func
                #error
            }
        }
    }
}

/// Parses the arguments and checks the signature, reporting the problems of both.
fn check(args: TokenStream, func: &ItemFn) -> syn::Result<(TestSpec, TestSignature)> {
    match (args::parse_args(args), signature::check_signature(func)) {
        (Ok(spec), Ok(sig)) => Ok((spec, sig)),
        (Err(mut first), Err(second)) => {
            first.combine(second);
            Err(first)
        }
        (Err(error), Ok(_)) | (Ok(_), Err(error)) => Err(error),
    }
}

/// The user's function plus its registration.
fn generate(func: &ItemFn, spec: &TestSpec, sig: TestSignature) -> TokenStream {
    let name = &func.sig.ident;
    let fn_name = name.unraw().to_string();
    // `line!()` and `file!()` carry the span of the function's name, so they report the line of
    // the `fn`, not of the attribute above it.
    let line = quote_spanned!(name.span()=> ::core::line!());
    let file = quote_spanned!(name.span()=> ::core::file!());
    let body = body(func, sig);
    let services = services(&spec.services);
    let scope = option(spec.scope.as_ref().map(|scope| quote!(#scope)));
    let timeout = option(spec.timeout.as_ref().map(|timeout| match timeout {
        TimeoutSpec::Secs(secs) => quote!(::clnrm::__macro_support::OptValue::Int(#secs)),
        TimeoutSpec::Text(text) => quote!(::clnrm::__macro_support::OptValue::Str(#text)),
    }));
    let retries = option(spec.retries.map(|retries| quote!(#retries)));
    let tags = &spec.tags;
    let exclusive = option(spec.exclusive.as_ref().map(|group| quote!(#group)));
    let ignore = option(
        spec.ignore
            .as_ref()
            .map(|reason| option(reason.as_ref().map(|reason| quote!(#reason)))),
    );
    quote! {
        #func

        ::clnrm::__macro_support::inventory::submit! {
            ::clnrm::__macro_support::TestDef {
                module_path: ::core::module_path!(),
                fn_name: #fn_name,
                file: #file,
                line: #line,
                services: &[#(#services),*],
                scope: #scope,
                timeout: #timeout,
                retries: #retries,
                tags: &[#(#tags),*],
                exclusive: #exclusive,
                ignore: #ignore,
                body: #body,
            }
        }
    }
}

/// `TestFn::Async(|ctx| ...)` or `TestFn::Sync(|ctx| ...)`: a non-capturing closure, coerced to
/// the `fn` pointer `TestFn` holds, that calls the user's function and normalises its result.
fn body(func: &ItemFn, sig: TestSignature) -> TokenStream {
    let name = &func.sig.ident;
    // Mixed-site spans: these locals can never clash with the user's names (a test called `ctx`).
    let ctx = Ident::new("ctx", Span::mixed_site());
    let kept = Ident::new("_ctx", Span::mixed_site());
    // The call and its normalisation carry the span of the return type: if it is neither `()`
    // nor a `Result`, the "not a test result" error points at it.
    let return_span = match &func.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => name.span(),
    };
    let mut callee = name.clone();
    callee.set_span(return_span);
    let (call, keep) = if sig.takes_context {
        (quote_spanned!(return_span=> #callee(#ctx)), quote!())
    } else {
        // Keep the context alive until the test ends, as if the test had taken it.
        (
            quote_spanned!(return_span=> #callee()),
            quote!(let #kept = #ctx;),
        )
    };
    let call = if sig.is_async {
        quote_spanned!(return_span=> #call.await)
    } else {
        call
    };
    let result = quote_spanned! {return_span=>
        ::clnrm::__macro_support::IntoTestResult::into_test_result(#call)
    };
    if sig.is_async {
        // Spanned on the function's name: a future that is not `Send` is reported there.
        let future = quote_spanned! {name.span()=>
            ::std::boxed::Box::pin(async move {
                #keep
                #result
            })
        };
        quote! {
            ::clnrm::__macro_support::TestFn::Async(|#ctx| #future)
        }
    } else {
        quote! {
            ::clnrm::__macro_support::TestFn::Sync(|#ctx| {
                #keep
                #result
            })
        }
    }
}

fn services(services: &[ServiceSpec]) -> Vec<TokenStream> {
    services
        .iter()
        .map(|service| {
            let ServiceSpec {
                name,
                plugin,
                options,
            } = service;
            let options = options.iter().map(service_option);
            quote! {
                ::clnrm::__macro_support::ServiceDecl {
                    name: #name,
                    plugin: #plugin,
                    options: &[#(#options),*],
                }
            }
        })
        .collect()
}

fn service_option(option: &OptionSpec) -> TokenStream {
    let key = &option.key;
    let value = match &option.value {
        OptionValueSpec::Str(text) => quote!(::clnrm::__macro_support::OptValue::Str(#text)),
        OptionValueSpec::Int(int) => quote!(::clnrm::__macro_support::OptValue::Int(#int)),
        OptionValueSpec::Bool(flag) => quote!(::clnrm::__macro_support::OptValue::Bool(#flag)),
        OptionValueSpec::List(items) => {
            quote!(::clnrm::__macro_support::OptValue::List(&[#(#items),*]))
        }
    };
    quote! {
        ::clnrm::__macro_support::Opt { key: #key, value: #value }
    }
}

fn option(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_test_without_context_expands_to_a_registration() {
        let expanded = expand(
            quote!(retries = 2, tags("slow")),
            quote!(
                fn adds() {
                    assert_eq!(1 + 1, 2);
                }
            ),
        );
        let expected = quote! {
            fn adds() { assert_eq!(1 + 1, 2); }

            ::clnrm::__macro_support::inventory::submit! {
                ::clnrm::__macro_support::TestDef {
                    module_path: ::core::module_path!(),
                    fn_name: "adds",
                    file: ::core::file!(),
                    line: ::core::line!(),
                    services: &[],
                    scope: ::core::option::Option::None,
                    timeout: ::core::option::Option::None,
                    retries: ::core::option::Option::Some(2u32),
                    tags: &["slow"],
                    exclusive: ::core::option::Option::None,
                    ignore: ::core::option::Option::None,
                    body: ::clnrm::__macro_support::TestFn::Sync(|ctx| {
                        let _ctx = ctx;
                        ::clnrm::__macro_support::IntoTestResult::into_test_result(adds())
                    }),
                }
            }
        };
        assert_eq!(expanded.to_string(), expected.to_string());
    }

    #[test]
    fn error_keeps_the_function_without_the_conflicting_attribute() {
        let expanded = expand(
            quote!(),
            quote!(
                #[test]
                #[doc = "kept"]
                fn t() {}
            ),
        )
        .to_string();
        assert!(
            expanded.starts_with("# [allow (dead_code)] # [doc = \"kept\"] fn t () { }"),
            "{expanded}"
        );
        assert!(expanded.contains("compile_error !"), "{expanded}");
    }

    #[test]
    fn attribute_on_a_struct_is_refused_and_the_struct_kept() {
        let expanded = expand(
            quote!(),
            quote!(
                struct S;
            ),
        )
        .to_string();
        assert!(expanded.starts_with("struct S ;"), "{expanded}");
        assert!(expanded.contains("goes on a function"), "{expanded}");
    }
}
