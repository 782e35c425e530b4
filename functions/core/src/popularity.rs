//! Fallback lists: the most popular items overall and per segment (every combination of a
//! user's values of the version's dimensions: by default GENDER, age band and REGION), counted
//! from the job's interactions and users files, for users the model never saw.
//!
//! Memory: users are kept as (64-bit hash of the id, segment) pairs, 16 bytes each, so a file of
//! a million users costs about 16 MB; interactions are streamed and counted per segment by a
//! Space-Saving counter of [`COUNTERS_PER_LIST`] items (`topk`), so the counts take at most
//! that many items per segment whatever the size of the catalogue. Below that many distinct
//! items a segment's counts are exact; above it each count over-states by at most the segment's
//! interactions / `COUNTERS_PER_LIST` and no item more popular than that is missed.
//!
//! The catalogue's size (the quality gate's `catalog_coverage`) is counted by the 64-bit hash
//! of each item id, 8 bytes an item: the distinct items of the interactions as they are read,
//! or of an items file ([`count_catalogue`]).
//!
//! A large users file is counted in shares ([`Popularity::share`]): each share keeps the users
//! whose id hash falls in it and counts only their interactions, so its memory is its users';
//! the shares' [`PopularityCounts`] (per segment and global counters, users per segment, items
//! seen) merge into the counts of the whole files, and the lists come from those.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::attributes::{Attributes, SegmentDimensions};
use crate::delivery::MAX_LIST_ITEMS;
use crate::segment::USER_ID_COLUMN;
use crate::topk::SpaceSaving;

/// Items counted per list: twice the longest list, so the list's tail is not the counter's.
pub const COUNTERS_PER_LIST: usize = 2 * MAX_LIST_ITEMS;

/// Rows of interactions [`Popularity::read_interactions_while`] reads between two asks whether
/// to go on (a few milliseconds of reading).
pub const ROWS_BETWEEN_CHECKS: u64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum PopularityError {
    #[error("has no {0} column")]
    MissingColumn(&'static str),
    #[error("line {line}: {message}")]
    Csv { line: u64, message: String },
    /// The consumer of the users went away (its own error says why).
    #[error("{0}")]
    Output(String),
    /// The file's bytes stopped coming (the store's trouble, not the file's: worth a retry).
    #[error("reading stopped: {0}")]
    Read(String),
}

fn csv_error(err: csv::Error) -> PopularityError {
    if err.is_io_error() {
        return PopularityError::Read(err.to_string());
    }
    PopularityError::Csv {
        line: err.position().map(|p| p.line()).unwrap_or(0),
        message: err.to_string(),
    }
}

fn column(header: &csv::StringRecord, name: &str) -> Option<usize> {
    header
        .iter()
        .position(|c| c.trim().trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
}

/// A user's or item's id as the counts keep it.
/// The 64-bit hash users and items are kept by (the counters' own, computed once per row).
fn id_hash(id: &str) -> u64 {
    crate::topk::item_hash(id)
}

/// Counts interactions per segment and item.
#[derive(Default)]
pub struct Popularity {
    /// What the segments are made of, and how many users one needs for a list.
    dimensions: SegmentDimensions,
    /// Distinct attribute combinations seen; users point into this.
    profiles: Vec<Attributes>,
    profile_ids: HashMap<Attributes, u32>,
    /// (user hash, profile) sorted by hash once the users are read.
    users: Vec<(u64, u32)>,
    /// Segment keys, and the segments of each profile.
    segments: Vec<String>,
    segment_ids: HashMap<String, u32>,
    profile_segments: Vec<Vec<u32>>,
    segment_users: Vec<u32>,
    /// Per segment, made at its first interaction.
    counts: Vec<Option<SpaceSaving>>,
    global: Option<SpaceSaving>,
    /// Items never counted (the banned items): they would take counters from the lists.
    excluded: HashSet<String>,
    /// Every item of the interactions (banned ones too: they are in the catalogue), by hash.
    items_seen: HashSet<u64>,
    pub interactions: u64,
    /// The share of the users counted; all of them by default.
    share: Share,
}

/// Share `index` of `of`: the users whose id hash is `index` modulo `of`, and their
/// interactions (interactions of users the users file lacks too, by the same rule, for the
/// global list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub index: u32,
    pub of: u32,
}

impl Default for Share {
    fn default() -> Self {
        Self { index: 0, of: 1 }
    }
}

impl Share {
    fn holds(self, hash: u64) -> bool {
        hash % u64::from(self.of.max(1)) == u64::from(self.index)
    }
}

/// A list ready to publish: items best first with their share of the interactions.
#[derive(Debug, Clone, PartialEq)]
pub struct PopularList {
    /// `None` for the global list.
    pub segment: Option<String>,
    pub items: Vec<String>,
    pub scores: Vec<f64>,
}

impl Popularity {
    /// Counts for segments of these dimensions (`Popularity::default()`: the default ones).
    pub fn new(dimensions: SegmentDimensions) -> Self {
        Self {
            dimensions,
            ..Self::default()
        }
    }

    /// Counts only `share` of the users (all of them by default).
    pub fn share(mut self, share: Share) -> Self {
        self.share = share;
        self
    }

    /// Reads the users file: each user's segment. `on_user` sees every user of the share with
    /// attributes (to publish them); its error stops the reading.
    pub fn read_users<R: Read>(
        &mut self,
        users_csv: R,
        mut on_user: impl FnMut(&str, &Attributes) -> Result<(), String>,
    ) -> Result<u64, PopularityError> {
        let dimensions = self.dimensions.clone();
        let count = each_user(users_csv, &dimensions, self.share, |user| {
            if !user.attributes.is_empty() {
                on_user(user.id, &user.attributes)?;
            }
            let profile = self.profile(user.attributes);
            self.users.push((user.hash, profile));
            Ok(())
        })?;
        self.users.sort_unstable();
        self.users.dedup_by_key(|(hash, _)| *hash);
        for &(_, profile) in &self.users {
            for &segment in &self.profile_segments[profile as usize] {
                self.segment_users[segment as usize] += 1;
            }
        }
        Ok(count)
    }

    fn profile(&mut self, attributes: Attributes) -> u32 {
        if let Some(id) = self.profile_ids.get(&attributes) {
            return *id;
        }
        let segments = attributes
            .segment_keys()
            .into_iter()
            .map(|key| self.segment(key))
            .collect();
        let id = self.profiles.len() as u32;
        self.profiles.push(attributes.clone());
        self.profile_ids.insert(attributes, id);
        self.profile_segments.push(segments);
        id
    }

    fn segment(&mut self, key: String) -> u32 {
        if let Some(id) = self.segment_ids.get(&key) {
            return *id;
        }
        let id = self.segments.len() as u32;
        self.segments.push(key.clone());
        self.segment_ids.insert(key, id);
        self.segment_users.push(0);
        self.counts.push(None);
        id
    }

    /// Leaves these items out of the counts (and so out of every list).
    pub fn exclude(&mut self, items: HashSet<String>) {
        self.excluded = items;
    }

    /// Streams the interactions file and counts each one of the share's users for every segment
    /// of its user.
    pub fn read_interactions<R: Read>(&mut self, interactions_csv: R) -> Result<u64, PopularityError> {
        self.read_interactions_while(interactions_csv, || true)?;
        Ok(self.interactions)
    }

    /// [`Self::read_interactions`], asking `go_on` every [`ROWS_BETWEEN_CHECKS`] rows and
    /// stopping when it answers no: the position (bytes into `interactions_csv`) of the first
    /// row not read then, `None` once the file has ended. The counts so far can be saved
    /// ([`Self::counts`]) and the reading carried on from there ([`Self::resume`]).
    pub fn read_interactions_while<R: Read>(
        &mut self,
        interactions_csv: R,
        mut go_on: impl FnMut() -> bool,
    ) -> Result<Option<u64>, PopularityError> {
        let mut reader = csv::Reader::from_reader(interactions_csv);
        let header = reader.headers().map_err(csv_error)?.clone();
        let user_id =
            column(&header, USER_ID_COLUMN).ok_or(PopularityError::MissingColumn(USER_ID_COLUMN))?;
        let item_id = column(&header, "ITEM_ID").ok_or(PopularityError::MissingColumn("ITEM_ID"))?;
        let mut row = csv::StringRecord::new();
        let mut rows = 0u64;
        loop {
            if rows > 0 && rows.is_multiple_of(ROWS_BETWEEN_CHECKS) && !go_on() {
                return Ok(Some(reader.position().byte()));
            }
            if !reader.read_record(&mut row).map_err(csv_error)? {
                return Ok(None);
            }
            rows += 1;
            let (Some(user), Some(item)) = (row.get(user_id), row.get(item_id)) else {
                continue;
            };
            let (user, item) = (user.trim(), item.trim());
            if user.is_empty() || item.is_empty() {
                continue;
            }
            let hash = id_hash(user);
            if !self.share.holds(hash) {
                continue;
            }
            // One hash of the item for the catalogue and every counter it is counted in.
            let item_hash = id_hash(item);
            self.items_seen.insert(item_hash);
            if self.excluded.contains(item) {
                continue;
            }
            self.global
                .get_or_insert_with(|| SpaceSaving::new(COUNTERS_PER_LIST))
                .add_hashed(item, item_hash);
            self.interactions += 1;
            if let Ok(i) = self.users.binary_search_by_key(&hash, |(h, _)| *h) {
                let profile = self.users[i].1 as usize;
                for &segment in &self.profile_segments[profile] {
                    self.counts[segment as usize]
                        .get_or_insert_with(|| SpaceSaving::new(COUNTERS_PER_LIST))
                        .add_hashed(item, item_hash);
                }
            }
        }
    }

    /// Carries on from counts saved part-way through the interactions (by a reading of the
    /// same users, read again first): their counters, interactions and items seen.
    pub fn resume(&mut self, saved: PopularityCounts) {
        self.global = saved.global;
        self.items_seen = saved.items_seen;
        self.interactions = saved.interactions;
        for (key, segment) in saved.segments {
            if let Some(&id) = self.segment_ids.get(&key) {
                self.counts[id as usize] = segment.counted;
            }
        }
    }

    /// What was counted, to merge with the other shares', make the lists from, or carry on
    /// from ([`Self::resume`]).
    pub fn counts(self) -> PopularityCounts {
        let segments = self
            .segments
            .into_iter()
            .zip(self.segment_users)
            .zip(self.counts)
            .map(|((key, users), counted)| (key, SegmentCounts { users, counted }))
            .collect();
        PopularityCounts {
            min_users: self.dimensions.min_users,
            segments,
            global: self.global,
            items_seen: self.items_seen,
            interactions: self.interactions,
        }
    }
}

/// The counts of one share of the users, or of several merged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PopularityCounts {
    /// Users a segment needs for a list of its own.
    min_users: u32,
    segments: BTreeMap<String, SegmentCounts>,
    global: Option<SpaceSaving>,
    items_seen: HashSet<u64>,
    pub interactions: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SegmentCounts {
    users: u32,
    /// Made at the segment's first interaction.
    counted: Option<SpaceSaving>,
}

fn merge_counter(into: &mut Option<SpaceSaving>, other: &Option<SpaceSaving>) {
    match (into.as_mut(), other) {
        (Some(counter), Some(other)) => counter.merge(other),
        (None, Some(other)) => *into = Some(other.clone()),
        (_, None) => {}
    }
}

impl PopularityCounts {
    /// Adds another share's counts.
    pub fn merge(&mut self, other: &PopularityCounts) {
        merge_counter(&mut self.global, &other.global);
        for (key, theirs) in &other.segments {
            let ours = self.segments.entry(key.clone()).or_insert(SegmentCounts {
                users: 0,
                counted: None,
            });
            ours.users += theirs.users;
            merge_counter(&mut ours.counted, &theirs.counted);
        }
        self.items_seen.extend(&other.items_seen);
        self.interactions += other.interactions;
    }

    /// Distinct items of the interactions read (banned ones included).
    pub fn distinct_items(&self) -> u64 {
        self.items_seen.len() as u64
    }

    /// The global list and one list per segment with enough users, banned items left out.
    pub fn lists(&self, banned: &HashSet<String>) -> Vec<PopularList> {
        let empty = SpaceSaving::new(1);
        let mut lists = vec![top(None, self.global.as_ref().unwrap_or(&empty), banned)];
        for (key, segment) in &self.segments {
            if let Some(counted) = segment
                .counted
                .as_ref()
                .filter(|_| segment.users >= self.min_users)
            {
                lists.push(top(Some(key.clone()), counted, banned));
            }
        }
        lists
    }
}

/// A user of a users file, as [`each_user`] reads them.
pub struct UserRow<'a> {
    pub id: &'a str,
    pub hash: u64,
    /// The user's values of the version's dimensions.
    pub attributes: Attributes,
    /// Where the user's row ends: bytes from the start of what was read.
    pub end: u64,
}

/// Every user of `share` in a users file (its header first), with their attributes of
/// `dimensions`; `on_user`'s error stops the reading. The users read, of every share.
pub fn each_user<R: Read>(
    users_csv: R,
    dimensions: &SegmentDimensions,
    share: Share,
    mut on_user: impl FnMut(UserRow<'_>) -> Result<(), String>,
) -> Result<u64, PopularityError> {
    let mut reader = csv::Reader::from_reader(users_csv);
    let header = reader.headers().map_err(csv_error)?.clone();
    let user_id = column(&header, USER_ID_COLUMN).ok_or(PopularityError::MissingColumn(USER_ID_COLUMN))?;
    // Each dimension's column; a dimension the file lacks is blank for every user.
    let columns: Vec<(String, Option<usize>)> = dimensions
        .dimensions
        .iter()
        .map(|d| (d.column.clone(), column(&header, &d.column)))
        .collect();
    let mut row = csv::StringRecord::new();
    let mut count = 0;
    while reader.read_record(&mut row).map_err(csv_error)? {
        let Some(id) = row.get(user_id).map(str::trim).filter(|id| !id.is_empty()) else {
            continue;
        };
        count += 1;
        let hash = id_hash(id);
        if !share.holds(hash) {
            continue;
        }
        let attributes = dimensions.attributes(|name| {
            let (_, position) = columns.iter().find(|(c, _)| c == name)?;
            row.get((*position)?)
        });
        let end = reader.position().byte();
        on_user(UserRow {
            id,
            hash,
            attributes,
            end,
        })
        .map_err(PopularityError::Output)?;
    }
    Ok(count)
}

/// Distinct non-blank `ITEM_ID` values of an items file: the catalogue's size.
pub fn count_catalogue<R: Read>(items_csv: R) -> Result<u64, PopularityError> {
    let mut reader = csv::Reader::from_reader(items_csv);
    let header = reader.headers().map_err(csv_error)?.clone();
    let item_id = column(&header, "ITEM_ID").ok_or(PopularityError::MissingColumn("ITEM_ID"))?;
    let mut seen = HashSet::new();
    let mut row = csv::StringRecord::new();
    while reader.read_record(&mut row).map_err(csv_error)? {
        if let Some(item) = row.get(item_id).map(str::trim).filter(|i| !i.is_empty()) {
            seen.insert(id_hash(item));
        }
    }
    Ok(seen.len() as u64)
}

/// A counter's most counted items (ties by item id, so the same data gives the same list) with
/// their share of its interactions.
pub(crate) fn top(segment: Option<String>, counted: &SpaceSaving, banned: &HashSet<String>) -> PopularList {
    let total = counted.total().max(1) as f64;
    let share = |count: u64| ((count as f64 / total) * 1e6).round() / 1e6;
    let (items, scores) = counted
        .top()
        .into_iter()
        .filter(|c| !banned.contains(&*c.item))
        .take(MAX_LIST_ITEMS)
        .map(|c| (c.item.to_string(), share(c.count)))
        .unzip();
    PopularList {
        segment,
        items,
        scores,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USERS: &str = "USER_ID,GENDER,AGE,REGION\n\
        f1,F,25,tokyo\nf2,F,26,tokyo\nf3,F,27,tokyo\nf4,F,28,tokyo\nf5,F,29,tokyo\n\
        m1,M,45,osaka\n";

    fn popularity(interactions: &str) -> Popularity {
        let mut p = Popularity::default();
        let mut seen = Vec::new();
        let count = p
            .read_users(USERS.as_bytes(), |id, a| {
                seen.push((id.to_owned(), a.segment_key().unwrap()));
                Ok(())
            })
            .unwrap();
        assert_eq!(count, 6);
        assert_eq!(
            seen[5],
            ("m1".to_owned(), "AGE=40-49|GENDER=M|REGION=osaka".to_owned())
        );
        p.read_interactions(interactions.as_bytes()).unwrap();
        p
    }

    #[test]
    fn segments_with_enough_users_get_their_own_list() {
        let mut interactions = String::from("USER_ID,ITEM_ID,TIMESTAMP\n");
        for user in ["f1", "f2", "f3", "f4", "f5"] {
            interactions.push_str(&format!("{user},dress,1\n"));
        }
        for _ in 0..10 {
            interactions.push_str("m1,tent,1\n");
        }
        let lists = popularity(&interactions).counts().lists(&HashSet::new());
        assert_eq!(lists[0].segment, None);
        assert_eq!(lists[0].items, ["tent", "dress"], "globally the tent leads");
        let women = lists
            .iter()
            .find(|l| l.segment.as_deref() == Some("AGE=20-29|GENDER=F|REGION=tokyo"))
            .expect("the five women in Tokyo form a segment");
        assert_eq!(women.items, ["dress"]);
        assert_eq!(women.scores, [1.0]);
        assert!(
            lists
                .iter()
                .all(|l| l.segment.as_deref() != Some("AGE=40-49|GENDER=M|REGION=osaka")),
            "a single user is not a segment"
        );
    }

    #[test]
    fn segments_follow_the_form_s_dimensions_and_minimum() {
        let mut form = crate::fakes::test_form("container");
        form.fallback = Some(crate::form::Fallback {
            attributes: vec!["PREFECTURE".into(), "MEMBER_RANK".into()],
            min_users: 2,
            ..Default::default()
        });
        let mut p = Popularity::new(SegmentDimensions::of(&form));
        // ガ composed in one row, as カ and a combining voiced mark in another.
        let decomposed = "大阪府\u{30AB}\u{3099}";
        let users = format!(
            "USER_ID,PREFECTURE,MEMBER_RANK,GENDER\n\
             a,大阪府ガ,gold,F\nb, {decomposed} ,gold,M\nc,東京都,silver,F\n"
        );
        let mut keys = Vec::new();
        p.read_users(users.as_bytes(), |_, a| {
            keys.push(a.segment_key().unwrap());
            Ok(())
        })
        .unwrap();
        assert_eq!(
            keys[0], keys[1],
            "the same prefecture whichever way it was composed"
        );
        assert_eq!(keys[0], "MEMBER_RANK=gold|PREFECTURE=大阪府ガ");
        p.read_interactions("USER_ID,ITEM_ID\na,coat\nb,coat\nc,hat\n".as_bytes())
            .unwrap();
        let segments: Vec<Option<String>> = p
            .counts()
            .lists(&HashSet::new())
            .into_iter()
            .map(|l| l.segment)
            .collect();
        assert_eq!(
            segments,
            [
                None,
                Some("MEMBER_RANK=gold".to_owned()),
                Some("MEMBER_RANK=gold|PREFECTURE=大阪府ガ".to_owned()),
                Some("PREFECTURE=大阪府ガ".to_owned()),
            ],
            "two users make a segment here; GENDER is no dimension"
        );
    }

    #[test]
    fn a_reading_stopped_saved_and_resumed_counts_what_one_reading_counts() {
        let mut interactions = String::from("USER_ID,ITEM_ID,TIMESTAMP\n");
        // More items than counters (the summaries evict), skewed, from known and unknown users.
        let users = ["f1", "f2", "f3", "f4", "f5", "m1", "stranger"];
        for i in 0..55_000u64 {
            let item = (i * i + 7 * i) % 997 % (1 + i % 300);
            interactions.push_str(&format!("{},item-{item},{i}\n", users[(i % 7) as usize]));
        }
        let whole = popularity(&interactions).counts();

        let (header_end, mut offset, mut pieces) = (interactions.find('\n').unwrap() + 1, 0, 0);
        let mut saved: Option<PopularityCounts> = None;
        let resumed = loop {
            let mut p = Popularity::default();
            p.read_users(USERS.as_bytes(), |_, _| Ok(())).unwrap();
            if let Some(saved) = saved.take() {
                p.resume(saved);
            }
            // The file from `offset`, its header in front, as the worker reads it from S3.
            let header = if offset == 0 {
                ""
            } else {
                &interactions[..header_end]
            };
            let from = format!("{header}{}", &interactions[offset..]);
            let mut asks = 0;
            let stopped = p
                .read_interactions_while(from.as_bytes(), || {
                    asks += 1;
                    asks < 2
                })
                .unwrap();
            pieces += 1;
            let counts = p.counts();
            match stopped {
                None => break counts,
                Some(position) => {
                    offset += position as usize - header.len();
                    assert!(interactions[..offset].ends_with('\n'), "a row's start");
                    let json = serde_json::to_string(&counts).unwrap();
                    saved = Some(serde_json::from_str(&json).unwrap());
                }
            }
        };
        assert_eq!(pieces, 3, "20,000 rows a piece");
        assert_eq!(resumed.interactions, whole.interactions);
        assert_eq!(resumed.distinct_items(), whole.distinct_items());
        assert_eq!(resumed.lists(&HashSet::new()), whole.lists(&HashSet::new()));
    }

    #[test]
    fn banned_items_never_appear() {
        let p = popularity("USER_ID,ITEM_ID,TIMESTAMP\nf1,dress,1\nf1,bag,2\nf2,bag,3\n");
        for list in p.counts().lists(&["bag".to_owned()].into()) {
            assert!(!list.items.contains(&"bag".to_owned()), "{list:?}");
        }
    }

    #[test]
    fn the_catalogue_is_the_distinct_items_of_the_interactions_or_the_items_file() {
        let mut p = Popularity::default();
        p.exclude(["bag".to_owned()].into());
        p.read_interactions("USER_ID,ITEM_ID\nu1,dress\nu2,dress\nu2,bag\nu3, \nu3,tent\n".as_bytes())
            .unwrap();
        assert_eq!(
            p.counts().distinct_items(),
            3,
            "dress, bag (banned, still in the catalogue), tent"
        );
        let items = "ITEM_ID,CATEGORY\ndress,a\n\"bag\",b\ndress,c\n,d\nhat,e\n";
        assert_eq!(count_catalogue(items.as_bytes()).unwrap(), 3);
        let err = count_catalogue("ID\nx\n".as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "has no ITEM_ID column");
    }

    /// Four shares of a users file, each counting its users and their interactions, merged:
    /// the lists and counts of the whole files, each user's segment sent by one share only.
    #[test]
    fn shares_merged_count_what_the_whole_files_count() {
        let mut users = String::from("USER_ID,GENDER,AGE,REGION\n");
        let mut interactions = String::from("USER_ID,ITEM_ID,TIMESTAMP\n");
        let mut rng = fastrand::Rng::with_seed(3);
        for user in 0..400 {
            let (gender, region) = (["F", "M"][user % 2], ["tokyo", "osaka", "kyoto"][user % 3]);
            users.push_str(&format!("u{user},{gender},{},{region}\n", 20 + user % 50));
            for _ in 0..rng.usize(0..6) {
                interactions.push_str(&format!("u{user},i{},1\n", rng.usize(0..30) * rng.usize(1..4)));
            }
        }
        // Users the users file lacks count for the global list, in one share each.
        interactions.push_str("stranger,i1,1\nstranger,i1,2\n");
        let count = |share: Share| {
            let mut p = Popularity::default().share(share);
            let mut sent = Vec::new();
            p.read_users(users.as_bytes(), |id, _| {
                sent.push(id.to_owned());
                Ok(())
            })
            .unwrap();
            p.read_interactions(interactions.as_bytes()).unwrap();
            (p.counts(), sent)
        };
        let (whole, all_sent) = count(Share::default());
        let (mut merged, mut sent) = count(Share { index: 0, of: 4 });
        for index in 1..4 {
            let (counts, share_sent) = count(Share { index, of: 4 });
            assert!(share_sent.len() < 200, "a share holds part of the users");
            let stored: PopularityCounts =
                serde_json::from_slice(&serde_json::to_vec(&counts).unwrap()).unwrap();
            merged.merge(&stored);
            sent.extend(share_sent);
        }
        sent.sort();
        let mut all_sent = all_sent;
        all_sent.sort();
        assert_eq!(sent, all_sent, "every user's segment sent once");
        assert_eq!(merged.interactions, whole.interactions);
        assert_eq!(merged.distinct_items(), whole.distinct_items());
        let banned = HashSet::new();
        assert_eq!(merged.lists(&banned), whole.lists(&banned));
        assert!(whole.lists(&banned).len() > 10, "segments were counted");
    }

    /// Bytes that stop coming are the store's trouble (retried), not a bad file.
    #[test]
    fn a_read_that_stops_is_told_from_a_bad_file() {
        struct Stops(&'static [u8]);
        impl Read for Stops {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() {
                    return Err(std::io::Error::other("streaming error"));
                }
                let n = self.0.len().min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut p = Popularity::default();
        let err = p
            .read_interactions(Stops(b"USER_ID,ITEM_ID\nu1,dress\nu2,ba"))
            .unwrap_err();
        assert!(matches!(err, PopularityError::Read(_)), "{err:?}");
        let err = p
            .read_interactions("USER_ID,ITEM_ID\nu1\n".as_bytes())
            .unwrap_err();
        assert!(matches!(err, PopularityError::Csv { .. }), "{err:?}");
    }

    #[test]
    fn a_missing_column_is_named() {
        let mut p = Popularity::default();
        let err = p
            .read_interactions("USER_ID,TIMESTAMP\nu,1\n".as_bytes())
            .unwrap_err();
        assert_eq!(err.to_string(), "has no ITEM_ID column");
    }
}
