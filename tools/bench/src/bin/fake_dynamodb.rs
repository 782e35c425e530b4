//! A DynamoDB-protocol endpoint that answers at once, so a delivery benchmark measures the
//! client, not the server: every `BatchWriteItem` succeeds with nothing unprocessed, every
//! other call gets an empty answer. It counts what it is sent (`GET /stats`).
//!
//! Given a write-unit budget it throttles the way a table at its limit does: a
//! `BatchWriteItem` whose units the last second's budget cannot cover is refused with
//! `ProvisionedThroughputExceededException` (the budget refills continuously, at most one
//! second of it banked), so a writer that goes faster is told to slow down.
//!
//!     fake-dynamodb [PORT [WRITE_UNITS_PER_SECOND]]   # port 0 or nothing: any free port;
//!                                                     # prints `listening <port>`
//!
//! HTTP/1.1 with keep-alive, by hand on tokio: enough for the AWS SDKs and boto3, and no HTTP
//! server crate whose features would differ from the Lambda builds'.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    batch_writes: AtomicU64,
    put_requests: AtomicU64,
    /// Write units of the accepted batches.
    write_units: AtomicU64,
    /// Batches refused for the budget.
    throttled: AtomicU64,
}

/// The table's write units: a bucket of one second of the budget, refilled continuously.
struct Budget {
    per_second: f64,
    tokens: f64,
    at: Instant,
}

impl Budget {
    fn new(per_second: u64) -> Self {
        let per_second = per_second.max(1) as f64;
        Self {
            per_second,
            tokens: per_second,
            at: Instant::now(),
        }
    }

    /// Takes `units` if the bucket has them.
    fn admit(&mut self, units: u64) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.per_second);
        if self.tokens >= units as f64 {
            self.tokens -= units as f64;
            true
        } else {
            false
        }
    }
}

struct Table {
    counts: Counts,
    budget: Option<Mutex<Budget>>,
}

/// A batch's write units: its puts, each at least one unit, more for a body over a kilobyte
/// an item (the same estimate for every item of the batch).
fn batch_units(body: &[u8]) -> u64 {
    let puts = occurrences(body, b"\"PutRequest\"").max(1);
    let per_item = (body.len() as u64 / puts).div_ceil(1024).max(1);
    puts * per_item
}

const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#;

fn occurrences(haystack: &[u8], needle: &[u8]) -> u64 {
    haystack.windows(needle.len()).filter(|w| *w == needle).count() as u64
}

/// Serves one connection until the client closes it.
async fn serve(stream: TcpStream, table: Arc<Table>) -> std::io::Result<()> {
    let counts = &table.counts;
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let stats = line.starts_with("GET /stats");
        let (mut length, mut target) = (0usize, String::new());
        loop {
            line.clear();
            if reader.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "x-amz-target" => target = value.trim().to_owned(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        let (status, reply) = if stats {
            let stats = format!(
                r#"{{"requests":{},"batch_writes":{},"put_requests":{},"write_units":{},"throttled":{}}}"#,
                counts.requests.load(Ordering::Relaxed),
                counts.batch_writes.load(Ordering::Relaxed),
                counts.put_requests.load(Ordering::Relaxed),
                counts.write_units.load(Ordering::Relaxed),
                counts.throttled.load(Ordering::Relaxed),
            );
            ("200 OK", stats)
        } else {
            counts.requests.fetch_add(1, Ordering::Relaxed);
            match target.rsplit('.').next().unwrap_or_default() {
                "BatchWriteItem" => {
                    let units = batch_units(&body);
                    let admitted = table.budget.as_ref().is_none_or(|budget| {
                        budget
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .admit(units)
                    });
                    if admitted {
                        counts.batch_writes.fetch_add(1, Ordering::Relaxed);
                        counts
                            .put_requests
                            .fetch_add(occurrences(&body, b"\"PutRequest\""), Ordering::Relaxed);
                        counts.write_units.fetch_add(units, Ordering::Relaxed);
                        ("200 OK", r#"{"UnprocessedItems":{}}"#.to_owned())
                    } else {
                        counts.throttled.fetch_add(1, Ordering::Relaxed);
                        ("400 Bad Request", THROTTLED.to_owned())
                    }
                }
                "BatchGetItem" => ("200 OK", r#"{"Responses":{},"UnprocessedKeys":{}}"#.to_owned()),
                _ => ("200 OK", "{}".to_owned()),
            }
        };
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: fake\r\ncontent-length: {}\r\n\r\n{reply}",
            reply.len()
        );
        writer.write_all(response.as_bytes()).await?;
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    let budget = std::env::args().nth(2).and_then(|units| units.parse().ok());
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening {}", listener.local_addr()?.port());
    let table = Arc::new(Table {
        counts: Counts::default(),
        budget: budget.map(|units| Mutex::new(Budget::new(units))),
    });
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(serve(stream, table.clone()));
    }
}
