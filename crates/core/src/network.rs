//! Family mutual-aid networks (§5): the rules N1–N10 over a snapshot, no I/O.

use chrono::NaiveDate;

use crate::error::{DomainError, DomainResult, ErrorCode};
use crate::money::Money;
use crate::person::{AreaCode, InsuranceType, Person, PersonStatus};
use crate::policy::Policy;
use crate::string_enum::string_enum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberState {
    /// Added, waiting for the member's own confirmation (N10): shares nothing.
    Pending,
    Active,
}

string_enum!(MemberState { Pending => "pending", Active => "active" });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub psn_no: String,
    /// Relation to the promoter; `None` for the promoter.
    pub relation: Option<String>,
    pub state: MemberState,
}

/// A network as it stands: `members` in payment order (N6), the promoter among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub id: i64,
    pub area: AreaCode,
    pub promoter: String,
    pub members: Vec<Member>,
}

impl Network {
    pub fn member(&self, psn_no: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.psn_no == psn_no)
    }

    pub fn is_promoter(&self, psn_no: &str) -> bool {
        self.promoter == psn_no
    }

    pub fn count_relation(&self, relation: &str) -> usize {
        self.members.iter().filter(|m| m.relation.as_deref() == Some(relation)).count()
    }
}

/// N1, N4: may this person found a network?
pub fn check_promoter(promoter: &Person, his_balance: Money) -> DomainResult<()> {
    check_not_closed(promoter, "N4")?;
    if promoter.insurance != InsuranceType::Employee {
        return Err(DomainError::new(ErrorCode::NetworkPromoterNotEligible, "N1", "the promoter must be an insured employee"));
    }
    if promoter.status != PersonStatus::Normal {
        return Err(DomainError::new(ErrorCode::PersonStatus, "N1", format!("the promoter's status is {}, not normal", promoter.status)));
    }
    if !his_balance.is_positive() {
        return Err(DomainError::new(ErrorCode::NetworkPromoterNotEligible, "N1", "the promoter's historical account (HIS) has no balance"));
    }
    Ok(())
}

/// N2, N3, N4: may `candidate` join `network` with `relation` under `policy`?
/// N5 (one network per person) needs the store and is checked by the caller.
pub fn check_new_member(network: &Network, candidate: &Person, relation: &str, policy: &Policy) -> DomainResult<()> {
    if network.member(&candidate.psn_no).is_some() {
        return Err(DomainError::new(ErrorCode::NetworkAlreadyMember, "N5", "already in this network"));
    }
    check_not_closed(candidate, "N4")?;
    if candidate.insurance == InsuranceType::Special {
        return Err(DomainError::new(ErrorCode::NetworkMemberNotEligible, "N2", "special (统筹) insured persons cannot join a network"));
    }
    if candidate.area != network.area {
        return Err(DomainError::new(
            ErrorCode::NetworkOtherArea,
            "N2",
            format!("the member is insured in {}, the network in {}", candidate.area, network.area),
        ));
    }
    let Some(rule) = policy.relation(relation) else {
        return Err(DomainError::new(ErrorCode::NetworkRelationNotAllowed, "N3", format!("relation {relation:?} is not allowed by policy {}", policy.id)));
    };
    if let Some(max) = rule.max {
        if network.count_relation(relation) >= max as usize {
            let code = match relation {
                "spouse" => ErrorCode::NetworkSpouseLimit,
                "parent" => ErrorCode::NetworkParentLimit,
                _ => ErrorCode::NetworkRelationLimit,
            };
            return Err(DomainError::new(code, "N3", format!("at most {max} {relation} in a network")));
        }
    }
    Ok(())
}

/// N10: a member aged `consent_age` or more on `day` confirms their own membership.
pub fn needs_confirmation(candidate: &Person, day: NaiveDate, policy: &Policy) -> bool {
    candidate.id_number.age_on(day) >= policy.consent_age
}

/// N6: a new order must name every current member exactly once.
pub fn check_reorder(network: &Network, order: &[String]) -> DomainResult<()> {
    let mut wanted: Vec<&str> = order.iter().map(String::as_str).collect();
    let mut current: Vec<&str> = network.members.iter().map(|m| m.psn_no.as_str()).collect();
    wanted.sort_unstable();
    current.sort_unstable();
    if wanted != current {
        return Err(DomainError::new(ErrorCode::InputInvalid, "N6", "the new payment order must list every member of the network exactly once"));
    }
    Ok(())
}

/// N7: only the promoter changes the network.
pub fn check_is_promoter(network: &Network, acting: &str) -> DomainResult<()> {
    if network.is_promoter(acting) {
        Ok(())
    } else {
        Err(DomainError::new(ErrorCode::NetworkNotAllowed, "N7", "only the promoter may change the network"))
    }
}

pub fn check_not_closed(person: &Person, rule: &'static str) -> DomainResult<()> {
    if person.status.is_closed() {
        return Err(DomainError::new(ErrorCode::PersonStatus, rule, format!("the person's status is {}", person.status)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id_number::IdNumber;
    use crate::policy::RelationRule;

    fn person(psn: &str, insurance: InsuranceType, area: &str, birth: &str) -> Person {
        let birth = NaiveDate::parse_from_str(birth, "%Y-%m-%d").unwrap();
        Person {
            psn_no: psn.into(),
            name: "某".into(),
            id_number: IdNumber::compose(area, birth, 1).unwrap(),
            area: AreaCode::parse(area).unwrap(),
            insurance,
            phone: None,
            status: PersonStatus::Normal,
        }
    }

    fn policy() -> Policy {
        let mut policy = crate::testing::empty_policy();
        policy.relations = vec![
            RelationRule { name: "spouse".into(), max: Some(1) },
            RelationRule { name: "parent".into(), max: Some(2) },
            RelationRule { name: "child".into(), max: None },
        ];
        policy
    }

    fn network_with(members: &[(&str, &str)]) -> Network {
        let mut all = vec![Member { psn_no: "P".into(), relation: None, state: MemberState::Active }];
        all.extend(members.iter().map(|(psn, rel)| Member { psn_no: (*psn).into(), relation: Some((*rel).into()), state: MemberState::Active }));
        Network { id: 1, area: AreaCode::parse("330200").unwrap(), promoter: "P".into(), members: all }
    }

    #[test]
    fn n1_promoter_must_be_a_normal_employee_with_his_money() {
        let employee = person("P", InsuranceType::Employee, "330200", "1970-01-01");
        assert!(check_promoter(&employee, Money::yuan(1)).is_ok());
        assert_eq!(check_promoter(&employee, Money::ZERO).unwrap_err().code, ErrorCode::NetworkPromoterNotEligible);
        let resident = person("R", InsuranceType::Resident, "330200", "1970-01-01");
        assert_eq!(check_promoter(&resident, Money::yuan(1)).unwrap_err().code, ErrorCode::NetworkPromoterNotEligible);
    }

    #[test]
    fn n2_n3_member_rules() {
        let policy = policy();
        let net = network_with(&[("S", "spouse"), ("F", "parent"), ("M", "parent")]);
        let fresh = person("X", InsuranceType::Employee, "330200", "1990-01-01");
        assert_eq!(check_new_member(&net, &fresh, "spouse", &policy).unwrap_err().code, ErrorCode::NetworkSpouseLimit);
        assert_eq!(check_new_member(&net, &fresh, "parent", &policy).unwrap_err().code, ErrorCode::NetworkParentLimit);
        assert!(check_new_member(&net, &fresh, "child", &policy).is_ok());
        assert_eq!(check_new_member(&net, &fresh, "sibling", &policy).unwrap_err().code, ErrorCode::NetworkRelationNotAllowed);
        let special = person("V", InsuranceType::Special, "330200", "1940-01-01");
        assert_eq!(check_new_member(&net, &special, "child", &policy).unwrap_err().code, ErrorCode::NetworkMemberNotEligible);
        let far = person("F2", InsuranceType::Employee, "330100", "1990-01-01");
        assert_eq!(check_new_member(&net, &far, "child", &policy).unwrap_err().code, ErrorCode::NetworkOtherArea);
        let resident = person("R", InsuranceType::Resident, "330200", "2015-01-01");
        assert!(check_new_member(&net, &resident, "child", &policy).is_ok());
    }

    #[test]
    fn n4_closed_persons_cannot_join() {
        let net = network_with(&[]);
        let mut closed = person("X", InsuranceType::Employee, "330200", "1990-01-01");
        closed.status = PersonStatus::PendingLiquidation;
        assert_eq!(check_new_member(&net, &closed, "child", &policy()).unwrap_err().code, ErrorCode::PersonStatus);
        assert_eq!(check_promoter(&closed, Money::yuan(1)).unwrap_err().rule, "N4");
    }

    #[test]
    fn n10_consent_from_sixteen_on_the_day() {
        let policy = policy();
        let child = person("C", InsuranceType::Resident, "330200", "2008-03-01");
        assert!(!needs_confirmation(&child, NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(), &policy));
        assert!(needs_confirmation(&child, NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(), &policy));
    }

    #[test]
    fn n6_reorder_must_name_every_member_once() {
        let net = network_with(&[("S", "spouse")]);
        assert!(check_reorder(&net, &["S".into(), "P".into()]).is_ok());
        assert!(check_reorder(&net, &["S".into()]).is_err());
        assert!(check_reorder(&net, &["S".into(), "S".into()]).is_err());
    }

    #[test]
    fn n7_only_the_promoter_changes_the_network() {
        let net = network_with(&[("S", "spouse")]);
        assert!(check_is_promoter(&net, "P").is_ok());
        assert_eq!(check_is_promoter(&net, "S").unwrap_err().code, ErrorCode::NetworkNotAllowed);
    }
}
