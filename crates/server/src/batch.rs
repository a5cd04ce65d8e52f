//! Group commit of settlements over HTTP. Concurrent settle requests (JSON API and HIS 2207)
//! wait in one bounded queue; a single settlement thread takes everything waiting (up to
//! [`SETTLE_BATCH_LEN_MAX`]), groups it by caller context (actor, channel, business date) and
//! settles each group in one durable transaction with `Engine::settle_many`. Each request is
//! answered only after its group has committed, so an answer still means "durably settled";
//! a refused bill is rolled back to its savepoint and does not fail the others; ST6 and ST9 are
//! the engine's, unchanged. One commit (one fsync) serves many bills under load.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Arc;

use gongji_core::settlement::Bill;
use gongji_engine::settlement::SettlementOutcome;
use gongji_engine::{Context, Engine, Error as EngineError};
use gongji_store::{Store, StoreError};

use crate::problem::ApiError;

/// Bills settled in one transaction at most.
pub const SETTLE_BATCH_LEN_MAX: usize = 256;
/// Requests waiting at most; a full queue makes callers wait (back-pressure), not fail.
pub const SETTLE_QUEUE_LEN_MAX: usize = 4096;

struct Job {
    ctx: Context,
    bill: Bill,
    reply: mpsc::SyncSender<Result<SettlementOutcome, ApiError>>,
}

/// The queue in front of the settlement thread. Dropping it ends the thread once the queue is
/// drained.
pub struct SettleQueue {
    sender: mpsc::SyncSender<Job>,
}

impl SettleQueue {
    pub fn start<S: Store + 'static>(engine: Arc<Engine<S>>) -> SettleQueue {
        let (sender, receiver) = mpsc::sync_channel::<Job>(SETTLE_QUEUE_LEN_MAX);
        std::thread::Builder::new().name("gongji-settle".into()).spawn(move || run(&engine, &receiver)).expect("the settlement thread starts");
        SettleQueue { sender }
    }

    /// Settles `bill` with `ctx`, blocking the calling (blocking-pool) thread until its group
    /// has committed or been refused.
    pub fn settle(&self, ctx: Context, bill: Bill) -> Result<SettlementOutcome, ApiError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.sender.send(Job { ctx, bill, reply }).map_err(|_| ApiError::internal("the settlement queue is closed"))?;
        answer.recv().map_err(|_| ApiError::internal("the settlement thread ended without an answer"))?
    }
}

fn same_caller(a: &Context, b: &Context) -> bool {
    a.actor == b.actor && a.channel == b.channel && a.business_date == b.business_date
}

fn run<S: Store>(engine: &Engine<S>, receiver: &mpsc::Receiver<Job>) {
    while let Ok(first) = receiver.recv() {
        let mut jobs = vec![first];
        while jobs.len() < SETTLE_BATCH_LEN_MAX {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut groups: Vec<Vec<Job>> = Vec::new();
        for job in jobs {
            match groups.iter_mut().find(|group| same_caller(&group[0].ctx, &job.ctx)) {
                Some(group) => group.push(job),
                None => groups.push(vec![job]),
            }
        }
        for group in groups {
            let bills: Vec<Bill> = group.iter().map(|job| job.bill.clone()).collect();
            // A panic in the engine answers this group with 500s and keeps the thread serving.
            let outcome = catch_unwind(AssertUnwindSafe(|| engine.settle_many(&group[0].ctx, &bills)));
            match outcome {
                Ok(Ok(results)) => {
                    for (job, result) in group.into_iter().zip(results) {
                        let _ = job.reply.send(result.map_err(ApiError::from));
                    }
                }
                Ok(Err(failure)) => {
                    let busy = matches!(failure, EngineError::Store(StoreError::Busy));
                    let text = failure.to_string();
                    for job in group {
                        let _ = job.reply.send(Err(if busy { ApiError::from(StoreError::Busy) } else { ApiError::internal(text.clone()) }));
                    }
                }
                Err(_) => {
                    for job in group {
                        let _ = job.reply.send(Err(ApiError::internal("the engine panicked while settling a group of bills")));
                    }
                }
            }
        }
    }
}
