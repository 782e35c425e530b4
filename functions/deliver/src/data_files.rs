//! The job's data files as Deliver reads them: opened from S3 and read synchronously (the CSV
//! readers' way) on a blocking thread; an unusable file names its form field.

use recoflow_core::form::JobForm;
use recoflow_core::ports::{ObjectStore, ObjectStream};
use recoflow_core::s3uri::S3Uri;
use tokio_util::io::SyncIoBridge;

use crate::error::DeliverError;
use crate::ports::DeliverPorts;

/// A data file read synchronously on a blocking thread.
pub(crate) type DataReader = SyncIoBridge<ObjectStream>;

/// The data files a delivery reads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DataFile {
    Users,
    Interactions,
    Items,
}

impl DataFile {
    /// The form field that names the file.
    pub fn field(self) -> &'static str {
        match self {
            DataFile::Users => "dataset.users",
            DataFile::Interactions => "dataset.interactions",
            DataFile::Items => "dataset.items",
        }
    }

    /// The file's URI, if the form names it.
    fn named(self, form: &JobForm) -> Option<&str> {
        match self {
            DataFile::Users => form.dataset.users.as_deref(),
            DataFile::Interactions => Some(&form.dataset.interactions),
            DataFile::Items => form.dataset.items.as_deref(),
        }
    }

    pub fn invalid(self, form: &JobForm, reason: String) -> DeliverError {
        DeliverError::DatasetInvalid {
            field: self.field().to_owned(),
            uri: self.named(form).unwrap_or_default().to_owned(),
            reason,
        }
    }

    /// Opens the file, `None` when the form names none (interactions always).
    pub async fn open<P: DeliverPorts>(
        self,
        ports: &P,
        form: &JobForm,
    ) -> Result<Option<DataReader>, DeliverError> {
        let Some(uri) = self.named(form) else {
            return Ok(None);
        };
        let location = S3Uri::parse(uri).map_err(|reason| self.invalid(form, reason))?;
        ports
            .objects()
            .open(&location.bucket, &location.key, 0)
            .await?
            .map(|stream| Some(SyncIoBridge::new(stream)))
            .ok_or_else(|| self.invalid(form, "no longer exists".into()))
    }

    /// Opens a file the form must name.
    pub async fn open_named<P: DeliverPorts>(
        self,
        ports: &P,
        form: &JobForm,
    ) -> Result<DataReader, DeliverError> {
        self.open(ports, form)
            .await?
            .ok_or_else(|| self.invalid(form, "is not named by the form".into()))
    }
}
