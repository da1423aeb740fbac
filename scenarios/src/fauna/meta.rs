//! Every Fauna check: id, level, title, spec reference, needs, and the defects that must fail it.

use crate::check::CheckMeta;

/// Every Fauna check, in catalogue order.
pub static ALL: &[&CheckMeta] = &[];
