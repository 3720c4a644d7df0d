//! A small SMTP client for one transaction: EHLO, STARTTLS, AUTH PLAIN, MAIL, every RCPT,
//! DATA — with a result per recipient.
//!
//! Why not mail-send 0.6.2: its `rcpt_to` waits for each reply before sending the next
//! command, so a letter for 50 mailboxes of a remote site costs 50 round trips on exactly the
//! slow links Pochta is for; this client pipelines MAIL and all RCPTs in one write (RFC 2920)
//! when the server offers PIPELINING, keeps every per-recipient reply, and pins the peer's
//! certificate with our own rustls config. It is about 200 lines and has no other dependency.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::reply::{Code, Reply};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("timed out")]
    Timeout,
    #[error("the server answered {0}")]
    Reply(Reply),
    #[error("{0}")]
    Protocol(String),
}

impl ClientError {
    /// A `5xx` that ends the whole transaction for good.
    pub fn permanent(&self) -> Option<&Reply> {
        match self {
            ClientError::Reply(r) if r.is_permanent() => Some(r),
            _ => None,
        }
    }
}

/// How to secure the session.
#[derive(Clone)]
pub enum Security {
    /// STARTTLS required, with this config (a pinned peer agent).
    Required(Arc<rustls::ClientConfig>),
    /// STARTTLS when offered (RFC 7435 opportunistic; certificates not checked).
    Opportunistic(Arc<rustls::ClientConfig>),
    None,
}

pub struct Transaction<'a> {
    pub helo: &'a str,
    pub security: Security,
    /// AUTH PLAIN with (authcid, password), after TLS only.
    pub auth: Option<(&'a str, &'a str)>,
    pub reverse_path: &'a str,
    pub recipients: &'a [String],
    pub data: &'a [u8],
    pub timeout: Duration,
}

/// What the server said to each recipient (`Err` when refused at `RCPT`) and, when at least
/// one was accepted, its answer to the message.
pub struct Outcome {
    pub rcpt: Vec<Result<(), Reply>>,
    pub data: Option<Reply>,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Conn {
    io: BufReader<Box<dyn Io>>,
    timeout: Duration,
}

impl Conn {
    async fn reply(&mut self) -> Result<Reply, ClientError> {
        let mut lines: Vec<String> = Vec::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(self.timeout, self.io.read_line(&mut line))
                .await
                .map_err(|_| ClientError::Timeout)??;
            if n == 0 {
                return Err(ClientError::Protocol("the server closed the connection".into()));
            }
            let line = line.trim_end_matches(['\r', '\n']);
            let code = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .and_then(Code::from_u16)
                .ok_or_else(|| ClientError::Protocol(format!("bad reply line {line:?}")))?;
            lines.push(line.get(4..).unwrap_or("").to_owned());
            if line.as_bytes().get(3) != Some(&b'-') {
                let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
                return Ok(Reply::from_wire(code, &lines));
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        tokio::time::timeout(self.timeout, async {
            self.io.get_mut().write_all(bytes).await?;
            self.io.get_mut().flush().await
        })
        .await
        .map_err(|_| ClientError::Timeout)??;
        Ok(())
    }

    async fn cmd(&mut self, line: &str) -> Result<Reply, ClientError> {
        self.send(format!("{line}\r\n").as_bytes()).await?;
        self.reply().await
    }

    async fn expect(&mut self, line: &str) -> Result<Reply, ClientError> {
        let r = self.cmd(line).await?;
        if r.is_positive() { Ok(r) } else { Err(ClientError::Reply(r)) }
    }
}

fn has_ext(ehlo: &Reply, ext: &str) -> bool {
    ehlo.text
        .lines()
        .skip(1)
        .any(|l| l.split_whitespace().next().is_some_and(|k| k.eq_ignore_ascii_case(ext)))
}

/// Runs one transaction on a fresh connection to `addr` (`host:port`).
pub async fn send(addr: &str, host: &str, t: &Transaction<'_>) -> Result<Outcome, ClientError> {
    let tcp = tokio::time::timeout(t.timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| ClientError::Timeout)??;
    tcp.set_nodelay(true)?;
    let mut c = Conn { io: BufReader::new(Box::new(tcp) as Box<dyn Io>), timeout: t.timeout };
    let greeting = c.reply().await?;
    if !greeting.is_positive() {
        return Err(ClientError::Reply(greeting));
    }
    let mut ehlo = c.expect(&format!("EHLO {}", t.helo)).await?;
    let tls = match &t.security {
        Security::Required(cfg) => Some(cfg.clone()),
        Security::Opportunistic(cfg) if has_ext(&ehlo, "STARTTLS") => Some(cfg.clone()),
        _ => None,
    };
    let mut secure = false;
    if let Some(cfg) = tls {
        // Where TLS is required (a peer agent, an MTA-STS or DANE policy), a server that does not
        // offer it is a failure to retry, never a reason to bounce or to send in plaintext.
        if !has_ext(&ehlo, "STARTTLS") {
            return Err(ClientError::Protocol(
                "STARTTLS is required and the server does not offer it".into(),
            ));
        }
        let r = c.cmd("STARTTLS").await?;
        if !r.is_positive() {
            return Err(ClientError::Protocol(format!("STARTTLS is required and the server answered {r}")));
        }
        // RFC 3207 §4.2: nothing the server sent before the handshake may be used after it.
        let Conn { io, timeout } = c;
        if !io.buffer().is_empty() {
            return Err(ClientError::Protocol("data after the STARTTLS reply".into()));
        }
        let name = ServerName::try_from(host.to_owned())
            .unwrap_or_else(|_| ServerName::try_from("pochta.invalid").expect("a valid name"));
        let stream = tokio::time::timeout(
            timeout,
            tokio_rustls::TlsConnector::from(cfg).connect(name, io.into_inner()),
        )
        .await
        .map_err(|_| ClientError::Timeout)??;
        c = Conn { io: BufReader::new(Box::new(stream) as Box<dyn Io>), timeout };
        ehlo = c.expect(&format!("EHLO {}", t.helo)).await?;
        secure = true;
    }
    if let Some((user, password)) = t.auth {
        if !secure {
            return Err(ClientError::Protocol("refusing to authenticate without TLS".into()));
        }
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}").as_bytes());
        c.expect(&format!("AUTH PLAIN {token}")).await?;
    }
    let eight_bit = t.data.iter().any(|b| *b >= 0x80);
    let mut mail = format!("MAIL FROM:<{}>", t.reverse_path);
    if has_ext(&ehlo, "SIZE") {
        mail.push_str(&format!(" SIZE={}", t.data.len()));
    }
    if eight_bit && has_ext(&ehlo, "8BITMIME") {
        mail.push_str(" BODY=8BITMIME");
    }
    let utf8 = t.reverse_path.bytes().chain(t.recipients.iter().flat_map(|r| r.bytes())).any(|b| b >= 0x80);
    if utf8 && has_ext(&ehlo, "SMTPUTF8") {
        mail.push_str(" SMTPUTF8");
    }
    let mut rcpt = Vec::with_capacity(t.recipients.len());
    if has_ext(&ehlo, "PIPELINING") {
        // RFC 2920 §3.1: MAIL and RCPT may be sent in one group.
        let mut batch = format!("{mail}\r\n");
        for r in t.recipients {
            batch.push_str(&format!("RCPT TO:<{r}>\r\n"));
        }
        c.send(batch.as_bytes()).await?;
        let m = c.reply().await?;
        for _ in t.recipients {
            let r = c.reply().await?;
            rcpt.push(if r.is_positive() { Ok(()) } else { Err(r) });
        }
        if !m.is_positive() {
            let _ = c.cmd("QUIT").await;
            return Err(ClientError::Reply(m));
        }
    } else {
        c.expect(&mail).await?;
        for r in t.recipients {
            let r = c.cmd(&format!("RCPT TO:<{r}>")).await?;
            rcpt.push(if r.is_positive() { Ok(()) } else { Err(r) });
        }
    }
    if rcpt.iter().all(Result::is_err) {
        let _ = c.cmd("QUIT").await;
        return Ok(Outcome { rcpt, data: None });
    }
    let go = c.cmd("DATA").await?;
    if go.code != Code::START_DATA {
        return Err(ClientError::Reply(go));
    }
    c.send(&dot_stuff(t.data)).await?;
    let data = c.reply().await?;
    let _ = c.cmd("QUIT").await;
    Ok(Outcome { rcpt, data: Some(data) })
}

/// The message with CRLF line ends, leading dots doubled and the end marker (RFC 5321
/// §4.5.2). A bare LF or CR becomes CRLF, so nothing we send can smuggle an end of data.
pub fn dot_stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 64 + 5);
    let mut line_start = true;
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        if line_start && b == b'.' {
            out.push(b'.');
        }
        match b {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if data.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                line_start = true;
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                line_start = true;
            }
            _ => {
                out.push(b);
                line_start = false;
            }
        }
        i += 1;
    }
    if !line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing() {
        assert_eq!(dot_stuff(b"a\r\n.b\r\n"), b"a\r\n..b\r\n.\r\n");
        assert_eq!(dot_stuff(b".x"), b"..x\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\n.\nb"), b"a\r\n..\r\nb\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\rb"), b"a\r\nb\r\n.\r\n");
    }
}
