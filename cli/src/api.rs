//! Calls to recoflow's API: a route with its parameters, query and body, signed with SigV4
//! (`execute-api`), answered with JSON or with the API's one error shape.

use serde_json::Value;

use crate::exit::{ApiError, CliError};
use crate::http::{Http, Outgoing};
use crate::routes::{encode, Route};
use crate::sign::Signer;

/// One call of a route, built by `Route::call`.
#[derive(Debug)]
pub struct Call {
    route: &'static Route,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
}

impl Call {
    pub fn new(route: &'static Route, path: String) -> Self {
        Self {
            route,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn query(mut self, name: &str, value: impl ToString) -> Self {
        self.query.push((name.to_owned(), value.to_string()));
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn json_body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }
}

/// A 2xx answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

pub struct Api<'a> {
    pub base: String,
    pub http: &'a Http,
    pub signer: &'a Signer,
}

impl Api<'_> {
    pub async fn send(&self, call: Call) -> Result<Answer, CliError> {
        let mut url = format!("{}{}", self.base.trim_end_matches('/'), call.path);
        for (i, (name, value)) in call.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&format!("{}={}", encode(name), encode(value)));
        }
        let mut headers = vec![("accept", "application/json".to_owned())];
        if call.body.is_some() {
            headers.push(("content-type", "application/json".to_owned()));
        }
        headers.extend(call.headers);
        let request = Outgoing {
            method: call.route.method.clone(),
            url,
            headers,
            body: call.body.unwrap_or_default(),
            service: Some("execute-api"),
        };
        let reply = self.http.send(&request, Some(self.signer)).await?;
        let body: Option<Value> = serde_json::from_slice(&reply.body).ok();
        if (200..300).contains(&reply.status) {
            return body
                .map(|body| Answer {
                    status: reply.status,
                    body,
                })
                .ok_or_else(|| {
                    CliError::Unavailable(format!(
                        "{} {} answered {} without JSON; is {} recoflow's API?",
                        request.method, request.url, reply.status, self.base
                    ))
                });
        }
        Err(CliError::Api(api_error(reply.status, body.as_ref(), &reply.body)))
    }
}

/// The API's `{"error": {...}}`, or what API Gateway itself says (`{"message": ...}` for a
/// refused signature, say), or the start of whatever else came.
pub fn api_error(status: u16, body: Option<&Value>, raw: &[u8]) -> ApiError {
    let error = body.and_then(|b| b.get("error"));
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
    let code = text(error.and_then(|e| e.get("code"))).unwrap_or_else(|| format!("HTTP{status}"));
    let message = text(error.and_then(|e| e.get("message")))
        .or_else(|| text(body.and_then(|b| b.get("message").or_else(|| b.get("Message")))))
        .unwrap_or_else(|| {
            let raw = String::from_utf8_lossy(raw);
            let line = raw.split_whitespace().collect::<Vec<_>>().join(" ");
            if line.is_empty() {
                "no details given".to_owned()
            } else {
                line.chars().take(200).collect()
            }
        });
    let problems = error
        .and_then(|e| e.get("problems"))
        .and_then(|p| serde_json::from_value(p.clone()).ok())
        .unwrap_or_default();
    ApiError {
        status,
        code,
        message,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_credential_types::Credentials;
    use serde_json::json;

    use super::*;
    use crate::http::stub;
    use crate::routes::{RECOMMEND, SUBMIT_JOB};

    fn signer() -> Signer {
        Signer::new(
            SharedCredentialsProvider::new(Credentials::new("AKID", "secret", None, None, "test")),
            "us-east-1".into(),
        )
    }

    #[tokio::test]
    async fn a_call_sends_its_path_query_headers_and_body() {
        let (url, received) = stub::serve(vec![(202, r#"{"job_id":"j-1","status":"QUEUED"}"#)]).await;
        let http = Http::new(Duration::from_secs(5)).unwrap();
        let signer = signer();
        let api = Api {
            base: format!("{url}/Prod/"),
            http: &http,
            signer: &signer,
        };
        let answer = api
            .send(
                SUBMIT_JOB
                    .call(&[])
                    .header("idempotency-key", "k 1")
                    .json_body(b"{\"a\":1}".to_vec()),
            )
            .await
            .unwrap();
        assert_eq!(
            (answer.status, answer.body["job_id"].as_str()),
            (202, Some("j-1"))
        );
        let seen = received.lock().unwrap()[0].clone();
        assert!(seen.head.starts_with("POST /Prod/jobs HTTP/1.1"), "{}", seen.head);
        assert_eq!(seen.body, "{\"a\":1}");
        assert_eq!(seen.header("content-type").as_deref(), Some("application/json"));
        assert_eq!(seen.header("idempotency-key").as_deref(), Some("k 1"));
        assert!(seen.header("authorization").unwrap().contains("idempotency-key"));

        let (url, received) = stub::serve(vec![(200, "{}")]).await;
        let api = Api {
            base: url,
            http: &http,
            signer: &signer,
        };
        api.send(
            RECOMMEND
                .call(&["rs", "u/1"])
                .query("n", 5)
                .query("region", "tōkyō"),
        )
        .await
        .unwrap();
        let head = received.lock().unwrap()[0].head.clone();
        assert!(
            head.starts_with("GET /recommendations/rs/u%2F1?n=5&region=t%C5%8Dky%C5%8D HTTP/1.1"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn refusals_come_back_in_the_error_shape_with_their_exit_code() {
        let body = r#"{"error":{"code":"InvalidForm","message":"the form has 1 problem(s)","problems":[{"path":"$.segment.age","code":"age_range_inverted","message":"swap them"}]}}"#;
        let (url, _) = stub::serve(vec![(400, body)]).await;
        let http = Http::new(Duration::from_secs(5)).unwrap();
        let signer = signer();
        let api = Api {
            base: url,
            http: &http,
            signer: &signer,
        };
        let Err(CliError::Api(error)) = api.send(SUBMIT_JOB.call(&[]).json_body(vec![])).await else {
            panic!("expected an API error")
        };
        assert_eq!(error.code, "InvalidForm");
        assert_eq!(error.problems[0].code, "age_range_inverted");
        assert_eq!(error.exit().code(), 3);
    }

    #[test]
    fn gateway_answers_without_the_shape_are_still_explained() {
        let gateway = json!({"message": "Missing Authentication Token"});
        let error = api_error(403, Some(&gateway), b"");
        assert_eq!(
            (error.code.as_str(), error.message.as_str()),
            ("HTTP403", "Missing Authentication Token")
        );
        assert_eq!(error.exit().code(), 5);
        let error = api_error(502, None, b"<html>\n  Bad   gateway\n</html>");
        assert_eq!(error.message, "<html> Bad gateway </html>");
        assert_eq!(api_error(500, None, b"").message, "no details given");
    }
}
