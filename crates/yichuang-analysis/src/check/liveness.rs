//! Liveness over the explored graph: which states can still reach a final state (the case
//! final and every ticket closed), which reach only cut-off states (unknown), and which neither
//! (a deadlock, or a cycle without exit).

use super::explore::{Approval, Explorer, Graph, Part};
use super::moves::Move;
use super::moves::describe_state;
use super::{Property, Violation};

impl Explorer {
    /// The liveness violation at `id` of `part`'s graph, whose roots are reached from the
    /// initial state by `prefixes` (none: the initial state is the only root).
    pub(super) fn liveness_violation(
        &self,
        part: Part,
        graph: &Graph,
        prefixes: &[Vec<Move>],
        (id, stuck): (u32, Stuck),
    ) -> Violation {
        let (root, path) = graph.path(id);
        let mut full = prefixes.get(root as usize).cloned().unwrap_or_default();
        full.extend(path);
        let trace = self.trace(&full);
        let start = graph.succ_start[id as usize] as usize;
        let end = graph.succ_start[id as usize + 1] as usize;
        let mut node = self.root();
        for &mv in &full {
            node = self.step(&node, mv).expect("an explored path replays").node;
        }
        let what = match part {
            Part::Ticket(slot) => {
                let ticket = &node.engine.tickets()[usize::from(slot)];
                format!("ticket {} {}", ticket.id(), ticket.state().name())
            }
            _ => describe_state(&node),
        };
        let message = if stuck == Stuck::Undecidable {
            format!(
                "the case can no longer be decided from this state ({what}): no command or timer of the hall leads \
                 to a decision, only withdrawal ends it (a join stuck, or a task without a way forward)"
            )
        } else if start == end {
            format!("deadlock: no command or timer is possible in this state ({what}), and it is not final")
        } else {
            format!(
                "no final state is reachable from this state ({what}): every path from it stays among states \
                 that are not final (a cycle without exit)"
            )
        };
        Violation { invariant: Property::Liveness, message, trace }
    }
}

/// Which liveness property a state breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stuck {
    /// It can reach no final state (a deadlock or a cycle without exit).
    NoFinal,
    /// Its case is under approval and can reach no decision by the hall's moves (withdrawal
    /// aside): a join stuck, or a task without a way forward.
    Undecidable,
}

/// Over the explored graph: how many expanded states reach only cut-off states for either
/// property (unknown), and the first (shallowest) expanded state that breaks one: it reaches
/// neither a final nor a cut-off state, or its case is under approval and it reaches neither a
/// decided case nor a cut-off state.
pub(super) fn liveness(graph: &Graph) -> (usize, Option<(u32, Stuck)>) {
    let n = graph.len();
    let expanded = graph.expanded();
    // Reverse edges in compressed form.
    let mut start = vec![0u32; n + 1];
    for &t in &graph.succ {
        start[t as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut pred = vec![0u32; graph.succ.len()];
    for from in 0..expanded {
        for &to in &graph.succ[graph.succ_start[from] as usize..graph.succ_start[from + 1] as usize] {
            pred[fill[to as usize] as usize] = from as u32;
            fill[to as usize] += 1;
        }
    }
    let reach = |seed: &dyn Fn(usize) -> bool| {
        let mut mark: Vec<bool> = (0..n).map(seed).collect();
        let mut queue: Vec<u32> = (0..n as u32).filter(|&i| mark[i as usize]).collect();
        while let Some(v) = queue.pop() {
            for &u in &pred[start[v as usize] as usize..start[v as usize + 1] as usize] {
                if !mark[u as usize] {
                    mark[u as usize] = true;
                    queue.push(u);
                }
            }
        }
        mark
    };
    let good = reach(&|i| graph.is_final[i]);
    let open = reach(&|i| i >= expanded && !graph.is_final[i]);
    let decided = reach(&|i| graph.approval[i] == Approval::Decided);
    let pending = |i: usize| graph.approval[i] == Approval::Pending && !decided[i];
    let unknown = (0..expanded).filter(|&i| (!good[i] || pending(i)) && open[i]).count();
    let stuck = (0..expanded).find_map(|i| match () {
        _ if open[i] => None,
        _ if !good[i] => Some((i as u32, Stuck::NoFinal)),
        _ if pending(i) => Some((i as u32, Stuck::Undecidable)),
        _ => None,
    });
    (unknown, stuck)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A graph with `edges[i]` the successors of state `i` for the first `edges.len()` states
    /// (expanded) and `states` states in all.
    fn graph(edges: &[&[u32]], states: usize, finals: &[u32]) -> Graph {
        let mut g = Graph::default();
        for i in 0..states {
            g.add(0, None, 0, finals.contains(&(i as u32)));
        }
        for succ in edges {
            g.succ_start.push(g.succ.len() as u32);
            g.succ.extend_from_slice(succ);
        }
        g.succ_start.push(g.succ.len() as u32);
        g
    }

    #[test]
    fn liveness_tells_final_unknown_and_stuck_states_apart() {
        // 0 → 1 (final), 2 (loops on itself: a cycle without exit), 3 → 4 (cut off at the bound).
        let g = graph(&[&[1, 2, 3], &[], &[2], &[4]], 5, &[1]);
        assert_eq!(g.expanded(), 4);
        let (unknown, stuck) = liveness(&g);
        assert_eq!(unknown, 1, "state 3 reaches only the cut-off state 4");
        assert_eq!(stuck, Some((2, Stuck::NoFinal)));
        // A deadlock: a non-final state without successors.
        let g = graph(&[&[1, 2], &[], &[]], 3, &[1]);
        assert_eq!(liveness(&g), (0, Some((2, Stuck::NoFinal))));
        // Everything can finish.
        let g = graph(&[&[1, 2], &[], &[1]], 3, &[1]);
        assert_eq!(liveness(&g), (0, None));
    }

    /// A case under approval must be able to reach a decision; withdrawing is final but is no
    /// way forward. The broken return of `tests/check.rs` is caught earlier, by invariant 3;
    /// this is the property behind it, over the graph.
    #[test]
    fn liveness_finds_a_case_that_can_only_be_withdrawn() {
        use Approval::*;
        // 0 (pending) → 1 (pending) → 2 (decided) → 3 (final); 0 → 4 (pending) → 5 (withdrawn,
        // final): 4 can finish, but only by withdrawal.
        let mut g = graph(&[&[1, 4], &[2], &[3], &[], &[5], &[]], 6, &[3, 5]);
        g.approval = vec![Pending, Pending, Decided, Other, Pending, Other];
        assert_eq!(liveness(&g), (0, Some((4, Stuck::Undecidable))));
        // With a way to a decision from 4, it holds.
        let mut g = graph(&[&[1, 4], &[2], &[3], &[], &[5, 2], &[]], 6, &[3, 5]);
        g.approval = vec![Pending, Pending, Decided, Other, Pending, Other];
        assert_eq!(liveness(&g), (0, None));
        // Cut off at the bound (6 not expanded): unknown, not a violation.
        let mut g = graph(&[&[1, 4], &[2], &[3], &[], &[5, 6], &[]], 7, &[3, 5]);
        g.approval = vec![Pending, Pending, Decided, Other, Pending, Other, Pending];
        assert_eq!(liveness(&g), (1, None));
    }
}
