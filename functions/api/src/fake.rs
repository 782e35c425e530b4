//! The API's ports in memory, and requests as API Gateway hands them over: for the unit tests
//! and the API benchmark (feature `fakes`).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use recoflow_core::clock::{rfc3339, Clock};
use recoflow_core::delivery::{keys as delivery_keys, Delivery, Pointer, StoredList};
use recoflow_core::errors::ServiceError;
use recoflow_core::fakes::{
    FakeClock, FakeExecutions, FakeJobStore, FakeObjects, FakeRecommendations, FakeScheduleStore,
    FakeScheduler, FakeSecret, FakeSlots, FakeTriggerStore,
};
use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::ports::{MetricId, MetricSums};
use recoflow_core::quality::{GateOutcome, VersionMetrics};
use recoflow_core::validation::ValidationRules;
use recoflow_core::versions::{
    keys as version_keys, LastJob, ResultSetEntry, VersionRecord, RECORD_OUTLIVES_LISTS_SECONDS,
    RESULT_SET_LISTING,
};
use serde_json::Value;

use crate::call::{Access, Call};
use crate::config::ApiSettings;
use crate::experiment_ports::fake::FakeExperimentPorts;
use crate::pointer_cache::PointerCache;
use crate::ports::{ApiPorts, MetricLog};

/// The web page's token the fake ports hold.
pub const UI_TOKEN: &str = "page-token-123";
/// The identity signed test requests carry.
pub const SIGNED_CALLER: &str = "arn:aws:iam::000000000000:user/ana";

pub struct FakeApiPorts {
    pub jobs: FakeJobStore,
    pub executions: FakeExecutions,
    pub slots: FakeSlots,
    pub lists: FakeRecommendations,
    pub objects: FakeObjects,
    pub ui_token: FakeSecret,
    pub metrics: FakeMetrics,
    pub metric_log: FakeMetricLog,
    pub clock: FakeClock,
    pub schedules: FakeScheduleStore,
    pub scheduler: FakeScheduler,
    pub triggers: FakeTriggerStore,
    pub pointers: PointerCache,
    pub experiments: FakeExperimentPorts,
    pub settings: ApiSettings,
}

impl Default for FakeApiPorts {
    /// Empty stores; forms may read bucket `data-bucket`, which the page lists; the page's
    /// token is [`UI_TOKEN`].
    fn default() -> Self {
        Self {
            jobs: FakeJobStore::default(),
            executions: FakeExecutions::default(),
            slots: FakeSlots::default(),
            lists: FakeRecommendations::default(),
            objects: FakeObjects::default(),
            ui_token: FakeSecret(Some(UI_TOKEN.into())),
            metrics: FakeMetrics::default(),
            metric_log: FakeMetricLog::default(),
            clock: FakeClock::default(),
            schedules: FakeScheduleStore::default(),
            scheduler: FakeScheduler::default(),
            triggers: FakeTriggerStore::default(),
            pointers: PointerCache::default(),
            experiments: FakeExperimentPorts::default(),
            settings: ApiSettings {
                rules: ValidationRules::from_allow_list("data-bucket"),
                data_bucket: "data-bucket".into(),
                results_bucket: "results".into(),
                region: "eu-west-1".into(),
            },
        }
    }
}

impl ApiPorts for FakeApiPorts {
    type Experiments = FakeExperimentPorts;
    type Jobs = FakeJobStore;
    type Executions = FakeExecutions;
    type Slots = FakeSlots;
    type Lists = FakeRecommendations;
    type Objects = FakeObjects;
    type UiToken = FakeSecret;
    type Metrics = FakeMetrics;
    type MetricLog = FakeMetricLog;
    type Clock = FakeClock;
    type Schedules = FakeScheduleStore;
    type Scheduler = FakeScheduler;
    type Triggers = FakeTriggerStore;

    fn schedules(&self) -> &Self::Schedules {
        &self.schedules
    }
    fn scheduler(&self) -> &Self::Scheduler {
        &self.scheduler
    }
    fn triggers(&self) -> &Self::Triggers {
        &self.triggers
    }
    fn jobs(&self) -> &Self::Jobs {
        &self.jobs
    }
    fn executions(&self) -> &Self::Executions {
        &self.executions
    }
    fn slots(&self) -> &Self::Slots {
        &self.slots
    }
    fn lists(&self) -> &Self::Lists {
        &self.lists
    }
    fn objects(&self) -> &Self::Objects {
        &self.objects
    }
    fn ui_token(&self) -> &Self::UiToken {
        &self.ui_token
    }
    fn metrics(&self) -> &Self::Metrics {
        &self.metrics
    }
    fn metric_log(&self) -> &Self::MetricLog {
        &self.metric_log
    }
    fn clock(&self) -> &Self::Clock {
        &self.clock
    }
    fn experiments(&self) -> &Self::Experiments {
        &self.experiments
    }
    fn pointers(&self) -> &PointerCache {
        &self.pointers
    }
    fn settings(&self) -> &ApiSettings {
        &self.settings
    }
}

/// CloudWatch's sums as a test sets them; `unavailable` makes every query fail.
#[derive(Default)]
pub struct FakeMetrics {
    pub sums: Mutex<HashMap<MetricId, f64>>,
    pub unavailable: Mutex<bool>,
    /// The windows asked for: (from, to) in Unix seconds.
    pub windows: Mutex<Vec<(i64, i64)>>,
}

#[async_trait]
impl MetricSums for FakeMetrics {
    async fn sums(
        &self,
        metrics: &[MetricId],
        from_unix: i64,
        to_unix: i64,
    ) -> Result<Vec<Option<f64>>, ServiceError> {
        if *self.unavailable.lock().unwrap() {
            return Err(ServiceError::Failed {
                service: "CloudWatch",
                operation: "GetMetricData",
                message: "unavailable (test)".into(),
            });
        }
        self.windows.lock().unwrap().push((from_unix, to_unix));
        let sums = self.sums.lock().unwrap();
        Ok(metrics.iter().map(|m| sums.get(m).copied()).collect())
    }
}

/// The embedded-metric-format lines emitted, in order.
#[derive(Default)]
pub struct FakeMetricLog(pub Mutex<Vec<String>>);

impl FakeMetricLog {
    /// Every line, parsed.
    pub fn documents(&self) -> Vec<Value> {
        let lines = self.0.lock().unwrap();
        lines
            .iter()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }
}

impl MetricLog for FakeMetricLog {
    fn emit(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }
}

/// A request as API Gateway hands it over, signed by [`SIGNED_CALLER`]: `resource` is the
/// matched template (`/jobs/{id}`), `path` the actual path (a `?query` on it becomes the query
/// string parameters); path parameters are read off the two.
pub fn gateway_request(
    method: &str,
    resource: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Request {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    // API Gateway hands over path parameters decoded; the URI keeps them encoded.
    let uri: String = path
        .chars()
        .map(|c| {
            if c.is_control() {
                format!("%{:02X}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect();
    let mut builder = lambda_http::http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut parameters = HashMap::new();
    for (template, actual) in resource.split('/').zip(path.split('/')) {
        if let Some(name) = template.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            parameters.insert(name.to_owned(), actual.to_owned());
        }
    }
    let mut context = ApiGatewayProxyRequestContext::default();
    context.resource_path = Some(resource.to_owned());
    context.identity.user_arn = Some(SIGNED_CALLER.to_owned());
    builder
        .body(Body::Text(body.to_owned()))
        .expect("a valid test request")
        .with_path_parameters(parameters)
        .with_query_string_parameters(query_parameters(query))
        .with_request_context(RequestContext::ApiGatewayV1(context))
}

/// `a=1&b=2&a=3` as API Gateway passes it: each name with all its values, not decoded.
fn query_parameters(query: &str) -> HashMap<String, Vec<String>> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .fold(HashMap::new(), |mut all, pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            all.entry(name.to_owned()).or_default().push(value.to_owned());
            all
        })
}

/// A valid form named `job_name` (Personalize, its data in `data-bucket`), as a client posts it.
pub fn form_json(job_name: &str) -> String {
    serde_json::json!({
        "schema_version": 1,
        "job_name": job_name,
        "submitted_by": "ana@example.com",
        "result_set": "spring",
        "backend": "personalize",
        "dataset": {"interactions": "s3://data-bucket/interactions.csv"},
        "personalize": {"perform_hpo": false}
    })
    .to_string()
}

/// What a route's handler is given for `request` on a signed route.
pub fn signed_call(request: &Request) -> Call<'_> {
    Call::new(request, Access::Signed)
}

pub fn json_body(response: &Response<Body>) -> Value {
    match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("a JSON body"),
        other => panic!("expected a JSON text body, got {other:?}"),
    }
}

// ---------- a result set with versions, for the result-set routes' tests ----------

/// The result set of [`with_versions`] and its versions, oldest first.
pub const RS: &str = "spring";
pub const V1: &str = "20261201T010000Z-00000001";
pub const V2: &str = "20261201T020000Z-00000002";
pub const V3: &str = "20261201T030000Z-00000003";
/// How long the versions' lists live from now.
pub const LISTS_LIVE_SECONDS: i64 = 30 * 86_400;

fn job_of(version: &str) -> String {
    format!("job-{}", &version[version.len() - 1..])
}

/// A version record of [`RS`] as Deliver leaves it: written by job `job-<n>` (its last digit),
/// published or held.
pub fn version_record(
    ports: &FakeApiPorts,
    version: &str,
    held: bool,
    published_at: Option<&str>,
) -> VersionRecord {
    VersionRecord {
        pk: version_keys::version(RS, version),
        version_of: RS.into(),
        version: version.into(),
        job_id: JobId::parse(&job_of(version)).unwrap(),
        created_at: "2026-12-01T00:00:00.000Z".into(),
        written_at: Some("2026-12-01T00:10:00.000Z".into()),
        published_at: published_at.map(str::to_owned),
        held,
        metrics: Some(VersionMetrics {
            users_personalized: 100,
            catalog_coverage: Some(0.4),
            ..VersionMetrics::default()
        }),
        gate: Some(GateOutcome {
            passed: !held,
            ..GateOutcome::default()
        }),
        promoted: None,
        discarded: None,
        version_expires_at: ports.clock.unix_now() + LISTS_LIVE_SECONDS,
        excluded_items: Vec::new(),
        expires_at: ports.clock.unix_now() + LISTS_LIVE_SECONDS + RECORD_OUTLIVES_LISTS_SECONDS,
    }
}

/// The pointer to `version` of [`RS`], replacing `previous`.
pub fn pointer_to(
    ports: &FakeApiPorts,
    version: &str,
    previous: Option<&str>,
    published_at: &str,
) -> Pointer {
    Pointer {
        pk: delivery_keys::pointer(RS),
        result_set: RS.into(),
        version: version.into(),
        job_id: JobId::parse(&job_of(version)).unwrap(),
        published_at: published_at.into(),
        num_results: 5,
        excluded_items: Vec::new(),
        users: 2,
        segments: 1,
        expires_at: ports.clock.unix_now() + LISTS_LIVE_SECONDS,
        previous_version: previous.map(str::to_owned),
        segment_dimensions: Default::default(),
        output: Default::default(),
    }
}

/// [`RS`] as three jobs left it: V1 published, then replaced by V2 (current, published an
/// hour ago); V3 held by the gate. Each job's record is there (`num_results` 7), delivered
/// (20 users, 3 segments), and each version has one personalized list for user `u1` (item `<version>-a`).
pub fn with_versions() -> FakeApiPorts {
    let ports = FakeApiPorts::default();
    let an_hour_ago = rfc3339(ports.clock.utc() - time::Duration::hours(1));
    for (version, held, published) in [
        (V1, false, Some("2026-12-01T01:30:00.000Z")),
        (V2, false, Some(an_hour_ago.as_str())),
        (V3, true, None),
    ] {
        let mut form = recoflow_core::fakes::test_form("personalize");
        form.num_results = 7;
        let job_id = ports.jobs.insert_queued(&job_of(version), form);
        ports
            .jobs
            .records
            .lock()
            .unwrap()
            .get_mut(&job_id)
            .unwrap()
            .delivery = Some(Delivery {
            version: version.into(),
            users: 20,
            segments: 3,
            published: !held,
            ..Delivery::default()
        });
        let record = version_record(&ports, version, held, published);
        ports
            .lists
            .versions
            .lock()
            .unwrap()
            .insert((RS.into(), version.into()), record);
        let list = StoredList {
            pk: delivery_keys::user(RS, version, "u1"),
            items: vec![format!("{version}-a")],
            scores: vec![1.0],
            segment: None,
            expires_at: 0,
        };
        ports.lists.lists.lock().unwrap().insert(list.pk.clone(), list);
    }
    let pointer = pointer_to(&ports, V2, Some(V1), &an_hour_ago);
    ports.lists.pointers.lock().unwrap().insert(RS.into(), pointer);
    let entry = ResultSetEntry {
        pk: version_keys::result_set_entry(RS),
        listing: RESULT_SET_LISTING.into(),
        result_set: RS.into(),
        last_job: LastJob {
            job_id: JobId::parse(&job_of(V3)).unwrap(),
            status: JobStatus::Held,
        },
        expect_refresh_hours: Some(24.0),
        stale_alert_for: None,
    };
    ports.lists.entries.lock().unwrap().insert(RS.into(), entry);
    ports
}

/// The current version of [`RS`] as the table says.
pub fn current_pointer(ports: &FakeApiPorts) -> Option<Pointer> {
    ports.lists.pointers.lock().unwrap().get(RS).cloned()
}

/// The stored record of one of [`RS`]'s versions.
pub fn stored_version(ports: &FakeApiPorts, version: &str) -> VersionRecord {
    ports.lists.versions.lock().unwrap()[&(RS.to_owned(), version.to_owned())].clone()
}

/// The answer of a result-set route (errors rendered): its status and body.
pub async fn answer_of(result: crate::response::RouteResult) -> (u16, Value) {
    let response = result.unwrap_or_else(|refused| refused.response());
    (response.status().as_u16(), json_body(&response))
}
