//! The terminal adapters: `chat` (the same App driven from a prompt, numbered
//! choices instead of buttons) and the plain-text renderer it uses.

pub mod chat;
pub mod text;
