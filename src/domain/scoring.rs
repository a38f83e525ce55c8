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

/// Margins smaller than this are float noise: an exact tie.
const TIE_EPSILON: f64 = 1e-6;
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
        let Some(question) = q.question(&pick.question) else {
            continue;
        };
        let Some(option) = question.option(&pick.option) else {
            continue;
        };
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
    // Sums of products of decimals (1.2 × 3) are not exact: a margin this
    // small is a tie, so the verdict and the running lean can never disagree.
    if margin.abs() < TIE_EPSILON {
        margin = 0.0;
    }
    let possible: f64 = asked.iter().filter_map(|id| q.question(id)).map(max_margin).sum();
    let ratio = if possible > 0.0 {
        (margin.abs() / possible).min(1.0)
    } else {
        0.0
    };
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
            framework
                .next_steps
                .iter()
                .for_each(|s| push_unique(&mut next_steps, s));
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::domain::questionnaire::{Command, Session, Status, PRIVATE_SCOPE};

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

    const DJANGO_PROFILE: &[(&str, &[&str])] = &[
        ("project_type", &["content_site"]),
        ("admin", &["essential"]),
        ("data_model", &["relational"]),
        ("auth", &["roles"]),
        ("templates", &["server_forms"]),
        ("async_needs", &["none"]),
        ("scale", &["feature_growth"]),
        ("security", &["regulated"]),
        ("team_size", &["medium"]),
        ("experience", &["django"]),
        ("deadline", &["weeks"]),
        ("control", &["conventions"]),
        ("maintenance", &["long_lived"]),
    ];

    const FLASK_ML_PROFILE: &[(&str, &[&str])] = &[
        ("project_type", &["ml_serving"]),
        ("ml_kind", &["simple_predict"]),
        ("admin", &["no_admin"]),
        ("data_model", &["no_db"]),
        ("auth", &["none"]),
        ("async_needs", &["none"]),
        ("scale", &["small_stable"]),
        ("security", &["internal_only"]),
        ("team_size", &["small"]),
        ("experience", &["flask"]),
        ("deadline", &["flexible"]),
        ("control", &["control"]),
        ("maintenance", &["short"]),
    ];

    const FLASK_MICROSERVICE_PROFILE: &[(&str, &[&str])] = &[
        ("project_type", &["microservice"]),
        ("api_style", &["few_endpoints"]),
        ("admin", &["no_admin"]),
        ("data_model", &["simple"]),
        ("auth", &["tokens"]),
        ("async_needs", &["background"]),
        ("scale", &["many_services"]),
        ("security", &["standard"]),
        ("team_size", &["small"]),
        ("experience", &["flask", "sqlalchemy"]),
        ("deadline", &["months"]),
        ("control", &["control"]),
        ("maintenance", &["few_years"]),
    ];

    /// Mostly neutral answers; the few pushes nearly cancel out: an
    /// occasional admin (+3 toward Django) against a simple data model
    /// (-1.2), tokens (-1) and a few simple pages (-1): a margin of 0.2.
    const BALANCED_PROFILE: &[(&str, &[&str])] = &[
        ("project_type", &["prototype"]),
        ("admin", &["occasional"]),
        ("data_model", &["simple"]),
        ("auth", &["tokens"]),
        ("templates", &["server_simple"]),
        ("async_needs", &["background"]),
        ("scale", &["unknown"]),
        ("security", &["standard"]),
        ("team_size", &["small"]),
        ("experience", &["python_only"]),
        ("deadline", &["months"]),
        ("control", &["balanced"]),
        ("maintenance", &["few_years"]),
    ];

    #[test]
    fn clear_django_profile_recommends_django_confidently() {
        let c = content();
        let rec = recommend(&c, &picks_from_answers(&answers(&c, DJANGO_PROFILE)));
        assert_eq!(rec.verdict, Verdict::Framework { id: "django".into() });
        assert!(rec.confidence >= 70, "confidence {}", rec.confidence);
        assert!(score(&rec, "django") > score(&rec, "flask"));
        assert!(rec.reasons.iter().all(|r| r.toward == "django"), "{:?}", rec.reasons);
        assert_eq!(rec.reasons.len(), MAX_REASONS);
        assert_eq!(rec.close_call_advice, None);
        assert_eq!(rec.fastapi_note, None);
        // The answer-specific next step comes before the framework's generic ones.
        let admin_step = "Register your models in admin.py and set list_display, search_fields and list_filter early.";
        assert!(rec.next_steps.iter().any(|s| s == admin_step), "{:?}", rec.next_steps);
        assert!(rec.next_steps.len() <= MAX_NEXT_STEPS && rec.tradeoffs.len() <= MAX_TRADEOFFS);
        assert_eq!(rec.packages, c.knowledge.framework("django").unwrap().packages);
    }

    #[test]
    fn clear_flask_ml_profile_recommends_flask_and_mentions_fastapi() {
        let c = content();
        let rec = recommend(&c, &picks_from_answers(&answers(&c, FLASK_ML_PROFILE)));
        assert_eq!(rec.verdict, Verdict::Framework { id: "flask".into() });
        assert!(rec.confidence >= 70, "confidence {}", rec.confidence);
        assert!(score(&rec, "flask") > score(&rec, "django"));
        assert!(rec.reasons.iter().all(|r| r.toward == "flask"), "{:?}", rec.reasons);
        assert_eq!(
            rec.fastapi_note.as_deref(),
            Some(c.knowledge.texts().fastapi_note.as_str())
        );
        assert_eq!(rec.close_call_advice, None);
        let load_once = "Load the model once in create_app, not per request, and run several Gunicorn workers.";
        assert!(rec.next_steps.iter().any(|s| s == load_once), "{:?}", rec.next_steps);
    }

    #[test]
    fn flask_microservice_without_async_or_ml_has_no_fastapi_note() {
        let c = content();
        let rec = recommend(&c, &picks_from_answers(&answers(&c, FLASK_MICROSERVICE_PROFILE)));
        assert_eq!(rec.verdict, Verdict::Framework { id: "flask".into() });
        assert!(rec.confidence >= 70, "confidence {}", rec.confidence);
        assert_eq!(rec.fastapi_note, None, "api_only is not an async or ML signal");
    }

    #[test]
    fn balanced_profile_is_a_close_call_with_advice() {
        let c = content();
        let rec = recommend(&c, &picks_from_answers(&answers(&c, BALANCED_PROFILE)));
        assert!(
            matches!(rec.verdict, Verdict::CloseCall { .. }),
            "{:?} {:?}",
            rec.verdict,
            rec.scores
        );
        assert_eq!(
            rec.close_call_advice.as_deref(),
            Some(c.knowledge.texts().close_call.as_str())
        );
        assert!((50..56).contains(&rec.confidence), "confidence {}", rec.confidence);
        // The leaning, when there is one, is the side with more points.
        let (d, f) = (score(&rec, "django"), score(&rec, "flask"));
        match rec.verdict.framework() {
            Some("django") => assert!(d > f),
            Some("flask") => assert!(f > d),
            None => assert!((d - f).abs() < 1e-9),
            Some(other) => panic!("unknown framework {other}"),
        }
    }

    #[test]
    fn reasons_are_sorted_by_points_descending() {
        let c = content();
        for profile in [
            DJANGO_PROFILE,
            FLASK_ML_PROFILE,
            FLASK_MICROSERVICE_PROFILE,
            BALANCED_PROFILE,
        ] {
            let rec = recommend(&c, &picks_from_answers(&answers(&c, profile)));
            assert!(!rec.reasons.is_empty());
            assert!(rec.reasons.len() <= MAX_REASONS);
            assert!(
                rec.reasons.windows(2).all(|w| w[0].points >= w[1].points),
                "{:?}",
                rec.reasons.iter().map(|r| (&r.option, r.points)).collect::<Vec<_>>()
            );
            assert!(rec.reasons.iter().all(|r| r.points > 0.0 && r.share == 1.0));
        }
        // The strongest Django push: the admin (importance 1.5 x weight 4 = 6).
        let rec = recommend(&c, &picks_from_answers(&answers(&c, DJANGO_PROFILE)));
        let first = &rec.reasons[0];
        assert_eq!((first.question.as_str(), first.option.as_str()), ("admin", "essential"));
        assert!((first.points - 6.0).abs() < 1e-9, "{}", first.points);
        // Ties keep questionnaire order: experience "django" is also 1.5 x 4.
        assert_eq!(rec.reasons[1].question, "experience");
        assert!((rec.reasons[1].points - 6.0).abs() < 1e-9);
    }

    fn pick(question: &str, option: &str, share: f64) -> WeightedPick {
        WeightedPick {
            question: question.into(),
            option: option.into(),
            share,
        }
    }

    #[test]
    fn team_shares_scale_the_points() {
        let c = content();
        let full = recommend(&c, &[pick("admin", "essential", 1.0)]);
        let half = recommend(&c, &[pick("admin", "essential", 0.5)]);
        assert!((full.reasons[0].points - 6.0).abs() < 1e-9);
        assert!(
            (half.reasons[0].points - 3.0).abs() < 1e-9,
            "{}",
            half.reasons[0].points
        );
        assert_eq!(half.reasons[0].share, 0.5);
        assert!((score(&half, "django") - score(&full, "django") / 2.0).abs() < 1e-9);
        // Half the team against the other half: the pushes cancel out.
        let split = recommend(
            &c,
            &[pick("experience", "django", 0.5), pick("experience", "flask", 0.5)],
        );
        assert_eq!(split.verdict, Verdict::CloseCall { leaning: None });
        assert_eq!(split.confidence, 50);
        assert_eq!(split.reasons.len(), 2);
        assert!(split.reasons.iter().all(|r| (r.points - 3.0).abs() < 1e-9));
        // A 3-to-1 team split leans the majority's way.
        let lean = recommend(
            &c,
            &[pick("experience", "django", 0.75), pick("experience", "flask", 0.25)],
        );
        assert_eq!(lean.verdict.framework(), Some("django"));
        assert!(score(&lean, "django") > score(&lean, "flask"));
    }

    #[test]
    fn minority_signals_do_not_trigger_the_fastapi_note() {
        let c = content();
        let minority = recommend(&c, &[pick("project_type", "ml_serving", 0.4)]);
        assert_eq!(minority.fastapi_note, None);
        let majority = recommend(&c, &[pick("project_type", "ml_serving", 0.6)]);
        assert!(majority.fastapi_note.is_some());
    }

    #[test]
    fn unknown_picks_are_ignored_and_no_picks_is_an_even_close_call() {
        let c = content();
        let rec = recommend(&c, &[pick("nope", "x", 1.0), pick("admin", "nope", 1.0)]);
        assert_eq!(rec.verdict, Verdict::CloseCall { leaning: None });
        assert_eq!(rec.confidence, 50);
        assert!(rec.reasons.is_empty());
        assert_eq!(rec, recommend(&c, &[]));
    }

    #[test]
    fn out_of_range_shares_are_clamped() {
        let c = content();
        let over = recommend(&c, &[pick("admin", "essential", 7.0)]);
        let full = recommend(&c, &[pick("admin", "essential", 1.0)]);
        assert_eq!(over.scores, full.scores);
        let negative = recommend(&c, &[pick("admin", "essential", -1.0)]);
        assert!(negative.reasons.is_empty());
        assert_eq!(negative.verdict, Verdict::CloseCall { leaning: None });
    }

    /// A path whose pushes cancel out exactly (found by the property test in
    /// tests/engine_props.rs): 1.2 x 3 for "conventions" is 3.5999999999999996
    /// in floating point, so the separately accumulated margin comes out at
    /// about -4e-16 while both scores are exactly 12.0.
    const EXACT_TIE_PROFILE: &[(&str, &[&str])] = &[
        ("project_type", &["ml_serving"]),
        ("ml_kind", &["in_product"]),
        ("admin", &["no_admin"]),
        ("data_model", &["relational"]),
        ("auth", &["accounts"]),
        ("async_needs", &["realtime"]),
        ("realtime_kind", &["notifications"]),
        ("scale", &["small_stable"]),
        ("security", &["internal_only"]),
        ("team_size", &["medium"]),
        ("experience", &["sqlalchemy"]),
        ("deadline", &["months"]),
        ("control", &["conventions"]),
        ("maintenance", &["short"]),
    ];

    // Regression: the verdict's leaning came from a margin summed separately
    // from the scores, so rounding turns an exact tie into "leaning Flask"
    // while the running lean (computed from the scores) says "Even so far".
    #[test]
    fn exact_tie_has_no_leaning() {
        let c = content();
        let rec = recommend(&c, &picks_from_answers(&answers(&c, EXACT_TIE_PROFILE)));
        assert_eq!(score(&rec, "django"), score(&rec, "flask"));
        assert_eq!(rec.confidence, 50);
        assert_eq!(rec.verdict, Verdict::CloseCall { leaning: None });
    }
}
