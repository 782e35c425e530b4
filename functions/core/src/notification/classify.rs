//! Where the reader of a failure should look first: input/data, model/container or platform.

use serde::{Deserialize, Serialize};

use crate::errors::ErrorName;

/// Where the reader of a failure should look first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// The form or its data: a missing file, a bad CSV, nobody in the segment.
    InputData,
    /// Training or scoring failed in the model's own code.
    ModelContainer,
    /// The platform: quota, AWS errors, timeouts, relaunches used up.
    Platform,
}

impl FailureClass {
    pub fn label(self) -> &'static str {
        match self {
            FailureClass::InputData => "input/data",
            FailureClass::ModelContainer => "model/container",
            FailureClass::Platform => "platform",
        }
    }

    pub(super) fn advice(self) -> &'static str {
        match self {
            FailureClass::InputData => "Check the form and its data files (the cause names the file, column or segment).",
            FailureClass::ModelContainer => "Check the training or scoring code and its logs.",
            FailureClass::Platform => "Not the job's fault: quota, AWS or a timeout. Resubmitting later usually works; tell the recoflow team if it persists.",
        }
    }
}

/// Words of a container's failure reason that point at its input data, not its code.
const DATA_WORDS: [&str; 6] = [
    ".csv",
    "column",
    "header",
    "no s3 objects",
    "timestamp",
    "missing the following required columns",
];

/// Classifies a failure from its error name and cause.
pub fn classify(error: &str, cause: &str) -> FailureClass {
    match ErrorName::parse(error) {
        Some(
            ErrorName::DatasetMissing
            | ErrorName::DatasetInvalid
            | ErrorName::SegmentEmpty
            | ErrorName::ImportFailed
            | ErrorName::LaunchInvalid,
        ) => FailureClass::InputData,
        // A container that stopped on a bad CSV failed because of its data.
        Some(ErrorName::TrainingFailed | ErrorName::ScoringFailed) => {
            let cause = cause.to_ascii_lowercase();
            if DATA_WORDS.iter().any(|w| cause.contains(w)) {
                FailureClass::InputData
            } else {
                FailureClass::ModelContainer
            }
        }
        Some(ErrorName::ScoresInvalid) => FailureClass::ModelContainer,
        _ => FailureClass::Platform,
    }
}
