use super::*;

#[test]
fn s3_job_ids_are_deterministic_and_valid_execution_names() {
    let a = JobId::for_s3_object("forms", "submissions/Spring Tokyo (v2).json", "etag-1");
    let b = JobId::for_s3_object("forms", "submissions/Spring Tokyo (v2).json", "etag-1");
    let c = JobId::for_s3_object("forms", "submissions/Spring Tokyo (v2).json", "etag-2");
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.as_str().starts_with("spring-tokyo--v2-"), "{a}");
    assert!(JobId::parse(a.as_str()).is_some());
}

#[test]
fn long_and_odd_names_still_give_valid_ids() {
    let key = format!("submissions/{}.json", "é".repeat(200));
    let id = JobId::for_s3_object("forms", &key, "v");
    assert!(id.as_str().len() <= 80);
    assert!(JobId::parse(id.as_str()).is_some());
    assert!(JobId::for_idempotency_key("client key / 42")
        .as_str()
        .starts_with("api-"));
}

#[test]
fn parse_refuses_non_ids() {
    for bad in ["", "a/b", "job id", &"x".repeat(81), "../etc"] {
        assert!(JobId::parse(bad).is_none(), "{bad:?}");
    }
}

#[test]
fn terminal_statuses_never_move_on() {
    for from in JobStatus::all().filter(|s| s.is_terminal()) {
        assert!(!from.is_running());
        for to in JobStatus::all() {
            assert!(!from.can_move_to(to), "{from} -> {to} must be refused");
        }
    }
    assert!(!JobStatus::Succeeded.can_move_to(JobStatus::Training));
    assert!(JobStatus::Queued.can_move_to(JobStatus::Preparing));
    assert!(JobStatus::Training.can_move_to(JobStatus::Failed));
}

#[test]
fn a_job_is_held_only_from_delivering_and_stays_held() {
    for from in JobStatus::all() {
        assert_eq!(
            from.can_move_to(JobStatus::Held),
            from == JobStatus::Delivering,
            "{from} -> HELD"
        );
    }
    assert!(JobStatus::Held.is_terminal() && !JobStatus::Held.is_running());
    assert_eq!(JobStatus::Held.as_str(), "HELD");
}

#[test]
fn status_names_match_serde() {
    for status in JobStatus::all() {
        assert_eq!(status.as_str().parse::<JobStatus>().unwrap(), status);
        assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
    }
}
