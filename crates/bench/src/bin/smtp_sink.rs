//! `scimd-smtp-sink`: an SMTP server that accepts every message and keeps none, so that a
//! benchmark measures scimd delivering activation emails the way it does in production (over
//! SMTP to a relay) without a real relay's cost on the same cores.
//!
//! It speaks the part of SMTP (RFC 5321) a client sending plain mail needs: the greeting,
//! EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, several messages per connection. It prints
//! `listening on ADDR` once bound, `received N messages` on SIGUSR1 (and goes on), and the
//! same line on SIGTERM or SIGINT before it exits. Not for anything but loopback benchmarks:
//! no TLS, no authentication, nothing stored.

use clap::Parser;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
#[command(
    name = "scimd-smtp-sink",
    version,
    about = "An SMTP server that accepts and discards every message (benchmarks)"
)]
struct Args {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
}

/// A line longer than this ends the connection: RFC 5321 §4.5.3.1.6 allows 1,000 octets per
/// text line; the margin keeps a broken client from growing the buffer without bound.
const MAX_LINE: usize = 64 * 1024;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(&args.listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let received = Arc::new(AtomicU64::new(0));
    let mut terminate = signal(SignalKind::terminate())?;
    let mut report = signal(SignalKind::user_defined1())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let received = Arc::clone(&received);
                tokio::spawn(async move {
                    // A client that goes away mid-session is not the sink's problem.
                    let _ = session(stream, &received).await;
                });
            }
            _ = report.recv() => println!("received {} messages", received.load(Ordering::Relaxed)),
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    println!("received {} messages", received.load(Ordering::Relaxed));
    Ok(())
}

/// One SMTP session: replies to each command line; counts a message at the end of its DATA.
async fn session(stream: TcpStream, received: &AtomicU64) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut line = Vec::with_capacity(1024);
    write.write_all(b"220 scimd-smtp-sink ESMTP ready\r\n").await?;
    loop {
        if !read_line(&mut lines, &mut line).await? {
            return Ok(());
        }
        let verb: String =
            line.iter().take_while(|b| !b.is_ascii_whitespace()).map(|b| b.to_ascii_uppercase() as char).collect();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-scimd-smtp-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
            "DATA" => {
                write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                // RFC 5321 §4.5.2: the message ends with a line holding a single dot; a line
                // that starts with a dot otherwise has it doubled, so it cannot end the data.
                loop {
                    if !read_line(&mut lines, &mut line).await? {
                        return Ok(());
                    }
                    if line.as_slice() == b"." {
                        break;
                    }
                }
                received.fetch_add(1, Ordering::Relaxed);
                b"250 OK queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"500 Command not recognised\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// Reads one line into `line` without its CRLF (or LF). False at the end of the stream.
async fn read_line(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    line: &mut Vec<u8>,
) -> std::io::Result<bool> {
    line.clear();
    let n = (&mut *reader).take(MAX_LINE as u64).read_until(b'\n', line).await?;
    if n == 0 {
        return Ok(false);
    }
    if line.last() != Some(&b'\n') {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "line too long"));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(true)
}
