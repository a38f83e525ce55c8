//! The real binary (`framework-advisor run`) against the fake Discord:
//! killed with SIGKILL mid-consultation and started again on the same sled
//! directory, the last message's buttons continue exactly where it was; and
//! SIGTERM shuts it down cleanly.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use support::bot::{answer_for, click, command, responses_dir, step_of, WAIT};
use support::{FakeDiscord, FakeUser};

fn write_config(fake: &FakeDiscord, dir: &Path) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    let toml = format!(
        "[discord]\ntoken = {token:?}\napi_base_url = {url:?}\nguild_id = {guild}\n\n[content]\ndir = {content:?}\n\n[storage]\npath = {data:?}\n\n[limits]\nper_user_per_minute = 100000\nper_user_burst = 10000\n",
        token = FakeDiscord::TOKEN,
        url = fake.base_url(),
        guild = FakeDiscord::GUILD_ID,
        content = responses_dir().display().to_string(),
        data = dir.join("data").display().to_string(),
    );
    std::fs::write(&path, toml).unwrap();
    path
}

fn spawn_bot(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_framework-advisor"))
        .args(["--config", &config.display().to_string(), "run"])
        .env_remove("DISCORD_TOKEN")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

async fn wait_identified(fake: &FakeDiscord, count: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while fake.identify_count().await < count {
        assert!(tokio::time::Instant::now() < deadline, "bot #{count} never identified");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fake.wait_ready(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_consultation_loses_no_answer_and_sigterm_is_clean() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&fake, dir.path());
    let user = FakeUser::new(1_000_000_000_000_000_201, "carol");

    let mut bot = spawn_bot(&config);
    wait_identified(&fake, 1).await;
    let (iid, _) = command(
        &fake,
        &user,
        "consult",
        json!([{ "type": 1, "name": "start", "options": [] }]),
    )
    .await;
    let msg = fake.latest_message_for(iid).await.unwrap().id;
    for i in 0..3 {
        let m = fake.message(msg).await.unwrap();
        let (id, values) = answer_for(&m, i).unwrap();
        let (_, body) = click(&fake, &user, msg, &id, values).await;
        assert_eq!(body["type"], json!(7));
    }
    assert_eq!(step_of(&fake.message(msg).await.unwrap()).map(|s| s.0), Some(4));

    // SIGKILL: no shutdown code runs at all.
    bot.kill().unwrap();
    bot.wait().unwrap();

    let mut bot = spawn_bot(&config);
    wait_identified(&fake, 2).await;
    let m = fake.message(msg).await.unwrap();
    let (id, values) = answer_for(&m, 0).unwrap();
    let (_, body) = click(&fake, &user, msg, &id, values).await;
    assert_eq!(
        body["type"],
        json!(7),
        "the pre-kill message's buttons still work: {body}"
    );
    assert_eq!(
        step_of(&fake.message(msg).await.unwrap()).map(|s| s.0),
        Some(5),
        "every answer acknowledged before the kill survived"
    );

    // SIGTERM: a clean, prompt exit.
    let status = Command::new("kill")
        .args(["-TERM", &bot.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(s) = bot.try_wait().unwrap() {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "bot did not exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    use std::io::Read;
    bot.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(exit.success(), "exit {exit:?}; stderr:\n{stderr}");
    assert!(!stderr.contains(FakeDiscord::TOKEN), "the token never reaches the log");
    fake.assert_clean().await;
}
