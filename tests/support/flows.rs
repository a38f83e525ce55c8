//! Steps of a consultation, private or team, as the end-to-end tests drive it through the real
//! bot and the fake Discord: the command options that start one, the users that vote, reading
//! the session id, the stored session and the tally off what the bot rendered, a team vote,
//! and waiting for the bot's REST traffic to settle.
//!
//! Several test binaries share these, so the helpers take what differs between them as
//! parameters (e.g. each binary's own range of member ids) rather than fixing it here.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use framework_advisor::domain::questionnaire::Session;

use super::bot::{answer_for, click, Bot};
use super::{FakeDiscord, FakeMessage, FakeUser};

/// Team member `n`, with an id above `base`. Each test binary has a `base` of its own, so
/// users never collide across binaries.
pub fn member(base: u64, n: u64) -> FakeUser {
    FakeUser::new(base + n, &format!("member{n}"))
}

/// The options of `/consult <sub>` (a subcommand without options of its own).
pub fn consult(sub: &str) -> Value {
    json!([{ "type": 1, "name": sub, "options": [] }])
}

/// The options of `/consult start mode:team`.
pub fn team_start() -> Value {
    json!([{ "type": 1, "name": "start", "options": [{ "type": 3, "name": "mode", "value": "team" }] }])
}

/// The session id carried by a consultation message's first custom_id.
pub fn session_of(m: &FakeMessage) -> String {
    m.custom_ids()[0]
        .split(':')
        .nth(2)
        .expect("fa1:<kind>:<session>:...")
        .to_string()
}

/// The session `sid` as the bot's store has it.
pub fn stored(bot: &Bot, sid: &str) -> Session {
    bot.app
        .store()
        .get(sid)
        .expect("store readable")
        .expect("session stored")
}

/// Waits until no REST request has arrived for a while (team edits follow the ack), however
/// long that takes.
pub async fn settle(fake: &FakeDiscord) {
    settle_until(fake, None).await;
}

/// [`settle`], failing if REST traffic has not settled `within`.
pub async fn settle_within(fake: &FakeDiscord, within: Duration) {
    settle_until(fake, Some(Instant::now() + within)).await;
}

async fn settle_until(fake: &FakeDiscord, deadline: Option<Instant>) {
    let mut last = fake.requests().await.len();
    loop {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let now = fake.requests().await.len();
        if now == last {
            return;
        }
        if let Some(deadline) = deadline {
            assert!(Instant::now() < deadline, "REST traffic never settled");
        }
        last = now;
    }
}

/// The "Votes…" field of a team message, as "<name> <value>"; empty when there is none.
pub fn votes_field(m: &FakeMessage) -> String {
    m.embeds[0]["fields"]
        .as_array()
        .and_then(|f| {
            f.iter()
                .find(|f| f["name"].as_str().is_some_and(|n| n.starts_with("Votes")))
        })
        .map(|f| format!("{} {}", f["name"].as_str().unwrap(), f["value"].as_str().unwrap()))
        .unwrap_or_default()
}

/// The custom_id of a team control button (":n", ":f", ":x", ":me") on a team message.
pub fn team_control(m: &FakeMessage, suffix: &str) -> String {
    m.custom_ids()
        .into_iter()
        .find(|id| id.starts_with("fa1:v:") && id.ends_with(suffix))
        .unwrap_or_else(|| panic!("no {suffix} on {:?}", m.custom_ids()))
}

/// `user` votes on team message `msg` (`choice` rotates the option, as in [`answer_for`]); the
/// vote must be acknowledged (type 6). Returns the interaction id and the options voted.
pub async fn vote(fake: &FakeDiscord, user: &FakeUser, msg: u64, choice: usize) -> (u64, Vec<String>) {
    let m = fake.message(msg).await.unwrap();
    let (id, values) = answer_for(&m, choice).unwrap();
    let picked = match &values {
        Some(v) => v.clone(),
        None => vec![id.rsplit(':').next().unwrap().to_string()],
    };
    let (iid, body) = click(fake, user, msg, &id, values).await;
    assert_eq!(body["type"], json!(6), "a vote is acknowledged: {body}");
    (iid, picked)
}
