//! What the function reads from its environment, once, at start-up.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Config {
    pub jobs_table: String,
    /// Bucket of job outputs: the scoring input goes under `jobs/<job id>/input/`.
    pub results_bucket: String,
    /// Most users a part of the scoring input holds (stack parameter `ScoringPartUsers`).
    pub scoring_part_users: u64,
}
