//! Pulse checks of transient subscriptions: live only, and at most once.
//!
//! The seed promises a subscription at-most-once delivery with no ordering
//! guarantees, so these checks fail a subscription that replays, repeats or
//! invents events, and never one that loses some: every read ends at a
//! sentinel that came ([`read_live`]), however many were lost.

use scenarios::delivery::{self, Connection, Start};
use scenarios::pulse::meta;
use scenarios::pulse::plans::{self, Change, Identity};

use super::events::observe;
use super::{Published, Pulse, SUBSCRIPTION, create, deliveries, fixed_property, needs_producer};
use super::{expected, read_live};
use crate::checks::case::or_stop;
use crate::checks::generated_property;
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

fixed_property!(SubscribeLive, meta::SUBSCRIBE_LIVE, skip: Self::skip);

impl SubscribeLive {
    fn skip(ctx: &CheckContext) -> Option<String> {
        needs_producer(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let model = pulse.model_name("Live");
        pulse.declare_model(&model, Identity::Default).await?;
        let update = |key| Change {
            action: plans::Action::Update,
            ..create(key)
        };
        let before = [create(0), create(1)];
        let after = [update(0), create(2), update(1)];
        let mut published = Published::new(Identity::Default);
        published.changes(&pulse, &model, &before).await?;
        let mut subscription = or_stop!(pulse, pulse.subscribe_ok(&model, None).await);
        published.changes(&pulse, &model, &after).await?;
        let events = read_live(&pulse, &mut subscription, &mut published, &model, |key| {
            vec![create(key)]
        })
        .await?;
        let observation = delivery::Observation {
            promise: SUBSCRIPTION,
            expected: expected(&model, &published.events[before.len()..]),
            published: published.ids(),
            connections: vec![Connection {
                conn: subscription.conn,
                start: Start::Live,
                delivered: deliveries(&events),
            }],
            complete: true,
        };
        pulse.done(delivery::check(&observation))
    }
}

// Changes seen by a subscription, then sentinels, read up to the first that
// comes: no event twice, none that was not published, each as published.
generated_property!(SubscribeAtMostOnce, meta::SUBSCRIBE_AT_MOST_ONCE, Vec<Change>,
    strategy: plans::changes(3, 1..=6),
    cases: |requested| requested.div_ceil(4),
    skip: needs_producer,
    run: subscribe_at_most_once_case);

async fn subscribe_at_most_once_case(
    ctx: CheckContext,
    changes: Vec<Change>,
) -> Result<CaseOutcome, String> {
    let pulse = Pulse::new(&ctx);
    let model = pulse.model_name("Once");
    pulse.declare_model(&model, Identity::Default).await?;
    let mut subscription = or_stop!(pulse, pulse.subscribe_ok(&model, None).await);
    let mut published = Published::new(Identity::Default);
    published.changes(&pulse, &model, &changes).await?;
    let events = read_live(&pulse, &mut subscription, &mut published, &model, |key| {
        vec![create(key)]
    })
    .await?;
    let connection = Connection {
        conn: subscription.conn,
        start: Start::Live,
        delivered: deliveries(&events),
    };
    let observation = observe(&model, &published.events, None, SUBSCRIPTION, connection);
    pulse.done(delivery::check(&observation))
}
