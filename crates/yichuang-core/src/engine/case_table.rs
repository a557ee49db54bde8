//! The engine's case table: cases by number, with room for retiring finished ones.
//!
//! Cases sit in a double-ended queue in number order, from the oldest case still held to the
//! newest; a number's position is its distance from the front. Retiring a case
//! ([`crate::Engine::retire`]) empties its place, and empty places at the front are dropped, so
//! a long simulation holds the cases from its oldest open one on, and no more. Keeping number
//! order matters for speed more than the holes cost: new cases are written next to the last
//! one, and cases that finish together (a day's default ratings fire at one instant, in number
//! order) are read one after another, which the processor's prefetcher follows.

use std::collections::VecDeque;

use crate::event::CaseId;
use crate::machine::case::Case;

/// Cases by number; see the module documentation.
#[derive(Debug, Clone, Default)]
pub(crate) struct CaseTable {
    /// Case number `first + k` at position `k`; `None` once retired.
    cases: VecDeque<Option<Case>>,
    /// Number of the front position.
    first: u64,
    /// Cases opened so far (the last number given).
    opened: u64,
    /// Cases held (not retired).
    held: usize,
}

impl CaseTable {
    /// Cases opened so far, retired or not.
    pub fn opened(&self) -> u64 {
        self.opened
    }

    /// Cases held (not retired).
    pub fn held(&self) -> usize {
        self.held
    }

    /// The number the next case gets.
    pub fn next_id(&self) -> CaseId {
        CaseId(self.opened + 1)
    }

    /// Makes room for `additional` more positions.
    pub fn reserve(&mut self, additional: usize) {
        self.cases.reserve(additional);
    }

    /// Adds the next case (its number must be [`CaseTable::next_id`]); returns its position.
    pub fn insert(&mut self, case: Case) -> usize {
        debug_assert_eq!(case.id, self.next_id());
        if self.cases.is_empty() {
            self.first = case.id.0;
        }
        self.opened = case.id.0;
        self.held += 1;
        self.cases.push_back(Some(case));
        self.cases.len() - 1
    }

    /// The position of a held case, valid until the next [`CaseTable::remove`].
    #[inline]
    pub fn slot(&self, id: CaseId) -> Option<usize> {
        let k = usize::try_from(id.0.checked_sub(self.first)?).ok()?;
        match self.cases.get(k) {
            Some(Some(_)) => Some(k),
            _ => None,
        }
    }

    /// Whether `id` was opened and then retired.
    pub fn is_retired(&self, id: CaseId) -> bool {
        id.0 >= 1 && id.0 <= self.opened && self.slot(id).is_none()
    }

    /// The case at a position given by [`CaseTable::slot`] or [`CaseTable::insert`].
    #[inline]
    pub fn at(&self, slot: usize) -> &Case {
        self.cases[slot].as_ref().expect("a position from slot() holds a case")
    }

    /// The case at a position given by [`CaseTable::slot`] or [`CaseTable::insert`], mutably.
    #[inline]
    pub fn at_mut(&mut self, slot: usize) -> &mut Case {
        self.cases[slot].as_mut().expect("a position from slot() holds a case")
    }

    /// A held case by number.
    pub fn get(&self, id: CaseId) -> Option<&Case> {
        self.slot(id).map(|s| self.at(s))
    }

    /// A held case by number, mutably.
    pub fn get_mut(&mut self, id: CaseId) -> Option<&mut Case> {
        self.slot(id).map(|s| self.at_mut(s))
    }

    /// Takes every number below `next` not opened yet as opened and retired (an engine resumed
    /// from a snapshot holds only the cases still open then). Returns the lowest number still
    /// held or to come.
    pub fn skip_to(&mut self, next: u64) -> u64 {
        if next > self.opened + 1 {
            if self.cases.is_empty() {
                self.first = next;
            } else {
                let holes = usize::try_from(next - self.opened - 1).expect("case numbers fit in memory");
                self.cases.extend(std::iter::repeat_with(|| None).take(holes));
            }
            self.opened = next - 1;
        }
        if self.cases.is_empty() { self.opened + 1 } else { self.first }
    }

    /// Takes a held case out of the table; returns it and the lowest number still held or to
    /// come (numbers below it are all retired).
    pub fn remove(&mut self, id: CaseId) -> Option<(Case, u64)> {
        let slot = self.slot(id)?;
        let case = self.cases[slot].take().expect("a position from slot() holds a case");
        self.held -= 1;
        while let Some(None) = self.cases.front() {
            self.cases.pop_front();
            self.first += 1;
        }
        if self.cases.is_empty() {
            self.first = self.opened + 1;
        }
        Some((case, self.first))
    }

    /// Held cases in number order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Case> + '_ {
        self.cases.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::BundleIx;
    use crate::event::Applicant;

    fn case(n: u64) -> Case {
        let applicant = Applicant { id: "p".into(), name: "申请人".into(), credit_blocked: false };
        Case::new(CaseId(n), BundleIx(0), applicant)
    }

    /// The table against a plain map over a deterministic sequence of opens and retirements.
    #[test]
    fn agrees_with_a_map_of_held_cases() {
        let mut table = CaseTable::default();
        let mut model = std::collections::BTreeSet::new();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if !x.is_multiple_of(3) || model.is_empty() {
                let id = table.next_id();
                let slot = table.insert(case(id.0));
                assert_eq!(table.at(slot).id, id);
                model.insert(id.0);
            } else {
                // Mostly the oldest, sometimes any: cases finish roughly in order.
                let pick = if x.is_multiple_of(5) {
                    *model.iter().nth((x >> 8) as usize % model.len()).unwrap()
                } else {
                    *model.first().unwrap()
                };
                let (removed, first) = table.remove(CaseId(pick)).unwrap();
                assert_eq!(removed.id, CaseId(pick));
                model.remove(&pick);
                assert!(model.first().is_none_or(|&f| f >= first));
                assert!(table.remove(CaseId(pick)).is_none(), "a retired case is gone");
            }
            assert_eq!(table.held(), model.len());
            assert!(table.iter().map(|c| c.id.0).eq(model.iter().copied()));
            assert!(table.cases.len() as u64 <= table.opened - model.first().copied().unwrap_or(table.opened) + 1);
        }
        for n in 1..=table.opened() {
            assert_eq!(table.get(CaseId(n)).map(|c| c.id.0), model.contains(&n).then_some(n));
            assert_eq!(table.is_retired(CaseId(n)), !model.contains(&n));
        }
        assert!(table.get(CaseId(0)).is_none() && table.get(CaseId(table.opened() + 1)).is_none());
    }
}
