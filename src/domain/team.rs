//! Team consultations: everyone in a channel votes on each question; the
//! facilitator sets the pace. Pure data and arithmetic:
//! - [`TeamState`] holds the votes (one per member per question, changeable);
//! - [`resolve`] turns a question's votes into the team's answer, which is
//!   what branching follows (plurality; ties go to the earlier option);
//! - [`team_picks`] and [`member_picks`] feed the same scoring as a private
//!   consultation, weighted by vote share;
//! - [`unity`] says how united the team was and where it split.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::framework::FRAMEWORK_IDS;
use super::questionnaire::{Answer, Question, QuestionKind, Questionnaire};
use super::scoring::WeightedPick;

/// Longest display name kept for a voter (tallies must stay compact).
pub const MAX_NAME_CHARS: usize = 32;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TeamState {
    /// question id -> voter key -> the option ids of their latest vote.
    pub votes: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// voter key -> display name, as last seen.
    pub names: BTreeMap<String, String>,
    /// Advance by itself once this many members voted on the current question (0: off).
    pub quorum: u32,
    /// Bumped by every committed change (vote, next, back...): the version of the tally.
    #[serde(default)]
    pub changes: u64,
    /// The `changes` value of the newest render sent to the team message. Several instances
    /// refresh one message: an instance holding an older render must not send it over a newer one.
    #[serde(default)]
    pub rendered: u64,
}

impl TeamState {
    /// Records (or replaces) `voter`'s vote on `question`.
    pub fn vote(&mut self, question: &str, voter: &str, name: &str, options: Vec<String>) {
        self.votes
            .entry(question.to_string())
            .or_default()
            .insert(voter.to_string(), options);
        let name: String = name.chars().take(MAX_NAME_CHARS).collect();
        self.names.insert(voter.to_string(), name);
    }

    /// Claims the right to show the tally at version `changes` on the team message: refused
    /// when a newer version was already rendered (by any instance).
    pub fn claim_render(&mut self, changes: u64) -> bool {
        if self.rendered > changes {
            return false;
        }
        self.rendered = changes;
        true
    }

    pub fn voters_on(&self, question: &str) -> usize {
        self.votes.get(question).map_or(0, BTreeMap::len)
    }

    /// Members who voted at least once.
    pub fn participants(&self) -> usize {
        let mut all: Vec<&String> = self.votes.values().flat_map(|v| v.keys()).collect();
        all.sort();
        all.dedup();
        all.len()
    }

    /// Votes cast in all (a changed vote counts once).
    pub fn vote_count(&self) -> usize {
        self.votes.values().map(BTreeMap::len).sum()
    }

    /// option id -> number of voters who picked it, in questionnaire order.
    pub fn tally(&self, question: &Question) -> Vec<(String, usize)> {
        let votes = self.votes.get(&question.id);
        question
            .options
            .iter()
            .map(|o| {
                let n = votes.map_or(0, |v| v.values().filter(|picked| picked.contains(&o.id)).count());
                (o.id.clone(), n)
            })
            .collect()
    }
}

/// The team's answer to `question`: `None` when nobody voted.
///
/// Single choice: the most-voted option (ties: the earlier option). Multi
/// choice: every option picked by at least half the voters, bounded by the
/// question's maximum; at least the most-picked one.
pub fn resolve(team: &TeamState, question: &Question) -> Option<Answer> {
    let voters = team.voters_on(&question.id);
    if voters == 0 {
        return None;
    }
    let mut tally: Vec<(usize, String, usize)> = team
        .tally(question)
        .into_iter()
        .enumerate()
        .map(|(i, (o, n))| (i, o, n))
        .collect();
    // Most votes first; the questionnaire order breaks ties.
    tally.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    let options: Vec<String> = match question.kind {
        QuestionKind::Single => vec![tally[0].1.clone()],
        QuestionKind::Multi => {
            let (min, max) = question.choice_bounds();
            let mut picked: Vec<(usize, String)> = tally
                .iter()
                .filter(|(_, _, n)| *n * 2 >= voters && *n > 0)
                .take(max)
                .map(|(i, o, _)| (*i, o.clone()))
                .collect();
            for (i, o, _) in tally.iter().take(min.max(1)) {
                if picked.len() < min.max(1) && !picked.iter().any(|(_, p)| p == o) {
                    picked.push((*i, o.clone()));
                }
            }
            picked.sort();
            picked.into_iter().map(|(_, o)| o).collect()
        }
    };
    Some(Answer {
        question: question.id.clone(),
        options,
    })
}

/// Scoring input for the team: each answered question's options weighted by
/// the share of its voters who picked them.
pub fn team_picks(q: &Questionnaire, answers: &[Answer], team: &TeamState) -> Vec<WeightedPick> {
    let mut picks = Vec::new();
    for a in answers {
        let Some(question) = q.question(&a.question) else {
            continue;
        };
        let voters = team.voters_on(&a.question);
        if voters == 0 {
            continue;
        }
        for (option, n) in team.tally(question) {
            if n > 0 {
                picks.push(WeightedPick {
                    question: a.question.clone(),
                    option,
                    share: n as f64 / voters as f64,
                });
            }
        }
    }
    picks
}

/// Scoring input for one member: their own votes on the questions the team answered.
pub fn member_picks(answers: &[Answer], team: &TeamState, voter: &str) -> Vec<WeightedPick> {
    answers
        .iter()
        .filter_map(|a| team.votes.get(&a.question)?.get(voter).map(|opts| (a, opts)))
        .flat_map(|(a, opts)| {
            opts.iter().map(move |o| WeightedPick {
                question: a.question.clone(),
                option: o.clone(),
                share: 1.0,
            })
        })
        .collect()
}

/// The framework an option pushes toward by its weights (`None`: neutral).
/// Used to say what each side of a split would have meant.
pub fn pushes_toward(q: &Questionnaire, question: &str, option: &str) -> Option<&'static str> {
    let opt = q.question(question)?.option(option)?;
    match (opt.weight(FRAMEWORK_IDS[0]) - opt.weight(FRAMEWORK_IDS[1])).signum() {
        1 => Some(FRAMEWORK_IDS[0]),
        -1 => Some(FRAMEWORK_IDS[1]),
        _ => None,
    }
}

/// How one answered question split.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub question: String,
    pub voters: usize,
    /// (option id, votes), most votes first, zero-vote options left out.
    pub counts: Vec<(String, usize)>,
    /// Share of voters behind the most popular option (1.0 = unanimous).
    pub agreement: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Unity {
    /// Mean agreement over answered questions (1.0 = unanimous throughout).
    pub overall: f64,
    /// Per answered question, in the order asked.
    pub splits: Vec<Split>,
    /// The most disputed questions (agreement below 1), most disputed first, at most 3.
    pub disputed: Vec<Split>,
}

pub fn unity(q: &Questionnaire, answers: &[Answer], team: &TeamState) -> Unity {
    let splits: Vec<Split> = answers
        .iter()
        .filter_map(|a| {
            let question = q.question(&a.question)?;
            let voters = team.voters_on(&a.question);
            if voters == 0 {
                return None;
            }
            let mut counts: Vec<(String, usize)> = team.tally(question).into_iter().filter(|(_, n)| *n > 0).collect();
            counts.sort_by_key(|c| std::cmp::Reverse(c.1));
            let top = counts.first().map_or(0, |c| c.1);
            Some(Split {
                question: a.question.clone(),
                voters,
                counts,
                agreement: top as f64 / voters as f64,
            })
        })
        .collect();
    let overall = if splits.is_empty() {
        1.0
    } else {
        splits.iter().map(|s| s.agreement).sum::<f64>() / splits.len() as f64
    };
    let mut disputed: Vec<Split> = splits.iter().filter(|s| s.agreement < 1.0).cloned().collect();
    disputed.sort_by(|a, b| a.agreement.total_cmp(&b.agreement));
    disputed.truncate(3);
    Unity {
        overall,
        splits,
        disputed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::questionnaire::tests::sample;

    fn team_with(votes: &[(&str, &str, &[&str])]) -> TeamState {
        let mut t = TeamState::default();
        for (q, voter, opts) in votes {
            t.vote(q, voter, voter, opts.iter().map(|s| s.to_string()).collect());
        }
        t
    }

    #[test]
    fn plurality_with_ties_to_the_earlier_option() {
        let q = sample();
        let kind = q.question("kind").unwrap();
        let t = team_with(&[("kind", "a", &["site"]), ("kind", "b", &["api"])]);
        assert_eq!(resolve(&t, kind).unwrap().options, vec!["api"], "tie: api comes first");
        let t = team_with(&[
            ("kind", "a", &["site"]),
            ("kind", "b", &["api"]),
            ("kind", "c", &["site"]),
        ]);
        assert_eq!(resolve(&t, kind).unwrap().options, vec!["site"]);
        assert!(resolve(&TeamState::default(), kind).is_none());
    }

    #[test]
    fn changed_vote_replaces_the_old_one() {
        let mut t = team_with(&[("kind", "a", &["site"])]);
        t.vote("kind", "a", "a", vec!["api".into()]);
        assert_eq!(t.voters_on("kind"), 1);
        assert_eq!(
            t.tally(sample().question("kind").unwrap()),
            vec![("api".into(), 1), ("site".into(), 0)]
        );
    }

    #[test]
    fn multi_choice_keeps_options_with_half_the_votes() {
        let q = sample();
        let team_q = q.question("team").unwrap();
        let t = team_with(&[
            ("team", "a", &["knows_django", "new"]),
            ("team", "b", &["knows_django"]),
            ("team", "c", &["knows_flask"]),
            ("team", "d", &["new", "knows_flask"]),
        ]);
        // knows_django 2/4, knows_flask 2/4, new 2/4: max_choices 2 keeps the first two by order.
        assert_eq!(
            resolve(&t, team_q).unwrap().options,
            vec!["knows_django", "knows_flask"]
        );
        let t = team_with(&[
            ("team", "a", &["new"]),
            ("team", "b", &["knows_flask"]),
            ("team", "c", &["knows_django"]),
        ]);
        // Nobody reaches half: the most-picked (tie -> earliest) alone.
        assert_eq!(resolve(&t, team_q).unwrap().options, vec!["knows_django"]);
    }

    #[test]
    fn picks_and_unity_reflect_the_votes() {
        let q = sample();
        let answers = vec![Answer {
            question: "kind".into(),
            options: vec!["site".into()],
        }];
        let t = team_with(&[
            ("kind", "a", &["site"]),
            ("kind", "b", &["site"]),
            ("kind", "c", &["api"]),
        ]);
        let picks = team_picks(&q, &answers, &t);
        assert_eq!(picks.len(), 2);
        assert!((picks.iter().find(|p| p.option == "site").unwrap().share - 2.0 / 3.0).abs() < 1e-9);
        let mine = member_picks(&answers, &t, "c");
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].option, "api");
        let u = unity(&q, &answers, &t);
        assert_eq!(u.splits[0].counts, vec![("site".into(), 2), ("api".into(), 1)]);
        assert!((u.overall - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(u.disputed.len(), 1);
        assert_eq!((t.participants(), t.vote_count()), (3, 3));
        assert_eq!(pushes_toward(&q, "kind", "site"), Some("django"));
        assert_eq!(pushes_toward(&q, "kind", "api"), Some("flask"));
        assert_eq!(pushes_toward(&q, "realtime", "none"), None);
        assert_eq!(pushes_toward(&q, "kind", "nope"), None);
    }

    #[test]
    fn an_older_render_never_claims_over_a_newer_one() {
        let mut t = TeamState::default();
        assert!(t.claim_render(3));
        assert!(!t.claim_render(2), "version 2 is older than the rendered 3");
        assert!(
            t.claim_render(3),
            "the same version may be sent again (repairs a late older edit)"
        );
        assert!(t.claim_render(7));
        assert_eq!(t.rendered, 7);
    }
}
