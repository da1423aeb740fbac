//! Every Actyx check: id, level, title, spec reference, needs, and the defects that must fail it.

use crate::check::CheckMeta;

/// Every Actyx check, in catalogue order.
pub static ALL: &[&CheckMeta] = &[];
