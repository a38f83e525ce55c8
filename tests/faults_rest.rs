//! REST faults against the real bot and the fake Discord: the interaction callback answered
//! with 429 (with and without `retry_after`), 500 and 503; the team message refresh
//! (`PATCH /webhooks/.../messages/@original`) failing; the command registration failing at
//! start-up.
//!
//! What must hold: the bot neither panics nor stops serving; the store stays consistent (a
//! click is committed before its answer is sent, so a click whose answer was lost is applied,
//! once); the user, whose message never got the update, can continue from it: clicking the old
//! message takes the stale path, a fresh ephemeral message with the current question, and
//! nothing is applied twice; the consultation can be completed afterwards.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use framework_advisor::domain::session::Status;
use support::bot::{answer_for, click, command, is_recommendation, step_of, Bot, WAIT};
use support::flows::{consult, member, session_of, settle_within, stored, team_control, team_start, vote, votes_field};
use support::{FakeDiscord, FakeUser};

const EPHEMERAL: u64 = 64;

fn alice() -> FakeUser {
    FakeUser::new(1_000_000_000_000_000_401, "alice")
}

/// Member ids of this binary: `member(MEMBERS, n)`.
const MEMBERS: u64 = 2_000_000_000_000_000_400;

fn is_ephemeral(body: &Value) -> bool {
    body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL != 0
}

/// Waits for the bot's attempt at the callback of `interaction` that the fake failed with
/// `status`.
async fn wait_failed_callback(fake: &FakeDiscord, interaction: u64, status: u16) {
    let path = format!("/interactions/{interaction}/");
    fake.wait_requests(
        |r| r.is("POST", &path) && r.path.ends_with("/callback") && r.status == status,
        WAIT,
    )
    .await
    .unwrap_or_else(|e| panic!("the bot never tried the callback of {interaction}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_click_callbacks_keep_the_store_consistent_and_the_user_continues() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    let user = alice();

    // The very first answer lost: `/consult start`'s callback fails. Starting again shows the
    // same session (not a second one).
    fake.fail_next("/callback", 503, None, 1).await;
    let lost = fake.send_command(&user, "consult", consult("start")).await;
    wait_failed_callback(&fake, lost, 503).await;
    let (iid, body) = command(&fake, &user, "consult", consult("start")).await;
    assert_eq!(body["type"], json!(4), "{body}");
    assert!(is_ephemeral(&body));
    let mut msg = fake.latest_message_for(iid).await.unwrap().id;
    let sid = session_of(&fake.message(msg).await.unwrap());
    let s = stored(&bot, &sid);
    assert_eq!((s.revision, s.answers.len()), (0, 0));
    assert_eq!(bot.app.store().stats().unwrap().started, 1, "one session, not two");

    let mut stale_paths = 0;
    for (n, (status, retry_after)) in [(429, Some(0.2)), (429, None), (500, None), (503, None)]
        .into_iter()
        .enumerate()
    {
        let what = format!("callback answered {status} (retry_after {retry_after:?})");
        let m = fake.message(msg).await.unwrap();
        let step = step_of(&m).expect("a question").0;
        let before = stored(&bot, &sid);
        let (id, values) = answer_for(&m, n).expect("an answer component");

        fake.fail_next("/callback", status, retry_after, 1).await;
        let click_id = fake.send_component(&user, msg, &id, values.clone()).await;
        wait_failed_callback(&fake, click_id, status).await;
        // serenity does not retry (its limiter is off); a bot that did retry after
        // `retry_after` would deliver the update, which is fine too.
        let grace = Duration::from_millis(300) + Duration::from_secs_f64(retry_after.unwrap_or(0.0));
        let retried = fake.wait_callback(click_id, grace).await;
        let after = stored(&bot, &sid);
        assert_eq!(
            after.revision,
            before.revision + 1,
            "{what}: the click is committed before the answer is sent, once"
        );
        assert_eq!(after.answers.len(), before.answers.len() + 1, "{what}");
        if let Ok(body) = retried {
            assert_eq!(body["type"], json!(7), "{what}: a retried answer updates the message");
            assert_eq!(step_of(&fake.message(msg).await.unwrap()).map(|s| s.0), Some(step + 1));
            continue;
        }
        // The update never reached Discord: the message still shows the old step.
        assert_eq!(
            step_of(&fake.message(msg).await.unwrap()).map(|s| s.0),
            Some(step),
            "{what}: the message was not updated"
        );
        // The user clicks the same button again: the stale path re-shows the current question
        // in a fresh ephemeral message and applies nothing.
        let (again, body) = click(&fake, &user, msg, &id, values).await;
        assert_eq!(body["type"], json!(4), "{what}: a fresh message: {body}");
        assert!(is_ephemeral(&body), "{what}: only the user sees it");
        let reshown = fake.latest_message_for(again).await.unwrap();
        assert_eq!(
            step_of(&reshown).map(|s| s.0),
            Some(step + 1),
            "{what}: the current question is shown"
        );
        let now = stored(&bot, &sid);
        assert_eq!(
            (now.revision, now.answers.len()),
            (after.revision, after.answers.len()),
            "{what}: nothing applied twice"
        );
        assert!(
            reshown
                .custom_ids()
                .iter()
                .any(|c| c.contains(&format!(":{}:", now.revision))),
            "{what}: the fresh message carries the current revision: {:?}",
            reshown.custom_ids()
        );
        stale_paths += 1;
        // The user continues from the fresh message.
        msg = reshown.id;
    }
    eprintln!("stale path taken {stale_paths} times of 4");

    // The consultation can be completed from where the user is.
    let mut clicks = 0;
    while !is_recommendation(&fake.message(msg).await.unwrap()) {
        let m = fake.message(msg).await.unwrap();
        let before = stored(&bot, &sid).revision;
        let (id, values) = answer_for(&m, clicks).expect("an answer component");
        let (_, body) = click(&fake, &user, msg, &id, values).await;
        assert_eq!(body["type"], json!(7), "{body}");
        assert_eq!(stored(&bot, &sid).revision, before + 1);
        clicks += 1;
        assert!(clicks <= 30, "the consultation ends");
    }
    let done = stored(&bot, &sid);
    assert_eq!(done.status, Status::Completed);
    assert!(done.outcome.is_some());
    let stats = bot.app.store().stats().unwrap();
    assert_eq!((stats.started, stats.completed, stats.abandoned), (1, 1, 0));
    bot.stop().await;
    fake.assert_clean().await;
}

async fn wait_failed_refresh(fake: &FakeDiscord, since: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let failed = fake
            .requests()
            .await
            .into_iter()
            .skip(since)
            .any(|r| r.is("PATCH", "/messages/@original") && r.status == 500);
        if failed {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the bot never tried to refresh the team message"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_team_refresh_is_repaired_by_the_next_vote() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    let (iid, _) = command(&fake, &member(MEMBERS, 0), "consult", team_start()).await;
    let msg = fake.latest_message_for(iid).await.unwrap().id;
    let sid = session_of(&fake.message(msg).await.unwrap());
    let question = stored(&bot, &sid).current.clone().unwrap();

    let since = fake.requests().await.len();
    fake.fail_next("/messages/@original", 500, None, 1).await;
    vote(&fake, &member(MEMBERS, 1), msg, 0).await;
    wait_failed_refresh(&fake, since).await;
    settle_within(&fake, WAIT).await;
    assert!(
        !votes_field(&fake.message(msg).await.unwrap()).starts_with("Votes: 1"),
        "the refresh failed, so the message still shows no vote"
    );
    assert_eq!(stored(&bot, &sid).team.as_ref().unwrap().voters_on(&question), 1);

    vote(&fake, &member(MEMBERS, 2), msg, 1).await;
    settle_within(&fake, WAIT).await;
    let shown = votes_field(&fake.message(msg).await.unwrap());
    assert!(
        shown.starts_with("Votes: 2"),
        "the next refresh shows every vote: {shown}"
    );
    assert!(shown.contains("member1") && shown.contains("member2"), "{shown}");
    assert_eq!(stored(&bot, &sid).team.as_ref().unwrap().voters_on(&question), 2);
    bot.stop().await;
    fake.assert_clean().await;
}

/// After the refresh of the facilitator's Next is lost, the public message shows the previous
/// question, and every button on it is for the previous revision. A member's click on it must
/// lead them (and the channel) to the current question, as the stale text promises ("Here is
/// the current question."), or the team can no longer continue from its message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_team_click_after_a_lost_refresh_shows_the_current_question() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    let facilitator = member(MEMBERS, 0);
    let (iid, _) = command(&fake, &facilitator, "consult", team_start()).await;
    let msg = fake.latest_message_for(iid).await.unwrap().id;
    let sid = session_of(&fake.message(msg).await.unwrap());
    vote(&fake, &member(MEMBERS, 1), msg, 0).await;
    settle_within(&fake, WAIT).await;

    let old = fake.message(msg).await.unwrap();
    let next = team_control(&old, ":n");
    let since = fake.requests().await.len();
    fake.fail_next("/messages/@original", 500, None, 1).await;
    let (_, body) = click(&fake, &facilitator, msg, &next, None).await;
    assert_eq!(body["type"], json!(6));
    wait_failed_refresh(&fake, since).await;
    settle_within(&fake, WAIT).await;
    let s = stored(&bot, &sid);
    assert_eq!(s.revision, 1);
    let current = s.current.clone().unwrap();
    let current_prompt = bot
        .app
        .content()
        .questionnaire
        .question(&current)
        .unwrap()
        .prompt
        .clone();
    assert_eq!(
        fake.message(msg).await.unwrap().custom_ids(),
        old.custom_ids(),
        "refresh lost"
    );

    // A member votes on what they see (the previous question).
    let (id, values) = answer_for(&old, 1).unwrap();
    let (_, body) = click(&fake, &member(MEMBERS, 2), msg, &id, values).await;
    settle_within(&fake, WAIT).await;
    let message_now = fake.message(msg).await.unwrap();
    let shown_in_reply = body.to_string().contains(&current_prompt);
    let message_refreshed = message_now.custom_ids().iter().any(|c| c.contains(":1:"));
    assert!(
        shown_in_reply || message_refreshed,
        "after a stale team click neither the reply nor the public message shows the current question \
         ({current}: {current_prompt:?}); reply: {body}"
    );
    assert_eq!(stored(&bot, &sid).revision, 1, "nothing applied");
    assert!(message_refreshed, "the public message is brought up to date");
    let notice = fake
        .requests()
        .await
        .into_iter()
        .find(|r| r.is("POST", "/webhooks/") && r.body["content"].as_str().is_some_and(|c| c.contains("earlier")))
        .expect("the clicker is told, privately, that the vote was for an earlier question");
    assert_eq!(notice.body["flags"].as_u64().unwrap_or(0) & 64, 64);
    bot.stop().await;
    fake.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_command_registration_still_serves_and_registers_on_the_next_start() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.fail_next("/commands", 500, None, 1).await;
    let bot = Bot::start(&fake, dir.path()).await;
    let put = fake
        .wait_requests(|r| r.is("PUT", "/commands"), WAIT)
        .await
        .expect("the bot tried to register");
    assert_eq!(put.status, 500);
    assert!(fake.registered_commands(Some(FakeDiscord::GUILD_ID)).await.is_empty());

    // Interactions are served all the same: users still have the commands an earlier
    // deploy registered globally (the same definitions this build sends).
    support::bot::registered_by_an_earlier_deploy(&fake).await;
    let user = alice();
    let (_, body) = command(&fake, &user, "django", Value::Null).await;
    assert_eq!(body["type"], json!(4));
    assert!(body["data"]["embeds"][0]["title"]
        .as_str()
        .unwrap_or_default()
        .contains("Django"));
    let (iid, body) = command(&fake, &user, "consult", consult("start")).await;
    assert_eq!(body["type"], json!(4));
    let msg = fake.latest_message_for(iid).await.unwrap();
    let (id, values) = answer_for(&msg, 0).unwrap();
    let (_, body) = click(&fake, &user, msg.id, &id, values).await;
    assert_eq!(body["type"], json!(7));
    bot.stop().await;

    // The failure was not remembered as a success: the next start registers.
    let bot = Bot::start(&fake, dir.path()).await;
    let puts = fake.command_overwrites().await;
    assert_eq!(puts.len(), 2, "registered again on the next start");
    assert_eq!(puts[1].status, 200);
    let names: Vec<String> = fake
        .registered_commands(Some(FakeDiscord::GUILD_ID))
        .await
        .iter()
        .filter_map(|c| c["name"].as_str().map(String::from))
        .collect();
    assert!(names.contains(&"consult".to_string()), "{names:?}");
    // And only once: a third start with the hash stored does not register.
    bot.stop().await;
    let bot = Bot::start(&fake, dir.path()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fake.command_overwrites().await.len(), 2);
    bot.stop().await;
    fake.assert_clean().await;
}
