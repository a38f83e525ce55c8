//! Every label and short sentence the renderers show (`[labels]` in
//! `responses/messages.toml`): button captions, field names, titles, chart
//! axes, decision-record headings.
//!
//! Declared once with the placeholders each must keep, so a translation that
//! drops `{framework}` is a start-up error naming the entry, not a blank in a
//! message.

use serde::Deserialize;

/// Declares [`Labels`] and the placeholders each label must contain.
macro_rules! labels {
    ($($name:ident: [$($placeholder:ident),*]),* $(,)?) => {
        /// `[labels]`: one field per label; a missing key is a parse error
        /// naming it.
        #[derive(Debug, Clone, Deserialize, PartialEq)]
        #[serde(deny_unknown_fields)]
        pub struct Labels {
            $(pub $name: String,)*
        }

        impl Labels {
            /// `(key, text, placeholders it must contain)` for validation.
            pub fn entries(&self) -> Vec<(&'static str, &str, &'static [&'static str])> {
                vec![$((stringify!($name), self.$name.as_str(), &[$(stringify!($placeholder)),*]),)*]
            }
        }
    };
}

labels! {
    // Knowledge replies.
    documentation: [],
    website: [],
    docs_of: [framework],
    key_facts: [],
    topics: [],
    facts: [],
    fact_line: [text, source, as_of],
    overview_footer: [id],
    topic_footer: [topic],
    compare_title: [],
    compare_one_aspect: [],
    compare_footer: [],
    comparison_title: [topic],
    bottom_line: [],
    compared_with_other: [],
    best_match: [topic],
    you_asked: [question],
    related: [],
    pick_an_aspect: [],
    terminal_commands: [],
    // Statistics.
    stats_title: [],
    stats_none: [],
    stats_private: [started, completed, abandoned, active],
    stats_outcomes: [],
    stats_dropoff: [],
    stats_team_title: [],
    stats_team: [started, completed, abandoned, participants, votes],
    // Consultation steps.
    step: [step, total],
    choose_one: [],
    choose_n: [min],
    choose_range: [min, max],
    type_one: [],
    type_range: [min, max],
    private_keys: [],
    type_a_number: [],
    saved_private: [],
    back: [],
    restart: [],
    cancel: [],
    // Recommendation.
    verdict_framework: [framework],
    verdict_close_leaning: [framework],
    verdict_close: [],
    team_verdict_framework: [framework],
    team_verdict_close_leaning: [framework],
    team_verdict_close: [],
    member_verdict: [verdict],
    confidence: [confidence],
    reasons_for: [],
    reasons_against: [],
    reason_toward: [framework],
    share_of_votes: [percent],
    tradeoffs: [],
    next_steps: [],
    packages: [],
    also_worth_a_look: [],
    points: [scores],
    share_in_channel: [],
    new_consultation: [],
    decision_record: [],
    consultation_cancelled: [],
    a_member: [],
    // Team consultation.
    votes_count: [count],
    no_votes_yet: [],
    voted_names: [names],
    voted_names_more: [names, more],
    next: [],
    finish_early: [],
    how_would_i_have_scored: [],
    team_closed: [],
    toward: [framework],
    neutral: [],
    unity_title: [],
    agreement: [percent],
    split_most: [],
    split_nowhere: [],
    every_question: [],
    chart_below: [],
    team_footer: [members, votes],
    voters_one: [],
    voters_many: [count],
    // Forget me.
    delete_my_data: [],
    keep_it: [],
    // Chart.
    chart_private_title: [verdict, confidence],
    chart_team_title: [verdict, confidence],
    chart_axis_points: [],
    chart_axis_votes: [],
    chart_toward: [framework],
    chart_neutral: [],
    // Decision record (MADR).
    record_title: [verdict],
    record_team_title: [verdict],
    record_date: [date],
    record_status: [],
    record_status_value: [],
    record_context: [],
    record_context_private: [],
    record_context_team: [count],
    record_answer: [question, answer],
    record_split: [question, split],
    record_decision: [],
    record_decision_text: [verdict, confidence],
    record_participants: [],
    record_consequences: [],
    record_more: [],
    record_footer: [],
    record_filename: [],
    chart_filename: [],
    files_written: [chart, record],
    files_not_written: [],
    // The terminal.
    docs_line: [url],
    also_line: [note],
    as_facilitator: [name],
    list_and: [rest, last],
    team_opening_new: [names],
    team_opening_resumed: [facilitator, names],
    team_type_one: [],
    team_type_range: [min, max],
    team_keys: [facilitator],
    tally_header: [voters],
    already_voted_again: [names],
    already_voted_rest: [names, rest],
    team_nobody_voted: [],
    team_quorum_closed: [],
    team_facilitator_only: [voter, facilitator],
    team_nothing_to_finish: [],
    team_saved: [],
    team_cancelled: [],
    team_moved_elsewhere: [],
    team_result_header: [members, votes],
    each_voter_alone: [],
    member_alone: [name, verdict, confidence],
    member_alone_none: [name],
    pick_exactly: [min, got],
    pick_between: [min, max, got],
    nothing_to_undo: [],
    did_not_apply: [error],
}

/// `template` with each `{key}` replaced by its value.
/// One pass, so a value that itself contains `{key}` is left as it is.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let hole = after
            .find('}')
            .and_then(|end| values.iter().find(|(k, _)| *k == &after[..end]).map(|(_, v)| (end, v)));
        match hole {
            Some((end, value)) => {
                out.push_str(value);
                rest = &after[end + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::fill;

    #[test]
    fn fill_replaces_every_occurrence() {
        assert_eq!(fill("{a} and {a}, {b}", &[("a", "x"), ("b", "y")]), "x and x, y");
        assert_eq!(fill("no holes", &[("a", "x")]), "no holes");
        assert_eq!(fill("{a} {c}", &[("a", "{c}"), ("c", "z")]), "{c} z");
        assert_eq!(fill("{ unclosed", &[]), "{ unclosed");
    }
}
