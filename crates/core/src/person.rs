//! Persons (P1), who acts and through which channel (P6).

use crate::string_enum::string_enum;
use std::fmt;

use crate::error::{DomainError, DomainResult, ErrorCode};
use crate::id_number::IdNumber;
use crate::text;

/// A 6-digit administrative division code of a planning area (统筹区), e.g. `330200` Ningbo.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AreaCode(String);

impl AreaCode {
    pub fn parse(text: &str) -> DomainResult<AreaCode> {
        if text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AreaCode(text.to_string()))
        } else {
            Err(DomainError::new(ErrorCode::InputInvalid, "P1", format!("planning area must be 6 digits: {text:?}")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InsuranceType {
    /// 职工基本医疗保险, including hospitalisation-only insurance.
    Employee,
    /// 城乡居民基本医疗保险: no contributions into a personal account.
    Resident,
    /// 统筹人员 such as 离休干部, 二等乙级伤残军人, 机关子女.
    Special,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PersonStatus {
    Normal,
    Suspended,
    /// 撤销
    Cancelled,
    /// 撤销待清算
    PendingLiquidation,
}

string_enum!(InsuranceType { Employee => "employee", Resident => "resident", Special => "special" });
string_enum!(PersonStatus {
    Normal => "normal",
    Suspended => "suspended",
    Cancelled => "cancelled",
    PendingLiquidation => "pending_liquidation",
});

impl PersonStatus {
    /// N4, T2: cancelled and pending-liquidation persons take part in no family business.
    pub fn is_closed(self) -> bool {
        matches!(self, PersonStatus::Cancelled | PersonStatus::PendingLiquidation)
    }
}

/// An insured person (P1). Name, ID number and phone are personal data: never log them unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub psn_no: String,
    pub name: String,
    pub id_number: IdNumber,
    pub area: AreaCode,
    pub insurance: InsuranceType,
    pub phone: Option<String>,
    pub status: PersonStatus,
}

impl Person {
    /// Checks the fields that the ID number does not already guarantee; the name by the one
    /// rule on free text ([`text::check_text`], issue 12).
    pub fn validate(&self) -> DomainResult<()> {
        text::check_psn_no("psn_no", "P1", &self.psn_no)?;
        text::check_text("name", "P1", &self.name, text::NAME_CHARS_MAX)?;
        if let Some(phone) = &self.phone {
            if !(phone.len() == 11 && phone.bytes().all(|b| b.is_ascii_digit())) {
                return Err(DomainError::new(ErrorCode::InputInvalid, "P1", "phone must be an 11-digit mobile number"));
            }
        }
        Ok(())
    }
}

pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

/// Through which channel a change came (P6, N11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    App,
    Terminal,
    Counter,
    Web,
    Api,
    Batch,
}

string_enum!(Channel { App => "app", Terminal => "terminal", Counter => "counter", Web => "web", Api => "api", Batch => "batch" });

/// Who made a change (P6).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// An insured person acting for themselves (app, terminal, web).
    Person(String),
    /// An agency operator at the counter or the CLI, bound to one planning area.
    Operator {
        id: String,
        area: AreaCode,
    },
    /// A designated medical institution or pharmacy (bills).
    Institution(String),
    /// A batch job.
    System(String),
    Admin(String),
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Person(_) => "person",
            Actor::Operator { .. } => "operator",
            Actor::Institution(_) => "institution",
            Actor::System(_) => "system",
            Actor::Admin(_) => "admin",
        }
    }

    /// The id stored beside the kind: psn_no, operator id (`id@area`), institution code, job name.
    pub fn id(&self) -> String {
        match self {
            Actor::Person(id) | Actor::Institution(id) | Actor::System(id) | Actor::Admin(id) => id.clone(),
            Actor::Operator { id, area } => format!("{id}@{area}"),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p1_enums_round_trip_through_their_stable_names() {
        for status in PersonStatus::ALL {
            assert_eq!(PersonStatus::parse(status.as_str()), Some(*status));
        }
        for kind in InsuranceType::ALL {
            assert_eq!(InsuranceType::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(PersonStatus::parse("Normal"), None);
    }

    #[test]
    fn p1_area_code_is_six_digits() {
        assert!(AreaCode::parse("330200").is_ok());
        assert!(AreaCode::parse("33020").is_err());
        assert!(AreaCode::parse("33020a").is_err());
    }

    #[test]
    fn names_are_masked_for_logs() {
        assert_eq!(mask_name("李先生"), "李**");
        assert_eq!(mask_name(""), "");
    }
}
