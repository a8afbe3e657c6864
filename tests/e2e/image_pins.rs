//! Digest pins (`repo:tag@sha256:...`): Docker is asked for exactly that content, and a redirect
//! by `clnrm.toml` `[images]` that replaces a pinned image is said, never hidden.

use clnrm::{Registry, ServiceSpec};

use crate::support::{ScratchDir, run_env};

#[tokio::test]
async fn a_pinned_digest_is_asked_of_docker_not_replaced_by_the_local_tag() {
    // The tag exists here (scripts/build-images.sh); no image has this digest. Dropping the pin
    // would start the tag's image; asking Docker for the digest cannot succeed.
    let digest = format!("sha256:{}", "0".repeat(64));
    let image = format!("clnrm-local/toolbox:bookworm@{digest}");
    let env = run_env().await;
    let spec = ServiceSpec::new("pinned", "generic")
        .image(image.clone())
        .cmd(["sleep", "infinity"]);
    let started = Registry::builtin()
        .start_all(&env, std::slice::from_ref(&spec))
        .await;
    let err = match started {
        Ok(services) => {
            let _ = services.stop_all().await;
            panic!("a pinned digest no image has must not start");
        }
        Err(e) => format!("{e:?}"),
    };
    assert!(err.contains(&digest), "{err}");
}

#[test]
fn clnrm_plugins_says_when_a_redirect_replaces_a_pinned_image() {
    let dir = ScratchDir::new("pin-redirect");
    let digest = format!("sha256:{}", "ab".repeat(32));
    dir.write(
        "clnrm.toml",
        "[images]\n\"memcached\" = \"clnrm-local/memcached:1.6\"\n[plugins]\ndir = \"plugins\"\n",
    );
    dir.write(
        "plugins/pinned/plugin.toml",
        &format!(
            r#"schema = 1
[plugin]
name = "pinned"
version = "0.1.0"
description = "a pinned image"
clnrm = ">=0.1"
[service]
image = "memcached:1.6@{digest}"
ports = [11211]
"#
        ),
    );
    let out = crate::support::own_run(env!("CARGO_BIN_EXE_clnrm-under-test"))
        .arg("plugins")
        .current_dir(&dir.0)
        .env("CLNRM_HOME", dir.0.join("home"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "pinned: image `memcached:1.6@{digest}` is pinned to {digest}, but an image redirect"
        )) && stdout.contains(
            "runs `clnrm-local/memcached:1.6` instead: the redirect wins, the pin is not verified"
        ),
        "{stdout}"
    );
}
