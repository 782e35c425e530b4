//! Waits between retries: exponential backoff with full jitter (a random wait between nothing
//! and the exponential bound), so many jobs retrying at once do not retry in step.

/// A wait for the `attempt`-th retry (1-based), in the unit of `base` and `cap`: uniformly
/// random in `[1, min(cap, base × 2^(attempt - 1))]`.
pub fn full_jitter(base: u64, attempt: u32, cap: u64) -> u64 {
    let bound = base
        .max(1)
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(32))
        .min(cap.max(1));
    fastrand::u64(1..=bound.max(1))
}

/// [`full_jitter`] in whole seconds.
pub fn full_jitter_seconds(base: u32, attempt: u32, cap: u32) -> u32 {
    full_jitter(u64::from(base), attempt, u64::from(cap)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_are_capped_and_jittered() {
        for _ in 0..200 {
            assert!((1..=5).contains(&full_jitter_seconds(5, 1, 600)));
            assert!((1..=40).contains(&full_jitter_seconds(5, 4, 600)));
            assert!((1..=600).contains(&full_jitter_seconds(5, 60, 600)));
            assert!((1..=100).contains(&full_jitter(50, 2, 10_000)));
        }
        let spread: std::collections::BTreeSet<u32> =
            (0..200).map(|_| full_jitter_seconds(5, 10, 600)).collect();
        assert!(spread.len() > 20, "full jitter spreads the waits: {spread:?}");
    }
}
