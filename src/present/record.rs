//! The decision record: a Markdown file in the MADR layout (title, status,
//! date, context, decision, consequences) that a team can keep next to its
//! code. Built from the same view models as the messages; every heading and
//! sentence comes from `[labels]`.
//!
//! It never contains an `@`: names are sanitised and any `@` left in the text
//! becomes a full-width `＠`, which no client turns into a mention.

use std::fmt::Write;

use super::{answers, labels, RecommendationView, TeamResultView};
use crate::content::Content;
use crate::domain::labels::fill;
use crate::domain::session::Session;

/// `YYYY-MM-DD` (UTC) of a Unix timestamp.
fn date_of(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// One line of a Markdown list: no line breaks inside.
fn item(text: &str) -> String {
    format!("- {}\n", text.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn section(out: &mut String, heading: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "### {heading}\n");
    for i in items {
        out.push_str(&item(i));
    }
    out.push('\n');
}

/// The record of a finished consultation: a team's when `unity` is given
/// (a team session), else a private one.
pub fn of_result(
    content: &Content,
    session: &Session,
    rec: &crate::domain::scoring::Recommendation,
    unity: Option<&crate::domain::team::Unity>,
) -> String {
    match unity.filter(|_| session.team.is_some()) {
        Some(unity) => {
            let team = super::team_result(content, session, rec, unity);
            markdown(content, session, &team.recommendation, Some(&team))
        }
        None => markdown(
            content,
            session,
            &super::recommendation(content, rec, super::Audience::Private),
            None,
        ),
    }
}

/// The record of a finished consultation: private when `team` is `None`.
pub fn markdown(
    content: &Content,
    session: &Session,
    rec: &RecommendationView,
    team: Option<&TeamResultView>,
) -> String {
    let l = labels(content);
    let mut out = String::new();
    let title_template = if team.is_some() {
        &l.record_team_title
    } else {
        &l.record_title
    };
    let _ = writeln!(out, "# {}\n", fill(title_template, &[("verdict", &rec.verdict)]));
    let _ = writeln!(out, "- {}: {}", l.record_status, l.record_status_value);
    let _ = writeln!(
        out,
        "- {}\n",
        fill(&l.record_date, &[("date", &date_of(session.updated_at))])
    );

    let _ = writeln!(out, "## {}\n", l.record_context);
    match team {
        None => {
            let _ = writeln!(out, "{}\n", l.record_context_private);
            for (question, answer) in answers(content, session) {
                out.push_str(&item(&fill(
                    &l.record_answer,
                    &[("question", &question), ("answer", &answer)],
                )));
            }
        }
        Some(t) => {
            let count = super::voters(content, t.participants.len());
            let _ = writeln!(out, "{}\n", fill(&l.record_context_team, &[("count", &count)]));
            for s in &t.splits {
                let split = s
                    .options
                    .iter()
                    .map(|o| format!("{} {} ({})", o.label, o.votes, o.toward_label))
                    .collect::<Vec<_>>()
                    .join(" · ");
                out.push_str(&item(&fill(
                    &l.record_split,
                    &[("question", &s.prompt), ("split", &split)],
                )));
            }
            out.push('\n');
            let _ = writeln!(out, "{}\n", t.agreement_label);
        }
    }
    out.push('\n');

    let _ = writeln!(out, "## {}\n", l.record_decision);
    let _ = writeln!(
        out,
        "{}\n",
        fill(
            &l.record_decision_text,
            &[("verdict", &rec.verdict), ("confidence", &rec.confidence.to_string())],
        )
    );
    if let Some(a) = &rec.close_call_advice {
        let _ = writeln!(out, "{a}\n");
    }
    let reason = |r: &super::ReasonView| {
        let share = r.share_label.as_ref().map_or(String::new(), |s| format!(", {s}"));
        format!("{}: {} ({}{share})", r.option_label, r.text, r.toward_label)
    };
    section(
        &mut out,
        &l.reasons_for,
        &rec.reasons_for.iter().map(reason).collect::<Vec<_>>(),
    );
    section(
        &mut out,
        &l.reasons_against,
        &rec.reasons_against.iter().map(reason).collect::<Vec<_>>(),
    );

    let _ = writeln!(out, "## {}\n", l.record_consequences);
    section(&mut out, &l.tradeoffs, &rec.tradeoffs);
    section(&mut out, &l.next_steps, &rec.next_steps);
    section(&mut out, &l.packages, &rec.packages);

    if let Some(t) = team {
        let _ = writeln!(out, "## {}\n", l.record_participants);
        for name in &t.participants {
            out.push_str(&item(name));
        }
        out.push('\n');
    }

    let _ = writeln!(out, "## {}\n", l.record_more);
    if let Some(n) = &rec.fastapi_note {
        let _ = writeln!(out, "{}: {n}\n", l.also_worth_a_look);
    }
    let _ = writeln!(out, "{}\n", rec.points_label);
    let _ = writeln!(out, "{}", l.record_footer);
    // Nothing in the file can ping anyone, wherever it is pasted.
    out.replace('@', "＠")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scoring::picks_from_answers;
    use crate::present::tests::{content, finished_session};
    use crate::present::{recommendation, Audience};

    #[test]
    fn private_record_has_the_madr_sections_and_the_verdict() {
        let c = content();
        let s = finished_session(&c, 0);
        let rec = c.recommend(&picks_from_answers(&s.answers));
        let view = recommendation(&c, &rec, Audience::Private);
        let md = markdown(&c, &s, &view, None);
        let l = c.knowledge.labels();
        assert!(md.starts_with("# "), "{md}");
        for heading in [&l.record_context, &l.record_decision, &l.record_consequences] {
            assert!(md.contains(&format!("## {heading}")), "{heading} missing:\n{md}");
        }
        assert!(md.contains(&view.verdict));
        assert!(md.contains("2025-12-01"), "date of the last change:\n{md}");
        assert!(md.matches("\n- ").count() >= s.answers.len());
        assert!(!md.contains('@'));
    }
}
