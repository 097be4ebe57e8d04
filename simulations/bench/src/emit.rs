//! Output shared by the scenarios: the machine line, PASS/MISS verdicts, the
//! `"settings"` object, and [`emit`], which completes a scenario's JSON
//! result (machine, time, arguments), prints it as one line and appends it
//! to `--json-out`.

use crate::cli::Common;
use crate::proc::Machine;
use serde_json::{json, Value};
use std::io::Write;

/// "PASS" or "MISS".
pub(crate) fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

fn machine() -> Value {
    let m = Machine::read();
    json!({
        "nproc": m.nproc,
        "cpu": m.cpu,
        "mem_gb": m.mem_gb,
        "kernel": m.kernel,
        "loadavg_at_start": m.loadavg,
    })
}

/// Prints the `machine: ...` line every run starts with.
pub(crate) fn print_machine() {
    let m = machine();
    println!(
        "machine: {} cpus ({}), {} GiB RAM, kernel {}, loadavg {}",
        m["nproc"],
        m["cpu"].as_str().unwrap_or(""),
        m["mem_gb"],
        m["kernel"].as_str().unwrap_or(""),
        m["loadavg_at_start"].as_str().unwrap_or("")
    );
}

/// The `"settings"` object: workload size and durability.
pub(crate) fn settings_json(o: &Common, engine_shards: usize) -> Value {
    json!({
        "players": o.players, "clues": o.clues, "products": o.products, "tasks": o.tasks,
        "batch": o.batch, "duration_s": o.duration, "seed": o.seed, "shards": engine_shards,
        "durability": if o.strict { "strict" } else { "flush" },
    })
}

/// Adds `machine`, `unix_time` and `args` to a scenario's result, prints it
/// as one line and appends it to `--json-out` if given.
pub(crate) fn emit(o: &Common, v: Value) {
    emit_to(o.json_out.as_deref(), &o.args, v);
}

/// [`emit`] for scenarios without the [`Common`] options: `json_out` is
/// `--json-out`, `args` the command line after the program name.
pub(crate) fn emit_to(json_out: Option<&std::path::Path>, args: &[String], mut v: Value) {
    v["machine"] = machine();
    v["unix_time"] = json!(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()));
    v["args"] = json!(args);
    let line = scenario_first(&v);
    println!("{line}");
    if let Some(path) = json_out {
        match std::fs::OpenOptions::new().create(true).append(true).open(path) {
            Ok(mut f) => {
                let _ = writeln!(f, "{line}");
            }
            Err(e) => eprintln!("cannot append to {}: {e}", path.display()),
        }
    }
}

/// `v` as one line of JSON, its `"scenario"` key first (serde_json sorts
/// an object's keys; the lines are documented to start with `{"scenario":`,
/// which is what scripts grep for).
fn scenario_first(v: &Value) -> String {
    let Some(map) = v.as_object() else {
        return v.to_string();
    };
    let Some(scenario) = map.get("scenario") else {
        return v.to_string();
    };
    let rest: serde_json::Map<String, Value> = map
        .iter()
        .filter(|(k, _)| *k != "scenario")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let rest = Value::Object(rest).to_string();
    match rest.strip_prefix('{').filter(|r| *r != "}") {
        Some(r) => format!("{{\"scenario\":{scenario},{r}"),
        None => format!("{{\"scenario\":{scenario}}}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_comes_first() {
        let v = json!({"args": ["x"], "scenario": "wire", "z": 1});
        let line = scenario_first(&v);
        assert!(line.starts_with(r#"{"scenario":"wire","#), "{line}");
        assert_eq!(serde_json::from_str::<Value>(&line).unwrap(), v);
        assert_eq!(scenario_first(&json!({"scenario": 1})), r#"{"scenario":1}"#);
        assert_eq!(scenario_first(&json!({"a": 1})), r#"{"a":1}"#);
    }
}
