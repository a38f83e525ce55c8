//! Deterministic scoring: answers in, a [`Recommendation`] out, with the
//! reasons that decided it.
//!
//! Each picked option adds `importance × share × weight` to each framework.
//! `share` is 1 for a person's own answer and the fraction of voters for a
//! team's, so private and team consultations go through the same arithmetic.
//! Confidence is the winning margin as a share of the largest margin the same
//! questions could have produced: 50 % is a coin toss, 100 % means every answer
//! pointed the same way as strongly as the questionnaire allows.

use serde::{Deserialize, Serialize};

use super::content::{Content, FRAMEWORK_IDS};
use super::questionnaire::{Answer, Question, QuestionKind};

/// Below this share of the possible margin the result is a close call.
const CLOSE_CALL_RATIO: f64 = 0.12;
/// Reasons listed in a recommendation.
pub const MAX_REASONS: usize = 5;
const MAX_TRADEOFFS: usize = 5;
const MAX_NEXT_STEPS: usize = 6;

/// How much of the group picked one option of one question.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedPick {
    pub question: String,
    pub option: String,
    /// 0..=1: 1 for an individual's answer, the vote fraction for a team.
    pub share: f64,
}

/// Picks of one person: each chosen option counts fully.
pub fn picks_from_answers(answers: &[Answer]) -> Vec<WeightedPick> {
    answers
        .iter()
        .flat_map(|a| {
            a.options.iter().map(move |o| WeightedPick {
                question: a.question.clone(),
                option: o.clone(),
                share: 1.0,
            })
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    /// A clear winner (framework id).
    Framework { id: String },
    /// Too close to call; `leaning` is the side slightly ahead, if any.
    CloseCall { leaning: Option<String> },
}

impl Verdict {
    /// The framework whose trade-offs and steps the advice follows.
    pub fn framework(&self) -> Option<&str> {
        match self {
            Verdict::Framework { id } => Some(id),
            Verdict::CloseCall { leaning } => leaning.as_deref(),
        }
    }
}

/// One answer that moved the result, and which way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub question: String,
    pub option: String,
    pub option_label: String,
    /// "you are building a content-heavy site"
    pub text: String,
    /// Framework id it pushed toward.
    pub toward: String,
    /// Size of the push in points (always > 0).
    pub points: f64,
    /// The share of the group behind it (1.0 for a private consultation).
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub verdict: Verdict,
    /// 50..=100.
    pub confidence: u8,
    /// (framework id, points), in `FRAMEWORK_IDS` order.
    pub scores: Vec<(String, f64)>,
    pub reasons: Vec<Reason>,
    pub tradeoffs: Vec<String>,
    pub next_steps: Vec<String>,
    pub packages: Vec<String>,
    /// Set when the answers point to an async-heavy API or model serving.
    pub fastapi_note: Option<String>,
    /// How to decide, for a close call.
    pub close_call_advice: Option<String>,
}

/// The margin (Django minus Flask) one option gives.
fn margin_of(question: &Question, option: &str) -> f64 {
    question.option(option).map_or(0.0, |o| {
        question.importance * f64::from(o.weight(FRAMEWORK_IDS[0]) - o.weight(FRAMEWORK_IDS[1]))
    })
}

/// The largest |margin| an answer to `question` can produce.
fn max_margin(question: &Question) -> f64 {
    let mut diffs: Vec<f64> = question
        .options
        .iter()
        .map(|o| margin_of(question, &o.id))
        .collect();
    match question.kind {
        QuestionKind::Single => diffs.iter().fold(0.0_f64, |m, d| m.max(d.abs())),
        QuestionKind::Multi => {
            let (_, max) = question.choice_bounds();
            // Best case: up to `max` options all pushing the same way.
            let mut best = |sign: f64| {
                diffs.sort_by(|a, b| (b * sign).total_cmp(&(a * sign)));
                diffs.iter().take(max).map(|d| d * sign).filter(|d| *d > 0.0).sum::<f64>()
            };
            best(1.0).max(best(-1.0))
        }
    }
}

/// Scores a set of picks. Picks naming unknown questions or options are
/// ignored (they cannot come from a validated session).
pub fn recommend(content: &Content, picks: &[WeightedPick]) -> Recommendation {
    let q = &content.questionnaire;
    let kb = &content.knowledge;
    let mut scores: Vec<(String, f64)> = FRAMEWORK_IDS.iter().map(|f| (f.to_string(), 0.0)).collect();
    let mut margin = 0.0;
    let mut reasons = Vec::new();
    let mut asked: Vec<&str> = Vec::new();
    let mut signals: Vec<&str> = Vec::new();
    for pick in picks {
        let Some(question) = q.question(&pick.question) else { continue };
        let Some(option) = question.option(&pick.option) else { continue };
        let share = pick.share.clamp(0.0, 1.0);
        if !asked.contains(&question.id.as_str()) {
            asked.push(&question.id);
        }
        for (fw, score) in scores.iter_mut() {
            *score += question.importance * share * f64::from(option.weight(fw));
        }
        let m = share * margin_of(question, &option.id);
        margin += m;
        if share >= 0.5 {
            signals.extend(option.signals.iter().map(String::as_str));
        }
        if m != 0.0 {
            reasons.push(Reason {
                question: question.id.clone(),
                option: option.id.clone(),
                option_label: option.label.clone(),
                text: option.reason.clone(),
                toward: if m > 0.0 { FRAMEWORK_IDS[0] } else { FRAMEWORK_IDS[1] }.to_string(),
                points: m.abs(),
                share,
            });
        }
    }
    let possible: f64 = asked.iter().filter_map(|id| q.question(id)).map(max_margin).sum();
    let ratio = if possible > 0.0 { (margin.abs() / possible).min(1.0) } else { 0.0 };
    let confidence = (50.0 + 50.0 * ratio).round() as u8;
    let ahead = if margin > 0.0 {
        Some(FRAMEWORK_IDS[0].to_string())
    } else if margin < 0.0 {
        Some(FRAMEWORK_IDS[1].to_string())
    } else {
        None
    };
    let verdict = match ahead {
        Some(id) if ratio >= CLOSE_CALL_RATIO => Verdict::Framework { id },
        leaning => Verdict::CloseCall { leaning },
    };
    // Strongest first; ties broken by questionnaire order so output is stable.
    let order = |r: &Reason| q.questions.iter().position(|x| x.id == r.question);
    reasons.sort_by(|a, b| b.points.total_cmp(&a.points).then_with(|| order(a).cmp(&order(b))));
    reasons.truncate(MAX_REASONS);

    let mut tradeoffs = Vec::new();
    let mut next_steps = Vec::new();
    let mut packages = Vec::new();
    if let Some(fw) = verdict.framework() {
        for pick in picks.iter().filter(|p| p.share >= 0.5) {
            let Some(option) = q.question(&pick.question).and_then(|x| x.option(&pick.option)) else {
                continue;
            };
            if let Some(c) = option.caveat.get(fw) {
                push_unique(&mut tradeoffs, c);
            }
            if let Some(s) = option.next_step.get(fw) {
                push_unique(&mut next_steps, s);
            }
        }
        if let Some(framework) = kb.framework(fw) {
            framework.tradeoffs.iter().for_each(|t| push_unique(&mut tradeoffs, t));
            framework.next_steps.iter().for_each(|s| push_unique(&mut next_steps, s));
            packages = framework.packages.clone();
        }
    }
    tradeoffs.truncate(MAX_TRADEOFFS);
    next_steps.truncate(MAX_NEXT_STEPS);
    let fastapi = signals.iter().any(|s| *s == "async_api" || *s == "ml_serving");
    let close = matches!(verdict, Verdict::CloseCall { .. });
    Recommendation {
        verdict,
        confidence,
        scores,
        reasons,
        tradeoffs,
        next_steps,
        packages,
        fastapi_note: fastapi.then(|| kb.texts().fastapi_note.clone()),
        close_call_advice: close.then(|| kb.texts().close_call.clone()),
    }
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|x| x == item) {
        list.push(item.to_string());
    }
}
