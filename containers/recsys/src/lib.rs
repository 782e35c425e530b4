//! Reference recommender for recoflow: item co-occurrence plus (segment) popularity.
//!
//! `train`, `score`, `similar` and `audience` follow the SageMaker training / processing
//! container contracts and Amazon Personalize's CSV, batch-inference and batch-segment formats,
//! so the orchestrator can run this container or Personalize interchangeably.

pub mod audience;
pub mod batch;
pub mod cli;
pub mod csv;
pub mod env;
pub mod error;
pub mod gen;
pub mod hyper;
pub mod item_filter;
pub mod model;
pub mod score;
pub mod similar;
pub mod train;

#[cfg(test)]
mod testutil;
