//! Holds `statemachines/job.asl.json` against the code: every error name its Retry and Catch
//! match is one the functions raise (or one of Step Functions' own), every Task and Map state
//! has a Catch that leads to the failure path, and every task's `Parameters` is an input the
//! function accepts.

use std::collections::BTreeMap;

use recoflow_core::errors::ErrorName;
use recoflow_core::task::{DeliverTask, JobTask, NotifyTask, RecordFailureTask, RunnerTask};
use serde_json::{json, Value};

const ASL: &str = include_str!("../../../statemachines/job.asl.json");

/// States of the top-level failure path: Catch targets must be one of these, or the Pass state
/// that notes the catching state's name on the way to Cleanup (`<State>Failed`).
const FAILURE_PATH: [&str; 4] = ["Cleanup", "RecordFailure", "NotifyFailure", "JobFailed"];

/// Where a Catch leads once past the Pass state that names the failed state, if it is one.
fn past_failed_state_note(next: &str) -> String {
    let states = definition()["States"].clone();
    match &states[next] {
        state if state["Type"] == "Pass" && state["ResultPath"] == "$.failed_state" => {
            state["Next"].as_str().unwrap().to_owned()
        }
        _ => next.to_owned(),
    }
}

/// States after the outcome is decided (Slack): their failure must not change it.
const OUTCOME_KEPT: [(&str, &str); 4] = [
    ("NotifySuccess", "JobSucceeded"),
    ("NotifyHeld", "JobHeld"),
    ("NotifyFailure", "JobFailed"),
    ("SendSummary", "JobFailed"),
];

/// The definition with its `${Placeholders}` filled as the template fills them (ARNs in
/// strings, numbers for the retry settings).
fn definition() -> Value {
    let mut text = String::with_capacity(ASL.len());
    let mut rest = ASL;
    while let Some(start) = rest.find("${") {
        text.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed placeholder") + start;
        let name = &rest[start + 2..end];
        text.push_str(if name.ends_with("Arn") {
            "arn:aws:lambda:us-east-1:000000000000:function:placeholder"
        } else {
            "3"
        });
        rest = &rest[end + 1..];
    }
    text.push_str(rest);
    serde_json::from_str(&text).expect("the definition is JSON once its placeholders are filled")
}

/// Every state with the name of the state list it belongs to ("" at top level, else the Map's).
fn all_states(states: &Value, scope: &str, out: &mut Vec<(String, String, Value)>) {
    for (name, state) in states.as_object().expect("States is an object") {
        out.push((scope.to_owned(), name.clone(), state.clone()));
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(inner) = state.get(key) {
                all_states(&inner["States"], name, out);
            }
        }
    }
}

fn states() -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    all_states(&definition()["States"], "", &mut out);
    out
}

fn is_step_functions_error(name: &str) -> bool {
    name.starts_with("States.") || name.starts_with("Lambda.") || name == "Sandbox.Timedout"
}

#[test]
fn every_error_name_the_state_machine_matches_is_raised_by_the_code() {
    let mut matched = 0;
    for (_, state_name, state) in states() {
        for key in ["Retry", "Catch"] {
            for rule in state.get(key).and_then(Value::as_array).into_iter().flatten() {
                for name in rule["ErrorEquals"].as_array().expect("ErrorEquals is a list") {
                    let name = name.as_str().unwrap();
                    assert!(
                        is_step_functions_error(name) || ErrorName::parse(name).is_some(),
                        "{state_name}: {key} names {name:?}, which no recoflow function raises"
                    );
                    matched += 1;
                }
            }
        }
    }
    assert!(matched > 10, "the definition was read ({matched} names)");
}

#[test]
fn every_task_has_retry_and_a_catch_that_reaches_the_failure_path() {
    let all = states();
    let fail_states: BTreeMap<(String, String), bool> = all
        .iter()
        .map(|(scope, name, state)| ((scope.clone(), name.clone()), state["Type"] == "Fail"))
        .collect();
    for (scope, name, state) in &all {
        let kind = state["Type"].as_str().unwrap();
        if kind != "Task" && kind != "Map" {
            continue;
        }
        if kind == "Task" {
            assert!(state.get("Retry").is_some(), "{name} has no Retry");
        }
        let catches = state["Catch"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no Catch"));
        let catch_all = catches
            .iter()
            .find(|c| c["ErrorEquals"] == json!(["States.ALL"]))
            .unwrap_or_else(|| panic!("{name} has no Catch for States.ALL"));
        let next = catch_all["Next"].as_str().unwrap();
        let reaches_failure_path =
            if let Some((_, kept)) = OUTCOME_KEPT.iter().find(|(state, _)| state == name) {
                next == *kept
            } else if scope.is_empty() {
                FAILURE_PATH.contains(&past_failed_state_note(next).as_str())
            } else {
                // Inside a Map: a Fail state ends the Map with the error; the Map's Catch follows.
                fail_states.get(&(scope.clone(), next.to_owned())) == Some(&true)
            };
        assert!(
            reaches_failure_path,
            "{name}: Catch goes to {next}, not to the failure path"
        );
        // The failure path's own states keep `$.error` as the first failure left it:
        // RecordFailure reads it.
        let result_path = match name.as_str() {
            "Cleanup" => "$.cleanup",
            "RecordFailure" => "$.record_error",
            "NotifySuccess" | "NotifyHeld" | "NotifyFailure" | "SendSummary" => "$.notify_error",
            _ => "$.error",
        };
        assert_eq!(catch_all["ResultPath"], json!(result_path), "{name}");
    }
}

/// Resource of a Task that invokes a function and waits for its task token.
const CALLBACK_INVOKE: &str = "arn:aws:states:::lambda:invoke.waitForTaskToken";

/// What a Task passes its function: its `Parameters`, or for a callback task their `Payload`
/// (the rest names the function).
fn task_input(state: &Value) -> &Value {
    if state["Resource"] == CALLBACK_INVOKE {
        &state["Parameters"]["Payload"]
    } else {
        &state["Parameters"]
    }
}

/// A `Parameters` block with every `"key.$": "$.path"` given a sample value.
fn sample_input(parameters: &Value) -> Value {
    let mut input = serde_json::Map::new();
    for (key, value) in parameters.as_object().expect("Parameters is an object") {
        match key.strip_suffix(".$") {
            Some(field) => {
                let sample = match field {
                    "phase" => json!("train"),
                    "signature" => json!("DatasetMissing-0123456789abcdef"),
                    "error" => json!({"Error": "DatasetMissing", "Cause": "x"}),
                    "token" => json!("AAAAKgAAAAIAAAAAAAAAAQ"),
                    "share" => json!(0),
                    _ => json!("job-1"),
                };
                input.insert(field.to_owned(), sample);
            }
            None => {
                input.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(input)
}

#[test]
fn every_task_input_is_one_its_function_accepts() {
    let mut runner_actions = Vec::new();
    let mut deliver_steps = Vec::new();
    for (_, name, state) in states() {
        if state["Type"] != "Task" {
            continue;
        }
        let input = sample_input(task_input(&state));
        if input.get("kind").is_some() {
            serde_json::from_value::<NotifyTask>(input.clone())
                .unwrap_or_else(|e| panic!("{name}: {input} is not a notify task: {e}"));
        } else if input.get("error").is_some() {
            serde_json::from_value::<RecordFailureTask>(input.clone())
                .unwrap_or_else(|e| panic!("{name}: {input} is not a record-failure task: {e}"));
        } else if input.get("step").is_some() {
            let task: DeliverTask = serde_json::from_value(input.clone())
                .unwrap_or_else(|e| panic!("{name}: {input} is not a deliver task: {e}"));
            deliver_steps.push(serde_json::to_value(&task).unwrap()["step"].clone());
        } else if input.get("action").is_some() {
            let task: RunnerTask = serde_json::from_value(input.clone())
                .unwrap_or_else(|e| panic!("{name}: {input} is not a runner task: {e}"));
            runner_actions.push(serde_json::to_value(&task).unwrap()["action"].clone());
        } else {
            serde_json::from_value::<JobTask>(input.clone())
                .unwrap_or_else(|e| panic!("{name}: {input} lacks the job id: {e}"));
        }
    }
    for action in ["acquire", "wait_for_quota", "advance", "release", "cleanup"] {
        assert!(runner_actions.contains(&json!(action)), "no state runs {action}");
    }
    deliver_steps.sort_by_key(|step| step.to_string());
    assert_eq!(
        deliver_steps,
        [
            json!("begin"),
            json!("fallbacks"),
            json!("file"),
            json!("publish")
        ]
    );
}

/// The errors every task retries with backoff: recoflow's transient names and Lambda's own.
fn transient_retry() -> Vec<String> {
    ErrorName::TRANSIENT
        .iter()
        .map(|n| n.as_str().to_owned())
        .chain(
            [
                "Lambda.ServiceException",
                "Lambda.AWSLambdaException",
                "Lambda.SdkClientException",
                "Lambda.TooManyRequestsException",
                "Sandbox.Timedout",
            ]
            .map(str::to_owned),
        )
        .collect()
}

#[test]
fn every_task_retries_the_transient_errors_alike() {
    let transient = transient_retry();
    for (_, name, state) in states() {
        if state["Type"] != "Task" {
            continue;
        }
        let rules = state["Retry"].as_array().unwrap();
        let listed: Vec<Vec<String>> = rules
            .iter()
            .map(|r| {
                r["ErrorEquals"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap().to_owned())
                    .collect()
            })
            .collect();
        let retries_everything = listed.iter().any(|l| l == &["States.ALL".to_owned()]);
        assert!(
            retries_everything || listed.contains(&transient),
            "{name}: its Retry must list exactly {transient:?} (or States.ALL); it lists {listed:?}"
        );
        for list in listed.iter().filter(|l| l.iter().any(|n| transient.contains(n))) {
            assert_eq!(list, &transient, "{name}: a partial transient list");
        }
    }
}

#[test]
fn every_catch_into_the_failure_path_names_its_state() {
    let all = definition()["States"].clone();
    let mut named = 0;
    for (scope, name, state) in states() {
        for rule in state.get("Catch").and_then(Value::as_array).into_iter().flatten() {
            let next = rule["Next"].as_str().unwrap();
            if past_failed_state_note(next) == "Cleanup" && next != "Cleanup" {
                assert!(scope.is_empty(), "{name}: only top-level states lead to Cleanup");
                assert_eq!(
                    all[next]["Result"],
                    json!(name),
                    "{next} must note {name} as the failed state"
                );
                named += 1;
            } else {
                assert_ne!(
                    next, "Cleanup",
                    "{name}: its Catch must note the failed state before Cleanup"
                );
            }
        }
    }
    assert!(named >= 3, "Prepare, RunPhases and Deliver catch into Cleanup");
}

#[test]
fn a_held_delivery_notifies_once_and_the_execution_succeeds() {
    let states = definition()["States"].clone();
    let held_rule = states["VersionHeld"]["Choices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Next"] == "NotifyHeld")
        .expect("a choice leads to NotifyHeld");
    // Publish's answer for a held version is {"done": true, "held": true}.
    assert!(
        held_rule.to_string().contains(r#""Variable":"$.delivery.held""#),
        "{held_rule}"
    );
    assert_eq!(states["Publish"]["Next"], "VersionHeld");
    assert_eq!(states["NotifyHeld"]["Parameters"]["kind"], "held");
    let after = states["NotifyHeld"]["Next"].as_str().unwrap();
    assert_eq!(
        states[after]["Type"], "Succeed",
        "a HELD job's execution succeeds"
    );
}

#[test]
fn a_job_without_a_slot_waits_on_a_task_token_and_goes_back_to_acquire_quota() {
    let states = definition()["States"]["RunPhases"]["ItemProcessor"]["States"].clone();
    // AcquireQuota answers {taken}: waiting is not a failure, so no Retry of QuotaUnavailable.
    let acquire = &states["AcquireQuota"];
    assert_eq!(acquire["ResultPath"], "$.quota");
    assert!(
        !acquire["Retry"].to_string().contains("QuotaUnavailable"),
        "{acquire}"
    );
    assert_eq!(acquire["Next"], "SlotTaken");
    let choice = &states["SlotTaken"];
    assert_eq!(
        choice["Choices"][0],
        json!({"Variable": "$.quota.taken", "BooleanEquals": true, "Next": "Advance"})
    );
    assert_eq!(choice["Default"], "WaitForQuota");

    let wait = &states["WaitForQuota"];
    assert_eq!(wait["Resource"], CALLBACK_INVOKE);
    let payload = &wait["Parameters"]["Payload"];
    assert_eq!(payload["token.$"], "$$.Task.Token");
    assert_eq!(payload["action"], "wait_for_quota");
    // The timed retry: a template parameter (filled with 3 here), whose timeout asks again.
    assert_eq!(wait["TimeoutSeconds"], 3);
    assert!(
        ASL.contains(r#""TimeoutSeconds": ${QuotaWakeUpTimeoutSeconds}"#),
        "the wake-up timeout comes from the template"
    );
    let timeout = wait["Catch"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Next"] == "AcquireQuota")
        .expect("a timeout goes back to AcquireQuota");
    // LocalStack raises States.Timeout for a missed heartbeat, AWS States.HeartbeatTimeout.
    assert_eq!(
        timeout["ErrorEquals"],
        json!(["States.Timeout", "States.HeartbeatTimeout"])
    );
    assert_eq!(wait["Next"], "AcquireQuota", "woken, it finds its slot held");
}
