//! The REST API behind API Gateway (REST, proxy integration). Routes are API Gateway's
//! resources; this module dispatches on the matched resource and its path parameters, and
//! gives every answer one JSON shape. Errors: `{"error": {"code", "message", "problems"?}}`.

use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use recoflow_core::ports::{Executions, JobStore, ObjectStore, RecommendationStore, SecretSource, SlotStore};
use recoflow_core::validation::{FormProblem, ValidationRules};
use serde_json::{json, Value};
use tracing::error;

use crate::recommendations::{self, PointerCache};
use crate::{jobs, ui};

pub struct ApiDeps<J, E, S, R, O, T> {
    pub jobs: J,
    pub executions: E,
    pub slots: S,
    pub lists: R,
    pub pointers: PointerCache,
    pub rules: ValidationRules,
    /// The data bucket, whose files the web page offers.
    pub objects: O,
    pub data_bucket: String,
    /// The web page's access token.
    pub ui_token: T,
}

/// The API's resources, as declared in infra/template.yaml. Under `/ui/api/` are the web
/// page's routes: the same operations, with the page's token instead of SigV4.
const JOBS: &str = "/jobs";
const JOB: &str = "/jobs/{id}";
const RECOMMENDATIONS: &str = "/recommendations/{result_set}/{user_id}";
const FORM_PAGE: &str = "/";
const JOBS_PAGE: &str = "/ui/jobs";
const UI_JOBS: &str = "/ui/api/jobs";
const UI_JOB: &str = "/ui/api/jobs/{id}";
const UI_RECOMMENDATIONS: &str = "/ui/api/recommendations/{result_set}/{user_id}";
const UI_DATA_FILES: &str = "/ui/api/data-files";

const ROUTES: &str =
    "POST /jobs, GET /jobs, GET /jobs/{id}, DELETE /jobs/{id}, GET /recommendations/{result_set}/{user_id}";

pub async fn handle<J, E, S, R, O, T>(deps: &ApiDeps<J, E, S, R, O, T>, request: Request) -> Response<Body>
where
    J: JobStore,
    E: Executions,
    S: SlotStore,
    R: RecommendationStore,
    O: ObjectStore,
    T: SecretSource,
{
    let Some(resource) = resource_path(&request) else {
        return not_found();
    };
    // The page's routes want its token; the others are signed with SigV4 (API Gateway checks).
    let resource = match resource.strip_prefix("/ui/api") {
        Some(_) => {
            if let Err(refused) = ui::authorize(&deps.ui_token, &request).await {
                return refused;
            }
            resource
        }
        None => resource,
    };
    let parameters = request.path_parameters();
    let id = parameters.first("id");
    let method = request.method().clone();
    match (&method, resource.as_str(), id) {
        (&Method::GET, FORM_PAGE, _) => ui::html_response(ui::form_page()),
        (&Method::GET, JOBS_PAGE, _) => ui::html_response(ui::jobs_page()),
        (&Method::POST, JOBS | UI_JOBS, _) => jobs::submit(deps, &request).await,
        (&Method::GET, JOBS | UI_JOBS, _) => jobs::list(deps, &request).await,
        (&Method::GET, JOB | UI_JOB, Some(id)) => jobs::show(deps, id).await,
        (&Method::DELETE, JOB, Some(id)) => jobs::cancel(deps, id, &caller(&request)).await,
        (&Method::DELETE, UI_JOB, Some(id)) => jobs::cancel(deps, id, "the web page").await,
        (&Method::GET, RECOMMENDATIONS | UI_RECOMMENDATIONS, _) => {
            let result_set = parameters.first("result_set").unwrap_or_default();
            let user_id = parameters.first("user_id").unwrap_or_default();
            recommendations::recommend(&deps.lists, &deps.pointers, &request, result_set, user_id).await
        }
        (&Method::GET, UI_DATA_FILES, _) => jobs::data_files(deps).await,
        (method, JOBS | JOB | RECOMMENDATIONS | UI_JOBS | UI_JOB | UI_RECOMMENDATIONS | UI_DATA_FILES, _) => {
            error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                &format!("{method} is not supported here; use {ROUTES}"),
            )
        }
        _ => not_found(),
    }
}

fn not_found() -> Response<Body> {
    error_response(
        StatusCode::NOT_FOUND,
        "RouteNotFound",
        &format!("no such resource; use {ROUTES}"),
    )
}

/// The API Gateway resource the request matched, e.g. `/jobs/{id}`.
fn resource_path(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(context) => context.resource_path.clone(),
        _ => None,
    }
}

/// Who is calling, as API Gateway authenticated them (IAM user or role ARN).
fn caller(request: &Request) -> String {
    let identity = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => Some(&context.identity),
        _ => None,
    };
    identity
        .and_then(|i| i.user_arn.clone().or_else(|| i.caller.clone()))
        .filter(|who| !who.is_empty())
        .unwrap_or_else(|| "anonymous".to_owned())
}

pub fn service_failure(err: &dyn std::fmt::Display) -> Response<Body> {
    error!(error = %err, "service call failed");
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        "recoflow could not reach a service it needs; nothing was lost, try again shortly",
    )
}

pub fn problems_response(
    status: StatusCode,
    code: &str,
    message: &str,
    problems: Vec<FormProblem>,
) -> Response<Body> {
    json_response(
        status,
        &json!({ "error": { "code": code, "message": message, "problems": problems } }),
    )
}

pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_response(status, &json!({ "error": { "code": code, "message": message } }))
}

pub fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(body.to_string()))
        .expect("a response from a status, one header and a body is valid")
}

#[cfg(test)]
pub mod test_support {
    use std::collections::HashMap;

    use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;

    use super::*;
    use recoflow_core::fakes::{
        FakeExecutions, FakeJobStore, FakeObjects, FakeRecommendations, FakeSecret, FakeSlots,
    };

    pub type FakeDeps =
        ApiDeps<FakeJobStore, FakeExecutions, FakeSlots, FakeRecommendations, FakeObjects, FakeSecret>;

    pub const UI_TOKEN: &str = "page-token-123";

    pub fn deps() -> FakeDeps {
        ApiDeps {
            jobs: FakeJobStore::default(),
            executions: FakeExecutions::default(),
            slots: FakeSlots::default(),
            lists: FakeRecommendations::default(),
            pointers: PointerCache::default(),
            rules: ValidationRules::from_allow_list("data-bucket"),
            objects: FakeObjects::default(),
            data_bucket: "data-bucket".into(),
            ui_token: FakeSecret(Some(UI_TOKEN.into())),
        }
    }

    /// A request as API Gateway hands it over: `resource` is the matched template
    /// (`/jobs/{id}`), `path` the actual path; path parameters are read off the two.
    pub fn request(
        method: &str,
        resource: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Request {
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
        context.identity.user_arn = Some("arn:aws:iam::000000000000:user/ana".to_owned());
        builder
            .body(Body::Text(body.to_owned()))
            .unwrap()
            .with_path_parameters(parameters)
            .with_request_context(RequestContext::ApiGatewayV1(context))
    }

    pub fn json_body(response: &Response<Body>) -> Value {
        match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap(),
            other => panic!("expected a JSON text body, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[tokio::test]
    async fn the_pages_are_public_and_their_api_wants_the_token() {
        let deps = deps();
        let page = handle(&deps, request("GET", "/", "/", "", &[])).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        let jobs = handle(&deps, request("GET", "/ui/jobs", "/ui/jobs", "", &[])).await;
        assert_eq!(jobs.status(), StatusCode::OK);

        for token in [None, Some("Bearer wrong"), Some(UI_TOKEN)] {
            let headers: Vec<(&str, &str)> = token.map(|t| vec![("authorization", t)]).unwrap_or_default();
            let refused = handle(
                &deps,
                request("GET", "/ui/api/jobs", "/ui/api/jobs", "", &headers),
            )
            .await;
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        }
        let bearer = format!("Bearer {UI_TOKEN}");
        let listed = handle(
            &deps,
            request(
                "GET",
                "/ui/api/jobs",
                "/ui/api/jobs",
                "",
                &[("authorization", &bearer)],
            ),
        )
        .await;
        assert_eq!(listed.status(), StatusCode::OK);
        assert_eq!(json_body(&listed)["jobs"], serde_json::json!([]));
    }

    #[tokio::test]
    async fn other_methods_and_routes_have_json_errors() {
        let deps = deps();
        let response = handle(&deps, request("PUT", "/jobs", "/jobs", "", &[])).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        let response = handle(&deps, request("GET", "/nothing", "/nothing", "", &[])).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(json_body(&response)["error"]["code"], "RouteNotFound");
    }
}
