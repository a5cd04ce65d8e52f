//! `gongji gen`: a realistic synthetic store for benchmarks and trials (issue 5): families of 1–6
//! with networks, opening balances, monthly contributions, MUT transfers, presets and a year of
//! settlements, all through the engine's own operations (so every rule holds), many per commit.

use chrono::NaiveDate;
use gongji_core::settlement::{Bill, BillContent, BillSplit};
use gongji_core::{Actor, AreaCode, Channel, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus, VisitType};
use gongji_engine::bulk::Bulk;
use gongji_engine::networks::Added;
use gongji_engine::persons::Credit;
use gongji_engine::{Context, Engine, Result};
use gongji_store::Store;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenOptions {
    pub persons: usize,
    pub area: AreaCode,
    pub year: i32,
    /// Months of contributions and settlements (1–12).
    pub months: u32,
    /// Settlements per person over the whole period, in hundredths (50 = one bill every other person).
    pub bills_per_100_persons: u32,
    pub seed: u64,
    /// Families per transaction.
    pub families_per_commit: usize,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            persons: 10_000,
            area: AreaCode::parse("330200").expect("valid area"),
            year: 2024,
            months: 12,
            bills_per_100_persons: 50,
            seed: 20_240_101,
            families_per_commit: 500,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenSummary {
    pub persons: usize,
    pub families: usize,
    pub networks: usize,
    pub credits: usize,
    pub settlements: usize,
    pub money_in: Money,
}

/// A small deterministic generator (SplitMix64): the same seed gives the same store. Synthetic
/// data only; nothing here is security-relevant.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct Member {
    psn_no: String,
    relation: Option<&'static str>,
    employee: bool,
    /// Opening HIS balance (employees only).
    opening: Money,
}

/// Splits `persons` into families of 1–6 (most of 2–4), the first member the promoter.
fn families(options: &GenOptions, dice: &mut Dice) -> Vec<Vec<Member>> {
    const RELATIONS: [&str; 6] = ["", "spouse", "child", "child", "parent", "parent"];
    let mut families = Vec::new();
    let mut next = 0usize;
    while next < options.persons {
        let size = match dice.below(100) {
            0..=14 => 1,
            15..=44 => 2,
            45..=74 => 3,
            75..=89 => 4,
            90..=96 => 5,
            _ => 6,
        }
        .min(options.persons - next);
        let family = (0..size)
            .map(|index| {
                let employee = index == 0 || dice.below(10) < 7;
                let opening = if employee { Money::from_fen(100 + dice.below(2_000_000) as i64) } else { Money::ZERO };
                Member { psn_no: format!("G{:08}", next + index), relation: (index > 0).then_some(RELATIONS[index]), employee, opening }
            })
            .collect();
        families.push(family);
        next += size;
    }
    families
}

fn birth_date(n: usize, relation: Option<&str>) -> NaiveDate {
    // Unique (area, birth date, sequence) for every n: sequence = n % 1000, and the day is an
    // injective function of n / 1000 (7919 is prime to the 9000-day span).
    let base = match relation {
        Some("child") => NaiveDate::from_ymd_opt(1995, 1, 1),
        Some("parent") => NaiveDate::from_ymd_opt(1935, 1, 1),
        _ => NaiveDate::from_ymd_opt(1960, 1, 1),
    }
    .expect("valid date");
    base + chrono::Days::new(((n / 1000) * 7919 % 9000) as u64)
}

/// Generates the store. `progress` is told how many families are done.
pub fn generate<S: Store>(engine: &Engine<S>, options: &GenOptions, progress: &dyn Fn(u64, u64)) -> Result<GenSummary> {
    let mut dice = Dice(options.seed);
    let families = families(options, &mut dice);
    let months = options.months.clamp(1, 12);
    let mut summary = GenSummary { persons: options.persons, families: families.len(), ..GenSummary::default() };
    let total_steps = (families.len() * (1 + months as usize)) as u64;
    let mut steps_done = 0u64;
    let day = |month: u32, day: u32| NaiveDate::from_ymd_opt(options.year, month, day).expect("valid date");
    let agency = |date| Context::new(Actor::System("gen".into()), Channel::Batch, date);

    // January: persons, opening balances, networks, MUT transfers and presets.
    for chunk in families.chunks(options.families_per_commit.max(1)) {
        let (networks, credits, money) = engine.bulk(|bulk| {
            let (mut networks, mut credits, mut money) = (0, 0, Money::ZERO);
            for family in chunk {
                for member in family {
                    let n: usize = member.psn_no[1..].parse().expect("generated psn_no");
                    register(bulk, &agency(day(1, 1)), options, member, n)?;
                    if member.employee {
                        let credit = Credit {
                            psn_no: member.psn_no.clone(),
                            account: PersonAccount::His,
                            amount: member.opening,
                            reference: format!("gen-open-{}", member.psn_no),
                        };
                        bulk.credit(&agency(day(1, 1)), &credit)?;
                        credits += 1;
                        money = money.plus(member.opening);
                    }
                }
                if family.len() > 1 {
                    networks += build_network(bulk, family, &mut dice, day(1, 2))?;
                }
            }
            Ok((networks, credits, money))
        })?;
        summary.networks += networks;
        summary.credits += credits;
        summary.money_in = summary.money_in.plus(money);
        steps_done += chunk.len() as u64;
        progress(steps_done, total_steps);
    }

    // Each month: contributions on the 15th, then settlements on the 20th.
    let bills_per_month = (options.persons as u64 * options.bills_per_100_persons as u64 / 100 / months as u64) as usize;
    for month in 1..=months {
        for chunk in families.chunks(options.families_per_commit.max(1)) {
            let (credits, money) = engine.bulk(|bulk| {
                let (mut credits, mut money) = (0, Money::ZERO);
                for member in chunk.iter().flatten().filter(|m| m.employee) {
                    let amount = Money::from_fen(20_000 + dice.below(60_000) as i64);
                    let reference = format!("gen-{}-{month:02}-{}", options.year, member.psn_no);
                    bulk.credit(&agency(day(month, 15)), &Credit { psn_no: member.psn_no.clone(), account: PersonAccount::Cur, amount, reference })?;
                    credits += 1;
                    money = money.plus(amount);
                }
                Ok((credits, money))
            })?;
            summary.credits += credits;
            summary.money_in = summary.money_in.plus(money);
            steps_done += chunk.len() as u64;
            progress(steps_done, total_steps);
        }
        let bills: Vec<Bill> = (0..bills_per_month)
            .map(|index| {
                let patient = format!("G{:08}", dice.below(options.persons as u64));
                let visit = [VisitType::Outpatient, VisitType::Pharmacy, VisitType::Inpatient, VisitType::Emergency][dice.below(4) as usize];
                let borne = Money::from_fen(1_000 + dice.below(if visit == VisitType::Inpatient { 500_000 } else { 40_000 }) as i64);
                let fund = Money::from_fen(dice.below(200_000) as i64);
                Bill {
                    institution: format!("H{:04}", dice.below(50)),
                    bill_id: format!("gen-{}-{month:02}-{index}", options.year),
                    patient,
                    visit,
                    date: day(month, 20),
                    content: BillContent::Split(BillSplit { fund_pay: fund, self_borne: borne, ..BillSplit::default() }),
                }
            })
            .collect();
        for chunk in bills.chunks(1000) {
            let hospital = Context::new(Actor::Institution("gen".into()), Channel::Api, day(month, 20));
            let results = engine.settle_many(&hospital, chunk)?;
            summary.settlements += results.iter().filter(|r| r.is_ok()).count();
        }
    }
    Ok(summary)
}

fn register<S: Store>(bulk: &mut Bulk<'_, S>, ctx: &Context, options: &GenOptions, member: &Member, n: usize) -> Result<()> {
    let birth = birth_date(n, member.relation);
    let person = Person {
        psn_no: member.psn_no.clone(),
        name: format!("合成{n}"),
        id_number: IdNumber::compose(options.area.as_str(), birth, (n % 1000) as u16)?,
        area: options.area.clone(),
        insurance: if member.employee { InsuranceType::Employee } else { InsuranceType::Resident },
        phone: Some(format!("139{:08}", n % 100_000_000)),
        status: PersonStatus::Normal,
    };
    bulk.register_person(ctx, &person)
}

/// A network for a family whose promoter has HIS money: every member added (and confirmed when
/// 16 or older), some MUT transfers and presets. Returns 1 if a network was made.
fn build_network<S: Store>(bulk: &mut Bulk<'_, S>, family: &[Member], dice: &mut Dice, date: NaiveDate) -> Result<usize> {
    let promoter = &family[0].psn_no;
    let as_person = |psn: &str| Context::new(Actor::Person(psn.to_string()), Channel::App, date);
    bulk.create_network(&as_person(promoter), promoter)?;
    for member in &family[1..] {
        let added = bulk.add_member(&as_person(promoter), promoter, &member.psn_no, member.relation.expect("members have a relation"))?;
        if added == Added::PendingConfirmation {
            bulk.confirm_member(&as_person(&member.psn_no), &member.psn_no)?;
        }
    }
    for member in family.iter().filter(|m| m.employee) {
        if dice.below(2) == 0 {
            // 10% to 50% of the opening balance.
            let amount = Money::from_fen((member.opening.fen() * (10 + dice.below(41) as i64) / 100).max(1));
            bulk.move_mutual_aid(&as_person(&member.psn_no), &member.psn_no, PersonAccount::His, PersonAccount::Mut, amount)?;
        }
        if dice.below(4) == 0 {
            bulk.set_preset(&as_person(&member.psn_no), &member.psn_no, Some(Money::yuan(100 * (1 + dice.below(5) as i64))))?;
        }
    }
    Ok(1)
}
