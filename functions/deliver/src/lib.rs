//! The Deliver step as a library: the Lambda (`main.rs`) and the delivery benchmark
//! (`tools/bench`) run the same code.

pub mod handler;
#[cfg(test)]
mod tests;
