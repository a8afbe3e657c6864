//! The `clnrm` command, built inside this package so its tests can run it
//! (`CARGO_BIN_EXE_clnrm-under-test`).

fn main() -> std::process::ExitCode {
    clnrm_cli::main()
}
