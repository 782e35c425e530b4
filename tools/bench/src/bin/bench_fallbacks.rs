//! `bench-fallbacks [users] [interactions] [items] [regions]`: the fallback lists' counting
//! (recoflow_core::popularity, what Deliver runs) on a synthetic catalogue, streamed from a
//! generator (nothing on disk): by default 200,000 users over 23 regions (503 segments),
//! 5,000,000 interactions over 1,000,000 items drawn Zipf-like. Prints one JSON line: time,
//! segments, lists, peak RSS. Exits 1 above 128 MiB of peak RSS (issue 16's target).

use std::collections::HashSet;
use std::io::Read;
use std::time::Instant;

use recoflow_core::popularity::Popularity;

const MAX_RSS_MIB: f64 = 128.0;

/// CSV rows made on demand, so the input's size costs no memory.
struct Rows<F: FnMut(u64) -> String> {
    header: Option<String>,
    next: u64,
    count: u64,
    row: F,
    pending: Vec<u8>,
}

impl<F: FnMut(u64) -> String> Read for Rows<F> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.len() < buf.len() {
            if let Some(header) = self.header.take() {
                self.pending.extend_from_slice(header.as_bytes());
            } else if self.next < self.count {
                let row = (self.row)(self.next);
                self.pending.extend_from_slice(row.as_bytes());
                self.next += 1;
            } else {
                break;
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

fn rows<F: FnMut(u64) -> String>(header: &str, count: u64, row: F) -> Rows<F> {
    Rows {
        header: Some(header.to_owned()),
        next: 0,
        count,
        row,
        pending: Vec::with_capacity(64 * 1024),
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

fn arg(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let (users, interactions, items, regions) =
        (arg(1, 200_000), arg(2, 5_000_000), arg(3, 1_000_000), arg(4, 23));
    let started = Instant::now();
    let mut popularity = Popularity::default();
    let users_csv = rows("USER_ID,GENDER,AGE,REGION\n", users, |i| {
        let gender = if i % 2 == 0 { "F" } else { "M" };
        format!("u{i},{gender},{},r{}\n", 15 + (i * 7) % 60, i % regions)
    });
    popularity
        .read_users(users_csv, |_, _| Ok(()))
        .expect("the users stream reads");
    let mut rng = fastrand::Rng::with_seed(42);
    let interactions_csv = rows("USER_ID,ITEM_ID,TIMESTAMP\n", interactions, move |_| {
        // Zipf-like over the catalogue: item k with probability ~ 1/k.
        let item = ((items as f64).powf(rng.f64()) as u64).min(items - 1);
        format!("u{},i{item},1700000000\n", rng.u64(0..users))
    });
    popularity
        .read_interactions(interactions_csv)
        .expect("the interactions stream reads");
    let lists = popularity.counts().lists(&HashSet::new());
    let seconds = started.elapsed().as_secs_f64();
    let rss = peak_rss_mib();
    println!(
        "{}",
        serde_json::json!({
            "users": users, "interactions": interactions, "items": items,
            "segments": lists.len() - 1, "seconds": (seconds * 100.0).round() / 100.0,
            "interactions_per_second": (interactions as f64 / seconds).round(),
            "peak_rss_mib": (rss * 10.0).round() / 10.0, "max_rss_mib": MAX_RSS_MIB
        })
    );
    if rss > MAX_RSS_MIB {
        eprintln!("bench-fallbacks: peak RSS {rss:.1} MiB is over {MAX_RSS_MIB} MiB");
        std::process::exit(1);
    }
}
