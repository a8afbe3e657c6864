//! Three marketplace figures, each next to the usual way where there is one:
//!
//! 1. **Cold install of one plugin from an HTTP index** on 127.0.0.1: `clnrm marketplace install
//!    memcached` (snapshot and root signatures, index file hash, package hash and signature,
//!    strict archive read, staged rename, receipt, lockfile) in a fresh `CLNRM_HOME`, against
//!    the usual unverified way: `curl` the package and `tar -xzf` it.
//! 2. **`search` over a generated index of 10,000 plugins** (folder index): open and verify the
//!    index, verify and parse `search.json`, filter — time and peak memory (VmHWM of a child
//!    process doing only that), against reading and parsing the same file unverified.
//! 3. **Resolution of a 50-plugin dependency graph** (3 versions each, up to 3 dependencies).
//!
//! `cargo build -p clnrm-cli && cargo run --release -p clnrm-examples --bin bench-marketplace [-- ROUNDS]`
//! (default 5 rounds; medians with min-max). The `clnrm` binary is the one next to this bench
//! (`target/<profile>/clnrm`) or `CLNRM_BIN`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clnrm::marketplace::index::{Dep, IndexLine, Location, OpenOptions};
use clnrm::marketplace::{publish, resolve, sign};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        return child(&args[2], Path::new(&args[3]));
    }
    let rounds: usize = args.get(1).map_or(Ok(5), |a| a.parse())?;
    let work = std::env::temp_dir().join(format!("clnrm-bench-market-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let result = run(&work, rounds);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn clnrm_bin() -> PathBuf {
    std::env::var_os("CLNRM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::current_exe()
                .expect("current exe")
                .with_file_name("clnrm")
        })
}

fn keys(dir: &Path, name: &str) -> Result<sign::SigningKey, BoxError> {
    let (pk, sk) = sign::generate_keypair(name)?;
    std::fs::write(dir.join(format!("{name}.pub")), pk)?;
    std::fs::write(dir.join(format!("{name}.key")), sk)?;
    Ok(sign::SigningKey::load(&dir.join(format!("{name}.key")))?)
}

fn summary(mut xs: Vec<Duration>) -> String {
    xs.sort();
    format!(
        "median {:>8.1} ms (min {:.1}, max {:.1}, n={})",
        xs[xs.len() / 2].as_secs_f64() * 1e3,
        xs[0].as_secs_f64() * 1e3,
        xs[xs.len() - 1].as_secs_f64() * 1e3,
        xs.len()
    )
}

fn run(work: &Path, rounds: usize) -> Result<(), BoxError> {
    let root = keys(work, "root")?;
    let publisher = keys(work, "publisher")?;
    // 1. Cold install over HTTP.
    let idx = work.join("idx");
    publish::init_index(&idx, &root, 30)?;
    publish::allow_publisher(
        &idx,
        &root,
        &publisher.public_base64(),
        &["*".to_owned()],
        30,
    )?;
    let plugin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../marketplace/plugins/memcached");
    let published = publish::publish(&idx, &plugin, &publisher, &root, 30)?;
    let url = serve(&idx);
    let bin = clnrm_bin();
    let mut ours = Vec::new();
    let mut usual = Vec::new();
    for round in 0..rounds {
        let project = work.join(format!("project-{round}"));
        std::fs::create_dir_all(&project)?;
        let t0 = Instant::now();
        let out = Command::new(&bin)
            .args([
                "marketplace",
                "install",
                "memcached",
                "--index",
                &url,
                "--root-key",
            ])
            .arg(work.join("root.pub"))
            .current_dir(&project)
            .env("CLNRM_HOME", project.join("home"))
            .output()?;
        ours.push(t0.elapsed());
        if !out.status.success() {
            return Err(format!("install failed: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        let dest = project.join("plain");
        std::fs::create_dir_all(&dest)?;
        let pkg = format!(
            "{url}/packages/memcached/memcached-{}.tgz",
            published.line.vers
        );
        let t0 = Instant::now();
        let curl = Command::new("curl")
            .args(["-sf", "-o"])
            .arg(dest.join("p.tgz"))
            .arg(&pkg)
            .status()?;
        let tar = Command::new("tar")
            .arg("-xzf")
            .arg(dest.join("p.tgz"))
            .arg("-C")
            .arg(&dest)
            .status()?;
        usual.push(t0.elapsed());
        if !curl.success() || !tar.success() {
            return Err("curl | tar failed".into());
        }
    }
    println!("cold install of one plugin from an HTTP index on 127.0.0.1 ({rounds} rounds)");
    println!(
        "  clnrm marketplace install (verified, atomic)  {}",
        summary(ours)
    );
    println!(
        "  curl + tar -xzf (unverified)                   {}",
        summary(usual)
    );

    // 2. search over 10,000 plugins.
    let big = work.join("big");
    generate_index(&big, &root, &publisher, 10_000)?;
    let size = std::fs::metadata(big.join("search.json"))?.len();
    let mut ours = Vec::new();
    let mut plain = Vec::new();
    let (mut ours_hwm, mut plain_hwm) = (0u64, 0u64);
    for round in 0..rounds {
        let home = work.join(format!("search-home-{round}"));
        let (t, hwm) = child_run("search-clnrm", &big, &home)?;
        ours.push(t);
        ours_hwm = ours_hwm.max(hwm);
        let (t, hwm) = child_run("search-plain", &big, &home)?;
        plain.push(t);
        plain_hwm = plain_hwm.max(hwm);
    }
    println!(
        "search over a generated index of 10,000 plugins (search.json {size} bytes, {rounds} rounds, one child process each)"
    );
    println!(
        "  clnrm search (verified snapshot + hash)  {}  peak RSS {} KiB",
        summary(ours),
        ours_hwm
    );
    println!(
        "  parse search.json unverified             {}  peak RSS {} KiB",
        summary(plain),
        plain_hwm
    );

    // 3. resolution of a 50-plugin graph.
    let available = graph(50);
    let roots: Vec<(String, semver::VersionReq)> = (40..50)
        .map(|i| (format!("p{i}"), semver::VersionReq::STAR))
        .collect();
    let mut times = Vec::new();
    let mut chosen = 0;
    for _ in 0..rounds.max(20) {
        let t0 = Instant::now();
        chosen = resolve::resolve(&roots, &available, &BTreeMap::new())?.len();
        times.push(t0.elapsed());
    }
    println!(
        "resolution of a 50-plugin dependency graph (3 versions each, 10 roots, {chosen} chosen)"
    );
    println!(
        "  clnrm resolver                            {}",
        summary(times)
    );
    Ok(())
}

/// Runs this binary as a child in `mode`; returns its own measured time and peak RSS (KiB).
fn child_run(mode: &str, index: &Path, home: &Path) -> Result<(Duration, u64), BoxError> {
    let out = Command::new(std::env::current_exe()?)
        .args(["--child", mode])
        .arg(index)
        .env("CLNRM_HOME", home)
        .output()?;
    if !out.status.success() {
        return Err(format!("child {mode}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let micros: u64 = parts.next().ok_or("no time")?.parse()?;
    let hwm: u64 = parts.next().ok_or("no hwm")?.parse()?;
    Ok((Duration::from_micros(micros), hwm))
}

fn child(mode: &str, index: &Path) -> Result<(), BoxError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let t0 = Instant::now();
    let found = match mode {
        "search-clnrm" => rt.block_on(async {
            let idx = clnrm::marketplace::Index::open(
                Location::Dir(index.to_owned()),
                &OpenOptions::default(),
            )
            .await?;
            let entries = idx.search_entries().await?;
            let n =
                clnrm::marketplace::search(&entries, "cache", None, Some("t7"), Default::default())
                    .len();
            Ok::<usize, BoxError>(n)
        })?,
        _ => {
            let bytes = std::fs::read(index.join("search.json"))?;
            let entries: Vec<clnrm::marketplace::SearchEntry> = serde_json::from_slice(&bytes)?;
            clnrm::marketplace::search(&entries, "cache", None, Some("t7"), Default::default())
                .len()
        }
    };
    let elapsed = t0.elapsed();
    assert!(found > 0, "the query matches generated plugins");
    let status = std::fs::read_to_string("/proc/self/status")?;
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    println!("{} {hwm}", elapsed.as_micros());
    Ok(())
}

/// An index of `n` plugins (one version each) written directly, then signed once.
fn generate_index(
    dir: &Path,
    root: &sign::SigningKey,
    publisher: &sign::SigningKey,
    n: usize,
) -> Result<(), BoxError> {
    publish::init_index(dir, root, 30)?;
    std::fs::create_dir_all(dir.join("index"))?;
    for i in 0..n {
        let line = IndexLine {
            v: 1,
            name: format!("plugin-{i:05}"),
            vers: "1.0.0".to_owned(),
            cksum: format!("sha256:{:064x}", i),
            len: 1000,
            publisher: publisher.public_base64(),
            clnrm: ">=0.1".to_owned(),
            image: format!("example/p{i}:1"),
            deps: vec![],
            description: format!(
                "generated plugin {i}, a {} for benchmarks",
                ["cache", "database", "queue"][i % 3]
            ),
            categories: vec![["cache", "database", "queue"][i % 3].to_owned()],
            tags: vec![format!("t{}", i % 10)],
            yanked: false,
        };
        let mut f = std::fs::File::create(dir.join(format!("index/{}.jsonl", line.name)))?;
        writeln!(f, "{}", serde_json::to_string(&line)?)?;
    }
    publish::resign_snapshot(dir, root, 1, 30, None)?;
    Ok(())
}

/// 50 plugins p0..p49, versions 1.0.0, 1.1.0 and 2.0.0; p_i depends on up to three of
/// p_{i-1}, p_{i/2}, p_{i/3} with `^1`, so the resolver must pass over every 2.0.0.
fn graph(n: usize) -> BTreeMap<String, Vec<IndexLine>> {
    let mut out = BTreeMap::new();
    for i in 0..n {
        let mut deps: Vec<usize> = [i.wrapping_sub(1), i / 2, i / 3]
            .into_iter()
            .filter(|&d| d < i)
            .collect();
        deps.sort();
        deps.dedup();
        let lines = ["1.0.0", "1.1.0", "2.0.0"]
            .iter()
            .map(|v| IndexLine {
                v: 1,
                name: format!("p{i}"),
                vers: (*v).to_owned(),
                cksum: String::new(),
                len: 0,
                publisher: String::new(),
                clnrm: ">=0.1".to_owned(),
                image: "x:1".to_owned(),
                deps: deps
                    .iter()
                    .map(|d| Dep {
                        name: format!("p{d}"),
                        req: "^1".to_owned(),
                    })
                    .collect(),
                description: String::new(),
                categories: vec![],
                tags: vec![],
                yanked: false,
            })
            .collect();
        out.insert(format!("p{i}"), lines);
    }
    out
}

/// A static file server on 127.0.0.1 for `root`.
fn serve(root: &Path) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let root = root.to_owned();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let path = request.split_whitespace().nth(1).unwrap_or("/");
                let mut stream = &stream;
                match std::fs::read(root.join(path.trim_start_matches('/'))) {
                    Ok(body) if !path.contains("..") => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(&body);
                    }
                    _ => {
                        let _ = stream.write_all(
                            b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nNot Found",
                        );
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}
