//! # framework-advisor
//!
//! A Discord bot (and a terminal mode) that helps teams choose between Django
//! and Flask: quick answers from a knowledge base, and a guided consultation
//! that ends in a recommendation that explains itself.
//!
//! # Layout
//! - [`domain`]: pure and synchronous, no I/O, an acyclic module graph: framework ids and
//!   limits, knowledge and questionnaire types, the consultation state machine and team votes,
//!   scoring, free-text search.
//! - [`content`]: loads and validates `responses/` into domain types (the one module that reads
//!   files).
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
//! Dependencies point down only: `main -> cli/discord -> app -> content, domain, storage`;
//! `content -> domain`, never the reverse.

pub mod app;
pub mod cli;
pub mod config;
pub mod content;
pub mod discord;
pub mod domain;
pub mod error;
pub mod interactions;
pub mod ops;
pub mod present;
pub mod storage;
