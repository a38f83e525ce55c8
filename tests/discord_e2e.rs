//! End-to-end: the real bot (serenity gateway client) against the fake
//! Discord. Every payload the bot sends is validated against Discord's
//! OpenAPI description and the documented limits (`assert_clean`).

mod support;

use std::time::Duration;

use serde_json::{json, Value};

use support::bot::{
    answer_for, click, click_snapshot, command, control, embed_title, is_recommendation, step_of, Bot, WAIT,
};
use support::flows::{consult, session_of, stored};
use support::{FakeDiscord, FakeUser};

const EPHEMERAL: u64 = 64;

fn alice() -> FakeUser {
    FakeUser::new(1_000_000_000_000_000_101, "alice")
}

fn bob() -> FakeUser {
    FakeUser::new(1_000_000_000_000_000_102, "bob")
}

fn content_of(body: &Value) -> String {
    body["data"]["content"].as_str().unwrap_or_default().to_string()
}

/// Starts a consultation for `user`; returns the id of its message.
async fn start_consultation(fake: &FakeDiscord, user: &FakeUser) -> u64 {
    let (iid, body) = command(fake, user, "consult", consult("start")).await;
    assert_eq!(body["type"], json!(4), "{body}");
    assert_eq!(
        body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL,
        EPHEMERAL,
        "private = ephemeral"
    );
    fake.latest_message_for(iid).await.expect("message created").id
}

/// Answers the current question of message `msg` (rotating choices); returns the new step.
async fn answer(fake: &FakeDiscord, user: &FakeUser, msg: u64, choice: usize) -> Value {
    let m = fake.message(msg).await.unwrap();
    let (id, values) = answer_for(&m, choice).expect("the message has an answer component");
    let (_, body) = click(fake, user, msg, &id, values).await;
    assert_eq!(
        body["type"],
        json!(7),
        "an applied answer updates the message in place: {body}"
    );
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_consultation_back_restart_complete_and_share() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    let user = alice();
    let msg = start_consultation(&fake, &user).await;
    let first = fake.message(msg).await.unwrap();
    assert_eq!(step_of(&first).map(|s| s.0), Some(1));
    let first_title = embed_title(&first);

    answer(&fake, &user, msg, 0).await;
    answer(&fake, &user, msg, 1).await;
    let m = fake.message(msg).await.unwrap();
    assert_eq!(step_of(&m).map(|s| s.0), Some(3));
    assert!(
        m.embeds[0]["description"].as_str().unwrap().contains("> "),
        "the reaction to the last answer is shown"
    );

    // Back: one step back.
    let (_, body) = click(&fake, &user, msg, &control(&m, ":b"), None).await;
    assert_eq!(body["type"], json!(7));
    assert_eq!(step_of(&fake.message(msg).await.unwrap()).map(|s| s.0), Some(2));

    // Restart: question 1 again.
    let m = fake.message(msg).await.unwrap();
    let (_, body) = click(&fake, &user, msg, &control(&m, ":r"), None).await;
    assert_eq!(body["type"], json!(7));
    let m = fake.message(msg).await.unwrap();
    assert_eq!(step_of(&m).map(|s| s.0), Some(1));
    assert_eq!(embed_title(&m), first_title);

    // Answer to the end.
    let mut steps = 0;
    while !is_recommendation(&fake.message(msg).await.unwrap()) {
        answer(&fake, &user, msg, 0).await;
        steps += 1;
        assert!(steps <= 30, "the consultation ends");
    }
    let done = fake.message(msg).await.unwrap();
    let embed = &done.embeds[0];
    let field_names: Vec<&str> = embed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    for want in ["Why", "Trade-offs to watch", "Next steps"] {
        assert!(field_names.contains(&want), "{want} in {field_names:?}");
    }
    assert!(embed["description"].as_str().unwrap().contains("Confidence"));
    assert!(embed["color"].as_u64().is_some());
    let links: Vec<&str> = done.components[0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["url"].as_str())
        .collect();
    assert!(links.iter().any(|u| u.contains("djangoproject")), "{links:?}");
    assert!(links.iter().any(|u| u.contains("flask")), "{links:?}");

    // Share: a public message attributed by name, pinging nobody.
    let (sid, body) = click(&fake, &user, msg, &control(&done, ":share"), None).await;
    assert_eq!(body["type"], json!(4));
    assert_eq!(
        body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL,
        0,
        "shared publicly"
    );
    let shared = fake.latest_message_for(sid).await.unwrap();
    assert!(!shared.ephemeral);
    let footer = shared.embeds[0]["footer"]["text"].as_str().unwrap();
    assert!(footer.contains("alice"), "{footer}");
    assert!(!footer.contains("<@"), "no mention syntax: {footer}");
    assert_eq!(body["data"]["allowed_mentions"]["parse"], json!([]));

    // Nobody else can click alice's result: it is ephemeral, Discord shows it to her only.
    let refused = fake
        .try_send_component(&bob(), msg, &control(&done, ":share"), None)
        .await
        .expect_err("Discord never delivers a click on someone else's ephemeral message");
    assert!(refused.contains("ephemeral"), "{refused}");

    bot.stop().await;
    fake.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_and_kill_keep_old_buttons_working() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let user = alice();
    let bot = Bot::start(&fake, dir.path()).await;
    let msg = start_consultation(&fake, &user).await;
    for i in 0..3 {
        answer(&fake, &user, msg, i).await;
    }
    let before = fake.message(msg).await.unwrap();
    assert_eq!(step_of(&before).map(|s| s.0), Some(4));
    bot.stop().await;

    // A new process on the same directory: the last message's buttons still work.
    let bot = Bot::start(&fake, dir.path()).await;
    answer(&fake, &user, msg, 0).await;
    assert_eq!(step_of(&fake.message(msg).await.unwrap()).map(|s| s.0), Some(5));

    // Abrupt end (the client dropped mid-run), then again.
    bot.kill().await;
    let bot = Bot::start(&fake, dir.path()).await;
    answer(&fake, &user, msg, 1).await;
    assert_eq!(step_of(&fake.message(msg).await.unwrap()).map(|s| s.0), Some(6));
    let (_, body) = command(&fake, &user, "consult", consult("resume")).await;
    assert!(
        body["data"]["embeds"][0]["description"]
            .as_str()
            .unwrap()
            .contains("Step 6"),
        "{body}"
    );
    bot.stop().await;
    fake.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_change_nothing() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    let user = alice();
    let msg = start_consultation(&fake, &user).await;
    let at_step_1 = fake.message(msg).await.unwrap();
    answer(&fake, &user, msg, 0).await;
    let at_step_2 = fake.message(msg).await.unwrap();
    let session_id = session_of(&at_step_2);
    let revision = |bot: &Bot| stored(bot, &session_id).revision;
    let rev = revision(&bot);

    // Another user cannot click it at all (the message is ephemeral, shown to alice only), and
    // ids that were never on the message cannot be clicked: Discord delivers neither. What a
    // user can do is click a rendering the bot has since replaced (an old snapshot still on
    // screen, a double click, a replay), below.
    let (id, values) = answer_for(&at_step_2, 0).unwrap();
    assert!(fake.try_send_component(&bob(), msg, &id, values.clone()).await.is_err());
    assert!(fake
        .try_send_component(&user, msg, "fa1:c:deadbeef:0:b", None)
        .await
        .is_err());

    // A replay of the step-1 rendering: refused politely, nothing applied.
    let (old_id, old_values) = answer_for(&at_step_1, 1).unwrap();
    let (_, body) = click_snapshot(&fake, &user, &at_step_1, &old_id, old_values).await;
    assert_eq!(body["type"], json!(4), "{body}");
    assert!(body["data"]["flags"].as_u64().unwrap() & EPHEMERAL != 0);
    assert!(!content_of(&body).is_empty() || body["data"]["embeds"].as_array().is_some_and(|e| !e.is_empty()));
    assert_eq!(revision(&bot), rev);

    // A double click (two clicks on the same rendering, sent concurrently): applied exactly once.
    let (a, b) = tokio::join!(
        fake.send_component_on_snapshot(&user, &at_step_2, &id, values.clone()),
        fake.send_component_on_snapshot(&user, &at_step_2, &id, values.clone())
    );
    let (ba, bb) = (
        fake.wait_callback(a, WAIT).await.unwrap(),
        fake.wait_callback(b, WAIT).await.unwrap(),
    );
    let mut kinds = vec![ba["type"].as_u64().unwrap(), bb["type"].as_u64().unwrap()];
    kinds.sort();
    assert_eq!(kinds, vec![4, 7], "one update, one stale notice: {ba} {bb}");
    assert_eq!(revision(&bot), rev + 1);
    let stale = if ba["type"] == json!(4) { &ba } else { &bb };
    assert!(stale["data"]["embeds"][0]["description"]
        .as_str()
        .unwrap()
        .contains("earlier step"));

    // A stale click on the old message state (step 2 ids, still on the user's screen): the
    // current question is re-shown.
    let now = fake.message(msg).await.unwrap();
    assert_eq!(step_of(&now).map(|s| s.0), Some(3));
    let (sid, body) = click_snapshot(&fake, &user, &at_step_2, &id, values).await;
    assert_eq!(body["type"], json!(4));
    let reshown = fake.latest_message_for(sid).await.unwrap();
    assert_eq!(
        step_of(&reshown).map(|s| s.0),
        Some(3),
        "the current question is shown again"
    );
    assert_eq!(revision(&bot), rev + 1);

    // Cancel, then a click on the cancelled session: stale, nothing applied.
    let (_, body) = click(&fake, &user, msg, &control(&now, ":x"), None).await;
    assert_eq!(body["type"], json!(7));
    let (_, body) = click(&fake, &user, reshown.id, &answer_for(&reshown, 0).unwrap().0, None).await;
    assert_eq!(body["type"], json!(4));
    let (_, body) = command(&fake, &user, "consult", consult("resume")).await;
    assert!(
        content_of(&body).contains("no active") || content_of(&body).to_lowercase().contains("no "),
        "{body}"
    );
    bot.stop().await;
    fake.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_and_autocomplete_answers_validly() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    let user = alice();
    let s = |name: &str, v: &str| json!([{ "type": 3, "name": name, "value": v }]);

    for (name, options, title_part) in [
        ("django", Value::Null, "Django"),
        ("flask", Value::Null, "Flask"),
        ("django", s("topic", "orm"), "ORM"),
        ("flask", s("topic", "authentication"), "Flask"),
        ("compare", Value::Null, "Django vs Flask"),
        ("compare", s("aspect", "security"), "Security"),
        (
            "ask",
            s("question", "is flask ok for serving a pytorch model?"),
            "ML model",
        ),
        ("ask", s("question", "@everyone how do I do database migrations"), "ORM"),
    ] {
        let (_, body) = command(&fake, &user, name, options.clone()).await;
        assert_eq!(body["type"], json!(4), "/{name} {options}");
        let title = body["data"]["embeds"][0]["title"].as_str().unwrap_or_default();
        assert!(title.contains(title_part), "/{name} {options}: {title}");
    }
    // /ask with related-topic buttons: click one.
    let (iid, body) = command(&fake, &user, "ask", s("question", "is flask good for microservices")).await;
    let m = fake.latest_message_for(iid).await.unwrap();
    if let Some(related) = m.custom_ids().into_iter().find(|id| id.starts_with("fa1:t:")) {
        let (_, body) = click(&fake, &bob(), m.id, &related, None).await;
        assert_eq!(body["type"], json!(4));
        assert!(body["data"]["embeds"][0]["title"].as_str().unwrap().contains("vs"));
    } else {
        panic!("no related topics on {body}");
    }
    // Nothing matches: said honestly, ephemeral.
    let (_, body) = command(&fake, &user, "ask", s("question", "xyzzy plugh")).await;
    assert!(body["data"]["flags"].as_u64().unwrap() & EPHEMERAL != 0);
    assert!(!content_of(&body).is_empty());

    // Help, stats (refused for a member, shown to an admin), unknown command.
    let (_, body) = command(&fake, &user, "advisor", consult("help")).await;
    assert!(body["data"]["embeds"][0]["description"]
        .as_str()
        .unwrap()
        .contains("/consult"));
    let (_, body) = command(&fake, &user, "advisor", consult("stats")).await;
    assert!(content_of(&body).contains("Manage Server"), "{body}");
    let (_, body) = command(&fake, &user.clone().admin(), "advisor", consult("stats")).await;
    assert_eq!(body["data"]["embeds"][0]["title"], json!("Consultation statistics"));

    // Autocomplete.
    let focused = |name: &str, v: &str| json!([{ "type": 3, "name": name, "value": v, "focused": true }]);
    let id = fake.send_autocomplete(&user, "django", focused("topic", "or")).await;
    let body = fake.wait_callback(id, WAIT).await.unwrap();
    assert_eq!(body["type"], json!(8));
    let choices = body["data"]["choices"].as_array().unwrap();
    assert_eq!(choices[0]["value"], json!("orm"), "{body}");
    let id = fake.send_autocomplete(&user, "compare", focused("aspect", "")).await;
    let body = fake.wait_callback(id, WAIT).await.unwrap();
    let n = body["data"]["choices"].as_array().unwrap().len();
    assert!((15..=25).contains(&n), "{n}");

    // Forget me: confirm, then everything is gone.
    start_consultation(&fake, &user).await;
    let (iid, body) = command(&fake, &user, "advisor", consult("forget-me")).await;
    assert_eq!(body["type"], json!(4));
    let confirm = fake.latest_message_for(iid).await.unwrap();
    let (_, body) = click(&fake, &user, confirm.id, "fa1:f:y", None).await;
    assert_eq!(body["type"], json!(7));
    let (_, body) = command(&fake, &user, "consult", consult("resume")).await;
    assert!(
        body["data"]["embeds"].as_array().is_none_or(|e| e.is_empty()),
        "nothing to resume: {body}"
    );

    bot.stop().await;
    fake.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_sync_only_when_definitions_change() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    assert_eq!(fake.command_overwrites().await.len(), 1, "first start registers");
    let registered = fake.registered_commands(Some(FakeDiscord::GUILD_ID)).await;
    let names: Vec<&str> = registered.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, vec!["django", "flask", "compare", "ask", "consult", "advisor"]);
    bot.stop().await;
    let bot = Bot::start(&fake, dir.path()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        fake.command_overwrites().await.len(),
        1,
        "unchanged definitions are not re-sent"
    );
    bot.stop().await;
    fake.assert_clean().await;
}
