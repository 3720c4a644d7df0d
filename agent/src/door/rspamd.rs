//! rspamd over its normal worker's HTTP protocol (`POST /checkv2`): the letter as the body,
//! the envelope and the client as request headers, the verdict as JSON. The normal worker, not
//! the controller (the controller is for learning and the web UI, and much slower).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use pochta_directory::Address;
use serde::Deserialize;

/// What rspamd decided (its `action`, RFC-free: rspamd's own names).
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    NoAction,
    Greylist,
    AddHeader,
    RewriteSubject,
    SoftReject,
    Reject,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "no action" => Action::NoAction,
            "greylist" => Action::Greylist,
            "add header" => Action::AddHeader,
            "rewrite subject" => Action::RewriteSubject,
            "soft reject" => Action::SoftReject,
            "reject" => Action::Reject,
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Action::NoAction => "no action",
            Action::Greylist => "greylist",
            Action::AddHeader => "add header",
            Action::RewriteSubject => "rewrite subject",
            Action::SoftReject => "soft reject",
            Action::Reject => "reject",
        }
    }
}

/// One scan's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub action: Action,
    pub score: f64,
    pub required: f64,
    /// The rules that fired, by name (for the header and the log).
    pub symbols: Vec<String>,
    /// rspamd's text for the SMTP reply, when a rule set one.
    pub smtp_message: Option<String>,
    /// The new subject for "rewrite subject".
    pub subject: Option<String>,
}

#[derive(Deserialize)]
struct Wire {
    action: String,
    #[serde(default)]
    score: f64,
    #[serde(default)]
    required_score: f64,
    #[serde(default)]
    symbols: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    messages: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    subject: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("rspamd cannot be reached: {0}")]
    Unreachable(String),
    #[error("rspamd answered HTTP {0}")]
    Status(u16),
    #[error("rspamd's answer is not understood: {0}")]
    Garbled(String),
}

/// The envelope and the client, as rspamd's request headers.
pub struct Envelope<'a> {
    pub client_ip: IpAddr,
    pub helo: &'a str,
    pub from: Option<&'a Address>,
    pub rcpts: &'a [Address],
    /// Our name for the letter in rspamd's log.
    pub queue_id: &'a str,
    /// The name we receive as (rspamd's `MTA-Name`).
    pub mta: &'a str,
}

pub struct Rspamd {
    url: String,
    http: reqwest::Client,
}

impl Rspamd {
    /// `base` is the normal worker, e.g. `http://127.0.0.1:11333`.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self { url: format!("{}/checkv2", base.trim_end_matches('/')), http })
    }

    pub async fn check(&self, env: &Envelope<'_>, letter: &[u8]) -> Result<Verdict, Error> {
        let mut req = self
            .http
            .post(&self.url)
            .header("IP", env.client_ip.to_string())
            .header("Queue-Id", env.queue_id)
            .header("MTA-Name", env.mta);
        if !env.helo.is_empty() {
            req = req.header("Helo", env.helo);
        }
        // The null reverse path is sent as an empty `From`, as rspamd's own milter does.
        req = req.header("From", env.from.map(ToString::to_string).unwrap_or_default());
        for r in env.rcpts {
            req = req.header("Rcpt", r.to_string());
        }
        let resp = req.body(letter.to_vec()).send().await.map_err(|e| Error::Unreachable(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(Error::Status(resp.status().as_u16()));
        }
        let body = resp.bytes().await.map_err(|e| Error::Unreachable(e.to_string()))?;
        parse(&body)
    }
}

fn parse(body: &[u8]) -> Result<Verdict, Error> {
    let w: Wire = serde_json::from_slice(body).map_err(|e| Error::Garbled(e.to_string()))?;
    let action = Action::parse(&w.action).ok_or_else(|| Error::Garbled(format!("action {:?}", w.action)))?;
    let smtp_message = w.messages.get("smtp_message").and_then(|v| v.as_str()).map(clean_text);
    Ok(Verdict {
        action,
        score: w.score,
        required: w.required_score,
        symbols: w.symbols.into_keys().collect(),
        smtp_message,
        subject: w.subject.map(|s| clean_text(&s)),
    })
}

/// Text from the scanner that goes into a reply or a header: one line, printable.
fn clean_text(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).take(200).collect::<String>().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rspamd_answers_are_read() {
        let v = parse(
            br#"{"is_skipped":true,"score":15.0,"required_score":15.0,"action":"reject","symbols":{"GTUBE":{"score":0.0}},"messages":{"smtp_message":"Gtube pattern\r\n"}}"#,
        )
        .unwrap();
        assert_eq!(v.action, Action::Reject);
        assert_eq!(v.symbols, ["GTUBE"]);
        assert_eq!(v.smtp_message.as_deref(), Some("Gtube pattern"));
        assert!(parse(br#"{"action":"explode"}"#).is_err());
        assert!(parse(b"<html>").is_err());
    }
}
