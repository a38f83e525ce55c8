//! An expired team consultation's public message says so: at once when
//! someone clicks it, and through the hourly sweep (which also runs at start).

mod support;

use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use framework_advisor::app::{Clock, ManualClock};
use support::bot::{answer_for, click, command, config_for, Bot, WAIT};
use support::flows::team_start;
use support::{FakeDiscord, FakeUser};

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock(AtomicI64::new(chrono::Utc::now().timestamp())))
}

/// Starts a team consultation and casts one vote; returns the message id.
async fn team_with_a_vote(fake: &FakeDiscord, facilitator: &FakeUser, voter: &FakeUser) -> u64 {
    let (iid, _) = command(fake, facilitator, "consult", team_start()).await;
    let msg = fake.latest_message_for(iid).await.unwrap().id;
    let m = fake.message(msg).await.unwrap();
    let (id, values) = answer_for(&m, 0).unwrap();
    let (_, body) = click(fake, voter, msg, &id, values).await;
    assert_eq!(body["type"], json!(6));
    msg
}

fn is_closed(m: &support::FakeMessage) -> bool {
    m.embeds[0]["title"] == json!("Team consultation closed") && m.custom_ids().is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_team_message_is_updated_to_say_so() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(&fake, dir.path());
    config.team.session_ttl_hours = 1;
    let clock = clock();
    let bot = Bot::start_with(&fake, config.clone(), clock.clone() as Arc<dyn Clock>).await;
    let (alice, bob) = (
        FakeUser::new(5_000_000_000_000_000_001, "alice"),
        FakeUser::new(5_000_000_000_000_000_002, "bob"),
    );
    let clicked = team_with_a_vote(&fake, &alice, &bob).await;
    let swept = team_with_a_vote(&fake, &bob, &alice).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!is_closed(&fake.message(clicked).await.unwrap()));

    clock.advance(2 * 3600);
    // A click on an expired team message: the message itself says it is closed.
    let m = fake.message(clicked).await.unwrap();
    let (id, values) = answer_for(&m, 1).unwrap();
    let (_, body) = click(&fake, &bob, clicked, &id, values).await;
    assert_eq!(body["type"], json!(7), "{body}");
    let closed = fake.message(clicked).await.unwrap();
    assert!(is_closed(&closed), "{:?}", closed.embeds);
    assert!(closed.embeds[0]["description"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .contains("expired"));

    // The other one nobody clicks: the sweep (run at start) edits it with the bot's token.
    bot.stop().await;
    let bot = Bot::start_with(&fake, config, clock.clone() as Arc<dyn Clock>).await;
    let edit = fake
        .wait_requests(
            |r| r.is("PATCH", &format!("/messages/{swept}")) && r.path.contains("/channels/"),
            WAIT,
        )
        .await
        .expect("the sweep edits the expired team message");
    assert_eq!(edit.status, 200);
    assert!(is_closed(&fake.message(swept).await.unwrap()));
    let stats = bot.app.store().stats().unwrap();
    assert_eq!(stats.team.abandoned, 2, "both expired team sessions count as abandoned");
    bot.stop().await;
    fake.assert_clean().await;
}
