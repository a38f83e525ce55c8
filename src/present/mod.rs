//! The presenter: view models built from what the app returns (sessions,
//! recommendations, team tallies), the one place that decides what is shown.
//!
//! The Discord renderer, the terminal renderer, the chart and the decision
//! record all draw from these values, so a verdict title, a progress counter
//! or a vote split is computed once. Every word comes from `responses/`
//! ([`Labels`] and [`Texts`](crate::domain::knowledge::Texts)); renderers add
//! only layout (markdown, line breaks, colours).
//!
//! Depends on `domain` only.

pub mod chart;
mod glyphs;
pub mod record;

use crate::content::Content;
use crate::domain::framework::FRAMEWORK_IDS;
use crate::domain::labels::{fill, Labels};
use crate::domain::questionnaire::{Question, QuestionKind};
use crate::domain::scoring::{Reason, Recommendation, Verdict};
use crate::domain::session::Session;
use crate::domain::team::{pushes_toward, Split, Unity};

/// Colour of a close call and of neutral messages (Discord's grey).
pub const NEUTRAL_COLOUR: u32 = 0x0099_AAB5;
/// Option labels in a compact split line.
pub const SHORT_OPTION: usize = 24;
/// Longest compact split line (one per question) in the team result.
pub const SPLIT_LINE: usize = 110;
/// Labels are never cut shorter than this to fit a split line.
pub const MIN_SHORT_OPTION: usize = 6;
/// Question prompts in a compact split line.
pub const SHORT_PROMPT: usize = 48;

/// At most `max` characters, with an ellipsis when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A bar of `width` cells, `filled` of `total` full.
pub fn bar(filled: usize, total: usize, width: usize) -> String {
    let n = (filled * width + total / 2).checked_div(total).unwrap_or(0).min(width);
    format!("{}{}", "█".repeat(n), "░".repeat(width - n))
}

/// A display name safe to show as text: no markdown or mention syntax, no
/// invisible characters; `fallback` when nothing is left.
pub fn sanitise_name(name: &str, fallback: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| !c.is_control() && !is_invisible_format(*c))
        .filter(|c| !matches!(c, '@' | '<' | '>' | '*' | '_' | '`' | '~' | '|' | '\\'))
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        fallback.to_string()
    } else {
        cleaned.to_string()
    }
}

/// Zero-width characters, direction marks, embeddings, overrides, isolates, BOM.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}'
    )
}

pub fn labels(content: &Content) -> &Labels {
    content.knowledge.labels()
}

/// The display name of a framework id ("Django"), or the id itself.
pub fn framework_name(content: &Content, id: &str) -> String {
    content
        .knowledge
        .framework(id)
        .map_or_else(|| id.to_string(), |f| f.name.clone())
}

fn colour_of(content: &Content, id: Option<&str>) -> u32 {
    id.and_then(|id| content.knowledge.framework(id))
        .map_or(NEUTRAL_COLOUR, |f| f.colour)
}

/// "1 voter", "5 voters".
pub fn voters(content: &Content, n: usize) -> String {
    let l = labels(content);
    if n == 1 {
        l.voters_one.clone()
    } else {
        fill(&l.voters_many, &[("count", &n.to_string())])
    }
}

/// Where a consultation stands: "Step 3 of 9".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub step: usize,
    pub total: usize,
    /// Questions already answered (for the bar).
    pub done: usize,
    pub label: String,
}

pub fn progress(content: &Content, session: &Session) -> Progress {
    let (step, total) = content.questionnaire.progress(&session.answers);
    Progress {
        step,
        total,
        done: step.saturating_sub(1),
        label: fill(
            &labels(content).step,
            &[("step", &step.to_string()), ("total", &total.to_string())],
        ),
    }
}

/// The question in progress, as every renderer shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionView {
    pub progress: Progress,
    pub prompt: String,
    pub help: Option<String>,
    /// The reaction to the previous answer.
    pub reaction: Option<String>,
    /// `(option id, label)` in questionnaire order.
    pub options: Vec<(String, String)>,
    /// For a select menu: "Choose one", "Choose 1 to 3".
    pub choose_hint: String,
    /// For the terminal: "Type a number", "Type 1 to 3 numbers...".
    pub type_hint: String,
    pub multi: bool,
    pub min: usize,
    pub max: usize,
}

pub fn question(content: &Content, session: &Session, q: &Question) -> QuestionView {
    let l = labels(content);
    let (min, max) = q.choice_bounds();
    let (smin, smax) = (min.to_string(), max.to_string());
    let bounds = [("min", smin.as_str()), ("max", smax.as_str())];
    let (choose_hint, type_hint) = match q.kind {
        QuestionKind::Single => (l.choose_one.clone(), l.type_one.clone()),
        QuestionKind::Multi if min == max => (fill(&l.choose_n, &bounds), fill(&l.type_range, &bounds)),
        QuestionKind::Multi => (fill(&l.choose_range, &bounds), fill(&l.type_range, &bounds)),
    };
    QuestionView {
        progress: progress(content, session),
        prompt: q.prompt.clone(),
        help: q.help.clone(),
        reaction: session.last_reaction.clone(),
        options: q.options.iter().map(|o| (o.id.clone(), o.label.clone())).collect(),
        choose_hint,
        type_hint,
        multi: q.kind == QuestionKind::Multi,
        min,
        max,
    }
}

/// Who a recommendation is addressed to; it changes the title only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// One person's consultation (and its shared copy).
    Private,
    /// A team's result.
    Team,
    /// One member's own votes on a team session.
    Member,
}

/// One answer that moved the result.
#[derive(Debug, Clone, PartialEq)]
pub struct ReasonView {
    pub question: String,
    pub option_label: String,
    pub text: String,
    /// Framework id it pushed toward, and its display name.
    pub toward: String,
    pub toward_name: String,
    /// "toward Django".
    pub toward_label: String,
    pub points: f64,
    /// "60% of votes" when less than everyone was behind it.
    pub share_label: Option<String>,
}

/// A recommendation as every renderer shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecommendationView {
    /// "Recommendation: Django", "Team recommendation: Flask", "A close call".
    pub title: String,
    /// The verdict alone: "Django", "A close call, leaning Flask".
    pub verdict: String,
    /// The framework the advice follows (winner or leaning).
    pub framework: Option<String>,
    pub colour: u32,
    pub confidence: u8,
    /// "Confidence 72%".
    pub confidence_label: String,
    pub close_call_advice: Option<String>,
    /// Reasons pushing toward the verdict's framework, strongest first.
    pub reasons_for: Vec<ReasonView>,
    /// Reasons pushing the other way, strongest first.
    pub reasons_against: Vec<ReasonView>,
    pub tradeoffs: Vec<String>,
    pub next_steps: Vec<String>,
    pub packages: Vec<String>,
    pub fastapi_note: Option<String>,
    /// "Points: Django 12.0 · Flask 4.5".
    pub points_label: String,
}

fn reason_view(content: &Content, r: &Reason) -> ReasonView {
    let l = labels(content);
    let toward_name = framework_name(content, &r.toward);
    ReasonView {
        question: r.question.clone(),
        option_label: r.option_label.clone(),
        text: r.text.clone(),
        toward_label: fill(&l.reason_toward, &[("framework", &toward_name)]),
        toward: r.toward.clone(),
        toward_name,
        points: r.points,
        share_label: (r.share < 1.0)
            .then(|| fill(&l.share_of_votes, &[("percent", &format!("{:.0}", r.share * 100.0))])),
    }
}

/// The verdict alone ("Django", "A close call, leaning Flask") and the title for `audience`.
fn verdict_texts(content: &Content, verdict: &Verdict, audience: Audience) -> (String, String) {
    let l = labels(content);
    let (short, private_title, team_title) = match verdict {
        Verdict::Framework { id } => {
            let name = framework_name(content, id);
            let v = [("framework", name.as_str())];
            (
                name.clone(),
                fill(&l.verdict_framework, &v),
                fill(&l.team_verdict_framework, &v),
            )
        }
        Verdict::CloseCall { leaning: Some(id) } => {
            let name = framework_name(content, id);
            let v = [("framework", name.as_str())];
            (
                fill(&l.verdict_close_leaning, &v),
                fill(&l.verdict_close_leaning, &v),
                fill(&l.team_verdict_close_leaning, &v),
            )
        }
        Verdict::CloseCall { leaning: None } => (
            l.verdict_close.clone(),
            l.verdict_close.clone(),
            l.team_verdict_close.clone(),
        ),
    };
    let title = match audience {
        Audience::Private => private_title,
        Audience::Team => team_title,
        Audience::Member => fill(&l.member_verdict, &[("verdict", &private_title)]),
    };
    (short, title)
}

/// The one mapping from a [`Recommendation`] to what is shown.
pub fn recommendation(content: &Content, rec: &Recommendation, audience: Audience) -> RecommendationView {
    let l = labels(content);
    let (verdict, title) = verdict_texts(content, &rec.verdict, audience);
    let framework = rec.verdict.framework().map(str::to_string);
    // Scoring ranks and splits the reasons (net effect on the verdict).
    let reasons_for: Vec<ReasonView> = rec.reasons_for.iter().map(|r| reason_view(content, r)).collect();
    let reasons_against: Vec<ReasonView> = rec.reasons_against.iter().map(|r| reason_view(content, r)).collect();
    let scores = rec
        .scores
        .iter()
        .map(|(f, s)| format!("{} {s:.1}", framework_name(content, f)))
        .collect::<Vec<_>>()
        .join(" · ");
    RecommendationView {
        title,
        verdict,
        colour: colour_of(content, framework.as_deref()),
        framework,
        confidence: rec.confidence,
        confidence_label: fill(&l.confidence, &[("confidence", &rec.confidence.to_string())]),
        close_call_advice: rec.close_call_advice.clone(),
        reasons_for,
        reasons_against,
        tradeoffs: rec.tradeoffs.clone(),
        next_steps: rec.next_steps.clone(),
        packages: rec.packages.clone(),
        fastapi_note: rec.fastapi_note.clone(),
        points_label: fill(&l.points, &[("scores", &scores)]),
    }
}

/// What one answer adds to the margin: positive toward the first framework
/// (Django), negative toward the second (Flask). For the private chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    /// "Project type: Content site".
    pub label: String,
    pub points: f64,
}

/// Each answered option's contribution, in the order asked.
pub fn contributions(content: &Content, session: &Session) -> Vec<Contribution> {
    let q = &content.questionnaire;
    session
        .answers
        .iter()
        .filter_map(|a| q.question(&a.question).map(|question| (a, question)))
        .flat_map(|(a, question)| {
            a.options.iter().filter_map(move |o| {
                let option = question.option(o)?;
                let margin = f64::from(option.weight(FRAMEWORK_IDS[0]) - option.weight(FRAMEWORK_IDS[1]));
                Some(Contribution {
                    label: format!(
                        "{}: {}",
                        clip(&question.prompt, SHORT_PROMPT),
                        clip(&option.label, SHORT_OPTION)
                    ),
                    points: question.importance * margin,
                })
            })
        })
        .collect()
}

/// The answers of a private consultation: `(question prompt, option labels)`.
pub fn answers(content: &Content, session: &Session) -> Vec<(String, String)> {
    let q = &content.questionnaire;
    session
        .answers
        .iter()
        .filter_map(|a| {
            let question = q.question(&a.question)?;
            let picked = a
                .options
                .iter()
                .map(|o| question.option(o).map_or_else(|| o.clone(), |o| o.label.clone()))
                .collect::<Vec<_>>()
                .join(", ");
            Some((question.prompt.clone(), picked))
        })
        .collect()
}

/// One option's share of a question's votes.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionSplit {
    pub option: String,
    pub label: String,
    /// Clipped to [`SHORT_OPTION`] for compact lines.
    pub short: String,
    pub votes: usize,
    /// The framework id the option pushes toward (`None`: neutral).
    pub toward: Option<String>,
    /// "toward Django" or "neutral".
    pub toward_label: String,
}

/// How one question split.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionSplit {
    pub question: String,
    pub prompt: String,
    pub short_prompt: String,
    pub voters: usize,
    /// Options with votes, most votes first.
    pub options: Vec<OptionSplit>,
    pub agreement: f64,
    /// "Project type: Content site 3 · API 2".
    pub line: String,
    /// "Project type: Content site (3) → toward Django vs API (2) → toward Flask".
    pub sides: String,
}

fn question_split(content: &Content, s: &Split) -> QuestionSplit {
    let l = labels(content);
    let question = content.questionnaire.question(&s.question);
    let prompt = question.map_or_else(|| s.question.clone(), |q| q.prompt.clone());
    let options: Vec<OptionSplit> = s
        .counts
        .iter()
        .map(|(o, n)| {
            let label = question
                .and_then(|q| q.option(o))
                .map_or_else(|| o.clone(), |opt| opt.label.clone());
            let toward = pushes_toward(&content.questionnaire, &s.question, o).map(str::to_string);
            let toward_label = match &toward {
                Some(f) => fill(&l.toward, &[("framework", &framework_name(content, f))]),
                None => l.neutral.clone(),
            };
            OptionSplit {
                option: o.clone(),
                short: clip(&label, SHORT_OPTION),
                label,
                votes: *n,
                toward,
                toward_label,
            }
        })
        .collect();
    let short_prompt = clip(&prompt, SHORT_PROMPT);
    // Every option with its count must fit the compact line: labels get
    // shorter until it does, rather than the line losing its last options.
    let line_with = |width: usize| {
        format!(
            "{short_prompt}: {}",
            options
                .iter()
                .map(|o| format!("{} {}", clip(&o.label, width), o.votes))
                .collect::<Vec<_>>()
                .join(" · ")
        )
    };
    let mut width = SHORT_OPTION;
    let mut line = line_with(width);
    while line.chars().count() > SPLIT_LINE && width > MIN_SHORT_OPTION {
        width -= 1;
        line = line_with(width);
    }
    let sides = format!(
        "{prompt}: {}",
        options
            .iter()
            .take(2)
            .map(|o| format!("{} ({}) → {}", o.label, o.votes, o.toward_label))
            .collect::<Vec<_>>()
            .join(" vs ")
    );
    QuestionSplit {
        question: s.question.clone(),
        prompt,
        short_prompt,
        voters: s.voters,
        options,
        agreement: s.agreement,
        line,
        sides,
    }
}

/// A team's result: the recommendation, how united it was, every split.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamResultView {
    pub recommendation: RecommendationView,
    /// "5 members voted · 42 votes".
    pub footer: String,
    pub agreement: f64,
    /// "Agreement 80%".
    pub agreement_label: String,
    /// Every question asked, in order.
    pub splits: Vec<QuestionSplit>,
    /// The most disputed, most disputed first.
    pub disputed: Vec<QuestionSplit>,
    /// Voters' display names, sanitised, sorted.
    pub participants: Vec<String>,
}

pub fn team_result(content: &Content, session: &Session, rec: &Recommendation, unity: &Unity) -> TeamResultView {
    let l = labels(content);
    let (members, votes) = session
        .team
        .as_ref()
        .map_or((0, 0), |t| (t.participants(), t.vote_count()));
    let mut participants: Vec<String> = session
        .team
        .as_ref()
        .map(|t| {
            let mut keys: Vec<&String> = t.votes.values().flat_map(|v| v.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .map(|k| sanitise_name(t.names.get(k).map_or("", String::as_str), &l.a_member))
                .collect()
        })
        .unwrap_or_default();
    participants.sort();
    TeamResultView {
        recommendation: recommendation(content, rec, Audience::Team),
        footer: fill(
            &l.team_footer,
            &[("members", &members.to_string()), ("votes", &votes.to_string())],
        ),
        agreement: unity.overall,
        agreement_label: fill(&l.agreement, &[("percent", &format!("{:.0}", unity.overall * 100.0))]),
        splits: unity.splits.iter().map(|s| question_split(content, s)).collect(),
        disputed: unity.disputed.iter().map(|s| question_split(content, s)).collect(),
        participants,
    }
}

/// The live tally of the current question of a team session.
#[derive(Debug, Clone, PartialEq)]
pub struct TallyView {
    pub voters: usize,
    /// "Votes: 3".
    pub header: String,
    /// `(option label, votes)` in questionnaire order.
    pub rows: Vec<(String, usize)>,
    /// "Voted: alice, bob and 2 more" or "No votes yet.".
    pub who: String,
}

/// Names shown under a tally: a few, then a count.
pub const NAMES_SHOWN: usize = 3;

pub fn tally(content: &Content, session: &Session, q: &Question) -> Option<TallyView> {
    let l = labels(content);
    let team = session.team.as_ref()?;
    let voters = team.voters_on(&q.id);
    let rows = q
        .options
        .iter()
        .zip(team.tally(q))
        .map(|(o, (_, n))| (o.label.clone(), n))
        .collect();
    let mut names: Vec<String> = team
        .votes
        .get(&q.id)
        .map(|v| {
            v.keys()
                .filter_map(|k| team.names.get(k))
                .map(|n| sanitise_name(n, &l.a_member))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let shown = names.iter().take(NAMES_SHOWN).cloned().collect::<Vec<_>>().join(", ");
    let who = match names.len() {
        0 => l.no_votes_yet.clone(),
        n if n <= NAMES_SHOWN => fill(&l.voted_names, &[("names", &shown)]),
        n => fill(
            &l.voted_names_more,
            &[("names", &shown), ("more", &(n - NAMES_SHOWN).to_string())],
        ),
    };
    Some(TallyView {
        voters,
        header: fill(&l.votes_count, &[("count", &voters.to_string())]),
        rows,
        who,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::content::Content;
    use crate::domain::questionnaire::Answer;
    use crate::domain::scoring::picks_from_answers;
    use crate::domain::session::{Status, PRIVATE_SCOPE};

    pub(crate) fn content() -> Content {
        Content::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("responses")).expect("content loads")
    }

    /// Answers every question with its first (or `pick`-th) option until done.
    pub(crate) fn finished_session(content: &Content, pick: usize) -> Session {
        let q = &content.questionnaire;
        let mut answers: Vec<Answer> = Vec::new();
        while let Some(question) = q.next_question(&answers) {
            let (min, _) = question.choice_bounds();
            let options = question
                .options
                .iter()
                .cycle()
                .skip(pick % question.options.len())
                .take(min.max(1))
                .map(|o| o.id.clone())
                .collect();
            answers.push(Answer {
                question: question.id.clone(),
                options,
            });
        }
        Session {
            id: "s1".into(),
            owner: "cli:test".into(),
            scope: PRIVATE_SCOPE.into(),
            status: Status::Completed,
            answers,
            revision: 1,
            created_at: 0,
            updated_at: 1_764_547_200,
            last_reaction: None,
            current: None,
            outcome: None,
            team: None,
            message_ref: None,
        }
    }

    #[test]
    fn verdict_titles_use_display_names_and_the_audience() {
        let c = content();
        let rec = Recommendation {
            verdict: Verdict::Framework { id: "django".into() },
            confidence: 80,
            scores: vec![],
            reasons_for: vec![],
            reasons_against: vec![],
            tradeoffs: vec![],
            next_steps: vec![],
            packages: vec![],
            fastapi_note: None,
            close_call_advice: None,
        };
        assert_eq!(
            recommendation(&c, &rec, Audience::Private).title,
            "Recommendation: Django"
        );
        assert_eq!(
            recommendation(&c, &rec, Audience::Team).title,
            "Team recommendation: Django"
        );
        assert!(recommendation(&c, &rec, Audience::Member)
            .title
            .contains("Recommendation: Django"));
        assert_eq!(recommendation(&c, &rec, Audience::Team).verdict, "Django");
    }

    #[test]
    fn reasons_split_by_the_side_they_push() {
        let c = content();
        for pick in 0..4 {
            let s = finished_session(&c, pick);
            let rec = c.recommend(&picks_from_answers(&s.answers));
            let view = recommendation(&c, &rec, Audience::Private);
            assert_eq!(view.reasons_for.len(), rec.reasons_for.len());
            assert_eq!(view.reasons_against.len(), rec.reasons_against.len());
            if let Some(f) = rec.verdict.framework() {
                assert!(view.reasons_for.iter().all(|r| r.toward == f));
                assert!(view.reasons_against.iter().all(|r| r.toward != f));
            }
        }
    }

    #[test]
    fn contributions_cover_every_answer_and_sum_to_the_margin() {
        let c = content();
        let s = finished_session(&c, 1);
        let rec = c.recommend(&picks_from_answers(&s.answers));
        let contribs = contributions(&c, &s);
        let picked: usize = s.answers.iter().map(|a| a.options.len()).sum();
        assert_eq!(contribs.len(), picked);
        let margin: f64 = contribs.iter().map(|c| c.points).sum();
        let [(_, d), (_, f)] = rec.scores.as_slice() else {
            panic!("two scores")
        };
        assert!((margin - (d - f)).abs() < 1e-6, "{margin} vs {}", d - f);
    }

    #[test]
    fn progress_label_counts_steps() {
        let c = content();
        let mut s = finished_session(&c, 0);
        s.answers.clear();
        let p = progress(&c, &s);
        assert_eq!(p.step, 1);
        assert_eq!(p.label, format!("Step 1 of {}", p.total));
    }

    #[test]
    fn names_never_carry_mention_syntax() {
        assert_eq!(sanitise_name("@everyone", "x"), "everyone");
        assert_eq!(sanitise_name("<@123>", "x"), "123");
        assert_eq!(sanitise_name("**bold**", "x"), "bold");
        assert_eq!(sanitise_name("\u{0007}", "a member"), "a member");
        assert_eq!(sanitise_name("\u{202E}evil\u{2066}", "x"), "evil");
    }
}
