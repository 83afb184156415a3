//! Spot-check proofs: one chunk group plus the parent hashes on its path to the root, in
//! bao-tree's encoding for that chunk range.

use std::io;

use bao_tree::io::outboard::PostOrderMemOutboard;
use bao_tree::io::sync::{
    encode_ranges, encode_ranges_validated, DecodeResponseIter, ReadAt, Size,
};
use bao_tree::io::{BaoContentItem, DecodeError};
use bao_tree::{ChunkNum, ChunkRanges};

use super::{
    bao_tree, check_outboard_len, group_range_or_err, parent_cv, split_pair, ContentError, Root,
    CHUNK_GROUP_LOG, PAIR_LEN,
};

/// Builds the proof of chunk group `group` of content of `size` bytes from the stored outboard and
/// the group's bytes (`group_data`, exactly [`chunk_group_range`](super::chunk_group_range) of the
/// stored file).
///
/// The proof is checked before it is returned: if the stored bytes or outboard do not hash up to
/// the root the outboard implies, the result is [`ContentError::StoredCorrupt`], so a terminal
/// finds out its copy is damaged instead of failing the spot check.
pub fn encode_chunk_group(
    size: u64,
    outboard: &[u8],
    group: u64,
    group_data: &[u8],
) -> Result<Vec<u8>, ContentError> {
    encode(size, outboard, group, group_data, true)
}

/// Like [`encode_chunk_group`], but without checking the bytes first: the proof of what is stored, as it
/// is. A terminal answers the router's audits with it and signs it, so a damaged copy shows as a proof
/// that fails [`verify_chunk_group`], not as a refusal. Only the lengths are checked.
pub fn encode_chunk_group_as_stored(
    size: u64,
    outboard: &[u8],
    group: u64,
    group_data: &[u8],
) -> Result<Vec<u8>, ContentError> {
    encode(size, outboard, group, group_data, false)
}

fn encode(
    size: u64,
    outboard: &[u8],
    group: u64,
    group_data: &[u8],
    validated: bool,
) -> Result<Vec<u8>, ContentError> {
    let range = group_range_or_err(size, group)?;
    let expected = range.end - range.start;
    if group_data.len() as u64 != expected {
        return Err(ContentError::GroupDataLength {
            group,
            expected,
            actual: group_data.len() as u64,
        });
    }
    check_outboard_len(size, outboard)?;
    let corrupt = ContentError::StoredCorrupt { group };
    // bao-tree wants the root to validate against. The outboard implies it: in post-order the root
    // node's entry is the last one, and without parents the only group is the whole content.
    let root = match outboard.len().checked_sub(PAIR_LEN) {
        None => blake3::hash(group_data),
        Some(top) => {
            let (left, right) = outboard
                .get(top..)
                .and_then(split_pair)
                .ok_or(corrupt.clone())?;
            blake3::Hash::from(parent_cv(&left, &right, true))
        }
    };
    let stored = PostOrderMemOutboard {
        root,
        tree: bao_tree(size),
        data: outboard,
    };
    let data = GroupAt {
        start: range.start,
        bytes: group_data,
        size,
    };
    // A path from the root has fewer than 64 parents.
    let mut proof = Vec::with_capacity(group_data.len() + 64 * PAIR_LEN);
    // After the length checks above, bao-tree can only fail on hashes that do not match, or on
    // needing bytes it was not given, which equally means the inputs do not belong together.
    let chunks = group_chunks(group);
    let done = if validated {
        encode_ranges_validated(data, stored, &chunks, &mut proof).is_ok()
    } else {
        encode_ranges(data, stored, &chunks, &mut proof).is_ok()
    };
    if !done {
        return Err(corrupt);
    }
    Ok(proof)
}

/// Checks a proof of chunk group `group` of the content named by `root` and `size`, and returns the
/// group's bytes.
///
/// The proof must be exactly one encoding: a flipped bit, missing or extra bytes, another group's
/// proof or another object's root all give an error. (The one exception is harmless: two sibling
/// groups with identical bytes have identical proofs, so either passes for the other and the bytes
/// returned are right.) Proofs come from untrusted terminals; no input makes this panic, and the
/// work is bounded by the proof's length.
///
/// About `size`: like any Bao slice, a proof authenticates the content's length only through the
/// last chunk. A wrong size is rejected whenever it changes the group's length or its path in the
/// tree (always for the last group), but a wrong size that leaves both unchanged goes unnoticed;
/// the bytes returned are then still exactly the object's bytes at that offset.
pub fn verify_chunk_group(
    root: &Root,
    size: u64,
    group: u64,
    proof: &[u8],
) -> Result<Vec<u8>, ContentError> {
    let range = group_range_or_err(size, group)?;
    let mismatch = ContentError::ProofMismatch { group };
    let ranges = group_chunks(group);
    let mut rest = proof;
    let mut data = Vec::with_capacity(proof.len().min(super::CHUNK_GROUP_SIZE as usize));
    let items = DecodeResponseIter::new(
        blake3::Hash::from(root.0),
        bao_tree(size),
        &mut rest,
        &ranges,
    );
    for item in items {
        match item {
            Ok(BaoContentItem::Parent(_)) => {}
            Ok(BaoContentItem::Leaf(leaf)) => {
                // A leaf anywhere else would be verified bytes, but not the ones asked for.
                if leaf.offset != range.start + data.len() as u64 {
                    return Err(mismatch);
                }
                data.extend_from_slice(&leaf.data);
            }
            Err(DecodeError::ParentNotFound(_) | DecodeError::LeafNotFound(_)) => {
                return Err(ContentError::ProofTruncated { group });
            }
            Err(_) => return Err(mismatch),
        }
    }
    if !rest.is_empty() {
        return Err(ContentError::ProofTrailingBytes {
            group,
            extra: rest.len() as u64,
        });
    }
    if data.len() as u64 != range.end - range.start {
        return Err(mismatch);
    }
    Ok(data)
}

/// The chunk range of one chunk group, as bao-tree queries are expressed.
fn group_chunks(group: u64) -> ChunkRanges {
    // Cannot overflow: a group index is below 2^64 / 16 KiB.
    let first = group << CHUNK_GROUP_LOG;
    ChunkRanges::from(ChunkNum(first)..ChunkNum(first + (1 << CHUNK_GROUP_LOG)))
}

/// One chunk group's bytes at their offset in the object: bao-tree reads the object by absolute
/// position, and the terminal hands over only the group it read from disk.
struct GroupAt<'a> {
    start: u64,
    bytes: &'a [u8],
    /// The whole content's size.
    size: u64,
}

impl Size for GroupAt<'_> {
    fn size(&self) -> io::Result<Option<u64>> {
        Ok(Some(self.size))
    }
}

impl ReadAt for GroupAt<'_> {
    fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        let offset = pos
            .checked_sub(self.start)
            .and_then(|offset| usize::try_from(offset).ok())
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "read before the chunk group")
            })?;
        let available = self.bytes.get(offset..).unwrap_or_default();
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        Ok(n)
    }
}
