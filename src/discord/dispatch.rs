//! One function from an interaction to the response value: decode, call the
//! app, render. The gateway handler (and any future HTTP endpoint) only
//! delivers what [`handle`] returns.

use serenity::all::{
    CommandInteraction, ComponentInteraction, ComponentInteractionDataKind, CreateAttachment,
    CreateInteractionResponse, Interaction, Member, Permissions, User,
};

use super::commands::{self, Request};
use super::custom_id::{ComponentId, ConsultAction, RecordScope, TeamAction as TeamButton};
use super::render;
use crate::app::{discord_owner, Action, App, ConsultView, TeamAction, ViewKind};
use crate::error::AppError;

/// How an interaction ended, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// A refusal or notice the user can act on (not owner, expired, no match...).
    UserError,
    /// A click for an older step; the current state was shown again.
    Stale,
    /// An id or option that does not decode or does not fit the session.
    Rejected,
    /// Our fault; the user got an apology, the log has details.
    InternalError,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::UserError => "user_error",
            Outcome::Stale => "stale",
            Outcome::Rejected => "rejected",
            Outcome::InternalError => "internal_error",
        }
    }
}

/// Work the transport does after delivering the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// Re-render the team session's message from the store and edit it in
    /// place (through this interaction's token). Team clicks are acknowledged
    /// first and rendered here, serialised per session, so the message always
    /// ends up showing every vote, whatever order concurrent clicks finish in.
    RefreshTeam {
        session: String,
        /// A private note for the clicker, sent as an ephemeral follow-up
        /// (e.g. "that vote was for an earlier question").
        notice: Option<String>,
    },
}

pub struct Handled {
    pub response: CreateInteractionResponse,
    pub outcome: Outcome,
    pub after: Option<After>,
    /// A copy of the files attached to `response` (the result chart, the
    /// decision record). The response carries them when sent directly; a
    /// deferred response is sent as a webhook edit or follow-up, which
    /// takes them from here (serenity keeps a message's files private).
    pub files: Vec<CreateAttachment>,
}

impl Handled {
    fn ok(response: CreateInteractionResponse) -> Self {
        Handled {
            response,
            outcome: Outcome::Ok,
            after: None,
            files: Vec::new(),
        }
    }

    fn with_outcome(response: CreateInteractionResponse, outcome: Outcome) -> Self {
        Handled {
            response,
            outcome,
            after: None,
            files: Vec::new(),
        }
    }

    fn with_files(mut self, files: Vec<CreateAttachment>) -> Self {
        self.files = files;
        self
    }
}

/// Who clicked or typed.
struct Caller {
    owner: String,
    display_name: String,
    can_manage_guild: bool,
    in_guild: bool,
}

fn caller(user: &User, member: Option<&Member>) -> Caller {
    let display_name = member
        .and_then(|m| m.nick.clone())
        .or_else(|| user.global_name.clone())
        .unwrap_or_else(|| user.name.clone());
    Caller {
        owner: discord_owner(user.id.get()),
        display_name,
        // `member.permissions` is computed by Discord for the channel of the
        // interaction; outside a server there is none, and no stats.
        can_manage_guild: member
            .and_then(|m| m.permissions)
            .is_some_and(|p| p.contains(Permissions::MANAGE_GUILD) || p.contains(Permissions::ADMINISTRATOR)),
        in_guild: member.is_some(),
    }
}

/// The response for any interaction. `None` for kinds the bot does not
/// answer over the gateway (pings, modals it never opened).
pub fn handle(app: &App, interaction: &Interaction) -> Option<Handled> {
    match interaction {
        Interaction::Command(cmd) => Some(command(app, cmd)),
        Interaction::Autocomplete(cmd) => Some(autocomplete(app, cmd)),
        Interaction::Component(c) => Some(component(app, c)),
        // The bot never opens modals: a submit is foreign or forged.
        Interaction::Modal(_) => Some(Handled::with_outcome(
            CreateInteractionResponse::Message(render::notice(&app.content().knowledge.texts().unknown_component)),
            Outcome::Rejected,
        )),
        _ => None,
    }
}

/// Turns an application error into the message the user sees.
fn failure(app: &App, e: AppError) -> Handled {
    let texts = app.content().knowledge.texts();
    let (text, outcome) = match e {
        AppError::User(u) => {
            tracing::info!(reason = %u, "refused");
            (u.to_string(), Outcome::UserError)
        }
        AppError::Engine(e) => {
            tracing::warn!(error = %e, "component does not fit the session");
            (texts.unknown_component.clone(), Outcome::Rejected)
        }
        AppError::Stale { current } => {
            tracing::info!(current, "stale");
            (texts.stale.clone(), Outcome::Stale)
        }
        AppError::Expired => {
            tracing::info!("expired or unknown session");
            (texts.expired.clone(), Outcome::UserError)
        }
        AppError::Store(e) => {
            tracing::error!(error = %e, "store failed");
            (texts.internal_error.clone(), Outcome::InternalError)
        }
    };
    Handled::with_outcome(CreateInteractionResponse::Message(render::notice(&text)), outcome)
}

fn consult_message(app: &App, view: &ConsultView) -> Handled {
    let (msg, files) = render::consultation_parts(app.content(), view);
    let handled = match view.kind {
        // The click was applied: update the clicked message in place.
        ViewKind::Updated => Handled::ok(CreateInteractionResponse::UpdateMessage(msg)),
        ViewKind::Started | ViewKind::Resumed => Handled::ok(CreateInteractionResponse::Message(msg)),
        // Not applied: a fresh ephemeral message with the current state, and
        // the old message stays as it was.
        ViewKind::Stale => Handled::with_outcome(CreateInteractionResponse::Message(msg), Outcome::Stale),
    };
    handled.with_files(files)
}

fn command(app: &App, cmd: &CommandInteraction) -> Handled {
    let who = caller(&cmd.user, cmd.member.as_deref());
    let content = app.content();
    let public = |r: Result<crate::app::Reply, AppError>| match r {
        Ok(reply) => Handled::ok(CreateInteractionResponse::Message(render::reply(content, &reply))),
        Err(e) => failure(app, e),
    };
    // A slash command has no message to update: its answer is always a new one.
    let consult = |r: Result<ConsultView, AppError>| match r {
        Ok(view) => Handled::with_outcome(
            CreateInteractionResponse::Message(render::consultation(content, &view)),
            if view.kind == ViewKind::Stale {
                Outcome::Stale
            } else {
                Outcome::Ok
            },
        ),
        Err(e) => failure(app, e),
    };
    match commands::decode(cmd) {
        Request::Framework { framework, topic } => public(app.framework_info(&framework, topic.as_deref())),
        Request::Compare { aspect } => public(app.compare(aspect.as_deref())),
        Request::Ask { question } => public(app.ask(&question)),
        Request::ConsultStart { team: false } => consult(app.consult_start(&who.owner)),
        Request::ConsultStart { team: true } if !who.in_guild => Handled::with_outcome(
            CreateInteractionResponse::Message(render::notice(&content.knowledge.texts().team_needs_channel)),
            Outcome::UserError,
        ),
        Request::ConsultStart { team: true } => match app.team_start(&who.owner, &cmd.channel_id.get().to_string()) {
            Ok(view) => Handled::ok(CreateInteractionResponse::Message(
                render::team(content, &view).message(),
            )),
            Err(e) => failure(app, e),
        },
        Request::ConsultResume => consult(app.consult_resume(&who.owner)),
        Request::ConsultCancel => consult(app.consult_cancel(&who.owner)),
        Request::Help => Handled::ok(CreateInteractionResponse::Message(
            render::reply(content, &app.help()).ephemeral(true),
        )),
        Request::ForgetMe => Handled::ok(CreateInteractionResponse::Message(render::forget_confirm(content))),
        Request::Stats if !who.can_manage_guild => Handled::with_outcome(
            CreateInteractionResponse::Message(render::notice(&content.knowledge.texts().stats_forbidden)),
            Outcome::UserError,
        ),
        Request::Stats => match app.store().stats() {
            Ok(s) => Handled::ok(CreateInteractionResponse::Message(render::stats(content, &s))),
            Err(e) => failure(app, e.into()),
        },
        Request::SuggestTopics { .. } | Request::Unknown { .. } => {
            tracing::warn!(command = %cmd.data.name, "unknown command");
            Handled {
                response: CreateInteractionResponse::Message(render::notice(
                    &content.knowledge.texts().unknown_command,
                )),
                outcome: Outcome::Rejected,
                after: None,
                files: Vec::new(),
            }
        }
    }
}

fn autocomplete(app: &App, cmd: &CommandInteraction) -> Handled {
    let choices = match commands::decode_autocomplete(cmd) {
        Request::SuggestTopics { typed } => app.suggest_topics(&typed),
        _ => Vec::new(),
    };
    Handled::ok(CreateInteractionResponse::Autocomplete(render::autocomplete(&choices)))
}

fn component(app: &App, c: &ComponentInteraction) -> Handled {
    let who = caller(&c.user, c.member.as_ref());
    let content = app.content();
    let id = match c.data.custom_id.parse::<ComponentId>() {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!(error = %e, custom_id = %render::clip(&c.data.custom_id, 100), "unknown component id");
            return Handled {
                response: CreateInteractionResponse::Message(render::notice(
                    &content.knowledge.texts().unknown_component,
                )),
                outcome: Outcome::Rejected,
                after: None,
                files: Vec::new(),
            };
        }
    };
    match id {
        ComponentId::Team {
            session,
            revision,
            action,
        } => team_component(app, c, &who, &session, revision, action),
        ComponentId::Consult {
            session,
            revision,
            action,
        } => {
            let action = match action {
                ConsultAction::Share => {
                    return match app.completed_view(&who.owner, &session) {
                        Ok(view) => {
                            let (msg, files) = render::shared_parts(content, &view, &who.display_name);
                            Handled::ok(CreateInteractionResponse::Message(msg)).with_files(files)
                        }
                        Err(e) => failure(app, e),
                    };
                }
                ConsultAction::Pick(option) => Action::Answer(vec![option]),
                ConsultAction::Select => match &c.data.kind {
                    ComponentInteractionDataKind::StringSelect { values } => {
                        Action::Answer(values.iter().take(25).cloned().collect())
                    }
                    _ => {
                        return failure(
                            app,
                            AppError::Engine(crate::domain::session::EngineError::ChoiceCount {
                                question: String::new(),
                                min: 1,
                                max: 25,
                                got: 0,
                            }),
                        )
                    }
                },
                ConsultAction::Back => Action::Back,
                ConsultAction::Restart => Action::Restart,
                ConsultAction::Cancel => Action::Cancel,
            };
            match app.consult_act(&who.owner, &session, revision, action) {
                Ok(view) => consult_message(app, &view),
                Err(e) => failure(app, e),
            }
        }
        ComponentId::Record { session, scope } => record(app, &who, &session, scope),
        ComponentId::Topic { topic } => Handled::ok(CreateInteractionResponse::Message(render::related_topic(
            content, &topic,
        ))),
        ComponentId::NewConsult => match app.consult_start(&who.owner) {
            // Replace the finished message with the new first question.
            Ok(view) => Handled::ok(CreateInteractionResponse::UpdateMessage(render::consultation(
                content, &view,
            ))),
            Err(e) => failure(app, e),
        },
        ComponentId::Forget { confirm } => {
            let texts = content.knowledge.texts();
            if !confirm {
                return Handled::ok(CreateInteractionResponse::UpdateMessage(
                    render::notice(&texts.forget_cancelled).components(vec![]),
                ));
            }
            match app.forget(&who.owner) {
                Ok(n) => {
                    tracing::info!(sessions = n, "forgot a user");
                    Handled::ok(CreateInteractionResponse::UpdateMessage(
                        render::notice(&texts.forget_done).components(vec![]),
                    ))
                }
                Err(e) => failure(app, e),
            }
        }
    }
}

/// "Decision record": the Markdown file of a finished consultation. A private
/// result's button works for its owner only; a shared or team result's for
/// anyone who sees it. A forged scope cannot reach a team session as private
/// or the other way round: the session says which it is.
fn record(app: &App, who: &Caller, session: &str, scope: RecordScope) -> Handled {
    let content = app.content();
    let view = match scope {
        RecordScope::Private => app.completed_view(&who.owner, session),
        RecordScope::Shared | RecordScope::Team => app.current_view(session),
    };
    let view = match view {
        Ok(v) => v,
        Err(e) => return failure(app, e),
    };
    let is_team = view.session.team.is_some();
    let finished = view.recommendation.is_some();
    if !finished || is_team != (scope == RecordScope::Team) {
        tracing::warn!(session, ?scope, "decision record for a session it does not fit");
        return Handled::with_outcome(
            CreateInteractionResponse::Message(render::notice(&content.knowledge.texts().unknown_component)),
            Outcome::Rejected,
        );
    }
    let (msg, files) = render::decision_record(content, &view);
    Handled::ok(CreateInteractionResponse::Message(msg)).with_files(files)
}

/// Values of a string select, bounded.
fn select_values(c: &ComponentInteraction) -> Option<Vec<String>> {
    match &c.data.kind {
        ComponentInteractionDataKind::StringSelect { values } => Some(values.iter().take(25).cloned().collect()),
        _ => None,
    }
}

fn team_component(
    app: &App,
    c: &ComponentInteraction,
    who: &Caller,
    session: &str,
    revision: u32,
    button: TeamButton,
) -> Handled {
    let content = app.content();
    let action = match button {
        TeamButton::Me => {
            return match app.member_recommendation(&who.owner, session) {
                Ok(rec) => Handled::ok(CreateInteractionResponse::Message(render::member_recommendation(
                    content, &rec,
                ))),
                Err(e) => failure(app, e),
            };
        }
        TeamButton::Vote(option) => TeamAction::Vote(vec![option]),
        TeamButton::Select => match select_values(c) {
            Some(values) => TeamAction::Vote(values),
            None => return failure(app, AppError::Engine(crate::domain::session::EngineError::WrongMode)),
        },
        TeamButton::Next => TeamAction::Next,
        TeamButton::Back => TeamAction::Back,
        TeamButton::Finish => TeamAction::Finish,
        TeamButton::Cancel => TeamAction::Cancel,
    };
    let message_ref = format!("{}:{}", c.channel_id.get(), c.message.id.get());
    match app.team_act(
        &who.owner,
        &who.display_name,
        session,
        revision,
        action,
        Some(&message_ref),
    ) {
        // Acknowledge now; the message is re-rendered from the store after.
        Ok(_) => Handled {
            files: Vec::new(),
            response: CreateInteractionResponse::Acknowledge,
            outcome: Outcome::Ok,
            after: Some(After::RefreshTeam {
                session: session.to_string(),
                notice: None,
            }),
        },
        // A click on a question that is no longer current: not counted. The
        // message is re-rendered (it may be behind, e.g. after a lost edit,
        // and would otherwise stay stuck on old buttons) and the clicker is told.
        Err(AppError::Stale { current }) => {
            tracing::info!(current, "stale team click");
            Handled {
                files: Vec::new(),
                response: CreateInteractionResponse::Acknowledge,
                outcome: Outcome::Stale,
                after: Some(After::RefreshTeam {
                    session: session.to_string(),
                    notice: Some(content.knowledge.texts().stale.clone()),
                }),
            }
        }
        // The message says so, for everyone, and takes no more votes.
        Err(AppError::Expired) => Handled::with_outcome(
            CreateInteractionResponse::UpdateMessage(
                render::team_ended(content, &content.knowledge.texts().expired).message(),
            ),
            Outcome::UserError,
        ),
        Err(e) => failure(app, e),
    }
}
