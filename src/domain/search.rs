//! Free-text questions and autocomplete over the knowledge base.
//!
//! [`SearchIndex::ask`] reads a question in one pipeline for topics and FAQ
//! entries alike:
//! 1. **Words**: lower-cased; versions such as `5.2` and `n+1` stay whole.
//! 2. **Typos**: a word the knowledge base never uses is corrected to the
//!    closest name, alias or keyword (`strsim`'s normalised
//!    Damerau-Levenshtein, which forgives "authentification" and "celary").
//! 3. **Synonyms** from `responses/search.toml` add the words the knowledge
//!    base uses ("faster" -> performance, "login" -> authentication,
//!    "bg jobs" -> background jobs, "dj" -> django).
//! 4. **On-topic or not**: a question that names Django or Flask is on-topic;
//!    otherwise more than half of its meaningful words must belong to the
//!    knowledge base's vocabulary, so "what's the weather in paris" and
//!    "rust vs go" are refused instead of answered with a confident guess.
//! 5. **Ranking**: BM25 (the `bm25` crate: Snowball stemming via
//!    `rust-stemmers` and stop words) over topics and FAQ entries; an FAQ
//!    entry about the framework the question names ranks higher, one about
//!    the other framework lower. Below a score threshold the answer is an
//!    honest "don't know".
//! 6. **Intent**: "X vs Y", "which is better/faster/easier", "difference"
//!    make a comparison (answered side by side); "in Flask" / "in Django"
//!    choose the side.
//!
//! [`SearchIndex::suggest`] is autocomplete: fzf-style fuzzy matching
//! (`nucleo-matcher`) of what was typed so far against titles and aliases.
//!
//! The knowledge base is small (tens of topics, about a hundred FAQ entries),
//! so the index is built once at start-up and kept in memory.

use std::collections::BTreeSet;

use bm25::{DefaultTokenizer, Language, SearchEngine, SearchEngineBuilder, Tokenizer};
use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32Str};

use super::framework::FRAMEWORK_IDS;
use super::knowledge::{FaqEntry, KnowledgeBase, Topic};

/// The best hit must score at least this much (BM25), or the bot says it
/// does not know. Tuned on the tuning half of the evaluation set.
const MIN_BM25_SCORE: f32 = 2.0;
/// Alternatives must reach this fraction of the best hit's score.
const MIN_RELATIVE_SCORE: f32 = 0.3;
/// Results returned by `ask`: the best entry and a few alternatives.
pub const MAX_RESULTS: usize = 4;
/// Names and aliases weigh more than body text: repeat them in the document.
const NAME_BOOST: usize = 3;
/// FAQ questions and keywords are repeated the same way.
const FAQ_NAME_BOOST: usize = 2;
/// An FAQ entry about the framework the question names.
const SAME_FRAMEWORK: f32 = 1.1;
/// A one-sided FAQ entry when the question compares: the neutral entry wins.
const ONE_SIDED_IN_COMPARISON: f32 = 0.8;
/// A one-sided FAQ entry for a question that names no framework: on a tie,
/// the neutral entry or topic answers ("how do I do database migrations").
const ONE_SIDED_UNASKED: f32 = 0.9;
/// Topics are the Django-vs-Flask comparisons: they answer a question that
/// names both.
const TOPIC_IN_COMPARISON: f32 = 1.3;
/// Frameworks a comparison may name besides Django and Flask.
const OTHER_FRAMEWORKS: [&str; 2] = ["fastapi", "quart"];
/// An FAQ entry about the other framework than the one the question names.
const OTHER_FRAMEWORK: f32 = 0.5;
/// More than this fraction of a question's meaningful words must be known
/// to the knowledge base when it names neither framework.
const MIN_ON_TOPIC_SHARE: f32 = 0.5;
/// Autocomplete shows at most this many choices (Discord's limit).
pub const MAX_SUGGESTIONS: usize = 25;
/// Typo correction: minimum similarity (0..1) between a typed word and a name.
const MIN_SIMILARITY: f64 = 0.8;
/// Words shorter than this are not corrected (too many near neighbours).
const MIN_CORRECTED_LEN: usize = 4;
/// Longer words are not corrected (no name is that long; bounds the work).
const MAX_CORRECTED_LEN: usize = 30;
/// A question is read up to this many words (Discord caps it anyway).
const MAX_WORDS: usize = 60;

/// What a hit points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Topic(String),
    Faq(String),
}

impl Entry {
    pub fn id(&self) -> &str {
        match self {
            Entry::Topic(id) | Entry::Faq(id) => id,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub entry: Entry,
    pub score: f32,
}

/// How the question wants to be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// A plain question: the best entry, from the named side if any.
    Lookup,
    /// "X vs Y", "which is better", "difference between": side by side.
    Compare,
}

/// Why a question got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Nothing to read.
    Empty,
    /// Not about Django, Flask or building web apps with them.
    OffTopic,
    /// On-topic, but nothing in the knowledge base answers it well enough.
    NoMatch,
}

/// What a free-text question matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Best first; empty when refused.
    pub hits: Vec<Hit>,
    /// The framework the question is about, when it names exactly one.
    pub framework: Option<String>,
    pub intent: Intent,
    /// Set exactly when `hits` is empty.
    pub refusal: Option<Refusal>,
}

impl Answer {
    fn refused(refusal: Refusal, framework: Option<String>, intent: Intent) -> Self {
        Answer {
            hits: Vec::new(),
            framework,
            intent,
            refusal: Some(refusal),
        }
    }
}

/// One searchable entry.
struct Doc {
    entry: Entry,
    /// FAQ entries about one side only.
    framework: Option<String>,
}

pub struct SearchIndex {
    engine: SearchEngine<usize>,
    tokenizer: DefaultTokenizer,
    docs: Vec<Doc>,
    /// (topic id, names joined) for autocomplete.
    names: Vec<(String, String)>,
    topic_ids: Vec<String>,
    /// Synonym phrases as words, longest first, with the words they add.
    synonyms: Vec<(Vec<String>, String)>,
    compare_cues: BTreeSet<String>,
    /// Stems that never make a question on-topic by themselves.
    weak_stems: BTreeSet<String>,
    off_topic: Vec<Vec<String>>,
    /// Added to a question that names the frameworks and nothing else.
    general: String,
    /// Stems of names, aliases, FAQ questions and keywords: the domain.
    anchor_stems: BTreeSet<String>,
    /// Every word the knowledge base uses (not corrected when typed).
    known_words: BTreeSet<String>,
    /// Lower-cased words of names, aliases, keywords and synonyms, for typo correction.
    vocabulary: Vec<String>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("entries", &self.docs.len())
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

fn faq_document(e: &FaqEntry) -> String {
    let names = format!("{} {} ", e.question, e.keywords.join(" "));
    let mut doc = names.repeat(FAQ_NAME_BOOST);
    doc.push_str(&e.answer);
    doc
}

impl SearchIndex {
    pub fn new(kb: &KnowledgeBase) -> Self {
        let tokenizer = DefaultTokenizer::new(Language::English);
        let mut docs = Vec::new();
        let mut texts = Vec::new();
        for t in &kb.topics {
            docs.push(Doc {
                entry: Entry::Topic(t.id.clone()),
                framework: None,
            });
            texts.push(topic_document(t));
        }
        for e in &kb.faq {
            docs.push(Doc {
                entry: Entry::Faq(e.id.clone()),
                framework: e.framework.clone(),
            });
            texts.push(faq_document(e));
        }
        let bm25_docs: Vec<bm25::Document<usize>> = texts
            .iter()
            .enumerate()
            .map(|(i, text)| bm25::Document::new(i, text.as_str()))
            .collect();
        let engine = SearchEngineBuilder::<usize>::with_documents(Language::English, bm25_docs).build();

        let terms = &kb.search_terms;
        let mut synonyms: Vec<(Vec<String>, String)> = terms
            .synonyms
            .iter()
            .map(|(phrase, adds)| (words(phrase).collect(), adds.clone()))
            .filter(|(phrase, _): &(Vec<String>, String)| !phrase.is_empty())
            .collect();
        synonyms.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        let stems_of = |text: &str| -> Vec<String> { tokenizer.tokenize(text) };
        let weak_stems: BTreeSet<String> = terms.cues.weak.iter().flat_map(|w| stems_of(w)).collect();

        // The domain: what the knowledge base is about, by name.
        let name_texts: Vec<String> = kb
            .topics
            .iter()
            .flat_map(|t| std::iter::once(t.title.clone()).chain(t.aliases.iter().cloned()))
            .chain(
                kb.faq
                    .iter()
                    .flat_map(|e| std::iter::once(e.question.clone()).chain(e.keywords.iter().cloned())),
            )
            .chain(terms.synonyms.values().cloned())
            .chain(FRAMEWORK_IDS.iter().map(|f| f.to_string()))
            .collect();
        let anchor_stems: BTreeSet<String> = name_texts
            .iter()
            .flat_map(|n| stems_of(n))
            .filter(|s| !weak_stems.contains(s) && !s.chars().all(|c| c.is_ascii_digit()))
            .collect();
        let mut vocabulary: Vec<String> = name_texts
            .iter()
            .flat_map(|n| words(n).collect::<Vec<_>>())
            .chain(terms.synonyms.keys().flat_map(|k| words(k).collect::<Vec<_>>()))
            .filter(|w| w.chars().count() >= MIN_CORRECTED_LEN && !w.chars().any(|c| c.is_ascii_digit()))
            .collect();
        vocabulary.sort();
        vocabulary.dedup();
        let known_words: BTreeSet<String> = texts
            .iter()
            .flat_map(|t| words(t).collect::<Vec<_>>())
            .chain(terms.synonyms.keys().flat_map(|k| words(k).collect::<Vec<_>>()))
            .chain(terms.cues.weak.iter().cloned())
            .collect();
        let names = kb
            .topics
            .iter()
            .map(|t| (t.id.clone(), format!("{} {}", t.title, t.aliases.join(" "))))
            .collect();
        SearchIndex {
            engine,
            docs,
            names,
            topic_ids: kb.topics.iter().map(|t| t.id.clone()).collect(),
            synonyms,
            compare_cues: terms.cues.compare.iter().cloned().collect(),
            weak_stems,
            off_topic: terms.cues.off_topic.iter().map(|p| words(p).collect()).collect(),
            general: terms.cues.general.clone(),
            anchor_stems,
            known_words,
            vocabulary,
            tokenizer,
        }
    }

    /// A word the knowledge base never uses, replaced by the closest name if
    /// one is close enough.
    fn corrected(&self, w: String) -> String {
        if !(MIN_CORRECTED_LEN..=MAX_CORRECTED_LEN).contains(&w.chars().count())
            || w.chars().any(|c| c.is_ascii_digit())
            || self.known_words.contains(&w)
        {
            return w;
        }
        self.vocabulary
            .iter()
            .map(|v| (strsim::normalized_damerau_levenshtein(&w, v), v))
            .filter(|(s, _)| *s >= MIN_SIMILARITY)
            .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
            .map(|(_, v)| v.clone())
            .unwrap_or(w)
    }

    /// Ranks topics and FAQ entries for a question in plain words.
    pub fn ask(&self, question: &str) -> Answer {
        let typed: Vec<String> = words(question).take(MAX_WORDS).collect();
        let words: Vec<String> = typed.into_iter().map(|w| self.corrected(w)).collect();

        // Synonyms: each phrase found adds its words; remember which typed
        // words a synonym explained (they count as on-topic).
        let mut added: Vec<&str> = Vec::new();
        let mut explained = vec![false; words.len()];
        for (phrase, adds) in &self.synonyms {
            for start in 0..words.len().saturating_sub(phrase.len() - 1) {
                if words[start..start + phrase.len()] == phrase[..] {
                    added.push(adds);
                    explained[start..start + phrase.len()]
                        .iter_mut()
                        .for_each(|e| *e = true);
                }
            }
        }
        let all_words: BTreeSet<&str> = words
            .iter()
            .map(String::as_str)
            .chain(added.iter().flat_map(|a| a.split_whitespace()))
            .collect();

        let named: Vec<&str> = FRAMEWORK_IDS
            .iter()
            .copied()
            .filter(|f| all_words.contains(f))
            .collect();
        let others_named = OTHER_FRAMEWORKS.iter().any(|f| all_words.contains(f));
        // "in Flask" chooses Flask's side; "FastAPI vs Flask" chooses none.
        let framework = (named.len() == 1 && !others_named).then(|| named[0].to_string());
        let cue = words.iter().any(|w| self.compare_cues.contains(w));
        let intent = if cue && framework.is_none() {
            Intent::Compare
        } else {
            Intent::Lookup
        };

        if words.is_empty() {
            return Answer::refused(Refusal::Empty, None, intent);
        }
        if self.off_topic.iter().any(|p| contains_phrase(&words, p)) || !self.on_topic(&words, &explained, &named) {
            return Answer::refused(Refusal::OffTopic, framework, intent);
        }

        // Typed words count twice, words added by synonyms once (BM25 here
        // adds a term's weight once per occurrence in the query), so "cors
        // error from my react app" stays about CORS. Comparison cues carry no
        // topic ("vs", "difference") and are left out.
        if !named.is_empty() && !self.asks_more_than_frameworks(&words) {
            added.push(&self.general);
        }
        let both_named = named.len() == FRAMEWORK_IDS.len();
        let typed_terms = words
            .iter()
            .map(String::as_str)
            .filter(|w| !self.compare_cues.contains(*w));
        let query = typed_terms
            .clone()
            .chain(typed_terms)
            .chain(added.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        let mut hits: Vec<Hit> = self
            .engine
            .search(&query, self.docs.len())
            .into_iter()
            .map(|r| {
                let doc = &self.docs[r.document.id];
                // "sqla vs django orm" names Django but compares: the
                // neutral entry should win, as in "rq or celery".
                let factor = match (&doc.entry, &doc.framework, &framework) {
                    (Entry::Topic(_), _, _) if both_named => TOPIC_IN_COMPARISON,
                    (_, Some(f), Some(asked)) if f == asked && !cue => SAME_FRAMEWORK,
                    (_, Some(f), Some(asked)) if f != asked => OTHER_FRAMEWORK,
                    (_, Some(_), None) if intent == Intent::Compare => ONE_SIDED_IN_COMPARISON,
                    (_, Some(_), None) => ONE_SIDED_UNASKED,
                    _ => 1.0,
                };
                Hit {
                    entry: doc.entry.clone(),
                    score: r.score * factor,
                }
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        let best = hits.first().map_or(0.0, |h| h.score);
        if best < MIN_BM25_SCORE {
            return Answer::refused(Refusal::NoMatch, framework, intent);
        }
        hits.retain(|h| h.score >= best * MIN_RELATIVE_SCORE);
        hits.truncate(MAX_RESULTS);
        Answer {
            hits,
            framework,
            intent,
            refusal: None,
        }
    }

    /// Whether a question says anything besides framework names, comparison
    /// cues and common words ("django or flask?" does not).
    fn asks_more_than_frameworks(&self, words: &[String]) -> bool {
        words.iter().any(|w| {
            !FRAMEWORK_IDS.contains(&w.as_str())
                && !self.compare_cues.contains(w)
                && self.tokenizer.tokenize(w).iter().any(|s| !self.weak_stems.contains(s))
        })
    }

    /// A question naming a framework is on-topic; otherwise more than half
    /// of its meaningful words must be the knowledge base's own.
    fn on_topic(&self, words: &[String], explained: &[bool], named: &[&str]) -> bool {
        if !named.is_empty() {
            return true;
        }
        let (mut meaningful, mut known) = (0usize, 0usize);
        for (w, explained) in words.iter().zip(explained) {
            let stems = self.tokenizer.tokenize(w);
            if stems.is_empty() || stems.iter().all(|s| self.weak_stems.contains(s)) {
                continue;
            }
            meaningful += 1;
            if *explained || stems.iter().any(|s| self.anchor_stems.contains(s)) {
                known += 1;
            }
        }
        known > 0 && known as f32 > meaningful as f32 * MIN_ON_TOPIC_SHARE
    }

    /// The best topic for what was typed: the best topic hit, or the first
    /// related topic of the best FAQ entry.
    pub fn best_topic(&self, typed: &str, kb: &KnowledgeBase) -> Option<String> {
        self.ask(typed).hits.iter().find_map(|h| match &h.entry {
            Entry::Topic(id) => Some(id.clone()),
            Entry::Faq(id) => kb.faq_entry(id).and_then(|e| e.topics.first().cloned()),
        })
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

fn contains_phrase(words: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && words.windows(phrase.len()).any(|w| w == phrase)
}

/// Lower-cased words. Dots, pluses and apostrophes inside a word are kept,
/// so versions (`5.2`), `n+1` and `what's` stay whole; `socket.io` too.
fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    let inner = |c: char| matches!(c, '.' | '+' | '\'' | '’');
    s.split(move |c: char| !(c.is_alphanumeric() || inner(c)))
        .map(move |w| w.trim_matches(inner))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().replace('’', "'"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::content::Content;

    fn content() -> Content {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/responses"));
        Content::load(dir).expect("responses/ loads")
    }

    fn index() -> (SearchIndex, Vec<String>) {
        let content = content();
        let ids = content.knowledge.topics.iter().map(|t| t.id.clone()).collect();
        (SearchIndex::new(&content.knowledge), ids)
    }

    fn ids(answer: &Answer) -> Vec<&str> {
        answer.hits.iter().map(|h| h.entry.id()).collect()
    }

    fn top(idx: &SearchIndex, q: &str) -> Option<String> {
        idx.ask(q).hits.first().map(|h| h.entry.id().to_string())
    }

    #[test]
    fn model_serving_question_finds_model_serving() {
        let (idx, _) = index();
        let a = idx.ask("is flask ok for serving a pytorch model?");
        assert_eq!(a.framework.as_deref(), Some("flask"));
        assert_eq!(ids(&a).first(), Some(&"ml_serving"), "{:?}", ids(&a));
        assert!(a.hits.len() <= MAX_RESULTS);
        assert!(a.hits.windows(2).all(|w| w[0].score >= w[1].score), "{:?}", a.hits);
    }

    #[test]
    fn migrations_question_finds_orm_or_migrations() {
        let (idx, _) = index();
        let a = idx.ask("how do I do database migrations");
        assert!(
            matches!(ids(&a).first(), Some(&("orm" | "migrations_flask"))),
            "{:?}",
            ids(&a)
        );
        assert_eq!(a.framework, None, "names no framework");
    }

    #[test]
    fn naming_one_framework_picks_its_side() {
        let (idx, _) = index();
        assert_eq!(top(&idx, "celery with flask").as_deref(), Some("bg_jobs_flask"));
        assert_eq!(top(&idx, "celery in django").as_deref(), Some("bg_jobs_django"));
        let a = idx.ask("htmx in flask");
        assert_eq!(a.framework.as_deref(), Some("flask"));
        assert_eq!(a.intent, Intent::Lookup);
    }

    #[test]
    fn both_frameworks_or_a_cue_make_a_comparison() {
        let (idx, _) = index();
        let a = idx.ask("django or flask for websockets?");
        assert_eq!(a.framework, None);
        assert_eq!(a.intent, Intent::Compare);
        let a = idx.ask("which is faster");
        assert_eq!(a.intent, Intent::Compare);
        assert!(
            matches!(ids(&a).first(), Some(&("which_is_faster" | "performance"))),
            "{:?}",
            ids(&a)
        );
    }

    #[test]
    fn synonyms_and_abbreviations_are_understood() {
        let (idx, _) = index();
        assert_eq!(top(&idx, "bg jobs in dj").as_deref(), Some("bg_jobs_django"));
        let a = idx.ask("login in dj");
        assert_eq!(a.framework.as_deref(), Some("django"));
        assert!(
            matches!(ids(&a).first(), Some(&("auth_django" | "auth"))),
            "{:?}",
            ids(&a)
        );
    }

    #[test]
    fn dated_questions_find_the_dated_entry() {
        let (idx, _) = index();
        assert_eq!(
            top(&idx, "when does django 5.2 support end").as_deref(),
            Some("django_5_2_support")
        );
    }

    #[test]
    fn typo_still_finds_auth() {
        let (idx, _) = index();
        let a = idx.ask("authentification");
        assert!(
            matches!(ids(&a).first(), Some(&("auth" | "auth_django" | "auth_flask"))),
            "{:?}",
            ids(&a)
        );
        assert_eq!(top(&idx, "celary with flsk").as_deref(), Some("bg_jobs_flask"));
    }

    #[test]
    fn off_topic_questions_are_refused() {
        let (idx, _) = index();
        for q in [
            "what's the weather in paris",
            "how do i center a div",
            "best pizza",
            "rust vs go",
            "how to clean a vacuum flask",
            "xyzzy plugh",
        ] {
            let a = idx.ask(q);
            assert!(a.hits.is_empty(), "{q:?} -> {:?}", ids(&a));
            assert_eq!(a.refusal, Some(Refusal::OffTopic), "{q:?}");
        }
    }

    #[test]
    fn vague_on_topic_questions_get_an_answer() {
        let (idx, _) = index();
        assert_eq!(
            top(&idx, "which should I use for a blog").as_deref(),
            Some("blog_choice")
        );
    }

    #[test]
    fn empty_question_finds_nothing() {
        let (idx, _) = index();
        for q in ["", "   ", "\n", "?!"] {
            let a = idx.ask(q);
            assert!(a.hits.is_empty(), "{q:?} -> {:?}", ids(&a));
            assert_eq!(a.refusal, Some(Refusal::Empty));
            assert_eq!(a.framework, None);
        }
    }

    #[test]
    fn refusal_is_set_exactly_when_nothing_is_answered() {
        let (idx, _) = index();
        for q in [
            "orm",
            "lol",
            "django",
            "flask admin",
            "a b c d e f g",
            &"word ".repeat(500),
        ] {
            let a = idx.ask(q);
            assert_eq!(a.hits.is_empty(), a.refusal.is_some(), "{q:?}");
            assert!(a.hits.len() <= MAX_RESULTS);
        }
    }

    #[test]
    fn best_topic_maps_faq_entries_to_their_topic() {
        let content = content();
        let idx = SearchIndex::new(&content.knowledge);
        assert_eq!(
            idx.best_topic("htmx with django", &content.knowledge).as_deref(),
            Some("templates")
        );
        assert_eq!(idx.best_topic("xyzzy plugh", &content.knowledge), None);
    }

    #[test]
    fn words_keep_versions_and_symbols() {
        let w: Vec<String> = words("Django 5.2? n+1, What's new; socket.io.").collect();
        assert_eq!(w, ["django", "5.2", "n+1", "what's", "new", "socket.io"]);
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
