//! Settings of `trove serve`: built-in defaults, overridden by a TOML config
//! file, overridden by `TROVE_*` environment variables, overridden by flags
//! given on the command line. See `docs/OPERATIONS.md`.

use crate::auth::{KeyError, Keys};
use crate::redact;
use std::path::{Path, PathBuf};
use std::time::Duration;
use trove_persistence::DurabilityMode;

pub(crate) const DEFAULT_DATA: &str = "./data";
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
pub(crate) const DEFAULT_LOG: &str = "info";
pub(crate) const DEFAULT_SNAPSHOT_INTERVAL_SECS: u64 = 60;
/// A snapshot is also taken once this many records were journaled since the
/// last one, so that recovery never replays much more than this (0.5–1.0 s
/// for a million records at the seed's load; docs/BENCHMARKS.md), whatever
/// the uptime.
pub(crate) const DEFAULT_SNAPSHOT_EVERY_RECORDS: u64 = 1_000_000;
pub(crate) const DEFAULT_SHUTDOWN_TIMEOUT_SECS: u64 = 10;

/// Flags of `trove serve`. Every one is optional so that the config file and
/// the environment can supply it.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// Data folder (journal, snapshots, generated keys) [default: ./data] [env: TROVE_DATA]
    #[arg(long, value_name = "DIR")]
    pub(crate) data: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:8787] [env: TROVE_LISTEN]
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<String>,
    /// TOML config file [env: TROVE_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Log level or tracing filter, e.g. `info` or `trove_api=debug,info` [default: info] [env: TROVE_LOG]
    #[arg(long = "log-level", value_name = "LEVEL")]
    pub(crate) log_level: Option<String>,
    /// Journal durability: `flush` (survives a process crash) or `strict` (fdatasync; survives power loss)
    /// [default: flush] [env: TROVE_DURABILITY]
    #[arg(long, value_name = "MODE")]
    pub(crate) durability: Option<String>,
    /// Time between periodic snapshots, in seconds or as `90s`, `5m`, `1h 30m` (0 = only at shutdown)
    /// [default: 60] [env: TROVE_SNAPSHOT_INTERVAL_SECS]
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    pub(crate) snapshot_interval_secs: Option<Duration>,
    /// Also snapshot once this many records were journaled since the last snapshot (0 = by time only)
    /// [default: 1000000] [env: TROVE_SNAPSHOT_EVERY_RECORDS]
    #[arg(long, value_name = "N")]
    pub(crate) snapshot_every_records: Option<u64>,
    /// How long to wait for in-flight requests at shutdown, in seconds or as `30s`, `1m`
    /// [default: 10] [env: TROVE_SHUTDOWN_TIMEOUT_SECS]
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    pub(crate) shutdown_timeout_secs: Option<Duration>,
    /// HTTP worker threads [default: number of cores] [env: TROVE_WORKERS]
    #[arg(long, value_name = "N")]
    pub(crate) workers: Option<usize>,
    /// Join a cluster kept by etcd: `etcd=URL[,URL...]` (docs/CLUSTER.md); --data is then the
    /// folder holding every partition's folder [env: TROVE_CLUSTER]
    #[arg(long, value_name = "etcd=URLS")]
    pub(crate) cluster: Option<String>,
    /// This node's id in the cluster (1-64 of A-Z a-z 0-9 _ . -) [env: TROVE_NODE]
    #[arg(long, value_name = "ID")]
    pub(crate) node: Option<String>,
    /// The URL clients reach this node at, e.g. http://10.0.0.5:8787 [env: TROVE_ADVERTISE]
    #[arg(long, value_name = "URL")]
    pub(crate) advertise: Option<String>,
    /// Partitions of a cluster this node creates; must match an existing cluster's [default: 64]
    /// [env: TROVE_PARTITIONS]
    #[arg(long, value_name = "N")]
    pub(crate) partitions: Option<u32>,
    /// The node lease's TTL in whole seconds [default: 10] [env: TROVE_LEASE_TTL]
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    pub(crate) lease_ttl: Option<Duration>,
    /// The cluster's key prefix in etcd [default: /trove] [env: TROVE_CLUSTER_PREFIX]
    #[arg(long, value_name = "PREFIX")]
    pub(crate) cluster_prefix: Option<String>,
}

/// Default partitions of a new cluster.
pub(crate) const DEFAULT_PARTITIONS: u32 = 64;
/// Default node lease TTL.
pub(crate) const DEFAULT_LEASE_TTL_SECS: u64 = 10;
/// Default key prefix of a cluster in etcd.
pub(crate) const DEFAULT_CLUSTER_PREFIX: &str = "/trove";

/// Cluster mode's settings (`--cluster` and its companions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// etcd endpoints.
    pub endpoints: Vec<String>,
    /// This node's id.
    pub node: String,
    /// The URL clients reach this node at.
    pub advertise: String,
    /// Partitions of a new cluster (checked against an existing one).
    pub partitions: u32,
    /// The node lease's TTL.
    pub lease_ttl: Duration,
    /// The cluster's key prefix in etcd.
    pub prefix: String,
}

/// Parses `etcd=URL[,URL...]`.
pub(crate) fn parse_cluster(text: &str) -> Result<Vec<String>, ConfigError> {
    let urls = text
        .trim()
        .strip_prefix("etcd=")
        .ok_or_else(|| ConfigError::Invalid(format!("--cluster {text:?}: expected etcd=URL[,URL...]")))?;
    let endpoints: Vec<String> = urls
        .split(',')
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .collect();
    if endpoints.is_empty() {
        return Err(ConfigError::Invalid("--cluster etcd= names no endpoint".into()));
    }
    for e in &endpoints {
        if !(e.starts_with("http://") || e.starts_with("https://")) {
            return Err(ConfigError::Invalid(format!(
                "--cluster: etcd endpoint {e:?} must be an http:// or https:// URL"
            )));
        }
    }
    Ok(endpoints)
}

/// The config file. Unknown keys are errors, so a typo does not silently
/// fall back to a default.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    pub(crate) data: Option<PathBuf>,
    pub(crate) listen: Option<String>,
    pub(crate) log: Option<String>,
    pub(crate) durability: Option<String>,
    pub(crate) snapshot_interval_secs: Option<DurationSetting>,
    pub(crate) snapshot_every_records: Option<u64>,
    pub(crate) shutdown_timeout_secs: Option<DurationSetting>,
    pub(crate) workers: Option<usize>,
    pub(crate) keys: Option<toml::Table>,
    pub(crate) cluster: Option<String>,
    pub(crate) node: Option<String>,
    pub(crate) advertise: Option<String>,
    pub(crate) partitions: Option<u32>,
    pub(crate) lease_ttl: Option<DurationSetting>,
    pub(crate) cluster_prefix: Option<String>,
}

/// Why the settings of `trove serve` could not be resolved; the message
/// names the setting or file, never a key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The read error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has an unknown setting.
    #[error("config file {path}: {message}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// Where and what, with quoted values redacted.
        message: String,
    },
    /// A setting has a value it cannot take.
    #[error("{0}")]
    Invalid(String),
    /// The keys (from `TROVE_KEYS` or the file's `[keys]`) are malformed.
    #[error(transparent)]
    Keys(#[from] KeyError),
}

/// A duration in the config file: whole seconds (`60`) or a string in either
/// syntax of [`parse_duration`] (`"60"`, `"90s"`, `"1h 30m"`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum DurationSetting {
    /// A TOML integer: seconds.
    Secs(u64),
    /// A TOML string.
    Text(String),
}

impl DurationSetting {
    /// The duration, or why the setting `name` is not one. The file's text
    /// is not echoed (see [`crate::redact::toml_error`]).
    fn resolve(&self, name: &str) -> Result<Duration, ConfigError> {
        match self {
            DurationSetting::Secs(n) => Ok(Duration::from_secs(*n)),
            DurationSetting::Text(t) => parse_duration(t).map_err(|_| {
                ConfigError::Invalid(format!(
                    "config file: {name} must be seconds or a duration such as 90s, 5m or 1h 30m"
                ))
            }),
        }
    }
}

/// Parses a duration setting: whole seconds as always (`60`), or a
/// [`humantime`] duration (`90s`, `5m`, `1h 30m`, `500ms`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|e| format!("{t:?}: {e}"));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("{t:?} is not seconds or a duration such as 90s, 5m or 1h 30m ({e})"))
}

/// Where the keys came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// `TROVE_KEYS`.
    Env,
    /// The `[keys]` table of this config file.
    ConfigFile(PathBuf),
    /// None configured: the generated key file in the data folder is used.
    Generated,
}

/// The resolved settings of `trove serve` (defaults < config file <
/// environment < flags), built by [`Settings::resolve`] and run by
/// [`crate::serve`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// The data folder (journal, snapshots, generated keys).
    pub data: PathBuf,
    /// The address to listen on (`host:port`; port 0 picks a free one).
    pub listen: String,
    /// The tracing filter, e.g. `info`.
    pub log: String,
    /// How durable an acknowledged write is.
    pub durability: DurabilityMode,
    pub(crate) snapshot_interval: Duration,
    /// 0 = by time only.
    pub(crate) snapshot_every_records: u64,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) workers: usize,
    /// Empty when the source is `Generated` (filled in at start).
    pub(crate) keys: Keys,
    pub(crate) key_source: KeySource,
    /// Cluster mode, if `--cluster` was given.
    pub cluster: Option<ClusterSettings>,
}

impl Settings {
    /// Resolves settings from flags, the process environment and the config file.
    pub fn resolve(args: &ServeArgs) -> Result<Settings, ConfigError> {
        Self::resolve_with(args, &|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// As [`Settings::resolve`], with `env` in place of the process environment.
    pub(crate) fn resolve_with(
        args: &ServeArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let config_path = args.config.clone().or_else(|| env("TROVE_CONFIG").map(PathBuf::from));
        let file = match &config_path {
            Some(p) => load_file(p)?,
            None => FileConfig::default(),
        };
        let env_u64 = |name: &str| -> Result<Option<u64>, ConfigError> {
            env(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| ConfigError::Invalid(format!("{name} must be a whole number, not {v:?}")))
                })
                .transpose()
        };
        let data = args
            .data
            .clone()
            .or_else(|| env("TROVE_DATA").map(PathBuf::from))
            .or(file.data.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA));
        let listen = args
            .listen
            .clone()
            .or_else(|| env("TROVE_LISTEN"))
            .or(file.listen.clone())
            .unwrap_or_else(|| DEFAULT_LISTEN.into());
        let log = args
            .log_level
            .clone()
            .or_else(|| env("TROVE_LOG"))
            .or(file.log.clone())
            .unwrap_or_else(|| DEFAULT_LOG.into());
        let durability = args
            .durability
            .clone()
            .or_else(|| env("TROVE_DURABILITY"))
            .or(file.durability.clone())
            .map(|s| s.parse::<DurabilityMode>().map_err(ConfigError::Invalid))
            .transpose()?
            .unwrap_or_default();
        let snapshot_interval = pick_duration(
            args.snapshot_interval_secs,
            env,
            "TROVE_SNAPSHOT_INTERVAL_SECS",
            (&file.snapshot_interval_secs, "snapshot_interval_secs"),
            DEFAULT_SNAPSHOT_INTERVAL_SECS,
        )?;
        let snapshot_records = match args.snapshot_every_records {
            Some(v) => v,
            None => env_u64("TROVE_SNAPSHOT_EVERY_RECORDS")?
                .or(file.snapshot_every_records)
                .unwrap_or(DEFAULT_SNAPSHOT_EVERY_RECORDS),
        };
        let shutdown_timeout = pick_duration(
            args.shutdown_timeout_secs,
            env,
            "TROVE_SHUTDOWN_TIMEOUT_SECS",
            (&file.shutdown_timeout_secs, "shutdown_timeout_secs"),
            DEFAULT_SHUTDOWN_TIMEOUT_SECS,
        )?;
        let workers = match args.workers {
            Some(v) => v,
            None => env_u64("TROVE_WORKERS")?
                .map(|v| v as usize)
                .or(file.workers)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        }
        .clamp(1, 64);
        let (keys, key_source) = if let Some(list) = env("TROVE_KEYS") {
            (Keys::parse_list(&list)?, KeySource::Env)
        } else if let Some(table) = &file.keys {
            (
                Keys::from_toml(table)?,
                KeySource::ConfigFile(config_path.clone().unwrap_or_default()),
            )
        } else {
            (Keys::default(), KeySource::Generated)
        };
        if keys.is_empty() && key_source != KeySource::Generated {
            return Err(ConfigError::Invalid(
                "the configured key list is empty; configure at least one key or none at all".into(),
            ));
        }
        let cluster = resolve_cluster(args, env, &file)?;
        Ok(Settings {
            cluster,
            data,
            listen,
            log,
            durability,
            snapshot_interval,
            snapshot_every_records: snapshot_records,
            shutdown_timeout,
            workers,
            keys,
            key_source,
        })
    }
}

/// The cluster settings by precedence (flag, environment, file), or `None`
/// without `--cluster`; `--node` and `--advertise` are then refused.
fn resolve_cluster(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
    file: &FileConfig,
) -> Result<Option<ClusterSettings>, ConfigError> {
    let pick = |flag: &Option<String>, name: &str, f: &Option<String>| flag.clone().or_else(|| env(name)).or(f.clone());
    let cluster = pick(&args.cluster, "TROVE_CLUSTER", &file.cluster);
    let node = pick(&args.node, "TROVE_NODE", &file.node);
    let advertise = pick(&args.advertise, "TROVE_ADVERTISE", &file.advertise);
    let prefix = pick(&args.cluster_prefix, "TROVE_CLUSTER_PREFIX", &file.cluster_prefix);
    let Some(cluster) = cluster else {
        if node.is_some() || advertise.is_some() {
            return Err(ConfigError::Invalid(
                "--node and --advertise only make sense with --cluster etcd=URL[,URL...]".into(),
            ));
        }
        return Ok(None);
    };
    let endpoints = parse_cluster(&cluster)?;
    let node = node.ok_or_else(|| ConfigError::Invalid("--cluster needs --node ID".into()))?;
    let advertise = advertise.ok_or_else(|| ConfigError::Invalid("--cluster needs --advertise URL".into()))?;
    let partitions = match args.partitions {
        Some(p) => p,
        None => match env("TROVE_PARTITIONS") {
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| ConfigError::Invalid(format!("TROVE_PARTITIONS must be a whole number, not {v:?}")))?,
            None => file.partitions.unwrap_or(DEFAULT_PARTITIONS),
        },
    };
    let lease_ttl = pick_duration(
        args.lease_ttl,
        env,
        "TROVE_LEASE_TTL",
        (&file.lease_ttl, "lease_ttl"),
        DEFAULT_LEASE_TTL_SECS,
    )?;
    Ok(Some(ClusterSettings {
        endpoints,
        node,
        advertise,
        partitions,
        lease_ttl,
        prefix: prefix.unwrap_or_else(|| DEFAULT_CLUSTER_PREFIX.into()),
    }))
}

/// A duration setting by precedence: the flag, the environment variable
/// `env_name`, the config file's setting, `default_secs`.
fn pick_duration(
    flag: Option<Duration>,
    env: &dyn Fn(&str) -> Option<String>,
    env_name: &str,
    (file, file_name): (&Option<DurationSetting>, &str),
    default_secs: u64,
) -> Result<Duration, ConfigError> {
    if let Some(v) = flag {
        return Ok(v);
    }
    if let Some(v) = env(env_name) {
        return parse_duration(&v).map_err(|e| ConfigError::Invalid(format!("{env_name}: {e}")));
    }
    match file {
        Some(setting) => setting.resolve(file_name),
        None => Ok(Duration::from_secs(default_secs)),
    }
}

fn load_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let file: FileConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: redact::toml_error(&text, &e),
    })?;
    if file.keys.is_some() {
        crate::auth::check_private(path)?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn cluster_settings_come_together_or_not_at_all() {
        let vars: HashMap<&str, &str> = [
            ("TROVE_CLUSTER", "etcd=http://10.0.0.1:2379, http://10.0.0.2:2379"),
            ("TROVE_NODE", "n1"),
            ("TROVE_ADVERTISE", "http://10.0.0.5:8787"),
            ("TROVE_LEASE_TTL", "5s"),
        ]
        .into();
        let env = |n: &str| vars.get(n).map(|s| s.to_string());
        let c = Settings::resolve_with(&ServeArgs::default(), &env)
            .unwrap()
            .cluster
            .unwrap();
        assert_eq!(c.endpoints, ["http://10.0.0.1:2379", "http://10.0.0.2:2379"]);
        assert_eq!(
            (c.node.as_str(), c.partitions, c.lease_ttl),
            ("n1", DEFAULT_PARTITIONS, Duration::from_secs(5))
        );
        assert_eq!(c.prefix, DEFAULT_CLUSTER_PREFIX);
        let flags = ServeArgs {
            partitions: Some(16),
            node: Some("n2".into()),
            ..Default::default()
        };
        let c = Settings::resolve_with(&flags, &env).unwrap().cluster.unwrap();
        assert_eq!(
            (c.node.as_str(), c.partitions),
            ("n2", 16),
            "flags over the environment"
        );
        let none = |_: &str| None;
        assert!(Settings::resolve_with(&ServeArgs::default(), &none)
            .unwrap()
            .cluster
            .is_none());
        let bad = |args: ServeArgs, want: &str| {
            let e = Settings::resolve_with(&args, &none).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        };
        bad(
            ServeArgs {
                node: Some("n1".into()),
                ..Default::default()
            },
            "only make sense with --cluster",
        );
        bad(
            ServeArgs {
                cluster: Some("http://x:2379".into()),
                ..Default::default()
            },
            "expected etcd=URL",
        );
        bad(
            ServeArgs {
                cluster: Some("etcd=x:2379".into()),
                ..Default::default()
            },
            "http://",
        );
        bad(
            ServeArgs {
                cluster: Some("etcd=http://x:2379".into()),
                ..Default::default()
            },
            "--node",
        );
        bad(
            ServeArgs {
                cluster: Some("etcd=http://x:2379".into()),
                node: Some("n1".into()),
                ..Default::default()
            },
            "--advertise",
        );
    }

    #[test]
    fn precedence_is_flag_env_file_default() {
        let dir = std::env::temp_dir().join(format!("trove-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("trove.toml");
        std::fs::write(
            &path,
            "data = \"/from/file\"\nlisten = \"127.0.0.1:1\"\nsnapshot_interval_secs = 5\n[keys]\nadmin = \"filekey-admin\"\ngame = [\"filekey-game1\", \"filekey-game2\"]\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let vars: HashMap<&str, &str> = [("TROVE_LISTEN", "127.0.0.1:2")].into();
        let env = |n: &str| vars.get(n).map(|s| s.to_string());
        let args = ServeArgs {
            config: Some(path.clone()),
            ..Default::default()
        };
        let s = Settings::resolve_with(&args, &env).unwrap();
        assert_eq!(s.data, PathBuf::from("/from/file"));
        assert_eq!(s.listen, "127.0.0.1:2");
        assert_eq!(s.snapshot_interval, Duration::from_secs(5));
        assert_eq!(s.keys.len(), 3);
        let args = ServeArgs {
            config: Some(path.clone()),
            listen: Some("127.0.0.1:3".into()),
            ..Default::default()
        };
        assert_eq!(Settings::resolve_with(&args, &env).unwrap().listen, "127.0.0.1:3");
        let none = |_: &str| None;
        let s = Settings::resolve_with(&ServeArgs::default(), &none).unwrap();
        assert_eq!(s.data, PathBuf::from(DEFAULT_DATA));
        assert_eq!(s.listen, DEFAULT_LISTEN);
        assert_eq!(s.key_source, KeySource::Generated);
        std::fs::write(&path, "datta = \"x\"\n").unwrap();
        assert!(Settings::resolve_with(&args, &none).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn durations_are_seconds_or_humantime() {
        assert_eq!(parse_duration("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration(" 0 "), Ok(Duration::ZERO));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        for bad in ["", "-1", "1.5", "soon", "7w3"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        let none = |_: &str| None;
        let dir = tempfile_dir("durations");
        let path = dir.join("trove.toml");
        std::fs::write(&path, "snapshot_interval_secs = \"2m\"\nshutdown_timeout_secs = 3\n").unwrap();
        let args = ServeArgs {
            config: Some(path.clone()),
            ..Default::default()
        };
        let s = Settings::resolve_with(&args, &none).unwrap();
        assert_eq!(s.snapshot_interval, Duration::from_secs(120));
        assert_eq!(s.shutdown_timeout, Duration::from_secs(3));
        let env = |n: &str| (n == "TROVE_SHUTDOWN_TIMEOUT_SECS").then(|| "1m".to_string());
        assert_eq!(
            Settings::resolve_with(&args, &env).unwrap().shutdown_timeout,
            Duration::from_secs(60)
        );
        std::fs::write(&path, "snapshot_interval_secs = \"trv_secret\"\n").unwrap();
        let e = Settings::resolve_with(&args, &none).unwrap_err().to_string();
        assert!(e.contains("snapshot_interval_secs") && !e.contains("trv_secret"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn parse_errors_never_echo_the_file() {
        let secret = "trv_0123456789abcdef0123456789abcdef";
        let cases = [
            format!("[keys]\nadmin = \"{secret}\" trailing\n"),
            format!("[keys]\nadmin = \"{secret}\n"),
            format!("workers = \"{secret}\"\n"),
            format!("{secret} = 1\n"),
            format!("[keys]\n{secret}\n"),
            format!("listen = '{secret}' x\n"),
        ];
        for text in cases {
            let e = toml::from_str::<FileConfig>(&text).unwrap_err();
            let m = crate::redact::toml_error(&text, &e);
            assert!(!m.contains("0123456789"), "{m:?} echoes the file {text:?}");
            assert!(m.starts_with("line "), "{m:?} has a position");
        }
        let text = "listen = \"x\"\ndatta = 1\n";
        let e = toml::from_str::<FileConfig>(text).unwrap_err();
        let m = crate::redact::toml_error(text, &e);
        assert!(m.starts_with("line 2, column 1: "), "{m}");
        assert!(m.contains("`data`"), "known names stay: {m}");
    }

    #[test]
    fn a_config_file_with_keys_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile_dir("private");
        let path = dir.join("trove.toml");
        std::fs::write(&path, "[keys]\nadmin = \"filekey-admin\"\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let args = ServeArgs {
            config: Some(path.clone()),
            ..Default::default()
        };
        let none = |_: &str| None;
        let e = Settings::resolve_with(&args, &none).unwrap_err().to_string();
        assert!(
            e.contains(&path.display().to_string()) && e.contains("chmod 600"),
            "{e}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Settings::resolve_with(&args, &none).is_ok());
        // Without keys the file may be shared.
        std::fs::write(&path, "workers = 2\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(Settings::resolve_with(&args, &none).is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir(what: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("trove-config-{what}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
