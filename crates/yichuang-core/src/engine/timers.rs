//! The engine's timer queue: each stream's earliest pending timer, one entry per stream.
//!
//! An indexed binary min-heap ordered by (instant, stream): cases before tickets at the same
//! instant, then by number. Each stream's heap position is tracked, so a deadline that moves
//! (a task's clock starts, stops, or the case is delivered) is updated in place instead of
//! leaving a stale entry behind: the heap holds exactly the streams that have a timer.

use std::collections::VecDeque;

use crate::event::{CaseId, StreamId};
use crate::machine::ticket::TicketId;
use crate::time::Instant;

/// One entry: when and whose, packed so that one integer comparison orders entries by
/// (instant, stream): the instant (sign bit flipped, so that unsigned order is time order) in
/// the high half; in the low half the stream's number, with the top bit set for a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry(u128);

const TICKET: u64 = 1 << 63;

impl Entry {
    fn new(at: Instant, stream: StreamId) -> Entry {
        let when = (at.minutes() as u64) ^ (1 << 63);
        let whose = match stream {
            StreamId::Case(c) => c.0,
            StreamId::Ticket(t) => TICKET | t.0,
        };
        Entry((u128::from(when) << 64) | u128::from(whose))
    }

    fn at(self) -> Instant {
        Instant::from_minutes(((self.0 >> 64) as u64 ^ (1 << 63)) as i64)
    }

    fn whose(self) -> u64 {
        self.0 as u64
    }

    fn stream(self) -> StreamId {
        let whose = self.whose();
        if whose & TICKET == 0 { StreamId::Case(CaseId(whose)) } else { StreamId::Ticket(TicketId(whose & !TICKET)) }
    }
}

/// Position (+1, 0 for none) of each stream's entry in the heap.
const NONE: u32 = 0;

/// Earliest pending timer per stream, in an indexed binary heap.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerQueue {
    heap: Vec<Entry>,
    /// Heap position + 1 of each case's entry, by case number − 1 − `dropped` (0: none).
    cases: VecDeque<u32>,
    /// Cases forgotten at the front (retired, without a timer).
    dropped: u64,
    /// Heap position + 1 of each ticket's entry, by ticket slot (0: none).
    tickets: Vec<u32>,
}

impl TimerQueue {
    /// Registers the next case (slot = number − 1), without a timer.
    pub fn add_case(&mut self) {
        self.cases.push_back(NONE);
    }

    /// Forgets the cases numbered below `first` (all retired, so without a timer).
    pub fn forget_cases_before(&mut self, first: u64) {
        while self.dropped + 1 < first {
            let position = self.cases.pop_front();
            debug_assert_eq!(position, Some(NONE), "a retired case has no timer");
            self.dropped += 1;
        }
    }

    /// Registers the next ticket, without a timer.
    pub fn add_ticket(&mut self) {
        self.tickets.push(NONE);
    }

    /// Makes room for `additional` cases.
    pub fn reserve_cases(&mut self, additional: usize) {
        self.cases.reserve(additional);
    }

    /// The position slot of a stream, by its packed number.
    #[inline]
    fn slot_mut(&mut self, whose: u64) -> &mut u32 {
        if whose & TICKET == 0 {
            &mut self.cases[(whose - 1 - self.dropped) as usize]
        } else {
            &mut self.tickets[((whose & !TICKET) - 1) as usize]
        }
    }

    fn slot(&self, stream: StreamId) -> u32 {
        match stream {
            StreamId::Case(c) => self.cases[(c.0 - 1 - self.dropped) as usize],
            StreamId::Ticket(t) => self.tickets[t.0 as usize - 1],
        }
    }

    /// The stream's pending timer.
    pub fn get(&self, stream: StreamId) -> Option<Instant> {
        match self.slot(stream) {
            NONE => None,
            p => Some(self.heap[p as usize - 1].at()),
        }
    }

    /// Sets (or clears) the stream's pending timer.
    pub fn set(&mut self, stream: StreamId, at: Option<Instant>) {
        match (self.slot(stream), at) {
            (NONE, None) => {}
            (NONE, Some(t)) => {
                self.heap.push(Entry::new(t, stream));
                let last = self.heap.len() - 1;
                self.sift_up(last);
            }
            (p, None) => self.remove_at(p as usize - 1),
            (p, Some(t)) => {
                let i = p as usize - 1;
                let old = self.heap[i];
                let new = Entry::new(t, stream);
                if new != old {
                    self.heap[i] = new;
                    if new < old { self.sift_up(i) } else { self.sift_down(i) }
                }
            }
        }
    }

    /// The earliest entry.
    pub fn peek(&self) -> Option<(Instant, StreamId)> {
        self.heap.first().map(|e| (e.at(), e.stream()))
    }

    /// Number of streams with a timer.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    #[inline]
    fn place(&mut self, i: usize, entry: Entry) {
        self.heap[i] = entry;
        *self.slot_mut(entry.whose()) = i as u32 + 1;
    }

    fn sift_up(&mut self, mut i: usize) {
        let entry = self.heap[i];
        while i > 0 {
            let parent = (i - 1) / 2;
            let p = self.heap[parent];
            if p <= entry {
                break;
            }
            self.place(i, p);
            i = parent;
        }
        self.place(i, entry);
    }

    fn sift_down(&mut self, mut i: usize) {
        let entry = self.heap[i];
        let n = self.heap.len();
        loop {
            let left = 2 * i + 1;
            if left >= n {
                break;
            }
            let right = left + 1;
            let child = if right < n && self.heap[right] < self.heap[left] { right } else { left };
            let c = self.heap[child];
            if c >= entry {
                break;
            }
            self.place(i, c);
            i = child;
        }
        self.place(i, entry);
    }

    fn remove_at(&mut self, i: usize) {
        let removed = self.heap[i].whose();
        *self.slot_mut(removed) = NONE;
        let last = self.heap.pop().expect("an entry is at i");
        if i < self.heap.len() {
            self.place(i, last);
            self.sift_down(i);
            self.sift_up(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(m: i64) -> Instant {
        Instant::from_minutes(m)
    }

    /// The queue against a naive model (one optional deadline per stream, minimum by scan),
    /// over a deterministic pseudo-random sequence of updates.
    #[test]
    fn agrees_with_a_scan_of_every_stream() {
        let mut q = TimerQueue::default();
        let (cases, tickets) = (40usize, 10usize);
        for _ in 0..cases {
            q.add_case();
        }
        for _ in 0..tickets {
            q.add_ticket();
        }
        let mut model: Vec<(StreamId, Option<Instant>)> = (1..=cases as u64)
            .map(|c| (StreamId::Case(CaseId(c)), None))
            .chain((1..=tickets as u64).map(|t| (StreamId::Ticket(TicketId(t)), None)))
            .collect();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for step in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % model.len() as u64) as usize;
            // Few distinct instants, so that ties between streams are frequent; some before
            // 1970, where the packed key's sign handling matters.
            let value = if x >> 60 < 4 { None } else { Some(at(((x >> 20) % 16) as i64 - 4)) };
            model[i].1 = value;
            q.set(model[i].0, value);
            if step % 7 == 0
                && let Some((t, s)) = q.peek()
            {
                // Fire the earliest, as the engine does.
                q.set(s, None);
                let j = model.iter().position(|(m, _)| *m == s).unwrap();
                assert_eq!(model[j].1, Some(t));
                model[j].1 = None;
            }
            let expected = model.iter().filter_map(|(s, t)| t.map(|t| (t, *s))).min();
            assert_eq!(q.peek(), expected, "step {step}");
            assert_eq!(q.len(), model.iter().filter(|(_, t)| t.is_some()).count());
            assert!(model.iter().all(|(s, t)| q.get(*s) == *t));
        }
    }
}
