//! Resident identity numbers (居民身份证号码, GB 11643-1999), P1.

use std::fmt;

use chrono::{Datelike, NaiveDate};

use crate::error::{DomainError, DomainResult, ErrorCode};

/// A checked 18-character resident ID number: 6-digit address code, 8-digit birth date,
/// 3-digit sequence (odd for men, even for women), ISO 7064 MOD 11-2 check character.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdNumber {
    text: String,
    birth_date: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

impl IdNumber {
    /// Parses and verifies an ID number; a lower-case `x` is accepted and stored upper-case.
    pub fn parse(text: &str) -> DomainResult<IdNumber> {
        let bytes = text.as_bytes();
        if bytes.len() != 18 {
            return Err(invalid(text, "must be 18 characters"));
        }
        if !bytes[..17].iter().all(u8::is_ascii_digit) {
            return Err(invalid(text, "the first 17 characters must be digits"));
        }
        let last = bytes[17].to_ascii_uppercase();
        if !(last.is_ascii_digit() || last == b'X') {
            return Err(invalid(text, "the check character must be a digit or X"));
        }
        if check_char(&bytes[..17]) != last {
            return Err(invalid(text, "wrong check digit"));
        }
        let birth_date = NaiveDate::parse_from_str(&text[6..14], "%Y%m%d").map_err(|_| invalid(text, "the birth date is not a real calendar date"))?;
        if birth_date.year() < 1850 {
            return Err(invalid(text, "the birth date is implausibly early"));
        }
        Ok(IdNumber { text: text.to_ascii_uppercase(), birth_date })
    }

    /// Builds a valid number from its parts (scenario files and synthetic data give a birth
    /// date, not a number). `sequence` is 0..=999; its parity decides the sex.
    pub fn compose(area_code: &str, birth_date: NaiveDate, sequence: u16) -> DomainResult<IdNumber> {
        if area_code.len() != 6 || !area_code.bytes().all(|b| b.is_ascii_digit()) || sequence > 999 {
            return Err(invalid(area_code, "cannot compose an ID number from these parts"));
        }
        let body = format!("{area_code}{}{sequence:03}", birth_date.format("%Y%m%d"));
        let check = check_char(body.as_bytes()) as char;
        IdNumber::parse(&format!("{body}{check}"))
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// From the 17th character: odd for men, even for women.
    pub fn sex(&self) -> Sex {
        if (self.text.as_bytes()[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Completed years of age on `day` (a person born on 29 February has a birthday on
    /// 1 March in common years). Zero before birth.
    pub fn age_on(&self, day: NaiveDate) -> u32 {
        let birth = self.birth_date;
        if day < birth {
            return 0;
        }
        let mut age = day.year() - birth.year();
        if (day.month(), day.day()) < (birth.month(), birth.day()) {
            age -= 1;
        }
        age as u32
    }

    /// The ID number with the middle masked, for logs and answers to roles without need (e.g.
    /// `330203********1234`).
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.text[..6], &self.text[14..])
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn check_char(first_17: &[u8]) -> u8 {
    let sum: u32 = first_17.iter().zip(WEIGHTS).map(|(digit, weight)| (digit - b'0') as u32 * weight).sum();
    CHECK_CHARS[(sum % 11) as usize]
}

fn invalid(text: &str, why: &str) -> DomainError {
    let shown = if text.len() >= 18 { format!("{}…", &text[..text.len().min(6)]) } else { text.to_string() };
    DomainError::new(ErrorCode::PersonInvalidIdNumber, "P1", format!("invalid ID number {shown}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn p1_accepts_valid_numbers_including_x_check() {
        // The GB 11643 example number.
        let id = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(id.birth_date(), day("1949-12-31"));
        assert_eq!(id.sex(), Sex::Female);
        let lower = IdNumber::parse("11010519491231002x").unwrap();
        assert_eq!(lower.as_str(), "11010519491231002X");
        let id = IdNumber::parse("440524188001010014").unwrap();
        assert_eq!(id.sex(), Sex::Male);
    }

    #[test]
    fn p1_refuses_invalid_numbers() {
        for bad in [
            "",
            "11010519491231002",                   // 17 chars
            "110105194912310021",                  // wrong check digit
            "11010519490230002X",                  // 30 February (check digit aside)
            "1101051949123100AX",                  // letters
            "１１０１０５１９４９１２３１００２X", // full width
        ] {
            let err = IdNumber::parse(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::PersonInvalidIdNumber, "{bad}");
            assert_eq!(err.rule, "P1");
        }
        // A real-date check beyond the check digit: compose a number for a bad date by hand.
        let body = "33020019990229001";
        let check = check_char(body.as_bytes()) as char;
        let err = IdNumber::parse(&format!("{body}{check}")).unwrap_err();
        assert!(err.message.contains("calendar"), "{}", err.message);
    }

    #[test]
    fn p1_compose_gives_a_valid_number() {
        let id = IdNumber::compose("330200", day("2000-02-29"), 7).unwrap();
        assert_eq!(IdNumber::parse(id.as_str()).unwrap(), id);
        assert_eq!(id.birth_date(), day("2000-02-29"));
        assert_eq!(id.sex(), Sex::Male);
        assert_eq!(id.masked().len(), 18);
        assert!(!id.masked().contains("20000229"));
    }

    #[test]
    fn p1_age_on_a_given_day() {
        let id = IdNumber::compose("330200", day("2008-03-01"), 2).unwrap();
        assert_eq!(id.age_on(day("2024-02-29")), 15);
        assert_eq!(id.age_on(day("2024-03-01")), 16);
        let leap = IdNumber::compose("330200", day("2008-02-29"), 2).unwrap();
        assert_eq!(leap.age_on(day("2024-02-28")), 15);
        assert_eq!(leap.age_on(day("2024-02-29")), 16);
        assert_eq!(leap.age_on(day("2023-02-28")), 14);
        assert_eq!(leap.age_on(day("2023-03-01")), 15);
        assert_eq!(leap.age_on(day("2000-01-01")), 0);
    }
}
