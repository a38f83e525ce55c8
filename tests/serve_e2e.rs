//! `serve` end to end: the fake Discord POSTs signed interactions to the bot's HTTP endpoint
//! (built by the same payload builder as the gateway's) and takes the HTTP response as the
//! callback; follow-ups and edits still go over REST. Also what a forger or a broken client
//! sends: bad or missing signatures, replayed timestamps, huge bodies, garbage.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use framework_advisor::app::SystemClock;
use framework_advisor::domain::session::{Session, Status};
use framework_advisor::storage::SledStore;
use support::bot::{answer_for, click, command, is_recommendation, WAIT};
use support::flows::{
    after_http_click, consult, member, session_of, settle, team_control, team_start, vote, votes_field,
};
use support::http_sender::{sign, timestamp_now};
use support::serve::{serve_config, ServeBot};
use support::slow_store::SlowStore;
use support::{FakeDiscord, FakeUser};

const EPHEMERAL: u64 = 64;
/// Member ids of this binary.
const MEMBERS: u64 = 6_000_000_000_000_000_000;

fn stored(bot: &ServeBot, sid: &str) -> Session {
    bot.app
        .store()
        .get(sid)
        .expect("store readable")
        .expect("session stored")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_consultation_completes_over_http() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = ServeBot::start(&fake, dir.path()).await;
    assert!(
        !fake.registered_commands(Some(FakeDiscord::GUILD_ID)).await.is_empty(),
        "serve registers the commands over REST at start"
    );
    let user = member(MEMBERS, 900);

    let (iid, body) = command(&fake, &user, "consult", consult("start")).await;
    assert_eq!(body["type"], json!(4), "{body}");
    assert_eq!(body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL, EPHEMERAL);
    assert_eq!(body["data"]["allowed_mentions"]["parse"], json!([]));
    let msg = fake.latest_message_for(iid).await.unwrap().id;
    let sid = session_of(&fake.message(msg).await.unwrap());
    let mut steps = 0;
    loop {
        let m = fake.message(msg).await.unwrap();
        if is_recommendation(&m) {
            break;
        }
        let (id, values) = answer_for(&m, steps).unwrap();
        let (_, body) = click(&fake, &user, msg, &id, values).await;
        after_http_click(&fake, msg, &body).await;
        steps += 1;
        assert!(steps < 40, "the consultation ends");
    }
    let session = stored(&bot, &sid);
    assert_eq!(session.status, Status::Completed);
    assert_eq!(session.answers.len(), steps);

    // A double click on an old step is stale, as over the gateway.
    let (_, body) = command(&fake, &user, "consult", consult("resume")).await;
    assert_eq!(body["type"], json!(4));
    bot.stop().await;
    fake.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_votes_over_http_are_all_counted_and_shown() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = ServeBot::start(&fake, dir.path()).await;
    let facilitator = member(MEMBERS, 0);

    let (iid, body) = command(&fake, &facilitator, "consult", team_start()).await;
    assert_eq!(body["type"], json!(4));
    let msg = fake.latest_message_for(iid).await.unwrap().id;
    let sid = session_of(&fake.message(msg).await.unwrap());

    // Eight members at once: every vote acknowledged over HTTP, the message edited over REST.
    let voters: Vec<FakeUser> = (1..=8).map(|n| member(MEMBERS, n)).collect();
    let votes = voters.iter().enumerate().map(|(i, m)| {
        let fake = fake.clone();
        let m = m.clone();
        tokio::spawn(async move { vote(&fake, &m, msg, i).await })
    });
    for v in votes.collect::<Vec<_>>() {
        v.await.unwrap();
    }
    settle(&fake).await;
    let shown = votes_field(&fake.message(msg).await.unwrap());
    assert!(shown.starts_with("Votes: 8"), "{shown}");
    let session = stored(&bot, &sid);
    let team = session.team.as_ref().unwrap();
    assert_eq!(team.voters_on(session.current.as_deref().unwrap()), 8);
    assert_eq!(
        team.rendered, team.changes,
        "the message shows the latest tally version"
    );

    // The facilitator moves on; the message follows.
    let m = fake.message(msg).await.unwrap();
    let (_, body) = click(&fake, &facilitator, msg, &team_control(&m, ":n"), None).await;
    assert_eq!(body["type"], json!(6));
    settle(&fake).await;
    let session = stored(&bot, &sid);
    assert_eq!(session.answers.len(), 1);
    let team = session.team.as_ref().unwrap();
    assert_eq!(team.rendered, team.changes, "the message shows the question after Next");
    let revision = format!(":{}:", session.revision);
    assert!(
        fake.message(msg)
            .await
            .unwrap()
            .custom_ids()
            .iter()
            .any(|id| id.contains(&revision)),
        "the buttons are for the new question"
    );
    bot.stop().await;
    fake.assert_clean().await;
}

/// A body the bot would accept if it were signed: a real interaction, as the fake builds it.
async fn a_real_payload(fake: &FakeDiscord) -> Vec<u8> {
    let user = member(MEMBERS, 500);
    let _ = command(fake, &user, "django", serde_json::Value::Null).await;
    fake.http_payloads().await.last().cloned().expect("one payload sent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_and_garbage_requests_get_4xx_and_do_nothing() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = ServeBot::start(&fake, dir.path()).await;
    let sender = bot.sender();
    let payload = a_real_payload(&fake).await;
    let json_ct = ("content-type", "application/json");

    // PING -> PONG (Discord's check when the endpoint URL is saved).
    let ping = json!({ "id": "1", "application_id": FakeDiscord::APP_ID.to_string(), "type": 1,
                       "token": "t", "version": 1 })
    .to_string()
    .into_bytes();
    let answer = sender.post_signed(&ping).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), json!({ "type": 1 }));

    // Missing headers.
    let answer = sender.post(&[json_ct], payload.clone()).await;
    assert_eq!(answer.status, 401, "no signature headers");
    let ts = timestamp_now();
    let answer = sender
        .post(&[json_ct, ("x-signature-timestamp", &ts)], payload.clone())
        .await;
    assert_eq!(answer.status, 401, "no signature");

    // A bad signature: another body's, garbage, and a valid one over a tampered body.
    let other = sign(&ts, b"something else");
    let answer = sender
        .post(
            &[json_ct, ("x-signature-ed25519", &other), ("x-signature-timestamp", &ts)],
            payload.clone(),
        )
        .await;
    assert_eq!(answer.status, 401, "a signature over another body");
    let answer = sender
        .post(
            &[json_ct, ("x-signature-ed25519", "zz"), ("x-signature-timestamp", &ts)],
            payload.clone(),
        )
        .await;
    assert_eq!(answer.status, 401, "not even hex");
    let sig = sign(&ts, &payload);
    let mut tampered = payload.clone();
    let at = tampered.iter().position(|b| *b == b'd').unwrap();
    tampered[at] = b'f';
    let answer = sender
        .post(
            &[json_ct, ("x-signature-ed25519", &sig), ("x-signature-timestamp", &ts)],
            tampered,
        )
        .await;
    assert_eq!(answer.status, 401, "a tampered body");

    // A genuine signature with an old timestamp (a captured request replayed), or one from the future.
    for offset in [-3600i64, 3600] {
        let when = (ts.parse::<i64>().unwrap() + offset).to_string();
        let sig = sign(&when, &payload);
        let answer = sender
            .post(
                &[json_ct, ("x-signature-ed25519", &sig), ("x-signature-timestamp", &when)],
                payload.clone(),
            )
            .await;
        assert_eq!(answer.status, 401, "timestamp {offset:+} s");
    }

    // Oversized: refused before being read.
    let huge = vec![b' '; 2 * 1024 * 1024];
    let sig = sign(&ts, &huge);
    let answer = sender
        .post(
            &[json_ct, ("x-signature-ed25519", &sig), ("x-signature-timestamp", &ts)],
            huge,
        )
        .await;
    assert_eq!(answer.status, 413);
    // The server answered without reading the body and closed that connection;
    // a pooled client could reuse it and fail with a broken pipe. A new sender
    // starts on a fresh connection, as a real sender's next request would.
    let sender = sender.fresh();

    // Signed garbage: bad JSON, an unknown interaction type, the wrong content type.
    for (body, expected) in [
        (b"{not json".to_vec(), 400),
        (
            json!({ "type": 99, "id": "1", "token": "t" }).to_string().into_bytes(),
            400,
        ),
        (json!({ "type": 2 }).to_string().into_bytes(), 400),
        (b"[]".to_vec(), 400),
    ] {
        let answer = sender.post_signed(&body).await;
        assert_eq!(answer.status, expected, "{}", String::from_utf8_lossy(&body));
    }
    let sig = sign(&ts, &payload);
    let answer = sender
        .post(
            &[
                ("content-type", "text/plain"),
                ("x-signature-ed25519", &sig),
                ("x-signature-timestamp", &ts),
            ],
            payload.clone(),
        )
        .await;
    assert_eq!(answer.status, 415, "wrong content type");

    // Still serving after all that.
    let user = member(MEMBERS, 501);
    let (_, body) = command(&fake, &user, "flask", serde_json::Value::Null).await;
    assert_eq!(body["type"], json!(4));
    bot.stop().await;
    fake.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_is_deferred_in_the_http_response_then_delivered_by_edit() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = serve_config(&fake, dir.path());
    config.discord.defer_after_ms = 150;
    let store = Arc::new(SlowStore {
        inner: SledStore::open(dir.path()).unwrap(),
        delay: Duration::from_millis(600),
    });
    let bot = ServeBot::start_with_store(&fake, config, Arc::new(SystemClock), store).await;
    let user = member(MEMBERS, 700);

    // The HTTP response is the deferral; the result edits the deferred response over REST.
    let (iid, body) = command(&fake, &user, "consult", consult("start")).await;
    assert_eq!(body["type"], json!(5), "deferred: {body}");
    assert_eq!(body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL, EPHEMERAL);
    let edit = fake
        .wait_requests(|r| r.is("PATCH", "/messages/@original"), WAIT)
        .await
        .expect("the result is delivered by editing the deferred response");
    assert_eq!(edit.body["allowed_mentions"]["parse"], json!([]));
    let msg = fake.original_message_for(iid).await.expect("original message");
    assert!(msg.embeds[0]["description"].as_str().unwrap().contains("Step 1"));

    // A click: acknowledged in the HTTP response, then the message is edited in place.
    let (id, values) = answer_for(&msg, 0).unwrap();
    let (cid, body) = click(&fake, &user, msg.id, &id, values).await;
    assert_eq!(body["type"], json!(6), "deferred update: {body}");
    let token = format!("fake-token-{cid}");
    fake.wait_requests(|r| r.is("PATCH", &token), WAIT)
        .await
        .expect("the click's result edits the message");
    let updated = fake.message(msg.id).await.unwrap();
    assert!(updated.embeds[0]["description"].as_str().unwrap().contains("Step 2"));
    bot.stop().await;
    fake.assert_clean().await;
}
