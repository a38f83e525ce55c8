//! Free-text questions and autocomplete over the knowledge base.
//!
//! - [`SearchIndex::ask`] ranks topics for a question in plain words with BM25
//!   (the `bm25` crate: English stemming and stop words, so "serving models"
//!   meets "model serving"). When BM25 finds nothing it tries a fuzzy match on
//!   topic names, which forgives typos ("authentification"), and otherwise says
//!   honestly that nothing matched.
//! - [`SearchIndex::suggest`] is autocomplete: fzf-style fuzzy matching
//!   (`nucleo-matcher`) of what was typed so far against titles and aliases.
//!
//! The knowledge base is small (tens of topics), so the index is built once at
//! start-up and kept in memory.

use bm25::{Language, SearchEngine, SearchEngineBuilder};
use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32Str};

use super::content::FRAMEWORK_IDS;
use super::knowledge::{KnowledgeBase, Topic};

/// A BM25 score below this is noise (a single common word matched weakly).
const MIN_BM25_SCORE: f32 = 0.8;
/// Results returned by `ask`: the best topic and a few alternatives.
pub const MAX_RESULTS: usize = 4;
/// Names and aliases weigh more than body text: repeat them in the document.
const NAME_BOOST: usize = 3;
/// Autocomplete shows at most this many choices (Discord's limit).
pub const MAX_SUGGESTIONS: usize = 25;
/// Fuzzy fallback: minimum nucleo score per query character.
const MIN_FUZZY_PER_CHAR: u32 = 12;

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub topic: String,
    pub score: f32,
}

/// What a free-text question matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Best first; empty when nothing matched.
    pub hits: Vec<Hit>,
    /// The framework the question is about, when it names exactly one.
    pub framework: Option<String>,
}

pub struct SearchIndex {
    engine: SearchEngine<usize>,
    /// (topic id, lower-cased names joined) for fuzzy matching.
    names: Vec<(String, String)>,
    topic_ids: Vec<String>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").field("topics", &self.topic_ids.len()).finish()
    }
}

fn topic_document(t: &Topic) -> String {
    let names = format!("{} {} ", t.title, t.aliases.join(" ")).replace('_', " ");
    let mut doc = names.repeat(NAME_BOOST);
    for part in [&t.django, &t.flask, &t.comparison] {
        doc.push_str(part);
        doc.push(' ');
    }
    doc
}

impl SearchIndex {
    pub fn new(kb: &KnowledgeBase) -> Self {
        let docs: Vec<bm25::Document<usize>> = kb
            .topics
            .iter()
            .enumerate()
            .map(|(i, t)| bm25::Document::new(i, topic_document(t)))
            .collect();
        let engine = SearchEngineBuilder::<usize>::with_documents(Language::English, docs).build();
        let names = kb
            .topics
            .iter()
            .map(|t| (t.id.clone(), format!("{} {}", t.title, t.aliases.join(" "))))
            .collect();
        SearchIndex {
            engine,
            names,
            topic_ids: kb.topics.iter().map(|t| t.id.clone()).collect(),
        }
    }

    /// Ranks topics for a question in plain words.
    pub fn ask(&self, question: &str) -> Answer {
        let lower = question.to_lowercase();
        let named: Vec<&str> = FRAMEWORK_IDS.iter().copied().filter(|f| lower.contains(f)).collect();
        let framework = (named.len() == 1).then(|| named[0].to_string());
        let mut hits: Vec<Hit> = self
            .engine
            .search(question, MAX_RESULTS * 2)
            .into_iter()
            .filter(|r| r.score >= MIN_BM25_SCORE)
            .map(|r| Hit {
                topic: self.topic_ids[r.document.id].clone(),
                score: r.score,
            })
            .collect();
        hits.truncate(MAX_RESULTS);
        if hits.is_empty() {
            hits = self.fuzzy(question, MAX_RESULTS, true);
        }
        Answer { hits, framework }
    }

    /// Autocomplete: topic ids best first. An empty prefix lists every topic in order.
    pub fn suggest(&self, typed: &str) -> Vec<String> {
        if typed.trim().is_empty() {
            return self.topic_ids.iter().take(MAX_SUGGESTIONS).cloned().collect();
        }
        self.fuzzy(typed, MAX_SUGGESTIONS, false)
            .into_iter()
            .map(|h| h.topic)
            .collect()
    }

    fn fuzzy(&self, query: &str, limit: usize, strict: bool) -> Vec<Hit> {
        // Bound the work: autocomplete input is short; a long question's first
        // words carry enough for a fallback.
        let query: String = query.chars().take(64).collect();
        let pattern = Pattern::parse(&query, CaseMatching::Ignore, Normalization::Smart);
        let mut matcher = Matcher::new(Config::DEFAULT);
        let mut buf = Vec::new();
        let min = if strict {
            MIN_FUZZY_PER_CHAR * query.chars().filter(|c| !c.is_whitespace()).count() as u32
        } else {
            1
        };
        let mut scored: Vec<(u32, usize)> = self
            .names
            .iter()
            .enumerate()
            .filter_map(|(i, (_, names))| {
                let score = pattern.score(Utf32Str::new(names, &mut buf), &mut matcher)?;
                (score >= min).then_some((score, i))
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored
            .into_iter()
            .take(limit)
            .map(|(score, i)| Hit {
                topic: self.names[i].0.clone(),
                score: score as f32,
            })
            .collect()
    }
}
