//! ClamAV's daemon, `INSTREAM` (clamd(8)): the letter in length-prefixed chunks over its Unix
//! socket or TCP port, a zero-length chunk to end, one reply line — `stream: OK`,
//! `stream: <name> FOUND` or `... ERROR`. clamd unpacks the MIME parts and archives itself.
//!
//! Written here rather than taken from a crate: the protocol is these few lines, and the
//! crates for it are blocking or pull in their own runtime.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Where clamd listens: a Unix socket path (starts with `/`) or `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(std::path::PathBuf),
    Tcp(String),
}

impl Endpoint {
    pub fn parse(s: &str) -> Endpoint {
        if s.starts_with('/') { Endpoint::Unix(s.into()) } else { Endpoint::Tcp(s.to_owned()) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// The signature's name, as clamd reports it.
    Virus(String),
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("clamd cannot be reached: {0}")]
    Unreachable(std::io::Error),
    #[error("clamd did not answer in {0:?}")]
    Timeout(Duration),
    #[error("clamd could not scan: {0}")]
    Scan(String),
}

/// Chunks as clamd reads them; well under its default `StreamMaxLength` per chunk.
const CHUNK: usize = 64 * 1024;

pub struct Clamd {
    endpoint: Endpoint,
    timeout: Duration,
}

impl Clamd {
    pub fn new(endpoint: Endpoint, timeout: Duration) -> Self {
        Self { endpoint, timeout }
    }

    /// Scans `letter`; the whole exchange, connecting included, within the timeout.
    pub async fn scan(&self, letter: &[u8]) -> Result<Verdict, Error> {
        match tokio::time::timeout(self.timeout, self.exchange(letter)).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout(self.timeout)),
        }
    }

    async fn exchange(&self, letter: &[u8]) -> Result<Verdict, Error> {
        let reply = match &self.endpoint {
            Endpoint::Unix(p) => {
                let s = tokio::net::UnixStream::connect(p).await.map_err(Error::Unreachable)?;
                instream(s, letter).await
            }
            Endpoint::Tcp(a) => {
                let s = tokio::net::TcpStream::connect(a.as_str()).await.map_err(Error::Unreachable)?;
                instream(s, letter).await
            }
        }
        .map_err(Error::Unreachable)?;
        parse(&reply)
    }
}

async fn instream<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, letter: &[u8]) -> std::io::Result<String> {
    // The `z` form: commands and the reply end with NUL.
    s.write_all(b"zINSTREAM\0").await?;
    for chunk in letter.chunks(CHUNK) {
        s.write_all(&(chunk.len() as u32).to_be_bytes()).await?;
        s.write_all(chunk).await?;
    }
    s.write_all(&0u32.to_be_bytes()).await?;
    s.flush().await?;
    let mut reply = Vec::new();
    // clamd answers one line and closes; a reply is short, so a bound keeps a confused peer
    // from growing it.
    (&mut s).take(4096).read_to_end(&mut reply).await?;
    Ok(String::from_utf8_lossy(&reply).trim_end_matches(['\0', '\n']).to_owned())
}

fn parse(reply: &str) -> Result<Verdict, Error> {
    let body = reply.strip_prefix("stream: ").unwrap_or(reply);
    if body == "OK" {
        Ok(Verdict::Clean)
    } else if let Some(name) = body.strip_suffix(" FOUND") {
        Ok(Verdict::Virus(name.chars().filter(|c| !c.is_control()).take(120).collect()))
    } else if reply.is_empty() {
        Err(Error::Scan("clamd closed the connection without an answer".into()))
    } else {
        Err(Error::Scan(body.chars().filter(|c| !c.is_control()).take(200).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamd_replies_are_read() {
        assert_eq!(parse("stream: OK").unwrap(), Verdict::Clean);
        assert_eq!(
            parse("stream: Eicar-Test-Signature FOUND").unwrap(),
            Verdict::Virus("Eicar-Test-Signature".into())
        );
        assert!(parse("INSTREAM size limit exceeded. ERROR").is_err());
        assert!(parse("").is_err());
    }
}
