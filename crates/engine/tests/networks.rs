//! Family networks (§5, N1–N12), mutual-aid transfers (§6, T1–T3) and what status changes do
//! to a network. Each story names its rule and checks the allowed and the refused case.

mod common;

use common::*;
use gongji_core::network::MemberState;
use gongji_core::{InsuranceType, PersonAccount, PersonStatus};
use gongji_engine::networks::Added;
use gongji_engine::Engine;
use gongji_store::Store;

fn n1_promoter_is_a_normal_employee_with_his_money<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "300"));
    register(&engine, employee("Poor", "0"));
    register(&engine, resident("R", "1990-01-01"));
    assert_eq!(code(engine.create_network(&me("Poor"), "Poor").unwrap_err()), "network.promoter_not_eligible");
    assert_eq!(code(engine.create_network(&me("R"), "R").unwrap_err()), "network.promoter_not_eligible");
    assert!(engine.create_network(&me("P"), "P").is_ok());
    let view = engine.person_overview("P").unwrap();
    let place = view.network.unwrap();
    assert!(place.is_promoter);
    assert_eq!(place.position, 1, "N6: the promoter is first by default");
}

fn n2_members_are_employees_or_residents_of_the_same_area<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "300"));
    register(&engine, NewPerson { insurance: InsuranceType::Special, birth: "1940-01-01", ..employee("Vet", "0") });
    register(&engine, NewPerson { area: "330100", ..employee("Far", "0") });
    register(&engine, resident("Kid", "2015-01-01"));
    engine.create_network(&me("P"), "P").unwrap();
    assert_eq!(code(engine.add_member(&me("P"), "P", "Vet", "parent").unwrap_err()), "network.member_not_eligible");
    assert_eq!(code(engine.add_member(&me("P"), "P", "Far", "child").unwrap_err()), "network.other_area");
    assert_eq!(engine.add_member(&me("P"), "P", "Kid", "child").unwrap(), Added::Active);
}

fn n3_one_spouse_two_parents_any_children<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "300"));
    for psn in ["S1", "S2", "F1", "F2", "F3", "C1", "C2", "C3"] {
        register(&engine, NewPerson { birth: "2010-01-01", ..employee(psn, "0") });
    }
    engine.create_network(&me("P"), "P").unwrap();
    engine.add_member(&me("P"), "P", "S1", "spouse").unwrap();
    assert_eq!(code(engine.add_member(&me("P"), "P", "S2", "spouse").unwrap_err()), "network.spouse_limit");
    engine.add_member(&me("P"), "P", "F1", "parent").unwrap();
    engine.add_member(&me("P"), "P", "F2", "parent").unwrap();
    assert_eq!(code(engine.add_member(&me("P"), "P", "F3", "parent").unwrap_err()), "network.parent_limit");
    for child in ["C1", "C2", "C3"] {
        engine.add_member(&me("P"), "P", child, "child").unwrap();
    }
    assert_eq!(code(engine.add_member(&me("P"), "P", "S2", "cousin").unwrap_err()), "network.relation_not_allowed");
}

fn n4_cancelled_or_pending_liquidation_persons_take_no_part<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "300"));
    register(&engine, employee("M", "0"));
    register(&engine, employee("Q", "300"));
    engine.set_status(&counter("330200"), "M", PersonStatus::PendingLiquidation, "test").unwrap();
    engine.set_status(&counter("330200"), "Q", PersonStatus::Cancelled, "test").unwrap();
    engine.create_network(&me("P"), "P").unwrap();
    assert_eq!(code(engine.add_member(&me("P"), "P", "M", "spouse").unwrap_err()), "person.status");
    assert_eq!(code(engine.create_network(&me("Q"), "Q").unwrap_err()), "person.status");
    // A suspended person may still join (N4 names only cancelled and pending liquidation).
    register(&engine, employee("Sus", "0"));
    engine.set_status(&counter("330200"), "Sus", PersonStatus::Suspended, "test").unwrap();
    assert!(engine.add_member(&me("P"), "P", "Sus", "child").is_ok());
}

fn n5_a_person_is_in_at_most_one_network<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "300"));
    register(&engine, employee("Q", "300"));
    register(&engine, resident("Kid", "2015-01-01"));
    engine.create_network(&me("P"), "P").unwrap();
    engine.create_network(&me("Q"), "Q").unwrap();
    engine.add_member(&me("P"), "P", "Kid", "child").unwrap();
    assert_eq!(code(engine.add_member(&me("Q"), "Q", "Kid", "child").unwrap_err()), "network.already_member");
    assert_eq!(code(engine.add_member(&me("Q"), "Q", "P", "spouse").unwrap_err()), "network.already_member");
    assert_eq!(code(engine.create_network(&me("P"), "P").unwrap_err()), "network.already_member");
    // After leaving, joining another network is allowed.
    engine.leave(&me("Kid"), "Kid").unwrap();
    assert!(engine.add_member(&me("Q"), "Q", "Kid", "child").is_ok());
}

fn n6_only_the_promoter_sets_the_payment_order<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "300"));
    register(&engine, employee("S", "0"));
    register(&engine, resident("Kid", "2015-01-01"));
    network(&engine, "P", &[("S", "spouse"), ("Kid", "child")]);
    let order = |o: &[&str]| o.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(code(engine.reorder(&me("S"), "S", &order(&["S", "P", "Kid"])).unwrap_err()), "network.not_allowed");
    assert_eq!(code(engine.reorder(&me("P"), "P", &order(&["S", "P"])).unwrap_err()), "input.invalid");
    engine.reorder(&me("P"), "P", &order(&["Kid", "S", "P"])).unwrap();
    let members: Vec<String> = engine.person_overview("P").unwrap().network.unwrap().members.into_iter().map(|m| m.0).collect();
    assert_eq!(members, ["Kid", "S", "P"]);
}

fn n7_promoter_adds_removes_and_dissolves<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "300"));
    register(&engine, employee("S", "100"));
    register(&engine, resident("Kid", "2015-01-01"));
    network(&engine, "P", &[("S", "spouse"), ("Kid", "child")]);
    to_mut(&engine, "S", "40");
    engine.remove_member(&me("P"), "P", "Kid").unwrap();
    assert!(engine.person_overview("Kid").unwrap().network.is_none());
    assert_eq!(code(engine.remove_member(&me("P"), "P", "P").unwrap_err()), "network.not_allowed");
    assert_eq!(code(engine.leave(&me("P"), "P").unwrap_err()), "network.not_allowed");
    engine.dissolve(&me("P"), "P").unwrap();
    assert!(engine.person_overview("S").unwrap().network.is_none(), "N7: dissolving makes every member leave");
    assert!(engine.person_overview("P").unwrap().network.is_none());
    assert_eq!(mutual(&engine, "S"), yuan("40"), "T3: MUT money stays the member's own");
}

fn n8_a_member_only_leaves_by_themselves<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "300"));
    register(&engine, employee("S", "0"));
    register(&engine, resident("Kid", "2015-01-01"));
    network(&engine, "P", &[("S", "spouse"), ("Kid", "child")]);
    assert_eq!(code(engine.remove_member(&me("S"), "S", "Kid").unwrap_err()), "network.not_allowed");
    assert_eq!(code(engine.dissolve(&me("S"), "S").unwrap_err()), "network.not_allowed");
    assert_eq!(code(engine.add_member(&me("S"), "S", "Kid", "child").unwrap_err()), "network.not_allowed");
    // Another person cannot make S leave: acting for someone else is refused (N9).
    assert_eq!(code(engine.leave(&me("P"), "S").unwrap_err()), "network.not_allowed");
    engine.leave(&me("S"), "S").unwrap();
    assert!(engine.person_overview("S").unwrap().network.is_none());
}

fn n9_nobody_moves_another_persons_money<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "300"));
    register(&engine, employee("S", "200"));
    network(&engine, "P", &[("S", "spouse")]);
    let err = engine.move_mutual_aid(&me("P"), "S", PersonAccount::His, PersonAccount::Mut, yuan("10")).unwrap_err();
    assert_eq!(code(err), "network.not_allowed");
    // An operator of another area may not either; at the owner's own counter it is allowed.
    let err = engine.move_mutual_aid(&counter("330100"), "S", PersonAccount::His, PersonAccount::Mut, yuan("10")).unwrap_err();
    assert_eq!(code(err), "network.not_allowed");
    engine.move_mutual_aid(&counter("330200"), "S", PersonAccount::His, PersonAccount::Mut, yuan("10")).unwrap();
    assert_eq!(mutual(&engine, "S"), yuan("10"));
    assert_eq!(his(&engine, "P"), yuan("300"));
}

fn n10_members_aged_16_confirm_themselves<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "300"));
    // Turns 16 on 2024-03-01 (= D): needs consent; born a day later: does not.
    register(&engine, resident("Teen", "2008-03-01"));
    register(&engine, resident("Kid", "2008-03-02"));
    engine.create_network(&me("P"), "P").unwrap();
    assert_eq!(engine.add_member(&me("P"), "P", "Teen", "child").unwrap(), Added::PendingConfirmation);
    assert_eq!(engine.add_member(&me("P"), "P", "Kid", "child").unwrap(), Added::Active);
    assert_eq!(engine.person_overview("Teen").unwrap().network.unwrap().state, MemberState::Pending);
    // Nobody confirms for the member, and there is nothing to confirm twice.
    assert_eq!(code(engine.confirm_member(&me("P"), "Teen").unwrap_err()), "network.not_allowed");
    assert_eq!(code(engine.confirm_member(&me("Kid"), "Kid").unwrap_err()), "network.pending");
    engine.confirm_member(&me("Teen"), "Teen").unwrap();
    assert_eq!(engine.person_overview("Teen").unwrap().network.unwrap().state, MemberState::Active);
}

fn n11_counter_business_only_at_the_promoters_area<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "300"));
    register(&engine, employee("S", "0"));
    assert_eq!(code(engine.create_network(&counter("330100"), "P").unwrap_err()), "network.not_allowed");
    engine.create_network(&counter("330200"), "P").unwrap();
    // An operator outside the counter channel is refused.
    let mut app_operator = counter("330200");
    app_operator.channel = gongji_core::Channel::App;
    assert_eq!(code(engine.add_member(&app_operator, "P", "S", "spouse").unwrap_err()), "auth.forbidden");
    engine.add_member(&counter("330200"), "P", "S", "spouse").unwrap();
    let events = engine.network_events(&gongji_core::AreaCode::parse("330200").unwrap(), day(D), day(D)).unwrap();
    assert!(events.iter().all(|e| e.event.actor == "operator:op1@330200" && e.event.channel == "counter"), "{events:?}");
}

fn n12_every_change_is_a_logged_event<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "300"));
    register(&engine, employee("S", "100"));
    register(&engine, resident("Kid", "2015-01-01"));
    network(&engine, "P", &[("S", "spouse"), ("Kid", "child")]);
    engine.reorder(&me("P"), "P", &["S".into(), "P".into(), "Kid".into()]).unwrap();
    engine.remove_member(&me("P"), "P", "Kid").unwrap();
    to_mut(&engine, "S", "30");
    engine.leave(&me("S"), "S").unwrap();
    engine.dissolve(&me("P"), "P").unwrap();
    let area = gongji_core::AreaCode::parse("330200").unwrap();
    let kinds: Vec<String> = engine.network_events(&area, day(D), day(D)).unwrap().into_iter().map(|e| e.event.kind.to_string()).collect();
    assert_eq!(kinds, ["created", "member_added", "member_confirmed", "member_added", "reordered", "member_removed", "member_left", "dissolved"]);
    assert!(engine.network_events(&area, day("2024-03-02"), day("2024-12-31")).unwrap().is_empty());
    let movements = engine.mut_movements(&area, day(D), day(D)).unwrap();
    assert_eq!(movements.len(), 1);
    assert_eq!(movements[0].amount, yuan("30"));
}

fn t1_own_money_between_his_and_mut<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "300"));
    register(&engine, employee("Out", "300"));
    register(&engine, resident("Kid", "2015-01-01"));
    network(&engine, "P", &[("Kid", "child")]);
    engine.move_mutual_aid(&me("P"), "P", PersonAccount::His, PersonAccount::Mut, yuan("300")).unwrap();
    assert_eq!((his(&engine, "P"), mutual(&engine, "P")), (yuan("0"), yuan("300")));
    let err = engine.move_mutual_aid(&me("P"), "P", PersonAccount::His, PersonAccount::Mut, yuan("0.01")).unwrap_err();
    assert_eq!(code(err), "money.insufficient");
    let err = engine.move_mutual_aid(&me("P"), "P", PersonAccount::Mut, PersonAccount::His, gongji_core::Money::ZERO).unwrap_err();
    assert_eq!(code(err), "money.invalid_amount");
    engine.move_mutual_aid(&me("P"), "P", PersonAccount::Mut, PersonAccount::His, yuan("120.50")).unwrap();
    assert_eq!((his(&engine, "P"), mutual(&engine, "P")), (yuan("120.50"), yuan("179.50")));
    // Not in a network: no MUT to fill. A resident has no HIS/MUT money to move.
    let err = engine.move_mutual_aid(&me("Out"), "Out", PersonAccount::His, PersonAccount::Mut, yuan("1")).unwrap_err();
    assert_eq!(code(err), "transfer.not_eligible");
    let err = engine.move_mutual_aid(&me("Kid"), "Kid", PersonAccount::His, PersonAccount::Mut, yuan("1")).unwrap_err();
    assert_eq!(code(err), "transfer.not_eligible");
    // Status must be normal.
    engine.set_status(&counter("330200"), "P", PersonStatus::Suspended, "test").unwrap();
    let err = engine.move_mutual_aid(&me("P"), "P", PersonAccount::Mut, PersonAccount::His, yuan("1")).unwrap_err();
    assert_eq!(code(err), "person.status");
    assert_clean(&engine);
}

fn t2_members_set_a_yearly_preset<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "300"));
    register(&engine, employee("Out", "300"));
    network(&engine, "P", &[]);
    engine.set_preset(&me("P"), "P", Some(yuan("100"))).unwrap();
    assert_eq!(engine.person_overview("P").unwrap().preset, Some(yuan("100")));
    assert_eq!(code(engine.set_preset(&me("Out"), "Out", Some(yuan("100"))).unwrap_err()), "transfer.not_eligible");
    assert_eq!(code(engine.set_preset(&me("Out"), "P", Some(yuan("100"))).unwrap_err()), "network.not_allowed");
    engine.set_preset(&me("P"), "P", None).unwrap();
    assert_eq!(engine.person_overview("P").unwrap().preset, None);
}

fn t3_mut_money_stays_the_members_own_on_leaving<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "300"));
    register(&engine, employee("S", "200"));
    network(&engine, "P", &[("S", "spouse")]);
    to_mut(&engine, "S", "150");
    engine.leave(&me("S"), "S").unwrap();
    assert_eq!(mutual(&engine, "S"), yuan("150"));
    // And it can still be moved back to HIS after leaving.
    engine.move_mutual_aid(&me("S"), "S", PersonAccount::Mut, PersonAccount::His, yuan("150")).unwrap();
    assert_eq!(his(&engine, "S"), yuan("200"));
}

fn status_change_of_a_member_ends_the_membership<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "300"));
    register(&engine, employee("S", "100"));
    network(&engine, "P", &[("S", "spouse")]);
    to_mut(&engine, "S", "100");
    engine.set_status(&counter("330200"), "S", PersonStatus::PendingLiquidation, "death").unwrap();
    assert!(engine.person_overview("S").unwrap().network.is_none());
    assert_eq!(engine.person_overview("P").unwrap().network.unwrap().members.len(), 1);
    assert_eq!(mutual(&engine, "S"), yuan("100"), "T3");
    let changes = engine.person_overview("S").unwrap().status_changes;
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].from, changes[0].to), (PersonStatus::Normal, PersonStatus::PendingLiquidation));
}

fn status_change_of_the_promoter_dissolves_the_network<S: Store>(engine: Engine<S>) {
    register(&engine, employee("P", "300"));
    register(&engine, employee("S", "100"));
    network(&engine, "P", &[("S", "spouse")]);
    engine.set_status(&counter("330200"), "P", PersonStatus::Cancelled, "moved away").unwrap();
    assert!(engine.person_overview("S").unwrap().network.is_none());
    assert!(engine.person_overview("P").unwrap().network.is_none());
    // S may now found a network of their own.
    assert!(engine.create_network(&me("S"), "S").is_ok());
    // Suspension changes nothing in a network.
    register(&engine, employee("K", "0"));
    engine.add_member(&me("S"), "S", "K", "child").unwrap();
    engine.confirm_member(&me("K"), "K").ok();
    engine.set_status(&counter("330200"), "K", PersonStatus::Suspended, "card lost").unwrap();
    assert!(engine.person_overview("K").unwrap().network.is_some());
}

fn network_model_only_where_the_policy_enables_it<S: Store>(engine: Engine<S>) {
    register(&engine, NewPerson { area: "330100", ..employee("H", "300") });
    assert_eq!(code(engine.create_network(&me("H"), "H").unwrap_err()), "network.model_disabled");
}

on_every_backend!(
    n1_promoter_is_a_normal_employee_with_his_money,
    n2_members_are_employees_or_residents_of_the_same_area,
    n3_one_spouse_two_parents_any_children,
    n4_cancelled_or_pending_liquidation_persons_take_no_part,
    n5_a_person_is_in_at_most_one_network,
    n6_only_the_promoter_sets_the_payment_order,
    n7_promoter_adds_removes_and_dissolves,
    n8_a_member_only_leaves_by_themselves,
    n9_nobody_moves_another_persons_money,
    n10_members_aged_16_confirm_themselves,
    n11_counter_business_only_at_the_promoters_area,
    n12_every_change_is_a_logged_event,
    t1_own_money_between_his_and_mut,
    t2_members_set_a_yearly_preset,
    t3_mut_money_stays_the_members_own_on_leaving,
    status_change_of_a_member_ends_the_membership,
    status_change_of_the_promoter_dissolves_the_network,
    network_model_only_where_the_policy_enables_it,
);

mod network_property {
    use std::collections::{BTreeMap, BTreeSet};

    use super::common::*;
    use gongji_core::{InsuranceType, PersonStatus};
    use proptest::prelude::*;

    const PEOPLE: [&str; 8] = ["A", "B", "C", "D", "E", "F", "G", "H"];
    const RELATIONS: [&str; 3] = ["spouse", "parent", "child"];

    #[derive(Debug, Clone)]
    enum Op {
        Create(usize),
        Add { promoter: usize, member: usize, relation: usize },
        Confirm(usize),
        Remove { promoter: usize, member: usize },
        Leave(usize),
        Reorder { promoter: usize, seed: u64 },
        Dissolve(usize),
        Close(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        let who = || 0..PEOPLE.len();
        prop_oneof![
            who().prop_map(Op::Create),
            (who(), who(), 0..3usize).prop_map(|(promoter, member, relation)| Op::Add { promoter, member, relation }),
            who().prop_map(Op::Confirm),
            (who(), who()).prop_map(|(promoter, member)| Op::Remove { promoter, member }),
            who().prop_map(Op::Leave),
            (who(), any::<u64>()).prop_map(|(promoter, seed)| Op::Reorder { promoter, seed }),
            who().prop_map(Op::Dissolve),
            who().prop_map(Op::Close),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// N3, N5, N6 hold after every step of any sequence of network operations, allowed or
        /// refused: at most one spouse and two parents, one network per person, and a payment
        /// order that lists each member exactly once with the promoter among them.
        #[test]
        fn n3_n5_n6_hold_under_random_network_operations(ops in proptest::collection::vec(op(), 1..60)) {
            let engine = sqlite_engine();
            for (index, psn) in PEOPLE.iter().enumerate() {
                let birth = ["1970-01-01", "1975-06-01", "2010-01-01", "1950-03-03"][index % 4];
                register(&engine, NewPerson { insurance: if index % 3 == 2 { InsuranceType::Resident } else { InsuranceType::Employee }, birth, ..employee(psn, "100") });
            }
            for op in &ops {
                let _ = match op {
                    Op::Create(p) => engine.create_network(&me(PEOPLE[*p]), PEOPLE[*p]).map(|_| ()),
                    Op::Add { promoter, member, relation } => engine.add_member(&me(PEOPLE[*promoter]), PEOPLE[*promoter], PEOPLE[*member], RELATIONS[*relation]).map(|_| ()),
                    Op::Confirm(m) => engine.confirm_member(&me(PEOPLE[*m]), PEOPLE[*m]),
                    Op::Remove { promoter, member } => engine.remove_member(&me(PEOPLE[*promoter]), PEOPLE[*promoter], PEOPLE[*member]),
                    Op::Leave(m) => engine.leave(&me(PEOPLE[*m]), PEOPLE[*m]),
                    Op::Reorder { promoter, seed } => {
                        let psn = PEOPLE[*promoter];
                        let mut order: Vec<String> = engine.person_overview(psn).unwrap().network.map(|n| n.members.into_iter().map(|m| m.0).collect()).unwrap_or_default();
                        let len = order.len().max(1);
                        order.rotate_left((*seed as usize) % len);
                        engine.reorder(&me(psn), psn, &order)
                    }
                    Op::Dissolve(p) => engine.dissolve(&me(PEOPLE[*p]), PEOPLE[*p]),
                    Op::Close(p) => engine.set_status(&counter("330200"), PEOPLE[*p], PersonStatus::PendingLiquidation, "property test"),
                };
                let mut networks: BTreeMap<i64, Vec<(String, Option<String>)>> = BTreeMap::new();
                let mut seen_in: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
                for psn in PEOPLE {
                    if let Some(place) = engine.person_overview(psn).unwrap().network {
                        seen_in.entry(psn.to_string()).or_default().insert(place.network_id);
                        let members: Vec<(String, Option<String>)> = place.members.iter().map(|(m, r, _)| (m.clone(), r.clone())).collect();
                        prop_assert!(members.iter().any(|(m, _)| m == psn), "N5: {} is listed in its own network", psn);
                        if let Some(previous) = networks.insert(place.network_id, members.clone()) {
                            prop_assert_eq!(previous, members, "one network, one view");
                        }
                    }
                }
                for (id, members) in &networks {
                    let count = |relation: &str| members.iter().filter(|(_, r)| r.as_deref() == Some(relation)).count();
                    prop_assert!(count("spouse") <= 1, "N3 spouse in network {}: {:?}", id, members);
                    prop_assert!(count("parent") <= 2, "N3 parents in network {}: {:?}", id, members);
                    prop_assert_eq!(members.iter().filter(|(_, r)| r.is_none()).count(), 1, "N6: one promoter in the order of network {}", id);
                    let distinct: BTreeSet<&String> = members.iter().map(|(m, _)| m).collect();
                    prop_assert_eq!(distinct.len(), members.len(), "N6: each member once in the order");
                    for (member, _) in members {
                        prop_assert_eq!(seen_in.get(member).map(|s| s.len()), Some(1), "N5: {} in one network", member);
                        prop_assert!(!engine.person(member).unwrap().status.is_closed(), "N4: closed persons have left");
                    }
                }
            }
        }
    }
}
