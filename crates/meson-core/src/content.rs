//! Content identity: the BLAKE3 root of every cached object and the proofs a terminal gives for
//! parts of it.
//!
//! An object is named by its [`Root`], the standard BLAKE3 hash of its bytes, so `b3sum` of a
//! stored file prints the same root. Beside the file a terminal keeps an *outboard*: the parent
//! nodes of the BLAKE3 tree above 16 KiB chunk groups. With it the terminal can prove any one chunk
//! group to a checker who knows only the root and the size (a spot check), without the checker
//! fetching the object.
//!
//! # Outboard format
//!
//! The outboard is exactly the data of bao-tree's `PostOrderMemOutboard` for
//! `BlockSize::from_chunk_log(4)`: one 64-byte entry (left chaining value, right chaining value)
//! per parent node above the chunk groups, in post-order, with no size prefix or suffix. Content of
//! one chunk group or less therefore has an empty outboard.
//!
//! Post-order rather than pre-order because the tree is built while the object streams in from the
//! origin: a parent's children are known the moment its right child is complete, and post-order
//! writes each parent right then, so the outboard only ever grows at its end. Pre-order places
//! parents by the total size, which is unknown while filling when the origin sends no length.
//!
//! # Chunk groups
//!
//! Group `i` covers bytes `i * 16 KiB .. min((i + 1) * 16 KiB, size)`. Empty content has exactly
//! one group, which is empty: that keeps "every object has groups `0..chunk_group_count(size)`"
//! true without a special case for callers, and its proof still checks the root (the empty hash).

mod hasher;
mod object;
mod proof;
#[cfg(test)]
mod tests;

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use bao_tree::{BaoTree, BlockSize};

pub use hasher::{verify_outboard, ContentHasher};
pub use object::{object_roots, ObjectHasher, ObjectRoots, SLICE_SIZE};
pub use proof::{encode_chunk_group, encode_chunk_group_as_stored, verify_chunk_group};

/// Log2 of the number of 1 KiB BLAKE3 chunks in a chunk group.
pub const CHUNK_GROUP_LOG: u8 = 4;

/// Bytes in a chunk group: 2^4 BLAKE3 chunks of 1 KiB.
pub const CHUNK_GROUP_SIZE: u64 = 16 * 1024;

const BLOCK_SIZE: BlockSize = BlockSize::from_chunk_log(CHUNK_GROUP_LOG);

/// Bytes per outboard entry: the left and the right child's chaining value.
const PAIR_LEN: usize = 64;

/// The BLAKE3 hash of an object's whole content.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Root(pub [u8; 32]);

impl Root {
    /// The 32 hash bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<blake3::Hash> for Root {
    fn from(hash: blake3::Hash) -> Self {
        Root(*hash.as_bytes())
    }
}

impl fmt::Display for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One table-driven encode instead of 32 formatter calls: roots name files on every cache hit.
        let mut buf = [0u8; 64];
        hex::encode_to_slice(self.0, &mut buf).expect("64 bytes hold 32 in hex");
        f.write_str(std::str::from_utf8(&buf).expect("hex is ASCII"))
    }
}

// Plain hex, like Display: roots appear in logs and test failures, where `Root([12, 250, ...])`
// could not be compared with `b3sum` output.
impl fmt::Debug for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Parses the 64 hex digits printed by `Display` and by `b3sum` (either letter case).
impl FromStr for Root {
    type Err = ContentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 {
            return Err(ContentError::RootLength(s.chars().count()));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| ContentError::RootNotHex)?;
        Ok(Root(bytes))
    }
}

impl serde::Serialize for Root {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Root {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HexVisitor;

        impl serde::de::Visitor<'_> for HexVisitor {
            type Value = Root;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a BLAKE3 root as 64 hex digits")
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Root, E> {
                s.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_str(HexVisitor)
    }
}

/// Why content could not be hashed, proven or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    #[error("a content root is 64 hex digits, got {0} characters")]
    RootLength(usize),
    #[error("a content root is 64 hex digits, found a character that is not a hex digit")]
    RootNotHex,
    #[error("chunk group {group} does not exist in content of {size} bytes ({groups} groups)")]
    GroupOutOfRange { group: u64, size: u64, groups: u64 },
    #[error("the outboard of {size} bytes of content is {expected} bytes long, got {actual}")]
    OutboardLength {
        size: u64,
        expected: u64,
        actual: u64,
    },
    #[error("chunk group {group} is {expected} bytes long, got {actual}")]
    GroupDataLength {
        group: u64,
        expected: u64,
        actual: u64,
    },
    /// The terminal's own copy is damaged: serving a proof from it would fail the spot check.
    #[error(
        "the stored bytes or outboard of chunk group {group} do not match the object's hash tree"
    )]
    StoredCorrupt { group: u64 },
    #[error("the outboard does not hash to the content root")]
    OutboardMismatch,
    #[error("the proof of chunk group {group} is truncated")]
    ProofTruncated { group: u64 },
    #[error("the proof of chunk group {group} does not match the content root")]
    ProofMismatch { group: u64 },
    #[error("the proof of chunk group {group} has {extra} bytes after its end")]
    ProofTrailingBytes { group: u64, extra: u64 },
}

/// Exact length in bytes of the outboard of `size` bytes of content: 64 bytes per parent node, and
/// a tree over `n` chunk groups has `n - 1` parents.
pub fn outboard_len(size: u64) -> u64 {
    bao_tree(size).outboard_size()
}

/// Number of chunk groups in `size` bytes of content; at least 1, because empty content has one
/// empty group.
pub fn chunk_group_count(size: u64) -> u64 {
    size.div_ceil(CHUNK_GROUP_SIZE).max(1)
}

/// Byte range of chunk group `group`, or `None` if the content has no such group.
pub fn chunk_group_range(size: u64, group: u64) -> Option<Range<u64>> {
    if group >= chunk_group_count(size) {
        return None;
    }
    // Cannot overflow: `group` is below the group count, so `start` is at most `size`.
    let start = group * CHUNK_GROUP_SIZE;
    Some(start..size.min(start.saturating_add(CHUNK_GROUP_SIZE)))
}

fn bao_tree(size: u64) -> BaoTree {
    BaoTree::new(size, BLOCK_SIZE)
}

fn group_range_or_err(size: u64, group: u64) -> Result<Range<u64>, ContentError> {
    chunk_group_range(size, group).ok_or(ContentError::GroupOutOfRange {
        group,
        size,
        groups: chunk_group_count(size),
    })
}

fn check_outboard_len(size: u64, outboard: &[u8]) -> Result<(), ContentError> {
    let expected = outboard_len(size);
    let actual = outboard.len() as u64;
    if actual != expected {
        return Err(ContentError::OutboardLength {
            size,
            expected,
            actual,
        });
    }
    Ok(())
}

/// The hash of a parent node from its children's chaining values; for the root node this is the
/// content root.
fn parent_cv(left: &[u8; 32], right: &[u8; 32], is_root: bool) -> [u8; 32] {
    use blake3::hazmat::{merge_subtrees_non_root, merge_subtrees_root, Mode};
    if is_root {
        *merge_subtrees_root(left, right, Mode::Hash).as_bytes()
    } else {
        merge_subtrees_non_root(left, right, Mode::Hash)
    }
}

/// Splits an outboard entry into its left and right chaining values; `None` if `pair` is not one
/// whole entry.
fn split_pair(pair: &[u8]) -> Option<([u8; 32], [u8; 32])> {
    if pair.len() != PAIR_LEN {
        return None;
    }
    let (left, right) = pair.split_at(32);
    Some((left.try_into().ok()?, right.try_into().ok()?))
}
