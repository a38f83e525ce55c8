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
        CreateCommandOption::new(CommandOptionType::String, "topic", desc)
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
                CreateCommandOption::new(CommandOptionType::String, "aspect", &t.option_aspect)
                    .required(false)
                    .set_autocomplete(true)
                    .max_length(100),
            ),
        ),
        scoped(
            CreateCommand::new("ask").description(&t.ask).add_option(
                CreateCommandOption::new(CommandOptionType::String, "question", &t.option_question)
                    .required(true)
                    .min_length(2)
                    .max_length(ASK_MAX_LENGTH),
            ),
        ),
        scoped(
            CreateCommand::new("consult")
                .description(&t.consult)
                .add_option(CreateCommandOption::new(
                    CommandOptionType::SubCommand,
                    "start",
                    &t.consult_start,
                ))
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
            topic: string_option(opts, "topic"),
        },
        ("compare", _) => Request::Compare {
            aspect: string_option(opts, "aspect"),
        },
        ("ask", _) => Request::Ask {
            question: string_option(opts, "question").unwrap_or_default(),
        },
        ("consult", Some("start")) => Request::ConsultStart {
            team: string_option(sub_options(opts), "mode").as_deref() == Some("team"),
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
        Some(focused) if matches!(focused.name, "topic" | "aspect") => Request::SuggestTopics {
            typed: focused.value.chars().take(100).collect(),
        },
        _ => Request::Unknown {
            name: cmd.data.name.chars().take(32).collect(),
        },
    }
}
