//! How many units of a pool recoflow's jobs may hold now: the operator's limit minus what the
//! service shows running outside recoflow. A job asking for its slot and whoever hands a freed
//! slot to the next job count it the same way.

use recoflow_core::ports::LimitSource;
use recoflow_core::quota::{capacity, external_units, Pool, PoolState, DATASETS_CAPACITY};

use crate::error::RunnerError;
use crate::ports::RunnerPorts;

/// A pool's limit and the units jobs started elsewhere take from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolCapacity {
    pub limit: u32,
    pub external: u32,
}

impl PoolCapacity {
    /// Units recoflow's holders may hold in all.
    pub fn units(&self) -> u32 {
        capacity(self.limit, self.external)
    }
}

/// The operator's limit for the pool (a dataset group's datasets: one job at a time).
pub async fn pool_limit<P: RunnerPorts>(ports: &P, pool: &Pool) -> Result<u32, RunnerError> {
    if matches!(pool, Pool::PersonalizeDatasets { .. }) {
        return Ok(DATASETS_CAPACITY);
    }
    let limits = ports
        .limits()
        .limits()
        .await?
        .map_err(RunnerError::Configuration)?;
    limits.limit_for(pool).ok_or_else(|| {
        RunnerError::Configuration(format!(
            "the quota limits have no entry for pool {pool} (nor a default for its kind)"
        ))
    })
}

/// The pool's capacity as it stands: `state` names recoflow's holders, whose service jobs the
/// service's own count must not count twice.
pub async fn pool_capacity<P: RunnerPorts>(
    ports: &P,
    pool: &Pool,
    state: &PoolState,
) -> Result<PoolCapacity, RunnerError> {
    let limit = pool_limit(ports, pool).await?;
    let external = match pool.service_backend() {
        None => 0,
        Some(backend) => {
            let running = ports
                .service(backend)
                .in_progress(pool, &state.holder_prefixes())
                .await?;
            external_units(state, &running)
        }
    };
    Ok(PoolCapacity { limit, external })
}
