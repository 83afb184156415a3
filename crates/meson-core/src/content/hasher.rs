//! Building the hash tree while an object streams in, and re-checking a stored outboard.

use std::convert::Infallible;
use std::fmt;

use blake3::hazmat::{ChainingValue, HasherExt};

use super::{
    check_outboard_len, chunk_group_count, parent_cv, split_pair, ContentError, Root,
    CHUNK_GROUP_SIZE, PAIR_LEN,
};

/// The complete subtrees to the left of the chunk group being filled, largest first.
///
/// Subtrees are merged lazily, only once the next group arrives: until then the latest subtree
/// might be the root, whose hash differs from a non-root parent's. Merging in that order visits
/// parents exactly in post-order, which is why the hasher can append each merged pair to the
/// outboard as it goes and the result is bao-tree's post-order outboard.
///
/// The same schedule drives [`verify_outboard`], with unknown group hashes, so hashing and checking
/// can never disagree about the tree's shape.
#[derive(Clone, Default)]
struct SubtreeStack<N> {
    stack: Vec<N>,
    groups: u64,
}

impl<N> SubtreeStack<N> {
    /// Adds the hash of the next chunk group, which the caller knows is not the last one.
    fn push<E>(
        &mut self,
        group: N,
        merge: &mut impl FnMut(N, N, bool) -> Result<N, E>,
    ) -> Result<(), E> {
        self.merge_complete(merge)?;
        self.stack.push(group);
        self.groups += 1;
        Ok(())
    }

    /// Folds everything into the root once the last group's hash is known.
    fn finish<E>(
        mut self,
        last: N,
        merge: &mut impl FnMut(N, N, bool) -> Result<N, E>,
    ) -> Result<N, E> {
        self.merge_complete(merge)?;
        let mut right = last;
        while let Some(left) = self.stack.pop() {
            right = merge(left, right, self.stack.is_empty())?;
        }
        Ok(right)
    }

    /// Merges the subtrees that a following group completes. Like a binary counter, `groups`
    /// chunk groups form one complete subtree per set bit of `groups`.
    fn merge_complete<E>(
        &mut self,
        merge: &mut impl FnMut(N, N, bool) -> Result<N, E>,
    ) -> Result<(), E> {
        let keep = self.groups.count_ones() as usize;
        while self.stack.len() > keep {
            let (Some(right), Some(left)) = (self.stack.pop(), self.stack.pop()) else {
                break;
            };
            // Never the root: at least one more group follows.
            let parent = merge(left, right, false)?;
            self.stack.push(parent);
        }
        Ok(())
    }
}

/// Computes an object's [`Root`] and outboard from its bytes as they arrive, in pieces of any size.
///
/// Memory is the outboard being built (64 bytes per 16 KiB of content) plus one stack entry per
/// tree level; no byte is needed twice, so the caller never re-reads what it wrote to disk.
#[derive(Clone, Default)]
pub struct ContentHasher {
    /// The chunk group being filled. It may turn out to be the whole content, so it is finalized
    /// only once more bytes arrive or at the end.
    group: blake3::Hasher,
    group_len: u64,
    total: u64,
    subtrees: SubtreeStack<ChainingValue>,
    outboard: Vec<u8>,
}

// Not derived: the outboard can be megabytes, and the hasher state is noise in a log line.
impl fmt::Debug for ContentHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContentHasher")
            .field("bytes_hashed", &self.total)
            .field("outboard_len", &self.outboard.len())
            .finish_non_exhaustive()
    }
}

impl ContentHasher {
    /// A hasher that has seen no bytes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the content.
    pub fn update(&mut self, data: &[u8]) {
        let mut rest = data;
        while !rest.is_empty() {
            if self.group_len == CHUNK_GROUP_SIZE {
                // More bytes follow, so the full group is not the root: its chaining value is
                // final.
                let cv = self.group.finalize_non_root();
                let outboard = &mut self.outboard;
                let Ok(()) = self.subtrees.push(cv, &mut |l, r, is_root| {
                    Ok::<_, Infallible>(record_parent(outboard, l, r, is_root))
                });
                self.group = blake3::Hasher::new();
                self.group
                    .set_input_offset(self.subtrees.groups * CHUNK_GROUP_SIZE);
                self.group_len = 0;
            }
            let room = CHUNK_GROUP_SIZE - self.group_len;
            let take = rest.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            let (piece, tail) = rest.split_at(take);
            self.group.update(piece);
            self.group_len += take as u64;
            self.total += take as u64;
            rest = tail;
        }
    }

    /// Bytes fed so far.
    pub fn bytes_hashed(&self) -> u64 {
        self.total
    }

    /// The content root (equal to `blake3::hash` of all bytes fed) and the post-order outboard
    /// described in the [module docs](super).
    pub fn finalize(self) -> (Root, Vec<u8>) {
        if self.subtrees.groups == 0 {
            // One chunk group (or none): it is the root node and there are no parents to record.
            return (Root::from(self.group.finalize()), Vec::new());
        }
        // A group is opened only when bytes for it arrive, so the last group is never empty.
        let last = self.group.finalize_non_root();
        let mut outboard = self.outboard;
        let Ok(root) = self.subtrees.finish(last, &mut |l, r, is_root| {
            Ok::<_, Infallible>(record_parent(&mut outboard, l, r, is_root))
        });
        (Root(root), outboard)
    }
}

fn record_parent(
    outboard: &mut Vec<u8>,
    left: ChainingValue,
    right: ChainingValue,
    is_root: bool,
) -> ChainingValue {
    outboard.extend_from_slice(&left);
    outboard.extend_from_slice(&right);
    parent_cv(&left, &right, is_root)
}

/// Checks that a stored outboard is the hash tree of `root`: every entry must hash to the child
/// value its parent entry holds, and the top entry to the root. A corrupted byte anywhere in the
/// outboard is caught.
///
/// It costs one 64-byte compression per entry and reads no content, so it suits a start-up scan
/// after a crash. For the same reason it cannot vouch for the content bytes themselves, nor say
/// anything about content of one chunk group or less, whose outboard is empty; the content is
/// checked group by group whenever [`encode_chunk_group`](super::encode_chunk_group) serves it.
pub fn verify_outboard(root: &Root, size: u64, outboard: &[u8]) -> Result<(), ContentError> {
    check_outboard_len(size, outboard)?;
    let groups = chunk_group_count(size);
    if groups == 1 {
        return Ok(());
    }
    let mut entries = outboard.chunks_exact(PAIR_LEN);
    // Chunk group hashes are unknown (`None`); every parent's is known once its entry is read.
    let mut check = |left: Option<ChainingValue>, right: Option<ChainingValue>, is_root: bool| {
        let (stored_left, stored_right) = entries
            .next()
            .and_then(split_pair)
            .ok_or(ContentError::OutboardMismatch)?;
        if left.is_some_and(|cv| cv != stored_left) || right.is_some_and(|cv| cv != stored_right) {
            return Err(ContentError::OutboardMismatch);
        }
        Ok(Some(parent_cv(&stored_left, &stored_right, is_root)))
    };
    let mut subtrees = SubtreeStack::default();
    for _ in 1..groups {
        subtrees.push(None, &mut check)?;
    }
    if subtrees.finish(None, &mut check)? != Some(root.0) {
        return Err(ContentError::OutboardMismatch);
    }
    Ok(())
}
