//! Transport-neutral values ([`Reply`], [`ConsultView`]) rendered as Discord
//! messages: embeds, buttons, selects.
//!
//! Limits are enforced by construction: every embed goes through
//! [`EmbedSpec::build`], which clips each part to Discord's limit and the
//! whole to 6000 characters, and every message sets `allowed_mentions` with
//! an empty `parse` list so echoed text can never ping anyone.

use serenity::all::{
    ButtonStyle, CreateActionRow, CreateAllowedMentions, CreateAutocompleteResponse, CreateButton, CreateEmbed,
    CreateEmbedFooter, CreateInteractionResponseMessage, CreateSelectMenu, CreateSelectMenuKind,
    CreateSelectMenuOption, EditInteractionResponse, EditMessage, ReactionType,
};

use super::custom_id::{ComponentId, ConsultAction, TeamAction};
use crate::app::{ConsultView, Reply};
use crate::cli::text::bar;
use crate::domain::content::Content;
use crate::domain::questionnaire::{Question, QuestionKind, Session, Status};
use crate::domain::scoring::{Recommendation, Verdict};
use crate::domain::search::{Entry, Intent};
use crate::storage::Stats;

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
const NEUTRAL: u32 = 0x0099_AAB5;

/// At most `max` characters, with an ellipsis when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

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
        let spec = self.clipped(limits::TOTAL);
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
    content
        .knowledge
        .framework(id)
        .map_or_else(|| id.to_string(), |f| f.name.clone())
}

fn colour_of(content: &Content, id: Option<&str>) -> u32 {
    id.and_then(|id| content.knowledge.framework(id))
        .map_or(NEUTRAL, |f| f.colour)
}

fn bullets(items: &[String]) -> String {
    items.iter().map(|i| format!("• {i}")).collect::<Vec<_>>().join("\n")
}

fn facts_field(facts: &[&crate::domain::knowledge::Fact]) -> String {
    facts
        .iter()
        .map(|f| format!("• {} ([source]({}), as of {})", f.text, f.source, f.as_of))
        .collect::<Vec<_>>()
        .join("\n")
}

fn docs_buttons(content: &Content) -> Vec<CreateButton> {
    content
        .knowledge
        .frameworks
        .iter()
        .map(|f| CreateButton::new_link(&f.docs_url).label(clip(&format!("{} docs", f.name), limits::LABEL)))
        .collect()
}

/// Knowledge answers: public messages (useful to the whole channel).
pub fn reply(content: &Content, reply: &Reply) -> CreateInteractionResponseMessage {
    let kb = &content.knowledge;
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
                CreateButton::new_link(&f.docs_url).label("Documentation"),
                CreateButton::new_link(&f.website_url).label("Website"),
            ]));
            EmbedSpec {
                title: format!("{} — {}", f.name, f.tagline),
                description: f.summary.clone(),
                colour: f.colour,
                fields: vec![
                    ("Key facts".into(), facts_field(&facts), false),
                    ("Topics".into(), topics, false),
                ],
                footer: Some(format!("/{} topic:<name> for one topic · /compare for both", f.id)),
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
                fields: vec![("Facts".into(), facts_field(&facts), false)],
                footer: Some(format!("/compare aspect:{} for both side by side", t.id)),
            }
        }
        Reply::Compare { topic: None } => EmbedSpec {
            title: "Django vs Flask".into(),
            description: String::new(),
            colour: NEUTRAL,
            fields: kb
                .frameworks
                .iter()
                .map(|f| (f.name.clone(), format!("*{}*\n{}", f.tagline, f.summary), true))
                .chain(std::iter::once((
                    "Compare one aspect".into(),
                    kb.topics
                        .iter()
                        .map(|t| format!("`{}`", t.id))
                        .collect::<Vec<_>>()
                        .join(" "),
                    false,
                )))
                .collect(),
            footer: Some("/compare aspect:<name> · /consult start for a recommendation".into()),
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
                    fields.push((labels.facts.clone(), facts_field(&facts), false));
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
        Reply::Stats(stats) => stats_spec(stats),
    };
    message().embed(spec.build()).components(components)
}

fn comparison_spec(content: &Content, t: &crate::domain::knowledge::Topic) -> EmbedSpec {
    let _ = content;
    EmbedSpec {
        title: format!("{}: Django vs Flask", t.title),
        description: String::new(),
        colour: NEUTRAL,
        fields: vec![
            ("Django".into(), t.django.clone(), true),
            ("Flask".into(), t.flask.clone(), true),
            ("Bottom line".into(), t.comparison.clone(), false),
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

fn stats_spec(s: &Stats) -> EmbedSpec {
    let list = |m: &std::collections::BTreeMap<String, u64>| {
        if m.is_empty() {
            "none yet".to_string()
        } else {
            m.iter()
                .map(|(k, v)| format!("`{k}` {v}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    EmbedSpec {
        title: "Consultation statistics".into(),
        description: format!(
            "Private: **{}** started · **{}** completed · **{}** abandoned · **{}** active (private and team)",
            s.started, s.completed, s.abandoned, s.active
        ),
        colour: NEUTRAL,
        fields: vec![
            ("Outcomes".into(), list(&s.outcomes), true),
            ("Drop-off by question".into(), list(&s.dropoff), true),
            (
                "Team consultations".into(),
                format!(
                    "**{}** started · **{}** completed · **{}** abandoned\n**{}** participants · **{}** votes in completed ones",
                    s.team.started, s.team.completed, s.team.abandoned, s.team.participants, s.team.votes
                ),
                false,
            ),
        ],
        footer: None,
    }
}

pub fn stats(s: &Stats) -> CreateInteractionResponseMessage {
    message().ephemeral(true).embed(stats_spec(s).build())
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
fn answer_row(q: &Question, id_for: impl Fn(Option<&str>) -> String) -> CreateActionRow {
    if q.kind == QuestionKind::Single && q.options.len() <= limits::BUTTONS_PER_ROW {
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
    let (min, max) = q.choice_bounds();
    let placeholder = match q.kind {
        QuestionKind::Single => "Choose one".to_string(),
        QuestionKind::Multi if min == max => format!("Choose {min}"),
        QuestionKind::Multi => format!("Choose {min} to {max}"),
    };
    let max = max.min(limits::SELECT_OPTIONS) as u8;
    CreateActionRow::SelectMenu(
        CreateSelectMenu::new(id_for(None), CreateSelectMenuKind::String { options })
            .placeholder(placeholder)
            .min_values(min as u8)
            .max_values(max),
    )
}

fn controls_row(session: &Session) -> CreateActionRow {
    CreateActionRow::Buttons(vec![
        CreateButton::new(consult_id(session, ConsultAction::Back))
            .label("Back")
            .emoji(ReactionType::Unicode("↩️".into()))
            .style(ButtonStyle::Secondary)
            .disabled(session.answers.is_empty()),
        CreateButton::new(consult_id(session, ConsultAction::Restart))
            .label("Restart")
            .style(ButtonStyle::Secondary)
            .disabled(session.answers.is_empty()),
        CreateButton::new(consult_id(session, ConsultAction::Cancel))
            .label("Cancel")
            .style(ButtonStyle::Danger),
    ])
}

/// The embed of the question in progress.
pub fn question_spec(content: &Content, view: &ConsultView, q: &Question) -> EmbedSpec {
    let session = &view.session;
    let (step, total) = content.questionnaire.progress(&session.answers);
    let mut description = String::new();
    if let Some(n) = &view.notice {
        description.push_str(n);
        description.push_str("\n\n");
    }
    if let Some(r) = &session.last_reaction {
        description.push_str(&format!("> {r}\n\n"));
    }
    description.push_str(&format!("**Step {step} of {total}** `{}`", bar(step - 1, total, 12)));
    if let Some(h) = &q.help {
        description.push_str(&format!("\n{h}"));
    }
    EmbedSpec {
        title: q.prompt.clone(),
        description,
        colour: NEUTRAL,
        fields: Vec::new(),
        footer: view.lean.clone(),
    }
}

/// Title of a verdict: "Recommendation: Django" or "A close call, leaning Flask".
pub fn verdict_title(content: &Content, verdict: &Verdict) -> String {
    match verdict {
        Verdict::Framework { id } => format!("Recommendation: {}", framework_name(content, id)),
        Verdict::CloseCall { leaning: Some(id) } => format!("A close call, leaning {}", framework_name(content, id)),
        Verdict::CloseCall { leaning: None } => "A close call".into(),
    }
}

/// The recommendation embed.
pub fn recommendation_spec(content: &Content, rec: &Recommendation) -> EmbedSpec {
    let mut description = format!(
        "Confidence **{}%** `{}`",
        rec.confidence,
        bar(rec.confidence as usize, 100, 20)
    );
    if let Some(a) = &rec.close_call_advice {
        description.push_str(&format!("\n\n{a}"));
    }
    let why = rec
        .reasons
        .iter()
        .map(|r| {
            let share = if r.share < 1.0 {
                format!(", {:.0}% of votes", r.share * 100.0)
            } else {
                String::new()
            };
            format!(
                "→ **{}**: {} (+{:.1} {}{share})",
                r.option_label,
                r.text,
                r.points,
                framework_name(content, &r.toward)
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut fields = vec![
        ("Why".to_string(), why, false),
        ("Trade-offs to watch".to_string(), bullets(&rec.tradeoffs), false),
        ("Next steps".to_string(), bullets(&rec.next_steps), false),
        ("Packages".to_string(), bullets(&rec.packages), false),
    ];
    if let Some(n) = &rec.fastapi_note {
        fields.push(("Also worth a look".to_string(), n.clone(), false));
    }
    let scores = rec
        .scores
        .iter()
        .map(|(f, s)| format!("{} {s:.1}", framework_name(content, f)))
        .collect::<Vec<_>>()
        .join(" · ");
    EmbedSpec {
        title: verdict_title(content, &rec.verdict),
        description,
        colour: colour_of(content, rec.verdict.framework()),
        fields,
        footer: Some(format!("Points: {scores}")),
    }
}

/// A private consultation as an ephemeral message: question, result or end.
pub fn consultation(content: &Content, view: &ConsultView) -> CreateInteractionResponseMessage {
    let session = &view.session;
    let msg = message().ephemeral(true);
    match session.status {
        Status::Active => match content.questionnaire.next_question(&session.answers) {
            Some(q) => msg.embed(question_spec(content, view, q).build()).components(vec![
                answer_row(q, |o| match o {
                    Some(o) => consult_id(session, ConsultAction::Pick(o.to_string())),
                    None => consult_id(session, ConsultAction::Select),
                }),
                controls_row(session),
            ]),
            None => notice(&content.knowledge.texts().internal_error),
        },
        Status::Completed => {
            let Some(rec) = &view.recommendation else {
                return notice(&content.knowledge.texts().internal_error);
            };
            let mut spec = recommendation_spec(content, rec);
            if let Some(n) = &view.notice {
                spec.description = format!("{n}\n\n{}", spec.description);
            }
            let mut buttons = docs_buttons(content);
            buttons.push(
                CreateButton::new(consult_id(session, ConsultAction::Share))
                    .label("Share in channel")
                    .style(ButtonStyle::Success),
            );
            buttons.push(
                CreateButton::new(ComponentId::NewConsult.to_string())
                    .label("New consultation")
                    .style(ButtonStyle::Secondary),
            );
            buttons.truncate(limits::BUTTONS_PER_ROW);
            msg.embed(spec.build())
                .components(vec![CreateActionRow::Buttons(buttons)])
        }
        Status::Cancelled => msg
            .embed(
                EmbedSpec {
                    title: "Consultation cancelled".into(),
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
            .label("New consultation")
            .style(ButtonStyle::Primary)])]),
    }
}

/// The public message posted by Share: the recommendation, attributed by
/// display name (plain text, never a mention).
pub fn shared(content: &Content, view: &ConsultView, display_name: &str) -> CreateInteractionResponseMessage {
    let Some(rec) = &view.recommendation else {
        return notice(&content.knowledge.texts().expired);
    };
    let attribution = content
        .knowledge
        .texts()
        .shared_by
        .replace("{name}", &clip(&sanitise_name(display_name), 64));
    let mut spec = recommendation_spec(content, rec);
    spec.footer = Some(attribution);
    message()
        .embed(spec.build())
        .components(vec![CreateActionRow::Buttons(docs_buttons(content))])
}

/// A display name safe to show as text: no markdown or mention syntax.
pub fn sanitise_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| !c.is_control() && !crate::app::is_invisible_format(*c))
        .filter(|c| !matches!(c, '@' | '<' | '>' | '*' | '_' | '`' | '~' | '|' | '\\'))
        .collect();
    let cleaned = cleaned.trim().to_string();
    if cleaned.is_empty() {
        "a member".to_string()
    } else {
        cleaned
    }
}

/// A message body usable as a response, an interaction edit or a message edit.
pub struct Rendered {
    pub embeds: Vec<CreateEmbed>,
    pub components: Vec<CreateActionRow>,
}

impl Rendered {
    pub fn message(self) -> CreateInteractionResponseMessage {
        message().embeds(self.embeds).components(self.components)
    }

    pub fn edit(self) -> EditInteractionResponse {
        EditInteractionResponse::new()
            .embeds(self.embeds)
            .components(self.components)
            .allowed_mentions(CreateAllowedMentions::new())
    }

    pub fn edit_message(self) -> EditMessage {
        EditMessage::new()
            .embeds(self.embeds)
            .components(self.components)
            .allowed_mentions(CreateAllowedMentions::new())
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

/// Names shown under a tally: a few, then a count, never mentions.
const NAMES_SHOWN: usize = 3;

/// The live tally of the current question, compact whatever the team size.
fn tally_field(session: &Session, q: &Question) -> (String, String, bool) {
    let Some(team) = &session.team else {
        return (String::new(), String::new(), false);
    };
    let voters = team.voters_on(&q.id);
    let tally = team.tally(q);
    let lines: Vec<String> = q
        .options
        .iter()
        .zip(&tally)
        .map(|(o, (_, n))| format!("`{n:>3}` `{}` {}", bar(*n, voters.max(1), 8), clip(&o.label, 60)))
        .collect();
    let mut names: Vec<String> = team
        .votes
        .get(&q.id)
        .map(|v| {
            v.keys()
                .filter_map(|k| team.names.get(k))
                .map(|n| sanitise_name(n))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let shown = names.iter().take(NAMES_SHOWN).cloned().collect::<Vec<_>>().join(", ");
    let who = match names.len() {
        0 => "No votes yet.".to_string(),
        n if n <= NAMES_SHOWN => format!("Voted: {shown}"),
        n => format!("Voted: {shown} and {} more", n - NAMES_SHOWN),
    };
    (
        format!("Votes: {voters}"),
        clip(&format!("{}\n{who}", lines.join("\n")), limits::FIELD_VALUE),
        false,
    )
}

fn team_controls(session: &Session) -> CreateActionRow {
    CreateActionRow::Buttons(vec![
        CreateButton::new(team_id(session, TeamAction::Next))
            .label("Next")
            .style(ButtonStyle::Success),
        CreateButton::new(team_id(session, TeamAction::Back))
            .label("Back")
            .style(ButtonStyle::Secondary)
            .disabled(session.answers.is_empty()),
        CreateButton::new(team_id(session, TeamAction::Finish))
            .label("Finish early")
            .style(ButtonStyle::Secondary)
            .disabled(session.answers.is_empty()),
        CreateButton::new(team_id(session, TeamAction::Cancel))
            .label("Cancel")
            .style(ButtonStyle::Danger),
    ])
}

fn question_label(content: &Content, question: &str) -> String {
    content
        .questionnaire
        .question(question)
        .map_or_else(|| question.to_string(), |q| clip(&q.prompt, 80))
}

fn option_label(content: &Content, question: &str, option: &str) -> String {
    content
        .questionnaire
        .question(question)
        .and_then(|q| q.option(option))
        .map_or_else(|| option.to_string(), |o| clip(&o.label, 50))
}

/// How united the team was: per question the split, and the disputed ones
/// with what each side's choice pushed toward.
fn unity_spec(content: &Content, unity: &crate::domain::team::Unity) -> EmbedSpec {
    let splits = unity
        .splits
        .iter()
        .map(|s| {
            let parts = s
                .counts
                .iter()
                .map(|(o, n)| format!("{} {n}", option_label(content, &s.question, o)))
                .collect::<Vec<_>>()
                .join(" · ");
            format!("**{}**: {parts}", question_label(content, &s.question))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let disputed = unity
        .disputed
        .iter()
        .map(|s| {
            let sides = s
                .counts
                .iter()
                .take(2)
                .map(|(o, n)| {
                    let toward = match crate::domain::team::pushes_toward(&content.questionnaire, &s.question, o) {
                        Some(f) => format!("toward {}", framework_name(content, f)),
                        None => "neutral".to_string(),
                    };
                    format!("{} ({n}) → {toward}", option_label(content, &s.question, o))
                })
                .collect::<Vec<_>>()
                .join(" vs ");
            format!("**{}**: {sides}", question_label(content, &s.question))
        })
        .collect::<Vec<_>>()
        .join("\n");
    EmbedSpec {
        title: "How united the team was".into(),
        description: format!(
            "Agreement **{:.0}%** `{}`",
            unity.overall * 100.0,
            bar((unity.overall * 100.0).round() as usize, 100, 20)
        ),
        colour: NEUTRAL,
        fields: vec![
            ("Where the team split most".into(), disputed, false),
            ("Every question".into(), splits, false),
        ],
        footer: None,
    }
}

/// The public team consultation message: the current question with its live
/// tally, or the team recommendation with the unity analysis.
pub fn team(content: &Content, view: &ConsultView) -> Rendered {
    let session = &view.session;
    match session.status {
        Status::Active => {
            let Some(q) = content.questionnaire.next_question(&session.answers) else {
                return team_ended(content, &content.knowledge.texts().internal_error);
            };
            let mut spec = question_spec(content, view, q);
            spec.fields.push(tally_field(session, q));
            Rendered {
                embeds: vec![spec.build()],
                components: vec![
                    answer_row(q, |o| match o {
                        Some(o) => team_id(session, TeamAction::Vote(o.to_string())),
                        None => team_id(session, TeamAction::Select),
                    }),
                    team_controls(session),
                ],
            }
        }
        Status::Completed => {
            let (Some(rec), Some(unity)) = (&view.recommendation, &view.unity) else {
                return team_ended(content, &content.knowledge.texts().internal_error);
            };
            let mut spec = recommendation_spec(content, rec);
            spec.title = format!("Team {}", spec.title.to_lowercase());
            if let Some(t) = &session.team {
                spec.footer = Some(format!("{} members voted · {} votes", t.participants(), t.vote_count()));
            }
            // Two embeds share Discord's 6000-character budget.
            let rec_embed = spec.clipped(3600).build();
            let unity_embed = unity_spec(content, unity).clipped(2300).build();
            let mut buttons = vec![CreateButton::new(team_id(session, TeamAction::Me))
                .label("How would I have scored?")
                .style(ButtonStyle::Primary)];
            buttons.extend(docs_buttons(content));
            buttons.truncate(limits::BUTTONS_PER_ROW);
            Rendered {
                embeds: vec![rec_embed, unity_embed],
                components: vec![CreateActionRow::Buttons(buttons)],
            }
        }
        Status::Cancelled => team_ended(content, &content.knowledge.texts().cancelled),
    }
}

/// A team message that takes no more votes (cancelled or expired).
pub fn team_ended(content: &Content, text: &str) -> Rendered {
    let _ = content;
    Rendered {
        embeds: vec![EmbedSpec {
            title: "Team consultation closed".into(),
            description: text.to_string(),
            colour: NEUTRAL,
            ..Default::default()
        }
        .build()],
        components: vec![],
    }
}

/// "How would I have scored?": only for the member who asked.
pub fn member_recommendation(content: &Content, rec: &Recommendation) -> CreateInteractionResponseMessage {
    let mut spec = recommendation_spec(content, rec);
    spec.title = format!("Your votes alone: {}", spec.title);
    message().ephemeral(true).embed(spec.build())
}

/// Asks to confirm "forget me".
pub fn forget_confirm(content: &Content) -> CreateInteractionResponseMessage {
    notice(&content.knowledge.texts().forget_confirm).components(vec![CreateActionRow::Buttons(vec![
        CreateButton::new(ComponentId::Forget { confirm: true }.to_string())
            .label("Delete my data")
            .style(ButtonStyle::Danger),
        CreateButton::new(ComponentId::Forget { confirm: false }.to_string())
            .label("Keep it")
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

    #[test]
    fn clip_counts_characters_not_bytes() {
        assert_eq!(clip("héllo", 5), "héllo");
        assert_eq!(clip("héllo wörld", 6), "héllo…");
        assert_eq!(clip("", 3), "");
    }

    #[test]
    fn names_never_carry_mention_syntax() {
        assert_eq!(sanitise_name("@everyone"), "everyone");
        assert_eq!(sanitise_name("<@123>"), "123");
        assert_eq!(sanitise_name("**bold**"), "bold");
        assert_eq!(sanitise_name("\u{0007}"), "a member");
        assert_eq!(sanitise_name("\u{202E}evil\u{2066}"), "evil");
    }

    #[test]
    fn messages_always_set_empty_allowed_mentions() {
        let v = serde_json::to_value(notice("@everyone hi")).unwrap();
        assert_eq!(v["allowed_mentions"]["parse"], serde_json::json!([]));
        assert_eq!(v["flags"], serde_json::json!(64));
    }
}
