//! User-interaction alerts 1100–1104 (DM Protocol 1.2 §6.7, §8.6; digest §3 "UI alerts").
//!
//! The engine parses each UI alert into a [`UiRequest`] (options, text, choices) and asks a
//! [`UserInteraction`]; the [`UiResponse`] becomes the alert's Status (200/304/214/408/416/406)
//! with the entered text or the chosen indices as Status Items. [`ScriptedUi`] answers from a
//! script (headless devices, simulators, tests); [`TerminalUi`] asks on a terminal; a device
//! without any UI uses [`NoUi`], which answers 406.

use std::collections::VecDeque;
use std::io::{BufRead, Write};

use omadm_proto::{AlertCode, StatusCode};

/// Which UI alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiKind {
    /// 1100: show a message.
    Display,
    /// 1101: ask yes or no.
    Confirm,
    /// 1102: ask for text.
    TextInput,
    /// 1103: one of several choices.
    SingleChoice,
    /// 1104: any of several choices.
    MultipleChoice,
}

impl UiKind {
    /// The kind of a UI alert code, `None` for other alerts.
    pub fn from_alert(code: AlertCode) -> Option<UiKind> {
        match code {
            AlertCode::Display => Some(UiKind::Display),
            AlertCode::Confirm => Some(UiKind::Confirm),
            AlertCode::TextInput => Some(UiKind::TextInput),
            AlertCode::SingleChoice => Some(UiKind::SingleChoice),
            AlertCode::MultipleChoice => Some(UiKind::MultipleChoice),
            _ => None,
        }
    }
}

/// `IT`: the kind of text a 1102 alert asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputType {
    /// `A`: alphanumeric (the default).
    #[default]
    Alphanumeric,
    /// `N`: a number.
    Numeric,
    /// `D`: a date, `DDMMYYYY`.
    Date,
    /// `T`: a time, `hhmmss`.
    Time,
    /// `P`: a phone number (`+` first, digits, `p`, `w`, `s`).
    Phone,
    /// `I`: an IPv4 address `xxx.yyy.zzz.www`.
    Ip,
}

/// `ET`: how entered text is echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EchoType {
    /// `T`: shown (the default).
    #[default]
    Text,
    /// `P`: hidden, a password.
    Password,
}

/// The options of a UI alert (its first Item, URL-encoded `NAME=value&...`). Unknown options are
/// skipped as the spec asks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UiOptions {
    /// `MINDT`: seconds the message stays at least.
    pub min_display_secs: Option<u32>,
    /// `MAXDT`: seconds to wait for the user at most.
    pub max_display_secs: Option<u32>,
    /// `DR`: the default answer (Confirm `0`/`1`, text, a choice index, or `2-3` for several).
    pub default_response: Option<String>,
    /// `MAXLEN`: the longest text accepted.
    pub max_len: Option<usize>,
    /// `IT`: the input type.
    pub input_type: InputType,
    /// `ET`: the echo type.
    pub echo_type: EchoType,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl UiOptions {
    /// Parses the options string; malformed or unknown options are skipped.
    pub fn parse(text: &str) -> UiOptions {
        let mut o = UiOptions::default();
        for pair in text.split('&').filter(|p| !p.trim().is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value.trim());
            match name.trim().to_ascii_uppercase().as_str() {
                "MINDT" => o.min_display_secs = value.parse().ok(),
                "MAXDT" => o.max_display_secs = value.parse().ok(),
                "DR" => o.default_response = Some(value),
                "MAXLEN" => o.max_len = value.parse().ok(),
                "IT" => {
                    o.input_type = match value.to_ascii_uppercase().as_str() {
                        "N" => InputType::Numeric,
                        "D" => InputType::Date,
                        "T" => InputType::Time,
                        "P" => InputType::Phone,
                        "I" => InputType::Ip,
                        _ => InputType::Alphanumeric,
                    }
                }
                "ET" => o.echo_type = if value.eq_ignore_ascii_case("P") { EchoType::Password } else { EchoType::Text },
                _ => {}
            }
        }
        o
    }
}

/// A UI alert as the device shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiRequest {
    /// The alert.
    pub kind: UiKind,
    /// Item 1: the options.
    pub options: UiOptions,
    /// Item 2: the text or title.
    pub text: String,
    /// Items 3+: the choices, numbered from 1 in this order.
    pub choices: Vec<String>,
}

/// The user's answer to a [`UiRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiResponse {
    /// The message was shown (1100), or "yes" (1101): 200.
    Ok,
    /// "No" to a confirmation: 304.
    Rejected,
    /// The entered text (1102): 200 with the text as a Status Item.
    Text(String),
    /// The chosen indices, from 1 (1103/1104): 200 with one Status Item each.
    Chosen(Vec<usize>),
    /// The user cancelled: 214.
    Cancelled,
    /// Nobody answered within MAXDT: 408.
    TimedOut,
    /// The alert cannot be shown (e.g. in a background session): 416.
    CannotDisplay,
    /// The device has no UI: 406.
    Unsupported,
}

impl UiResponse {
    /// The Status code this answer is sent with.
    pub fn status(&self) -> StatusCode {
        match self {
            UiResponse::Ok | UiResponse::Text(_) | UiResponse::Chosen(_) => StatusCode::Ok,
            UiResponse::Rejected => StatusCode::NotModified,
            UiResponse::Cancelled => StatusCode::OperationCancelled,
            UiResponse::TimedOut => StatusCode::RequestTimeout,
            UiResponse::CannotDisplay => StatusCode::RequestedSizeTooBig,
            UiResponse::Unsupported => StatusCode::OptionalFeatureNotSupported,
        }
    }
}

/// How the device asks its user. Implementations decide how long to wait (MAXDT is in the
/// request); the engine never reads a clock.
pub trait UserInteraction {
    /// Shows the alert and returns the user's answer.
    fn interact(&mut self, request: &UiRequest) -> UiResponse;
}

/// A device without a UI: every UI alert is answered 406 (DM Protocol 1.2 §6.7).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoUi;

impl UserInteraction for NoUi {
    fn interact(&mut self, _request: &UiRequest) -> UiResponse {
        UiResponse::Unsupported
    }
}

/// Answers UI alerts from a script, in order: for headless devices, simulators and tests.
///
/// Script lines (one answer per alert): `ok`, `yes`, `no`, `cancel`, `timeout`, `nodisplay`,
/// `text:<text>`, `choose:<i>[,<j>...]`, `default` (the alert's DR option, else `ok`). When the
/// script runs out, every further alert gets its default answer. Blank lines and `#` comments are
/// ignored.
#[derive(Debug, Clone, Default)]
pub struct ScriptedUi {
    answers: VecDeque<String>,
    /// Every request seen, in order (for logs and tests).
    pub seen: Vec<UiRequest>,
}

impl ScriptedUi {
    /// A script from its lines.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(answers: I) -> ScriptedUi {
        ScriptedUi { answers: answers.into_iter().map(Into::into).collect(), seen: Vec::new() }
    }

    /// A script from a text (one answer per line).
    pub fn parse(text: &str) -> ScriptedUi {
        ScriptedUi::new(
            text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string),
        )
    }

    fn default_answer(request: &UiRequest) -> UiResponse {
        let dr = request.options.default_response.as_deref();
        match (request.kind, dr) {
            (UiKind::Confirm, Some("0")) => UiResponse::Rejected,
            (UiKind::TextInput, Some(t)) => UiResponse::Text(t.to_string()),
            (UiKind::TextInput, None) => UiResponse::Text(String::new()),
            (UiKind::SingleChoice | UiKind::MultipleChoice, Some(d)) => UiResponse::Chosen(parse_choices(d)),
            (UiKind::SingleChoice, None) => UiResponse::Chosen(vec![1]),
            (UiKind::MultipleChoice, None) => UiResponse::Chosen(Vec::new()),
            _ => UiResponse::Ok,
        }
    }
}

/// Reads `2`, `1,3` or `2-3` (a range, as DR writes several defaults) into indices.
fn parse_choices(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in text.split([',', ' ']).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.trim().parse::<usize>().ok()),
        }
    }
    out
}

impl UserInteraction for ScriptedUi {
    fn interact(&mut self, request: &UiRequest) -> UiResponse {
        self.seen.push(request.clone());
        let Some(line) = self.answers.pop_front() else { return Self::default_answer(request) };
        let (verb, arg) = line.split_once(':').unwrap_or((line.as_str(), ""));
        match verb.trim().to_ascii_lowercase().as_str() {
            "ok" | "yes" => UiResponse::Ok,
            "no" => UiResponse::Rejected,
            "cancel" => UiResponse::Cancelled,
            "timeout" => UiResponse::TimedOut,
            "nodisplay" => UiResponse::CannotDisplay,
            "text" => UiResponse::Text(arg.to_string()),
            "choose" => UiResponse::Chosen(parse_choices(arg)),
            _ => Self::default_answer(request),
        }
    }
}

/// Asks on a terminal (standard input and error). An empty answer takes the DR default.
#[derive(Debug, Default)]
pub struct TerminalUi;

impl TerminalUi {
    fn ask(prompt: &str) -> Option<String> {
        let mut err = std::io::stderr();
        let _ = write!(err, "{prompt}");
        let _ = err.flush();
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
        }
    }
}

impl UserInteraction for TerminalUi {
    fn interact(&mut self, request: &UiRequest) -> UiResponse {
        eprintln!("[server] {}", request.text);
        for (i, c) in request.choices.iter().enumerate() {
            eprintln!("  {}. {c}", i + 1);
        }
        let dr = request.options.default_response.clone().unwrap_or_default();
        let answer = match request.kind {
            UiKind::Display => return UiResponse::Ok,
            UiKind::Confirm => Self::ask("yes/no/cancel? "),
            UiKind::TextInput => Self::ask("text (empty = default, '.' = cancel): "),
            UiKind::SingleChoice => Self::ask("choice number (empty = default): "),
            UiKind::MultipleChoice => Self::ask("choice numbers, comma-separated: "),
        };
        let Some(answer) = answer else { return UiResponse::TimedOut };
        let answer = if answer.is_empty() { dr } else { answer };
        match request.kind {
            UiKind::Display => UiResponse::Ok,
            UiKind::Confirm => match answer.to_ascii_lowercase().as_str() {
                "y" | "yes" | "1" => UiResponse::Ok,
                "c" | "cancel" => UiResponse::Cancelled,
                _ => UiResponse::Rejected,
            },
            UiKind::TextInput if answer == "." => UiResponse::Cancelled,
            UiKind::TextInput => {
                let max = request.options.max_len.unwrap_or(usize::MAX);
                UiResponse::Text(answer.chars().take(max).collect())
            }
            UiKind::SingleChoice => UiResponse::Chosen(parse_choices(&answer).into_iter().take(1).collect()),
            UiKind::MultipleChoice => UiResponse::Chosen(parse_choices(&answer)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_parsed_and_unknown_ones_skipped() {
        let o = UiOptions::parse("MINDT=5&MAXDT=30&DR=2-3&MAXLEN=8&IT=N&ET=P&XYZ=1&DR2");
        assert_eq!(o.min_display_secs, Some(5));
        assert_eq!(o.max_display_secs, Some(30));
        assert_eq!(o.default_response.as_deref(), Some("2-3"));
        assert_eq!(o.max_len, Some(8));
        assert_eq!(o.input_type, InputType::Numeric);
        assert_eq!(o.echo_type, EchoType::Password);
        assert_eq!(parse_choices("2-3"), vec![2, 3]);
        assert_eq!(UiOptions::parse("DR=a%20b+c").default_response.as_deref(), Some("a b c"));
    }
}
