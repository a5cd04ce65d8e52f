//! Batch jobs (§10): year-end (B1), presets (B2, T2), refund sync (B3, in settlement.rs) and
//! liquidation (B4). Interest is checked against hand-computed figures.

mod common;

use common::*;
use gongji_core::{AccountRef, Actor, AreaCode, Channel, Money, PersonAccount, PersonStatus, SystemAccount};
use gongji_engine::jobs::{JobHooks, LiquidationReason};
use gongji_engine::persons::Credit;
use gongji_engine::{Context, Engine};
use gongji_store::Store;

fn on(date: &str) -> Context {
    Context::new(Actor::System("test".into()), Channel::Batch, day(date))
}

fn credit<S: Store>(engine: &Engine<S>, date: &str, psn: &str, account: PersonAccount, amount: &str) {
    let reference = format!("{psn}-{date}-{account}-{amount}");
    assert!(engine.credit(&on(date), &Credit { psn_no: psn.into(), account, amount: yuan(amount), reference }).unwrap());
}

fn year_end<S: Store>(engine: &Engine<S>, year: i32) -> gongji_engine::jobs::JobSummary {
    engine.run_year_end(year, day(&format!("{year}-12-31")), &JobHooks::default()).unwrap()
}

fn b1_a_thousand_held_through_leap_2024_at_1_5_percent_gives_15_25<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "0"));
    credit(&engine, "2024-01-01", "P", PersonAccount::His, "1000");
    let summary = year_end(&engine, 2024);
    assert_eq!((summary.accounts, summary.amount), (1, yuan("15.25")));
    assert_eq!(his(&engine, "P"), yuan("1015.25"));
    let expense = AccountRef::system(&AreaCode::parse("330200").unwrap(), SystemAccount::InterestExpense);
    assert_eq!(engine.balance(&expense).unwrap(), yuan("-15.25"));
    assert_clean(&engine);
}

fn b1_balance_changing_during_a_common_year<S: Store>(engine: Engine<S>) {
    // 2023 (365 days): 1000 from 1 Jan, 3000 from 1 Jul: 181 × 1000 + 184 × 3000 = 733,000
    // yuan-days × 1.5% / 360 = 30.5416… → 30.54.
    register(&engine, employee("P", "0"));
    credit(&engine, "2023-01-01", "P", PersonAccount::His, "1000");
    credit(&engine, "2023-07-01", "P", PersonAccount::His, "2000");
    assert_eq!(year_end(&engine, 2023).amount, yuan("30.54"));
}

fn b1_half_up_rounding_to_the_fen<S: Store>(engine: Engine<S>) {
    // 4004.00 held the last 30 days of 2024: 400,400 fen × 30 days × 1.5% / 360 = 500.5 fen → 5.01.
    register(&engine, employee("P", "0"));
    credit(&engine, "2024-12-02", "P", PersonAccount::His, "4004");
    assert_eq!(year_end(&engine, 2024).amount, yuan("5.01"));
    // One fen less a day rounds down: 400,399 × 30 × 1.5% / 360 = 500.49875 → 5.00.
    register(&engine, employee("Q", "0"));
    credit(&engine, "2025-12-02", "Q", PersonAccount::His, "4003.99");
    year_end(&engine, 2025);
    assert_eq!(his(&engine, "Q"), yuan("4003.99").plus(yuan("5.00")));
}

fn b1_mut_is_swept_to_his_and_earns_with_it_cur_rolls_over<S: Store>(engine: Engine<S>) {
    // seeds/003 七 (二): MUT back into HIS, interest on the whole, then CUR into HIS.
    register(&engine, employee("P", "0"));
    credit(&engine, "2024-01-01", "P", PersonAccount::His, "2000");
    credit(&engine, "2024-01-01", "P", PersonAccount::Cur, "720");
    network(&engine, "P", &[]);
    let mut ctx = me("P");
    ctx.business_date = day("2024-01-01");
    engine.move_mutual_aid(&ctx, "P", PersonAccount::His, PersonAccount::Mut, yuan("1000")).unwrap();
    let summary = year_end(&engine, 2024);
    // HIS + MUT: 2000 × 366 × 1.5% / 360 = 30.50; CUR: 720 × 366 × 0.35% / 360 = 2.562 → 2.56.
    assert_eq!(summary.amount, yuan("33.06"));
    assert_eq!(mutual(&engine, "P"), Money::ZERO);
    assert_eq!(balance(&engine, "P", PersonAccount::Cur), Money::ZERO);
    assert_eq!(his(&engine, "P"), yuan("2753.06"));
    // Next year starts a fresh product: 2753.06 through 2025 (365 days) → 41.87 (4,186.0…).
    let next = year_end(&engine, 2025);
    assert_eq!(next.amount, yuan("41.87"));
    assert_clean(&engine);
}

fn b1_postings_of_the_new_year_before_the_job_do_not_count<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "0"));
    credit(&engine, "2024-01-01", "P", PersonAccount::His, "1000");
    credit(&engine, "2025-01-05", "P", PersonAccount::His, "500");
    assert_eq!(year_end(&engine, 2024).amount, yuan("15.25"));
    // 2025: 1015.25 for 4 days, 1515.25 for 361 days = 4,061 + 547,005.25 yuan-days … × 1.5% / 360.
    let expected = Money::from_fen(((101_525i128 * 4 + 151_525 * 361) * 15_000 * 2 / 360_000_000 + 1) as i64 / 2);
    assert_eq!(year_end(&engine, 2025).amount, expected);
}

fn b1_running_twice_changes_nothing<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "0"));
    register(&engine, employee("Q", "0"));
    credit(&engine, "2024-01-01", "P", PersonAccount::His, "1000");
    credit(&engine, "2024-03-01", "Q", PersonAccount::Cur, "300");
    year_end(&engine, 2024);
    let audit = engine.audit().unwrap();
    let again = year_end(&engine, 2024);
    assert_eq!((again.accounts, again.already_done), (0, 2));
    assert_eq!(engine.audit().unwrap(), audit);
}

fn b2_t2_preset_moves_on_the_policy_date_and_skips_with_reasons<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "1000"));
    register(&engine, employee("Low", "50"));
    register(&engine, employee("Sus", "500"));
    register(&engine, employee("Gone", "500"));
    network(&engine, "P", &[("Low", "spouse"), ("Sus", "parent"), ("Gone", "child")]);
    for psn in ["P", "Low", "Sus", "Gone"] {
        engine.set_preset(&me(psn), psn, Some(yuan("100"))).unwrap();
    }
    engine.set_status(&counter("330200"), "Sus", PersonStatus::Suspended, "test").unwrap();
    engine.leave(&me("Gone"), "Gone").unwrap();
    let wrong_day = engine.run_presets(day("2025-05-31"), day("2025-05-31"), &JobHooks::default()).unwrap();
    assert_eq!(wrong_day.accounts, 0);
    assert!(wrong_day.skipped.iter().any(|(area, why)| area == "330200" && why.contains("06-01")));
    let summary = engine.run_presets(day("2025-06-01"), day("2025-06-01"), &JobHooks::default()).unwrap();
    assert_eq!((summary.accounts, summary.amount), (1, yuan("100")));
    let reasons: Vec<(&str, &str)> = summary.skipped.iter().map(|(who, why)| (who.as_str(), why.as_str())).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons.iter().any(|(who, why)| *who == "Low" && why.contains("below the preset")));
    assert!(reasons.iter().any(|(who, why)| *who == "Sus" && why.contains("suspended")));
    assert!(reasons.iter().any(|(who, why)| *who == "Gone" && why.contains("network")));
    assert_eq!((his(&engine, "P"), mutual(&engine, "P")), (yuan("900"), yuan("100")));
    let again = engine.run_presets(day("2025-06-01"), day("2025-06-01"), &JobHooks::default()).unwrap();
    assert_eq!((again.accounts, again.already_done), (0, 4), "B2 is idempotent for its date");
    assert_eq!(mutual(&engine, "P"), yuan("100"));
}

fn b4_liquidation_pays_out_with_interest_and_dissolves_the_network<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "0"));
    register(&engine, employee("S", "0"));
    credit(&engine, "2024-01-01", "P", PersonAccount::His, "1000");
    credit(&engine, "2024-01-01", "P", PersonAccount::Cur, "100");
    network(&engine, "P", &[("S", "spouse")]);
    let mut ctx = me("P");
    ctx.business_date = day("2024-01-01");
    engine.move_mutual_aid(&ctx, "P", PersonAccount::His, PersonAccount::Mut, yuan("400")).unwrap();
    let mut counter_ctx = counter("330200");
    counter_ctx.business_date = day("2024-03-01");
    // 60 days: (600 + 400) × 60 × 1.5% / 360 = 2.50; CUR 100 × 60 × 0.35% / 360 = 0.0583 → 0.06.
    let record = engine.liquidate(&counter_ctx, "P", LiquidationReason::Death, "继承人 李某").unwrap();
    assert_eq!((record.principal, record.interest), (yuan("1100"), yuan("2.56")));
    for kind in [PersonAccount::Cur, PersonAccount::His, PersonAccount::Mut] {
        assert_eq!(balance(&engine, "P", kind), Money::ZERO);
    }
    let payable = AccountRef::system(&AreaCode::parse("330200").unwrap(), SystemAccount::LiquidationPayable);
    assert_eq!(engine.balance(&payable).unwrap(), yuan("1102.56"));
    assert_eq!(engine.person("P").unwrap().status, PersonStatus::Cancelled);
    assert!(engine.person_overview("S").unwrap().network.is_none(), "B4: a promoter's network is dissolved");
    assert_eq!(code(engine.liquidate(&counter_ctx, "P", LiquidationReason::Death, "x").unwrap_err()), "person.status");
    assert_eq!(code(engine.liquidate(&counter_ctx, "S", LiquidationReason::TransferOut, "Shanghai").unwrap_err()), "input.invalid");
    // Issue 12 item 6: the payee is free text under the one text rule.
    assert_eq!(code(engine.liquidate(&counter_ctx, "S", LiquidationReason::Death, "继承人\n李某").unwrap_err()), "input.invalid");
    let moved = engine.liquidate(&counter_ctx, "S", LiquidationReason::TransferOut, "310000").unwrap();
    assert_eq!((moved.principal, moved.entry_id), (Money::ZERO, None));
    assert_clean(&engine);
}

/// B1 (issue 12): `job run year-end --year 2024` on 2024-06-30 credited a whole year of
/// interest at the June balance and made the real year-end do nothing. Now it is refused, moves
/// nothing, and the year-end of 31 December pays the full year.
fn b1_a_year_end_before_the_year_is_over_is_refused<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "0"));
    credit(&engine, "2024-01-01", "P", PersonAccount::His, "1000");
    let early = engine.run_year_end(2024, day("2024-06-30"), &JobHooks::default()).unwrap_err();
    assert_eq!(code(early), "job.not_due");
    assert_eq!(his(&engine, "P"), yuan("1000"), "nothing moved");
    let on_time = engine.run_year_end(2024, day("2024-12-31"), &JobHooks::default()).unwrap();
    assert_eq!(on_time.amount, yuan("15.25"), "the whole of 2024 at 1.5%");
    assert_clean(&engine);
}

/// B1: `--year 2030` posted 2030 interest for every person; `--year 2027` lumped 2025-2027 into
/// one run. A year that is not over, or one whose year before is not done, is refused, and the
/// refusal names the year that may run now.
fn b1_year_ends_run_one_year_at_a_time_in_order<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "0"));
    credit(&engine, "2024-01-01", "P", PersonAccount::His, "1000");
    let today = day("2026-01-10");
    let future = engine.run_year_end(2030, today, &JobHooks::default()).unwrap_err();
    assert!(future.code() == Some(gongji_core::ErrorCode::JobNotDue));
    assert!(future.to_string().contains("2024"), "names the year that may run now: {future}");
    let skipping = engine.run_year_end(2025, today, &JobHooks::default()).unwrap_err();
    assert!(skipping.code() == Some(gongji_core::ErrorCode::JobNotDue));
    assert!(skipping.to_string().contains("the year-end of 2024 is not done"), "{skipping}");
    assert_eq!(his(&engine, "P"), yuan("1000"), "nothing moved");
    assert_eq!(engine.year_end_next(today).unwrap(), Some(2024));
    assert_eq!(engine.run_year_end(2024, today, &JobHooks::default()).unwrap().amount, yuan("15.25"));
    assert_eq!(engine.year_end_next(today).unwrap(), Some(2025));
    // 1015.25 through 2025 (365 days) at 1.5%: 101,525 fen × 365 × 0.015 / 360 = 1543.9… → 15.44.
    assert_eq!(engine.run_year_end(2025, today, &JobHooks::default()).unwrap().amount, yuan("15.44"));
    assert_eq!(engine.year_end_next(today).unwrap(), None, "2026 is not over");
    // A year already done may run again and changes nothing.
    assert_eq!(engine.run_year_end(2024, today, &JobHooks::default()).unwrap().amount, Money::ZERO);
    assert_clean(&engine);
}

/// B1: a store whose money starts in 2025 needs no 2024 year-end first.
fn b1_no_earlier_money_no_earlier_year_end<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "0"));
    credit(&engine, "2025-03-01", "P", PersonAccount::His, "720");
    // 72,000 fen × 306 days (1 Mar - 31 Dec 2025) × 1.5% / 360 = 918 fen.
    assert_eq!(engine.run_year_end(2025, day("2025-12-31"), &JobHooks::default()).unwrap().amount, yuan("9.18"));
}

/// B2, B3: presets and refund sync for a day after the business date are refused.
fn b2_b3_jobs_for_a_future_day_are_refused<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "1000"));
    let today = day("2025-05-31");
    assert_eq!(code(engine.run_presets(day("2025-06-01"), today, &JobHooks::default()).unwrap_err()), "job.not_due");
    assert_eq!(code(engine.run_refund_sync(day("2025-06-01"), today, &|_, _| {}).unwrap_err()), "job.not_due");
    assert!(engine.run_refund_sync(today, today, &|_, _| {}).is_ok(), "the day itself is due");
}

on_every_backend!(
    b1_a_year_end_before_the_year_is_over_is_refused,
    b1_year_ends_run_one_year_at_a_time_in_order,
    b1_no_earlier_money_no_earlier_year_end,
    b2_b3_jobs_for_a_future_day_are_refused,
    b1_a_thousand_held_through_leap_2024_at_1_5_percent_gives_15_25,
    b1_balance_changing_during_a_common_year,
    b1_half_up_rounding_to_the_fen,
    b1_mut_is_swept_to_his_and_earns_with_it_cur_rolls_over,
    b1_postings_of_the_new_year_before_the_job_do_not_count,
    b1_running_twice_changes_nothing,
    b2_t2_preset_moves_on_the_policy_date_and_skips_with_reasons,
    b4_liquidation_pays_out_with_interest_and_dissolves_the_network,
);
