//! recoflow's domain, shared by every Lambda function: the job form and its validation, jobs
//! and their status life cycle, phases and the resources they launch, quota rules, error names,
//! and the ports (traits) that the AWS adapters of `recoflow-aws` implement. No AWS SDK and no
//! Lambda runtime here: handlers built on these are tested with the fakes.

pub mod attributes;
pub mod backoff;
pub mod clock;
pub mod config;
pub mod data_version;
pub mod delivery;
pub mod document;
pub mod errors;
pub mod events;
pub mod form;
pub mod forms_bucket;
pub mod history;
pub mod job;
pub mod kpi;
pub mod launch;
pub mod monitoring;
pub mod notification;
pub mod output_rules;
pub mod outputs;
pub mod personalize_datasets;
pub mod phase;
pub mod placement;
pub mod popularity;
pub mod ports;
pub mod quality;
pub mod quota;
pub mod quota_queue;
pub mod resuming_read;
pub mod retry;
pub mod s3uri;
pub mod schedule;
pub mod scoring_parts;
pub mod segment;
pub mod slot_release;
pub mod submit;
pub mod task;
pub mod topk;
pub mod trigger;
pub mod unchanged;
pub mod validation;
pub mod versions;
pub mod webhook;
pub mod write_budget;

#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
