//! Self-test of the test harness: a tiny serenity bot runs against the fake Discord, proving
//! the fake speaks enough Discord for the real client (READY, interactions, callbacks, stored
//! messages, resume after faults), and that the payload validator really rejects bad payloads.
//! If these fail, end-to-end failures elsewhere say nothing about the bot.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serenity::all::{
    ChannelId, ClientBuilder, Command, CommandOptionType, Context, CreateActionRow, CreateAllowedMentions,
    CreateAutocompleteResponse, CreateButton, CreateCommand, CreateCommandOption, CreateEmbed,
    CreateInteractionResponse, CreateInteractionResponseFollowup, CreateInteractionResponseMessage, CreateSelectMenu,
    CreateSelectMenuKind, CreateSelectMenuOption, EditInteractionResponse, EventHandler, GatewayIntents, GuildId,
    HttpBuilder, Interaction, Permissions, Ready,
};
use support::spec;
use support::{FakeDiscord, FakeUser};
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(5);

/// The smallest bot that exercises what the real one does: bulk-overwrite commands on READY,
/// answer a command with buttons and a select, update the message on a click, defer + edit +
/// follow up, autocomplete. Errors from serenity are reported to the test, not swallowed.
struct Bot {
    errors: mpsc::UnboundedSender<String>,
}

fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
}

fn buttons_and_select() -> Vec<CreateActionRow> {
    vec![
        CreateActionRow::Buttons(vec![
            CreateButton::new("again").label("Again"),
            CreateButton::new("new").label("New message"),
            CreateButton::new_link("https://example.org/docs").label("Docs"),
        ]),
        CreateActionRow::SelectMenu(
            CreateSelectMenu::new(
                "pick",
                CreateSelectMenuKind::String {
                    options: vec![
                        CreateSelectMenuOption::new("Django", "django"),
                        CreateSelectMenuOption::new("Flask", "flask"),
                    ],
                },
            )
            .placeholder("Choose"),
        ),
    ]
}

#[serenity::async_trait]
impl EventHandler for Bot {
    async fn ready(&self, ctx: Context, _ready: Ready) {
        let commands = vec![
            CreateCommand::new("ping")
                .description("Answer with a button")
                .add_option(
                    CreateCommandOption::new(CommandOptionType::String, "topic", "What about").set_autocomplete(true),
                ),
            CreateCommand::new("slow")
                .description("Defer, then edit and follow up")
                .default_member_permissions(Permissions::MANAGE_GUILD),
            CreateCommand::new("bad").description("Answer with a payload Discord refuses"),
            // One option of each kind the fake checks: required with choices, a ranged integer,
            // a length-limited string without autocomplete.
            CreateCommand::new("shape")
                .description("Options of every kind")
                .add_option(
                    CreateCommandOption::new(CommandOptionType::String, "size", "How big")
                        .required(true)
                        .add_string_choice("Small", "small")
                        .add_string_choice("Large", "large"),
                )
                .add_option(
                    CreateCommandOption::new(CommandOptionType::Integer, "count", "How many")
                        .min_int_value(1)
                        .max_int_value(5),
                )
                .add_option(CreateCommandOption::new(CommandOptionType::String, "note", "A note").max_length(10)),
        ];
        if let Err(e) = Command::set_global_commands(&ctx.http, commands).await {
            let _ = self.errors.send(format!("set_global_commands: {e}"));
        }
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let result = match interaction {
            Interaction::Command(cmd) if cmd.data.name == "slow" => {
                let defer = CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new());
                match cmd.create_response(&ctx.http, defer).await {
                    Err(e) => Err(e),
                    Ok(()) => {
                        let edit = EditInteractionResponse::new()
                            .content("done")
                            .allowed_mentions(no_mentions());
                        match cmd.edit_response(&ctx.http, edit).await {
                            Err(e) => Err(e),
                            Ok(_) => {
                                let follow = CreateInteractionResponseFollowup::new()
                                    .content("and one more thing")
                                    .ephemeral(true)
                                    .allowed_mentions(no_mentions());
                                cmd.create_followup(&ctx.http, follow).await.map(|_| ())
                            }
                        }
                    }
                }
            }
            Interaction::Command(cmd) if cmd.data.name == "bad" => {
                // What a buggy bot might send: an over-long custom_id, no allowed_mentions.
                let msg = CreateInteractionResponseMessage::new()
                    .content("bad")
                    .button(CreateButton::new("x".repeat(101)).label("Too long"));
                cmd.create_response(&ctx.http, CreateInteractionResponse::Message(msg))
                    .await
            }
            Interaction::Command(cmd) => {
                let msg = CreateInteractionResponseMessage::new()
                    .content(format!("pong, {}", cmd.user.name))
                    .embed(CreateEmbed::new().title("Ping").description("A test embed"))
                    .components(buttons_and_select())
                    .allowed_mentions(no_mentions());
                cmd.create_response(&ctx.http, CreateInteractionResponse::Message(msg))
                    .await
            }
            Interaction::Component(c) if c.data.custom_id == "new" => {
                // A click answered with a new (ephemeral) message rather than an update.
                let msg = CreateInteractionResponseMessage::new()
                    .content("a new message")
                    .ephemeral(true)
                    .components(buttons_and_select())
                    .allowed_mentions(no_mentions());
                c.create_response(&ctx.http, CreateInteractionResponse::Message(msg))
                    .await
            }
            Interaction::Component(c) => {
                let text = match &c.data.kind {
                    serenity::all::ComponentInteractionDataKind::StringSelect { values } => {
                        format!("picked {}", values.join(","))
                    }
                    _ => format!("clicked {}", c.data.custom_id),
                };
                let msg = CreateInteractionResponseMessage::new()
                    .content(text)
                    .components(buttons_and_select())
                    .allowed_mentions(no_mentions());
                c.create_response(&ctx.http, CreateInteractionResponse::UpdateMessage(msg))
                    .await
            }
            Interaction::Autocomplete(a) => {
                let typed = a.data.autocomplete().map(|o| o.value.to_string()).unwrap_or_default();
                let choices = CreateAutocompleteResponse::new()
                    .add_string_choice(format!("Django ({typed})"), "django")
                    .add_string_choice("Flask", "flask");
                a.create_response(&ctx.http, CreateInteractionResponse::Autocomplete(choices))
                    .await
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            let _ = self.errors.send(format!("interaction: {e}"));
        }
    }
}

/// Starts the bot against the fake and waits for READY.
async fn start_bot(fake: &FakeDiscord) -> (tokio::task::JoinHandle<()>, mpsc::UnboundedReceiver<String>) {
    // The recipe the real bot follows: proxy to the fake, and no serenity rate limiter (it
    // ignores the proxy and would talk to discord.com).
    let http = HttpBuilder::new("test-token")
        .proxy(fake.base_url())
        .ratelimiter_disabled(true)
        .build();
    let (tx, rx) = mpsc::unbounded_channel();
    let mut client = ClientBuilder::new_with_http(http, GatewayIntents::empty())
        .event_handler(Bot { errors: tx })
        .await
        .expect("serenity client builds");
    let handle = tokio::spawn(async move {
        let _ = client.start().await;
    });
    fake.wait_ready(T).await.expect("READY");
    // Users can invoke commands once they are registered, not before.
    fake.wait_requests(|r| r.is("PUT", "/commands") && r.status == 200, T)
        .await
        .expect("the bot registers its commands");
    (handle, rx)
}

/// Runs `assert_clean` expecting it to panic; returns the panic message.
async fn assert_clean_panics(fake: &FakeDiscord, why: &str) -> String {
    let fake = fake.clone();
    // A panic in a spawned task comes back as a JoinError carrying the payload.
    let err = tokio::spawn(async move { fake.assert_clean().await })
        .await
        .expect_err(why);
    err.into_panic().downcast::<String>().map(|s| *s).unwrap_or_default()
}

fn no_errors(rx: &mut mpsc::UnboundedReceiver<String>) {
    let mut errors = Vec::new();
    while let Ok(e) = rx.try_recv() {
        errors.push(e);
    }
    assert!(errors.is_empty(), "the bot reported errors: {errors:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_click_select_and_resume_after_close_4000() {
    let fake = FakeDiscord::start().await;
    let (bot, mut errors) = start_bot(&fake).await;
    assert_eq!(fake.identify_count().await, 1);

    // READY -> the bot bulk-overwrites its commands; the body passed validation.
    let put = fake.wait_requests(|r| r.is("PUT", "/commands"), T).await.unwrap();
    assert_eq!(put.status, 200, "{put}");
    assert_eq!(put.header("authorization"), Some("Bot test-token"));
    assert_eq!(fake.command_overwrites().await.len(), 1);
    assert_eq!(fake.registered_commands(None).await.len(), 4);

    // A slash command -> CHANNEL_MESSAGE_WITH_SOURCE, stored as a message.
    let alice = FakeUser::new(42, "alice");
    let started = Instant::now();
    let id = fake.send_command(&alice, "ping", json!([])).await;
    let cb = fake.wait_callback(id, T).await.unwrap();
    eprintln!("command -> callback: {:?}", started.elapsed());
    assert_eq!(cb["type"], 4);
    assert_eq!(cb["data"]["allowed_mentions"]["parse"], json!([]));
    let msg = fake.latest_message_for(id).await.expect("message created");
    assert_eq!(msg.content, "pong, alice");
    assert_eq!(msg.custom_ids(), ["again", "new", "pick"]);
    assert!(!msg.ephemeral);
    assert_eq!(msg.json["author"]["id"], FakeDiscord::BOT_USER_ID.to_string());

    // A click on that message -> UPDATE_MESSAGE changes the stored message in place.
    let bob = FakeUser::new(43, "bob").admin();
    let click = fake.send_component(&bob, msg.id, "again", None).await;
    let cb = fake.wait_callback(click, T).await.unwrap();
    assert_eq!(cb["type"], 7);
    let updated = fake.message(msg.id).await.unwrap();
    assert_eq!(updated.content, "clicked again");
    assert!(updated.json["edited_timestamp"].is_string());
    assert_eq!(fake.latest_message_for(click).await.unwrap().id, msg.id);

    // A string select on the updated message (the payload carries the message as stored).
    let pick = fake
        .send_component(&bob, msg.id, "pick", Some(vec!["flask".into()]))
        .await;
    fake.wait_callback(pick, T).await.unwrap();
    assert_eq!(fake.message(msg.id).await.unwrap().content, "picked flask");

    // A click answered with a new ephemeral message; a click on that one works too (the
    // stored message, with its component interaction metadata, parses in serenity).
    let new = fake.send_component(&alice, msg.id, "new", None).await;
    assert_eq!(fake.wait_callback(new, T).await.unwrap()["type"], 4);
    let eph = fake.latest_message_for(new).await.unwrap();
    assert!(eph.ephemeral);
    assert_ne!(eph.id, msg.id);
    let click = fake.send_component(&alice, eph.id, "again", None).await;
    fake.wait_callback(click, T).await.unwrap();
    assert_eq!(fake.message(eph.id).await.unwrap().content, "clicked again");
    assert!(fake.message(eph.id).await.unwrap().ephemeral);

    // Close 4000 -> the client RESUMEs (no new IDENTIFY) and keeps answering.
    fake.close_gateway(4000).await;
    fake.wait_ready(T).await.unwrap();
    assert_eq!(fake.resume_count().await, 1);
    assert_eq!(fake.identify_count().await, 1);
    let again = fake.send_command(&alice, "ping", json!([])).await;
    assert_eq!(fake.wait_callback(again, T).await.unwrap()["type"], 4);

    no_errors(&mut errors);
    fake.assert_clean().await;
    bot.abort();
}

/// On the default current-thread runtime, too.
#[tokio::test]
async fn defer_edit_followup_and_autocomplete() {
    let fake = FakeDiscord::start().await;
    let (bot, mut errors) = start_bot(&fake).await;
    let admin = FakeUser::new(44, "carol").admin();

    let id = fake.send_command(&admin, "slow", json!([])).await;
    assert_eq!(fake.wait_callback(id, T).await.unwrap()["type"], 5);
    fake.wait_requests(|r| r.is("POST", "/webhooks/"), T).await.unwrap();
    let original = fake.original_message_for(id).await.unwrap();
    assert_eq!(original.content, "done");
    assert_eq!(original.flags & (1 << 7), 0, "the thinking placeholder was replaced");
    let followup = fake.latest_message_for(id).await.unwrap();
    assert_ne!(followup.id, original.id);
    assert_eq!(followup.content, "and one more thing");
    assert!(followup.ephemeral);

    let ac = fake
        .send_autocomplete(
            &admin,
            "ping",
            json!([{ "name": "topic", "type": 3, "value": "dj", "focused": true }]),
        )
        .await;
    let cb = fake.wait_callback(ac, T).await.unwrap();
    assert_eq!(cb["type"], 8);
    assert_eq!(cb["data"]["choices"][0]["name"], "Django (dj)");
    assert!(fake.latest_message_for(ac).await.is_none());

    no_errors(&mut errors);
    fake.assert_clean().await;
    bot.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_after_tcp_drop_reconnect_and_resumable_invalid_session() {
    let fake = FakeDiscord::start().await;
    let (bot, mut errors) = start_bot(&fake).await;
    let user = FakeUser::new(45, "dave");

    fake.drop_gateway().await;
    fake.wait_ready(T).await.unwrap();
    fake.send_reconnect().await;
    fake.wait_ready(T).await.unwrap();
    fake.send_invalid_session(true).await;
    fake.wait_ready(T).await.unwrap();
    assert_eq!(fake.resume_count().await, 3);
    assert_eq!(fake.identify_count().await, 1);

    let id = fake.send_command(&user, "ping", Value::Null).await;
    fake.wait_callback(id, T).await.unwrap();
    no_errors(&mut errors);
    fake.assert_clean().await;
    bot.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_session_not_resumable_reidentifies() {
    let fake = FakeDiscord::start().await;
    let (bot, mut errors) = start_bot(&fake).await;
    // serenity waits ~5 s (its shard queue) before identifying again.
    fake.send_invalid_session(false).await;
    fake.wait_ready(Duration::from_secs(10)).await.unwrap();
    assert_eq!(fake.identify_count().await, 2);
    let id = fake.send_command(&FakeUser::new(46, "erin"), "ping", json!([])).await;
    fake.wait_callback(id, T).await.unwrap();
    no_errors(&mut errors);
    fake.assert_clean().await;
    bot.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_callback_is_reported_not_hung() {
    let fake = FakeDiscord::start().await;
    let (bot, mut errors) = start_bot(&fake).await;
    fake.fail_next("/callback", 429, Some(0.5), 1).await;
    let id = fake.send_command(&FakeUser::new(47, "frank"), "ping", json!([])).await;
    let started = Instant::now();
    let err = fake
        .wait_callback(id, Duration::from_millis(500))
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(err.contains("answered 429"), "{err}");
    // serenity surfaces the failed callback as an error (its text does not carry the status).
    let reported = tokio::time::timeout(T, errors.recv()).await.unwrap().unwrap();
    assert!(reported.starts_with("interaction:"), "{reported}");
    bot.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_callback_is_refused_like_discord_and_recorded() {
    let fake = FakeDiscord::start().await;
    let (bot, mut errors) = start_bot(&fake).await;
    let id = fake.send_command(&FakeUser::new(48, "grace"), "bad", json!([])).await;
    let err = fake
        .wait_callback(id, Duration::from_secs(1))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("answered 400"), "{err}");
    // Discord's "Invalid Form Body" reaches the bot as an error.
    tokio::time::timeout(T, errors.recv()).await.unwrap().unwrap();
    let violations = fake.violations().await;
    assert!(
        violations
            .iter()
            .any(|v| v.contains(&format!("interaction {id} (bad)")) && v.contains("custom_id: 101 characters")),
        "{violations:#?}"
    );
    assert!(violations.iter().any(|v| v.contains("allowed_mentions: missing")));
    assert!(
        fake.latest_message_for(id).await.is_none(),
        "a refused callback creates nothing"
    );
    let text = assert_clean_panics(&fake, "assert_clean must fail on violations").await;
    assert!(text.contains("violation: callback type 4"), "{text}");
    bot.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_routes_rate_limits_and_unknown_routes() {
    let fake = FakeDiscord::start().await;
    let http = fake.http();

    // The routes serenity may call on its own parse in serenity.
    assert_eq!(http.get_gateway().await.unwrap().url, fake.gateway_url());
    assert_eq!(http.get_bot_gateway().await.unwrap().shards, 1);
    assert_eq!(
        http.get_current_user().await.unwrap().id.get(),
        FakeDiscord::BOT_USER_ID
    );
    assert_eq!(
        http.get_current_application_info().await.unwrap().id.get(),
        FakeDiscord::APP_ID
    );

    // Guild command overwrite: echoed with ids, and used for the command's data.guild_id.
    let guild = GuildId::new(FakeDiscord::GUILD_ID);
    let cmds = guild
        .set_commands(&http, vec![CreateCommand::new("advise").description("Get advice")])
        .await
        .unwrap();
    assert_eq!(cmds[0].guild_id, Some(guild));
    assert_eq!(fake.registered_commands(Some(FakeDiscord::GUILD_ID)).await.len(), 1);
    assert_eq!(guild.get_commands(&http).await.unwrap()[0].id, cmds[0].id);
    assert_eq!(fake.command_overwrites().await.len(), 1);

    fake.fail_next("/commands", 429, Some(0.25), 1).await;
    let err = http.get_global_commands().await.unwrap_err();
    match &err {
        serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(resp)) => {
            // Discord's documented 429 body has no `code`, so serenity cannot decode it into
            // its error type; the status is what a bot can rely on.
            assert_eq!(resp.status_code.as_u16(), 429);
        }
        other => panic!("expected a 429, got {other:?}"),
    }
    // Only `times` requests fail.
    assert!(http.get_global_commands().await.unwrap().is_empty());

    // An unknown route: 404, recorded, and assert_clean fails listing it.
    assert!(http.get_channel(ChannelId::new(FakeDiscord::CHANNEL_ID)).await.is_err());
    let unexpected = fake.unexpected().await;
    assert_eq!(unexpected.len(), 1);
    assert!(unexpected[0].is("GET", "/channels/"));
    let text = assert_clean_panics(&fake, "assert_clean must fail on an unexpected request").await;
    assert!(text.contains("unexpected request: GET /api/v10/channels/"), "{text}");
}

// ----------------------------------------------------------------------------- the validator

/// What serenity actually sends for a good message response, as JSON.
fn good_message() -> CreateInteractionResponseMessage {
    CreateInteractionResponseMessage::new()
        .content("hello")
        .embed(CreateEmbed::new().title("t").description("d").field("n", "v", true))
        .components(buttons_and_select())
        .allowed_mentions(no_mentions())
}

fn to_json(r: CreateInteractionResponse) -> Value {
    serde_json::to_value(r).unwrap()
}

fn assert_rejected(problems: &[String], needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem mentioning {needle:?}, got {problems:#?}"
    );
}

#[test]
fn validator_compiles_fast_and_accepts_what_serenity_sends() {
    let t = spec::compile_time();
    eprintln!("compiling the spec validators took {t:?}");
    assert!(t < Duration::from_secs(10), "{t:?}");

    for r in [
        CreateInteractionResponse::Message(good_message()),
        CreateInteractionResponse::UpdateMessage(good_message()),
        CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new().ephemeral(true)),
        CreateInteractionResponse::Acknowledge,
        CreateInteractionResponse::Autocomplete(
            CreateAutocompleteResponse::new().add_string_choice("Django", "django"),
        ),
    ] {
        let body = to_json(r);
        let started = Instant::now();
        let problems = spec::validate_callback(&body);
        assert!(problems.is_empty(), "{body}\n{problems:#?}");
        assert!(started.elapsed() < Duration::from_millis(500));
    }
    let cmds = serde_json::to_value(vec![CreateCommand::new("advise")
        .description("Get advice")
        .default_member_permissions(Permissions::MANAGE_GUILD)
        .add_option(
            CreateCommandOption::new(CommandOptionType::String, "framework", "Which one")
                .add_string_choice("Django", "django")
                .required(true),
        )])
    .unwrap();
    assert_eq!(spec::validate_command_overwrite(&cmds), Vec::<String>::new());
    let edit = serde_json::to_value(
        EditInteractionResponse::new()
            .content("x")
            .allowed_mentions(no_mentions()),
    )
    .unwrap();
    assert_eq!(spec::validate_message_edit(&edit), Vec::<String>::new());
    let follow = serde_json::to_value(
        CreateInteractionResponseFollowup::new()
            .content("x")
            .allowed_mentions(no_mentions()),
    )
    .unwrap();
    assert_eq!(spec::validate_followup(&follow), Vec::<String>::new());
}

#[test]
fn validator_rejects_a_101_character_custom_id() {
    let msg = good_message().components(vec![CreateActionRow::Buttons(vec![
        CreateButton::new("x".repeat(101)).label("Too long")
    ])]);
    let problems = spec::validate_callback(&to_json(CreateInteractionResponse::Message(msg)));
    assert_rejected(&problems, "/data/components/0/components/0/custom_id: 101 characters");
    assert_rejected(&problems, "spec (");
}

#[test]
fn validator_rejects_missing_allowed_mentions() {
    let mut body = to_json(CreateInteractionResponse::Message(good_message()));
    body["data"].as_object_mut().unwrap().remove("allowed_mentions");
    assert_rejected(&spec::validate_callback(&body), "/data/allowed_mentions: missing");
    body["data"]["allowed_mentions"] = json!({ "parse": ["everyone"] });
    assert_rejected(&spec::validate_callback(&body), "must be empty");
    let edit = serde_json::to_value(EditInteractionResponse::new().content("x")).unwrap();
    assert_rejected(&spec::validate_message_edit(&edit), "allowed_mentions");
}

#[test]
fn validator_rejects_a_wrong_callback_type() {
    let mut body = to_json(CreateInteractionResponse::Message(good_message()));
    body["type"] = json!(3);
    assert_rejected(&spec::validate_callback(&body), "/type: 3 is not one of");
    body["type"] = json!("4");
    assert!(!spec::validate_callback(&body).is_empty());
}

#[test]
fn validator_rejects_7000_embed_characters() {
    let msg = good_message().embeds(vec![
        CreateEmbed::new().description("a".repeat(3500)),
        CreateEmbed::new().description("b".repeat(3500)),
    ]);
    let problems = spec::validate_callback(&to_json(CreateInteractionResponse::Message(msg)));
    assert_rejected(&problems, "7000 characters across all embeds > 6000");
}

#[test]
fn validator_rejects_other_documented_limits() {
    let select = CreateSelectMenu::new(
        "s",
        CreateSelectMenuKind::String {
            options: vec![CreateSelectMenuOption::new("a", "a")],
        },
    );
    let mut body = to_json(CreateInteractionResponse::Message(good_message()));
    // A select sharing a row with a button, a duplicate custom_id, a link button with a custom_id.
    body["data"]["components"] = json!([{
        "type": 1,
        "components": [
            serde_json::to_value(CreateButton::new("s").label("b")).unwrap(),
            serde_json::to_value(select).unwrap(),
        ]
    }, {
        "type": 1,
        "components": [{ "type": 2, "style": 5, "label": "l", "url": "https://x.y", "custom_id": "z" }]
    }]);
    body["data"]["content"] = json!("c".repeat(2001));
    let problems = spec::validate_callback(&body);
    assert_rejected(&problems, "must be alone in its row");
    assert_rejected(&problems, "is used twice");
    assert_rejected(&problems, "link button");
    assert_rejected(&problems, "/data/content: 2001 characters");

    let choices: Vec<Value> = (0..26)
        .map(|i| json!({ "name": format!("c{i}"), "value": "v" }))
        .collect();
    let ac = json!({ "type": 8, "data": { "choices": choices } });
    assert_rejected(&spec::validate_callback(&ac), "26 choices > 25");
    let ac = json!({ "type": 8, "data": { "choices": [{ "name": "", "value": "v" }] } });
    assert_rejected(&spec::validate_callback(&ac), "/data/choices/0/name");
}

/// The fake is shared between the test and spawned tasks.
#[test]
fn fake_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone>() {}
    check::<FakeDiscord>();
}

/// The fake builds interactions only from what the bot registered and rendered: each thing a
/// Discord client could never send is refused, naming the command and option (or the message
/// and custom_id), and never reaches the bot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_what_discord_would_never_send() {
    let fake = FakeDiscord::start().await;
    let (bot, mut errors) = start_bot(&fake).await;
    fake.wait_requests(|r| r.is("PUT", "/commands") && r.status == 200, T)
        .await
        .unwrap();
    let hana = FakeUser::new(49, "hana");
    let refused = |what: &str, r: Result<u64, String>, needles: &[&str]| {
        let e = r.expect_err(what);
        for n in needles {
            assert!(e.contains(n), "{what}: {n:?} in {e:?}");
        }
    };
    let sent_before = fake.requests().await.len();

    // Commands and options.
    refused(
        "an unregistered command",
        fake.try_send_command(&hana, "nope", json!([])).await,
        &["/nope", "no such command"],
    );
    refused(
        "an unregistered option",
        fake.try_send_command(
            &hana,
            "shape",
            json!([{ "name": "size", "value": "small" }, { "name": "colour", "value": "red" }]),
        )
        .await,
        &["/shape", "\"colour\"", "not registered"],
    );
    refused(
        "a value outside the choices",
        fake.try_send_command(&hana, "shape", json!([{ "name": "size", "value": "medium" }]))
            .await,
        &["/shape", "\"size\"", "medium", "choices"],
    );
    refused(
        "a value of the wrong type",
        fake.try_send_command(
            &hana,
            "shape",
            json!([{ "name": "size", "value": "small" }, { "name": "count", "value": "three" }]),
        )
        .await,
        &["/shape", "\"count\"", "wrong type"],
    );
    refused(
        "an option sent as another type",
        fake.try_send_command(
            &hana,
            "shape",
            json!([{ "name": "size", "value": "small" }, { "type": 3, "name": "count", "value": "3" }]),
        )
        .await,
        &["/shape", "\"count\"", "type 4"],
    );
    refused(
        "a number above max_value",
        fake.try_send_command(
            &hana,
            "shape",
            json!([{ "name": "size", "value": "small" }, { "name": "count", "value": 9 }]),
        )
        .await,
        &["\"count\"", "max_value"],
    );
    refused(
        "a string over max_length",
        fake.try_send_command(
            &hana,
            "shape",
            json!([{ "name": "size", "value": "small" }, { "name": "note", "value": "eleven char" }]),
        )
        .await,
        &["\"note\"", "max_length"],
    );
    refused(
        "a missing required option",
        fake.try_send_command(&hana, "shape", json!([{ "name": "count", "value": 2 }]))
            .await,
        &["/shape", "required option \"size\""],
    );
    refused(
        "a command hidden by default_member_permissions",
        fake.try_send_command(&hana, "slow", json!([])).await,
        &["/slow", "permissions"],
    );

    // Autocomplete.
    refused(
        "autocomplete on an option without it",
        fake.try_send_autocomplete(
            &hana,
            "shape",
            json!([{ "name": "note", "value": "x", "focused": true }]),
        )
        .await,
        &["/shape", "\"note\"", "autocomplete"],
    );
    refused(
        "autocomplete with nothing focused",
        fake.try_send_autocomplete(&hana, "ping", json!([{ "name": "topic", "value": "dj" }]))
            .await,
        &["/ping", "exactly one focused"],
    );
    refused(
        "a focused option in a command",
        fake.try_send_command(
            &hana,
            "ping",
            json!([{ "name": "topic", "value": "dj", "focused": true }]),
        )
        .await,
        &["/ping", "\"topic\"", "focused"],
    );

    // What is accepted reaches the bot: a valid command, with the type filled in.
    let ok = fake
        .try_send_command(
            &hana,
            "shape",
            json!([{ "name": "size", "value": "large" }, { "name": "count", "value": 5 }]),
        )
        .await
        .expect("a valid command is sent");
    assert_eq!(fake.wait_callback(ok, T).await.unwrap()["type"], 4);
    let msg = fake.latest_message_for(ok).await.unwrap();

    // Clicks.
    refused(
        "a custom_id not on the message",
        fake.try_send_component(&hana, msg.id, "forged", None).await,
        &[&format!("message {}", msg.id), "\"forged\"", "not on the message"],
    );
    refused(
        "a select value not offered",
        fake.try_send_component(&hana, msg.id, "pick", Some(vec!["rails".into()]))
            .await,
        &["\"pick\"", "\"rails\"", "not offered"],
    );
    refused(
        "more values than max_values",
        fake.try_send_component(&hana, msg.id, "pick", Some(vec!["django".into(), "flask".into()]))
            .await,
        &["\"pick\"", "2 values picked"],
    );
    refused(
        "values on a button",
        fake.try_send_component(&hana, msg.id, "again", Some(vec!["django".into()]))
            .await,
        &["\"again\"", "button"],
    );
    refused(
        "a message that does not exist",
        fake.try_send_component(&hana, 12345, "again", None).await,
        &["message 12345"],
    );
    let new = fake.send_component(&hana, msg.id, "new", None).await;
    fake.wait_callback(new, T).await.unwrap();
    let eph = fake.latest_message_for(new).await.unwrap();
    assert!(eph.ephemeral);
    refused(
        "a click on someone else's ephemeral message",
        fake.try_send_component(&FakeUser::new(50, "ivan"), eph.id, "again", None)
            .await,
        &["ephemeral"],
    );
    // An old snapshot is clickable (the user may still see it); one the bot never sent is not.
    let clicked = fake.send_component(&hana, msg.id, "again", None).await;
    fake.wait_callback(clicked, T).await.unwrap();
    let replay = fake.send_component_on_snapshot(&hana, &msg, "new", None).await;
    fake.wait_callback(replay, T).await.unwrap();
    let mut doctored = msg.clone();
    doctored.json["components"][0]["components"][0]["custom_id"] = json!("forged");
    let caught = tokio::spawn({
        let fake = fake.clone();
        async move { fake.send_component_on_snapshot(&hana, &doctored, "forged", None).await }
    })
    .await
    .expect_err("a doctored snapshot panics");
    let text = caught.into_panic().downcast::<String>().map(|s| *s).unwrap_or_default();
    assert!(text.contains("never sent or edited it into this state"), "{text}");

    // Nothing refused went out: the bot saw only the accepted interactions.
    let callbacks = fake.requests().await[sent_before..]
        .iter()
        .filter(|r| r.is("POST", "/callback"))
        .count();
    assert_eq!(callbacks, 4, "shape, new, again, the replayed new");
    no_errors(&mut errors);
    fake.assert_clean().await;
    bot.abort();
}

#[test]
fn a_disabled_button_cannot_be_clicked() {
    use support::interaction_builder::component_data;
    let message = json!({
        "id": "7", "flags": 0,
        "components": [{ "type": 1, "components": [
            { "type": 2, "style": 1, "custom_id": "off", "label": "Off", "disabled": true },
            { "type": 2, "style": 1, "custom_id": "on", "label": "On" },
        ]}],
    });
    let user = FakeUser::new(51, "jo");
    let err = component_data(&message, &user, "off", None).unwrap_err();
    assert!(err.contains("\"off\"") && err.contains("disabled"), "{err}");
    let data = component_data(&message, &user, "on", None).unwrap();
    assert_eq!(data, json!({ "custom_id": "on", "component_type": 2 }));
}
