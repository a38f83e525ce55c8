//! Plain-text rendering of replies and consultations for the terminal.

use std::fmt::Write;

use crate::app::{ConsultView, Reply};
use crate::domain::content::Content;
use crate::domain::questionnaire::{Question, QuestionKind, Session, Status};
use crate::domain::scoring::{Recommendation, Verdict};
use crate::domain::search::{Entry, Intent};
use crate::domain::team::Unity;
use crate::storage::Stats;

fn name(content: &Content, framework: &str) -> String {
    content
        .knowledge
        .framework(framework)
        .map_or_else(|| framework.to_string(), |f| f.name.clone())
}

/// A bar of `width` cells, `filled` of `total` full.
pub fn bar(filled: usize, total: usize, width: usize) -> String {
    let n = (filled * width + total / 2).checked_div(total).unwrap_or(0).min(width);
    format!("{}{}", "█".repeat(n), "░".repeat(width - n))
}

pub fn reply(content: &Content, reply: &Reply) -> String {
    let kb = &content.knowledge;
    let mut out = String::new();
    match reply {
        Reply::Overview { framework } => {
            if let Some(f) = kb.framework(framework) {
                let _ = writeln!(
                    out,
                    "{} — {}\n\n{}\n\nDocs: {}",
                    f.name, f.tagline, f.summary, f.docs_url
                );
                let _ = writeln!(
                    out,
                    "\nTopics: {}",
                    kb.topics.iter().map(|t| t.id.as_str()).collect::<Vec<_>>().join(", ")
                );
            }
        }
        Reply::Topic { framework, topic } => {
            if let (Some(f), Some(t)) = (kb.framework(framework), kb.topic(topic)) {
                let _ = writeln!(
                    out,
                    "{} — {}\n\n{}",
                    f.name,
                    t.title,
                    t.side(framework).unwrap_or_default()
                );
                for fact in t.facts_for(framework) {
                    let _ = writeln!(out, "  • {} (source: {}, as of {})", fact.text, fact.source, fact.as_of);
                }
            }
        }
        Reply::Compare { topic: None } => {
            for f in &kb.frameworks {
                let _ = writeln!(out, "== {} ==\n{}\n", f.name, f.tagline);
            }
            let _ = writeln!(
                out,
                "Pick an aspect: {}",
                kb.topics.iter().map(|t| t.id.as_str()).collect::<Vec<_>>().join(", ")
            );
        }
        Reply::Compare { topic: Some(topic) } => {
            if let Some(t) = kb.topic(topic) {
                let _ = writeln!(out, "{}: Django vs Flask\n", t.title);
                let _ = writeln!(
                    out,
                    "== Django ==\n{}\n\n== Flask ==\n{}\n\nBottom line: {}",
                    t.django, t.flask, t.comparison
                );
            }
        }
        Reply::Answer {
            hits,
            framework,
            intent,
            ..
        } => {
            let labels = &kb.search_terms.text;
            match hits.first().map(|h| &h.entry) {
                Some(Entry::Faq(id)) => {
                    if let Some(e) = kb.faq_entry(id) {
                        let _ = writeln!(out, "Best match: {}\n\n{}", e.question, e.answer);
                        if !e.facts.is_empty() {
                            let _ = writeln!(out, "\n{}:", labels.facts);
                            for fact in &e.facts {
                                let _ =
                                    writeln!(out, "  • {} (source: {}, as of {})", fact.text, fact.source, fact.as_of);
                            }
                        }
                        let _ = writeln!(out, "\n{}: {}", labels.sources, e.sources.join(" · "));
                    }
                }
                Some(Entry::Topic(id)) => {
                    if let Some(best) = kb.topic(id) {
                        let _ = writeln!(out, "Best match: {}\n", best.title);
                        match framework.as_deref().and_then(|f| best.side(f).map(|s| (f, s))) {
                            Some((f, side)) => {
                                let _ = writeln!(out, "{}: {}", name(content, f), side);
                            }
                            None if *intent == Intent::Compare => {
                                let _ = writeln!(
                                    out,
                                    "{}\n\n== Django ==\n{}\n\n== Flask ==\n{}\n\nBottom line: {}",
                                    labels.compared.replace("{title}", &best.title),
                                    best.django,
                                    best.flask,
                                    best.comparison
                                );
                            }
                            None => {
                                let _ = writeln!(out, "{}", best.comparison);
                            }
                        }
                    }
                }
                None => {}
            }
            let related: Vec<&str> = hits
                .iter()
                .skip(1)
                .filter_map(|h| match &h.entry {
                    Entry::Topic(id) => kb.topic(id).map(|t| t.title.as_str()),
                    Entry::Faq(id) => kb.faq_entry(id).map(|e| e.question.as_str()),
                })
                .collect();
            if !related.is_empty() {
                let _ = writeln!(out, "\n{}: {}", labels.related, related.join(" · "));
            }
        }
        Reply::Help => {
            let _ = writeln!(out, "{}", kb.texts().help);
            let _ = writeln!(
                out,
                "\nIn this terminal: consult | django [topic] | flask [topic] | compare [aspect] | topics | cancel | forget | stats | quit — anything else is a question."
            );
        }
        Reply::Stats(s) => out.push_str(&stats(s)),
    }
    out.trim_end().to_string()
}

pub fn stats(s: &Stats) -> String {
    let mut out = format!(
        "Consultations: {} started, {} completed, {} abandoned, {} active",
        s.started, s.completed, s.abandoned, s.active
    );
    if !s.outcomes.is_empty() {
        let parts: Vec<String> = s.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = write!(out, "\nOutcomes: {}", parts.join(", "));
    }
    let t = &s.team;
    let _ = write!(
        out,
        "\nTeam consultations: {} started, {} completed, {} abandoned; {} participants and {} votes in completed ones",
        t.started, t.completed, t.abandoned, t.participants, t.votes
    );
    if !s.dropoff.is_empty() {
        let parts: Vec<String> = s.dropoff.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = write!(out, "\nDrop-off by question: {}", parts.join(", "));
    }
    out
}

pub fn consultation(content: &Content, view: &ConsultView) -> String {
    let mut out = String::new();
    if let Some(n) = &view.notice {
        let _ = writeln!(out, "{n}\n");
    }
    let session = &view.session;
    match session.status {
        Status::Cancelled => {}
        Status::Completed => {
            if let Some(rec) = &view.recommendation {
                out.push_str(&recommendation(content, rec));
            }
        }
        Status::Active => {
            let Some(question) = content.questionnaire.next_question(&session.answers) else {
                return out;
            };
            question_block(&mut out, content, view, question);
            let how = match question.kind {
                QuestionKind::Single => "Type a number".to_string(),
                QuestionKind::Multi => {
                    let (min, max) = question.choice_bounds();
                    format!("Type {min} to {max} numbers separated by commas")
                }
            };
            let _ = write!(out, "{how}; b = back, r = restart, x = cancel, q = quit (saved).");
        }
    }
    out.trim_end().to_string()
}

/// The current question: the reaction to the last answer, the step counter,
/// the prompt, the help and the numbered options (shared by private and team
/// consultations; each adds its own line saying what to type).
fn question_block(out: &mut String, content: &Content, view: &ConsultView, question: &Question) {
    let session = &view.session;
    if let Some(r) = &session.last_reaction {
        let _ = writeln!(out, "» {r}\n");
    }
    let (step, total) = content.questionnaire.progress(&session.answers);
    let _ = write!(out, "Step {step} of {total}  {}", bar(step - 1, total, 10));
    if let Some(lean) = &view.lean {
        let _ = write!(out, "  ({lean})");
    }
    let _ = writeln!(out, "\n\n{}", question.prompt);
    if let Some(h) = &question.help {
        let _ = writeln!(out, "{h}");
    }
    for (i, o) in question.options.iter().enumerate() {
        let _ = writeln!(out, "  {}) {}", i + 1, o.label);
    }
}

/// "Recommendation: Django", "A close call, leaning Flask"...
pub fn verdict_title(content: &Content, rec: &Recommendation) -> String {
    match &rec.verdict {
        Verdict::Framework { id } => format!("Recommendation: {}", name(content, id)),
        Verdict::CloseCall { leaning: Some(id) } => format!("A close call, leaning {}", name(content, id)),
        Verdict::CloseCall { leaning: None } => "A close call".to_string(),
    }
}

pub fn recommendation(content: &Content, rec: &Recommendation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "=== {} ===", verdict_title(content, rec));
    let _ = writeln!(
        out,
        "Confidence: {}% {}",
        rec.confidence,
        bar(rec.confidence as usize, 100, 20)
    );
    if let Some(advice) = &rec.close_call_advice {
        let _ = writeln!(out, "\n{advice}");
    }
    if !rec.reasons.is_empty() {
        let _ = writeln!(out, "\nWhy:");
        for r in &rec.reasons {
            let _ = writeln!(
                out,
                "  → {}: {} ({:+.1} toward {})",
                r.option_label,
                r.text,
                r.points,
                name(content, &r.toward)
            );
        }
    }
    for (head, list) in [
        ("Trade-offs to watch", &rec.tradeoffs),
        ("Next steps", &rec.next_steps),
        ("Packages", &rec.packages),
    ] {
        if !list.is_empty() {
            let _ = writeln!(out, "\n{head}:");
            for item in list {
                let _ = writeln!(out, "  • {item}");
            }
        }
    }
    if let Some(note) = &rec.fastapi_note {
        let _ = writeln!(out, "\nAlso: {note}");
    }
    out.trim_end().to_string()
}

// Team consultations in the terminal: the same content as the Discord team
// message (`discord::render::team`), as plain text.

/// "alice (facilitator), bob and carol".
fn roster_list(names: &[String]) -> String {
    let mut shown: Vec<String> = names.to_vec();
    if let Some(first) = shown.first_mut() {
        first.push_str(" (facilitator)");
    }
    match shown.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => shown.join(""),
    }
}

/// The first lines of a team run, new or resumed.
pub fn team_opening(names: &[String], resumed: bool) -> String {
    let facilitator = names.first().map_or("", String::as_str);
    if resumed {
        format!(
            "Resuming the team consultation facilitated by {facilitator}: the votes cast so far are kept.\nVoters: {}.",
            roster_list(names)
        )
    } else {
        format!(
            "Team consultation with {}. Everyone votes on each question in turn; once all have had a turn, the tally is shown and the team moves on.",
            roster_list(names)
        )
    }
}

/// The current question of a team consultation, with what each voter can type.
pub fn team_question(content: &Content, view: &ConsultView, facilitator: &str) -> String {
    let mut out = String::new();
    let Some(question) = content.questionnaire.next_question(&view.session.answers) else {
        return out;
    };
    question_block(&mut out, content, view, question);
    let how = match question.kind {
        QuestionKind::Single => "Each voter types a number".to_string(),
        QuestionKind::Multi => {
            let (min, max) = question.choice_bounds();
            format!("Each voter types {min} to {max} numbers separated by commas")
        }
    };
    let _ = write!(
        out,
        "{how}; - or an empty line = abstain. {facilitator} (facilitator) only: b = back, f = finish early, x = cancel. q = quit (saved)."
    );
    out.trim_end().to_string()
}

/// "3 voters", "1 voter".
fn voters(n: usize) -> String {
    format!("{n} voter{}", if n == 1 { "" } else { "s" })
}

/// The votes on `question` so far: per option a count and a bar, then who voted.
/// `voted`: the names of those who voted, in the order to show them.
pub fn team_tally(session: &Session, question: &Question, voted: &[String]) -> String {
    let mut out = String::new();
    let Some(team) = &session.team else {
        return out;
    };
    let total = team.voters_on(&question.id);
    let who = if voted.is_empty() {
        String::new()
    } else {
        format!(" ({})", voted.join(", "))
    };
    let _ = writeln!(out, "Tally: {}{who}", voters(total));
    for (i, (o, (_, n))) in question.options.iter().zip(team.tally(question)).enumerate() {
        let _ = writeln!(out, "  {n:>3} {}  {}) {}", bar(n, total.max(1), 8), i + 1, o.label);
    }
    out.trim_end().to_string()
}

/// Shown when a question comes back with votes on it. `rest`: a resumed
/// round goes on with these voters only; empty: everyone is asked again.
pub fn team_already_voted(voted: &[String], rest: &[&String]) -> String {
    let voted = voted.join(", ");
    if rest.is_empty() {
        format!("Already voted on this question: {voted} (an empty line or - keeps an earlier vote).")
    } else {
        let rest: Vec<&str> = rest.iter().map(|n| n.as_str()).collect();
        format!(
            "Already voted on this question: {voted}. The round goes on with {}.",
            rest.join(", ")
        )
    }
}

pub fn team_nobody_voted() -> String {
    "Nobody voted on this question, so the team cannot move on: the round starts again.".to_string()
}

pub fn team_quorum_closed() -> String {
    "Enough votes: the question closed by itself.".to_string()
}

pub fn team_facilitator_only(voter: &str, facilitator: &str) -> String {
    format!("{voter}: only the facilitator ({facilitator}) can go back, finish early or cancel. Your vote, {voter}?")
}

pub fn team_nothing_to_finish() -> String {
    "Nothing to finish with yet: vote on this question first.".to_string()
}

pub fn team_saved() -> String {
    "Saved. Run the same command again to continue where you left off (the votes are kept).".to_string()
}

pub fn team_cancelled() -> String {
    "Team consultation cancelled. Run the same command again to start a new one.".to_string()
}

pub fn team_moved_elsewhere() -> String {
    "The consultation changed elsewhere; here is where it is now.".to_string()
}

/// The end of a team consultation: the team's recommendation, how united the
/// team was, and each member's own votes scored alone (`None`: did not vote).
pub fn team_result(content: &Content, view: &ConsultView, members: &[(String, Option<Recommendation>)]) -> String {
    let mut out = String::new();
    if let Some(t) = &view.session.team {
        let _ = writeln!(
            out,
            "The team's recommendation ({} members voted · {} votes):\n",
            t.participants(),
            t.vote_count()
        );
    }
    if let Some(rec) = &view.recommendation {
        let _ = writeln!(out, "{}\n", recommendation(content, rec));
    }
    if let Some(u) = &view.unity {
        let _ = writeln!(out, "{}\n", team_unity(content, u));
    }
    if !members.is_empty() {
        let _ = writeln!(out, "Each voter's own votes alone:");
        for (name, rec) in members {
            let _ = writeln!(out, "  {}", member_line(content, name, rec.as_ref()));
        }
    }
    out.trim_end().to_string()
}

/// "alice alone: Recommendation: Django (72%)".
pub fn member_line(content: &Content, name: &str, rec: Option<&Recommendation>) -> String {
    match rec {
        Some(rec) => format!("{name} alone: {} ({}%)", verdict_title(content, rec), rec.confidence),
        None => format!("{name} alone: did not vote on any of the questions the team answered."),
    }
}

fn option_label<'a>(content: &'a Content, question: &'a str, option: &'a str) -> &'a str {
    content
        .questionnaire
        .question(question)
        .and_then(|q| q.option(option))
        .map_or(option, |o| o.label.as_str())
}

fn question_prompt<'a>(content: &'a Content, question: &'a str) -> &'a str {
    content
        .questionnaire
        .question(question)
        .map_or(question, |q| q.prompt.as_str())
}

/// How united the team was: overall agreement, where it split most (with
/// what each side's choice pushed toward) and every question's split.
pub fn team_unity(content: &Content, unity: &Unity) -> String {
    let mut out = String::new();
    let percent = (unity.overall * 100.0).round() as usize;
    let _ = writeln!(out, "=== How united the team was ===");
    let _ = writeln!(
        out,
        "Agreement: {:.0}% {}",
        unity.overall * 100.0,
        bar(percent, 100, 20)
    );
    let _ = writeln!(out, "\nWhere the team split most:");
    if unity.disputed.is_empty() {
        let _ = writeln!(out, "  Nowhere: every question was unanimous.");
    }
    for s in &unity.disputed {
        let sides = s
            .counts
            .iter()
            .take(2)
            .map(|(o, n)| {
                let toward = match crate::domain::team::pushes_toward(&content.questionnaire, &s.question, o) {
                    Some(f) => format!("toward {}", name(content, f)),
                    None => "neutral".to_string(),
                };
                format!("{} ({n}) → {toward}", option_label(content, &s.question, o))
            })
            .collect::<Vec<_>>()
            .join(" vs ");
        let _ = writeln!(out, "  {}: {sides}", question_prompt(content, &s.question));
    }
    let _ = writeln!(out, "\nEvery question:");
    for s in &unity.splits {
        let parts = s
            .counts
            .iter()
            .map(|(o, n)| format!("{} {n}", option_label(content, &s.question, o)))
            .collect::<Vec<_>>()
            .join(" · ");
        let _ = writeln!(
            out,
            "  {}: {parts} ({})",
            question_prompt(content, &s.question),
            voters(s.voters)
        );
    }
    out.trim_end().to_string()
}
