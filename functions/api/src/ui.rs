//! The web page for business users (`web/`): served by the API itself, with its stylesheet and
//! script inlined (so the page works under any stage or base path), and the routes it calls
//! under `/ui/api/`. A browser cannot sign requests with AWS keys, so those routes carry a
//! bearer token instead, checked here against an SSM SecureString (`UiTokenParameter`).

use std::sync::OnceLock;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use recoflow_core::ports::SecretSource;

use crate::call::Call;
use crate::ports::ApiPorts;
use crate::response::{ApiError, ErrorCode, RouteResult};

const STYLE: &str = include_str!("../../../web/style.css");
const SCRIPT: &str = include_str!("../../../web/app.js");
const FORM_PAGE: &str = include_str!("../../../web/index.html");
const JOBS_PAGE: &str = include_str!("../../../web/jobs.html");
const RESULT_SETS_PAGE: &str = include_str!("../../../web/result-sets.html");
const SCHEDULES_PAGE: &str = include_str!("../../../web/schedules.html");
const PLACEMENTS_PAGE: &str = include_str!("../../../web/placements.html");
const STYLE_LINK: &str = r#"<link rel="stylesheet" href="ui/style.css">"#;
const SCRIPT_TAG: &str = r#"<script src="ui/app.js"></script>"#;

/// A page with its stylesheet and script inlined.
fn assemble(page: &str) -> String {
    page.replace(STYLE_LINK, &format!("<style>\n{STYLE}</style>"))
        .replace(SCRIPT_TAG, &format!("<script>\n{SCRIPT}</script>"))
}

fn form_page_html() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| assemble(FORM_PAGE))
}

fn jobs_page_html() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| assemble(JOBS_PAGE))
}

fn result_sets_page_html() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| assemble(RESULT_SETS_PAGE))
}

fn schedules_page_html() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| assemble(SCHEDULES_PAGE))
}

/// `GET /ui/schedules`: the recurring forms, their next run in the viewer's zone, pause, resume.
pub async fn schedules_page<P: ApiPorts>(_ports: &P, _call: &Call<'_>) -> RouteResult {
    Ok(html_response(schedules_page_html()))
}

fn placements_page_html() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| assemble(PLACEMENTS_PAGE))
}

/// `GET /ui/placements`: the placements, their arms and split, KPIs per arm, daily charts.
pub async fn placements_page<P: ApiPorts>(_ports: &P, _call: &Call<'_>) -> RouteResult {
    Ok(html_response(placements_page_html()))
}

/// `GET /`: the form.
pub async fn form_page<P: ApiPorts>(_ports: &P, _call: &Call<'_>) -> RouteResult {
    Ok(html_response(form_page_html()))
}

/// `GET /ui/jobs`: the jobs and their status.
pub async fn jobs_page<P: ApiPorts>(_ports: &P, _call: &Call<'_>) -> RouteResult {
    Ok(html_response(jobs_page_html()))
}

/// `GET /ui/result-sets`: the result sets, their versions, promote, roll back, discard.
pub async fn result_sets_page<P: ApiPorts>(_ports: &P, _call: &Call<'_>) -> RouteResult {
    Ok(html_response(result_sets_page_html()))
}

fn html_response(page: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/html; charset=utf-8")
        // The page shows job data: not for caches shared between users.
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
        .header("x-frame-options", "DENY")
        .header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
        .body(Body::Text(page.to_owned()))
        .expect("a page response is valid")
}

/// Compares in time independent of where the strings differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// `Ok` when the request carries the page's token. The dispatcher calls it before any route
/// of the page's API.
pub async fn authorize<T: SecretSource>(tokens: &T, request: &Request) -> Result<(), ApiError> {
    let Some(expected) = tokens.secret().await.map_err(ApiError::service)? else {
        return Err(ApiError::new(
            ErrorCode::PageNotConfigured,
            "the web page's access token is not set (see the stack output UiTokenParameter)",
        ));
    };
    let given = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !given.is_empty() && same(given.trim().as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Unauthorized,
            "a valid access token is needed (Authorization: Bearer <token>)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of the published form schema has a control on the page (an element with
    /// its JSON path in `data-path`), so the page and the schema cannot drift apart.
    #[test]
    fn every_schema_field_has_a_control_on_the_page() {
        let schema: serde_json::Value =
            serde_json::from_str(recoflow_core::validation::FORM_SCHEMA_V1).unwrap();
        let mut fields = Vec::new();
        fn walk(
            schema: &serde_json::Value,
            node: &serde_json::Value,
            path: String,
            fields: &mut Vec<String>,
        ) {
            let node = match node.get("$ref").and_then(|r| r.as_str()) {
                Some(reference) => &schema["$defs"][reference.rsplit('/').next().unwrap()],
                None => node,
            };
            match node.get("properties").and_then(|p| p.as_object()) {
                Some(properties) => {
                    for (name, child) in properties {
                        walk(schema, child, format!("{path}.{name}"), fields);
                    }
                }
                None => fields.push(path),
            }
        }
        walk(&schema, &schema, "$".into(), &mut fields);
        assert!(fields.len() > 20, "{fields:?}");
        for field in &fields {
            assert!(
                FORM_PAGE.contains(&format!("data-path=\"{field}\"")),
                "schema field {field} has no control on web/index.html"
            );
        }
    }

    #[test]
    fn pages_are_served_whole() {
        for page in [form_page_html(), jobs_page_html(), result_sets_page_html()] {
            assert!(!page.contains(STYLE_LINK) && !page.contains(SCRIPT_TAG));
            assert!(page.contains("const recoflow"));
        }
    }

    #[test]
    fn every_label_has_both_languages() {
        let labels = |page: &'static str| {
            page.split("data-i18n=\"")
                .skip(1)
                .filter_map(|rest| rest.split('"').next())
        };
        for key in labels(FORM_PAGE)
            .chain(labels(JOBS_PAGE))
            .chain(labels(RESULT_SETS_PAGE))
        {
            let quoted = format!("\"{key}\":");
            let bare = format!("{key}:");
            let count = SCRIPT.matches(&quoted).count() + SCRIPT.matches(&format!(" {bare}")).count();
            assert!(
                count >= 2,
                "label {key} lacks its English or Japanese text in web/app.js"
            );
        }
    }
}
