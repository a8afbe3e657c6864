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
    clones: Mutex<mpsc::Receiver<std::result::Result<String, String>>>,
    migrations: Vec<PathBuf>,
    seq: AtomicU64,
}

/// What one test holds: its URL, and what to drop afterwards.
pub(crate) struct PgLease {
    pub(crate) url: String,
    admin_url: String,
    drop_sql: String,
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
        execute(
            service_url,
            &format!("DROP DATABASE IF EXISTS {template}; CREATE DATABASE {template}"),
        )
        .await
        .map_err(|e| format!("cannot create the template database: {e}"))?;
        apply(&with_database(service_url, &template), &files).await?;
        let (tx, rx) = mpsc::channel(ahead.max(1));
        let admin_url = service_url.to_owned();
        let producer_url = admin_url.clone();
        let seq = Arc::new(AtomicU64::new(0));
        tokio::spawn(async move {
            // One clone at a time: Postgres refuses two copies of one template at once.
            loop {
                let name = unique(&seq, "t");
                let made = execute(
                    &producer_url,
                    &format!("CREATE DATABASE {name} TEMPLATE {template}"),
                )
                .await
                .map(|()| with_database(&producer_url, &name));
                let failed = made.is_err();
                if tx.send(made).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok(Arc::new(PgTemplate {
            admin_url,
            clones: Mutex::new(rx),
            migrations: files,
            seq: AtomicU64::new(0),
        }))
    }

    /// A database of the test's own, with the migrations applied.
    pub(crate) async fn database(&self) -> std::result::Result<PgLease, String> {
        let made = self.clones.lock().await.recv().await;
        let url = made.unwrap_or_else(|| Err("the clone maker stopped".to_owned()))?;
        let name = url.rsplit('/').next().unwrap_or_default().to_owned();
        Ok(PgLease {
            url,
            admin_url: self.admin_url.clone(),
            drop_sql: format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
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
            admin_url: self.admin_url.clone(),
            drop_sql: format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
        })
    }
}

impl PgLease {
    /// Drops what the test had.
    pub(crate) async fn release(self) {
        if let Err(e) = execute(&self.admin_url, &self.drop_sql).await {
            tracing::warn!("cannot drop a test's database: {e}");
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
