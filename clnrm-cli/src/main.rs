fn main() -> std::process::ExitCode {
    clnrm_cli::main()
}
