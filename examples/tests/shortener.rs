//! The shortener's integration tests, the clnrm way.
//!
//! One Postgres and one Redis container serve this whole test binary. Every test still sees only
//! its own data: `ctx.url("db")` is a database cloned for the test from a template that has
//! `migrations/` applied (the path is relative to this crate's `CARGO_MANIFEST_DIR`), and
//! `ctx.url("cache")` is `redis://host:port/N`, a logical database only this test uses.
//!
//! Run with plain `cargo test -p clnrm-examples --test shortener`. The bodies live in `common/`,
//! shared with `usual_way.rs`, which runs the same tests with containers per test.

mod common;

#[clnrm::test(services(db = postgres(migrations = "migrations"), cache = redis))]
async fn shorten_then_resolve_round_trips(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    common::shorten_then_resolve_round_trips(&ctx.url("db")?, &ctx.url("cache")?).await
}

#[clnrm::test(services(db = postgres(migrations = "migrations"), cache = redis))]
async fn shorten_rejects_invalid_urls(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    common::shorten_rejects_invalid_urls(&ctx.url("db")?, &ctx.url("cache")?).await
}

#[clnrm::test(services(db = postgres(migrations = "migrations"), cache = redis))]
async fn shorten_returns_the_same_code_for_the_same_url(
    ctx: clnrm::TestContext,
) -> clnrm::Result<()> {
    common::shorten_returns_the_same_code_for_the_same_url(&ctx.url("db")?, &ctx.url("cache")?)
        .await
}

#[clnrm::test(services(db = postgres(migrations = "migrations"), cache = redis))]
async fn different_urls_get_different_codes(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    common::different_urls_get_different_codes(&ctx.url("db")?, &ctx.url("cache")?).await
}

#[clnrm::test(services(db = postgres(migrations = "migrations"), cache = redis))]
async fn resolve_unknown_code_is_none(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    common::resolve_unknown_code_is_none(&ctx.url("db")?, &ctx.url("cache")?).await
}

#[clnrm::test(services(db = postgres(migrations = "migrations"), cache = redis))]
async fn resolve_fills_the_cache_with_a_ttl(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    common::resolve_fills_the_cache_with_a_ttl(&ctx.url("db")?, &ctx.url("cache")?).await
}

#[clnrm::test(services(db = postgres(migrations = "migrations"), cache = redis))]
async fn resolve_prefers_the_cache_over_the_database(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    common::resolve_prefers_the_cache_over_the_database(&ctx.url("db")?, &ctx.url("cache")?).await
}

#[clnrm::test(services(db = postgres(migrations = "migrations"), cache = redis))]
async fn resolve_reads_postgres_when_the_cache_entry_is_gone(
    ctx: clnrm::TestContext,
) -> clnrm::Result<()> {
    common::resolve_reads_postgres_when_the_cache_entry_is_gone(&ctx.url("db")?, &ctx.url("cache")?)
        .await
}

#[clnrm::test(services(db = postgres(migrations = "migrations"), cache = redis))]
async fn hits_count_resolves(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    common::hits_count_resolves(&ctx.url("db")?, &ctx.url("cache")?).await
}

#[clnrm::test(services(db = postgres(migrations = "migrations"), cache = redis))]
async fn delete_removes_from_database_and_cache(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    common::delete_removes_from_database_and_cache(&ctx.url("db")?, &ctx.url("cache")?).await
}

#[clnrm::test(services(db = postgres(migrations = "migrations"), cache = redis))]
async fn custom_code_cannot_be_taken_twice(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    common::custom_code_cannot_be_taken_twice(&ctx.url("db")?, &ctx.url("cache")?).await
}

#[clnrm::test(services(db = postgres(migrations = "migrations"), cache = redis))]
async fn same_code_in_every_test_is_stored_once(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    common::same_code_in_every_test_is_stored_once(&ctx.url("db")?, &ctx.url("cache")?).await
}

#[clnrm::test(services(db = postgres(migrations = "migrations"), cache = redis))]
async fn same_redis_key_in_every_test_starts_from_zero(
    ctx: clnrm::TestContext,
) -> clnrm::Result<()> {
    common::same_redis_key_in_every_test_starts_from_zero(&ctx.url("db")?, &ctx.url("cache")?).await
}

#[clnrm::test(services(db = postgres(migrations = "migrations"), cache = redis))]
async fn migration_is_idempotent(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    common::migration_is_idempotent(&ctx.url("db")?, &ctx.url("cache")?).await
}

/// A seeded bug for `bench-first-failure harness` (declared last, so file order meets it last):
/// it expects a code that was never stored to resolve. Ignored in normal runs; the benchmark
/// runs it with `--include-ignored`.
#[clnrm::test(
    services(db = postgres(migrations = "migrations"), cache = redis),
    ignore = "seeded failure for bench-first-failure"
)]
async fn seeded_failure_resolves_a_code_never_stored(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    let app = clnrm_examples::Shortener::connect(&ctx.url("db")?, &ctx.url("cache")?)
        .await
        .map_err(clnrm::Error::other)?;
    let resolved = app
        .resolve("never-stored")
        .await
        .map_err(clnrm::Error::other)?;
    assert!(
        resolved.is_some(),
        "seeded failure: `never-stored` resolved to {resolved:?}"
    );
    Ok(())
}

clnrm::main!();
