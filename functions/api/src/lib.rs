//! The REST API as a library: the Lambda (`main.rs`) and the API benchmark (`tools/bench`)
//! run the same code. `handler` holds the routing table; each route's handler has its file.

pub mod call;
pub mod config;
pub mod handler;
pub mod live;
pub mod pointer_cache;
pub mod ports;
pub mod response;
pub mod views;

pub mod cancel;
pub mod data_files;
pub mod list;
pub mod recommendations;
pub mod show;
pub mod submit;
pub mod ui;

#[cfg(any(test, feature = "fakes"))]
pub mod fake;
