//! User-interaction alerts 1100–1104 (DM Protocol 1.2 §6.7, §8.6; digest §3 "UI alerts").
//!
//! The engine parses each UI alert into a [`UiRequest`] (options, text, choices) and asks a
//! [`UserInteraction`]; the [`UiResponse`] becomes the alert's Status (200/304/214/408/416/406)
//! with the entered text or the chosen indices as Status Items. [`ScriptedUi`] answers from a
//! script (headless devices, simulators, tests); [`TerminalUi`] asks on a terminal; a device
//! without any UI uses [`NoUi`], which answers 406.

use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

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

impl InputType {
    /// Whether `text` is of this type (an empty answer is left to the caller).
    pub fn accepts(self, text: &str) -> bool {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let two = |s: &str, max: u32| s.parse::<u32>().is_ok_and(|n| n <= max);
        match self {
            InputType::Alphanumeric => true,
            InputType::Numeric => {
                let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
                match unsigned.split_once('.') {
                    None => digits(unsigned),
                    Some((whole, fraction)) => (whole.is_empty() || digits(whole)) && digits(fraction),
                }
            }
            InputType::Date => {
                text.len() == 8
                    && digits(text)
                    && two(&text[0..2], 31)
                    && &text[0..2] != "00"
                    && two(&text[2..4], 12)
                    && &text[2..4] != "00"
            }
            InputType::Time => {
                text.len() == 6 && digits(text) && two(&text[0..2], 23) && two(&text[2..4], 59) && two(&text[4..6], 59)
            }
            InputType::Phone => {
                let rest = text.strip_prefix('+').unwrap_or(text);
                !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'p' | b'w' | b's'))
            }
            InputType::Ip => {
                let parts: Vec<&str> = text.split('.').collect();
                parts.len() == 4 && parts.iter().all(|p| p.len() <= 3 && digits(p) && two(p, 255))
            }
        }
    }

    /// What the type asks for, in words (for prompts and error messages).
    pub fn describe(self) -> &'static str {
        match self {
            InputType::Alphanumeric => "text",
            InputType::Numeric => "a number",
            InputType::Date => "a date DDMMYYYY",
            InputType::Time => "a time hhmmss",
            InputType::Phone => "a phone number (+, digits, p, w, s)",
            InputType::Ip => "an IPv4 address",
        }
    }
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
            (UiKind::SingleChoice | UiKind::MultipleChoice, Some(d)) => {
                UiResponse::Chosen(parse_choices(d, request.choices.len()))
            }
            (UiKind::SingleChoice, None) => UiResponse::Chosen(vec![1]),
            (UiKind::MultipleChoice, None) => UiResponse::Chosen(Vec::new()),
            _ => UiResponse::Ok,
        }
    }
}

/// Reads `2`, `1,3` or `2-3` (a range, as DR writes several defaults) into indices, keeping only
/// the choices `1..=count`, each once, in the order first named. The text may come from the
/// server (DR), so a range is clamped to the choices before it is expanded: the answer never
/// holds more than `count` indices, whatever the range says.
fn parse_choices(text: &str, count: usize) -> Vec<usize> {
    let mut chosen = ChoiceSet::new(count);
    for part in text.split([',', ' ']).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.trim().parse::<u64>(), b.trim().parse::<u64>()) {
            chosen.add_range(a, b);
        }
    }
    chosen.indices
}

/// Choice indices `1..=count` taken once each, in order: bounded by the number of choices.
struct ChoiceSet {
    taken: Vec<bool>,
    indices: Vec<usize>,
}

impl ChoiceSet {
    fn new(count: usize) -> ChoiceSet {
        ChoiceSet { taken: vec![false; count], indices: Vec::new() }
    }

    /// Adds `from..=to`, clamped to the choices (the part outside them is dropped).
    fn add_range(&mut self, from: u64, to: u64) {
        let count = self.taken.len() as u64;
        for n in from.max(1)..=to.min(count) {
            if self.indices.len() == self.taken.len() {
                break;
            }
            // n is within 1..=count, so it fits a usize and indexes `taken`.
            let n = n as usize;
            if !std::mem::replace(&mut self.taken[n - 1], true) {
                self.indices.push(n);
            }
        }
    }
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
            "choose" => UiResponse::Chosen(parse_choices(arg, request.choices.len())),
            _ => Self::default_answer(request),
        }
    }
}

/// Asks on a terminal: prompts go to a writer, answers come from a reader one line each (the
/// CLI uses standard output and input; tests use buffers).
///
/// - MAXDT bounds the wait for an answer; no answer in time is 408. The end of the input means
///   nobody can answer: 408 too.
/// - MINDT: a 1100 message is answered only after it has been shown for MINDT seconds (never
///   longer than MAXDT). An asking alert stays until it is answered, so MINDT does not apply.
/// - An empty answer takes the DR default (Confirm `0`/`1`, the text, a choice or `2-3`).
/// - Answers are checked: yes/no/cancel for 1101, MAXLEN and the IT input type for 1102, choice
///   numbers in range for 1103/1104. An invalid answer is explained and asked again (within
///   MAXDT). `.` cancels any asking alert (214).
/// - ET=P: the prompt says the input is hidden and the answer is never written back. With
///   [`TerminalUi::stdio`] on Unix, when standard input is a terminal, its echo is switched off
///   while the answer is typed and put back as it was afterwards (on every path, a panic
///   included; not when the process is killed meanwhile).
pub struct TerminalUi<R, W> {
    /// The input until the first question, then the thread that reads it line by line.
    reader: Option<R>,
    lines: Option<Receiver<Option<String>>>,
    /// The input ended: every later question is unanswered.
    ended: bool,
    out: W,
    /// The descriptor whose terminal echo a password answer switches off (standard input's
    /// with [`TerminalUi::stdio`]).
    #[cfg(unix)]
    echo_fd: Option<std::os::fd::RawFd>,
}

impl<R, W> std::fmt::Debug for TerminalUi<R, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalUi").field("ended", &self.ended).finish_non_exhaustive()
    }
}

impl TerminalUi<std::io::BufReader<std::io::Stdin>, std::io::Stdout> {
    /// Asks on standard output, reads answers from standard input.
    pub fn stdio() -> Self {
        let ui = TerminalUi::new(std::io::BufReader::new(std::io::stdin()), std::io::stdout());
        #[cfg(unix)]
        let ui = TerminalUi { echo_fd: Some(std::os::fd::AsRawFd::as_raw_fd(&std::io::stdin())), ..ui };
        ui
    }
}

/// What came of one question.
enum Answer {
    Line(String),
    NoAnswer,
}

impl<R: BufRead + Send + 'static, W: Write> TerminalUi<R, W> {
    /// A terminal UI reading answers from `input` and writing prompts to `out`. The input is
    /// read on its own thread from the first question on, so that MAXDT can end a wait.
    pub fn new(input: R, out: W) -> Self {
        TerminalUi {
            reader: Some(input),
            lines: None,
            ended: false,
            out,
            #[cfg(unix)]
            echo_fd: None,
        }
    }

    /// Switches the terminal's echo off for a password answer (ET=P) until the guard drops;
    /// `None` when the input is no terminal (nothing to hide) or the mode cannot be changed.
    #[cfg(unix)]
    fn hide_echo(&self) -> Option<echo::HiddenEcho> {
        match echo::HiddenEcho::hide(self.echo_fd?) {
            Ok(hidden) => hidden,
            Err(e) => {
                tracing::warn!("could not switch the terminal's echo off for a password: {e}");
                None
            }
        }
    }

    /// No terminal control outside Unix: the password prompt only says the input is hidden.
    #[cfg(not(unix))]
    fn hide_echo(&self) -> Option<()> {
        None
    }

    /// The prompts written so far, for a UI that writes into a buffer.
    pub fn output(&self) -> &W {
        &self.out
    }

    fn say(&mut self, text: std::fmt::Arguments<'_>) {
        // A prompt that cannot be written leaves the question unanswered (MAXDT, or the end of
        // the input); there is nobody to report the write error to.
        let _ = self.out.write_fmt(text);
        let _ = self.out.flush();
    }

    fn lines(&mut self) -> &Receiver<Option<String>> {
        let reader = &mut self.reader;
        self.lines.get_or_insert_with(|| {
            let (tx, rx) = mpsc::channel();
            if let Some(mut reader) = reader.take() {
                std::thread::spawn(move || loop {
                    let mut line = Vec::new();
                    let next = match reader.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => None,
                        Ok(_) => Some(String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string()),
                    };
                    let ended = next.is_none();
                    if tx.send(next).is_err() || ended {
                        return;
                    }
                });
            }
            rx
        })
    }

    fn ask(&mut self, prompt: &str, deadline: Option<Instant>) -> Answer {
        if self.ended {
            return Answer::NoAnswer;
        }
        self.say(format_args!("{prompt}"));
        let next = match deadline {
            None => self.lines().recv().ok().flatten(),
            Some(d) => match self.lines().recv_timeout(d.saturating_duration_since(Instant::now())) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => {
                    self.say(format_args!("\n(no answer in time)\n"));
                    return Answer::NoAnswer;
                }
                Err(RecvTimeoutError::Disconnected) => None,
            },
        };
        match next {
            Some(line) => Answer::Line(line),
            None => {
                self.ended = true;
                Answer::NoAnswer
            }
        }
    }
}

/// The prompt of an asking alert.
fn prompt(request: &UiRequest) -> String {
    let default = request.options.default_response.as_deref().map(|d| format!(" [default {d}]")).unwrap_or_default();
    let what = match request.kind {
        UiKind::Display => String::new(),
        UiKind::Confirm => "yes/no".to_string(),
        UiKind::TextInput => {
            let mut what = request.options.input_type.describe().to_string();
            if let Some(max) = request.options.max_len {
                what.push_str(&format!(", at most {max} characters"));
            }
            if request.options.echo_type == EchoType::Password {
                what.push_str(", hidden");
            }
            what
        }
        UiKind::SingleChoice => format!("one choice, 1-{}", request.choices.len()),
        UiKind::MultipleChoice => format!("choices 1-{}, e.g. 1,3 or 2-3", request.choices.len()),
    };
    format!("{what}{default} ('.' cancels): ")
}

/// Reads an answer to an asking alert; `Err` explains why it is not acceptable.
fn read_answer(request: &UiRequest, answer: &str) -> Result<UiResponse, String> {
    let default = request.options.default_response.as_deref();
    let answer = match (answer.trim(), default) {
        (".", _) => return Ok(UiResponse::Cancelled),
        ("", Some(d)) => d,
        (a, _) => a,
    };
    match request.kind {
        UiKind::Display => Ok(UiResponse::Ok),
        UiKind::Confirm => match answer.to_ascii_lowercase().as_str() {
            "y" | "yes" | "1" => Ok(UiResponse::Ok),
            "n" | "no" | "0" => Ok(UiResponse::Rejected),
            "c" | "cancel" => Ok(UiResponse::Cancelled),
            _ => Err("answer yes or no".into()),
        },
        UiKind::TextInput => {
            let max = request.options.max_len.unwrap_or(usize::MAX);
            if answer.chars().count() > max {
                return Err(format!("at most {max} characters"));
            }
            let it = request.options.input_type;
            if !answer.is_empty() && !it.accepts(answer) {
                return Err(format!("expected {}", it.describe()));
            }
            Ok(UiResponse::Text(answer.to_string()))
        }
        UiKind::SingleChoice => match strict_choices(answer, request.choices.len())?.as_slice() {
            [one] => Ok(UiResponse::Chosen(vec![*one])),
            _ => Err("choose exactly one".into()),
        },
        UiKind::MultipleChoice => Ok(UiResponse::Chosen(strict_choices(answer, request.choices.len())?)),
    }
}

/// Choice numbers (`1,3`, `2-3`) that must all be between 1 and `count`, each once.
fn strict_choices(text: &str, count: usize) -> Result<Vec<usize>, String> {
    let mut chosen = ChoiceSet::new(count);
    for part in text.split([',', ' ']).filter(|p| !p.is_empty()) {
        let number = |s: &str| s.trim().parse::<u64>().ok().filter(|n| (1..=count as u64).contains(n));
        let bad = || format!("{part:?} is not a choice between 1 and {count}");
        let (from, to) = match part.split_once('-') {
            Some((a, b)) => (number(a).ok_or_else(bad)?, number(b).ok_or_else(bad)?),
            None => {
                let n = number(part).ok_or_else(bad)?;
                (n, n)
            }
        };
        chosen.add_range(from, to);
    }
    Ok(chosen.indices)
}

impl<R: BufRead + Send + 'static, W: Write> UserInteraction for TerminalUi<R, W> {
    fn interact(&mut self, request: &UiRequest) -> UiResponse {
        self.say(format_args!("[server] {}\n", request.text));
        for (i, c) in request.choices.iter().enumerate() {
            self.say(format_args!("  {}. {c}\n", i + 1));
        }
        let secs = |s: Option<u32>| s.map(|s| Duration::from_secs(u64::from(s)));
        let max = secs(request.options.max_display_secs);
        if request.kind == UiKind::Display {
            if let Some(min) = secs(request.options.min_display_secs) {
                std::thread::sleep(max.map_or(min, |max| min.min(max)));
            }
            return UiResponse::Ok;
        }
        let deadline = max.map(|m| Instant::now() + m);
        let prompt = prompt(request);
        let _echo_hidden = if request.options.echo_type == EchoType::Password { self.hide_echo() } else { None };
        loop {
            let Answer::Line(line) = self.ask(&prompt, deadline) else { return UiResponse::TimedOut };
            match read_answer(request, &line) {
                Ok(response) => return response,
                Err(why) => self.say(format_args!("not accepted: {why}\n")),
            }
        }
    }
}

/// Terminal echo control for password answers (ET=P), through termios.
#[cfg(unix)]
mod echo {
    use std::os::fd::RawFd;

    /// A terminal whose echo is switched off; dropping it restores the mode it had.
    pub(super) struct HiddenEcho {
        fd: RawFd,
        saved: libc::termios,
    }

    impl HiddenEcho {
        /// Switches echo off on `fd` (keeping the newline's echo, `ECHONL`, so the next line
        /// starts below the prompt); `Ok(None)` when `fd` is not a terminal.
        pub(super) fn hide(fd: RawFd) -> std::io::Result<Option<HiddenEcho>> {
            // SAFETY: isatty only looks at the descriptor number; a closed one answers 0.
            if unsafe { libc::isatty(fd) } != 1 {
                return Ok(None);
            }
            let mut saved = std::mem::MaybeUninit::<libc::termios>::uninit();
            // SAFETY: tcgetattr writes a whole termios on success, checked before it is read.
            if unsafe { libc::tcgetattr(fd, saved.as_mut_ptr()) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: initialised by the successful tcgetattr above.
            let saved = unsafe { saved.assume_init() };
            let mut hidden = saved;
            hidden.c_lflag &= !libc::ECHO;
            hidden.c_lflag |= libc::ECHONL;
            // SAFETY: `hidden` is a valid termios for the terminal `fd`.
            if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &hidden) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(Some(HiddenEcho { fd, saved }))
        }
    }

    impl Drop for HiddenEcho {
        fn drop(&mut self) {
            // SAFETY: `saved` is the mode tcgetattr read from this terminal.
            if unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) } != 0 {
                tracing::warn!("could not switch the terminal's echo back on: {}", std::io::Error::last_os_error());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pseudo-terminal: (controller, the terminal end).
    #[cfg(unix)]
    fn pseudo_terminal() -> (std::fs::File, std::fs::File) {
        use std::os::fd::AsRawFd as _;
        let controller = std::fs::OpenOptions::new().read(true).write(true).open("/dev/ptmx").expect("open /dev/ptmx");
        let mut name = [0 as libc::c_char; 128];
        // SAFETY: plain calls on an open descriptor; ptsname_r writes at most `name.len()` bytes.
        let named = unsafe {
            libc::grantpt(controller.as_raw_fd()) == 0
                && libc::unlockpt(controller.as_raw_fd()) == 0
                && libc::ptsname_r(controller.as_raw_fd(), name.as_mut_ptr(), name.len()) == 0
        };
        assert!(named, "set up the pseudo-terminal: {}", std::io::Error::last_os_error());
        // SAFETY: ptsname_r succeeded, so `name` holds a NUL-terminated path.
        let path = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }.to_str().unwrap().to_string();
        let terminal = std::fs::OpenOptions::new().read(true).write(true).open(path).expect("open the terminal end");
        (controller, terminal)
    }

    #[cfg(unix)]
    fn echoes(terminal: &std::fs::File) -> bool {
        use std::os::fd::AsRawFd as _;
        let mut mode = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: checked success before the termios is read.
        assert_eq!(unsafe { libc::tcgetattr(terminal.as_raw_fd(), mode.as_mut_ptr()) }, 0);
        unsafe { mode.assume_init() }.c_lflag & libc::ECHO != 0
    }

    #[cfg(unix)]
    #[test]
    fn a_password_switches_a_terminals_echo_off_until_answered() {
        use std::os::fd::AsRawFd as _;
        let (_controller, terminal) = pseudo_terminal();
        assert!(echoes(&terminal));
        let hidden = echo::HiddenEcho::hide(terminal.as_raw_fd()).unwrap();
        assert!(hidden.is_some() && !echoes(&terminal), "echo off while the answer is typed");
        drop(hidden);
        assert!(echoes(&terminal), "the terminal's mode is back");
    }

    #[cfg(unix)]
    #[test]
    fn a_password_question_on_a_terminal_is_typed_unechoed_and_the_mode_restored() {
        use std::io::Write as _;
        use std::os::fd::AsRawFd as _;
        let (mut controller, terminal) = pseudo_terminal();
        let watched = terminal.try_clone().unwrap();
        let typist = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while echoes(&watched) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let echo_was_off = !echoes(&watched);
            controller.write_all(b"1234\n").unwrap();
            (echo_was_off, controller)
        });
        let fd = terminal.as_raw_fd();
        let after = terminal.try_clone().unwrap();
        let mut ui = TerminalUi::new(std::io::BufReader::new(terminal), Vec::new());
        ui.echo_fd = Some(fd);
        let request = UiRequest {
            kind: UiKind::TextInput,
            options: UiOptions::parse("ET=P&MAXDT=20"),
            text: "PIN?".into(),
            choices: vec![],
        };
        assert_eq!(ui.interact(&request), UiResponse::Text("1234".into()));
        let (echo_was_off, _controller) = typist.join().unwrap();
        assert!(echo_was_off, "the answer was typed with echo off");
        assert!(echoes(&after), "the terminal's mode is back after the answer");
    }

    #[cfg(unix)]
    #[test]
    fn a_password_from_no_terminal_changes_no_mode_and_is_still_read() {
        use std::os::fd::AsRawFd as _;
        let file = tempfile::tempfile().unwrap();
        assert!(echo::HiddenEcho::hide(file.as_raw_fd()).unwrap().is_none());
        let mut ui = TerminalUi::new(std::io::Cursor::new(b"s3cret\n".to_vec()), Vec::new());
        ui.echo_fd = Some(file.as_raw_fd());
        let request = UiRequest {
            kind: UiKind::TextInput,
            options: UiOptions::parse("ET=P"),
            text: "PIN?".into(),
            choices: vec![],
        };
        assert_eq!(ui.interact(&request), UiResponse::Text("s3cret".into()));
        let shown = String::from_utf8_lossy(ui.output()).to_string();
        assert!(shown.contains("hidden") && !shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn options_are_parsed_and_unknown_ones_skipped() {
        let o = UiOptions::parse("MINDT=5&MAXDT=30&DR=2-3&MAXLEN=8&IT=N&ET=P&XYZ=1&DR2");
        assert_eq!(o.min_display_secs, Some(5));
        assert_eq!(o.max_display_secs, Some(30));
        assert_eq!(o.default_response.as_deref(), Some("2-3"));
        assert_eq!(o.max_len, Some(8));
        assert_eq!(o.input_type, InputType::Numeric);
        assert_eq!(o.echo_type, EchoType::Password);
        assert_eq!(parse_choices("2-3", 3), vec![2, 3]);
        assert_eq!(parse_choices("2-3", 2), vec![2], "clamped to the choices");
        assert_eq!(UiOptions::parse("DR=a%20b+c").default_response.as_deref(), Some("a b c"));
    }
}
