//! Production behaviour through the fake Discord: per-user rate limiting,
//! the 3-second rule (deferral when the store is slow), metrics and health.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use framework_advisor::app::SystemClock;
use framework_advisor::storage::SledStore;
use support::bot::{answer_for, click, command, config_for, Bot, WAIT};
use support::flows::{consult, session_of, stored};
use support::slow_store::SlowStore;
use support::{FakeDiscord, FakeUser};

const EPHEMERAL: u64 = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_store_gets_a_deferred_response_then_the_result() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(&fake, dir.path());
    config.discord.defer_after_ms = 150;
    let store = Arc::new(SlowStore {
        inner: SledStore::open(dir.path()).unwrap(),
        delay: Duration::from_millis(600),
    });
    let bot = Bot::start_with_store(&fake, config, Arc::new(SystemClock), store).await;
    let user = FakeUser::new(4_000_000_000_000_000_001, "dora");

    // A command: deferred (ephemeral, like the consultation), then the original is edited.
    let (iid, body) = command(&fake, &user, "consult", consult("start")).await;
    assert_eq!(body["type"], json!(5), "deferred: {body}");
    assert_eq!(body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL, EPHEMERAL);
    let edit = fake
        .wait_requests(|r| r.is("PATCH", "/messages/@original"), WAIT)
        .await
        .expect("the result is delivered by editing the deferred response");
    assert_eq!(edit.body["allowed_mentions"]["parse"], json!([]));
    let msg = fake.original_message_for(iid).await.expect("original message");
    assert!(
        msg.embeds[0]["description"].as_str().unwrap().contains("Step 1"),
        "{:?}",
        msg.embeds
    );

    // A click: acknowledged (deferred update), then the clicked message is edited in place.
    let patches_before = fake
        .requests()
        .await
        .iter()
        .filter(|r| r.is("PATCH", "@original"))
        .count();
    let (id, values) = answer_for(&msg, 0).unwrap();
    let (_, body) = click(&fake, &user, msg.id, &id, values).await;
    assert_eq!(body["type"], json!(6), "deferred update: {body}");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let patches = fake
            .requests()
            .await
            .iter()
            .filter(|r| r.is("PATCH", "@original"))
            .count();
        if patches > patches_before {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no edit after the deferred click"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let updated = fake.message(msg.id).await.unwrap();
    assert!(updated.embeds[0]["description"].as_str().unwrap().contains("Step 2"));
    bot.stop().await;
    fake.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_the_limit_gets_one_notice_and_no_work() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(&fake, dir.path());
    config.limits.per_user_per_minute = 1;
    config.limits.per_user_burst = 3;
    config.limits.clicks_per_minute = 1;
    config.limits.clicks_burst = 1;
    let bot = Bot::start_with(&fake, config, Arc::new(SystemClock)).await;
    let user = FakeUser::new(4_000_000_000_000_000_002, "eve");

    let (iid, body) = command(&fake, &user, "consult", consult("start")).await; // 1
    assert_eq!(body["type"], json!(4));
    let msg = fake.latest_message_for(iid).await.unwrap();
    let (id, values) = answer_for(&msg, 0).unwrap();
    let (_, body) = click(&fake, &user, msg.id, &id, values.clone()).await; // 2
    assert_eq!(body["type"], json!(7));
    let (_, body) = command(&fake, &user, "django", Value::Null).await; // 3
    assert_eq!(body["type"], json!(4));
    let session = session_of(&msg);
    let revision = stored(&bot, &session).revision;

    // Over the limit: one notice...
    let now = fake.message(msg.id).await.unwrap();
    let (id, values) = answer_for(&now, 0).unwrap();
    let (_, body) = click(&fake, &user, msg.id, &id, values.clone()).await;
    assert_eq!(body["type"], json!(4));
    assert!(body["data"]["flags"].as_u64().unwrap() & EPHEMERAL != 0);
    assert!(body["data"]["content"].as_str().unwrap().contains("fast"), "{body}");
    // ...then silence for clicks, and no work at all.
    for _ in 0..3 {
        let (_, body) = click(&fake, &user, msg.id, &id, values.clone()).await;
        assert_eq!(body["type"], json!(6), "{body}");
    }
    assert_eq!(stored(&bot, &session).revision, revision, "nothing applied");
    // Someone else is not affected.
    let (_, body) = command(
        &fake,
        &FakeUser::new(4_000_000_000_000_000_003, "frank"),
        "flask",
        Value::Null,
    )
    .await;
    assert_eq!(body["type"], json!(4));
    assert!(body["data"]["embeds"][0]["title"].as_str().unwrap().contains("Flask"));
    bot.stop().await;
    fake.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_of_the_running_binary() {
    use std::io::{Read, Write};
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let config = support::process::write_config(&fake, dir.path(), &format!("[metrics]\nlisten = {listen:?}\n"));
    let health = |addr: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_framework-advisor"))
            .args(["health", "--addr", addr])
            .output()
            .unwrap()
    };
    let mut bot = support::process::spawn_bot(env!("CARGO_BIN_EXE_framework-advisor"), &config, "warn", false);
    fake.wait_ready(WAIT).await.unwrap();
    // Healthy once the gateway is connected.
    let deadline = std::time::Instant::now() + WAIT;
    while !health(&listen).status.success() {
        assert!(std::time::Instant::now() < deadline, "never healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let user = FakeUser::new(4_000_000_000_000_000_004, "gil");
    command(&fake, &user, "django", Value::Null).await;
    command(&fake, &user, "consult", consult("start")).await;
    let get = |path: &str| {
        let mut s = std::net::TcpStream::connect(&listen).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    // The interaction is recorded after its response is delivered.
    let deadline = std::time::Instant::now() + WAIT;
    let metrics = loop {
        let m = get("/metrics");
        if m.contains("kind=\"command\"") || std::time::Instant::now() > deadline {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(metrics.contains("framework_advisor_interactions_total"), "{metrics}");
    assert!(metrics.contains("outcome=\"ok\""), "{metrics}");
    assert!(
        metrics.contains("framework_advisor_interaction_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(
        metrics.contains("framework_advisor_consultations{kind=\"private\",state=\"started\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("framework_advisor_active_sessions 1"), "{metrics}");

    // Gateway gone: not ready.
    fake.close_gateway(4000).await;
    std::process::Command::new("kill")
        .args(["-TERM", &bot.id().to_string()])
        .status()
        .unwrap();
    let status = bot.wait().unwrap();
    assert!(status.success());
    let out = health(&listen);
    assert!(!out.status.success(), "a stopped bot is not healthy");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&listen));
}
