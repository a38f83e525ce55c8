//! Free-text questions and autocomplete over the knowledge base.
//!
//! - [`SearchIndex::ask`] ranks topics for a question in plain words with BM25
//!   (the `bm25` crate: English stemming and stop words, so "serving models"
//!   meets "model serving"). When BM25 finds nothing, each word that is not a
//!   known name is corrected to the closest topic name or alias (`strsim`'s
//!   normalised Damerau-Levenshtein, which forgives "authentification") and
//!   the search runs again; otherwise it says honestly that nothing matched.
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
/// Typo correction: minimum similarity (0..1) between a typed word and a name.
const MIN_SIMILARITY: f64 = 0.8;
/// Words shorter than this are not corrected (too many near neighbours).
const MIN_CORRECTED_LEN: usize = 5;

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
    /// (topic id, names joined) for autocomplete.
    names: Vec<(String, String)>,
    topic_ids: Vec<String>,
    /// Lower-cased words of every title and alias, for typo correction.
    vocabulary: Vec<String>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("topics", &self.topic_ids.len())
            .finish()
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
        let mut vocabulary: Vec<String> = kb
            .topics
            .iter()
            .flat_map(|t| std::iter::once(&t.title).chain(&t.aliases))
            .flat_map(|name| words(name))
            .filter(|w| w.chars().count() >= MIN_CORRECTED_LEN - 1)
            .collect();
        vocabulary.sort();
        vocabulary.dedup();
        SearchIndex {
            engine,
            names,
            topic_ids: kb.topics.iter().map(|t| t.id.clone()).collect(),
            vocabulary,
        }
    }

    fn rank(&self, query: &str) -> Vec<Hit> {
        let mut hits: Vec<Hit> = self
            .engine
            .search(query, MAX_RESULTS * 2)
            .into_iter()
            .filter(|r| r.score >= MIN_BM25_SCORE)
            .map(|r| Hit {
                topic: self.topic_ids[r.document.id].clone(),
                score: r.score,
            })
            .collect();
        hits.truncate(MAX_RESULTS);
        hits
    }

    /// The question with each unknown word replaced by the closest name, if
    /// any is close enough; `None` when nothing was corrected.
    fn corrected(&self, question: &str) -> Option<String> {
        let mut changed = false;
        let fixed: Vec<String> = words(question)
            .map(|w| {
                if w.chars().count() < MIN_CORRECTED_LEN || self.vocabulary.binary_search(&w).is_ok() {
                    return w;
                }
                let best = self
                    .vocabulary
                    .iter()
                    .map(|v| (strsim::normalized_damerau_levenshtein(&w, v), v))
                    .filter(|(s, _)| *s >= MIN_SIMILARITY)
                    .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)));
                match best {
                    Some((_, v)) => {
                        changed = true;
                        v.clone()
                    }
                    None => w,
                }
            })
            .collect();
        changed.then(|| fixed.join(" "))
    }

    /// Ranks topics for a question in plain words.
    pub fn ask(&self, question: &str) -> Answer {
        let lower = question.to_lowercase();
        let named: Vec<&str> = FRAMEWORK_IDS.iter().copied().filter(|f| lower.contains(f)).collect();
        let framework = (named.len() == 1).then(|| named[0].to_string());
        let mut hits = self.rank(question);
        if hits.is_empty() {
            if let Some(fixed) = self.corrected(question) {
                hits = self.rank(&fixed);
            }
        }
        Answer { hits, framework }
    }

    /// Autocomplete: topic ids best first. An empty prefix lists every topic in order.
    pub fn suggest(&self, typed: &str) -> Vec<String> {
        if typed.trim().is_empty() {
            return self.topic_ids.iter().take(MAX_SUGGESTIONS).cloned().collect();
        }
        // Bound the work: autocomplete input is short by nature.
        let typed: String = typed.chars().take(64).collect();
        let pattern = Pattern::parse(&typed, CaseMatching::Ignore, Normalization::Smart);
        let mut matcher = Matcher::new(Config::DEFAULT);
        let mut buf = Vec::new();
        let mut scored: Vec<(u32, usize)> = self
            .names
            .iter()
            .enumerate()
            .filter_map(|(i, (_, names))| {
                let score = pattern.score(Utf32Str::new(names, &mut buf), &mut matcher)?;
                (score > 0).then_some((score, i))
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored
            .into_iter()
            .take(MAX_SUGGESTIONS)
            .map(|(_, i)| self.names[i].0.clone())
            .collect()
    }
}

/// Lower-cased alphanumeric words.
fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::domain::content::Content;

    fn index() -> (SearchIndex, Vec<String>) {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/responses"));
        let content = Content::load(dir).expect("responses/ loads");
        let ids = content.knowledge.topics.iter().map(|t| t.id.clone()).collect();
        (SearchIndex::new(&content.knowledge), ids)
    }

    fn topics(answer: &Answer) -> Vec<&str> {
        answer.hits.iter().map(|h| h.topic.as_str()).collect()
    }

    #[test]
    fn model_serving_question_finds_use_cases_for_flask() {
        let (idx, _) = index();
        let a = idx.ask("is flask ok for serving a pytorch model?");
        assert_eq!(a.framework.as_deref(), Some("flask"));
        let top = a.hits.first().map(|h| h.topic.as_str());
        assert!(
            matches!(top, Some("use_cases" | "performance" | "async" | "deployment")),
            "top hit {top:?} of {:?}",
            topics(&a)
        );
        assert!(a.hits.len() <= MAX_RESULTS);
        assert!(a.hits.windows(2).all(|w| w[0].score >= w[1].score), "{:?}", a.hits);
    }

    #[test]
    fn migrations_question_finds_orm_first() {
        let (idx, _) = index();
        let a = idx.ask("how do I do database migrations");
        assert_eq!(topics(&a).first(), Some(&"orm"), "{:?}", topics(&a));
        assert_eq!(a.framework, None, "names no framework");
    }

    #[test]
    fn a_question_naming_both_frameworks_has_no_single_framework() {
        let (idx, _) = index();
        let a = idx.ask("django or flask for websockets?");
        assert_eq!(a.framework, None);
        assert_eq!(topics(&a).first(), Some(&"async"), "{:?}", topics(&a));
    }

    #[test]
    fn typo_still_finds_auth() {
        let (idx, _) = index();
        let a = idx.ask("authentification");
        assert_eq!(topics(&a).first(), Some(&"auth"), "{:?}", topics(&a));
    }

    #[test]
    fn nonsense_finds_nothing() {
        let (idx, _) = index();
        let a = idx.ask("xyzzy plugh");
        assert!(a.hits.is_empty(), "{:?}", topics(&a));
        assert_eq!(a.framework, None);
    }

    #[test]
    fn empty_question_finds_nothing() {
        let (idx, _) = index();
        for q in ["", "   ", "\n"] {
            let a = idx.ask(q);
            assert!(a.hits.is_empty(), "{q:?} -> {:?}", topics(&a));
        }
    }

    #[test]
    fn empty_question_does_not_panic() {
        let (idx, _) = index();
        let a = idx.ask("");
        assert_eq!(a.framework, None);
        assert!(a.hits.len() <= MAX_RESULTS);
    }

    #[test]
    fn empty_prefix_suggests_every_topic_in_order() {
        let (idx, ids) = index();
        let expected: Vec<String> = ids.into_iter().take(MAX_SUGGESTIONS).collect();
        assert_eq!(idx.suggest(""), expected);
        assert_eq!(idx.suggest("   "), expected);
    }

    #[test]
    fn suggest_ranks_the_named_topic_first() {
        let (idx, _) = index();
        assert_eq!(idx.suggest("orm").first().map(String::as_str), Some("orm"));
        assert_eq!(idx.suggest("ORM").first().map(String::as_str), Some("orm"));
        let sec = idx.suggest("sec");
        assert!(sec.iter().take(3).any(|t| t == "security"), "{sec:?}");
        assert!(idx.suggest("zzzz").is_empty());
    }

    #[test]
    fn suggestions_are_known_unique_and_bounded() {
        let (idx, ids) = index();
        for typed in ["a", "e", "dj", "fl", "async", "x".repeat(500).as_str()] {
            let s = idx.suggest(typed);
            assert!(s.len() <= MAX_SUGGESTIONS);
            assert!(s.iter().all(|t| ids.contains(t)), "{typed:?} -> {s:?}");
            let mut dedup = s.clone();
            dedup.sort();
            dedup.dedup();
            assert_eq!(dedup.len(), s.len(), "{typed:?} -> {s:?}");
        }
    }
}
