//! Where the users to score live: Prepare writes them in parts of at most `ScoringPartUsers`
//! users, `jobs/<job>/input/users/g<group>/part-<n>.jsonl`, the parts gathered in groups of at
//! most [`PERSONALIZE_BATCH_USERS`] users. A SageMaker processing job reads the whole prefix,
//! sharded by key over its instances; Personalize runs one batch inference job per group folder
//! (a job takes one file or folder, and at most that many users). Scores keep the group folder:
//! `jobs/<job>/scores/g<group>/part-<n>.jsonl.out`.

use crate::form::{JobForm, Output};
use crate::job::JobId;

/// Most parts a job may have: Step Functions' Distributed Map reader on LocalStack stops at
/// 1000 objects, and Deliver runs one worker per score file.
pub const MAX_SCORING_PARTS: u64 = 1000;

/// Most users one Amazon Personalize batch inference job takes.
pub const PERSONALIZE_BATCH_USERS: u64 = 50_000_000;

/// The prefix of a job's parts in the results bucket.
pub fn scoring_prefix(job_id: &JobId) -> String {
    format!("jobs/{job_id}/input/users/")
}

/// A group's name, e.g. `g0000`.
pub fn group_name(group: u64) -> String {
    format!("g{group:04}")
}

/// The folder of a group, under the parts' prefix and under the scores' prefix.
pub fn group_folder(group: u64) -> String {
    format!("{}/", group_name(group))
}

/// How the users to score are cut: users per part, parts per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartLayout {
    pub part_users: u64,
    pub parts_per_group: u64,
}

impl PartLayout {
    /// Parts of `part_users` users, as many in a group as fit in `group_users` (at least one).
    pub fn new(part_users: u64, group_users: u64) -> Self {
        let part_users = part_users.max(1);
        Self {
            part_users,
            parts_per_group: (group_users / part_users).max(1),
        }
    }

    /// Parts needed for `users` users.
    pub fn parts(&self, users: u64) -> u64 {
        users.div_ceil(self.part_users)
    }

    /// Groups needed for `parts` parts.
    pub fn groups(&self, parts: u64) -> u64 {
        parts.div_ceil(self.parts_per_group)
    }

    /// The key of part `part` (counted from 0 over the whole job) in the results bucket.
    pub fn part_key(&self, job_id: &JobId, part: u64) -> String {
        let group = group_folder(part / self.parts_per_group);
        format!("{}{group}part-{part:05}.jsonl", scoring_prefix(job_id))
    }
}

/// Instances a container scoring job asks for: the form's `container.instance_count` for
/// users' lists (each instance scores its share of the parts); one for audiences and similar
/// items, whose every instance would need the whole input.
pub fn scoring_instances(form: &JobForm) -> u32 {
    match (form.output, &form.container) {
        (Output::UserItems, Some(container)) => container.instance_count.max(1),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_fill_groups_in_order_within_the_group_cap() {
        let job = JobId::parse("spring-1").unwrap();
        // Parts of 10 users, at most 25 users a group: 2 parts a group.
        let layout = PartLayout::new(10, 25);
        assert_eq!(layout.parts_per_group, 2);
        assert_eq!((layout.parts(0), layout.parts(10), layout.parts(11)), (0, 1, 2));
        assert_eq!((layout.groups(1), layout.groups(2), layout.groups(5)), (1, 1, 3));
        let keys: Vec<String> = (0..3).map(|p| layout.part_key(&job, p)).collect();
        assert_eq!(
            keys,
            [
                "jobs/spring-1/input/users/g0000/part-00000.jsonl",
                "jobs/spring-1/input/users/g0000/part-00001.jsonl",
                "jobs/spring-1/input/users/g0001/part-00002.jsonl",
            ]
        );
    }

    #[test]
    fn a_part_larger_than_the_group_cap_is_a_group_of_its_own() {
        let layout = PartLayout::new(30, 25);
        assert_eq!(layout.parts_per_group, 1);
        assert_eq!(layout.groups(3), 3);
        // The production cap with the default part size: 50 parts of a million a group.
        assert_eq!(
            PartLayout::new(1_000_000, PERSONALIZE_BATCH_USERS).parts_per_group,
            50
        );
    }
}
