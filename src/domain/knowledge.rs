//! The knowledge base: the two frameworks, the topics people compare them on,
//! and the user-visible strings of the bot. Parsed from `responses/*.toml`
//! (strictly: unknown keys are errors) and cross-checked by `Content::load`
//! in `src/content.rs`; these are the types only, and this module reads no
//! files.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::advice::AdviceItem;

/// A dated, sourced statement (a version, a release date, a known user), so
/// it can be checked and updated later.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Fact {
    /// Which framework it is about (`django`/`flask`); absent on framework-level facts.
    #[serde(default)]
    pub framework: Option<String>,
    pub text: String,
    pub source: String,
    /// `YYYY-MM` or `YYYY-MM-DD`.
    pub as_of: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Framework {
    pub id: String,
    pub name: String,
    pub colour: u32,
    pub docs_url: String,
    pub website_url: String,
    pub tagline: String,
    pub summary: String,
    /// Advice for a verdict in this framework's favour, each item with the
    /// answers it applies to; file order is priority.
    #[serde(rename = "tradeoff")]
    pub tradeoffs: Vec<AdviceItem>,
    #[serde(rename = "next_step")]
    pub next_steps: Vec<AdviceItem>,
    #[serde(rename = "package")]
    pub packages: Vec<AdviceItem>,
    #[serde(default, rename = "fact")]
    pub facts: Vec<Fact>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    pub id: String,
    pub title: String,
    pub aliases: Vec<String>,
    pub django: String,
    pub flask: String,
    pub comparison: String,
    #[serde(default, rename = "fact")]
    pub facts: Vec<Fact>,
}

impl Topic {
    /// This topic's text for one framework (`None` for an unknown id).
    pub fn side(&self, framework: &str) -> Option<&str> {
        match framework {
            "django" => Some(&self.django),
            "flask" => Some(&self.flask),
            _ => None,
        }
    }

    /// Facts about one framework.
    pub fn facts_for<'a>(&'a self, framework: &'a str) -> impl Iterator<Item = &'a Fact> + 'a {
        self.facts
            .iter()
            .filter(move |f| f.framework.as_deref() == Some(framework))
    }
}

/// A question people ask in chat, with a short direct answer
/// (`responses/faq.toml`). Searched together with the topics.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaqEntry {
    pub id: String,
    /// The question as a heading.
    pub question: String,
    /// `django`/`flask` when the answer is about one side only.
    #[serde(default)]
    pub framework: Option<String>,
    /// Words and phrases people use for this question (search only).
    pub keywords: Vec<String>,
    /// Related topic ids, offered as follow-ups.
    #[serde(default)]
    pub topics: Vec<String>,
    pub answer: String,
    /// Where to read more (URLs).
    pub sources: Vec<String>,
    /// Anything dated (versions, releases, support), shown with the answer.
    #[serde(default, rename = "fact")]
    pub facts: Vec<Fact>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaqFile {
    #[serde(rename = "faq")]
    pub entries: Vec<FaqEntry>,
}

/// How `/ask` reads a question (`responses/search.toml`): synonyms, cue
/// words, and what it says when it does not know.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SearchTerms {
    pub text: SearchTexts,
    /// Lower-case word or phrase -> words added to the question.
    pub synonyms: BTreeMap<String, String>,
    pub cues: Cues,
}

/// Sentences and labels of `/ask` answers.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SearchTexts {
    /// Said instead of guessing; suggests /consult and /compare.
    pub unknown: String,
    pub sources: String,
    pub facts: String,
    pub related: String,
    /// Label of the side-by-side answer to a comparison; contains `{title}`.
    pub compared: String,
}

/// Word lists that steer the reading of a question.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Cues {
    /// Words that make a question a comparison ("vs", "better", "difference").
    pub compare: Vec<String>,
    /// Words too common to make a question on-topic by themselves.
    pub weak: Vec<String>,
    /// Words added to a question that names the frameworks and nothing else.
    pub general: String,
    /// Phrases that mean the question is not about the frameworks
    /// ("vacuum flask", "django unchained").
    pub off_topic: Vec<String>,
}

/// Slash-command and option descriptions (Discord shows them in the picker).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommandTexts {
    pub django: String,
    pub flask: String,
    pub compare: String,
    pub ask: String,
    pub consult: String,
    pub consult_start: String,
    pub consult_resume: String,
    pub consult_cancel: String,
    pub advisor: String,
    pub advisor_help: String,
    pub advisor_forget_me: String,
    pub advisor_stats: String,
    pub option_topic: String,
    pub option_aspect: String,
    pub option_question: String,
    pub option_mode: String,
    /// Display names of the `mode` choices (values `private` and `team`).
    pub choice_mode_private: String,
    pub choice_mode_team: String,
}

/// Every sentence the bot says that is not knowledge or questionnaire.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    pub help: String,
    pub welcome: String,
    pub resumed: String,
    pub cancelled: String,
    pub restarted: String,
    pub no_active: String,
    pub already_active: String,
    pub expired: String,
    pub stale: String,
    pub not_owner: String,
    pub unknown_component: String,
    pub unknown_command: String,
    pub stats_forbidden: String,
    pub facilitator_only: String,
    pub no_votes: String,
    pub my_score_none: String,
    pub team_welcome: String,
    pub team_needs_channel: String,
    pub rate_limited: String,
    pub internal_error: String,
    pub no_match: String,
    pub forget_confirm: String,
    pub forget_done: String,
    pub forget_cancelled: String,
    pub close_call: String,
    pub fastapi_note: String,
    /// Contains `{name}`.
    pub shared_by: String,
    pub lean_django: String,
    pub lean_flask: String,
    pub lean_even: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Messages {
    pub commands: CommandTexts,
    pub text: Texts,
    pub labels: super::labels::Labels,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct FrameworksFile {
    #[serde(rename = "framework")]
    pub frameworks: Vec<Framework>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct TopicsFile {
    #[serde(rename = "topic")]
    pub topics: Vec<Topic>,
}

/// Frameworks, topics and texts, with lookups by id and alias.
#[derive(Debug, Clone)]
pub struct KnowledgeBase {
    pub frameworks: Vec<Framework>,
    pub topics: Vec<Topic>,
    pub messages: Messages,
    /// Question-shaped entries (`responses/faq.toml`).
    pub faq: Vec<FaqEntry>,
    /// How `/ask` reads questions (`responses/search.toml`).
    pub search_terms: SearchTerms,
    /// Lower-cased id, title and every alias -> topic index.
    names: BTreeMap<String, usize>,
}

impl KnowledgeBase {
    pub(crate) fn new(frameworks: Vec<Framework>, topics: Vec<Topic>, messages: Messages) -> Self {
        let mut names = BTreeMap::new();
        for (i, t) in topics.iter().enumerate() {
            // Ids win over titles, titles over aliases: insert in reverse priority.
            for alias in &t.aliases {
                names.entry(normalise(alias)).or_insert(i);
            }
        }
        for (i, t) in topics.iter().enumerate() {
            names.insert(normalise(&t.title), i);
        }
        for (i, t) in topics.iter().enumerate() {
            names.insert(normalise(&t.id), i);
        }
        KnowledgeBase {
            frameworks,
            topics,
            messages,
            faq: Vec::new(),
            search_terms: SearchTerms::default(),
            names,
        }
    }

    /// Adds the FAQ entries and the search vocabulary.
    pub(crate) fn with_faq(mut self, faq: Vec<FaqEntry>, search_terms: SearchTerms) -> Self {
        self.faq = faq;
        self.search_terms = search_terms;
        self
    }

    pub fn faq_entry(&self, id: &str) -> Option<&FaqEntry> {
        self.faq.iter().find(|e| e.id == id)
    }

    pub fn framework(&self, id: &str) -> Option<&Framework> {
        self.frameworks.iter().find(|f| f.id == id)
    }

    pub fn topic(&self, id: &str) -> Option<&Topic> {
        self.topics.iter().find(|t| t.id == id)
    }

    /// Exact lookup by id, title or alias, ignoring case, spaces and dashes.
    pub fn topic_by_name(&self, name: &str) -> Option<&Topic> {
        self.names.get(&normalise(name)).map(|&i| &self.topics[i])
    }

    pub fn texts(&self) -> &Texts {
        &self.messages.text
    }

    pub fn labels(&self) -> &super::labels::Labels {
        &self.messages.labels
    }
}

/// Lower-case, with runs of spaces, dashes and underscores folded to one `_`.
pub fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut gap = false;
    for c in s.trim().chars() {
        if c.is_whitespace() || c == '-' || c == '_' {
            gap = true;
        } else {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn normalise_folds_case_and_separators() {
        assert_eq!(normalise("  Learning-Curve "), "learning_curve");
        assert_eq!(normalise("REST  apis"), "rest_apis");
        assert_eq!(normalise("who_uses it"), "who_uses_it");
        assert_eq!(normalise(""), "");
    }
}
