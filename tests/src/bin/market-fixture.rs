//! A clnrm test binary using a plugin installed from a marketplace index (not a built-in):
//! `tests/e2e/marketplace_docker.rs` installs `memcached` into a scratch `CLNRM_HOME` and runs
//! this binary from a project whose `clnrm.lock` pins it. It is a `[[bin]]`, not a `[[test]]`:
//! without that install the plugin is unknown.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[clnrm::test(services(cache = memcached))]
async fn installed_memcached_stores_a_value(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    let url = ctx.url("cache")?;
    let addr = url
        .strip_prefix("memcache://")
        .ok_or_else(|| clnrm::Error::other(format!("unexpected URL {url}")))?;
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(clnrm::Error::other)?;
    stream
        .write_all(b"set k 0 0 2\r\nok\r\nget k\r\n")
        .await
        .map_err(clnrm::Error::other)?;
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !String::from_utf8_lossy(&got).contains("END\r\n") {
        let n = stream.read(&mut buf).await.map_err(clnrm::Error::other)?;
        if n == 0 {
            return Err(clnrm::Error::other("memcached closed the connection"));
        }
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    if !text.contains("VALUE k 0 2\r\nok") {
        return Err(clnrm::Error::other(format!("memcached answered {text:?}")));
    }
    Ok(())
}

clnrm::main!();
