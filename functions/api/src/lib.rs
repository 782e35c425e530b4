//! The REST API as a library: the Lambda (`main.rs`) and the API benchmark (`tools/bench`)
//! run the same code.

pub mod handler;
pub mod jobs;
pub mod recommendations;
pub mod ui;
