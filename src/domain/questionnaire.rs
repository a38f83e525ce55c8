//! The questionnaire as data: questions, options, weights, branching and
//! conditions.
//!
//! A [`Questionnaire`] is data from `responses/questionnaire.toml`: ordered
//! questions, each with options that carry weights, a reaction and a reason,
//! plus branching (`show_if` / `skip_if` on an earlier answer). It answers
//! what to ask next given the answers so far and whether an answer is valid;
//! the run through it (revisions, Back, team votes) is `session.rs`, which
//! builds on this module and not the reverse.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Tags an option can carry to trigger advice beyond Django-vs-Flask.
pub const SIGNALS: &[&str] = &["async_api", "ml_serving", "realtime", "api_only"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QuestionKind {
    Single,
    Multi,
}

/// "Only if / unless question `question` was answered with any of `any_of`."
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub question: String,
    pub any_of: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AnswerOption {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub emoji: Option<String>,
    /// Framework id -> weight in -5..=5.
    pub weights: BTreeMap<String, i32>,
    pub reaction: String,
    pub reason: String,
    /// Framework id -> a trade-off to show when that framework is the verdict.
    #[serde(default)]
    pub caveat: BTreeMap<String, String>,
    /// Framework id -> a next step to add when that framework is the verdict.
    #[serde(default)]
    pub next_step: BTreeMap<String, String>,
    #[serde(default)]
    pub signals: Vec<String>,
}

impl AnswerOption {
    pub fn weight(&self, framework: &str) -> i32 {
        self.weights.get(framework).copied().unwrap_or(0)
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub prompt: String,
    #[serde(default)]
    pub help: Option<String>,
    pub kind: QuestionKind,
    #[serde(default)]
    pub min_choices: Option<usize>,
    #[serde(default)]
    pub max_choices: Option<usize>,
    #[serde(default = "one")]
    pub importance: f64,
    #[serde(default)]
    pub show_if: Option<Condition>,
    #[serde(default)]
    pub skip_if: Option<Condition>,
    #[serde(rename = "option")]
    pub options: Vec<AnswerOption>,
}

fn one() -> f64 {
    1.0
}

impl Question {
    pub fn option(&self, id: &str) -> Option<&AnswerOption> {
        self.options.iter().find(|o| o.id == id)
    }

    /// Inclusive bounds on how many options one answer selects.
    pub fn choice_bounds(&self) -> (usize, usize) {
        match self.kind {
            QuestionKind::Single => (1, 1),
            QuestionKind::Multi => (
                self.min_choices.unwrap_or(1),
                self.max_choices.unwrap_or(self.options.len()),
            ),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuestionnaireFile {
    #[serde(rename = "question")]
    pub questions: Vec<Question>,
}

/// The ordered questions. Validated on load (see `content.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct Questionnaire {
    pub questions: Vec<Question>,
}

/// One recorded answer: the question and the option ids picked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub question: String,
    pub options: Vec<String>,
}

impl Questionnaire {
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    fn answered<'a>(answers: &'a [Answer], question: &str) -> Option<&'a Answer> {
        answers.iter().find(|a| a.question == question)
    }

    /// Whether `question` applies given the answers so far. A condition on a
    /// question that has not been answered (it was skipped itself) is false.
    pub fn applies(&self, question: &Question, answers: &[Answer]) -> bool {
        let holds = |c: &Condition| {
            Self::answered(answers, &c.question).is_some_and(|a| a.options.iter().any(|o| c.any_of.contains(o)))
        };
        if let Some(c) = &question.show_if {
            if !holds(c) {
                return false;
            }
        }
        if let Some(c) = &question.skip_if {
            if holds(c) {
                return false;
            }
        }
        true
    }

    /// The question to ask next, or `None` when the path is complete.
    pub fn next_question(&self, answers: &[Answer]) -> Option<&Question> {
        self.questions
            .iter()
            .find(|q| Self::answered(answers, &q.id).is_none() && self.applies(q, answers))
    }

    /// `(step, total)`: the 1-based number of the current question and the
    /// number of questions on the path as far as it is known now. A question
    /// whose branch depends on a later answer counts when it *could* apply.
    pub fn progress(&self, answers: &[Answer]) -> (usize, usize) {
        let mut total = answers.len();
        for q in &self.questions {
            if Self::answered(answers, &q.id).is_some() {
                continue;
            }
            let decided = |c: &Option<Condition>| {
                c.as_ref()
                    .is_none_or(|c| Self::answered(answers, &c.question).is_some())
            };
            let maybe = if decided(&q.show_if) && decided(&q.skip_if) {
                self.applies(q, answers)
            } else {
                // Undecided: a skip_if may still not fire; a show_if may still fire.
                true
            };
            if maybe {
                total += 1;
            }
        }
        ((answers.len() + 1).min(total.max(1)), total.max(1))
    }

    /// Checks an answer to `question` and returns it normalised (options in
    /// questionnaire order, no duplicates).
    pub fn validate_answer(&self, question: &Question, options: &[String]) -> Result<Answer, AnswerError> {
        let mut picked: Vec<String> = Vec::new();
        for o in options {
            if question.option(o).is_none() {
                return Err(AnswerError::UnknownOption {
                    question: question.id.clone(),
                    option: o.chars().take(40).collect(),
                });
            }
            if !picked.contains(o) {
                picked.push(o.clone());
            }
        }
        let (min, max) = question.choice_bounds();
        if picked.len() < min || picked.len() > max {
            return Err(AnswerError::ChoiceCount {
                question: question.id.clone(),
                min,
                max,
                got: picked.len(),
            });
        }
        picked.sort_by_key(|id| question.options.iter().position(|o| &o.id == id));
        Ok(Answer {
            question: question.id.clone(),
            options: picked,
        })
    }
}

/// Why an answer does not fit its question. The session reports these as
/// its own `EngineError` variants of the same names and text, so callers
/// match one error type whichever layer refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AnswerError {
    #[error("option {option} is not in question {question}")]
    UnknownOption { question: String, option: String },
    #[error("question {question} takes {min}..={max} choices, got {got}")]
    ChoiceCount {
        question: String,
        min: usize,
        max: usize,
        got: usize,
    },
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn opt(id: &str, d: i32, f: i32) -> AnswerOption {
        AnswerOption {
            id: id.into(),
            label: id.to_uppercase(),
            description: None,
            emoji: None,
            weights: [("django".to_string(), d), ("flask".to_string(), f)].into(),
            reaction: format!("reaction {id}"),
            reason: format!("you picked {id}"),
            caveat: BTreeMap::new(),
            next_step: BTreeMap::new(),
            signals: vec![],
        }
    }

    fn question(id: &str, kind: QuestionKind, options: Vec<AnswerOption>) -> Question {
        Question {
            id: id.into(),
            prompt: format!("{id}?"),
            help: None,
            kind,
            min_choices: None,
            max_choices: None,
            importance: 1.0,
            show_if: None,
            skip_if: None,
            options,
        }
    }

    /// kind -> (api | site); templates skipped for api; realtime shown only for api; team multi.
    pub(crate) fn sample() -> Questionnaire {
        let kind = question("kind", QuestionKind::Single, vec![opt("api", -1, 3), opt("site", 3, 0)]);
        let mut templates = question(
            "templates",
            QuestionKind::Single,
            vec![opt("yes", 2, 0), opt("no", 0, 1)],
        );
        templates.skip_if = Some(Condition {
            question: "kind".into(),
            any_of: vec!["api".into()],
        });
        let mut realtime = question(
            "realtime",
            QuestionKind::Single,
            vec![opt("ws", 0, 1), opt("none", 0, 0)],
        );
        realtime.show_if = Some(Condition {
            question: "kind".into(),
            any_of: vec!["api".into()],
        });
        let mut team = question(
            "team",
            QuestionKind::Multi,
            vec![opt("knows_django", 4, 0), opt("knows_flask", 0, 4), opt("new", 1, 0)],
        );
        team.max_choices = Some(2);
        Questionnaire {
            questions: vec![kind, templates, realtime, team],
        }
    }
}
