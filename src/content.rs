//! Loading and validating `responses/`: the knowledge base, the
//! questionnaire and the advice, parsed strictly and cross-checked.
//!
//! The one module that reads files: it lives outside [`crate::domain`] so the
//! domain stays pure (values in, values out). It parses the files into domain
//! types and hands them over as one validated [`Content`].
//!
//! Every problem is collected (not just the first) and names the file and the
//! entry, e.g. `responses/questionnaire.toml: question "team", option "x":
//! label is 93 characters (Discord allows 80)`. Limits that Discord imposes on
//! what the bot renders are enforced here, at start-up, rather than discovered
//! as a rejected payload in production.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use thiserror::Error;

use crate::domain::advice::{split_atom, AdviceFile, AdviceItem, When};
use crate::domain::framework::{limits, FRAMEWORK_IDS};
use crate::domain::knowledge::{
    normalise, Fact, FaqFile, FrameworksFile, KnowledgeBase, Messages, SearchTerms, TopicsFile,
};
use crate::domain::questionnaire::{Condition, Question, QuestionKind, Questionnaire, QuestionnaireFile, SIGNALS};
use crate::domain::scoring::{self, Recommendation, WeightedPick};

pub const FRAMEWORKS_FILE: &str = "frameworks.toml";
pub const TOPICS_FILE: &str = "topics.toml";
pub const QUESTIONNAIRE_FILE: &str = "questionnaire.toml";
pub const MESSAGES_FILE: &str = "messages.toml";
pub const ADVICE_FILE: &str = "advice.toml";
pub const FAQ_FILE: &str = "faq.toml";
pub const SEARCH_FILE: &str = "search.toml";

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}: {entry}: {message}")]
pub struct ContentError {
    pub file: String,
    pub entry: String,
    pub message: String,
}

/// Every problem found in `responses/`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct ContentErrors(pub Vec<ContentError>);

impl fmt::Display for ContentErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} problem(s) in the content:", self.0.len())?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

/// Everything the bot knows and asks, validated.
#[derive(Debug, Clone)]
pub struct Content {
    pub knowledge: KnowledgeBase,
    pub questionnaire: Questionnaire,
    /// Close-call and FastAPI sentences, and when the FastAPI note applies.
    pub advice: AdviceFile,
}

impl Content {
    /// Scores `picks` against this content: passes the questionnaire, the
    /// knowledge base and the advice to [`scoring::recommend`], which takes
    /// only the pieces it reads so the domain never depends on this loader.
    pub fn recommend(&self, picks: &[WeightedPick]) -> Recommendation {
        scoring::recommend(&self.questionnaire, &self.knowledge, &self.advice, picks)
    }
}

struct Problems {
    dir: PathBuf,
    list: Vec<ContentError>,
}

impl Problems {
    fn push(&mut self, file: &str, entry: impl Into<String>, message: impl Into<String>) {
        self.list.push(ContentError {
            file: self.dir.join(file).display().to_string(),
            entry: entry.into(),
            message: message.into(),
        });
    }

    /// Non-empty and at most `max` characters.
    fn text(&mut self, file: &str, entry: &str, what: &str, value: &str, max: usize) {
        let n = value.chars().count();
        if value.trim().is_empty() {
            self.push(file, entry, format!("{what} is empty"));
        } else if n > max {
            self.push(file, entry, format!("{what} is {n} characters (at most {max})"));
        }
        if value.contains('@') {
            // Echoing an @ is harmless with allowed_mentions empty, but text
            // that *looks* like a ping is confusing; keep content free of it.
            self.push(file, entry, format!("{what} contains '@'"));
        }
    }

    fn id(&mut self, file: &str, entry: &str, id: &str) {
        let ok = !id.is_empty()
            && id.len() <= limits::ID
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            self.push(
                file,
                entry,
                format!("id {id:?} must be 1..={} characters of a-z, 0-9 and _", limits::ID),
            );
        }
    }

    fn list(&mut self, file: &str, entry: &str, what: &str, items: &[String], max: usize) {
        if items.is_empty() {
            self.push(file, entry, format!("{what} is empty"));
        }
        for (i, item) in items.iter().enumerate() {
            self.text(file, entry, &format!("{what}[{i}]"), item, max);
        }
    }

    fn framework_key(&mut self, file: &str, entry: &str, what: &str, key: &str) {
        if !FRAMEWORK_IDS.contains(&key) {
            self.push(
                file,
                entry,
                format!(
                    "{what} names unknown framework {key:?} (known: {})",
                    FRAMEWORK_IDS.join(", ")
                ),
            );
        }
    }

    fn fact(&mut self, file: &str, entry: &str, fact: &Fact, needs_framework: bool) {
        self.text(file, entry, "fact text", &fact.text, 300);
        if !(fact.source.starts_with("https://") || fact.source.starts_with("http://")) {
            self.push(file, entry, format!("fact source {:?} is not a URL", fact.source));
        }
        if !valid_as_of(&fact.as_of) {
            self.push(
                file,
                entry,
                format!("fact as_of {:?} is not YYYY-MM or YYYY-MM-DD", fact.as_of),
            );
        }
        match (&fact.framework, needs_framework) {
            (Some(f), _) => self.framework_key(file, entry, "fact", f),
            (None, true) => self.push(file, entry, "fact has no framework"),
            (None, false) => {}
        }
    }
}

fn valid_as_of(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let num = |p: &str, len: usize, lo: u32, hi: u32| {
        p.len() == len && p.parse::<u32>().is_ok_and(|v| (lo..=hi).contains(&v))
    };
    match parts.as_slice() {
        [y, m] => num(y, 4, 1990, 2100) && num(m, 2, 1, 12),
        [y, m, d] => num(y, 4, 1990, 2100) && num(m, 2, 1, 12) && num(d, 2, 1, 31),
        _ => false,
    }
}

/// The day an `as_of` stands for (the first of the month for `YYYY-MM`).
fn as_of_date(s: &str) -> Option<chrono::NaiveDate> {
    let mut parts = s.split('-').map(|p| p.parse::<u32>().ok());
    let (y, m) = (parts.next()??, parts.next()??);
    let d = parts.next().map_or(Some(1), |d| d)?;
    chrono::NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
}

impl Content {
    /// Dated facts checked more than `max_age_days` before `today`: a
    /// warning for `check` to print (facts age, they do not break), naming
    /// the file and the entry.
    pub fn stale_facts(&self, today: chrono::NaiveDate, max_age_days: u32) -> Vec<ContentError> {
        let frameworks = self.knowledge.frameworks.iter().flat_map(|fw| {
            fw.facts
                .iter()
                .map(move |f| (FRAMEWORKS_FILE, format!("framework {:?}", fw.id), f))
        });
        let topics = self.knowledge.topics.iter().flat_map(|t| {
            t.facts
                .iter()
                .map(move |f| (TOPICS_FILE, format!("topic {:?}", t.id), f))
        });
        frameworks
            .chain(topics)
            .filter_map(|(file, entry, fact)| {
                let age = (today - as_of_date(&fact.as_of)?).num_days();
                (age > i64::from(max_age_days)).then(|| ContentError {
                    file: file.to_string(),
                    entry: format!("{entry}, fact {:?}", fact.text.chars().take(50).collect::<String>()),
                    message: format!(
                        "as_of {} is {age} days old (more than {max_age_days}); check it again",
                        fact.as_of
                    ),
                })
            })
            .collect()
    }
}

fn read<T: DeserializeOwned>(dir: &Path, file: &str, problems: &mut Problems) -> Option<T> {
    let path = dir.join(file);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            problems.push(file, "file", format!("cannot read: {e}"));
            return None;
        }
    };
    match toml::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            // toml's message carries line, column and the offending key.
            let msg = e
                .to_string()
                .replace('\n', " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            problems.push(file, "parse", msg);
            None
        }
    }
}

impl Content {
    /// Reads and validates the four files in `dir`.
    pub fn load(dir: &Path) -> Result<Content, ContentErrors> {
        let mut p = Problems {
            dir: dir.to_path_buf(),
            list: Vec::new(),
        };
        let frameworks: Option<FrameworksFile> = read(dir, FRAMEWORKS_FILE, &mut p);
        let topics: Option<TopicsFile> = read(dir, TOPICS_FILE, &mut p);
        let questionnaire: Option<QuestionnaireFile> = read(dir, QUESTIONNAIRE_FILE, &mut p);
        let messages: Option<Messages> = read(dir, MESSAGES_FILE, &mut p);
        let advice: Option<AdviceFile> = read(dir, ADVICE_FILE, &mut p);
        if let Some(f) = &frameworks {
            check_frameworks(f, &mut p);
        }
        if let Some(t) = &topics {
            check_topics(t, &mut p);
        }
        if let Some(q) = &questionnaire {
            check_questionnaire(q, &mut p);
        }
        if let Some(m) = &messages {
            check_messages(m, &mut p);
        }
        // Conditions name questions and options: checked once both parsed.
        if let Some(q) = &questionnaire {
            if let Some(f) = &frameworks {
                check_framework_advice(f, &q.questions, &mut p);
            }
            if let Some(a) = &advice {
                check_advice(a, &q.questions, &mut p);
            }
        }
        let faq: Option<FaqFile> = read(dir, FAQ_FILE, &mut p);
        let search: Option<SearchTerms> = read(dir, SEARCH_FILE, &mut p);
        if let (Some(faq), Some(t)) = (&faq, &topics) {
            check_faq(faq, t, &mut p);
        }
        if let Some(s) = &search {
            check_search_terms(s, &mut p);
        }
        match (frameworks, topics, questionnaire, messages, advice, faq, search) {
            (Some(f), Some(t), Some(q), Some(m), Some(a), Some(faq), Some(search)) if p.list.is_empty() => {
                Ok(Content {
                    knowledge: KnowledgeBase::new(f.frameworks, t.topics, m).with_faq(faq.entries, search),
                    questionnaire: Questionnaire { questions: q.questions },
                    advice: a,
                })
            }
            _ => Err(ContentErrors(p.list)),
        }
    }
}

fn check_frameworks(file: &FrameworksFile, p: &mut Problems) {
    let f = FRAMEWORKS_FILE;
    let ids: Vec<&str> = file.frameworks.iter().map(|fw| fw.id.as_str()).collect();
    for want in FRAMEWORK_IDS {
        if !ids.contains(&want) {
            p.push(f, format!("framework {want:?}"), "is missing");
        }
    }
    let mut seen = BTreeSet::new();
    for fw in &file.frameworks {
        let entry = format!("framework {:?}", fw.id);
        p.framework_key(f, &entry, "id", &fw.id);
        if !seen.insert(fw.id.as_str()) {
            p.push(f, &entry, "is defined twice");
        }
        p.text(f, &entry, "name", &fw.name, 40);
        p.text(f, &entry, "tagline", &fw.tagline, 100);
        p.text(f, &entry, "summary", &fw.summary, limits::SUMMARY);
        if fw.colour > 0xFF_FFFF {
            p.push(f, &entry, format!("colour {:#x} is not a 24-bit RGB value", fw.colour));
        }
        for (what, url) in [("docs_url", &fw.docs_url), ("website_url", &fw.website_url)] {
            if !url.starts_with("https://") || url.len() > 512 {
                p.push(f, &entry, format!("{what} {url:?} must be an https URL"));
            }
        }
        for (what, items) in [
            ("tradeoff", &fw.tradeoffs),
            ("next_step", &fw.next_steps),
            ("package", &fw.packages),
        ] {
            if items.is_empty() {
                p.push(f, &entry, format!("has no [[framework.{what}]] entries"));
            }
            if !items.iter().any(|i| i.when == When::default()) {
                // Some answers satisfy no condition; one unconditional item
                // keeps the list (and its Discord field) from being empty.
                p.push(f, &entry, format!("needs at least one {what} without `when`"));
            }
            for (i, item) in items.iter().enumerate() {
                p.text(
                    f,
                    &format!("{entry}, {what} {i}"),
                    "text",
                    &item.text,
                    limits::LIST_ITEM,
                );
            }
        }
        for fact in &fw.facts {
            p.fact(f, &entry, fact, false);
        }
    }
}

fn check_topics(file: &TopicsFile, p: &mut Problems) {
    let f = TOPICS_FILE;
    if file.topics.is_empty() {
        p.push(f, "topics", "no [[topic]] entries");
    }
    if file.topics.len() > 25 {
        // Autocomplete offers at most 25 choices; more topics would be unreachable there.
        p.push(
            f,
            "topics",
            format!("{} topics; autocomplete shows at most 25", file.topics.len()),
        );
    }
    // Every name a user can type must lead to one topic only.
    let mut names: std::collections::BTreeMap<String, String> = Default::default();
    for t in &file.topics {
        let entry = format!("topic {:?}", t.id);
        p.id(f, &entry, &t.id);
        p.text(f, &entry, "title", &t.title, limits::TOPIC_TITLE);
        p.text(f, &entry, "django", &t.django, limits::FIELD);
        p.text(f, &entry, "flask", &t.flask, limits::FIELD);
        p.text(f, &entry, "comparison", &t.comparison, limits::FIELD);
        if t.aliases.is_empty() {
            p.push(f, &entry, "aliases is empty (search and autocomplete need them)");
        }
        let mut own = BTreeSet::new();
        for name in std::iter::once(&t.id)
            .chain(std::iter::once(&t.title))
            .chain(&t.aliases)
        {
            let key = normalise(name);
            if key.is_empty() {
                p.push(f, &entry, "an alias is empty");
                continue;
            }
            if !own.insert(key.clone()) {
                continue;
            }
            if let Some(other) = names.insert(key.clone(), t.id.clone()) {
                p.push(f, &entry, format!("name {name:?} is also used by topic {other:?}"));
            }
        }
        for fact in &t.facts {
            p.fact(f, &entry, fact, true);
        }
    }
}

/// Every label: present (serde), not blank, short enough for a field or a
/// button, keeping its placeholders; file names safe for `attachment://`.
fn check_labels(labels: &crate::domain::labels::Labels, p: &mut Problems) {
    let f = MESSAGES_FILE;
    for (key, text, placeholders) in labels.entries() {
        let entry = format!("labels.{key}");
        p.text(f, &entry, "text", text, 300);
        for hole in placeholders {
            if !text.contains(&format!("{{{hole}}}")) {
                p.push(f, &entry, format!("must contain {{{hole}}}"));
            }
        }
    }
    for (key, name) in [
        ("chart_filename", &labels.chart_filename),
        ("record_filename", &labels.record_filename),
    ] {
        let safe = name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !safe {
            p.push(
                f,
                format!("labels.{key}"),
                "must be a plain file name ([A-Za-z0-9._-], at most 64)",
            );
        }
    }
    if !labels.chart_filename.ends_with(".png") {
        p.push(f, "labels.chart_filename", "must end in .png");
    }
    if !labels.record_filename.ends_with(".md") {
        p.push(f, "labels.record_filename", "must end in .md");
    }
}

fn check_messages(m: &Messages, p: &mut Problems) {
    let f = MESSAGES_FILE;
    check_labels(&m.labels, p);
    let c = &m.commands;
    for (key, value) in [
        ("django", &c.django),
        ("flask", &c.flask),
        ("compare", &c.compare),
        ("ask", &c.ask),
        ("consult", &c.consult),
        ("consult_start", &c.consult_start),
        ("consult_resume", &c.consult_resume),
        ("consult_cancel", &c.consult_cancel),
        ("advisor", &c.advisor),
        ("advisor_help", &c.advisor_help),
        ("advisor_forget_me", &c.advisor_forget_me),
        ("advisor_stats", &c.advisor_stats),
        ("option_topic", &c.option_topic),
        ("option_aspect", &c.option_aspect),
        ("option_question", &c.option_question),
        ("option_mode", &c.option_mode),
        ("choice_mode_private", &c.choice_mode_private),
        ("choice_mode_team", &c.choice_mode_team),
    ] {
        p.text(
            f,
            &format!("commands.{key}"),
            "description",
            value,
            limits::COMMAND_DESCRIPTION,
        );
    }
    let t = &m.text;
    for (key, value, max) in [
        ("help", &t.help, limits::TEXT),
        ("welcome", &t.welcome, 300),
        ("resumed", &t.resumed, 300),
        ("cancelled", &t.cancelled, 300),
        ("restarted", &t.restarted, 300),
        ("no_active", &t.no_active, 300),
        ("already_active", &t.already_active, 300),
        ("expired", &t.expired, 300),
        ("stale", &t.stale, 300),
        ("not_owner", &t.not_owner, 300),
        ("unknown_component", &t.unknown_component, 300),
        ("unknown_command", &t.unknown_command, 300),
        ("stats_forbidden", &t.stats_forbidden, 300),
        ("facilitator_only", &t.facilitator_only, 300),
        ("no_votes", &t.no_votes, 300),
        ("my_score_none", &t.my_score_none, 300),
        ("team_welcome", &t.team_welcome, 300),
        ("team_needs_channel", &t.team_needs_channel, 300),
        ("rate_limited", &t.rate_limited, 300),
        ("internal_error", &t.internal_error, 300),
        ("no_match", &t.no_match, 300),
        ("forget_confirm", &t.forget_confirm, 300),
        ("forget_done", &t.forget_done, 300),
        ("forget_cancelled", &t.forget_cancelled, 300),
        ("close_call", &t.close_call, 600),
        ("fastapi_note", &t.fastapi_note, 600),
        ("shared_by", &t.shared_by, 200),
        ("lean_django", &t.lean_django, 60),
        ("lean_flask", &t.lean_flask, 60),
        ("lean_even", &t.lean_even, 60),
    ] {
        p.text(f, &format!("text.{key}"), "text", value, max);
    }
    if !t.shared_by.contains("{name}") {
        p.push(f, "text.shared_by", "must contain {name}");
    }
}

/// One `when` condition: every atom is `question.option` naming a real
/// question and one of its options.
fn check_when(when: &When, questions: &[Question], file: &str, entry: &str, p: &mut Problems) {
    // One message per problem: two options of one unknown question are one mistake.
    let mut messages: Vec<String> = Vec::new();
    for (list, atom) in when.atoms() {
        let message = match split_atom(atom) {
            None => Some(format!("when.{list} entry {atom:?} is not question.option")),
            Some((qid, oid)) => match questions.iter().find(|q| q.id == qid) {
                None => Some(format!("when.{list} names unknown question {qid:?}")),
                Some(q) if q.option(oid).is_none() => Some(format!(
                    "when.{list} names option {oid:?}, which question {qid:?} does not have"
                )),
                Some(_) => None,
            },
        };
        if let Some(m) = message.filter(|m| !messages.contains(m)) {
            messages.push(m);
        }
    }
    for m in messages {
        p.push(file, entry, m);
    }
}

/// Where an advice item is, for error messages: its list, index and opening words.
fn item_entry(framework: &str, what: &str, index: usize, item: &AdviceItem) -> String {
    let start: String = item.text.chars().take(40).collect();
    format!("framework {framework:?}, {what} {index} ({start:?})")
}

fn check_framework_advice(file: &FrameworksFile, questions: &[Question], p: &mut Problems) {
    for fw in &file.frameworks {
        for (what, items) in [
            ("tradeoff", &fw.tradeoffs),
            ("next_step", &fw.next_steps),
            ("package", &fw.packages),
        ] {
            for (i, item) in items.iter().enumerate() {
                check_when(
                    &item.when,
                    questions,
                    FRAMEWORKS_FILE,
                    &item_entry(&fw.id, what, i, item),
                    p,
                );
            }
        }
    }
}

fn check_advice(a: &AdviceFile, questions: &[Question], p: &mut Problems) {
    let f = ADVICE_FILE;
    let t = &a.texts;
    for (key, value, placeholders) in [
        (
            "close_call_tension",
            &t.close_call_tension,
            &["{for_reason}", "{for_name}", "{against_reason}", "{against_name}"][..],
        ),
        ("close_call_experiment", &t.close_call_experiment, &["{experiment}"][..]),
        ("fastapi_because", &t.fastapi_because, &["{because}"][..]),
        ("and", &t.and, &[][..]),
    ] {
        p.text(f, &format!("texts.{key}"), "text", value, 300);
        for ph in placeholders {
            if !value.contains(ph) {
                p.push(f, format!("texts.{key}"), format!("must contain {ph}"));
            }
        }
    }
    for (qid, text) in &a.experiments {
        let entry = format!("experiments.{qid}");
        if !questions.iter().any(|q| &q.id == qid) {
            p.push(f, &entry, format!("names unknown question {qid:?}"));
        }
        p.text(f, &entry, "text", text, 300);
    }
    if a.fastapi.is_empty() {
        p.push(f, "fastapi", "no [[fastapi]] triggers");
    }
    for (i, trigger) in a.fastapi.iter().enumerate() {
        let entry = format!("fastapi {i}");
        if trigger.when == When::default() {
            p.push(f, &entry, "when is empty: the note would appear for every answer");
        }
        check_when(&trigger.when, questions, f, &entry, p);
        p.text(f, &entry, "because", &trigger.because, 200);
    }
}

fn check_questionnaire(file: &QuestionnaireFile, p: &mut Problems) {
    let f = QUESTIONNAIRE_FILE;
    if file.questions.is_empty() {
        p.push(f, "questions", "no [[question]] entries");
    }
    let mut seen: Vec<&str> = Vec::new();
    // Reachability, computed in file order (conditions only look back):
    // `reachable[i]`: some path asks question i; `always[i]`: every path does.
    let mut reachable: Vec<bool> = Vec::new();
    let mut always: Vec<bool> = Vec::new();
    for q in &file.questions {
        let entry = format!("question {:?}", q.id);
        p.id(f, &entry, &q.id);
        if seen.contains(&q.id.as_str()) {
            p.push(f, &entry, "is defined twice");
        }
        p.text(f, &entry, "prompt", &q.prompt, limits::PROMPT);
        if let Some(h) = &q.help {
            p.text(f, &entry, "help", h, limits::PROMPT);
        }
        if !(q.importance.is_finite() && q.importance > 0.0 && q.importance <= 5.0) {
            p.push(f, &entry, format!("importance {} must be in (0, 5]", q.importance));
        }
        let n = q.options.len();
        if !(2..=limits::OPTIONS_PER_QUESTION).contains(&n) {
            p.push(
                f,
                &entry,
                format!("has {n} options (2..={} allowed)", limits::OPTIONS_PER_QUESTION),
            );
        }
        match q.kind {
            QuestionKind::Single => {
                if q.min_choices.is_some() || q.max_choices.is_some() {
                    p.push(f, &entry, "min_choices/max_choices only apply to kind = \"multi\"");
                }
            }
            QuestionKind::Multi => {
                let (min, max) = q.choice_bounds();
                if min < 1 || min > max || max > n {
                    p.push(
                        f,
                        &entry,
                        format!("choice bounds {min}..={max} do not fit its {n} options"),
                    );
                }
            }
        }
        let mut option_ids = BTreeSet::new();
        for o in &q.options {
            let oe = format!("question {:?}, option {:?}", q.id, o.id);
            p.id(f, &oe, &o.id);
            if !option_ids.insert(o.id.as_str()) {
                p.push(f, &oe, "is defined twice in this question");
            }
            let label_len = o.label.chars().count();
            if o.label.trim().is_empty() {
                p.push(f, &oe, "label is empty");
            } else if label_len > limits::OPTION_LABEL {
                p.push(
                    f,
                    &oe,
                    format!(
                        "label is {label_len} characters (Discord allows {})",
                        limits::OPTION_LABEL
                    ),
                );
            }
            if let Some(d) = &o.description {
                p.text(f, &oe, "description", d, limits::OPTION_DESCRIPTION);
            }
            if let Some(e) = &o.emoji {
                if e.trim().is_empty() || e.chars().count() > 8 {
                    p.push(f, &oe, format!("emoji {e:?} is not a single emoji"));
                }
            }
            p.text(f, &oe, "reaction", &o.reaction, limits::REACTION);
            p.text(f, &oe, "reason", &o.reason, limits::REASON);
            for (fw, w) in &o.weights {
                p.framework_key(f, &oe, "weights", fw);
                if !(-5..=5).contains(w) {
                    p.push(f, &oe, format!("weight {fw} = {w} is outside -5..=5"));
                }
            }
            for fw in FRAMEWORK_IDS {
                if !o.weights.contains_key(fw) {
                    p.push(f, &oe, format!("weights has no {fw:?}"));
                }
            }
            for (fw, text) in &o.caveat {
                p.framework_key(f, &oe, "caveat", fw);
                p.text(f, &oe, "caveat", text, limits::LIST_ITEM);
            }
            for (fw, text) in &o.next_step {
                p.framework_key(f, &oe, "next_step", fw);
                p.text(f, &oe, "next_step", text, limits::LIST_ITEM);
            }
            for s in &o.signals {
                if !SIGNALS.contains(&s.as_str()) {
                    p.push(f, &oe, format!("unknown signal {s:?} (known: {})", SIGNALS.join(", ")));
                }
            }
        }
        // Branching: refer back only, to existing options; compute reachability.
        let check_condition = |c: &Condition, what: &str, p: &mut Problems| -> Option<usize> {
            let Some(idx) = seen.iter().position(|id| *id == c.question) else {
                let later = file.questions.iter().any(|o| o.id == c.question);
                p.push(
                    f,
                    &entry,
                    if later {
                        format!("{what} refers to {:?}, which is not an earlier question", c.question)
                    } else {
                        format!("{what} refers to unknown question {:?}", c.question)
                    },
                );
                return None;
            };
            if c.any_of.is_empty() {
                p.push(f, &entry, format!("{what}.any_of is empty"));
            }
            let target = &file.questions[idx];
            for o in &c.any_of {
                if target.option(o).is_none() {
                    p.push(
                        f,
                        &entry,
                        format!(
                            "{what} names option {o:?}, which question {:?} does not have",
                            c.question
                        ),
                    );
                }
            }
            Some(idx)
        };
        let (is_reachable, is_always) = match (&q.show_if, &q.skip_if) {
            (Some(_), Some(_)) => {
                p.push(f, &entry, "has both show_if and skip_if; use one");
                (true, false)
            }
            (Some(c), None) => match check_condition(c, "show_if", p) {
                Some(i) => (reachable[i] && !c.any_of.is_empty(), false),
                None => (true, false),
            },
            (None, Some(c)) => match check_condition(c, "skip_if", p) {
                Some(i) => {
                    let target = &file.questions[i];
                    let covers_all = target.options.iter().all(|o| c.any_of.contains(&o.id));
                    (!(always[i] && covers_all), false)
                }
                None => (true, false),
            },
            (None, None) => (true, true),
        };
        if !is_reachable {
            p.push(f, &entry, "is unreachable: no combination of earlier answers asks it");
        }
        reachable.push(is_reachable);
        always.push(is_always);
        seen.push(&q.id);
    }
}

/// FAQ entries: unique ids (also distinct from topic ids, since both are
/// answers of one search), Discord-sized text, URL sources, dated facts, and
/// related topics that exist.
fn check_faq(file: &FaqFile, topics: &TopicsFile, p: &mut Problems) {
    let f = FAQ_FILE;
    if file.entries.is_empty() {
        p.push(f, "faq", "no [[faq]] entries");
    }
    let topic_ids: BTreeSet<&str> = topics.topics.iter().map(|t| t.id.as_str()).collect();
    let mut seen = BTreeSet::new();
    for e in &file.entries {
        let entry = format!("faq {:?}", e.id);
        p.id(f, &entry, &e.id);
        if !seen.insert(e.id.as_str()) {
            p.push(f, &entry, "is defined twice");
        }
        if topic_ids.contains(e.id.as_str()) {
            p.push(f, &entry, "id is also a topic id");
        }
        // The question is an embed title (256) and a button label when related.
        p.text(f, &entry, "question", &e.question, limits::FAQ_QUESTION);
        p.text(f, &entry, "answer", &e.answer, limits::FIELD);
        if let Some(fw) = &e.framework {
            p.framework_key(f, &entry, "framework", fw);
        }
        p.list(f, &entry, "keywords", &e.keywords, limits::TOPIC_TITLE);
        for t in &e.topics {
            if !topic_ids.contains(t.as_str()) {
                p.push(f, &entry, format!("topics names unknown topic {t:?}"));
            }
        }
        if e.sources.is_empty() {
            p.push(f, &entry, "sources is empty");
        }
        for url in &e.sources {
            if !url.starts_with("https://") || url.len() > 512 || url.contains(char::is_whitespace) {
                p.push(f, &entry, format!("source {url:?} is not an https URL"));
            }
        }
        for fact in &e.facts {
            p.fact(f, &entry, fact, false);
        }
    }
}

fn check_search_terms(s: &SearchTerms, p: &mut Problems) {
    let f = SEARCH_FILE;
    let t = &s.text;
    for (key, value, max) in [
        ("unknown", &t.unknown, 300),
        ("sources", &t.sources, 60),
        ("facts", &t.facts, 60),
        ("related", &t.related, 60),
        ("compared", &t.compared, 100),
    ] {
        p.text(f, &format!("text.{key}"), "text", value, max);
    }
    if !t.compared.contains("{title}") {
        p.push(f, "text.compared", "must contain {title}");
    }
    let lower = |v: &str| v == v.to_lowercase() && !v.trim().is_empty();
    for (key, value) in &s.synonyms {
        if !lower(key) || !lower(value) {
            p.push(
                f,
                format!("synonyms.{key:?}"),
                "word and meaning must be non-empty lower case",
            );
        }
    }
    if !lower(&s.cues.general) {
        p.push(f, "cues.general", "must be non-empty lower case");
    }
    for (list, words) in [
        ("compare", &s.cues.compare),
        ("weak", &s.cues.weak),
        ("off_topic", &s.cues.off_topic),
    ] {
        if let Some(w) = words.iter().find(|w| !lower(w)) {
            p.push(f, format!("cues.{list}"), format!("{w:?} must be non-empty lower case"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{as_of_date, valid_as_of};

    #[test]
    fn as_of_dates() {
        use chrono::NaiveDate;
        assert_eq!(as_of_date("2026-11"), NaiveDate::from_ymd_opt(2026, 11, 1));
        assert_eq!(as_of_date("2026-11-30"), NaiveDate::from_ymd_opt(2026, 11, 30));
        assert_eq!(as_of_date("2026-13"), None);
        assert_eq!(as_of_date("late"), None);
    }

    #[test]
    fn as_of_formats() {
        assert!(valid_as_of("2026-11"));
        assert!(valid_as_of("2025-12-03"));
        assert!(!valid_as_of("2026"));
        assert!(!valid_as_of("2026-13"));
        assert!(!valid_as_of("26-11"));
        assert!(!valid_as_of("2026-11-32"));
        assert!(!valid_as_of("late 2026"));
    }
}
