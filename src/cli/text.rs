//! Plain-text rendering of replies and consultations for the terminal: the
//! same view models as the Discord renderer ([`crate::present`]), laid out as
//! text. Every word comes from `responses/`.

use std::fmt::Write;

use crate::app::{ConsultView, Reply};
use crate::content::Content;
use crate::domain::labels::{fill, Labels};
use crate::domain::questionnaire::Question;
use crate::domain::scoring::Recommendation;
use crate::domain::search::{Entry, Intent};
use crate::domain::session::{Session, Status};
use crate::domain::team::Unity;
use crate::present::{self, Audience, RecommendationView};
use crate::storage::Stats;

pub use crate::present::bar;

fn labels(content: &Content) -> &Labels {
    present::labels(content)
}

fn name(content: &Content, framework: &str) -> String {
    present::framework_name(content, framework)
}

pub fn reply(content: &Content, reply: &Reply) -> String {
    let kb = &content.knowledge;
    let l = labels(content);
    let mut out = String::new();
    let topic_ids = || kb.topics.iter().map(|t| t.id.as_str()).collect::<Vec<_>>().join(", ");
    match reply {
        Reply::Overview { framework } => {
            if let Some(f) = kb.framework(framework) {
                let _ = writeln!(
                    out,
                    "{} — {}\n\n{}\n\n{}",
                    f.name,
                    f.tagline,
                    f.summary,
                    fill(&l.docs_line, &[("url", &f.docs_url)])
                );
                let _ = writeln!(out, "\n{}: {}", l.topics, topic_ids());
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
                    let line = fill(
                        &l.fact_line,
                        &[("text", &fact.text), ("source", &fact.source), ("as_of", &fact.as_of)],
                    );
                    let _ = writeln!(out, "  • {line}");
                }
            }
        }
        Reply::Compare { topic: None } => {
            for f in &kb.frameworks {
                let _ = writeln!(out, "== {} ==\n{}\n", f.name, f.tagline);
            }
            let _ = writeln!(out, "{}: {}", l.pick_an_aspect, topic_ids());
        }
        Reply::Compare { topic: Some(topic) } => {
            if let Some(t) = kb.topic(topic) {
                let _ = writeln!(out, "{}\n", fill(&l.comparison_title, &[("topic", &t.title)]));
                let _ = writeln!(
                    out,
                    "== {} ==\n{}\n\n== {} ==\n{}\n\n{}: {}",
                    name(content, "django"),
                    t.django,
                    name(content, "flask"),
                    t.flask,
                    l.bottom_line,
                    t.comparison
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
            let _ = writeln!(out, "\n{}", l.terminal_commands);
        }
        Reply::Stats(s) => out.push_str(&stats(content, s)),
    }
    out.trim_end().to_string()
}

pub fn stats(content: &Content, s: &Stats) -> String {
    let l = labels(content);
    let n = |v: u64| v.to_string();
    let mut out = fill(
        &l.stats_private,
        &[
            ("started", &n(s.started)),
            ("completed", &n(s.completed)),
            ("abandoned", &n(s.abandoned)),
            ("active", &n(s.active)),
        ],
    );
    if !s.outcomes.is_empty() {
        let parts: Vec<String> = s.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = write!(out, "\n{}: {}", l.stats_outcomes, parts.join(", "));
    }
    let t = &s.team;
    let team = fill(
        &l.stats_team,
        &[
            ("started", &n(t.started)),
            ("completed", &n(t.completed)),
            ("abandoned", &n(t.abandoned)),
            ("participants", &n(t.participants)),
            ("votes", &n(t.votes)),
        ],
    );
    let _ = write!(out, "\n{}: {team}", l.stats_team_title);
    if !s.dropoff.is_empty() {
        let parts: Vec<String> = s.dropoff.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = write!(out, "\n{}: {}", l.stats_dropoff, parts.join(", "));
    }
    out
}

pub fn consultation(content: &Content, view: &ConsultView) -> String {
    let l = labels(content);
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
            let qv = question_block(&mut out, content, view, question);
            let _ = write!(out, "{}; {}", qv.type_hint, l.private_keys);
        }
    }
    out.trim_end().to_string()
}

/// The current question: the reaction to the last answer, the step counter,
/// the prompt, the help and the numbered options (shared by private and team
/// consultations; each adds its own line saying what to type).
fn question_block(
    out: &mut String,
    content: &Content,
    view: &ConsultView,
    question: &Question,
) -> present::QuestionView {
    let qv = present::question(content, &view.session, question);
    if let Some(r) = &qv.reaction {
        let _ = writeln!(out, "» {r}\n");
    }
    let p = &qv.progress;
    let _ = write!(out, "{}  {}", p.label, bar(p.done, p.total, 10));
    if let Some(lean) = &view.lean {
        let _ = write!(out, "  ({lean})");
    }
    let _ = writeln!(out, "\n\n{}", qv.prompt);
    if let Some(h) = &qv.help {
        let _ = writeln!(out, "{h}");
    }
    for (i, (_, label)) in qv.options.iter().enumerate() {
        let _ = writeln!(out, "  {}) {}", i + 1, label);
    }
    qv
}

/// "Recommendation: Django", "A close call, leaning Flask"...
pub fn verdict_title(content: &Content, rec: &Recommendation) -> String {
    present::recommendation(content, rec, Audience::Private).title
}

pub fn recommendation(content: &Content, rec: &Recommendation) -> String {
    recommendation_view(content, &present::recommendation(content, rec, Audience::Private))
}

fn recommendation_view(content: &Content, rec: &RecommendationView) -> String {
    let l = labels(content);
    let mut out = String::new();
    let _ = writeln!(out, "=== {} ===", rec.title);
    let _ = writeln!(
        out,
        "{} {}",
        rec.confidence_label,
        bar(rec.confidence as usize, 100, 20)
    );
    if let Some(advice) = &rec.close_call_advice {
        let _ = writeln!(out, "\n{advice}");
    }
    for (head, reasons) in [
        (&l.reasons_for, &rec.reasons_for),
        (&l.reasons_against, &rec.reasons_against),
    ] {
        if reasons.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{head}:");
        for r in reasons {
            let _ = writeln!(
                out,
                "  → {}: {} ({:+.1} {})",
                r.option_label, r.text, r.points, r.toward_label
            );
        }
    }
    for (head, list) in [
        (&l.tradeoffs, &rec.tradeoffs),
        (&l.next_steps, &rec.next_steps),
        (&l.packages, &rec.packages),
    ] {
        if !list.is_empty() {
            let _ = writeln!(out, "\n{head}:");
            for item in list {
                let _ = writeln!(out, "  • {item}");
            }
        }
    }
    if let Some(note) = &rec.fastapi_note {
        let _ = writeln!(out, "\n{}", fill(&l.also_line, &[("note", note)]));
    }
    out.trim_end().to_string()
}

// Team consultations in the terminal: the same view models as the Discord
// team message (`discord::render::team`), as plain text.

/// "alice (facilitator), bob and carol".
fn roster_list(content: &Content, names: &[String]) -> String {
    let l = labels(content);
    let mut shown: Vec<String> = names.to_vec();
    if let Some(first) = shown.first_mut() {
        *first = fill(&l.as_facilitator, &[("name", first)]);
    }
    and_list(content, &shown)
}

/// "a, b and c".
fn and_list(content: &Content, names: &[String]) -> String {
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            fill(&labels(content).list_and, &[("rest", &rest.join(", ")), ("last", last)])
        }
        _ => names.join(""),
    }
}

/// The first lines of a team run, new or resumed.
pub fn team_opening(content: &Content, names: &[String], resumed: bool) -> String {
    let l = labels(content);
    let facilitator = names.first().map_or("", String::as_str);
    let roster = roster_list(content, names);
    if resumed {
        fill(
            &l.team_opening_resumed,
            &[("facilitator", facilitator), ("names", &roster)],
        )
    } else {
        fill(&l.team_opening_new, &[("names", &roster)])
    }
}

/// The current question of a team consultation, with what each voter can type.
pub fn team_question(content: &Content, view: &ConsultView, facilitator: &str) -> String {
    let l = labels(content);
    let mut out = String::new();
    let Some(question) = content.questionnaire.next_question(&view.session.answers) else {
        return out;
    };
    let qv = question_block(&mut out, content, view, question);
    let bounds = [("min", qv.min.to_string()), ("max", qv.max.to_string())];
    let bounds: Vec<(&str, &str)> = bounds.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let how = if qv.multi {
        fill(&l.team_type_range, &bounds)
    } else {
        l.team_type_one.clone()
    };
    let _ = write!(out, "{how}; {}", fill(&l.team_keys, &[("facilitator", facilitator)]));
    out.trim_end().to_string()
}

/// The votes on `question` so far: per option a count and a bar, then who voted.
/// `voted`: the names of those who voted, in the order to show them.
pub fn team_tally(content: &Content, session: &Session, question: &Question, voted: &[String]) -> String {
    let mut out = String::new();
    let Some(t) = present::tally(content, session, question) else {
        return out;
    };
    let who = if voted.is_empty() {
        String::new()
    } else {
        format!(" ({})", voted.join(", "))
    };
    let header = fill(
        &labels(content).tally_header,
        &[("voters", &present::voters(content, t.voters))],
    );
    let _ = writeln!(out, "{header}{who}");
    for (i, (label, n)) in t.rows.iter().enumerate() {
        let _ = writeln!(out, "  {n:>3} {}  {}) {}", bar(*n, t.voters.max(1), 8), i + 1, label);
    }
    out.trim_end().to_string()
}

/// Shown when a question comes back with votes on it. `rest`: a resumed
/// round goes on with these voters only; empty: everyone is asked again.
pub fn team_already_voted(content: &Content, voted: &[String], rest: &[&String]) -> String {
    let l = labels(content);
    let voted = voted.join(", ");
    if rest.is_empty() {
        fill(&l.already_voted_again, &[("names", &voted)])
    } else {
        let rest: Vec<&str> = rest.iter().map(|n| n.as_str()).collect();
        fill(&l.already_voted_rest, &[("names", &voted), ("rest", &rest.join(", "))])
    }
}

pub fn team_nobody_voted(content: &Content) -> String {
    labels(content).team_nobody_voted.clone()
}

pub fn team_quorum_closed(content: &Content) -> String {
    labels(content).team_quorum_closed.clone()
}

pub fn team_facilitator_only(content: &Content, voter: &str, facilitator: &str) -> String {
    fill(
        &labels(content).team_facilitator_only,
        &[("voter", voter), ("facilitator", facilitator)],
    )
}

pub fn team_nothing_to_finish(content: &Content) -> String {
    labels(content).team_nothing_to_finish.clone()
}

pub fn team_saved(content: &Content) -> String {
    labels(content).team_saved.clone()
}

pub fn team_cancelled(content: &Content) -> String {
    labels(content).team_cancelled.clone()
}

pub fn team_moved_elsewhere(content: &Content) -> String {
    labels(content).team_moved_elsewhere.clone()
}

/// The end of a team consultation: the team's recommendation, how united the
/// team was, and each member's own votes scored alone (`None`: did not vote).
pub fn team_result(content: &Content, view: &ConsultView, members: &[(String, Option<Recommendation>)]) -> String {
    let l = labels(content);
    let mut out = String::new();
    if let (Some(rec), Some(unity)) = (&view.recommendation, &view.unity) {
        let team = present::team_result(content, &view.session, rec, unity);
        if let Some(t) = &view.session.team {
            let _ = writeln!(
                out,
                "{}\n",
                fill(
                    &l.team_result_header,
                    &[
                        ("members", &t.participants().to_string()),
                        ("votes", &t.vote_count().to_string())
                    ],
                )
            );
        }
        let _ = writeln!(out, "{}\n", recommendation_view(content, &team.recommendation));
        let _ = writeln!(out, "{}\n", unity_text(content, &team));
    }
    if !members.is_empty() {
        let _ = writeln!(out, "{}", l.each_voter_alone);
        for (name, rec) in members {
            let _ = writeln!(out, "  {}", member_line(content, name, rec.as_ref()));
        }
    }
    out.trim_end().to_string()
}

/// "alice alone: Recommendation: Django (72%)".
pub fn member_line(content: &Content, name: &str, rec: Option<&Recommendation>) -> String {
    let l = labels(content);
    match rec {
        Some(rec) => fill(
            &l.member_alone,
            &[
                ("name", name),
                ("verdict", &verdict_title(content, rec)),
                ("confidence", &rec.confidence.to_string()),
            ],
        ),
        None => fill(&l.member_alone_none, &[("name", name)]),
    }
}

/// How united the team was: overall agreement, where it split most (with
/// what each side's choice pushed toward) and every question's split.
pub fn team_unity(content: &Content, session: &Session, rec: &Recommendation, unity: &Unity) -> String {
    unity_text(content, &present::team_result(content, session, rec, unity))
}

fn unity_text(content: &Content, team: &present::TeamResultView) -> String {
    let l = labels(content);
    let mut out = String::new();
    let percent = (team.agreement * 100.0).round() as usize;
    let _ = writeln!(out, "=== {} ===", l.unity_title);
    let _ = writeln!(out, "{} {}", team.agreement_label, bar(percent, 100, 20));
    let _ = writeln!(out, "\n{}:", l.split_most);
    if team.disputed.is_empty() {
        let _ = writeln!(out, "  {}", l.split_nowhere);
    }
    for s in &team.disputed {
        let _ = writeln!(out, "  {}", s.sides);
    }
    let _ = writeln!(out, "\n{}:", l.every_question);
    for s in &team.splits {
        let parts = s
            .options
            .iter()
            .map(|o| format!("{} {}", o.label, o.votes))
            .collect::<Vec<_>>()
            .join(" · ");
        let _ = writeln!(out, "  {}: {parts} ({})", s.prompt, present::voters(content, s.voters));
    }
    out.trim_end().to_string()
}
