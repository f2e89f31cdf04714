//! A submission's status, each object's state and the operation, spelled as /api/v1, the
//! server functions and the database spell them (`snake_case`).
use std::fmt;

use serde::{Deserialize, Serialize};

/// Declares a closed set of names: the enum, its serde spelling, `as_str`, `parse` and
/// `Display`.
macro_rules! names {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value a stored or sent name stands for; `None` for a name this version
            /// does not know.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names! {
    /// Where a submission stands.
    SubmissionStatus {
        AwaitingApproval = "awaiting_approval",
        Applying = "applying",
        Ready = "ready",
        Failed = "failed",
        /// A dry run that every object passed; nothing changed in the cluster.
        Validated = "validated",
        TearingDown = "tearing_down",
        TornDown = "torn_down",
        /// A network admin declined it; nothing was applied.
        Rejected = "rejected",
    }
}

impl SubmissionStatus {
    /// A worker is (or will be) running it.
    pub const fn is_running(self) -> bool {
        matches!(self, SubmissionStatus::Applying | SubmissionStatus::TearingDown)
    }

    /// The status for people: "awaiting approval", "torn down".
    pub const fn in_words(self) -> &'static str {
        match self {
            SubmissionStatus::AwaitingApproval => "awaiting approval",
            SubmissionStatus::Applying => "applying",
            SubmissionStatus::Ready => "ready",
            SubmissionStatus::Failed => "failed",
            SubmissionStatus::Validated => "validated",
            SubmissionStatus::TearingDown => "tearing down",
            SubmissionStatus::TornDown => "torn down",
            SubmissionStatus::Rejected => "rejected",
        }
    }
}

names! {
    /// Where one object of a submission stands.
    ObjectState {
        Pending = "pending",
        Applied = "applied",
        Waiting = "waiting",
        Ready = "ready",
        Failed = "failed",
        Deleted = "deleted",
        /// Not applied because an earlier object failed.
        Skipped = "skipped",
        /// Exists in the cluster and Gatehouse did not create it: the submission applied
        /// nothing.
        Unmanaged = "unmanaged",
        /// Left in the cluster by a teardown: not Gatehouse's to delete.
        Kept = "kept",
    }
}

names! {
    /// What a submission does to the cluster.
    Operation {
        Apply = "apply",
        Teardown = "teardown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back_and_serde_spells_it_the_same() {
        for status in SubmissionStatus::ALL {
            assert_eq!(SubmissionStatus::parse(status.as_str()), Some(*status));
            assert_eq!(serde_json::to_value(status).ok(), Some(serde_json::Value::from(status.as_str())));
            assert!(!status.in_words().contains('_'));
        }
        for state in ObjectState::ALL {
            assert_eq!(ObjectState::parse(state.as_str()), Some(*state));
        }
        assert_eq!(Operation::parse("teardown"), Some(Operation::Teardown));
        assert_eq!(SubmissionStatus::parse("torn down"), None);
    }
}
