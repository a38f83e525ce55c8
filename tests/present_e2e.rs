//! Results people can look at and keep, end to end through the fake Discord:
//! the chart attached to the final message (a multipart upload the fake
//! validates: payload against the spec, file present, PNG, referenced by the
//! embed) and the Decision record button (a Markdown file, ephemeral for a
//! private consultation, in the channel for a team).

mod support;

use serde_json::{json, Value};

use support::bot::{answer_for, click, command, control, Bot};
use support::flows::{
    consult, member, message_once, session_of, settle, shows_team_result, stored, team_control, team_start, vote,
};
use support::{FakeDiscord, FakeMessage, FakeUser};

const EPHEMERAL: u64 = 64;
/// Member ids of this binary: `member(MEMBERS, n)`.
const MEMBERS: u64 = 3_000_000_000_000_000_000;

fn png_size(bytes: &[u8]) -> (u32, u32) {
    let reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .expect("the chart decodes as PNG");
    (reader.info().width, reader.info().height)
}

/// The attachment of `m` named `*.ext`, with its bytes.
async fn attachment(fake: &FakeDiscord, m: &FakeMessage, ext: &str) -> (Value, Vec<u8>) {
    let a = m.json["attachments"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|a| a["filename"].as_str().is_some_and(|f| f.ends_with(ext)))
        })
        .unwrap_or_else(|| panic!("no {ext} attachment on {}", m.json["attachments"]))
        .clone();
    let bytes = fake
        .attachment(m.id, a["filename"].as_str().unwrap())
        .await
        .expect("the fake kept the file");
    (a, bytes)
}

/// The custom_id of the Decision record button on `m`.
fn record_button(m: &FakeMessage) -> String {
    m.custom_ids()
        .into_iter()
        .find(|id| id.starts_with("fa1:rec:"))
        .unwrap_or_else(|| panic!("no Decision record button on {:?}", m.custom_ids()))
}

/// The Markdown file of a Decision record message, checked for the MADR headings.
async fn record_of(fake: &FakeDiscord, m: &FakeMessage) -> String {
    let (_, bytes) = attachment(fake, m, ".md").await;
    let md = String::from_utf8(bytes).expect("UTF-8 Markdown");
    assert!(md.starts_with("# "), "{md}");
    for heading in ["## Context", "## Decision", "## Consequences"] {
        assert!(md.contains(heading), "{heading} in\n{md}");
    }
    assert!(!md.contains('@'), "nothing that could ping:\n{md}");
    md
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_result_has_a_chart_and_a_decision_record() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    let user = FakeUser::new(3_000_000_000_000_000_001, "alice");
    let (iid, _) = command(&fake, &user, "consult", consult("start")).await;
    let msg = fake.latest_message_for(iid).await.unwrap().id;

    // Walk until the recommendation: whatever the questions, the last answer brings it.
    let mut steps = 0;
    let final_body = loop {
        let m = fake.message(msg).await.unwrap();
        let (id, values) = answer_for(&m, steps).expect("a question to answer");
        let (_, body) = click(&fake, &user, msg, &id, values).await;
        assert_eq!(body["type"], json!(7), "{body}");
        if body["data"]["components"].to_string().contains("fa1:rec:") {
            break body;
        }
        steps += 1;
        assert!(steps < 40, "the consultation ends");
    };
    // The payload names the chart it uploads, and the embed shows it.
    let name = final_body["data"]["attachments"][0]["filename"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(name.ends_with(".png"));
    assert_eq!(
        final_body["data"]["embeds"][0]["image"]["url"],
        json!(format!("attachment://{name}"))
    );

    let done = fake.message(msg).await.unwrap();
    let (a, png) = attachment(&fake, &done, ".png").await;
    let (w, h) = png_size(&png);
    assert!(w >= 600 && h >= 150, "{w}x{h}");
    assert_eq!(
        done.embeds[0]["image"]["url"], a["url"],
        "the embed shows the uploaded chart"
    );

    // Decision record: an ephemeral Markdown file naming the verdict.
    let (rid, body) = click(&fake, &user, msg, &record_button(&done), None).await;
    assert_eq!(body["type"], json!(4), "{body}");
    assert_eq!(body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL, EPHEMERAL);
    let rec_msg = fake.latest_message_for(rid).await.unwrap();
    let md = record_of(&fake, &rec_msg).await;
    let title = done.embeds[0]["title"].as_str().unwrap();
    let verdict = title.rsplit(": ").next().unwrap();
    assert!(md.contains(verdict), "{verdict} in\n{md}");

    // Someone else cannot even see the private result, so cannot click its button.
    let bob = FakeUser::new(3_000_000_000_000_000_002, "bob");
    let refused = fake
        .try_send_component(&bob, msg, &record_button(&done), None)
        .await
        .expect_err("an ephemeral message is only clickable by its owner");
    assert!(refused.contains("ephemeral"), "{refused}");

    // Share: the public copy carries the chart and its own Decision record button.
    let (sid, body) = click(&fake, &user, msg, &control(&done, ":share"), None).await;
    assert_eq!(body["type"], json!(4));
    let shared = fake.latest_message_for(sid).await.unwrap();
    attachment(&fake, &shared, ".png").await;
    let (rid, body) = click(&fake, &bob, shared.id, &record_button(&shared), None).await;
    assert_eq!(
        body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL,
        EPHEMERAL,
        "{body}"
    );
    record_of(&fake, &fake.latest_message_for(rid).await.unwrap()).await;

    bot.stop().await;
    fake.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_result_shows_every_question_a_chart_and_a_record_in_the_channel() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path()).await;
    let facilitator = member(MEMBERS, 0);
    let members: Vec<FakeUser> = (0..5).map(|n| member(MEMBERS, n)).collect();
    let (iid, _) = command(&fake, &facilitator, "consult", team_start()).await;
    let msg = fake.latest_message_for(iid).await.unwrap().id;
    let sid = session_of(&fake.message(msg).await.unwrap());

    let mut round = 0;
    while stored(&bot, &sid).current.is_some() {
        for (i, m) in members.iter().enumerate() {
            vote(&fake, m, msg, round + i % 2).await;
        }
        // One member changes their vote.
        vote(&fake, &members[4], msg, round + 1).await;
        settle(&fake).await;
        let m = fake.message(msg).await.unwrap();
        let (_, body) = click(&fake, &facilitator, msg, &team_control(&m, ":n"), None).await;
        assert_eq!(body["type"], json!(6));
        settle(&fake).await;
        round += 1;
        assert!(round < 40, "the consultation ends");
    }
    let session = stored(&bot, &sid);
    let done = message_once(&fake, msg, "the team recommendation", shows_team_result).await;
    let title = done.embeds[0]["title"].as_str().unwrap();
    assert!(title.starts_with("Team "), "{title}");
    assert!(
        !title.contains(": django") && !title.contains(": flask"),
        "display names: {title}"
    );

    // A split line for every question asked.
    let lines: Vec<String> = done.embeds[1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["name"].as_str().unwrap().starts_with("Every question"))
        .flat_map(|f| {
            f["value"]
                .as_str()
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(lines.len(), session.answers.len(), "{lines:?}");
    let content = framework_advisor::content::Content::load(&support::bot::responses_dir()).unwrap();
    for (answer, line) in session.answers.iter().zip(&lines) {
        let prompt = &content.questionnaire.question(&answer.question).unwrap().prompt;
        let start: String = prompt.chars().take(20).collect();
        assert!(line.contains(&start), "{start} in {line}");
    }
    assert!(done.embeds[1]["description"].as_str().unwrap().contains("chart"));

    // The chart: attached, a PNG, shown by the embed.
    let (a, png) = attachment(&fake, &done, ".png").await;
    let (w, h) = png_size(&png);
    assert!(w >= 600 && h >= 150, "{w}x{h}");
    assert!(done
        .embeds
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["image"]["url"] == a["url"]));

    // Decision record: posted in the channel, with the participants by name.
    let (rid, body) = click(&fake, &members[2], msg, &record_button(&done), None).await;
    assert_eq!(body["type"], json!(4), "{body}");
    assert_eq!(
        body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL,
        0,
        "in the channel"
    );
    let md = record_of(&fake, &fake.latest_message_for(rid).await.unwrap()).await;
    for m in &members {
        assert!(md.contains(&m.name), "{} in\n{md}", m.name);
    }

    bot.stop().await;
    fake.assert_clean().await;
}
