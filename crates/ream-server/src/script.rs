//! Queue scripts: a few lines of Rhai an administrator attaches to a queue, run for each
//! job. A script sees the job, may ask its owner questions through the job dialog,
//! force mono or duplex, set the project, tell the user something, or reject the job.
//!
//! Sandbox: Rhai has no file, network or process access; the engine here also caps
//! operations, call depth, string, array and map sizes and run time. A script that fails
//! or runs over its limits rejects the job (reason logged, generic reason shown).
//!
//! Questions: a script is run again after each answer, so it must decide from the job
//! and the answers only. An unanswered question returns a neutral value and marks the
//! run incomplete: the run goes on, so all the questions of one pass reach the user in
//! one dialog, but nothing an incomplete run decided is applied.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, Scope};

use ream_wire::{Question, QuestionKind};

/// What a script sees of a job.
#[derive(Debug, Clone)]
pub struct JobFacts {
    pub owner: String,
    pub name: String,
    pub pages: i64,
    pub copies: i64,
    pub colour: bool,
    pub duplex: bool,
    pub printer: String,
    pub queue: String,
    pub price_cents: i64,
}

/// What a run decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Unanswered questions: the run is incomplete and nothing else applies.
    pub questions: Vec<Question>,
    pub rejected: Option<String>,
    pub force_mono: bool,
    pub force_duplex: bool,
    pub project: Option<String>,
    pub notices: Vec<String>,
}

#[derive(Default)]
struct Run {
    answers: BTreeMap<String, String>,
    outcome: Outcome,
}

const MAX_OPERATIONS: u64 = 200_000;
const MAX_TIME: Duration = Duration::from_secs(2);
const REJECTED: &str = "ream:rejected";

fn engine(run: Rc<RefCell<Run>>) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(32)
        .set_max_expr_depths(64, 32)
        .set_max_string_size(10_000)
        .set_max_array_size(1_000)
        .set_max_map_size(1_000);
    let started = Instant::now();
    engine.on_progress(move |_| (started.elapsed() > MAX_TIME).then(|| Dynamic::from("time limit")));
    engine.on_print(|_| {});

    // Each question kind: the answer, or a neutral value while unanswered.
    let ask = |run: &Rc<RefCell<Run>>, id: &str, kind: QuestionKind, text: &str, choices: Vec<String>| {
        let mut r = run.borrow_mut();
        match r.answers.get(id) {
            Some(a) => Some(a.clone()),
            None => {
                if !r.outcome.questions.iter().any(|q| q.id == id) {
                    r.outcome.questions.push(Question { id: id.into(), kind, text: text.into(), choices });
                }
                None
            }
        }
    };
    let r = run.clone();
    engine.register_fn("ask_yes_no", move |id: &str, text: &str| {
        ask(&r, id, QuestionKind::YesNo, text, vec![]).is_some_and(|a| a == "yes")
    });
    let r = run.clone();
    engine.register_fn("ask_print", move |id: &str, text: &str| {
        ask(&r, id, QuestionKind::PrintNo, text, vec![]).is_some_and(|a| a == "print")
    });
    let r = run.clone();
    engine.register_fn("ask_yes_no_cancel", move |id: &str, text: &str| {
        ask(&r, id, QuestionKind::YesNoCancel, text, vec![]).unwrap_or_default()
    });
    let r = run.clone();
    engine.register_fn("ask_text", move |id: &str, text: &str| {
        ask(&r, id, QuestionKind::Text, text, vec![]).unwrap_or_default()
    });
    let r = run.clone();
    engine.register_fn("ask_number", move |id: &str, text: &str| -> f64 {
        ask(&r, id, QuestionKind::Number, text, vec![]).and_then(|a| a.trim().parse().ok()).unwrap_or(0.0)
    });
    let r = run.clone();
    engine.register_fn("ask_choice", move |id: &str, text: &str, choices: Array| {
        let choices: Vec<String> = choices.into_iter().map(|c| c.to_string()).collect();
        ask(&r, id, QuestionKind::Choice, text, choices.clone())
            .filter(|a| choices.contains(a))
            .unwrap_or_default()
    });
    let r = run.clone();
    engine.register_fn("ask_checkbox", move |id: &str, text: &str| {
        ask(&r, id, QuestionKind::Checkbox, text, vec![]).is_some_and(|a| a == "true")
    });
    let r = run.clone();
    engine.register_fn("force_mono", move || r.borrow_mut().outcome.force_mono = true);
    let r = run.clone();
    engine.register_fn("force_duplex", move || r.borrow_mut().outcome.force_duplex = true);
    let r = run.clone();
    engine.register_fn("set_project", move |name: &str| {
        r.borrow_mut().outcome.project = Some(name.to_string())
    });
    let r = run.clone();
    engine.register_fn("notify", move |text: &str| r.borrow_mut().outcome.notices.push(text.to_string()));
    let r = run;
    engine.register_fn("reject", move |reason: &str| -> Result<(), Box<EvalAltResult>> {
        let mut run = r.borrow_mut();
        run.outcome.rejected = Some(reason.to_string());
        // A rejection that rests on unanswered questions stops nothing: the run goes on
        // to collect the rest of the questions, and its decisions are dropped anyway.
        if run.outcome.questions.is_empty() {
            Err(REJECTED.into())
        } else {
            Ok(())
        }
    });
    engine
}

/// Checks that a script compiles (at queue creation).
/// Whether `value` answers `question`: one of its fixed answers, one of its choices, a
/// number; the refusal names what it takes.
pub fn check_answer(question: &ream_wire::Question, value: &str) -> Result<(), String> {
    use ream_wire::QuestionKind::*;
    let fixed: &[&str] = match question.kind {
        YesNo => &["yes", "no"],
        PrintNo => &["print", "no"],
        YesNoCancel => &["yes", "no", "cancel"],
        Checkbox => &["true", "false"],
        Choice => {
            if question.choices.iter().any(|c| c == value) {
                return Ok(());
            }
            return Err(format!(
                "{:?} answers {}: one of {}",
                value,
                question.id,
                question.choices.join(", ")
            ));
        }
        Number if value.trim().parse::<f64>().is_ok_and(f64::is_finite) => return Ok(()),
        Number => return Err(format!("{:?} answers {} with a number", value, question.id)),
        Text if value.chars().count() <= 1_000 => return Ok(()),
        Text => return Err(format!("the answer to {} has at most 1000 characters", question.id)),
    };
    if fixed.contains(&value) {
        Ok(())
    } else {
        Err(format!("{value:?} does not answer {}: one of {}", question.id, fixed.join(", ")))
    }
}

pub fn check(script: &str) -> Result<(), String> {
    Engine::new().compile(script).map(|_| ()).map_err(|e| e.to_string())
}

/// Runs a queue's script for a job with the answers given so far. `Err` is a failing
/// script, with the reason for the log.
pub fn run(script: &str, job: &JobFacts, answers: &BTreeMap<String, String>) -> Result<Outcome, String> {
    let state = Rc::new(RefCell::new(Run { answers: answers.clone(), outcome: Outcome::default() }));
    let engine = engine(state.clone());
    let mut facts = Map::new();
    facts.insert("owner".into(), job.owner.clone().into());
    facts.insert("name".into(), job.name.clone().into());
    facts.insert("pages".into(), job.pages.into());
    facts.insert("copies".into(), job.copies.into());
    facts.insert("colour".into(), job.colour.into());
    facts.insert("duplex".into(), job.duplex.into());
    facts.insert("printer".into(), job.printer.clone().into());
    facts.insert("queue".into(), job.queue.clone().into());
    facts.insert("price_cents".into(), job.price_cents.into());
    let mut scope = Scope::new();
    scope.push_constant("job", facts);
    let result = engine.run_with_scope(&mut scope, script);
    drop(engine);
    let mut outcome =
        Rc::try_unwrap(state).map_err(|_| "script state still shared".to_string())?.into_inner().outcome;
    match result {
        Ok(()) => {}
        Err(e) if e.to_string().contains(REJECTED) => {}
        Err(e) => return Err(e.to_string()),
    }
    if !outcome.questions.is_empty() {
        // Incomplete: what it decided rests on answers it did not have.
        outcome = Outcome { questions: outcome.questions, notices: outcome.notices, ..Outcome::default() };
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked_against_their_question() {
        use ream_wire::{Question, QuestionKind};
        let q = |kind, choices: &[&str]| Question {
            id: "q".into(),
            kind,
            text: "?".into(),
            choices: choices.iter().map(|c| c.to_string()).collect(),
        };
        let check = |question: &Question, value: &str, ok: bool| {
            assert_eq!(check_answer(question, value).is_ok(), ok, "{:?} {value:?}", question.kind);
        };
        check(&q(QuestionKind::YesNo, &[]), "yes", true);
        check(&q(QuestionKind::YesNo, &[]), "maybe", false);
        check(&q(QuestionKind::PrintNo, &[]), "print", true);
        check(&q(QuestionKind::YesNoCancel, &[]), "cancel", true);
        check(&q(QuestionKind::Checkbox, &[]), "yes", false);
        check(&q(QuestionKind::Choice, &["colour", "mono"]), "mono", true);
        check(&q(QuestionKind::Choice, &["colour", "mono"]), "sepia", false);
        check(&q(QuestionKind::Number, &[]), "12.5", true);
        check(&q(QuestionKind::Number, &[]), "twelve", false);
        check(&q(QuestionKind::Text, &[]), "anything", true);
        let refusal = check_answer(&q(QuestionKind::YesNo, &[]), "maybe").unwrap_err();
        assert!(refusal.contains("yes, no"), "names what it takes: {refusal}");
    }

    fn job(pages: i64) -> JobFacts {
        JobFacts {
            owner: "alice".into(),
            name: "report.pdf".into(),
            pages,
            copies: 1,
            colour: true,
            duplex: false,
            printer: "Office".into(),
            queue: "Scripted".into(),
            price_cents: pages * 20,
        }
    }

    const SCRIPT: &str = r#"
        if job.pages > 10 {
            if !ask_yes_no("long", "This job has " + job.pages + " pages. Print it?") { reject("not confirmed"); }
        }
        let mode = ask_choice("mode", "Colour or mono?", ["colour", "mono"]);
        if mode == "mono" { force_mono(); }
        if job.owner == "alice" { set_project("Website"); }
        notify("Thank you");
    "#;

    fn answers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn all_questions_of_a_pass_come_together_and_nothing_applies_before_answers() {
        let out = run(SCRIPT, &job(12), &BTreeMap::new()).unwrap();
        let ids: Vec<&str> = out.questions.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, ["long", "mode"]);
        assert_eq!(out.questions[1].choices, ["colour", "mono"]);
        assert_eq!(
            (out.rejected, out.force_mono, out.project),
            (None, false, None),
            "incomplete runs decide nothing"
        );
    }

    #[test]
    fn answers_drive_the_outcome() {
        let out = run(SCRIPT, &job(12), &answers(&[("long", "yes"), ("mode", "mono")])).unwrap();
        assert!(out.questions.is_empty());
        assert_eq!((out.force_mono, out.project.as_deref(), out.notices.len()), (true, Some("Website"), 1));
        let out = run(SCRIPT, &job(12), &answers(&[("long", "no"), ("mode", "mono")])).unwrap();
        assert_eq!(out.rejected.as_deref(), Some("not confirmed"));
        let out = run(SCRIPT, &job(2), &answers(&[("mode", "colour")])).unwrap();
        assert_eq!((out.rejected, out.force_mono), (None, false), "short jobs skip the first question");
    }

    #[test]
    fn every_kind_of_question_is_asked() {
        let script = r#"
            ask_yes_no("a", "A?"); ask_print("b", "B?"); ask_yes_no_cancel("c", "C?");
            ask_text("d", "D?"); ask_number("e", "E?"); ask_choice("f", "F?", ["x", "y"]); ask_checkbox("g", "G?");
        "#;
        let kinds: Vec<QuestionKind> =
            run(script, &job(1), &BTreeMap::new()).unwrap().questions.iter().map(|q| q.kind).collect();
        use QuestionKind::*;
        assert_eq!(kinds, [YesNo, PrintNo, YesNoCancel, Text, Number, Choice, Checkbox]);
        let typed = r#"if ask_number("n", "How many?") > 2.5 && ask_text("t", "Why?") == "because" && ask_checkbox("c", "Sure?") { force_duplex(); }"#;
        let out = run(typed, &job(1), &answers(&[("n", "3"), ("t", "because"), ("c", "true")])).unwrap();
        assert!(out.force_duplex);
    }

    #[test]
    fn failing_and_runaway_scripts_are_stopped() {
        assert!(check("let x = ;").is_err());
        assert!(run("let x = 1 / 0;", &job(1), &BTreeMap::new()).is_err());
        let started = Instant::now();
        assert!(run("loop { }", &job(1), &BTreeMap::new()).is_err());
        assert!(run("let s = \"x\"; loop { s += s; }", &job(1), &BTreeMap::new()).is_err());
        assert!(run("fn f(n) { f(n + 1) } f(0);", &job(1), &BTreeMap::new()).is_err());
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
