//! The event list of a replication: pending events ordered by time, then by scheduling order.
//!
//! The heap holds bare `u128` keys — the time's bits (monotonic for times ≥ 0) above the
//! scheduling sequence number, above the index of the payload in a free-listed slab — so that a
//! pop sifts 16-byte integers with one comparison each, and the payloads never move. The
//! sequence number is unique, so the slab index never decides the order: events come out by
//! time, then first scheduled first, exactly as with a heap of `(time, seq, payload)`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Bits of the key that hold the payload's slab index.
const SLOT_BITS: u32 = 24;
/// Most events pending at once (16.7 million).
const MAX_PENDING: usize = 1 << SLOT_BITS;
/// Most events scheduled over one replication (about 10¹²).
const MAX_SEQ: u64 = 1 << (64 - SLOT_BITS);

/// Pending events with payloads of type `T`, popped earliest first (ties: first scheduled first).
#[derive(Debug)]
pub(crate) struct Agenda<T> {
    heap: BinaryHeap<Reverse<u128>>,
    slab: Vec<T>,
    free: Vec<u32>,
    seq: u64,
}

impl<T: Copy> Agenda<T> {
    /// An empty agenda with room for `capacity` pending events.
    pub fn with_capacity(capacity: usize) -> Agenda<T> {
        Agenda {
            heap: BinaryHeap::with_capacity(capacity),
            slab: Vec::with_capacity(capacity),
            free: Vec::with_capacity(capacity),
            seq: 0,
        }
    }

    /// Schedules `what` at time `t` (finite, ≥ 0).
    pub fn push(&mut self, t: f64, what: T) {
        debug_assert!(t >= 0.0 && t.is_finite(), "events are scheduled at finite times ≥ 0: {t}");
        self.seq += 1;
        assert!(self.seq < MAX_SEQ, "more than 2^40 events scheduled in one replication");
        let index = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = what;
                i
            }
            None => {
                assert!(self.slab.len() < MAX_PENDING, "more than 2^24 events pending at once");
                self.slab.push(what);
                (self.slab.len() - 1) as u32
            }
        };
        // +0.0 keeps -0.0 (bits above every positive time) out of the key.
        let key = (u128::from((t + 0.0).to_bits()) << 64) | u128::from(self.seq << SLOT_BITS) | u128::from(index);
        self.heap.push(Reverse(key));
    }

    /// Removes and returns the earliest event and its time.
    pub fn pop(&mut self) -> Option<(f64, T)> {
        let Reverse(key) = self.heap.pop()?;
        let index = (key as u32) & ((1 << SLOT_BITS) - 1);
        self.free.push(index);
        Some((f64::from_bits((key >> 64) as u64), self.slab[index as usize]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_scheduling_order() {
        let mut a = Agenda::with_capacity(4);
        a.push(5.0, 'a');
        a.push(1.5, 'b');
        a.push(5.0, 'c');
        a.push(0.0, 'd');
        assert_eq!(a.pop(), Some((0.0, 'd')));
        // Slots are reused; the order stays (time, sequence).
        a.push(5.0, 'e');
        a.push(1.5, 'f');
        let order: Vec<(f64, char)> = std::iter::from_fn(|| a.pop()).collect();
        assert_eq!(order, vec![(1.5, 'b'), (1.5, 'f'), (5.0, 'a'), (5.0, 'c'), (5.0, 'e')]);
        assert_eq!(a.pop(), None);
    }

    #[test]
    fn agrees_with_a_sorted_order_under_churn() {
        // Pseudo-random times with many ties, interleaved pushes and pops.
        let mut a = Agenda::with_capacity(0);
        let mut reference: Vec<(u64, u64, u32)> = Vec::new();
        let (mut x, mut seq) = (12_345u64, 0u64);
        for round in 0..5_000u32 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            for _ in 0..(x >> 62) {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let t = (x >> 54) as f64 / 4.0;
                seq += 1;
                a.push(t, round);
                reference.push((t.to_bits(), seq, round));
            }
            if round % 3 != 0 {
                reference.sort_unstable();
                let want = (!reference.is_empty()).then(|| reference.remove(0));
                assert_eq!(a.pop(), want.map(|(t, _, r)| (f64::from_bits(t), r)));
            }
        }
    }
}
