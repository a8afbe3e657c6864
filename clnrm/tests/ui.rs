//! Compile-time tests of `#[clnrm::test]` and `clnrm::main!()`: every misuse in `ui/fail` must be
//! refused with the error in its `.stderr`, every file in `ui/pass` must compile.
//! Regenerate the expected errors with `TRYBUILD=overwrite cargo test -p clnrm --test ui`.

#[test]
fn macro_misuse_is_refused_and_correct_use_compiles() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
