//! The roots of a whole object as the network names its stored pieces: the object's own root and, when it
//! is larger than [`SLICE_SIZE`], the root of each slice. A terminal stores an object whole or in slices
//! (by how the origin answered), each piece under its own root; whoever knows an object's [`ObjectRoots`]
//! can name, and check, any piece a terminal may hold. The router computes them from its own origin fetch,
//! a site owner from the file it publishes (`meson-cdn site roots`).

use super::Root;

/// The network's slice size: a terminal stores an object larger than this, when the origin answers range
/// requests, in slices of this size, each with its own root. It is one number for every terminal so that
/// slice roots computed anywhere agree.
pub const SLICE_SIZE: u64 = 4 << 20;

/// An object's size, root and, when it is larger than [`SLICE_SIZE`], its slice roots in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRoots {
    pub size: u64,
    /// BLAKE3 of the whole body (what `b3sum` prints).
    pub root: Root,
    /// Roots of bytes `i * SLICE_SIZE ..`, one per slice; empty when the object is one slice or less.
    pub slices: Vec<Root>,
}

impl ObjectRoots {
    /// The number of slices an object of `size` bytes has (0 when it is never sliced).
    pub fn slice_count(size: u64) -> u64 {
        if size > SLICE_SIZE {
            size.div_ceil(SLICE_SIZE)
        } else {
            0
        }
    }

    /// The roots as a statement gives them, when they fit together: no slice roots, or exactly one per
    /// slice of `size` bytes.
    pub fn checked(size: u64, root: Root, slices: &[Root]) -> Option<ObjectRoots> {
        (slices.is_empty() || slices.len() as u64 == Self::slice_count(size)).then(|| ObjectRoots {
            size,
            root,
            slices: slices.to_vec(),
        })
    }

    /// The length of the piece named `root`: the whole object or one of its slices.
    pub fn piece_len(&self, root: &Root) -> Option<u64> {
        if *root == self.root {
            return Some(self.size);
        }
        let i = self.slices.iter().position(|r| r == root)? as u64;
        Some(SLICE_SIZE.min(self.size - i * SLICE_SIZE))
    }
}

/// Computes [`ObjectRoots`] from an object's bytes as they arrive, in pieces of any size; memory is a
/// root per slice.
#[derive(Debug, Clone, Default)]
pub struct ObjectHasher {
    whole: blake3::Hasher,
    slice: blake3::Hasher,
    slice_len: u64,
    slices: Vec<Root>,
    size: u64,
}

impl ObjectHasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.whole.update(data);
        self.size += data.len() as u64;
        while !data.is_empty() {
            if self.slice_len == SLICE_SIZE {
                self.slices.push(Root::from(self.slice.finalize()));
                self.slice.reset();
                self.slice_len = 0;
            }
            let room = usize::try_from(SLICE_SIZE - self.slice_len).unwrap_or(usize::MAX);
            let (piece, rest) = data.split_at(data.len().min(room));
            self.slice.update(piece);
            self.slice_len += piece.len() as u64;
            data = rest;
        }
    }

    /// Bytes seen so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn finalize(mut self) -> ObjectRoots {
        let root = Root::from(self.whole.finalize());
        if self.size <= SLICE_SIZE {
            return ObjectRoots {
                size: self.size,
                root,
                slices: Vec::new(),
            };
        }
        self.slices.push(Root::from(self.slice.finalize()));
        ObjectRoots {
            size: self.size,
            root,
            slices: self.slices,
        }
    }
}

/// The roots of `body`, all at once.
pub fn object_roots(body: &[u8]) -> ObjectRoots {
    let mut h = ObjectHasher::new();
    h.update(body);
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn small_objects_have_one_root_and_no_slices() {
        for len in [0, 1, 16 * 1024, SLICE_SIZE as usize] {
            let b = body(len);
            let r = object_roots(&b);
            assert_eq!(r.root, Root::from(blake3::hash(&b)));
            assert!(r.slices.is_empty(), "{len}");
            assert_eq!(r.piece_len(&r.root), Some(len as u64));
        }
    }

    #[test]
    fn slices_are_the_roots_of_each_slice_whatever_the_pieces_fed() {
        let b = body(2 * SLICE_SIZE as usize + 1000);
        let mut h = ObjectHasher::new();
        for piece in b.chunks(100_003) {
            h.update(piece);
        }
        let r = h.finalize();
        let s = SLICE_SIZE as usize;
        let want: Vec<Root> = [&b[..s], &b[s..2 * s], &b[2 * s..]]
            .into_iter()
            .map(|p| Root::from(blake3::hash(p)))
            .collect();
        assert_eq!(r.slices, want);
        assert_eq!(r, object_roots(&b));
        assert_eq!(ObjectRoots::slice_count(r.size), 3);
        assert_eq!(r.piece_len(&want[2]), Some(1000));
        assert_eq!(r.piece_len(&want[0]), Some(SLICE_SIZE));
        assert_eq!(r.piece_len(&Root([0; 32])), None);
    }
}
