//! `clnrm::main!()`: the `main` of a `harness = false` test target.

use proc_macro2::TokenStream;
use quote::quote;

/// Expands `clnrm::main!()`. Arguments are refused, but `fn main` is emitted anyway so the only
/// error the user sees is the one about the arguments (not also a missing `main`).
pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let main = quote! {
        fn main() -> ::std::process::ExitCode {
            ::clnrm::__macro_support::run_main_in(::core::env!("CARGO_MANIFEST_DIR"))
        }
    };
    if input.is_empty() {
        return main;
    }
    let error = syn::Error::new_spanned(
        input,
        "`clnrm::main!()` takes no arguments; configure a run with command-line flags \
         (`--test-threads`, `--ignored`, a filter) or `CLNRM_*` environment variables",
    )
    .to_compile_error();
    quote! { #main #error }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_without_arguments_calls_run_main_with_the_crate_directory() {
        let expanded = expand(TokenStream::new()).to_string();
        assert_eq!(
            expanded,
            quote! {
                fn main() -> ::std::process::ExitCode {
                    ::clnrm::__macro_support::run_main_in(::core::env!("CARGO_MANIFEST_DIR"))
                }
            }
            .to_string()
        );
    }

    #[test]
    fn main_with_arguments_still_defines_main_and_reports_them() {
        let expanded = expand(quote!(threads = 4)).to_string();
        assert!(expanded.starts_with("fn main ()"), "{expanded}");
        assert!(expanded.contains("compile_error !"), "{expanded}");
        assert!(expanded.contains("takes no arguments"), "{expanded}");
    }
}
