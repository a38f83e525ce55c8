//! Test support shared by the end-to-end tests.
//!
//! - [`fake_discord`]: a fake Discord (REST + gateway) on 127.0.0.1 that the real serenity
//!   client connects to; it records what the bot sends and refuses surprises.
//! - [`interaction_builder`]: what Discord sends the bot (commands, autocomplete, clicks), built
//!   only from what the bot registered and rendered; every transport of the fake uses it.
//! - [`spec`]: validation of the bot's request bodies against Discord's OpenAPI spec
//!   (`tests/fixtures/openapi.json`) and the documented limits the spec omits.
//! - [`bot`]: the real bot run in-process against the fake, and clicking what it rendered.
//! - [`multipart`]: multipart message bodies (files beside `payload_json`) and their checks.
//! - [`flows`]: steps of a consultation shared by the end-to-end tests (team votes, the
//!   session behind a message, waiting for REST traffic to settle).
//!
//! - [`http_sender`]: the fake as Discord's HTTP interactions sender (signs with a test key).
//! - [`serve`]: the real bot in `serve` mode (HTTP interactions), in-process or as processes.
//!
//! Each test binary compiles this module separately and uses only part of it.
#![allow(dead_code, unused_imports)]

pub mod bot;
pub mod fake_discord;
pub mod flows;
pub mod http_sender;
pub mod interaction_builder;
pub mod multipart;
pub mod pg;
pub mod process;
pub mod serve;
pub mod slow_store;
pub mod spec;

pub use fake_discord::{FakeDiscord, FakeMessage, FakeUser, Recorded};
