//! A DynamoDB-protocol endpoint that answers at once, so a delivery benchmark measures the
//! client, not the server: every `BatchWriteItem` succeeds with nothing unprocessed, every
//! other call gets an empty answer. It counts what it is sent (`GET /stats`).
//!
//!     fake-dynamodb [PORT]     # 0 or nothing: any free port; prints `listening <port>`
//!
//! HTTP/1.1 with keep-alive, by hand on tokio: enough for the AWS SDKs and boto3, and no HTTP
//! server crate whose features would differ from the Lambda builds'.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    batch_writes: AtomicU64,
    put_requests: AtomicU64,
}

fn occurrences(haystack: &[u8], needle: &[u8]) -> u64 {
    haystack.windows(needle.len()).filter(|w| *w == needle).count() as u64
}

/// Serves one connection until the client closes it.
async fn serve(stream: TcpStream, counts: Arc<Counts>) -> std::io::Result<()> {
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
        let reply = if stats {
            format!(
                r#"{{"requests":{},"batch_writes":{},"put_requests":{}}}"#,
                counts.requests.load(Ordering::Relaxed),
                counts.batch_writes.load(Ordering::Relaxed),
                counts.put_requests.load(Ordering::Relaxed)
            )
        } else {
            counts.requests.fetch_add(1, Ordering::Relaxed);
            match target.rsplit('.').next().unwrap_or_default() {
                "BatchWriteItem" => {
                    counts.batch_writes.fetch_add(1, Ordering::Relaxed);
                    counts
                        .put_requests
                        .fetch_add(occurrences(&body, b"\"PutRequest\""), Ordering::Relaxed);
                    r#"{"UnprocessedItems":{}}"#.to_owned()
                }
                "BatchGetItem" => r#"{"Responses":{},"UnprocessedKeys":{}}"#.to_owned(),
                _ => "{}".to_owned(),
            }
        };
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: fake\r\ncontent-length: {}\r\n\r\n{reply}",
            reply.len()
        );
        writer.write_all(response.as_bytes()).await?;
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening {}", listener.local_addr()?.port());
    let counts = Arc::new(Counts::default());
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(serve(stream, counts.clone()));
    }
}
