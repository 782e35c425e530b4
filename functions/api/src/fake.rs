//! The API's ports in memory, and requests as API Gateway hands them over: for the unit tests
//! and the API benchmark (feature `fakes`).

use std::collections::HashMap;

use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use recoflow_core::fakes::{
    FakeClock, FakeExecutions, FakeJobStore, FakeObjects, FakeRecommendations, FakeSecret, FakeSlots,
};
use recoflow_core::validation::ValidationRules;
use serde_json::Value;

use crate::call::{Access, Call};
use crate::config::ApiSettings;
use crate::pointer_cache::PointerCache;
use crate::ports::ApiPorts;

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
    pub clock: FakeClock,
    pub pointers: PointerCache,
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
            clock: FakeClock::default(),
            pointers: PointerCache::default(),
            settings: ApiSettings {
                rules: ValidationRules::from_allow_list("data-bucket"),
                data_bucket: "data-bucket".into(),
                region: "eu-west-1".into(),
            },
        }
    }
}

impl ApiPorts for FakeApiPorts {
    type Jobs = FakeJobStore;
    type Executions = FakeExecutions;
    type Slots = FakeSlots;
    type Lists = FakeRecommendations;
    type Objects = FakeObjects;
    type UiToken = FakeSecret;
    type Clock = FakeClock;

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
    fn clock(&self) -> &Self::Clock {
        &self.clock
    }
    fn pointers(&self) -> &PointerCache {
        &self.pointers
    }
    fn settings(&self) -> &ApiSettings {
        &self.settings
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
