//! The notification outbox (TR3): a text message to an insured person's registered phone (a
//! one-time code, a confirmation) is a row written in the same transaction as the business
//! change that needs it, and a sender drains the rows afterwards.
//!
//! No double sends: a drain first claims rows in a transaction of its own (`pending` →
//! `sending` under a random claim), sends outside any transaction, then marks each row `sent`
//! or `failed` under that claim. Two drains never hold the same row. A drain that stops between
//! claiming and marking leaves rows `sending`; once their claim is older than the lease they
//! become `unknown` and are not sent again (a lost code is asked for again; a code sent twice is
//! not a thing we do). Retries are bounded ([`NOTIFICATION_ATTEMPTS_MAX`]); a webhook request
//! carries the row id as its `Idempotency-Key` so that a gateway can drop a repeat of a request
//! whose answer was lost.
//!
//! The one-time code is kept in the row only until the message leaves (`secret`, cleared when
//! the row is sent, given up or void); the transfer itself keeps only a salted hash.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use gongji_core::states::{NotificationKind, NotificationState};
use gongji_store::{Notification, NotificationUpdate, Store, StoreError};

use crate::{Engine, Error, Result};

/// Attempts per message, the first included, before it is given up as `failed`.
pub const NOTIFICATION_ATTEMPTS_MAX: u32 = 3;
/// Messages claimed per transaction.
pub const NOTIFICATION_CLAIM_BATCH: usize = 50;
/// A claim older than this belongs to a sender that stopped: its rows become `unknown`.
pub const NOTIFICATION_CLAIM_LEASE_SECS: i64 = 600;
/// Wait before the second attempt; doubled before each further one.
pub const NOTIFICATION_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// Connect, write and read time limit of the webhook sender.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// One message as a sender sees it: the text with its code filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub id: i64,
    pub kind: NotificationKind,
    /// The registered phone.
    pub to: String,
    pub text: String,
}

/// Why a send did not work. A permanent failure (the gateway refused the request) is not
/// retried; a transient one (network, timeout, 5xx, 429) is, within the bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    pub permanent: bool,
    pub message: String,
}

/// Something that delivers text messages: the log (development), an SMS gateway (webhook).
pub trait NotificationSender {
    fn send(&self, message: &OutgoingMessage) -> std::result::Result<(), SendFailure>;
}

#[derive(Debug, Clone)]
pub struct DrainOptions {
    pub batch: usize,
    pub attempts_max: u32,
    pub backoff: Duration,
    pub lease: chrono::Duration,
}

impl Default for DrainOptions {
    fn default() -> Self {
        DrainOptions {
            batch: NOTIFICATION_CLAIM_BATCH,
            attempts_max: NOTIFICATION_ATTEMPTS_MAX,
            backoff: NOTIFICATION_RETRY_BACKOFF,
            lease: chrono::Duration::seconds(NOTIFICATION_CLAIM_LEASE_SECS),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DrainSummary {
    pub claimed: u64,
    pub sent: u64,
    pub failed: u64,
    /// Attempts after the first one of a message.
    pub retries: u64,
    /// Rows left `sending` by a stopped sender, now `unknown` and not sent again.
    pub abandoned: u64,
}

impl<S: Store> Engine<S> {
    pub fn notification(&self, id: i64) -> Result<Option<Notification>> {
        self.store.read(|tx| Ok(tx.notification(id)?))
    }

    /// Notifications oldest first, only those in `state` when given.
    pub fn notifications(&self, state: Option<NotificationState>, limit: usize) -> Result<Vec<Notification>> {
        self.store.read(|tx| Ok(tx.notifications(state, limit)?))
    }

    /// Sends every pending notification through `sender`: claim, send, mark (see the module).
    pub fn drain_outbox(&self, sender: &dyn NotificationSender, options: &DrainOptions) -> Result<DrainSummary> {
        let mut summary = DrainSummary::default();
        let now = Utc::now();
        let stale = self.store.read(|tx| Ok::<_, Error>(tx.notifications(Some(NotificationState::Sending), usize::MAX >> 1)?))?;
        for row in stale.iter().filter(|n| n.claimed_at.is_some_and(|at| at < now - options.lease)) {
            let update = NotificationUpdate {
                state: NotificationState::Unknown,
                attempts: row.attempts,
                last_error: Some("the sender stopped while sending; not sent again, to avoid a double send".into()),
                clear_secret: true,
                at: now,
            };
            if self.store.write(|tx| Ok::<_, Error>(tx.update_notification(row.id, NotificationState::Sending, row.claim.as_deref(), &update)?))? {
                summary.abandoned += 1;
            }
        }
        let claim = random_hex(16)?;
        loop {
            let batch = self.store.write(|tx| Ok::<_, Error>(tx.claim_notifications(&claim, Utc::now(), options.batch.max(1))?))?;
            if batch.is_empty() {
                return Ok(summary);
            }
            summary.claimed += batch.len() as u64;
            for row in batch {
                let message = OutgoingMessage {
                    id: row.id,
                    kind: row.notification.kind,
                    to: row.notification.recipient.clone(),
                    text: render(&row.notification.body, row.notification.secret.as_deref()),
                };
                let mut attempts = row.attempts;
                let mut backoff = options.backoff;
                let outcome = loop {
                    attempts += 1;
                    match sender.send(&message) {
                        Ok(()) => break Ok(()),
                        Err(failure) if failure.permanent || attempts >= options.attempts_max.max(1) => break Err(failure),
                        Err(_) => {
                            summary.retries += 1;
                            std::thread::sleep(backoff);
                            backoff = backoff.saturating_mul(2);
                        }
                    }
                };
                let update = match &outcome {
                    Ok(()) => NotificationUpdate { state: NotificationState::Sent, attempts, last_error: None, clear_secret: true, at: Utc::now() },
                    Err(failure) => NotificationUpdate {
                        state: NotificationState::Failed,
                        attempts,
                        last_error: Some(failure.message.clone()),
                        clear_secret: true,
                        at: Utc::now(),
                    },
                };
                self.store.write(|tx| Ok::<_, Error>(tx.update_notification(row.id, NotificationState::Sending, Some(&claim), &update)?))?;
                match outcome {
                    Ok(()) => summary.sent += 1,
                    Err(_) => summary.failed += 1,
                }
            }
        }
    }
}

/// The text with its one-time code filled in (`******` once the code is gone).
pub fn render(body: &str, secret: Option<&str>) -> String {
    body.replace("{code}", secret.unwrap_or("******"))
}

/// A phone number for logs: `138****0000`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let (head, tail) = (chars[..3].iter().collect::<String>(), chars[chars.len() - 4..].iter().collect::<String>());
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// `bytes` random bytes from the operating system, as lower-case hex.
pub(crate) fn random_hex(bytes: usize) -> Result<String> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|err| Error::Store(StoreError::Backend(format!("OS random source: {err}"))))?;
    Ok(hex(&buffer))
}

/// A uniformly drawn number below 10^`digits`, zero-padded (`digits` ≤ 9).
pub(crate) fn random_digits(digits: u32) -> Result<String> {
    let modulus = 10u32.pow(digits);
    // The largest multiple of the modulus that fits: draws at or above it are drawn again, so
    // that every code is equally likely.
    let limit = u32::MAX - u32::MAX % modulus;
    loop {
        let draw = getrandom::u32().map_err(|err| Error::Store(StoreError::Backend(format!("OS random source: {err}"))))?;
        if draw < limit {
            return Ok(format!("{:0width$}", draw % modulus, width = digits as usize));
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The development sender: writes each message to a log (stderr by default) with the phone
/// masked. The text itself is the message (it may hold a one-time code): this sender is for
/// test and training systems, where the log is the phone.
pub struct LogSender<W: Write> {
    out: Mutex<W>,
}

impl LogSender<std::io::Stderr> {
    pub fn stderr() -> Self {
        LogSender { out: Mutex::new(std::io::stderr()) }
    }
}

impl<W: Write> LogSender<W> {
    pub fn new(out: W) -> Self {
        LogSender { out: Mutex::new(out) }
    }

    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<W: Write> NotificationSender for LogSender<W> {
    fn send(&self, message: &OutgoingMessage) -> std::result::Result<(), SendFailure> {
        let mut out = self.out.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        writeln!(out, "sms #{} [{}] to {}: {}", message.id, message.kind, mask_phone(&message.to), message.text)
            .and_then(|()| out.flush())
            .map_err(|err| SendFailure { permanent: false, message: format!("log: {err}") })
    }
}

/// Posts each message as JSON to an SMS gateway: `POST <path>` with
/// `{"id", "kind", "to", "text"}` and an `Idempotency-Key` header, over plain HTTP/1.1 on a
/// `std::net` socket (the gateway sits inside the agency's network; no TLS here). 2xx is sent;
/// 408, 429, 5xx and network errors are retried; any other answer is a permanent refusal.
#[derive(Debug)]
pub struct WebhookSender {
    host: String,
    port: u16,
    path: String,
    timeout: Duration,
}

impl WebhookSender {
    /// `http://host[:port][/path]`.
    pub fn new(url: &str) -> std::result::Result<WebhookSender, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| format!("the webhook URL must start with http:// (no TLS in this sender): {url:?}"))?;
        let (authority, path) = match rest.find('/') {
            Some(index) => (&rest[..index], &rest[index..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, port.parse::<u16>().map_err(|_| format!("bad port in {url:?}"))?),
            None => (authority, 80),
        };
        let path_ok = path.bytes().all(|b| b.is_ascii_graphic());
        if host.is_empty() || !path_ok {
            return Err(format!("not a usable webhook URL: {url:?}"));
        }
        Ok(WebhookSender { host: host.to_string(), port, path: path.to_string(), timeout: WEBHOOK_TIMEOUT })
    }

    fn post(&self, message: &OutgoingMessage) -> std::io::Result<u16> {
        let body = serde_json::json!({"id": message.id, "kind": message.kind.as_str(), "to": message.to, "text": message.text}).to_string();
        let address = (self.host.as_str(), self.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, format!("{} does not resolve", self.host)))?;
        let mut stream = TcpStream::connect_timeout(&address, self.timeout)?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nIdempotency-Key: gongji-notification-{}\r\nConnection: close\r\n\r\n",
            self.path,
            self.host,
            self.port,
            body.len(),
            message.id
        );
        stream.write_all(request.as_bytes())?;
        stream.write_all(body.as_bytes())?;
        stream.flush()?;
        let mut status_line = String::new();
        BufReader::new(&stream).take_line(&mut status_line)?;
        let code = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .filter(|_| status_line.starts_with("HTTP/1."))
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP/1.x answer"))?;
        Ok(code)
    }
}

/// Reads one line of at most 8 KiB (a status line), so that a broken peer cannot make us
/// buffer without end.
trait TakeLine {
    fn take_line(&mut self, line: &mut String) -> std::io::Result<usize>;
}

impl<R: BufRead> TakeLine for R {
    fn take_line(&mut self, line: &mut String) -> std::io::Result<usize> {
        use std::io::Read;
        self.by_ref().take(8 * 1024).read_line(line)
    }
}

impl NotificationSender for WebhookSender {
    fn send(&self, message: &OutgoingMessage) -> std::result::Result<(), SendFailure> {
        match self.post(message) {
            Ok(code) if (200..300).contains(&code) => Ok(()),
            Ok(code) if code == 408 || code == 429 || code >= 500 => Err(SendFailure { permanent: false, message: format!("gateway answered {code}") }),
            Ok(code) => Err(SendFailure { permanent: true, message: format!("gateway refused the message: {code}") }),
            Err(err) => Err(SendFailure { permanent: false, message: format!("webhook: {err}") }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_masked_for_logs() {
        assert_eq!(mask_phone("13800001234"), "138****1234");
        assert_eq!(mask_phone("123"), "***");
    }

    #[test]
    fn tr3_codes_are_six_digits_and_vary() {
        let codes: Vec<String> = (0..50).map(|_| random_digits(6).unwrap()).collect();
        assert!(codes.iter().all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())));
        let distinct: std::collections::BTreeSet<&String> = codes.iter().collect();
        assert!(distinct.len() > 40, "50 draws from 10^6 codes repeat rarely: {distinct:?}");
    }

    #[test]
    fn webhook_urls_are_checked() {
        assert!(WebhookSender::new("http://127.0.0.1:8080/sms").is_ok());
        let plain = WebhookSender::new("http://gateway").unwrap();
        assert_eq!((plain.port, plain.path.as_str()), (80, "/"));
        assert!(WebhookSender::new("https://gateway/sms").unwrap_err().contains("http://"));
        assert!(WebhookSender::new("http://:80/x").is_err());
        assert!(WebhookSender::new("http://h:99999/").is_err());
    }

    #[test]
    fn the_code_is_filled_in_only_while_it_exists() {
        assert_eq!(render("验证码{code}。", Some("123456")), "验证码123456。");
        assert_eq!(render("验证码{code}。", None), "验证码******。");
    }
}
