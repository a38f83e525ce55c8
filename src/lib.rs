//! # framework-advisor
//!
//! A Discord bot (and a terminal mode) that helps teams choose between Django
//! and Flask: quick answers from a knowledge base, and a guided consultation
//! that ends in a recommendation that explains itself.
//!
//! # Layout
//! - [`domain`]: pure and synchronous: content loading and validation, the
//!   questionnaire state machine, scoring, free-text search.
//! - [`storage`]: the `SessionStore` trait, its backend-neutral rules, and the sled and PostgreSQL backends.
//! - [`app`]: use cases (ask, compare, consult...) returning transport-neutral values.
//! - [`config`]: typed configuration: defaults < TOML file < environment.
//! - [`cli`]: the terminal mode (`chat`, team simulation) and its text renderer.
//! - [`interactions`]: the transport-neutral interaction pipeline (rate limit, dispatch,
//!   deferral, delivery, team message refresh) under both transports.
//! - [`discord`]: the serenity adapter: commands, custom_id codec, dispatch, render, and the two
//!   transports: `gateway` (`run`) and `http` (`serve`).
//! - [`error`]: user-facing vs internal errors.
//! - [`ops`]: metrics, health and per-user rate limiting.
//! - [`present`]: view models (what is shown) shared by the Discord and terminal
//!   renderers, the PNG chart and the Markdown decision record.
//!
//! Dependencies point down only: `main -> cli/discord -> app -> domain, storage`.

pub mod app;
pub mod cli;
pub mod config;
pub mod discord;
pub mod domain;
pub mod error;
pub mod interactions;
pub mod ops;
pub mod present;
pub mod storage;
