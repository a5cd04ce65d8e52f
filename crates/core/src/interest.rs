//! Interest by the daily-balance product method (积数, B1): Σ each day's closing balance ×
//! annual rate ÷ 360, rounded half-up to the fen. The product is kept up to date as postings
//! happen, so year-end never rescans a year of postings.

use chrono::NaiveDate;

use crate::money::{div_round_half_up, Money, Ratio};

/// The running product of one account: fen-days accrued up to (not including) `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceProduct {
    pub fen_days: i128,
    pub as_of: NaiveDate,
}

impl BalanceProduct {
    pub fn start(as_of: NaiveDate) -> BalanceProduct {
        BalanceProduct { fen_days: 0, as_of }
    }

    /// Accrues `balance` (the closing balance of every day since `as_of`) up to `day`, so that
    /// a change of balance on `day` counts from `day` on. A `day` before `as_of` (a back-dated
    /// posting) accrues nothing.
    pub fn accrue_to(self, balance: Money, day: NaiveDate) -> BalanceProduct {
        if day <= self.as_of {
            return self;
        }
        let days = (day - self.as_of).num_days() as i128;
        BalanceProduct { fen_days: self.fen_days + balance.fen() as i128 * days, as_of: day }
    }

    /// Interest on the product at `annual_rate` with the 360-day convention, half-up.
    pub fn interest(self, annual_rate: Ratio) -> Money {
        let numerator = self.fen_days * annual_rate.per_million() as i128;
        Money::from_fen(div_round_half_up(numerator, 360 * Ratio::ONE_MILLION as i128) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn b1_a_thousand_held_through_leap_2024_at_1_5_percent_gives_15_25() {
        let product = BalanceProduct::start(day(2024, 1, 1)).accrue_to(Money::yuan(1000), day(2025, 1, 1));
        assert_eq!(product.fen_days, 100_000 * 366);
        assert_eq!(product.interest(Ratio::parse("1.5%").unwrap()), Money::from_fen(1525));
    }

    #[test]
    fn b1_balance_changing_during_the_year() {
        // 1000 from 1 Jan, 3000 from 1 Jul (non-leap 2023): 181 days × 1000 + 184 days × 3000.
        let product = BalanceProduct::start(day(2023, 1, 1)).accrue_to(Money::yuan(1000), day(2023, 7, 1)).accrue_to(Money::yuan(3000), day(2024, 1, 1));
        assert_eq!(product.fen_days, 100_000 * 181 + 300_000 * 184);
        // 733,000 yuan-days × 1.5% / 360 = 30.541666… → 30.54
        assert_eq!(product.interest(Ratio::parse("1.5%").unwrap()), Money::from_fen(3054));
    }

    #[test]
    fn b1_half_up_rounding() {
        // 3 fen-days... choose a product whose interest is exactly x.5 fen:
        // 12,000,000 fen-days × 1.5% / 360 = 500 fen exactly; add 12,000 fen-days → 500.5 → 501.
        let product = BalanceProduct { fen_days: 12_012_000, as_of: day(2024, 1, 1) };
        assert_eq!(product.interest(Ratio::parse("1.5%").unwrap()), Money::from_fen(501));
        let below = BalanceProduct { fen_days: 12_011_999, as_of: day(2024, 1, 1) };
        assert_eq!(below.interest(Ratio::parse("1.5%").unwrap()), Money::from_fen(500));
    }

    #[test]
    fn b1_back_dated_day_accrues_nothing() {
        let product = BalanceProduct::start(day(2024, 5, 1));
        assert_eq!(product.accrue_to(Money::yuan(5), day(2024, 4, 1)), product);
    }
}
