//! Team consultations end to end: the real bot against the fake Discord,
//! many members voting, concurrently too.

mod support;

use std::collections::BTreeMap;

use serde_json::json;

use support::bot::{answer_for, click, click_snapshot, command, Bot, WAIT};
use support::flows::{
    member, message_once, session_of, settle, shows_team_result, stored, team_control, team_start, vote, votes_field,
};
use support::{FakeDiscord, FakeUser};

const EPHEMERAL: u64 = 64;

/// Member ids of this binary: `member(MEMBERS, n)`.
const MEMBERS: u64 = 2_000_000_000_000_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_members_vote_change_votes_and_get_a_team_recommendation() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut bot = Bot::start(&fake, dir.path()).await;
    let facilitator = member(MEMBERS, 0);
    let members: Vec<FakeUser> = (0..5).map(|n| member(MEMBERS, n)).collect();

    let (iid, body) = command(&fake, &facilitator, "consult", team_start()).await;
    assert_eq!(body["type"], json!(4));
    assert_eq!(
        body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL,
        0,
        "a team message is public"
    );
    let msg = fake.latest_message_for(iid).await.unwrap().id;
    let sid = session_of(&fake.message(msg).await.unwrap());

    // question id -> member -> options, as we voted them.
    let mut expected: BTreeMap<String, BTreeMap<u64, Vec<String>>> = BTreeMap::new();
    let mut round = 0;
    loop {
        let session = stored(&bot, &sid);
        let Some(question) = session.current.clone() else { break };
        for (i, m) in members.iter().enumerate() {
            // Spread the votes; member 1 changes their mind every round.
            let (_, picked) = vote(&fake, m, msg, round + i % 3).await;
            expected.entry(question.clone()).or_default().insert(m.id, picked);
        }
        let (_, picked) = vote(&fake, &members[1], msg, round).await;
        expected.get_mut(&question).unwrap().insert(members[1].id, picked);
        settle(&fake).await;
        let shown = votes_field(&fake.message(msg).await.unwrap());
        assert!(shown.starts_with("Votes: 5"), "round {round}: {shown}");

        // Not the facilitator: refused, nothing moves.
        let m = fake.message(msg).await.unwrap();
        let (_, body) = click(&fake, &members[2], msg, &team_control(&m, ":n"), None).await;
        assert_eq!(body["type"], json!(4));
        assert!(body["data"]["content"].as_str().unwrap().contains("facilitator"));
        let (_, body) = click(&fake, &facilitator, msg, &team_control(&m, ":n"), None).await;
        assert_eq!(body["type"], json!(6));
        settle(&fake).await;

        if round == 2 {
            // A restart mid-session loses no vote, and the old message keeps working.
            bot.stop().await;
            bot = Bot::start(&fake, dir.path()).await;
        }
        round += 1;
        assert!(round < 30);
        if round == 6 {
            // Finish early with six questions answered.
            let m = fake.message(msg).await.unwrap();
            let (_, body) = click(&fake, &facilitator, msg, &team_control(&m, ":f"), None).await;
            assert_eq!(body["type"], json!(6));
            settle(&fake).await;
            break;
        }
    }

    let session = stored(&bot, &sid);
    assert_eq!(session.status, framework_advisor::domain::session::Status::Completed);
    let team = session.team.as_ref().unwrap();
    for (question, by_member) in &expected {
        let stored: BTreeMap<u64, Vec<String>> = team.votes[question]
            .iter()
            .map(|(k, v)| (k.trim_start_matches("discord:").parse().unwrap(), v.clone()))
            .collect();
        assert_eq!(&stored, by_member, "votes on {question}");
    }

    // The final message: the team recommendation and the splits as cast.
    let done = message_once(&fake, msg, "the team recommendation", shows_team_result).await;
    assert!(
        done.embeds[0]["title"].as_str().unwrap().starts_with("Team "),
        "{}",
        done.embeds[0]["title"]
    );
    let unity = &done.embeds[1];
    assert_eq!(unity["title"], json!("How united the team was"));
    let every = unity["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == json!("Every question"))
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string();
    let content = framework_advisor::content::Content::load(&support::bot::responses_dir()).unwrap();
    for answer in &session.answers {
        let q = content.questionnaire.question(&answer.question).unwrap();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for opts in expected[&answer.question].values() {
            for o in opts {
                *counts.entry(o.as_str()).or_default() += 1;
            }
        }
        for (o, n) in counts {
            // Compact lines shorten labels to fit every option (see `present::MIN_SHORT_OPTION`).
            let label: String = q.option(o).unwrap().label.chars().take(5).collect();
            assert!(
                every.contains(&label) && every.contains(&format!(" {n}")),
                "{label} {n} in {every}"
            );
        }
    }

    // Each member can see their own score, privately.
    let (_, body) = click(&fake, &members[3], msg, &team_control(&done, ":me"), None).await;
    assert_eq!(body["type"], json!(4));
    assert!(body["data"]["flags"].as_u64().unwrap() & EPHEMERAL != 0);
    assert!(body["data"]["embeds"][0]["title"]
        .as_str()
        .unwrap()
        .starts_with("Your votes alone"));
    // Someone who never voted is told so.
    let (_, body) = click(&fake, &member(MEMBERS, 99), msg, &team_control(&done, ":me"), None).await;
    assert!(body["data"]["content"].as_str().unwrap().contains("did not vote"));

    // Stats count team sessions apart.
    let stats = bot.app.store().stats().unwrap();
    assert_eq!((stats.team.started, stats.team.completed), (1, 1));
    assert_eq!(stats.team.participants, 5);
    assert_eq!(stats.started, 0, "private counters untouched");
    bot.stop().await;
    fake.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_concurrent_votes_are_all_counted_and_shown() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    let facilitator = member(MEMBERS, 0);
    let (iid, _) = command(&fake, &facilitator, "consult", team_start()).await;
    let msg = fake.latest_message_for(iid).await.unwrap().id;
    let first = fake.message(msg).await.unwrap();
    let sid = session_of(&first);

    // 30 members click at the same instant (all 30 interactions in flight).
    let sends = (1..=30).map(|n| {
        let fake = fake.clone();
        let first = first.clone();
        async move {
            let (id, values) = answer_for(&first, n as usize).unwrap();
            // Everyone clicks the message as it first appeared on their screens.
            fake.send_component_on_snapshot(&member(MEMBERS, n), &first, &id, values)
                .await
        }
    });
    let ids = futures_join_all(sends).await;
    for id in ids {
        let body = fake.wait_callback(id, WAIT).await.unwrap();
        assert_eq!(body["type"], json!(6), "{body}");
    }
    // On a loaded machine the 3-second timer may acknowledge a vote before it is
    // stored (that acknowledgement changes nothing on screen: the vote lands, then the
    // message is edited), so wait for the store before demanding exactly 30.
    let deadline = std::time::Instant::now() + WAIT;
    let session = loop {
        let s = stored(&bot, &sid);
        let question = s.current.clone().unwrap();
        if s.team.as_ref().unwrap().voters_on(&question) >= 30 || std::time::Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let question = session.current.clone().unwrap();
    assert_eq!(
        session.team.as_ref().unwrap().voters_on(&question),
        30,
        "every vote stored once"
    );
    assert_eq!(session.revision, 0, "votes do not move the session on");
    settle(&fake).await;
    let shown = votes_field(&fake.message(msg).await.unwrap());
    assert!(
        shown.starts_with("Votes: 30"),
        "the final message shows every vote: {shown}"
    );
    assert!(shown.contains("and 27 more"), "names stay compact: {shown}");

    // A vote on a question that is no longer current: refused, not counted.
    let (id, values) = answer_for(&first, 0).unwrap();
    let (_, body) = click(&fake, &facilitator, msg, &team_control(&first, ":n"), None).await;
    assert_eq!(body["type"], json!(6));
    // Member 31 still has the first question on screen (the old rendering) and votes on it.
    let (_, body) = click_snapshot(&fake, &member(MEMBERS, 31), &first, &id, values).await;
    assert_eq!(body["type"], json!(6), "acknowledged; the message is re-rendered");
    settle(&fake).await;
    let told = fake
        .requests()
        .await
        .into_iter()
        .find(|r| r.is("POST", "/webhooks/"))
        .expect("the voter is told privately");
    assert!(told.body["flags"].as_u64().unwrap() & EPHEMERAL != 0);
    assert!(told.body["content"].as_str().unwrap().contains("earlier"));
    let session = stored(&bot, &sid);
    assert_eq!(session.team.as_ref().unwrap().voters_on(&question), 30);
    let now_current = session.current.clone().unwrap();
    assert_eq!(session.team.as_ref().unwrap().voters_on(&now_current), 0);

    // Cancel by someone else is refused; by the facilitator it closes the message.
    settle(&fake).await;
    let m = fake.message(msg).await.unwrap();
    let (_, body) = click(&fake, &member(MEMBERS, 5), msg, &team_control(&m, ":x"), None).await;
    assert_eq!(body["type"], json!(4));
    let (_, body) = click(&fake, &facilitator, msg, &team_control(&m, ":x"), None).await;
    assert_eq!(body["type"], json!(6));
    settle(&fake).await;
    let closed = fake.message(msg).await.unwrap();
    assert!(
        closed.custom_ids().is_empty(),
        "a cancelled team message takes no more clicks"
    );
    bot.stop().await;
    fake.assert_clean().await;
}

/// `join_all` without a futures dependency: spawn each and await in order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<u64>
where
    F: std::future::Future<Output = u64> + Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
