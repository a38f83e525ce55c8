//! Deterministic scoring: answers in, a [`Recommendation`] out, with the
//! reasons that decided it and the advice the answers call for.
//!
//! Each picked option adds `importance × share × weight` to each framework.
//! `share` is 1 for a person's own answer and the fraction of voters for a
//! team's, so private and team consultations go through the same arithmetic.
//!
//! Confidence comes from the winning margin as a share of the largest margin
//! the same questions could have produced (`ratio`). Real projects never
//! answer every question at an extreme, so a ratio of [`FULL_CONFIDENCE_RATIO`]
//! already earns the highest confidence the bot will state, [`MAX_CONFIDENCE`]
//! (95 %: no questionnaire makes a technology choice certain):
//! confidence is `50 + 45 × min(1, ratio / 0.45)`.
//! The bands, proven on the reference profiles in `tests/advice_profiles.rs`:
//! a close call is below [`CLOSE_CALL_RATIO`] (confidence < 60 %), a textbook
//! case lands at 75 % or more, and the band between is a verdict with a
//! visible lean rather than a strong one.
//!
//! Reasons are ranked by their *net* effect per question: a multi-choice
//! answer that pushed both sides equally (a team that knows Django and Flask)
//! nets to nothing and takes no slot. Reasons for the verdict and against it
//! are kept apart, and a close call is explained by the strongest answer on
//! each side plus the cheapest experiment that would settle it.
//!
//! Advice (trade-offs, next steps, packages) is chosen by each item's `when`
//! condition over the answers (see [`super::advice`]); the FastAPI note
//! appears only when one of its triggers holds, saying which.

use serde::{Deserialize, Serialize};

use super::advice::{fill, join_list, AdviceFile, AdviceItem, Given};
use super::framework::{limits, FRAMEWORK_IDS};
use super::knowledge::KnowledgeBase;
use super::questionnaire::{Answer, Question, QuestionKind, Questionnaire};

/// Margins smaller than this are float noise: an exact tie.
const TIE_EPSILON: f64 = 1e-6;
/// Below this share of the possible margin the result is a close call
/// (confidence below 60 %).
pub const CLOSE_CALL_RATIO: f64 = 0.1;
/// A margin this large a share of the possible one earns [`MAX_CONFIDENCE`].
pub const FULL_CONFIDENCE_RATIO: f64 = 0.45;
/// The most confident the bot ever claims to be.
pub const MAX_CONFIDENCE: u8 = 95;
/// Reasons for the verdict listed in a recommendation.
pub const MAX_REASONS: usize = 5;
/// Reasons against the verdict listed in a recommendation.
pub const MAX_REASONS_AGAINST: usize = 3;
const MAX_TRADEOFFS: usize = 5;
const MAX_NEXT_STEPS: usize = 7;
const MAX_PACKAGES: usize = 6;
/// A team's option counts as "answered" for advice when at least this share
/// of the voters picked it.
const ADVICE_SHARE: f64 = 0.5;

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

/// The answers advice conditions are evaluated on: options picked by a
/// person, or by at least half of a team.
pub fn given_of(picks: &[WeightedPick]) -> Given {
    Given::new(
        picks
            .iter()
            .filter(|p| p.share >= ADVICE_SHARE)
            .map(|p| (p.question.as_str(), p.option.as_str())),
    )
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

/// One answer (one question, all its picked options together) that moved
/// the result, and which way on balance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub question: String,
    /// The strongest option pushing in this direction.
    pub option: String,
    /// The labels of the options pushing this way, joined with " + ".
    pub option_label: String,
    /// "you are building a content-heavy site" (several joined with "and").
    pub text: String,
    /// Framework id it pushed toward, on balance.
    pub toward: String,
    /// Net size of the push in points (always > 0).
    pub points: f64,
    /// The share of the group behind its strongest option (1.0 for a
    /// private consultation).
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub verdict: Verdict,
    /// 50..=MAX_CONFIDENCE (95).
    pub confidence: u8,
    /// (framework id, points), in `FRAMEWORK_IDS` order.
    pub scores: Vec<(String, f64)>,
    /// The strongest answers toward the verdict (for a close call, toward
    /// its leaning; on an exact tie, toward Django), strongest first.
    pub reasons_for: Vec<Reason>,
    /// The strongest answers toward the other side, strongest first.
    pub reasons_against: Vec<Reason>,
    pub tradeoffs: Vec<String>,
    pub next_steps: Vec<String>,
    pub packages: Vec<String>,
    /// Set when the answers call for FastAPI, saying which answers did.
    pub fastapi_note: Option<String>,
    /// For a close call: the tension in the answers and how to settle it.
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
    let mut diffs: Vec<f64> = question.options.iter().map(|o| margin_of(question, &o.id)).collect();
    match question.kind {
        QuestionKind::Single => diffs.iter().fold(0.0_f64, |m, d| m.max(d.abs())),
        QuestionKind::Multi => {
            let (_, max) = question.choice_bounds();
            // Best case: up to `max` options all pushing the same way.
            let mut best = |sign: f64| {
                diffs.sort_by(|a, b| (b * sign).total_cmp(&(a * sign)));
                diffs
                    .iter()
                    .take(max)
                    .map(|d| d * sign)
                    .filter(|d| *d > 0.0)
                    .sum::<f64>()
            };
            best(1.0).max(best(-1.0))
        }
    }
}

/// Confidence in percent for a margin that is `ratio` of the possible one.
pub fn confidence_of(ratio: f64) -> u8 {
    let span = f64::from(MAX_CONFIDENCE - 50);
    (50.0 + span * (ratio / FULL_CONFIDENCE_RATIO).clamp(0.0, 1.0)).round() as u8
}

/// The pushes of one question's picks, summed.
struct Push<'a> {
    question: &'a Question,
    /// (option index in the question, share-weighted margin, share)
    parts: Vec<(usize, f64, f64)>,
}

/// Scores a set of picks. Picks naming unknown questions or options are
/// ignored (they cannot come from a validated session).
///
/// Reads the questionnaire (weights, reasons, caveats), the knowledge base
/// (each framework's trade-offs, steps, packages and name; the close-call and
/// FastAPI sentences) and the advice (templates, experiments, FastAPI
/// triggers). Callers holding the loaded content use `Content::recommend`.
pub fn recommend(q: &Questionnaire, kb: &KnowledgeBase, advice: &AdviceFile, picks: &[WeightedPick]) -> Recommendation {
    let texts = &advice.texts;
    let mut scores: Vec<(String, f64)> = FRAMEWORK_IDS.iter().map(|f| (f.to_string(), 0.0)).collect();
    let mut margin = 0.0;
    let mut pushes: Vec<Push> = Vec::new();
    for pick in picks {
        let Some(question) = q.question(&pick.question) else {
            continue;
        };
        let Some(index) = question.options.iter().position(|o| o.id == pick.option) else {
            continue;
        };
        let option = &question.options[index];
        let share = pick.share.clamp(0.0, 1.0);
        for (fw, score) in scores.iter_mut() {
            *score += question.importance * share * f64::from(option.weight(fw));
        }
        let m = share * margin_of(question, &option.id);
        margin += m;
        let at = match pushes.iter().position(|p| p.question.id == question.id) {
            Some(i) => i,
            None => {
                pushes.push(Push {
                    question,
                    parts: Vec::new(),
                });
                pushes.len() - 1
            }
        };
        pushes[at].parts.push((index, m, share));
    }
    // Sums of products of decimals (1.2 × 3) are not exact: a margin this
    // small is a tie, so the verdict and the running lean can never disagree.
    if margin.abs() < TIE_EPSILON {
        margin = 0.0;
    }
    let possible: f64 = pushes.iter().map(|p| max_margin(p.question)).sum();
    let ratio = if possible > 0.0 {
        (margin.abs() / possible).min(1.0)
    } else {
        0.0
    };
    let confidence = confidence_of(ratio);
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

    let mut reasons: Vec<Reason> = pushes.iter().filter_map(|p| net_reason(p, &texts.and)).collect();
    // Strongest first; ties broken by questionnaire order so output is stable.
    let order = |r: &Reason| q.questions.iter().position(|x| x.id == r.question);
    reasons.sort_by(|a, b| b.points.total_cmp(&a.points).then_with(|| order(a).cmp(&order(b))));
    let side = verdict.framework().unwrap_or(FRAMEWORK_IDS[0]).to_string();
    let (mut reasons_for, mut reasons_against): (Vec<Reason>, Vec<Reason>) =
        reasons.into_iter().partition(|r| r.toward == side);
    reasons_for.truncate(MAX_REASONS);
    reasons_against.truncate(MAX_REASONS_AGAINST);

    let given = given_of(picks);
    let mut tradeoffs = Vec::new();
    let mut next_steps = Vec::new();
    let mut packages = Vec::new();
    if let Some(fw) = verdict.framework() {
        // Advice written on the options themselves applies with that option.
        for pick in picks.iter().filter(|p| p.share >= ADVICE_SHARE) {
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
            select(&mut tradeoffs, &framework.tradeoffs, &given, MAX_TRADEOFFS);
            select(&mut next_steps, &framework.next_steps, &given, MAX_NEXT_STEPS);
            select(&mut packages, &framework.packages, &given, MAX_PACKAGES);
        }
    }
    let because: Vec<&str> = advice
        .fastapi
        .iter()
        .filter(|t| t.when.holds(&given))
        .map(|t| t.because.as_str())
        .collect();
    let fastapi_note = (!because.is_empty()).then(|| {
        let why = fill(
            &texts.fastapi_because,
            &[("because", join_list(&because, &texts.and).as_str())],
        );
        format!("{why} {}", kb.texts().fastapi_note)
    });
    let close_call_advice = matches!(verdict, Verdict::CloseCall { .. })
        .then(|| close_call_text(kb, advice, reasons_for.first(), reasons_against.first()));
    Recommendation {
        verdict,
        confidence,
        scores,
        reasons_for,
        reasons_against,
        tradeoffs,
        next_steps,
        packages,
        fastapi_note,
        close_call_advice,
    }
}

/// One question's net push as a reason, or `None` when its picks cancel out.
fn net_reason(push: &Push, and: &str) -> Option<Reason> {
    let net: f64 = push.parts.iter().map(|(_, m, _)| m).sum();
    if net.abs() < TIE_EPSILON {
        return None;
    }
    let mut with: Vec<&(usize, f64, f64)> = push.parts.iter().filter(|(_, m, _)| m * net > 0.0).collect();
    with.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
    let strongest = with.first()?;
    let options = &push.question.options;
    let labels: Vec<&str> = with.iter().map(|(i, _, _)| options[*i].label.as_str()).collect();
    let texts: Vec<&str> = with.iter().map(|(i, _, _)| options[*i].reason.as_str()).collect();
    Some(Reason {
        question: push.question.id.clone(),
        option: options[strongest.0].id.clone(),
        option_label: labels.join(" + "),
        text: join_list(&texts, and),
        toward: if net > 0.0 { FRAMEWORK_IDS[0] } else { FRAMEWORK_IDS[1] }.to_string(),
        points: net.abs(),
        share: strongest.2,
    })
}

/// The tension between the strongest answer on each side and the cheapest
/// experiment that settles it; the general advice when one side is empty.
fn close_call_text(kb: &KnowledgeBase, advice: &AdviceFile, pro: Option<&Reason>, con: Option<&Reason>) -> String {
    let (Some(pro), Some(con)) = (pro, con) else {
        return kb.texts().close_call.clone();
    };
    let name = |id: &str| kb.framework(id).map_or_else(|| id.to_string(), |f| f.name.clone());
    let tension = fill(
        &advice.texts.close_call_tension,
        &[
            ("for_reason", pro.text.as_str()),
            ("for_name", name(&pro.toward).as_str()),
            ("against_reason", con.text.as_str()),
            ("against_name", name(&con.toward).as_str()),
        ],
    );
    // The experiment for the weightier of the two answers, else the other's.
    let (first, second) = if con.points > pro.points {
        (con, pro)
    } else {
        (pro, con)
    };
    let experiment = advice
        .experiments
        .get(&first.question)
        .or_else(|| advice.experiments.get(&second.question));
    match experiment {
        Some(e) => format!(
            "{tension} {}",
            fill(&advice.texts.close_call_experiment, &[("experiment", e.as_str())])
        ),
        None => format!("{tension} {}", kb.texts().close_call),
    }
}

/// Appends the items whose condition holds, up to `max` items and within
/// what one Discord embed field can show. When more apply than fit, the
/// most specific win: items some answer asked for (`all_of`/`any_of`) before
/// items that merely were not ruled out (`none_of` only), before items that
/// always apply. The chosen ones keep their file order.
fn select(list: &mut Vec<String>, items: &[AdviceItem], given: &Given, max: usize) {
    let specificity = |i: &AdviceItem| match (&i.when.all_of, &i.when.any_of, &i.when.none_of) {
        (all, any, _) if !all.is_empty() || !any.is_empty() => 0,
        (_, _, none) if !none.is_empty() => 1,
        _ => 2,
    };
    let mut holding: Vec<(usize, &AdviceItem)> =
        items.iter().enumerate().filter(|(_, i)| i.when.holds(given)).collect();
    holding.sort_by_key(|(index, item)| (specificity(item), *index));
    let mut chosen: Vec<(usize, &AdviceItem)> = Vec::new();
    // "• " and a newline around each item in the rendered field.
    let mut used: usize = list.iter().map(|i| i.chars().count() + 3).sum();
    for (index, item) in holding {
        let cost = item.text.chars().count() + 3;
        if list.len() + chosen.len() >= max || used + cost > limits::FIELD {
            continue;
        }
        used += cost;
        chosen.push((index, item));
    }
    chosen.sort_by_key(|(index, _)| *index);
    for (_, item) in chosen {
        push_unique(list, &item.text);
    }
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|x| x == item) {
        list.push(item.to_string());
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::content::Content;
    use crate::domain::session::{Command, Session, Status, PRIVATE_SCOPE};

    fn content() -> Content {
        Content::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/responses"))).expect("responses/ loads")
    }

    /// Answers the real questionnaire through the engine, so every profile
    /// below is a path a user can actually take (and ends completed).
    fn answers(content: &Content, profile: &[(&str, &[&str])]) -> Vec<Answer> {
        let q = &content.questionnaire;
        let mut s = Session::start(q, "s".into(), "u".into(), PRIVATE_SCOPE.into(), 0);
        for (question, options) in profile {
            let command = Command::Answer {
                question: question.to_string(),
                options: options.iter().map(|o| o.to_string()).collect(),
            };
            s.apply(q, command, 0).unwrap_or_else(|e| panic!("{question}: {e}"));
        }
        assert_eq!(s.status, Status::Completed, "profile stops at {:?}", s.current);
        s.answers
    }

    fn score(rec: &Recommendation, framework: &str) -> f64 {
        rec.scores
            .iter()
            .find(|(f, _)| f == framework)
            .map(|(_, s)| *s)
            .unwrap()
    }

    fn pick(question: &str, option: &str, share: f64) -> WeightedPick {
        WeightedPick {
            question: question.into(),
            option: option.into(),
            share,
        }
    }

    const DJANGO_PROFILE: &[(&str, &[&str])] = &[
        ("project_type", &["content_site"]),
        ("admin", &["essential"]),
        ("data_model", &["relational"]),
        ("auth", &["roles"]),
        ("templates", &["server_forms"]),
        ("async_needs", &["none"]),
        ("features", &["languages", "seo"]),
        ("scale", &["feature_growth"]),
        ("security", &["regulated"]),
        ("team_size", &["medium"]),
        ("experience", &["django"]),
        ("deadline", &["weeks"]),
        ("control", &["conventions"]),
        ("maintenance", &["long_lived"]),
    ];

    #[test]
    fn clear_django_profile_is_confident_with_its_advice() {
        let c = content();
        let rec = c.recommend(&picks_from_answers(&answers(&c, DJANGO_PROFILE)));
        assert_eq!(rec.verdict, Verdict::Framework { id: "django".into() });
        assert!(rec.confidence >= 75, "confidence {}", rec.confidence);
        assert!(score(&rec, "django") > score(&rec, "flask"));
        assert!(
            rec.reasons_for.iter().all(|r| r.toward == "django"),
            "{:?}",
            rec.reasons_for
        );
        assert!(rec.reasons_against.iter().all(|r| r.toward == "flask"));
        assert_eq!(rec.reasons_for.len(), MAX_REASONS);
        assert_eq!(rec.close_call_advice, None);
        assert_eq!(rec.fastapi_note, None);
        let all = [&rec.tradeoffs, &rec.next_steps, &rec.packages];
        let text = all
            .iter()
            .flat_map(|l| l.iter())
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        assert!(text.contains("i18n_patterns"), "{text}");
        assert!(text.contains("sitemaps"), "{text}");
        assert!(text.contains("list_display"), "{text}");
        assert!(rec.next_steps.len() <= MAX_NEXT_STEPS && rec.tradeoffs.len() <= MAX_TRADEOFFS);
        assert!(rec.packages.len() <= MAX_PACKAGES);
    }

    #[test]
    fn reasons_rank_by_net_effect_and_skip_answers_that_cancel_out() {
        let c = content();
        // Knowing Django and Flask pushes both sides equally: no slot.
        let both = c.recommend(&[
            pick("experience", "django", 1.0),
            pick("experience", "flask", 1.0),
            pick("admin", "essential", 1.0),
        ]);
        assert_eq!(both.reasons_for.len(), 1, "{:?}", both.reasons_for);
        assert_eq!(both.reasons_for[0].question, "admin");
        assert!(both.reasons_against.is_empty());
        // Django + SQLAlchemy nets to 1.5 x (4 - 2) = 3 toward Django.
        let net = c.recommend(&[pick("experience", "django", 1.0), pick("experience", "sqlalchemy", 1.0)]);
        assert_eq!(net.reasons_for.len(), 1);
        let r = &net.reasons_for[0];
        assert_eq!((r.option.as_str(), r.toward.as_str()), ("django", "django"));
        assert!((r.points - 3.0).abs() < 1e-9, "{}", r.points);
        // For and against are kept apart, each strongest first.
        let mixed = c.recommend(&[
            pick("admin", "essential", 1.0),
            pick("data_model", "legacy_schema", 1.0),
            pick("control", "conventions", 1.0),
        ]);
        assert_eq!(mixed.verdict.framework(), Some("django"));
        let ids: Vec<&str> = mixed.reasons_for.iter().map(|r| r.question.as_str()).collect();
        assert_eq!(ids, ["admin", "control"]);
        assert_eq!(mixed.reasons_against.len(), 1);
        assert_eq!(mixed.reasons_against[0].option, "legacy_schema");
    }

    #[test]
    fn close_call_names_both_sides_and_an_experiment() {
        let c = content();
        // Staff admin (+6 Django) against a WebSocket dashboard feed and a
        // small stable app: nearly even.
        let rec = c.recommend(&[
            pick("admin", "essential", 1.0),
            pick("async_needs", "realtime", 1.0),
            pick("realtime_kind", "dashboards", 1.0),
            pick("realtime_kind", "collaboration", 1.0),
            pick("realtime_kind", "ai_streaming", 1.0),
            pick("deadline", "days", 1.0),
            pick("scale", "small_stable", 1.0),
            pick("auth", "none", 1.0),
        ]);
        assert!(
            matches!(rec.verdict, Verdict::CloseCall { .. }),
            "{:?} {}",
            rec.verdict,
            rec.confidence
        );
        let advice = rec.close_call_advice.expect("close-call advice");
        assert!(advice.contains("staff need a back office"), "{advice}");
        assert!(advice.contains("live dashboards"), "{advice}");
        assert!(advice.contains(c.advice.experiments["admin"].as_str()), "{advice}");
    }

    #[test]
    fn confidence_bands() {
        assert_eq!(confidence_of(0.0), 50);
        assert!(confidence_of(CLOSE_CALL_RATIO - 0.001) <= 60);
        assert_eq!(confidence_of(CLOSE_CALL_RATIO), 60);
        assert_eq!(confidence_of(0.25), 75);
        assert_eq!(confidence_of(FULL_CONFIDENCE_RATIO), MAX_CONFIDENCE);
        assert_eq!(confidence_of(3.0), MAX_CONFIDENCE);
    }

    #[test]
    fn team_shares_scale_the_points() {
        let c = content();
        let full = c.recommend(&[pick("admin", "essential", 1.0)]);
        let half = c.recommend(&[pick("admin", "essential", 0.5)]);
        assert!((full.reasons_for[0].points - 6.0).abs() < 1e-9);
        assert!((half.reasons_for[0].points - 3.0).abs() < 1e-9);
        assert_eq!(half.reasons_for[0].share, 0.5);
        assert!((score(&half, "django") - score(&full, "django") / 2.0).abs() < 1e-9);
        // Half the team against the other half: the pushes cancel out, and
        // an answer that pushed both ways equally takes no slot.
        let split = c.recommend(&[pick("experience", "django", 0.5), pick("experience", "flask", 0.5)]);
        assert_eq!(split.verdict, Verdict::CloseCall { leaning: None });
        assert_eq!(split.confidence, 50);
        assert!(split.reasons_for.is_empty() && split.reasons_against.is_empty());
        assert_eq!(
            split.close_call_advice.as_deref(),
            Some(c.knowledge.texts().close_call.as_str())
        );
        // A 3-to-1 team split leans the majority's way.
        let lean = c.recommend(&[pick("experience", "django", 0.75), pick("experience", "flask", 0.25)]);
        assert_eq!(lean.verdict.framework(), Some("django"));
        assert!(score(&lean, "django") > score(&lean, "flask"));
    }

    #[test]
    fn fastapi_note_says_why_and_needs_a_majority() {
        let c = content();
        let minority = c.recommend(&[pick("project_type", "ml_serving", 0.4)]);
        assert_eq!(minority.fastapi_note, None);
        let majority = c.recommend(&[pick("project_type", "ml_serving", 0.6)]);
        let note = majority.fastapi_note.expect("note");
        assert!(note.contains("a model behind an HTTP endpoint"), "{note}");
        assert!(note.ends_with(c.knowledge.texts().fastapi_note.as_str()));
        // A model inside a product with users is not a FastAPI case.
        let product = c.recommend(&[
            pick("project_type", "ml_serving", 1.0),
            pick("ml_kind", "in_product", 1.0),
        ]);
        assert_eq!(product.fastapi_note, None);
    }

    #[test]
    fn unknown_picks_are_ignored_and_no_picks_is_an_even_close_call() {
        let c = content();
        let rec = c.recommend(&[pick("nope", "x", 1.0), pick("admin", "nope", 1.0)]);
        assert_eq!(rec.verdict, Verdict::CloseCall { leaning: None });
        assert_eq!(rec.confidence, 50);
        assert!(rec.reasons_for.is_empty());
        assert_eq!(rec, c.recommend(&[]));
    }

    #[test]
    fn out_of_range_shares_are_clamped() {
        let c = content();
        let over = c.recommend(&[pick("admin", "essential", 7.0)]);
        let full = c.recommend(&[pick("admin", "essential", 1.0)]);
        assert_eq!(over.scores, full.scores);
        let negative = c.recommend(&[pick("admin", "essential", -1.0)]);
        assert!(negative.reasons_for.is_empty());
        assert_eq!(negative.verdict, Verdict::CloseCall { leaning: None });
    }

    // Regression: the verdict's leaning came from a margin summed separately
    // from the scores, so float rounding could turn an exact tie into a
    // leaning. 1.2 x 3 toward each side must stay an even close call.
    #[test]
    fn exact_tie_has_no_leaning() {
        let c = content();
        let rec = c.recommend(&[pick("control", "conventions", 1.0), pick("data_model", "no_db", 1.0)]);
        assert_eq!(score(&rec, "django"), score(&rec, "flask"));
        assert_eq!(rec.confidence, 50);
        assert_eq!(rec.verdict, Verdict::CloseCall { leaning: None });
    }
}
