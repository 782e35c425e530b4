//! Audiences: the users most likely to respond to an item (one audience per item of the
//! form's `audience.items`) or to the items matching its `audience.item_filter` (one
//! audience), within the segment. Each is a ranked CSV in the results bucket,
//! `user_id,score,<segment columns>`; the version's manifest lists them with their size and a
//! breakdown by each segment column. Deliver writes the CSVs first and the manifest last, and
//! only then moves the result set's pointer: a reader never sees half an audience.
//!
//! Scores: the reference container's affinity when it gives one; Personalize gives none, so a
//! user's score is then `1 − rank / users ranked`, the share of the users Personalize ranked
//! below them (the best 1, the last near 0).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Read};

use serde::{Deserialize, Serialize};
use sketches_ddsketch::{Config, DDSketch};

use crate::attributes::{band_label, band_number, normalized};
use crate::delivery::MAX_USER_ID_CHARS;
use crate::form::{AudienceCut, AudienceTarget, JobForm, DEFAULT_AGE_BANDS};
use crate::job::JobId;
use crate::quality::VersionMetrics;
use crate::segment::{UserCriteria, AGE_COLUMN, USER_ID_COLUMN};
use crate::topk::item_hash;

use super::segment_lines::{read_segment_line, LineRead, SegmentLine};

/// Values listed per column in a breakdown; the rest are summed as [`OTHER_VALUES`].
pub const BREAKDOWN_VALUES: usize = 20;
pub const OTHER_VALUES: &str = "(other)";
/// A blank value in the users file (or a user it does not list).
pub const BLANK_VALUE: &str = "(blank)";

/// Where a version's audiences are, in the results bucket.
pub fn prefix(result_set: &str, version: &str) -> String {
    format!("audiences/{result_set}/{version}/")
}

/// The CSV of a version's `ordinal`-th audience.
pub fn csv_key(result_set: &str, version: &str, ordinal: usize) -> String {
    format!("{}{ordinal:04}.csv", prefix(result_set, version))
}

/// The version's manifest, written last.
pub fn manifest_key(result_set: &str, version: &str) -> String {
    format!("{}audiences.json", prefix(result_set, version))
}

/// A version's audiences, as `GET /audiences/{result_set}` shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudienceManifest {
    pub result_set: String,
    pub version: String,
    pub job_id: JobId,
    /// When the audiences were written.
    pub created_at: String,
    /// The segment's columns, as the CSVs have them after `user_id,score`.
    pub columns: Vec<String>,
    /// The form's cut: the most users kept, or the lowest score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<f64>,
    pub audiences: Vec<AudienceEntry>,
}

impl AudienceManifest {
    /// The audience of an item, or (`None`) the one audience of an item filter.
    pub fn find(&self, item: Option<&str>) -> Option<&AudienceEntry> {
        match item {
            Some(item) => self.audiences.iter().find(|a| a.item.as_deref() == Some(item)),
            None if self.audiences.len() == 1 => self.audiences.first(),
            None => None,
        }
    }

    /// Users in all audiences.
    pub fn users(&self) -> u64 {
        self.audiences.iter().map(|a| a.size).sum()
    }
}

/// One audience: for an item or for the item filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudienceEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_filter: Option<BTreeMap<String, Vec<String>>>,
    /// Its CSV's key in the results bucket.
    pub csv: String,
    /// Users in it.
    pub size: u64,
    /// Per segment column, users per value, the most first ([`BREAKDOWN_VALUES`] at most, then
    /// [`OTHER_VALUES`]); AGE by band.
    pub breakdown: BTreeMap<String, Vec<ValueCount>>,
    /// Why the backend ranked nobody for it (an item it never saw), in its words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueCount {
    pub value: String,
    pub users: u64,
}

/// What a form's audiences are: one per item, or one for the filter, each cut the same way.
#[derive(Debug, Clone)]
pub struct AudiencePlan {
    pub targets: Vec<Target>,
    pub cut: AudienceCut,
    /// The segment's columns, upper case, in the form's order.
    pub columns: Vec<String>,
}

/// One audience's target, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Item(String),
    Filter(BTreeMap<String, Vec<String>>),
}

impl AudiencePlan {
    /// `None` for a form that makes no audience.
    pub fn of(form: &JobForm) -> Option<Self> {
        let audience = form.audience.as_ref()?;
        let targets = match audience.target() {
            AudienceTarget::Items(items) => items.iter().map(|i| Target::Item(i.trim().to_owned())).collect(),
            AudienceTarget::ItemFilter(filter) => vec![Target::Filter(filter.clone())],
        };
        let mut columns: Vec<String> = Vec::new();
        for (column, _) in UserCriteria::of_segment(form.segment.as_ref()).columns() {
            let column = column.to_ascii_uppercase();
            if !columns.contains(&column) {
                columns.push(column);
            }
        }
        Some(Self {
            targets,
            cut: audience.cut(),
            columns,
        })
    }

    /// Which audience a batch line's input belongs to: its item's, or the filter's (every
    /// alternative of the filter is a line of its own).
    pub fn audience_of(&self, input: &serde_json::Value) -> Option<usize> {
        if let Some(item) = input.get("itemId").and_then(|i| i.as_str()) {
            return self
                .targets
                .iter()
                .position(|t| matches!(t, Target::Item(i) if i == item.trim()));
        }
        input.get("itemAttributes")?;
        self.targets.iter().position(|t| matches!(t, Target::Filter(_)))
    }

    pub fn size_limit(&self) -> Option<usize> {
        match self.cut {
            AudienceCut::Size(size) => Some(size as usize),
            AudienceCut::MinScore(_) => None,
        }
    }
}

/// Who may be in an audience: the segment's users (the scoring input Prepare wrote), with
/// their values of the segment's columns (from the users file). Users are kept by a 64-bit
/// hash of their id with a profile (one per distinct combination of values), 12 bytes each.
#[derive(Debug)]
pub struct Candidates {
    columns: Vec<String>,
    users: HashMap<u64, u32>,
    profiles: Vec<Vec<String>>,
    profile_ids: HashMap<Vec<String>, u32>,
}

impl Candidates {
    pub fn new(columns: Vec<String>) -> Self {
        let blank = vec![String::new(); columns.len()];
        Self {
            columns,
            users: HashMap::new(),
            profile_ids: [(blank.clone(), 0)].into(),
            profiles: vec![blank],
        }
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Reads batch input lines `{"userId": …}`: every user of them may be in an audience.
    pub fn read_members<R: BufRead>(&mut self, lines: R) -> Result<u64, String> {
        #[derive(Deserialize)]
        struct Line {
            #[serde(rename = "userId")]
            user_id: String,
        }
        for (n, line) in lines.lines().enumerate() {
            let line = line.map_err(|e| format!("line {}: {e}", n + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            let line: Line = serde_json::from_str(&line).map_err(|e| format!("line {}: {e}", n + 1))?;
            // An id the API could never be asked for (and that would break a CSV line) is left out.
            if !line.user_id.chars().any(char::is_control)
                && line.user_id.chars().count() <= MAX_USER_ID_CHARS
            {
                self.users.insert(item_hash(&line.user_id), 0);
            }
        }
        Ok(self.users.len() as u64)
    }

    /// Reads the users file: each candidate's values of the columns (NFC-normalised, trimmed).
    pub fn read_profiles<R: Read>(&mut self, users_csv: R) -> Result<(), String> {
        let mut reader = csv::Reader::from_reader(users_csv);
        let header = reader.headers().map_err(|e| e.to_string())?.clone();
        let position = |name: &str| {
            header
                .iter()
                .position(|c| c.trim().trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
        };
        let user_column = position(USER_ID_COLUMN).ok_or("has no USER_ID column")?;
        let columns: Vec<Option<usize>> = self.columns.iter().map(|c| position(c)).collect();
        let mut row = csv::StringRecord::new();
        while reader.read_record(&mut row).map_err(|e| e.to_string())? {
            let Some(user) = row.get(user_column).map(str::trim) else {
                continue;
            };
            let Some(profile) = self.users.get_mut(&item_hash(user)) else {
                continue;
            };
            let values: Vec<String> = columns
                .iter()
                .map(|c| c.and_then(|c| row.get(c)).map(normalized).unwrap_or_default())
                .collect();
            let next = self.profiles.len() as u32;
            let id = *self.profile_ids.entry(values.clone()).or_insert(next);
            if id == next {
                self.profiles.push(values);
            }
            *profile = id;
        }
        Ok(())
    }

    /// The candidate's profile, `None` for a user outside the segment.
    pub fn profile(&self, user_id: &str) -> Option<u32> {
        self.users.get(&item_hash(user_id)).copied()
    }

    /// A profile's values, in column order.
    pub fn values(&self, profile: u32) -> &[String] {
        &self.profiles[profile as usize]
    }
}

/// A user in an audience.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub user_id: String,
    pub score: f64,
    pub profile: u32,
}

/// One audience being read from its batch lines (one, or one per alternative of a filter).
#[derive(Debug)]
pub struct Collecting {
    cut: AudienceCut,
    /// The current line's candidates: (user, rank, profile).
    line: Vec<(String, u64, u32)>,
    members: Vec<Member>,
    lines: u32,
    /// A line's error, when every line had one.
    pub error: Option<String>,
}

impl Collecting {
    pub fn new(cut: AudienceCut) -> Self {
        Self {
            cut,
            line: Vec::new(),
            members: Vec::new(),
            lines: 0,
            error: None,
        }
    }

    /// A user the line ranks at `rank`; kept when a candidate and within the cut (lines rank
    /// best first, so past the size the rest of the line cannot be in it).
    pub fn user(&mut self, candidates: &Candidates, user_id: &str, rank: u64) {
        if let AudienceCut::Size(size) = self.cut {
            if self.line.len() >= size as usize {
                return;
            }
        }
        if let Some(profile) = candidates.profile(user_id) {
            self.line.push((user_id.to_owned(), rank, profile));
        }
    }

    /// The line ended well: its users get their scores.
    pub fn end_line(&mut self, line: &SegmentLine) {
        self.lines += 1;
        if let Some(error) = &line.error {
            self.error.get_or_insert_with(|| error.clone());
        }
        let ranked = line.users.max(1) as f64;
        for (user_id, rank, profile) in self.line.drain(..) {
            let score = match &line.scores {
                Some(scores) => scores.get(rank as usize).copied().unwrap_or(0.0),
                None => round6(1.0 - rank as f64 / ranked),
            };
            if let AudienceCut::MinScore(min) = self.cut {
                if score < min {
                    continue;
                }
            }
            self.members.push(Member {
                user_id,
                score,
                profile,
            });
        }
    }

    /// The line broke off: the users it handed over are dropped.
    pub fn drop_line(&mut self) {
        self.line.clear();
    }

    /// The audience, best first (ties to the smaller user id); a user ranked by several lines
    /// keeps their best score.
    pub fn finish(self) -> (Vec<Member>, Option<String>) {
        let mut members = self.members;
        if self.lines > 1 {
            let mut best: HashMap<String, usize> = HashMap::new();
            let mut kept: Vec<Member> = Vec::with_capacity(members.len());
            for member in members {
                match best.get(&member.user_id) {
                    Some(&i) if kept[i].score >= member.score => {}
                    Some(&i) => kept[i] = member,
                    None => {
                        best.insert(member.user_id.clone(), kept.len());
                        kept.push(member);
                    }
                }
            }
            members = kept;
        }
        members.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.user_id.cmp(&b.user_id))
        });
        if let AudienceCut::Size(size) = self.cut {
            members.truncate(size as usize);
        }
        let error = if members.is_empty() { self.error } else { None };
        (members, error)
    }
}

/// Reads batch segment lines to their end, each line's users going to its audience
/// (`collecting`, one per target of `plan`) as they are read; how many lines were unreadable
/// or named no audience of the form.
pub fn read_lines<R: BufRead>(
    reader: &mut R,
    plan: &AudiencePlan,
    candidates: &Candidates,
    collecting: &mut [Collecting],
) -> std::io::Result<u64> {
    let mut unreadable = 0;
    // Users given before the line's input (no backend writes that) wait for it.
    let mut waiting: Vec<(String, u64)> = Vec::new();
    loop {
        waiting.clear();
        let mut audience: Option<Option<usize>> = None;
        let read = read_segment_line(reader, &mut |input, user, rank| {
            if input.is_null() {
                if candidates.profile(user).is_some() {
                    waiting.push((user.to_owned(), rank));
                }
            } else if let Some(target) = *audience.get_or_insert_with(|| plan.audience_of(input)) {
                collecting[target].user(candidates, user, rank);
            }
        })?;
        match read {
            LineRead::End => return Ok(unreadable),
            LineRead::Unreadable(_) => {
                unreadable += 1;
                if let Some(Some(target)) = audience {
                    collecting[target].drop_line();
                }
            }
            LineRead::Line(line) => match audience.unwrap_or_else(|| plan.audience_of(&line.input)) {
                None => unreadable += 1,
                Some(target) => {
                    for (user, rank) in waiting.drain(..) {
                        collecting[target].user(candidates, &user, rank);
                    }
                    collecting[target].end_line(&line);
                }
            },
        }
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The CSV's header: `user_id,score` and the segment's columns.
pub fn csv_header(columns: &[String]) -> Vec<u8> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["user_id".to_owned(), "score".to_owned()];
    header.extend(columns.iter().cloned());
    out.write_record(&header).expect("a CSV row writes to memory");
    out.into_inner().expect("a CSV row writes to memory")
}

/// Appends a member's row to `out`. Control characters in the users file's values become
/// spaces, so every row is one line (the API pages the CSV by lines).
pub fn csv_row(member: &Member, candidates: &Candidates, out: &mut Vec<u8>) {
    let mut writer = csv::Writer::from_writer(std::mem::take(out));
    let score = member.score.to_string();
    let values = candidates.values(member.profile).iter().map(|v| one_line(v));
    let row = [Cow::Borrowed(member.user_id.as_str()), Cow::Owned(score)]
        .into_iter()
        .chain(values);
    writer
        .write_record(row.map(|field| field.into_owned()))
        .expect("a CSV row writes to memory");
    *out = writer.into_inner().expect("a CSV row writes to memory");
}

fn one_line(value: &str) -> Cow<'_, str> {
    if value.chars().any(char::is_control) {
        Cow::Owned(
            value
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(value)
    }
}

/// One row of an audience's CSV (a line, as [`csv_row`] writes them): the user, the score and
/// the columns' values; `None` for a line that is not a row (the header, a broken line).
pub fn parse_csv_row(line: &[u8]) -> Option<(String, f64, Vec<String>)> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(line);
    let record = reader.records().next()?.ok()?;
    let mut fields = record.iter();
    let user_id = fields.next()?.to_owned();
    let score = fields.next()?.parse::<f64>().ok()?;
    Some((user_id, score, fields.map(str::to_owned).collect()))
}

/// The value a breakdown counts: AGE by its band, others as they are; blanks as
/// [`BLANK_VALUE`].
fn breakdown_value(column: &str, value: &str) -> String {
    if value.is_empty() {
        return BLANK_VALUE.to_owned();
    }
    if column == AGE_COLUMN {
        if let Some(age) = band_number(column, value) {
            return band_label(&DEFAULT_AGE_BANDS, age);
        }
    }
    value.to_owned()
}

/// Users per value of each column.
pub fn breakdown(members: &[Member], candidates: &Candidates) -> BTreeMap<String, Vec<ValueCount>> {
    let mut per_profile: HashMap<u32, u64> = HashMap::new();
    for member in members {
        *per_profile.entry(member.profile).or_default() += 1;
    }
    let mut breakdown = BTreeMap::new();
    for (i, column) in candidates.columns().iter().enumerate() {
        let mut counts: HashMap<String, u64> = HashMap::new();
        for (&profile, &users) in &per_profile {
            *counts
                .entry(breakdown_value(column, &candidates.values(profile)[i]))
                .or_default() += users;
        }
        let mut counts: Vec<ValueCount> = counts
            .into_iter()
            .map(|(value, users)| ValueCount { value, users })
            .collect();
        counts.sort_by(|a, b| b.users.cmp(&a.users).then_with(|| a.value.cmp(&b.value)));
        if counts.len() > BREAKDOWN_VALUES {
            let rest: u64 = counts.drain(BREAKDOWN_VALUES..).map(|c| c.users).sum();
            counts.push(ValueCount {
                value: OTHER_VALUES.to_owned(),
                users: rest,
            });
        }
        breakdown.insert(column.clone(), counts);
    }
    breakdown
}

/// What the quality gate reads of a version of audiences: `users_personalized` is the users
/// in all its audiences; `mean_list_length` an audience's size, averaged; `short_lists_share`
/// the share of audiences smaller than the form's `size` (none when it is cut by score);
/// `segments_published` the audiences written; the score percentiles over every member.
/// Catalogue coverage, the top items' share and overlap have no meaning here and are absent.
pub struct AudienceMetrics {
    audiences: u64,
    users: u64,
    short: u64,
    scores: DDSketch,
}

impl Default for AudienceMetrics {
    fn default() -> Self {
        Self {
            audiences: 0,
            users: 0,
            short: 0,
            scores: DDSketch::new(Config::new(0.01, 2048, 1.0e-9)),
        }
    }
}

impl AudienceMetrics {
    pub fn add(&mut self, members: &[Member], cut: AudienceCut) {
        self.audiences += 1;
        self.users += members.len() as u64;
        if matches!(cut, AudienceCut::Size(size) if members.len() < size as usize) {
            self.short += 1;
        }
        for member in members {
            self.scores.add(member.score);
        }
    }

    pub fn finish(&self) -> VersionMetrics {
        let quantile = |q| self.scores.quantile(q).ok().flatten().map(round6);
        VersionMetrics {
            users_personalized: self.users,
            catalog_coverage: None,
            top1pct_share: None,
            mean_list_length: self.users as f64 / self.audiences.max(1) as f64,
            short_lists_share: self.short as f64 / self.audiences.max(1) as f64,
            segments_published: self.audiences,
            overlap_at_k: None,
            banned_served: 0,
            score_p50: quantile(0.5),
            score_p99: quantile(0.99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates() -> Candidates {
        let mut candidates = Candidates::new(vec!["AGE".into(), "PREFECTURE".into()]);
        let members =
            "{\"userId\":\"u1\"}\n\n{\"userId\":\"u2\"}\n{\"userId\":\"u3\"}\n{\"userId\":\"u,4\"}\n";
        assert_eq!(candidates.read_members(members.as_bytes()).unwrap(), 4);
        let users = "USER_ID,prefecture,AGE\nu1,東京都,27\nu2, 大阪府 ,45\nu3,東京都,22\nu9,東京都,30\n";
        candidates.read_profiles(users.as_bytes()).unwrap();
        candidates
    }

    /// Reads batch lines into one audience per line's target.
    fn collect(
        plan: &AudiencePlan,
        candidates: &Candidates,
        text: &str,
    ) -> Vec<(Vec<Member>, Option<String>)> {
        let mut audiences: Vec<Collecting> = plan.targets.iter().map(|_| Collecting::new(plan.cut)).collect();
        let mut reader = std::io::BufReader::new(text.as_bytes());
        read_lines(&mut reader, plan, candidates, &mut audiences).unwrap();
        audiences.into_iter().map(Collecting::finish).collect()
    }

    fn plan(targets: Vec<Target>, cut: AudienceCut) -> AudiencePlan {
        AudiencePlan {
            targets,
            cut,
            columns: vec!["AGE".into(), "PREFECTURE".into()],
        }
    }

    fn ids(members: &[Member]) -> Vec<(&str, f64)> {
        members.iter().map(|m| (m.user_id.as_str(), m.score)).collect()
    }

    #[test]
    fn personalize_s_ranks_become_scores_and_only_the_segment_s_users_stay() {
        let candidates = candidates();
        let plan = plan(
            vec![Target::Item("i1".into()), Target::Item("i2".into())],
            AudienceCut::Size(2),
        );
        let audiences = collect(
            &plan,
            &candidates,
            concat!(
                r#"{"input":{"itemId":"i1"},"output":{"usersList":["u9","u3","u1","u2"]},"error":null}"#,
                "\n",
                r#"{"input":{"itemId":"i2"},"output":null,"error":"Item i2 was not in the training data."}"#,
            ),
        );
        // u9 is not a candidate; u3 ranked 2nd of 4: 1 - 1/4.
        assert_eq!(ids(&audiences[0].0), [("u3", 0.75), ("u1", 0.5)]);
        assert_eq!(
            audiences[1],
            (Vec::new(), Some("Item i2 was not in the training data.".into()))
        );
    }

    #[test]
    fn users_before_their_input_wait_for_it_and_a_broken_line_s_users_are_dropped() {
        let candidates = candidates();
        let plan = plan(vec![Target::Item("i1".into())], AudienceCut::Size(10));
        let audiences = collect(
            &plan,
            &candidates,
            concat!(
                r#"{"input":{"itemId":"i1"},"output":{"usersList":["u3",5]}}"#,
                "\n",
                r#"{"output":{"usersList":["u2","u1"]},"input":{"itemId":"i1"}}"#,
                "\n",
                r#"{"input":{"itemId":"nobody-asked"},"output":{"usersList":["u3"]}}"#,
            ),
        );
        assert_eq!(ids(&audiences[0].0), [("u2", 1.0), ("u1", 0.5)]);
    }

    #[test]
    fn a_filter_s_alternatives_merge_with_each_user_s_best_score_and_the_minimum_cuts() {
        let candidates = candidates();
        let plan = plan(
            vec![Target::Filter(
                [("CATEGORY".to_owned(), vec!["a".to_owned(), "b".to_owned()])].into(),
            )],
            AudienceCut::MinScore(0.3),
        );
        let audiences = collect(
            &plan,
            &candidates,
            concat!(
                r#"{"input":{"itemAttributes":"ITEMS.CATEGORY = \"a\""},"output":{"scores":[0.9,0.5,0.2],"usersList":["u1","u2","u3"]},"error":null}"#,
                "\n",
                r#"{"input":{"itemAttributes":"ITEMS.CATEGORY = \"b\""},"output":{"scores":[0.8,0.6,0.31],"usersList":["u2","u,4","u1"]},"error":null}"#,
            ),
        );
        assert_eq!(ids(&audiences[0].0), [("u1", 0.9), ("u2", 0.8), ("u,4", 0.6)]);
    }

    #[test]
    fn the_csv_quotes_what_it_must_and_the_breakdown_counts_its_rows() {
        let candidates = candidates();
        let members: Vec<Member> = ["u1", "u2", "u3", "u,4"]
            .iter()
            .enumerate()
            .map(|(i, u)| Member {
                user_id: (*u).into(),
                score: 1.0 - i as f64 / 10.0,
                profile: candidates.profile(u).unwrap(),
            })
            .collect();
        let mut csv = csv_header(candidates.columns());
        for member in &members {
            csv_row(member, &candidates, &mut csv);
        }
        let csv = String::from_utf8(csv).unwrap();
        assert_eq!(
            csv,
            "user_id,score,AGE,PREFECTURE\nu1,1,27,東京都\nu2,0.9,45,大阪府\nu3,0.8,22,東京都\n\"u,4\",0.7,,\n"
        );
        let rows: Vec<_> = csv.lines().map(|l| parse_csv_row(l.as_bytes())).collect();
        assert_eq!(rows[0], None, "the header is no row");
        assert_eq!(
            rows[4],
            Some(("u,4".to_owned(), 0.7, vec![String::new(), String::new()]))
        );
        let breakdown = breakdown(&members, &candidates);
        let pairs = |column: &str| -> Vec<(String, u64)> {
            breakdown[column]
                .iter()
                .map(|c| (c.value.clone(), c.users))
                .collect()
        };
        assert_eq!(
            pairs("AGE"),
            [("20-29".into(), 2), ("(blank)".into(), 1), ("40-49".into(), 1)]
        );
        assert_eq!(
            pairs("PREFECTURE"),
            [("東京都".into(), 2), ("(blank)".into(), 1), ("大阪府".into(), 1)]
        );
        let mut metrics = AudienceMetrics::default();
        metrics.add(&members, AudienceCut::Size(10));
        let metrics = metrics.finish();
        assert_eq!((metrics.users_personalized, metrics.segments_published), (4, 1));
        assert_eq!((metrics.short_lists_share, metrics.catalog_coverage), (1.0, None));
    }
}
