//! recoflow's domain, shared by every Lambda function: the job form and its validation, jobs
//! and their status life cycle, error names, and the ports (traits) for the AWS services with
//! their SDK adapters.

pub mod aws;
pub mod config;
pub mod errors;
pub mod form;
pub mod job;
pub mod ports;
pub mod s3uri;
pub mod telemetry;
pub mod validation;

#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
