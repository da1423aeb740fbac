//! The executable checks: one per entry of the `scenarios` catalogue.
//!
//! Each API's module holds a driver (how to reach, read and publish on that
//! API) and one [`crate::property::Property`] per check; plans, models and
//! oracles that need no I/O live in `scenarios`. A test keeps this registry
//! and the catalogue in step.
//!
//! # Layout
//!
//! - [`fibric`]: the Fibric envelope stream's checks.
//! - [`pulse`]: Prisma Pulse's checks.
//! - [`fauna`]: Fauna event streaming's checks.
//! - [`actyx`]: the Actyx Events API's checks.
//! - [`atproto`]: the AT Protocol firehose's checks.
//! - [`case`]: the driver kit: a case, its recorded calls, and [`case::Stop`], the one outcome of a case body.
//! - [`cuts`]: cutting a stream's connections through the fault proxy, for any framing.

pub mod actyx;
pub mod atproto;
pub mod case;
pub mod cuts;
pub mod fauna;
pub mod fibric;
pub mod pulse;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A case's own name: microseconds and a process counter, in hex, so cases
/// sharing a target (one run or several) never see each other's data.
pub fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    format!("{:x}{n:x}", now % (1 << 40))
}

/// The skip reason of checks that publish, when the harness cannot.
pub fn needs_producer(ctx: &crate::runner::CheckContext) -> Option<String> {
    (!ctx.can_produce()).then(|| {
        "needs a producer: the target is not a reference server and no --producer was given"
            .to_owned()
    })
}

/// A check with one fixed scenario: its struct and its
/// [`crate::property::Property`] impl, whose plan is `()` and which runs one
/// case. The struct provides `async fn case(CheckContext) -> Result<CaseOutcome, String>`.
/// It never skips, unless `skip:` names a `fn(&CheckContext) -> Option<String>`
/// that says why it cannot run against a target.
macro_rules! fixed_property {
    ($name:ident, $meta:expr) => {
        $crate::checks::fixed_property!($name, $meta, skip: |_: &$crate::runner::CheckContext| None);
    };
    ($name:ident, $meta:expr, skip: $skip:expr) => {
        #[derive(Debug)]
        pub struct $name;

        impl $crate::property::Property for $name {
            type Plan = ();

            fn meta(&self) -> &'static scenarios::CheckMeta {
                &$meta
            }

            fn strategy(&self) -> proptest::strategy::SBoxedStrategy<()> {
                proptest::strategy::Strategy::sboxed(proptest::strategy::Just(()))
            }

            fn cases(&self, _requested: u32) -> u32 {
                1
            }

            fn skip_reason(&self, ctx: &$crate::runner::CheckContext) -> Option<String> {
                $skip(ctx)
            }

            fn run_case(
                self: std::sync::Arc<Self>,
                ctx: $crate::runner::CheckContext,
                _plan: (),
            ) -> futures_util::future::BoxFuture<
                'static,
                Result<$crate::property::CaseOutcome, String>,
            > {
                futures_util::FutureExt::boxed(Self::case(ctx))
            }
        }
    };
}
pub(crate) use fixed_property;

/// A check over generated plans: its struct and its [`$crate::property::Property`]
/// impl, from the metadata, the plan type and strategy, the share of the
/// requested cases it runs, the skip rule (never, when there is no `skip:`)
/// and the case function.
macro_rules! generated_property {
    ($name:ident, $meta:expr, $plan:ty, strategy: $strategy:expr, cases: |$requested:ident| $cases:expr, run: $run:expr) => {
        $crate::checks::generated_property!($name, $meta, $plan, strategy: $strategy,
            cases: |$requested| $cases, skip: |_: &$crate::runner::CheckContext| None, run: $run);
    };
    ($name:ident, $meta:expr, $plan:ty, strategy: $strategy:expr, cases: |$requested:ident| $cases:expr, skip: $skip:expr, run: $run:expr) => {
        #[derive(Debug)]
        pub struct $name;

        impl $crate::property::Property for $name {
            type Plan = $plan;

            fn meta(&self) -> &'static scenarios::CheckMeta {
                &$meta
            }

            fn skip_reason(&self, ctx: &$crate::runner::CheckContext) -> Option<String> {
                $skip(ctx)
            }

            fn strategy(&self) -> proptest::strategy::SBoxedStrategy<$plan> {
                proptest::strategy::Strategy::sboxed($strategy)
            }

            fn cases(&self, $requested: u32) -> u32 {
                $cases
            }

            fn run_case(
                self: std::sync::Arc<Self>,
                ctx: $crate::runner::CheckContext,
                plan: $plan,
            ) -> futures_util::future::BoxFuture<
                'static,
                Result<$crate::property::CaseOutcome, String>,
            > {
                futures_util::FutureExt::boxed($run(ctx, plan))
            }
        }
    };
}
pub(crate) use generated_property;

use crate::runner::Check;

/// Every executable check, in catalogue order.
pub fn registry() -> Vec<Box<dyn Check>> {
    let mut checks = fibric::checks();
    checks.extend(pulse::checks());
    checks.extend(fauna::checks());
    checks.extend(actyx::checks());
    checks.extend(atproto::checks());
    checks
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    #[test]
    fn the_registry_matches_the_catalogue_one_to_one() {
        let registry: Vec<&str> = super::registry().iter().map(|c| c.meta().id).collect();
        let catalogue: Vec<&str> = scenarios::catalogue::all().map(|m| m.id).collect();
        assert_eq!(registry, catalogue);
    }

    /// Every defect a check names exists in the reference server, and every
    /// defect of the server is named by some check (the store's
    /// `reuse-seq-after-restart` is proven by the crash test until the
    /// AT Protocol catalogue, issue 8, has a check for it).
    #[test]
    fn catalogue_defects_and_server_defects_agree() {
        let named: BTreeSet<&str> = scenarios::catalogue::all()
            .flat_map(|m| m.killed_by.iter().copied())
            .collect();
        let server: BTreeSet<&str> = reference_server::defects::Defect::ALL
            .iter()
            .map(|d| d.name())
            .collect();
        let unknown: Vec<&&str> = named.difference(&server).collect();
        assert!(
            unknown.is_empty(),
            "checks name defects the server lacks: {unknown:?}"
        );
        let unused: Vec<&&str> = server
            .difference(&named)
            .filter(|d| **d != "reuse-seq-after-restart")
            .collect();
        assert!(unused.is_empty(), "defects no check names: {unused:?}");
    }
}
