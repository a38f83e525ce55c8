//! Gateway faults in the middle of a consultation, against the real bot (serenity's gateway
//! client) and the fake Discord: close codes 4000 and 1006, a TCP drop, op 7 RECONNECT, op 9
//! INVALID SESSION (resumable and not), and a click in flight when the connection closes.
//!
//! After each fault the bot must come back the way Discord expects (RESUME for the resumable
//! cases, a new IDENTIFY otherwise; counted by the fake), and the user's next click on the
//! message they already have must work and continue at the right step, with the session's
//! revision moved by exactly one (nothing lost, nothing applied twice).
//!
//! The faults run one after another on one bot, to pay the start-up once.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;

use support::bot::{answer_for, click, click_snapshot, command, control, step_of, Bot, WAIT};
use support::flows::{consult, member, session_of, settle_within, stored, team_control, team_start, vote, votes_field};
use support::{FakeDiscord, FakeUser};

const EPHEMERAL: u64 = 64;

fn alice() -> FakeUser {
    FakeUser::new(1_000_000_000_000_000_301, "alice")
}

/// Member ids of this binary: `member(MEMBERS, n)`.
const MEMBERS: u64 = 2_000_000_000_000_000_300;

/// A gateway fault the fake can inject.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Close(u16),
    TcpDrop,
    Reconnect,
    InvalidSession { resumable: bool },
}

impl Fault {
    async fn inject(self, fake: &FakeDiscord) {
        match self {
            Fault::Close(code) => fake.close_gateway(code).await,
            Fault::TcpDrop => fake.drop_gateway().await,
            Fault::Reconnect => fake.send_reconnect().await,
            Fault::InvalidSession { resumable } => fake.send_invalid_session(resumable).await,
        }
    }
}

/// How the client must come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comeback {
    Resume,
    Identify,
}

/// Injects `fault` and waits until the client is back with a live session; asserts it came
/// back by `comeback` (exactly one more RESUME, or exactly one more IDENTIFY).
async fn fault_and_recover(fake: &FakeDiscord, fault: Fault, comeback: Comeback, within: Duration) {
    let (identify, resume) = (fake.identify_count().await, fake.resume_count().await);
    let started = Instant::now();
    fault.inject(fake).await;
    let want = match comeback {
        Comeback::Resume => (identify, resume + 1),
        Comeback::Identify => (identify + 1, resume),
    };
    loop {
        let now = (fake.identify_count().await, fake.resume_count().await);
        if now == want {
            break;
        }
        assert!(
            now.0 <= want.0 && now.1 <= want.1,
            "{fault:?}: expected (identify, resume) {want:?}, got {now:?}"
        );
        assert!(
            started.elapsed() < within,
            "{fault:?}: the client did not come back by {comeback:?} within {within:?} (identify, resume) = {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    fake.wait_ready(WAIT).await.unwrap_or_else(|e| panic!("{fault:?}: {e}"));
    // No second reconnection sneaks in after the first.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        (fake.identify_count().await, fake.resume_count().await),
        want,
        "{fault:?}: exactly one reconnection"
    );
    eprintln!("{fault:?}: back by {comeback:?} in {:?}", started.elapsed());
}

/// Clicks the answer of the current question on `msg` and checks the click was applied once:
/// the message moves one step on, the revision and the answer count by exactly one.
async fn answer_once(fake: &FakeDiscord, bot: &Bot, user: &FakeUser, msg: u64, sid: &str, what: &str) {
    let before_msg = fake.message(msg).await.expect("message stored");
    let before = stored(bot, sid);
    let step = step_of(&before_msg).expect("a question message").0;
    let (id, values) = answer_for(&before_msg, before.revision as usize).expect("an answer component");
    let (_, body) = click(fake, user, msg, &id, values).await;
    assert_eq!(body["type"], json!(7), "{what}: the click updates the message: {body}");
    let after_msg = fake.message(msg).await.unwrap();
    assert_eq!(
        step_of(&after_msg).map(|s| s.0),
        Some(step + 1),
        "{what}: the next click continues at the right step"
    );
    let after = stored(bot, sid);
    assert_eq!(after.revision, before.revision + 1, "{what}: applied exactly once");
    assert_eq!(after.answers.len(), before.answers.len() + 1, "{what}: one more answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_consultation_survives_every_resumable_fault() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    let user = alice();
    let (iid, body) = command(&fake, &user, "consult", consult("start")).await;
    assert_eq!(body["type"], json!(4));
    let msg = fake.latest_message_for(iid).await.unwrap().id;
    let sid = session_of(&fake.message(msg).await.unwrap());
    answer_once(&fake, &bot, &user, msg, &sid, "before any fault").await;

    for fault in [
        Fault::Close(4000),
        // 1006 (abnormal closure) may not be sent in a close frame; the client's websocket
        // treats one that is as a protocol error. Both that and a TCP drop without any close
        // frame (how a 1006 really happens) must lead to a resume.
        Fault::Close(1006),
        Fault::TcpDrop,
        Fault::Reconnect,
        Fault::InvalidSession { resumable: true },
    ] {
        fault_and_recover(&fake, fault, Comeback::Resume, Duration::from_secs(5)).await;
        answer_once(&fake, &bot, &user, msg, &sid, &format!("after {fault:?}")).await;
    }

    // A click already sent when the connection closes: the answer goes over REST, so it is
    // still delivered, and applied once.
    let before = stored(&bot, &sid);
    let m = fake.message(msg).await.unwrap();
    let step = step_of(&m).unwrap().0;
    let (id, values) = answer_for(&m, 0).unwrap();
    let in_flight = fake.send_component(&user, msg, &id, values.clone()).await;
    fake.close_gateway(4000).await;
    let body = fake
        .wait_callback(in_flight, WAIT)
        .await
        .expect("the in-flight click is answered");
    assert_eq!(body["type"], json!(7), "{body}");
    fake.wait_ready(WAIT).await.unwrap();
    assert_eq!(step_of(&fake.message(msg).await.unwrap()).map(|s| s.0), Some(step + 1));
    assert_eq!(stored(&bot, &sid).revision, before.revision + 1);
    // The same click again (say the user's client retried): recognised as stale, not applied.
    // The retry is of the rendering the user clicked, which the bot has since replaced.
    let (sid_click, body) = click_snapshot(&fake, &user, &m, &id, values).await;
    assert_eq!(body["type"], json!(4), "a repeated click gets a fresh message: {body}");
    assert_ne!(body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL, 0);
    let reshown = fake.latest_message_for(sid_click).await.unwrap();
    assert_eq!(
        step_of(&reshown).map(|s| s.0),
        Some(step + 1),
        "the current question is re-shown"
    );
    assert_eq!(
        stored(&bot, &sid).revision,
        before.revision + 1,
        "nothing applied twice"
    );

    // Controls still work on the same message after all that.
    let m = fake.message(msg).await.unwrap();
    let (_, body) = click(&fake, &user, msg, &control(&m, ":b"), None).await;
    assert_eq!(body["type"], json!(7));
    assert_eq!(step_of(&fake.message(msg).await.unwrap()).map(|s| s.0), Some(step));
    assert_eq!(stored(&bot, &sid).revision, before.revision + 2);

    assert_eq!(
        fake.identify_count().await,
        1,
        "every fault was resumed, none re-identified"
    );
    assert_eq!(
        fake.command_overwrites().await.len(),
        1,
        "resumes do not re-register commands"
    );
    bot.stop().await;
    fake.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_resumable_invalid_session_reidentifies_and_old_buttons_continue() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    let user = alice();
    let (iid, _) = command(&fake, &user, "consult", consult("start")).await;
    let msg = fake.latest_message_for(iid).await.unwrap().id;
    let sid = session_of(&fake.message(msg).await.unwrap());
    answer_once(&fake, &bot, &user, msg, &sid, "before the fault").await;
    answer_once(&fake, &bot, &user, msg, &sid, "before the fault").await;

    // serenity waits ~5 s before identifying again.
    fault_and_recover(
        &fake,
        Fault::InvalidSession { resumable: false },
        Comeback::Identify,
        Duration::from_secs(12),
    )
    .await;
    // A new gateway session, same store: the old message's buttons continue.
    answer_once(&fake, &bot, &user, msg, &sid, "after a new IDENTIFY").await;
    // The second READY ran the ready handler again; the definitions are unchanged, so they
    // are not registered again.
    assert_eq!(fake.command_overwrites().await.len(), 1);
    let (_, body) = command(&fake, &user, "consult", consult("resume")).await;
    let description = body["data"]["embeds"][0]["description"].as_str().unwrap_or_default();
    assert!(description.contains("Step 4"), "resume shows step 4: {body}");
    bot.stop().await;
    fake.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_consultation_survives_a_reconnect_and_a_close() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    let facilitator = member(MEMBERS, 0);
    let (iid, body) = command(&fake, &facilitator, "consult", team_start()).await;
    assert_eq!(body["type"], json!(4));
    assert_eq!(body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL, 0, "public");
    let msg = fake.latest_message_for(iid).await.unwrap().id;
    let first = fake.message(msg).await.unwrap();
    let sid = session_of(&first);
    let question = stored(&bot, &sid).current.clone().unwrap();

    vote(&fake, &member(MEMBERS, 1), msg, 0).await;
    fault_and_recover(&fake, Fault::Reconnect, Comeback::Resume, Duration::from_secs(5)).await;
    vote(&fake, &member(MEMBERS, 2), msg, 1).await;
    fault_and_recover(&fake, Fault::Close(4000), Comeback::Resume, Duration::from_secs(5)).await;
    vote(&fake, &member(MEMBERS, 3), msg, 0).await;
    settle_within(&fake, WAIT).await;
    let s = stored(&bot, &sid);
    assert_eq!(
        s.team.as_ref().unwrap().voters_on(&question),
        3,
        "each vote stored once"
    );
    assert_eq!(s.revision, 0, "votes do not move the session on");
    let shown = votes_field(&fake.message(msg).await.unwrap());
    assert!(shown.starts_with("Votes: 3"), "the message shows every vote: {shown}");

    // The facilitator moves on after another fault: applied once, message refreshed.
    fault_and_recover(&fake, Fault::TcpDrop, Comeback::Resume, Duration::from_secs(5)).await;
    let m = fake.message(msg).await.unwrap();
    let (_, body) = click(&fake, &facilitator, msg, &team_control(&m, ":n"), None).await;
    assert_eq!(body["type"], json!(6), "{body}");
    settle_within(&fake, WAIT).await;
    let s = stored(&bot, &sid);
    assert_eq!(s.revision, 1, "Next applied exactly once");
    assert_ne!(s.current.as_deref(), Some(question.as_str()), "on the next question");
    let m = fake.message(msg).await.unwrap();
    assert!(
        m.custom_ids()
            .iter()
            .all(|id| !id.starts_with("fa1:v:") || id.contains(":1:")),
        "the message carries the new revision: {:?}",
        m.custom_ids()
    );
    // Repeating the old Next (rendered for revision 0) is refused and changes nothing: the
    // click is acknowledged, the message re-rendered, and the clicker told privately.
    let (_, body) = click_snapshot(&fake, &facilitator, &first, &team_control(&first, ":n"), None).await;
    assert_eq!(body["type"], json!(6), "{body}");
    settle_within(&fake, WAIT).await;
    assert!(
        fake.requests()
            .await
            .iter()
            .any(|r| r.is("POST", "/webhooks/") && r.body["flags"].as_u64().unwrap_or(0) & 64 == 64),
        "an ephemeral follow-up tells the clicker"
    );
    assert_eq!(stored(&bot, &sid).revision, 1);
    assert_eq!(fake.identify_count().await, 1);
    bot.stop().await;
    fake.assert_clean().await;
}
