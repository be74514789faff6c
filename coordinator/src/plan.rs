//! Where a rebalance puts each slot: every node that takes slots (ACTIVE or JOINING) holds an
//! even share of the `4096 · R` replicas, DRAINING and DRAINED nodes hold none, and as few
//! replicas move as that allows.
//!
//! The plan keeps each slot's current replicas on nodes that take slots, then trims nodes over
//! their share (the ceiling of `4096 · R / nodes`) from their highest slots down, skipping slots
//! already short of a replica so one slot does not lose all of them at once, and finally gives
//! every missing replica to the least loaded node not already holding that slot. Trimming from
//! the top keeps each node's slots in few ranges (cheap slot filters on the nodes).

use crate::shard_map::ShardMap;
use abis_proto::SLOT_COUNT;
use anyhow::bail;

/// The replicas of every slot after the rebalance, first replica first.
pub fn balanced(map: &ShardMap) -> anyhow::Result<Vec<Vec<u16>>> {
    let r = map.replication as usize;
    let takes: Vec<bool> = map.nodes.iter().map(|n| n.state.takes_slots()).collect();
    let eligible = takes.iter().filter(|&&t| t).count();
    if eligible < r {
        bail!("{eligible} nodes can hold slots but the replication factor is {r}");
    }
    let share = (SLOT_COUNT as usize * r).div_ceil(eligible);
    let mut target: Vec<Vec<u16>> = map
        .slots
        .iter()
        .map(|replicas| {
            let mut kept: Vec<u16> = Vec::with_capacity(r);
            for &n in replicas {
                if takes[usize::from(n)] && !kept.contains(&n) && kept.len() < r {
                    kept.push(n);
                }
            }
            kept
        })
        .collect();
    let mut load = vec![0usize; map.nodes.len()];
    for &n in target.iter().flatten() {
        load[usize::from(n)] += 1;
    }
    for (node, load) in load.iter_mut().enumerate() {
        for replicas in target.iter_mut().rev() {
            if *load <= share {
                break;
            }
            if replicas.len() == r && replicas.contains(&(node as u16)) {
                replicas.retain(|&n| usize::from(n) != node);
                *load -= 1;
            }
        }
    }
    for replicas in &mut target {
        while replicas.len() < r {
            let pick = (0..map.nodes.len())
                .filter(|&n| takes[n] && !replicas.contains(&(n as u16)))
                .min_by_key(|&n| (load[n], n))
                .expect("at least R nodes take slots");
            replicas.push(pick as u16);
            load[pick] += 1;
        }
    }
    even_out(map, &takes, &mut target, &mut load);
    Ok(target)
}

/// Evens out what the greedy pass left uneven (a slot can only go to a node that does not
/// hold it yet, so early choices can corner later ones): while some node holds two or more
/// replicas more than another, hands one of its *newly assigned* replicas to that node. Only
/// new assignments change hands, so this moves no more data than the greedy plan.
fn even_out(map: &ShardMap, takes: &[bool], target: &mut [Vec<u16>], load: &mut [usize]) {
    let nodes: Vec<usize> = (0..load.len()).filter(|&n| takes[n]).collect();
    loop {
        let mut by_load = nodes.clone();
        by_load.sort_by_key(|&n| (std::cmp::Reverse(load[n]), n));
        let handed = by_load.iter().find_map(|&from| {
            by_load.iter().rev().find_map(|&to| {
                if load[from] < load[to] + 2 {
                    return None;
                }
                let (f, t) = (from as u16, to as u16);
                let slot = target.iter().enumerate().position(|(s, replicas)| {
                    replicas.contains(&f) && !replicas.contains(&t) && !map.slots[s].contains(&f)
                })?;
                Some((slot, from, to))
            })
        });
        let Some((slot, from, to)) = handed else {
            return;
        };
        for n in target[slot].iter_mut() {
            if usize::from(*n) == from {
                *n = to as u16;
            }
        }
        load[from] -= 1;
        load[to] += 1;
    }
}

/// Nodes in `after` but not in `before`.
pub fn added(before: &[u16], after: &[u16]) -> Vec<u16> {
    after
        .iter()
        .copied()
        .filter(|n| !before.contains(n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard_map::{NodeEntry, NodeState};

    fn map(n: usize, r: u32) -> ShardMap {
        let nodes = (0..n)
            .map(|i| NodeEntry::new(format!("s{i}"), format!("127.0.0.1:{}", 7000 + i)))
            .collect();
        ShardMap::even(nodes, r).unwrap()
    }

    fn loads(map: &ShardMap, target: &[Vec<u16>]) -> Vec<usize> {
        let mut load = vec![0; map.nodes.len()];
        for &n in target.iter().flatten() {
            load[usize::from(n)] += 1;
        }
        load
    }

    fn moved(before: &ShardMap, after: &[Vec<u16>]) -> usize {
        (0..SLOT_COUNT as usize)
            .map(|s| added(&before.slots[s], &after[s]).len())
            .sum()
    }

    fn assert_valid(map: &ShardMap, target: &[Vec<u16>]) {
        for replicas in target {
            assert_eq!(replicas.len(), map.replication as usize);
            for (i, n) in replicas.iter().enumerate() {
                assert!(!replicas[..i].contains(n), "{replicas:?}");
                assert!(map.nodes[usize::from(*n)].state.takes_slots());
            }
        }
    }

    #[test]
    fn an_even_map_stays_put() {
        let m = map(3, 2);
        let t = balanced(&m).unwrap();
        assert_eq!(t, m.slots);
    }

    #[test]
    fn a_joining_node_gets_its_share_moving_only_that() {
        let mut m = map(3, 2);
        let mut joining = NodeEntry::new("s3", "127.0.0.1:7003");
        joining.state = NodeState::Joining;
        m.nodes.push(joining);
        let t = balanced(&m).unwrap();
        assert_valid(&m, &t);
        let load = loads(&m, &t);
        assert!(load.iter().all(|&l| l.abs_diff(2048) <= 1), "{load:?}");
        // Only the new node's share moves: 8192 / 4 replicas.
        assert_eq!(moved(&m, &t), load[3]);
    }

    #[test]
    fn a_draining_node_is_emptied_evenly() {
        let mut m = map(4, 2);
        m.nodes[1].state = NodeState::Draining;
        let t = balanced(&m).unwrap();
        assert_valid(&m, &t);
        let load = loads(&m, &t);
        assert_eq!(load[1], 0);
        let others: Vec<usize> = [0, 2, 3].iter().map(|&i| load[i]).collect();
        assert!(
            others.iter().all(|&l| l.abs_diff(8192 / 3) <= 1),
            "{load:?}"
        );
        assert_eq!(moved(&m, &t), 2048);
    }

    #[test]
    fn too_few_nodes_for_r_is_refused() {
        let mut m = map(2, 2);
        m.nodes[0].state = NodeState::Draining;
        assert!(balanced(&m).is_err());
    }

    #[test]
    fn unreplicated_growth_from_one_to_three() {
        let mut m = map(1, 1);
        for i in 1..3 {
            let mut e = NodeEntry::new(format!("s{i}"), format!("127.0.0.1:{}", 7000 + i));
            e.state = NodeState::Joining;
            m.nodes.push(e);
        }
        let t = balanced(&m).unwrap();
        assert_valid(&m, &t);
        let load = loads(&m, &t);
        assert!(load.iter().all(|&l| l.abs_diff(4096 / 3) <= 1), "{load:?}");
    }
}
