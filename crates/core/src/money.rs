//! Money as integer fen (P3). Parsed from and shown as decimal strings with two decimals.

use std::fmt;
use std::iter::Sum;

use crate::error::{DomainError, DomainResult, ErrorCode};

/// An amount of money in fen (1 yuan = 100 fen). May be negative (a posting, a system account);
/// use [`Money::parse_positive`] where only a positive amount makes sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

/// The largest amount accepted from outside: 10^13 yuan. Sums of many such amounts still fit i64.
pub const MONEY_INPUT_MAX_FEN: i64 = 1_000_000_000_000_000;

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_fen(fen: i64) -> Money {
        Money(fen)
    }

    pub const fn fen(self) -> i64 {
        self.0
    }

    /// Whole yuan, for tests and presets.
    pub const fn yuan(yuan: i64) -> Money {
        Money(yuan * 100)
    }

    /// Parses `"1000"`, `"12.5"`, `"12.50"`, `"-3.00"`. Refuses exponents, full-width digits,
    /// more than two decimals, empty strings, signs in odd places and amounts beyond
    /// [`MONEY_INPUT_MAX_FEN`], all with `money.invalid_amount` (P3).
    pub fn parse(text: &str) -> DomainResult<Money> {
        let fen = parse_fixed(text, 2).ok_or_else(|| invalid_amount(text))?;
        if fen.unsigned_abs() > MONEY_INPUT_MAX_FEN as u64 {
            return Err(invalid_amount(text));
        }
        Ok(Money(fen))
    }

    /// Like [`Money::parse`], and refuses zero and negative amounts.
    pub fn parse_positive(text: &str) -> DomainResult<Money> {
        let money = Money::parse(text)?;
        if money.0 <= 0 {
            return Err(DomainError::new(ErrorCode::MoneyInvalidAmount, "P3", format!("amount must be greater than zero: {text:?}")));
        }
        Ok(money)
    }

    /// Like [`Money::parse`], and refuses negative amounts (zero allowed: opening balances).
    pub fn parse_non_negative(text: &str) -> DomainResult<Money> {
        let money = Money::parse(text)?;
        if money.0 < 0 {
            return Err(DomainError::new(ErrorCode::MoneyInvalidAmount, "P3", format!("amount must not be negative: {text:?}")));
        }
        Ok(money)
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    pub fn checked_neg(self) -> Option<Money> {
        self.0.checked_neg().map(Money)
    }

    /// Addition for amounts already bounded by validation; overflow is a programmer error.
    pub fn plus(self, other: Money) -> Money {
        self.checked_add(other).expect("money overflow")
    }

    /// Subtraction for amounts already bounded by validation; overflow is a programmer error.
    pub fn minus(self, other: Money) -> Money {
        self.checked_sub(other).expect("money overflow")
    }

    /// Negation for amounts already bounded by validation. An inherent method rather than
    /// `std::ops::Neg`, so that `amount.neg()` reads the same everywhere without an import.
    #[allow(clippy::should_implement_trait)]
    pub fn neg(self) -> Money {
        self.checked_neg().expect("money overflow")
    }

    pub fn min(self, other: Money) -> Money {
        Money(self.0.min(other.0))
    }

    pub fn max(self, other: Money) -> Money {
        Money(self.0.max(other.0))
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// `self × ratio`, rounded half-up (away from zero) to the fen.
    pub fn times(self, ratio: Ratio) -> Money {
        let product = self.0 as i128 * ratio.per_million() as i128;
        Money(div_round_half_up(product, Ratio::ONE_MILLION as i128) as i64)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Money::plus)
    }
}

/// A non-negative ratio in millionths (0.85 = 850_000; 1.50% = 15_000), parsed from a decimal
/// string such as `"0.85"` or a percentage such as `"1.5%"`. Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ratio(i64);

impl Ratio {
    pub const ONE_MILLION: i64 = 1_000_000;
    pub const ZERO: Ratio = Ratio(0);
    pub const ONE: Ratio = Ratio(Ratio::ONE_MILLION);

    pub const fn per_million(self) -> i64 {
        self.0
    }

    /// `"0.85"` or `"85%"`; at most six decimals of the unit; between 0 and 1 inclusive
    /// unless `allow_above_one`.
    pub fn parse(text: &str) -> Option<Ratio> {
        let trimmed = text.trim();
        let value = if let Some(percent) = trimmed.strip_suffix('%') {
            let hundredths = parse_fixed(percent.trim(), 6)?;
            if hundredths % 100 != 0 {
                return None;
            }
            hundredths / 100
        } else {
            parse_fixed(trimmed, 6)?
        };
        if !(0..=Ratio::ONE_MILLION).contains(&value) {
            return None;
        }
        Some(Ratio(value))
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / Ratio::ONE_MILLION;
        let frac = self.0 % Ratio::ONE_MILLION;
        let mut frac_text = format!("{frac:06}");
        while frac_text.len() > 2 && frac_text.ends_with('0') {
            frac_text.pop();
        }
        write!(f, "{whole}.{frac_text}")
    }
}

/// Divides rounding half away from zero (the "四舍五入" of the agencies).
pub fn div_round_half_up(numerator: i128, denominator: i128) -> i128 {
    assert!(denominator > 0, "denominator must be positive");
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.abs() * 2 >= denominator {
        quotient + numerator.signum()
    } else {
        quotient
    }
}

fn invalid_amount(text: &str) -> DomainError {
    DomainError::new(ErrorCode::MoneyInvalidAmount, "P3", format!("not an amount with at most two decimals: {text:?}"))
}

/// Parses an optionally signed ASCII decimal with at most `scale` decimals into an integer
/// scaled by 10^scale. Only `0-9`, one `.`, one leading `-`; anything else is refused.
fn parse_fixed(text: &str, scale: u32) -> Option<i64> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = match body.split_once('.') {
        Some((whole, frac)) => (whole, Some(frac)),
        None => (body, None),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac = frac.unwrap_or("");
    if body.contains('.') && frac.is_empty() {
        return None;
    }
    if frac.len() > scale as usize || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value: i64 = 0;
    for digit in whole.bytes().chain(frac.bytes()) {
        value = value.checked_mul(10)?.checked_add((digit - b'0') as i64)?;
    }
    for _ in frac.len()..scale as usize {
        value = value.checked_mul(10)?;
    }
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_parse(text: &str, expected_fen: Option<i64>) {
        let parsed = Money::parse(text).map(Money::fen);
        match expected_fen {
            Some(fen) => assert_eq!(parsed, Ok(fen), "parsing {text:?}"),
            None => {
                let err = parsed.expect_err(text);
                assert_eq!(err.code, ErrorCode::MoneyInvalidAmount, "P3: {text:?}");
                assert_eq!(err.rule, "P3");
            }
        }
    }

    #[test]
    fn p3_parses_decimal_strings_with_at_most_two_decimals() {
        check_parse("1000", Some(100_000));
        check_parse("12.5", Some(1250));
        check_parse("12.50", Some(1250));
        check_parse("0.01", Some(1));
        check_parse("0", Some(0));
        check_parse("-3.20", Some(-320));
        check_parse("007", Some(700));
    }

    #[test]
    fn p3_refuses_bad_amounts_with_money_invalid_amount() {
        for bad in [
            "1.234",
            "1e5",
            "１００",
            "",
            " ",
            "1.",
            ".5",
            "+1",
            "--1",
            "1,000",
            "1 000",
            "NaN",
            "inf",
            "0x10",
            "1.2.3",
            "99999999999999999999",
            "10000000000000.01",
        ] {
            check_parse(bad, None);
        }
    }

    #[test]
    fn p3_positive_amount_refuses_zero_and_negative() {
        for bad in ["-1", "0", "0.00", "-0.01"] {
            let err = Money::parse_positive(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::MoneyInvalidAmount, "{bad}");
        }
        assert_eq!(Money::parse_positive("0.01").unwrap().fen(), 1);
    }

    #[test]
    fn p3_displays_exactly_two_decimals() {
        assert_eq!(Money::from_fen(0).to_string(), "0.00");
        assert_eq!(Money::from_fen(5).to_string(), "0.05");
        assert_eq!(Money::from_fen(123_456).to_string(), "1234.56");
        assert_eq!(Money::from_fen(-1).to_string(), "-0.01");
        assert_eq!(Money::from_fen(i64::MIN).to_string(), "-92233720368547758.08");
    }

    #[test]
    fn p3_checked_arithmetic_reports_overflow() {
        assert_eq!(Money::from_fen(i64::MAX).checked_add(Money::from_fen(1)), None);
        assert_eq!(Money::from_fen(i64::MIN).checked_sub(Money::from_fen(1)), None);
        assert_eq!(Money::from_fen(i64::MIN).checked_neg(), None);
    }

    #[test]
    fn ratio_parses_decimals_and_percentages_without_floats() {
        assert_eq!(Ratio::parse("0.85").unwrap().per_million(), 850_000);
        assert_eq!(Ratio::parse("1.5%").unwrap().per_million(), 15_000);
        assert_eq!(Ratio::parse("100%").unwrap(), Ratio::ONE);
        assert_eq!(Ratio::parse("1.01"), None);
        assert_eq!(Ratio::parse("0.0000001"), None);
        assert_eq!(Ratio::parse("abc"), None);
        assert_eq!(Ratio::parse("0.85").unwrap().to_string(), "0.85");
    }

    #[test]
    fn times_rounds_half_up_to_the_fen() {
        // 0.15 × 10% = 0.015 → 0.02
        assert_eq!(Money::from_fen(15).times(Ratio::parse("0.1").unwrap()).fen(), 2);
        // 0.14 × 10% = 0.014 → 0.01
        assert_eq!(Money::from_fen(14).times(Ratio::parse("0.1").unwrap()).fen(), 1);
        assert_eq!(div_round_half_up(-15, 10), -2);
        assert_eq!(div_round_half_up(-14, 10), -1);
    }

    proptest::proptest! {
        #[test]
        fn p3_display_then_parse_round_trips(fen in -MONEY_INPUT_MAX_FEN..=MONEY_INPUT_MAX_FEN) {
            let money = Money::from_fen(fen);
            proptest::prop_assert_eq!(Money::parse(&money.to_string()), Ok(money));
        }
    }
}
