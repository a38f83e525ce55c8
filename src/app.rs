//! Use cases, shared by every transport (Discord, terminal).
//!
//! Each method takes plain values and returns a transport-neutral value
//! ([`Reply`], [`ConsultView`]); adapters render them. Storage and time are
//! injected ([`SessionStore`], [`Clock`]) so tests control both.

use std::sync::Arc;

use crate::content::Content;
use crate::domain::questionnaire::Question;
use crate::domain::scoring::{picks_from_answers, Recommendation, Verdict, WeightedPick};
use crate::domain::search::{Hit, Intent, SearchIndex};
use crate::domain::session::{Command, EngineError, Session, Status, PRIVATE_SCOPE};
use crate::domain::team::{member_picks, team_picks, unity, Unity};
use crate::error::{AppError, UserError};
use crate::storage::{SessionStore, Started, Stats};

/// Seconds since the Unix epoch; injected so tests control expiry.
pub trait Clock: Send + Sync {
    fn now(&self) -> i64;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        chrono::Utc::now().timestamp()
    }
}

/// A clock tests move by hand.
#[derive(Debug, Default)]
pub struct ManualClock(pub std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// What the user did to a consultation (decoded from a click or a typed line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Option ids for the current question.
    Answer(Vec<String>),
    Back,
    Restart,
    Cancel,
}

/// What a member did to a team consultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamAction {
    /// Anyone: their vote on the current question (replaces an earlier one).
    Vote(Vec<String>),
    /// Facilitator only.
    Next,
    Back,
    Finish,
    Cancel,
}

impl TeamAction {
    pub fn facilitator_only(&self) -> bool {
        !matches!(self, TeamAction::Vote(_))
    }
}

/// How a consultation view came about; adapters choose how to show it
/// (update the message in place, or send a new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
    Started,
    Resumed,
    /// The user's click was applied.
    Updated,
    /// The click was for an older step; this is the current state again.
    Stale,
}

/// A consultation as the user should see it now.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsultView {
    pub session: Session,
    pub kind: ViewKind,
    /// A line to show above the question (welcome, resumed, restarted...).
    pub notice: Option<String>,
    /// Set when the session is completed.
    pub recommendation: Option<Recommendation>,
    /// The running scores so far (for "Leaning Django").
    pub lean: Option<String>,
    /// For a completed team session: how united the team was.
    pub unity: Option<Unity>,
}

/// Knowledge answers and notices.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `/django`, `/flask` with no topic.
    Overview {
        framework: String,
    },
    /// One topic for one framework.
    Topic {
        framework: String,
        topic: String,
    },
    /// Side by side; `None`: the two overviews.
    Compare {
        topic: Option<String>,
    },
    /// A free-text question's best topics and FAQ entries.
    Answer {
        question: String,
        hits: Vec<Hit>,
        framework: Option<String>,
        /// A comparison is answered side by side.
        intent: Intent,
    },
    Help,
    Stats(Stats),
}

pub struct App {
    content: Arc<Content>,
    search: SearchIndex,
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    ttl_secs: i64,
    team_ttl_secs: i64,
    team_quorum: u32,
    /// This process among the instances sharing the store: the holder of
    /// its leases (one sweeper, one command sync at a time).
    instance: String,
}

/// The lease that elects one sweeper among the instances.
pub const SWEEP_LEASE: &str = "lease:sweep";
/// The lease held while registering the slash commands.
pub const COMMANDS_LEASE: &str = "lease:commands";

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

/// The owner key of a Discord user.
pub fn discord_owner(user_id: u64) -> String {
    format!("discord:{user_id}")
}

/// The owner key of a terminal user.
pub fn cli_owner(name: &str) -> String {
    format!("cli:{name}")
}

/// A team session untouched for a day expires (a meeting, not a project).
pub const DEFAULT_TEAM_TTL_SECS: i64 = 24 * 3600;

fn new_session_id() -> String {
    // 64 random bits: unguessable enough that ids are not enumerable, short
    // enough to leave room in a 100-character custom_id.
    format!("{:016x}", rand::random::<u64>())
}

impl App {
    pub fn new(content: Arc<Content>, store: Arc<dyn SessionStore>, clock: Arc<dyn Clock>, ttl_secs: i64) -> Self {
        let search = SearchIndex::new(&content.knowledge);
        App {
            content,
            search,
            store,
            clock,
            ttl_secs,
            team_ttl_secs: DEFAULT_TEAM_TTL_SECS,
            team_quorum: 0,
            instance: new_session_id(),
        }
    }

    /// Team sessions' TTL and the number of votes that closes a question by
    /// itself (0: only the facilitator moves on).
    pub fn with_team_settings(mut self, ttl_secs: i64, quorum: u32) -> Self {
        self.team_ttl_secs = ttl_secs;
        self.team_quorum = quorum;
        self
    }

    fn ttl_of(&self, s: &Session) -> i64 {
        if s.team.is_some() {
            self.team_ttl_secs
        } else {
            self.ttl_secs
        }
    }

    pub fn content(&self) -> &Content {
        &self.content
    }

    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    fn user_error(&self, pick: impl Fn(&crate::domain::knowledge::Texts) -> &String) -> AppError {
        AppError::User(UserError(pick(self.content.knowledge.texts()).clone()))
    }

    fn framework_id(&self, name: &str) -> Result<String, AppError> {
        let id = name.trim().to_lowercase();
        match self.content.knowledge.framework(&id) {
            Some(f) => Ok(f.id.clone()),
            None => Err(self.user_error(|t| &t.no_match)),
        }
    }

    /// Resolves a topic typed by the user: exact id/alias, else the best search hit.
    fn resolve_topic(&self, typed: &str) -> Option<String> {
        // Discord caps the option at 100 characters; cap here too, before search.
        let typed: String = sanitise_question(typed).chars().take(100).collect();
        let typed = typed.as_str();
        let kb = &self.content.knowledge;
        if let Some(t) = kb.topic_by_name(typed) {
            return Some(t.id.clone());
        }
        self.search.best_topic(typed, kb)
    }

    /// `/django [topic]`, `/flask [topic]`.
    pub fn framework_info(&self, framework: &str, topic: Option<&str>) -> Result<Reply, AppError> {
        let framework = self.framework_id(framework)?;
        match topic.map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(Reply::Overview { framework }),
            Some(typed) => match self.resolve_topic(typed) {
                Some(topic) => Ok(Reply::Topic { framework, topic }),
                None => Err(self.user_error(|t| &t.no_match)),
            },
        }
    }

    /// `/compare [aspect]`.
    pub fn compare(&self, aspect: Option<&str>) -> Result<Reply, AppError> {
        match aspect.map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(Reply::Compare { topic: None }),
            Some(typed) => match self.resolve_topic(typed) {
                Some(topic) => Ok(Reply::Compare { topic: Some(topic) }),
                None => Err(self.user_error(|t| &t.no_match)),
            },
        }
    }

    /// `/ask question`: the best topics and FAQ entries for a question in
    /// plain words, or an honest "don't know" (off-topic or no good match).
    pub fn ask(&self, question: &str) -> Result<Reply, AppError> {
        let question = sanitise_question(question);
        let answer = self.search.ask(&question);
        if answer.hits.is_empty() {
            let unknown = self.content.knowledge.search_terms.text.unknown.clone();
            return Err(AppError::User(UserError(unknown)));
        }
        Ok(Reply::Answer {
            question,
            hits: answer.hits,
            framework: answer.framework,
            intent: answer.intent,
        })
    }

    /// Autocomplete for topic options: `(title, id)` pairs.
    pub fn suggest_topics(&self, typed: &str) -> Vec<(String, String)> {
        let typed: String = typed.chars().take(100).collect();
        self.search
            .suggest(&typed)
            .into_iter()
            .filter_map(|id| self.content.knowledge.topic(&id))
            .map(|t| (t.title.clone(), t.id.clone()))
            .collect()
    }

    pub fn help(&self) -> Reply {
        Reply::Help
    }

    pub fn stats(&self) -> Result<Reply, AppError> {
        Ok(Reply::Stats(self.store.stats()?))
    }

    /// Deletes every session of `owner`; returns how many.
    pub fn forget(&self, owner: &str) -> Result<usize, AppError> {
        Ok(self.store.delete_owner(owner)?)
    }

    /// Removes sessions idle for longer than their TTL; returns the active
    /// ones that expired (their messages may need updating).
    /// Sweeps unless another instance holds the sweep lease: with several
    /// instances on one store the sweep runs once per `lease_secs`, not once
    /// per instance. The lease is not released: it expires, which is what
    /// spaces the sweeps. `Ok(None)`: another instance's turn.
    pub fn sweep_if_elected(&self, lease_secs: i64) -> Result<Option<Vec<Session>>, AppError> {
        if !self
            .store
            .try_lock(SWEEP_LEASE, &self.instance, self.clock.now(), lease_secs)?
        {
            return Ok(None);
        }
        self.sweep().map(Some)
    }

    /// Takes the lease `name` for this instance for `secs` (see [`SessionStore::try_lock`]).
    pub fn take_lease(&self, name: &str, secs: i64) -> Result<bool, AppError> {
        Ok(self.store.try_lock(name, &self.instance, self.clock.now(), secs)?)
    }

    /// Gives back a lease taken with [`App::take_lease`].
    pub fn release_lease(&self, name: &str) -> Result<(), AppError> {
        Ok(self.store.unlock(name, &self.instance)?)
    }

    pub fn sweep(&self) -> Result<Vec<Session>, AppError> {
        Ok(self
            .store
            .sweep_expired(self.clock.now(), self.ttl_secs, self.team_ttl_secs)?)
    }

    /// The current question of a session, if it is active.
    pub fn current_question(&self, session: &Session) -> Option<&Question> {
        match session.status {
            Status::Active => self.content.questionnaire.next_question(&session.answers),
            _ => None,
        }
    }

    /// `(step, total)` for the step counter.
    pub fn progress(&self, session: &Session) -> (usize, usize) {
        self.content.questionnaire.progress(&session.answers)
    }

    fn picks(&self, session: &Session) -> Vec<WeightedPick> {
        match &session.team {
            Some(team) => team_picks(&self.content.questionnaire, &session.answers, team),
            None => picks_from_answers(&session.answers),
        }
    }

    fn view(&self, session: Session, kind: ViewKind, notice: Option<String>) -> ConsultView {
        let rec = self.content.recommend(&self.picks(&session));
        let texts = self.content.knowledge.texts();
        let lean = (!session.answers.is_empty()).then(|| {
            match rec.scores.as_slice() {
                // Same tolerance as the verdict: float noise is a tie.
                [(_, d), (_, f)] if d - f > 1e-6 => &texts.lean_django,
                [(_, d), (_, f)] if f - d > 1e-6 => &texts.lean_flask,
                _ => &texts.lean_even,
            }
            .clone()
        });
        let completed = session.status == Status::Completed;
        let unity = match (&session.team, completed) {
            (Some(team), true) => Some(unity(&self.content.questionnaire, &session.answers, team)),
            _ => None,
        };
        ConsultView {
            recommendation: completed.then_some(rec),
            unity,
            session,
            kind,
            notice,
            lean,
        }
    }

    /// Loads a live session of `owner` for scope, treating an expired one as absent.
    fn live_active(&self, owner: &str, scope: &str) -> Result<Option<Session>, AppError> {
        Ok(self
            .store
            .active(owner, scope)?
            .filter(|s| !s.is_expired(self.clock.now(), self.ttl_of(s))))
    }

    /// `/consult start`: a new private consultation, or the active one again.
    pub fn consult_start(&self, owner: &str) -> Result<ConsultView, AppError> {
        let now = self.clock.now();
        if let Some(old) = self.store.active(owner, PRIVATE_SCOPE)? {
            if old.is_expired(now, self.ttl_of(&old)) {
                // Expired but not swept yet: end it so a new one can start.
                self.store.update(&old.id, &mut |s| {
                    s.apply(&self.content.questionnaire, Command::Cancel, now)
                })?;
            }
        }
        let session = Session::start(
            &self.content.questionnaire,
            new_session_id(),
            owner.to_string(),
            PRIVATE_SCOPE.to_string(),
            now,
        );
        let texts = self.content.knowledge.texts();
        Ok(match self.store.start(session)? {
            Started::New(s) => self.view(s, ViewKind::Started, Some(texts.welcome.clone())),
            Started::Existing(s) => self.view(s, ViewKind::Resumed, Some(texts.already_active.clone())),
        })
    }

    /// `/consult resume`: the active consultation, shown again.
    pub fn consult_resume(&self, owner: &str) -> Result<ConsultView, AppError> {
        match self.live_active(owner, PRIVATE_SCOPE)? {
            Some(s) => Ok(self.view(
                s,
                ViewKind::Resumed,
                Some(self.content.knowledge.texts().resumed.clone()),
            )),
            None => Err(self.user_error(|t| &t.no_active)),
        }
    }

    /// `/consult cancel`: ends the active consultation.
    pub fn consult_cancel(&self, owner: &str) -> Result<ConsultView, AppError> {
        let Some(s) = self.live_active(owner, PRIVATE_SCOPE)? else {
            return Err(self.user_error(|t| &t.no_active));
        };
        self.consult_act(owner, &s.id, s.revision, Action::Cancel)
    }

    /// A click (or typed answer) on session `id`, rendered for `revision`.
    pub fn consult_act(&self, owner: &str, id: &str, revision: u32, action: Action) -> Result<ConsultView, AppError> {
        let now = self.clock.now();
        let q = &self.content.questionnaire;
        let content = &self.content;
        // One read per click: the owner and expiry checks run on the state
        // the update reads (the owner never changes, so this is race-free).
        let result = self.store.update(id, &mut |s| {
            if s.owner != owner {
                return Err(EngineError::NotOwner);
            }
            if s.status == Status::Active && s.is_expired(now, self.ttl_of(s)) {
                return Err(EngineError::Expired);
            }
            let command = match &action {
                Action::Answer(options) => Command::Answer {
                    question: s.current.clone().unwrap_or_default(),
                    options: options.clone(),
                },
                Action::Back => Command::Back,
                Action::Restart => Command::Restart,
                Action::Cancel => Command::Cancel,
            };
            s.apply_at(q, command, revision, now)?;
            if s.status == Status::Completed {
                let rec = content.recommend(&picks_from_answers(&s.answers));
                s.outcome = Some(outcome_key(&rec.verdict));
            }
            Ok(())
        })?;
        if matches!(result, Some(Err(EngineError::WrongMode))) {
            // A private action aimed at a team session: a forged id.
            return Err(AppError::Engine(EngineError::WrongMode));
        }
        let texts = self.content.knowledge.texts();
        match result {
            None => Err(AppError::Expired),
            Some(Err(EngineError::NotOwner)) => Err(self.user_error(|t| &t.not_owner)),
            Some(Err(EngineError::Expired)) => Err(self.user_error(|t| &t.expired)),
            Some(Ok(s)) => {
                let notice = match action {
                    Action::Restart => Some(texts.restarted.clone()),
                    Action::Cancel => Some(texts.cancelled.clone()),
                    _ => None,
                };
                Ok(self.view(s, ViewKind::Updated, notice))
            }
            Some(Err(EngineError::Stale { .. })) | Some(Err(EngineError::NotActive(_))) => {
                // Show where the session really is, without applying anything.
                let current = self.store.get(id)?.ok_or_else(|| self.user_error(|t| &t.expired))?;
                Ok(self.view(current, ViewKind::Stale, Some(texts.stale.clone())))
            }
            Some(Err(e)) => Err(AppError::Engine(e)),
        }
    }

    /// `/consult start mode:team` in `channel`: one public session for the
    /// channel, facilitated by `facilitator` (or theirs again if active).
    pub fn team_start(&self, facilitator: &str, channel: &str) -> Result<ConsultView, AppError> {
        let now = self.clock.now();
        let scope = format!("team:{channel}");
        if let Some(old) = self.store.active(facilitator, &scope)? {
            if old.is_expired(now, self.ttl_of(&old)) {
                self.store.update(&old.id, &mut |s| {
                    s.apply(&self.content.questionnaire, Command::Cancel, now)
                })?;
            }
        }
        let session = Session::start_team(
            &self.content.questionnaire,
            new_session_id(),
            facilitator.to_string(),
            scope,
            self.team_quorum,
            now,
        );
        let texts = self.content.knowledge.texts();
        Ok(match self.store.start(session)? {
            Started::New(s) => self.view(s, ViewKind::Started, Some(texts.team_welcome.clone())),
            Started::Existing(s) => self.view(s, ViewKind::Resumed, Some(texts.already_active.clone())),
        })
    }

    /// A member's click on a team consultation rendered for `revision`.
    /// `message_ref` says where its message lives (kept for expiry updates).
    pub fn team_act(
        &self,
        member: &str,
        member_name: &str,
        id: &str,
        revision: u32,
        action: TeamAction,
        message_ref: Option<&str>,
    ) -> Result<ConsultView, AppError> {
        let now = self.clock.now();
        let Some(existing) = self.store.get(id)? else {
            return Err(AppError::Expired);
        };
        if existing.team.is_none() {
            return Err(AppError::Engine(EngineError::WrongMode));
        }
        if action.facilitator_only() && existing.owner != member {
            return Err(self.user_error(|t| &t.facilitator_only));
        }
        if existing.status == Status::Active && existing.is_expired(now, self.ttl_of(&existing)) {
            return Err(AppError::Expired);
        }
        let q = &self.content.questionnaire;
        let content = &self.content;
        let result = self.store.update(id, &mut |s| {
            let command = match &action {
                TeamAction::Vote(options) => Command::Vote {
                    voter: member.to_string(),
                    name: member_name.to_string(),
                    options: options.clone(),
                },
                TeamAction::Next => Command::Next,
                TeamAction::Back => Command::Back,
                TeamAction::Finish => Command::Finish,
                TeamAction::Cancel => Command::Cancel,
            };
            s.apply_at(q, command, revision, now)?;
            if let Some(team) = &mut s.team {
                team.changes += 1;
            }
            if s.message_ref.is_none() {
                s.message_ref = message_ref.map(str::to_string);
            }
            if s.status == Status::Completed {
                if let Some(team) = &s.team {
                    let rec = content.recommend(&team_picks(q, &s.answers, team));
                    s.outcome = Some(outcome_key(&rec.verdict));
                }
            }
            Ok(())
        })?;
        let texts = self.content.knowledge.texts();
        match result {
            None => Err(AppError::Expired),
            Some(Ok(s)) => {
                let notice = matches!(action, TeamAction::Cancel).then(|| texts.cancelled.clone());
                Ok(self.view(s, ViewKind::Updated, notice))
            }
            Some(Err(EngineError::Stale { current, .. })) => Err(AppError::Stale { current }),
            Some(Err(EngineError::NotActive(_))) => Err(AppError::Stale {
                current: existing.revision,
            }),
            Some(Err(EngineError::NoVotes)) => Err(self.user_error(|t| &t.no_votes)),
            Some(Err(e)) => Err(AppError::Engine(e)),
        }
    }

    /// Records that the team message of session `id` is about to show the tally at version
    /// `changes`. `false`: a newer version was already rendered there (by this or another
    /// instance), so this render must not be sent; also `false` for an unknown session.
    pub fn claim_team_render(&self, id: &str, changes: u64) -> Result<bool, AppError> {
        let mut claimed = false;
        let found = self.store.update(id, &mut |s| {
            claimed = s.team.as_mut().is_some_and(|t| t.claim_render(changes));
            Ok(())
        })?;
        Ok(found.is_some() && claimed)
    }

    /// The current state of a session, for re-rendering its message.
    pub fn current_view(&self, id: &str) -> Result<ConsultView, AppError> {
        match self.store.get(id)? {
            Some(s) => Ok(self.view(s, ViewKind::Updated, None)),
            None => Err(AppError::Expired),
        }
    }

    /// "How would I have scored?": a member's own votes alone, on a team session.
    pub fn member_recommendation(&self, member: &str, id: &str) -> Result<Recommendation, AppError> {
        let Some(s) = self.store.get(id)? else {
            return Err(AppError::Expired);
        };
        let Some(team) = &s.team else {
            return Err(AppError::Engine(EngineError::WrongMode));
        };
        let picks = member_picks(&s.answers, team, member);
        if picks.is_empty() {
            return Err(self.user_error(|t| &t.my_score_none));
        }
        Ok(self.content.recommend(&picks))
    }

    /// The recommendation of a completed session, for sharing. Owner only.
    pub fn completed_view(&self, owner: &str, id: &str) -> Result<ConsultView, AppError> {
        match self.store.get(id)? {
            Some(s) if s.owner != owner => Err(self.user_error(|t| &t.not_owner)),
            Some(s) if s.status == Status::Completed => Ok(self.view(s, ViewKind::Updated, None)),
            _ => Err(self.user_error(|t| &t.expired)),
        }
    }
}

/// The stats key of a verdict.
pub fn outcome_key(v: &Verdict) -> String {
    match v {
        Verdict::Framework { id } => id.clone(),
        Verdict::CloseCall { .. } => "close_call".to_string(),
    }
}

/// Longest free-text question accepted; the rest is ignored.
pub const MAX_QUESTION_CHARS: usize = 300;

/// Characters that are invisible or reorder text: zero-width spaces and
/// joiners, direction marks, embeddings, overrides and isolates, the BOM.
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}'
    )
}

/// Bounds a free-text question before it reaches search: control and
/// zero-width characters dropped, whitespace folded, length capped.
pub fn sanitise_question(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .filter(|c| !c.is_control() || c.is_whitespace())
        .filter(|c| !is_invisible_format(*c))
        .take(MAX_QUESTION_CHARS * 2)
        .collect();
    // Mentions (@everyone, <@123>, <#456>) are not part of the question.
    let folded = cleaned
        .split_whitespace()
        .filter(|w| !(w.starts_with('@') || (w.starts_with("<") && w.ends_with('>'))))
        .collect::<Vec<_>>()
        .join(" ");
    folded.chars().take(MAX_QUESTION_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::sanitise_question;
    use super::*;
    use crate::storage::SledStore;

    fn app_on(store: Arc<dyn SessionStore>, clock: Arc<ManualClock>) -> App {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("responses");
        let content = Arc::new(Content::load(&dir).expect("responses/ loads"));
        App::new(content, store, clock, 3600)
    }

    #[test]
    fn one_instance_sweeps_per_lease_period() {
        let store: Arc<dyn SessionStore> = Arc::new(SledStore::temporary().unwrap());
        let clock = Arc::new(ManualClock(std::sync::atomic::AtomicI64::new(10_000)));
        let a = app_on(store.clone(), clock.clone());
        let b = app_on(store, clock.clone());
        assert!(a.sweep_if_elected(3000).unwrap().is_some(), "the first instance sweeps");
        assert!(
            b.sweep_if_elected(3000).unwrap().is_none(),
            "the second leaves it to the first"
        );
        assert!(a.sweep_if_elected(3000).unwrap().is_some(), "the holder keeps its turn");
        clock.advance(3001);
        assert!(
            b.sweep_if_elected(3000).unwrap().is_some(),
            "once the lease runs out, another may"
        );
        assert!(a.take_lease(COMMANDS_LEASE, 60).unwrap());
        assert!(!b.take_lease(COMMANDS_LEASE, 60).unwrap(), "one registration at a time");
        a.release_lease(COMMANDS_LEASE).unwrap();
        assert!(
            b.take_lease(COMMANDS_LEASE, 60).unwrap(),
            "released: the next may register"
        );
    }

    #[test]
    fn sanitise_drops_controls_and_bounds_length() {
        assert_eq!(sanitise_question("  is\u{200B} flask\u{0007}\n ok? "), "is flask ok?");
        assert_eq!(sanitise_question("\u{202E}txet"), "txet");
        assert_eq!(sanitise_question(&"a".repeat(6000)).len(), super::MAX_QUESTION_CHARS);
        assert_eq!(sanitise_question(""), "");
        assert_eq!(
            sanitise_question("@everyone <@123> what about <#9> orm"),
            "what about orm"
        );
    }
}
