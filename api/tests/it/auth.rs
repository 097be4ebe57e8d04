//! Keys and roles: every role against every endpoint and op.

use crate::harness::*;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const ROLES: [(&str, &str); 4] = [
    ("admin", ADMIN),
    ("game", GAME),
    ("designer", DESIGNER),
    ("auditor", AUDITOR),
];

struct Endpoint {
    method: &'static str,
    path: &'static str,
    body: Option<Value>,
    allowed: &'static [&'static str],
}

fn endpoints() -> Vec<Endpoint> {
    let all: &'static [&'static str] = &["admin", "game", "designer", "auditor"];
    vec![
        Endpoint {
            method: "POST",
            path: "/v1/hunts",
            body: Some(hunt_def("h", 100, 5)),
            allowed: &["admin", "designer"],
        },
        Endpoint {
            method: "GET",
            path: "/v1/hunts",
            body: None,
            allowed: all,
        },
        Endpoint {
            method: "GET",
            path: "/v1/hunts/h",
            body: None,
            allowed: all,
        },
        Endpoint {
            method: "POST",
            path: "/v1/hunts/h/products/mug/stock",
            body: Some(json!({"add": 1})),
            allowed: &["admin", "designer"],
        },
        Endpoint {
            method: "POST",
            path: "/v1/events",
            body: Some(json!({"events": [clue("p1", "h", "c1")]})),
            allowed: &["admin", "game"],
        },
        Endpoint {
            method: "POST",
            path: "/v1/claims",
            body: Some(claim("auth-claim", "p1", "h", "mug")),
            allowed: &["admin", "game"],
        },
        Endpoint {
            method: "GET",
            path: "/v1/hunts/h/players/p1",
            body: None,
            allowed: all,
        },
        Endpoint {
            method: "GET",
            path: "/v1/hunts/h/leaderboard?limit=5",
            body: None,
            allowed: all,
        },
        Endpoint {
            method: "GET",
            path: "/v1/admin/consistency",
            body: None,
            allowed: &["admin"],
        },
        Endpoint {
            method: "POST",
            path: "/v1/admin/snapshot",
            body: None,
            allowed: &["admin"],
        },
        Endpoint {
            method: "GET",
            path: "/v1/audit/claims",
            body: None,
            allowed: &["admin", "auditor"],
        },
    ]
}

#[tokio::test]
async fn role_matrix_http_and_ws() {
    let (s, _dir) = Server::start().await;
    s.define_example_hunt("h", 100, 5).await;

    for e in endpoints() {
        for key in [None, Some("not-a-key-123")] {
            let (st, r) = s.http(e.method, e.path, key, e.body.as_ref()).await;
            assert_eq!(st, 401, "{} {} with key {key:?}: {r}", e.method, e.path);
            assert_eq!(r["error"]["code"], "unauthorized");
        }
        for (role, key) in ROLES {
            let (st, r) = s.http(e.method, e.path, Some(key), e.body.as_ref()).await;
            if e.allowed.contains(&role) {
                assert!((200..300).contains(&st), "{role} {} {}: {st} {r}", e.method, e.path);
            } else {
                assert_eq!(st, 403, "{role} {} {}: {r}", e.method, e.path);
                assert_eq!(r["error"]["code"], "forbidden");
            }
        }
    }
    for path in ["/healthz", "/readyz", "/metrics", "/v1/openapi.json"] {
        let (st, _) = s.http("GET", path, None, None).await;
        assert_eq!(st, 200, "{path} needs no key");
    }
    let (st, r) = s.http("GET", "/v1/nothing-here", Some(ADMIN), None).await;
    assert_eq!((st, r["error"]["code"].as_str()), (404, Some("not_found")));
    let (st, r) = s.http("DELETE", "/v1/hunts/h", Some(ADMIN), None).await;
    assert_eq!((st, r["error"]["code"].as_str()), (405, Some("method_not_allowed")));

    // WebSocket: refused before the upgrade without a valid key.
    for key in ["", "not-a-key-123"] {
        let err = if key.is_empty() {
            let req = format!("ws://{}/v1/ws", s.addr).into_client_request().unwrap();
            Ws::connect_request(req).await.err()
        } else {
            Ws::connect(&s.addr, key).await.err()
        };
        match err {
            Some(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 401),
            other => panic!("expected a 401 refusal, got {other:?}"),
        }
    }
    // Browsers: ?token=KEY.
    let req = format!("ws://{}/v1/ws?token={GAME}", s.addr)
        .into_client_request()
        .unwrap();
    let mut ws = Ws::connect_request(req).await.expect("token in the query works");
    let r = ws.call(json!({"op": "player", "player": "p1", "hunt": "h"})).await;
    assert_eq!(r["ok"], true);
    ws.close().await;

    // Every op against every role.
    let ops: Vec<(Value, &[&str])> = vec![
        (
            json!({"op": "events", "events": [clue("p2", "h", "c1")]}),
            &["admin", "game"],
        ),
        (claim("ws-claim", "p2", "h", "mug"), &["admin", "game"]),
        (
            json!({"op": "player", "player": "p2", "hunt": "h"}),
            &["admin", "game", "designer", "auditor"],
        ),
        (
            json!({"op": "leaderboard", "hunt": "h"}),
            &["admin", "game", "designer", "auditor"],
        ),
        (
            json!({"op": "subscribe", "topic": "claims", "from": 0}),
            &["admin", "game"],
        ),
        (
            json!({"op": "subscribe", "topic": "leaderboard", "hunt": "h"}),
            &["admin", "game"],
        ),
    ];
    for (role, key) in ROLES {
        let mut ws = s.ws(key).await;
        for (req, allowed) in &ops {
            let r = ws.call(req.clone()).await;
            if allowed.contains(&role) {
                assert_eq!(r["ok"], true, "{role} {req}: {r}");
            } else {
                assert_eq!(r["ok"], false, "{role} {req}: {r}");
                assert_eq!(r["error"]["code"], "forbidden", "{role} {req}: {r}");
            }
        }
        ws.close().await;
    }
}

#[tokio::test]
async fn generated_keys_and_single_owner_of_the_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::spawn(dir.path(), &[]).expect("starts without keys");
    s.wait_ready(Duration::from_secs(60)).await;
    let path = s.data.join("keys.toml");
    let meta = std::fs::metadata(&path).expect("key file generated in the data folder");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    // The folder and the files Trove writes hold customs data: private.
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&s.data), 0o700, "data folder");
    assert_eq!(mode(&s.data.join("journal.hwm")), 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    let key_of = |role: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{role} = \"")))
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or_else(|| panic!("no {role} key in {text}"))
            .to_owned()
    };
    let admin = key_of("admin");
    let game = key_of("game");
    let log = s.log_text();
    assert!(
        log.contains(&path.display().to_string()),
        "the log says where the keys are: {log}"
    );
    assert!(!log.contains(&admin), "keys never appear in logs");
    assert_eq!(s.http("GET", "/v1/admin/consistency", Some(&admin), None).await.0, 200);
    assert_eq!(s.http("GET", "/v1/admin/consistency", Some(&game), None).await.0, 403);

    // A second server on the same folder refuses to start, clearly.
    let err = match Server::spawn(dir.path(), &[]) {
        Ok(_) => panic!("a second server started on the same data folder"),
        Err(log) => log,
    };
    assert!(err.contains("in use by another Trove process"), "{err}");

    // The generated keys survive a restart; the shutdown snapshot is private.
    assert!(s.terminate().success());
    let snaps: Vec<_> = std::fs::read_dir(s_data_snapshots(&dir)).unwrap().flatten().collect();
    assert!(!snaps.is_empty(), "a shutdown snapshot");
    for snap in snaps {
        assert_eq!(mode(&snap.path()), 0o600, "{}", snap.path().display());
    }
    assert_eq!(mode(&s_data_snapshots(&dir)), 0o700);
    let s = Server::spawn(dir.path(), &[]).expect("restarts");
    s.wait_ready(Duration::from_secs(60)).await;
    assert_eq!(s.http("GET", "/v1/admin/consistency", Some(&admin), None).await.0, 200);
}

fn s_data_snapshots(root: &tempfile::TempDir) -> std::path::PathBuf {
    root.path().join("data").join("snapshots")
}

/// A key file that others may read is refused, naming the file and the fix;
/// a key file or config file that does not parse is reported by position,
/// never by content.
#[tokio::test]
async fn key_files_stay_private_and_parse_errors_never_echo_keys() {
    use std::os::unix::fs::PermissionsExt;
    let secret = "trv_5ecret5ecret5ecret5ecret5ecret0";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let keys = data.join("keys.toml");
    std::fs::write(&keys, format!("[keys]\nadmin = \"{secret}\"\n")).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = |env: &[(&str, &str)]| match Server::spawn(dir.path(), env) {
        Ok(_) => panic!("the server started"),
        Err(log) => log,
    };
    let log = refused(&[]);
    assert!(
        log.contains(&keys.display().to_string()) && log.contains(&format!("chmod 600 {}", keys.display())),
        "names the file and the fix: {log}"
    );
    assert!(!log.contains(secret), "{log}");

    // Private now, but broken: the position is given, the key is not.
    std::fs::write(&keys, format!("[keys]\nadmin = \"{secret}\" x\n")).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    let log = refused(&[]);
    assert!(log.contains("line 2"), "{log}");
    assert!(!log.contains("5ecret"), "the key file's content is echoed: {log}");

    // The same for a config file.
    let config = dir.path().join("trove.toml");
    std::fs::write(&config, format!("workers = \"{secret}\"\n[keys]\nadmin = \"{secret}\n")).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let log = refused(&[("TROVE_CONFIG", config.to_str().unwrap())]);
    assert!(
        log.contains(&config.display().to_string()) && log.contains("line "),
        "{log}"
    );
    assert!(!log.contains("5ecret"), "the config file's content is echoed: {log}");
}

/// `trove export -o FILE` writes a file only its owner can read (it holds
/// customs data), whatever the umask.
#[tokio::test]
async fn exports_written_to_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_on(dir.path()).await;
    s.define_example_hunt("h", 10, 1).await;
    let (st, r) = s
        .http("POST", "/v1/claims", Some(GAME), Some(&claim("k1", "p1", "h", "mug")))
        .await;
    assert_eq!(st, 200, "{r}");
    assert!(s.terminate().success());
    let out = dir.path().join("export.jsonl");
    // An existing file with a wide mode is replaced by a private one.
    std::fs::write(&out, "old").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    let data = dir.path().join("data");
    let run = trove(&["export", "--data", data.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "export file mode {mode:o}");
    assert!(std::fs::read_to_string(&out).unwrap().contains("\"claim_id\":\"k1\""));
}
