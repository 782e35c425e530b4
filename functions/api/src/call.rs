//! What a route's handler is given: the request, its path parameters, and who is calling.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};

/// Who may call a route, and so who the caller is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: the web page's HTML.
    Public,
    /// Signed with SigV4; API Gateway checked the IAM identity.
    Signed,
    /// The web page's routes (`/ui/api/...`): a browser cannot sign, so they carry the page's
    /// bearer token instead, checked before the route is called.
    PageToken,
}

pub struct Call<'a> {
    pub request: &'a Request,
    /// Who is calling: the IAM user or role API Gateway authenticated, `the web page` on the
    /// page's routes, else `anonymous`.
    pub caller: String,
}

impl<'a> Call<'a> {
    pub fn new(request: &'a Request, access: Access) -> Self {
        let caller = match access {
            Access::Signed => signed_identity(request),
            Access::PageToken => Some("the web page".to_owned()),
            Access::Public => None,
        };
        Self {
            request,
            caller: caller.unwrap_or_else(|| "anonymous".to_owned()),
        }
    }

    /// A path parameter of the route's resource (`id` of `/jobs/{id}`), as API Gateway passed
    /// it; empty if absent.
    pub fn path_parameter(&self, name: &str) -> &'a str {
        self.request
            .path_parameters_ref()
            .and_then(|parameters| parameters.first(name))
            .unwrap_or_default()
    }

    /// The request's body as it came (empty if none).
    pub fn body(&self) -> &'a [u8] {
        match self.request.body() {
            Body::Text(text) => text.as_bytes(),
            Body::Binary(bytes) => bytes,
            _ => b"",
        }
    }
}

/// The IAM user or role ARN API Gateway authenticated.
fn signed_identity(request: &Request) -> Option<String> {
    let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref() else {
        return None;
    };
    let identity = &context.identity;
    identity
        .user_arn
        .clone()
        .or_else(|| identity.caller.clone())
        .filter(|who| !who.is_empty())
}
