//! The API routes the CLI calls, one constant each, mirroring the resources of
//! `infra/template.yaml` and the match in `functions/api/src/handler.rs`. A command for a new
//! route adds its constant here and sends it with `Api::send(ROUTE.call(&[..]))`.

use hyper::Method;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

#[derive(Debug)]
pub struct Route {
    pub method: Method,
    /// API Gateway's resource path; `{name}` parts are filled from the call's parameters.
    pub template: &'static str,
}

pub const SUBMIT_JOB: Route = Route {
    method: Method::POST,
    template: "/jobs",
};
pub const LIST_JOBS: Route = Route {
    method: Method::GET,
    template: "/jobs",
};
pub const SHOW_JOB: Route = Route {
    method: Method::GET,
    template: "/jobs/{id}",
};
pub const CANCEL_JOB: Route = Route {
    method: Method::DELETE,
    template: "/jobs/{id}",
};
pub const RETRY_JOB: Route = Route {
    method: Method::POST,
    template: "/jobs/{id}/retry",
};
pub const RECOMMEND: Route = Route {
    method: Method::GET,
    template: "/recommendations/{result_set}/{user_id}",
};
pub const LIST_RESULT_SETS: Route = Route {
    method: Method::GET,
    template: "/result-sets",
};
pub const SHOW_RESULT_SET: Route = Route {
    method: Method::GET,
    template: "/result-sets/{result_set}",
};
pub const PROMOTE_VERSION: Route = Route {
    method: Method::POST,
    template: "/result-sets/{result_set}/versions/{version}/promote",
};
pub const ROLL_BACK: Route = Route {
    method: Method::POST,
    template: "/result-sets/{result_set}/rollback",
};
pub const DISCARD_VERSION: Route = Route {
    method: Method::DELETE,
    template: "/result-sets/{result_set}/versions/{version}",
};

pub const SHOW_AUDIENCE: Route = Route {
    method: Method::GET,
    template: "/audiences/{result_set}",
};
pub const AUDIENCE_USERS: Route = Route {
    method: Method::GET,
    template: "/audiences/{result_set}/users",
};
pub const SIMILAR_ITEMS: Route = Route {
    method: Method::GET,
    template: "/similar-items/{result_set}/{item_id}",
};

pub const LIST_SCHEDULES: Route = Route {
    method: Method::GET,
    template: "/schedules",
};
pub const SHOW_SCHEDULE: Route = Route {
    method: Method::GET,
    template: "/schedules/{id}",
};
pub const SET_SCHEDULE_STATE: Route = Route {
    method: Method::PATCH,
    template: "/schedules/{id}",
};
pub const DELETE_SCHEDULE: Route = Route {
    method: Method::DELETE,
    template: "/schedules/{id}",
};

pub const LIST_TRIGGERS: Route = Route {
    method: Method::GET,
    template: "/triggers",
};
pub const SHOW_TRIGGER: Route = Route {
    method: Method::GET,
    template: "/triggers/{id}",
};
pub const DELETE_TRIGGER: Route = Route {
    method: Method::DELETE,
    template: "/triggers/{id}",
};

pub const LIST_PLACEMENTS: Route = Route {
    method: Method::GET,
    template: "/placements",
};
pub const SHOW_PLACEMENT: Route = Route {
    method: Method::GET,
    template: "/placements/{placement}",
};
pub const PUT_PLACEMENT: Route = Route {
    method: Method::PUT,
    template: "/placements/{placement}",
};
pub const DELETE_PLACEMENT: Route = Route {
    method: Method::DELETE,
    template: "/placements/{placement}",
};
pub const SERVE_PLACEMENT: Route = Route {
    method: Method::GET,
    template: "/placements/{placement}/{user_id}",
};
pub const PLACEMENT_METRICS: Route = Route {
    method: Method::GET,
    template: "/placements/{placement}/metrics",
};

/// Everything but RFC 3986's unreserved characters is encoded in a path segment or query.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub fn encode(part: &str) -> String {
    utf8_percent_encode(part, COMPONENT).to_string()
}

impl Route {
    /// The path with each `{name}` replaced, in order, by a parameter (percent-encoded, so a
    /// user id with `/` or `?` stays one segment).
    pub fn path(&self, params: &[&str]) -> String {
        let mut path = String::new();
        let mut rest = self.template;
        let mut params = params.iter();
        while let Some(open) = rest.find('{') {
            let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
            path.push_str(&rest[..open]);
            let param = params
                .next()
                .unwrap_or_else(|| panic!("{} needs more parameters", self.template));
            path.push_str(&encode(param));
            rest = &rest[close..];
        }
        path.push_str(rest);
        assert!(
            params.next().is_none(),
            "{} was given too many parameters",
            self.template
        );
        path
    }

    pub fn call(&'static self, params: &[&str]) -> crate::api::Call {
        crate::api::Call::new(self, self.path(params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_fill_the_template_encoded() {
        assert_eq!(SHOW_JOB.path(&["job-1"]), "/jobs/job-1");
        assert_eq!(
            RECOMMEND.path(&["spring-2026", "u 1/../x?y"]),
            "/recommendations/spring-2026/u%201%2F..%2Fx%3Fy"
        );
        assert_eq!(LIST_JOBS.path(&[]), "/jobs");
        assert_eq!(
            RECOMMEND.path(&["rs", "ユーザー"]),
            "/recommendations/rs/%E3%83%A6%E3%83%BC%E3%82%B6%E3%83%BC"
        );
    }

    /// Every route the CLI sends is a route of the API (its template's `ApiFunction` events).
    #[test]
    fn every_route_is_one_the_template_declares() {
        let template = include_str!("../../infra/template.yaml");
        for route in [
            &SUBMIT_JOB,
            &LIST_JOBS,
            &SHOW_JOB,
            &CANCEL_JOB,
            &RETRY_JOB,
            &RECOMMEND,
            &LIST_RESULT_SETS,
            &SHOW_RESULT_SET,
            &PROMOTE_VERSION,
            &ROLL_BACK,
            &DISCARD_VERSION,
            &LIST_SCHEDULES,
            &SHOW_SCHEDULE,
            &SET_SCHEDULE_STATE,
            &DELETE_SCHEDULE,
            &SHOW_TRIGGER,
            &DELETE_TRIGGER,
            &LIST_PLACEMENTS,
            &SHOW_PLACEMENT,
            &PUT_PLACEMENT,
            &DELETE_PLACEMENT,
            &SERVE_PLACEMENT,
            &PLACEMENT_METRICS,
        ] {
            let method = route.method.as_str().to_ascii_lowercase();
            let quoted = format!("Path: \"{}\", Method: {method} }}", route.template);
            let bare = format!("Path: {}, Method: {method} }}", route.template);
            assert!(
                template.contains(&quoted) || template.contains(&bare),
                "{} {} is not an event of the template",
                route.method,
                route.template
            );
        }
    }

    #[test]
    #[should_panic(expected = "needs more parameters")]
    fn a_missing_parameter_is_a_bug() {
        RECOMMEND.path(&["rs"]);
    }
}
