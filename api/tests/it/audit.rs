//! Auditors' tools against the real binary: a journal built through a running
//! server (hunts, events, claims with every kind of rejection, restock,
//! several players, two phases a second apart), then
//!
//! - `GET /v1/audit/export` and `GET /v1/audit/report` while it runs (roles,
//!   every filter, both formats);
//! - `trove export` offline with the same filters: parsed back and compared
//!   record by record with what was sent, with the online export (identical
//!   lines), and JSONL with CSV;
//! - `trove audit verify` on intact, filtered and tampered exports (one byte
//!   changed, a record deleted, two records swapped, truncated);
//! - `trove verify` on data folders with a damaged, deleted or misplaced
//!   journal block;
//! - `trove rebuild` after deleting the snapshots: the same digest;
//! - `trove audit report` against counts computed from what was sent.

use crate::harness::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One journal record as the test sent it.
#[derive(Clone, Debug)]
struct Sent {
    seq: u64,
    /// Fields the export's record line must have (with these values).
    fields: Value,
    hunt: String,
    player: Option<String>,
    record_type: &'static str,
    phase_b: bool,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF) with the `csv` crate.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    assert!(text.is_empty() || text.ends_with("\r\n"), "CSV ends without CRLF");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

fn records(text: &str) -> Vec<Value> {
    lines(text).into_iter().filter(|l| l["type"] == "record").collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != "LOCK" {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Edits the journal blocks of a stopped data folder (first sequence ->
/// stored block), as a buggy writer would: frame headers stay valid.
fn with_journal(dir: &Path, edit: impl FnOnce(&mut std::collections::BTreeMap<u64, Vec<u8>>)) {
    trove_persistence::log::rewrite(&dir.join("journal"), edit).unwrap();
}

struct Journal {
    sent: Vec<Sent>,
    next: u64,
}

impl Journal {
    fn push(
        &mut self,
        seq: u64,
        record_type: &'static str,
        hunt: &str,
        player: Option<&str>,
        fields: Value,
        phase_b: bool,
    ) {
        assert_eq!(seq, self.next, "records are journaled in the order sent");
        self.next += 1;
        self.sent.push(Sent {
            seq,
            fields,
            hunt: hunt.into(),
            player: player.map(str::to_owned),
            record_type,
            phase_b,
        });
    }

    async fn define(&mut self, s: &Server, def: Value, phase_b: bool) {
        let (st, r) = s.http("POST", "/v1/hunts", Some(DESIGNER), Some(&def)).await;
        assert_eq!(st, 201, "{r}");
        let mut fields = def.clone();
        fields["record_type"] = json!("hunt_defined");
        fields["opens_at"] = json!(1_577_836_800_000u64);
        let id = def["id"].as_str().unwrap().to_owned();
        self.push(r["seq"].as_u64().unwrap(), "hunt_defined", &id, None, fields, phase_b);
    }

    async fn events(&mut self, s: &Server, events: Vec<Value>, phase_b: bool) {
        let (st, r) = s
            .http("POST", "/v1/events", Some(GAME), Some(&json!({"events": events})))
            .await;
        assert_eq!(st, 200, "{r}");
        let last = r["seq"].as_u64().unwrap();
        let first = last + 1 - events.len() as u64;
        for (i, e) in events.iter().enumerate() {
            let t = e["type"].as_str().unwrap();
            let t: &'static str = match t {
                "clue_found" => "clue_found",
                "checkin" => "checkin",
                _ => "interaction",
            };
            let mut fields = e.clone();
            fields.as_object_mut().unwrap().remove("type");
            fields["record_type"] = json!(t);
            self.push(
                first + i as u64,
                t,
                e["hunt"].as_str().unwrap(),
                e["player"].as_str(),
                fields,
                phase_b,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn claim(
        &mut self,
        s: &Server,
        id: &str,
        player: &str,
        hunt: &str,
        sku: &str,
        customs: Value,
        reason: Option<&str>,
        phase_b: bool,
    ) {
        let body = json!({"claim_id": id, "player": player, "hunt": hunt, "sku": sku, "customs": customs});
        let (st, r) = s.http("POST", "/v1/claims", Some(GAME), Some(&body)).await;
        assert_eq!(st, 200, "{r}");
        assert_eq!(r["reason"].as_str(), reason, "{r}");
        let mut fields = body.clone();
        fields["record_type"] = json!("claim");
        fields["status"] = json!(if reason.is_some() { "rejected" } else { "granted" });
        if let Some(reason) = reason {
            fields["reason"] = json!(reason);
        }
        self.push(r["seq"].as_u64().unwrap(), "claim", hunt, Some(player), fields, phase_b);
    }

    async fn restock(&mut self, s: &Server, hunt: &str, sku: &str, add: u64, phase_b: bool) {
        let (st, r) = s
            .http(
                "POST",
                &format!("/v1/hunts/{hunt}/products/{sku}/stock"),
                Some(DESIGNER),
                Some(&json!({"add": add})),
            )
            .await;
        assert_eq!(st, 200, "{r}");
        let fields = json!({"record_type": "stock_added", "hunt": hunt, "sku": sku, "added": add});
        self.push(r["seq"].as_u64().unwrap(), "stock_added", hunt, None, fields, phase_b);
    }
}

/// Builds the journal. Returns what was sent and the whole second between the two phases.
async fn build(s: &Server) -> (Vec<Sent>, i64) {
    let mut j = Journal {
        sent: Vec::new(),
        next: 1,
    };
    j.define(s, hunt_def("h1", 3, 1), false).await;
    j.define(s, hunt_def("h2", 1, 1), false).await;
    j.events(
        s,
        vec![
            clue("p1", "h1", "c1"),
            clue("p1", "h1", "c2"),
            json!({"player": "p2", "hunt": "h1", "type": "checkin", "location": "fountain, north \"gate\""}),
            json!({"player": "p3", "hunt": "h1", "type": "interaction", "kind": "selfie"}),
            clue("p3", "h1", "c3"),
            clue("p4", "h2", "c1"),
        ],
        false,
    )
    .await;
    let customs = |name: &str| json!({"name": name, "country": "NL", "declared_value_eur": 12.5, "address": "Dam 1,\nAmsterdam", "note": "Zoë \"Q\""});
    j.claim(s, "k1", "p1", "h1", "mug", customs("Pat"), None, false).await;
    j.claim(s, "k2", "p1", "h1", "mug", customs("Pat"), Some("limit_reached"), false)
        .await;
    j.claim(s, "k3", "p2", "h1", "hoodie", json!({}), Some("not_eligible"), false)
        .await;
    j.claim(s, "k4", "p3", "h1", "hoodie", customs("Sam"), None, false)
        .await;
    j.claim(
        s,
        "k5",
        "p1",
        "h1",
        "hoodie",
        customs("Pat"),
        Some("out_of_stock"),
        false,
    )
    .await;
    j.claim(
        s,
        "k6",
        "p2",
        "h1",
        "nope",
        json!({"z": [1, 2, {"y": null}], "a": true}),
        Some("unknown_product"),
        false,
    )
    .await;
    j.claim(s, "k7", "p2", "hx", "mug", json!({}), Some("unknown_hunt"), false)
        .await;
    j.restock(s, "h1", "hoodie", 2, false).await;

    // The phases are split at a whole second, so reports (whole seconds) and exports (ms) agree.
    let mid = (now_ms() / 1000 + 1) * 1000;
    tokio::time::sleep(Duration::from_millis((mid - now_ms()).max(0) as u64 + 30)).await;

    j.events(
        s,
        vec![
            json!({"player": "p1", "hunt": "h2", "type": "checkin", "location": "pier"}),
            clue("p2", "h1", "c1"),
            json!({"player": "p4", "hunt": "h2", "type": "interaction", "kind": "wave"}),
        ],
        true,
    )
    .await;
    j.claim(s, "k8", "p4", "h2", "mug", customs("Kim"), None, true).await;
    j.claim(s, "k9", "p2", "h2", "mug", customs("Lou"), Some("out_of_stock"), true)
        .await;
    j.claim(
        s,
        "k10",
        "p3",
        "h1",
        "mug",
        json!({"gift": "yes, \"really\""}),
        None,
        true,
    )
    .await;
    j.define(s, hunt_def("h3", 5, 2), true).await;
    (j.sent, mid)
}

/// One filter combination: CLI flags, the same as a query string, and which
/// sent records it selects.
struct Case {
    name: &'static str,
    cli: Vec<String>,
    query: String,
    pick: Box<dyn Fn(&Sent) -> bool>,
    by_content: bool,
}

#[allow(
    clippy::too_many_lines,
    reason = "a table of cases: one entry per line reads better than a split table"
)]
fn cases(mid: i64) -> Vec<Case> {
    let mid_text = trove_audit::format_ms(mid);
    let c = |name: &'static str, cli: &[&str], query: &str, by_content: bool, pick: Box<dyn Fn(&Sent) -> bool>| Case {
        name,
        cli: cli.iter().map(|s| s.to_string()).collect(),
        query: query.into(),
        pick,
        by_content,
    };
    vec![
        c("all", &[], "", false, Box::new(|_| true)),
        c(
            "player",
            &["--player", "p1"],
            "player=p1",
            true,
            Box::new(|s| s.player.as_deref() == Some("p1")),
        ),
        c("hunt", &["--hunt", "h2"], "hunt=h2", true, Box::new(|s| s.hunt == "h2")),
        c(
            "claims",
            &["--type", "claims"],
            "type=claims",
            true,
            Box::new(|s| s.record_type == "claim"),
        ),
        c(
            "events",
            &["--type", "events"],
            "type=events",
            true,
            Box::new(|s| matches!(s.record_type, "clue_found" | "checkin" | "interaction")),
        ),
        c(
            "hunts",
            &["--type", "hunts"],
            "type=hunts",
            true,
            Box::new(|s| s.record_type == "hunt_defined"),
        ),
        c(
            "stock",
            &["--type", "stock"],
            "type=stock",
            true,
            Box::new(|s| s.record_type == "stock_added"),
        ),
        c(
            "telemetry",
            &["--type", "checkin,interaction"],
            "type=checkin,interaction",
            true,
            Box::new(|s| matches!(s.record_type, "checkin" | "interaction")),
        ),
        c(
            "after",
            &["--after-seq", "10"],
            "after_seq=10",
            false,
            Box::new(|s| s.seq > 10),
        ),
        c(
            // Both ends inside the first events block (seq 3..8).
            "seq-range",
            &["--after-seq", "4", "--until-seq", "12"],
            "after_seq=4&until_seq=12",
            false,
            Box::new(|s| s.seq > 4 && s.seq <= 12),
        ),
        c(
            "from",
            &["--from", &mid_text],
            &format!("from={mid}"),
            false,
            Box::new(|s| s.phase_b),
        ),
        c(
            "to",
            &["--to", &mid_text],
            &format!("to={mid}"),
            false,
            Box::new(|s| !s.phase_b),
        ),
        c(
            "window-claims",
            &["--from", &mid_text, "--to", "2100-01-01T00:00:00Z", "--type", "claims"],
            &format!("from={mid}&to=4102444800000&type=claims"),
            true,
            Box::new(|s| s.phase_b && s.record_type == "claim"),
        ),
        c(
            "combined",
            &[
                "--player",
                "p2",
                "--hunt",
                "h1",
                "--type",
                "claims,clue_found",
                "--after-seq",
                "3",
            ],
            "player=p2&hunt=h1&type=claims,clue_found&after_seq=3",
            true,
            Box::new(|s| {
                s.player.as_deref() == Some("p2")
                    && s.hunt == "h1"
                    && matches!(s.record_type, "claim" | "clue_found")
                    && s.seq > 3
            }),
        ),
        c(
            "no-proof",
            &["--player", "p1", "--no-proof"],
            "player=p1&no_proof=true",
            true,
            Box::new(|s| s.player.as_deref() == Some("p1")),
        ),
    ]
}

/// The CSV row of a JSONL record line.
fn csv_row_of(r: &Value) -> Vec<String> {
    let s = |k: &str| match &r[k] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let hunt_defined = r["record_type"] == "hunt_defined";
    vec![
        s("seq"),
        s("committed_at"),
        s("committed_at_ms"),
        s("record_type"),
        if hunt_defined { s("id") } else { s("hunt") },
        s("player"),
        s("claim_id"),
        s("sku"),
        s("status"),
        s("reason"),
        s("customs"),
        s("clue"),
        s("location"),
        s("kind"),
        s("added"),
        String::new(),
    ]
}

fn check_csv(name: &str, csv: &str, jsonl_records: &[Value]) {
    let rows = parse_csv(csv);
    assert_eq!(rows[0], trove_audit::CSV_COLUMNS, "{name}: CSV header");
    assert_eq!(rows.len() - 1, jsonl_records.len(), "{name}: CSV rows");
    for (row, r) in rows[1..].iter().zip(jsonl_records) {
        let want = csv_row_of(r);
        for (i, col) in trove_audit::CSV_COLUMNS.iter().enumerate() {
            match *col {
                // customs: the stored JSON text; compare as JSON.
                "customs" if !row[i].is_empty() => {
                    let v: Value = serde_json::from_str(&row[i]).unwrap();
                    assert_eq!(v, r["customs"], "{name}: customs of seq {}", r["seq"]);
                }
                "definition" if !row[i].is_empty() => {
                    let d: Value = serde_json::from_str(&row[i]).unwrap();
                    for k in ["id", "name", "opens_at", "closes_at", "clues", "products"] {
                        assert_eq!(d[k], r[k], "{name}: definition.{k} of seq {}", r["seq"]);
                    }
                }
                _ => assert_eq!(row[i], want[i], "{name}: column {col} of seq {}", r["seq"]),
            }
        }
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn verify_file(path: &Path) -> Run {
    trove(&["audit", "verify", path.to_str().unwrap()])
}

/// The (line number, seq) of the record line with this seq.
fn line_of(text: &str, seq: u64) -> usize {
    text.lines()
        .position(|l| l.starts_with("{\"type\":\"record\"") && l.contains(&format!("\"seq\":{seq},")))
        .unwrap_or_else(|| panic!("no record {seq}"))
        + 1
}

fn remove_line(text: &str, line: usize) -> String {
    let mut v: Vec<&str> = text.lines().collect();
    v.remove(line - 1);
    v.join("\n") + "\n"
}

fn swap_lines(text: &str, a: usize, b: usize) -> String {
    let mut v: Vec<&str> = text.lines().collect();
    v.swap(a - 1, b - 1);
    v.join("\n") + "\n"
}

fn expect_fail(what: &str, r: &Run, needle: &str) {
    assert_ne!(r.code, 0, "{what}: verify should fail\n{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(needle),
        "{what}: expected {needle:?} in\n{}{}",
        r.stdout,
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::too_many_lines,
    reason = "one scenario with its assertions in order; splitting it would hide which step each check belongs to"
)]
async fn export_verify_report_rebuild() {
    let (s, tmp) = Server::start().await;
    let root = tmp.path().to_path_buf();
    let data = s.data.clone();
    let data_s = data.to_str().unwrap().to_owned();
    let (sent, mid) = build(&s).await;
    let cases = cases(mid);

    // Roles: auditor and admin only.
    assert_eq!(s.http("GET", "/v1/audit/export", None, None).await.0, 401);
    assert_eq!(s.http("GET", "/v1/audit/export", Some(GAME), None).await.0, 403);
    assert_eq!(s.http("GET", "/v1/audit/report", Some(DESIGNER), None).await.0, 403);
    assert_eq!(s.http("GET", "/v1/audit/report", Some(ADMIN), None).await.0, 200);
    let (st, r) = s.http("GET", "/v1/audit/export?after_seq=x", Some(AUDITOR), None).await;
    assert_eq!((st, r["error"]["code"].as_str()), (400, Some("invalid_request")));
    let (st, _) = s
        .http("GET", "/v1/audit/export?from=yesterday", Some(AUDITOR), None)
        .await;
    assert_eq!(st, 400);

    // Online exports and reports, kept for comparison with the offline ones.
    let mut online = BTreeMap::new();
    for c in &cases {
        for format in ["jsonl", "csv"] {
            let sep = if c.query.is_empty() { "" } else { "&" };
            let path = format!("/v1/audit/export?format={format}{sep}{}", c.query);
            let (st, body) = s.http_raw("GET", &path, Some(AUDITOR), b"").await;
            assert_eq!(st, 200, "{path}: {}", String::from_utf8_lossy(&body));
            online.insert((c.name, format), String::from_utf8(body).unwrap());
        }
    }
    let (_, online_report) = s.http("GET", "/v1/audit/report", Some(AUDITOR), None).await;
    let (_, online_report_b) = s
        .http("GET", &format!("/v1/audit/report?from={mid}"), Some(AUDITOR), None)
        .await;

    // Offline tools refuse to run next to the server.
    let r = trove(&["export", "--data", &data_s]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("in use"), "{}", r.stderr);
    assert_eq!(s.terminate().code(), Some(0));

    // `trove verify`: every check passes; remember the digest.
    let v = trove(&["verify", "--data", &data_s]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("verify: ok"), "{}", v.stdout);
    assert!(
        v.stdout.contains(&format!("chain head: seq {}", sent.len())),
        "{}",
        v.stdout
    );
    let digest = v
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("digest: "))
        .expect("verify prints the digest")
        .to_owned();

    // The full export against what was sent, field by field.
    let full_path = root.join("all.jsonl");
    let r = trove(&["export", "--data", &data_s, "-o", full_path.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let full = std::fs::read_to_string(&full_path).unwrap();
    let all = lines(&full);
    assert_eq!(all[0]["type"], "header");
    assert_eq!(all[0]["format"], "trove-export");
    assert_eq!(all[0]["version"], 2);
    let footer = all.last().unwrap();
    assert_eq!(footer["type"], "footer");
    assert_eq!(footer["records"], sent.len());
    assert_eq!(
        (footer["first_seq"].as_u64(), footer["last_seq"].as_u64()),
        (Some(1), Some(sent.len() as u64))
    );
    let full_records = records(&full);
    assert_eq!(full_records.len(), sent.len());
    let mut at = BTreeMap::new();
    for (r, want) in full_records.iter().zip(&sent) {
        assert_eq!(r["seq"], want.seq);
        for (k, v) in want.fields.as_object().unwrap() {
            assert_eq!(&r[k], v, "seq {} field {k}: {r}", want.seq);
        }
        if want.record_type != "claim" {
            assert!(r.get("customs").is_none());
        }
        let t = r["committed_at_ms"].as_i64().unwrap();
        assert_eq!(want.phase_b, t >= mid, "seq {} at {t}, phases split at {mid}", want.seq);
        assert_eq!(r["committed_at"], trove_audit::format_ms(t));
        at.insert(want.seq, r.clone());
    }
    // A complete export's blocks carry no leaves.
    assert!(all
        .iter()
        .filter(|l| l["type"] == "block")
        .all(|b| b.get("leaves").is_none()));
    let ok = verify_file(&full_path);
    assert_eq!(ok.code, 0, "{}", ok.stdout);
    assert!(
        ok.stdout.starts_with(&format!("OK: {} records in ", sent.len())),
        "{}",
        ok.stdout
    );
    assert!(
        ok.stdout.contains(&format!("seq 1..{}, intact", sent.len())),
        "{}",
        ok.stdout
    );
    assert!(ok.stdout.contains("complete"), "{}", ok.stdout);

    // Every filter, both formats, offline and online.
    for c in &cases {
        let path = root.join(format!("{}.jsonl", c.name));
        let mut args = vec![
            "export",
            "--data",
            &data_s,
            "--format",
            "jsonl",
            "-o",
            path.to_str().unwrap(),
        ];
        args.extend(c.cli.iter().map(String::as_str));
        let r = trove(&args);
        assert_eq!(r.code, 0, "{}: {}", c.name, r.stderr);
        let text = std::fs::read_to_string(&path).unwrap();
        let recs = records(&text);
        let want: Vec<u64> = sent.iter().filter(|s| (c.pick)(s)).map(|s| s.seq).collect();
        let got: Vec<u64> = recs.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
        assert_eq!(got, want, "{}: records", c.name);
        for r in &recs {
            assert_eq!(
                r,
                &at[&r["seq"].as_u64().unwrap()],
                "{}: same record as the full export",
                c.name
            );
        }
        // Online: the same lines but for the header's generated_at (and the time filters' spelling).
        let on = &online[&(c.name, "jsonl")];
        assert_eq!(
            on.lines().skip(1).collect::<Vec<_>>(),
            text.lines().skip(1).collect::<Vec<_>>(),
            "{}: online and offline exports differ",
            c.name
        );
        let v = verify_file(&path);
        assert_eq!(v.code, 0, "{}: {}", c.name, v.stdout);
        assert!(
            v.stdout.starts_with(&format!("OK: {} records", want.len())),
            "{}: {}",
            c.name,
            v.stdout
        );
        if c.by_content {
            assert!(v.stdout.contains("cannot prove"), "{}: {}", c.name, v.stdout);
        } else {
            assert!(v.stdout.contains("complete"), "{}: {}", c.name, v.stdout);
        }
        let blocks: Vec<Value> = lines(&text).into_iter().filter(|l| l["type"] == "block").collect();
        if c.name == "no-proof" {
            assert!(blocks.len() < lines(&full).iter().filter(|l| l["type"] == "block").count());
        }
        if c.by_content && c.name != "no-proof" {
            // Every block of the scanned range is there (a continuous chain), with leaves
            // unless all its records are in the export.
            assert!(blocks.iter().any(|b| b.get("leaves").is_some()), "{}", c.name);
        }

        let csv_path = root.join(format!("{}.csv", c.name));
        let mut args = vec![
            "export",
            "--data",
            &data_s,
            "--format",
            "csv",
            "-o",
            csv_path.to_str().unwrap(),
        ];
        args.extend(c.cli.iter().map(String::as_str));
        let r = trove(&args);
        assert_eq!(r.code, 0, "{}: {}", c.name, r.stderr);
        let csv = std::fs::read_to_string(&csv_path).unwrap();
        check_csv(c.name, &csv, &recs);
        assert_eq!(
            &online[&(c.name, "csv")],
            &csv,
            "{}: online and offline CSV differ",
            c.name
        );
    }

    // stdout export equals the file export (but for the header).
    let r = trove(&["export", "--data", &data_s, "--player", "p1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p1_file = std::fs::read_to_string(root.join("player.jsonl")).unwrap();
    assert_eq!(
        r.stdout.lines().skip(1).collect::<Vec<_>>(),
        p1_file.lines().skip(1).collect::<Vec<_>>()
    );
    assert_ne!(trove(&["export", "--data", &data_s, "--format", "xml"]).code, 0);
    assert_ne!(trove(&["export", "--data", &data_s, "--from", "soon"]).code, 0);

    // Tampering with the full export.
    let k1 = sent.iter().find(|s| s.fields["claim_id"] == "k1").unwrap().seq;
    let l = line_of(&full, k1);
    let altered = full.replacen(
        full.lines().nth(l - 1).unwrap(),
        &full.lines().nth(l - 1).unwrap().replacen("\"NL\"", "\"NM\"", 1),
        1,
    );
    assert_ne!(altered, full);
    expect_fail(
        "one byte of a claim",
        &verify_file(&write(&root, "t1.jsonl", &altered)),
        &format!("line {l} (seq {k1})"),
    );
    // An event inside a block of six: found at the block (it has no leaves).
    let selfie = sent.iter().find(|s| s.fields["kind"] == "selfie").unwrap().seq;
    let altered = full.replacen("\"selfie\"", "\"selfiE\"", 1);
    let r = verify_file(&write(&root, "t2.jsonl", &altered));
    expect_fail("one byte of an event", &r, &format!("(seq {})", 3));
    assert!(selfie > 3);
    // A record deleted from the middle of a block, and a whole one-record block's record.
    let l5 = line_of(&full, 5);
    expect_fail(
        "record deleted",
        &verify_file(&write(&root, "t3.jsonl", &remove_line(&full, l5))),
        &format!("line {l5} (seq 5)"),
    );
    let lk1 = line_of(&full, k1);
    expect_fail(
        "one-record block's record deleted",
        &verify_file(&write(&root, "t4.jsonl", &remove_line(&full, lk1))),
        &format!("line {lk1} (seq {k1})"),
    );
    // Two records swapped, inside a block and across blocks.
    let (l4, l5) = (line_of(&full, 4), line_of(&full, 5));
    expect_fail(
        "records swapped",
        &verify_file(&write(&root, "t5.jsonl", &swap_lines(&full, l4, l5))),
        &format!("line {l4} (seq 4)"),
    );
    let lk2 = line_of(&full, k1 + 1);
    expect_fail(
        "records of two blocks swapped",
        &verify_file(&write(&root, "t6.jsonl", &swap_lines(&full, lk1, lk2))),
        &format!("line {lk1} ("),
    );
    // Truncated: the footer gone, cut at a line, cut mid-line.
    let n = full.lines().count();
    expect_fail(
        "footer removed",
        &verify_file(&write(&root, "t7.jsonl", &remove_line(&full, n))),
        "truncated",
    );
    let cut: String = full.lines().take(12).map(|l| format!("{l}\n")).collect();
    expect_fail(
        "cut at a line",
        &verify_file(&write(&root, "t8.jsonl", &cut)),
        "truncated",
    );
    expect_fail(
        "cut mid-line",
        &verify_file(&write(&root, "t9.jsonl", &full[..full.len() / 2])),
        "truncated",
    );
    // A block line altered, a whole block removed.
    let first_block = full.lines().nth(1).unwrap();
    let altered = full.replacen(first_block, &first_block.replacen("\"count\":1,", "\"count\":2,", 1), 1);
    expect_fail(
        "block line altered",
        &verify_file(&write(&root, "t10.jsonl", &altered)),
        "line 2 (seq 1)",
    );
    let without_block = remove_line(&remove_line(&full, lk1), lk1 - 1);
    expect_fail(
        "block removed",
        &verify_file(&write(&root, "t11.jsonl", &without_block)),
        "sequence gap",
    );

    // A filtered export proves each record it holds, not that nothing was left out.
    let p1 = std::fs::read_to_string(root.join("player.jsonl")).unwrap();
    let lp = line_of(&p1, k1);
    let altered = p1.replacen(
        p1.lines().nth(lp - 1).unwrap(),
        &p1.lines().nth(lp - 1).unwrap().replacen("\"Pat\"", "\"Pet\"", 1),
        1,
    );
    let r = verify_file(&write(&root, "t12.jsonl", &altered));
    expect_fail("filtered: record altered", &r, &format!("line {lp} (seq {k1})"));
    assert!(r.stdout.contains("altered"), "{}", r.stdout);
    // A record removed from a block the export holds only in part (it carries
    // leaves) cannot be told from one the filter left out...
    // (The footer's count catches a careless edit; it is not hashed, so fix it too.)
    let l3 = line_of(&p1, 3);
    let n1 = records(&p1).len();
    let edited = remove_line(&p1, l3).replace(
        &format!("\"type\":\"footer\",\"records\":{n1},"),
        &format!("\"type\":\"footer\",\"records\":{},", n1 - 1),
    );
    assert_eq!(verify_file(&write(&root, "t13a.jsonl", &remove_line(&p1, l3))).code, 1);
    let r = verify_file(&write(&root, "t13.jsonl", &edited));
    assert_eq!(
        r.code, 0,
        "a record left out of a filtered export is not detectable: {}",
        r.stdout
    );
    assert!(r.stdout.contains("cannot prove"));
    // ...but one removed from a block the export holds whole (no leaves) can.
    expect_fail(
        "filtered: a whole block's record deleted",
        &verify_file(&write(&root, "t13b.jsonl", &remove_line(&p1, lp))),
        &format!("line {lp} (seq {k1})"),
    );
    // ...but a time- or sequence-filtered one proves completeness.
    let after = std::fs::read_to_string(root.join("after.jsonl")).unwrap();
    let l12 = line_of(&after, 12);
    expect_fail(
        "seq-filtered: record deleted",
        &verify_file(&write(&root, "t14.jsonl", &remove_line(&after, l12))),
        &format!("line {l12} (seq 12)"),
    );

    // Reports: offline equals online equals counts of what was sent.
    let report = |extra: &[&str]| -> Value {
        let mut args = vec!["audit", "report", "--data", &data_s, "--format", "json"];
        args.extend_from_slice(extra);
        let r = trove(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        serde_json::from_str(&r.stdout).unwrap()
    };
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("ok");
        v
    };
    let whole = report(&[]);
    assert_eq!(whole, strip(online_report.clone()));
    // The widest window the CLI accepts is the whole journal (it once
    // overflowed rounding `to` up to a whole second).
    let widest = report(&["--from=-9223372036854775808", "--to=9223372036854775807"]);
    assert_eq!(widest["records"], whole["records"]);
    assert_eq!(widest["claims"], whole["claims"]);
    let mid_text = trove_audit::format_ms(mid);
    let phase_b = report(&["--from", &mid_text]);
    assert_eq!(phase_b, strip(online_report_b.clone()));
    for (rep, pick) in [
        (&whole, Box::new(|_: &Sent| true) as Box<dyn Fn(&Sent) -> bool>),
        (&phase_b, Box::new(|s: &Sent| s.phase_b)),
    ] {
        let picked: Vec<&Sent> = sent.iter().filter(|s| pick(s)).collect();
        assert_eq!(rep["records"], picked.len());
        let mut claims = BTreeMap::new();
        let mut events = BTreeMap::new();
        for s in &picked {
            match s.record_type {
                "claim" => {
                    let outcome = s.fields["reason"].as_str().unwrap_or("granted").to_owned();
                    *claims
                        .entry((s.hunt.clone(), s.fields["sku"].as_str().unwrap().to_owned(), outcome))
                        .or_insert(0u64) += 1;
                }
                "hunt_defined" | "stock_added" => {}
                t => *events.entry((s.hunt.clone(), t.to_owned())).or_insert(0u64) += 1,
            }
        }
        let got: BTreeMap<_, _> = rep["claims"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    (
                        c["hunt"].as_str().unwrap().to_owned(),
                        c["sku"].as_str().unwrap().to_owned(),
                        c["outcome"].as_str().unwrap().to_owned(),
                    ),
                    c["count"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, claims);
        let got: BTreeMap<_, _> = rep["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    (
                        c["hunt"].as_str().unwrap().to_owned(),
                        c["type"].as_str().unwrap().to_owned(),
                    ),
                    c["count"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, events);
        let n = |t: &str| picked.iter().filter(|s| s.record_type == t).count();
        assert_eq!(rep["hunts_defined"], n("hunt_defined"));
        assert_eq!(rep["stock_changes"], n("stock_added"));
    }
    let table = trove(&["audit", "report", "--data", &data_s, "--to", &mid_text]);
    assert_eq!(table.code, 0);
    assert!(
        table.stdout.contains("claims") && table.stdout.contains("limit_reached"),
        "{}",
        table.stdout
    );
    assert!(!table.stdout.contains("k8"));

    // Rebuild after the snapshots were deleted: the same digest, and verify passes.
    let rebuilt = root.join("rebuilt");
    copy_dir(&data, &rebuilt);
    std::fs::remove_dir_all(rebuilt.join("snapshots")).unwrap();
    let rb = rebuilt.to_str().unwrap();
    let r = trove(&["rebuild", "--data", rb]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(&format!("digest: {digest}")), "{}", r.stdout);
    assert!(r.stdout.contains("records/s"), "{}", r.stdout);
    let v = trove(&["verify", "--data", rb]);
    assert_eq!(v.code, 0, "{}", v.stdout);
    assert!(v.stdout.contains(&format!("digest: {digest}")));
    let after_rebuild = {
        let r = trove(&["audit", "report", "--data", rb, "--format", "json"]);
        serde_json::from_str::<Value>(&r.stdout).unwrap()
    };
    assert_eq!(after_rebuild, whole);

    // `trove verify` on damaged journals: non-zero, naming the block.
    let k4 = sent.iter().find(|s| s.fields["claim_id"] == "k4").unwrap().seq;
    let flipped = root.join("flipped");
    copy_dir(&data, &flipped);
    with_journal(&flipped, |t| {
        let v = t.get_mut(&k4).expect("k4 is a block of its own");
        *v.last_mut().unwrap() ^= 0x01;
    });
    let fs = flipped.to_str().unwrap();
    let r = trove(&["verify", "--data", fs]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("journal block at sequence {k4} is corrupt")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("verify: FAILED"), "{}", r.stdout);
    let r = trove(&["export", "--data", fs, "-o", root.join("bad.jsonl").to_str().unwrap()]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains(&format!("sequence {k4}")), "{}", r.stderr);
    assert!(!root.join("bad.jsonl").exists(), "a failed export leaves no file");

    let deleted = root.join("deleted");
    copy_dir(&data, &deleted);
    with_journal(&deleted, |t| {
        t.remove(&k4).unwrap();
    });
    let r = trove(&["verify", "--data", deleted.to_str().unwrap()]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains(&format!("expected sequence {k4}")), "{}", r.stdout);

    let swapped = root.join("swapped");
    copy_dir(&data, &swapped);
    with_journal(&swapped, |t| {
        let a = t[&k4].clone();
        let b = t[&(k4 + 1)].clone();
        t.insert(k4, b);
        t.insert(k4 + 1, a);
    });
    let r = trove(&["verify", "--data", swapped.to_str().unwrap()]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains(&format!("sequence {k4}")), "{}", r.stdout);
}

// ------------------------------------------------------------------ what verify proves
//
// Each edit below passed `trove audit verify` before it checked every line
// against its proof, the start of the export, the filters and the order of
// compaction; each must now fail with its stable code.

/// The block line with this first_seq and its record lines: 1-based lines
/// `start..end` (end exclusive).
fn block_span(text: &str, first_seq: u64) -> (usize, usize) {
    let v: Vec<&str> = text.lines().collect();
    let start = v
        .iter()
        .position(|l| l.starts_with(&format!("{{\"type\":\"block\",\"first_seq\":{first_seq},")))
        .unwrap_or_else(|| panic!("no block {first_seq}"));
    let end = v[start + 1..]
        .iter()
        .position(|l| !l.starts_with("{\"type\":\"record\""))
        .map_or(v.len(), |i| start + 1 + i);
    (start + 1, end + 1)
}

fn block_line(text: &str, first_seq: u64) -> String {
    let (start, _) = block_span(text, first_seq);
    text.lines().nth(start - 1).unwrap().to_owned()
}

fn remove_lines(text: &str, start: usize, end: usize) -> String {
    let v: Vec<&str> = text.lines().collect();
    let mut out: Vec<&str> = v[..start - 1].to_vec();
    out.extend_from_slice(&v[end - 1..]);
    out.join("\n") + "\n"
}

fn replace_line(text: &str, line: usize, new: &str) -> String {
    let mut v: Vec<&str> = text.lines().collect();
    v[line - 1] = new;
    v.join("\n") + "\n"
}

/// Rewrites the footer the way someone editing the file would: counts and
/// range of the lines left, and the last block's hash.
fn refooter(text: &str) -> String {
    let all = lines(text);
    let blocks: Vec<&Value> = all.iter().filter(|l| l["type"] == "block").collect();
    let records = all.iter().filter(|l| l["type"] == "record").count();
    let first = blocks.first().unwrap();
    let last = blocks.last().unwrap();
    let footer = format!(
        "{{\"type\":\"footer\",\"records\":{records},\"blocks\":{},\"first_seq\":{},\"last_seq\":{},\"last_hash\":\"{}\"}}",
        blocks.len(),
        first["first_seq"],
        last["first_seq"].as_u64().unwrap() + last["count"].as_u64().unwrap() - 1,
        last["hash"].as_str().unwrap()
    );
    let n = text.lines().count();
    replace_line(text, n, &footer)
}

/// Replaces the header's filters.
fn with_filters(text: &str, filters: &str) -> String {
    let header = text.lines().next().unwrap();
    let start = header.find("\"filters\":").unwrap() + "\"filters\":".len();
    let end = header.find(",\"generated_at\"").unwrap();
    let new = format!("{}{filters}{}", &header[..start], &header[end..]);
    replace_line(text, 1, &new)
}

/// Writes a tampered export; with AUDIT_TAMPERED_DIR set, also there (to run
/// the same files against another build of `trove`).
fn tampered(dir: &Path, name: &str, text: &str) -> PathBuf {
    if let Some(keep) = std::env::var_os("AUDIT_TAMPERED_DIR") {
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::write(Path::new(&keep).join(name), text).unwrap();
    }
    write(dir, name, text)
}

fn expect_code(what: &str, r: &Run, code: &str, needle: &str) {
    expect_fail(what, r, needle);
    assert!(
        r.stdout.contains(&format!("verify: FAILED ({code})")),
        "{what}: expected code {code} in\n{}",
        r.stdout
    );
}

fn verify_head(path: &Path, head: &str) -> Run {
    trove(&["audit", "verify", path.to_str().unwrap(), "--head", head])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::too_many_lines,
    reason = "one scenario with its assertions in order; splitting it would hide which step each check belongs to"
)]
async fn verify_reports_only_what_it_proves() {
    let (s, tmp) = Server::start().await;
    let root = tmp.path().to_path_buf();
    let data = s.data.clone();
    let data_s = data.to_str().unwrap().to_owned();
    let (sent, _mid) = build(&s).await;
    assert_eq!(s.terminate().code(), Some(0));
    let n = sent.len() as u64;
    let seq_of = |claim: &str| sent.iter().find(|s| s.fields["claim_id"] == claim).unwrap().seq;
    let (k1, k2, k3, k8) = (seq_of("k1"), seq_of("k2"), seq_of("k3"), seq_of("k8"));
    // The phase-a events (seq 3..8) are one block, each claim is a block of its own.
    assert_eq!((k1, k2, k3), (9, 10, 11));
    let export = |name: &str, extra: &[&str]| -> String {
        let path = root.join(name);
        let mut args = vec!["export", "--data", &data_s, "-o", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        let r = trove(&args);
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        std::fs::read_to_string(path).unwrap()
    };
    let full = export("all.jsonl", &[]);
    let after = export("after.jsonl", &["--after-seq", "10"]);
    let p2 = export("p2.jsonl", &["--player", "p2"]);
    let v = trove(&["verify", "--data", &data_s]);
    let head_line = v
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("chain head: seq "))
        .expect("verify prints the chain head")
        .to_owned();
    let (head_seq, head_hash) = head_line.split_once(", block hash ").unwrap();
    assert_eq!(head_seq, n.to_string());
    let head = format!("{head_seq}:{head_hash}");
    let t = |name: &str, text: &str| tampered(&root, name, text);

    // The intact exports verify, and say what they prove.
    let ok = verify_file(&root.join("all.jsonl"));
    assert_eq!(ok.code, 0, "{}", ok.stdout);
    assert!(ok.stdout.contains("start: the start of the journal"), "{}", ok.stdout);
    assert!(ok.stdout.contains("end: not proven"), "{}", ok.stdout);
    assert!(ok.stdout.contains("filters: none"), "{}", ok.stdout);
    let ok = verify_file(&root.join("after.jsonl"));
    assert_eq!(ok.code, 0, "{}", ok.stdout);
    assert!(
        ok.stdout.contains("start: the block holding seq 11 (after_seq 10)"),
        "{}",
        ok.stdout
    );

    // (a) The first blocks removed, the footer rewritten to match.
    let (a, b) = block_span(&full, 1);
    let cut = refooter(&remove_lines(&full, a, b));
    expect_code(
        "first block removed",
        &verify_file(&t("a1.jsonl", &cut)),
        "start_missing",
        "the export starts at seq 2, but it has no after_seq filter, so its first block must hold seq 1",
    );
    let (a, _) = block_span(&full, 1);
    let (_, b) = block_span(&full, 3);
    expect_code(
        "first three blocks removed",
        &verify_file(&t("a2.jsonl", &refooter(&remove_lines(&full, a, b)))),
        "start_missing",
        "records 1..8 were removed",
    );
    let (a, b) = block_span(&after, 11);
    expect_code(
        "after-seq export: first block removed",
        &verify_file(&t("a3.jsonl", &refooter(&remove_lines(&after, a, b)))),
        "start_missing",
        "its after_seq is 10, so its first block must hold seq 11",
    );

    // (b) Fields a reader sees that the proof did not cover.
    let l1 = line_of(&full, k1);
    let k1_line = full.lines().nth(l1 - 1).unwrap();
    let rec: Value = serde_json::from_str(k1_line).unwrap();
    let at = rec["committed_at_ms"].as_i64().unwrap();
    let earlier = trove_audit::format_ms(at - 3_600_000);
    let edits: Vec<(&str, String, &str)> = vec![
        (
            "committed_at text of a record",
            k1_line.replacen(rec["committed_at"].as_str().unwrap(), &earlier, 1),
            "field \"committed_at\"",
        ),
        (
            "committed_at_ms of a record removed",
            k1_line.replacen(&format!(",\"committed_at_ms\":{at}"), "", 1),
            "field \"committed_at_ms\" of a claim record line is missing",
        ),
        (
            "reason on a granted claim",
            k1_line.replacen(
                "\"status\":\"granted\"",
                "\"status\":\"granted\",\"reason\":\"out_of_stock\"",
                1,
            ),
            "field \"reason\" is not part of a claim record line",
        ),
        (
            "an extra field on a record",
            k1_line.replacen(
                "{\"type\":\"record\",",
                "{\"type\":\"record\",\"checked_by\":\"customs\",",
                1,
            ),
            "field \"checked_by\" is not part of a claim record line",
        ),
    ];
    for (i, (what, new, needle)) in edits.iter().enumerate() {
        assert_ne!(new, k1_line, "{what}: the edit applies");
        let text = replace_line(&full, l1, new);
        expect_code(
            what,
            &verify_file(&t(&format!("b{i}.jsonl"), &text)),
            "not_canonical",
            &format!("line {l1} (seq {k1}): {needle}"),
        );
    }
    let l_h1 = line_of(&full, 1);
    let h1_line = full.lines().nth(l_h1 - 1).unwrap();
    let edited = h1_line.replacen("\"hunt\":\"h1\",\"id\":\"h1\"", "\"hunt\":\"h2\",\"id\":\"h1\"", 1);
    assert_ne!(edited, h1_line);
    expect_code(
        "the hunt of a hunt_defined line",
        &verify_file(&t("b-hunt.jsonl", &replace_line(&full, l_h1, &edited))),
        "not_canonical",
        "line 3 (seq 1): field \"hunt\" is \"h2\", but the proven record with its block's commit time gives \"h1\"",
    );
    // The other lines: a block's committed_at text, extra fields on a block line, the header, the footer.
    let b1 = block_line(&full, 1);
    let blk: Value = serde_json::from_str(&b1).unwrap();
    let at1 = blk["committed_at_ms"].as_i64().unwrap();
    let other_lines: Vec<(&str, usize, String, &str)> = vec![
        (
            "committed_at text of a block",
            2,
            b1.replacen(
                blk["committed_at"].as_str().unwrap(),
                &trove_audit::format_ms(at1 + 1),
                1,
            ),
            "line 2 (seq 1): field \"committed_at\"",
        ),
        (
            "an extra field on a block line",
            2,
            b1.replacen("{\"type\":\"block\",", "{\"type\":\"block\",\"compacted\":false,", 1),
            "line 2 (seq 1): field \"compacted\" is not part of a block line",
        ),
        (
            "an extra field on the header",
            1,
            full.lines()
                .next()
                .unwrap()
                .replacen("\"version\":2,", "\"version\":2,\"complete\":true,", 1),
            "line 1: field \"complete\" is not part of the header",
        ),
        (
            "an unknown filter in the header",
            1,
            with_filters(&full, "{\"audited\":\"yes\"}")
                .lines()
                .next()
                .unwrap()
                .to_owned(),
            "line 1: field \"filters\"",
        ),
        (
            "an extra field on the footer",
            full.lines().count(),
            full.lines()
                .last()
                .unwrap()
                .replacen("{\"type\":\"footer\",", "{\"type\":\"footer\",\"signed\":true,", 1),
            "field \"signed\" is not part of the footer",
        ),
    ];
    for (i, (what, line, new, needle)) in other_lines.iter().enumerate() {
        let text = replace_line(&full, *line, new);
        assert_ne!(text, full, "{what}: the edit applies");
        expect_code(
            what,
            &verify_file(&t(&format!("b-other{i}.jsonl"), &text)),
            "not_canonical",
            needle,
        );
    }

    // (c) A normal block relabelled as compacted. A copy compacted for real
    // gives the compacted block lines someone holding the records can make.
    let compacted_dir = root.join("compacted");
    copy_dir(&data, &compacted_dir);
    let cd = compacted_dir.to_str().unwrap().to_owned();
    let r = trove(&["compact", "--data", &cd, "--older-than", "0s"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let cpath = root.join("compacted.jsonl");
    let r = trove(&["export", "--data", &cd, "-o", cpath.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let compacted = std::fs::read_to_string(&cpath).unwrap();
    // The phase-b events block: checkin, clue_found, interaction, right before k8's block.
    let phase_b = k8 - 3;
    assert_eq!(sent[phase_b as usize - 1].record_type, "checkin");
    let relabelled_line = block_line(&compacted, phase_b);
    assert!(relabelled_line.contains("\"removed\":2,"), "{relabelled_line}");
    let (a, b) = block_span(&full, phase_b);
    let mut text = replace_line(&full, a, &relabelled_line);
    // Its checkin and interaction go, "removed by retention"; the clue stays.
    for seq in [phase_b + 2, phase_b] {
        let l = line_of(&text, seq);
        assert!(l > a && l < b);
        text = remove_line(&text, l);
    }
    expect_code(
        "a normal block relabelled as compacted",
        &verify_file(&t("c1.jsonl", &refooter(&text))),
        "compaction_impossible",
        &format!(
            "block seq {phase_b}..{} is marked compacted, but block seq 3..8 (line 6) before it still holds its telemetry",
            phase_b + 2
        ),
    );
    // The genuine compacted export verifies, and says what it cannot prove.
    let r = verify_file(&cpath);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("nor that retention rather than whoever made this file removed them"),
        "{}",
        r.stdout
    );

    // (d) Header filters edited to "filtered", then records deleted.
    // With leaves for k1's block (from an export that holds none of it), its
    // claim can go without breaking the block.
    let k1_with_leaves = block_line(&p2, k1);
    assert!(k1_with_leaves.contains("\"leaves\":["), "{k1_with_leaves}");
    let delete_k1 = |text: &str| {
        let (a, b) = block_span(text, k1);
        let text = replace_line(text, a, &k1_with_leaves);
        refooter(&remove_lines(&text, a + 1, b))
    };
    let as_p1 = delete_k1(&with_filters(&full, "{\"player\":\"p1\"}"));
    expect_code(
        "filters edited to a player, a record deleted",
        &verify_file(&t("d1.jsonl", &as_p1)),
        "filter_mismatch",
        "line 3 (seq 1): record 1 (hunt_defined) does not match the export's filters {\"player\":\"p1\"}",
    );
    let every_type = "{\"type\":\"claims,events,hunts,stock\"}";
    let as_all = delete_k1(&with_filters(&full, every_type));
    expect_code(
        "filters edited to every type, a record deleted",
        &verify_file(&t("d2.jsonl", &as_all)),
        "record_omitted",
        &format!("record {k1} is missing from block seq {k1}..{k1}"),
    );
    let as_kept = delete_k1(&with_filters(&full, "{\"type\":\"claims,clue_found,hunts,stock\"}"));
    // Its telemetry (seq 5, 6) is outside those filters: the events block gets its leaves.
    let as_kept = remove_line(&remove_line(&as_kept, line_of(&as_kept, 6)), line_of(&as_kept, 5));
    let (a, _) = block_span(&as_kept, 3);
    let as_kept = refooter(&replace_line(&as_kept, a, &block_line(&p2, 3)));
    expect_code(
        "filters edited to every kept type, a claim deleted",
        &verify_file(&t("d3.jsonl", &as_kept)),
        "record_omitted",
        &format!("the filters {{\"type\":\"claims,clue_found,hunts,stock\"}} select every kept record, and the block's leaves show one at seq {k1}"),
    );

    // --head: the end of an export against a chain head recorded earlier.
    let r = verify_head(&root.join("all.jsonl"), &head);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!(
            "head: the block ending at seq {n} has the hash you recorded ({head_hash})"
        )),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("end: not proven"), "{}", r.stdout);
    // The last block removed, the footer rewritten: only the head tells.
    let last = lines(&full).iter().rfind(|l| l["type"] == "block").unwrap()["first_seq"]
        .as_u64()
        .unwrap();
    let (a, b) = block_span(&full, last);
    let cut_end = t("e1.jsonl", &refooter(&remove_lines(&full, a, b)));
    let r = verify_file(&cut_end);
    assert_eq!(
        r.code, 0,
        "without a head, a cut at the end is not detectable: {}",
        r.stdout
    );
    assert!(r.stdout.contains("end: not proven"), "{}", r.stdout);
    expect_code(
        "cut at the end, checked against the head",
        &verify_head(&cut_end, &head),
        "head_not_reached",
        &format!(
            "the export ends at seq {}, before the head you recorded at seq {n}",
            last - 1
        ),
    );
    // A head recorded earlier, at k1's block: the export reaches past it;
    // an export after it starts from it.
    let k1_hash = serde_json::from_str::<Value>(&block_line(&full, k1)).unwrap()["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = verify_head(&root.join("all.jsonl"), &format!("{k1}:{k1_hash}"));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .contains(&format!("seq {}..{n} is newer than that head", k1 + 1)),
        "{}",
        r.stdout
    );
    let after_k1 = export("after-k1.jsonl", &["--after-seq", &k1.to_string()]);
    assert!(after_k1.contains(&format!("\"first_seq\":{k2},")));
    let r = verify_head(&root.join("after-k1.jsonl"), &format!("{k1}:{k1_hash}"));
    assert_eq!(r.code, 0, "{}", r.stdout);
    // A rewritten journal: the hash differs, or the head falls inside a block.
    let wrong = format!("{n}:{}", "0".repeat(64));
    expect_code(
        "another head hash",
        &verify_head(&root.join("all.jsonl"), &wrong),
        "head_mismatch",
        &format!("the block ending at seq {n} has hash {head_hash}, but the head you recorded has"),
    );
    expect_code(
        "a head inside a block",
        &verify_head(&root.join("all.jsonl"), &format!("5:{k1_hash}")),
        "head_mismatch",
        "seq 5 lies inside block seq 3..8",
    );
    expect_code(
        "an export that starts after the head",
        &verify_head(&root.join("after.jsonl"), &format!("3:{k1_hash}")),
        "head_not_covered",
        "does not hold the block ending at seq 3",
    );
    for bad in [
        "7",
        "x:abc",
        &format!("0:{head_hash}"),
        &format!("{n}:{}", &head_hash[..10]),
    ] {
        let r = verify_head(&root.join("all.jsonl"), bad);
        assert_eq!(r.code, 1, "--head {bad}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("--head"), "--head {bad}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
}
