//! The front door, end to end with the default limits: team mode reached through the
//! registered `mode:team` choice, and the per-user limiter never in the way of a person
//! clicking as fast as the bot answers, while a flood still gets one notice and no work.

mod support;

use std::sync::Arc;

use serde_json::{json, Value};

use framework_advisor::app::SystemClock;
use framework_advisor::config::LimitsConfig;
use framework_advisor::domain::session::Status;

use support::bot::{click, command, config_for, control, is_recommendation, Bot, WAIT};
use support::flows::{
    answer_to_the_end, member, message_once, session_of, shows_team_result, start_with_registered_mode, stored,
    team_to_the_end,
};
use support::{FakeDiscord, FakeUser};

const EPHEMERAL: u64 = 64;

/// Member ids of this binary: `member(MEMBERS, n)`.
const MEMBERS: u64 = 5_000_000_000_000_000_000;

/// A bot with the limits a deployment gets when `[limits]` is left out.
async fn bot_with_default_limits(fake: &FakeDiscord, dir: &std::path::Path) -> Bot {
    let mut config = config_for(fake, dir);
    config.limits = LimitsConfig::default();
    Bot::start_with(fake, config, Arc::new(SystemClock)).await
}

/// Every message body the bot sent (callbacks, follow-ups, edits) that carries the rate-limit notice.
async fn rate_limit_notices(fake: &FakeDiscord, notice: &str) -> Vec<String> {
    fake.requests()
        .await
        .into_iter()
        .filter(|r| r.body.to_string().contains(notice))
        .map(|r| r.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_mode_from_the_registered_choice_runs_to_a_team_recommendation() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = bot_with_default_limits(&fake, dir.path()).await;
    let notice = bot.app.content().knowledge.texts().rate_limited.clone();
    let facilitator = member(MEMBERS, 0);
    let members: Vec<FakeUser> = (1..=5).map(|n| member(MEMBERS, n)).collect();

    let run = team_to_the_end(&fake, &bot, &facilitator, &members).await;
    assert!(!run.questions.is_empty());
    let session = stored(&bot, &run.session);
    assert_eq!(session.status, Status::Completed, "Next ran it to the end");
    assert!(session.outcome.is_some());
    let team = session.team.as_ref().expect("a team session");
    for q in &run.questions {
        assert_eq!(
            team.voters_on(q),
            5,
            "five members' votes on {q}, a changed vote counted once"
        );
    }
    let done = message_once(&fake, run.message, "the team recommendation", shows_team_result).await;
    let title = done.embeds[0]["title"].as_str().unwrap_or_default();
    assert!(title.starts_with("Team "), "a team recommendation: {title}");
    assert!(!done.ephemeral, "in the channel");
    assert!(
        rate_limit_notices(&fake, &notice).await.is_empty(),
        "no rate-limit notice while a facilitator presses Next as soon as the votes are in"
    );
    bot.stop().await;
    fake.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_mode_is_the_default_and_a_registered_choice() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    let (_, body) =
        start_with_registered_mode(&fake, &FakeUser::new(5_100_000_000_000_000_001, "ines"), "private").await;
    assert_ne!(
        body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL,
        0,
        "private: {body}"
    );
    let (_, body) = command(
        &fake,
        &FakeUser::new(5_100_000_000_000_000_002, "jon"),
        "consult",
        json!([{ "type": 1, "name": "start" }]),
    )
    .await;
    assert_ne!(
        body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL,
        0,
        "no mode = private: {body}"
    );
    bot.stop().await;
    fake.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_speed_private_consultation_then_new_consultation_is_never_rate_limited() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = bot_with_default_limits(&fake, dir.path()).await;
    let notice = bot.app.content().knowledge.texts().rate_limited.clone();
    let user = FakeUser::new(5_200_000_000_000_000_001, "kim");

    let (iid, body) = start_with_registered_mode(&fake, &user, "private").await;
    assert_eq!(body["type"], json!(4), "{body}");
    let msg = fake.latest_message_for(iid).await.unwrap().id;
    let sid = session_of(&fake.message(msg).await.unwrap());
    // Some answers, Back and Restart, then every question to the end: no pause anywhere.
    let first = answer_to_the_end_or(&fake, &user, msg, 3).await;
    let m = fake.message(msg).await.unwrap();
    let (_, body) = click(&fake, &user, msg, &control(&m, ":b"), None).await;
    assert_eq!(body["type"], json!(7), "Back: {body}");
    let m = fake.message(msg).await.unwrap();
    let (_, body) = click(&fake, &user, msg, &control(&m, ":r"), None).await;
    assert_eq!(body["type"], json!(7), "Restart: {body}");
    let walked = answer_to_the_end(&fake, &user, msg).await;
    assert_eq!(stored(&bot, &sid).status, Status::Completed);
    let done = fake.message(msg).await.unwrap();
    assert!(is_recommendation(&done));

    // "New consultation" on the result, right away.
    let new = done
        .custom_ids()
        .into_iter()
        .find(|id| id.ends_with(":new"))
        .unwrap_or_else(|| panic!("a New consultation button on {:?}", done.custom_ids()));
    let (new_iid, body) = click(&fake, &user, msg, &new, None).await;
    assert!(matches!(body["type"].as_u64(), Some(4 | 7)), "{body}");
    let shown = fake.latest_message_for(new_iid).await.unwrap();
    assert!(
        shown.embeds[0]["description"]
            .as_str()
            .unwrap_or_default()
            .contains("Step 1"),
        "a new consultation starts: {}",
        shown.embeds
    );
    let notices = rate_limit_notices(&fake, &notice).await;
    assert!(
        notices.is_empty(),
        "{} clicks at full speed met the limiter: {notices:#?}",
        first + walked.len() + 3
    );
    bot.stop().await;
    fake.assert_clean().await;
}

/// Answers up to `n` questions (fewer if the consultation ends first); returns how many.
async fn answer_to_the_end_or(fake: &FakeDiscord, user: &FakeUser, msg: u64, n: usize) -> usize {
    for i in 0..n {
        let m = fake.message(msg).await.unwrap();
        if is_recommendation(&m) {
            return i;
        }
        let (id, values) = support::bot::answer_for(&m, i).unwrap();
        let (_, body) = click(fake, user, msg, &id, values).await;
        assert_eq!(body["type"], json!(7), "{body}");
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_with_the_default_limits_gets_exactly_one_notice_and_no_work() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = bot_with_default_limits(&fake, dir.path()).await;
    let notice = bot.app.content().knowledge.texts().rate_limited.clone();
    let user = FakeUser::new(5_300_000_000_000_000_001, "lee");

    // Hundreds of commands as fast as the bot answers: the budget, then a notice and no work.
    let limits = LimitsConfig::default();
    let flood = 300;
    let mut answered = 0;
    let mut notices = 0;
    let mut quiet = 0;
    for _ in 0..flood {
        let (_, body) = command(&fake, &user, "django", Value::Null).await;
        let content = body["data"]["content"].as_str().unwrap_or_default();
        if content == notice {
            notices += 1;
            assert_ne!(body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL, 0);
        } else if body["data"]["embeds"].as_array().is_some_and(|e| !e.is_empty()) {
            answered += 1;
        } else {
            quiet += 1;
        }
    }
    // A slash command must be answered with a message, so each refused one gets the short
    // ephemeral notice (no work behind it); the silent acknowledgement exists for clicks only.
    assert_eq!(quiet, 0, "every command is answered");
    assert!(notices > 0, "the flood is refused");
    assert!(
        answered >= limits.per_user_burst as usize && answered < flood / 2,
        "the burst is served, the flood is not: {answered} of {flood} answered"
    );
    assert_eq!(answered + notices + quiet, flood);

    // A flood of clicks: on a message whose button stays (a related topic under an /ask answer).
    let other = FakeUser::new(5_300_000_000_000_000_002, "max");
    let (iid, _) = command(
        &fake,
        &other,
        "ask",
        json!([{ "name": "question", "value": "is flask good for microservices" }]),
    )
    .await;
    let m = fake.latest_message_for(iid).await.unwrap();
    let related = m
        .custom_ids()
        .into_iter()
        .find(|id| id.starts_with("fa1:t:"))
        .expect("related-topic buttons");
    let before = fake.messages().await.len();
    let mut click_notices = 0;
    let mut worked = 0;
    for _ in 0..flood {
        let (_, body) = click(&fake, &other, m.id, &related, None).await;
        match body["data"]["content"].as_str() {
            Some(c) if c == notice => click_notices += 1,
            _ if body["type"] == json!(4) => worked += 1,
            _ => {}
        }
    }
    assert_eq!(click_notices, 1, "one notice for the flood of clicks");
    assert!(
        worked <= limits.clicks_burst as usize + 10,
        "no work beyond the click budget: {worked} of {flood}"
    );
    assert!(fake.messages().await.len() - before <= worked + 1);
    tokio::time::timeout(WAIT, bot.stop()).await.unwrap();
    fake.assert_clean().await;
}
