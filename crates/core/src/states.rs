//! The states and kinds the family models and the ledger store as text (issue 13: typed seams
//! instead of strings). Each is one `string_enum!` table: its text is what the store keeps and
//! the API shows, and every decision on it is an exhaustive `match`.

use crate::string_enum::string_enum;

string_enum! {
    /// Which record of a quota (X2) this is.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum QuotaSide {
        /// Donor and relative in one area.
        Local => "local",
        /// The donor's area's record of a quota across areas.
        Donor => "donor",
        /// The relative's area's record of a quota across areas.
        Relative => "relative",
    }
}

string_enum! {
    /// The life of a quota record (X2).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum QuotaState {
        Active => "active",
        /// Donor side: the end was sent to the relative's area; the return is awaited.
        Ending => "ending",
        Ended => "ended",
        /// Donor side: the relative's area refused the first grant; the money went back.
        Rejected => "rejected",
    }
}

string_enum! {
    /// What a quota event records (X2-X4).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum QuotaEventKind {
        /// Quota set up or topped up by the donor.
        Grant => "grant",
        /// Spent by the relative on a settlement.
        Use => "use",
        /// Given back to the quota by a cancel (ST8).
        Unuse => "unuse",
        /// Spent on the relative's resident premium (X4).
        Premium => "premium",
        /// Returned to the donor (ended, or refused across areas).
        Return => "return",
        /// Put back after a refused message across areas.
        Compensate => "compensate",
    }
}

string_enum! {
    /// A notification of the outbox (TR3 codes, X2 messages to persons).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum NotificationState {
        Pending => "pending",
        /// Claimed by a sender, which owns it until its lease runs out.
        Sending => "sending",
        Sent => "sent",
        Failed => "failed",
        /// The sender could not tell whether the gateway took it (never sent twice).
        Unknown => "unknown",
        /// No longer worth sending (the code it carries expired or was used).
        Void => "void",
    }
}

string_enum! {
    /// What a notification of the outbox says (TR3).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum NotificationKind {
        /// The one-time code of a relative transfer, to the authoriser.
        TransferCode => "transfer_code",
        /// A relative transfer was carried out.
        TransferDone => "transfer_done",
    }
}

string_enum! {
    /// A relative transfer request (TR1-TR3).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum RelativeTransferState {
        /// Waiting for the one-time code.
        Pending => "pending",
        Confirmed => "confirmed",
        Expired => "expired",
        /// Too many wrong codes.
        Locked => "locked",
    }
}

string_enum! {
    /// A message between planning areas (X2).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum AreaMessageKind {
        QuotaGrant => "quota_grant",
        QuotaEnd => "quota_end",
        QuotaReturn => "quota_return",
    }
}

string_enum! {
    /// A message in the sender's outbox (X2).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum AreaMessageState {
        Pending => "pending",
        Delivered => "delivered",
        Rejected => "rejected",
    }
}

string_enum! {
    /// What the receiving area did with a message (X2).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum InboxOutcome {
        Applied => "applied",
        Rejected => "rejected",
    }
}

string_enum! {
    /// Which way money went between two areas, as one agency books it (X2 clearing).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ClearingDirection {
        Out => "out",
        In => "in",
    }
}

impl ClearingDirection {
    /// The other area's record of the same message has the other direction.
    pub fn opposite(self) -> ClearingDirection {
        match self {
            ClearingDirection::Out => ClearingDirection::In,
            ClearingDirection::In => ClearingDirection::Out,
        }
    }
}

string_enum! {
    /// A clearing record (X2).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ClearingState {
        /// Sent, not yet answered.
        Pending => "pending",
        Confirmed => "confirmed",
        /// Refused and paid back.
        Reversed => "reversed",
    }
}

string_enum! {
    /// What a network event records (N12).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum NetworkEventKind {
        Created => "created",
        MemberAdded => "member_added",
        MemberConfirmed => "member_confirmed",
        MemberRemoved => "member_removed",
        MemberLeft => "member_left",
        Reordered => "reordered",
        Dissolved => "dissolved",
    }
}

string_enum! {
    /// The roles of §12, as an API token grants them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Role {
        /// Acts for one person (self; promoter rights on own network).
        Insured => "insured",
        /// Counter business and batch work of one planning area.
        Operator => "operator",
        /// Its own bills only.
        Institution => "institution",
        Admin => "admin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_from_its_text() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(all: &[T], text: impl Fn(T) -> &'static str, parse: impl Fn(&str) -> Option<T>) {
            for value in all {
                assert_eq!(parse(text(*value)), Some(*value));
            }
            assert_eq!(parse("no such"), None);
        }
        check(QuotaSide::ALL, QuotaSide::as_str, QuotaSide::parse);
        check(QuotaState::ALL, QuotaState::as_str, QuotaState::parse);
        check(QuotaEventKind::ALL, QuotaEventKind::as_str, QuotaEventKind::parse);
        check(NotificationKind::ALL, NotificationKind::as_str, NotificationKind::parse);
        check(NotificationState::ALL, NotificationState::as_str, NotificationState::parse);
        check(RelativeTransferState::ALL, RelativeTransferState::as_str, RelativeTransferState::parse);
        check(AreaMessageKind::ALL, AreaMessageKind::as_str, AreaMessageKind::parse);
        check(AreaMessageState::ALL, AreaMessageState::as_str, AreaMessageState::parse);
        check(InboxOutcome::ALL, InboxOutcome::as_str, InboxOutcome::parse);
        check(ClearingDirection::ALL, ClearingDirection::as_str, ClearingDirection::parse);
        check(ClearingState::ALL, ClearingState::as_str, ClearingState::parse);
        check(NetworkEventKind::ALL, NetworkEventKind::as_str, NetworkEventKind::parse);
        check(Role::ALL, Role::as_str, Role::parse);
        assert_eq!(ClearingDirection::Out.opposite(), ClearingDirection::In);
    }
}
