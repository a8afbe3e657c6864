//! Services started together, used through real clients, reaching each other by name; limits,
//! readiness failures and image substitution.

use std::time::{Duration, Instant};

use clnrm::docker::{ImageMap, Readiness, labels};
use clnrm::{Registry, RunConfig, RunEnv, ServiceSpec};

use crate::support::{containers_with_label, run_env};

const TOOLBOX: &str = "clnrm-local/toolbox:bookworm";

#[tokio::test(flavor = "multi_thread")]
async fn postgres_redis_and_generic_start_together_and_answer_real_clients() {
    let env = run_env().await;
    let specs = [
        ServiceSpec::new("db", "postgres"),
        ServiceSpec::new("cache", "redis"),
        ServiceSpec::new("tools", "generic")
            .image("debian:bookworm")
            .cmd(["sleep", "infinity"]),
    ];
    let services = Registry::builtin().start_all(&env, &specs).await.unwrap();

    // Postgres through tokio-postgres, with the credentials generated for this run.
    let db = services.get("db").unwrap();
    let url = db.url().expect("postgres has a URL");
    let password = &db.credentials().expect("credentials").password;
    assert_eq!(password.len(), 24);
    assert!(!db.redacted_url().unwrap().contains(password.as_str()));
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL)")
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO users (email) VALUES ($1), ($2)",
            &[&"a@x.io", &"b@x.io"],
        )
        .await
        .unwrap();
    let row = client
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 2);

    // Redis through the redis crate.
    let cache = redis::Client::open(services.get("cache").unwrap().url().unwrap()).unwrap();
    let mut conn = cache.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query_async(&mut conn)
        .await
        .unwrap();
    let value: String = redis::cmd("GET")
        .arg("k")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(value, "v");

    // The generic container runs commands, argv as given.
    let tools = services.get("tools").unwrap();
    assert_eq!(
        tools.image(),
        TOOLBOX,
        "debian:bookworm redirected by clnrm.toml"
    );
    let out = tools
        .exec(&["sh", "-c", "echo 'a b' && echo c"])
        .await
        .unwrap();
    assert_eq!((out.exit_code, out.stdout.as_str()), (0, "a b\nc\n"));
    let out = tools
        .exec(&["sh", "-c", "echo oops >&2; exit 7"])
        .await
        .unwrap();
    assert_eq!((out.exit_code, out.stderr.as_str()), (7, "oops\n"));

    // Every container carries the run's labels.
    let ids = containers_with_label(labels::RUN, env.id()).await;
    assert_eq!(ids.len(), 3, "{ids:?}");

    services.stop_all().await.unwrap();
    env.stop().await.unwrap();
    assert!(
        containers_with_label(labels::RUN, env.id())
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn depends_on_is_observed_and_a_generic_container_reaches_postgres_by_name() {
    let env = run_env().await;
    let specs = [
        // Declared first, but it needs the database: its readiness check reaches `db` by name
        // over the run network, which only works once `db` is up.
        ServiceSpec::new("app", "generic")
            .image(TOOLBOX)
            .cmd(["sleep", "infinity"])
            .depends_on("db")
            .wait_for(Readiness::Command(
                ["pg_isready", "-h", "db", "-p", "5432"]
                    .map(String::from)
                    .to_vec(),
            )),
        ServiceSpec::new("db", "postgres"),
    ];
    let services = Registry::builtin().start_all(&env, &specs).await.unwrap();
    assert_eq!(
        services.names(),
        ["db", "app"],
        "ready order follows depends_on"
    );

    let docker = clnrm::docker::connect().await.unwrap();
    let created = |id: String| {
        let docker = docker.clone();
        async move {
            docker
                .inspect_container(&id, None)
                .await
                .unwrap()
                .created
                .expect("created timestamp")
        }
    };
    let db_created = created(services.get("db").unwrap().container_id().to_owned()).await;
    let app_created = created(services.get("app").unwrap().container_id().to_owned()).await;
    assert!(
        db_created < app_created,
        "db {db_created} before app {app_created}"
    );

    // A real query from inside the generic container, by service name.
    let creds = services.get("db").unwrap().credentials().unwrap().clone();
    let url = format!(
        "postgres://{}:{}@db:5432/{}",
        creds.user,
        creds.password,
        creds.database.unwrap()
    );
    let out = services
        .get("app")
        .unwrap()
        .exec(&["psql", url.as_str(), "-Atc", "SELECT 40 + 2"])
        .await
        .unwrap();
    assert_eq!(
        (out.exit_code, out.stdout.trim()),
        (0, "42"),
        "{}",
        out.stderr
    );
    services.stop_all().await.unwrap();
    env.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unhealthy_service_reports_its_logs_within_its_timeout_and_leaves_no_container() {
    let env = run_env().await;
    let spec = ServiceSpec::new("broken", "generic")
        .image(TOOLBOX)
        .cmd([
            "sh",
            "-c",
            "echo booting; echo 'fatal: bad config line 3' >&2; sleep 600",
        ])
        .wait_for(Readiness::LogLine("listening".into()))
        .startup_timeout(Duration::from_secs(3));
    let t0 = Instant::now();
    let err = Registry::builtin()
        .start_all(&env, &[spec])
        .await
        .unwrap_err();
    let elapsed = t0.elapsed();
    let text = err.to_string();
    assert!(
        elapsed < Duration::from_secs(10),
        "failed after {elapsed:?}"
    );
    assert!(text.contains("service `broken`"), "{text}");
    assert!(text.contains("was not ready after 3.0 s"), "{text}");
    assert!(text.contains("fatal: bad config line 3"), "{text}");
    assert!(err.is_infrastructure());
    assert!(
        containers_with_label(labels::RUN, env.id())
            .await
            .is_empty()
    );
    env.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_whose_container_exits_fails_fast_with_its_logs() {
    let env = run_env().await;
    let spec = ServiceSpec::new("quitter", "generic")
        .image(TOOLBOX)
        .cmd(["sh", "-c", "echo 'cannot bind port'; exit 3"])
        .wait_for(Readiness::Port(8080))
        .port(8080)
        .startup_timeout(Duration::from_secs(60));
    let t0 = Instant::now();
    let err = Registry::builtin()
        .start_all(&env, &[spec])
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "not fast: {:?}",
        t0.elapsed()
    );
    assert!(text.contains("exited (exit code 3)"), "{text}");
    assert!(text.contains("cannot bind port"), "{text}");
    assert!(
        containers_with_label(labels::RUN, env.id())
            .await
            .is_empty()
    );
    env.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_and_cpu_limits_are_visible_in_docker_inspect() {
    let env = run_env().await;
    let spec = ServiceSpec::new("limited", "redis")
        .memory(clnrm::values::parse_memory("64m").unwrap() as i64)
        .cpus(0.5);
    let services = Registry::builtin().start_all(&env, &[spec]).await.unwrap();
    let id = services.get("limited").unwrap().container_id().to_owned();
    let docker = clnrm::docker::connect().await.unwrap();
    let host_config = docker
        .inspect_container(&id, None)
        .await
        .unwrap()
        .host_config
        .unwrap();
    assert_eq!(host_config.memory, Some(64 * 1024 * 1024));
    assert_eq!(host_config.nano_cpus, Some(500_000_000));
    services.stop_all().await.unwrap();
    env.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn image_substitution_from_configuration_is_honoured() {
    let config = RunConfig {
        images: ImageMap::default().redirect("registry.invalid/team/tools:9", TOOLBOX),
        ..RunConfig::default()
    };
    let env = RunEnv::start(config).await.unwrap();
    let spec = ServiceSpec::new("tools", "generic")
        .image("registry.invalid/team/tools:9")
        .cmd(["sleep", "infinity"]);
    let services = Registry::builtin().start_all(&env, &[spec]).await.unwrap();
    let tools = services.get("tools").unwrap();
    assert_eq!(tools.image(), TOOLBOX);
    let docker = clnrm::docker::connect().await.unwrap();
    let info = docker
        .inspect_container(tools.container_id(), None)
        .await
        .unwrap();
    assert_eq!(info.config.unwrap().image.as_deref(), Some(TOOLBOX));
    services.stop_all().await.unwrap();
    env.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_that_cannot_be_pulled_names_the_substitution_variable() {
    let env = RunEnv::start(RunConfig::default()).await.unwrap();
    let spec = ServiceSpec::new("ghost", "generic").image("registry.invalid/nothing/here:1");
    let err = Registry::builtin()
        .start_all(&env, &[spec])
        .await
        .unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains("failed to start service `ghost`"), "{text}");
    assert!(
        text.contains("CLNRM_IMAGE_REGISTRY_INVALID_NOTHING_HERE"),
        "{text}"
    );
    env.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn health_checks_answer_for_running_services() {
    let env = run_env().await;
    let specs = [
        ServiceSpec::new("db", "postgres"),
        ServiceSpec::new("cache", "redis"),
    ];
    let services = Registry::builtin().start_all(&env, &specs).await.unwrap();
    assert_eq!(
        services.health("db").await.unwrap(),
        clnrm::HealthStatus::Healthy
    );
    assert_eq!(
        services.health("cache").await.unwrap(),
        clnrm::HealthStatus::Healthy
    );
    services.get("cache").unwrap().stop().await.unwrap();
    assert!(matches!(
        services.health("cache").await.unwrap(),
        clnrm::HealthStatus::Unhealthy(_)
    ));
    services.stop_all().await.unwrap();
    env.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_docker_engine_answers_the_api_version_bollard_speaks() {
    // Debian's engine speaks API 1.41 only; bollard works with it because it sends unversioned
    // paths. A bollard upgrade that starts sending versioned paths breaks this test first.
    let docker = clnrm::docker::connect().await.unwrap();
    let version = docker.version().await.unwrap();
    assert!(version.api_version.is_some(), "{version:?}");
    let listed = docker
        .list_containers(None::<clnrm::docker::bollard::query_parameters::ListContainersOptions>)
        .await;
    assert!(listed.is_ok(), "{listed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn service_ports_are_published_on_loopback_only() {
    let env = run_env().await;
    let specs = [
        ServiceSpec::new("db", "postgres"),
        ServiceSpec::new("cache", "redis"),
    ];
    let services = Registry::builtin().start_all(&env, &specs).await.unwrap();
    for name in ["db", "cache"] {
        let id = services.get(name).unwrap().container_id().to_owned();
        let inspect = env
            .docker()
            .inspect_container(&id, None)
            .await
            .expect("inspect");
        let host_config = inspect.host_config.expect("host config");
        assert_eq!(host_config.publish_all_ports, Some(false), "{name}");
        let bindings = host_config.port_bindings.expect("port bindings");
        assert!(!bindings.is_empty(), "{name} publishes its port");
        for (port, binding) in &bindings {
            for b in binding.iter().flatten() {
                assert_eq!(
                    b.host_ip.as_deref(),
                    Some("127.0.0.1"),
                    "{name} {port} is bound to {b:?}, reachable from other machines"
                );
            }
        }
        // What the engine really bound, not only what was asked.
        let ports = inspect
            .network_settings
            .and_then(|n| n.ports)
            .expect("published ports");
        for b in ports.values().flatten().flatten() {
            assert_eq!(b.host_ip.as_deref(), Some("127.0.0.1"), "{name}: {ports:?}");
        }
    }
    // And the services are still usable through the loopback address.
    let cache = redis::Client::open(services.get("cache").unwrap().url().unwrap()).unwrap();
    let mut conn = cache.get_multiplexed_async_connection().await.unwrap();
    let pong: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
    assert_eq!(pong, "PONG");
    services.stop_all().await.unwrap();
    env.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_runs_as_the_user_asked_for_and_as_the_images_user_otherwise() {
    let env = run_env().await;
    let specs = [
        ServiceSpec::new("plain", "generic")
            .image(TOOLBOX)
            .cmd(["sleep", "infinity"]),
        ServiceSpec::new("unprivileged", "generic")
            .image(TOOLBOX)
            .cmd(["sleep", "infinity"])
            .user("1000:1000"),
    ];
    let services = Registry::builtin().start_all(&env, &specs).await.unwrap();
    let id = |name: &str| {
        let handle = services.get(name).unwrap().clone();
        async move {
            let out = handle.exec(&["id", "-u"]).await.unwrap();
            out.stdout.trim().to_owned()
        }
    };
    assert_eq!(id("plain").await, "0", "the image says nothing: root");
    assert_eq!(id("unprivileged").await, "1000");
    services.stop_all().await.unwrap();
    env.stop().await.unwrap();
}

/// The local Postgres image (scripts/build-images.sh) copies a data directory initialised at
/// build time for clnrm's user, and runs initdb for any other: both answer with the credentials
/// asked for, and refuse a wrong password.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_accepts_its_credentials_from_the_seed_data_directory_and_from_initdb() {
    let env = run_env().await;
    let specs = [
        ServiceSpec::new("plain", "postgres"),
        ServiceSpec::new("app", "postgres").env("POSTGRES_DB", "app"),
        ServiceSpec::new("alice", "postgres")
            .env("POSTGRES_USER", "alice")
            .env("POSTGRES_PASSWORD", "alices-secret"),
    ];
    let services = Registry::builtin().start_all(&env, &specs).await.unwrap();
    for (name, user, database, how) in [
        ("plain", "clnrm", "clnrm", "copied the seed data directory"),
        ("app", "clnrm", "app", "copied the seed data directory"),
        ("alice", "alice", "alice", "initialised"),
    ] {
        let handle = services.get(name).unwrap();
        let logs = handle.logs(50).await.unwrap();
        assert!(logs.contains(how), "{name}: expected {how:?} in\n{logs}");
        let url = handle.url().expect("postgres has a URL");
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        tokio::spawn(connection);
        let row = client
            .query_one("SELECT current_user::text, current_database()::text", &[])
            .await
            .unwrap();
        assert_eq!(
            (row.get::<_, String>(0), row.get::<_, String>(1)),
            (user.to_owned(), database.to_owned()),
            "{name}"
        );
        let password = &handle.credentials().expect("credentials").password;
        let wrong = url.replacen(&format!(":{password}@"), ":wrong@", 1);
        assert_ne!(&wrong, url, "{name}: the URL carries the password");
        let refused = tokio_postgres::connect(&wrong, tokio_postgres::NoTls).await;
        assert!(refused.is_err(), "{name}: a wrong password was accepted");
    }
    services.stop_all().await.unwrap();
    env.stop().await.unwrap();
}
