//! The pure, synchronous domain: the types of the knowledge base and the
//! questionnaire, the consultation state machine and team votes, scoring and
//! free-text search.
//!
//! Nothing here does I/O or imports serenity, sled or tokio; everything is a
//! value in and a value out, so it is tested without Discord and without a
//! disk. Loading `responses/` into these types is `crate::content`'s job.
//!
//! The modules form a DAG (checked by `tests/architecture.rs`), lowest first:
//! - [`framework`]: framework ids and Discord's limits; imports nothing, used by any.
//! - [`advice`], [`labels`]: the advice condition language and sentence templates; the UI labels.
//! - [`knowledge`]: topics, FAQ entries, comparisons, frameworks (uses `advice`, `labels`).
//! - [`questionnaire`]: questions, options, weights, branching (data; knows no session).
//! - [`scoring`]: picks in, a `Recommendation` out (uses the four above).
//! - [`team`]: team votes, their resolution and share-weighted picks (uses `scoring`).
//! - [`session`]: the state machine: answer, back, restart, cancel, votes (uses `team`).
//! - [`search`], [`search_eval`]: free-text questions over the knowledge base.

pub mod advice;
pub mod framework;
pub mod knowledge;
pub mod labels;
pub mod questionnaire;
pub mod scoring;
pub mod search;
pub mod search_eval;
pub mod session;
pub mod team;
