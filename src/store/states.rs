//! The outbox's states as types: a message's status and channel are enums everywhere above the
//! row boundary, and text only in the database (where they are `TEXT` columns, so the two
//! backends read them alike). A value the enum does not know is refused at decoding, never
//! carried around as a string.

use serde::Serialize;
use std::fmt;

/// Makes a text-backed enum: `as_str`, `parse`, `ALL`, `Display`, and decoding from a `TEXT`
/// column on either backend.
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<$name, sqlx::error::BoxDynError> {
                let s = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                $name::parse(s).ok_or_else(|| {
                    format!(concat!("unknown ", stringify!($name), " '{}' in the database"), s).into()
                })
            }
        }
    };
}

text_enum! {
    /// How a message reaches its recipient (and what a citizen can opt out of).
    #[derive(clap::ValueEnum)]
    Channel {
        Sms => "sms",
        Email => "email",
        /// Zalo ZNS: a template message to the phone's Zalo account, SMS behind it.
        Zns => "zns",
    }
}

impl Channel {
    pub(crate) fn opt_out_column(self) -> &'static str {
        match self {
            // ZNS reaches the same phone: a family that said stop to texts wants nothing
            // more on it, so ZNS has no opt-out of its own.
            Channel::Sms | Channel::Zns => "sms_opt_out",
            Channel::Email => "email_opt_out",
        }
    }

    /// Where this channel reaches the person, unless they opted out of it.
    pub fn address_of(self, person: &super::StoredCitizen) -> Option<String> {
        match self {
            Channel::Sms | Channel::Zns if !person.sms_opt_out => {
                person.citizen.phone.as_ref().map(|p| p.e164().to_string())
            }
            Channel::Email if !person.email_opt_out => person
                .citizen
                .email
                .as_ref()
                .map(|e| e.as_str().to_string()),
            _ => None,
        }
    }

    /// Whether it reaches the person's phone (SMS and ZNS share the number and its opt-out).
    pub fn is_phone(self) -> bool {
        matches!(self, Channel::Sms | Channel::Zns)
    }

    /// The channels a message of this one falls back to when it fails for good, in order: the
    /// configured channels after it, then those before it, never itself and never ZNS (a
    /// fallback must carry any text, and ZNS carries only approved templates).
    pub fn fallbacks(self, order: &[Channel]) -> Vec<Channel> {
        let at = order.iter().position(|c| *c == self).unwrap_or(order.len());
        (order.iter().skip(at + 1))
            .chain(order.iter().take(at))
            .copied()
            .filter(|c| *c != self && *c != Channel::Zns)
            .collect()
    }
}

text_enum! {
    /// Where a message is in its life: `queued` → `sending` (leased) → `sent` → `delivered` or
    /// `failed` (a delivery report), or `dead` (failed for good, kept with the reason).
    #[derive(clap::ValueEnum)]
    MessageStatus {
        Queued => "queued",
        Sending => "sending",
        Sent => "sent",
        Delivered => "delivered",
        Failed => "failed",
        Dead => "dead",
        /// Its outbreak alert was cancelled before it went out.
        Cancelled => "cancelled",
    }
}

impl MessageStatus {
    /// As staff read it on the delivery page.
    pub fn label(self, lang: crate::rules::Lang) -> &'static str {
        use crate::rules::Lang::{En, Vi};
        match (self, lang) {
            (MessageStatus::Queued, Vi) => "chờ gửi",
            (MessageStatus::Sending, Vi) => "đang gửi",
            (MessageStatus::Sent, Vi) => "đã gửi",
            (MessageStatus::Delivered, Vi) => "đã đến máy",
            (MessageStatus::Failed, Vi) => "không đến được",
            (MessageStatus::Dead, Vi) => "hỏng, ngừng gửi",
            (MessageStatus::Queued, En) => "queued",
            (MessageStatus::Sending, En) => "sending",
            (MessageStatus::Sent, En) => "sent",
            (MessageStatus::Delivered, En) => "delivered",
            (MessageStatus::Failed, En) => "failed",
            (MessageStatus::Dead, En) => "dead (given up)",
            (MessageStatus::Cancelled, Vi) => "đã huỷ (dừng cảnh báo)",
            (MessageStatus::Cancelled, En) => "cancelled (alert stopped)",
        }
    }

    /// Can staff queue it again?
    pub fn retryable(self) -> bool {
        matches!(self, MessageStatus::Failed | MessageStatus::Dead)
    }
}

text_enum! {
    /// A day's run: `scanning` until its scan reached the end of the registry (leased by one
    /// instance at a time), then `finished`.
    RunStatus {
        Scanning => "scanning",
        Finished => "finished",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips() {
        for s in MessageStatus::ALL {
            assert_eq!(MessageStatus::parse(s.as_str()), Some(*s));
        }
        for c in Channel::ALL {
            assert_eq!(Channel::parse(&c.to_string()), Some(*c));
        }
        assert_eq!(Channel::parse("SMS"), None);
        use Channel::{Email, Sms, Zns};
        assert_eq!(Zns.fallbacks(&[Zns, Sms, Email]), [Sms, Email]);
        assert_eq!(Sms.fallbacks(&[Zns, Sms, Email]), [Email]);
        assert_eq!(Email.fallbacks(&[Zns, Sms, Email]), [Sms]);
        assert_eq!(
            Email.fallbacks(&[Sms, Email]),
            [Sms],
            "wraps round, as before"
        );
        assert_eq!(Sms.fallbacks(&[Sms]), []);
        for r in RunStatus::ALL {
            assert_eq!(RunStatus::parse(r.as_str()), Some(*r));
        }
        assert_eq!(
            serde_json::to_string(&MessageStatus::Dead).unwrap(),
            "\"dead\""
        );
    }
}

text_enum! {
    /// What came of calling a family from the worklist.
    CallOutcome {
        /// "Đã gọi – hẹn ngày…": reached, a day agreed.
        Appointment => "appointment",
        /// "Không liên lạc được".
        Unreachable => "unreachable",
        /// "Chuyển đi": the family has moved away.
        Moved => "moved",
        /// "Từ chối": the family declines.
        Refused => "refused",
        /// "Đã tiêm nơi khác": vaccinated elsewhere (the dose is then recorded with its place).
        Elsewhere => "elsewhere",
    }
}

impl CallOutcome {
    /// As the nurse reads it on the list.
    pub fn label_vi(self) -> &'static str {
        match self {
            CallOutcome::Appointment => "Đã gọi – hẹn ngày",
            CallOutcome::Unreachable => "Không liên lạc được",
            CallOutcome::Moved => "Chuyển đi",
            CallOutcome::Refused => "Từ chối",
            CallOutcome::Elsewhere => "Đã tiêm nơi khác",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            CallOutcome::Appointment => "Called – appointment on",
            CallOutcome::Unreachable => "Could not reach",
            CallOutcome::Moved => "Moved away",
            CallOutcome::Refused => "Declined",
            CallOutcome::Elsewhere => "Vaccinated elsewhere",
        }
    }
}
