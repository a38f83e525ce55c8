//! Advice chosen by the answers: the small condition language every
//! trade-off, next step and package in `responses/` uses to say when it
//! applies, plus the sentence templates that explain a close call and the
//! FastAPI note in the user's own terms (`responses/advice.toml`).
//!
//! A condition is written over `question.option` atoms, for example
//! `when = { any_of = ["auth.accounts", "auth.roles"], none_of = ["data_model.legacy_schema"] }`:
//! it holds when every `all_of` atom was answered, at least one `any_of`
//! atom was (if any are listed) and no `none_of` atom was. An empty condition
//! always holds. This is a leaf module: it knows nothing of questionnaires or
//! scoring, so `content.rs` validates the atoms and `scoring.rs` evaluates them.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

/// When an advice item applies, over `question.option` atoms.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct When {
    #[serde(default)]
    pub all_of: Vec<String>,
    #[serde(default)]
    pub any_of: Vec<String>,
    #[serde(default)]
    pub none_of: Vec<String>,
}

impl When {
    pub fn holds(&self, given: &Given) -> bool {
        self.all_of.iter().all(|a| given.has(a))
            && (self.any_of.is_empty() || self.any_of.iter().any(|a| given.has(a)))
            && !self.none_of.iter().any(|a| given.has(a))
    }

    /// Every atom the condition names, with the list it is in.
    pub fn atoms(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        let all = self.all_of.iter().map(|a| ("all_of", a.as_str()));
        let any = self.any_of.iter().map(|a| ("any_of", a.as_str()));
        let none = self.none_of.iter().map(|a| ("none_of", a.as_str()));
        all.chain(any).chain(none)
    }

    /// The atoms of `any_of` and `all_of` that the answers satisfy: what
    /// made the item appear, for "because" sentences.
    pub fn matched<'a>(&'a self, given: &'a Given) -> impl Iterator<Item = &'a str> + 'a {
        self.all_of
            .iter()
            .chain(&self.any_of)
            .filter(|a| given.has(a))
            .map(String::as_str)
    }
}

/// Splits `question.option` into its two ids.
pub fn split_atom(atom: &str) -> Option<(&str, &str)> {
    let (q, o) = atom.split_once('.')?;
    (!q.is_empty() && !o.is_empty() && !o.contains('.')).then_some((q, o))
}

/// The answers a consultation settled on, as `question.option` atoms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Given(BTreeSet<String>);

impl Given {
    pub fn new<'a>(picks: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Given(picks.into_iter().map(|(q, o)| format!("{q}.{o}")).collect())
    }

    pub fn has(&self, atom: &str) -> bool {
        self.0.contains(atom)
    }
}

/// One trade-off, next step or package line, and when it applies.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdviceItem {
    pub text: String,
    #[serde(default)]
    pub when: When,
}

/// One reason to mention FastAPI, with the words that explain it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FastApiTrigger {
    pub when: When,
    /// "you are putting a model behind an HTTP endpoint"
    pub because: String,
}

/// Sentence templates; `{name}` placeholders are filled by scoring.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdviceTexts {
    /// `{for_reason}`, `{for_name}`, `{against_reason}`, `{against_name}`.
    pub close_call_tension: String,
    /// `{experiment}`.
    pub close_call_experiment: String,
    /// `{because}`: the triggers' sentences, joined.
    pub fastapi_because: String,
    /// The word joining the last two items of a list ("and").
    pub and: String,
}

/// `responses/advice.toml`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdviceFile {
    pub texts: AdviceTexts,
    /// Question id -> the cheapest experiment that settles a close call
    /// driven by that question.
    pub experiments: BTreeMap<String, String>,
    #[serde(rename = "fastapi")]
    pub fastapi: Vec<FastApiTrigger>,
}

/// "a", "a and b", "a, b and c".
pub fn join_list(items: &[&str], and: &str) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} {and} {last}", init.join(", ")),
    }
}

/// Fills `{key}` placeholders.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    values
        .iter()
        .fold(template.to_string(), |t, (k, v)| t.replace(&format!("{{{k}}}"), v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn when(all: &[&str], any: &[&str], none: &[&str]) -> When {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        When {
            all_of: v(all),
            any_of: v(any),
            none_of: v(none),
        }
    }

    #[test]
    fn conditions_combine_all_any_none() {
        let given = Given::new([("auth", "accounts"), ("data_model", "relational")]);
        assert!(When::default().holds(&given));
        assert!(when(&["auth.accounts"], &[], &[]).holds(&given));
        assert!(!when(&["auth.accounts", "auth.roles"], &[], &[]).holds(&given));
        assert!(when(&[], &["auth.roles", "auth.accounts"], &[]).holds(&given));
        assert!(!when(&[], &["auth.roles"], &[]).holds(&given));
        assert!(!when(&[], &[], &["data_model.relational"]).holds(&given));
        assert!(when(
            &["auth.accounts"],
            &["x.y", "data_model.relational"],
            &["data_model.no_db"]
        )
        .holds(&given));
        let both = when(&["auth.accounts"], &["x.y", "data_model.relational"], &[]);
        let matched: Vec<&str> = both.matched(&given).collect();
        assert_eq!(matched, ["auth.accounts", "data_model.relational"]);
    }

    #[test]
    fn atoms_split_and_lists_join() {
        assert_eq!(split_atom("auth.roles"), Some(("auth", "roles")));
        assert_eq!(split_atom("auth"), None);
        assert_eq!(split_atom(".roles"), None);
        assert_eq!(split_atom("a.b.c"), None);
        assert_eq!(join_list(&["a", "b", "c"], "and"), "a, b and c");
        assert_eq!(join_list(&["a"], "and"), "a");
        assert_eq!(fill("{x} and {y}", &[("x", "1"), ("y", "2")]), "1 and 2");
    }
}
