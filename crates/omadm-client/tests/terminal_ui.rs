//! `TerminalUi` against scripted input: every UI alert 1100-1104 with its options (MINDT, MAXDT,
//! DR, MAXLEN, IT, ET), invalid answers asked again, the end of the input, and a MAXDT timeout
//! on input that never comes.

use std::io::{BufReader, Cursor, Read};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use omadm_client::ui::{UiKind, UiOptions, UiRequest, UiResponse, UserInteraction};
use omadm_client::TerminalUi;

type Ui = TerminalUi<Cursor<Vec<u8>>, Vec<u8>>;

fn ui(input: &str) -> Ui {
    TerminalUi::new(Cursor::new(input.as_bytes().to_vec()), Vec::new())
}

fn request(kind: UiKind, options: &str, choices: &[&str]) -> UiRequest {
    UiRequest {
        kind,
        options: UiOptions::parse(options),
        text: "Question from the server".into(),
        choices: choices.iter().map(|c| c.to_string()).collect(),
    }
}

fn output(ui: &Ui) -> String {
    String::from_utf8(ui.output().clone()).unwrap()
}

/// Asks one alert with `input` typed; returns the answer and everything written.
fn answer(kind: UiKind, options: &str, choices: &[&str], input: &str) -> (UiResponse, String) {
    let mut ui = ui(input);
    let response = ui.interact(&request(kind, options, choices));
    let out = output(&ui);
    (response, out)
}

#[test]
fn display_1100_shows_the_text_and_needs_no_input() {
    let (response, out) = answer(UiKind::Display, "", &[], "");
    assert_eq!(response, UiResponse::Ok);
    assert!(out.contains("Question from the server"), "{out}");
}

#[test]
fn display_1100_stays_for_mindt_but_never_past_maxdt() {
    let started = Instant::now();
    let (response, _) = answer(UiKind::Display, "MINDT=1", &[], "");
    assert_eq!(response, UiResponse::Ok);
    assert!(started.elapsed() >= Duration::from_secs(1), "MINDT=1 keeps the message up a second");

    let started = Instant::now();
    let (response, _) = answer(UiKind::Display, "MINDT=30&MAXDT=1", &[], "");
    assert_eq!(response, UiResponse::Ok);
    assert!(started.elapsed() < Duration::from_secs(10), "MAXDT caps MINDT");
}

#[test]
fn confirm_1101_yes_no_cancel_defaults_and_invalid_answers() {
    let confirm = |options: &str, input: &str| answer(UiKind::Confirm, options, &[], input);
    assert_eq!(confirm("", "yes\n").0, UiResponse::Ok);
    assert_eq!(confirm("", "Y\n").0, UiResponse::Ok);
    assert_eq!(confirm("", "no\n").0, UiResponse::Rejected);
    assert_eq!(confirm("", "cancel\n").0, UiResponse::Cancelled);
    assert_eq!(confirm("", ".\n").0, UiResponse::Cancelled);
    // DR: an empty answer takes the default (0 reject, 1 accept).
    assert_eq!(confirm("DR=0", "\n").0, UiResponse::Rejected);
    assert_eq!(confirm("DR=1", "\r\n").0, UiResponse::Ok);
    // Invalid answers are explained and asked again.
    let (response, out) = confirm("", "maybe\n\nyes\n");
    assert_eq!(response, UiResponse::Ok);
    assert_eq!(out.matches("not accepted").count(), 2, "{out}");
    assert!(out.contains("yes/no"), "{out}");
    // The end of the input: nobody answers.
    assert_eq!(confirm("", "").0, UiResponse::TimedOut);
    assert_eq!(confirm("DR=1", "perhaps").0, UiResponse::TimedOut, "an invalid last line, then the end");
}

#[test]
fn text_input_1102_maxlen_input_types_echo_and_default() {
    let text = |options: &str, input: &str| answer(UiKind::TextInput, options, &[], input);
    assert_eq!(text("", "hello world\n").0, UiResponse::Text("hello world".into()));
    assert_eq!(text("DR=fallback", "\n").0, UiResponse::Text("fallback".into()));
    assert_eq!(text("", "\n").0, UiResponse::Text(String::new()));
    assert_eq!(text("", ".\n").0, UiResponse::Cancelled);

    let (response, out) = text("MAXLEN=4", "toolong\nabcd\n");
    assert_eq!(response, UiResponse::Text("abcd".into()));
    assert!(out.contains("at most 4 characters"), "{out}");

    // IT: each type refuses what is not of it and takes what is.
    for (it, bad, good) in [
        ("N", "12a", "-3.5"),
        ("D", "31132024", "31122024"),
        ("T", "246000", "235959"),
        ("P", "+12ab", "+123p4w5s"),
        ("I", "256.1.1.1", "10.0.0.1"),
    ] {
        let (response, out) = text(&format!("IT={it}"), &format!("{bad}\n{good}\n"));
        assert_eq!(response, UiResponse::Text(good.into()), "IT={it}: {out}");
        assert_eq!(out.matches("not accepted").count(), 1, "IT={it} refuses {bad}: {out}");
    }
    assert_eq!(text("IT=I", "1.2.3\n").0, UiResponse::TimedOut, "three parts are no address");
    assert_eq!(text("IT=A", "anything at all 1.2\n").0, UiResponse::Text("anything at all 1.2".into()));

    // ET=P: the prompt says the input is hidden and the answer is never written back.
    let (response, out) = text("ET=P&MAXLEN=16", "s3cret-pin\n");
    assert_eq!(response, UiResponse::Text("s3cret-pin".into()));
    assert!(out.contains("hidden"), "{out}");
    assert!(!out.contains("s3cret-pin"), "{out}");
}

#[test]
fn single_choice_1103_takes_one_number_in_range() {
    let choices = ["red", "green", "blue"];
    let single = |options: &str, input: &str| answer(UiKind::SingleChoice, options, &choices, input);
    let (response, out) = single("", "4\n0\n1,2\nx\n2\n");
    assert_eq!(response, UiResponse::Chosen(vec![2]));
    assert_eq!(out.matches("not accepted").count(), 4, "{out}");
    assert!(out.contains("1. red") && out.contains("3. blue"), "{out}");
    assert_eq!(single("DR=3", "\n").0, UiResponse::Chosen(vec![3]));
    assert_eq!(single("", "\n").0, UiResponse::TimedOut, "no default: asked again until the input ends");
    assert_eq!(single("", ".\n").0, UiResponse::Cancelled);
}

#[test]
fn multiple_choice_1104_takes_lists_and_ranges_in_range() {
    let choices = ["a", "b", "c", "d"];
    let multi = |options: &str, input: &str| answer(UiKind::MultipleChoice, options, &choices, input);
    let (response, out) = multi("", "1,5\n1,3\n");
    assert_eq!(response, UiResponse::Chosen(vec![1, 3]));
    assert_eq!(out.matches("not accepted").count(), 1, "{out}");
    assert_eq!(multi("", "2-4\n").0, UiResponse::Chosen(vec![2, 3, 4]));
    assert_eq!(multi("", "2, 2 3\n").0, UiResponse::Chosen(vec![2, 3]), "each choice once");
    assert_eq!(multi("DR=2-3", "\n").0, UiResponse::Chosen(vec![2, 3]));
    assert_eq!(multi("", "\n").0, UiResponse::Chosen(vec![]), "choosing nothing is an answer");
    assert_eq!(multi("", "3-9\n").0, UiResponse::TimedOut);
}

#[test]
fn answers_are_read_in_order_across_alerts_and_the_end_of_input_stays() {
    let mut ui = ui("yes\nsome text\n2\n");
    assert_eq!(ui.interact(&request(UiKind::Confirm, "", &[])), UiResponse::Ok);
    assert_eq!(ui.interact(&request(UiKind::TextInput, "", &[])), UiResponse::Text("some text".into()));
    assert_eq!(ui.interact(&request(UiKind::SingleChoice, "", &["x", "y"])), UiResponse::Chosen(vec![2]));
    assert_eq!(ui.interact(&request(UiKind::Confirm, "DR=1", &[])), UiResponse::TimedOut);
    assert_eq!(ui.interact(&request(UiKind::TextInput, "", &[])), UiResponse::TimedOut);
    assert_eq!(ui.interact(&request(UiKind::Display, "", &[])), UiResponse::Ok);
}

/// Input that arrives only when the test sends it (a user who has not typed yet).
struct Typist(mpsc::Receiver<Vec<u8>>, Vec<u8>);

impl Read for Typist {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.1.is_empty() {
            match self.0.recv() {
                Ok(bytes) => self.1 = bytes,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.1.len());
        buf[..n].copy_from_slice(&self.1[..n]);
        self.1.drain(..n);
        Ok(n)
    }
}

#[test]
fn maxdt_ends_the_wait_with_408_and_a_later_answer_serves_the_next_alert() {
    let (typing, keys) = mpsc::channel();
    let mut ui = TerminalUi::new(BufReader::new(Typist(keys, Vec::new())), Vec::new());
    let started = Instant::now();
    assert_eq!(ui.interact(&request(UiKind::Confirm, "MAXDT=1", &[])), UiResponse::TimedOut);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(1) && waited < Duration::from_secs(10), "{waited:?}");
    assert!(String::from_utf8_lossy(ui.output()).contains("no answer in time"));
    typing.send(b"no\n".to_vec()).unwrap();
    assert_eq!(ui.interact(&request(UiKind::Confirm, "MAXDT=30", &[])), UiResponse::Rejected);
    // Invalid answers do not extend MAXDT.
    let started = Instant::now();
    typing.send(b"what\n".to_vec()).unwrap();
    assert_eq!(ui.interact(&request(UiKind::TextInput, "MAXDT=1&IT=N", &[])), UiResponse::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(10));
}
