//! Relative transfer (§7, TR1–TR4; seeds/000 and seeds/001, the Hangzhou 历年账户家庭共济):
//! an employee gives part of their historical account (HIS) to a close relative, whose money it
//! is from then on.
//!
//! Two steps, as in the seeds' seven steps: [`Engine::request_relative_transfer`] (commitment
//! letter accepted, relation, the beneficiary's name and ID number, the amount) checks
//! everything and sends a 6-digit one-time code to the authoriser's registered phone through
//! the notification outbox; [`Engine::confirm_relative_transfer`] with that code moves the money
//! HIS→HIS in one journal entry and sends the success message (seeds/001 第七步). Only a salted
//! SHA-256 of the code is kept; the code is valid [`CODE_VALID_SECS`], allows
//! [`CODE_TRIES_MAX`] wrong tries, and is used once (TR3).

use chrono::{DateTime, Utc};
use gongji_core::ledger::{EntryKind, JournalEntry};
use gongji_core::person::mask_name;
use gongji_core::states::{NotificationKind, NotificationState, RelativeTransferState};
use gongji_core::{AccountRef, ErrorCode, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus};
use gongji_store::{NewNotification, NewRelativeTransfer, NotificationUpdate, RelativeTransferRecord, Store, Tx};
use sha2::{Digest, Sha256};

use crate::outbox::{self, mask_phone};
use crate::{load_person, load_person_for, Context, Engine, Error, Result};

/// TR3: a one-time code is valid this long (5 minutes).
pub const CODE_VALID_SECS: i64 = 300;
/// TR3: wrong codes allowed before the request is locked.
pub const CODE_TRIES_MAX: u32 = 5;
/// TR3: digits of a one-time code.
pub const CODE_DIGITS: u32 = 6;

/// What the authoriser enters (seeds/001 第三步 to 第五步).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelativeTransferRequest {
    pub authoriser: String,
    /// A relation the policy allows (`spouse`, `child`, `parent` in 330100).
    pub relation: String,
    pub beneficiary_name: String,
    pub beneficiary_id_number: String,
    pub amount: Money,
    /// The commitment letter (《个人账户历年资金统筹区内近亲属绑定承诺书》) was accepted.
    pub commitment_accepted: bool,
}

/// A request waiting for its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferTicket {
    pub request_id: i64,
    /// The outbox row carrying the code.
    pub notification_id: i64,
    pub phone_masked: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelativeTransferDone {
    pub request_id: i64,
    pub entry_id: i64,
    pub authoriser: String,
    pub beneficiary: String,
    pub amount: Money,
}

enum Confirmation {
    Done(RelativeTransferDone),
    /// A refusal that must be recorded (a try used up, the request expired) before it is
    /// reported: the transaction commits, then the error is returned.
    Refused(Error),
}

impl<S: Store> Engine<S> {
    /// TR1–TR3: checks the request and sends a one-time code to the authoriser's phone.
    pub fn request_relative_transfer(&self, ctx: &Context, request: &RelativeTransferRequest) -> Result<TransferTicket> {
        self.store.write(|tx| {
            let authoriser = load_person_for(tx, ctx, &request.authoriser)?;
            let policy = self.policy(&authoriser.area, ctx.business_date)?;
            if !policy.models.relative_transfer {
                return Err(Error::domain(
                    ErrorCode::NetworkModelDisabled,
                    "§4",
                    format!("policy {} of area {} has no relative-transfer model", policy.id, authoriser.area),
                ));
            }
            if !request.commitment_accepted {
                return Err(Error::domain(ErrorCode::TransferCommitmentRequired, "TR3", "the commitment letter (承诺书) must be read and accepted first"));
            }
            if policy.relation(&request.relation).is_none() {
                return Err(Error::domain(
                    ErrorCode::NetworkRelationNotAllowed,
                    "TR1",
                    format!("relation {:?} is not allowed by policy {}", request.relation, policy.id),
                ));
            }
            let beneficiary = check_transfer(tx, &authoriser, &request.beneficiary_name, &request.beneficiary_id_number, request.amount)?;
            let Some(phone) = authoriser.phone.clone() else {
                return Err(Error::domain(ErrorCode::TransferNotEligible, "TR3", "the authoriser has no registered phone to receive the code"));
            };
            let code = outbox::random_digits(CODE_DIGITS)?;
            let salt = outbox::random_hex(16)?;
            let expires_at = ctx.now + chrono::Duration::seconds(CODE_VALID_SECS);
            let notification_id = tx.insert_notification(&NewNotification {
                kind: NotificationKind::TransferCode,
                psn_no: authoriser.psn_no.clone(),
                recipient: phone.clone(),
                body: format!(
                    "【医保】您正在办理历年账户家庭共济划转，向{}转出{}元。验证码{{code}}，{}分钟内有效，请勿告诉他人。",
                    mask_name(&beneficiary.name),
                    request.amount,
                    CODE_VALID_SECS / 60
                ),
                secret: Some(code.clone()),
                reference: "relative_transfer".into(),
                created_at: ctx.now,
            })?;
            let request_id = tx.insert_relative_transfer(&NewRelativeTransfer {
                authoriser: authoriser.psn_no.clone(),
                beneficiary: beneficiary.psn_no.clone(),
                relation: request.relation.clone(),
                amount: request.amount,
                code_hash: code_hash(&salt, &code),
                code_salt: salt,
                expires_at,
                notification_id: Some(notification_id),
                commitment_accepted_at: ctx.now,
                actor: ctx.actor.to_string(),
                channel: ctx.channel.as_str().to_string(),
                business_date: ctx.business_date,
                created_at: ctx.now,
            })?;
            Ok(TransferTicket { request_id, notification_id, phone_masked: mask_phone(&phone), expires_at })
        })
    }

    /// TR2–TR4: with the right code, moves the money HIS→HIS in one entry. A wrong code uses up
    /// a try (five in all); an expired, locked or used request refuses every code.
    pub fn confirm_relative_transfer(&self, ctx: &Context, authoriser: &str, request_id: i64, code: &str) -> Result<RelativeTransferDone> {
        let confirmation = self.store.write(|tx| {
            load_person_for(tx, ctx, authoriser)?;
            let invalid = |why: &str| Ok::<_, Error>(Confirmation::Refused(Error::domain(ErrorCode::TransferCodeInvalid, "TR3", why.to_string())));
            let Some(record) = tx.relative_transfer(request_id)?.filter(|r| r.request.authoriser == authoriser) else {
                return invalid("no transfer of this authoriser waits for a code under this number");
            };
            match record.state {
                RelativeTransferState::Pending => {}
                RelativeTransferState::Confirmed | RelativeTransferState::Expired | RelativeTransferState::Locked => {
                    return invalid(&format!("this code can no longer be used (the transfer is {})", record.state));
                }
            }
            if ctx.now >= record.request.expires_at {
                finish(tx, ctx, &record, RelativeTransferState::Expired, record.attempts, None)?;
                return invalid("the code has expired (valid 5 minutes); ask for a new one");
            }
            let well_formed = code.len() == CODE_DIGITS as usize && code.bytes().all(|b| b.is_ascii_digit());
            if !well_formed || !constant_time_eq(code_hash(&record.request.code_salt, code).as_bytes(), record.request.code_hash.as_bytes()) {
                let attempts = record.attempts + 1;
                if attempts >= CODE_TRIES_MAX {
                    finish(tx, ctx, &record, RelativeTransferState::Locked, attempts, None)?;
                    return invalid("wrong code; no tries left, ask for a new one");
                }
                tx.update_relative_transfer(record.id, RelativeTransferState::Pending, attempts, None, ctx.now)?;
                return invalid(&format!("wrong code; {} tries left", CODE_TRIES_MAX - attempts));
            }
            // The right code: the rules are checked again at the moment the money moves.
            let authoriser_person = load_person(tx, authoriser)?;
            let beneficiary = load_person(tx, &record.request.beneficiary)?;
            check_transfer(tx, &authoriser_person, &beneficiary.name, beneficiary.id_number.as_str(), record.request.amount)?;
            let entry = JournalEntry::transfer(
                EntryKind::RelativeTransfer,
                AccountRef::person(authoriser, PersonAccount::His),
                AccountRef::person(&beneficiary.psn_no, PersonAccount::His),
                record.request.amount,
                ctx.provenance(),
                Some(format!("relative_transfer:{}", record.id)),
                format!("relative transfer {} ({})", record.id, record.request.relation),
            )?;
            let entry_id = tx.post(&entry)?;
            finish(tx, ctx, &record, RelativeTransferState::Confirmed, record.attempts, Some(entry_id))?;
            if let Some(phone) = &authoriser_person.phone {
                tx.insert_notification(&NewNotification {
                    kind: NotificationKind::TransferDone,
                    psn_no: authoriser.to_string(),
                    recipient: phone.clone(),
                    body: format!("【医保】您向{}划转历年账户资金{}元已办理成功。", mask_name(&beneficiary.name), record.request.amount),
                    secret: None,
                    reference: format!("relative_transfer:{}", record.id),
                    created_at: ctx.now,
                })?;
            }
            Ok(Confirmation::Done(RelativeTransferDone {
                request_id: record.id,
                entry_id,
                authoriser: authoriser.to_string(),
                beneficiary: beneficiary.psn_no.clone(),
                amount: record.request.amount,
            }))
        })?;
        match confirmation {
            Confirmation::Done(done) => Ok(done),
            Confirmation::Refused(err) => Err(err),
        }
    }

    pub fn relative_transfer(&self, request_id: i64) -> Result<Option<RelativeTransferRecord>> {
        self.store.read(|tx| Ok(tx.relative_transfer(request_id)?))
    }
}

/// TR1, TR2: the authoriser may give `amount` of HIS to the person registered with this name
/// and ID number. Returns the beneficiary.
fn check_transfer(tx: &mut dyn Tx, authoriser: &Person, name: &str, id_number: &str, amount: Money) -> Result<Person> {
    if authoriser.insurance != InsuranceType::Employee {
        return Err(Error::domain(ErrorCode::TransferNotEligible, "TR1", "only insured employees have a historical account (HIS) to give"));
    }
    if authoriser.status != PersonStatus::Normal {
        return Err(Error::domain(ErrorCode::PersonStatus, "TR1", format!("the authoriser's status is {}, not normal", authoriser.status)));
    }
    if !amount.is_positive() {
        return Err(Error::domain(ErrorCode::MoneyInvalidAmount, "TR1", "the amount must be greater than zero"));
    }
    let his = tx.balance(&AccountRef::person(&authoriser.psn_no, PersonAccount::His))?;
    if his < amount {
        return Err(Error::domain(ErrorCode::MoneyInsufficient, "TR1", format!("the historical account holds {his}, less than {amount}")));
    }
    let id_number = IdNumber::parse(id_number.trim())?;
    let mismatch = || Error::domain(ErrorCode::TransferIdentityMismatch, "TR2", "the name and ID number do not match an insured person");
    let beneficiary = tx.person_by_id_number(id_number.as_str())?.ok_or_else(mismatch)?;
    if beneficiary.name != name.trim() {
        return Err(mismatch());
    }
    if beneficiary.psn_no == authoriser.psn_no {
        return Err(Error::domain(ErrorCode::TransferNotEligible, "TR2", "a transfer goes to a relative, not to oneself"));
    }
    if beneficiary.area != authoriser.area {
        return Err(Error::domain(
            ErrorCode::NetworkOtherArea,
            "TR2",
            format!("the beneficiary is insured in {}, the authoriser in {}", beneficiary.area, authoriser.area),
        ));
    }
    if beneficiary.status.is_closed() {
        return Err(Error::domain(ErrorCode::PersonStatus, "TR2", format!("the beneficiary's status is {}", beneficiary.status)));
    }
    Ok(beneficiary)
}

/// Ends a request and voids its code message if it was not sent yet (a code that can no
/// longer be used is not worth sending, and its text is then gone from the outbox).
fn finish(tx: &mut dyn Tx, ctx: &Context, record: &RelativeTransferRecord, state: RelativeTransferState, attempts: u32, entry_id: Option<i64>) -> Result<()> {
    tx.update_relative_transfer(record.id, state, attempts, entry_id, ctx.now)?;
    if let Some(notification_id) = record.request.notification_id {
        let void = NotificationUpdate { state: NotificationState::Void, attempts: 0, last_error: None, clear_secret: true, at: ctx.now };
        tx.update_notification(notification_id, NotificationState::Pending, None, &void)?;
    }
    Ok(())
}

/// SHA-256 of the salt and the code, hex. The salt is 128 random bits per request, so equal
/// codes of two requests hash differently and a table of all 10^6 codes is of no use.
fn code_hash(salt: &str, code: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(b":");
    hasher.update(code.as_bytes());
    outbox::hex(&hasher.finalize())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tr3_code_hashes_are_salted() {
        assert_eq!(code_hash("s1", "123456"), code_hash("s1", "123456"));
        assert_ne!(code_hash("s1", "123456"), code_hash("s2", "123456"));
        assert_eq!(code_hash("s", "000000").len(), 64);
        assert!(constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"ab", b"abc"));
    }
}
