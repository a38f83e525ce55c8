//! The real binary (`framework-advisor run`) against the fake Discord:
//! killed with SIGKILL mid-consultation and started again on the same sled
//! directory, the last message's buttons continue exactly where it was; and
//! SIGTERM shuts it down cleanly.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use support::bot::{answer_for, click, command, step_of};
use support::flows::consult;
use support::process::{spawn_bot, wait_identified, write_config};
use support::{FakeDiscord, FakeUser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_consultation_loses_no_answer_and_sigterm_is_clean() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&fake, dir.path(), "");
    let user = FakeUser::new(1_000_000_000_000_000_201, "carol");

    let mut bot = spawn_bot(env!("CARGO_BIN_EXE_framework-advisor"), &config, "warn", true);
    wait_identified(&fake, 1).await;
    let (iid, _) = command(&fake, &user, "consult", consult("start")).await;
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

    let mut bot = spawn_bot(env!("CARGO_BIN_EXE_framework-advisor"), &config, "warn", true);
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
