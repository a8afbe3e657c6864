//! Checks what `#[clnrm::test]` registers, at run time: every test below is looked up in the
//! `inventory` registry, its `TestDef` fields are compared with what its attribute says, and its
//! body is run to check it calls the function and normalises the result.
//! A `harness = false` target, like a real clnrm test binary.
#![forbid(unsafe_code)]

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use clnrm::__macro_support::{Opt, OptValue, ServiceDecl, TestDef, TestFn, TestResult};
use clnrm::TestContext;

#[clnrm::test(services(db = postgres))]
async fn async_with_context_returns_result(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    let url = ctx.url("db")?;
    assert_eq!(
        url,
        "postgres://localhost/async_with_context_returns_result"
    );
    Ok(())
}

#[clnrm::test]
fn sync_without_context() {}

#[clnrm::test(
    services(
        db = postgres(image = "postgres:16", port = 5432, offset = -1, fsync = false),
        cache = "my-redis"(env("A=1", "B=2")),
    ),
    scope = "test",
    timeout = "1m 30s",
    retries = 2,
    tags("slow", "db"),
    exclusive = "migrations",
    ignore = "needs docker",
)]
async fn every_key(ctx: TestContext) -> Result<(), String> {
    Err(format!("failed in {}", ctx.name()))
}

#[clnrm::test(timeout = 30, ignore)]
fn sync_failing_with_context(_ctx: TestContext) -> Result<(), std::io::Error> {
    Err(std::io::Error::other("disk full"))
}

/// A test named like the closure parameter of the expansion: hygiene keeps them apart.
#[clnrm::test]
async fn ctx() {}

mod nested {
    pub(crate) mod deeper {
        #[clnrm::test(tags("nested"))]
        pub(crate) async fn in_a_nested_module(ctx: clnrm::TestContext) {
            assert_eq!(ctx.name(), "in_a_nested_module");
        }
    }
}

/// Polls a future to completion on this thread (the real harness uses tokio).
fn block_on<F: Future>(future: F) -> F::Output {
    struct ThreadWaker(std::thread::Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

fn run(def: &TestDef) -> TestResult {
    let ctx = TestContext::detached(
        def.fn_name,
        &[("db", &format!("postgres://localhost/{}", def.fn_name))],
    );
    match def.body {
        TestFn::Async(body) => block_on(body(ctx)),
        TestFn::Sync(body) => body(ctx),
    }
}

/// The line of `fn NAME` in this file, found by reading the source.
fn line_of(name: &str) -> u32 {
    let needle = format!("fn {name}(");
    let index = include_str!("main.rs")
        .lines()
        .position(|line| line.contains(&needle) && !line.contains("needle"))
        .unwrap_or_else(|| panic!("no `fn {name}(` in main.rs"));
    u32::try_from(index + 1).expect("line fits in u32")
}

fn find(defs: &[&'static TestDef], name: &str) -> &'static TestDef {
    let found: Vec<_> = defs.iter().filter(|def| def.fn_name == name).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one test `{name}`, found {}",
        found.len()
    );
    found[0]
}

/// The assertions on one registered test.
type Check = fn(&'static TestDef);

fn every_test_is_registered_once_with_its_module_file_and_line(_: &'static TestDef) {
    let defs: Vec<&'static TestDef> = inventory::iter::<TestDef>.into_iter().collect();
    let mut names: Vec<&str> = defs.iter().map(|def| def.fn_name).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "async_with_context_returns_result",
            "ctx",
            "every_key",
            "in_a_nested_module",
            "sync_failing_with_context",
            "sync_without_context",
        ]
    );
    for def in &defs {
        assert_eq!(def.file, file!(), "file of {}", def.fn_name);
        assert_eq!(def.line, line_of(def.fn_name), "line of {}", def.fn_name);
        let expected_module = if def.fn_name == "in_a_nested_module" {
            "expansion::nested::deeper"
        } else {
            "expansion"
        };
        assert_eq!(
            def.module_path, expected_module,
            "module of {}",
            def.fn_name
        );
    }
}

fn main() -> std::process::ExitCode {
    let checks: &[(&str, Check)] = &[
        ("sync_without_context", |def| {
            // Registry-wide checks, run once from the simplest test.
            every_test_is_registered_once_with_its_module_file_and_line(def);
            assert!(def.services.is_empty());
            assert_eq!(def.scope, None);
            assert_eq!(def.timeout, None);
            assert_eq!(def.retries, None);
            assert!(def.tags.is_empty());
            assert_eq!(def.exclusive, None);
            assert_eq!(def.ignore, None);
            assert!(matches!(def.body, TestFn::Sync(_)));
            assert_eq!(run(def), Ok(()));
        }),
        ("async_with_context_returns_result", |def| {
            assert_eq!(
                def.services,
                [ServiceDecl {
                    name: "db",
                    plugin: "postgres",
                    options: &[],
                }]
            );
            assert!(matches!(def.body, TestFn::Async(_)));
            assert_eq!(run(def), Ok(()));
        }),
        ("every_key", |def| {
            assert_eq!(
                def.services,
                [
                    ServiceDecl {
                        name: "db",
                        plugin: "postgres",
                        options: &[
                            Opt {
                                key: "image",
                                value: OptValue::Str("postgres:16"),
                            },
                            Opt {
                                key: "port",
                                value: OptValue::Int(5432),
                            },
                            Opt {
                                key: "offset",
                                value: OptValue::Int(-1),
                            },
                            Opt {
                                key: "fsync",
                                value: OptValue::Bool(false),
                            },
                        ],
                    },
                    ServiceDecl {
                        name: "cache",
                        plugin: "my-redis",
                        options: &[Opt {
                            key: "env",
                            value: OptValue::List(&["A=1", "B=2"]),
                        }],
                    },
                ]
            );
            assert_eq!(def.scope, Some("test"));
            assert_eq!(def.timeout, Some(OptValue::Str("1m 30s")));
            assert_eq!(def.retries, Some(2));
            assert_eq!(def.tags, ["slow", "db"]);
            assert_eq!(def.exclusive, Some("migrations"));
            assert_eq!(def.ignore, Some(Some("needs docker")));
            assert_eq!(run(def), Err("\"failed in every_key\"".to_owned()));
        }),
        ("sync_failing_with_context", |def| {
            assert_eq!(def.timeout, Some(OptValue::Int(30)));
            assert_eq!(def.ignore, Some(None));
            assert!(matches!(def.body, TestFn::Sync(_)));
            assert_eq!(
                run(def),
                Err("Custom { kind: Other, error: \"disk full\" }".to_owned())
            );
        }),
        ("ctx", |def| {
            assert!(matches!(def.body, TestFn::Async(_)));
            assert_eq!(run(def), Ok(()));
        }),
        ("in_a_nested_module", |def| {
            assert_eq!(def.tags, ["nested"]);
            assert_eq!(run(def), Ok(()));
        }),
    ];
    // libtest-mimic, so `--list`, filters and `cargo nextest run` work on this target too.
    let args = libtest_mimic::Arguments::from_args();
    let trials = checks
        .iter()
        .map(|&(name, assertions)| {
            libtest_mimic::Trial::test(name, move || {
                let defs: Vec<&'static TestDef> = inventory::iter::<TestDef>.into_iter().collect();
                assertions(find(&defs, name));
                Ok(())
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
