//! TOML parse errors that never echo the file they came from.
//!
//! Config and key files hold keys. toml's own error text quotes the
//! offending source line and its messages quote values, so neither may reach
//! a log or a terminal as is. This module knows TOML and the names of the
//! settings; it does not know where a file came from or what a key is.

/// Names a config or key file may contain; toml quotes them in its errors
/// (`unknown field `datta`, expected one of `data`, ...`), and they are kept.
const KNOWN_NAMES: [&str; 13] = [
    "data",
    "listen",
    "log",
    "durability",
    "snapshot_interval_secs",
    "snapshot_every_records",
    "shutdown_timeout_secs",
    "workers",
    "keys",
    "admin",
    "game",
    "designer",
    "auditor",
];

/// A TOML parse error of `text` that never echoes the file's content, which
/// may be a key: toml's own text quotes the offending source line, and its
/// messages quote values (`invalid type: string "..."`). This keeps the
/// position (line and column, 1-based) and the message with every quoted
/// part replaced by `…`, except the setting names of [`KNOWN_NAMES`].
pub(crate) fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let mut out = String::new();
    if let Some(span) = e.span() {
        let before = text.get(..span.start).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        out.push_str(&format!("line {line}, column {column}: "));
    }
    out.push_str(&redact_quoted(e.message()));
    out
}

/// Replaces what is quoted in `"..."`, `'...'` or `` `...` `` with `…`,
/// except a known setting name or a bit of TOML punctuation in backticks.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find(['"', '`', '\'']) {
        let q = rest[open..].chars().next().expect("found above");
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(q) else {
            out.push(q);
            out.push('…');
            return out;
        };
        let quoted = &after[..close];
        let keep = q == '`'
            && (KNOWN_NAMES.contains(&quoted)
                || (quoted.len() <= 3 && quoted.chars().all(|c| c.is_ascii_punctuation())));
        out.push(q);
        out.push_str(if keep { quoted } else { "…" });
        out.push(q);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}
