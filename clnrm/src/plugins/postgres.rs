//! PostgreSQL, reached with `postgres://USER:PASSWORD@HOST:PORT/DB`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::docker::{Endpoint, Readiness, RunEnv, start_container};
use crate::error::Result;
use crate::service::{
    Credentials, HealthStatus, PluginMetadata, PluginSource, ServiceHandle, ServicePlugin,
    ServiceSpec,
};

/// The default image, as on Docker Hub.
pub const POSTGRES_IMAGE: &str = "postgres:16";
const PORT: u16 = 5432;
/// Printed by the server when it accepts connections (the official image prints it twice: once
/// for the temporary server that initialises the database, which listens on no TCP port).
const READY_LINE: &str = "database system is ready to accept connections";

/// PostgreSQL with a user and password generated per run. Configured like the official image
/// (`POSTGRES_USER`, `POSTGRES_PASSWORD`, `POSTGRES_DB` in `env` override the generated ones).
/// Unless the spec sets `cmd`, the server runs with durability off (`fsync`,
/// `synchronous_commit`, `full_page_writes`): test data need not survive a power cut. Unless a
/// mount or `PGDATA` says otherwise, its data directory is in memory (a tmpfs on
/// `/var/lib/postgresql`): `initdb` and every template clone copy files, about three times
/// faster there than on the container's overlay file system. A tmpfs ends with its container's
/// process: after a kill or restart the server starts from an empty data directory.
#[derive(Debug, Clone, Copy, Default)]
pub struct PostgresPlugin;

#[async_trait]
impl ServicePlugin for PostgresPlugin {
    fn name(&self) -> &str {
        "postgres"
    }

    fn metadata(&self) -> PluginMetadata {
        PluginMetadata {
            name: "postgres".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description:
                "PostgreSQL; URL postgres://USER:PASSWORD@HOST:PORT/DB, credentials per run"
                    .to_owned(),
            default_image: Some(POSTGRES_IMAGE.to_owned()),
            source: PluginSource::BuiltIn,
        }
    }

    async fn start(&self, spec: &ServiceSpec, env: &Arc<RunEnv>) -> Result<ServiceHandle> {
        let mut recipe = super::base_recipe(spec, Some(POSTGRES_IMAGE), Duration::from_secs(60))?;
        let mut credentials = Credentials::generate("clnrm", Some("clnrm"));
        if let Some(user) = spec.env.get("POSTGRES_USER") {
            credentials.user = user.clone();
        }
        if let Some(password) = spec.env.get("POSTGRES_PASSWORD") {
            credentials.password = password.clone();
        }
        credentials.database = Some(
            spec.env
                .get("POSTGRES_DB")
                .cloned()
                .unwrap_or_else(|| credentials.user.clone()),
        );
        let database = credentials.database.clone().unwrap_or_default();
        recipe
            .env
            .insert("POSTGRES_USER".into(), credentials.user.clone());
        recipe
            .env
            .insert("POSTGRES_PASSWORD".into(), credentials.password.clone());
        recipe.env.insert("POSTGRES_DB".into(), database.clone());
        if recipe.cmd.is_none() && recipe.entrypoint.is_none() {
            recipe.cmd = Some(
                [
                    "postgres",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ]
                .map(String::from)
                .to_vec(),
            );
        }
        if data_in_memory(&recipe.mounts, spec.env.get("PGDATA").map(String::as_str)) {
            recipe.tmpfs.push(DATA_PARENT.to_owned());
        }
        if !recipe.ports.contains(&PORT) {
            recipe.ports.insert(0, PORT);
        }
        recipe
            .readiness
            .push(Readiness::LogLine(READY_LINE.to_owned()));
        let (user, password) = (credentials.user.clone(), credentials.password.clone());
        let db = database.clone();
        recipe
            .readiness
            .push(Readiness::Custom(Arc::new(move |endpoint: Endpoint| {
                let url = url_for(&endpoint, &user, &password, &db);
                Box::pin(async move { select_one(&url).await })
            })));
        let container = start_container(env, &recipe).await?;
        let url = url_for(
            container.endpoint(),
            &credentials.user,
            &credentials.password,
            &database,
        );
        Ok(ServiceHandle::new(
            &spec.name,
            "postgres",
            container,
            Some(url),
            Some(credentials),
        ))
    }

    async fn health_check(&self, handle: &ServiceHandle) -> HealthStatus {
        match handle.url() {
            Some(url) => match select_one(url).await {
                Ok(()) => HealthStatus::Healthy,
                Err(e) => HealthStatus::Unhealthy(e),
            },
            None => HealthStatus::Unhealthy("no URL".to_owned()),
        }
    }
}

/// Where the official images keep `PGDATA` (`data/` below it up to 17, `18/docker` from 18).
const DATA_PARENT: &str = "/var/lib/postgresql";

/// Whether the data directory can go on a tmpfs at [`DATA_PARENT`]: not when the user mounts
/// something there (they want those files), nor when `PGDATA` is elsewhere.
fn data_in_memory(mounts: &[(String, String, bool)], pgdata: Option<&str>) -> bool {
    let below = |path: &str| path == DATA_PARENT || path.starts_with(&format!("{DATA_PARENT}/"));
    let covers = |path: &str| DATA_PARENT.starts_with(&format!("{}/", path.trim_end_matches('/')));
    !mounts
        .iter()
        .any(|(_, target, _)| below(target) || covers(target))
        && pgdata.is_none_or(|p| below(p) && p != DATA_PARENT)
}

fn url_for(endpoint: &Endpoint, user: &str, password: &str, database: &str) -> String {
    format!(
        "postgres://{user}:{password}@{}:{}/{database}",
        endpoint.host,
        endpoint.port(PORT).unwrap_or(PORT)
    )
}

/// Connects and runs `SELECT 1`.
async fn select_one(url: &str) -> std::result::Result<(), String> {
    let attempt = async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .map_err(|e| e.to_string())?;
        let driver = tokio::spawn(connection);
        let result = client
            .simple_query("SELECT 1")
            .await
            .map_err(|e| e.to_string());
        drop(client);
        let _ = driver.await;
        result.map(|_| ())
    };
    tokio::time::timeout(Duration::from_secs(3), attempt)
        .await
        .map_err(|_| "connect timed out".to_owned())?
}

#[cfg(test)]
mod tests {
    use super::data_in_memory;

    fn mount(target: &str) -> (String, String, bool) {
        ("/host".to_owned(), target.to_owned(), false)
    }

    #[test]
    fn the_data_directory_goes_in_memory_unless_a_mount_or_pgdata_says_otherwise() {
        assert!(data_in_memory(&[], None));
        assert!(data_in_memory(
            &[mount("/docker-entrypoint-initdb.d")],
            None
        ));
        assert!(data_in_memory(&[], Some("/var/lib/postgresql/data/pgdata")));
        assert!(!data_in_memory(&[mount("/var/lib/postgresql/data")], None));
        assert!(!data_in_memory(&[mount("/var/lib/postgresql")], None));
        assert!(!data_in_memory(&[mount("/var/lib/")], None));
        assert!(!data_in_memory(&[], Some("/pgdata")));
        assert!(!data_in_memory(&[], Some("/var/lib/postgresql")));
    }
}
