//! The engine's case table: cases by number, with room for retiring finished ones.
//!
//! Cases live in a dense vector of slots; a number maps to its slot through an index that
//! starts at the oldest case still held. Retiring a case ([`crate::Engine::retire`]) empties its
//! slot for the next case to reuse and drops the index's retired prefix, so a long simulation
//! holds only its open cases (plus one index entry per case between the oldest open one and
//! the newest), and the memory it touches stays small and warm.

use std::collections::VecDeque;

use crate::case::Case;
use crate::event::CaseId;

/// Index entry of a retired case.
const RETIRED: u32 = u32::MAX;

/// Cases by number; see the module documentation.
#[derive(Debug, Clone, Default)]
pub(crate) struct CaseTable {
    /// Storage; `None` for a slot whose case was retired and that no new case took yet.
    slots: Vec<Option<Case>>,
    /// Empty slots, reused last-freed first (the warmest memory).
    free: Vec<u32>,
    /// Slot of each case from number `first` on ([`RETIRED`] for a retired case).
    index: VecDeque<u32>,
    /// Number of `index[0]`.
    first: u64,
    /// Cases opened so far (the last number given).
    opened: u64,
}

impl CaseTable {
    /// Cases opened so far, retired or not.
    pub fn opened(&self) -> u64 {
        self.opened
    }

    /// Cases held (not retired).
    pub fn held(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// The number the next case gets.
    pub fn next_id(&self) -> CaseId {
        CaseId(self.opened + 1)
    }

    /// Makes room for `additional` cases held at once.
    pub fn reserve(&mut self, additional: usize) {
        self.slots.reserve(additional.saturating_sub(self.free.len()));
        self.index.reserve(additional);
    }

    /// Adds the next case (its number must be [`CaseTable::next_id`]); returns its slot.
    pub fn insert(&mut self, case: Case) -> usize {
        debug_assert_eq!(case.id, self.next_id());
        if self.index.is_empty() {
            self.first = case.id.0;
        }
        self.opened = case.id.0;
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(case);
                s as usize
            }
            None => {
                self.slots.push(Some(case));
                self.slots.len() - 1
            }
        };
        self.index.push_back(slot as u32);
        slot
    }

    /// The slot of a held case.
    #[inline]
    pub fn slot(&self, id: CaseId) -> Option<usize> {
        let k = id.0.checked_sub(self.first)?;
        match self.index.get(usize::try_from(k).ok()?) {
            Some(&s) if s != RETIRED => Some(s as usize),
            _ => None,
        }
    }

    /// Whether `id` was opened and then retired.
    pub fn is_retired(&self, id: CaseId) -> bool {
        id.0 >= 1 && id.0 <= self.opened && self.slot(id).is_none()
    }

    /// The case in a slot given by [`CaseTable::slot`] or [`CaseTable::insert`].
    #[inline]
    pub fn at(&self, slot: usize) -> &Case {
        self.slots[slot].as_ref().expect("a slot from the index holds a case")
    }

    /// The case in a slot given by [`CaseTable::slot`] or [`CaseTable::insert`], mutably.
    #[inline]
    pub fn at_mut(&mut self, slot: usize) -> &mut Case {
        self.slots[slot].as_mut().expect("a slot from the index holds a case")
    }

    /// A held case by number.
    pub fn get(&self, id: CaseId) -> Option<&Case> {
        self.slot(id).map(|s| self.at(s))
    }

    /// A held case by number, mutably.
    pub fn get_mut(&mut self, id: CaseId) -> Option<&mut Case> {
        self.slot(id).map(|s| self.at_mut(s))
    }

    /// Takes a held case out of the table; returns it and the lowest number still indexed
    /// (numbers below it are all retired).
    pub fn remove(&mut self, id: CaseId) -> Option<(Case, u64)> {
        let slot = self.slot(id)?;
        let case = self.slots[slot].take().expect("a slot from the index holds a case");
        self.free.push(slot as u32);
        self.index[(id.0 - self.first) as usize] = RETIRED;
        while self.index.front() == Some(&RETIRED) {
            self.index.pop_front();
            self.first += 1;
        }
        if self.index.is_empty() {
            self.first = self.opened + 1;
        }
        Some((case, self.first))
    }

    /// Held cases in number order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Case> + '_ {
        self.index.iter().filter(|&&s| s != RETIRED).map(|&s| self.at(s as usize))
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
            assert!(table.index.len() as u64 <= table.opened - model.first().copied().unwrap_or(table.opened) + 1);
        }
        for n in 1..=table.opened() {
            assert_eq!(table.get(CaseId(n)).map(|c| c.id.0), model.contains(&n).then_some(n));
            assert_eq!(table.is_retired(CaseId(n)), !model.contains(&n));
        }
        assert!(table.get(CaseId(0)).is_none() && table.get(CaseId(table.opened() + 1)).is_none());
    }
}
