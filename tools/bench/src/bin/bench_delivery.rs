//! Delivery benchmark: the Deliver steps' own code (`deliver::sequence`) publishing a scores
//! file into a DynamoDB endpoint through the real SDK adapter. The scores are read from a local
//! file instead of S3, so the figure is the writing path's.
//!
//!     bench-delivery gen USERS OUT_FILE          # Personalize batch output, 25 items per user
//!     bench-delivery run SCORES_FILE ENDPOINT TABLE [IN_FLIGHT [JOBS_TABLE]]
//!
//! `run` prints one JSON line: users written, seconds, users per second, peak RSS (KiB). The
//! job's record is kept in memory, or, given JOBS_TABLE (a real table: the pointer's publish
//! checks the job's status there), in that table of the endpoint. With
//! `WRITE_UNITS_PER_SECOND` in the environment the writes keep to that budget, as Deliver's
//! do (`DeliveryWriteUnitsPerSecond`).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use deliver::ports::{DeliverPorts, DeliverSettings};
use deliver::sequence::deliver_to_end;
use recoflow_aws::clients::DynamoDb;
use recoflow_aws::{DynamoJobStore, DynamoRecommendations};
use recoflow_core::clock::SystemClock;
use recoflow_core::errors::ServiceError;
use recoflow_core::fakes::{test_form, FakeJobStore};
use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::ports::{Created, JobStore, KeyPage, ObjectHead, ObjectRead, ObjectStore, ObjectStream};
use tokio::io::AsyncSeekExt;
use tokio::sync::mpsc;

const ITEMS_PER_USER: usize = 25;

/// Buckets as local directories: `s3://<bucket>/<key>` is `<root>/<bucket>/<key>`.
struct LocalObjects {
    root: PathBuf,
}

fn unsupported(operation: &'static str) -> ServiceError {
    ServiceError::Failed {
        service: "local files",
        operation,
        message: "not needed by the benchmark".into(),
    }
}

#[async_trait]
impl ObjectStore for LocalObjects {
    async fn size(&self, bucket: &str, key: &str) -> Result<Option<u64>, ServiceError> {
        Ok(std::fs::metadata(self.root.join(bucket).join(key))
            .ok()
            .map(|m| m.len()))
    }

    async fn read_limited(
        &self,
        bucket: &str,
        key: &str,
        _: Option<&str>,
        max: u64,
    ) -> Result<ObjectRead, ServiceError> {
        Ok(match std::fs::read(self.root.join(bucket).join(key)) {
            Ok(body) if body.len() as u64 > max => ObjectRead::TooLarge {
                size: body.len() as u64,
            },
            Ok(body) => ObjectRead::Body(body),
            Err(_) => ObjectRead::Missing,
        })
    }

    async fn read_head(&self, _: &str, _: &str, _: u64) -> Result<Option<ObjectHead>, ServiceError> {
        Err(unsupported("read_head"))
    }

    async fn open(&self, bucket: &str, key: &str, offset: u64) -> Result<Option<ObjectStream>, ServiceError> {
        let Ok(mut file) = tokio::fs::File::open(self.root.join(bucket).join(key)).await else {
            return Ok(None);
        };
        file.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(|_| unsupported("seek"))?;
        Ok(Some(Box::pin(file)))
    }

    async fn list(&self, bucket: &str, prefix: &str, _max: usize) -> Result<Vec<String>, ServiceError> {
        let dir = self.root.join(bucket).join(prefix);
        let mut keys: Vec<String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| format!("{prefix}{}", e.file_name().to_string_lossy()))
                    .collect()
            })
            .unwrap_or_default();
        keys.sort();
        Ok(keys)
    }

    /// The whole directory is one page: the benchmark has one score file.
    async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        _continuation: Option<&str>,
    ) -> Result<KeyPage, ServiceError> {
        let keys = self.list(bucket, prefix, usize::MAX).await?;
        let keys = keys
            .into_iter()
            .filter(|key| start_after.is_none_or(|after| key.as_str() > after))
            .collect();
        Ok(KeyPage {
            keys,
            continuation: None,
        })
    }

    /// Each score file's progress and metrics.
    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>, _: &str) -> Result<(), ServiceError> {
        let path = self.root.join(bucket).join(key);
        let written = match path.parent() {
            Some(dir) => std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, body)),
            None => std::fs::write(&path, body),
        };
        written.map_err(|e| ServiceError::Failed {
            service: "local files",
            operation: "put",
            message: format!("{}: {e}", path.display()),
        })
    }

    async fn put_chunks(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: mpsc::Receiver<Vec<u8>>,
    ) -> Result<u64, ServiceError> {
        Err(unsupported("put_chunks"))
    }

    async fn copy(&self, _: &str, _: &str, _: Option<&str>, _: &str) -> Result<(), ServiceError> {
        Err(unsupported("copy"))
    }

    async fn delete(&self, _: &str, _: &str) -> Result<(), ServiceError> {
        Err(unsupported("delete"))
    }

    async fn presign_get(
        &self,
        _: &str,
        _: &str,
        _: std::time::Duration,
    ) -> Result<recoflow_core::ports::PresignedUrl, ServiceError> {
        Err(unsupported("presign_get"))
    }
}

/// The Deliver step's ports for the benchmark: the job record in memory or in a jobs table,
/// scores from local files, the lists (and the version's record) written through the real
/// DynamoDB adapter, real time.
struct BenchPorts<J> {
    jobs: J,
    objects: LocalObjects,
    lists: DynamoRecommendations,
    settings: DeliverSettings,
}

impl<J: JobStore> DeliverPorts for BenchPorts<J> {
    type Jobs = J;
    type Objects = LocalObjects;
    type Lists = DynamoRecommendations;
    type Versions = DynamoRecommendations;
    type Clock = SystemClock;

    fn jobs(&self) -> &J {
        &self.jobs
    }

    fn objects(&self) -> &LocalObjects {
        &self.objects
    }

    fn lists(&self) -> &DynamoRecommendations {
        &self.lists
    }

    fn versions(&self) -> &DynamoRecommendations {
        &self.lists
    }

    fn clock(&self) -> &SystemClock {
        &SystemClock
    }

    fn settings(&self) -> &DeliverSettings {
        &self.settings
    }
}

fn settings() -> DeliverSettings {
    DeliverSettings {
        results_bucket: "results".into(),
        retention_seconds: 3600,
        budget: Duration::from_secs(3600),
        max_skipped_share: 0.0,
        fallback_share_users: 5_000_000,
    }
}

/// Runs the delivery to its end; the users written and the seconds it took.
async fn deliver_all<J: JobStore>(ports: BenchPorts<J>, job_id: &JobId) -> Result<(u64, f64), String> {
    let started = Instant::now();
    let progress = deliver_to_end(&ports, job_id).await.map_err(|e| e.to_string())?;
    Ok((progress.users, started.elapsed().as_secs_f64()))
}

fn generate(users: u64, out: &str) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(out)?);
    for user in 0..users {
        let items: Vec<String> = (0..ITEMS_PER_USER)
            .map(|i| format!("\"i{:05}\"", (user as usize * 7 + i * 13) % 20_000))
            .collect();
        let scores: Vec<String> = (0..ITEMS_PER_USER)
            .map(|i| format!("{:.6}", 1.0 / (i as f64 + 2.0)))
            .collect();
        writeln!(
            file,
            r#"{{"input":{{"userId":"user-{user:08}"}},"output":{{"recommendedItems":[{}],"scores":[{}]}},"error":null}}"#,
            items.join(","),
            scores.join(",")
        )?;
    }
    file.flush()
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Where the benchmark writes: the endpoint, its recommendations table and, if the job's record
/// is kept there, its jobs table.
struct Target<'a> {
    endpoint: &'a str,
    table: &'a str,
    jobs_table: Option<&'a str>,
    in_flight: usize,
    write_units_per_second: Option<u32>,
}

async fn run(scores: &str, target: &Target<'_>) -> Result<(), String> {
    // A data root with the scores as the job's batch output and a tiny data set for the
    // fallback lists (their cost is not what this measures).
    let root = std::env::temp_dir().join(format!("recoflow-bench-{}", std::process::id()));
    let scores_dir = root.join("results/jobs/bench-1/scores");
    std::fs::create_dir_all(&scores_dir).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(root.join("data")).map_err(|e| e.to_string())?;
    let scores_path = std::fs::canonicalize(scores).map_err(|e| format!("{scores}: {e}"))?;
    std::os::unix::fs::symlink(&scores_path, scores_dir.join("users.jsonl.out"))
        .map_err(|e| e.to_string())?;
    std::fs::write(root.join("data/u.csv"), "USER_ID,GENDER\nuser-00000000,F\n")
        .map_err(|e| e.to_string())?;
    std::fs::write(
        root.join("data/i.csv"),
        "USER_ID,ITEM_ID,TIMESTAMP\nuser-00000000,i00001,1\n",
    )
    .map_err(|e| e.to_string())?;

    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(target.endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    let client = DynamoDb::new(&sdk);
    // The same name when the record is in memory: the fake endpoint answers every check.
    let jobs_table = target.jobs_table.unwrap_or("bench-jobs");
    let mut lists = DynamoRecommendations::new(client.clone(), target.table, jobs_table, target.in_flight);
    if let Some(units) = target.write_units_per_second {
        lists = lists.with_write_budget(units);
    }
    let objects = LocalObjects { root: root.clone() };
    let memory = FakeJobStore::default();
    let job_id = memory.insert_queued("bench-1", test_form("container"));
    memory.force_status(&job_id, JobStatus::Scoring);
    let measured = match target.jobs_table {
        None => {
            deliver_all(
                BenchPorts {
                    jobs: memory,
                    objects,
                    lists,
                    settings: settings(),
                },
                &job_id,
            )
            .await
        }
        Some(table) => {
            let jobs = DynamoJobStore::new(client, table);
            let record = memory.record(&job_id).ok_or("the bench job vanished")?;
            if jobs.create(&record).await.map_err(|e| e.to_string())? != Created::New {
                return Err(format!(
                    "{table} already holds job {job_id}: run against a fresh stack"
                ));
            }
            deliver_all(
                BenchPorts {
                    jobs,
                    objects,
                    lists,
                    settings: settings(),
                },
                &job_id,
            )
            .await
        }
    };
    let _ = std::fs::remove_dir_all(&root);
    let (users, seconds) = measured?;
    let result: HashMap<&str, serde_json::Value> = HashMap::from([
        ("users", users.into()),
        ("seconds", seconds.into()),
        ("users_per_second", (users as f64 / seconds).into()),
        ("peak_rss_kib", peak_rss_kib().into()),
        ("in_flight", target.in_flight.into()),
    ]);
    println!("{}", serde_json::to_string(&result).unwrap_or_default());
    Ok(())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let outcome = match args.get(1).map(String::as_str) {
        Some("gen") if args.len() == 4 => args[2]
            .parse()
            .map_err(|_| "USERS must be a number".to_owned())
            .and_then(|users| generate(users, &args[3]).map_err(|e| e.to_string())),
        Some("run") if (5..=7).contains(&args.len()) => {
            let target = Target {
                endpoint: &args[3],
                table: &args[4],
                jobs_table: args.get(6).map(String::as_str),
                in_flight: args.get(5).and_then(|n| n.parse().ok()).unwrap_or(8),
                write_units_per_second: std::env::var("WRITE_UNITS_PER_SECOND")
                    .ok()
                    .and_then(|units| units.parse().ok()),
            };
            run(&args[2], &target).await
        }
        _ => Err(
            "usage: bench-delivery gen USERS OUT_FILE | run SCORES_FILE ENDPOINT TABLE [IN_FLIGHT [JOBS_TABLE]]"
                .into(),
        ),
    };
    if let Err(err) = outcome {
        eprintln!("bench-delivery: {err}");
        std::process::exit(1);
    }
}
