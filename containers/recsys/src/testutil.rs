//! A throwaway directory per test, removed on drop (std only; no tempfile crate needed).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("recsys-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `content` to `rel`, creating parent directories.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.0.join(rel)).unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The tiny data set the train and score tests reason about by hand:
/// u1 {i1,i2,i3}, u2 {i1,i2}, u3 {i1,i2,i4}, u4 {i3,i4}; u5 has attributes only.
/// Segments (age bands 20,40): u1,u2,u5 = F|20-39|tokyo, u3,u4 = M|40+|osaka.
pub fn tiny_job(dir: &TempDir, hyperparameters: &str) -> crate::env::Env {
    dir.write(
        "input/data/interactions/part-1.csv",
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu1,i1,100,click\nu1,i2,101,click\nu1,i3,102,purchase\nu2,i1,100,click\n",
    );
    dir.write(
        "input/data/interactions/part-2.csv",
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu2,i2,103,click\nu2,i2,104,click\nu3,i1,100,click\nu3,i2,100,click\nu3,i4,100,click\nu4,i3,100,click\nu4,i4,100,click\n",
    );
    dir.write(
        "input/data/users/users.csv",
        "USER_ID,GENDER,AGE,REGION\nu1,F,25,tokyo\nu2,F,31,tokyo\nu3,M,45,osaka\nu4,M,50,osaka\nu5,F,22,tokyo\n",
    );
    dir.write(
        "input/data/items/items.csv",
        "ITEM_ID,CATEGORY\ni1,a\ni2,a\ni3,b\ni4,b\ni5,b\n",
    );
    dir.write("input/config/hyperparameters.json", hyperparameters);
    crate::env::Env::from_pairs([(crate::env::OPT_ML_VAR, dir.path().to_str().unwrap())])
}

pub const TINY_HP: &str =
    r#"{"min_count":"1","max_neighbours":"2","num_popular":"3","age_bands":"20,40","segment_smoothing":"0"}"#;

pub fn run(args: &[&str], env: &crate::env::Env) -> i32 {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    crate::cli::run(&args, env)
}

/// Planted taste clusters: 4 clusters of 25 items (`c<k>-i<nn>`, items file CATEGORY `c<k>`)
/// and 100 users each (`u<k>-<nnn>`), every user with 12 interactions, 11 of them in their own
/// cluster. Returns the environment and each user's cluster.
pub fn clustered_job(dir: &TempDir) -> (crate::env::Env, std::collections::BTreeMap<String, u32>) {
    let mut interactions = String::from("USER_ID,ITEM_ID,TIMESTAMP\n");
    let mut clusters = std::collections::BTreeMap::new();
    let mut state = 7u64;
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    for k in 0..4u32 {
        for u in 0..100 {
            let user = format!("u{k}-{u:03}");
            for t in 0..12 {
                let cluster = if t == 0 { (k + 1 + next(3) as u32) % 4 } else { k };
                interactions.push_str(&format!("{user},c{cluster}-i{:02},{}\n", next(25), 1000 + t));
            }
            clusters.insert(user, k);
        }
    }
    dir.write("input/data/interactions/interactions.csv", &interactions);
    let items: String = (0..4)
        .flat_map(|k| (0..25).map(move |i| format!("c{k}-i{i:02},c{k}\n")))
        .collect();
    dir.write(
        "input/data/items/items.csv",
        &format!("ITEM_ID,CATEGORY\n{items}"),
    );
    let env = crate::env::Env::from_pairs([(crate::env::OPT_ML_VAR, dir.path().to_str().unwrap())]);
    (env, clusters)
}
