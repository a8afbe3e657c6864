//! Postgres: a database per test cloned from a template to which migrations were applied once
//! (clones prepared ahead in the background, so a test rarely waits), or a schema per test
//! selected through the URL's `search_path`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Mutex, mpsc};

use crate::error::{Error, Result};

const TEMPLATE: &str = "clnrm_template";

/// A template database and a queue of clones made from it ahead of time.
pub(crate) struct PgTemplate {
    admin_url: String,
    clones: Mutex<mpsc::Receiver<std::result::Result<(String, String), String>>>,
    drops: mpsc::UnboundedSender<String>,
    migrations: Vec<PathBuf>,
    seq: AtomicU64,
}

/// What one test holds: its URL, and what to drop afterwards.
pub(crate) struct PgLease {
    pub(crate) url: String,
    /// The database's (or schema's) name.
    pub(crate) name: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Database {
        name: String,
        queue: mpsc::UnboundedSender<String>,
    },
    Schema {
        admin_url: String,
        sql: String,
    },
}

/// Makes clones of `template` ahead, one at a time (Postgres refuses two copies of one template
/// at once), on one connection; drops finished tests' databases while the queue is full.
async fn make_clones(
    admin_url: String,
    template: String,
    ready: mpsc::Sender<std::result::Result<(String, String), String>>,
    mut drops: mpsc::UnboundedReceiver<String>,
) {
    let client = match tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client
        }
        Err(e) => {
            let _ = ready
                .send(Err(format!("cannot connect to make clones: {e}")))
                .await;
            return;
        }
    };
    let seq = AtomicU64::new(0);
    // FILE_COPY (Postgres 15+) copies the small template's files instead of WAL-logging every
    // block: about three times faster here. Older servers do not know the option.
    let mut strategy = " STRATEGY FILE_COPY";
    loop {
        let permit = tokio::select! {
            biased;
            permit = ready.reserve() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
            Some(name) = drops.recv() => {
                let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                continue;
            }
        };
        let name = unique(&seq, "t");
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
                let url = with_database(&admin_url, &name);
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
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(connection);
    let result = client
        .batch_execute(sql)
        .await
        .map_err(|e| match e.as_db_error() {
            Some(db) => format!("{}: {}", db.severity(), db.message()),
            None => e.to_string(),
        });
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

async fn apply(url: &str, files: &[PathBuf]) -> std::result::Result<(), String> {
    for file in files {
        let sql = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        execute(url, &sql)
            .await
            .map_err(|e| format!("migration {} failed: {e}", file.display()))?;
    }
    Ok(())
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
    /// starts making `ahead` clones in the background.
    pub(crate) async fn prepare(
        service_url: &str,
        migrations: Option<&Path>,
        ahead: usize,
    ) -> std::result::Result<Arc<Self>, String> {
        let files = migration_files(migrations).map_err(|e| format!("{e:?}"))?;
        // A template per process: several test binaries (or nextest processes) may share one
        // server, each with its own migrations.
        let template = format!("{TEMPLATE}_{}", std::process::id());
        // Two statements: several in one batch run in a transaction, which these refuse.
        for sql in [
            format!("DROP DATABASE IF EXISTS {template}"),
            format!("CREATE DATABASE {template}"),
        ] {
            execute(service_url, &sql)
                .await
                .map_err(|e| format!("cannot create the template database: {e}"))?;
        }
        apply(&with_database(service_url, &template), &files).await?;
        let (tx, rx) = mpsc::channel(ahead.max(1));
        let (drop_tx, drop_rx) = mpsc::unbounded_channel();
        let admin_url = service_url.to_owned();
        tokio::spawn(make_clones(admin_url.clone(), template, tx, drop_rx));
        Ok(Arc::new(PgTemplate {
            admin_url,
            clones: Mutex::new(rx),
            drops: drop_tx,
            migrations: files,
            seq: AtomicU64::new(0),
        }))
    }

    /// A database of the test's own, with the migrations applied.
    pub(crate) async fn database(&self) -> std::result::Result<PgLease, String> {
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

impl PgLease {
    /// Drops what the test had: a schema at once; a database through the clone maker, which
    /// drops only while its queue of clones is full, so dropping never delays a clone.
    pub(crate) async fn release(self) {
        match self.cleanup {
            Cleanup::Database { name, queue } => {
                let _ = queue.send(name);
            }
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
