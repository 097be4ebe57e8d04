//! Reads across partitions: the leaderboard and a hunt's grants, gathered
//! from every open partition of every node.
//!
//! Each node answers for the partitions it serves at
//! `GET /v1/cluster/local/...` (authenticated with the cluster's secret,
//! which only nodes read from etcd); the asking node merges. One request
//! per other node, in parallel, each bounded by [`REMOTE_TIMEOUT`]; a node
//! that does not answer in time is left out and the answer says how many
//! partitions it covers (`partial` in the logs, never an error).
//!
//! Merged leaderboards order by score (highest first), then player id;
//! inside one partition, equal scores keep the partition's own order
//! (who reached it first) in single-node mode, so ranks of tied players
//! may differ between a partition's board and the merged one.

use super::node::{ClusterNode, REMOTE_TIMEOUT};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashMap;

/// The header carrying the cluster's secret on node-to-node reads.
pub(crate) const SECRET_HEADER: &str = "trove-cluster-secret";

/// One partition's part of a merged leaderboard.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct PartBoard {
    pub(crate) partition: u32,
    /// Players ranked in the partition.
    pub(crate) len: u64,
    /// Entries ordered before the key (0 for a top-N query).
    pub(crate) before: u64,
    /// Up to `limit` entries before the key, then up to `limit` from it
    /// on, in merged order (a top-N query: the first `limit`).
    pub(crate) entries: Vec<(String, u64)>,
}

/// A node's answer for its partitions.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct LocalBoards {
    pub(crate) boards: Vec<PartBoard>,
    /// The score of `find`, if asked and ranked in one of these partitions.
    pub(crate) found: Option<u64>,
}

/// Merged order: higher score first, then player id.
fn cmp(a: &(String, u64), b: &(String, u64)) -> Ordering {
    b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0))
}

/// One partition's board (in the partition's order: score descending, ties
/// by who reached it first) cut for a merged query: the top `limit`, or
/// `limit` each side of `key`, in merged order. Copies only the entries
/// near the cut (plus the players tied there).
pub(crate) fn cut(
    partition: u32,
    board: &[(std::sync::Arc<str>, u64)],
    limit: usize,
    key: Option<(&str, u64)>,
) -> PartBoard {
    let len = board.len() as u64;
    let owned = |r: &[(std::sync::Arc<str>, u64)]| -> Vec<(String, u64)> {
        r.iter().map(|(p, s)| (p.to_string(), *s)).collect()
    };
    let Some((player, score)) = key else {
        let n = limit.min(board.len());
        // Players tied with the last one taken may order before it by id.
        let end = n
            .checked_sub(1)
            .map_or(0, |last| board.partition_point(|e| e.1 >= board[last].1));
        let mut entries = owned(&board[..end]);
        entries.sort_by(cmp);
        entries.truncate(limit);
        return PartBoard {
            partition,
            len,
            before: 0,
            entries,
        };
    };
    let (lo, hi) = (
        board.partition_point(|e| e.1 > score),
        board.partition_point(|e| e.1 >= score),
    );
    let k = (player.to_owned(), score);
    let mut ties = owned(&board[lo..hi]);
    ties.sort_by(cmp);
    let tied_before = ties.partition_point(|e| cmp(e, &k) == Ordering::Less);
    let mut entries = owned(&board[lo.saturating_sub(limit)..lo]);
    entries.extend(ties);
    entries.extend(owned(&board[hi..(hi + limit).min(board.len())]));
    entries.sort_by(cmp);
    let at = lo.min(limit) + tied_before;
    let start = at.saturating_sub(limit);
    let end = (at + limit).min(entries.len());
    PartBoard {
        partition,
        len,
        before: (lo + tied_before) as u64,
        entries: entries[start..end].to_vec(),
    }
}

/// Merges partitions' cuts: `(rank, player, score)` of the top `limit`, or
/// of the window of `limit` around the key player (as a single board's
/// query does: the window stays full near the bottom).
pub(crate) fn merge(parts: &[PartBoard], limit: usize, key: Option<(&str, u64)>) -> Vec<(u64, String, u64)> {
    let mut all: Vec<(String, u64)> = parts.iter().flat_map(|p| p.entries.iter().cloned()).collect();
    all.sort_by(cmp);
    let Some((player, score)) = key else {
        return all
            .into_iter()
            .take(limit)
            .enumerate()
            .map(|(i, (p, s))| (i as u64 + 1, p, s))
            .collect();
    };
    let k = (player.to_owned(), score);
    let Some(at) = all.iter().position(|e| *e == k) else {
        return Vec::new();
    };
    let global_pos = parts.iter().map(|p| p.before).sum::<u64>();
    let total: u64 = parts.iter().map(|p| p.len).sum();
    let start = global_pos
        .saturating_sub(limit as u64 / 2)
        .min(total.saturating_sub(limit as u64));
    all.into_iter()
        .enumerate()
        .filter_map(|(j, (p, s))| {
            let pos = (global_pos + j as u64).checked_sub(at as u64)?;
            (pos >= start && pos < start + limit as u64).then_some((pos + 1, p, s))
        })
        .collect()
}

impl ClusterNode {
    /// This node's cuts of `hunt`'s boards, and the score of `find` if one
    /// of its partitions ranks that player.
    pub(crate) fn local_boards(
        &self,
        hunt: &str,
        limit: usize,
        key: Option<(&str, u64)>,
        find: Option<&str>,
    ) -> LocalBoards {
        let mut out = LocalBoards::default();
        for slot in self.open_slots() {
            let Some(board) = slot.core.projection.board(hunt) else {
                continue;
            };
            if let Some(f) = find {
                if let Some(i) = board.position(f) {
                    out.found = Some(board.entries[i].1);
                }
            }
            out.boards.push(cut(slot.partition, &board.entries, limit, key));
        }
        out
    }

    /// Grants of `hunt` per sku over this node's partitions.
    pub(crate) async fn local_granted(&self, hunt: &str) -> HashMap<String, u64> {
        let mut out: HashMap<String, u64> = HashMap::new();
        for slot in self.open_slots() {
            if let Ok(h) = slot.core.engine.hunt(hunt).await {
                for (i, p) in h.def.products.iter().enumerate() {
                    *out.entry(p.sku.clone()).or_default() += h.granted[i];
                }
            }
        }
        out
    }

    /// URLs of the other live nodes.
    fn others(&self) -> Vec<String> {
        let me = self.node_id();
        self.view
            .read()
            .nodes
            .iter()
            .filter(|(id, _)| *id != me)
            .map(|(_, url)| url.clone())
            .collect()
    }

    /// GETs `path` from every other node, in parallel; failures are logged and left out.
    async fn gather<T: serde::de::DeserializeOwned>(&self, path: &str) -> Vec<T> {
        let secret = self.etcd().secret().to_owned();
        let calls = self.others().into_iter().map(|url| {
            let req = self
                .http
                .get(format!("{url}{path}"))
                .header(SECRET_HEADER, secret.clone())
                .timeout(REMOTE_TIMEOUT);
            async move {
                let r = req.send().await.and_then(|r| r.error_for_status());
                match r {
                    Ok(r) => r.json::<T>().await.map_err(|e| (url, e)),
                    Err(e) => Err((url, e)),
                }
            }
        });
        futures_util::future::join_all(calls)
            .await
            .into_iter()
            .filter_map(|r| {
                r.map_err(|(url, e)| tracing::warn!(%url, error = %e, "a node's part of a merged read is missing"))
                    .ok()
            })
            .collect()
    }

    /// A merged leaderboard of `hunt` over every partition of the cluster.
    pub(crate) async fn merged_leaderboard(
        &self,
        hunt: &str,
        limit: usize,
        around: Option<&str>,
    ) -> Vec<(u64, String, u64)> {
        let enc = |s: &str| {
            serde_urlencoded::to_string([("v", s)])
                .unwrap_or_default()
                .trim_start_matches("v=")
                .to_owned()
        };
        let key = match around {
            None => None,
            Some(player) => {
                let local = self.local_boards(hunt, 0, None, Some(player)).found;
                let score = match local {
                    Some(s) => Some(s),
                    None => {
                        let path = format!("/v1/cluster/local/boards/{}?limit=0&find={}", enc(hunt), enc(player));
                        self.gather::<LocalBoards>(&path)
                            .await
                            .into_iter()
                            .find_map(|b| b.found)
                    }
                };
                match score {
                    Some(s) => Some((player, s)),
                    None => return Vec::new(),
                }
            }
        };
        let mut parts = self.local_boards(hunt, limit, key, None).boards;
        let mut path = format!("/v1/cluster/local/boards/{}?limit={limit}", enc(hunt));
        if let Some((p, s)) = key {
            path.push_str(&format!("&player={}&score={s}", enc(p)));
        }
        for remote in self.gather::<LocalBoards>(&path).await {
            parts.extend(remote.boards);
        }
        merge(&parts, limit, key)
    }

    /// Grants of `hunt` per sku over every partition of the cluster.
    pub(crate) async fn granted(&self, hunt: &str) -> HashMap<String, u64> {
        let mut total = self.local_granted(hunt).await;
        let enc = serde_urlencoded::to_string([("v", hunt)]).unwrap_or_default();
        let path = format!("/v1/cluster/local/granted/{}", enc.trim_start_matches("v="));
        for remote in self.gather::<HashMap<String, u64>>(&path).await {
            for (sku, n) in remote {
                *total.entry(sku).or_default() += n;
            }
        }
        total
    }
}

/// Grants of `hunt` per sku over the cluster (see [`ClusterNode::granted`]).
pub(crate) async fn granted(node: &ClusterNode, hunt: &str) -> HashMap<String, u64> {
    node.granted(hunt).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn board(v: &[(&str, u64)]) -> Vec<(Arc<str>, u64)> {
        v.iter().map(|(p, s)| (Arc::from(*p), *s)).collect()
    }

    #[test]
    fn top_n_merges_partitions_by_score_then_player() {
        let a = cut(0, &board(&[("ann", 50), ("cid", 30), ("eve", 10)]), 2, None);
        let b = cut(1, &board(&[("bob", 40), ("dan", 30)]), 2, None);
        let m = merge(&[a, b], 3, None);
        assert_eq!(
            m,
            vec![(1, "ann".into(), 50), (2, "bob".into(), 40), (3, "cid".into(), 30)]
        );
    }

    #[test]
    fn around_a_player_ranks_as_one_board_would() {
        // Reference: one board of everyone, in merged order.
        let everyone: Vec<(&str, u64)> = (0..40).map(|i| (["p", "q"][i % 2], i as u64)).collect::<Vec<_>>();
        let names: Vec<String> = (0..40).map(|i| format!("{}{i:02}", everyone[i].0)).collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for (i, n) in names.iter().enumerate() {
            let e = (Arc::<str>::from(n.as_str()), (i as u64 * 7) % 23);
            if i % 3 == 0 {
                a.push(e)
            } else {
                b.push(e)
            }
        }
        // A partition's board: score descending, ties in the order reached
        // (here: insertion order, which is not player order).
        a.sort_by_key(|x| std::cmp::Reverse(x.1));
        b.sort_by_key(|x| std::cmp::Reverse(x.1));
        let mut all: Vec<(String, u64)> = a.iter().chain(&b).map(|(p, s)| (p.to_string(), *s)).collect();
        all.sort_by(cmp);
        // Every player as the key, several window sizes: the merged window
        // equals the one board's.
        for limit in [1, 2, 5, 8, 40, 100] {
            for (player, score) in &all {
                let key = Some((player.as_str(), *score));
                let m = merge(&[cut(0, &a, limit, key), cut(1, &b, limit, key)], limit, key);
                assert_eq!(m, query(&all, limit, player), "around {player}, limit {limit}");
            }
            let top = merge(&[cut(0, &a, limit, None), cut(1, &b, limit, None)], limit, None);
            let want: Vec<(u64, String, u64)> = all
                .iter()
                .take(limit)
                .enumerate()
                .map(|(i, (p, s))| (i as u64 + 1, p.clone(), *s))
                .collect();
            assert_eq!(top, want, "top {limit}");
        }
        // Near the bottom the window stays full.
        let last = all.last().unwrap().clone();
        let key = Some((last.0.as_str(), last.1));
        let m = merge(&[cut(0, &a, 5, key), cut(1, &b, 5, key)], 5, key);
        assert_eq!(m, query(&all, 5, &last.0));
        assert_eq!(m.len(), 5);
    }

    /// The single-board window of `Board::query`, on a merged-order list.
    fn query(all: &[(String, u64)], limit: usize, around: &str) -> Vec<(u64, String, u64)> {
        let pos = all.iter().position(|e| e.0 == around).unwrap();
        let start = pos.saturating_sub(limit / 2).min(all.len().saturating_sub(limit));
        all.iter()
            .enumerate()
            .skip(start)
            .take(limit)
            .map(|(i, (p, s))| (i as u64 + 1, p.clone(), *s))
            .collect()
    }
}
