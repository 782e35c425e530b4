//! The runner as a library: the Lambda (`main.rs`) and the quota benchmark (`tools/bench`,
//! on the fakes) run the same code. `handler` dispatches each task to the file of its state.

pub mod acquire;
pub mod advance;
pub mod claim;
pub mod cleanup;
pub mod config;
pub mod datasets;
pub mod error;
pub mod hand_over;
pub mod handler;
pub mod plan;
pub mod pool_capacity;
pub mod ports;
pub mod release;
pub mod step;
pub mod sweep;
pub mod turn;
pub mod wait_for_quota;

#[cfg(any(test, feature = "fakes"))]
pub mod fake;
#[cfg(feature = "live")]
pub mod live;
#[cfg(test)]
mod tests;
