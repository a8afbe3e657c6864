//! Plugins by name, and starting a set of services in dependency order.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tracing::Instrument;

use super::{HealthStatus, PluginMetadata, ServiceHandle, ServicePlugin, ServiceSpec};
use crate::docker::RunEnv;
use crate::error::{Error, Result, ServiceError};
use crate::telemetry::tree;

/// The plugins known by name.
#[derive(Clone, Default)]
pub struct Registry {
    plugins: BTreeMap<String, Arc<dyn ServicePlugin>>,
    /// Why declarative plugins could not be loaded; told with any unknown plugin.
    problems: Vec<String>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.plugins.keys()).finish()
    }
}

impl Registry {
    /// The built-in plugins: `generic`, `postgres`, `redis`, `surrealdb`, `vllm`, `tgi`, `ollama`.
    pub fn builtin() -> Self {
        let mut registry = Registry::default();
        registry.register(Arc::new(crate::plugins::GenericPlugin));
        registry.register(Arc::new(crate::plugins::PostgresPlugin));
        registry.register(Arc::new(crate::plugins::RedisPlugin));
        registry.register(Arc::new(crate::plugins::SurrealDbPlugin));
        registry.register(Arc::new(crate::plugins::LlmPlugin::vllm()));
        registry.register(Arc::new(crate::plugins::LlmPlugin::tgi()));
        registry.register(Arc::new(crate::plugins::LlmPlugin::ollama()));
        registry
    }

    /// The built-ins plus the declarative plugins visible from `dir`: the project's plugin folder
    /// and the installed plugins (the versions of `clnrm.lock` when there is one). A problem
    /// loading them never hides the built-ins; it is told when an unknown plugin is asked for.
    pub fn with_installed(dir: &std::path::Path) -> Self {
        let mut registry = Registry::builtin();
        match crate::plugins::load_declarative_plugins(dir) {
            Ok(plugins) => {
                for p in plugins {
                    if registry.plugins.contains_key(p.name()) {
                        registry.problems.push(format!(
                            "plugin `{}` ({}) has the name of a built-in and is not used",
                            p.name(),
                            p.metadata().source
                        ));
                    } else {
                        registry.register(Arc::new(p));
                    }
                }
            }
            Err(e) => registry.problems.push(format!("{e:?}")),
        }
        registry
    }

    /// Why some declarative plugins are missing, if any are.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Adds (or replaces) a plugin under its name.
    pub fn register(&mut self, plugin: Arc<dyn ServicePlugin>) {
        self.plugins.insert(plugin.name().to_owned(), plugin);
    }

    /// The plugin called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn ServicePlugin>> {
        self.plugins.get(name)
    }

    fn known_with_problems(&self) -> String {
        let mut known = self.names().join(", ");
        for p in &self.problems {
            known.push_str("; not loaded: ");
            known.push_str(p);
        }
        known
    }

    /// Every plugin name, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.plugins.keys().map(String::as_str).collect()
    }

    /// Every plugin's metadata, sorted by name.
    pub fn metadata(&self) -> Vec<PluginMetadata> {
        self.plugins.values().map(|p| p.metadata()).collect()
    }

    /// Checks a set of services: known plugins, unique names, declared dependencies, no cycle,
    /// and each plugin's own checks. Returns the indices of `specs` in a start order.
    pub fn validate(&self, specs: &[ServiceSpec]) -> Result<Vec<usize>> {
        let mut index = HashMap::new();
        for (i, spec) in specs.iter().enumerate() {
            if index.insert(spec.name.as_str(), i).is_some() {
                return Err(ServiceError::Duplicate {
                    service: spec.name.clone(),
                }
                .into());
            }
        }
        let declared = || {
            let mut names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            names.sort_unstable();
            names.join(", ")
        };
        for spec in specs {
            let plugin = self
                .get(&spec.plugin)
                .ok_or_else(|| ServiceError::UnknownPlugin {
                    service: spec.name.clone(),
                    plugin: spec.plugin.clone(),
                    known: self.known_with_problems(),
                })?;
            for dep in &spec.depends_on {
                if !index.contains_key(dep.as_str()) {
                    return Err(ServiceError::UnknownDependency {
                        service: spec.name.clone(),
                        missing: dep.clone(),
                        known: declared(),
                    }
                    .into());
                }
            }
            plugin.validate(spec)?;
        }
        topological_order(specs, &index)
    }

    /// Starts `specs` in `env`: each service as soon as everything it depends on is ready,
    /// independent ones concurrently. If one fails, the others are stopped and the first error
    /// is returned.
    pub async fn start_all(&self, env: &Arc<RunEnv>, specs: &[ServiceSpec]) -> Result<Services> {
        self.validate(specs)?;
        let mut started: Vec<Option<(ServiceHandle, Duration)>> = vec![None; specs.len()];
        let mut launched = vec![false; specs.len()];
        let mut running = FuturesUnordered::new();
        let mut first_error: Option<Error> = None;
        let mut order = Vec::new();
        loop {
            if first_error.is_none() {
                for (i, spec) in specs.iter().enumerate() {
                    let ready = spec.depends_on.iter().all(|d| {
                        specs
                            .iter()
                            .position(|s| &s.name == d)
                            .is_some_and(|j| started[j].is_some())
                    });
                    if !launched[i] && ready {
                        launched[i] = true;
                        let plugin = Arc::clone(&self.plugins[&spec.plugin]);
                        let env = Arc::clone(env);
                        let span = tree::service_start(
                            &spec.name,
                            &spec.plugin,
                            spec.image.as_deref().unwrap_or_default(),
                        );
                        running.push(
                            async move {
                                let t0 = Instant::now();
                                let result = plugin.start(spec, &env).await;
                                let current = tracing::Span::current();
                                match &result {
                                    Ok(handle) => {
                                        current.record("container.id", handle.container_id());
                                        if let Some(context) = tree::span_context(&current) {
                                            handle.set_start_span(context);
                                        }
                                    }
                                    Err(_) => tree::failed(&current, "start"),
                                }
                                (i, result, t0.elapsed())
                            }
                            .instrument(span),
                        );
                    }
                }
            }
            let Some((i, result, elapsed)) = running.next().await else {
                break;
            };
            match result {
                Ok(handle) => {
                    crate::telemetry::metrics::global().service_started(
                        &specs[i].plugin,
                        &specs[i].name,
                        elapsed,
                        handle.health_check_time(),
                    );
                    started[i] = Some((handle, elapsed));
                    order.push(i);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let services = Services {
            entries: order
                .into_iter()
                .map(|i| {
                    let (handle, elapsed) = started[i].take().expect("recorded above");
                    Entry {
                        handle,
                        plugin: Arc::clone(&self.plugins[&specs[i].plugin]),
                        start_time: elapsed,
                    }
                })
                .collect(),
        };
        match first_error {
            None => Ok(services),
            Some(e) => {
                let _ = services.stop_all().await;
                Err(e)
            }
        }
    }
}

fn topological_order(specs: &[ServiceSpec], index: &HashMap<&str, usize>) -> Result<Vec<usize>> {
    // 0 = unvisited, 1 = on the stack, 2 = done.
    fn visit(
        i: usize,
        specs: &[ServiceSpec],
        index: &HashMap<&str, usize>,
        state: &mut [u8],
        stack: &mut Vec<usize>,
        out: &mut Vec<usize>,
    ) -> Result<()> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let from = stack.iter().position(|&s| s == i).unwrap_or(0);
                let mut cycle: Vec<&str> = stack[from..]
                    .iter()
                    .map(|&s| specs[s].name.as_str())
                    .collect();
                cycle.push(&specs[i].name);
                return Err(ServiceError::DependencyCycle {
                    cycle: cycle.join(" -> "),
                }
                .into());
            }
            _ => {}
        }
        state[i] = 1;
        stack.push(i);
        for dep in &specs[i].depends_on {
            visit(index[dep.as_str()], specs, index, state, stack, out)?;
        }
        stack.pop();
        state[i] = 2;
        out.push(i);
        Ok(())
    }
    let mut state = vec![0u8; specs.len()];
    let mut out = Vec::new();
    for i in 0..specs.len() {
        visit(i, specs, index, &mut state, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}

struct Entry {
    handle: ServiceHandle,
    plugin: Arc<dyn ServicePlugin>,
    start_time: Duration,
}

/// The started services of a set, in the order they became ready.
pub struct Services {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| &e.handle))
            .finish()
    }
}

impl Services {
    /// The service called `name`.
    pub fn get(&self, name: &str) -> Result<&ServiceHandle> {
        self.entries
            .iter()
            .find(|e| e.handle.name() == name)
            .map(|e| &e.handle)
            .ok_or_else(|| {
                Error::Service(ServiceError::NotFound {
                    service: name.to_owned(),
                    known: self.names().join(", "),
                })
            })
    }

    /// The names, in the order they became ready.
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.handle.name()).collect()
    }

    /// The handles, in the order they became ready.
    pub fn iter(&self) -> impl Iterator<Item = &ServiceHandle> {
        self.entries.iter().map(|e| &e.handle)
    }

    /// How long each service took from start to ready.
    pub fn start_times(&self) -> Vec<(&str, Duration)> {
        self.entries
            .iter()
            .map(|e| (e.handle.name(), e.start_time))
            .collect()
    }

    /// Asks the plugin of `name` whether it is healthy.
    pub async fn health(&self, name: &str) -> Result<HealthStatus> {
        let entry = self
            .entries
            .iter()
            .find(|e| e.handle.name() == name)
            .ok_or_else(|| {
                Error::Service(ServiceError::NotFound {
                    service: name.to_owned(),
                    known: self.names().join(", "),
                })
            })?;
        Ok(entry.plugin.health_check(&entry.handle).await)
    }

    /// Stops every service, dependents first. Returns the first error after trying them all.
    pub async fn stop_all(self) -> Result<()> {
        let mut first = None;
        for entry in self.entries.into_iter().rev() {
            if let Err(e) = entry.plugin.stop(&entry.handle).await {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(registry: &Registry, specs: &[ServiceSpec]) -> Result<Vec<String>> {
        let order = registry.validate(specs)?;
        Ok(order.into_iter().map(|i| specs[i].name.clone()).collect())
    }

    #[test]
    fn dependencies_come_before_their_dependents() {
        let registry = Registry::builtin();
        let specs = vec![
            ServiceSpec::new("app", "generic")
                .image("x:1")
                .depends_on("db")
                .depends_on("cache"),
            ServiceSpec::new("db", "postgres"),
            ServiceSpec::new("cache", "redis"),
        ];
        let order = names(&registry, &specs).unwrap();
        let pos = |n: &str| order.iter().position(|o| o == n).unwrap();
        assert!(
            pos("db") < pos("app") && pos("cache") < pos("app"),
            "{order:?}"
        );
    }

    #[test]
    fn an_unknown_plugin_is_named_with_the_known_ones() {
        let err = Registry::builtin()
            .validate(&[ServiceSpec::new("db", "postgress")])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown plugin `postgress` for service `db`; known: generic, ollama, postgres, redis, surrealdb, tgi, vllm"
        );
    }

    #[test]
    fn a_dependency_cycle_is_named() {
        let specs = vec![
            ServiceSpec::new("a", "redis").depends_on("b"),
            ServiceSpec::new("b", "redis").depends_on("c"),
            ServiceSpec::new("c", "redis").depends_on("a"),
        ];
        let err = Registry::builtin().validate(&specs).unwrap_err();
        assert_eq!(
            err.to_string(),
            "services depend on each other in a cycle: a -> b -> c -> a"
        );
    }

    #[test]
    fn an_undeclared_dependency_and_a_duplicate_are_errors() {
        let registry = Registry::builtin();
        let err = registry
            .validate(&[ServiceSpec::new("a", "redis").depends_on("db")])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "service `a` depends on `db`, which is not declared; declared: a"
        );
        let err = registry
            .validate(&[
                ServiceSpec::new("a", "redis"),
                ServiceSpec::new("a", "postgres"),
            ])
            .unwrap_err();
        assert_eq!(err.to_string(), "service `a` is declared twice");
    }
}
