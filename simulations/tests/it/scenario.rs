use crate::common::*;
use trove_sim::Scenario;

fn error(text: &str) -> String {
    Scenario::parse(text, "bad.toml")
        .expect_err("must be refused")
        .to_string()
}

#[test]
fn validation_errors_name_the_field() {
    let e = error(&SMALL.replace(
        "hoodie = { appeal = 0.9 }",
        "hoodie = { appeal = 0.9 }\nhat = { appeal = 0.1 }",
    ));
    assert!(
        e.contains("behaviour.products: unknown product \"hat\"") && e.contains("sticker, mug, hoodie"),
        "{e}"
    );
    let e = error(&SMALL.replace("stock = 25,", "stock = -5,"));
    assert!(
        e.contains("hunt.products[1] (\"mug\"): stock must be 0 or more, not -5"),
        "{e}"
    );
    let e = error("name = \"x\"\nduration_secs = [\n");
    assert!(e.starts_with("scenario bad.toml is not valid TOML"), "{e}");
    let e = error(&SMALL.replace("duration_secs = 150", "duration_secs = 150\ndurration = 3"));
    assert!(e.contains("unknown field `durration`"), "{e}");
    let e = error(&SMALL.replace("sku = \"mug\", add = 10", "sku = \"cup\", add = 10"));
    assert!(e.contains("hunt.restocks[0]: unknown product \"cup\""), "{e}");
    let e = error(&SMALL.replace(
        "arrival = \"front_loaded\"",
        "arrival = \"front_loaded\"\nsegments = { casual = 0.5, active = 0.3 }",
    ));
    assert!(e.contains("must add up to 1"), "{e}");
    let e = error(&SMALL.replace("duplicate_share = 0.1", "duplicate_share = 1.5"));
    assert!(
        e.contains("behaviour.duplicate_share must be between 0 and 1, not 1.5"),
        "{e}"
    );
    let e = error(&SMALL.replace("arrival = \"front_loaded\"", "arrival = \"sometimes\""));
    assert!(e.contains("unknown preset \"sometimes\""), "{e}");
    let e = error(&SMALL.replace("{ id = \"b\",", "{ id = \"a\","));
    assert!(e.contains("duplicate clue id \"a\""), "{e}");
}

#[test]
fn the_binary_reports_a_bad_scenario_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_scenario(dir.path(), "bad.toml", &SMALL.replace("stock = 25,", "stock = -5,"));
    let o = sim(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("stock must be 0 or more, not -5"), "{}", text(&o));
    assert!(stderr.contains("bad.toml"), "{}", text(&o));
    let o = sim(&["check", dir.path().join("missing.toml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot read scenario"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_documented_examples_are_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples");
    for name in [
        "quickstart.toml",
        "seed-200k.toml",
        "flash-drop.toml",
        "load-smoke.toml",
    ] {
        let p = root.join(name);
        Scenario::load(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
