//! Slash command definitions (descriptions from `responses/messages.toml`),
//! decoding of command and autocomplete interactions into [`Request`]s, and
//! the hash that decides whether the definitions must be re-registered.

use serenity::all::{
    CommandDataOption, CommandDataOptionValue, CommandInteraction, CommandOptionType, CreateCommand,
    CreateCommandOption, InstallationContext, InteractionContext,
};
use sha2::{Digest, Sha256};

use crate::domain::knowledge::CommandTexts;

/// What a slash command (or its autocomplete) asks for, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Framework {
        framework: String,
        topic: Option<String>,
    },
    Compare {
        aspect: Option<String>,
    },
    Ask {
        question: String,
    },
    /// `team`: a public consultation for the channel.
    ConsultStart {
        team: bool,
    },
    ConsultResume,
    ConsultCancel,
    Help,
    ForgetMe,
    Stats,
    /// Autocomplete of a topic/aspect option: what was typed so far.
    SuggestTopics {
        typed: String,
    },
    /// Anything this build does not know (an old or foreign command).
    Unknown {
        name: String,
    },
}

/// Option names shared by the definitions and the decoder, so the two cannot drift apart
/// (the `declared_and_decoded_options_agree` test checks the rest: types, choices, autocomplete).
const OPTION_TOPIC: &str = "topic";
const OPTION_ASPECT: &str = "aspect";
const OPTION_QUESTION: &str = "question";
const OPTION_MODE: &str = "mode";
/// Choice values of `/consult start mode` (what Discord sends; the names shown come from `responses/`).
pub const MODE_PRIVATE: &str = "private";
pub const MODE_TEAM: &str = "team";
/// The options whose autocomplete the decoder answers (with topic suggestions).
const AUTOCOMPLETED: [&str; 2] = [OPTION_TOPIC, OPTION_ASPECT];

/// Longest `/ask` question Discord will let through (the option's max_length).
pub const ASK_MAX_LENGTH: u16 = 300;

/// The full command set, in a fixed order (the hash depends on it).
pub fn definitions(t: &CommandTexts) -> Vec<CreateCommand> {
    // Everywhere a bot can be: servers and the bot's DMs. Guild install only:
    // the consultation UI relies on ephemeral messages in a channel the bot sees.
    let scoped = |c: CreateCommand| {
        c.integration_types(vec![InstallationContext::Guild])
            .contexts(vec![InteractionContext::Guild, InteractionContext::BotDm])
    };
    let topic_option = |desc: &str| {
        CreateCommandOption::new(CommandOptionType::String, OPTION_TOPIC, desc)
            .required(false)
            .set_autocomplete(true)
            .max_length(100)
    };
    vec![
        scoped(
            CreateCommand::new("django")
                .description(&t.django)
                .add_option(topic_option(&t.option_topic)),
        ),
        scoped(
            CreateCommand::new("flask")
                .description(&t.flask)
                .add_option(topic_option(&t.option_topic)),
        ),
        scoped(
            CreateCommand::new("compare").description(&t.compare).add_option(
                CreateCommandOption::new(CommandOptionType::String, OPTION_ASPECT, &t.option_aspect)
                    .required(false)
                    .set_autocomplete(true)
                    .max_length(100),
            ),
        ),
        scoped(
            CreateCommand::new("ask").description(&t.ask).add_option(
                CreateCommandOption::new(CommandOptionType::String, OPTION_QUESTION, &t.option_question)
                    .required(true)
                    .min_length(2)
                    .max_length(ASK_MAX_LENGTH),
            ),
        ),
        scoped(
            CreateCommand::new("consult")
                .description(&t.consult)
                .add_option(
                    CreateCommandOption::new(CommandOptionType::SubCommand, "start", &t.consult_start).add_sub_option(
                        CreateCommandOption::new(CommandOptionType::String, OPTION_MODE, &t.option_mode)
                            .required(false)
                            .add_string_choice(&t.choice_mode_private, MODE_PRIVATE)
                            .add_string_choice(&t.choice_mode_team, MODE_TEAM),
                    ),
                )
                .add_option(CreateCommandOption::new(
                    CommandOptionType::SubCommand,
                    "resume",
                    &t.consult_resume,
                ))
                .add_option(CreateCommandOption::new(
                    CommandOptionType::SubCommand,
                    "cancel",
                    &t.consult_cancel,
                )),
        ),
        scoped(
            CreateCommand::new("advisor")
                .description(&t.advisor)
                .add_option(CreateCommandOption::new(
                    CommandOptionType::SubCommand,
                    "help",
                    &t.advisor_help,
                ))
                .add_option(CreateCommandOption::new(
                    CommandOptionType::SubCommand,
                    "forget-me",
                    &t.advisor_forget_me,
                ))
                .add_option(CreateCommandOption::new(
                    CommandOptionType::SubCommand,
                    "stats",
                    &t.advisor_stats,
                )),
        ),
    ]
}

/// A stable digest of the definitions and where they go; unchanged digest
/// means no re-registration (Discord allows 200 creates a day per guild).
pub fn definitions_hash(defs: &[CreateCommand], scope: &str) -> String {
    let mut h = Sha256::new();
    h.update(scope.as_bytes());
    h.update([0]);
    // Builders serialise to exactly the JSON sent to Discord.
    h.update(serde_json::to_vec(defs).unwrap_or_default());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn string_option(options: &[CommandDataOption], name: &str) -> Option<String> {
    #[cfg(test)]
    tests::note_read(name);
    options.iter().find(|o| o.name == name).and_then(|o| match &o.value {
        CommandDataOptionValue::String(s) => Some(s.clone()),
        CommandDataOptionValue::Autocomplete { value, .. } => Some(value.clone()),
        _ => None,
    })
}

fn subcommand(options: &[CommandDataOption]) -> Option<&str> {
    options.first().and_then(|o| match o.value {
        CommandDataOptionValue::SubCommand(_) => Some(o.name.as_str()),
        _ => None,
    })
}

fn sub_options(options: &[CommandDataOption]) -> &[CommandDataOption] {
    match options.first().map(|o| &o.value) {
        Some(CommandDataOptionValue::SubCommand(inner)) => inner,
        _ => &[],
    }
}

/// Decodes a slash command.
pub fn decode(cmd: &CommandInteraction) -> Request {
    let opts = &cmd.data.options;
    let name = cmd.data.name.as_str();
    match (name, subcommand(opts)) {
        ("django" | "flask", _) => Request::Framework {
            framework: name.to_string(),
            topic: string_option(opts, OPTION_TOPIC),
        },
        ("compare", _) => Request::Compare {
            aspect: string_option(opts, OPTION_ASPECT),
        },
        ("ask", _) => Request::Ask {
            question: string_option(opts, OPTION_QUESTION).unwrap_or_default(),
        },
        ("consult", Some("start")) => Request::ConsultStart {
            team: string_option(sub_options(opts), OPTION_MODE).as_deref() == Some(MODE_TEAM),
        },
        ("consult", Some("resume")) => Request::ConsultResume,
        ("consult", Some("cancel")) => Request::ConsultCancel,
        ("advisor", Some("help")) => Request::Help,
        ("advisor", Some("forget-me")) => Request::ForgetMe,
        ("advisor", Some("stats")) => Request::Stats,
        _ => Request::Unknown {
            name: name.chars().take(32).collect(),
        },
    }
}

/// Decodes an autocomplete interaction: every autocompleted option is a topic.
pub fn decode_autocomplete(cmd: &CommandInteraction) -> Request {
    match cmd.data.autocomplete() {
        Some(focused) if AUTOCOMPLETED.contains(&focused.name) => Request::SuggestTopics {
            typed: focused.value.chars().take(100).collect(),
        },
        _ => Request::Unknown {
            name: cmd.data.name.chars().take(32).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    //! The definitions (what Discord lets people type) and the decoder (what the bot reads)
    //! must agree option by option: an option read but never declared cannot be typed in any
    //! Discord client (this is how team mode once became unreachable), and an option declared
    //! but never read is silently ignored.

    use std::cell::RefCell;
    use std::collections::BTreeSet;
    use std::path::Path;

    use serde_json::{json, Value};
    use serenity::all::Interaction;

    use super::*;
    use crate::content::Content;

    thread_local! {
        static READ: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    /// Called by the decoder for every option name it reads (test builds only).
    pub(super) fn note_read(name: &str) {
        READ.with(|r| r.borrow_mut().push(name.to_string()));
    }

    fn take_reads() -> BTreeSet<String> {
        READ.with(|r| r.borrow_mut().drain(..).collect())
    }

    fn texts() -> CommandTexts {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/responses"));
        Content::load(dir)
            .expect("responses/ loads")
            .knowledge
            .messages
            .commands
    }

    /// A declared leaf option: where it sits and what Discord lets people send in it.
    #[derive(Debug, Clone)]
    struct Declared {
        command: String,
        name: String,
        kind: u64,
        required: bool,
        choices: Vec<Value>,
        autocomplete: bool,
    }

    /// Every command path (command, optional subcommand) and its leaf options, from the JSON
    /// the bot registers.
    fn declared() -> Vec<(String, Option<String>, Vec<Declared>)> {
        let defs = serde_json::to_value(definitions(&texts())).unwrap();
        let mut out = Vec::new();
        for c in defs.as_array().unwrap() {
            let command = c["name"].as_str().unwrap().to_string();
            let options = c["options"].as_array().cloned().unwrap_or_default();
            let subs: Vec<&Value> = options.iter().filter(|o| o["type"] == json!(1)).collect();
            assert!(
                options.iter().all(|o| o["type"] != json!(2)),
                "/{command}: subcommand groups are not decoded"
            );
            let leaves = |opts: &[Value]| -> Vec<Declared> {
                opts.iter()
                    .map(|o| Declared {
                        command: command.clone(),
                        name: o["name"].as_str().unwrap().to_string(),
                        kind: o["type"].as_u64().unwrap(),
                        required: o["required"].as_bool().unwrap_or(false),
                        choices: o["choices"]
                            .as_array()
                            .map(|c| c.iter().map(|c| c["value"].clone()).collect())
                            .unwrap_or_default(),
                        autocomplete: o["autocomplete"].as_bool().unwrap_or(false),
                    })
                    .collect()
            };
            if subs.is_empty() {
                out.push((command.clone(), None, leaves(&options)));
            } else {
                assert_eq!(
                    subs.len(),
                    options.len(),
                    "/{command}: subcommands and plain options mixed"
                );
                for s in subs {
                    let sub = s["name"].as_str().unwrap().to_string();
                    let inner = s["options"].as_array().cloned().unwrap_or_default();
                    out.push((command.clone(), Some(sub), leaves(&inner)));
                }
            }
        }
        out
    }

    /// A command (type 2) or autocomplete (type 4) interaction as Discord sends it.
    fn interaction(kind: u64, command: &str, sub: Option<&str>, leaves: Value) -> CommandInteraction {
        let options = match sub {
            Some(s) => json!([{ "type": 1, "name": s, "options": leaves }]),
            None => leaves,
        };
        let payload = json!({
            "id": "1300000000000000001",
            "application_id": "1100000000000000001",
            "type": kind,
            "data": { "id": "1300000000000000002", "name": command, "type": 1, "options": options },
            "channel_id": "1100000000000000003",
            "user": { "id": "1000000000000000001", "username": "alice", "discriminator": "0",
                      "global_name": "alice", "avatar": null, "public_flags": 0 },
            "token": "tok",
            "version": 1,
            "app_permissions": "0",
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": { "1": "1000000000000000001" },
            "context": 1,
            "attachment_size_limit": 10_485_760,
        });
        match serde_json::from_value::<Interaction>(payload).expect("serenity parses it") {
            Interaction::Command(c) | Interaction::Autocomplete(c) => c,
            other => panic!("not a command: {other:?}"),
        }
    }

    fn leaf(d: &Declared, value: Value) -> Value {
        json!({ "type": d.kind, "name": d.name, "value": value })
    }

    /// A value of the option's type that Discord would accept, different from any default.
    fn sample(d: &Declared) -> Value {
        match d.kind {
            3 => json!("probe-value"),
            other => panic!("/{} {}: option type {other} is not decoded", d.command, d.name),
        }
    }

    #[test]
    fn declared_and_decoded_options_agree() {
        for (command, sub, leaves) in declared() {
            let path = format!("/{command} {}", sub.clone().unwrap_or_default());
            // With every required option at a sample value, the command decodes to something known.
            let base: Vec<Value> = leaves
                .iter()
                .filter(|d| d.required)
                .map(|d| leaf(d, d.choices.first().cloned().unwrap_or_else(|| sample(d))))
                .collect();
            take_reads();
            let plain = decode(&interaction(2, &command, sub.as_deref(), json!(base)));
            assert!(
                !matches!(plain, Request::Unknown { .. }),
                "{path}: decodes to {plain:?}"
            );
            let read = take_reads();
            let names: BTreeSet<String> = leaves.iter().map(|d| d.name.clone()).collect();
            assert!(
                read.is_subset(&names),
                "{path}: the decoder reads {:?}, which the definition does not declare (declared: {names:?})",
                read.difference(&names).collect::<Vec<_>>()
            );
            for d in &leaves {
                assert!(
                    read.contains(&d.name),
                    "{path}: option {} is declared but never read",
                    d.name
                );
                let others: Vec<Value> = base.iter().filter(|o| o["name"] != json!(d.name)).cloned().collect();
                let with = |value: Value| {
                    let mut opts = others.clone();
                    opts.push(leaf(d, value));
                    decode(&interaction(2, &command, sub.as_deref(), json!(opts)))
                };
                if d.choices.is_empty() {
                    let got = with(sample(d));
                    assert!(
                        format!("{got:?}").contains("probe-value"),
                        "{path}: option {} is declared but its value is not decoded: {got:?}",
                        d.name
                    );
                } else {
                    // Each choice means something different; leaving the option out means one of them.
                    let decoded: Vec<Request> = d.choices.iter().map(|c| with(c.clone())).collect();
                    let distinct: BTreeSet<String> = decoded.iter().map(|r| format!("{r:?}")).collect();
                    assert_eq!(
                        distinct.len(),
                        d.choices.len(),
                        "{path} {}: choices decode alike: {decoded:?}",
                        d.name
                    );
                    if !d.required {
                        let absent = decode(&interaction(2, &command, sub.as_deref(), json!(others)));
                        assert!(
                            decoded.contains(&absent),
                            "{path} {}: absent decodes to {absent:?}",
                            d.name
                        );
                    }
                }
            }
            // Autocomplete: answered for exactly the options declared with it.
            for d in &leaves {
                let mut focused = leaf(d, json!("pro"));
                focused["focused"] = json!(true);
                let got = decode_autocomplete(&interaction(4, &command, sub.as_deref(), json!([focused])));
                let answered = matches!(got, Request::SuggestTopics { .. });
                assert_eq!(
                    answered, d.autocomplete,
                    "{path} {}: declared autocomplete {} but the decoder answers {got:?}",
                    d.name, d.autocomplete
                );
            }
        }
        let declared_autocomplete: BTreeSet<String> = declared()
            .into_iter()
            .flat_map(|(_, _, l)| l)
            .filter(|d| d.autocomplete)
            .map(|d| d.name)
            .collect();
        let decoded_autocomplete: BTreeSet<String> = AUTOCOMPLETED.iter().map(|s| s.to_string()).collect();
        assert_eq!(declared_autocomplete, decoded_autocomplete);
    }

    #[test]
    fn consult_start_declares_mode_with_private_and_team() {
        let start = declared()
            .into_iter()
            .find(|(c, s, _)| c == "consult" && s.as_deref() == Some("start"))
            .expect("/consult start");
        let mode = start.2.iter().find(|d| d.name == "mode").expect("mode declared");
        assert_eq!(mode.kind, 3);
        assert!(!mode.required, "private is the default");
        assert_eq!(mode.choices, vec![json!(MODE_PRIVATE), json!(MODE_TEAM)]);
        let d = |v: Option<&str>| {
            let leaves = v
                .map(|v| json!([{ "type": 3, "name": "mode", "value": v }]))
                .unwrap_or(json!([]));
            decode(&interaction(2, "consult", Some("start"), leaves))
        };
        assert_eq!(d(Some("team")), Request::ConsultStart { team: true });
        assert_eq!(d(Some("private")), Request::ConsultStart { team: false });
        assert_eq!(d(None), Request::ConsultStart { team: false });
    }
}
