//! The other family models, on every backend: relative transfer (TR1–TR4, 330100), association
//! (S1–S2, 440300), near relatives and quotas (X1–X4, national), quotas across areas and their
//! clearing (X2), and the notification outbox (TR3: claimed before sending, never sent twice).
//! Every story ends with a clean audit (P4).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Mutex;

use chrono::{NaiveDateTime, TimeZone, Utc};
use common::*;
use gongji_core::{AccountRef, Actor, AreaCode, Channel, InsuranceType, Money, PersonAccount, PersonStatus, SystemAccount, VisitType};
use gongji_engine::interarea::{reconcile, relay, RelayHooks};
use gongji_engine::outbox::{DrainOptions, NotificationSender, OutgoingMessage, SendFailure, WebhookSender};
use gongji_engine::quota::{QuotaGrant, LOCAL_UTC_OFFSET_SECS};
use gongji_engine::relatives::{RelativeTransferRequest, TransferTicket, CODE_TRIES_MAX};
use gongji_engine::{Context, Engine};
use gongji_store::sqlite::SqliteStore;
use gongji_store::Store;

const HANGZHOU: &str = "330100";
const SHENZHEN: &str = "440300";
/// Areas without a policy of their own: the national default applies (quota model, X1, X3).
const BEIJING: &str = "110100";
const CHENGDU: &str = "510100";

fn person<S: Store>(engine: &Engine<S>, psn: &str, area: &str, insurance: InsuranceType, his: &str) {
    register(engine, NewPerson { psn, insurance, birth: "1970-01-01", area, his, cur: "0" });
}

fn name_and_id<S: Store>(engine: &Engine<S>, psn: &str) -> (String, String) {
    let p = engine.person(psn).unwrap();
    (p.name, p.id_number.as_str().to_string())
}

fn quota<S: Store>(engine: &Engine<S>, psn: &str) -> Money {
    balance(engine, psn, PersonAccount::Quota)
}

/// `psn` acting in the app at a local (China Standard Time) moment.
fn at(psn: &str, local: &str) -> Context {
    let local = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M").unwrap();
    let mut ctx = Context::new(Actor::Person(psn.into()), Channel::App, local.date());
    ctx.now = Utc.from_utc_datetime(&(local - chrono::Duration::seconds(LOCAL_UTC_OFFSET_SECS as i64)));
    ctx
}

fn noon(psn: &str) -> Context {
    at(psn, "2024-03-01 12:00")
}

// ---------------------------------------------------------------------------------------------
// Relative transfer (§7)

fn request<S: Store>(engine: &Engine<S>, ctx: &Context, from: &str, to: &str, relation: &str, amount: &str) -> gongji_engine::Result<TransferTicket> {
    let (name, id) = name_and_id(engine, to);
    engine.request_relative_transfer(
        ctx,
        &RelativeTransferRequest {
            authoriser: from.into(),
            relation: relation.into(),
            beneficiary_name: name,
            beneficiary_id_number: id,
            amount: yuan(amount),
            commitment_accepted: true,
        },
    )
}

fn code_of<S: Store>(engine: &Engine<S>, ticket: &TransferTicket) -> String {
    engine.notification(ticket.notification_id).unwrap().unwrap().notification.secret.expect("the code waits in the outbox")
}

fn transfer<S: Store>(engine: &Engine<S>, from: &str, to: &str, relation: &str, amount: &str) -> gongji_engine::Result<i64> {
    let ticket = request(engine, &noon(from), from, to, relation, amount)?;
    let code = code_of(engine, &ticket);
    engine.confirm_relative_transfer(&noon(from), from, ticket.request_id, &code).map(|done| done.entry_id)
}

fn tr1_authoriser_gives_at_most_own_his_with_an_allowed_relation<S: Store>(engine: Engine<S>) {
    person(&engine, "A", HANGZHOU, InsuranceType::Employee, "1000");
    person(&engine, "C", HANGZHOU, InsuranceType::Employee, "0");
    person(&engine, "R", HANGZHOU, InsuranceType::Resident, "0");
    assert_eq!(code(request(&engine, &noon("A"), "A", "C", "child", "1000.01").unwrap_err()), "money.insufficient");
    assert_eq!(
        code(request(&engine, &noon("A"), "A", "C", "sibling", "10").unwrap_err()),
        "network.relation_not_allowed",
        "330100 lists spouse, parent, child"
    );
    assert_eq!(code(request(&engine, &noon("A"), "A", "C", "child", "0").unwrap_err()), "money.invalid_amount");
    assert_eq!(code(request(&engine, &noon("R"), "R", "C", "parent", "1").unwrap_err()), "transfer.not_eligible", "a resident has no HIS to give");
    let (name, id) = name_and_id(&engine, "C");
    let unaccepted = RelativeTransferRequest {
        authoriser: "A".into(),
        relation: "child".into(),
        beneficiary_name: name,
        beneficiary_id_number: id,
        amount: yuan("1"),
        commitment_accepted: false,
    };
    assert_eq!(code(engine.request_relative_transfer(&noon("A"), &unaccepted).unwrap_err()), "transfer.commitment_required");
    // Nobody asks for a transfer of another person's money (N9).
    assert_eq!(code(request(&engine, &noon("C"), "A", "C", "child", "1").unwrap_err()), "network.not_allowed");
    // Allowed: all of it.
    transfer(&engine, "A", "C", "child", "1000").unwrap();
    assert_eq!((his(&engine, "A"), his(&engine, "C")), (Money::ZERO, yuan("1000")));
    assert_clean(&engine);
}

fn tr1_only_where_the_policy_enables_the_model<S: Store>(engine: Engine<S>) {
    register(&engine, employee("A", "100"));
    register(&engine, employee("B", "0"));
    assert_eq!(code(request(&engine, &noon("A"), "A", "B", "spouse", "1").unwrap_err()), "network.model_disabled", "330200 is the network model");
    assert_clean(&engine);
}

fn tr2_name_and_id_must_match_the_register_in_the_same_area<S: Store>(engine: Engine<S>) {
    person(&engine, "A", HANGZHOU, InsuranceType::Employee, "500");
    person(&engine, "M", HANGZHOU, InsuranceType::Resident, "0");
    person(&engine, "X", SHENZHEN, InsuranceType::Employee, "0");
    let (_, id) = name_and_id(&engine, "M");
    let wrong_name = RelativeTransferRequest {
        authoriser: "A".into(),
        relation: "parent".into(),
        beneficiary_name: "别人".into(),
        beneficiary_id_number: id,
        amount: yuan("10"),
        commitment_accepted: true,
    };
    assert_eq!(code(engine.request_relative_transfer(&noon("A"), &wrong_name).unwrap_err()), "transfer.identity_mismatch");
    let unknown = RelativeTransferRequest {
        beneficiary_name: "测试M".into(),
        beneficiary_id_number: gongji_core::IdNumber::compose(HANGZHOU, day("1950-01-01"), 999).unwrap().as_str().into(),
        ..wrong_name.clone()
    };
    assert_eq!(code(engine.request_relative_transfer(&noon("A"), &unknown).unwrap_err()), "transfer.identity_mismatch");
    let bad_id = RelativeTransferRequest { beneficiary_id_number: "33010019500101000".into(), ..wrong_name };
    assert_eq!(code(engine.request_relative_transfer(&noon("A"), &bad_id).unwrap_err()), "person.invalid_id_number");
    assert_eq!(code(request(&engine, &noon("A"), "A", "X", "spouse", "10").unwrap_err()), "network.other_area");
    assert_eq!(code(request(&engine, &noon("A"), "A", "A", "spouse", "10").unwrap_err()), "transfer.not_eligible");
    // Allowed: a resident gets a HIS account when money is given to them (P2); one entry.
    let entry_id = transfer(&engine, "A", "M", "parent", "120.50").unwrap();
    assert_eq!((his(&engine, "A"), his(&engine, "M")), (yuan("379.50"), yuan("120.50")));
    let lines = engine.statement(&AccountRef::person("M", PersonAccount::His), day("2024-01-01"), day("2024-12-31")).unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!((lines[0].entry_id, lines[0].kind.as_str()), (entry_id, "relative_transfer"));
    // The money is the beneficiary's: they spend it, the authoriser cannot take it back.
    let outcome = engine.settle(&hospital("H1"), &split_bill("m1", "M", VisitType::Outpatient, "0", "20")).unwrap();
    assert_eq!(outcome.paid_by(&AccountRef::person("M", PersonAccount::His)), yuan("20"));
    assert_clean(&engine);
}

fn tr3_code_is_six_digits_valid_five_minutes_five_tries_single_use<S: Store>(engine: Engine<S>) {
    person(&engine, "A", HANGZHOU, InsuranceType::Employee, "1000");
    person(&engine, "B", HANGZHOU, InsuranceType::Employee, "0");
    // Five tries: four wrong codes are refused, the fifth wrong one locks the request.
    let ticket = request(&engine, &noon("A"), "A", "B", "spouse", "100").unwrap();
    assert_eq!(ticket.phone_masked, "138****0000");
    let right = code_of(&engine, &ticket);
    assert!(right.len() == 6 && right.bytes().all(|b| b.is_ascii_digit()));
    let stored = engine.relative_transfer(ticket.request_id).unwrap().unwrap();
    assert_ne!(stored.request.code_hash, right, "only a salted hash is stored");
    assert!(!stored.request.code_hash.contains(&right));
    let wrong = if right == "000000" { "000001" } else { "000000" };
    for attempt in 1..CODE_TRIES_MAX {
        let err = engine.confirm_relative_transfer(&noon("A"), "A", ticket.request_id, wrong).unwrap_err();
        assert_eq!(code(err), "transfer.code_invalid", "try {attempt}");
    }
    assert_eq!(code(engine.confirm_relative_transfer(&noon("A"), "A", ticket.request_id, "12a456").unwrap_err()), "transfer.code_invalid");
    assert_eq!(engine.relative_transfer(ticket.request_id).unwrap().unwrap().state.as_str(), "locked");
    assert_eq!(code(engine.confirm_relative_transfer(&noon("A"), "A", ticket.request_id, &right).unwrap_err()), "transfer.code_invalid", "locked");
    assert_eq!(his(&engine, "A"), yuan("1000"));
    let row = engine.notification(ticket.notification_id).unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.notification.secret.as_deref()), ("void", None), "an unusable code is not sent");

    // Five minutes: valid at 4:59, expired at 5:00.
    let late = request(&engine, &at("A", "2024-03-01 12:00"), "A", "B", "spouse", "100").unwrap();
    let code_late = code_of(&engine, &late);
    let err = engine.confirm_relative_transfer(&at("A", "2024-03-01 12:05"), "A", late.request_id, &code_late).unwrap_err();
    assert_eq!(code(err), "transfer.code_invalid");
    let in_time = request(&engine, &at("A", "2024-03-01 12:00"), "A", "B", "spouse", "100").unwrap();
    let mut almost = at("A", "2024-03-01 12:04");
    almost.now += chrono::Duration::seconds(59);
    let done = engine.confirm_relative_transfer(&almost, "A", in_time.request_id, &code_of(&engine, &in_time)).unwrap();
    assert_eq!(done.amount, yuan("100"));
    // Single use.
    let again = engine.confirm_relative_transfer(&almost, "A", in_time.request_id, "000000");
    assert_eq!(code(again.unwrap_err()), "transfer.code_invalid");
    assert_eq!((his(&engine, "A"), his(&engine, "B")), (yuan("900"), yuan("100")));
    // Another person cannot confirm (N9); an unknown request number is refused like a wrong code.
    assert_eq!(code(engine.confirm_relative_transfer(&noon("B"), "A", in_time.request_id, "000000").unwrap_err()), "network.not_allowed");
    assert_eq!(code(engine.confirm_relative_transfer(&noon("A"), "A", 999_999, "000000").unwrap_err()), "transfer.code_invalid");
    // The confirmation message waits in the outbox; the used code's message is void.
    let pending = engine.notifications(Some(gongji_core::states::NotificationState::Pending), 100).unwrap();
    assert!(pending.iter().any(|n| n.notification.kind.as_str() == "transfer_done"));
    assert_eq!(engine.notification(in_time.notification_id).unwrap().unwrap().notification.secret, None);
    assert_clean(&engine);
}

fn tr3_the_right_code_checks_the_rules_again_when_the_money_moves<S: Store>(engine: Engine<S>) {
    person(&engine, "A", HANGZHOU, InsuranceType::Employee, "300");
    person(&engine, "B", HANGZHOU, InsuranceType::Employee, "0");
    person(&engine, "C", HANGZHOU, InsuranceType::Employee, "0");
    let first = request(&engine, &noon("A"), "A", "B", "spouse", "200").unwrap();
    let second = request(&engine, &noon("A"), "A", "C", "child", "200").unwrap();
    engine.confirm_relative_transfer(&noon("A"), "A", first.request_id, &code_of(&engine, &first)).unwrap();
    let err = engine.confirm_relative_transfer(&noon("A"), "A", second.request_id, &code_of(&engine, &second)).unwrap_err();
    assert_eq!(code(err), "money.insufficient");
    assert_eq!((his(&engine, "A"), his(&engine, "B"), his(&engine, "C")), (yuan("100"), yuan("200"), Money::ZERO));
    assert_clean(&engine);
}

fn tr4_one_gives_to_several_and_several_give_to_one<S: Store>(engine: Engine<S>) {
    person(&engine, "F", HANGZHOU, InsuranceType::Employee, "1000");
    person(&engine, "M", HANGZHOU, InsuranceType::Employee, "1000");
    person(&engine, "S", HANGZHOU, InsuranceType::Resident, "0");
    person(&engine, "D", HANGZHOU, InsuranceType::Resident, "0");
    transfer(&engine, "F", "S", "child", "300").unwrap();
    transfer(&engine, "F", "D", "child", "200").unwrap();
    transfer(&engine, "M", "S", "child", "250").unwrap();
    assert_eq!((his(&engine, "F"), his(&engine, "M")), (yuan("500"), yuan("750")));
    assert_eq!((his(&engine, "S"), his(&engine, "D")), (yuan("550"), yuan("200")));
    assert_clean(&engine);
}

// ---------------------------------------------------------------------------------------------
// Association (§8)

fn s1_bind_relatives_of_the_same_area_and_either_side_unbinds<S: Store>(engine: Engine<S>) {
    person(&engine, "W", SHENZHEN, InsuranceType::Employee, "6000");
    person(&engine, "H", SHENZHEN, InsuranceType::Employee, "0");
    person(&engine, "K", SHENZHEN, InsuranceType::Resident, "0");
    person(&engine, "O", BEIJING, InsuranceType::Employee, "0");
    engine.bind(&noon("W"), "W", "H", "spouse").unwrap();
    assert_eq!(code(engine.bind(&noon("W"), "W", "H", "spouse").unwrap_err()), "association.already_bound");
    assert_eq!(code(engine.bind(&noon("W"), "W", "O", "parent").unwrap_err()), "network.other_area");
    assert_eq!(code(engine.bind(&noon("W"), "W", "K", "cousin").unwrap_err()), "network.relation_not_allowed");
    assert_eq!(code(engine.bind(&noon("W"), "W", "W", "child").unwrap_err()), "input.invalid");
    assert_eq!(code(engine.bind(&noon("K"), "K", "W", "parent").unwrap_err()), "transfer.not_eligible", "a resident has no account to share");
    assert_eq!(code(engine.bind(&noon("H"), "W", "K", "child").unwrap_err()), "network.not_allowed", "only the binder binds (N9)");
    engine.bind(&noon("W"), "W", "K", "child").unwrap();
    assert_eq!(engine.associations("W").unwrap().len(), 2);
    // Either side unbinds: the relative ends one, the binder the other.
    engine.unbind(&noon("H"), "H", "W").unwrap();
    engine.unbind(&noon("W"), "W", "K").unwrap();
    assert!(engine.associations("W").unwrap().is_empty());
    assert_eq!(code(engine.unbind(&noon("W"), "W", "K").unwrap_err()), "association.not_found");
    // Bound again after unbinding.
    engine.bind(&noon("W"), "W", "K", "child").unwrap();
    // Not where the policy has no association model.
    register(&engine, employee("N1", "100"));
    register(&engine, employee("N2", "0"));
    assert_eq!(code(engine.bind(&noon("N1"), "N1", "N2", "spouse").unwrap_err()), "network.model_disabled");
    assert_clean(&engine);
}

fn s2_only_the_surplus_above_the_threshold_pays_after_own_accounts<S: Store>(engine: Engine<S>) {
    // 440300: threshold 4200.00 (seeds/001).
    person(&engine, "W", SHENZHEN, InsuranceType::Employee, "5000");
    person(&engine, "H", SHENZHEN, InsuranceType::Employee, "100");
    engine.bind(&noon("W"), "W", "H", "spouse").unwrap();
    let bill = |id: &str, borne: &str| split_bill(id, "H", VisitType::Outpatient, "0", borne);
    let outcome = engine.settle(&hospital("H1"), &bill("b1", "1000")).unwrap();
    assert_eq!(outcome.paid_by(&AccountRef::person("H", PersonAccount::His)), yuan("100"), "own accounts first (ST2)");
    assert_eq!(outcome.paid_by(&AccountRef::person("W", PersonAccount::His)), yuan("800"), "5000 − 4200");
    assert_eq!(outcome.cash, yuan("100"));
    let step = outcome.steps.iter().find(|s| s.role.as_deref() == Some("association")).unwrap();
    assert_eq!((step.code.as_str(), step.rule.as_str()), ("paid.account", "ST2"));
    assert!(step.message.contains("关联亲属"), "{}", step.message);
    assert_eq!(his(&engine, "W"), yuan("4200"));
    // At the threshold nothing more pays, and the explanation says why (ST7).
    let outcome = engine.settle(&hospital("H1"), &bill("b2", "50")).unwrap();
    assert_eq!(outcome.cash, yuan("50"));
    let step = outcome.steps.iter().find(|s| s.role.as_deref() == Some("association")).unwrap();
    assert_eq!((step.code.as_str(), step.rule.as_str()), ("skip.threshold", "S2"));
    // The binder's own bills are not limited by the threshold: it is their money.
    let own = engine.settle(&hospital("H1"), &split_bill("w1", "W", VisitType::Outpatient, "0", "4300")).unwrap();
    assert_eq!(own.paid_by(&AccountRef::person("W", PersonAccount::His)), yuan("4200"));
    assert_clean(&engine);
}

fn s2_status_and_unbinding_stop_the_surplus_and_cancel_returns_it<S: Store>(engine: Engine<S>) {
    person(&engine, "W", SHENZHEN, InsuranceType::Employee, "5000");
    person(&engine, "H", SHENZHEN, InsuranceType::Resident, "0");
    engine.bind(&noon("W"), "W", "H", "spouse").unwrap();
    let paid = engine.settle(&hospital("H1"), &split_bill("b1", "H", VisitType::Outpatient, "0", "300")).unwrap();
    assert_eq!(paid.paid_by(&AccountRef::person("W", PersonAccount::His)), yuan("300"));
    engine.cancel(&hospital("H1"), "H1", "b1").unwrap();
    assert_eq!(his(&engine, "W"), yuan("5000"), "ST8: back along the original path");
    engine.set_status(&counter(SHENZHEN), "W", PersonStatus::Suspended, "stopped paying").unwrap();
    let outcome = engine.settle(&hospital("H1"), &split_bill("b2", "H", VisitType::Outpatient, "0", "300")).unwrap();
    assert_eq!(outcome.cash, yuan("300"));
    assert!(outcome.steps.iter().any(|s| s.role.as_deref() == Some("association") && s.code == "skip.status"), "ST4");
    engine.set_status(&counter(SHENZHEN), "W", PersonStatus::Normal, "paid again").unwrap();
    engine.unbind(&noon("W"), "W", "H").unwrap();
    let outcome = engine.settle(&hospital("H1"), &split_bill("b3", "H", VisitType::Outpatient, "0", "300")).unwrap();
    assert_eq!(outcome.cash, yuan("300"));
    assert!(outcome.steps.iter().all(|s| s.role.as_deref() != Some("association")));
    assert_clean(&engine);
}

// ---------------------------------------------------------------------------------------------
// Near relatives and quotas (§15)

fn grant<S: Store>(engine: &Engine<S>, ctx: &Context, donor: &str, relative: &str, area: &str, relation: &str, amount: &str) -> gongji_engine::Result<String> {
    let (name, id) = name_and_id(engine, relative);
    let grant = QuotaGrant {
        donor: donor.into(),
        relative_name: name,
        relative_id_number: id,
        relative_area: AreaCode::parse(area).unwrap(),
        relation: relation.into(),
        amount: yuan(amount),
    };
    engine.grant_quota(ctx, &grant).map(|granted| granted.uid)
}

fn x1_near_relatives_are_policy_data<S: Store>(engine: Engine<S>) {
    person(&engine, "D", BEIJING, InsuranceType::Employee, "5000");
    for (psn, relation) in [("Sib", "sibling"), ("GP", "grandparent"), ("GC", "grandchild")] {
        person(&engine, psn, BEIJING, InsuranceType::Resident, "0");
        grant(&engine, &noon("D"), "D", psn, BEIJING, relation, "10").unwrap();
    }
    person(&engine, "Cou", BEIJING, InsuranceType::Resident, "0");
    assert_eq!(code(grant(&engine, &noon("D"), "D", "Cou", BEIJING, "cousin", "10").unwrap_err()), "network.relation_not_allowed");
    // Hangzhou's relative transfer keeps the 2021 circle: a sibling is not allowed there.
    person(&engine, "HA", HANGZHOU, InsuranceType::Employee, "100");
    person(&engine, "HB", HANGZHOU, InsuranceType::Employee, "0");
    assert_eq!(code(request(&engine, &noon("HA"), "HA", "HB", "sibling", "1").unwrap_err()), "network.relation_not_allowed");
    assert_clean(&engine);
}

fn x2_the_donor_cannot_spend_the_quota_the_relative_does_after_own_accounts<S: Store>(engine: Engine<S>) {
    person(&engine, "D", BEIJING, InsuranceType::Employee, "3000");
    person(&engine, "R", BEIJING, InsuranceType::Resident, "40");
    let uid = grant(&engine, &noon("D"), "D", "R", BEIJING, "sibling", "1000").unwrap();
    assert_eq!((his(&engine, "D"), quota(&engine, "R")), (yuan("2000"), yuan("1000")));
    // The donor's own bill: HIS pays 2000 at most; the quota is not theirs to spend.
    let own = engine.settle(&hospital("H1"), &split_bill("d1", "D", VisitType::Inpatient, "0", "2500")).unwrap();
    assert_eq!((own.paid_by(&AccountRef::person("D", PersonAccount::His)), own.cash), (yuan("2000"), yuan("500")));
    assert!(own.payments.iter().all(|p| p.account != AccountRef::person("R", PersonAccount::Quota)));
    // Nor can the donor move it (the quota account is not theirs; T1 moves HIS/MUT only).
    assert_eq!(code(engine.move_mutual_aid(&noon("D"), "D", PersonAccount::Quota, PersonAccount::His, yuan("1")).unwrap_err()), "input.invalid");
    // The relative: own HIS first, then the quota, explained (ST7).
    let bill = split_bill("r1", "R", VisitType::Outpatient, "0", "300");
    let outcome = engine.settle(&hospital("H1"), &bill).unwrap();
    assert_eq!(outcome.paid_by(&AccountRef::person("R", PersonAccount::His)), yuan("40"));
    assert_eq!(outcome.paid_by(&AccountRef::person("R", PersonAccount::Quota)), yuan("260"));
    assert_eq!(outcome.cash, Money::ZERO);
    let step = outcome.steps.iter().find(|s| s.role.as_deref() == Some("quota")).unwrap();
    assert!(step.message.contains("共济额度"), "{}", step.message);
    let record = engine.quotas("R").unwrap().into_iter().find(|q| q.uid == uid).unwrap();
    assert_eq!((record.granted, record.used, record.returned), (yuan("1000"), yuan("260"), Money::ZERO));
    // Scope: the national policy's HIS scope does not cover 自费 (self-funded): cash pays it.
    let selfpaid = gongji_core::settlement::Bill {
        content: gongji_core::settlement::BillContent::Split(gongji_core::settlement::BillSplit { self_funded: yuan("50"), ..Default::default() }),
        ..split_bill("r2", "R", VisitType::Outpatient, "0", "0")
    };
    let outcome = engine.settle(&hospital("H1"), &selfpaid).unwrap();
    assert_eq!(outcome.cash, yuan("50"));
    assert!(outcome.steps.iter().any(|s| s.role.as_deref() == Some("quota") && s.code == "skip.scope"));
    assert_clean(&engine);
}

fn x2_either_side_ends_it_and_what_is_unused_returns_to_the_donor<S: Store>(engine: Engine<S>) {
    person(&engine, "D", BEIJING, InsuranceType::Employee, "3000");
    person(&engine, "R", BEIJING, InsuranceType::Resident, "0");
    person(&engine, "S", BEIJING, InsuranceType::Resident, "0");
    let to_r = grant(&engine, &noon("D"), "D", "R", BEIJING, "grandchild", "1000").unwrap();
    let to_s = grant(&engine, &noon("D"), "D", "S", BEIJING, "grandchild", "500").unwrap();
    engine.settle(&hospital("H1"), &split_bill("r1", "R", VisitType::Outpatient, "0", "300")).unwrap();
    // The relative ends one: 700 unused returns.
    let ended = engine.end_quota(&noon("R"), "R", &to_r).unwrap();
    assert_eq!(ended.returned, yuan("700"));
    assert_eq!((his(&engine, "D"), quota(&engine, "R")), (yuan("2200"), Money::ZERO));
    // The donor ends the other.
    assert_eq!(engine.end_quota(&noon("D"), "D", &to_s).unwrap().returned, yuan("500"));
    assert_eq!(his(&engine, "D"), yuan("2700"));
    assert_eq!(code(engine.end_quota(&noon("D"), "D", &to_s).unwrap_err()), "quota.not_found", "ended already");
    // A stranger cannot end it (N9), nor find it.
    assert_eq!(code(engine.end_quota(&noon("R"), "S", &to_s).unwrap_err()), "network.not_allowed");
    assert_clean(&engine);
}

fn x2_several_relationships_per_person_spent_oldest_first<S: Store>(engine: Engine<S>) {
    person(&engine, "D1", BEIJING, InsuranceType::Employee, "1000");
    person(&engine, "D2", BEIJING, InsuranceType::Employee, "1000");
    person(&engine, "R", BEIJING, InsuranceType::Resident, "0");
    let first = grant(&engine, &noon("D1"), "D1", "R", BEIJING, "parent", "100").unwrap();
    let second = grant(&engine, &noon("D2"), "D2", "R", BEIJING, "parent", "300").unwrap();
    // A second grant by the same donor tops the relationship up.
    assert_eq!(grant(&engine, &noon("D1"), "D1", "R", BEIJING, "parent", "50").unwrap(), first);
    assert_eq!(quota(&engine, "R"), yuan("450"));
    engine.settle(&hospital("H1"), &split_bill("r1", "R", VisitType::Outpatient, "0", "200")).unwrap();
    let records = engine.quotas("R").unwrap();
    let used = |uid: &str| records.iter().find(|q| q.uid == uid).unwrap().used;
    assert_eq!((used(&first), used(&second)), (yuan("150"), yuan("50")));
    engine.end_quota(&noon("D2"), "D2", &second).unwrap();
    assert_eq!((his(&engine, "D1"), his(&engine, "D2"), quota(&engine, "R")), (yuan("850"), yuan("950"), Money::ZERO));
    assert_clean(&engine);
}

fn x2_the_donors_status_change_ends_it<S: Store>(engine: Engine<S>) {
    person(&engine, "D", BEIJING, InsuranceType::Employee, "1000");
    person(&engine, "E", BEIJING, InsuranceType::Employee, "1000");
    person(&engine, "R", BEIJING, InsuranceType::Resident, "0");
    grant(&engine, &noon("D"), "D", "R", BEIJING, "child", "400").unwrap();
    grant(&engine, &noon("E"), "E", "R", BEIJING, "child", "100").unwrap();
    engine.settle(&hospital("H1"), &split_bill("r1", "R", VisitType::Outpatient, "0", "150")).unwrap();
    engine.set_status(&counter(BEIJING), "D", PersonStatus::Suspended, "left the employer").unwrap();
    assert_eq!(his(&engine, "D"), yuan("850"), "the unused 250 came back");
    assert_eq!(quota(&engine, "R"), yuan("100"), "E's quota stays");
    // A liquidated donor's quota follows the rest of their money to the liquidation payable.
    let e_uid = engine.quotas("E").unwrap()[0].uid.clone();
    engine.liquidate(&counter(BEIJING), "E", gongji_engine::jobs::LiquidationReason::Death, "heirs").unwrap();
    let record = engine.quotas("E").unwrap().into_iter().find(|q| q.uid == e_uid).unwrap();
    assert_eq!((record.state.as_str(), record.returned), ("ended", yuan("100")));
    let payable = engine.balance(&AccountRef::system(&AreaCode::parse(BEIJING).unwrap(), SystemAccount::LiquidationPayable)).unwrap();
    assert_eq!(payable, yuan("1000"), "E's 900 HIS and the returned 100");
    assert_eq!(quota(&engine, "R"), Money::ZERO);
    assert_clean(&engine);
}

fn x2_a_closed_relative_ends_it_and_a_refund_after_the_end_goes_to_the_donor<S: Store>(engine: Engine<S>) {
    person(&engine, "D", BEIJING, InsuranceType::Employee, "1000");
    person(&engine, "R", BEIJING, InsuranceType::Resident, "0");
    let uid = grant(&engine, &noon("D"), "D", "R", BEIJING, "child", "400").unwrap();
    engine.settle(&hospital("H1"), &split_bill("r1", "R", VisitType::Outpatient, "0", "150")).unwrap();
    engine.end_quota(&noon("D"), "D", &uid).unwrap();
    assert_eq!(his(&engine, "D"), yuan("850"));
    // The bill is cancelled after the end: its 150 goes back to the donor, not to the quota.
    let cancelled = engine.cancel(&hospital("H1"), "H1", "r1").unwrap();
    assert_eq!(cancelled.returned, vec![(AccountRef::person("R", PersonAccount::Quota), yuan("150"))]);
    assert_eq!((his(&engine, "D"), quota(&engine, "R")), (yuan("1000"), Money::ZERO));
    // A relative who is closed ends the relationship too.
    grant(&engine, &noon("D"), "D", "R", BEIJING, "child", "200").unwrap();
    engine.set_status(&counter(BEIJING), "R", PersonStatus::PendingLiquidation, "moved away").unwrap();
    assert_eq!((his(&engine, "D"), quota(&engine, "R")), (yuan("1000"), Money::ZERO));
    assert_clean(&engine);
}

fn x2_cancel_while_in_force_gives_the_quota_back<S: Store>(engine: Engine<S>) {
    person(&engine, "D", BEIJING, InsuranceType::Employee, "1000");
    person(&engine, "R", BEIJING, InsuranceType::Resident, "0");
    let uid = grant(&engine, &noon("D"), "D", "R", BEIJING, "child", "400").unwrap();
    engine.settle(&hospital("H1"), &split_bill("r1", "R", VisitType::Outpatient, "0", "150")).unwrap();
    engine.cancel(&hospital("H1"), "H1", "r1").unwrap();
    let record = engine.quotas("R").unwrap().into_iter().find(|q| q.uid == uid).unwrap();
    assert_eq!((record.used, quota(&engine, "R")), (Money::ZERO, yuan("400")));
    assert_eq!(engine.end_quota(&noon("R"), "R", &uid).unwrap().returned, yuan("400"));
    assert_eq!(his(&engine, "D"), yuan("1000"));
    assert_clean(&engine);
}

fn x2_refusals<S: Store>(engine: Engine<S>) {
    person(&engine, "D", BEIJING, InsuranceType::Employee, "100");
    person(&engine, "R", BEIJING, InsuranceType::Resident, "0");
    person(&engine, "Q", BEIJING, InsuranceType::Resident, "50");
    assert_eq!(code(grant(&engine, &noon("D"), "D", "R", BEIJING, "child", "100.01").unwrap_err()), "money.insufficient");
    assert_eq!(code(grant(&engine, &noon("Q"), "Q", "R", BEIJING, "child", "10").unwrap_err()), "transfer.not_eligible", "a resident donor");
    assert_eq!(code(grant(&engine, &noon("R"), "D", "R", BEIJING, "child", "10").unwrap_err()), "network.not_allowed", "N9");
    assert_eq!(code(grant(&engine, &noon("D"), "D", "D", BEIJING, "child", "10").unwrap_err()), "transfer.not_eligible", "not to oneself");
    let (_, id) = name_and_id(&engine, "R");
    let wrong = QuotaGrant {
        donor: "D".into(),
        relative_name: "别人".into(),
        relative_id_number: id,
        relative_area: AreaCode::parse(BEIJING).unwrap(),
        relation: "child".into(),
        amount: yuan("10"),
    };
    assert_eq!(code(engine.grant_quota(&noon("D"), &wrong).unwrap_err()), "transfer.identity_mismatch");
    person(&engine, "HZ", HANGZHOU, InsuranceType::Employee, "100");
    assert_eq!(code(grant(&engine, &noon("HZ"), "HZ", "R", BEIJING, "child", "10").unwrap_err()), "network.model_disabled", "330100 has no quota model");
    assert_eq!(code(engine.end_quota(&noon("D"), "D", "Qnothing").unwrap_err()), "quota.not_found");
    assert_eq!(engine.audit().unwrap().entries, 3, "only the opening balances were written");
    assert_clean(&engine);
}

fn x3_limits_per_transfer_per_day_and_by_hour<S: Store>(engine: Engine<S>) {
    // National preset: 3 a day, at most 2000.00 each, none from 22:00 to 06:00 (local time).
    person(&engine, "D", BEIJING, InsuranceType::Employee, "10000");
    person(&engine, "R", BEIJING, InsuranceType::Resident, "0");
    let give = |local: &str, amount: &str| grant(&engine, &at("D", local), "D", "R", BEIJING, "child", amount);
    assert_eq!(code(give("2024-03-01 09:00", "2000.01").unwrap_err()), "quota.limit");
    give("2024-03-01 09:00", "2000").unwrap();
    give("2024-03-01 10:00", "1").unwrap();
    give("2024-03-01 21:59", "1").unwrap();
    assert_eq!(code(give("2024-03-01 21:59", "1").unwrap_err()), "quota.limit", "a fourth the same day");
    assert_eq!(code(give("2024-03-02 05:59", "1").unwrap_err()), "quota.limit", "night hours, first of the day");
    assert_eq!(code(give("2024-03-03 22:00", "1").unwrap_err()), "quota.limit", "night hours, first of the day");
    give("2024-03-02 06:00", "1").unwrap();
    let err = give("2024-03-02 23:30", "1").unwrap_err();
    assert_eq!(err.rule(), "X3");
    assert_eq!(quota(&engine, "R"), yuan("2003"));
    // 330100 and 440300 set no limits; the TR transfer of 330100 is not limited by X3.
    person(&engine, "A", HANGZHOU, InsuranceType::Employee, "5000");
    person(&engine, "B", HANGZHOU, InsuranceType::Employee, "0");
    transfer(&engine, "A", "B", "spouse", "4000").unwrap();
    assert_clean(&engine);
}

fn x4_the_resident_premium_from_the_quota_or_a_relatives_his<S: Store>(engine: Engine<S>) {
    person(&engine, "D", BEIJING, InsuranceType::Employee, "2000");
    person(&engine, "R", BEIJING, InsuranceType::Resident, "0");
    person(&engine, "E", BEIJING, InsuranceType::Employee, "0");
    let area = AreaCode::parse(BEIJING).unwrap();
    grant(&engine, &noon("D"), "D", "R", BEIJING, "parent", "500").unwrap();
    assert_eq!(code(engine.pay_premium(&noon("R"), "R", None, yuan("501"), 2025).unwrap_err()), "money.insufficient");
    let paid = engine.pay_premium(&noon("R"), "R", None, yuan("380"), 2025).unwrap();
    assert_eq!(paid.from, AccountRef::person("R", PersonAccount::Quota));
    assert_eq!(quota(&engine, "R"), yuan("120"));
    assert_eq!(engine.quotas("R").unwrap()[0].used, yuan("380"));
    assert_eq!(code(engine.pay_premium(&noon("R"), "R", None, yuan("1"), 2025).unwrap_err()), "premium.already_paid");
    // 代缴: a near relative pays the next year's from their own HIS.
    let paid = engine.pay_premium(&noon("D"), "R", Some(("D", "child")), yuan("400"), 2026).unwrap();
    assert_eq!(paid.from, AccountRef::person("D", PersonAccount::His));
    assert_eq!(his(&engine, "D"), yuan("1100"));
    assert_eq!(code(engine.pay_premium(&noon("D"), "R", Some(("D", "cousin")), yuan("1"), 2027).unwrap_err()), "network.relation_not_allowed");
    assert_eq!(code(engine.pay_premium(&noon("E"), "E", None, yuan("1"), 2025).unwrap_err()), "transfer.not_eligible", "employees pay no resident premium");
    assert_eq!(engine.balance(&AccountRef::system(&area, SystemAccount::ResidentPremium)).unwrap(), yuan("780"));
    assert_clean(&engine);
}

// ---------------------------------------------------------------------------------------------
// Quotas across areas (X2), both areas in one store

fn batch(date: &str) -> Context {
    Context::new(Actor::System("relay".into()), Channel::Batch, day(date))
}

fn x2_across_areas_through_the_outbox_with_clearing<S: Store>(engine: Engine<S>) {
    person(&engine, "D", BEIJING, InsuranceType::Employee, "3000");
    person(&engine, "R", CHENGDU, InsuranceType::Resident, "0");
    let uid = grant(&engine, &noon("D"), "D", "R", CHENGDU, "grandchild", "1000").unwrap();
    let (beijing, chengdu) = (AreaCode::parse(BEIJING).unwrap(), AreaCode::parse(CHENGDU).unwrap());
    let clearing = |area: &AreaCode| engine.balance(&AccountRef::system(area, SystemAccount::InterAreaClearing)).unwrap();
    // Sent, not yet applied: the donor's money is in clearing, the relative has nothing yet.
    assert_eq!((his(&engine, "D"), clearing(&beijing), quota(&engine, "R")), (yuan("2000"), yuan("1000"), Money::ZERO));
    assert_eq!(reconcile(&engine, &engine).unwrap().in_transit.len(), 1);
    let summary = relay(&engine, &engine, &batch(D), &RelayHooks::default()).unwrap();
    assert_eq!((summary.delivered, summary.refused), (1, 0));
    assert_eq!((quota(&engine, "R"), clearing(&chengdu)), (yuan("1000"), yuan("-1000")));
    // The relative spends some; the donor ends it; the unused comes back through clearing.
    engine.settle(&hospital("H1"), &split_bill("r1", "R", VisitType::Outpatient, "0", "250")).unwrap();
    let ended = engine.end_quota(&noon("D"), "D", &uid).unwrap();
    assert!(ended.message_id.is_some() && ended.returned.is_zero());
    relay(&engine, &engine, &batch(D), &RelayHooks::default()).unwrap();
    assert_eq!((his(&engine, "D"), quota(&engine, "R")), (yuan("2750"), Money::ZERO));
    // What was spent is what the donor's area owes the relative's: +250 / −250.
    assert_eq!((clearing(&beijing), clearing(&chengdu)), (yuan("250"), yuan("-250")));
    let report = reconcile(&engine, &engine).unwrap();
    assert!(report.agrees() && report.in_transit.is_empty(), "{report:?}");
    assert_eq!(report.matched.len(), 2, "the grant and the return");
    let donor_side = engine.quotas("D").unwrap().into_iter().find(|q| q.side.as_str() == "donor").unwrap();
    assert_eq!((donor_side.state.as_str(), donor_side.granted, donor_side.returned), ("ended", yuan("1000"), yuan("750")));
    assert_clean(&engine);
}

fn x2_across_areas_a_refused_grant_is_paid_back<S: Store>(engine: Engine<S>) {
    person(&engine, "D", BEIJING, InsuranceType::Employee, "3000");
    person(&engine, "R", CHENGDU, InsuranceType::Resident, "0");
    // The relative's area does not know this name with this ID number.
    let (_, id) = name_and_id(&engine, "R");
    let wrong = QuotaGrant {
        donor: "D".into(),
        relative_name: "别人".into(),
        relative_id_number: id,
        relative_area: AreaCode::parse(CHENGDU).unwrap(),
        relation: "sibling".into(),
        amount: yuan("500"),
    };
    engine.grant_quota(&noon("D"), &wrong).unwrap();
    assert_eq!(his(&engine, "D"), yuan("2500"));
    let summary = relay(&engine, &engine, &batch(D), &RelayHooks::default()).unwrap();
    assert_eq!(summary.refused, 1);
    assert_eq!((his(&engine, "D"), quota(&engine, "R")), (yuan("3000"), Money::ZERO));
    let donor_side = &engine.quotas("D").unwrap()[0];
    assert_eq!(donor_side.state.as_str(), "rejected");
    assert!(reconcile(&engine, &engine).unwrap().agrees());
    // A relative who ends it in their own area sends the return.
    let uid = grant(&engine, &noon("D"), "D", "R", CHENGDU, "sibling", "300").unwrap();
    relay(&engine, &engine, &batch(D), &RelayHooks::default()).unwrap();
    engine.end_quota(&noon("R"), "R", &uid).unwrap();
    relay(&engine, &engine, &batch(D), &RelayHooks::default()).unwrap();
    assert_eq!(his(&engine, "D"), yuan("3000"));
    // The donor's status change ends a quota across areas too.
    let uid = grant(&engine, &noon("D"), "D", "R", CHENGDU, "sibling", "200").unwrap();
    relay(&engine, &engine, &batch(D), &RelayHooks::default()).unwrap();
    engine.set_status(&counter(BEIJING), "D", PersonStatus::Suspended, "moved").unwrap();
    relay(&engine, &engine, &batch(D), &RelayHooks::default()).unwrap();
    let donor_side = engine.quotas("D").unwrap().into_iter().find(|q| q.uid == uid).unwrap();
    assert_eq!((donor_side.state.as_str(), donor_side.returned), ("ended", yuan("200")));
    assert_eq!((his(&engine, "D"), quota(&engine, "R")), (yuan("3000"), Money::ZERO));
    assert!(reconcile(&engine, &engine).unwrap().agrees());
    assert_clean(&engine);
}

on_every_backend!(
    tr1_authoriser_gives_at_most_own_his_with_an_allowed_relation,
    tr1_only_where_the_policy_enables_the_model,
    tr2_name_and_id_must_match_the_register_in_the_same_area,
    tr3_code_is_six_digits_valid_five_minutes_five_tries_single_use,
    tr3_the_right_code_checks_the_rules_again_when_the_money_moves,
    tr4_one_gives_to_several_and_several_give_to_one,
    s1_bind_relatives_of_the_same_area_and_either_side_unbinds,
    s2_only_the_surplus_above_the_threshold_pays_after_own_accounts,
    s2_status_and_unbinding_stop_the_surplus_and_cancel_returns_it,
    x1_near_relatives_are_policy_data,
    x2_the_donor_cannot_spend_the_quota_the_relative_does_after_own_accounts,
    x2_either_side_ends_it_and_what_is_unused_returns_to_the_donor,
    x2_several_relationships_per_person_spent_oldest_first,
    x2_the_donors_status_change_ends_it,
    x2_a_closed_relative_ends_it_and_a_refund_after_the_end_goes_to_the_donor,
    x2_cancel_while_in_force_gives_the_quota_back,
    x2_refusals,
    x3_limits_per_transfer_per_day_and_by_hour,
    x4_the_resident_premium_from_the_quota_or_a_relatives_his,
    x2_across_areas_through_the_outbox_with_clearing,
    x2_across_areas_a_refused_grant_is_paid_back,
);

// ---------------------------------------------------------------------------------------------
// Two stores, one per area (X2): exactly once across a lost answer

#[test]
fn x2_two_stores_apply_each_message_once_and_clearing_agrees() {
    let beijing = sqlite_engine();
    let chengdu = sqlite_engine();
    person(&beijing, "D", BEIJING, InsuranceType::Employee, "3000");
    person(&chengdu, "R", CHENGDU, InsuranceType::Resident, "0");
    let (name, id) = name_and_id(&chengdu, "R");
    let grant = QuotaGrant {
        donor: "D".into(),
        relative_name: name,
        relative_id_number: id,
        relative_area: AreaCode::parse(CHENGDU).unwrap(),
        relation: "child".into(),
        amount: yuan("800"),
    };
    let granted = beijing.grant_quota(&noon("D"), &grant).unwrap();
    // The receiver applies, and the answer is lost (the sender never records it).
    let message = beijing.area_outbox(gongji_core::states::AreaMessageState::Pending).unwrap().remove(0).message;
    assert_eq!(message.id, granted.message_id.clone().unwrap());
    let (first, repeat) = chengdu.apply_area_message(&batch(D), &message).unwrap();
    assert_eq!((first.outcome.as_str(), repeat), ("applied", false));
    // The sender sends again: the receiver answers the same, and applies nothing twice.
    let summary = relay(&beijing, &chengdu, &batch(D), &RelayHooks::default()).unwrap();
    assert_eq!((summary.delivered, summary.repeats), (1, 1));
    assert_eq!(quota(&chengdu, "R"), yuan("800"));
    assert!(beijing.area_outbox(gongji_core::states::AreaMessageState::Pending).unwrap().is_empty());
    // A second acknowledgement of the same answer changes nothing either.
    assert!(!beijing.acknowledge_area_message(&batch(D), &message.id, &first).unwrap());
    // Money is conserved across the two stores: what left Beijing's HIS is in Chengdu's quota,
    // and the two clearing accounts cancel out.
    let clearing = |engine: &Engine<SqliteStore>, area: &str| {
        engine.balance(&AccountRef::system(&AreaCode::parse(area).unwrap(), SystemAccount::InterAreaClearing)).unwrap()
    };
    assert_eq!(his(&beijing, "D").plus(quota(&chengdu, "R")), yuan("3000"));
    assert_eq!(clearing(&beijing, BEIJING).plus(clearing(&chengdu, CHENGDU)), Money::ZERO);
    let report = reconcile(&beijing, &chengdu).unwrap();
    assert!(report.agrees() && report.in_transit.is_empty() && report.matched.len() == 1, "{report:?}");
    // The relative ends it in Chengdu; the return reaches Beijing once.
    chengdu.end_quota(&noon("R"), "R", &granted.uid).unwrap();
    relay(&beijing, &chengdu, &batch(D), &RelayHooks::default()).unwrap();
    relay(&beijing, &chengdu, &batch(D), &RelayHooks::default()).unwrap();
    assert_eq!((his(&beijing, "D"), quota(&chengdu, "R")), (yuan("3000"), Money::ZERO));
    assert_eq!(clearing(&beijing, BEIJING), Money::ZERO);
    assert!(reconcile(&beijing, &chengdu).unwrap().agrees());
    assert_clean(&beijing);
    assert_clean(&chengdu);
}

#[test]
fn x2_reconcile_finds_records_that_disagree() {
    let beijing = sqlite_engine();
    let chengdu = sqlite_engine();
    let elsewhere = sqlite_engine();
    person(&beijing, "D", BEIJING, InsuranceType::Employee, "3000");
    person(&chengdu, "R", CHENGDU, InsuranceType::Resident, "0");
    person(&elsewhere, "R", CHENGDU, InsuranceType::Resident, "0");
    let (name, id) = name_and_id(&chengdu, "R");
    let grant = QuotaGrant {
        donor: "D".into(),
        relative_name: name,
        relative_id_number: id,
        relative_area: AreaCode::parse(CHENGDU).unwrap(),
        relation: "child".into(),
        amount: yuan("800"),
    };
    beijing.grant_quota(&noon("D"), &grant).unwrap();
    relay(&beijing, &chengdu, &batch(D), &RelayHooks::default()).unwrap();
    // Reconciled against the wrong agency, the confirmed grant is missing there.
    let report = reconcile(&beijing, &elsewhere).unwrap();
    assert!(!report.agrees());
    assert!(report.problems.iter().any(|p| p.contains("missing there")), "{report:?}");
}

// ---------------------------------------------------------------------------------------------
// The notification outbox (TR3): claimed before sending, marked after, never sent twice

/// Counts what it was asked to send; fails the first `fail_first` attempts of each message.
struct Counting {
    sends: Mutex<HashMap<i64, u32>>,
    fail_first: u32,
    permanent: bool,
}

impl Counting {
    fn new(fail_first: u32, permanent: bool) -> Counting {
        Counting { sends: Mutex::new(HashMap::new()), fail_first, permanent }
    }

    fn count(&self, id: i64) -> u32 {
        self.sends.lock().unwrap().get(&id).copied().unwrap_or(0)
    }
}

impl NotificationSender for Counting {
    fn send(&self, message: &OutgoingMessage) -> Result<(), SendFailure> {
        let mut sends = self.sends.lock().unwrap();
        let count = sends.entry(message.id).or_insert(0);
        *count += 1;
        if *count <= self.fail_first {
            return Err(SendFailure { permanent: self.permanent, message: format!("attempt {count} fails") });
        }
        Ok(())
    }
}

fn quick() -> DrainOptions {
    DrainOptions { backoff: std::time::Duration::ZERO, batch: 7, ..DrainOptions::default() }
}

/// Codes for `n` transfer requests of A to B, each leaving one message in the outbox.
fn fill_outbox<S: Store>(engine: &Engine<S>, n: usize) -> Vec<TransferTicket> {
    person(engine, "A", HANGZHOU, InsuranceType::Employee, "100000");
    person(engine, "B", HANGZHOU, InsuranceType::Employee, "0");
    (0..n).map(|_| request(engine, &noon("A"), "A", "B", "spouse", "1").unwrap()).collect()
}

/// Two engines on one database (two processes' worth of connections) drain at once: every
/// message is sent once, and a third drain finds nothing.
fn two_drains_send_each_message_once<S: Store>(first: &Engine<S>, second: &Engine<S>) {
    let tickets = fill_outbox(first, 60);
    let sender = Counting::new(0, false);
    let (a, b) = std::thread::scope(|scope| {
        let one = scope.spawn(|| first.drain_outbox(&sender, &quick()).unwrap());
        let two = scope.spawn(|| second.drain_outbox(&sender, &quick()).unwrap());
        (one.join().unwrap(), two.join().unwrap())
    });
    assert_eq!(a.sent + b.sent, 60);
    for ticket in &tickets {
        assert_eq!(sender.count(ticket.notification_id), 1, "message {}", ticket.notification_id);
        let row = first.notification(ticket.notification_id).unwrap().unwrap();
        assert_eq!((row.state.as_str(), row.attempts, row.notification.secret.as_deref()), ("sent", 1, None), "sent codes leave no trace");
    }
    assert_eq!(first.drain_outbox(&sender, &quick()).unwrap().claimed, 0);
    assert_clean(first);
}

#[test]
fn tr3_outbox_two_drains_at_once_send_every_message_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let first = Engine::new(SqliteStore::open(&path).unwrap(), gongji_engine::policy_file::preset_book());
    let second = Engine::new(SqliteStore::open(&path).unwrap(), gongji_engine::policy_file::preset_book());
    two_drains_send_each_message_once(&first, &second);
}

#[test]
fn tr3_outbox_two_drains_at_once_send_every_message_exactly_once_on_postgres() {
    let Some(url) = test_database_url("tr3_outbox_two_drains_at_once_send_every_message_exactly_once_on_postgres") else { return };
    let database = gongji_store::postgres::ScratchDatabase::create(&url, "gongji_test").unwrap();
    let first = Engine::new(database.store().unwrap(), gongji_engine::policy_file::preset_book());
    let second = Engine::new(database.store().unwrap(), gongji_engine::policy_file::preset_book());
    two_drains_send_each_message_once(&first, &second);
}

#[test]
fn tr3_outbox_retries_are_bounded_and_a_stopped_sender_is_not_repeated() {
    let engine = sqlite_engine();
    let tickets = fill_outbox(&engine, 3);
    // Two transient failures, then it goes through: three attempts, sent once.
    let flaky = Counting::new(2, false);
    let summary = engine.drain_outbox(&flaky, &quick()).unwrap();
    assert_eq!((summary.sent, summary.retries), (3, 6));
    assert_eq!(engine.notification(tickets[0].notification_id).unwrap().unwrap().attempts, 3);

    // Always failing: given up after NOTIFICATION_ATTEMPTS_MAX attempts, and not tried again.
    let engine = sqlite_engine();
    let tickets = fill_outbox(&engine, 2);
    let down = Counting::new(u32::MAX, false);
    let summary = engine.drain_outbox(&down, &quick()).unwrap();
    assert_eq!(summary.failed, 2);
    assert_eq!(down.count(tickets[0].notification_id), gongji_engine::outbox::NOTIFICATION_ATTEMPTS_MAX);
    let row = engine.notification(tickets[0].notification_id).unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.notification.secret.as_deref()), ("failed", None));
    engine.drain_outbox(&down, &quick()).unwrap();
    assert_eq!(down.count(tickets[0].notification_id), gongji_engine::outbox::NOTIFICATION_ATTEMPTS_MAX);

    // A permanent refusal is not retried.
    let engine = sqlite_engine();
    let tickets = fill_outbox(&engine, 1);
    let refusing = Counting::new(u32::MAX, true);
    engine.drain_outbox(&refusing, &quick()).unwrap();
    assert_eq!(refusing.count(tickets[0].notification_id), 1);

    // A sender that claimed and stopped: after the lease its rows are `unknown`, never resent.
    let engine = sqlite_engine();
    let tickets = fill_outbox(&engine, 2);
    let long_ago = Utc::now() - chrono::Duration::hours(1);
    engine.store().write(|tx| tx.claim_notifications("stopped-sender", long_ago, 1)).unwrap();
    let sender = Counting::new(0, false);
    let summary = engine.drain_outbox(&sender, &quick()).unwrap();
    assert_eq!((summary.abandoned, summary.sent), (1, 1));
    assert_eq!(sender.count(tickets[0].notification_id), 0, "claimed by the stopped sender: maybe sent, so not sent again");
    assert_eq!(engine.notification(tickets[0].notification_id).unwrap().unwrap().state.as_str(), "unknown");
    assert_eq!(sender.count(tickets[1].notification_id), 1);
    // A claim younger than the lease belongs to a sender still at work: left alone.
    let engine = sqlite_engine();
    fill_outbox(&engine, 1);
    engine.store().write(|tx| tx.claim_notifications("busy-sender", Utc::now(), 1)).unwrap();
    let summary = engine.drain_outbox(&sender, &quick()).unwrap();
    assert_eq!((summary.abandoned, summary.claimed), (0, 0));
}

/// A tiny HTTP server: answers each request with the next status of `statuses`, and records
/// each request's head and body.
fn gateway(statuses: Vec<u16>) -> (String, std::thread::JoinHandle<Vec<(String, String)>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/sms/send", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for status in statuses {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                head.push_str(&line);
            }
            let length: usize = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())).unwrap();
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let mut stream = reader.into_inner();
            write!(stream, "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
            seen.push((head, String::from_utf8(body).unwrap()));
        }
        seen
    });
    (url, handle)
}

#[test]
fn tr3_outbox_webhook_posts_json_with_an_idempotency_key_and_retries_a_5xx() {
    let engine = sqlite_engine();
    let tickets = fill_outbox(&engine, 1);
    let code = code_of(&engine, &tickets[0]);
    let (url, server) = gateway(vec![503, 200]);
    let sender = WebhookSender::new(&url).unwrap();
    let summary = engine.drain_outbox(&sender, &quick()).unwrap();
    assert_eq!((summary.sent, summary.retries), (1, 1));
    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 2, "one retry after the 503, then nothing more");
    let (head, body) = &seen[1];
    assert!(head.starts_with("POST /sms/send HTTP/1.1\r\n"), "{head}");
    let key = format!("idempotency-key: gongji-notification-{}", tickets[0].notification_id);
    assert!(head.to_ascii_lowercase().contains(&key), "{head}");
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["to"], "13800000000");
    assert!(json["text"].as_str().unwrap().contains(&code));
    assert_eq!(seen[0].1, seen[1].1, "the retry is the same request");
    // A 4xx is a refusal: not retried.
    let engine = sqlite_engine();
    fill_outbox(&engine, 1);
    let (url, server) = gateway(vec![400]);
    let summary = engine.drain_outbox(&WebhookSender::new(&url).unwrap(), &quick()).unwrap();
    assert_eq!((summary.failed, summary.retries), (1, 0));
    assert_eq!(server.join().unwrap().len(), 1);
}

#[test]
fn tr3_the_log_sender_masks_the_phone() {
    let engine = sqlite_engine();
    fill_outbox(&engine, 1);
    let sender = gongji_engine::outbox::LogSender::new(Vec::new());
    engine.drain_outbox(&sender, &quick()).unwrap();
    let log = String::from_utf8(sender.into_inner()).unwrap();
    assert!(log.contains("138****0000") && !log.contains("13800000000"), "{log}");
}
