//! Compatibility with BLAKE3 and bao-tree, and rejection of every kind of bad proof.

use bao_tree::io::outboard::{EmptyOutboard, PostOrderMemOutboard};
use bao_tree::io::sync::{decode_ranges, encode_ranges_validated};
use bao_tree::{BaoTree, ChunkNum, ChunkRanges};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

const KIB: u64 = 1024;

/// The sizes the brief names: around the chunk and group boundaries, and one with a deep tree.
const EDGE_SIZES: [u64; 9] = [
    0,
    1,
    1023,
    1024,
    16383,
    16384,
    16385,
    3 * 16384 + 7,
    1024 * KIB + 1,
];

fn random_bytes(len: u64, seed: u64) -> Vec<u8> {
    let mut data = vec![0u8; usize::try_from(len).unwrap()];
    StdRng::seed_from_u64(seed).fill(&mut data[..]);
    data
}

/// Edge sizes plus a few random ones, up to a tree of about 180 groups.
fn test_sizes() -> Vec<u64> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut sizes = EDGE_SIZES.to_vec();
    sizes.extend((0..4).map(|_| rng.random_range(2..3 * 1024 * KIB)));
    sizes
}

/// Hashes `data` in pieces of random sizes, including empty ones and ones spanning many groups.
fn hash_in_pieces(data: &[u8], rng: &mut StdRng) -> (Root, Vec<u8>) {
    let mut hasher = ContentHasher::new();
    let mut rest = data;
    while !rest.is_empty() {
        let max = match rng.random_range(0..4) {
            0 => 0,
            1 => 1,
            2 => 2 * 1024,
            _ => 40 * 1024,
        };
        let take = rng.random_range(0..=max).min(rest.len());
        let (piece, tail) = rest.split_at(take);
        hasher.update(piece);
        rest = tail;
        assert_eq!(hasher.bytes_hashed(), (data.len() - rest.len()) as u64);
    }
    hasher.finalize()
}

struct Object {
    data: Vec<u8>,
    root: Root,
    outboard: Vec<u8>,
}

impl Object {
    fn new(size: u64, seed: u64) -> Self {
        Self::from_data(random_bytes(size, seed), seed)
    }

    fn from_data(data: Vec<u8>, seed: u64) -> Self {
        let (root, outboard) = hash_in_pieces(&data, &mut StdRng::seed_from_u64(seed));
        Object {
            data,
            root,
            outboard,
        }
    }

    fn size(&self) -> u64 {
        self.data.len() as u64
    }

    fn group_data(&self, group: u64) -> &[u8] {
        let range = chunk_group_range(self.size(), group).unwrap();
        &self.data[range.start as usize..range.end as usize]
    }

    fn proof(&self, group: u64) -> Vec<u8> {
        encode_chunk_group(self.size(), &self.outboard, group, self.group_data(group)).unwrap()
    }

    /// First, middle and last group, without repeats.
    fn sample_groups(&self) -> Vec<u64> {
        let last = chunk_group_count(self.size()) - 1;
        let mut groups = vec![0, last / 2, last];
        groups.dedup();
        groups
    }
}

fn flip_bit(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut flipped = bytes.to_vec();
    flipped[bit / 8] ^= 1 << (bit % 8);
    flipped
}

#[test]
fn root_prints_and_parses_as_lowercase_hex() {
    let root = Root::from(blake3::hash(b"meson"));
    let hex = root.to_string();
    assert_eq!(hex, blake3::hash(b"meson").to_hex().as_str());
    assert_eq!(format!("{root:?}"), hex);
    assert_eq!(hex.parse::<Root>(), Ok(root));
    assert_eq!(hex.to_uppercase().parse::<Root>(), Ok(root));
    assert_eq!(root.as_bytes(), blake3::hash(b"meson").as_bytes());
}

#[test]
fn root_parse_errors_say_what_is_wrong() {
    let short = "ab".repeat(31);
    assert_eq!(short.parse::<Root>(), Err(ContentError::RootLength(62)));
    assert_eq!(
        ContentError::RootLength(62).to_string(),
        "a content root is 64 hex digits, got 62 characters"
    );
    let not_hex = format!("{}zz", "ab".repeat(31));
    assert_eq!(not_hex.parse::<Root>(), Err(ContentError::RootNotHex));
    // 64 bytes of UTF-8 that are not 64 hex digits.
    let multibyte = format!("{}é", "a".repeat(62));
    assert_eq!(multibyte.parse::<Root>(), Err(ContentError::RootNotHex));
    assert_eq!("".parse::<Root>(), Err(ContentError::RootLength(0)));
}

#[test]
fn root_serializes_as_a_hex_string() {
    let root = Root::from(blake3::hash(b"serde"));
    let json = serde_json::to_string(&root).unwrap();
    assert_eq!(json, format!("\"{root}\""));
    assert_eq!(serde_json::from_str::<Root>(&json).unwrap(), root);
    let err = serde_json::from_str::<Root>("\"abc\"").unwrap_err();
    assert!(err.to_string().contains("64 hex digits"), "{err}");
    assert!(serde_json::from_str::<Root>("[1, 2, 3]").is_err());
}

#[test]
fn chunk_group_geometry() {
    assert_eq!(chunk_group_count(0), 1);
    assert_eq!(chunk_group_range(0, 0), Some(0..0));
    assert_eq!(chunk_group_range(0, 1), None);
    assert_eq!(chunk_group_count(1), 1);
    assert_eq!(chunk_group_range(1, 0), Some(0..1));
    assert_eq!(chunk_group_count(16384), 1);
    assert_eq!(chunk_group_range(16384, 0), Some(0..16384));
    assert_eq!(chunk_group_range(16384, 1), None);
    assert_eq!(chunk_group_count(16385), 2);
    assert_eq!(chunk_group_range(16385, 1), Some(16384..16385));
    assert_eq!(chunk_group_count(3 * 16384 + 7), 4);
    assert_eq!(
        chunk_group_range(3 * 16384 + 7, 3),
        Some(3 * 16384..3 * 16384 + 7)
    );
    assert_eq!(chunk_group_count(u64::MAX), u64::MAX / CHUNK_GROUP_SIZE + 1);
    let last = chunk_group_count(u64::MAX) - 1;
    assert_eq!(
        chunk_group_range(u64::MAX, last),
        Some(last * CHUNK_GROUP_SIZE..u64::MAX)
    );
    assert_eq!(chunk_group_range(u64::MAX, last + 1), None);
    assert_eq!(chunk_group_range(5, u64::MAX), None);
    assert_eq!(CHUNK_GROUP_SIZE, BLOCK_SIZE.bytes() as u64);
}

#[test]
fn outboard_len_matches_bao_tree() {
    for size in test_sizes()
        .into_iter()
        .chain([u64::MAX, 1 << 40, 2 * 16384])
    {
        assert_eq!(
            outboard_len(size),
            (chunk_group_count(size) - 1) * 64,
            "size {size}"
        );
        assert_eq!(
            outboard_len(size),
            BaoTree::new(size, BLOCK_SIZE).outboard_size(),
            "size {size}"
        );
    }
}

#[test]
fn hasher_matches_blake3_and_bao_tree() {
    for (seed, size) in test_sizes().into_iter().enumerate() {
        let data = random_bytes(size, seed as u64);
        let reference = PostOrderMemOutboard::create(&data, BLOCK_SIZE);
        let mut rng = StdRng::seed_from_u64(seed as u64);
        for _ in 0..3 {
            let (root, outboard) = hash_in_pieces(&data, &mut rng);
            assert_eq!(root, Root::from(blake3::hash(&data)), "size {size}");
            assert_eq!(root, Root::from(reference.root), "size {size}");
            assert_eq!(outboard, reference.data, "size {size}");
            assert_eq!(outboard.len() as u64, outboard_len(size), "size {size}");
        }
        let mut whole = ContentHasher::new();
        whole.update(&data);
        assert_eq!(
            whole.finalize(),
            (Root::from(reference.root), reference.data)
        );
    }
}

#[test]
fn hasher_of_nothing_is_the_empty_hash() {
    let mut hasher = ContentHasher::default();
    hasher.update(&[]);
    assert_eq!(hasher.bytes_hashed(), 0);
    assert_eq!(
        hasher.finalize(),
        (Root::from(blake3::hash(&[])), Vec::new())
    );
}

#[test]
fn every_group_round_trips() {
    for (seed, size) in EDGE_SIZES.into_iter().enumerate() {
        let object = Object::new(size, seed as u64);
        for group in 0..chunk_group_count(size) {
            let proof = object.proof(group);
            let verified = verify_chunk_group(&object.root, size, group, &proof).unwrap();
            assert_eq!(
                verified,
                object.group_data(group),
                "size {size} group {group}"
            );
        }
    }
}

#[test]
fn large_objects_round_trip_first_middle_and_last_group() {
    for (seed, size) in test_sizes().into_iter().enumerate() {
        let object = Object::new(size, seed as u64);
        for group in object.sample_groups() {
            let proof = object.proof(group);
            assert_eq!(
                verify_chunk_group(&object.root, size, group, &proof).unwrap(),
                object.group_data(group),
                "size {size} group {group}"
            );
        }
    }
}

/// The proof is bao-tree's own encoding: bao-tree produces the same bytes from the whole file and
/// our outboard, and bao-tree's decoder accepts ours.
#[test]
fn proofs_are_bao_tree_encodings() {
    for (seed, size) in test_sizes().into_iter().enumerate() {
        let object = Object::new(size, seed as u64);
        let tree = BaoTree::new(size, BLOCK_SIZE);
        let stored = PostOrderMemOutboard {
            root: blake3::Hash::from(object.root.0),
            tree,
            data: &object.outboard[..],
        };
        for group in object.sample_groups() {
            let ranges = ChunkRanges::from(ChunkNum(group * 16)..ChunkNum(group * 16 + 16));
            let mut theirs = Vec::new();
            encode_ranges_validated(&object.data[..], &stored, &ranges, &mut theirs).unwrap();
            let ours = object.proof(group);
            assert_eq!(ours, theirs, "size {size} group {group}");

            let mut decoded = Vec::new();
            let target = EmptyOutboard {
                tree,
                root: blake3::Hash::from(object.root.0),
            };
            decode_ranges(&ours[..], &ranges, &mut decoded, target).unwrap();
            let range = chunk_group_range(size, group).unwrap();
            assert_eq!(&decoded[range.start as usize..], object.group_data(group));
        }
    }
}

#[test]
fn a_flipped_bit_anywhere_in_a_proof_is_rejected() {
    for (seed, size) in EDGE_SIZES.into_iter().enumerate() {
        let object = Object::new(size, seed as u64);
        let mut rng = StdRng::seed_from_u64(seed as u64);
        for group in object.sample_groups() {
            let proof = object.proof(group);
            let bits = proof.len() * 8;
            let data_start = proof.len() - object.group_data(group).len();
            // Every bit of the hashes and of small proofs; in big groups, both ends and a sample
            // (each try rehashes up to 16 KiB, and the whole group goes into one hash anyway).
            let mut positions: Vec<usize> = if bits <= 16 * 1024 {
                (0..bits).collect()
            } else {
                (0..data_start * 8 + 64).chain(bits - 64..bits).collect()
            };
            if bits > 0 {
                positions.extend((0..200).map(|_| rng.random_range(0..bits)));
            }
            for bit in positions {
                let bad = flip_bit(&proof, bit);
                assert!(
                    verify_chunk_group(&object.root, size, group, &bad).is_err(),
                    "size {size} group {group} bit {bit}"
                );
            }
        }
    }
}

#[test]
fn a_proof_for_another_group_is_rejected() {
    for (seed, size) in [16385, 3 * 16384 + 7, 9 * 16384, 300 * KIB + 5]
        .into_iter()
        .enumerate()
    {
        let object = Object::new(size, seed as u64);
        let groups = chunk_group_count(size);
        for group in 0..groups {
            let proof = object.proof(group);
            for other in (0..groups + 2).filter(|&other| other != group) {
                assert!(
                    verify_chunk_group(&object.root, size, other, &proof).is_err(),
                    "size {size}: proof of {group} accepted as {other}"
                );
            }
        }
    }
}

/// Sibling groups with identical bytes have byte-identical proofs, so one passes for the other; the
/// bytes returned are then still the asked-for group's. Groups elsewhere in the tree differ in the
/// chunk counter BLAKE3 mixes into every chunk, so identical bytes do not make their proofs pass.
#[test]
fn identical_groups_are_only_confused_with_their_sibling() {
    let size = 300 * KIB + 5;
    let object = Object::from_data(vec![7u8; size as usize], 1);
    let groups = chunk_group_count(size);
    for group in 0..groups {
        let proof = object.proof(group);
        for other in (0..groups).filter(|&other| other != group) {
            let result = verify_chunk_group(&object.root, size, other, &proof);
            if group / 2 == other / 2 && object.group_data(group) == object.group_data(other) {
                assert_eq!(result.as_deref(), Ok(object.group_data(other)));
            } else {
                assert!(result.is_err(), "proof of {group} accepted as {other}");
            }
        }
    }
}

#[test]
fn a_proof_against_another_root_is_rejected() {
    for (seed, size) in EDGE_SIZES.into_iter().enumerate() {
        let object = Object::new(size, seed as u64);
        for group in object.sample_groups() {
            let proof = object.proof(group);
            for root in [
                Root::from(blake3::hash(b"another object")),
                Root([0; 32]),
                Root(flip_bit(&object.root.0, 255).try_into().unwrap()),
            ] {
                assert_eq!(
                    verify_chunk_group(&root, size, group, &proof),
                    Err(ContentError::ProofMismatch { group }),
                    "size {size} group {group}"
                );
            }
        }
    }
}

#[test]
fn truncated_or_extended_proofs_are_rejected() {
    for (seed, size) in EDGE_SIZES.into_iter().enumerate() {
        let object = Object::new(size, seed as u64);
        for group in object.sample_groups() {
            let proof = object.proof(group);
            let data_start = proof.len() - object.group_data(group).len();
            let cuts = (0..data_start + 8).chain((data_start..proof.len()).step_by(97));
            for len in cuts.filter(|&len| len < proof.len()) {
                assert!(
                    verify_chunk_group(&object.root, size, group, &proof[..len]).is_err(),
                    "size {size} group {group} cut to {len}"
                );
            }
            let mut longer = proof.clone();
            longer.push(0);
            assert_eq!(
                verify_chunk_group(&object.root, size, group, &longer),
                Err(ContentError::ProofTrailingBytes { group, extra: 1 })
            );
        }
    }
}

#[test]
fn proofs_of_a_truncated_group_are_reported_as_truncated() {
    let object = Object::new(3 * 16384 + 7, 3);
    let proof = object.proof(1);
    assert_eq!(
        verify_chunk_group(&object.root, object.size(), 1, &proof[..proof.len() - 1]),
        Err(ContentError::ProofTruncated { group: 1 })
    );
    assert_eq!(
        verify_chunk_group(&object.root, object.size(), 1, &[]),
        Err(ContentError::ProofTruncated { group: 1 })
    );
}

#[test]
fn a_wrong_size_that_changes_the_proof_is_rejected() {
    for (seed, size) in EDGE_SIZES.into_iter().enumerate() {
        let object = Object::new(size, seed as u64);
        let last = chunk_group_count(size) - 1;
        let proof = object.proof(last);
        // The last group's length is authenticated, so any other size is caught there.
        for wrong in [
            size + 1,
            size.saturating_sub(1),
            size + 16384,
            size * 2 + 1,
            0,
            1 << 40,
        ] {
            if wrong != size {
                assert!(
                    verify_chunk_group(&object.root, wrong, last, &proof).is_err(),
                    "size {size} verified as {wrong}"
                );
            }
        }
    }
    // A size that moves the first group to another place in the tree: 2 groups put it right below
    // the root, 5 groups three levels down.
    let object = Object::new(3 * 16384 + 7, 1);
    let proof = object.proof(0);
    for wrong in [16385, 2 * 16384, 4 * 16384 + 1, 100 * 16384] {
        assert!(
            verify_chunk_group(&object.root, wrong, 0, &proof).is_err(),
            "as {wrong}"
        );
    }
}

#[test]
fn empty_content_has_one_provable_empty_group() {
    let object = Object::new(0, 0);
    assert_eq!(object.root, Root::from(blake3::hash(&[])));
    assert!(object.outboard.is_empty());
    let proof = object.proof(0);
    assert!(proof.is_empty());
    assert_eq!(
        verify_chunk_group(&object.root, 0, 0, &proof),
        Ok(Vec::new())
    );
    let other = Root::from(blake3::hash(b"x"));
    assert_eq!(
        verify_chunk_group(&other, 0, 0, &proof),
        Err(ContentError::ProofMismatch { group: 0 })
    );
    assert_eq!(
        verify_chunk_group(&object.root, 0, 0, &[0]),
        Err(ContentError::ProofTrailingBytes { group: 0, extra: 1 })
    );
    assert_eq!(verify_outboard(&object.root, 0, &[]), Ok(()));
}

#[test]
fn encode_rejects_inputs_that_do_not_fit() {
    let object = Object::new(3 * 16384 + 7, 5);
    let size = object.size();
    assert_eq!(
        encode_chunk_group(size, &object.outboard, 4, &[]),
        Err(ContentError::GroupOutOfRange {
            group: 4,
            size,
            groups: 4
        })
    );
    assert_eq!(
        verify_chunk_group(&object.root, size, u64::MAX, &object.proof(0)),
        Err(ContentError::GroupOutOfRange {
            group: u64::MAX,
            size,
            groups: 4
        })
    );
    assert_eq!(
        encode_chunk_group(size, &object.outboard, 3, &object.group_data(3)[1..]),
        Err(ContentError::GroupDataLength {
            group: 3,
            expected: 7,
            actual: 6
        })
    );
    assert_eq!(
        encode_chunk_group(size, &object.outboard[64..], 0, object.group_data(0)),
        Err(ContentError::OutboardLength {
            size,
            expected: 192,
            actual: 128
        })
    );
    // A correct outboard of another size does not pass either.
    assert!(encode_chunk_group(size - 16384, &object.outboard, 0, object.group_data(0)).is_err());
}

#[test]
fn encode_refuses_a_corrupt_local_copy() {
    for (seed, size) in [16385, 3 * 16384 + 7, 1024 * KIB + 1]
        .into_iter()
        .enumerate()
    {
        let object = Object::new(size, seed as u64);
        for group in object.sample_groups() {
            let mut data = object.group_data(group).to_vec();
            let last = data.len() - 1;
            data[last] ^= 1;
            assert_eq!(
                encode_chunk_group(size, &object.outboard, group, &data),
                Err(ContentError::StoredCorrupt { group })
            );
        }
        // Each outboard entry on a group's path is checked; entries elsewhere are not read.
        for byte in (0..object.outboard.len()).step_by(29) {
            let outboard = flip_bit(&object.outboard, byte * 8);
            let noticed = (0..chunk_group_count(size)).any(|group| {
                encode_chunk_group(size, &outboard, group, object.group_data(group))
                    == Err(ContentError::StoredCorrupt { group })
            });
            assert!(
                noticed,
                "size {size}: corrupt outboard byte {byte} was never noticed"
            );
        }
    }
}

#[test]
fn verify_outboard_accepts_fresh_outboards() {
    for (seed, size) in test_sizes().into_iter().enumerate() {
        let object = Object::new(size, seed as u64);
        assert_eq!(
            verify_outboard(&object.root, size, &object.outboard),
            Ok(()),
            "size {size}"
        );
    }
}

#[test]
fn verify_outboard_catches_any_corrupted_byte() {
    for (seed, size) in [16385, 3 * 16384 + 7, 1024 * KIB + 1, 77 * 16384 + 3]
        .into_iter()
        .enumerate()
    {
        let object = Object::new(size, seed as u64);
        for byte in 0..object.outboard.len() {
            let bad = flip_bit(&object.outboard, byte * 8 + byte % 8);
            assert_eq!(
                verify_outboard(&object.root, size, &bad),
                Err(ContentError::OutboardMismatch),
                "size {size} byte {byte}"
            );
        }
    }
}

#[test]
fn verify_outboard_rejects_wrong_root_size_or_length() {
    let object = Object::new(5 * 16384, 9);
    let size = object.size();
    let other = Object::new(size, 10);
    assert_eq!(
        verify_outboard(&other.root, size, &object.outboard),
        Err(ContentError::OutboardMismatch)
    );
    assert!(matches!(
        verify_outboard(
            &object.root,
            size,
            &object.outboard[..object.outboard.len() - 1]
        ),
        Err(ContentError::OutboardLength { .. })
    ));
    // Same group count, so same length, but a different last group: only the root can tell.
    assert_eq!(
        verify_outboard(&object.root, size - 1, &object.outboard),
        Ok(())
    );
    assert!(verify_outboard(&object.root, size + 1, &object.outboard).is_err());
    // Swapping two entries keeps every byte but breaks the tree.
    let mut swapped = object.outboard.clone();
    let (first, second) = swapped.split_at_mut(64);
    first.swap_with_slice(&mut second[..64]);
    assert_eq!(
        verify_outboard(&object.root, size, &swapped),
        Err(ContentError::OutboardMismatch)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_splits_give_the_one_shot_root_and_outboard(
        size in 0u64..200_000,
        seed in any::<u64>(),
        mut cuts in proptest::collection::vec(0u64..200_000, 0..12),
    ) {
        let data = random_bytes(size, seed);
        cuts.push(0);
        cuts.push(size);
        cuts.iter_mut().for_each(|cut| *cut = (*cut).min(size));
        cuts.sort_unstable();
        let mut hasher = ContentHasher::new();
        for pair in cuts.windows(2) {
            hasher.update(&data[pair[0] as usize..pair[1] as usize]);
        }
        prop_assert_eq!(hasher.bytes_hashed(), size);
        let (root, outboard) = hasher.finalize();
        let reference = PostOrderMemOutboard::create(&data, BLOCK_SIZE);
        prop_assert_eq!(root, Root::from(blake3::hash(&data)));
        prop_assert_eq!(root, Root::from(reference.root));
        prop_assert_eq!(outboard, reference.data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn untrusted_proofs_never_panic(
        root in any::<[u8; 32]>(),
        size in prop_oneof![0u64..100_000, any::<u64>()],
        group in prop_oneof![0u64..8, any::<u64>()],
        proof in proptest::collection::vec(any::<u8>(), 0..20_000),
    ) {
        // Random bytes never make a valid proof (that would be a BLAKE3 collision).
        prop_assert!(verify_chunk_group(&Root(root), size, group, &proof).is_err());
    }

    #[test]
    fn untrusted_outboards_never_panic(
        size in prop_oneof![16385u64..200_000, 16385u64..=u64::MAX],
        group in 0u64..16,
        seed in any::<u64>(),
        exact_len in any::<bool>(),
    ) {
        let len = if exact_len { outboard_len(size).min(1 << 20) } else { seed % 4096 };
        let outboard = random_bytes(len, seed);
        let root = Root::from(blake3::hash(&outboard));
        let group_data = chunk_group_range(size, group)
            .map_or(Vec::new(), |range| random_bytes(range.end - range.start, seed));
        // Every content here has at least two groups, so random hashes never form a valid tree.
        prop_assert!(verify_outboard(&root, size, &outboard).is_err());
        prop_assert!(encode_chunk_group(size, &outboard, group, &group_data).is_err());
    }
}
