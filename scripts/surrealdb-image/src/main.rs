//! The `surreal` binary: the same `init()` the official `surreal` binary runs.
fn main() -> std::process::ExitCode {
    surrealdb_server::init(surrealdb_server::core::CommunityComposer())
}
