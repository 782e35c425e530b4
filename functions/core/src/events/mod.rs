//! Events apps report about recommended lists (`POST /events`), and what is counted of them.

pub mod aggregates;
pub mod attribution;
pub mod intake;
pub mod ports;

#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
