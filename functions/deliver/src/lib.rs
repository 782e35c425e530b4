//! The Deliver step as a library: the Lambda (`main.rs`) and the delivery benchmark
//! (`tools/bench`) run the same code.
//!
//! `handler` sequences the state's steps, one file each: `begin`, `fallbacks`, `scores`,
//! `publish`. They share the ports, the error, the cursor on the job record, the banned items,
//! the shape of the lists written, the score files (`score_files`) and the bounded line reader
//! (`lines`).

mod begin;
pub mod config;
mod cursor;
pub mod error;
mod excluded;
mod fallbacks;
pub mod handler;
mod lines;
mod lists;
pub mod live;
pub mod ports;
mod publish;
mod score_files;
mod scores;
#[cfg(test)]
mod tests;
