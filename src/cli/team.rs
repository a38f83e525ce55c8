//! `framework-advisor chat --team alice,bob,carol`: a team consultation with
//! several named voters taking turns in one terminal, for trying team mode
//! without Discord.
//!
//! It drives the same [`App`](crate::app::App) team use cases as the Discord
//! team message (`team_start`, `team_act`, `member_recommendation`), with the
//! owner keys of terminal users and the channel [`TERMINAL_CHANNEL`]. Each
//! question is a round: every voter in turn types a vote (or abstains); then
//! the tally is shown and the facilitator's Next is applied for them. Every
//! vote is stored as it is typed, so quitting (or the end of input) keeps the
//! votes, and the same command later resumes the round where it stopped.

use std::io::{BufRead, Write};
use std::str::FromStr;

use crate::app::{cli_owner, ConsultView, TeamAction, ViewKind};
use crate::domain::questionnaire::Question;
use crate::domain::scoring::Recommendation;
use crate::domain::session::{Session, Status};
use crate::domain::team::MAX_NAME_CHARS;
use crate::error::AppError;

use super::chat::{engine_hint, parse_numbers, Chat, Exit};
use super::text;

/// The channel part of the scope of terminal team sessions (`team:terminal`).
pub const TERMINAL_CHANNEL: &str = "terminal";
/// Voters in one terminal team consultation.
pub const MIN_VOTERS: usize = 2;
pub const MAX_VOTERS: usize = 25;

/// The voters of a terminal team consultation: 2..=25 distinct, non-empty
/// names; the first is the facilitator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster {
    names: Vec<String>,
}

impl Roster {
    /// Parses `alice,bob,carol`. The error is one line, fit to show as is.
    pub fn parse(list: &str) -> Result<Roster, String> {
        let names: Vec<String> = list.split(',').map(|n| n.trim().to_string()).collect();
        if names.iter().any(String::is_empty) {
            return Err(format!(
                "empty name in {list:?}: give names separated by commas, like alice,bob"
            ));
        }
        if !(MIN_VOTERS..=MAX_VOTERS).contains(&names.len()) {
            return Err(format!(
                "a team needs {MIN_VOTERS} to {MAX_VOTERS} names separated by commas (got {})",
                names.len()
            ));
        }
        for (i, name) in names.iter().enumerate() {
            if name.chars().count() > MAX_NAME_CHARS {
                return Err(format!("the name {name:?} is longer than {MAX_NAME_CHARS} characters"));
            }
            if name.chars().any(char::is_control) {
                return Err(format!("the name {name:?} contains control characters"));
            }
            // Case-insensitive: "Alice" and "alice" would be two voters with the same name.
            if names[..i]
                .iter()
                .any(|earlier| earlier.to_lowercase() == name.to_lowercase())
            {
                return Err(format!("the name {name:?} appears more than once"));
            }
        }
        Ok(Roster { names })
    }

    pub fn facilitator(&self) -> &str {
        &self.names[0]
    }

    /// Every voter, in turn order (the facilitator first).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    fn is_facilitator(&self, name: &str) -> bool {
        name == self.facilitator()
    }
}

impl FromStr for Roster {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Roster::parse(s)
    }
}

/// What a voter's line means.
#[derive(Debug, Clone, PartialEq, Eq)]
enum VoteInput {
    /// 0-based option indexes.
    Vote(Vec<usize>),
    Abstain,
    /// Back, Finish or Cancel: the facilitator's.
    Control(TeamAction),
    Quit,
    Invalid(String),
}

fn parse_vote_line(line: &str, option_count: usize) -> VoteInput {
    let l = line.trim().to_lowercase();
    match l.as_str() {
        "" | "-" => VoteInput::Abstain,
        "b" | "back" => VoteInput::Control(TeamAction::Back),
        "f" | "finish" => VoteInput::Control(TeamAction::Finish),
        "x" | "cancel" => VoteInput::Control(TeamAction::Cancel),
        "q" | "quit" | "exit" => VoteInput::Quit,
        _ => match parse_numbers(&l, option_count) {
            Ok(picked) => VoteInput::Vote(picked),
            Err(part) => VoteInput::Invalid(format!(
                "{part:?} is not a choice: type a number from 1 to {option_count}, - to abstain, or q to quit."
            )),
        },
    }
}

/// How a round of votes ended.
enum Round {
    /// Everyone had a turn.
    Done,
    /// The session changed shape (back, finish, cancel, a quorum, another
    /// terminal): continue from this view.
    Moved(Box<ConsultView>),
    /// `q` or the end of input: saved.
    Quit,
    /// Nothing more can be done (already explained).
    Stop,
}

/// The names of those who voted on `question`: the roster's in turn order,
/// then any others (voters of an earlier run with another roster).
fn voted_names(roster: &Roster, session: &Session, question: &str) -> Vec<String> {
    let Some(team) = &session.team else {
        return Vec::new();
    };
    let Some(votes) = team.votes.get(question) else {
        return Vec::new();
    };
    let keys: Vec<String> = roster.names().iter().map(|n| cli_owner(n)).collect();
    let mut names: Vec<String> = roster
        .names()
        .iter()
        .zip(&keys)
        .filter(|(_, k)| votes.contains_key(*k))
        .map(|(n, _)| n.clone())
        .collect();
    names.extend(
        votes
            .keys()
            .filter(|k| !keys.contains(k))
            .map(|k| team.names.get(k).cloned().unwrap_or_else(|| k.clone())),
    );
    names
}

/// Everyone to score alone at the end: `(voter key, name)`, the roster first.
fn members(roster: &Roster, session: &Session) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = roster.names().iter().map(|n| (cli_owner(n), n.clone())).collect();
    if let Some(team) = &session.team {
        for (key, name) in &team.names {
            if !all.iter().any(|(k, _)| k == key) {
                all.push((key.clone(), name.clone()));
            }
        }
    }
    all
}

impl<W: Write> Chat<'_, W> {
    /// Starts (or resumes) the facilitator's terminal team consultation and
    /// runs it from `input` until it completes, is cancelled, or someone quits.
    pub fn team(&mut self, roster: &Roster, input: &mut dyn BufRead) -> std::io::Result<Exit> {
        let app = self.app;
        let facilitator = cli_owner(roster.facilitator());
        let mut view = match app.team_start(&facilitator, TERMINAL_CHANNEL) {
            Ok(v) => v,
            Err(e) => {
                self.say_error(e)?;
                return Ok(Exit::Quit);
            }
        };
        // A resumed round continues with those who have not voted yet.
        let mut resuming = view.kind == ViewKind::Resumed;
        self.say(&text::team_opening(app.content(), roster.names(), resuming))?;
        loop {
            match view.session.status {
                Status::Completed => {
                    self.team_result(roster, &view)?;
                    self.finished = Some(view);
                    return Ok(Exit::Completed);
                }
                Status::Cancelled => {
                    self.say(&text::team_cancelled(app.content()))?;
                    return Ok(Exit::Quit);
                }
                Status::Active => {}
            }
            let Some(question) = app.current_question(&view.session).cloned() else {
                // An active session always has a question; never spin on one that has not.
                self.say_error(AppError::Expired)?;
                return Ok(Exit::Quit);
            };
            self.say(&text::team_question(app.content(), &view, roster.facilitator()))?;
            let voted = voted_names(roster, &view.session, &question.id);
            let mut turns: Vec<&String> = roster.names().iter().collect();
            if !voted.is_empty() {
                // After a resume or a back, earlier votes stand; a resumed round
                // goes on with those who have not voted yet (if any).
                let mut rest = Vec::new();
                if resuming && turns.iter().any(|n| !voted.contains(n)) {
                    turns.retain(|n| !voted.contains(n));
                    rest.clone_from(&turns);
                }
                self.say(&text::team_already_voted(app.content(), &voted, &rest))?;
            }
            resuming = false;
            match self.team_round(roster, &question, &turns, &mut view, input)? {
                Round::Quit => {
                    self.say(&text::team_saved(app.content()))?;
                    return Ok(Exit::Quit);
                }
                Round::Stop => return Ok(Exit::Quit),
                Round::Moved(v) => view = *v,
                Round::Done => {
                    let voted = voted_names(roster, &view.session, &question.id);
                    self.say(&text::team_tally(app.content(), &view.session, &question, &voted))?;
                    if voted.is_empty() {
                        self.say(&text::team_nobody_voted(app.content()))?;
                        continue;
                    }
                    let next = app.team_act(
                        &facilitator,
                        roster.facilitator(),
                        &view.session.id,
                        view.session.revision,
                        TeamAction::Next,
                        None,
                    );
                    view = match next {
                        Ok(v) => v,
                        Err(e) => match self.team_recover(e, &view)? {
                            Some(v) => v,
                            None => return Ok(Exit::Quit),
                        },
                    };
                }
            }
        }
    }

    /// Asks each voter of `turns` in order for their vote on `question`.
    fn team_round(
        &mut self,
        roster: &Roster,
        question: &Question,
        turns: &[&String],
        view: &mut ConsultView,
        input: &mut dyn BufRead,
    ) -> std::io::Result<Round> {
        let app = self.app;
        let options: Vec<String> = question.options.iter().map(|o| o.id.clone()).collect();
        let mut line = String::new();
        for name in turns {
            let key = cli_owner(name);
            loop {
                self.prompt(&format!("{name}> "))?;
                line.clear();
                if input.read_line(&mut line)? == 0 {
                    return Ok(Round::Quit);
                }
                let action = match parse_vote_line(&line, options.len()) {
                    VoteInput::Quit => return Ok(Round::Quit),
                    VoteInput::Abstain => break,
                    VoteInput::Invalid(msg) => {
                        self.say(&format!("{name}: {msg}"))?;
                        continue;
                    }
                    VoteInput::Control(_) if !roster.is_facilitator(name) => {
                        self.say(&text::team_facilitator_only(app.content(), name, roster.facilitator()))?;
                        continue;
                    }
                    VoteInput::Control(TeamAction::Finish)
                        if view.session.answers.is_empty()
                            && view
                                .session
                                .team
                                .as_ref()
                                .is_none_or(|t| t.voters_on(&question.id) == 0) =>
                    {
                        self.say(&text::team_nothing_to_finish(app.content()))?;
                        continue;
                    }
                    VoteInput::Control(action) => action,
                    VoteInput::Vote(picked) => TeamAction::Vote(picked.iter().map(|&i| options[i].clone()).collect()),
                };
                let is_vote = matches!(action, TeamAction::Vote(_));
                match app.team_act(&key, name, &view.session.id, view.session.revision, action, None) {
                    // A vote leaves the revision alone unless it closed the question (a quorum).
                    Ok(v) if is_vote && v.session.revision == view.session.revision => {
                        *view = v;
                        break;
                    }
                    Ok(v) => {
                        if is_vote {
                            let voted = voted_names(roster, &v.session, &question.id);
                            self.say(&text::team_tally(app.content(), &v.session, question, &voted))?;
                            self.say(&text::team_quorum_closed(app.content()))?;
                        }
                        return Ok(Round::Moved(Box::new(v)));
                    }
                    Err(AppError::Engine(e)) => {
                        // A wrong number of choices, or back on the first question: ask again.
                        self.say(&format!("{name}: {}", engine_hint(self.app.content(), &e)))?;
                    }
                    Err(e) => {
                        return Ok(match self.team_recover(e, view)? {
                            Some(v) => Round::Moved(Box::new(v)),
                            None => Round::Stop,
                        })
                    }
                }
            }
        }
        Ok(Round::Done)
    }

    /// Explains an error and re-reads the session (it may have moved on in
    /// another terminal). `None`: nothing more can be done.
    fn team_recover(&mut self, e: AppError, view: &ConsultView) -> std::io::Result<Option<ConsultView>> {
        match e {
            AppError::Stale { .. } => self.say(&text::team_moved_elsewhere(self.app.content()))?,
            AppError::User(u) => self.say(&u.to_string())?,
            other => {
                self.say_error(other)?;
                return Ok(None);
            }
        }
        match self.app.current_view(&view.session.id) {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                self.say_error(e)?;
                Ok(None)
            }
        }
    }

    /// The team's recommendation, how united it was, and each voter alone.
    fn team_result(&mut self, roster: &Roster, view: &ConsultView) -> std::io::Result<()> {
        let app = self.app;
        let scored: Vec<(String, Option<Recommendation>)> = members(roster, &view.session)
            .into_iter()
            .map(|(key, name)| {
                let rec = match app.member_recommendation(&key, &view.session.id) {
                    Ok(rec) => Some(rec),
                    // The "did not vote" case.
                    Err(AppError::User(_)) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, member = %key, "scoring a member alone failed");
                        None
                    }
                };
                (name, rec)
            })
            .collect();
        self.say(&text::team_result(app.content(), view, &scored))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roster_parses_trimmed_unique_names() {
        let r = Roster::parse(" alice , bob,carol ").unwrap();
        assert_eq!(r.names(), ["alice", "bob", "carol"]);
        assert_eq!(r.facilitator(), "alice");
        assert!(r.is_facilitator("alice") && !r.is_facilitator("bob"));
        assert_eq!("x,y".parse::<Roster>().unwrap().names(), ["x", "y"]);
        let many: Vec<String> = (0..MAX_VOTERS).map(|i| format!("v{i}")).collect();
        assert_eq!(Roster::parse(&many.join(",")).unwrap().names().len(), MAX_VOTERS);
    }

    #[test]
    fn roster_refuses_bad_lists_with_one_line() {
        let too_many: Vec<String> = (0..=MAX_VOTERS).map(|i| format!("v{i}")).collect();
        for (list, expect) in [
            ("alice", "2 to 25 names"),
            ("", "empty name"),
            ("alice,,bob", "empty name"),
            ("alice, ,bob", "empty name"),
            ("alice,bob,", "empty name"),
            ("alice,bob,alice", "\"alice\" appears more than once"),
            ("alice,Alice", "\"Alice\" appears more than once"),
            ("alice,b\u{7}ob", "control characters"),
            (&"x".repeat(MAX_NAME_CHARS + 1), "2 to 25 names"),
            (&format!("a,{}", "x".repeat(MAX_NAME_CHARS + 1)), "longer than 32"),
            (&too_many.join(","), "(got 26)"),
        ] {
            let err = Roster::parse(list).unwrap_err();
            assert!(err.contains(expect), "{list:?}: {err}");
            assert!(!err.contains('\n'), "{list:?}: {err}");
        }
    }

    #[test]
    fn parses_vote_lines() {
        assert_eq!(parse_vote_line(" 2 \n", 3), VoteInput::Vote(vec![1]));
        assert_eq!(parse_vote_line("1, 3", 3), VoteInput::Vote(vec![0, 2]));
        assert_eq!(parse_vote_line("", 3), VoteInput::Abstain);
        assert_eq!(parse_vote_line(" - \n", 3), VoteInput::Abstain);
        assert_eq!(parse_vote_line("B", 3), VoteInput::Control(TeamAction::Back));
        assert_eq!(parse_vote_line("f", 3), VoteInput::Control(TeamAction::Finish));
        assert_eq!(parse_vote_line("x", 3), VoteInput::Control(TeamAction::Cancel));
        assert_eq!(parse_vote_line("q", 3), VoteInput::Quit);
        for bad in ["4", "0", "two", "1,9", "--", "r"] {
            assert!(matches!(parse_vote_line(bad, 3), VoteInput::Invalid(_)), "{bad:?}");
        }
        let VoteInput::Invalid(msg) = parse_vote_line("1,abc", 3) else {
            panic!("invalid")
        };
        assert!(
            msg.starts_with("\"abc\" is not a choice: type a number from 1 to 3"),
            "{msg}"
        );
    }
}
