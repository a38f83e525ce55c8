//! Transport-neutral values ([`Reply`], [`ConsultView`]) rendered as Discord
//! messages: embeds, buttons, selects.
//!
//! Limits are enforced by construction: every embed goes through
//! [`EmbedSpec::build`], which clips each part to Discord's limit and the
//! whole to 6000 characters, and every message sets `allowed_mentions` with
//! an empty `parse` list so echoed text can never ping anyone.

use serenity::all::{
    ButtonStyle, CreateActionRow, CreateAllowedMentions, CreateAttachment, CreateAutocompleteResponse, CreateButton,
    CreateEmbed, CreateEmbedFooter, CreateInteractionResponseMessage, CreateSelectMenu, CreateSelectMenuKind,
    CreateSelectMenuOption, EditInteractionResponse, EditMessage, ReactionType,
};

use super::custom_id::{ComponentId, ConsultAction, RecordScope, TeamAction};
use crate::app::{ConsultView, Reply};
use crate::content::Content;
use crate::domain::labels::fill;
use crate::domain::questionnaire::Question;
use crate::domain::scoring::Recommendation;
use crate::domain::search::{Entry, Intent};
use crate::domain::session::{Session, Status};
use crate::present::{self, bar, Audience, RecommendationView};
use crate::storage::Stats;

pub use crate::present::clip;

/// Discord's documented limits that the OpenAPI spec does not encode.
pub mod limits {
    pub const TITLE: usize = 256;
    pub const DESCRIPTION: usize = 4096;
    pub const FIELDS: usize = 25;
    pub const FIELD_NAME: usize = 256;
    pub const FIELD_VALUE: usize = 1024;
    pub const FOOTER: usize = 2048;
    pub const TOTAL: usize = 6000;
    pub const CONTENT: usize = 2000;
    pub const BUTTONS_PER_ROW: usize = 5;
    pub const ROWS: usize = 5;
    pub const LABEL: usize = 80;
    pub const SELECT_OPTIONS: usize = 25;
    pub const SELECT_TEXT: usize = 100;
    pub const CHOICES: usize = 25;
    pub const CHOICE_NAME: usize = 100;
}

/// Colour of a close call and of neutral messages (Discord's "blurple" grey).
const NEUTRAL: u32 = present::NEUTRAL_COLOUR;

/// An embed as plain data, clipped to Discord's limits when built.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmbedSpec {
    pub title: String,
    pub description: String,
    pub colour: u32,
    pub fields: Vec<(String, String, bool)>,
    pub footer: Option<String>,
}

impl EmbedSpec {
    /// Characters Discord counts toward the 6000 total.
    pub fn total_chars(&self) -> usize {
        self.title.chars().count()
            + self.description.chars().count()
            + self
                .fields
                .iter()
                .map(|(n, v, _)| n.chars().count() + v.chars().count())
                .sum::<usize>()
            + self.footer.as_ref().map_or(0, |f| f.chars().count())
    }

    /// Clips every part to its limit, then shrinks the longest parts until the
    /// whole fits in `budget` characters.
    pub fn clipped(mut self, budget: usize) -> Self {
        self.title = clip(&self.title, limits::TITLE);
        self.description = clip(&self.description, limits::DESCRIPTION);
        self.fields.truncate(limits::FIELDS);
        self.fields
            .retain(|(n, v, _)| !n.trim().is_empty() && !v.trim().is_empty());
        for (n, v, _) in &mut self.fields {
            *n = clip(n, limits::FIELD_NAME);
            *v = clip(v, limits::FIELD_VALUE);
        }
        self.footer = self.footer.map(|f| clip(&f, limits::FOOTER));
        while self.total_chars() > budget {
            let over = self.total_chars() - budget;
            // Shrink the longest text part; titles stay.
            let desc_len = self.description.chars().count();
            let longest_field = self
                .fields
                .iter()
                .enumerate()
                .max_by_key(|(_, (_, v, _))| v.chars().count())
                .map(|(i, (_, v, _))| (i, v.chars().count()));
            match longest_field {
                Some((i, len)) if len >= desc_len && len > 16 => {
                    let keep = len.saturating_sub(over).max(16);
                    self.fields[i].1 = clip(&self.fields[i].1, keep);
                }
                _ if desc_len > 16 => {
                    self.description = clip(&self.description, desc_len.saturating_sub(over).max(16));
                }
                _ => {
                    // Only tiny parts are left: drop fields from the end.
                    if self.fields.pop().is_none() {
                        self.footer = None;
                        self.title = clip(&self.title, 16);
                        break;
                    }
                }
            }
        }
        self
    }

    pub fn build(self) -> CreateEmbed {
        self.clipped(limits::TOTAL).build_clipped()
    }

    /// Builds an embed already clipped (to a share of the 6000 budget).
    fn build_clipped(self) -> CreateEmbed {
        let spec = self;
        let mut e = CreateEmbed::new().colour(spec.colour);
        if !spec.title.is_empty() {
            e = e.title(spec.title);
        }
        if !spec.description.is_empty() {
            e = e.description(spec.description);
        }
        for (n, v, inline) in spec.fields {
            e = e.field(n, v, inline);
        }
        if let Some(f) = spec.footer {
            e = e.footer(CreateEmbedFooter::new(f));
        }
        e
    }
}

/// A message that can never ping: `allowed_mentions.parse` is empty.
pub fn message() -> CreateInteractionResponseMessage {
    CreateInteractionResponseMessage::new().allowed_mentions(CreateAllowedMentions::new())
}

/// A short ephemeral notice (refusals, confirmations, apologies).
pub fn notice(text: &str) -> CreateInteractionResponseMessage {
    message().ephemeral(true).content(clip(text, limits::CONTENT))
}

fn framework_name(content: &Content, id: &str) -> String {
    present::framework_name(content, id)
}

fn colour_of(content: &Content, id: Option<&str>) -> u32 {
    id.and_then(|id| content.knowledge.framework(id))
        .map_or(NEUTRAL, |f| f.colour)
}

fn bullets(items: &[String]) -> String {
    items.iter().map(|i| format!("• {i}")).collect::<Vec<_>>().join("\n")
}

fn facts_field(content: &Content, facts: &[&crate::domain::knowledge::Fact]) -> String {
    let l = present::labels(content);
    facts
        .iter()
        .map(|f| {
            let line = fill(
                &l.fact_line,
                &[("text", &f.text), ("source", &f.source), ("as_of", &f.as_of)],
            );
            format!("• {line}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn docs_buttons(content: &Content) -> Vec<CreateButton> {
    let l = present::labels(content);
    content
        .knowledge
        .frameworks
        .iter()
        .map(|f| {
            CreateButton::new_link(&f.docs_url).label(clip(&fill(&l.docs_of, &[("framework", &f.name)]), limits::LABEL))
        })
        .collect()
}

/// Knowledge answers: public messages (useful to the whole channel).
pub fn reply(content: &Content, reply: &Reply) -> CreateInteractionResponseMessage {
    let kb = &content.knowledge;
    let l = present::labels(content);
    let mut components = Vec::new();
    let spec = match reply {
        Reply::Overview { framework } => {
            let Some(f) = kb.framework(framework) else {
                return notice(&kb.texts().no_match);
            };
            let facts: Vec<_> = f.facts.iter().collect();
            let topics = kb
                .topics
                .iter()
                .map(|t| format!("`{}`", t.id))
                .collect::<Vec<_>>()
                .join(" ");
            components.push(CreateActionRow::Buttons(vec![
                CreateButton::new_link(&f.docs_url).label(clip(&l.documentation, limits::LABEL)),
                CreateButton::new_link(&f.website_url).label(clip(&l.website, limits::LABEL)),
            ]));
            EmbedSpec {
                title: format!("{} — {}", f.name, f.tagline),
                description: f.summary.clone(),
                colour: f.colour,
                fields: vec![
                    (l.key_facts.clone(), facts_field(content, &facts), false),
                    (l.topics.clone(), topics, false),
                ],
                footer: Some(fill(&l.overview_footer, &[("id", &f.id)])),
            }
        }
        Reply::Topic { framework, topic } => {
            let (Some(f), Some(t)) = (kb.framework(framework), kb.topic(topic)) else {
                return notice(&kb.texts().no_match);
            };
            let facts: Vec<_> = t.facts_for(framework).collect();
            EmbedSpec {
                title: format!("{}: {}", f.name, t.title),
                description: t.side(framework).unwrap_or_default().to_string(),
                colour: f.colour,
                fields: vec![(l.facts.clone(), facts_field(content, &facts), false)],
                footer: Some(fill(&l.topic_footer, &[("topic", &t.id)])),
            }
        }
        Reply::Compare { topic: None } => EmbedSpec {
            title: l.compare_title.clone(),
            description: String::new(),
            colour: NEUTRAL,
            fields: kb
                .frameworks
                .iter()
                .map(|f| (f.name.clone(), format!("*{}*\n{}", f.tagline, f.summary), true))
                .chain(std::iter::once((
                    l.compare_one_aspect.clone(),
                    kb.topics
                        .iter()
                        .map(|t| format!("`{}`", t.id))
                        .collect::<Vec<_>>()
                        .join(" "),
                    false,
                )))
                .collect(),
            footer: Some(l.compare_footer.clone()),
        },
        Reply::Compare { topic: Some(topic) } => match kb.topic(topic) {
            Some(t) => comparison_spec(content, t),
            None => return notice(&kb.texts().no_match),
        },
        Reply::Answer {
            question,
            hits,
            framework,
            intent,
        } => {
            let labels = &kb.search_terms.text;
            // Follow-up buttons: the other topics found, then the best FAQ
            // entry's related topics (a button opens one topic side by side).
            let best_faq = hits.first().and_then(|h| match &h.entry {
                Entry::Faq(id) => kb.faq_entry(id),
                Entry::Topic(_) => None,
            });
            let mut related: Vec<&crate::domain::knowledge::Topic> = Vec::new();
            let candidates = hits
                .iter()
                .skip(1)
                .flat_map(|h| match &h.entry {
                    Entry::Topic(id) => vec![id.as_str()],
                    Entry::Faq(id) => kb
                        .faq_entry(id)
                        .map(|e| e.topics.iter().map(String::as_str).collect())
                        .unwrap_or_default(),
                })
                .chain(best_faq.into_iter().flat_map(|e| e.topics.iter().map(String::as_str)));
            for id in candidates {
                if let Some(t) = kb.topic(id) {
                    if !related.iter().any(|r| r.id == t.id) && hits.first().map(|h| h.entry.id()) != Some(id) {
                        related.push(t);
                    }
                }
            }
            let buttons: Vec<CreateButton> = related
                .iter()
                .take(limits::BUTTONS_PER_ROW)
                .map(|t| {
                    CreateButton::new(ComponentId::Topic { topic: t.id.clone() }.to_string())
                        .label(clip(&t.title, limits::LABEL))
                        .style(ButtonStyle::Secondary)
                })
                .collect();
            if !buttons.is_empty() {
                components.push(CreateActionRow::Buttons(buttons));
            }
            let footer = Some(clip(&format!("You asked: {question}"), 300));
            if let Some(e) = best_faq {
                let facts: Vec<_> = e.facts.iter().collect();
                let mut fields = Vec::new();
                if !facts.is_empty() {
                    fields.push((labels.facts.clone(), facts_field(content, &facts), false));
                }
                fields.push((labels.sources.clone(), e.sources.join("\n"), false));
                let others: Vec<&str> = hits
                    .iter()
                    .skip(1)
                    .filter_map(|h| match &h.entry {
                        Entry::Faq(id) => kb.faq_entry(id).map(|o| o.question.as_str()),
                        Entry::Topic(_) => None,
                    })
                    .collect();
                if !others.is_empty() {
                    fields.push((labels.related.clone(), others.join("\n"), false));
                }
                EmbedSpec {
                    title: e.question.clone(),
                    description: e.answer.clone(),
                    colour: colour_of(content, e.framework.as_deref().or(framework.as_deref())),
                    fields,
                    footer,
                }
            } else {
                let Some(best) = hits.first().and_then(|h| kb.topic(h.entry.id())) else {
                    return notice(&labels.unknown);
                };
                let mut fields = Vec::new();
                let side = framework.as_deref().and_then(|f| best.side(f).map(|s| (f, s)));
                let (title, description) = match side {
                    Some((f, side)) if *intent == Intent::Lookup => {
                        fields.push(("Compared with the other".to_string(), best.comparison.clone(), false));
                        (
                            format!("Best match: {}", best.title),
                            format!("**{}**\n{}", framework_name(content, f), side),
                        )
                    }
                    _ => {
                        fields.push(("Django".to_string(), best.django.clone(), true));
                        fields.push(("Flask".to_string(), best.flask.clone(), true));
                        let title = match intent {
                            Intent::Compare => labels.compared.replace("{title}", &best.title),
                            Intent::Lookup => format!("Best match: {}", best.title),
                        };
                        (title, best.comparison.clone())
                    }
                };
                EmbedSpec {
                    title,
                    description,
                    colour: colour_of(content, framework.as_deref()),
                    fields,
                    footer,
                }
            }
        }
        Reply::Help => EmbedSpec {
            title: "framework-advisor".into(),
            description: kb.texts().help.clone(),
            colour: NEUTRAL,
            ..Default::default()
        },
        Reply::Stats(stats) => stats_spec(content, stats),
    };
    message().embed(spec.build()).components(components)
}

fn comparison_spec(content: &Content, t: &crate::domain::knowledge::Topic) -> EmbedSpec {
    let l = present::labels(content);
    EmbedSpec {
        title: fill(&l.comparison_title, &[("topic", &t.title)]),
        description: String::new(),
        colour: NEUTRAL,
        fields: vec![
            (framework_name(content, "django"), t.django.clone(), true),
            (framework_name(content, "flask"), t.flask.clone(), true),
            (l.bottom_line.clone(), t.comparison.clone(), false),
        ],
        footer: None,
    }
}

/// The side-by-side for a "related topic" button: ephemeral, only for the clicker.
pub fn related_topic(content: &Content, topic: &str) -> CreateInteractionResponseMessage {
    match content.knowledge.topic(topic) {
        Some(t) => message().ephemeral(true).embed(comparison_spec(content, t).build()),
        None => notice(&content.knowledge.texts().unknown_component),
    }
}

fn stats_spec(content: &Content, s: &Stats) -> EmbedSpec {
    let l = present::labels(content);
    let list = |m: &std::collections::BTreeMap<String, u64>| {
        if m.is_empty() {
            l.stats_none.clone()
        } else {
            m.iter()
                .map(|(k, v)| format!("`{k}` {v}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    EmbedSpec {
        title: l.stats_title.clone(),
        description: stats_private_line(content, s),
        colour: NEUTRAL,
        fields: vec![
            (l.stats_outcomes.clone(), list(&s.outcomes), true),
            (l.stats_dropoff.clone(), list(&s.dropoff), true),
            (l.stats_team_title.clone(), stats_team_line(content, s), false),
        ],
        footer: None,
    }
}

/// "Consultations: 3 started, ..." (the terminal fills the same label).
fn stats_private_line(content: &Content, s: &Stats) -> String {
    let n = |v: u64| v.to_string();
    fill(
        &present::labels(content).stats_private,
        &[
            ("started", &n(s.started)),
            ("completed", &n(s.completed)),
            ("abandoned", &n(s.abandoned)),
            ("active", &n(s.active)),
        ],
    )
}

fn stats_team_line(content: &Content, s: &Stats) -> String {
    let n = |v: u64| v.to_string();
    let t = &s.team;
    fill(
        &present::labels(content).stats_team,
        &[
            ("started", &n(t.started)),
            ("completed", &n(t.completed)),
            ("abandoned", &n(t.abandoned)),
            ("participants", &n(t.participants)),
            ("votes", &n(t.votes)),
        ],
    )
}

pub fn stats(content: &Content, s: &Stats) -> CreateInteractionResponseMessage {
    message().ephemeral(true).embed(stats_spec(content, s).build())
}

pub fn autocomplete(choices: &[(String, String)]) -> CreateAutocompleteResponse {
    choices
        .iter()
        .take(limits::CHOICES)
        .fold(CreateAutocompleteResponse::new(), |r, (name, value)| {
            r.add_string_choice(clip(name, limits::CHOICE_NAME), clip(value, limits::CHOICE_NAME))
        })
}

fn consult_id(session: &Session, action: ConsultAction) -> String {
    ComponentId::Consult {
        session: session.id.clone(),
        revision: session.revision,
        action,
    }
    .to_string()
}

fn emoji(e: &Option<String>) -> Option<ReactionType> {
    e.as_ref().map(|e| ReactionType::Unicode(e.clone()))
}

/// Buttons for up to five single-choice options, else a string select.
/// `id_for(Some(option))` is a button's custom_id, `id_for(None)` the select's.
fn answer_row(
    content: &Content,
    session: &Session,
    q: &Question,
    id_for: impl Fn(Option<&str>) -> String,
) -> CreateActionRow {
    let view = present::question(content, session, q);
    if !view.multi && q.options.len() <= limits::BUTTONS_PER_ROW {
        let buttons = q
            .options
            .iter()
            .map(|o| {
                let mut b = CreateButton::new(id_for(Some(&o.id)))
                    .label(clip(&o.label, limits::LABEL))
                    .style(ButtonStyle::Primary);
                if let Some(e) = emoji(&o.emoji) {
                    b = b.emoji(e);
                }
                b
            })
            .collect();
        return CreateActionRow::Buttons(buttons);
    }
    let options = q
        .options
        .iter()
        .take(limits::SELECT_OPTIONS)
        .map(|o| {
            let mut opt = CreateSelectMenuOption::new(clip(&o.label, limits::SELECT_TEXT), o.id.clone());
            if let Some(d) = &o.description {
                opt = opt.description(clip(d, limits::SELECT_TEXT));
            }
            if let Some(e) = emoji(&o.emoji) {
                opt = opt.emoji(e);
            }
            opt
        })
        .collect();
    let max = view.max.min(limits::SELECT_OPTIONS) as u8;
    CreateActionRow::SelectMenu(
        CreateSelectMenu::new(id_for(None), CreateSelectMenuKind::String { options })
            .placeholder(clip(&view.choose_hint, limits::SELECT_TEXT))
            .min_values(view.min as u8)
            .max_values(max),
    )
}

fn controls_row(content: &Content, session: &Session) -> CreateActionRow {
    let l = present::labels(content);
    CreateActionRow::Buttons(vec![
        CreateButton::new(consult_id(session, ConsultAction::Back))
            .label(clip(&l.back, limits::LABEL))
            .emoji(ReactionType::Unicode("↩️".into()))
            .style(ButtonStyle::Secondary)
            .disabled(session.answers.is_empty()),
        CreateButton::new(consult_id(session, ConsultAction::Restart))
            .label(clip(&l.restart, limits::LABEL))
            .style(ButtonStyle::Secondary)
            .disabled(session.answers.is_empty()),
        CreateButton::new(consult_id(session, ConsultAction::Cancel))
            .label(clip(&l.cancel, limits::LABEL))
            .style(ButtonStyle::Danger),
    ])
}

/// The embed of the question in progress.
pub fn question_spec(content: &Content, view: &ConsultView, q: &Question) -> EmbedSpec {
    let session = &view.session;
    let qv = present::question(content, session, q);
    let mut description = String::new();
    if let Some(n) = &view.notice {
        description.push_str(n);
        description.push_str("\n\n");
    }
    if let Some(r) = &qv.reaction {
        description.push_str(&format!("> {r}\n\n"));
    }
    let p = &qv.progress;
    description.push_str(&format!("**{}** `{}`", p.label, bar(p.done, p.total, 12)));
    if let Some(h) = &qv.help {
        description.push_str(&format!("\n{h}"));
    }
    EmbedSpec {
        title: qv.prompt,
        description,
        colour: NEUTRAL,
        fields: Vec::new(),
        footer: view.lean.clone(),
    }
}

/// Title of a verdict: "Recommendation: Django" or "A close call, leaning Flask".
pub fn verdict_title(content: &Content, rec: &Recommendation) -> String {
    present::recommendation(content, rec, Audience::Private).title
}

fn reason_lines(reasons: &[present::ReasonView]) -> String {
    reasons
        .iter()
        .map(|r| {
            let share = r.share_label.as_ref().map_or(String::new(), |s| format!(", {s}"));
            format!(
                "→ **{}**: {} (+{:.1} {}{share})",
                r.option_label, r.text, r.points, r.toward_name
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The recommendation embed of a view model.
pub fn recommendation_embed(content: &Content, rec: &RecommendationView) -> EmbedSpec {
    let l = present::labels(content);
    let mut description = format!(
        "**{}** `{}`",
        rec.confidence_label,
        bar(rec.confidence as usize, 100, 20)
    );
    if let Some(a) = &rec.close_call_advice {
        description.push_str(&format!("\n\n{a}"));
    }
    let mut fields = vec![
        (l.reasons_for.clone(), reason_lines(&rec.reasons_for), false),
        (l.reasons_against.clone(), reason_lines(&rec.reasons_against), false),
        (l.tradeoffs.clone(), bullets(&rec.tradeoffs), false),
        (l.next_steps.clone(), bullets(&rec.next_steps), false),
        (l.packages.clone(), bullets(&rec.packages), false),
    ];
    if let Some(n) = &rec.fastapi_note {
        fields.push((l.also_worth_a_look.clone(), n.clone(), false));
    }
    EmbedSpec {
        title: rec.title.clone(),
        description,
        colour: rec.colour,
        fields,
        footer: Some(rec.points_label.clone()),
    }
}

/// The recommendation embed.
pub fn recommendation_spec(content: &Content, rec: &Recommendation) -> EmbedSpec {
    recommendation_embed(content, &present::recommendation(content, rec, Audience::Private))
}

/// The chart of a finished consultation as an attachment, with the URL an
/// embed uses to show it. `None` (and a log line) if it cannot be drawn: the
/// result is still worth sending without its picture.
pub fn chart_attachment(content: &Content, view: &ConsultView) -> Option<(CreateAttachment, String)> {
    let rec = view.recommendation.as_ref()?;
    let l = present::labels(content);
    let started = std::time::Instant::now();
    match present::chart::of_result(content, &view.session, rec, view.unity.as_ref()) {
        Ok(png) => {
            tracing::debug!(
                draw_ms = started.elapsed().as_secs_f64() * 1000.0,
                bytes = png.len(),
                "result chart drawn"
            );
            Some((
                CreateAttachment::bytes(png, l.chart_filename.clone()),
                format!("attachment://{}", l.chart_filename),
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, session = %view.session.id, "drawing the result chart failed");
            None
        }
    }
}

/// The decision record of a finished consultation as a Markdown attachment.
pub fn record_attachment(content: &Content, view: &ConsultView) -> Option<CreateAttachment> {
    let rec = view.recommendation.as_ref()?;
    let markdown = present::record::of_result(content, &view.session, rec, view.unity.as_ref());
    Some(CreateAttachment::bytes(
        markdown.into_bytes(),
        present::labels(content).record_filename.clone(),
    ))
}

/// The Decision record message: the file, and a line saying what it is.
/// Ephemeral for a private consultation, in the channel for a team.
pub fn decision_record(
    content: &Content,
    view: &ConsultView,
) -> (CreateInteractionResponseMessage, Vec<CreateAttachment>) {
    let Some(file) = record_attachment(content, view) else {
        return (notice(&content.knowledge.texts().expired), vec![]);
    };
    let l = present::labels(content);
    let msg = message()
        .ephemeral(view.session.team.is_none())
        .content(clip(&l.decision_record, limits::CONTENT))
        .add_file(file.clone());
    (msg, vec![file])
}

fn record_button(id: ComponentId, content: &Content) -> CreateButton {
    CreateButton::new(id.to_string())
        .label(clip(&present::labels(content).decision_record, limits::LABEL))
        .style(ButtonStyle::Secondary)
}

/// A private consultation as an ephemeral message: question, result or end.
pub fn consultation(content: &Content, view: &ConsultView) -> CreateInteractionResponseMessage {
    consultation_parts(content, view).0
}

/// [`consultation`] and a copy of the files it attaches (the result chart),
/// for a transport that must send them separately.
pub fn consultation_parts(
    content: &Content,
    view: &ConsultView,
) -> (CreateInteractionResponseMessage, Vec<CreateAttachment>) {
    let session = &view.session;
    let l = present::labels(content);
    let base = message().ephemeral(true);
    let msg = match session.status {
        Status::Active => match content.questionnaire.next_question(&session.answers) {
            Some(q) => base.embed(question_spec(content, view, q).build()).components(vec![
                answer_row(content, session, q, |o| match o {
                    Some(o) => consult_id(session, ConsultAction::Pick(o.to_string())),
                    None => consult_id(session, ConsultAction::Select),
                }),
                controls_row(content, session),
            ]),
            None => notice(&content.knowledge.texts().internal_error),
        },
        Status::Completed => {
            let Some(rec) = &view.recommendation else {
                return (notice(&content.knowledge.texts().internal_error), vec![]);
            };
            let mut spec = recommendation_spec(content, rec);
            if let Some(n) = &view.notice {
                spec.description = format!("{n}\n\n{}", spec.description);
            }
            let mut buttons = docs_buttons(content);
            buttons.push(
                CreateButton::new(consult_id(session, ConsultAction::Share))
                    .label(clip(&l.share_in_channel, limits::LABEL))
                    .style(ButtonStyle::Success),
            );
            buttons.push(record_button(
                ComponentId::Record {
                    session: session.id.clone(),
                    scope: RecordScope::Private,
                },
                content,
            ));
            buttons.push(
                CreateButton::new(ComponentId::NewConsult.to_string())
                    .label(clip(&l.new_consultation, limits::LABEL))
                    .style(ButtonStyle::Secondary),
            );
            buttons.truncate(limits::BUTTONS_PER_ROW);
            let mut embed = spec.build();
            let mut msg = base;
            let mut files = Vec::new();
            if let Some((file, url)) = chart_attachment(content, view) {
                embed = embed.image(url);
                msg = msg.add_file(file.clone());
                files.push(file);
            }
            return (
                msg.embed(embed).components(vec![CreateActionRow::Buttons(buttons)]),
                files,
            );
        }
        Status::Cancelled => base
            .embed(
                EmbedSpec {
                    title: l.consultation_cancelled.clone(),
                    description: view
                        .notice
                        .clone()
                        .unwrap_or_else(|| content.knowledge.texts().cancelled.clone()),
                    colour: NEUTRAL,
                    ..Default::default()
                }
                .build(),
            )
            .components(vec![CreateActionRow::Buttons(vec![CreateButton::new(
                ComponentId::NewConsult.to_string(),
            )
            .label(clip(&l.new_consultation, limits::LABEL))
            .style(ButtonStyle::Primary)])]),
    };
    (msg, vec![])
}

/// The public message posted by Share: the recommendation, attributed by
/// display name (plain text, never a mention).
pub fn shared(content: &Content, view: &ConsultView, display_name: &str) -> CreateInteractionResponseMessage {
    shared_parts(content, view, display_name).0
}

/// [`shared`] and a copy of the files it attaches.
pub fn shared_parts(
    content: &Content,
    view: &ConsultView,
    display_name: &str,
) -> (CreateInteractionResponseMessage, Vec<CreateAttachment>) {
    let Some(rec) = &view.recommendation else {
        return (notice(&content.knowledge.texts().expired), vec![]);
    };
    let attribution = content
        .knowledge
        .texts()
        .shared_by
        .replace("{name}", &clip(&sanitise_name(content, display_name), 64));
    let mut spec = recommendation_spec(content, rec);
    spec.footer = Some(attribution);
    let mut buttons = docs_buttons(content);
    buttons.push(record_button(
        ComponentId::Record {
            session: view.session.id.clone(),
            scope: RecordScope::Shared,
        },
        content,
    ));
    buttons.truncate(limits::BUTTONS_PER_ROW);
    let mut embed = spec.build();
    let mut msg = message();
    let mut files = Vec::new();
    if let Some((file, url)) = chart_attachment(content, view) {
        embed = embed.image(url);
        msg = msg.add_file(file.clone());
        files.push(file);
    }
    (
        msg.embed(embed).components(vec![CreateActionRow::Buttons(buttons)]),
        files,
    )
}

/// A display name safe to show as text: no markdown or mention syntax.
pub fn sanitise_name(content: &Content, name: &str) -> String {
    present::sanitise_name(name, &present::labels(content).a_member)
}

/// A message body usable as a response, an interaction edit or a message edit.
pub struct Rendered {
    pub embeds: Vec<CreateEmbed>,
    pub components: Vec<CreateActionRow>,
    /// New files (the result chart), referenced by the embeds.
    pub files: Vec<CreateAttachment>,
}

impl Rendered {
    pub fn message(self) -> CreateInteractionResponseMessage {
        message()
            .embeds(self.embeds)
            .components(self.components)
            .add_files(self.files)
    }

    pub fn edit(self) -> EditInteractionResponse {
        let mut edit = EditInteractionResponse::new()
            .embeds(self.embeds)
            .components(self.components)
            .allowed_mentions(CreateAllowedMentions::new());
        for f in self.files {
            edit = edit.new_attachment(f);
        }
        edit
    }

    pub fn edit_message(self) -> EditMessage {
        let mut edit = EditMessage::new()
            .embeds(self.embeds)
            .components(self.components)
            .allowed_mentions(CreateAllowedMentions::new());
        for f in self.files {
            edit = edit.new_attachment(f);
        }
        edit
    }
}

fn team_id(session: &Session, action: TeamAction) -> String {
    ComponentId::Team {
        session: session.id.clone(),
        revision: session.revision,
        action,
    }
    .to_string()
}

/// The live tally of the current question, compact whatever the team size.
fn tally_field(content: &Content, session: &Session, q: &Question) -> (String, String, bool) {
    let Some(t) = present::tally(content, session, q) else {
        return (String::new(), String::new(), false);
    };
    let lines: Vec<String> = t
        .rows
        .iter()
        .map(|(label, n)| format!("`{n:>3}` `{}` {}", bar(*n, t.voters.max(1), 8), clip(label, 60)))
        .collect();
    (
        t.header,
        clip(&format!("{}\n{}", lines.join("\n"), t.who), limits::FIELD_VALUE),
        false,
    )
}

fn team_controls(content: &Content, session: &Session) -> CreateActionRow {
    let l = present::labels(content);
    CreateActionRow::Buttons(vec![
        CreateButton::new(team_id(session, TeamAction::Next))
            .label(clip(&l.next, limits::LABEL))
            .style(ButtonStyle::Success),
        CreateButton::new(team_id(session, TeamAction::Back))
            .label(clip(&l.back, limits::LABEL))
            .style(ButtonStyle::Secondary)
            .disabled(session.answers.is_empty()),
        CreateButton::new(team_id(session, TeamAction::Finish))
            .label(clip(&l.finish_early, limits::LABEL))
            .style(ButtonStyle::Secondary)
            .disabled(session.answers.is_empty()),
        CreateButton::new(team_id(session, TeamAction::Cancel))
            .label(clip(&l.cancel, limits::LABEL))
            .style(ButtonStyle::Danger),
    ])
}

/// The share of the 6000-character budget the unity embed may take; the
/// recommendation keeps at least the rest.
const UNITY_BUDGET: usize = 4500;

/// How united the team was: the agreement, one compact line per question
/// asked (the chart below has the detail), and the most disputed questions
/// with what each side's choice pushed toward.
fn unity_spec(content: &Content, team: &present::TeamResultView) -> EmbedSpec {
    let l = present::labels(content);
    let disputed = team
        .disputed
        .iter()
        .map(|s| clip(&s.sides, 300))
        .collect::<Vec<_>>()
        .join("\n");
    let disputed = if disputed.is_empty() {
        l.split_nowhere.clone()
    } else {
        disputed
    };
    let mut fields = vec![(l.split_most.clone(), disputed, false)];
    // One line per question, as many fields as it takes (each at most 1024).
    let mut chunk = String::new();
    let mut chunks = Vec::new();
    for s in &team.splits {
        let line = format!("• {}", clip(&s.line, present::SPLIT_LINE));
        if !chunk.is_empty() && chunk.chars().count() + 1 + line.chars().count() > limits::FIELD_VALUE {
            chunks.push(std::mem::take(&mut chunk));
        }
        if !chunk.is_empty() {
            chunk.push('\n');
        }
        chunk.push_str(&line);
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    for (i, c) in chunks.into_iter().enumerate() {
        let name = if i == 0 {
            l.every_question.clone()
        } else {
            format!("{} ({})", l.every_question, i + 1)
        };
        fields.push((name, c, false));
    }
    EmbedSpec {
        title: l.unity_title.clone(),
        description: format!(
            "**{}** `{}`\n*{}*",
            team.agreement_label,
            bar((team.agreement * 100.0).round() as usize, 100, 20),
            l.chart_below,
        ),
        colour: NEUTRAL,
        fields,
        footer: None,
    }
}

/// The public team consultation message: the current question with its live
/// tally, or the team recommendation with the unity analysis and the chart.
pub fn team(content: &Content, view: &ConsultView) -> Rendered {
    let session = &view.session;
    let l = present::labels(content);
    match session.status {
        Status::Active => {
            let Some(q) = content.questionnaire.next_question(&session.answers) else {
                return team_ended(content, &content.knowledge.texts().internal_error);
            };
            let mut spec = question_spec(content, view, q);
            spec.fields.push(tally_field(content, session, q));
            Rendered {
                embeds: vec![spec.build()],
                components: vec![
                    answer_row(content, session, q, |o| match o {
                        Some(o) => team_id(session, TeamAction::Vote(o.to_string())),
                        None => team_id(session, TeamAction::Select),
                    }),
                    team_controls(content, session),
                ],
                files: vec![],
            }
        }
        Status::Completed => {
            let (Some(rec), Some(unity)) = (&view.recommendation, &view.unity) else {
                return team_ended(content, &content.knowledge.texts().internal_error);
            };
            let result = present::team_result(content, session, rec, unity);
            let mut spec = recommendation_embed(content, &result.recommendation);
            spec.footer = Some(result.footer.clone());
            // Two embeds share Discord's 6000-character budget: every
            // question's line comes first, the recommendation gets the rest.
            let unity_spec = unity_spec(content, &result).clipped(UNITY_BUDGET);
            let rest = limits::TOTAL - unity_spec.total_chars();
            let rec_spec = spec.clipped(rest);
            let mut unity_embed = unity_spec.build_clipped();
            let mut files = Vec::new();
            if let Some((file, url)) = chart_attachment(content, view) {
                unity_embed = unity_embed.image(url);
                files.push(file);
            }
            let mut buttons = vec![
                CreateButton::new(team_id(session, TeamAction::Me))
                    .label(clip(&l.how_would_i_have_scored, limits::LABEL))
                    .style(ButtonStyle::Primary),
                record_button(
                    ComponentId::Record {
                        session: session.id.clone(),
                        scope: RecordScope::Team,
                    },
                    content,
                ),
            ];
            buttons.extend(docs_buttons(content));
            buttons.truncate(limits::BUTTONS_PER_ROW);
            Rendered {
                embeds: vec![rec_spec.build_clipped(), unity_embed],
                components: vec![CreateActionRow::Buttons(buttons)],
                files,
            }
        }
        Status::Cancelled => team_ended(content, &content.knowledge.texts().cancelled),
    }
}

/// A team message that takes no more votes (cancelled or expired).
pub fn team_ended(content: &Content, text: &str) -> Rendered {
    Rendered {
        embeds: vec![EmbedSpec {
            title: present::labels(content).team_closed.clone(),
            description: text.to_string(),
            colour: NEUTRAL,
            ..Default::default()
        }
        .build()],
        components: vec![],
        files: vec![],
    }
}

/// "How would I have scored?": only for the member who asked.
pub fn member_recommendation(content: &Content, rec: &Recommendation) -> CreateInteractionResponseMessage {
    let spec = recommendation_embed(content, &present::recommendation(content, rec, Audience::Member));
    message().ephemeral(true).embed(spec.build())
}

/// Asks to confirm "forget me".
pub fn forget_confirm(content: &Content) -> CreateInteractionResponseMessage {
    let l = present::labels(content);
    notice(&content.knowledge.texts().forget_confirm).components(vec![CreateActionRow::Buttons(vec![
        CreateButton::new(ComponentId::Forget { confirm: true }.to_string())
            .label(clip(&l.delete_my_data, limits::LABEL))
            .style(ButtonStyle::Danger),
        CreateButton::new(ComponentId::Forget { confirm: false }.to_string())
            .label(clip(&l.keep_it, limits::LABEL))
            .style(ButtonStyle::Secondary),
    ])])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_spec() -> impl Strategy<Value = EmbedSpec> {
        (
            ".{0,400}",
            ".{0,5000}",
            proptest::collection::vec((".{0,300}", ".{0,1500}", any::<bool>()), 0..30),
            proptest::option::of(".{0,2500}"),
        )
            .prop_map(|(title, description, fields, footer)| EmbedSpec {
                title,
                description,
                colour: 0,
                fields,
                footer,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn clipped_embeds_fit_every_limit(spec in arb_spec()) {
            let c = spec.clipped(limits::TOTAL);
            prop_assert!(c.total_chars() <= limits::TOTAL);
            prop_assert!(c.title.chars().count() <= limits::TITLE);
            prop_assert!(c.description.chars().count() <= limits::DESCRIPTION);
            prop_assert!(c.fields.len() <= limits::FIELDS);
            for (n, v, _) in &c.fields {
                prop_assert!(n.chars().count() <= limits::FIELD_NAME);
                prop_assert!(v.chars().count() <= limits::FIELD_VALUE);
                prop_assert!(!v.trim().is_empty());
            }
        }
    }

    fn content() -> Content {
        Content::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("responses")).expect("content loads")
    }

    /// A finished team session: `questions` splits (the questionnaire's
    /// questions, repeated as needed) of `voters` voters with these names.
    fn team_view(content: &Content, questions: usize, names: &[String], seed: usize) -> ConsultView {
        use crate::domain::questionnaire::Answer;
        use crate::domain::scoring::WeightedPick;
        use crate::domain::session::PRIVATE_SCOPE;
        use crate::domain::team::{Split, TeamState, Unity};
        let qs = &content.questionnaire.questions;
        let mut team = TeamState::default();
        let mut splits = Vec::new();
        let mut picks = Vec::new();
        let mut answers = Vec::new();
        for i in 0..questions {
            let q = &qs[i % qs.len()];
            let mut counts: Vec<(String, usize)> = q.options.iter().map(|o| (o.id.clone(), 0)).collect();
            for (v, name) in names.iter().enumerate() {
                let k = (v * (i + seed + 1) + seed) % counts.len();
                counts[k].1 += 1;
                team.vote(&q.id, &format!("discord:{v}"), name, vec![counts[k].0.clone()]);
            }
            counts.retain(|(_, n)| *n > 0);
            counts.sort_by_key(|c| std::cmp::Reverse(c.1));
            for (o, n) in &counts {
                picks.push(WeightedPick {
                    question: q.id.clone(),
                    option: o.clone(),
                    share: *n as f64 / names.len() as f64,
                });
            }
            answers.push(Answer {
                question: q.id.clone(),
                options: vec![counts[0].0.clone()],
            });
            let agreement = counts[0].1 as f64 / names.len() as f64;
            splits.push(Split {
                question: q.id.clone(),
                voters: names.len(),
                counts,
                agreement,
            });
        }
        let disputed = splits.iter().filter(|s| s.agreement < 1.0).take(3).cloned().collect();
        let unity = Unity {
            overall: splits.iter().map(|s| s.agreement).sum::<f64>() / questions.max(1) as f64,
            splits,
            disputed,
        };
        let session = Session {
            id: "s".into(),
            owner: "discord:1".into(),
            scope: PRIVATE_SCOPE.into(),
            status: Status::Completed,
            answers,
            revision: 3,
            created_at: 0,
            updated_at: 0,
            last_reaction: None,
            current: None,
            outcome: None,
            team: Some(team),
            message_ref: None,
        };
        ConsultView {
            recommendation: Some(content.recommend(&picks)),
            unity: Some(unity),
            session,
            kind: crate::app::ViewKind::Updated,
            notice: None,
            lean: None,
        }
    }

    /// Characters Discord counts toward the 6000 total of one embed.
    fn counted(embed: &serde_json::Value) -> usize {
        let len = |v: &serde_json::Value| v.as_str().map_or(0, |s| s.chars().count());
        len(&embed["title"])
            + len(&embed["description"])
            + len(&embed["footer"]["text"])
            + len(&embed["author"]["name"])
            + embed["fields"]
                .as_array()
                .map_or(0, |f| f.iter().map(|f| len(&f["name"]) + len(&f["value"])).sum())
    }

    proptest! {
        // Each case draws a chart: few cases, still every size up to the limits.
        #![proptest_config(ProptestConfig::with_cases(40))]
        #[test]
        fn team_results_fit_discord_limits_and_list_every_question(
            questions in 1usize..=25,
            names in proptest::collection::vec("[@<>*_a-zA-Z0-9 éß\u{202E}]{1,32}", 1..=25),
            seed in 0usize..7,
        ) {
            let c = content();
            let view = team_view(&c, questions, &names, seed);
            let rendered = team(&c, &view);
            prop_assert!(rendered.embeds.len() <= 10);
            prop_assert_eq!(rendered.files.len(), 1, "the chart is attached");
            let embeds: Vec<serde_json::Value> =
                rendered.embeds.iter().map(|e| serde_json::to_value(e).unwrap()).collect();
            let total: usize = embeds.iter().map(counted).sum();
            prop_assert!(total <= limits::TOTAL, "{} characters", total);
            let mut lines = 0;
            for e in &embeds {
                prop_assert!(e["title"].as_str().map_or(0, |t| t.chars().count()) <= limits::TITLE);
                prop_assert!(e["description"].as_str().map_or(0, |t| t.chars().count()) <= limits::DESCRIPTION);
                let fields = e["fields"].as_array().cloned().unwrap_or_default();
                prop_assert!(fields.len() <= limits::FIELDS);
                for f in &fields {
                    let v = f["value"].as_str().unwrap();
                    prop_assert!(v.chars().count() <= limits::FIELD_VALUE);
                    prop_assert!(f["name"].as_str().unwrap().chars().count() <= limits::FIELD_NAME);
                    if f["name"].as_str().unwrap().starts_with(&c.knowledge.labels().every_question) {
                        lines += v.lines().count();
                    }
                }
            }
            prop_assert_eq!(lines, questions, "one line per question asked");
            let title = embeds[0]["title"].as_str().unwrap();
            prop_assert!(!title.contains("django") && !title.contains("flask"), "{}", title);
            for e in &embeds {
                prop_assert!(!e.to_string().contains('@'), "no mention syntax from names");
            }
        }
    }

    #[test]
    fn clip_counts_characters_not_bytes() {
        assert_eq!(clip("héllo", 5), "héllo");
        assert_eq!(clip("héllo wörld", 6), "héllo…");
        assert_eq!(clip("", 3), "");
    }

    #[test]
    fn messages_always_set_empty_allowed_mentions() {
        let v = serde_json::to_value(notice("@everyone hi")).unwrap();
        assert_eq!(v["allowed_mentions"]["parse"], serde_json::json!([]));
        assert_eq!(v["flags"], serde_json::json!(64));
    }
}
