//! Keyed doubly-linked lists threaded through one slab: the queues every policy is built from.
//!
//! Indices instead of pointers give O(1) unlink and move without `unsafe` and without an allocation per
//! object; one key index for all of a policy's lists means a key can sit in at most one of them, so "both
//! resident and a ghost" cannot happen by construction.

use std::collections::HashMap;

use super::ObjectKey;

const NIL: u32 = u32::MAX;

/// What a policy keeps per object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub key: ObjectKey,
    pub size: u64,
    /// Which of the policy's lists holds the entry.
    pub list: usize,
    /// Policy-defined access counter (S3-FIFO's 2-bit frequency); unused by the others.
    pub freq: u8,
}

#[derive(Debug)]
struct Node {
    prev: u32,
    next: u32,
    entry: Entry,
}

#[derive(Debug, Clone, Copy)]
struct Ends {
    /// Most recently pushed.
    front: u32,
    /// Oldest: where FIFO and LRU evict.
    back: u32,
    len: usize,
    bytes: u64,
}

const EMPTY: Ends = Ends {
    front: NIL,
    back: NIL,
    len: 0,
    bytes: 0,
};

/// `N` lists over one key space, each tracking its length and bytes.
#[derive(Debug)]
pub(crate) struct Lists<const N: usize> {
    // std's keyed SipHash, not a fast fixed hash: keys come from client-chosen URLs, and a fixed hash would
    // let a client grind keys that collide in the table.
    index: HashMap<ObjectKey, u32>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    ends: [Ends; N],
}

impl<const N: usize> Lists<N> {
    pub fn new() -> Self {
        Lists {
            index: HashMap::new(),
            nodes: Vec::new(),
            free: Vec::new(),
            ends: [EMPTY; N],
        }
    }

    pub fn get(&self, key: ObjectKey) -> Option<&Entry> {
        self.index.get(&key).map(|&i| &self.nodes[i as usize].entry)
    }

    /// The frequency counter is the only field a policy may change in place: size and list feed the byte
    /// accounting, so they change only through `push_front`/`move_to_front`.
    pub fn freq_mut(&mut self, key: ObjectKey) -> Option<&mut u8> {
        let i = *self.index.get(&key)?;
        Some(&mut self.nodes[i as usize].entry.freq)
    }

    pub fn len(&self, list: usize) -> usize {
        self.ends[list].len
    }

    pub fn bytes(&self, list: usize) -> u64 {
        self.ends[list].bytes
    }

    /// The oldest entry of `list`.
    pub fn back(&self, list: usize) -> Option<&Entry> {
        let b = self.ends[list].back;
        (b != NIL).then(|| &self.nodes[b as usize].entry)
    }

    /// Entries of `list` from oldest to newest.
    pub fn iter_from_back(&self, list: usize) -> impl Iterator<Item = &Entry> + '_ {
        let mut at = self.ends[list].back;
        std::iter::from_fn(move || {
            if at == NIL {
                return None;
            }
            let node = &self.nodes[at as usize];
            at = node.prev;
            Some(&node.entry)
        })
    }

    /// Adds a key that is in none of the lists.
    pub fn push_front(&mut self, list: usize, key: ObjectKey, size: u64, freq: u8) {
        let entry = Entry {
            key,
            size,
            list,
            freq,
        };
        let node = Node {
            prev: NIL,
            next: NIL,
            entry,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                let i = u32::try_from(self.nodes.len())
                    .ok()
                    .filter(|&i| i != NIL)
                    .expect("more than 4 billion cached objects");
                self.nodes.push(node);
                i
            }
        };
        let previous = self.index.insert(key, i);
        debug_assert!(previous.is_none(), "key {key} pushed twice");
        self.link_front(i);
    }

    pub fn remove(&mut self, key: ObjectKey) -> Option<Entry> {
        let i = self.index.remove(&key)?;
        self.unlink(i);
        self.free.push(i);
        Some(self.nodes[i as usize].entry)
    }

    pub fn pop_back(&mut self, list: usize) -> Option<Entry> {
        let key = self.back(list)?.key;
        self.remove(key)
    }

    /// Moves a present key to the front of `list` (which may be the list it is already in).
    pub fn move_to_front(&mut self, key: ObjectKey, list: usize) {
        let i = self.index[&key];
        self.unlink(i);
        self.nodes[i as usize].entry.list = list;
        self.link_front(i);
    }

    fn link_front(&mut self, i: u32) {
        let (list, size) = {
            let e = &self.nodes[i as usize].entry;
            (e.list, e.size)
        };
        let old_front = self.ends[list].front;
        {
            let n = &mut self.nodes[i as usize];
            n.prev = NIL;
            n.next = old_front;
        }
        if old_front == NIL {
            self.ends[list].back = i;
        } else {
            self.nodes[old_front as usize].prev = i;
        }
        let ends = &mut self.ends[list];
        ends.front = i;
        ends.len += 1;
        ends.bytes += size;
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next, list, size) = {
            let n = &self.nodes[i as usize];
            (n.prev, n.next, n.entry.list, n.entry.size)
        };
        if prev == NIL {
            self.ends[list].front = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.ends[list].back = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
        let ends = &mut self.ends[list];
        ends.len -= 1;
        ends.bytes -= size;
    }

    /// Walks every list and checks links, counts, bytes and the index against each other.
    #[cfg(test)]
    pub fn check(&self) {
        let mut seen = 0;
        for (list, ends) in self.ends.iter().enumerate() {
            let (mut len, mut bytes, mut prev, mut at) = (0, 0, NIL, ends.front);
            while at != NIL {
                let n = &self.nodes[at as usize];
                assert_eq!(n.prev, prev, "broken back link in list {list}");
                assert_eq!(n.entry.list, list, "entry tagged with the wrong list");
                assert_eq!(self.index.get(&n.entry.key), Some(&at), "index disagrees");
                len += 1;
                bytes += n.entry.size;
                prev = at;
                at = n.next;
            }
            assert_eq!(ends.back, prev, "list {list} back is not its last node");
            assert_eq!((ends.len, ends.bytes), (len, bytes), "list {list} totals");
            seen += len;
        }
        assert_eq!(
            seen,
            self.index.len(),
            "indexed keys missing from every list"
        );
    }
}
