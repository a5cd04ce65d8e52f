//! Registering persons (P1), their status (P1, N4), and money in (P5).

use gongji_core::ledger::{EntryKind, JournalEntry};
use gongji_core::network::MemberState;
use gongji_core::states::NetworkEventKind;
use gongji_core::text;
use gongji_core::{AccountRef, Actor, DomainError, ErrorCode, InsuranceType, Money, Person, PersonAccount, PersonStatus, SystemAccount};
use gongji_store::{Store, StoreError, Tx};

use crate::networks::record as record_network_event;
use crate::{load_person, load_person_for, Context, Engine, Error, Result};

/// One credit to import (P5): contributions into CUR, opening balances into HIS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credit {
    pub psn_no: String,
    pub account: PersonAccount,
    pub amount: Money,
    /// The agency's voucher number: the idempotency key of the row, unique per credit.
    pub reference: String,
}

/// What a bulk import did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportSummary {
    pub rows: u64,
    pub written: u64,
    /// Rows already imported before (same reference): skipped, not credited twice.
    pub already_done: u64,
    pub total: Money,
}

/// A refused import: every bad row with its line number. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRefused {
    pub errors: Vec<(u64, DomainError)>,
}

/// Stop collecting errors after this many; a file this broken needs fixing at the source.
pub const IMPORT_ERRORS_MAX: usize = 1000;

/// A credit's reference (voucher number), in bytes.
pub const CREDIT_REFERENCE_LEN_MAX: usize = 64;

#[derive(Debug)]
pub enum ImportError {
    Refused(ImportRefused),
    Store(StoreError),
}

impl From<StoreError> for ImportError {
    fn from(err: StoreError) -> ImportError {
        ImportError::Store(err)
    }
}

impl<S: Store> Engine<S> {
    pub fn register_person(&self, ctx: &Context, person: &Person) -> Result<()> {
        self.store.write(|tx| insert_person(tx, ctx, person))
    }

    /// Registers all rows or none (P5 imports). `progress` is told how many rows are done.
    pub fn import_persons(&self, ctx: &Context, rows: &[(u64, Person)], progress: &dyn Fn(u64)) -> std::result::Result<ImportSummary, ImportError> {
        self.store.write(|tx| {
            let mut errors = Vec::new();
            for (index, (line, person)) in rows.iter().enumerate() {
                match insert_person(tx, ctx, person) {
                    Ok(()) => {}
                    Err(Error::Domain(err)) => errors.push((*line, err)),
                    Err(Error::Store(err)) => return Err(ImportError::Store(err)),
                }
                if errors.len() >= IMPORT_ERRORS_MAX {
                    break;
                }
                progress(index as u64 + 1);
            }
            if !errors.is_empty() {
                return Err(ImportError::Refused(ImportRefused { errors }));
            }
            Ok(ImportSummary { rows: rows.len() as u64, written: rows.len() as u64, already_done: 0, total: Money::ZERO })
        })
    }

    /// Credits all rows or none (P5). A row whose reference was imported before is skipped, so
    /// importing the same file twice credits once.
    pub fn import_credits(&self, ctx: &Context, rows: &[(u64, Credit)], progress: &dyn Fn(u64)) -> std::result::Result<ImportSummary, ImportError> {
        self.store.write(|tx| {
            let mut errors = Vec::new();
            let mut summary = ImportSummary { rows: rows.len() as u64, ..ImportSummary::default() };
            let mut seen = std::collections::HashSet::new();
            for (index, (line, credit)) in rows.iter().enumerate() {
                if !seen.insert(credit.reference.as_str()) {
                    errors.push((
                        *line,
                        DomainError::new(ErrorCode::CreditDuplicate, "P5", format!("reference {:?} appears twice in this file", credit.reference)),
                    ));
                    continue;
                }
                match post_credit(tx, ctx, credit) {
                    Ok(true) => {
                        summary.written += 1;
                        summary.total = summary.total.plus(credit.amount);
                    }
                    Ok(false) => summary.already_done += 1,
                    Err(Error::Domain(err)) => errors.push((*line, err)),
                    Err(Error::Store(err)) => return Err(ImportError::Store(err)),
                }
                if errors.len() >= IMPORT_ERRORS_MAX {
                    break;
                }
                progress(index as u64 + 1);
            }
            if !errors.is_empty() {
                return Err(ImportError::Refused(ImportRefused { errors }));
            }
            Ok(summary)
        })
    }

    /// One credit (P5); `Ok(false)` when its reference was already credited.
    pub fn credit(&self, ctx: &Context, credit: &Credit) -> Result<bool> {
        self.store.write(|tx| post_credit(tx, ctx, credit))
    }

    /// Changes a person's status (P1) and applies what it means for their network: a member
    /// who becomes cancelled or pending liquidation leaves; a promoter's network is dissolved
    /// (seeds/003 五 (一): dissolving makes every member leave; B4). See ARCHITECTURE.md.
    ///
    /// Agency work: an operator at the counter of the person's area, an admin or a job; the
    /// caller is checked before the person is loaded (§12, N11; issue 12, item 8), and the
    /// reason is free text by the one rule (P6, issue 12, item 6).
    pub fn set_status(&self, ctx: &Context, psn_no: &str, status: PersonStatus, reason: &str) -> Result<()> {
        if matches!(ctx.actor, Actor::Person(_) | Actor::Institution(_)) {
            return Err(Error::domain(ErrorCode::AuthForbidden, "§12", "a person's status is changed by the agency"));
        }
        text::check_text("reason", "P6", reason, text::LABEL_CHARS_MAX)?;
        self.store.write(|tx| {
            load_person_for(tx, ctx, psn_no)?;
            set_status_in(tx, ctx, psn_no, status, reason)
        })
    }
}

pub(crate) fn insert_person(tx: &mut dyn Tx, ctx: &Context, person: &Person) -> Result<()> {
    person.validate()?;
    if tx.person(&person.psn_no)?.is_some() {
        return Err(Error::domain(ErrorCode::PersonDuplicate, "P1", format!("psn_no {} is already registered", person.psn_no)));
    }
    if tx.person_by_id_number(person.id_number.as_str())?.is_some() {
        return Err(Error::domain(ErrorCode::PersonDuplicate, "P1", format!("ID number {} is already registered", person.id_number.masked())));
    }
    tx.insert_person(person, &ctx.provenance())?;
    Ok(())
}

pub(crate) fn post_credit(tx: &mut dyn Tx, ctx: &Context, credit: &Credit) -> Result<bool> {
    if !credit.amount.is_positive() {
        return Err(Error::domain(ErrorCode::MoneyInvalidAmount, "P3", "a credit must be greater than zero"));
    }
    // The one text rule (issue 12), and at most 64 bytes in the entry's key.
    text::check_text("reference", "P5", &credit.reference, CREDIT_REFERENCE_LEN_MAX)?;
    if credit.reference.len() > CREDIT_REFERENCE_LEN_MAX {
        return Err(Error::domain(ErrorCode::InputInvalid, "P5", "each credit needs a reference (voucher number) of 1-64 characters"));
    }
    let key = format!("credit:{}", credit.reference);
    if tx.entry_by_key(&key)?.is_some() {
        return Ok(false);
    }
    let person = load_person(tx, &credit.psn_no)?;
    let (kind, source) = match credit.account {
        PersonAccount::Cur => (EntryKind::Contribution, SystemAccount::ContributionInflow),
        PersonAccount::His => (EntryKind::OpeningBalance, SystemAccount::OpeningBalance),
        PersonAccount::Mut | PersonAccount::Quota => {
            return Err(Error::domain(ErrorCode::InputInvalid, "P5", "credits go into CUR (contributions) or HIS (opening balances), never MUT or a quota"))
        }
    };
    if credit.account == PersonAccount::Cur && person.insurance != InsuranceType::Employee {
        return Err(Error::domain(
            ErrorCode::CreditNotEligible,
            "P2",
            format!("only employees receive contributions into a personal account; {} is {}", credit.psn_no, person.insurance),
        ));
    }
    let entry = JournalEntry::transfer(
        kind,
        AccountRef::system(&person.area, source),
        AccountRef::person(&person.psn_no, credit.account),
        credit.amount,
        ctx.provenance(),
        Some(key),
        format!("{} {}", kind, credit.reference),
    )?;
    tx.post(&entry)?;
    Ok(true)
}

pub(crate) fn set_status_in(tx: &mut dyn Tx, ctx: &Context, psn_no: &str, status: PersonStatus, reason: &str) -> Result<()> {
    let person = load_person(tx, psn_no)?;
    if person.status == status {
        return Ok(());
    }
    if person.status == PersonStatus::Cancelled {
        return Err(Error::domain(ErrorCode::PersonStatus, "P1", "a cancelled person's status does not change again"));
    }
    tx.set_person_status(psn_no, status, reason, &ctx.provenance())?;
    crate::quota::on_status_change(tx, ctx, psn_no, status)?;
    if !status.is_closed() {
        return Ok(());
    }
    let Some(network) = tx.network_of(psn_no)? else { return Ok(()) };
    let provenance = ctx.provenance();
    if network.is_promoter(psn_no) {
        for member in network.members.iter().filter(|m| m.psn_no != psn_no) {
            record_network_event(tx, ctx, &network, NetworkEventKind::MemberLeft, Some(&member.psn_no), "network dissolved: promoter's status changed".into())?;
        }
        tx.dissolve_network(network.id, &provenance)?;
        record_network_event(tx, ctx, &network, NetworkEventKind::Dissolved, Some(psn_no), format!("promoter's status became {status} (N4, B4)"))?;
    } else {
        let was = network.member(psn_no).map(|m| m.state).unwrap_or(MemberState::Active);
        tx.end_membership(network.id, psn_no, &provenance)?;
        record_network_event(tx, ctx, &network, NetworkEventKind::MemberLeft, Some(psn_no), format!("status became {status} (N4); was {was}"))?;
    }
    Ok(())
}
