//! Delivery status notifications (RFC 3464, in a `multipart/report`, RFC 6522): one per
//! message, listing every recipient that failed, with the original message's headers.

use super::envelope::{Envelope, TargetState};

/// The DSN for `env` (whose message is `data`), or `None` when nothing failed or the sender
/// is the null reverse path (RFC 5321 §4.5.5: never bounce a bounce).
pub fn build(env: &Envelope, data: &[u8], hostname: &str, now_ms: i64) -> Option<Vec<u8>> {
    let sender = env.reverse_path.as_ref()?;
    let failed: Vec<_> = env.failed().collect();
    if failed.is_empty() {
        return None;
    }
    let boundary = format!("{}/{}", env.id, hostname);
    let date = rfc5322_date(now_ms / 1000);
    let mut human = String::from("This is the mail system at ");
    human.push_str(hostname);
    human.push_str(".\r\n\r\nYour message could not be delivered to the following recipients:\r\n\r\n");
    let mut status =
        format!("Reporting-MTA: dns; {hostname}\r\nArrival-Date: {}\r\n", rfc5322_date(env.created / 1000));
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
    let stripped = crate::deliver::without_relay_header(data);
    let headers = original_headers(stripped.as_deref().unwrap_or(data));
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

/// The header section of a message (up to the first empty line), CRLF line ends.
fn original_headers(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `Thu, 01 Jan 1970 00:00:00 +0000` (RFC 5322 §3.3).
pub fn rfc5322_date(secs: i64) -> String {
    let c = pochta_directory::date::Civil::from_unix(secs);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        c.weekday_name(),
        c.day,
        c.month_name(),
        c.year,
        c.secs / 3600,
        c.secs % 3600 / 60,
        c.secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::rfc5322_date;

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

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    }
}
