//! Helpers for the core's own unit tests.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::money::{Money, Ratio};
use crate::policy::{AccountScope, BillBounds, Models, Policy, TransferLimits};

pub fn empty_policy() -> Policy {
    Policy {
        id: "test".into(),
        area: None,
        name: "test".into(),
        effective_from: NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
        models: Models { network: true, ..Models::default() },
        relations: vec![],
        consent_age: 16,
        scope_cur: AccountScope::default(),
        scope_his: AccountScope::default(),
        scope_mut: AccountScope::default(),
        benefits: BTreeMap::new(),
        class_b_self_pay_ratio: Ratio::ZERO,
        interest_rate_his: Ratio::ZERO,
        interest_rate_cur: Ratio::ZERO,
        preset_date: (6, 1),
        year_end_steps: vec![],
        association_threshold: Money::ZERO,
        transfer_limits: TransferLimits::default(),
        bill_bounds: BillBounds::default(),
    }
}
