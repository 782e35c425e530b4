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
    /// Recurring forms: their records, and where their Scheduler schedules go and call.
    pub schedules_table: String,
    pub schedule_group: String,
    pub schedules_function_arn: String,
    pub scheduler_role_arn: String,
    pub schedule_dead_letter_arn: String,
    /// Data-driven forms: their records and the files they watch.
    pub triggers_table: String,
}

impl Config {
    pub fn scheduler_target(&self) -> recoflow_aws::SchedulerTarget {
        recoflow_aws::SchedulerTarget {
            group: self.schedule_group.clone(),
            function_arn: self.schedules_function_arn.clone(),
            role_arn: self.scheduler_role_arn.clone(),
            dead_letter_arn: self.schedule_dead_letter_arn.clone(),
        }
    }
}
