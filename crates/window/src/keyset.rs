//! The keys of a window: a dense slab of slots, a hash index into it, and an intrusive list in update order.

use std::hash::{BuildHasher, RandomState};
use std::mem::size_of;

use hashbrown::HashTable;

use super::Key;
use super::events::Events;

/// "No slot" in the update-order links.
const NIL: u32 = u32::MAX;

/// One key and what it keeps.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) key: Key,
    /// Neighbours in update order (towards the least and the most recently updated).
    older: u32,
    newer: u32,
    pub(crate) events: Events,
}

/// Keys by hash, with O(1) lookup, insertion, removal and "least recently updated".
///
/// Slots stay dense (removal moves the last slot into the hole), so the index holds 4-byte slot
/// numbers instead of keys, and a key costs its slot plus about 5–10 bytes of index.
#[derive(Debug)]
pub(crate) struct KeySet {
    index: HashTable<u32>,
    slots: Vec<Slot>,
    oldest: u32,
    newest: u32,
    /// Keys are hashes of attacker-influenced values; mixing in a per-process secret keeps their
    /// bucket positions unpredictable.
    seed: (u64, u64),
}

fn index_hash(seed: (u64, u64), key: Key) -> u64 {
    let low = (key.0 as u64) ^ seed.0;
    let high = ((key.0 >> 64) as u64) ^ seed.1;
    let product = u128::from(low) * u128::from(high);
    (product as u64) ^ ((product >> 64) as u64)
}

impl KeySet {
    pub(crate) fn new() -> KeySet {
        let random = RandomState::new();
        KeySet {
            index: HashTable::new(),
            slots: Vec::new(),
            oldest: NIL,
            newest: NIL,
            seed: (random.hash_one(0x5eed_u64) | 1, random.hash_one(0xfeed_u64) | 1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn find(&self, key: Key) -> Option<usize> {
        let slots = &self.slots;
        self.index.find(index_hash(self.seed, key), |&slot| slots[slot as usize].key == key).map(|&slot| slot as usize)
    }

    pub(crate) fn slot(&self, index: usize) -> &Slot {
        &self.slots[index]
    }

    pub(crate) fn slot_mut(&mut self, index: usize) -> &mut Slot {
        &mut self.slots[index]
    }

    /// Adds a key that is not present, as the most recently updated one; returns its slot number.
    pub(crate) fn push(&mut self, key: Key, events: Events) -> usize {
        let index = self.slots.len();
        self.slots.push(Slot { key, older: self.newest, newer: NIL, events });
        self.link_newest(index);
        let (slots, seed) = (&self.slots, self.seed);
        self.index.insert_unique(index_hash(seed, key), index as u32, |&slot| index_hash(seed, slots[slot as usize].key));
        index
    }

    /// Adds a key as the most recently updated one, unless it is present (then gives `events` back).
    pub(crate) fn push_new(&mut self, key: Key, events: Events) -> Result<usize, Events> {
        let index = self.slots.len();
        let (slots, seed) = (&self.slots, self.seed);
        let entry = self.index.entry(
            index_hash(seed, key),
            |&slot| slots[slot as usize].key == key,
            |&slot| index_hash(seed, slots[slot as usize].key),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(_) => return Err(events),
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                vacant.insert(index as u32);
            }
        }
        self.slots.push(Slot { key, older: self.newest, newer: NIL, events });
        self.link_newest(index);
        Ok(index)
    }

    fn link_newest(&mut self, index: usize) {
        let previous = self.newest;
        self.slots[index].older = previous;
        self.slots[index].newer = NIL;
        if previous == NIL {
            self.oldest = index as u32;
        } else {
            self.slots[previous as usize].newer = index as u32;
        }
        self.newest = index as u32;
    }

    fn unlink(&mut self, index: usize) {
        let (older, newer) = (self.slots[index].older, self.slots[index].newer);
        if older == NIL {
            self.oldest = newer;
        } else {
            self.slots[older as usize].newer = newer;
        }
        if newer == NIL {
            self.newest = older;
        } else {
            self.slots[newer as usize].older = older;
        }
    }

    /// Marks a key as the most recently updated.
    pub(crate) fn touch(&mut self, index: usize) {
        if self.newest != index as u32 {
            self.unlink(index);
            self.link_newest(index);
        }
    }

    /// The least recently updated key.
    pub(crate) fn oldest(&self) -> Option<usize> {
        (self.oldest != NIL).then_some(self.oldest as usize)
    }

    /// The key updated next after `index`.
    pub(crate) fn newer(&self, index: usize) -> Option<usize> {
        let newer = self.slots[index].newer;
        (newer != NIL).then_some(newer as usize)
    }

    /// Removes a slot. The last slot moves into its place: returns the removed slot and, when a slot
    /// moved, the number it had.
    pub(crate) fn remove(&mut self, index: usize) -> (Slot, Option<usize>) {
        self.unlink(index);
        let seed = self.seed;
        if let Ok(entry) = self.index.find_entry(index_hash(seed, self.slots[index].key), |&slot| slot as usize == index) {
            entry.remove();
        }
        let last = self.slots.len() - 1;
        let removed = self.slots.swap_remove(index);
        let mut moved = None;
        if index != last {
            let moved_key = self.slots[index].key;
            if let Some(slot) = self.index.find_mut(index_hash(seed, moved_key), |&slot| slot as usize == last) {
                *slot = index as u32;
            }
            let (older, newer) = (self.slots[index].older, self.slots[index].newer);
            if older == NIL {
                self.oldest = index as u32;
            } else {
                self.slots[older as usize].newer = index as u32;
            }
            if newer == NIL {
                self.newest = index as u32;
            } else {
                self.slots[newer as usize].older = index as u32;
            }
            moved = Some(last);
        }
        self.shrink_if_sparse();
        (removed, moved)
    }

    /// Gives memory back after a mass expiry (a clock jump, a flood that went away).
    fn shrink_if_sparse(&mut self) {
        let len = self.slots.len();
        if self.slots.capacity() > 64 && len * 4 < self.slots.capacity() {
            self.slots.shrink_to(len * 2);
            let (slots, seed) = (&self.slots, self.seed);
            self.index.shrink_to(len * 2, |&slot| index_hash(seed, slots[slot as usize].key));
        }
    }

    /// Slots from the least to the most recently updated.
    pub(crate) fn in_update_order(&self) -> impl Iterator<Item = &Slot> {
        std::iter::successors(self.oldest(), |&index| self.newer(index)).map(|index| &self.slots[index])
    }

    /// Bytes of the index and the slots, from capacities.
    pub(crate) fn bytes(&self) -> usize {
        self.index.allocation_size() + self.slots.capacity() * size_of::<Slot>()
    }

    /// Reserves room for `additional` more keys.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.slots.reserve(additional);
        let (slots, seed) = (&self.slots, self.seed);
        self.index.reserve(additional, |&slot| index_hash(seed, slots[slot as usize].key));
    }
}
