//! Postgres: a database per test cloned from a template to which migrations were applied once
//! (clones prepared ahead in the background, so a test rarely waits), or a schema per test
//! selected through the URL's `search_path`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{Mutex, Semaphore, mpsc};

use crate::error::{Error, Result};

const TEMPLATE: &str = "clnrm_template";

/// Clone makers working at once, each on its own connection. Postgres copies one template into
/// several databases at a time; on two cores two makers keep the server busy while the other
/// waits on the round trip.
const MAKERS: usize = 2;
/// At most this many clones wait ready at once: each is a few MB of the server's memory (its
/// data directory is a tmpfs).
const MAX_READY: usize = 32;
/// Finished tests' databases are dropped when no clone is wanted, or before the next clone once
/// more than this many wait to be dropped: a drop waits for every busy backend (Postgres 15
/// signals them all), so under load it would delay the clones tests wait for.
const DROP_FIRST_ABOVE: usize = 16;

type Made = std::result::Result<(String, String), String>;

/// A template database and a queue of clones made from it ahead of time.
pub(crate) struct PgTemplate {
    admin_url: String,
    clones: Mutex<mpsc::Receiver<Made>>,
    drops: DropQueue,
    /// How many more clones the makers may make; see [`Demand`].
    budget: Arc<Semaphore>,
    demand: Demand,
    taken: AtomicU64,
    migrations: Vec<PathBuf>,
    seq: AtomicU64,
}

/// How many clones to make ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Demand {
    /// The number of leases expected (the tests that need the service, known before they run):
    /// that many clones are made as fast as the server can, and one more for each lease beyond
    /// the forecast (a retry).
    Forecast(usize),
    /// Unknown: keep this many ready, one made for each taken.
    Refill(usize),
}

impl Demand {
    /// Clones the makers may make before any is taken.
    fn budget(self) -> usize {
        match self {
            Demand::Forecast(n) => n,
            Demand::Refill(n) => n.max(1),
        }
    }

    /// How many may wait ready.
    fn ready(self) -> usize {
        self.budget().clamp(1, MAX_READY)
    }

    /// Whether taking lease number `n` (from 1) lets the makers make one more.
    fn replaces(self, n: u64) -> bool {
        match self {
            Demand::Forecast(expected) => n > expected as u64,
            Demand::Refill(_) => true,
        }
    }
}

/// What the clone makers share.
struct Makers {
    admin_url: String,
    template: String,
    ready: mpsc::Sender<Made>,
    drops: Mutex<mpsc::UnboundedReceiver<String>>,
    /// Databases sent to `drops` and not yet received.
    pending_drops: Arc<AtomicUsize>,
    budget: Arc<Semaphore>,
    seq: AtomicU64,
}

/// What one test holds: its URL, and what to drop afterwards.
pub(crate) struct PgLease {
    pub(crate) url: String,
    /// The database's (or schema's) name.
    pub(crate) name: String,
    cleanup: Cleanup,
}

/// Where finished tests' databases go to be dropped by the clone makers.
#[derive(Clone)]
struct DropQueue {
    queue: mpsc::UnboundedSender<String>,
    pending: Arc<AtomicUsize>,
}

impl DropQueue {
    fn push(&self, name: String) {
        self.pending.fetch_add(1, Ordering::Relaxed);
        if self.queue.send(name).is_err() {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// What a clone maker does next.
enum Next<'a> {
    Drop(String),
    Make(mpsc::Permit<'a, Made>),
    Stop,
}

enum Cleanup {
    Database { name: String, queue: DropQueue },
    Schema { admin_url: String, sql: String },
}

/// One clone maker: on its own connection, makes a clone of the template when the budget allows
/// and a ready slot is free, else drops finished tests' databases (first when more than
/// [`DROP_FIRST_ABOVE`] wait, which bounds the server's memory).
async fn make_clones(makers: Arc<Makers>) {
    let client = match tokio_postgres::connect(&makers.admin_url, tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client
        }
        Err(e) => {
            let _ = makers
                .ready
                .send(Err(format!("cannot connect to make clones: {e}")))
                .await;
            return;
        }
    };
    // FILE_COPY (Postgres 15+) copies the small template's files instead of WAL-logging every
    // block: about three times faster here. Older servers do not know the option.
    let mut strategy = " STRATEGY FILE_COPY";
    loop {
        let next_drop = async {
            let name = makers.drops.lock().await.recv().await;
            if name.is_some() {
                makers.pending_drops.fetch_sub(1, Ordering::Relaxed);
            }
            name
        };
        let next = if makers.pending_drops.load(Ordering::Relaxed) > DROP_FIRST_ABOVE {
            next_drop.await.map_or(Next::Stop, Next::Drop)
        } else {
            let slot = async {
                let budget = makers.budget.acquire().await.ok()?;
                let slot = makers.ready.reserve().await.ok()?;
                budget.forget();
                Some(slot)
            };
            tokio::select! {
                biased;
                slot = slot => slot.map_or(Next::Stop, Next::Make),
                Some(name) = next_drop => Next::Drop(name),
            }
        };
        let permit = match next {
            Next::Drop(name) => {
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
                continue;
            }
            Next::Make(permit) => permit,
            Next::Stop => return,
        };
        let name = unique(&makers.seq, "t");
        let template = &makers.template;
        let mut made = client
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE {template}{strategy}"
            ))
            .await;
        if made.is_err() && !strategy.is_empty() {
            strategy = "";
            made = client
                .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .await;
        }
        match made {
            Ok(()) => {
                let url = with_database(&makers.admin_url, &name);
                permit.send(Ok((name, url)));
            }
            Err(e) => {
                permit.send(Err(format!("cannot clone the template: {e}")));
                return;
            }
        }
    }
}

/// Runs `sql` on `url` and closes the connection.
async fn execute(url: &str, sql: &str) -> std::result::Result<(), String> {
    execute_each(url, &[sql]).await.map_err(|(_, e)| e)
}

/// Runs each of `batches` in turn on one connection to `url` (each a batch of its own: not in
/// one transaction), then closes it; on failure, the index of the failing batch (`usize::MAX`
/// when the connection failed) and why.
async fn execute_each(url: &str, batches: &[&str]) -> std::result::Result<(), (usize, String)> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| (usize::MAX, e.to_string()))?;
    let driver = tokio::spawn(connection);
    let mut result = Ok(());
    for (i, sql) in batches.iter().enumerate() {
        if let Err(e) = client.batch_execute(sql).await {
            let why = match e.as_db_error() {
                Some(db) => format!("{}: {}", db.severity(), db.message()),
                None => e.to_string(),
            };
            result = Err((i, why));
            break;
        }
    }
    drop(client);
    let _ = driver.await;
    result
}

/// `url` with its database replaced.
pub(crate) fn with_database(url: &str, database: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    match base.rsplit_once('/') {
        Some((prefix, _)) if prefix.contains("://") && prefix.len() > "postgres://".len() - 1 => {
            format!("{prefix}/{database}")
        }
        _ => format!("{base}/{database}"),
    }
}

/// `url` with `search_path` set to `schema` for every connection.
pub(crate) fn with_search_path(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

fn migration_files(dir: Option<&Path>) -> Result<Vec<PathBuf>> {
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        action: "failed to read migrations",
        path: dir.to_owned(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    Ok(files)
}

/// Applies the migration `files` in order, on one connection.
async fn apply(url: &str, files: &[PathBuf]) -> std::result::Result<(), String> {
    if files.is_empty() {
        return Ok(());
    }
    let sqls = files
        .iter()
        .map(|file| std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display())))
        .collect::<std::result::Result<Vec<String>, String>>()?;
    let batches: Vec<&str> = sqls.iter().map(String::as_str).collect();
    execute_each(url, &batches)
        .await
        .map_err(|(i, e)| match files.get(i) {
            Some(file) => format!("migration {} failed: {e}", file.display()),
            None => format!("cannot connect to apply the migrations: {e}"),
        })
}

/// Creates `template` from the service's database and applies the migration `files` to it.
async fn make_template(
    service_url: &str,
    template: &str,
    files: &[PathBuf],
) -> std::result::Result<(), String> {
    // Two batches: several statements in one run in a transaction, which these refuse.
    let drop_it = format!("DROP DATABASE IF EXISTS {template}");
    // FILE_COPY (Postgres 15+) here too: the default WAL-logs every block of `template1` and
    // leaves them dirty for the first clone's checkpoint; copying the files made the template
    // and the first clone about 100 ms faster on a fresh server. Older servers do not know the
    // option.
    let create = format!("CREATE DATABASE {template} STRATEGY FILE_COPY");
    let created = match execute_each(service_url, &[&drop_it, &create]).await {
        Err((1, _)) => execute(service_url, &format!("CREATE DATABASE {template}")).await,
        other => other.map_err(|(_, e)| e),
    };
    created.map_err(|e| format!("cannot create the template database: {e}"))?;
    apply(&with_database(service_url, template), files).await
}

fn unique(seq: &AtomicU64, prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        seq.fetch_add(1, Ordering::Relaxed)
    )
}

impl PgTemplate {
    /// Creates the template from the service's database, applies `migrations` to it once, and
    /// starts making clones in the background as `demand` says.
    pub(crate) async fn prepare(
        service_url: &str,
        migrations: Option<&Path>,
        demand: Demand,
    ) -> std::result::Result<Arc<Self>, String> {
        let files = migration_files(migrations).map_err(|e| format!("{e:?}"))?;
        // A template per process: several test binaries (or nextest processes) may share one
        // server, each with its own migrations.
        let template = format!("{TEMPLATE}_{}", std::process::id());
        let (tx, rx) = mpsc::channel(demand.ready());
        let (drop_tx, drop_rx) = mpsc::unbounded_channel();
        let pending_drops = Arc::new(AtomicUsize::new(0));
        let admin_url = service_url.to_owned();
        // No budget until the template is ready: the makers connect (a password exchange each,
        // client-side CPU) while the template is made and migrated, not after.
        let budget = Arc::new(Semaphore::new(0));
        let makers = Arc::new(Makers {
            admin_url: admin_url.clone(),
            template: template.clone(),
            ready: tx,
            drops: Mutex::new(drop_rx),
            pending_drops: Arc::clone(&pending_drops),
            budget: Arc::clone(&budget),
            seq: AtomicU64::new(0),
        });
        for _ in 0..MAKERS {
            tokio::spawn(make_clones(Arc::clone(&makers)));
        }
        if let Err(e) = make_template(service_url, &template, &files).await {
            budget.close();
            return Err(e);
        }
        budget.add_permits(demand.budget());
        Ok(Arc::new(PgTemplate {
            admin_url,
            clones: Mutex::new(rx),
            drops: DropQueue {
                queue: drop_tx,
                pending: pending_drops,
            },
            budget,
            demand,
            taken: AtomicU64::new(0),
            migrations: files,
            seq: AtomicU64::new(0),
        }))
    }

    /// A database of the test's own, with the migrations applied.
    pub(crate) async fn database(&self) -> std::result::Result<PgLease, String> {
        let n = self.taken.fetch_add(1, Ordering::Relaxed) + 1;
        if self.demand.replaces(n) {
            self.budget.add_permits(1);
        }
        let made = self.clones.lock().await.recv().await;
        let (name, url) = made.unwrap_or_else(|| Err("the clone maker stopped".to_owned()))?;
        Ok(PgLease {
            url,
            name: name.clone(),
            cleanup: Cleanup::Database {
                name,
                queue: self.drops.clone(),
            },
        })
    }

    /// A schema of the test's own in the service's database, with the migrations applied in it.
    pub(crate) async fn schema(&self) -> std::result::Result<PgLease, String> {
        let schema = unique(&self.seq, "s");
        execute(&self.admin_url, &format!("CREATE SCHEMA {schema}")).await?;
        let url = with_search_path(&self.admin_url, &schema);
        apply(&url, &self.migrations).await?;
        Ok(PgLease {
            url,
            name: schema.clone(),
            cleanup: Cleanup::Schema {
                admin_url: self.admin_url.clone(),
                sql: format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
            },
        })
    }
}

impl Drop for PgTemplate {
    /// Stops the clone makers waiting for budget (those waiting for a slot see the queue gone).
    fn drop(&mut self) {
        self.budget.close();
    }
}

impl PgLease {
    /// Drops what the test had: a schema at once; a database through the clone makers (see
    /// [`make_clones`]).
    pub(crate) async fn release(self) {
        match self.cleanup {
            Cleanup::Database { name, queue } => queue.push(name),
            Cleanup::Schema { admin_url, sql } => {
                if let Err(e) = execute(&admin_url, &sql).await {
                    tracing::warn!("cannot drop a test's schema: {e}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_their_database_and_search_path_replaced() {
        let url = "postgres://u:p@127.0.0.1:5432/clnrm";
        assert_eq!(
            with_database(url, "t_1"),
            "postgres://u:p@127.0.0.1:5432/t_1"
        );
        assert_eq!(
            with_search_path(url, "s_1"),
            "postgres://u:p@127.0.0.1:5432/clnrm?options=-c%20search_path%3Ds_1"
        );
    }
}
