//! 500 generated tests, the usual way: every test starts its own Postgres and Redis (`usual/`).
//! Run by `bench-scale` (they are ignored otherwise); see `generated/`.

#[macro_use]
mod generated;
mod usual;

macro_rules! generated_test {
    ($name:ident) => {
        #[tokio::test]
        #[ignore = "run by the scaling benchmark (bench-scale)"]
        async fn $name() -> clnrm::Result<()> {
            let services = crate::usual::Services::start().await?;
            crate::generated::shorten_resolve_count(&services.db_url, &services.cache_url).await
        }
    };
}

five_hundred!(generated_test);
