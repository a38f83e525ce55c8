//! Hostile and malformed input, from the codec up to the real bot.
//!
//! - (a) The custom_id codec (`ComponentId: FromStr`) on arbitrary strings and on mutations of
//!   valid ids: never panics, rejects ids over 100 characters, and whatever parses is canonical
//!   (prints back to exactly the text it was parsed from, so no id has two spellings).
//! - (b) `dispatch::handle` on serenity `Interaction`s deserialized from generated payloads:
//!   valid commands, autocompletes and clicks (clicks reuse the ids the bot rendered, so
//!   consultations really progress), mutated ids, hostile option values, wrong option types,
//!   unknown commands and component types, mangled JSON. Payloads serenity refuses are skipped,
//!   as the gateway client does. Every response must serialize to a callback body Discord
//!   accepts (`spec::validate_callback`), team refreshes to a valid edit; afterwards the store
//!   must reopen with every record decoding and its indexes and counters consistent.
//! - (c) `/ask` (and topic options, autocomplete) with 6000 characters, zero-width and RTL text,
//!   `@everyone`, only whitespace, through the real bot and the fake Discord.
//! - (d) Unknown commands, subcommands and component types through the real bot.

mod support;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, RngSeed, TestCaseError, TestRunner};
use serde_json::{json, Value};
use serenity::all::Interaction;

use framework_advisor::app::{App, SystemClock};
use framework_advisor::content::Content;
use framework_advisor::discord::custom_id::{ComponentId, ParseError, MAX_LEN};
use framework_advisor::discord::dispatch::{self, After};
use framework_advisor::discord::render;
use framework_advisor::domain::session::Status;
use framework_advisor::error::AppError;
use framework_advisor::storage::{SessionStore, SledStore};
use support::bot::{answer_for, command, responses_dir, Bot, WAIT};
use support::flows::{consult, session_of, stored, team_start};
use support::{spec, FakeDiscord, FakeUser};

const EPHEMERAL: u64 = 64;

/// `PROPTEST_CASES` when set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Fixed seed, so every run checks the same cases; `PROPTEST_RNG_SEED` explores others.
fn config(cases: u32) -> PtConfig {
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED_F00D);
    PtConfig {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        // Failures print the case; nothing is written into the source tree.
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..PtConfig::default()
    }
}

// =============================================================================== (a) codec

// Strings are built from seeds with `Mix` (below): proptest's regex strategies cost tens of
// microseconds a string in a debug build, which would make 100_000 cases take a minute.

const TOKEN: &[char] = &[
    'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w',
    'x', 'y', 'z', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '_',
];

/// `[a-z0-9_]{1,max}`.
fn token(m: &mut Mix, max: usize) -> String {
    (0..1 + m.below(max)).map(|_| m.pick(TOKEN)).collect()
}

/// The action part of a consultation (`c`) or team (`v`) id.
fn tail(m: &mut Mix, kind: char) -> String {
    let fixed: &[&str] = if kind == 'c' {
        &["s", "b", "r", "x", "share"]
    } else {
        &["s", "n", "b", "f", "x", "me"]
    };
    if m.below(3) == 0 {
        format!("a:{}", token(m, 24))
    } else {
        m.pick(fixed).to_string()
    }
}

fn tail_strategy() -> BoxedStrategy<String> {
    (any::<bool>(), any::<u64>())
        .prop_map(|(team, seed)| tail(&mut Mix(seed), if team { 'v' } else { 'c' }))
        .boxed()
}

/// Valid ids, written out by hand (not through `Display`) so the codec is checked against
/// the documented form rather than against itself.
fn valid_id() -> BoxedStrategy<String> {
    (
        any::<u8>(),
        any::<u64>(),
        prop_oneof![0u32..20, any::<u32>(), Just(u32::MAX)],
    )
        .prop_map(|(kind, seed, revision)| {
            let mut m = Mix(seed);
            match kind % 8 {
                k @ 0..=5 => {
                    let kind = if k < 3 { 'c' } else { 'v' };
                    let session = token(&mut m, 32);
                    format!("fa1:{kind}:{session}:{revision}:{}", tail(&mut m, kind))
                }
                6 => format!("fa1:t:{}", token(&mut m, 24)),
                _ => m.pick(&["fa1:new", "fa1:f:y", "fa1:f:n"]).to_string(),
            }
        })
        .boxed()
}

/// Text shaped like ids: the right alphabet and separators, random structure, numbers with
/// signs, leading zeros and overflow.
fn id_like_from(seed: u64) -> String {
    let mut m = Mix(seed);
    let mut out = m
        .pick(&["fa1", "fa1", "fa1", "fa2", "FA1", "fa", "", "fa1 "])
        .to_string();
    for _ in 0..m.below(8) {
        out.push(':');
        let seg = match m.below(6) {
            0 | 1 => m
                .pick(&[
                    "c", "v", "t", "f", "new", "a", "s", "b", "r", "x", "n", "me", "share", "y",
                ])
                .to_string(),
            2 => m
                .pick(&[
                    "0",
                    "01",
                    "+1",
                    "-1",
                    "4294967295",
                    "4294967296",
                    "99999999999",
                    " 1",
                    "1 ",
                ])
                .to_string(),
            3 => (m.next() % 5_000_000_000).to_string(),
            4 => String::new(),
            _ => (0..m.below(9))
                .map(|_| m.pick(&['a', 'z', '0', '9', '_', '+', '-', ' ', 'A']))
                .collect(),
        };
        out.push_str(&seg);
    }
    out
}

fn id_like() -> BoxedStrategy<String> {
    any::<u64>().prop_map(id_like_from).boxed()
}

/// Anything: arbitrary scalar values, id-shaped text with hostile characters around it, and
/// lengths around the 100-byte limit.
fn arbitrary_text() -> BoxedStrategy<String> {
    (0u8..6, any::<u64>())
        .prop_map(|(kind, seed)| {
            let mut m = Mix(seed);
            match kind {
                0 => (0..m.below(121)).map(|_| m.any_char()).collect(),
                1 | 2 => id_like_from(m.next()),
                3 => {
                    let hostile = m.pick(HOSTILE);
                    let id = id_like_from(m.next());
                    if m.below(2) == 0 {
                        format!("{id}{hostile}")
                    } else {
                        format!("{hostile}{id}")
                    }
                }
                4 => {
                    // Near the limit, in bytes: multi-byte characters make chars < bytes.
                    let mut id = format!("fa1:c:{}:1:a:", token(&mut m, 32));
                    let target = 95 + m.below(12);
                    while id.len() < target {
                        id.push(if m.below(5) == 0 { 'é' } else { m.pick(TOKEN) });
                    }
                    id
                }
                _ => text_from(m.below(9) as u8, m.next(), 120),
            }
        })
        .boxed()
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, char),
    Delete(usize),
    Replace(usize, char),
    Swap(usize, usize),
    Truncate(usize),
    DuplicateSegment(usize),
    DropSegment(usize),
    Upper(usize),
    Pad(String),
}

/// One mutation, built from a seed (cheap to generate; a failure prints the mutated text).
fn mutation_from(seed: u64) -> Mutation {
    let mut m = Mix(seed);
    let interesting = |m: &mut Mix| {
        if m.below(2) == 0 {
            m.any_char()
        } else {
            m.pick(&[
                ':', '0', '9', '_', 'a', 'A', '+', '-', ' ', '\u{200B}', '\u{202E}', '\0', 'é', '٣',
            ])
        }
    };
    let p = m.next() as usize;
    match m.below(9) {
        0 => Mutation::Insert(p, interesting(&mut m)),
        1 => Mutation::Delete(p),
        2 => Mutation::Replace(p, interesting(&mut m)),
        3 => Mutation::Swap(p, m.next() as usize),
        4 => Mutation::Truncate(p),
        5 => Mutation::DuplicateSegment(p),
        6 => Mutation::DropSegment(p),
        7 => Mutation::Upper(p),
        _ => Mutation::Pad(
            (0..1 + m.below(80))
                .map(|_| m.pick(&[':', 'a', 'z', '0', '9']))
                .collect(),
        ),
    }
}

fn mutation() -> BoxedStrategy<Mutation> {
    any::<u64>().prop_map(mutation_from).boxed()
}

fn mutate(text: &str, m: &Mutation) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = |p: usize, len: usize| if len == 0 { 0 } else { p % len };
    match m {
        Mutation::Insert(p, c) => {
            let i = p % (chars.len() + 1);
            chars.insert(i, *c);
        }
        Mutation::Delete(p) if !chars.is_empty() => {
            chars.remove(at(*p, chars.len()));
        }
        Mutation::Replace(p, c) if !chars.is_empty() => {
            let i = at(*p, chars.len());
            chars[i] = *c;
        }
        Mutation::Swap(a, b) if !chars.is_empty() => {
            let (a, b) = (at(*a, chars.len()), at(*b, chars.len()));
            chars.swap(a, b);
        }
        Mutation::Truncate(p) => chars.truncate(p % (chars.len() + 1)),
        Mutation::DuplicateSegment(p) | Mutation::DropSegment(p) => {
            let mut segs: Vec<String> = text.split(':').map(String::from).collect();
            let i = at(*p, segs.len());
            if matches!(m, Mutation::DuplicateSegment(_)) {
                segs.insert(i, segs[i].clone());
            } else if segs.len() > 1 {
                segs.remove(i);
            }
            return segs.join(":");
        }
        Mutation::Upper(p) if !chars.is_empty() => {
            let i = at(*p, chars.len());
            chars[i] = chars[i].to_ascii_uppercase();
        }
        Mutation::Pad(s) => return format!("{text}{s}"),
        _ => {}
    }
    chars.into_iter().collect()
}

/// The codec's contract for any input text.
fn check_codec(text: &str) -> Result<(), TestCaseError> {
    match text.parse::<ComponentId>() {
        Ok(id) => {
            let printed = id.to_string();
            prop_assert_eq!(&printed, text, "whatever parses is canonical");
            prop_assert!(printed.len() <= MAX_LEN);
            prop_assert_eq!(printed.parse::<ComponentId>(), Ok(id));
        }
        Err(ParseError::TooLong(n)) => {
            prop_assert_eq!(n, text.len());
            prop_assert!(n > MAX_LEN, "TooLong only over {} bytes: {}", MAX_LEN, n);
        }
        Err(ParseError::Unknown) => prop_assert!(text.len() <= MAX_LEN, "over-long text is TooLong"),
    }
    Ok(())
}

proptest! {
    // 3 properties x 40_000 = 120_000 cases by default.
    #![proptest_config(config(cases(40_000)))]

    #[test]
    fn codec_valid_ids_round_trip(text in valid_id()) {
        let id = text.parse::<ComponentId>();
        prop_assert!(id.is_ok(), "{:?} is valid: {:?}", text, id);
        check_codec(&text)?;
    }

    #[test]
    fn codec_arbitrary_text_never_panics(text in arbitrary_text()) {
        check_codec(&text)?;
    }

    #[test]
    fn codec_mutations_of_valid_ids_are_canonical_or_rejected(
        text in valid_id(),
        seeds in (any::<u64>(), any::<u64>(), any::<u64>(), 1usize..4),
    ) {
        let mutations: Vec<Mutation> = [seeds.0, seeds.1, seeds.2][..seeds.3].iter().map(|s| mutation_from(*s)).collect();
        let original = text.parse::<ComponentId>().expect("valid");
        let mut mutated = text.clone();
        for m in &mutations {
            mutated = mutate(&mutated, m);
        }
        check_codec(&mutated)?;
        if let Ok(id) = mutated.parse::<ComponentId>() {
            if mutated != text {
                prop_assert_ne!(id, original, "two spellings of one id: {:?} and {:?}", text, mutated);
            }
        }
    }
}

// ===================================================================== (b) dispatch fuzz

const USERS: [u64; 4] = [
    1_000_000_000_000_000_501,
    1_000_000_000_000_000_502,
    1_000_000_000_000_000_503,
    1_000_000_000_000_000_504,
];
const CHANNELS: [u64; 2] = [FakeDiscord::CHANNEL_ID, FakeDiscord::CHANNEL_ID + 100];
const MANAGE_GUILD: u64 = 1 << 5;

/// Who sends an interaction, and from where.
#[derive(Debug, Clone)]
struct Who {
    user: usize,
    /// On a click: be the owner of the session the id names, if there is one (most clicks
    /// come from the user the message was for, which lets consultations reach their end).
    as_owner: bool,
    dm: bool,
    admin: bool,
    nick: Option<String>,
    global_name: Option<String>,
    channel: usize,
}

#[derive(Debug, Clone)]
enum Opt {
    Str { name: String, value: String, focused: bool },
    Int { name: String, value: i64 },
    Bool { name: String, value: bool },
    Num { name: String, value: f64 },
    Sub { name: String, options: Vec<Opt> },
    Group { name: String, options: Vec<Opt> },
}

impl Opt {
    fn json(&self) -> Value {
        match self {
            Opt::Str { name, value, focused } => {
                let mut v = json!({ "type": 3, "name": name, "value": value });
                if *focused {
                    v["focused"] = json!(true);
                }
                v
            }
            Opt::Int { name, value } => json!({ "type": 4, "name": name, "value": value }),
            Opt::Bool { name, value } => json!({ "type": 5, "name": name, "value": value }),
            Opt::Num { name, value } => json!({ "type": 10, "name": name, "value": value }),
            Opt::Sub { name, options } => {
                json!({ "type": 1, "name": name, "options": options.iter().map(Opt::json).collect::<Vec<_>>() })
            }
            Opt::Group { name, options } => {
                json!({ "type": 2, "name": name, "options": options.iter().map(Opt::json).collect::<Vec<_>>() })
            }
        }
    }
}

/// A change to a custom_id the bot rendered.
#[derive(Debug, Clone)]
enum IdMut {
    Keep,
    Revision(i64),
    OtherSession(usize),
    Text(Mutation),
}

#[derive(Debug, Clone)]
enum Target {
    /// An answer (or a team's Next) from the newest responses: the happy path, so that
    /// consultations reach their recommendation.
    Answer {
        pick: usize,
    },
    /// An id from one of the last responses (what a user most likely clicks), maybe changed.
    Recent {
        pick: usize,
        change: IdMut,
    },
    /// An id the bot rendered earlier (index into the pool), maybe changed.
    Rendered {
        pick: usize,
        change: IdMut,
    },
    /// An id built from parts, the session maybe a real one.
    Forged {
        kind: &'static str,
        session: Option<usize>,
        revision: u32,
        tail: String,
    },
    Text(String),
}

#[derive(Debug, Clone)]
enum Values {
    /// What the clicked select offers (count within its min..=max), picked by the seed.
    Offered(usize),
    /// Option ids from anywhere in the questionnaire.
    Known(Vec<usize>),
    Text(Vec<String>),
    Snowflakes(Vec<u64>),
    Missing,
}

#[derive(Debug, Clone)]
enum Case {
    Command {
        autocomplete: bool,
        name: String,
        options: Vec<Opt>,
        who: Who,
    },
    Click {
        target: Target,
        /// `None`: what the target is (button 2, select 3).
        component_type: Option<u8>,
        values: Values,
        who: Who,
    },
    Modal {
        custom_id: String,
        who: Who,
    },
    Ping,
}

/// Damage done to the JSON after it is built (serenity refuses most of it).
#[derive(Debug, Clone)]
enum Mangle {
    None,
    DropTop(usize),
    DropData(usize),
    Type(i64),
    NullData,
    StringToNumber,
}

/// A tiny deterministic generator (splitmix64). Hostile strings are built from a seed: cheap
/// to generate (proptest's regex strategies are slow in a debug build), and a failing case
/// still prints the string itself.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }

    /// Any scalar value, mostly from the Basic Multilingual Plane.
    fn any_char(&mut self) -> char {
        loop {
            let range = if self.below(4) == 0 { 0x11_0000 } else { 0x1_0000 };
            if let Some(c) = char::from_u32((self.next() % range) as u32) {
                return c;
            }
        }
    }
}

const WORDS: &[&str] = &[
    "orm",
    "security",
    "async",
    "admin",
    "deploy",
    "templates",
    "testing",
    "django",
    "flask",
    "team",
    "how do I do database migrations",
    "is flask ok for serving a pytorch model?",
    "or",
    "",
    "api",
    "rest",
    "microservice",
    "scale",
    "database",
    "auth",
    "what",
    "is",
    "the",
    "best",
    "for",
    "my",
    "startup",
];
const LOWER: &[char] = &[
    'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w',
    'x', 'y', 'z', ' ', ' ',
];
/// Zero-width and bidi controls, markdown and mention syntax, control characters, scripts.
const HOSTILE: &[char] = &[
    '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}',
    '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{FEFF}', '@', '<', '>', '#', '&', '*', '_', '`',
    '~', '|', '\\', ':', '\n', '\t', '\r', '\0', '\u{7}', '\u{1b}', '\u{7f}', '\u{85}', 'é', 'ß', '٣', '字', '🦀',
    '\u{301}', '\u{3000}',
];

/// Hostile text of up to `max` characters (more for the deliberately huge kinds).
fn text_from(kind: u8, seed: u64, max: usize) -> String {
    let mut m = Mix(seed);
    let len = m.below(max + 1);
    match kind {
        0 => m.pick(WORDS).to_string(),
        1 => (0..len).map(|_| m.pick(LOWER)).collect(),
        2 => (0..len).map(|_| m.any_char()).collect(),
        3 => (0..len)
            .map(|_| {
                if m.below(3) == 0 {
                    m.pick(HOSTILE)
                } else {
                    m.pick(LOWER)
                }
            })
            .collect(),
        4 => {
            let parts = [
                "@everyone",
                "@here",
                "<@123456789012345678>",
                "<@&456>",
                "<#789>",
                "orm",
                "migrations",
            ];
            (0..1 + m.below(6))
                .map(|_| m.pick(&parts))
                .collect::<Vec<_>>()
                .join(" ")
        }
        5 => {
            let c = if m.below(2) == 0 { m.pick(HOSTILE) } else { m.any_char() };
            std::iter::repeat_n(c, 1 + m.below(7000)).collect()
        }
        6 => "orm ".repeat(1500),
        7 => (0..len)
            .map(|_| m.pick(&[' ', '\t', '\n', '\u{3000}', '\u{A0}']))
            .collect(),
        _ => (0..1 + m.below(8)).map(|_| m.pick(WORDS)).collect::<Vec<_>>().join(" "),
    }
}

/// Short hostile text, within Discord's own limits on names (32 characters).
fn nasty_name() -> BoxedStrategy<String> {
    (prop::sample::select(vec![0u8, 1, 1, 2, 3, 3, 4, 7, 8]), any::<u64>())
        .prop_map(|(kind, seed)| text_from(kind, seed, 32).chars().take(32).collect())
        .boxed()
}

/// Option values: real ones, and everything a user can paste.
fn nasty_text() -> BoxedStrategy<String> {
    // Kinds repeated for weight: real words and sentences most, the huge ones least.
    let kinds = vec![0u8, 0, 0, 0, 8, 8, 8, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7];
    (prop::sample::select(kinds), any::<u64>())
        .prop_map(|(kind, seed)| text_from(kind, seed, 80))
        .boxed()
}

fn option_name() -> BoxedStrategy<String> {
    prop_oneof![
        6 => prop::sample::select(vec![
            "topic", "aspect", "question", "mode", "start", "resume", "cancel", "help", "forget-me", "stats",
        ]).prop_map(String::from),
        2 => nasty_name(),
    ]
    .boxed()
}

fn opt() -> BoxedStrategy<Opt> {
    let leaf = prop_oneof![
        4 => (option_name(), nasty_text(), prop::bool::weighted(0.2))
            .prop_map(|(name, value, focused)| Opt::Str { name, value, focused }),
        1 => (option_name(), any::<i64>()).prop_map(|(name, value)| Opt::Int { name, value }),
        1 => (option_name(), any::<bool>()).prop_map(|(name, value)| Opt::Bool { name, value }),
        1 => (option_name(), -1e300f64..1e300).prop_map(|(name, value)| Opt::Num { name, value }),
    ];
    leaf.prop_recursive(2, 10, 4, |inner| {
        prop_oneof![
            (option_name(), prop::collection::vec(inner.clone(), 0..4))
                .prop_map(|(name, options)| Opt::Sub { name, options }),
            (option_name(), prop::collection::vec(inner, 0..3))
                .prop_map(|(name, options)| Opt::Group { name, options }),
        ]
    })
    .boxed()
}

fn sub(name: &str, options: Vec<Opt>) -> Vec<Opt> {
    vec![Opt::Sub {
        name: name.into(),
        options,
    }]
}

fn text_opt(name: &str, value: String, focused: bool) -> Opt {
    Opt::Str {
        name: name.into(),
        value,
        focused,
    }
}

/// (name, options): mostly the real command set, so flows really run.
fn command_shape() -> BoxedStrategy<(String, Vec<Opt>)> {
    fn s(n: &str) -> String {
        n.to_string()
    }
    prop_oneof![
        4 => Just((s("consult"), sub("start", vec![]))),
        3 => Just((s("consult"), sub("start", vec![text_opt("mode", "team".into(), false)]))),
        1 => Just((s("consult"), sub("resume", vec![]))),
        1 => Just((s("consult"), sub("cancel", vec![]))),
        1 => prop::sample::select(vec!["help", "forget-me", "stats"]).prop_map(|n| (s("advisor"), sub(n, vec![]))),
        3 => (prop::sample::select(vec!["django", "flask", "compare"]), prop::option::of(nasty_text()), any::<bool>())
            .prop_map(|(n, v, focused)| {
                let key = if n == "compare" { "aspect" } else { "topic" };
                (n.to_string(), v.map(|v| vec![text_opt(key, v, focused)]).unwrap_or_default())
            }),
        3 => nasty_text().prop_map(|q| (s("ask"), vec![text_opt("question", q, false)])),
        3 => (
            prop_oneof![
                4 => prop::sample::select(vec!["django", "flask", "compare", "ask", "consult", "advisor"]).prop_map(String::from),
                2 => nasty_name(),
            ],
            prop::collection::vec(opt(), 0..4),
        ),
    ].boxed()
}

fn who() -> BoxedStrategy<Who> {
    (
        0..USERS.len(),
        prop::bool::weighted(0.7),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.2),
        prop::option::weighted(0.2, nasty_name()),
        prop::option::weighted(0.5, nasty_name()),
        0..CHANNELS.len(),
    )
        .prop_map(|(user, as_owner, dm, admin, nick, global_name, channel)| Who {
            user,
            as_owner,
            dm,
            admin,
            nick,
            global_name,
            channel,
        })
        .boxed()
}

fn target() -> BoxedStrategy<Target> {
    let change = prop_oneof![
        12 => Just(IdMut::Keep),
        2 => (-2i64..=2).prop_map(IdMut::Revision),
        1 => any::<usize>().prop_map(IdMut::OtherSession),
        2 => mutation().prop_map(IdMut::Text),
    ];
    prop_oneof![
        10 => any::<usize>().prop_map(|pick| Target::Answer { pick }),
        10 => (any::<usize>(), change.clone()).prop_map(|(pick, change)| Target::Recent { pick, change }),
        6 => (any::<usize>(), change).prop_map(|(pick, change)| Target::Rendered { pick, change }),
        2 => (
            prop::sample::select(vec!["c", "v"]),
            prop::option::of(any::<usize>()),
            prop_oneof![0u32..5, any::<u32>()],
            tail_strategy(),
        )
            .prop_map(|(kind, session, revision, tail)| Target::Forged { kind, session, revision, tail }),
        1 => prop_oneof![
            prop::sample::select(vec!["fa1:new", "fa1:f:y", "fa1:f:n", "fa1:t:orm", "fa1:t:nope", "fa1:t:security"])
                .prop_map(String::from),
            id_like(),
            nasty_text(),
        ]
        .prop_map(Target::Text),
    ]
    .boxed()
}

fn values() -> BoxedStrategy<Values> {
    prop_oneof![
        8 => any::<usize>().prop_map(Values::Offered),
        2 => prop::collection::vec(any::<usize>(), 0..30).prop_map(Values::Known),
        1 => prop::collection::vec(nasty_text(), 0..5).prop_map(Values::Text),
        1 => prop::collection::vec(any::<u64>(), 0..3).prop_map(Values::Snowflakes),
        1 => Just(Values::Missing),
    ]
    .boxed()
}

fn case() -> impl Strategy<Value = (Case, Mangle)> {
    let case = prop_oneof![
        10 => (prop::bool::weighted(0.2), command_shape(), who()).prop_map(|(autocomplete, (name, options), who)| {
            // An autocomplete has a focused option: make sure the first string one is.
            let mut options = options;
            if autocomplete {
                if let Some(Opt::Str { focused, .. }) = options.first_mut() {
                    *focused = true;
                }
            }
            Case::Command { autocomplete, name, options, who }
        }),
        14 => (
            target(),
            prop_oneof![8 => Just(None), 1 => prop::sample::select(vec![2u8, 3, 4, 5, 6, 7, 8, 0, 99]).prop_map(Some)],
            values(),
            who(),
        )
            .prop_map(|(target, component_type, values, who)| Case::Click { target, component_type, values, who }),
        1 => (prop_oneof![id_like(), nasty_text()], who()).prop_map(|(custom_id, who)| Case::Modal { custom_id, who }),
        1 => Just(Case::Ping),
    ];
    let mangle = prop_oneof![
        30 => Just(Mangle::None),
        1 => any::<usize>().prop_map(Mangle::DropTop),
        1 => any::<usize>().prop_map(Mangle::DropData),
        1 => prop_oneof![0i64..7, any::<i64>()].prop_map(Mangle::Type),
        1 => Just(Mangle::NullData),
        1 => Just(Mangle::StringToNumber),
    ];
    (case, mangle)
}

/// A component the bot rendered: its id and, for a select, what it offers.
#[derive(Debug, Clone)]
struct Widget {
    custom_id: String,
    select: Option<(Vec<String>, usize, usize)>,
}

#[derive(Default)]
struct Fuzz {
    pool: Vec<Widget>,
    /// The widgets of the last few responses, newest last.
    recent: std::collections::VecDeque<Widget>,
    next_slot: usize,
    sessions: Vec<String>,
    seen_sessions: HashSet<String>,
    /// Hashes of bodies already validated (identical bodies are common).
    validated: HashSet<u64>,
    next_id: u64,
    parsed: u64,
    skipped: u64,
    unanswered: u64,
    refreshes: u64,
    /// The slowest `handle` call and its case.
    slowest: (Duration, String),
    response_types: BTreeMap<u64, u64>,
    outcomes: BTreeMap<&'static str, u64>,
}

const POOL: usize = 400;
const RECENT: usize = 16;

impl Fuzz {
    fn remember(&mut self, w: Widget) {
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(w.clone());
        if let Some(s) = session_of_id(&w.custom_id) {
            if self.seen_sessions.insert(s.clone()) {
                self.sessions.push(s);
            }
        }
        if self.pool.iter().any(|p| p.custom_id == w.custom_id) {
            return;
        }
        if self.pool.len() < POOL {
            self.pool.push(w);
        } else {
            self.pool[self.next_slot % POOL] = w;
            self.next_slot += 1;
        }
    }

    fn harvest(&mut self, components: &Value) {
        fn walk(v: &Value, out: &mut Vec<Widget>) {
            if let Some(id) = v.get("custom_id").and_then(Value::as_str) {
                let select = (v["type"] == json!(3)).then(|| {
                    let options = v["options"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|o| o["value"].as_str().map(String::from))
                        .collect();
                    let min = v["min_values"].as_u64().unwrap_or(1) as usize;
                    let max = v["max_values"].as_u64().unwrap_or(1) as usize;
                    (options, min, max)
                });
                out.push(Widget {
                    custom_id: id.to_string(),
                    select,
                });
            }
            for c in v.get("components").and_then(Value::as_array).into_iter().flatten() {
                walk(c, out);
            }
        }
        let mut found = Vec::new();
        for row in components.as_array().into_iter().flatten() {
            walk(row, &mut found);
        }
        for w in found {
            self.remember(w);
        }
    }

    /// Validates a body once per distinct content.
    fn validate(&mut self, body: &Value, check: fn(&Value) -> Vec<String>, what: &str) -> Result<(), TestCaseError> {
        let mut h = DefaultHasher::new();
        what.hash(&mut h);
        body.to_string().hash(&mut h);
        if !self.validated.insert(h.finish()) {
            return Ok(());
        }
        let problems = check(body);
        prop_assert!(problems.is_empty(), "{} is invalid: {:#?}\n{:#}", what, problems, body);
        Ok(())
    }
}

fn session_of_id(id: &str) -> Option<String> {
    match id.parse::<ComponentId>() {
        Ok(ComponentId::Consult { session, .. } | ComponentId::Team { session, .. }) => Some(session),
        _ => None,
    }
}

fn user_json(id: u64, who: &Who) -> Value {
    json!({
        "id": id.to_string(),
        "username": format!("user{}", id % 1000),
        "discriminator": "0",
        "global_name": who.global_name,
        "avatar": null,
        "public_flags": 0,
    })
}

/// An INTERACTION_CREATE payload, as the fake Discord builds them (fields serenity requires,
/// and the ones Discord sends besides); in a DM when `who.dm`.
fn interaction_json(id: u64, kind: u64, who: &Who, data: Value, message: Option<Value>) -> Value {
    let user = USERS[who.user];
    let guild = FakeDiscord::GUILD_ID.to_string();
    let channel = if who.dm { user + 7 } else { CHANNELS[who.channel] };
    let permissions = FakeUser::MEMBER | if who.admin { MANAGE_GUILD } else { 0 };
    let mut v = json!({
        "id": id.to_string(),
        "application_id": FakeDiscord::APP_ID.to_string(),
        "type": kind,
        "data": data,
        "channel_id": channel.to_string(),
        "token": format!("fuzz-token-{id}"),
        "version": 1,
        "locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": { "0": guild },
        "context": if who.dm { 1 } else { 0 },
        "attachment_size_limit": 10_485_760,
    });
    if who.dm {
        v["user"] = user_json(user, who);
        v["channel"] = json!({ "id": channel.to_string(), "type": 1, "flags": 0, "last_message_id": null });
    } else {
        v["guild_id"] = json!(guild);
        v["guild"] = json!({ "id": guild, "locale": "en-US", "features": [] });
        v["guild_locale"] = json!("en-US");
        v["app_permissions"] = json!("2248473465835073");
        v["channel"] = json!({
            "id": channel.to_string(), "type": 0, "name": "general", "guild_id": guild,
            "permissions": permissions.to_string(), "nsfw": false, "position": 0, "flags": 0,
            "parent_id": null, "last_message_id": null, "rate_limit_per_user": 0, "topic": null,
        });
        v["member"] = json!({
            "user": user_json(user, who),
            "nick": who.nick,
            "avatar": null,
            "banner": null,
            "roles": [],
            "joined_at": "2024-01-01T00:00:00.000000+00:00",
            "premium_since": null,
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": false,
            "permissions": permissions.to_string(),
            "communication_disabled_until": null,
        });
    }
    if let Some(m) = message {
        v["message"] = m;
    }
    v
}

/// The message a component sits on (serenity requires a full one).
fn message_json(id: u64, channel: u64) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": channel.to_string(),
        "author": {
            "id": FakeDiscord::BOT_USER_ID.to_string(), "username": "framework-advisor", "discriminator": "0",
            "global_name": null, "avatar": null, "bot": true, "public_flags": 0,
        },
        "content": "",
        "timestamp": "2025-01-01T00:00:00.000000+00:00",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "pinned": false,
        "type": 0,
        "flags": 0,
        "webhook_id": FakeDiscord::APP_ID.to_string(),
        "application_id": FakeDiscord::APP_ID.to_string(),
    })
}

fn change_id(fuzz: &Fuzz, id: &str, change: &IdMut) -> String {
    match change {
        IdMut::Keep => id.to_string(),
        IdMut::Revision(delta) => {
            let mut parts: Vec<String> = id.split(':').map(String::from).collect();
            if let Some(rev) = parts.get(3).and_then(|r| r.parse::<i64>().ok()) {
                parts[3] = (rev + delta).to_string();
            }
            parts.join(":")
        }
        IdMut::OtherSession(pick) if !fuzz.sessions.is_empty() => {
            let mut parts: Vec<String> = id.split(':').map(String::from).collect();
            if parts.len() > 2 {
                parts[2] = fuzz.sessions[pick % fuzz.sessions.len()].clone();
            }
            parts.join(":")
        }
        IdMut::OtherSession(_) => id.to_string(),
        IdMut::Text(m) => mutate(id, m),
    }
}

/// Builds the payload of `case` against what the bot rendered so far.
fn build(fuzz: &mut Fuzz, app: &App, case: &Case, option_ids: &[String]) -> Value {
    fuzz.next_id += 1;
    let id = 1_400_000_000_000_000_000 + fuzz.next_id;
    let payload = match case {
        Case::Ping => json!({
            "id": id.to_string(), "application_id": FakeDiscord::APP_ID.to_string(), "type": 1,
            "token": "fuzz-ping", "version": 1,
        }),
        Case::Command {
            autocomplete,
            name,
            options,
            who,
        } => {
            let data = json!({
                "id": "1300000000000000001", "name": name, "type": 1,
                "options": options.iter().map(Opt::json).collect::<Vec<_>>(),
            });
            interaction_json(id, if *autocomplete { 4 } else { 2 }, who, data, None)
        }
        Case::Modal { custom_id, who } => {
            let data = json!({ "custom_id": custom_id, "components": [
                { "type": 1, "components": [{ "type": 4, "custom_id": "field", "value": "text" }] }
            ]});
            interaction_json(id, 5, who, data, None)
        }
        Case::Click {
            target,
            component_type,
            values,
            who,
        } => {
            let (custom_id, widget) = match target {
                Target::Answer { pick } => {
                    let answers: Vec<&Widget> = fuzz
                        .recent
                        .iter()
                        .rev()
                        .filter(|w| {
                            let id = &w.custom_id;
                            id.contains(":a:") || id.ends_with(":s") || (id.starts_with("fa1:v:") && id.ends_with(":n"))
                        })
                        .take(4)
                        .collect();
                    match answers.get(pick % answers.len().max(1)) {
                        Some(w) => (w.custom_id.clone(), Some((*w).clone())),
                        None => ("fa1:new".to_string(), None),
                    }
                }
                Target::Recent { pick, change } => match fuzz.recent.get(pick % fuzz.recent.len().max(1)) {
                    Some(w) => (change_id(fuzz, &w.custom_id, change), Some(w.clone())),
                    None => ("fa1:new".to_string(), None),
                },
                Target::Rendered { pick, change } => match fuzz.pool.get(pick % fuzz.pool.len().max(1)) {
                    Some(w) => (change_id(fuzz, &w.custom_id, change), Some(w.clone())),
                    None => ("fa1:new".to_string(), None),
                },
                Target::Forged {
                    kind,
                    session,
                    revision,
                    tail,
                } => {
                    let sid = match session {
                        Some(p) if !fuzz.sessions.is_empty() => fuzz.sessions[p % fuzz.sessions.len()].clone(),
                        _ => "0123456789abcdef".to_string(),
                    };
                    (format!("fa1:{kind}:{sid}:{revision}:{tail}"), None)
                }
                Target::Text(t) => (t.clone(), None),
            };
            let mut who = who.clone();
            if who.as_owner {
                let owner = session_of_id(&custom_id).and_then(|s| app.store().get(&s).ok().flatten());
                if let Some(i) = owner.and_then(|s| USERS.iter().position(|u| s.owner == format!("discord:{u}"))) {
                    who.user = i;
                }
            }
            let who = &who;
            let offered = widget.as_ref().and_then(|w| w.select.clone());
            let ctype = component_type.unwrap_or(if offered.is_some() { 3 } else { 2 });
            let values: Option<Vec<Value>> = match values {
                Values::Offered(seed) => match &offered {
                    Some((opts, min, max)) if !opts.is_empty() => {
                        let n = (min + seed % (max.saturating_sub(*min) + 1)).min(opts.len());
                        Some((0..n).map(|i| json!(opts[(seed + i) % opts.len()])).collect())
                    }
                    _ => Some(vec![json!(option_ids[seed % option_ids.len()])]),
                },
                Values::Known(picks) => Some(picks.iter().map(|p| json!(option_ids[p % option_ids.len()])).collect()),
                Values::Text(t) => Some(t.iter().map(|s| json!(s)).collect()),
                Values::Snowflakes(s) => Some(s.iter().map(|n| json!(n.to_string())).collect()),
                Values::Missing => None,
            };
            let mut data = json!({ "custom_id": custom_id, "component_type": ctype });
            if ctype != 2 {
                if let Some(v) = values {
                    data["values"] = Value::Array(v);
                }
            }
            let channel = if who.dm {
                USERS[who.user] + 7
            } else {
                CHANNELS[who.channel]
            };
            interaction_json(id, 3, who, data, Some(message_json(id + 1, channel)))
        }
    };
    payload
}

fn mangle(payload: &mut Value, m: &Mangle) {
    let drop_key = |v: &mut Value, pick: usize| {
        if let Some(map) = v.as_object_mut() {
            let keys: Vec<String> = map.keys().cloned().collect();
            if !keys.is_empty() {
                map.remove(&keys[pick % keys.len()]);
            }
        }
    };
    match m {
        Mangle::None => {}
        Mangle::DropTop(p) => drop_key(payload, *p),
        Mangle::DropData(p) => drop_key(&mut payload["data"], *p),
        Mangle::Type(t) => payload["type"] = json!(t),
        Mangle::NullData => payload["data"] = Value::Null,
        Mangle::StringToNumber => {
            if payload["data"].get("custom_id").is_some() {
                payload["data"]["custom_id"] = json!(12345);
            } else {
                payload["data"]["name"] = json!(12345);
            }
        }
    }
}

/// Runs one generated case: the contract of `dispatch::handle` on it.
fn run_case(app: &App, fuzz: &mut Fuzz, case: &Case, how: &Mangle, option_ids: &[String]) -> Result<(), TestCaseError> {
    let mut payload = build(fuzz, app, case, option_ids);
    mangle(&mut payload, how);
    let interaction: Interaction = match serde_json::from_value(payload) {
        Ok(i) => i,
        Err(_) => {
            // The gateway client drops what it cannot parse; so does this.
            fuzz.skipped += 1;
            return Ok(());
        }
    };
    fuzz.parsed += 1;
    let timer = Instant::now();
    let handled = dispatch::handle(app, &interaction);
    let took = timer.elapsed();
    if took > fuzz.slowest.0 {
        fuzz.slowest = (took, format!("{case:?}").chars().take(300).collect());
    }
    let Some(handled) = handled else {
        prop_assert!(
            matches!(interaction, Interaction::Ping(_)),
            "only pings go unanswered, not {:?}",
            interaction.kind()
        );
        fuzz.unanswered += 1;
        return Ok(());
    };
    *fuzz.outcomes.entry(handled.outcome.as_str()).or_default() += 1;
    let body = serde_json::to_value(&handled.response).map_err(|e| TestCaseError::fail(format!("serialize: {e}")))?;
    let ty = body["type"].as_u64().unwrap_or(0);
    *fuzz.response_types.entry(ty).or_default() += 1;
    let allowed: &[u64] = match &interaction {
        Interaction::Command(_) | Interaction::Modal(_) => &[4],
        Interaction::Autocomplete(_) => &[8],
        Interaction::Component(_) => &[4, 6, 7],
        _ => &[],
    };
    prop_assert!(
        allowed.contains(&ty),
        "{:?} answered with type {}: {}",
        interaction.kind(),
        ty,
        body
    );
    fuzz.validate(&body, spec::validate_callback, "callback")?;
    fuzz.harvest(&body["data"]["components"]);
    if let Some(After::RefreshTeam { session, .. }) = &handled.after {
        // What the handler then sends as the edit of the team message.
        fuzz.refreshes += 1;
        let content = app.content();
        let rendered = match app.current_view(session) {
            Ok(view) => render::team(content, &view),
            Err(AppError::Expired) => render::team_ended(content, &content.knowledge.texts().expired),
            Err(e) => return Err(TestCaseError::fail(format!("reading team session {session}: {e}"))),
        };
        let edit = serde_json::to_value(rendered.edit()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        fuzz.validate(&edit, spec::validate_message_edit, "team message edit")?;
        fuzz.harvest(&edit["components"]);
    }
    Ok(())
}

/// A store directory on tmpfs when there is one: every state change fsyncs, and the fuzz
/// checks behaviour, not the disk.
fn store_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::Builder::new().prefix("fa-fuzz").tempdir_in(shm) {
            return d;
        }
    }
    tempfile::tempdir().unwrap()
}

fn open_store(path: &Path) -> SledStore {
    let deadline = Instant::now() + WAIT;
    loop {
        match SledStore::open(path) {
            Ok(s) => return s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("the store reopens: {e}"),
        }
    }
}

/// 100,000 cases: with dependencies optimised in test builds (`[profile.dev.package."*"]`)
/// a case costs about 0.4 ms on 2 cores, so this runs in well under a minute.
/// `PROPTEST_CASES` changes the count, `PROPTEST_RNG_SEED` the cases.
const DISPATCH_CASES: u32 = 100_000;

#[test]
fn dispatch_fuzz_answers_validly_and_keeps_the_store_consistent() {
    // Deeply nested strategy and serde frames are large in a debug build; the default 2 MB
    // test thread stack is not enough for them.
    let fuzz = std::thread::Builder::new()
        .name("dispatch-fuzz".into())
        .stack_size(64 << 20)
        .spawn(dispatch_fuzz)
        .expect("spawn the fuzz thread");
    if let Err(panic) = fuzz.join() {
        std::panic::resume_unwind(panic);
    }
}

fn dispatch_fuzz() {
    let started = Instant::now();
    let content = Arc::new(Content::load(&responses_dir()).expect("responses/ is valid"));
    let option_ids: Vec<String> = content
        .questionnaire
        .questions
        .iter()
        .flat_map(|q| q.options.iter().map(|o| o.id.clone()))
        .collect();
    let dir = store_dir();
    let store = Arc::new(SledStore::open(dir.path()).expect("store opens"));
    let app = App::new(content.clone(), store, Arc::new(SystemClock), 30 * 24 * 3600);
    let _ = spec::compile_time();

    let fuzz = RefCell::new(Fuzz::default());
    let n = cases(DISPATCH_CASES);
    let mut runner = TestRunner::new(config(n));
    let result = runner.run(&case(), |(case, how)| {
        run_case(&app, &mut fuzz.borrow_mut(), &case, &how, &option_ids)
    });
    let fuzz = fuzz.into_inner();
    eprintln!(
        "dispatch fuzz: {n} cases in {:?}: {} parsed, {} skipped (serenity refused), {} unanswered pings, \
         {} team refreshes, {} sessions; \
         response types {:?}; outcomes {:?}",
        started.elapsed(),
        fuzz.parsed,
        fuzz.skipped,
        fuzz.unanswered,
        fuzz.refreshes,
        fuzz.sessions.len(),
        fuzz.response_types,
        fuzz.outcomes
    );
    eprintln!("slowest dispatch: {:?} for {}", fuzz.slowest.0, fuzz.slowest.1);
    if let Err(e) = result {
        panic!("{e}");
    }
    // Discord's window is 3 s; even a debug build answers any input well within it.
    assert!(
        fuzz.slowest.0 < Duration::from_millis(2500),
        "dispatch took {:?} for {}",
        fuzz.slowest.0,
        fuzz.slowest.1
    );
    // The generator really reached the interesting paths (else the run proves little).
    assert!(fuzz.parsed * 10 >= u64::from(n) * 7, "most payloads parse");
    if n >= 10_000 {
        for ty in [4, 6, 7, 8] {
            assert!(
                fuzz.response_types.get(&ty).copied().unwrap_or(0) > 0,
                "no response of type {ty}"
            );
        }
        for outcome in ["ok", "stale", "rejected", "user_error"] {
            assert!(fuzz.outcomes.contains_key(outcome), "no {outcome} outcome");
        }
        assert!(fuzz.refreshes > 0 && fuzz.sessions.len() > 10);
    }
    let after = |f: &dyn Fn(&framework_advisor::storage::Stats) -> bool| f(&app.store().stats().unwrap());
    if n >= 10_000 {
        assert!(
            after(&|s| s.completed > 0 && s.team.completed > 0),
            "consultations reached their recommendation"
        );
    }

    // The store after the storm: it reopens, every record decodes, the indexes agree.
    drop(app);
    let mut ids = Vec::new();
    let mut indexed = Vec::new();
    {
        let deadline = Instant::now() + WAIT;
        let db = loop {
            match sled::Config::new().path(dir.path()).open() {
                Ok(db) => break db,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => panic!("sled reopens: {e}"),
            }
        };
        for kv in db.open_tree("sessions").unwrap().iter() {
            let (k, _) = kv.expect("readable");
            ids.push(String::from_utf8(k.to_vec()).expect("session ids are text"));
        }
        for kv in db.open_tree("active").unwrap().iter() {
            let (_, v) = kv.expect("readable");
            indexed.push(String::from_utf8(v.to_vec()).expect("session ids are text"));
        }
    }
    let store = open_store(dir.path());
    let questions = content.questionnaire.questions.len();
    let mut active = 0;
    let (mut private_done, mut team_done) = (0, 0);
    for id in &ids {
        let s = store
            .get(id)
            .unwrap_or_else(|e| panic!("session {id} does not decode: {e}"))
            .unwrap_or_else(|| panic!("session {id} listed but not found"));
        assert_eq!(&s.id, id);
        assert!(s.answers.len() <= questions, "{id}: {} answers", s.answers.len());
        match s.status {
            Status::Active => {
                active += 1;
                let current = store.active(&s.owner, &s.scope).unwrap();
                assert_eq!(
                    current.map(|c| c.id),
                    Some(s.id.clone()),
                    "active session {id} is the active one of ({}, {})",
                    s.owner,
                    s.scope
                );
            }
            Status::Completed => {
                assert!(s.outcome.is_some(), "completed session {id} has an outcome");
                if s.team.is_some() {
                    team_done += 1;
                } else {
                    private_done += 1;
                }
            }
            Status::Cancelled => {}
        }
    }
    for id in &indexed {
        assert!(ids.contains(id), "the active index points at a missing session {id}");
    }
    let stats = store.stats().expect("stats readable");
    assert_eq!(
        stats.active, active,
        "the active index counts exactly the active sessions"
    );
    assert!(stats.completed + stats.abandoned <= stats.started, "{stats:?}");
    assert!(
        stats.team.completed + stats.team.abandoned <= stats.team.started,
        "{stats:?}"
    );
    // Forget-me deletes records but not counters: stored completions never exceed them.
    assert!(
        private_done <= stats.completed && team_done <= stats.team.completed,
        "{stats:?}"
    );
    eprintln!(
        "store after the fuzz: {} sessions ({active} active), {stats:?}; total {:?}",
        ids.len(),
        started.elapsed()
    );
}

// ============================================================ (c) hostile text, real bot

fn alice() -> FakeUser {
    FakeUser::new(1_000_000_000_000_000_601, "alice")
}

/// The registered max_length of `/ask question` and of `topic`/`aspect`.
const ASK_MAX: usize = 300;
const TOPIC_MAX: usize = 100;

fn ask(text: &str) -> Value {
    json!([{ "type": 3, "name": "question", "value": text }])
}

/// What a message body must never carry through from user text.
fn assert_inert(body: &Value, what: &str) {
    assert_eq!(
        body["data"]["allowed_mentions"]["parse"],
        json!([]),
        "{what}: no mention may ping: {body}"
    );
    let text = body.to_string();
    for bad in ['\u{202E}', '\u{200B}', '\u{2066}', '\u{FEFF}'] {
        assert!(
            !text.contains(bad),
            "{what}: {bad:?} from the user's text is echoed: {body}"
        );
    }
    assert!(!text.contains("@everyone"), "{what}: @everyone is echoed: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_through_the_real_bot() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    let user = alice();
    let no_match = bot.app.content().knowledge.search_terms.text.unknown.clone();

    let long: String = "how do I do database migrations with the orm ".repeat(140);
    assert!(long.chars().count() >= 6000);
    let one_letter = "a".repeat(6000);
    let zero_width = "\u{200B}".repeat(100);
    for (what, text) in [
        ("6000 characters", long.as_str()),
        ("6000 of one letter", one_letter.as_str()),
        (
            "zero-width",
            "\u{200B}\u{200B}o\u{200B}r\u{200B}m\u{200B} \u{200B}migrations\u{FEFF}",
        ),
        ("only zero-width", zero_width.as_str()),
        ("RTL override", "\u{202E}snoitargim mro \u{2066}orm\u{2069} migrations"),
        ("@everyone", "@everyone here"),
        (
            "@everyone with a question",
            "@everyone @here <@123> how do I do database migrations",
        ),
        ("only whitespace", " \t \n  \u{3000} "),
        ("control characters", "\u{0007}\u{0000}orm\u{001B}[31m migrations"),
    ] {
        // Discord cuts what can be typed at the registered max_length (300 for /ask).
        let text: String = text.chars().take(ASK_MAX).collect();
        let text = text.as_str();
        let (_, body) = command(&fake, &user, "ask", ask(text)).await;
        assert_eq!(body["type"], json!(4), "{what}: {body}");
        assert_inert(&body, what);
        let has_answer = body["data"]["embeds"].as_array().is_some_and(|e| !e.is_empty());
        let refused = body["data"]["content"].as_str() == Some(no_match.as_str());
        assert!(
            has_answer || refused,
            "{what}: an answer or the no-match notice: {body}"
        );
        if refused {
            assert_ne!(
                body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL,
                0,
                "{what}: refusals are private"
            );
        }
        if what.starts_with("only") {
            assert!(refused, "{what}: nothing to search for: {body}");
        }
    }

    // Topic options and autocomplete with the same text.
    for text in [long.as_str(), "\u{202E}mro", "@everyone", "\u{200B}", "   "] {
        // At most the registered max_length (100) of a topic or aspect.
        let text: String = text.chars().take(TOPIC_MAX).collect();
        let text = text.as_str();
        for (name, key) in [("django", "topic"), ("compare", "aspect")] {
            let (_, body) = command(&fake, &user, name, json!([{ "type": 3, "name": key, "value": text }])).await;
            assert_eq!(body["type"], json!(4), "/{name} {key}: {body}");
            assert_inert(&body, name);
            let focused = json!([{ "type": 3, "name": key, "value": text, "focused": true }]);
            let id = fake.send_autocomplete(&user, name, focused).await;
            let body = fake.wait_callback(id, WAIT).await.unwrap();
            assert_eq!(body["type"], json!(8), "{body}");
        }
    }
    bot.stop().await;
    fake.assert_clean().await;
}

// ========================================================== (d) unknown commands

/// A command this build does not know still reaches it when an earlier deploy registered it
/// globally (the bot now registers guild commands only and leaves the global ones alone):
/// Discord offers and delivers it. The bot says it does not know it, privately.
///
/// What Discord cannot deliver is not tried here: unregistered subcommands or options, wrong
/// option types, component types the bot never rendered, a modal it never opened (the fake
/// refuses to build them; `fake_discord_selftest` proves that).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_commands_through_the_real_bot() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    let user = alice();
    let texts = bot.app.content().knowledge.texts().clone();
    fake.register_commands(
        None,
        json!([{ "name": "frobnicate", "description": "from an older deploy", "type": 1 }]),
    )
    .await;
    let (_, body) = command(&fake, &user, "frobnicate", Value::Null).await;
    assert_eq!(body["type"], json!(4), "{body}");
    assert_ne!(body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL, 0, "private");
    assert_eq!(body["data"]["content"], json!(texts.unknown_command));
    bot.stop().await;
    fake.assert_clean().await;
}

/// `/consult cancel` is a slash command: its answer must be a message (type 4). UPDATE_MESSAGE
/// (type 7) is only valid for a component interaction; Discord refuses it (400), so the user
/// sees "The application did not respond" although the session was cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consult_cancel_command_answers_with_a_message() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    let user = alice();
    let (iid, _) = command(&fake, &user, "consult", consult("start")).await;
    let msg = fake.latest_message_for(iid).await.unwrap();
    let sid = session_of(&msg);
    let id = fake
        .send_command(
            &user,
            "consult",
            json!([{ "type": 1, "name": "cancel", "options": [] }]),
        )
        .await;
    let body = fake.wait_callback(id, Duration::from_secs(3)).await;
    let session = stored(&bot, &sid);
    assert_eq!(session.status, Status::Cancelled, "the session was cancelled");
    let body = body.expect("Discord accepted the answer to /consult cancel");
    assert_eq!(body["type"], json!(4), "{body}");
    bot.stop().await;
    fake.assert_clean().await;
}

/// Display names are shown in public messages (the team tally, a shared recommendation's
/// footer). `render::sanitise_name` strips markdown and mention syntax, but not bidi controls:
/// a member named "\u{202E}..." reverses the rest of the line for everyone, so the names after
/// it (other members') read backwards; the free-text path (`sanitise_question`) does strip them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn display_names_cannot_reorder_public_text() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    let facilitator = FakeUser::new(1_000_000_000_000_000_611, "dana");
    let (iid, _) = command(&fake, &facilitator, "consult", team_start()).await;
    let msg = fake.latest_message_for(iid).await.unwrap();
    let voters = [
        FakeUser::new(1_000_000_000_000_000_612, "\u{202E}evil"),
        FakeUser::new(1_000_000_000_000_000_613, "zed"),
    ];
    for (i, voter) in voters.iter().enumerate() {
        let (id, values) = answer_for(&msg, i).unwrap();
        let (_, body) = support::bot::click(&fake, voter, msg.id, &id, values).await;
        assert_eq!(body["type"], json!(6), "{body}");
    }
    // The refresh of the public message follows the acknowledgement.
    let deadline = Instant::now() + WAIT;
    let shown = loop {
        let m = fake.message(msg.id).await.unwrap();
        let text = m.embeds.to_string();
        if text.contains("zed") {
            break text;
        }
        assert!(Instant::now() < deadline, "the tally never showed the votes: {text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for bad in ['\u{202E}', '\u{202D}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{200F}'] {
        assert!(
            !shown.contains(bad),
            "{bad:?} from a display name is in the public message: {shown}"
        );
    }
    bot.stop().await;
    fake.assert_clean().await;
}
