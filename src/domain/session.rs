//! The consultation state machine: one person's (or one team's) run through
//! the questionnaire.
//!
//! A [`Session`]'s answers are always a *prefix of the path*: `answers[i]`
//! answers the i-th question that applies given `answers[..i]`. Because
//! branching only ever looks at earlier questions, Back (pop the last answer)
//! keeps that invariant without any repair. Every accepted change bumps
//! `revision`; component ids carry the revision they were rendered for, so a
//! second click on the same button, a click on an older message or a replayed
//! id is recognised as stale and never applied twice.
//!
//! Team sessions carry a [`TeamState`]; the votes and how they resolve to the
//! team's answer live in `team.rs`, which this module uses.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::questionnaire::{Answer, AnswerError, Question, Questionnaire};
use super::team::{resolve, TeamState};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Completed,
    Cancelled,
}

/// What the user (or facilitator) asked the session to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Answer {
        question: String,
        options: Vec<String>,
    },
    Back,
    Restart,
    Cancel,
    /// A member's vote on the current question of a team session. Does not
    /// bump the revision, so members voting at once never make each other stale.
    Vote {
        voter: String,
        name: String,
        options: Vec<String>,
    },
    /// Team: close the current question with the team's answer.
    Next,
    /// Team: end now with the questions answered so far.
    Finish,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EngineError {
    /// The session is completed or cancelled; nothing more can change it.
    #[error("the session is {0:?}")]
    NotActive(Status),
    /// The answer is for a question other than the current one (an old
    /// message, or a forged id). Never applied to the current question.
    #[error("answer for {got} but the current question is {expected:?}")]
    WrongQuestion { expected: Option<String>, got: String },
    #[error("option {option} is not in question {question}")]
    UnknownOption { question: String, option: String },
    #[error("question {question} takes {min}..={max} choices, got {got}")]
    ChoiceCount {
        question: String,
        min: usize,
        max: usize,
        got: usize,
    },
    /// Back on the first question.
    #[error("nothing to go back to")]
    NothingToUndo,
    /// The command was rendered for another revision (an old message, a
    /// double click): refused so nothing is applied twice.
    #[error("stale: command for revision {got}, session at {current}")]
    Stale { current: u32, got: u32 },
    /// A team command on a private session, or the reverse.
    #[error("not allowed for this kind of session")]
    WrongMode,
    /// Next/Finish with nothing to go on.
    #[error("nobody has voted yet")]
    NoVotes,
    /// Someone other than the owner acted on a private session.
    #[error("not the owner of this session")]
    NotOwner,
    /// The session sat idle past its time to live.
    #[error("the session expired")]
    Expired,
}

impl From<AnswerError> for EngineError {
    fn from(e: AnswerError) -> Self {
        match e {
            AnswerError::UnknownOption { question, option } => EngineError::UnknownOption { question, option },
            AnswerError::ChoiceCount {
                question,
                min,
                max,
                got,
            } => EngineError::ChoiceCount {
                question,
                min,
                max,
                got,
            },
        }
    }
}

/// One consultation. Serialised into the store as is (with a schema version
/// around it, see `storage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    /// Who owns it (`discord:<user id>` or `cli:<name>`).
    pub owner: String,
    /// `private`, or `team:<channel id>` for a team consultation.
    #[serde(default = "private_scope")]
    pub scope: String,
    pub status: Status,
    pub answers: Vec<Answer>,
    /// Bumped by every accepted command; component ids carry it.
    pub revision: u32,
    pub created_at: i64,
    pub updated_at: i64,
    /// The reaction to the last answer, shown with the next question.
    #[serde(default)]
    pub last_reaction: Option<String>,
    /// The question being asked (derived; kept so the store can count
    /// drop-off per question without knowing the questionnaire).
    #[serde(default)]
    pub current: Option<String>,
    /// The verdict's framework id (or `close_call`), set on completion.
    #[serde(default)]
    pub outcome: Option<String>,
    /// Present for a team consultation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamState>,
    /// Where the session's message lives, as the adapter wrote it (opaque
    /// here; lets an expired team message be updated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_ref: Option<String>,
}

fn private_scope() -> String {
    PRIVATE_SCOPE.to_string()
}

/// The scope of a one-person consultation.
pub const PRIVATE_SCOPE: &str = "private";

impl Session {
    /// A fresh session on the first question of `q`.
    pub fn start(q: &Questionnaire, id: String, owner: String, scope: String, now: i64) -> Self {
        Session {
            id,
            owner,
            scope,
            status: Status::Active,
            answers: Vec::new(),
            revision: 0,
            created_at: now,
            updated_at: now,
            last_reaction: None,
            current: q.next_question(&[]).map(|x| x.id.clone()),
            outcome: None,
            team: None,
            message_ref: None,
        }
    }

    /// A team session facilitated by `owner` (scope names the channel).
    pub fn start_team(q: &Questionnaire, id: String, owner: String, scope: String, quorum: u32, now: i64) -> Self {
        let mut s = Session::start(q, id, owner, scope, now);
        s.team = Some(TeamState {
            quorum,
            ..TeamState::default()
        });
        s
    }

    /// Applies `command` only if the session is still at `revision` (the one
    /// the clicked component was rendered for).
    pub fn apply_at(
        &mut self,
        q: &Questionnaire,
        command: Command,
        revision: u32,
        now: i64,
    ) -> Result<(), EngineError> {
        if self.status != Status::Active {
            return Err(EngineError::NotActive(self.status));
        }
        if revision != self.revision {
            return Err(EngineError::Stale {
                current: self.revision,
                got: revision,
            });
        }
        self.apply(q, command, now)
    }

    pub fn is_expired(&self, now: i64, ttl_secs: i64) -> bool {
        now.saturating_sub(self.updated_at) > ttl_secs
    }

    /// Applies one command. On error the session is unchanged.
    pub fn apply(&mut self, q: &Questionnaire, command: Command, now: i64) -> Result<(), EngineError> {
        if self.status != Status::Active {
            return Err(EngineError::NotActive(self.status));
        }
        let is_team = self.team.is_some();
        match command {
            Command::Answer { .. } | Command::Restart if is_team => return Err(EngineError::WrongMode),
            Command::Vote { .. } | Command::Next | Command::Finish if !is_team => return Err(EngineError::WrongMode),
            Command::Answer { question, options } => {
                let current = q.next_question(&self.answers);
                let Some(current) = current.filter(|c| c.id == question) else {
                    return Err(EngineError::WrongQuestion {
                        expected: current.map(|c| c.id.clone()),
                        got: question.chars().take(40).collect(),
                    });
                };
                let answer = q.validate_answer(current, &options)?;
                self.push_answer(q, current, answer);
            }
            Command::Vote { voter, name, options } => {
                let Some(current) = q.next_question(&self.answers) else {
                    return Err(EngineError::NotActive(self.status));
                };
                let answer = q.validate_answer(current, &options)?;
                let team = self.team.as_mut().ok_or(EngineError::WrongMode)?;
                team.vote(&current.id, &voter, &name, answer.options);
                self.updated_at = now;
                let quorum = team.quorum as usize;
                if quorum == 0 || team.voters_on(&current.id) < quorum {
                    // A vote alone does not move the session on: same revision.
                    return Ok(());
                }
                self.close_current(q)?;
            }
            Command::Next => self.close_current(q)?,
            Command::Finish => {
                if let Some(current) = q.next_question(&self.answers) {
                    if self.team.as_ref().is_some_and(|t| t.voters_on(&current.id) > 0) {
                        self.close_current(q)?;
                    }
                }
                if self.answers.is_empty() {
                    return Err(EngineError::NoVotes);
                }
                self.status = Status::Completed;
            }
            Command::Back => {
                if self.answers.pop().is_none() {
                    return Err(EngineError::NothingToUndo);
                }
                self.last_reaction = None;
            }
            Command::Restart => {
                self.answers.clear();
                self.last_reaction = None;
            }
            Command::Cancel => self.status = Status::Cancelled,
        }
        self.revision = self.revision.wrapping_add(1);
        self.updated_at = now;
        // A cancelled session keeps the question it was abandoned on (drop-off stats).
        self.current = match self.status {
            Status::Active | Status::Cancelled => q.next_question(&self.answers).map(|x| x.id.clone()),
            Status::Completed => None,
        };
        Ok(())
    }

    fn push_answer(&mut self, q: &Questionnaire, question: &Question, answer: Answer) {
        self.last_reaction = reaction_for(question, &answer);
        self.answers.push(answer);
        if q.next_question(&self.answers).is_none() {
            self.status = Status::Completed;
        }
    }

    /// Team: records the team's answer to the current question.
    fn close_current(&mut self, q: &Questionnaire) -> Result<(), EngineError> {
        let current = q
            .next_question(&self.answers)
            .ok_or(EngineError::NotActive(self.status))?;
        let team = self.team.as_ref().ok_or(EngineError::WrongMode)?;
        let answer = resolve(team, current).ok_or(EngineError::NoVotes)?;
        self.push_answer(q, current, answer);
        Ok(())
    }
}

/// The reaction to show: the picked option's, or for several picks the first
/// one's (multi-choice reactions are written to stand alone).
fn reaction_for(question: &Question, answer: &Answer) -> Option<String> {
    answer
        .options
        .first()
        .and_then(|o| question.option(o))
        .map(|o| o.reaction.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::questionnaire::tests::sample;

    fn answer(q: &str, o: &[&str]) -> Command {
        Command::Answer {
            question: q.into(),
            options: o.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn branching_skips_and_shows() {
        let q = sample();
        let mut s = Session::start(&q, "s".into(), "u".into(), PRIVATE_SCOPE.into(), 0);
        assert_eq!(q.progress(&s.answers), (1, 4));
        s.apply(&q, answer("kind", &["api"]), 1).unwrap();
        assert_eq!(q.next_question(&s.answers).unwrap().id, "realtime");
        assert_eq!(q.progress(&s.answers), (2, 3));
        s.apply(&q, Command::Back, 2).unwrap();
        s.apply(&q, answer("kind", &["site"]), 3).unwrap();
        assert_eq!(q.next_question(&s.answers).unwrap().id, "templates");
        assert_eq!(q.progress(&s.answers), (2, 3));
    }

    #[test]
    fn full_run_completes_and_rejects_more() {
        let q = sample();
        let mut s = Session::start(&q, "s".into(), "u".into(), PRIVATE_SCOPE.into(), 0);
        s.apply(&q, answer("kind", &["site"]), 1).unwrap();
        assert_eq!(s.last_reaction.as_deref(), Some("reaction site"));
        s.apply(&q, answer("templates", &["yes"]), 2).unwrap();
        s.apply(&q, answer("team", &["new", "knows_django", "new"]), 3).unwrap();
        assert_eq!(s.status, Status::Completed);
        // Normalised to questionnaire order, duplicates dropped.
        assert_eq!(s.answers[2].options, vec!["knows_django", "new"]);
        assert_eq!(s.revision, 3);
        let before = s.clone();
        assert_eq!(
            s.apply(&q, Command::Back, 4),
            Err(EngineError::NotActive(Status::Completed))
        );
        assert_eq!(s, before);
    }

    #[test]
    fn rejects_answers_for_other_questions_and_bad_choices() {
        let q = sample();
        let mut s = Session::start(&q, "s".into(), "u".into(), PRIVATE_SCOPE.into(), 0);
        let before = s.clone();
        assert!(matches!(
            s.apply(&q, answer("templates", &["yes"]), 1),
            Err(EngineError::WrongQuestion { .. })
        ));
        assert!(matches!(
            s.apply(&q, answer("kind", &["nope"]), 1),
            Err(EngineError::UnknownOption { .. })
        ));
        assert!(matches!(
            s.apply(&q, answer("kind", &["api", "site"]), 1),
            Err(EngineError::ChoiceCount { got: 2, .. })
        ));
        assert!(matches!(
            s.apply(&q, answer("kind", &[]), 1),
            Err(EngineError::ChoiceCount { got: 0, .. })
        ));
        assert_eq!(s.apply(&q, Command::Back, 1), Err(EngineError::NothingToUndo));
        assert_eq!(s, before, "a refused command changes nothing");
    }

    #[test]
    fn multi_choice_bounds() {
        let q = sample();
        let mut s = Session::start(&q, "s".into(), "u".into(), PRIVATE_SCOPE.into(), 0);
        s.apply(&q, answer("kind", &["api"]), 1).unwrap();
        s.apply(&q, answer("realtime", &["none"]), 1).unwrap();
        assert!(matches!(
            s.apply(&q, answer("team", &["knows_django", "knows_flask", "new"]), 1),
            Err(EngineError::ChoiceCount { max: 2, got: 3, .. })
        ));
        s.apply(&q, answer("team", &["knows_flask"]), 1).unwrap();
        assert_eq!(s.status, Status::Completed);
    }

    #[test]
    fn restart_and_cancel() {
        let q = sample();
        let mut s = Session::start(&q, "s".into(), "u".into(), PRIVATE_SCOPE.into(), 0);
        s.apply(&q, answer("kind", &["api"]), 1).unwrap();
        s.apply(&q, Command::Restart, 2).unwrap();
        assert!(s.answers.is_empty());
        assert_eq!(s.revision, 2);
        assert_eq!(s.updated_at, 2);
        s.apply(&q, Command::Cancel, 3).unwrap();
        assert_eq!(s.status, Status::Cancelled);
        assert!(s.apply(&q, answer("kind", &["api"]), 4).is_err());
    }

    #[test]
    fn stale_revision_is_refused() {
        let q = sample();
        let mut s = Session::start(&q, "s".into(), "u".into(), PRIVATE_SCOPE.into(), 0);
        assert_eq!(s.current.as_deref(), Some("kind"));
        s.apply_at(&q, answer("kind", &["api"]), 0, 1).unwrap();
        assert_eq!(s.current.as_deref(), Some("realtime"));
        // The same click again (a double click) carries revision 0.
        assert_eq!(
            s.apply_at(&q, answer("kind", &["api"]), 0, 2),
            Err(EngineError::Stale { current: 1, got: 0 })
        );
        assert_eq!(s.answers.len(), 1);
    }

    fn vote(voter: &str, o: &[&str]) -> Command {
        Command::Vote {
            voter: voter.into(),
            name: voter.into(),
            options: o.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn team_votes_do_not_bump_revision_and_next_resolves() {
        let q = sample();
        let mut s = Session::start_team(&q, "t".into(), "f".into(), "team:1".into(), 0, 0);
        assert_eq!(s.apply(&q, Command::Next, 1), Err(EngineError::NoVotes));
        s.apply_at(&q, vote("a", &["api"]), 0, 1).unwrap();
        s.apply_at(&q, vote("b", &["site"]), 0, 1).unwrap();
        s.apply_at(&q, vote("b", &["api"]), 0, 1).unwrap();
        assert_eq!(s.revision, 0, "votes keep the revision");
        s.apply_at(&q, Command::Next, 0, 2).unwrap();
        assert_eq!(s.revision, 1);
        assert_eq!(s.answers[0].options, vec!["api"]);
        assert_eq!(s.current.as_deref(), Some("realtime"));
        // A vote rendered for the old question is stale now.
        assert!(matches!(
            s.apply_at(&q, vote("c", &["site"]), 0, 3),
            Err(EngineError::Stale { .. })
        ));
        assert_eq!(s.team.as_ref().unwrap().voters_on("kind"), 2);
    }

    #[test]
    fn team_quorum_advances_and_finish_completes() {
        let q = sample();
        let mut s = Session::start_team(&q, "t".into(), "f".into(), "team:1".into(), 2, 0);
        s.apply(&q, vote("a", &["site"]), 1).unwrap();
        assert_eq!(s.answers.len(), 0);
        s.apply(&q, vote("b", &["site"]), 1).unwrap();
        assert_eq!(s.answers.len(), 1, "quorum of 2 reached: advanced");
        assert_eq!(s.revision, 1);
        s.apply(&q, vote("a", &["yes"]), 1).unwrap();
        s.apply(&q, Command::Finish, 2).unwrap();
        assert_eq!(s.status, Status::Completed);
        assert_eq!(s.answers.len(), 2, "the current question's votes are counted on finish");
    }

    #[test]
    fn modes_do_not_mix() {
        let q = sample();
        let mut team = Session::start_team(&q, "t".into(), "f".into(), "team:1".into(), 0, 0);
        assert_eq!(team.apply(&q, answer("kind", &["api"]), 1), Err(EngineError::WrongMode));
        assert_eq!(team.apply(&q, Command::Restart, 1), Err(EngineError::WrongMode));
        let mut private = Session::start(&q, "s".into(), "u".into(), PRIVATE_SCOPE.into(), 0);
        assert_eq!(private.apply(&q, vote("a", &["api"]), 1), Err(EngineError::WrongMode));
        assert_eq!(private.apply(&q, Command::Next, 1), Err(EngineError::WrongMode));
        assert_eq!(private.apply(&q, Command::Finish, 1), Err(EngineError::WrongMode));
    }

    #[test]
    fn expiry_uses_last_update() {
        let q = sample();
        let s = Session::start(&q, "s".into(), "u".into(), PRIVATE_SCOPE.into(), 100);
        assert!(!s.is_expired(150, 60));
        assert!(s.is_expired(161, 60));
    }
}
