//! What the function reads from its environment, once, at start-up.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Config {
    pub jobs_table: String,
    pub state_machine_arn: String,
    /// Comma-separated buckets a form's data files may be in.
    pub allowed_data_buckets: String,
    /// Comma-separated ECR repositories a container job's images may come from.
    pub allowed_image_repositories: String,
}
