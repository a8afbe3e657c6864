//! 500 generated tests, the clnrm way: one Postgres and one Redis for the binary, each test in
//! a database and a logical database of its own. Run by `bench-scale` (they are ignored
//! otherwise); see `generated/`.

#[macro_use]
mod generated;

macro_rules! generated_test {
    ($name:ident) => {
        #[clnrm::test(
                            services(db = postgres(migrations = "migrations"), cache = redis),
                            ignore = "run by the scaling benchmark (bench-scale)"
                        )]
        async fn $name(ctx: clnrm::TestContext) -> clnrm::Result<()> {
            crate::generated::shorten_resolve_count(&ctx.url("db")?, &ctx.url("cache")?).await
        }
    };
}

five_hundred!(generated_test);

clnrm::main!();
