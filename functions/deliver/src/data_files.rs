//! The job's data files as Deliver reads them: opened from S3 and read synchronously (the CSV
//! readers' way) on a blocking thread; an unusable file names its form field.

use std::io::Read;

use recoflow_core::errors::ServiceError;
use recoflow_core::form::JobForm;
use recoflow_core::popularity::PopularityError;
use recoflow_core::ports::{ObjectStore, ObjectStream};
use recoflow_core::s3uri::S3Uri;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio_util::io::SyncIoBridge;

use crate::error::DeliverError;
use crate::ports::DeliverPorts;

/// A data file read synchronously on a blocking thread.
pub(crate) type DataReader = SyncIoBridge<ObjectStream>;

/// A header line longer than this is not one.
const MAX_HEADER_BYTES: u64 = 64 * 1024;

/// A CSV file read from a row's byte offset, its header line in front (the CSV reader needs
/// it): a position the reader reports is `offset + position - header_bytes` in the file.
pub(crate) struct RowsFrom {
    pub reader: Box<dyn Read + Send>,
    pub offset: u64,
    pub header_bytes: u64,
}

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

    /// What reading the file found: a store that stopped sending it is a transient failure
    /// (retried), anything else the file's own fault.
    pub fn read_error(self, form: &JobForm, err: PopularityError) -> DeliverError {
        match err {
            PopularityError::Read(message) => ServiceError::Failed {
                service: "S3",
                operation: "GetObject body",
                message: format!("{}: {message}", self.field()),
            }
            .into(),
            err => self.invalid(form, err.to_string()),
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

    /// Opens the file at `offset` (a row's start; 0, the file's), `None` when the form names
    /// none.
    pub async fn open_at<P: DeliverPorts>(
        self,
        ports: &P,
        form: &JobForm,
        offset: u64,
    ) -> Result<Option<RowsFrom>, DeliverError> {
        let Some(start) = self.open(ports, form).await? else {
            return Ok(None);
        };
        if offset == 0 {
            return Ok(Some(RowsFrom {
                reader: Box::new(start),
                offset: 0,
                header_bytes: 0,
            }));
        }
        let mut header = Vec::new();
        BufReader::new(start.into_inner().take(MAX_HEADER_BYTES))
            .read_until(b'\n', &mut header)
            .await
            .map_err(|e| self.invalid(form, format!("its header could not be read: {e}")))?;
        let uri = self.named(form).unwrap_or_default();
        let location = S3Uri::parse(uri).map_err(|reason| self.invalid(form, reason))?;
        let rest = ports
            .objects()
            .open(&location.bucket, &location.key, offset)
            .await?
            .ok_or_else(|| self.invalid(form, "no longer exists".into()))?;
        Ok(Some(RowsFrom {
            header_bytes: header.len() as u64,
            reader: Box::new(Read::chain(std::io::Cursor::new(header), SyncIoBridge::new(rest))),
            offset,
        }))
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
