//! Error types of the library.
//!
//! Two families, following the rule "a user never sees a raw internal error":
//! - [`UserError`]: something the user can act on. Its `Display` *is* the text
//!   shown to them (taken from `responses/messages.toml`), and it is logged at
//!   info level only.
//! - [`AppError::Store`] and the storage/content errors: details for the log;
//!   the user gets the short apology from `messages.toml` instead.

use thiserror::Error;

use crate::domain::session::EngineError;
use crate::storage::StoreError;

/// A refusal or notice meant for the user. Handlers show `to_string()` as is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct UserError(pub String);

/// Everything an application use case can fail with.
#[derive(Debug, Error)]
pub enum AppError {
    /// Shown to the user verbatim (ephemeral).
    #[error(transparent)]
    User(#[from] UserError),
    /// The session expired or no longer exists. Shown as the `expired` text;
    /// a team message is also updated to say so.
    #[error("the session expired or no longer exists")]
    Expired,
    /// The click belonged to an older step. Callers re-show the current state,
    /// so the session is carried along.
    #[error("stale click: the session is at revision {current}")]
    Stale { current: u32 },
    /// The store failed; logged with details, the user sees an apology.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// A state-machine rule was broken by input that passed decoding (for
    /// example an option id that is not in the question). Treated as a forged
    /// or outdated component; logged at warn.
    #[error("engine: {0}")]
    Engine(#[from] EngineError),
}
