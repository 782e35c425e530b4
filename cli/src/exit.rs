//! The exit codes (a contract for scripts and CI, listed in `recoflow --help` and the README)
//! and the one error type every command returns; each error knows its exit code.

use recoflow_core::validation::FormProblem;

/// What the process exit status says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done; a followed job SUCCEEDED.
    Success = 0,
    /// The job failed, was cancelled or its version was held back (or, for `cancel`, it had
    /// already finished); a version change the API refused (nothing changed).
    JobFailed = 1,
    /// The command line, a flag's value, the configuration or a file given was wrong.
    Usage = 2,
    /// A form is invalid.
    InvalidForm = 3,
    /// The job, result set, stack or route does not exist.
    NotFound = 4,
    /// The service could not be reached, timed out, failed, or refused the caller (auth).
    Unavailable = 5,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Shown by `recoflow --help`; the README has the same table.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success (with --wait or --follow: the job SUCCEEDED)
  1  the job FAILED, was CANCELLED or HELD (cancel: the job had already finished;
     retry: the job still runs or cannot be retried as asked);
     promote, rollback, discard: refused, nothing changed (already current, expired,
     discarded, not held, no previous version, the pointer moved meanwhile)
  2  usage error (arguments, configuration, unreadable file)
  3  invalid form or placement (the problems are listed)
  4  not found (job, result set, version, stack)
  5  service unreachable, timed out, failing, or refused the credentials";

/// An answer of the API other than 2xx, in its one error shape
/// `{"error": {"code", "message", "problems"?}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub problems: Vec<FormProblem>,
}

impl ApiError {
    /// The exit code of an API refusal: by its error code where that says more than the HTTP
    /// status, else by the status.
    pub fn exit(&self) -> Exit {
        match (self.code.as_str(), self.status) {
            ("InvalidForm" | "FormTooLarge" | "InvalidPlacement" | "PlacementTooLarge", _) => {
                Exit::InvalidForm
            }
            // Nothing changed: the job had ended, or the version could not be switched.
            (
                "JobFinished" | "JobRunning" | "NotRetryable" | "AlreadyCurrent" | "VersionExpired"
                | "VersionDiscarded" | "NotHeld" | "NoPreviousVersion" | "PointerMoved" | "PlacementChanged",
                _,
            ) => Exit::JobFailed,
            (_, 404 | 410) => Exit::NotFound,
            (_, 401 | 403 | 429) => Exit::Unavailable,
            (_, 500..) => Exit::Unavailable,
            // 400 InvalidParameter, 409 IdempotencyKeyReused and the like: the caller's input.
            _ => Exit::Usage,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Api(ApiError),
}

impl CliError {
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Usage(_) => Exit::Usage,
            CliError::NotFound(_) => Exit::NotFound,
            CliError::Unavailable(_) => Exit::Unavailable,
            CliError::Api(api) => api.exit(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str) -> Exit {
        ApiError {
            status,
            code: code.into(),
            message: String::new(),
            problems: vec![],
        }
        .exit()
    }

    #[test]
    fn api_refusals_map_to_the_documented_codes() {
        assert_eq!(api(400, "InvalidForm"), Exit::InvalidForm);
        assert_eq!(api(413, "FormTooLarge"), Exit::InvalidForm);
        assert_eq!(api(404, "JobNotFound"), Exit::NotFound);
        assert_eq!(api(404, "ResultSetNotFound"), Exit::NotFound);
        assert_eq!(api(410, "ResultSetExpired"), Exit::NotFound);
        assert_eq!(api(403, "HTTP403"), Exit::Unavailable);
        assert_eq!(api(401, "Unauthorized"), Exit::Unavailable);
        assert_eq!(api(429, "TooManyRequests"), Exit::Unavailable);
        assert_eq!(api(503, "ServiceUnavailable"), Exit::Unavailable);
        assert_eq!(api(502, "HTTP502"), Exit::Unavailable);
        assert_eq!(api(409, "JobFinished"), Exit::JobFailed);
        assert_eq!(api(409, "IdempotencyKeyReused"), Exit::Usage);
        for refused in [
            "AlreadyCurrent",
            "VersionExpired",
            "VersionDiscarded",
            "NotHeld",
            "NoPreviousVersion",
            "PointerMoved",
        ] {
            assert_eq!(api(409, refused), Exit::JobFailed, "{refused}");
        }
        assert_eq!(api(404, "VersionNotFound"), Exit::NotFound);
        assert_eq!(api(400, "ReasonRequired"), Exit::Usage);
        assert_eq!(api(400, "InvalidParameter"), Exit::Usage);
    }

    #[test]
    fn errors_carry_their_codes() {
        assert_eq!(CliError::Usage("x".into()).exit().code(), 2);
        assert_eq!(CliError::NotFound("x".into()).exit().code(), 4);
        assert_eq!(CliError::Unavailable("x".into()).exit().code(), 5);
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::InvalidForm.code(), 3);
    }

    #[test]
    fn the_help_lists_every_code() {
        for exit in [
            Exit::Success,
            Exit::JobFailed,
            Exit::Usage,
            Exit::InvalidForm,
            Exit::NotFound,
            Exit::Unavailable,
        ] {
            assert!(EXIT_CODES_HELP.contains(&format!("\n  {}  ", exit.code())));
        }
    }
}
