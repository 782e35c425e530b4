//! Which function runs each state-machine state, for the link to the logs of the function a
//! failure came from. The template fills `STATE_FUNCTIONS` (`Prepare=<fn>,RunPhases=<fn>,
//! Deliver=<fn>`) from the states' own resources, and a test holds it against the ASL.

use recoflow_core::job::{JobFailure, JobStatus};
use serde::{Deserialize, Deserializer};

/// `(state, function name)` pairs, in the order the variable lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct StateFunctions(Vec<(String, String)>);

impl StateFunctions {
    /// Reads `State=function,…`; a pair that is not one, or a state listed twice, is refused.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for pair in text.split(',').map(str::trim).filter(|pair| !pair.is_empty()) {
            let (state, function) = pair
                .split_once('=')
                .map(|(state, function)| (state.trim(), function.trim()))
                .filter(|(state, function)| !state.is_empty() && !function.is_empty())
                .ok_or_else(|| format!("STATE_FUNCTIONS: `{pair}` is not <State>=<function name>"))?;
            if pairs.iter().any(|(listed, _)| listed == state) {
                return Err(format!("STATE_FUNCTIONS: state {state} is listed twice"));
            }
            pairs.push((state.to_owned(), function.to_owned()));
        }
        if pairs.is_empty() {
            return Err("STATE_FUNCTIONS: names no state".to_owned());
        }
        Ok(Self(pairs))
    }

    /// The function whose logs tell about `failure`: the one of the state whose Catch took it;
    /// for a failure recorded without a state, the one of the state its job status belongs to;
    /// else the first listed, as a place to start.
    pub fn for_failure(&self, failure: Option<&JobFailure>) -> Option<&str> {
        let by_state = failure
            .and_then(|f| f.state.as_deref())
            .and_then(|state| self.function(state));
        let by_status = || {
            failure
                .and_then(|f| f.status)
                .and_then(state_of_status)
                .and_then(|state| self.function(state))
        };
        by_state
            .or_else(by_status)
            .or_else(|| self.0.first().map(|(_, function)| function.as_str()))
    }

    fn function(&self, state: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(listed, _)| listed == state)
            .map(|(_, function)| function.as_str())
    }
}

impl<'de> Deserialize<'de> for StateFunctions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        StateFunctions::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The state-machine state a job is in while it has `status`.
fn state_of_status(status: JobStatus) -> Option<&'static str> {
    match status {
        JobStatus::Queued | JobStatus::Preparing => Some("Prepare"),
        JobStatus::WaitingForQuota | JobStatus::Importing | JobStatus::Training | JobStatus::Scoring => {
            Some("RunPhases")
        }
        JobStatus::Delivering => Some("Deliver"),
        JobStatus::Received
        | JobStatus::Rejected
        | JobStatus::Succeeded
        | JobStatus::Held
        | JobStatus::Failed
        | JobStatus::Cancelled
        | JobStatus::Skipped => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn functions() -> StateFunctions {
        StateFunctions::parse(" Prepare=prep, RunPhases=runner ,Deliver=deliver").unwrap()
    }

    fn failure(status: Option<JobStatus>, state: Option<&str>) -> JobFailure {
        JobFailure {
            error: "X".into(),
            cause: String::new(),
            status,
            state: state.map(str::to_owned),
        }
    }

    #[test]
    fn a_failure_links_to_the_function_of_its_state() {
        let functions = functions();
        let deliver = failure(Some(JobStatus::Training), Some("Deliver"));
        assert_eq!(functions.for_failure(Some(&deliver)), Some("deliver"));
        let run = failure(None, Some("RunPhases"));
        assert_eq!(functions.for_failure(Some(&run)), Some("runner"));
    }

    #[test]
    fn without_a_state_the_job_status_says_which_function() {
        let functions = functions();
        for (status, function) in [
            (JobStatus::Queued, "prep"),
            (JobStatus::Preparing, "prep"),
            (JobStatus::WaitingForQuota, "runner"),
            (JobStatus::Importing, "runner"),
            (JobStatus::Training, "runner"),
            (JobStatus::Scoring, "runner"),
            (JobStatus::Delivering, "deliver"),
        ] {
            let failure = failure(Some(status), None);
            assert_eq!(functions.for_failure(Some(&failure)), Some(function), "{status}");
        }
        // Nothing to go by: the first listed.
        assert_eq!(functions.for_failure(None), Some("prep"));
        let unknown = failure(Some(JobStatus::Failed), Some("Elsewhere"));
        assert_eq!(functions.for_failure(Some(&unknown)), Some("prep"));
    }

    #[test]
    fn a_malformed_list_is_refused_naming_the_variable_and_the_pair() {
        for (text, expected) in [
            ("Prepare", "`Prepare` is not <State>=<function name>"),
            ("Prepare=a,=b", "`=b` is not"),
            ("Prepare=", "`Prepare=` is not"),
            ("Prepare=a,Prepare=b", "state Prepare is listed twice"),
            (" , ", "names no state"),
        ] {
            let err = StateFunctions::parse(text).unwrap_err();
            assert!(
                err.starts_with("STATE_FUNCTIONS: ") && err.contains(expected),
                "{text}: {err}"
            );
        }
    }
}
