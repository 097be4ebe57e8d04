//! Who should own which partition: [`plan`], a pure function every node
//! evaluates on the same [`View`](crate::View), so all agree without talking.
//!
//! - **Even:** with `n` live nodes each gets `P / n` partitions, and the
//!   first `P % n` of them (by id) one more.
//! - **Sticky:** a partition stays with its live owner while that owner is
//!   within its share, so a join or a leave moves only the partitions it
//!   must.
//! - **Bounded:** at most `max_moves` partitions that a live node owns are
//!   planned away from it per evaluation; the rest stay until later rounds.
//!   Orphans (no owner, or a dead one) are always placed.

/// The planned owner of each partition (`None` only when no node is live).
pub fn plan(partitions: u32, live: &[String], owners: &[Option<String>], max_moves: usize) -> Vec<Option<String>> {
    let mut nodes: Vec<&String> = live.iter().collect();
    nodes.sort();
    nodes.dedup();
    let n = nodes.len();
    if n == 0 {
        return vec![None; partitions as usize];
    }
    let p = partitions as usize;
    let quota: Vec<usize> = (0..n).map(|i| p / n + usize::from(i < p % n)).collect();
    let index = |id: &str| nodes.binary_search_by(|x| x.as_str().cmp(id)).ok();
    let mut load = vec![0usize; n];
    let mut planned: Vec<Option<usize>> = vec![None; p];
    // Current owners keep what fits in their share.
    for (part, owner) in owners.iter().enumerate().take(p) {
        if let Some(i) = owner.as_deref().and_then(index) {
            if load[i] < quota[i] {
                load[i] += 1;
                planned[part] = Some(i);
            }
        }
    }
    // Over-share partitions of live owners: move at most `max_moves`.
    let mut moves = 0;
    for (part, owner) in owners.iter().enumerate().take(p) {
        if planned[part].is_some() {
            continue;
        }
        if let Some(i) = owner.as_deref().and_then(index) {
            if moves >= max_moves {
                load[i] += 1;
                planned[part] = Some(i);
            } else {
                moves += 1;
            }
        }
    }
    // Everything unplanned goes to the node furthest under its share.
    for slot in planned.iter_mut() {
        if slot.is_none() {
            let i = (0..n)
                .max_by_key(|&i| (quota[i] as isize - load[i] as isize, std::cmp::Reverse(i)))
                .expect("n > 0");
            load[i] += 1;
            *slot = Some(i);
        }
    }
    planned.into_iter().map(|i| i.map(|i| nodes[i].clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn count(plan: &[Option<String>], node: &str) -> usize {
        plan.iter().filter(|o| o.as_deref() == Some(node)).count()
    }

    #[test]
    fn an_empty_cluster_is_spread_evenly() {
        let p = plan(64, &ids(&["b", "a", "c"]), &vec![None; 64], 4);
        assert_eq!((count(&p, "a"), count(&p, "b"), count(&p, "c")), (22, 21, 21));
    }

    #[test]
    fn a_dead_nodes_partitions_go_to_the_living_and_nothing_else_moves() {
        let nodes = ids(&["a", "b", "c"]);
        let first = plan(12, &nodes, &vec![None; 12], 4);
        let second = plan(12, &ids(&["a", "b"]), &first, 4);
        for (before, after) in first.iter().zip(&second) {
            if before.as_deref() != Some("c") {
                assert_eq!(before, after, "a survivor's partition moved");
            }
        }
        assert_eq!((count(&second, "a"), count(&second, "b")), (6, 6));
    }

    #[test]
    fn a_join_moves_at_most_max_moves_per_round_and_converges() {
        let mut owners = plan(64, &ids(&["a", "b"]), &vec![None; 64], 4);
        let nodes = ids(&["a", "b", "c"]);
        let mut rounds = 0;
        loop {
            let next = plan(64, &nodes, &owners, 4);
            let moved = owners.iter().zip(&next).filter(|(o, n)| o.is_some() && o != n).count();
            assert!(moved <= 4, "{moved} moved at once");
            if moved == 0 {
                break;
            }
            // The releasing nodes let go; the partitions are orphans, then placed.
            for (o, n) in owners.iter_mut().zip(&next) {
                if o != n {
                    *o = None;
                }
            }
            owners = plan(64, &nodes, &owners, 4);
            rounds += 1;
            assert!(rounds < 20);
        }
        assert_eq!(
            (count(&owners, "a"), count(&owners, "b"), count(&owners, "c")),
            (22, 21, 21)
        );
    }

    #[test]
    fn no_live_node_plans_nothing() {
        assert_eq!(plan(3, &[], &[Some("a".into()), None, None], 1), vec![None, None, None]);
    }
}
