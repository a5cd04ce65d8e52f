//! Group commit of settlements over HTTP. Concurrent settle requests (JSON API and the hospital
//! dialect's 2207) wait in one bounded queue; a single settlement thread takes everything
//! waiting (up to [`SETTLE_GROUP_LEN_MAX`]), groups it by caller context (actor, channel,
//! business date) and settles each group in one durable transaction with
//! `Engine::settle_many`. Each request is answered only after its group has committed, so an
//! answer still means "durably settled"; a refused bill is rolled back to its savepoint and does
//! not fail the others; ST6 and ST9 are the engine's, unchanged. One commit (one fsync) serves
//! many bills under load.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Arc;

use gongji_core::settlement::Bill;
use gongji_engine::settlement::SettlementOutcome;
use gongji_engine::{Context, Engine, Error as EngineError};
use gongji_store::{Store, StoreError};

use crate::problem::ApiError;

/// Bills settled in one transaction at most.
pub const SETTLE_GROUP_LEN_MAX: usize = 256;
/// Requests waiting at most; a full queue makes callers wait (back-pressure), not fail.
pub const SETTLE_QUEUE_LEN_MAX: usize = 4096;

/// One settle request waiting for the settlement thread, with where its answer goes.
struct QueuedBill {
    ctx: Context,
    bill: Bill,
    reply: mpsc::SyncSender<Result<SettlementOutcome, ApiError>>,
}

/// The queue in front of the settlement thread. Dropping it ends the thread once the queue is
/// drained.
pub struct SettleQueue {
    sender: mpsc::SyncSender<QueuedBill>,
}

impl SettleQueue {
    pub fn start<S: Store + 'static>(engine: Arc<Engine<S>>) -> SettleQueue {
        let (sender, receiver) = mpsc::sync_channel::<QueuedBill>(SETTLE_QUEUE_LEN_MAX);
        std::thread::Builder::new().name("gongji-settle".into()).spawn(move || run(&engine, &receiver)).expect("the settlement thread starts");
        SettleQueue { sender }
    }

    /// Settles `bill` with `ctx`, blocking the calling (blocking-pool) thread until its group
    /// has committed or been refused.
    pub fn settle(&self, ctx: Context, bill: Bill) -> Result<SettlementOutcome, ApiError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.sender.send(QueuedBill { ctx, bill, reply }).map_err(|_| ApiError::internal("the settlement queue is closed"))?;
        answer.recv().map_err(|_| ApiError::internal("the settlement thread ended without an answer"))?
    }
}

fn same_caller(a: &Context, b: &Context) -> bool {
    a.actor == b.actor && a.channel == b.channel && a.business_date == b.business_date
}

fn run<S: Store>(engine: &Engine<S>, receiver: &mpsc::Receiver<QueuedBill>) {
    while let Ok(first) = receiver.recv() {
        let mut waiting = vec![first];
        while waiting.len() < SETTLE_GROUP_LEN_MAX {
            match receiver.try_recv() {
                Ok(queued) => waiting.push(queued),
                Err(_) => break,
            }
        }
        let mut groups: Vec<Vec<QueuedBill>> = Vec::new();
        for queued in waiting {
            match groups.iter_mut().find(|group| same_caller(&group[0].ctx, &queued.ctx)) {
                Some(group) => group.push(queued),
                None => groups.push(vec![queued]),
            }
        }
        for group in groups {
            let bills: Vec<Bill> = group.iter().map(|queued| queued.bill.clone()).collect();
            // A panic in the engine answers this group with 500s and keeps the thread serving.
            let outcome = catch_unwind(AssertUnwindSafe(|| engine.settle_many(&group[0].ctx, &bills)));
            match outcome {
                Ok(Ok(results)) => {
                    for (queued, result) in group.into_iter().zip(results) {
                        let _ = queued.reply.send(result.map_err(ApiError::from));
                    }
                }
                Ok(Err(failure)) => {
                    let busy = matches!(failure, EngineError::Store(StoreError::Busy));
                    let text = failure.to_string();
                    for queued in group {
                        let _ = queued.reply.send(Err(if busy { ApiError::from(StoreError::Busy) } else { ApiError::internal(text.clone()) }));
                    }
                }
                Err(_) => {
                    for queued in group {
                        let _ = queued.reply.send(Err(ApiError::internal("the engine panicked while settling a group of bills")));
                    }
                }
            }
        }
    }
}
