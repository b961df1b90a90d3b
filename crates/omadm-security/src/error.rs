//! The typed errors of this crate, one enum per area, each variant precise enough to act on.

use thiserror::Error;

use crate::nonce::NonceError;
use crate::scheme::AuthScheme;

/// Why a credential, challenge or `x-syncml-hmac` header was refused or could not be made.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The scheme is not one this crate implements; it is reported, never guessed.
    #[error("unsupported authentication scheme `{0}`")]
    UnsupportedScheme(String),
    /// `syncml:auth-MAC` authenticates through the `x-syncml-hmac` header, never through `Cred`.
    #[error("`syncml:auth-MAC` is carried in the x-syncml-hmac header, not in Cred")]
    MacInCred,
    /// The peer used another scheme than the one the account requires.
    #[error("expected authentication scheme `{expected}`, the peer used `{got}`")]
    SchemeMismatch {
        /// The scheme the account is configured for.
        expected: AuthScheme,
        /// The scheme the peer presented.
        got: AuthScheme,
    },
    /// The `Cred` Meta Format is not `b64` (the only format the DM schemes define).
    #[error("credential Format `{0}` is not supported (expected b64)")]
    UnsupportedFormat(String),
    /// The credential data is not base64.
    #[error("the {what} is not valid base64")]
    BadBase64 {
        /// Which value was malformed.
        what: &'static str,
    },
    /// A decoded basic credential is not UTF-8 `name:secret`.
    #[error("the basic credential is not `name:secret`")]
    MalformedBasic,
    /// The credential does not match the account's name, secret and nonce (e.g. a wrong password).
    #[error("the {scheme} credential does not match")]
    CredentialMismatch {
        /// The scheme that was checked.
        scheme: AuthScheme,
    },
    /// The credential was computed with a nonce that has already been spent: a replay.
    #[error("the {scheme} credential uses a nonce that was already spent (replay)")]
    NonceReplayed {
        /// The scheme that was checked.
        scheme: AuthScheme,
    },
    /// No credential came where one is required (answered with 407 and a challenge).
    #[error("credentials are missing")]
    MissingCredentials,
    /// The peer refused our credentials without a new challenge, or after the retry limit.
    #[error("the peer refused our credentials after {attempts} attempt(s)")]
    Refused {
        /// How many credentials we sent in this session.
        attempts: u32,
    },
    /// The verifying side gave up after repeated failures in this session.
    #[error("authentication failed {failures} time(s) in this session; the session must end")]
    TooManyFailures {
        /// Failures counted in the session.
        failures: u32,
    },
    /// The peer challenged for another scheme after the session was authenticated.
    #[error("the peer switched from `{from}` to `{to}` within an authenticated session")]
    SchemeChangedInSession {
        /// The scheme in force.
        from: AuthScheme,
        /// The scheme the new challenge named.
        to: AuthScheme,
    },
    /// The peer challenged for a weaker scheme than the account is configured for (e.g. basic for an
    /// MD5 account): the challenge is not answered, so the password is never sent in a weaker form.
    #[error("the peer challenged for `{offered}`, weaker than the account's `{configured}`; not answered")]
    SchemeDowngrade {
        /// The scheme the account is configured for (the weakest we answer with).
        configured: AuthScheme,
        /// The scheme the challenge named.
        offered: AuthScheme,
    },
    /// The `x-syncml-hmac` header is empty.
    #[error("the x-syncml-hmac header is empty")]
    HmacEmpty,
    /// A parameter of the `x-syncml-hmac` header is not `name=value`.
    #[error("malformed x-syncml-hmac parameter `{0}`")]
    HmacMalformedParameter(String),
    /// A quoted value of the `x-syncml-hmac` header has no closing quote.
    #[error("unterminated quoted value in the x-syncml-hmac header")]
    HmacUnterminatedQuote,
    /// A parameter occurs twice in the `x-syncml-hmac` header.
    #[error("duplicate x-syncml-hmac parameter `{0}`")]
    HmacDuplicateParameter(String),
    /// A mandatory parameter (`username` or `mac`) is missing from the `x-syncml-hmac` header.
    #[error("the x-syncml-hmac header lacks the mandatory `{0}` parameter")]
    HmacMissingParameter(&'static str),
    /// The `algorithm` of the `x-syncml-hmac` header is not MD5 or a SHA-256 spelling.
    #[error("unknown x-syncml-hmac algorithm `{0}`")]
    HmacUnknownAlgorithm(String),
    /// The header's `username` is not the account's name.
    #[error("x-syncml-hmac username `{got}` is not the expected `{expected}`")]
    HmacUsernameMismatch {
        /// The account's name (the SyncHdr Source LocName).
        expected: String,
        /// The name in the header.
        got: String,
    },
    /// The header's algorithm is not the one the account requires.
    #[error("x-syncml-hmac algorithm {got} is not the required {expected}")]
    HmacAlgorithmMismatch {
        /// The algorithm the account requires.
        expected: crate::algorithm::HashAlgorithm,
        /// The algorithm the header names.
        got: crate::algorithm::HashAlgorithm,
    },
    /// The `x-syncml-hmac` header is required (HMAC session) but absent.
    #[error("the x-syncml-hmac header is missing")]
    HmacMissing,
    /// No fresh nonce could be generated.
    #[error(transparent)]
    Nonce(#[from] NonceError),
}

/// Why a Package #0 (general notification) could not be built, parsed or verified.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum NotificationError {
    /// Fewer bytes than the fixed part of the layout needs.
    #[error("notification truncated: {needed} bytes needed for the {part}, {available} available")]
    Truncated {
        /// The part being read.
        part: &'static str,
        /// Bytes that part needs from the start of the message.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// The 1.2 server-id length byte points past the end of the message.
    #[error("server-id length {length} runs past the end of the notification ({available} bytes left)")]
    ServerIdPastEnd {
        /// The length byte.
        length: usize,
        /// Bytes left after it.
        available: usize,
    },
    /// The server id is not UTF-8.
    #[error("the server id is not UTF-8")]
    ServerIdNotUtf8,
    /// The server id is empty or longer than the layout can carry.
    #[error("server id of {0} bytes does not fit (1 to {1} bytes)")]
    ServerIdLength(usize, usize),
    /// The version field holds a value this layout does not accept.
    #[error("notification version {0} is not supported by this layout")]
    UnsupportedVersion(u16),
    /// A field value does not fit its bits (building).
    #[error("{field} value {value} does not fit in {bits} bits")]
    FieldOverflow {
        /// The field.
        field: &'static str,
        /// The value given.
        value: u64,
        /// The field width.
        bits: u32,
    },
    /// The digest does not verify: wrong secret or nonce, or a tampered message.
    #[error("the notification digest does not verify (wrong credentials or nonce, or altered bytes)")]
    DigestMismatch,
    /// The digest length does not match the algorithm the credentials require.
    #[error("digest of {got} bytes, but the credentials require {expected}")]
    DigestAlgorithmMismatch {
        /// The algorithm of the credentials.
        expected: crate::algorithm::HashAlgorithm,
        /// The length found.
        got: usize,
    },
    /// The bytes after the 1.3 options are not a 16- or 32-byte digest.
    #[error("{0} bytes follow the options where a 16- or 32-byte digest is expected")]
    BadDigestLength(usize),
    /// A 1.3 option header or value runs past the end of the message.
    #[error("option {index} (number {number}) of length {length} runs past the end")]
    OptionPastEnd {
        /// Position of the option (0-based).
        index: usize,
        /// Its option number.
        number: u8,
        /// Its declared length.
        length: usize,
    },
    /// 1.3 options are not in ascending option-number order.
    #[error("option number {number} after {previous}: options must ascend")]
    OptionOrder {
        /// The option number found.
        number: u8,
        /// The number before it.
        previous: u8,
    },
    /// A 1.3 option has a value size outside its range, or is repeated where at most one is allowed.
    #[error("invalid {name} option: {reason}")]
    BadOption {
        /// The option name.
        name: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A 1.3 notification has no Server-ID option.
    #[error("the notification has no Server-ID option")]
    MissingServerId,
    /// More 1.3 options than the 8-bit count can announce.
    #[error("{0} options do not fit the 8-bit option count")]
    TooManyOptions(usize),
    /// An option number outside 0..=15, or one reserved for a typed option, given as unknown.
    #[error("option number {0} cannot be used for an unknown option")]
    BadUnknownOptionNumber(u8),
    /// A notification with this session id was already accepted (a repeated Package #0 starts only
    /// one session).
    #[error("notification for session {session_id} from `{server_id}` was already accepted (replay)")]
    Replayed {
        /// The server id.
        server_id: String,
        /// The session id, as it appears in Package 1.
        session_id: crate::notification::SessionId,
    },
    /// The notification is for another server than the credentials given.
    #[error("the notification names server `{got}`, the credentials are for `{expected}`")]
    ServerIdMismatch {
        /// The server id of the credentials.
        expected: String,
        /// The server id in the notification.
        got: String,
    },
    /// The account requires separate 1.3 notification credentials and has none.
    #[error("no notification credentials for server `{0}`")]
    NoNotificationCredentials(String),
}

/// Why a WAP Push PDU or SMS segment could not be encoded or decoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PushError {
    /// The data ends inside a field.
    #[error("push data truncated while reading the {0}")]
    Truncated(&'static str),
    /// The WSP PDU type is not Push (0x06).
    #[error("WSP PDU type {0:#04x} is not a connectionless Push (0x06)")]
    NotPush(u8),
    /// A `uintvar` is longer than 5 bytes or overflows 32 bits.
    #[error("malformed uintvar")]
    BadUintvar,
    /// An Integer-value is a Long-integer of 0 or more than 4 bytes.
    #[error("malformed integer in the {0}")]
    BadInteger(&'static str),
    /// The header length runs past the end of the PDU.
    #[error("WSP headers length {length} runs past the end of the PDU ({available} bytes left)")]
    HeadersPastEnd {
        /// The declared length.
        length: usize,
        /// Bytes left.
        available: usize,
    },
    /// A text string is not NUL-terminated within its field, or not UTF-8.
    #[error("malformed WSP text string in the {0}")]
    BadText(&'static str),
    /// A header uses a code page shift, which no DM push needs.
    #[error("WSP header code page shifts are not supported")]
    CodePageShift,
    /// The content type is not a DM notification type.
    #[error("content type {0} is not a DM notification")]
    NotNotification(String),
    /// The application id is missing or is not `x-wap-application:syncml.dm` (0x07).
    #[error("push application id {0} is not x-wap-application:syncml.dm")]
    WrongApplication(String),
    /// The WDP destination port is not 2948 (or is missing).
    #[error("WDP destination port {0:?} is not 2948")]
    WrongPort(Option<u16>),
    /// The SMS user data header length runs past the end of the user data.
    #[error("user data header of {length} bytes runs past the end ({available} bytes)")]
    UdhPastEnd {
        /// The declared length.
        length: usize,
        /// Bytes available after the length byte.
        available: usize,
    },
    /// An information element has a length its type does not allow.
    #[error("information element {iei:#04x} has length {length}")]
    BadInformationElement {
        /// The element identifier.
        iei: u8,
        /// Its declared length.
        length: usize,
    },
    /// Concatenation numbers are out of range (total 0, sequence 0 or above the total).
    #[error("concatenated segment {sequence} of {total} is out of range")]
    BadConcatenation {
        /// The segment number.
        sequence: u8,
        /// The announced total.
        total: u8,
    },
    /// A segment disagrees with the others of its message (total or ports changed).
    #[error("segment {sequence} of message {reference} disagrees with the earlier segments")]
    InconsistentSegment {
        /// The concatenation reference.
        reference: u16,
        /// The segment number.
        sequence: u8,
    },
    /// A segment number arrived twice with different contents.
    #[error("segment {sequence} of message {reference} arrived twice with different data")]
    ConflictingDuplicate {
        /// The concatenation reference.
        reference: u16,
        /// The segment number.
        sequence: u8,
    },
    /// The payload needs more than 255 concatenated segments.
    #[error("payload of {0} bytes needs more than 255 SMS segments")]
    TooLong(usize),
    /// The configured SMS user data size leaves no room for payload.
    #[error("user data size {0} is too small for the headers")]
    SegmentTooSmall(usize),
}

/// Why a bootstrap MAC could not be computed or verified (OMA Provisioning Bootstrap, digest §8).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BootstrapError {
    /// The IMSI is not 1 to 15 decimal digits.
    #[error("IMSI must be 1 to 15 decimal digits")]
    BadImsi,
    /// The security method needs an IMSI and none was given.
    #[error("{0} needs the IMSI")]
    MissingImsi(&'static str),
    /// The security method needs a user PIN and none was given.
    #[error("{0} needs the user PIN")]
    MissingPin(&'static str),
    /// The USERPINMAC PIN is not an even number of decimal digits (key digits ‖ MAC digits).
    #[error("the USERPINMAC PIN must be an even number (at least 2) of decimal digits")]
    BadUserPinMac,
    /// The MAC parameter is not hex.
    #[error("the MAC is not a hexadecimal string")]
    BadMacHex,
    /// The MAC does not verify.
    #[error("the {0} MAC does not verify")]
    MacMismatch(&'static str),
    /// The `SEC` value is not one of 0..=3 / the four names.
    #[error("unknown bootstrap security method `{0}`")]
    UnknownMethod(String),
}

/// Why a WAP client-provisioning document could not be read (WAP-183 ProvCont; digest §8).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProvisioningError {
    /// The XML form is malformed or breaks the PROV grammar at this byte offset.
    #[error("provisioning XML at byte {offset}: {what}")]
    Xml {
        /// Byte offset in the input.
        offset: usize,
        /// What was wrong.
        what: String,
    },
    /// The WBXML form is malformed or breaks the PROV grammar at this byte offset.
    #[error("provisioning WBXML at byte {offset}: {what}")]
    Wbxml {
        /// Byte offset in the input.
        offset: usize,
        /// What was wrong.
        what: String,
    },
    /// The XML form is not UTF-8.
    #[error("provisioning XML is not UTF-8 (at byte {offset})")]
    NotUtf8 {
        /// Where the first invalid byte is.
        offset: usize,
    },
    /// The WBXML public identifier names another document type.
    #[error("not a provisioning document ({0})")]
    NotProvisioning(String),
    /// The WBXML charset is neither UTF-8 nor unspecified.
    #[error("unsupported WBXML charset MIBenum {0}")]
    UnsupportedCharset(u32),
    /// Characteristics nest deeper than [`crate::provisioning::MAX_DEPTH`].
    #[error("characteristics nest too deeply")]
    TooDeep,
    /// A required attribute is missing.
    #[error("a {0} without its `{1}` attribute")]
    MissingAttribute(&'static str, &'static str),
    /// A required parm of a characteristic is missing.
    #[error("the {characteristic} characteristic has no {parm}")]
    MissingParm {
        /// The characteristic type.
        characteristic: &'static str,
        /// The missing parm name.
        parm: &'static str,
    },
    /// The characteristic is not an `APPLICATION` with `APPID=w7`.
    #[error("a `{kind}` characteristic is not a w7 (DM) application")]
    NotW7 {
        /// Its type.
        kind: String,
    },
}
