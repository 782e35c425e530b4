//! The Deliver step as a library: the Lambda (`main.rs`) and the delivery benchmark
//! (`tools/bench`) run the same code.
//!
//! `handler` sequences the steps, one file each: `begin`, `fallbacks`, `scores` (one score
//! file's worker, its progress in `file_progress`), `publish` (which asks `judge` for the
//! quality gate's verdict). They share the ports, the error, the delivery on the job record
//! (`cursor`), the banned items, the shape of the lists written, the score files
//! (`score_files`), the bounded line reader (`lines`), the measuring of the lists (`measure`)
//! and the version's record and result-set entry (`records`).

mod audiences;
mod begin;
pub mod config;
mod cursor;
mod data_files;
pub mod error;
mod excluded;
mod fallbacks;
mod file_progress;
pub mod handler;
mod judge;
mod lines;
mod lists;
pub mod live;
mod measure;
pub mod ports;
mod publish;
mod records;
mod score_files;
mod scores;
pub mod sequence;
mod similar_lists;
mod stored;
#[cfg(test)]
mod tests;
