//! The quick-answer evaluation: realistic team-chat questions (typos,
//! abbreviations, half sentences, off-topic ones) against the real
//! `responses/`. At least 90% must be right at top-1 over the whole set, and
//! every off-topic question must be refused. The tuning half and the held-out
//! half are reported separately (the held-out half was never used to tune).

use std::path::Path;

use framework_advisor::content::Content;
use framework_advisor::domain::search::SearchIndex;
use framework_advisor::domain::search_eval::{evaluate, EvalReport, EvalSet};

const FILES: [&str; 2] = ["questions_tune.toml", "questions_heldout.toml"];

fn report(file: &str) -> EvalReport {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let content = Content::load(&root.join("responses")).unwrap_or_else(|e| panic!("{e}"));
    let path = root.join("tests/fixtures").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let set = EvalSet::parse(&text, file, &content.knowledge).unwrap_or_else(|e| panic!("{e}"));
    evaluate(&SearchIndex::new(&content.knowledge), &set)
}

#[test]
fn quick_answers_are_right_at_top_1_and_off_topic_questions_are_refused() {
    let mut all = EvalReport::default();
    for file in FILES {
        let r = report(file);
        println!("== {file} ==\n{r}");
        all.total += r.total;
        all.right += r.right;
        all.on_topic += r.on_topic;
        all.on_topic_right += r.on_topic_right;
        all.off_topic += r.off_topic;
        all.off_topic_refused += r.off_topic_refused;
        all.misses.extend(r.misses);
    }
    println!("== all ==\n{all}");
    assert!(all.total >= 200, "only {} questions", all.total);
    assert!(all.off_topic >= 25, "only {} off-topic questions", all.off_topic);
    assert!(
        all.top1_percent() >= 90.0,
        "top-1 {:.1}% < 90%\n{all}",
        all.top1_percent()
    );
    assert_eq!(
        all.off_topic_refused, all.off_topic,
        "an off-topic question was answered\n{all}"
    );
}
