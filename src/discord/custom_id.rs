//! Typed, versioned component ids.
//!
//! Every button and select the bot renders carries one of these as its
//! `custom_id`. The text form is `fa1:<kind>:...`; `fa1` is the codec version
//! so a future layout can coexist with buttons already out in the wild.
//! Consultation ids carry the session id and the revision they were rendered
//! for, which is how stale clicks, double clicks and foreign clicks are told
//! apart from real ones. Parsing is strict: anything that is not exactly a
//! known form is an error, never a panic.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Version prefix of every id this build writes.
pub const PREFIX: &str = "fa1";
/// Discord's limit on a custom_id.
pub const MAX_LEN: usize = 100;

/// A consultation action rendered on a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsultAction {
    /// A button for one option of a single-choice question.
    Pick(String),
    /// The string select (values carry the option ids).
    Select,
    Back,
    Restart,
    Cancel,
    /// Post the completed recommendation publicly.
    Share,
}

/// A team consultation action rendered on the channel message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamAction {
    /// A vote button for one option.
    Vote(String),
    /// The vote select (values carry the option ids).
    Select,
    Next,
    Back,
    Finish,
    Cancel,
    /// "How would I have scored?" on the final message.
    Me,
}

/// Where a Decision record button sits, which decides who may press it and
/// where the file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordScope {
    /// On the owner's ephemeral result: the owner only; the file is ephemeral.
    Private,
    /// On a result the owner shared in the channel: anyone; the file is ephemeral.
    Shared,
    /// On a team result: anyone; the file is posted in the channel.
    Team,
}

impl RecordScope {
    fn code(self) -> &'static str {
        match self {
            RecordScope::Private => "p",
            RecordScope::Shared => "s",
            RecordScope::Team => "t",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentId {
    Team {
        session: String,
        revision: u32,
        action: TeamAction,
    },
    Consult {
        session: String,
        revision: u32,
        action: ConsultAction,
    },
    /// "Related topic" from /ask: show that topic side by side.
    Topic { topic: String },
    /// Start a new consultation (from a finished or cancelled one).
    NewConsult,
    /// The "forget me" confirmation.
    Forget { confirm: bool },
    /// "Decision record" on a finished consultation: the Markdown file.
    /// No revision: a finished session does not change any more.
    Record { session: String, scope: RecordScope },
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("custom_id is {0} characters (at most {MAX_LEN})")]
    TooLong(usize),
    #[error("unknown custom_id version or form")]
    Unknown,
}

/// Ids embedded in custom_ids: content and session ids are `[a-z0-9_]`.
fn valid_token(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComponentId::Consult {
                session,
                revision,
                action,
            } => {
                write!(f, "{PREFIX}:c:{session}:{revision}:")?;
                match action {
                    ConsultAction::Pick(o) => write!(f, "a:{o}"),
                    ConsultAction::Select => f.write_str("s"),
                    ConsultAction::Back => f.write_str("b"),
                    ConsultAction::Restart => f.write_str("r"),
                    ConsultAction::Cancel => f.write_str("x"),
                    ConsultAction::Share => f.write_str("share"),
                }
            }
            ComponentId::Team {
                session,
                revision,
                action,
            } => {
                write!(f, "{PREFIX}:v:{session}:{revision}:")?;
                match action {
                    TeamAction::Vote(o) => write!(f, "a:{o}"),
                    TeamAction::Select => f.write_str("s"),
                    TeamAction::Next => f.write_str("n"),
                    TeamAction::Back => f.write_str("b"),
                    TeamAction::Finish => f.write_str("f"),
                    TeamAction::Cancel => f.write_str("x"),
                    TeamAction::Me => f.write_str("me"),
                }
            }
            ComponentId::Topic { topic } => write!(f, "{PREFIX}:t:{topic}"),
            ComponentId::NewConsult => write!(f, "{PREFIX}:new"),
            ComponentId::Forget { confirm } => write!(f, "{PREFIX}:f:{}", if *confirm { "y" } else { "n" }),
            ComponentId::Record { session, scope } => write!(f, "{PREFIX}:rec:{}:{session}", scope.code()),
        }
    }
}

impl FromStr for ComponentId {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        if s.len() > MAX_LEN {
            return Err(ParseError::TooLong(s.len()));
        }
        let parts: Vec<&str> = s.split(':').collect();
        // Canonical decimal only: "01" or "+1" would be a second spelling of the same id.
        let revision_of = |r: &str| match r.parse::<u32>() {
            Ok(v) if v.to_string() == r => Ok(v),
            _ => Err(ParseError::Unknown),
        };
        let id = match parts.as_slice() {
            [PREFIX, "v", session, revision, rest @ ..] => {
                let revision = revision_of(revision)?;
                if !valid_token(session, 32) {
                    return Err(ParseError::Unknown);
                }
                let action = match rest {
                    ["a", option] if valid_token(option, 24) => TeamAction::Vote(option.to_string()),
                    ["s"] => TeamAction::Select,
                    ["n"] => TeamAction::Next,
                    ["b"] => TeamAction::Back,
                    ["f"] => TeamAction::Finish,
                    ["x"] => TeamAction::Cancel,
                    ["me"] => TeamAction::Me,
                    _ => return Err(ParseError::Unknown),
                };
                ComponentId::Team {
                    session: session.to_string(),
                    revision,
                    action,
                }
            }
            [PREFIX, "c", session, revision, rest @ ..] => {
                let revision = revision_of(revision)?;
                if !valid_token(session, 32) {
                    return Err(ParseError::Unknown);
                }
                let action = match rest {
                    ["a", option] if valid_token(option, 24) => ConsultAction::Pick(option.to_string()),
                    ["s"] => ConsultAction::Select,
                    ["b"] => ConsultAction::Back,
                    ["r"] => ConsultAction::Restart,
                    ["x"] => ConsultAction::Cancel,
                    ["share"] => ConsultAction::Share,
                    _ => return Err(ParseError::Unknown),
                };
                ComponentId::Consult {
                    session: session.to_string(),
                    revision,
                    action,
                }
            }
            [PREFIX, "t", topic] if valid_token(topic, 24) => ComponentId::Topic {
                topic: topic.to_string(),
            },
            [PREFIX, "new"] => ComponentId::NewConsult,
            [PREFIX, "f", "y"] => ComponentId::Forget { confirm: true },
            [PREFIX, "f", "n"] => ComponentId::Forget { confirm: false },
            [PREFIX, "rec", scope, session] if valid_token(session, 32) => ComponentId::Record {
                session: session.to_string(),
                scope: match *scope {
                    "p" => RecordScope::Private,
                    "s" => RecordScope::Shared,
                    "t" => RecordScope::Team,
                    _ => return Err(ParseError::Unknown),
                },
            },
            _ => return Err(ParseError::Unknown),
        };
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn token() -> impl Strategy<Value = String> {
        "[a-z0-9_]{1,24}"
    }

    fn action() -> impl Strategy<Value = ConsultAction> {
        prop_oneof![
            token().prop_map(ConsultAction::Pick),
            Just(ConsultAction::Select),
            Just(ConsultAction::Back),
            Just(ConsultAction::Restart),
            Just(ConsultAction::Cancel),
            Just(ConsultAction::Share),
        ]
    }

    fn team_action() -> impl Strategy<Value = TeamAction> {
        prop_oneof![
            token().prop_map(TeamAction::Vote),
            Just(TeamAction::Select),
            Just(TeamAction::Next),
            Just(TeamAction::Back),
            Just(TeamAction::Finish),
            Just(TeamAction::Cancel),
            Just(TeamAction::Me),
        ]
    }

    fn component() -> impl Strategy<Value = ComponentId> {
        prop_oneof![
            ("[a-z0-9_]{1,32}", any::<u32>(), team_action()).prop_map(|(session, revision, action)| {
                ComponentId::Team {
                    session,
                    revision,
                    action,
                }
            }),
            ("[a-z0-9_]{1,32}", any::<u32>(), action()).prop_map(|(session, revision, action)| ComponentId::Consult {
                session,
                revision,
                action
            }),
            token().prop_map(|topic| ComponentId::Topic { topic }),
            Just(ComponentId::NewConsult),
            any::<bool>().prop_map(|confirm| ComponentId::Forget { confirm }),
            (
                "[a-z0-9_]{1,32}",
                prop_oneof![
                    Just(RecordScope::Private),
                    Just(RecordScope::Shared),
                    Just(RecordScope::Team)
                ]
            )
                .prop_map(|(session, scope)| ComponentId::Record { session, scope }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn round_trips_within_discord_limit(id in component()) {
            let text = id.to_string();
            prop_assert!(text.len() <= MAX_LEN, "{} is {} chars", text, text.len());
            prop_assert_eq!(text.parse::<ComponentId>(), Ok(id));
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,200}") {
            if let Ok(id) = s.parse::<ComponentId>() {
                // Whatever parses is canonical: it prints back to the same text.
                prop_assert_eq!(id.to_string(), s);
            }
        }

        #[test]
        fn mutations_of_valid_ids_are_canonical_or_rejected(id in component(), pos in 0usize..100, c in any::<char>()) {
            let mut text = id.to_string();
            let at = text.char_indices().map(|(i, _)| i).nth(pos % text.chars().count()).unwrap_or(0);
            text.insert(at, c);
            if let Ok(parsed) = text.parse::<ComponentId>() {
                prop_assert_eq!(parsed.to_string(), text);
            }
        }
    }

    #[test]
    fn rejects_forgeries() {
        for bad in [
            "",
            "fa1",
            "fa2:c:abc:1:b",
            "fa1:c:abc:01:b",
            "fa1:c:abc:+1:b",
            "fa1:c:abc:-1:b",
            "fa1:c:ABC:1:b",
            "fa1:c::1:b",
            "fa1:c:abc:1:a:",
            "fa1:c:abc:1:a:Opt",
            "fa1:c:abc:1:zz",
            "fa1:c:abc:4294967296:b",
            "fa1:t:../etc",
            "fa1:f:maybe",
            "fa1:new:extra",
            "fa1:v:abc:1:me:x",
            "fa1:v:abc:1:a:",
            "fa1:v:abc:01:n",
            "fa1:rec:x:abc",
            "fa1:rec:p:",
            "fa1:rec:p:ABC",
            "fa1:rec:p:abc:1",
        ] {
            assert!(bad.parse::<ComponentId>().is_err(), "{bad:?} should be rejected");
        }
        assert_eq!("x".repeat(101).parse::<ComponentId>(), Err(ParseError::TooLong(101)));
    }
}
