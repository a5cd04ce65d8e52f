//! What every store command works with: the engine on the opened store, the business date, and
//! who the CLI acts as. The CLI is an agency tool (§12): it acts as an operator at the counter of
//! the person's own planning area (or of `--operator-area`), recorded with `--operator`.

use anyhow::Result;
use chrono::{Local, NaiveDate};
use gongji_core::{Actor, AreaCode, Channel};
use gongji_engine::{Context, Engine, Error};
use gongji_store::Store;

use crate::args::Cli;

pub struct Session<'a, S: Store> {
    pub engine: &'a Engine<S>,
    /// The business date: `--date`, or today.
    pub today: NaiveDate,
    /// `--date` as given (jobs fall back to it for the date they run for).
    pub date: Option<NaiveDate>,
    operator: &'a str,
    operator_area: Option<&'a str>,
}

impl<'a, S: Store> Session<'a, S> {
    pub fn new(cli: &'a Cli, engine: &'a Engine<S>) -> Self {
        Session {
            engine,
            today: cli.date.unwrap_or_else(|| Local::now().date_naive()),
            date: cli.date,
            operator: &cli.operator,
            operator_area: cli.operator_area.as_deref(),
        }
    }

    /// The operator at the counter serving `psn_no` (N11: the person's own area by default).
    pub fn counter_for(&self, psn_no: &str) -> Result<Context> {
        let area = match self.operator_area {
            Some(area) => AreaCode::parse(area).map_err(Error::from)?,
            None => self.engine.person(psn_no)?.area,
        };
        Ok(Context::new(Actor::Operator { id: self.operator.to_string(), area }, Channel::Counter, self.today))
    }

    /// The agency itself (registering persons, imports).
    pub fn agency(&self) -> Context {
        Context::new(Actor::Admin(self.operator.to_string()), Channel::Counter, self.today)
    }

    /// The agencies' relay between planning areas.
    pub fn relay(&self) -> Context {
        Context::batch("relay", self.today)
    }
}
