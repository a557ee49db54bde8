//! The event list of a replication: pending events ordered by time, then by scheduling order.
//!
//! Two tiers. Events due within the next [`RING`] quarter-minutes sit in a ring of buckets,
//! one per quarter-minute: scheduling one is a push onto its bucket, and the earliest is found
//! by stepping to the first non-empty bucket and scanning its few events. Events further ahead
//! (and the overflow of a crowded bucket) go to a binary heap of bare `u128` keys — the time's
//! bits (monotonic for times ≥ 0) above the scheduling sequence number, above the index of the
//! payload in a free-listed slab. A pop takes the smaller of the ring's earliest and the heap's
//! top, so which tier holds an event never changes the order: events come out by time, then
//! first scheduled first, exactly as with one heap of `(time, seq, payload)`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Bits of the key that hold the payload's slab index.
const SLOT_BITS: u32 = 24;
/// Most events pending at once in the heap (16.7 million).
const MAX_PENDING: usize = 1 << SLOT_BITS;
/// Most events scheduled over one replication (about 10¹²).
const MAX_SEQ: u64 = 1 << (64 - SLOT_BITS);
/// Buckets per minute (a bucket's width is 1/`PER_MINUTE` minute, a power of two so that the
/// bucket number of a time is exact).
const PER_MINUTE: f64 = 4.0;
/// Buckets in the ring (a power of two): 32 minutes ahead. Small on purpose: the ring is
/// cycled through continuously, and a larger one (2,048 buckets) cost six more last-level
/// cache misses per case than it saved in heap work.
const RING: usize = 128;
/// Most events a ring bucket holds (further events of that bucket go to the heap, so that a
/// crowded bucket never makes the scan quadratic).
const BUCKET_MAX: usize = 32;

/// An event in a ring bucket: its order key (as in the heap, slab index 0) and payload.
#[derive(Debug, Clone, Copy)]
struct Entry<T> {
    time: u64,
    seq: u64,
    what: T,
}

impl<T> Entry<T> {
    fn key(&self) -> u128 {
        (u128::from(self.time) << 64) | u128::from(self.seq << SLOT_BITS)
    }
}

/// Pending events with payloads of type `T`, popped earliest first (ties: first scheduled first).
#[derive(Debug)]
pub(crate) struct Agenda<T> {
    /// Bucket `q % RING` holds events of quarter-minute `q` (`⌊t · PER_MINUTE⌋`), for `q` in
    /// `[cur, cur + RING)`.
    ring: Box<[Vec<Entry<T>>; RING]>,
    in_ring: usize,
    /// A lower bound of the quarter-minutes of the ring's events (that of the last pop).
    cur: u64,
    heap: BinaryHeap<Reverse<u128>>,
    slab: Vec<T>,
    free: Vec<u32>,
    seq: u64,
}

impl<T: Copy> Agenda<T> {
    /// An empty agenda with room for `capacity` pending events in its heap.
    pub fn with_capacity(capacity: usize) -> Agenda<T> {
        Agenda {
            ring: Box::new(std::array::from_fn(|_| Vec::new())),
            in_ring: 0,
            cur: 0,
            heap: BinaryHeap::with_capacity(capacity),
            slab: Vec::with_capacity(capacity),
            free: Vec::with_capacity(capacity),
            seq: 0,
        }
    }

    /// Schedules `what` at time `t` (finite, ≥ 0).
    #[inline]
    pub fn push(&mut self, t: f64, what: T) {
        debug_assert!(t >= 0.0 && t.is_finite(), "events are scheduled at finite times ≥ 0: {t}");
        self.seq += 1;
        assert!(self.seq < MAX_SEQ, "more than 2^40 events scheduled in one replication");
        // +0.0 keeps -0.0 (bits above every positive time) out of the key.
        let time = (t + 0.0).to_bits();
        // The quarter-minute (`⌊4t⌋`, exact below 2^51; NaN and huge times land outside the ring).
        let quarter = if t < 1e15 { (t * PER_MINUTE) as i64 as u64 } else { u64::MAX };
        if quarter.wrapping_sub(self.cur) < RING as u64 {
            let bucket = &mut self.ring[quarter as usize & (RING - 1)];
            if bucket.len() < BUCKET_MAX {
                bucket.push(Entry { time, seq: self.seq, what });
                self.in_ring += 1;
                return;
            }
        }
        self.push_heap(time, what);
    }

    #[cold]
    #[inline(never)]
    fn push_heap(&mut self, time: u64, what: T) {
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
        let key = (u128::from(time) << 64) | u128::from(self.seq << SLOT_BITS) | u128::from(index);
        self.heap.push(Reverse(key));
    }

    /// Removes and returns the earliest event and its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(f64, T)> {
        let top = self.heap.peek().map(|r| r.0);
        if self.in_ring > 0 {
            // The first non-empty bucket from `cur` holds the ring's earliest quarter-minute; it
            // is at most RING − 1 buckets away.
            let mut quarter = self.cur;
            while self.ring[quarter as usize & (RING - 1)].is_empty() {
                quarter += 1;
            }
            let bucket = &mut self.ring[quarter as usize & (RING - 1)];
            let mut best = 0;
            let (mut time, mut seq) = (bucket[0].time, bucket[0].seq);
            for (i, e) in bucket.iter().enumerate().skip(1) {
                // Equal times are rare: compare the times, then the sequence numbers.
                if e.time < time || (e.time == time && e.seq < seq) {
                    (best, time, seq) = (i, e.time, e.seq);
                }
            }
            if top.is_none_or(|top| bucket[best].key() < top) {
                let e = bucket.swap_remove(best);
                self.in_ring -= 1;
                self.cur = quarter;
                return Some((f64::from_bits(e.time), e.what));
            }
        }
        let key = top?;
        self.heap.pop();
        let index = (key as u32) & ((1 << SLOT_BITS) - 1);
        self.free.push(index);
        let t = f64::from_bits((key >> 64) as u64);
        // Every pending event is at `t` or later: the ring may start at its quarter-minute.
        self.cur = self.cur.max((t * PER_MINUTE) as u64);
        Some((t, self.slab[index as usize]))
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
    fn both_tiers_agree_with_a_sorted_order() {
        // Far events (heap), crowded buckets (overflow) and near ones, interleaved; the
        // reference is ordered by (time, scheduling order).
        let mut a = Agenda::with_capacity(0);
        let mut reference = std::collections::BTreeSet::new();
        let (mut x, mut seq, mut now) = (987_654_321u64, 0u64, 0.0f64);
        for round in 0..20_000u32 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            for _ in 0..(x >> 62) + 1 {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let t = match x >> 61 {
                    0 => now,
                    1 => now.floor() + 0.5,
                    2 => now + ((x >> 20) % 5000) as f64,
                    _ => now + ((x >> 30) % 4096) as f64 / 64.0,
                };
                seq += 1;
                a.push(t, round);
                reference.insert((t.to_bits(), seq, round));
            }
            if round % 4 != 0 {
                let want = reference.pop_first();
                let got = a.pop();
                assert_eq!(got, want.map(|(t, _, r)| (f64::from_bits(t), r)));
                if let Some((t, _)) = got {
                    now = t;
                }
            }
        }
        let rest: Vec<(f64, u32)> = std::iter::from_fn(|| a.pop()).collect();
        assert_eq!(rest, reference.iter().map(|&(t, _, r)| (f64::from_bits(t), r)).collect::<Vec<_>>());
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
