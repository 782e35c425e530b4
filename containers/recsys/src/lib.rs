//! Reference recommender for recoflow: item co-occurrence plus (segment) popularity.
//!
//! `train` and `score` follow the SageMaker training / processing container contracts and
//! Amazon Personalize's CSV and batch-inference formats, so the orchestrator can run this
//! container or Personalize interchangeably.

pub mod cli;
pub mod csv;
pub mod env;
pub mod error;
pub mod gen;
pub mod hyper;
pub mod model;
pub mod score;
pub mod train;

#[cfg(test)]
mod testutil;
