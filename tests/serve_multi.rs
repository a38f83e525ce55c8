//! Several `serve` processes on one PostgreSQL store, behind a fake Discord that spreads the
//! interactions over them (as a load balancer would): a consultation whose clicks alternate
//! between the instances, a double click sent to both at once, 30 team votes spread over both,
//! and `kill -9` of one instance mid-consultation.
//!
//! The instances share a fresh database on the tests' throwaway PostgreSQL cluster
//! (`support::pg`), configured through `[storage] backend = "postgres"` and `url`.

mod support;

use std::process::Child;

use serde_json::json;

use support::bot::{answer_for, click, click_snapshot, command, is_recommendation, step_of};
use support::flows::{after_http_click, consult, member, settle, team_start, vote, votes_field};
use support::http_sender::HttpSender;
use support::process::write_config;
use support::serve::spawn_serve_with_env;
use support::{FakeDiscord, FakeMessage};

const MEMBERS: u64 = 7_000_000_000_000_000_000;
const BIN: &str = env!("CARGO_BIN_EXE_framework-advisor");

/// The PostgreSQL URL the instances share: a new database on the throwaway cluster.
fn database_url() -> String {
    support::pg::PgCluster::shared().database()
}

struct Instance {
    child: Child,
    sender: HttpSender,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts one `serve` process on the shared database (each with a sled path of its own, unused).
fn instance(fake: &FakeDiscord, dir: &std::path::Path, url: &str) -> Instance {
    std::fs::create_dir_all(dir).unwrap();
    let config = write_config(fake, dir, "");
    let (child, addr) = spawn_serve_with_env(
        BIN,
        &config,
        &[("FA_STORAGE__BACKEND", "postgres"), ("FA_STORAGE__URL", url)],
    );
    Instance {
        child,
        sender: HttpSender::new(&addr.to_string()),
    }
}

/// Answers every question with `choice`-rotated options; returns each question's title and the verdict.
async fn complete(fake: &FakeDiscord, user: &support::FakeUser, msg: u64) -> Vec<String> {
    let mut seen = Vec::new();
    for step in 0..40 {
        let m = fake.message(msg).await.unwrap();
        seen.push(m.embeds[0]["title"].as_str().unwrap_or_default().to_string());
        if is_recommendation(&m) {
            return seen;
        }
        let (id, values) = answer_for(&m, step).unwrap();
        let (_, body) = click(fake, user, msg, &id, values).await;
        after_http_click(fake, msg, &body).await;
    }
    panic!("the consultation never ended: {seen:?}");
}

async fn start(fake: &FakeDiscord, user: &support::FakeUser) -> u64 {
    let (iid, body) = command(fake, user, "consult", consult("start")).await;
    assert_eq!(body["type"], json!(4), "{body}");
    fake.latest_message_for(iid).await.unwrap().id
}

fn step(m: &FakeMessage) -> (usize, usize) {
    step_of(m).expect("a question message")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_consultations_votes_and_survive_a_kill() {
    let url = database_url();
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let a = instance(&fake, &dir.path().join("a"), &url);
    let b = instance(&fake, &dir.path().join("b"), &url);

    // Reference: one consultation on one instance.
    fake.send_over_http(a.sender.clone());
    let alone = member(MEMBERS, 1);
    let msg = start(&fake, &alone).await;
    let reference = complete(&fake, &alone, msg).await;

    // The same answers with every click alternating between the instances.
    fake.send_over_http_to_each(vec![a.sender.clone(), b.sender.clone()]);
    let spread = member(MEMBERS, 2);
    let msg = start(&fake, &spread).await;
    assert_eq!(
        complete(&fake, &spread, msg).await,
        reference,
        "same questions and verdict"
    );

    // A double click sent to both instances at once advances one step.
    let double = member(MEMBERS, 3);
    let msg = start(&fake, &double).await;
    let m = fake.message(msg).await.unwrap();
    let before = step(&m);
    let (id, values) = answer_for(&m, 0).unwrap();
    // Both clicks carry the same snapshot, as two clients showing the same message would.
    let (one, two) = tokio::join!(
        click_snapshot(&fake, &double, &m, &id, values.clone()),
        click_snapshot(&fake, &double, &m, &id, values.clone())
    );
    let types = [one.1["type"].clone(), two.1["type"].clone()];
    assert_eq!(
        types.iter().filter(|t| **t == json!(7)).count(),
        1,
        "exactly one click applied: {types:?}"
    );
    let after = step(&fake.message(msg).await.unwrap());
    assert_eq!(after.0, before.0 + 1, "one step, not two");

    // 30 team votes spread over both instances at once: all counted, the message shows 30.
    let facilitator = member(MEMBERS, 100);
    let (iid, _) = command(&fake, &facilitator, "consult", team_start()).await;
    let team_msg = fake.latest_message_for(iid).await.unwrap().id;
    let votes: Vec<_> = (1..=30)
        .map(|n| {
            let fake = fake.clone();
            tokio::spawn(async move { vote(&fake, &member(MEMBERS, 100 + n), team_msg, n as usize).await })
        })
        .collect();
    for v in votes {
        v.await.unwrap();
    }
    settle(&fake).await;
    let shown = votes_field(&fake.message(team_msg).await.unwrap());
    assert!(shown.starts_with("Votes: 30"), "{shown}");

    // kill -9 of one instance mid-consultation: the next click on the other continues it.
    fake.send_over_http(a.sender.clone());
    let survivor = member(MEMBERS, 4);
    let msg = start(&fake, &survivor).await;
    let m = fake.message(msg).await.unwrap();
    let (id, values) = answer_for(&m, 0).unwrap();
    let (_, body) = click(&fake, &survivor, msg, &id, values).await;
    assert_eq!(body["type"], json!(7));
    let at = step(&fake.message(msg).await.unwrap());
    drop(a); // SIGKILL
    fake.send_over_http(b.sender.clone());
    let m = fake.message(msg).await.unwrap();
    let (id, values) = answer_for(&m, 1).unwrap();
    let (_, body) = click(&fake, &survivor, msg, &id, values).await;
    assert_eq!(body["type"], json!(7), "continued on the other instance: {body}");
    assert_eq!(step(&fake.message(msg).await.unwrap()).0, at.0 + 1);
    drop(b);
    fake.assert_clean().await;
}
