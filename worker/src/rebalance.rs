//! Which partitions a worker consumes, given the live workers.
//!
//! Single active consumer alone would let the first worker take every partition. So
//! each worker consumes only the partitions assigned to it here, recomputed each
//! heartbeat from the live set in Redis: every worker computes the same answer from
//! the same set, and no coordinator is needed. The assignment is rendezvous hashing
//! with capacities `floor(P / workers)` (plus one for `P mod workers` of them): each partition goes to the worker that ranks
//! highest for it among those not yet full, so shares differ by at most one and a
//! membership change moves few partitions. During a change two workers may briefly
//! both consume a partition; single active consumer keeps only one of them active.

use splashsync_protocol::partition::fnv1a64;

/// The partitions `me` owns among `partitions`, given the sorted live worker ids.
pub fn assign(live: &[String], partitions: u16, me: &str) -> Vec<u16> {
    if live.is_empty() {
        return (0..partitions).collect();
    }
    // Every worker gets `base` partitions; `extra` of them get one more.
    let base = usize::from(partitions) / live.len();
    let mut extra = usize::from(partitions) % live.len();
    let mut load = vec![0usize; live.len()];
    let mut mine = Vec::new();
    for p in 0..partitions {
        let mut ranked: Vec<(u64, usize)> = live
            .iter()
            .enumerate()
            .map(|(i, w)| (fnv1a64(format!("{w}/{p}").as_bytes()), i))
            .collect();
        ranked.sort_unstable_by(|a, b| b.cmp(a));
        let fits = |i: usize| load[i] < base || (load[i] == base && extra > 0);
        if let Some(&(_, owner)) = ranked.iter().find(|(_, i)| fits(*i)) {
            if load[owner] == base {
                extra -= 1;
            }
            load[owner] += 1;
            if live[owner] == me {
                mine.push(p);
            }
        }
    }
    mine
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("worker-{i:02}")).collect()
    }

    #[test]
    fn every_partition_has_exactly_one_owner_and_shares_are_even() {
        for n in 1..=6 {
            let live = ids(n);
            let mut owners = vec![0; 32];
            let mut shares = Vec::new();
            for w in &live {
                let mine = assign(&live, 32, w);
                shares.push(mine.len());
                for p in mine {
                    owners[usize::from(p)] += 1;
                }
            }
            assert!(owners.iter().all(|&c| c == 1), "{n} workers: {owners:?}");
            let (min, max) = (shares.iter().min(), shares.iter().max());
            assert!(
                max.zip(min).is_some_and(|(a, b)| a - b <= 1),
                "{n} workers: {shares:?}"
            );
        }
    }

    #[test]
    fn a_worker_leaving_moves_only_a_few_partitions() {
        let four = ids(4);
        let three: Vec<String> = four[..3].to_vec();
        let mut moved = 0;
        for w in &three {
            let before = assign(&four, 32, w);
            let after = assign(&three, 32, w);
            moved += before.iter().filter(|p| !after.contains(p)).count();
        }
        // The leaver's 8 move to the others; a few more move to keep shares even.
        assert!(moved <= 8, "{moved} partitions moved between survivors");
    }
}
