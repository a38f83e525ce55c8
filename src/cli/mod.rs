//! The terminal adapters: `chat` (the same App driven from a prompt, numbered
//! choices instead of buttons), `team` (a team consultation with several named
//! voters taking turns in one terminal), the plain-text renderer they use, and
//! the result files (`--chart`, `--record`).

pub mod chat;
pub mod files;
pub mod team;
pub mod text;
