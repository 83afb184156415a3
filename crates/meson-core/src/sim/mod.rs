//! What the simulators ([`crate::auditsim`], [`crate::huntsim`]) share: draws that do not consume a
//! seed's generator, Zipf popularity over numbered objects, the router's placement of objects on
//! terminals, shares as they print, and the checks of a configuration.

mod popularity;
mod routing;

pub(crate) use popularity::Popularity;
pub(crate) use routing::Routing;

/// Why a configuration cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{cheaters} cheating terminals do not fit in {terminals}")]
    TooManyCheaters { cheaters: usize, terminals: usize },
    #[error("{0}")]
    Invalid(&'static str),
}

/// The first of `checks` that is bad, as an error.
pub(crate) fn first_invalid(checks: &[(bool, &'static str)]) -> Result<(), ConfigError> {
    match checks.iter().find(|(bad, _)| *bad) {
        Some((_, why)) => Err(ConfigError::Invalid(why)),
        None => Ok(()),
    }
}

/// Refuses more special terminals (cheaters, flaky ones) than the network has.
pub(crate) fn fits(special: usize, terminals: usize) -> Result<(), ConfigError> {
    match special > terminals {
        true => Err(ConfigError::TooManyCheaters {
            cheaters: special,
            terminals,
        }),
        false => Ok(()),
    }
}

/// Whether `x` is a share, from 0 to 1.
pub(crate) fn is_share(x: f64) -> bool {
    (0.0..=1.0).contains(&x)
}

/// The object's key: what tickets, holdings and scheduling name it by.
pub(crate) fn object_key(object: u32) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..4].copy_from_slice(&object.to_le_bytes());
    key
}

/// A well-mixed 64-bit value of `x` (SplitMix64's finaliser): the per-seed, per-object and per-chunk
/// draws that must not consume the seed's generator, so they are the same whenever they are asked.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// `mix` as a uniform number in [0, 1).
pub(crate) fn unit(x: u64) -> f64 {
    (mix(x) >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform number in [0, 1) for `parts` (say terminal, object, chunk group) under `seed` and `salt`
/// (one per kind of draw, so draws of different kinds are independent): the same whenever it is asked.
pub(crate) fn fixed_unit(seed: u64, salt: u64, parts: &[u64]) -> f64 {
    match parts.split_last() {
        Some((last, rest)) => unit(rest.iter().fold(mix(seed ^ salt), |x, p| mix(x ^ p)) ^ last),
        None => unit(seed ^ salt),
    }
}

/// A share as a label names it: `10%`, `0.5%`.
pub(crate) fn pct_label(share: f64) -> String {
    format!("{}%", (share * 1000.0).round() / 10.0)
}

/// A share in a table: `10.0%`.
pub(crate) fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_draws_repeat_and_differ_by_part_and_salt() {
        let a = fixed_unit(7, 1, &[3, 4, 5]);
        assert_eq!(a, fixed_unit(7, 1, &[3, 4, 5]));
        assert!((0.0..1.0).contains(&a));
        assert_ne!(a, fixed_unit(7, 2, &[3, 4, 5]));
        assert_ne!(a, fixed_unit(7, 1, &[3, 4, 6]));
        assert_eq!(
            a,
            unit(mix(mix(mix(7 ^ 1) ^ 3) ^ 4) ^ 5),
            "the audit simulator's draws, as they were"
        );
        let mean = (0..10_000u64).map(|i| fixed_unit(1, 2, &[i])).sum::<f64>() / 10_000.0;
        assert!((0.48..0.52).contains(&mean), "{mean}");
    }

    #[test]
    fn shares_print_as_labels_and_in_tables() {
        assert_eq!(pct_label(0.1), "10%");
        assert_eq!(pct_label(0.005), "0.5%");
        assert_eq!(pct_label(1.0), "100%");
        assert_eq!(pct(0.1234), "12.3%");
    }
}
