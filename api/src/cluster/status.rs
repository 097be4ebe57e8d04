//! `trove cluster status`: what an auditor records about a cluster. It
//! reads the map from etcd (partitions, owners, epochs, URLs) and each
//! partition's chain head: from its owner (`GET /v1/audit/head?partition=N`,
//! with an auditor's or admin's key) while it is served, else from its
//! folder under `--data` (read-only, offline) when given.

use anyhow::Context;
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;
use trove_cluster::{Cluster, ClusterConfig, View};

/// `trove cluster status`.
#[derive(Args, Debug, Clone)]
pub struct StatusArgs {
    /// The cluster's etcd: `etcd=URL[,URL...]` [env: TROVE_CLUSTER]
    #[arg(long, value_name = "etcd=URLS")]
    cluster: Option<String>,
    /// The cluster's key prefix in etcd [default: /trove] [env: TROVE_CLUSTER_PREFIX]
    #[arg(long, value_name = "PREFIX")]
    cluster_prefix: Option<String>,
    /// The folder of the partitions' folders, for partitions no node serves [env: TROVE_DATA]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// An auditor's or admin's key, to read chain heads from their owners [env: TROVE_KEY]
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    /// One JSON document instead of the table
    #[arg(long)]
    json: bool,
}

/// One partition's line.
#[derive(Serialize)]
struct Line {
    partition: u32,
    node: Option<String>,
    url: Option<String>,
    epoch: Option<i64>,
    head_seq: Option<u64>,
    head_hash: Option<String>,
    /// Where the head was read: `owner`, `folder`, or why it is missing.
    head_from: String,
}

#[derive(Serialize)]
struct Status {
    revision: i64,
    partitions: u32,
    nodes: Vec<(String, String)>,
    lines: Vec<Line>,
}

/// Runs `trove cluster status`; exit status 0, or 1 if a head is missing.
pub fn status(a: StatusArgs) -> anyhow::Result<i32> {
    let env = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let spec = a
        .cluster
        .or_else(|| env("TROVE_CLUSTER"))
        .context("give --cluster etcd=URL[,URL...]")?;
    let endpoints = crate::config::parse_cluster(&spec)?;
    let prefix = a
        .cluster_prefix
        .or_else(|| env("TROVE_CLUSTER_PREFIX"))
        .unwrap_or_else(|| crate::config::DEFAULT_CLUSTER_PREFIX.into());
    let data = a.data.or_else(|| env("TROVE_DATA").map(PathBuf::from));
    let key = a.key.or_else(|| env("TROVE_KEY"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let status = rt.block_on(read(endpoints, prefix, data, key))?;
    let missing = status.lines.iter().any(|l| l.head_seq.is_none());
    if a.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print_table(&status);
    }
    Ok(i32::from(missing))
}

async fn read(
    endpoints: Vec<String>,
    prefix: String,
    data: Option<PathBuf>,
    key: Option<String>,
) -> anyhow::Result<Status> {
    let (partitions, view) = Cluster::observe(&ClusterConfig {
        endpoints,
        prefix,
        node: "status".into(),
        advertise: "http://status".into(),
        partitions: 1,
        lease_ttl: Duration::from_secs(2),
        margin: Duration::ZERO,
        secret: String::new(),
    })
    .await
    .context("read the cluster from etcd")?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let mut lines = Vec::new();
    for p in 0..partitions {
        lines.push(line(&http, &view, p, data.as_deref(), key.as_deref()).await);
    }
    Ok(Status {
        revision: view.revision,
        partitions,
        nodes: view.nodes.clone(),
        lines,
    })
}

async fn line(http: &reqwest::Client, view: &View, p: u32, data: Option<&std::path::Path>, key: Option<&str>) -> Line {
    let owner = view.owners.get(p as usize).cloned().flatten();
    let mut line = Line {
        partition: p,
        node: owner.as_ref().map(|o| o.node.clone()),
        url: owner.as_ref().map(|o| o.url.clone()),
        epoch: owner.as_ref().map(|o| o.epoch),
        head_seq: None,
        head_hash: None,
        head_from: String::new(),
    };
    match (&owner, key, data) {
        (Some(o), Some(key), _) => match owner_head(http, &o.url, p, key).await {
            Ok((seq, hash)) => {
                (line.head_seq, line.head_hash, line.head_from) = (Some(seq), Some(hash), "owner".into())
            }
            Err(e) => line.head_from = format!("owner: {e:#}"),
        },
        (Some(_), None, _) => line.head_from = "served: give --key to read its head".into(),
        (None, _, Some(root)) => {
            let dir = super::slot::partition_dir(root, p);
            match trove_persistence::Archive::open(&dir).and_then(|a| a.chain_head()) {
                Ok((seq, hash)) => {
                    (line.head_seq, line.head_hash, line.head_from) = (Some(seq), Some(hash), "folder".into())
                }
                Err(e) => line.head_from = format!("folder: {e}"),
            }
        }
        (None, _, None) => line.head_from = "no owner: give --data to read its folder".into(),
    }
    line
}

async fn owner_head(http: &reqwest::Client, url: &str, p: u32, key: &str) -> anyhow::Result<(u64, String)> {
    let r = http
        .get(format!("{url}/v1/audit/head?partition={p}"))
        .bearer_auth(key)
        .send()
        .await?
        .error_for_status()?;
    let head: trove_protocol::HeadReply = r.json().await?;
    Ok((head.seq, head.hash))
}

fn print_table(s: &Status) {
    println!(
        "revision {}  partitions {}  live nodes {}",
        s.revision,
        s.partitions,
        s.nodes.len()
    );
    for (id, url) in &s.nodes {
        println!("node {id} {url}");
    }
    println!(
        "{:>9}  {:<12} {:>10}  {:<28} {:>10}  {:<64}  from",
        "partition", "owner", "epoch", "url", "head_seq", "head_hash"
    );
    for l in &s.lines {
        let dash = || "-".to_owned();
        println!(
            "{:>9}  {:<12} {:>10}  {:<28} {:>10}  {:<64}  {}",
            l.partition,
            l.node.clone().unwrap_or_else(dash),
            l.epoch.map_or_else(dash, |e| e.to_string()),
            l.url.clone().unwrap_or_else(dash),
            l.head_seq.map_or_else(dash, |e| e.to_string()),
            l.head_hash.clone().unwrap_or_else(dash),
            l.head_from
        );
    }
}
