//! The harness: one real etcd member per test (Debian `etcd-server` 3.4), on
//! free loopback ports and a temporary data folder, killed when dropped and
//! restartable on the same ports and data.
//!
//! Without `etcd` on the PATH a test prints why and passes, unless
//! `TROVE_REQUIRE_CLUSTER=1` (CI), where it fails.

use etcd_client::{Client, ConnectOptions, GetOptions};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use trove_cluster::{Cluster, ClusterConfig};

/// How long etcd gets to answer after a (re)start.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// `etcd` on the PATH.
fn etcd_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("etcd"))
        .find(|p| p.is_file())
}

/// Two distinct free loopback ports (both held while picked, so they differ).
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let b = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    (
        a.local_addr().expect("port").port(),
        b.local_addr().expect("port").port(),
    )
}

/// One etcd member.
pub struct Etcd {
    test: String,
    bin: PathBuf,
    dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

impl Etcd {
    /// Starts etcd for `test` and waits until it answers. `None` (after a
    /// message) when etcd is not installed and CI does not require it.
    pub async fn start(test: &str) -> Option<Etcd> {
        let Some(bin) = etcd_binary() else {
            if std::env::var("TROVE_REQUIRE_CLUSTER").as_deref() == Ok("1") {
                panic!(
                    "{test}: `etcd` is not on the PATH but TROVE_REQUIRE_CLUSTER=1 \
                     (install Debian's etcd-server: apt-get install etcd-server)"
                );
            }
            eprintln!("skipping: etcd not installed ({test})");
            return None;
        };
        // A port picked free can be taken again before etcd binds it: then
        // etcd exits at once and we try other ports.
        for attempt in 1..=3 {
            let (client_port, peer_port) = free_ports();
            let dir = tempfile::Builder::new()
                .prefix(&format!("trove-etcd-{test}-"))
                .tempdir()
                .expect("a temporary folder");
            let mut etcd = Etcd {
                test: test.to_owned(),
                bin: bin.clone(),
                dir,
                client_port,
                peer_port,
                child: None,
            };
            etcd.spawn();
            match etcd.wait_ready().await {
                Ok(()) => return Some(etcd),
                Err(why) if attempt < 3 && etcd.exited() => {
                    eprintln!("{test}: etcd exited at start ({why}); trying other ports");
                }
                Err(why) => etcd.fail(&why),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// `http://127.0.0.1:PORT`, the client URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "etcd is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("etcd log file");
        let client = self.endpoint();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let child = Command::new(&self.bin)
            .arg("--name")
            .arg("default")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("default={peer}")])
            .args(["--logger", "zap", "--log-outputs", "stderr"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("etcd log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: cannot start {}: {e}", self.test, self.bin.display()));
        self.child = Some(child);
    }

    fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }

    /// Waits until etcd serves a linearizable read (it has a leader).
    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_WITHIN;
        let mut last = String::from("no answer yet");
        while Instant::now() < deadline {
            if self.exited() {
                return Err(format!("etcd exited: {last}"));
            }
            match try_read(&self.endpoint()).await {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("etcd did not answer within {READY_WITHIN:?}: {last}"))
    }

    fn fail(&self, why: &str) -> ! {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "{}: {why}\n--- etcd log (last lines) ---\n{}",
            self.test,
            tail.join("\n")
        );
    }

    /// Kills etcd (SIGKILL) and waits for it: an outage, or a crash.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts etcd again on the same ports and data folder and waits until
    /// it answers.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn();
        if let Err(why) = self.wait_ready().await {
            self.fail(&format!("after a restart: {why}"));
        }
    }

    /// A plain etcd client, to look at keys as stored.
    pub async fn client(&self) -> Client {
        Client::connect([self.endpoint()], Some(connect_options()))
            .await
            .expect("connect to etcd")
    }

    /// A node's settings: 8 partitions, a 10 s lease with a 2.5 s margin.
    pub fn config(&self, prefix: &str, node: &str) -> ClusterConfig {
        config(&self.endpoint(), prefix, node)
    }

    /// Joins node `node` of the cluster under `prefix` with [`Etcd::config`].
    pub async fn join(&self, prefix: &str, node: &str) -> Cluster {
        Cluster::join(&self.config(prefix, node))
            .await
            .unwrap_or_else(|e| panic!("{}: node {node} joins: {e}", self.test))
    }

    /// The stored keys and values under `prefix`, as text.
    pub async fn dump(&self, prefix: &str) -> Vec<(String, String)> {
        let r = self
            .client()
            .await
            .get(prefix, Some(GetOptions::new().with_prefix()))
            .await
            .expect("etcd range");
        r.kvs()
            .iter()
            .map(|kv| {
                (
                    String::from_utf8_lossy(kv.key()).into_owned(),
                    String::from_utf8_lossy(kv.value()).into_owned(),
                )
            })
            .collect()
    }

    /// The temporary folder (data and log).
    #[allow(dead_code, reason = "handy when a test needs to look at the log")]
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn connect_options() -> ConnectOptions {
    ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(1))
        .with_timeout(Duration::from_secs(2))
}

async fn try_read(endpoint: &str) -> Result<(), String> {
    let mut client = Client::connect([endpoint], Some(connect_options()))
        .await
        .map_err(|e| e.to_string())?;
    client.get("/", None).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// A valid node configuration against `endpoint`.
pub fn config(endpoint: &str, prefix: &str, node: &str) -> ClusterConfig {
    ClusterConfig {
        endpoints: vec![endpoint.to_owned()],
        prefix: prefix.to_owned(),
        node: node.to_owned(),
        advertise: url(node),
        partitions: 8,
        lease_ttl: Duration::from_secs(10),
        margin: Duration::from_millis(2500),
        secret: format!("secret-of-{node}"),
    }
}

/// The URL a test node advertises.
pub fn url(node: &str) -> String {
    format!("http://{node}.trove.test:7070")
}

/// The error of a call expected to fail (`Cluster` is not `Debug`).
pub fn error<T>(r: Result<T, trove_cluster::ClusterError>, what: &str) -> trove_cluster::ClusterError {
    match r {
        Ok(_) => panic!("{what}: succeeded, expected an error"),
        Err(e) => e,
    }
}

/// Polls `check` every 100 ms until it is true or `within` has passed;
/// returns whether it became true.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
