//! Delivery status notifications (RFC 3464, in a `multipart/report`, RFC 6522): one per
//! message, listing every recipient that failed, with the original message's headers.

use super::envelope::{Envelope, TargetState};
use crate::mail::date::rfc5322;
use crate::mail::{crlf, header, trace};

/// The DSN for `env` (whose message is `data`), or `None` when nothing failed or the sender
/// is the null reverse path (RFC 5321 §4.5.5: never bounce a bounce).
pub fn build(env: &Envelope, data: &[u8], hostname: &str, now_ms: i64) -> Option<Vec<u8>> {
    let sender = env.reverse_path.as_ref()?;
    let failed: Vec<_> = env.failed().collect();
    if failed.is_empty() {
        return None;
    }
    let boundary = format!("{}/{}", env.id, hostname);
    let date = rfc5322(now_ms / 1000);
    let mut human = String::from("This is the mail system at ");
    human.push_str(hostname);
    human.push_str(".\r\n\r\nYour message could not be delivered to the following recipients:\r\n\r\n");
    let mut status =
        format!("Reporting-MTA: dns; {hostname}\r\nArrival-Date: {}\r\n", rfc5322(env.created / 1000));
    for t in &failed {
        if let TargetState::Failed { status: st, diagnostic, .. } = &t.state {
            human.push_str(&format!("  <{}>: {}\r\n", t.address, one_line(diagnostic)));
            status.push_str(&format!(
                "\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {st}\r\nDiagnostic-Code: smtp; {}\r\n",
                t.address,
                one_line(diagnostic)
            ));
        }
    }
    // Quoted for a sender who may be outside: without the agents' own relay field.
    let stripped = trace::without_relay(data);
    let mut headers = crlf(header::section(stripped.as_deref().unwrap_or(data))).into_owned();
    if !headers.is_empty() && !headers.ends_with(b"\r\n") {
        headers.extend_from_slice(b"\r\n"); // a letter that is all header and no final CRLF
    }
    let mut out = String::new();
    out.push_str(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n\
         To: <{sender}>\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         Date: {date}\r\n\
         Message-ID: <dsn.{id}@{hostname}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\
         \r\n\
         This is a MIME-encapsulated message.\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         {human}\r\n\
         --{boundary}\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         {status}\r\n\
         --{boundary}\r\n\
         Content-Type: text/rfc822-headers\r\n\
         \r\n",
        id = env.id,
    ));
    let mut out = out.into_bytes();
    out.extend_from_slice(&headers);
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Some(out)
}

fn one_line(s: &str) -> String {
    s.split(['\r', '\n']).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_report_quotes_the_headers_without_the_relay_field() {
        let env: super::Envelope = serde_json::from_value(serde_json::json!({
            "id": "Q1",
            "reverse_path": "someone@example.net",
            "recipients": ["friend@elsewhere.test"],
            "origin": {"kind": "peer", "agent_id": "br-1"},
            "client_ip": "127.0.0.1",
            "created": 1_700_000_000_000i64,
            "attempts": 3,
            "next_try": 0,
            "size": 60,
            "targets": [{"address": "friend@elsewhere.test", "state": "failed", "at": 1,
                         "code": 550, "status": "5.1.1", "diagnostic": "550 5.1.1 no such user"}],
        }))
        .unwrap();
        let data = b"X-Pochta-Relay: br-1 Q0 1700000000000\r\nSubject: hello\r\n\r\nbody\r\n";
        let report = String::from_utf8(super::build(&env, data, "gw.example.org", 0).unwrap()).unwrap();
        assert!(report.contains("Subject: hello\r\n"), "{report}");
        assert!(!report.to_ascii_lowercase().contains("x-pochta-relay"), "{report}");
    }
}
