//! Reading back the few series the `stats` topic needs from the Prometheus
//! text this server renders (`metrics-exporter-prometheus`): the console's
//! figures come from the counters the server already keeps, so sampling
//! them costs the hot path nothing. Only the line shapes that exporter
//! writes are read (`name{label="value",...} number`); comments and other
//! families are skipped, and a line that does not parse is ignored rather
//! than trusted.

use std::collections::BTreeMap;

/// One sample: its labels and value.
#[derive(Debug, PartialEq)]
pub(crate) struct Sample {
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

/// Every sample of metric `name` (exactly; `x_bucket` is its own name).
pub(crate) fn samples(text: &str, name: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| parse_line(l).filter(|(n, _)| *n == name).map(|(_, s)| s))
        .collect()
}

/// The sum of every sample of `name` whose labels include all of `with`.
pub(crate) fn sum(text: &str, name: &str, with: &[(&str, &str)]) -> f64 {
    samples(text, name)
        .iter()
        .filter(|s| {
            with.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

fn parse_line(line: &str) -> Option<(&str, Sample)> {
    let line = line.trim();
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(body) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(body)?;
        labels = parsed;
        rest = after;
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some((name, Sample { labels, value }))
}

/// `k="v",k2="v2"}` → the labels and what follows the `}`.
fn parse_labels(mut s: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        s = s.trim_start_matches(',');
        if let Some(after) = s.strip_prefix('}') {
            return Some((labels, after));
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim().to_owned();
        let quoted = s[eq + 1..].strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key, value);
        s = &quoted[end + 1..];
    }
}

/// The `q` quantile (0..1) of the observations between two readings of a
/// cumulative histogram, as Prometheus' `histogram_quantile` estimates it:
/// linear within the bucket that holds it. `before` and `after` are
/// `(le, cumulative count)` pairs; `None` when nothing was observed.
pub(crate) fn quantile(before: &[(f64, f64)], after: &[(f64, f64)], q: f64) -> Option<f64> {
    let delta: Vec<(f64, f64)> = after
        .iter()
        .map(|&(le, n)| {
            let old = before.iter().find(|(b, _)| *b == le).map_or(0.0, |(_, c)| *c);
            (le, (n - old).max(0.0))
        })
        .collect();
    let total = delta.iter().find(|(le, _)| le.is_infinite()).map(|(_, n)| *n)?;
    if total <= 0.0 {
        return None;
    }
    let target = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for &(le, n) in &delta {
        if n >= target {
            if le.is_infinite() {
                return Some(lower);
            }
            let within = n - below;
            let frac = if within > 0.0 { (target - below) / within } else { 1.0 };
            return Some(lower + (le - lower) * frac);
        }
        (lower, below) = (le, n);
    }
    Some(lower)
}

/// The `(le, cumulative count)` pairs of histogram `name`, summed over the
/// samples whose `label` is one of `values`, in `le` order.
pub(crate) fn buckets(text: &str, name: &str, label: &str, values: &[&str]) -> Vec<(f64, f64)> {
    let mut by_le: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for s in samples(text, &format!("{name}_bucket")) {
        let wanted = s.labels.get(label).is_some_and(|v| values.contains(&v.as_str()));
        let le = s.labels.get("le").and_then(|v| match v.as_str() {
            "+Inf" => Some(f64::INFINITY),
            v => v.parse::<f64>().ok(),
        });
        if let (true, Some(le)) = (wanted, le) {
            // Order by the float's bits: every `le` is positive.
            by_le.entry(le.to_bits()).or_insert((le, 0.0)).1 += s.value;
        }
    }
    by_le.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# TYPE trove_claims_total counter
trove_claims_total{outcome="granted",duplicate="false"} 7
trove_claims_total{outcome="granted",duplicate="true"} 2
trove_claims_total{outcome="out_of_stock",duplicate="false"} 3
trove_events_total 120
trove_api_ack_seconds_bucket{op="claim",le="0.001"} 2
trove_api_ack_seconds_bucket{op="claim",le="0.002"} 8
trove_api_ack_seconds_bucket{op="claim",le="+Inf"} 10
trove_api_ack_seconds_bucket{op="player",le="+Inf"} 99
trove_weird{label="a \"quoted\" \\ value"} 1
not a metric line at all
"#;

    #[test]
    fn reads_counters_by_label() {
        assert_eq!(sum(TEXT, "trove_events_total", &[]), 120.0);
        assert_eq!(sum(TEXT, "trove_claims_total", &[("outcome", "granted")]), 9.0);
        assert_eq!(
            sum(
                TEXT,
                "trove_claims_total",
                &[("duplicate", "false"), ("outcome", "granted")]
            ),
            7.0
        );
        let weird = samples(TEXT, "trove_weird");
        assert_eq!(weird[0].labels["label"], r#"a "quoted" \ value"#);
        assert!(samples(TEXT, "not").is_empty());
    }

    #[test]
    fn quantiles_interpolate_within_the_bucket() {
        let after = buckets(TEXT, "trove_api_ack_seconds", "op", &["claim", "events"]);
        assert_eq!(after, [(0.001, 2.0), (0.002, 8.0), (f64::INFINITY, 10.0)]);
        // Median: the 5th of 10, the 3rd of 6 in (0.001, 0.002].
        let p50 = quantile(&[], &after, 0.5).unwrap();
        assert!((p50 - 0.0015).abs() < 1e-9, "{p50}");
        // p99 falls in +Inf: the largest finite bound.
        assert_eq!(quantile(&[], &after, 0.99), Some(0.002));
        // Nothing new between two equal readings.
        assert_eq!(quantile(&after, &after, 0.5), None);
    }
}
