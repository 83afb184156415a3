//! The auditor's decisions, apart from its I/O: when the next audit comes, what it challenges, and how
//! an answer is classified. The router's auditor and the audit simulator ([`crate::auditsim`]) both call
//! these with their own random generator (the router's thread generator, the simulator's seeded one).

use rand::Rng;

use super::holdings::Target;
use super::{Outcome, Verdict};
use crate::content::{self, Root};

/// Seconds until the next audit of any of `up` terminals, so that each is audited every
/// `interval_secs` on average at times it cannot predict: exponential gaps (a Poisson process) of mean
/// `interval_secs / up`, capped at ten intervals so a long idle spell never stalls the auditor.
pub fn next_gap<R: Rng + ?Sized>(interval_secs: f64, up: usize, rng: &mut R) -> f64 {
    let mean = interval_secs / up.max(1) as f64;
    let gap = -mean * (1.0 - rng.random::<f64>()).ln();
    gap.min(interval_secs * 10.0)
}

/// A piece of content to challenge: its root and length, and whether the terminal claimed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub root: Root,
    pub len: u64,
    pub claimed: bool,
}

/// The piece to challenge for `target`, given the pieces (root, length) of each version of its object
/// that the router knows, newest first, and whether the terminal claims a root (`claims`: what it
/// reported holding and not evicted). None when it knows nothing that matches: the object is not
/// learned yet, or the terminal claims a version the router does not know.
///
/// A piece drawn for an object the terminal was only sent clients for still counts as claimed when the
/// terminal reported holding it: otherwise a terminal that drops what it claims would answer `not_held`,
/// neutral, to every audit drawn that way, half of them.
pub fn choose_piece<R: Rng + ?Sized>(
    target: Target,
    versions: &[Vec<(Root, u64)>],
    claims: impl Fn(&Root) -> bool,
    rng: &mut R,
) -> Option<Piece> {
    match target {
        Target::Claimed(c) => versions
            .iter()
            .flatten()
            .find(|(root, len)| *root == c.root && *len == c.len)
            .map(|&(root, len)| Piece {
                root,
                len,
                claimed: true,
            }),
        Target::Routed(_) => {
            // The latest version; of a sliced object one slice, since terminals store those by slice.
            let pieces = versions.first().filter(|p| !p.is_empty())?;
            let from = usize::from(pieces.len() > 1);
            let (root, len) = pieces[rng.random_range(from..pieces.len())];
            Some(Piece {
                root,
                len,
                claimed: claims(&root),
            })
        }
    }
}

/// The chunk group to challenge: any of the piece's, uniformly.
pub fn chunk_group<R: Rng + ?Sized>(len: u64, rng: &mut R) -> u64 {
    rng.random_range(0..content::chunk_group_count(len))
}

/// The outcome of an audit from the verdict on the terminal's answer (None: no valid signed answer in
/// time) and whether the piece was one the terminal claimed.
pub fn classify(verdict: Option<&Verdict>, claimed: bool) -> Outcome {
    match verdict {
        None => Outcome::Timeout,
        Some(Verdict::Pass) => Outcome::Pass,
        Some(Verdict::NotHeld) if claimed => Outcome::Missing,
        Some(Verdict::NotHeld) => Outcome::NotHeld,
        Some(Verdict::Fail(_)) => Outcome::Fail,
    }
}

/// A `missing` piece once the terminal's next heartbeats are in: an honest terminal may have evicted it
/// since its last one, and says so; missing is what it still claims after that.
pub fn recheck(outcome: Outcome, still_claimed: bool) -> Outcome {
    match outcome {
        Outcome::Missing if !still_claimed => Outcome::NotHeld,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;
    use crate::audit::holdings::Claimed;

    #[test]
    fn gaps_average_the_interval_over_the_terminals_up() {
        let mut rng = StdRng::seed_from_u64(3);
        let n = 20_000;
        let mean = (0..n).map(|_| next_gap(900.0, 10, &mut rng)).sum::<f64>() / n as f64;
        assert!((85.0..95.0).contains(&mean), "{mean}");
        assert!((0..1000).all(|_| next_gap(900.0, 0, &mut rng) <= 9000.0));
    }

    #[test]
    fn a_claimed_piece_must_match_a_known_version_and_a_routed_object_gets_a_slice() {
        let mut rng = StdRng::seed_from_u64(4);
        let (a, b, s1, s2) = (Root([1; 32]), Root([2; 32]), Root([3; 32]), Root([4; 32]));
        let versions = vec![vec![(a, 10)], vec![(b, 20)]];
        let claimed = |root, len| {
            Target::Claimed(Claimed {
                object: [0; 16],
                root,
                len,
            })
        };
        assert_eq!(
            choose_piece(claimed(b, 20), &versions, |_| false, &mut rng),
            Some(Piece {
                root: b,
                len: 20,
                claimed: true
            })
        );
        assert_eq!(
            choose_piece(claimed(b, 21), &versions, |_| false, &mut rng),
            None
        );
        assert_eq!(
            choose_piece(Target::Routed([0; 16]), &versions, |_| false, &mut rng)
                .map(|p| (p.root, p.claimed)),
            Some((a, false))
        );
        // Routed to it, and reported held by it: its absence is `missing`, not neutral.
        assert_eq!(
            choose_piece(Target::Routed([0; 16]), &versions, |r| *r == a, &mut rng)
                .map(|p| (p.root, p.claimed)),
            Some((a, true))
        );
        assert_eq!(
            choose_piece(Target::Routed([0; 16]), &[], |_| false, &mut rng),
            None
        );
        // A sliced object: the whole root first, then its slices; a routed audit draws a slice.
        let sliced = vec![vec![(a, 8), (s1, 4), (s2, 4)]];
        for _ in 0..50 {
            let p = choose_piece(Target::Routed([0; 16]), &sliced, |_| false, &mut rng).unwrap();
            assert!(p.root == s1 || p.root == s2);
        }
    }

    #[test]
    fn outcomes_from_verdicts() {
        assert_eq!(classify(None, true), Outcome::Timeout);
        assert_eq!(classify(Some(&Verdict::Pass), false), Outcome::Pass);
        assert_eq!(classify(Some(&Verdict::NotHeld), true), Outcome::Missing);
        assert_eq!(classify(Some(&Verdict::NotHeld), false), Outcome::NotHeld);
        assert_eq!(
            classify(Some(&Verdict::Fail("x".into())), false),
            Outcome::Fail
        );
        assert_eq!(recheck(Outcome::Missing, false), Outcome::NotHeld);
        assert_eq!(recheck(Outcome::Missing, true), Outcome::Missing);
        assert_eq!(recheck(Outcome::Fail, false), Outcome::Fail);
        let mut rng = StdRng::seed_from_u64(5);
        assert!((0..100).all(|_| chunk_group(40_000, &mut rng) < 3));
        assert_eq!(chunk_group(0, &mut rng), 0);
    }
}
