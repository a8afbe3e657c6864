//! The front of a `chaos = true` service: a small forwarder container that answers the
//! service's name on the run network (the service itself is `NAME-upstream` there), so that a
//! chaos session can route the other containers' connections through its proxy without them
//! changing their URLs.
//!
//! The forwarder is Perl's core socket modules (every Debian image has `perl-base`), run from
//! the service's own image: no image to build or pull. For each published port it listens on
//! that port and, per connection, forwards to `NAME-upstream:PORT`, or to the address a session
//! wrote into `/tmp/clnrm-front-PORT` (its proxy, on the run network's gateway). A connection
//! the far side resets is reset on this side too, so "connection reset by peer" reaches the
//! client; a far side that refuses (a proxy that is down) resets the client's connection.

use std::sync::Arc;
use std::time::Duration;

use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::{InspectContainerOptions, ListContainersOptions};

use super::container::{ContainerRecipe, Readiness, exec_in, hostname, start_container};
use super::env::RunEnv;
use crate::error::{Error, Result, docker_request};

/// The label a front carries: the id of the container it stands in front of.
pub const FRONT_OF: &str = "dev.clnrm.front-of";

const READY: &str = "clnrm front ready";

const FORWARDER: &str = r#"
use strict; use warnings;
use IO::Socket::INET; use IO::Select; use Socket qw(SOL_SOCKET SO_LINGER);
$| = 1; $SIG{CHLD} = 'IGNORE'; $SIG{PIPE} = 'IGNORE';
my ($upstream, @ports) = @ARGV;
my $listeners = IO::Select->new; my %port_of;
for my $port (@ports) {
    my $l = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => $port, Listen => 128,
        ReuseAddr => 1, Proto => 'tcp') or die "front: cannot listen on $port: $!\n";
    $listeners->add($l); $port_of{fileno $l} = $port;
}
print "clnrm front ready\n";
sub reset_close { my $s = shift; setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0)); close $s; }
while (1) {
    for my $l ($listeners->can_read) {
        my $client = $l->accept or next;
        my $port = $port_of{fileno $l};
        my $pid = fork;
        if (!defined $pid || $pid) { close $client; next; }
        my $to = "$upstream:$port";
        if (open my $f, '<', "/tmp/clnrm-front-$port") {
            my $t = <$f>; close $f;
            if (defined $t) { chomp $t; $to = $t if length $t; }
        }
        my $server = IO::Socket::INET->new(PeerAddr => $to, Proto => 'tcp');
        if (!$server) { reset_close($client); exit 0; }
        my %peer = (fileno $client => $server, fileno $server => $client);
        my $open = IO::Select->new($client, $server);
        while ($open->count) {
            for my $from ($open->can_read) {
                my $other = $peer{fileno $from};
                my $n = sysread($from, my $buf, 65536);
                if (!defined $n) { reset_close($other); exit 0; }
                if ($n == 0) { shutdown($other, 1); $open->remove($from); next; }
                my $off = 0;
                while ($off < $n) {
                    my $w = syswrite($other, $buf, $n - $off, $off);
                    if (!defined $w) { reset_close($from); exit 0; }
                    $off += $w;
                }
            }
        }
        exit 0;
    }
}
"#;

/// Starts the front of `recipe` (already started as `id`, from `image`); its container id.
pub(crate) async fn start(
    env: &Arc<RunEnv>,
    recipe: &ContainerRecipe,
    image: &str,
    id: &str,
) -> Result<String> {
    let mut front = ContainerRecipe::new(format!("{}-front", recipe.service), image);
    front.hostname = Some(
        hostname(recipe)
            .strip_suffix("-upstream")
            .unwrap_or(&recipe.service)
            .to_owned(),
    );
    front.entrypoint = Some(vec!["perl".to_owned()]);
    let mut cmd = vec!["-e".to_owned(), FORWARDER.to_owned(), hostname(recipe)];
    cmd.extend(recipe.ports.iter().map(u16::to_string));
    front.cmd = Some(cmd);
    front.readiness = vec![Readiness::LogLine(READY.to_owned())];
    front.labels = vec![(FRONT_OF.to_owned(), id.to_owned())];
    front.startup_timeout = Duration::from_secs(30);
    let started = Box::pin(start_container(env, &front)).await.map_err(|e| {
        Error::Service(crate::error::ServiceError::Start {
            service: recipe.service.clone(),
            image: image.to_owned(),
            source: format!(
                "chaos = true puts a forwarder in front of the service, run with `perl` from \
                 its image, and it did not start: {e}"
            )
            .into(),
        })
    })?;
    let front_id = started.id().to_owned();
    // Removed with the service it stands in front of (`StartedContainer::front`).
    started.detach();
    Ok(front_id)
}

/// The front of a container, as a chaos session uses it.
#[derive(Debug, Clone)]
pub struct Front {
    docker: Docker,
    id: String,
    /// The run network's gateway: where a proxy listens for the front.
    pub gateway: String,
}

/// The front of container `id`, if it has one (and it is on a network with a gateway).
pub async fn front_of(docker: &Docker, id: &str) -> Result<Option<Front>> {
    let filters =
        std::collections::HashMap::from([("label".to_owned(), vec![format!("{FRONT_OF}={id}")])]);
    let found = docker
        .list_containers(Some(ListContainersOptions {
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .map_err(|e| docker_request("list containers", e))?;
    let Some(front_id) = found.into_iter().find_map(|c| c.id) else {
        return Ok(None);
    };
    let inspect = docker
        .inspect_container(&front_id, None::<InspectContainerOptions>)
        .await
        .map_err(|e| docker_request(format!("inspect container {front_id}"), e))?;
    let gateway = inspect
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default()
        .into_iter()
        .filter(|(name, _)| !matches!(name.as_str(), "bridge" | "host" | "none"))
        .find_map(|(_, settings)| settings.gateway.filter(|g| !g.is_empty()));
    Ok(gateway.map(|gateway| Front {
        docker: docker.clone(),
        id: front_id,
        gateway,
    }))
}

/// A session's hold on a front: while it lasts, no other session (in this process or another;
/// nextest runs each test in a process of its own) routes the front, which has one route. A lock
/// on a file named after the front container, released when dropped.
#[derive(Debug)]
pub struct FrontLease(#[allow(dead_code)] std::fs::File);

impl Front {
    /// The front container's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Waits until no other session routes this front, then holds it. The wait polls, so a
    /// test's timeout can cancel it.
    pub async fn lease(&self) -> Result<FrontLease> {
        let dir = std::env::temp_dir().join("clnrm-fronts");
        let path = dir.join(format!("{}.lock", self.id));
        let lock_error = |source: std::io::Error| Error::Io {
            action: "cannot lock the chaos front's lease file",
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(lock_error)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(lock_error)?;
        let started = std::time::Instant::now();
        let mut said = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(FrontLease(file)),
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => return Err(lock_error(e)),
            }
            if !said && started.elapsed() > Duration::from_secs(1) {
                said = true;
                tracing::info!(
                    "chaos: waiting for another test's chaos session on the same service to end \
                     (its front routes one session at a time)"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Routes new connections to `port` through `to` (`host:port`); back to the service
    /// itself with `None` (only if the route is still `from`'s: a later session keeps its own).
    pub async fn route(&self, port: u16, to: Option<&str>, from: &str) -> Result<()> {
        let path = format!("/tmp/clnrm-front-{port}");
        let argv: Vec<String> = match to {
            Some(to) => vec![
                "perl".into(),
                "-e".into(),
                "open my $f, '>', \"$ARGV[0].new\" or die \"$!\\n\"; print $f $ARGV[1]; \
                 close $f or die \"$!\\n\"; rename \"$ARGV[0].new\", $ARGV[0] or die \"$!\\n\""
                    .into(),
                path,
                to.to_owned(),
            ],
            None => vec![
                "perl".into(),
                "-e".into(),
                "open my $f, '<', $ARGV[0] or exit 0; my $t = <$f>; close $f; \
                 unlink $ARGV[0] if defined $t && $t eq $ARGV[1]"
                    .into(),
                path,
                from.to_owned(),
            ],
        };
        let out = exec_in(&self.docker, &self.id, &argv, &[], None).await?;
        if out.exit_code != 0 {
            return Err(docker_request(
                format!("route the front of port {port}"),
                std::io::Error::other(out.stderr),
            ));
        }
        Ok(())
    }
}
