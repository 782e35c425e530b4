//! The REST API behind API Gateway (REST, proxy integration): one table of routes, each the
//! resource API Gateway matched (as declared in infra/template.yaml), its method, who may call
//! it and the handler that answers. Every answer, errors too, has the shape of `response`.

use lambda_http::request::RequestContext;
use lambda_http::{Body, BoxFuture, Request, RequestExt, Response};

use crate::call::Access::{self, PageToken, Public, Signed};
use crate::call::Call;
use crate::ports::ApiPorts;
use crate::response::{ApiError, ErrorCode, RouteResult};
use crate::{
    audience_show, audience_users, cancel, data_files, discard, events_post, list, placement_delete,
    placement_list, placement_metrics, placement_put, placement_serve, placement_show, promote,
    recommendations, result_set_list, result_set_show, retry, rollback, schedule_delete, schedule_list,
    schedule_show, schedule_state, show, similar_items, submit, trigger_delete, trigger_list, trigger_show,
    ui,
};

/// What a route's handler is: given the ports and the call, it answers.
type Handler<P> = for<'a> fn(&'a P, &'a Call<'a>) -> BoxFuture<'a, RouteResult>;

pub struct Route<P> {
    pub method: &'static str,
    /// API Gateway's resource, e.g. `/jobs/{id}`; its `{name}`s are the path parameters.
    pub resource: &'static str,
    pub access: Access,
    handler: Handler<P>,
}

const fn route<P>(
    method: &'static str,
    resource: &'static str,
    access: Access,
    handler: Handler<P>,
) -> Route<P> {
    Route {
        method,
        resource,
        access,
        handler,
    }
}

/// A route's handler as the table keeps it: its future boxed, so that every route's handler
/// has the one type.
macro_rules! boxed {
    ($handler:path) => {
        |ports, call| Box::pin($handler(ports, call))
    };
}

/// Every route of the API. Under `/ui/api/` are the web page's: the same operations, with the
/// page's token instead of SigV4. A new route is a line here, its handler's file, and its
/// event in infra/template.yaml (a test holds the two lists together).
pub struct Routes<P>(std::marker::PhantomData<P>);

impl<P: ApiPorts> Routes<P> {
    #[rustfmt::skip]
    pub const ALL: &'static [Route<P>] = &[
        route("POST", "/jobs", Signed, boxed!(submit::submit)),
        route("GET", "/jobs", Signed, boxed!(list::list)),
        route("GET", "/jobs/{id}", Signed, boxed!(show::show)),
        route("DELETE", "/jobs/{id}", Signed, boxed!(cancel::cancel)),
        route("POST", "/jobs/{id}/retry", Signed, boxed!(retry::retry)),
        route("GET", "/recommendations/{result_set}/{user_id}", Signed, boxed!(recommendations::recommend)),
        route("GET", "/result-sets", Signed, boxed!(result_set_list::list_result_sets)),
        route("GET", "/result-sets/{result_set}", Signed, boxed!(result_set_show::show_result_set)),
        route("POST", "/result-sets/{result_set}/versions/{version}/promote", Signed, boxed!(promote::promote)),
        route("POST", "/result-sets/{result_set}/rollback", Signed, boxed!(rollback::rollback)),
        route("DELETE", "/result-sets/{result_set}/versions/{version}", Signed, boxed!(discard::discard)),
        route("GET", "/audiences/{result_set}", Signed, boxed!(audience_show::show_audience)),
        route("GET", "/audiences/{result_set}/users", Signed, boxed!(audience_users::audience_users)),
        route("GET", "/similar-items/{result_set}/{item_id}", Signed, boxed!(similar_items::similar_items)),
        route("GET", "/schedules", Signed, boxed!(schedule_list::list_schedules)),
        route("GET", "/schedules/{id}", Signed, boxed!(schedule_show::show_schedule)),
        route("PATCH", "/schedules/{id}", Signed, boxed!(schedule_state::set_schedule_state)),
        route("DELETE", "/schedules/{id}", Signed, boxed!(schedule_delete::delete_schedule)),
        route("GET", "/triggers", Signed, boxed!(trigger_list::list_triggers)),
        route("GET", "/triggers/{id}", Signed, boxed!(trigger_show::show_trigger)),
        route("DELETE", "/triggers/{id}", Signed, boxed!(trigger_delete::delete_trigger)),
        route("GET", "/placements", Signed, boxed!(placement_list::list_placements)),
        route("GET", "/placements/{placement}", Signed, boxed!(placement_show::show_placement)),
        route("PUT", "/placements/{placement}", Signed, boxed!(placement_put::put_placement)),
        route("DELETE", "/placements/{placement}", Signed, boxed!(placement_delete::delete_placement)),
        route("GET", "/placements/{placement}/metrics", Signed, boxed!(placement_metrics::show_metrics)),
        route("GET", "/placements/{placement}/{user_id}", Signed, boxed!(placement_serve::serve_placement)),
        route("POST", "/events", Signed, boxed!(events_post::post_events)),
        route("GET", "/", Public, boxed!(ui::form_page)),
        route("GET", "/ui/jobs", Public, boxed!(ui::jobs_page)),
        route("GET", "/ui/result-sets", Public, boxed!(ui::result_sets_page)),
        route("GET", "/ui/schedules", Public, boxed!(ui::schedules_page)),
        route("GET", "/ui/placements", Public, boxed!(ui::placements_page)),
        route("POST", "/ui/api/jobs", PageToken, boxed!(submit::submit)),
        route("GET", "/ui/api/jobs", PageToken, boxed!(list::list)),
        route("GET", "/ui/api/jobs/{id}", PageToken, boxed!(show::show)),
        route("DELETE", "/ui/api/jobs/{id}", PageToken, boxed!(cancel::cancel)),
        route("POST", "/ui/api/jobs/{id}/retry", PageToken, boxed!(retry::retry)),
        route("GET", "/ui/api/recommendations/{result_set}/{user_id}", PageToken, boxed!(recommendations::recommend)),
        route("GET", "/ui/api/data-files", PageToken, boxed!(data_files::data_files)),
        route("GET", "/ui/api/result-sets", PageToken, boxed!(result_set_list::list_result_sets)),
        route("GET", "/ui/api/result-sets/{result_set}", PageToken, boxed!(result_set_show::show_result_set)),
        route("GET", "/ui/api/audiences/{result_set}", PageToken, boxed!(audience_show::show_audience)),
        route("GET", "/ui/api/audiences/{result_set}/users", PageToken, boxed!(audience_users::audience_users)),
        route("GET", "/ui/api/similar-items/{result_set}/{item_id}", PageToken, boxed!(similar_items::similar_items)),
        route("POST", "/ui/api/result-sets/{result_set}/versions/{version}/promote", PageToken, boxed!(promote::promote)),
        route("POST", "/ui/api/result-sets/{result_set}/rollback", PageToken, boxed!(rollback::rollback)),
        route("DELETE", "/ui/api/result-sets/{result_set}/versions/{version}", PageToken, boxed!(discard::discard)),
        route("GET", "/ui/api/schedules", PageToken, boxed!(schedule_list::list_schedules)),
        route("GET", "/ui/api/schedules/{id}", PageToken, boxed!(schedule_show::show_schedule)),
        route("PATCH", "/ui/api/schedules/{id}", PageToken, boxed!(schedule_state::set_schedule_state)),
        route("GET", "/ui/api/placements", PageToken, boxed!(placement_list::list_placements)),
        route("GET", "/ui/api/placements/{placement}", PageToken, boxed!(placement_show::show_placement)),
        route("GET", "/ui/api/placements/{placement}/metrics", PageToken, boxed!(placement_metrics::show_metrics)),
    ];
}

pub async fn handle<P: ApiPorts>(ports: &P, request: Request) -> Response<Body> {
    dispatch(ports, &request)
        .await
        .unwrap_or_else(|refused| refused.response())
}

async fn dispatch<P: ApiPorts>(ports: &P, request: &Request) -> RouteResult {
    let routes = Routes::<P>::ALL;
    let resource = resource_path(request).unwrap_or_default();
    let at_resource = || routes.iter().filter(|r| r.resource == resource);
    if at_resource().next().is_none() {
        let message = format!("no such resource; use {}", signed_routes(routes));
        return Err(ApiError::new(ErrorCode::RouteNotFound, message));
    }
    // A resource of the page's API says nothing, not even which methods it has, without the
    // page's token.
    if at_resource().any(|r| r.access == PageToken) {
        ui::authorize(ports.ui_token(), request).await?;
    }
    let method = request.method().as_str();
    let Some(route) = at_resource().find(|r| r.method == method) else {
        let message = format!("{method} is not supported here; use {}", signed_routes(routes));
        return Err(ApiError::new(ErrorCode::MethodNotAllowed, message));
    };
    (route.handler)(ports, &Call::new(request, route.access)).await
}

/// The routes for programs (signed), as error messages point callers to them.
fn signed_routes<P>(routes: &[Route<P>]) -> String {
    let signed: Vec<String> = routes
        .iter()
        .filter(|r| r.access == Signed)
        .map(|r| format!("{} {}", r.method, r.resource))
        .collect();
    signed.join(", ")
}

/// The API Gateway resource the request matched, e.g. `/jobs/{id}`.
fn resource_path(request: &Request) -> Option<&str> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(context) => context.resource_path.as_deref(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use lambda_http::http::StatusCode;
    use recoflow_core::job::JobStatus;

    use super::*;
    use crate::fake::*;

    fn routes() -> &'static [Route<FakeApiPorts>] {
        Routes::<FakeApiPorts>::ALL
    }

    #[tokio::test]
    async fn the_pages_are_public_and_their_api_wants_the_token() {
        let ports = FakeApiPorts::default();
        let page = handle(&ports, gateway_request("GET", "/", "/", "", &[])).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        let jobs = handle(&ports, gateway_request("GET", "/ui/jobs", "/ui/jobs", "", &[])).await;
        assert_eq!(jobs.status(), StatusCode::OK);

        for token in [None, Some("Bearer wrong"), Some(UI_TOKEN)] {
            let headers: Vec<(&str, &str)> = token.map(|t| vec![("authorization", t)]).unwrap_or_default();
            for method in ["GET", "PUT"] {
                let refused = handle(
                    &ports,
                    gateway_request(method, "/ui/api/jobs", "/ui/api/jobs", "", &headers),
                )
                .await;
                assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{method} {token:?}");
            }
        }
        let bearer = format!("Bearer {UI_TOKEN}");
        let listed = handle(
            &ports,
            gateway_request(
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
    async fn other_methods_and_routes_have_json_errors_naming_the_routes() {
        let ports = FakeApiPorts::default();
        let response = handle(&ports, gateway_request("PUT", "/jobs", "/jobs", "", &[])).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            json_body(&response)["error"]["message"],
            "PUT is not supported here; use POST /jobs, GET /jobs, GET /jobs/{id}, DELETE /jobs/{id}, \
             POST /jobs/{id}/retry, GET /recommendations/{result_set}/{user_id}, GET /result-sets, GET /result-sets/{result_set}, \
             POST /result-sets/{result_set}/versions/{version}/promote, POST /result-sets/{result_set}/rollback, \
             DELETE /result-sets/{result_set}/versions/{version}, GET /audiences/{result_set}, \
             GET /audiences/{result_set}/users, GET /similar-items/{result_set}/{item_id}, GET /schedules, GET /schedules/{id}, \
             PATCH /schedules/{id}, DELETE /schedules/{id}, GET /triggers, GET /triggers/{id}, DELETE /triggers/{id}, \
             GET /placements, GET /placements/{placement}, \
             PUT /placements/{placement}, DELETE /placements/{placement}, GET /placements/{placement}/metrics, \
             GET /placements/{placement}/{user_id}, POST /events"
        );
        let response = handle(&ports, gateway_request("GET", "/nothing", "/nothing", "", &[])).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(json_body(&response)["error"]["code"], "RouteNotFound");
    }

    /// Each route reaches its own handler: with the page's token where it wants it, none of
    /// them answers as if the route were unknown.
    #[tokio::test]
    async fn every_route_is_answered_by_a_handler() {
        let ports = FakeApiPorts::default();
        let bearer = format!("Bearer {UI_TOKEN}");
        for route in routes() {
            let path = route
                .resource
                .replace("{id}", "spring-1")
                .replace("{result_set}", "spring")
                .replace("{user_id}", "u1")
                .replace("{version}", "v1")
                .replace("{placement}", "home-top");
            let request = gateway_request(
                route.method,
                route.resource,
                &path,
                "{}",
                &[("authorization", &bearer)],
            );
            let response = handle(&ports, request).await;
            let code = error_code(&response);
            assert!(
                !matches!(
                    code.as_deref(),
                    Some("RouteNotFound" | "MethodNotAllowed" | "Unauthorized")
                ),
                "{} {}: {code:?}",
                route.method,
                route.resource
            );
        }
    }

    /// The error code of a JSON answer (a page has none).
    fn error_code(response: &Response<Body>) -> Option<String> {
        match response.headers()["content-type"].to_str().unwrap() {
            "application/json" => json_body(response)["error"]["code"].as_str().map(str::to_owned),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_job_cancelled_on_the_page_says_so() {
        let ports = FakeApiPorts::default();
        let job_id = ports
            .jobs
            .insert_queued("spring-1", recoflow_core::fakes::test_form("personalize"));
        let bearer = format!("Bearer {UI_TOKEN}");
        let request = gateway_request(
            "DELETE",
            "/ui/api/jobs/{id}",
            "/ui/api/jobs/spring-1",
            "",
            &[("authorization", &bearer)],
        );
        assert_eq!(handle(&ports, request).await.status(), StatusCode::ACCEPTED);
        let record = ports.jobs.record(&job_id).unwrap();
        assert_eq!(record.status, JobStatus::Cancelled);
        assert_eq!(record.cancellation.unwrap().by, "the web page");
    }

    #[tokio::test]
    async fn the_result_sets_page_and_its_api_answer_with_the_token() {
        let ports = with_versions();
        let page = handle(
            &ports,
            gateway_request("GET", "/ui/result-sets", "/ui/result-sets", "", &[]),
        )
        .await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        let bearer = format!("Bearer {UI_TOKEN}");
        let headers = [("authorization", bearer.as_str())];
        let shown = handle(
            &ports,
            gateway_request(
                "GET",
                "/ui/api/result-sets/{result_set}",
                "/ui/api/result-sets/spring",
                "",
                &headers,
            ),
        )
        .await;
        assert_eq!(json_body(&shown)["current_version"], V2);
        let resource = "/ui/api/result-sets/{result_set}/versions/{version}/promote";
        let path = format!("/ui/api/result-sets/spring/versions/{V3}/promote");
        let unsigned = handle(
            &ports,
            gateway_request("POST", resource, &path, r#"{"reason": "r"}"#, &[]),
        )
        .await;
        assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
        let promoted = handle(
            &ports,
            gateway_request("POST", resource, &path, r#"{"reason": "r"}"#, &headers),
        )
        .await;
        assert_eq!(promoted.status(), StatusCode::OK);
        assert_eq!(stored_version(&ports, V3).promoted.unwrap().by, "the web page");
    }

    #[test]
    fn one_resource_has_one_kind_of_access() {
        for route in routes() {
            for other in routes().iter().filter(|o| o.resource == route.resource) {
                assert_eq!(other.access, route.access, "{}", route.resource);
            }
            assert_eq!(
                route.access == PageToken,
                route.resource.starts_with("/ui/api/"),
                "{}",
                route.resource
            );
        }
    }

    /// The table and the template's `ApiFunction` events list the same routes.
    #[test]
    fn the_routes_are_the_templates_events() {
        let template = include_str!("../../../infra/template.yaml");
        let mut declared: Vec<(String, String)> = template
            .lines()
            .filter_map(|line| line.trim().strip_prefix("Properties: { Path: "))
            .map(|rest| {
                let (path, rest) = rest.split_once(", Method: ").expect("Path, then Method");
                let method = rest.split([',', ' ', '}']).next().unwrap();
                (method.to_ascii_uppercase(), path.trim_matches('"').to_owned())
            })
            .collect();
        let mut table: Vec<(String, String)> = routes()
            .iter()
            .map(|r| (r.method.to_owned(), r.resource.to_owned()))
            .collect();
        declared.sort();
        table.sort();
        assert_eq!(table, declared);
    }
}
