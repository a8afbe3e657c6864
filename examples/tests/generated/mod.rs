//! The test the scaling benchmark (`bench-scale`) generates 500 times, once per module
//! `h0..h4::d0..d9::u0..u9`, in `scale.rs` (the clnrm way) and `scale_usual.rs` (a container per
//! test). The generated tests are ignored: CI runs neither 500 tests nor 1,000 containers, and
//! the benchmark runs them with `--ignored`, the first N by name.

use clnrm::Error;
use clnrm_examples::Shortener;

/// A few queries on Postgres and Redis: shorten a URL, resolve it twice (the database, then the
/// cache), read its hit count.
pub(crate) async fn shorten_resolve_count(db_url: &str, cache_url: &str) -> clnrm::Result<()> {
    let app = Shortener::connect(db_url, cache_url)
        .await
        .map_err(Error::other)?;
    let url = "https://example.com/generated/test";
    let code = app.shorten(url).await.map_err(Error::other)?;
    for _ in 0..2 {
        let resolved = app.resolve(&code).await.map_err(Error::other)?;
        if resolved.as_deref() != Some(url) {
            return Err(Error::other(format!("{code} resolved to {resolved:?}")));
        }
    }
    let hits = app.hits(&code).await.map_err(Error::other)?;
    if hits != 2 {
        return Err(Error::other(format!("{code} has {hits} hits, expected 2")));
    }
    Ok(())
}

/// Expands `$test!(NAME);` for the 500 names `h0..h4::d0..d9::u0..u9` (one module per level).
macro_rules! five_hundred {
    ($test:ident) => {
        five_hundred!(@modules $test [h0 h1 h2 h3 h4] [d0 d1 d2 d3 d4 d5 d6 d7 d8 d9]);
    };
    (@modules $test:ident [$($h:ident)*] $ds:tt) => {$(
        mod $h {
            five_hundred!(@tens $test $ds);
        }
    )*};
    (@tens $test:ident [$($d:ident)*]) => {$(
        mod $d {
            $test!(u0);
            $test!(u1);
            $test!(u2);
            $test!(u3);
            $test!(u4);
            $test!(u5);
            $test!(u6);
            $test!(u7);
            $test!(u8);
            $test!(u9);
        }
    )*};
}
