//! Plain-text rendering of replies and consultations for the terminal.

use std::fmt::Write;

use crate::app::{ConsultView, Reply};
use crate::domain::content::Content;
use crate::domain::questionnaire::{QuestionKind, Status};
use crate::domain::scoring::{Recommendation, Verdict};
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
        Reply::Answer { hits, framework, .. } => {
            if let Some(best) = hits.first().and_then(|h| kb.topic(&h.topic)) {
                let _ = writeln!(out, "Best match: {}\n", best.title);
                match framework.as_deref().and_then(|f| best.side(f).map(|s| (f, s))) {
                    Some((f, side)) => {
                        let _ = writeln!(out, "{}: {}", name(content, f), side);
                    }
                    None => {
                        let _ = writeln!(out, "{}", best.comparison);
                    }
                }
                let related: Vec<&str> = hits[1..]
                    .iter()
                    .filter_map(|h| kb.topic(&h.topic))
                    .map(|t| t.title.as_str())
                    .collect();
                if !related.is_empty() {
                    let _ = writeln!(out, "\nRelated: {}", related.join(" · "));
                }
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
            let q = &content.questionnaire;
            let Some(question) = q.next_question(&session.answers) else {
                return out;
            };
            if let Some(r) = &session.last_reaction {
                let _ = writeln!(out, "» {r}\n");
            }
            let (step, total) = q.progress(&session.answers);
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

pub fn recommendation(content: &Content, rec: &Recommendation) -> String {
    let mut out = String::new();
    let title = match &rec.verdict {
        Verdict::Framework { id } => format!("Recommendation: {}", name(content, id)),
        Verdict::CloseCall { leaning: Some(id) } => format!("A close call, leaning {}", name(content, id)),
        Verdict::CloseCall { leaning: None } => "A close call".to_string(),
    };
    let _ = writeln!(out, "=== {title} ===");
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
