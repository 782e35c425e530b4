//! Fallbacks counted in shares of the users: the same lists however many shares, each user's
//! segment written once, a share resumed where its budget stopped it (counting or writing),
//! and no publish before every share is done.

use std::collections::BTreeMap;
use std::time::Duration;

use recoflow_core::clock::Clock;
use recoflow_core::delivery::StoredList;
use recoflow_core::errors::{ErrorName, NamedError};
use recoflow_core::job::{JobId, USERS_FILE_ROWS};

use super::{deliver, line, pointer, ports_with_scores, FakePorts};
use crate::handler::{begin, deliver_fallbacks, publish_version};

/// `users` users over two genders and three regions, each with a few interactions.
fn data(users: usize) -> (String, String) {
    let mut users_csv = String::from("USER_ID,GENDER,AGE,REGION\n");
    let mut interactions = String::from("USER_ID,ITEM_ID,TIMESTAMP\n");
    for user in 0..users {
        let (gender, region) = (["F", "M"][user % 2], ["tokyo", "osaka", "kyoto"][user % 3]);
        users_csv.push_str(&format!("u{user},{gender},{},{region}\n", 20 + user % 40));
        for k in 0..(user % 4) {
            interactions.push_str(&format!("u{user},i{},1\n", (user * 7 + k * 3) % 25));
        }
    }
    (users_csv, interactions)
}

/// A scored job on `users` users whose users file Prepare counted, shares of `share_users`.
fn job(users: usize, share_users: u64, budget_seconds: u64) -> (FakePorts, JobId) {
    let (mut ports, job_id) = ports_with_scores(&line("u1", &["i1"]), budget_seconds);
    let (users_csv, interactions) = data(users);
    ports.objects.insert("data", "u.csv", users_csv);
    ports.objects.insert("data", "i.csv", interactions);
    ports.settings.fallback_share_users = share_users;
    let mut records = ports.jobs.records.lock().unwrap();
    let record = records.get_mut(&job_id).unwrap();
    record.counts.insert(USERS_FILE_ROWS.to_owned(), users as u64);
    drop(records);
    (ports, job_id)
}

/// The version's lists by key with the version and the expiry taken out, to compare two
/// versions (each expires counted from its own delivery's clock, which may be a second apart).
fn lists_of(ports: &FakePorts) -> BTreeMap<String, StoredList> {
    let version = pointer(ports).version;
    ports
        .table()
        .lists
        .lock()
        .unwrap()
        .iter()
        .filter(|(key, _)| key.contains(&version))
        .map(|(key, list)| {
            let mut list = list.clone();
            list.pk = key.replace(&version, "V");
            list.expires_at = 0;
            (list.pk.clone(), list)
        })
        .collect()
}

#[tokio::test]
async fn fallbacks_counted_in_shares_are_those_counted_whole() {
    let (whole, whole_job) = job(300, 1_000_000, 60);
    assert_eq!(begin(&whole, &whole_job).await.unwrap().fallback_shares, [0]);
    assert!(deliver(&whole, &whole_job).await.unwrap());

    let (shared, shared_job) = job(300, 70, 60);
    let begun = begin(&shared, &shared_job).await.unwrap();
    assert_eq!(
        begun.fallback_shares,
        [0, 1, 2, 3, 4],
        "300 users, at most 70 a share"
    );
    // Shares run at once, in any order.
    let now = std::time::Instant::now;
    let answers = tokio::join!(
        deliver_fallbacks(&shared, &shared_job, 4, now()),
        deliver_fallbacks(&shared, &shared_job, 2, now()),
        deliver_fallbacks(&shared, &shared_job, 0, now()),
        deliver_fallbacks(&shared, &shared_job, 3, now()),
        deliver_fallbacks(&shared, &shared_job, 1, now()),
    );
    let written: u64 = [answers.0, answers.1, answers.2, answers.3, answers.4]
        .into_iter()
        .map(|a| a.unwrap().users)
        .sum();
    assert_eq!(written, 300, "each user's segment written by one share");
    assert!(deliver(&shared, &shared_job).await.unwrap());

    let (whole_lists, shared_lists) = (lists_of(&whole), lists_of(&shared));
    assert!(whole_lists.len() > 300, "users' segments and popular lists");
    assert_eq!(shared_lists, whole_lists);
    assert_eq!(pointer(&shared).segments, pointer(&whole).segments);
}

#[tokio::test]
async fn a_share_out_of_time_goes_on_from_where_it_stood() {
    let (ports, job_id) = job(450, 1_000_000, 30);
    // Every write takes 20 s: the share writes two 200-user stretches in its first invocation
    // (after its counts), the last 50 in its second.
    *ports.lists.put_takes.lock().unwrap() = Duration::from_secs(20);
    begin(&ports, &job_id).await.unwrap();
    let first = deliver_fallbacks(&ports, &job_id, 0, ports.clock.now())
        .await
        .unwrap();
    assert_eq!((first.done, first.users), (false, 400));
    let second = deliver_fallbacks(&ports, &job_id, 0, ports.clock.now())
        .await
        .unwrap();
    assert_eq!((second.done, second.users), (true, 450));
    assert!(deliver(&ports, &job_id).await.unwrap());
    let segments = lists_of(&ports)
        .keys()
        .filter(|key| key.starts_with("a#"))
        .count();
    assert_eq!(segments, 450, "every user's segment once");
}

#[tokio::test]
async fn a_share_whose_counting_outlasts_its_budget_counts_on_from_where_it_stopped() {
    // 300 users with 100 interactions each: 30,000 rows, counted 10,000 an invocation when the
    // budget is spent at once.
    let heavy = |ports: &FakePorts| {
        let mut interactions = String::from("USER_ID,ITEM_ID,TIMESTAMP\n");
        for user in 0..300 {
            for k in 0..100 {
                interactions.push_str(&format!("u{user},i{},1\n", (user * 7 + k * k) % 97));
            }
        }
        ports.objects.insert("data", "i.csv", interactions);
    };
    let (whole, whole_job) = job(300, 1_000_000, 600);
    heavy(&whole);
    assert!(deliver(&whole, &whole_job).await.unwrap());

    let (ports, job_id) = job(300, 1_000_000, 0);
    heavy(&ports);
    begin(&ports, &job_id).await.unwrap();
    let mut invocations = 0;
    while !deliver_fallbacks(&ports, &job_id, 0, ports.clock.now())
        .await
        .unwrap()
        .done
    {
        invocations += 1;
        assert!(invocations < 20, "a share that never ends");
    }
    assert!(
        invocations >= 3,
        "three stretches of counting before the segments: {invocations}"
    );
    assert!(deliver(&ports, &job_id).await.unwrap());
    assert_eq!(lists_of(&ports), lists_of(&whole));
}

#[tokio::test]
async fn no_publish_before_every_share_is_done() {
    let (ports, job_id) = job(300, 100, 60);
    begin(&ports, &job_id).await.unwrap();
    deliver_fallbacks(&ports, &job_id, 1, std::time::Instant::now())
        .await
        .unwrap();
    let err = publish_version(&ports, &job_id).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::DeliveryIncomplete);
    let message = err.to_string();
    assert!(
        message.contains("2 of 3 fallback shares") && message.contains("fallback share 0 of 3"),
        "{message}"
    );
    assert!(ports.table().pointers.lock().unwrap().is_empty());
    let err = deliver_fallbacks(&ports, &job_id, 3, std::time::Instant::now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("share 3"), "{err}");
}
