//! Fallback segments of the form's dimensions: any users-file column, banded or not, NFC
//! normalised, with the form's minimum of users; the pointer names the dimensions it used.

use recoflow_core::delivery::{keys, SegmentDimensions};
use recoflow_core::job::JobId;

use super::{deliver, items, line, pointer, ports_with_scores, FakePorts};

const MEMBERS: &str = "USER_ID,PREFECTURE,MEMBER_RANK,POINTS\n\
    u1,東京都,gold,120\nu2,東京都,gold,150\nu3,大阪府,gold,90\nu6,大阪府,silver,900\n";

fn with_fallback(ports: &FakePorts, job_id: &JobId, fallback: serde_json::Value) {
    let mut records = ports.jobs.records.lock().unwrap();
    let form = records.get_mut(job_id).unwrap().form.as_mut().unwrap();
    form.fallback = Some(serde_json::from_value(fallback).unwrap());
}

#[tokio::test]
async fn segments_are_kept_for_the_form_s_dimensions() {
    let (ports, job_id) = ports_with_scores(&line("u1", &["bag"]), 60);
    // 東京都 in the file once with the compatibility ideograph 都 (U+FA26), which NFC makes
    // the unified one: the key holds it normalised.
    let decomposed = "東京\u{FA26}";
    ports
        .objects
        .insert("data", "u.csv", MEMBERS.replacen("東京都", decomposed, 1));
    with_fallback(
        &ports,
        &job_id,
        serde_json::json!({"attributes": ["PREFECTURE", "MEMBER_RANK", "POINTS"],
            "bands": {"POINTS": [100, 500]}, "min_users": 2}),
    );
    assert!(deliver(&ports, &job_id).await.unwrap());
    let pointer = pointer(&ports);
    let version = pointer.version.clone();
    let dimensions = &pointer.segment_dimensions;
    let columns: Vec<&str> = dimensions.dimensions.iter().map(|d| d.column.as_str()).collect();
    assert_eq!(columns, ["PREFECTURE", "MEMBER_RANK", "POINTS"]);
    assert_eq!(
        dimensions.find("points").unwrap().bands.as_deref(),
        Some(&[100, 500][..])
    );
    assert_eq!(dimensions.min_users, 2);

    let segment = |key: &str| items(&ports, &keys::segment("spring", &version, key));
    assert_eq!(
        segment("MEMBER_RANK=gold|POINTS=100-499|PREFECTURE=東京都"),
        ["dress"],
        "u1 and u2, composed or not"
    );
    assert_eq!(segment("PREFECTURE=大阪府"), ["tent", "bag"]);
    let table = ports.table().lists.lock().unwrap();
    assert!(
        !table.contains_key(&keys::segment("spring", &version, "MEMBER_RANK=silver")),
        "one user is below min_users"
    );
    assert!(
        table.keys().all(|k| !k.contains("GENDER=")),
        "GENDER is not a dimension here"
    );
    let u6 = &table[&keys::attributes("spring", &version, "u6")];
    assert_eq!(
        u6.segment.as_deref(),
        Some("MEMBER_RANK=silver|POINTS=500+|PREFECTURE=大阪府")
    );
}

#[tokio::test]
async fn a_form_without_a_fallback_keeps_today_s_segments_and_pointer() {
    let (ports, job_id) = ports_with_scores(&line("u1", &["bag"]), 60);
    assert!(deliver(&ports, &job_id).await.unwrap());
    let pointer = pointer(&ports);
    assert_eq!(pointer.segment_dimensions, SegmentDimensions::default());
    assert!(serde_json::to_value(&pointer)
        .unwrap()
        .get("segment_dimensions")
        .is_none());
}
