//! The terminal adapters: `chat` (the same App driven from a prompt, numbered
//! choices instead of buttons), `team` (a team consultation with several named
//! voters taking turns in one terminal) and the plain-text renderer they use.

pub mod chat;
pub mod team;
pub mod text;
