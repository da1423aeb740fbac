//! Pulse's model scoping: a named stream and a subscription deliver only the events of the model they name.
//!
//! Every other case changes the rows of one model, so a server that ignored
//! the model would pass them all. This case declares two models through the
//! producer (`declare-model` twice), changes rows of both, interleaved
//! (`row` to each), and reads the stream and the subscription of one and the
//! stream of the other.

use scenarios::Finding;
use scenarios::delivery::{self, Connection, Observation, Promise, Start};
use scenarios::pulse::meta;
use scenarios::pulse::plans::{self, Change, Identity};

use super::{
    PROMPT, Published, Pulse, SUBSCRIPTION, create, deliveries, expected, fixed_property,
    read_live, read_until,
};
use crate::checks::case::{Stop, or_stop};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

/// The row each model's stream is read up to, apart from the plan's rows and
/// the subscription's sentinels.
const LAST_KEY: u32 = 50;

fixed_property!(OwnModel, meta::OWN_MODEL, skip: Self::skip);

impl OwnModel {
    fn skip(ctx: &CheckContext) -> Option<String> {
        (!ctx.can_produce()).then(|| {
            "needs a producer that declares two models and changes rows of each \
             (--producer actions declare-model and row): the target is not a reference server"
                .to_owned()
        })
    }

    /// Changes to the two models, in the order they are made: `true` is the
    /// model the case reads, `false` the other one.
    fn plan() -> Vec<(bool, Change)> {
        let change = |action, key| Change {
            action,
            ..create(key)
        };
        let (update, delete) = (plans::Action::Update, plans::Action::Delete);
        vec![
            (true, create(0)),
            (false, create(0)),
            (false, change(update, 0)),
            (true, change(update, 0)),
            (false, create(1)),
            (true, create(1)),
            (false, change(delete, 0)),
            (true, change(delete, 1)),
            (false, change(update, 1)),
            (true, create(LAST_KEY)),
            (false, create(LAST_KEY)),
        ]
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let (mine, other) = (pulse.model_name("Mine"), pulse.model_name("Other"));
        pulse.declare_model(&mine, Identity::Default).await?;
        pulse.declare_model(&other, Identity::Default).await?;
        let (mine_stream, other_stream) = (pulse.stream_name("mine"), pulse.stream_name("other"));
        or_stop!(
            pulse,
            pulse.create_stream_ok(&mine_stream, &mine, None).await
        );
        or_stop!(
            pulse,
            pulse.create_stream_ok(&other_stream, &other, None).await
        );
        let mut subscription = or_stop!(pulse, pulse.subscribe_ok(&mine, None).await);
        let mut published = [
            Published::new(Identity::Default),
            Published::new(Identity::Default),
        ];
        for (to_mine, change) in Self::plan() {
            let (index, model) = if to_mine { (0, &mine) } else { (1, &other) };
            published[index].change(&pulse, model, &change).await?;
        }
        let streams = [(&mine, &mine_stream), (&other, &other_stream)];
        let mut findings = or_stop!(pulse, read_streams(&pulse, streams, &published).await);
        let live = read_live(&pulse, &mut subscription, &mut published[0], &mine, |key| {
            vec![create(key)]
        })
        .await?;
        let observation = Observation {
            promise: SUBSCRIPTION,
            expected: expected(&mine, &published[0].events),
            published: every_id(&published),
            connections: vec![Connection {
                conn: subscription.conn,
                start: Start::Live,
                delivered: deliveries(&live),
            }],
            complete: true,
        };
        findings.extend(delivery::check(&observation));
        pulse.done(findings)
    }
}

/// Every id published to either model.
fn every_id(published: &[Published; 2]) -> Vec<String> {
    published.iter().flat_map(Published::ids).collect()
}

/// Consumes each model's stream from its start up to that model's last
/// event, then deletes it; what each delivered must be its own model's
/// events only, all of them, in order.
async fn read_streams(
    pulse: &Pulse,
    streams: [(&String, &String); 2],
    published: &[Published; 2],
) -> Result<Vec<Finding>, Stop> {
    let mut findings = Vec::new();
    for ((model, name), own) in streams.into_iter().zip(published) {
        let mut stream = pulse.consume_ok(pulse.base(), name, None).await?;
        let max = 2 * own.events.len() + 2;
        let read = read_until(&mut stream, &own.last_id(), max, PROMPT).await;
        let observation = Observation {
            promise: Promise::AT_LEAST_ONCE_ORDERED,
            expected: expected(model, &own.events),
            published: every_id(published),
            connections: vec![Connection {
                conn: stream.conn,
                start: Start::Beginning,
                delivered: deliveries(&read),
            }],
            complete: true,
        };
        findings.extend(delivery::check(&observation));
        drop(stream);
        pulse.delete_stream(name).await?;
    }
    Ok(findings)
}
