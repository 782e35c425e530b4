//! What the function reads from its environment, once, at start-up.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Config {
    pub jobs_table: String,
    pub schedules_table: String,
    pub state_machine_arn: String,
}
