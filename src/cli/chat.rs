//! `framework-advisor chat`: the bot in a terminal.
//!
//! The same [`App`] and the same sled store as the Discord bot, so a
//! consultation started here survives quitting and resumes on the next run.
//! Input is read line by line, which makes it scriptable: with `--consult`
//! every line is an answer (`2`, `1,3`, `b`, `r`, `x`, `q`), and the end of
//! input saves and exits cleanly. `--team` runs a team consultation with
//! several named voters taking turns (see [`super::team`]).

use std::io::{BufRead, Write};

use crate::app::{Action, App, ConsultView};
use crate::domain::session::Status;
use crate::error::AppError;

use super::text;

/// How the chat ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `quit`, `q` or end of input.
    Quit,
    /// A consultation reached its recommendation (with `--consult`).
    Completed,
}

pub struct Chat<'a, W: Write> {
    pub(super) app: &'a App,
    owner: String,
    out: W,
    interactive: bool,
    /// The last consultation that reached its recommendation in this run
    /// (for `--chart` and `--record`).
    pub finished: Option<ConsultView>,
}

/// What a line typed during a consultation means.
#[derive(Debug, PartialEq, Eq)]
enum ConsultInput {
    Act(Action),
    Quit,
    Invalid(String),
}

fn parse_consult_line(line: &str, option_count: usize) -> ConsultInput {
    let l = line.trim().to_lowercase();
    match l.as_str() {
        "b" | "back" => return ConsultInput::Act(Action::Back),
        "r" | "restart" => return ConsultInput::Act(Action::Restart),
        "x" | "cancel" => return ConsultInput::Act(Action::Cancel),
        "q" | "quit" | "exit" => return ConsultInput::Quit,
        "" => return ConsultInput::Invalid(String::new()),
        _ => {}
    }
    match parse_numbers(&l, option_count) {
        Ok(picked) => ConsultInput::Act(Action::Answer(picked.into_iter().map(|i| i.to_string()).collect())),
        Err(part) => ConsultInput::Invalid(format!(
            "{part:?} is not a choice: type a number from 1 to {option_count}, or b, r, x, q."
        )),
    }
}

/// 1-based option numbers separated by commas or spaces -> 0-based indexes.
/// `Err`: the first part that is not a number in `1..=option_count` (clipped).
pub(super) fn parse_numbers(line: &str, option_count: usize) -> Result<Vec<usize>, String> {
    let mut picked = Vec::new();
    for part in line.split([',', ' ']).filter(|p| !p.is_empty()) {
        match part.parse::<usize>() {
            Ok(n) if (1..=option_count).contains(&n) => picked.push(n - 1),
            _ => return Err(part.chars().take(20).collect()),
        }
    }
    Ok(picked)
}

impl<'a, W: Write> Chat<'a, W> {
    pub fn new(app: &'a App, owner: String, out: W, interactive: bool) -> Self {
        Chat {
            app,
            owner,
            out,
            interactive,
            finished: None,
        }
    }

    pub(super) fn say(&mut self, text: &str) -> std::io::Result<()> {
        writeln!(self.out, "{text}\n")?;
        self.out.flush()
    }

    pub(super) fn prompt(&mut self, p: &str) -> std::io::Result<()> {
        if self.interactive {
            write!(self.out, "{p}")?;
            self.out.flush()?;
        }
        Ok(())
    }

    /// Shows an application error the way a user should see it.
    pub(super) fn say_error(&mut self, e: AppError) -> std::io::Result<()> {
        let text = match e {
            AppError::User(u) => u.to_string(),
            AppError::Expired => self.app.content().knowledge.texts().expired.clone(),
            other => {
                tracing::error!(error = %other, "chat command failed");
                self.app.content().knowledge.texts().internal_error.clone()
            }
        };
        self.say(&text)
    }

    /// The main prompt: questions, lookups, and `consult`.
    pub fn run(&mut self, input: &mut dyn BufRead) -> std::io::Result<Exit> {
        if self.interactive {
            let help = text::reply(self.app.content(), &self.app.help());
            self.say(&help)?;
        }
        let mut line = String::new();
        loop {
            self.prompt("> ")?;
            line.clear();
            if input.read_line(&mut line)? == 0 {
                return Ok(Exit::Quit);
            }
            let trimmed = line.trim();
            let (word, rest) = trimmed.split_once(char::is_whitespace).unwrap_or((trimmed, ""));
            let rest = rest.trim();
            let reply = match word.to_lowercase().as_str() {
                "" => continue,
                "quit" | "exit" | "q" => return Ok(Exit::Quit),
                "consult" | "start" | "resume" => {
                    self.consult(input)?;
                    continue;
                }
                "cancel" => {
                    match self.app.consult_cancel(&self.owner) {
                        Ok(v) => self.say(&text::consultation(self.app.content(), &v))?,
                        Err(e) => self.say_error(e)?,
                    }
                    continue;
                }
                "forget" => {
                    match self.app.forget(&self.owner) {
                        Ok(_) => {
                            let done = self.app.content().knowledge.texts().forget_done.clone();
                            self.say(&done)?
                        }
                        Err(e) => self.say_error(e)?,
                    }
                    continue;
                }
                "help" | "?" => Ok(self.app.help()),
                "stats" => self.app.stats(),
                "topics" => {
                    let list: Vec<String> = self
                        .app
                        .content()
                        .knowledge
                        .topics
                        .iter()
                        .map(|t| format!("  {:<16} {}", t.id, t.title))
                        .collect();
                    self.say(&list.join("\n"))?;
                    continue;
                }
                "django" | "flask" => self.app.framework_info(word, Some(rest)),
                "compare" => self.app.compare(Some(rest)),
                _ => self.app.ask(trimmed),
            };
            match reply {
                Ok(r) => {
                    let shown = text::reply(self.app.content(), &r);
                    self.say(&shown)?
                }
                Err(e) => self.say_error(e)?,
            }
        }
    }

    /// Starts or resumes the user's consultation and answers it from `input`
    /// until it completes, is cancelled, or the user quits.
    pub fn consult(&mut self, input: &mut dyn BufRead) -> std::io::Result<Exit> {
        let mut view = match self.app.consult_start(&self.owner) {
            Ok(v) => v,
            Err(e) => {
                self.say_error(e)?;
                return Ok(Exit::Quit);
            }
        };
        let mut line = String::new();
        loop {
            let shown = text::consultation(self.app.content(), &view);
            self.say(&shown)?;
            match view.session.status {
                Status::Completed => {
                    self.finished = Some(view);
                    return Ok(Exit::Completed);
                }
                Status::Cancelled => return Ok(Exit::Quit),
                Status::Active => {}
            }
            self.prompt("answer> ")?;
            line.clear();
            if input.read_line(&mut line)? == 0 {
                let saved = self.app.content().knowledge.labels().saved_private.clone();
                self.say(&saved)?;
                return Ok(Exit::Quit);
            }
            let options = self
                .app
                .current_question(&view.session)
                .map(|q| q.options.iter().map(|o| o.id.clone()).collect::<Vec<_>>())
                .unwrap_or_default();
            let action = match parse_consult_line(&line, options.len()) {
                ConsultInput::Quit => {
                    let saved = self.app.content().knowledge.labels().saved_private.clone();
                    self.say(&saved)?;
                    return Ok(Exit::Quit);
                }
                ConsultInput::Invalid(msg) if msg.is_empty() => {
                    let hint = self.app.content().knowledge.labels().type_a_number.clone();
                    self.say(&hint)?;
                    continue;
                }
                ConsultInput::Invalid(msg) => {
                    self.say(&msg)?;
                    continue;
                }
                ConsultInput::Act(Action::Answer(indexes)) => Action::Answer(
                    indexes
                        .iter()
                        .filter_map(|i| i.parse::<usize>().ok().and_then(|i| options.get(i).cloned()))
                        .collect(),
                ),
                ConsultInput::Act(a) => a,
            };
            match self
                .app
                .consult_act(&self.owner, &view.session.id, view.session.revision, action)
            {
                Ok(v) => view = v,
                Err(e) => {
                    let msg = match &e {
                        AppError::Engine(inner) => Some(engine_hint(self.app.content(), inner)),
                        _ => None,
                    };
                    match msg {
                        Some(m) => self.say(&m)?,
                        None => self.say_error(e)?,
                    }
                    // Re-read: the session may have moved (another terminal) or ended.
                    match self.app.consult_resume(&self.owner) {
                        Ok(v) => view = ConsultView { notice: None, ..v },
                        Err(_) => return Ok(Exit::Quit),
                    }
                }
            }
        }
    }
}

/// A terminal-friendly explanation of an input the engine refused.
pub(super) fn engine_hint(content: &crate::content::Content, e: &crate::domain::session::EngineError) -> String {
    use crate::domain::labels::fill;
    use crate::domain::session::EngineError as E;
    let l = content.knowledge.labels();
    match e {
        E::ChoiceCount { min, max, got, .. } => {
            let (min, max, got) = (min.to_string(), max.to_string(), got.to_string());
            let values = [("min", min.as_str()), ("max", max.as_str()), ("got", got.as_str())];
            if min == max {
                fill(&l.pick_exactly, &values)
            } else {
                fill(&l.pick_between, &values)
            }
        }
        E::NothingToUndo => l.nothing_to_undo.clone(),
        other => fill(&l.did_not_apply, &[("error", &other.to_string())]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_consult_lines() {
        assert_eq!(
            parse_consult_line(" 2 \n", 3),
            ConsultInput::Act(Action::Answer(vec!["1".into()]))
        );
        assert_eq!(
            parse_consult_line("1, 3", 3),
            ConsultInput::Act(Action::Answer(vec!["0".into(), "2".into()]))
        );
        assert_eq!(parse_consult_line("B", 3), ConsultInput::Act(Action::Back));
        assert_eq!(parse_consult_line("r", 3), ConsultInput::Act(Action::Restart));
        assert_eq!(parse_consult_line("x", 3), ConsultInput::Act(Action::Cancel));
        assert_eq!(parse_consult_line("q", 3), ConsultInput::Quit);
        assert!(matches!(parse_consult_line("4", 3), ConsultInput::Invalid(_)));
        assert!(matches!(parse_consult_line("0", 3), ConsultInput::Invalid(_)));
        assert!(matches!(parse_consult_line("two", 3), ConsultInput::Invalid(_)));
        assert!(matches!(parse_consult_line("", 3), ConsultInput::Invalid(_)));
    }
}
