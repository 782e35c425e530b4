//! `recsys train | score | gen` — see README.md for the container contract.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env = recsys::env::Env::from_process();
    std::process::exit(recsys::cli::run(&args, &env));
}
