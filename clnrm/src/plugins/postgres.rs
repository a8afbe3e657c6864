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
/// `synchronous_commit`, `full_page_writes`): test data need not survive a power cut.
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
