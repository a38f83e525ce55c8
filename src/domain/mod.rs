//! The pure, synchronous domain: content (knowledge base and questionnaire),
//! the consultation state machine, scoring and free-text search.
//!
//! Nothing here imports serenity, sled or tokio; everything is a value in and
//! a value out, so it is tested without Discord and without a disk.

pub mod advice;
pub mod content;
pub mod knowledge;
pub mod labels;
pub mod questionnaire;
pub mod scoring;
pub mod search;
pub mod search_eval;
pub mod team;
