//! Measuring `/ask` on a set of realistic questions: how often the best hit
//! is one of the entries that count as a right answer, and whether every
//! off-topic question is refused. Used by `tests/retrieval_eval.rs` and by
//! `framework-advisor eval-questions`.
//!
//! A set is TOML: `questions = [{ q = "celery with flask", expect =
//! ["bg_jobs_flask"] }, { q = "rust vs go", off_topic = true }]`.

use std::fmt;

use serde::Deserialize;

use super::knowledge::KnowledgeBase;
use super::search::SearchIndex;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EvalQuestion {
    pub q: String,
    /// Entry ids (FAQ entries or topics) that count as right at top-1.
    #[serde(default)]
    pub expect: Vec<String>,
    /// The bot must refuse this question.
    #[serde(default)]
    pub off_topic: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EvalSet {
    pub questions: Vec<EvalQuestion>,
}

impl EvalSet {
    /// Parses a set; `what` names it in errors. Every question must either
    /// expect something or be off-topic, and name only known entries.
    pub fn parse(text: &str, what: &str, kb: &KnowledgeBase) -> Result<EvalSet, String> {
        let set: EvalSet = toml::from_str(text).map_err(|e| format!("{what}: {e}"))?;
        for q in &set.questions {
            if q.off_topic != q.expect.is_empty() {
                return Err(format!(
                    "{what}: {:?}: needs either `expect` or `off_topic = true`",
                    q.q
                ));
            }
            if let Some(id) = q
                .expect
                .iter()
                .find(|id| kb.topic(id).is_none() && kb.faq_entry(id).is_none())
            {
                return Err(format!("{what}: {:?}: unknown entry {id:?}", q.q));
            }
        }
        Ok(set)
    }
}

/// A question answered wrongly.
#[derive(Debug, Clone, PartialEq)]
pub struct Miss {
    pub question: String,
    /// Empty for an off-topic question.
    pub expected: Vec<String>,
    /// The best hit; `None` when the bot refused.
    pub got: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct EvalReport {
    pub total: usize,
    /// Questions answered right: best hit expected, or off-topic refused.
    pub right: usize,
    pub on_topic: usize,
    pub on_topic_right: usize,
    pub off_topic: usize,
    pub off_topic_refused: usize,
    pub misses: Vec<Miss>,
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        100.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

impl EvalReport {
    /// Right at top-1 over the whole set (off-topic: right when refused).
    pub fn top1_percent(&self) -> f64 {
        percent(self.right, self.total)
    }

    pub fn on_topic_percent(&self) -> f64 {
        percent(self.on_topic_right, self.on_topic)
    }

    pub fn off_topic_refused_percent(&self) -> f64 {
        percent(self.off_topic_refused, self.off_topic)
    }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "questions: {}  right at top-1: {} ({:.1}%)",
            self.total,
            self.right,
            self.top1_percent()
        )?;
        writeln!(
            f,
            "on-topic: {}/{} right ({:.1}%)  off-topic: {}/{} refused ({:.1}%)",
            self.on_topic_right,
            self.on_topic,
            self.on_topic_percent(),
            self.off_topic_refused,
            self.off_topic,
            self.off_topic_refused_percent()
        )?;
        for m in &self.misses {
            let expected = if m.expected.is_empty() {
                "(refusal)".to_string()
            } else {
                m.expected.join(" | ")
            };
            writeln!(
                f,
                "  miss: {:?} -> {} (expected {expected})",
                m.question,
                m.got.as_deref().unwrap_or("(refused)")
            )?;
        }
        Ok(())
    }
}

/// Asks every question and counts.
pub fn evaluate(index: &SearchIndex, set: &EvalSet) -> EvalReport {
    let mut r = EvalReport::default();
    for q in &set.questions {
        let answer = index.ask(&q.q);
        let got = answer.hits.first().map(|h| h.entry.id().to_string());
        r.total += 1;
        let right = if q.off_topic {
            r.off_topic += 1;
            got.is_none()
        } else {
            r.on_topic += 1;
            got.as_ref().is_some_and(|g| q.expect.contains(g))
        };
        if right {
            r.right += 1;
            if q.off_topic {
                r.off_topic_refused += 1;
            } else {
                r.on_topic_right += 1;
            }
        } else {
            r.misses.push(Miss {
                question: q.q.clone(),
                expected: q.expect.clone(),
                got,
            });
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::content::Content;

    fn kb() -> KnowledgeBase {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/responses"));
        Content::load(dir).expect("responses/ loads").knowledge
    }

    #[test]
    fn a_wrong_answer_is_a_miss_and_a_refusal_of_an_off_topic_question_is_right() {
        let kb = kb();
        let idx = SearchIndex::new(&kb);
        let set = EvalSet::parse(
            r#"questions = [
                { q = "celery with flask", expect = ["bg_jobs_flask"] },
                { q = "celery with flask", expect = ["orm"] },
                { q = "what's the weather in paris", off_topic = true },
                { q = "django admin", off_topic = true },
            ]"#,
            "inline",
            &kb,
        )
        .unwrap();
        let r = evaluate(&idx, &set);
        assert_eq!((r.total, r.right, r.on_topic, r.off_topic), (4, 2, 2, 2));
        assert_eq!((r.on_topic_right, r.off_topic_refused), (1, 1));
        assert_eq!(r.misses.len(), 2);
        assert_eq!(r.misses[0].got.as_deref(), Some("bg_jobs_flask"));
        assert_eq!(r.top1_percent(), 50.0);
        let text = r.to_string();
        assert!(
            text.contains("questions: 4") && text.contains("miss: \"django admin\""),
            "{text}"
        );
    }

    #[test]
    fn sets_with_unknown_entries_or_no_expectation_are_rejected() {
        let kb = kb();
        let unknown = EvalSet::parse(r#"questions = [{ q = "x", expect = ["nope"] }]"#, "f.toml", &kb);
        assert!(unknown.unwrap_err().contains("unknown entry \"nope\""));
        let neither = EvalSet::parse(r#"questions = [{ q = "x" }]"#, "f.toml", &kb);
        assert!(neither.unwrap_err().starts_with("f.toml: \"x\""));
        let both = EvalSet::parse(
            r#"questions = [{ q = "x", expect = ["orm"], off_topic = true }]"#,
            "f",
            &kb,
        );
        assert!(both.is_err());
    }
}
