//! A minimal WebSocket client for trying the server by hand: every line of stdin is
//! sent as a text frame, every line received is printed. It ends when stdin is closed
//! and the server has been quiet for a second (or when the server closes).
//!
//! ```sh
//! cargo run --release -- serve &
//! cargo run --example client -- ws://127.0.0.1:8080/v1/ingest < tests/fixtures/session.jsonl
//! cargo run --example client -- 'ws://127.0.0.1:8080/v1/alerts?since=0'
//! ```
//!
//! On the alert feed, type review frames to answer held messages:
//! `{"kind":"review","seq":3,"decision":"approve"}`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncBufReadExt;
use tokio_tungstenite::tungstenite::Message;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:8080/v1/ingest".into());
    let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    let (mut sink, mut stream) = ws.split();
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    loop {
        tokio::select! {
            line = stdin.next_line(), if stdin_open => match line? {
                Some(l) if !l.trim().is_empty() => sink.send(Message::Text(l.into())).await?,
                Some(_) => {}
                None => stdin_open = false,
            },
            m = stream.next() => match m {
                Some(Ok(Message::Text(t))) => println!("{t}"),
                Some(Ok(Message::Close(f))) => {
                    eprintln!("closed: {f:?}");
                    return Ok(());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            _ = tokio::time::sleep(Duration::from_secs(1)), if !stdin_open => {
                sink.send(Message::Close(None)).await?;
                return Ok(());
            }
        }
    }
}
