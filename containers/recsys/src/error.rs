use std::io;
use std::path::{Path, PathBuf};

/// Everything `recsys` can fail with. Messages are written verbatim to SageMaker's failure
/// file, so each names the file, line and column a data team has to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}:{line}{}: {message}", path.display(), column.as_ref().map(|c| format!(" column {c}")).unwrap_or_default())]
    Data {
        path: PathBuf,
        line: u64,
        column: Option<String>,
        message: String,
    },
    #[error("{context} {}: {source}", path.display())]
    Io {
        context: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub fn io<'a>(context: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
        move |source| Error::Io {
            context,
            path: path.to_path_buf(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
