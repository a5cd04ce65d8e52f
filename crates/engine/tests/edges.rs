//! Issue 12, "money safety at the edges", on every backend:
//! - item 6: free text and identifiers go through the one rule of `gongji_core::text`: a name
//!   with NUL, a line feed or a right-to-left override, a bill id with a line feed, a reason
//!   with a control character are refused with `input.invalid` and nothing is written;
//! - item 8: the caller is checked before anything is loaded, so that a caller without rights
//!   hears the same whether the person exists or not (N9, N11, §12).

mod common;

use common::*;
use gongji_core::settlement::{BillContent, BillItem, ItemClass};
use gongji_core::{AccountRef, AreaCode, DomainError, IdNumber, InsuranceType, Person, PersonAccount, PersonStatus, VisitType};
use gongji_engine::quota::QuotaGrant;
use gongji_engine::relatives::RelativeTransferRequest;
use gongji_engine::{Context, Engine, Error};
use gongji_store::Store;

fn person(psn_no: &str, name: &str, sequence: u16) -> Person {
    Person {
        psn_no: psn_no.into(),
        name: name.into(),
        id_number: IdNumber::compose("330200", day("1980-01-01"), sequence).unwrap(),
        area: AreaCode::parse("330200").unwrap(),
        insurance: InsuranceType::Employee,
        phone: None,
        status: PersonStatus::Normal,
    }
}

fn refusal(err: Error) -> DomainError {
    match err {
        Error::Domain(refusal) => refusal,
        Error::Store(err) => panic!("a refusal, not a storage failure: {err}"),
    }
}

fn issue12_item6_p1_names_with_control_or_format_characters_are_refused<S: Store>(engine: Engine<S>) {
    for (index, name) in ["张\u{0}三", "李\n四", "\u{202E}王五", "王\u{200B}五", "王\u{2028}五"].into_iter().enumerate() {
        let psn_no = format!("X{index}");
        let err = refusal(engine.register_person(&setup_ctx(), &person(&psn_no, name, 900 + index as u16)).unwrap_err());
        assert_eq!((err.code.as_str(), err.rule), ("input.invalid", "P1"), "{name:?}: {err}");
        assert!(!err.message.contains(name), "the message does not echo the name: {}", err.message);
        assert_eq!(code(engine.person(&psn_no).unwrap_err()), "person.not_found", "{name:?} was not written");
    }
    // An import of several rows writes none when one name is bad.
    let rows = vec![(2, person("Y1", "欧阳娜娜", 910)), (3, person("Y2", "李\r\n四", 911))];
    let gongji_engine::persons::ImportError::Refused(refused) = engine.import_persons(&setup_ctx(), &rows, &|_| {}).unwrap_err() else {
        panic!("refused by the rule, not by the store")
    };
    assert_eq!(refused.errors.len(), 1);
    assert_eq!((refused.errors[0].0, refused.errors[0].1.code.as_str()), (3, "input.invalid"));
    assert_eq!(code(engine.person("Y1").unwrap_err()), "person.not_found", "all rows or none");
    // Names of every kind the register holds stay welcome.
    for (index, name) in ["欧阳娜娜", "阿依古丽·买买提", "\u{20BB7}野"].into_iter().enumerate() {
        engine.register_person(&setup_ctx(), &person(&format!("Z{index}"), name, 920 + index as u16)).unwrap();
        assert_eq!(engine.person(&format!("Z{index}")).unwrap().name, name);
    }
    assert_eq!(engine.audit().unwrap().entries, 0);
}

fn issue12_item6_st6_a_bill_id_with_a_line_feed_is_refused_on_settle<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "100"));
    let entries = engine.audit().unwrap().entries;
    let bad_id = split_bill("b\n1", "P", VisitType::Outpatient, "80", "20");
    for err in [engine.settle(&hospital("H1"), &bad_id).unwrap_err(), engine.presettle(&hospital("H1"), &bad_id).unwrap_err()] {
        let err = refusal(err);
        assert_eq!((err.code.as_str(), err.rule), ("input.invalid", "ST6"), "{err}");
        assert!(!err.message.contains('\n'), "{:?}", err.message);
    }
    let many = engine.settle_many(&hospital("H1"), std::slice::from_ref(&bad_id)).unwrap();
    assert_eq!(code(many.into_iter().next().unwrap().unwrap_err()), "input.invalid");
    let bad_institution = gongji_core::settlement::Bill { institution: "H\u{202E}1".into(), ..split_bill("b1", "P", VisitType::Outpatient, "80", "20") };
    assert_eq!(refusal(engine.settle(&hospital("H1"), &bad_institution).unwrap_err()).rule, "§9");
    let item = BillItem { code: "x\r".into(), name: "阿莫西林".into(), amount: yuan("20"), class: ItemClass::A };
    let bad_item = gongji_core::settlement::Bill { content: BillContent::Items(vec![item]), ..split_bill("b2", "P", VisitType::Outpatient, "0", "0") };
    assert_eq!(code(engine.settle(&hospital("H1"), &bad_item).unwrap_err()), "input.invalid");
    assert_eq!(engine.audit().unwrap().entries, entries, "nothing was posted");
    assert_eq!(his(&engine, "P"), yuan("100"));
    assert!(engine.store().read(|tx| tx.settlement("H1", "b\n1")).unwrap().is_none());
    assert_eq!(code(engine.cancel(&hospital("H1"), "H1", "b\n1").unwrap_err()), "settlement.not_found");
    // The same bill with a clean id settles.
    engine.settle(&hospital("H1"), &split_bill("b1", "P", VisitType::Outpatient, "80", "20")).unwrap();
    assert_clean(&engine);
}

fn issue12_item6_p6_a_status_reason_is_text<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "0"));
    let err = refusal(engine.set_status(&counter("330200"), "P", PersonStatus::Suspended, "left\nthe employer").unwrap_err());
    assert_eq!((err.code.as_str(), err.rule), ("input.invalid", "P6"));
    assert_eq!(engine.person("P").unwrap().status, PersonStatus::Normal);
    engine.set_status(&counter("330200"), "P", PersonStatus::Suspended, "left the employer").unwrap();
    assert_eq!(engine.person("P").unwrap().status, PersonStatus::Suspended);
}

/// An engine operation that acts for the person it is given.
type Acting<S> = fn(&Engine<S>, &Context, &str) -> Result<(), Error>;

/// Every operation that acts for the person `psn` (the first psn_no it takes), with harmless
/// other arguments: each must be refused for a caller who may not act for `psn`.
fn acting_operations<S: Store>() -> Vec<(&'static str, Acting<S>)> {
    vec![
        ("move", |e, ctx, psn| e.move_mutual_aid(ctx, psn, PersonAccount::His, PersonAccount::Mut, yuan("1")).map(drop)),
        ("preset", |e, ctx, psn| e.set_preset(ctx, psn, Some(yuan("1")))),
        ("create_network", |e, ctx, psn| e.create_network(ctx, psn).map(drop)),
        ("add_member", |e, ctx, psn| e.add_member(ctx, psn, "A", "spouse").map(drop)),
        ("confirm_member", |e, ctx, psn| e.confirm_member(ctx, psn)),
        ("remove_member", |e, ctx, psn| e.remove_member(ctx, psn, "A")),
        ("leave", |e, ctx, psn| e.leave(ctx, psn)),
        ("reorder", |e, ctx, psn| e.reorder(ctx, psn, &[psn.to_string()])),
        ("dissolve", |e, ctx, psn| e.dissolve(ctx, psn)),
        ("set_status", |e, ctx, psn| e.set_status(ctx, psn, PersonStatus::Suspended, "test")),
        ("bind", |e, ctx, psn| e.bind(ctx, psn, "A", "spouse").map(drop)),
        ("unbind", |e, ctx, psn| e.unbind(ctx, psn, "A")),
        ("request_relative_transfer", |e, ctx, psn| {
            let request = RelativeTransferRequest {
                authoriser: psn.into(),
                relation: "spouse".into(),
                beneficiary_name: "测试A".into(),
                beneficiary_id_number: "11010519491231002X".into(),
                amount: yuan("1"),
                commitment_accepted: true,
            };
            e.request_relative_transfer(ctx, &request).map(drop)
        }),
        ("confirm_relative_transfer", |e, ctx, psn| e.confirm_relative_transfer(ctx, psn, 1, "123456").map(drop)),
        ("grant_quota", |e, ctx, psn| {
            let grant = QuotaGrant {
                donor: psn.into(),
                relative_name: "测试A".into(),
                relative_id_number: "11010519491231002X".into(),
                relative_area: AreaCode::parse("330200").unwrap(),
                relation: "spouse".into(),
                amount: yuan("1"),
            };
            e.grant_quota(ctx, &grant).map(drop)
        }),
        ("end_quota", |e, ctx, psn| e.end_quota(ctx, psn, "q-1").map(drop)),
        ("pay_premium", |e, ctx, psn| e.pay_premium(ctx, psn, None, yuan("1"), 2024).map(drop)),
    ]
}

/// `ctx` acting for `existing` and for a psn_no that names nobody: the same refusal, word for
/// word, and nothing written. Returns each operation's refusal.
fn same_refusals<S: Store>(engine: &Engine<S>, ctx: &Context, existing: &str) -> Vec<(&'static str, DomainError)> {
    let entries = engine.audit().unwrap().entries;
    let mut refusals = Vec::new();
    for (name, operation) in acting_operations::<S>() {
        let on_existing = refusal(operation(engine, ctx, existing).expect_err(name));
        let on_nobody = refusal(operation(engine, ctx, "NOBODY").expect_err(name));
        assert_eq!(on_existing, on_nobody, "{name}: {} tells an existing person from nobody", ctx.actor);
        refusals.push((name, on_existing));
    }
    assert_eq!(engine.audit().unwrap().entries, entries);
    assert_eq!(engine.person(existing).unwrap().status, PersonStatus::Normal);
    refusals
}

fn issue12_item8_n9_a_person_acting_for_another_hears_the_same_whether_they_exist<S: Store>(engine: Engine<S>) {
    register(&engine, employee("A", "100"));
    register(&engine, employee("B", "100"));
    for (name, err) in same_refusals(&engine, &me("A"), "B") {
        // A status is the agency's to change: refused to persons whoever they name.
        let expected = if name == "set_status" { ("auth.forbidden", "§12") } else { ("network.not_allowed", "N9") };
        assert_eq!((err.code.as_str(), err.rule), expected, "{name}: {err}");
    }
    let own = refusal(engine.set_status(&me("A"), "A", PersonStatus::Suspended, "test").unwrap_err());
    assert_eq!((own.code.as_str(), own.rule), ("auth.forbidden", "§12"));
}

fn issue12_item8_n11_an_operator_hears_the_same_for_another_area_and_for_nobody<S: Store>(engine: Engine<S>) {
    register(&engine, employee("A", "100"));
    register(&engine, NewPerson { area: "330100", ..employee("H", "300") });
    for (name, err) in same_refusals(&engine, &counter("330200"), "H") {
        assert_eq!((err.code.as_str(), err.rule), ("network.not_allowed", "N11"), "{name}: {err}");
    }
    // The words name the operator's area only, never the person's.
    let err = refusal(engine.move_mutual_aid(&counter("330200"), "H", PersonAccount::Mut, PersonAccount::His, yuan("1")).unwrap_err());
    assert!(!err.message.contains("330100"), "{}", err.message);
    // In its own area the operator still serves the person present (N11).
    engine.set_preset(&counter("330200"), "A", None).unwrap();
    assert_eq!(his(&engine, "H"), yuan("300"));
}

fn issue12_item8_s12_an_institution_acts_for_nobody<S: Store>(engine: Engine<S>) {
    register(&engine, employee("A", "100"));
    for (name, err) in same_refusals(&engine, &hospital("H1"), "A") {
        assert_eq!((err.code.as_str(), err.rule), ("auth.forbidden", "§12"), "{name}: {err}");
    }
    assert_eq!(engine.balance(&AccountRef::person("A", PersonAccount::His)).unwrap(), yuan("100"));
}

on_every_backend!(
    issue12_item6_p1_names_with_control_or_format_characters_are_refused,
    issue12_item6_st6_a_bill_id_with_a_line_feed_is_refused_on_settle,
    issue12_item6_p6_a_status_reason_is_text,
    issue12_item8_n9_a_person_acting_for_another_hears_the_same_whether_they_exist,
    issue12_item8_n11_an_operator_hears_the_same_for_another_area_and_for_nobody,
    issue12_item8_s12_an_institution_acts_for_nobody,
);
