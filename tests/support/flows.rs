//! Steps of a consultation, private or team, as the end-to-end tests drive it through the real
//! bot and the fake Discord: the command options that start one, the users that vote, reading
//! the session id, the stored session and the tally off what the bot rendered, a team vote,
//! and waiting for the bot's REST traffic to settle.
//!
//! Several test binaries share these, so the helpers take what differs between them as
//! parameters (e.g. each binary's own range of member ids) rather than fixing it here.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use framework_advisor::domain::session::Session;

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

/// Message `id` once `done` holds for it. A team message is edited after the click that
/// changed it was acknowledged (a store read, a render with its chart, the edit), so on a
/// loaded machine its last edit can land after [`settle`] saw a quiet moment. Panics with
/// `what` and the last state seen if it does not hold within 15 seconds.
pub async fn message_once(fake: &FakeDiscord, id: u64, what: &str, done: impl Fn(&FakeMessage) -> bool) -> FakeMessage {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let message = fake.message(id).await;
        match message {
            Some(m) if done(&m) => return m,
            _ if Instant::now() >= deadline => panic!("message {id} never showed {what}; last seen: {message:?}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Whether a team message shows the team's recommendation (its title starts with "Team ").
pub fn shows_team_result(m: &FakeMessage) -> bool {
    m.embeds[0]["title"].as_str().is_some_and(|t| t.starts_with("Team "))
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

/// The registered choice `value` of option `option` of `/command sub` (panics naming them if it
/// is not registered): what a user picks in the client, e.g. `mode:team`.
pub async fn registered_choice(fake: &FakeDiscord, command: &str, sub: &str, option: &str, value: &str) -> Value {
    let registered = fake.registered_for_guild().await;
    let def = super::interaction_builder::find_command(&registered, command).unwrap_or_else(|e| panic!("{e}"));
    let sub_def = def["options"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["name"] == json!(sub)))
        .unwrap_or_else(|| panic!("/{command} {sub} is not registered"));
    let opt = sub_def["options"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["name"] == json!(option)))
        .unwrap_or_else(|| panic!("/{command} {sub}: option {option} is not registered"));
    opt["choices"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["value"] == json!(value)))
        .map(|c| c["value"].clone())
        .unwrap_or_else(|| panic!("/{command} {sub} {option}: no registered choice {value:?}"))
}

/// `/consult start mode:<value>` with the choice taken from the registered definition.
pub async fn start_with_registered_mode(fake: &FakeDiscord, user: &FakeUser, value: &str) -> (u64, Value) {
    let choice = registered_choice(fake, "consult", "start", "mode", value).await;
    let options = json!([{ "type": 1, "name": "start", "options": [{ "name": "mode", "value": choice }] }]);
    super::bot::command(fake, user, "consult", options).await
}

/// Answers the private consultation on message `msg` until the recommendation appears, each click
/// sent as soon as the previous one was answered (no pause: as fast as a user can click).
/// Every answer must update the message in place (type 7). Returns the callback bodies.
pub async fn answer_to_the_end(fake: &FakeDiscord, user: &FakeUser, msg: u64) -> Vec<Value> {
    let mut bodies = Vec::new();
    loop {
        let m = fake.message(msg).await.expect("the consultation message exists");
        if super::bot::is_recommendation(&m) {
            return bodies;
        }
        let (id, values) = answer_for(&m, bodies.len()).expect("a question has an answer component");
        let (_, body) = click(fake, user, msg, &id, values).await;
        assert_eq!(
            body["type"],
            json!(7),
            "click {}: an answer updates the message: {body}",
            bodies.len() + 1
        );
        bodies.push(body);
        assert!(bodies.len() <= 100, "the consultation never ends");
    }
}

/// What [`team_to_the_end`] did.
pub struct TeamRun {
    pub message: u64,
    pub session: String,
    /// Questions the team voted on, in order.
    pub questions: Vec<String>,
    /// Every callback body the bot sent for the votes and Nexts.
    pub bodies: Vec<Value>,
}

/// A team consultation from `/consult start mode:team` (the registered choice) to its result:
/// on every question each of `members` votes, `members[1]` then changes their vote, and the
/// facilitator presses Next as soon as the votes are acknowledged, until there is no Next.
pub async fn team_to_the_end(fake: &FakeDiscord, bot: &Bot, facilitator: &FakeUser, members: &[FakeUser]) -> TeamRun {
    assert!(members.len() >= 2, "one member changes a vote");
    let (iid, body) = start_with_registered_mode(fake, facilitator, "team").await;
    assert_eq!(body["type"], json!(4), "{body}");
    assert_eq!(
        body["data"]["flags"].as_u64().unwrap_or(0) & super::spec::EPHEMERAL,
        0,
        "a team consultation is public: {body}"
    );
    let message = fake.latest_message_for(iid).await.expect("the team message").id;
    let session = session_of(&fake.message(message).await.unwrap());
    let mut questions = Vec::new();
    let mut bodies = Vec::new();
    loop {
        let m = fake.message(message).await.unwrap();
        let Some(next) = m
            .custom_ids()
            .into_iter()
            .find(|id| id.starts_with("fa1:v:") && id.ends_with(":n"))
        else {
            break;
        };
        let question = stored(bot, &session).current.clone().expect("a current question");
        for (i, member) in members.iter().enumerate() {
            let (id, values) = answer_for(&m, questions.len() + i).unwrap();
            let (_, body) = click(fake, member, message, &id, values).await;
            assert_eq!(body["type"], json!(6), "a vote is acknowledged: {body}");
            bodies.push(body);
        }
        // Member 1 changes their mind (another option, where there is one).
        let (id, values) = answer_for(&m, questions.len() + 2).unwrap();
        let (_, body) = click(fake, &members[1], message, &id, values).await;
        assert_eq!(body["type"], json!(6), "a changed vote is acknowledged: {body}");
        bodies.push(body);
        let (_, body) = click(fake, facilitator, message, &next, None).await;
        assert_eq!(body["type"], json!(6), "Next is acknowledged: {body}");
        bodies.push(body);
        questions.push(question);
        // The message moves on (a new revision in its custom_ids) after the acknowledgement.
        let deadline = Instant::now() + super::bot::WAIT;
        while fake.message(message).await.unwrap().custom_ids().contains(&next) {
            assert!(Instant::now() < deadline, "the team message never moved on from {next}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(questions.len() <= 100, "the team consultation never ends");
    }
    settle(fake).await;
    TeamRun {
        message,
        session,
        questions,
        bodies,
    }
}

/// After a click answered over the HTTP endpoint: type 7 updated the message in place; type 6
/// acknowledged it because the result carries files (the HTTP answer is JSON only) and the
/// message is then edited over REST with them. Waits for that edit; panics on anything else.
pub async fn after_http_click(fake: &FakeDiscord, msg: u64, body: &Value) {
    match body["type"].as_u64() {
        Some(7) => {}
        Some(6) => {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let m = fake.message(msg).await.expect("the message exists");
                let has_files = m.json["attachments"].as_array().is_some_and(|a| !a.is_empty());
                if super::bot::is_recommendation(&m) && has_files {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "the acknowledged click's result never arrived: {body}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        _ => panic!("an answer updates the message in place or is acknowledged: {body}"),
    }
}
