//! The frameworks the product compares and the limits Discord imposes on
//! what the bot renders.
//!
//! A leaf: it imports no other domain module, so every module (content
//! validation, scoring, search, team votes) can use these constants without
//! creating an import cycle.

/// The framework ids the product compares; topics have one field for each.
pub const FRAMEWORK_IDS: [&str; 2] = ["django", "flask"];

/// Limits, mostly Discord's (so rendering can never exceed them).
pub mod limits {
    /// Button label and select option label.
    pub const OPTION_LABEL: usize = 80;
    /// Select option description.
    pub const OPTION_DESCRIPTION: usize = 100;
    /// Options in one string select.
    pub const OPTIONS_PER_QUESTION: usize = 25;
    pub const REACTION: usize = 200;
    pub const REASON: usize = 120;
    pub const PROMPT: usize = 200;
    /// Ids travel inside custom_ids (<= 100 characters in all).
    pub const ID: usize = 24;
    /// Embed field value.
    pub const FIELD: usize = 1000;
    pub const SUMMARY: usize = 1500;
    pub const TOPIC_TITLE: usize = 60;
    /// An FAQ question: an embed title, clipped to a button label when related.
    pub const FAQ_QUESTION: usize = 150;
    /// Slash command and option descriptions.
    pub const COMMAND_DESCRIPTION: usize = 100;
    pub const LIST_ITEM: usize = 200;
    pub const TEXT: usize = 1500;
}
