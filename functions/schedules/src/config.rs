//! What the function reads from its environment, once, at start-up.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Config {
    pub jobs_table: String,
    pub schedules_table: String,
    pub state_machine_arn: String,
    /// Data-driven triggers: their records and watched files, and the state machine whose
    /// executions wait a trigger's quiet period before its check.
    pub triggers_table: String,
    pub trigger_check_state_machine_arn: String,
}
