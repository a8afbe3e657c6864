//! The reaper of a `cargo nextest run`: a detached copy of the test binary that waits for the
//! nextest process to end, then removes the run's containers and network. The services the
//! processes share live in [`crate::engine`].

pub(crate) use crate::engine::{REAPER_ENV, Share, SharedServices};

/// The reaper's whole life: wait for the owner to end, then remove the run.
pub(crate) fn reap_when_owner_ends(spec: &str) -> std::process::ExitCode {
    let mut parts = spec.split('|');
    let (Some(owner), Some(run), Some(network)) = (parts.next(), parts.next(), parts.next()) else {
        return std::process::ExitCode::from(2);
    };
    let Some(owner) = crate::docker::Owner::parse(owner) else {
        return std::process::ExitCode::from(2);
    };
    while !owner.is_dead_here() {
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return std::process::ExitCode::FAILURE;
    };
    rt.block_on(async {
        if let Ok(docker) = crate::docker::connect().await {
            let _ = crate::docker::remove_run(&docker, run, network).await;
        }
    });
    std::process::ExitCode::SUCCESS
}
