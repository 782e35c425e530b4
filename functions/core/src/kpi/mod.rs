//! A placement's KPIs from its aggregates: rates and their intervals per arm and day and over
//! a range, an A/B test's differences against its first arm, an interleaving test's
//! preference share (`GET /placements/{p}/metrics`, the web page, monitoring).

pub mod metrics;
pub mod stats;
