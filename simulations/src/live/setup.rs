//! The hunt on the server, over HTTP through `trove_client::HttpClient`: its
//! id and names for this run ([`names`]), its definition from the scenario,
//! timed from the run's start ([`define_hunt`]), and the scenario's restocks
//! at their moment ([`restock`]).

use super::fail::status;
use crate::error::SimError;
use crate::model::{Names, Tick};
use crate::scenario::Scenario;
use std::borrow::Cow;
use tokio::sync::mpsc;
use trove_client::HttpClient;
use trove_protocol::{ClueDefinition, HuntDefinition, ProductDefinition, Time};

/// A restock's outcome: (tick, product index, units, `Ok` or the error kind).
pub(crate) type Restocked = (Tick, usize, u64, Result<(), String>);

/// Unix time in milliseconds.
pub(crate) fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The run's names: the hunt id (`hunt_id`, by default `<scenario hunt
/// id>-<unix seconds>`) and a claim-id prefix unique to this run (claim ids are scoped
/// to the player across hunts, and the server may know these players).
pub(crate) fn names(sc: &Scenario, hunt_id: Option<&str>) -> Names {
    let wall_ms = unix_ms();
    let hunt_id = hunt_id
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}-{}", sc.hunt.id, wall_ms / 1000));
    let mut names = Names::new(sc, &hunt_id);
    names.claim_prefix = format!("{}-", base36(u64::try_from(wall_ms).unwrap_or(0)));
    names
}

/// The scenario's hunt as posted, opening `start_ms` (its `opens_at_secs`
/// and `closes_at_secs` counted from there).
fn definition<'a>(sc: &'a Scenario, hunt_id: &'a str, start_ms: i64) -> HuntDefinition<'a> {
    let h = &sc.hunt;
    HuntDefinition {
        id: Cow::Borrowed(hunt_id),
        name: Some(Cow::Borrowed(&h.name)),
        opens_at: (h.opens_at_secs > 0).then(|| Time(start_ms + i64::from(h.opens_at_secs) * 1000)),
        closes_at: Some(Time(start_ms + i64::from(h.closes_at_secs) * 1000)),
        clues: h
            .clues
            .iter()
            .map(|c| ClueDefinition {
                id: Cow::Borrowed(&c.id),
                points: c.points,
            })
            .collect(),
        products: h
            .products
            .iter()
            .map(|p| ProductDefinition {
                sku: Cow::Borrowed(&p.sku),
                stock: p.stock,
                per_player_limit: p.per_player_limit,
                min_score: p.min_score,
            })
            .collect(),
    }
}

/// `POST /v1/hunts` with the scenario's hunt (a designer or admin key).
pub(crate) async fn define_hunt(
    http: &HttpClient,
    sc: &Scenario,
    hunt_id: &str,
    start_ms: i64,
) -> Result<(), SimError> {
    http.define_hunt(&definition(sc, hunt_id, start_ms))
        .await
        .map(drop)
        .map_err(|e| match status(&e) {
            Some(s) => SimError::Live(format!("defining hunt {hunt_id:?} failed with HTTP {s}: {e}")),
            None => SimError::Live(format!("defining hunt {hunt_id:?} failed: {e}")),
        })
}

/// Adds `add` units of product `p` in the background
/// (`POST /v1/hunts/{hunt}/products/{sku}/stock`); the outcome goes to `done`.
pub(crate) fn restock(
    http: &HttpClient,
    names: &Names,
    t: Tick,
    p: usize,
    add: u64,
    done: mpsc::UnboundedSender<Restocked>,
) {
    let (http, hunt, sku) = (http.clone(), names.hunt.clone(), names.skus[p].clone());
    tokio::spawn(async move {
        let r = match http.add_stock(&hunt, &sku, add).await {
            Ok(_) => Ok(()),
            Err(e) => Err(match status(&e) {
                Some(s) => format!("restock_http_{s}: {e}"),
                None => e.to_string(),
            }),
        };
        let _ = done.send((t, p, add, r));
    });
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_prefixes_are_base36() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36 * 36 + 1), "101");
    }
}
