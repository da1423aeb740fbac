//! Prisma Pulse's checks (seed 001).

use crate::runner::Check;

/// Every Pulse check, in catalogue order.
pub fn checks() -> Vec<Box<dyn Check>> {
    Vec::new()
}
