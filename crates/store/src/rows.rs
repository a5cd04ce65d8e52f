//! What both backends share to read rows back: [`Columns`], a row read by column name, which
//! each backend implements over its own row type; one reader per record, used by both; and the
//! parses of stored text into domain types (areas, account keys, entry kinds, statuses, dates).
//! Every failure is a [`StoreError::Corrupt`] naming the column or what could not be read,
//! never a panic.
//!
//! A reader names the columns it reads; the SELECTs of both backends give them those names
//! (with `AS` where the column is an expression or would be ambiguous).

use chrono::{DateTime, NaiveDate, Utc};
use gongji_core::interest::BalanceProduct;
use gongji_core::ledger::{EntryKind, Provenance};
use gongji_core::network::{Member, MemberState};
use gongji_core::settlement::{BillSplit, SourceRole, YearTotals};
use gongji_core::states::{
    AreaMessageKind, AreaMessageState, ClearingDirection, ClearingState, InboxOutcome, NetworkEventKind, NotificationKind, NotificationState, QuotaEventKind,
    QuotaSide, QuotaState, RelativeTransferState, Role,
};
use gongji_core::{AccountRef, AreaCode, IdNumber, InsuranceType, Money, Person, PersonAccount, PersonStatus, VisitType};

use crate::*;

/// One row of a result, read by column name. A missing column, a NULL where a value must be, or
/// a value of another type is `Corrupt` naming the column.
pub(crate) trait Columns {
    fn text(&self, name: &str) -> StoreResult<String>;
    fn opt_text(&self, name: &str) -> StoreResult<Option<String>>;
    /// A BIGINT (SQLite: INTEGER).
    fn int(&self, name: &str) -> StoreResult<i64>;
    fn opt_int(&self, name: &str) -> StoreResult<Option<i64>>;
    /// An INTEGER (PostgreSQL: INT4), widened.
    fn int4(&self, name: &str) -> StoreResult<i64>;
    /// A count of attempts (INTEGER, written from a `u32`), read as each backend always has:
    /// SQLite keeps the low 32 bits, PostgreSQL reads a negative count as 0.
    fn attempts(&self, name: &str) -> StoreResult<u32>;
    /// A business date (SQLite: ISO 8601 text; PostgreSQL: DATE).
    fn date(&self, name: &str) -> StoreResult<NaiveDate>;
    fn opt_date(&self, name: &str) -> StoreResult<Option<NaiveDate>>;
    /// An instant (SQLite: RFC 3339 text; PostgreSQL: TIMESTAMPTZ).
    fn instant(&self, name: &str) -> StoreResult<DateTime<Utc>>;
    fn opt_instant(&self, name: &str) -> StoreResult<Option<DateTime<Utc>>>;

    fn fen(&self, name: &str) -> StoreResult<Money> {
        self.int(name).map(Money::from_fen)
    }

    fn area(&self, name: &str) -> StoreResult<AreaCode> {
        parse_area(&self.text(name)?)
    }

    fn account(&self, name: &str) -> StoreResult<AccountRef> {
        parse_account(&self.text(name)?)
    }

    fn entry_kind(&self, name: &str) -> StoreResult<EntryKind> {
        parse_entry_kind(&self.text(name)?)
    }

    fn status(&self, name: &str) -> StoreResult<PersonStatus> {
        parse_status(&self.text(name)?)
    }

    /// A state, kind or role stored as its text (`core::states`): `parse` of the column's
    /// text; a text it does not know is `Corrupt` naming the column and the value.
    fn parsed<T>(&self, name: &str, parse: fn(&str) -> Option<T>) -> StoreResult<T> {
        let text = self.text(name)?;
        parse(&text).ok_or_else(|| corrupt(name, &text))
    }
}

/// The error of a column that does not read as the type asked for.
pub(crate) fn bad_column(name: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("column {name}: {err}"))
}

/// Stored data that does not read back: `what` and the value as stored.
pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value:?}"))
}

pub(crate) fn parse_area(text: &str) -> StoreResult<AreaCode> {
    AreaCode::parse(text).map_err(|_| corrupt("area", text))
}

pub(crate) fn parse_account(key: &str) -> StoreResult<AccountRef> {
    AccountRef::parse_key(key).ok_or_else(|| corrupt("account key", key))
}

pub(crate) fn parse_entry_kind(text: &str) -> StoreResult<EntryKind> {
    EntryKind::parse(text).ok_or_else(|| corrupt("entry kind", text))
}

pub(crate) fn parse_status(text: &str) -> StoreResult<PersonStatus> {
    PersonStatus::parse(text).ok_or_else(|| corrupt("status", text))
}

pub(crate) fn parse_visit(text: &str) -> StoreResult<VisitType> {
    VisitType::parse(text).ok_or_else(|| corrupt("visit", text))
}

pub(crate) fn parse_member_state(text: &str) -> StoreResult<MemberState> {
    MemberState::parse(text).ok_or_else(|| corrupt("member state", text))
}

/// The kind of a person's account (`cur`, `his`, `mut`).
pub(crate) fn parse_person_account(text: &str) -> StoreResult<PersonAccount> {
    PersonAccount::parse(text).ok_or_else(|| corrupt("account kind", text))
}

/// A business date as SQLite stores it (ISO 8601, `YYYY-MM-DD`).
pub(crate) fn date_text(day: NaiveDate) -> String {
    // NaiveDate's Display is ISO 8601 (YYYY-MM-DD) without parsing a format string each time.
    day.to_string()
}

pub(crate) fn parse_date(text: &str) -> StoreResult<NaiveDate> {
    text.parse::<NaiveDate>().map_err(|_| corrupt("date", text))
}

/// An instant as SQLite stores it (RFC 3339).
pub(crate) fn parse_instant(text: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).map_err(|_| corrupt("instant", text))
}

/// Who acted, as recorded (P6).
pub(crate) fn actor_text(provenance: &Provenance) -> String {
    provenance.actor.to_string()
}

/// A daily-balance product as stored (BIGINT fen-days).
pub(crate) fn fen_days_i64(product: &BalanceProduct) -> StoreResult<i64> {
    i64::try_from(product.fen_days).map_err(|_| StoreError::Backend("balance product overflow".into()))
}

// One reader per record, over the columns named in its doc.

/// psn_no, name, id_number, area, insurance, phone, status.
pub(crate) fn person(r: &impl Columns) -> StoreResult<Person> {
    let psn_no = r.text("psn_no")?;
    let id_number = r.text("id_number")?;
    let insurance = r.text("insurance")?;
    Ok(Person {
        id_number: IdNumber::parse(&id_number).map_err(|_| corrupt("id number of", &psn_no))?,
        area: r.area("area")?,
        insurance: InsuranceType::parse(&insurance).ok_or_else(|| corrupt("insurance", &insurance))?,
        status: r.status("status")?,
        name: r.text("name")?,
        phone: r.opt_text("phone")?,
        psn_no,
    })
}

/// from_status, to_status, reason, actor, channel, business_date.
pub(crate) fn status_change(r: &impl Columns) -> StoreResult<StatusChange> {
    Ok(StatusChange {
        from: r.status("from_status")?,
        to: r.status("to_status")?,
        reason: r.text("reason")?,
        actor: r.text("actor")?,
        channel: r.text("channel")?,
        business_date: r.date("business_date")?,
    })
}

/// A balance row's daily-balance product: product_fen_days, product_as_of.
pub(crate) fn product(r: &impl Columns) -> StoreResult<BalanceProduct> {
    Ok(BalanceProduct { fen_days: r.int("product_fen_days")? as i128, as_of: r.date("product_as_of")? })
}

/// The header of entry `id`, without its postings: kind, business_date, recorded_at, actor,
/// channel, memo.
pub(crate) fn entry(r: &impl Columns, id: i64) -> StoreResult<StoredEntry> {
    Ok(StoredEntry {
        id,
        kind: r.entry_kind("kind")?,
        business_date: r.date("business_date")?,
        recorded_at: r.instant("recorded_at")?,
        actor: r.text("actor")?,
        channel: r.text("channel")?,
        memo: r.text("memo")?,
        postings: Vec::new(),
    })
}

/// account_key, amount_fen.
pub(crate) fn posting(r: &impl Columns) -> StoreResult<(AccountRef, Money)> {
    Ok((r.account("account_key")?, r.fen("amount_fen")?))
}

/// entry_id, kind, business_date, amount_fen, memo.
pub(crate) fn statement_line(r: &impl Columns) -> StoreResult<StatementLine> {
    Ok(StatementLine {
        entry_id: r.int("entry_id")?,
        kind: r.entry_kind("kind")?,
        business_date: r.date("business_date")?,
        amount: r.fen("amount_fen")?,
        memo: r.text("memo")?,
    })
}

/// The member `psn_no` of a network: relation, state.
pub(crate) fn member(r: &impl Columns, psn_no: String) -> StoreResult<Member> {
    Ok(Member { psn_no, relation: r.opt_text("relation")?, state: parse_member_state(&r.text("state")?)? })
}

/// An event of `area`: id, network_id, kind, subject, detail, actor, channel, business_date,
/// recorded_at.
pub(crate) fn network_event(r: &impl Columns, area: &AreaCode) -> StoreResult<NetworkEvent> {
    Ok(NetworkEvent {
        id: r.int("id")?,
        event: NewNetworkEvent {
            network_id: r.int("network_id")?,
            area: area.clone(),
            kind: r.parsed("kind", NetworkEventKind::parse)?,
            subject: r.opt_text("subject")?,
            detail: r.text("detail")?,
            actor: r.text("actor")?,
            channel: r.text("channel")?,
            business_date: r.date("business_date")?,
            recorded_at: r.instant("recorded_at")?,
        },
    })
}

/// entry_id, psn_no, kind, business_date, amount_fen, actor, channel.
pub(crate) fn mut_movement(r: &impl Columns) -> StoreResult<MutMovement> {
    Ok(MutMovement {
        entry_id: r.int("entry_id")?,
        psn_no: r.text("psn_no")?,
        kind: r.entry_kind("kind")?,
        business_date: r.date("business_date")?,
        amount: r.fen("amount_fen")?,
        actor: r.text("actor")?,
        channel: r.text("channel")?,
    })
}

/// A settlement header, without its lines and steps: id, institution, bill_id, attempt,
/// patient, visit, bill_date, fingerprint, policy_id, policy_effective_from, network_id, the
/// split's fund_pay_fen, self_borne_fen, first_self_pay_fen, self_funded_fen,
/// deductible_applied_fen, cash_fen, entry_id, cancel_entry_id, cancel_date.
pub(crate) fn settlement(r: &impl Columns) -> StoreResult<StoredSettlement> {
    let id = r.int("id")?;
    let attempt = r.int4("attempt")?;
    let cancelled = match (r.opt_int("cancel_entry_id")?, r.opt_date("cancel_date")?) {
        (Some(entry), Some(day)) => Some((entry, day)),
        (None, None) => None,
        _ => return Err(StoreError::Corrupt(format!("settlement {id} has half a cancel"))),
    };
    Ok(StoredSettlement {
        id,
        institution: r.text("institution")?,
        bill_id: r.text("bill_id")?,
        attempt: u32::try_from(attempt).map_err(|_| corrupt("attempt", &attempt.to_string()))?,
        patient: r.text("patient")?,
        visit: parse_visit(&r.text("visit")?)?,
        bill_date: r.date("bill_date")?,
        fingerprint: r.text("fingerprint")?,
        policy_id: r.text("policy_id")?,
        policy_effective_from: r.date("policy_effective_from")?,
        network_id: r.opt_int("network_id")?,
        split: BillSplit {
            fund_pay: r.fen("fund_pay_fen")?,
            self_borne: r.fen("self_borne_fen")?,
            first_self_pay: r.fen("first_self_pay_fen")?,
            self_funded: r.fen("self_funded_fen")?,
        },
        deductible_applied: r.fen("deductible_applied_fen")?,
        cash: r.fen("cash_fen")?,
        entry_id: r.int("entry_id")?,
        lines: Vec::new(),
        steps: Vec::new(),
        cancelled,
    })
}

/// A settlement line: account_key, role, amount_fen.
pub(crate) fn settlement_line(r: &impl Columns) -> StoreResult<(AccountRef, SourceRole, Money)> {
    Ok((r.account("account_key")?, r.parsed("role", SourceRole::parse_key)?, r.fen("amount_fen")?))
}

/// A settlement step: account_key, role, amount_fen, code, rule, message.
pub(crate) fn settlement_step(r: &impl Columns) -> StoreResult<StoredStep> {
    Ok(StoredStep {
        account: r.opt_text("account_key")?,
        role: r.opt_text("role")?,
        amount: r.fen("amount_fen")?,
        code: r.text("code")?,
        rule: r.text("rule")?,
        message: r.text("message")?,
    })
}

/// deductible_used_fen, fund_paid_fen.
pub(crate) fn year_totals(r: &impl Columns) -> StoreResult<YearTotals> {
    Ok(YearTotals { deductible_used: r.fen("deductible_used_fen")?, fund_paid: r.fen("fund_paid_fen")? })
}

/// id, owner, area, amount_fen, settlement_id, cancel_entry_id, created_date.
pub(crate) fn refund_holding(r: &impl Columns) -> StoreResult<RefundHolding> {
    Ok(RefundHolding {
        id: r.int("id")?,
        holding: NewRefundHolding {
            owner: r.text("owner")?,
            area: r.area("area")?,
            amount: r.fen("amount_fen")?,
            settlement_id: r.int("settlement_id")?,
            cancel_entry_id: r.int("cancel_entry_id")?,
            created_date: r.date("created_date")?,
        },
    })
}

/// `job` for `period`: subject, outcome, recorded_at.
pub(crate) fn job_mark(r: &impl Columns, job: &str, period: &str) -> StoreResult<JobMark> {
    Ok(JobMark {
        job: job.to_string(),
        period: period.to_string(),
        subject: r.text("subject")?,
        outcome: r.text("outcome")?,
        recorded_at: r.instant("recorded_at")?,
    })
}

/// psn_no, amount_fen (not NULL).
pub(crate) fn preset_of(r: &impl Columns) -> StoreResult<(String, Money)> {
    Ok((r.text("psn_no")?, r.fen("amount_fen")?))
}

/// The liquidation of `psn_no`: reason, business_date, principal_fen, interest_fen, payee,
/// entry_id.
pub(crate) fn liquidation(r: &impl Columns, psn_no: &str) -> StoreResult<Liquidation> {
    Ok(Liquidation {
        psn_no: psn_no.to_string(),
        reason: r.text("reason")?,
        business_date: r.date("business_date")?,
        principal: r.fen("principal_fen")?,
        interest: r.fen("interest_fen")?,
        payee: r.text("payee")?,
        entry_id: r.opt_int("entry_id")?,
    })
}

/// id, token_hash, role, area, institution, person, name, created_at, revoked_at.
pub(crate) fn token(r: &impl Columns) -> StoreResult<StoredToken> {
    Ok(StoredToken {
        id: r.int("id")?,
        token: NewToken {
            token_hash: r.text("token_hash")?,
            role: r.parsed("role", Role::parse)?,
            area: r.opt_text("area")?,
            institution: r.opt_text("institution")?,
            person: r.opt_text("person")?,
            name: r.text("name")?,
            created_at: r.instant("created_at")?,
        },
        revoked_at: r.opt_instant("revoked_at")?,
    })
}

/// id, kind, psn_no, recipient, body, secret, reference, state, attempts, last_error, claim,
/// claimed_at, finished_at, created_at.
pub(crate) fn notification(r: &impl Columns) -> StoreResult<Notification> {
    Ok(Notification {
        id: r.int("id")?,
        notification: NewNotification {
            kind: r.parsed("kind", NotificationKind::parse)?,
            psn_no: r.text("psn_no")?,
            recipient: r.text("recipient")?,
            body: r.text("body")?,
            secret: r.opt_text("secret")?,
            reference: r.text("reference")?,
            created_at: r.instant("created_at")?,
        },
        state: r.parsed("state", NotificationState::parse)?,
        attempts: r.attempts("attempts")?,
        last_error: r.opt_text("last_error")?,
        claim: r.opt_text("claim")?,
        claimed_at: r.opt_instant("claimed_at")?,
        finished_at: r.opt_instant("finished_at")?,
    })
}

/// Relative transfer `id`: authoriser, beneficiary, relation, amount_fen, code_salt, code_hash,
/// expires_at, attempts, state, notification_id, entry_id, commitment_accepted_at, actor,
/// channel, business_date, created_at, finished_at.
pub(crate) fn relative_transfer(r: &impl Columns, id: i64) -> StoreResult<RelativeTransferRecord> {
    Ok(RelativeTransferRecord {
        id,
        request: NewRelativeTransfer {
            authoriser: r.text("authoriser")?,
            beneficiary: r.text("beneficiary")?,
            relation: r.text("relation")?,
            amount: r.fen("amount_fen")?,
            code_salt: r.text("code_salt")?,
            code_hash: r.text("code_hash")?,
            expires_at: r.instant("expires_at")?,
            notification_id: r.opt_int("notification_id")?,
            commitment_accepted_at: r.instant("commitment_accepted_at")?,
            actor: r.text("actor")?,
            channel: r.text("channel")?,
            business_date: r.date("business_date")?,
            created_at: r.instant("created_at")?,
        },
        attempts: r.attempts("attempts")?,
        state: r.parsed("state", RelativeTransferState::parse)?,
        entry_id: r.opt_int("entry_id")?,
        finished_at: r.opt_instant("finished_at")?,
    })
}

/// A binding not ended: id, binder, relative, relation, area, actor, channel, business_date,
/// recorded_at.
pub(crate) fn association(r: &impl Columns) -> StoreResult<Association> {
    Ok(Association {
        id: r.int("id")?,
        association: NewAssociation {
            binder: r.text("binder")?,
            relative: r.text("relative")?,
            relation: r.text("relation")?,
            area: r.area("area")?,
            actor: r.text("actor")?,
            channel: r.text("channel")?,
            business_date: r.date("business_date")?,
            recorded_at: r.instant("recorded_at")?,
        },
        ended: None,
    })
}

/// id, uid, side, donor, donor_area, relative, relative_area, relative_name,
/// relative_id_number, relation, state, granted_fen, used_fen, returned_fen, actor, channel,
/// business_date, created_at, ended_at, end_reason.
pub(crate) fn quota(r: &impl Columns) -> StoreResult<QuotaRecord> {
    Ok(QuotaRecord {
        id: r.int("id")?,
        uid: r.text("uid")?,
        side: r.parsed("side", QuotaSide::parse)?,
        donor: r.text("donor")?,
        donor_area: r.area("donor_area")?,
        relative: r.opt_text("relative")?,
        relative_area: r.area("relative_area")?,
        relative_name: r.text("relative_name")?,
        relative_id_number: r.text("relative_id_number")?,
        relation: r.text("relation")?,
        state: r.parsed("state", QuotaState::parse)?,
        granted: r.fen("granted_fen")?,
        used: r.fen("used_fen")?,
        returned: r.fen("returned_fen")?,
        actor: r.text("actor")?,
        channel: r.text("channel")?,
        business_date: r.date("business_date")?,
        created_at: r.instant("created_at")?,
        ended_at: r.opt_instant("ended_at")?,
        end_reason: r.opt_text("end_reason")?,
    })
}

/// quota_uid, side, kind, amount_fen, reference, local_date, entry_id, actor, channel,
/// business_date, recorded_at.
pub(crate) fn quota_event(r: &impl Columns) -> StoreResult<QuotaEvent> {
    Ok(QuotaEvent {
        quota_uid: r.text("quota_uid")?,
        side: r.parsed("side", QuotaSide::parse)?,
        kind: r.parsed("kind", QuotaEventKind::parse)?,
        amount: r.fen("amount_fen")?,
        reference: r.text("reference")?,
        local_date: r.date("local_date")?,
        entry_id: r.opt_int("entry_id")?,
        actor: r.text("actor")?,
        channel: r.text("channel")?,
        business_date: r.date("business_date")?,
        recorded_at: r.instant("recorded_at")?,
    })
}

/// id, from_area, to_area, kind, quota_uid, amount_fen, donor, donor_area, relative,
/// relative_name, relative_id_number, relation, reason, business_date, created_at, state,
/// answer, answered_at.
pub(crate) fn area_message(r: &impl Columns) -> StoreResult<OutboxMessage> {
    Ok(OutboxMessage {
        message: AreaMessage {
            id: r.text("id")?,
            from_area: r.area("from_area")?,
            to_area: r.area("to_area")?,
            kind: r.parsed("kind", AreaMessageKind::parse)?,
            quota_uid: r.text("quota_uid")?,
            amount: r.fen("amount_fen")?,
            donor: r.text("donor")?,
            donor_area: r.area("donor_area")?,
            relative: r.opt_text("relative")?,
            relative_name: r.text("relative_name")?,
            relative_id_number: r.text("relative_id_number")?,
            relation: r.text("relation")?,
            reason: r.text("reason")?,
            business_date: r.date("business_date")?,
            created_at: r.instant("created_at")?,
        },
        state: r.parsed("state", AreaMessageState::parse)?,
        answer: r.opt_text("answer")?,
        answered_at: r.opt_instant("answered_at")?,
    })
}

/// The inbox record of `message_id`: from_area, kind, outcome, code, detail, relative,
/// applied_at.
pub(crate) fn inbox_record(r: &impl Columns, message_id: &str) -> StoreResult<InboxRecord> {
    Ok(InboxRecord {
        message_id: message_id.to_string(),
        from_area: r.area("from_area")?,
        kind: r.parsed("kind", AreaMessageKind::parse)?,
        outcome: r.parsed("outcome", InboxOutcome::parse)?,
        code: r.opt_text("code")?,
        detail: r.text("detail")?,
        relative: r.opt_text("relative")?,
        applied_at: r.instant("applied_at")?,
    })
}

/// message_id, direction, area, counterparty, kind, quota_uid, amount_fen, state, entry_id,
/// business_date, recorded_at.
pub(crate) fn clearing_record(r: &impl Columns) -> StoreResult<ClearingRecord> {
    Ok(ClearingRecord {
        message_id: r.text("message_id")?,
        direction: r.parsed("direction", ClearingDirection::parse)?,
        area: r.area("area")?,
        counterparty: r.area("counterparty")?,
        kind: r.parsed("kind", AreaMessageKind::parse)?,
        quota_uid: r.text("quota_uid")?,
        amount: r.fen("amount_fen")?,
        state: r.parsed("state", ClearingState::parse)?,
        entry_id: r.opt_int("entry_id")?,
        business_date: r.date("business_date")?,
        recorded_at: r.instant("recorded_at")?,
    })
}
