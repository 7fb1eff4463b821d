//! A real server on an ephemeral port and real WebSocket and HTTP clients.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use liveguard::config::Config;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for anything before failing.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub handle: JoinHandle<Result<(), liveguard::server::ServerError>>,
}

/// A fresh data directory for one test server.
pub fn data_dir(name: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "liveguard-test-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

impl Server {
    /// Start a server; a default data directory is replaced by a fresh one, so tests
    /// never share a store.
    pub async fn start(config: Config) -> Server {
        Server::start_at("127.0.0.1:0".parse().unwrap(), config).await
    }

    /// Start a server on `addr` (a restarted server takes its predecessor's port).
    pub async fn start_at(addr: SocketAddr, mut config: Config) -> Server {
        if config.data == Config::default().data {
            config.data = data_dir("server");
        }
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(liveguard::server::run(listener, config, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            stop: Some(stop),
            handle,
        }
    }

    pub async fn default() -> Server {
        Server::start(Config::default()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    pub async fn ingest(&self) -> Ws {
        connect(&self.url("/v1/ingest")).await
    }

    pub async fn alerts(&self, query: &str) -> Ws {
        connect(&self.url(&format!("/v1/alerts{query}"))).await
    }

    /// Trigger shutdown (the handle resolves when the server has drained).
    pub fn shut_down(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    /// An HTTP/1.1 request; returns (status, body).
    pub async fn http(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        self.http_as(None, method, path, body).await
    }

    /// An HTTP/1.1 request with a bearer token; returns (status, body).
    pub async fn http_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, String) {
        let auth = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
        let headers = format!("{auth}content-type: application/json\r\n");
        self.http_with(method, path, &headers, body).await
    }

    /// An HTTP/1.1 request with `headers` (lines, each ending in CRLF) besides Host;
    /// returns (status, body).
    pub async fn http_with(
        &self,
        method: &str,
        path: &str,
        headers: &str,
        body: Option<&str>,
    ) -> (u16, String) {
        http_at(self.addr, "test", method, path, headers, body).await
    }

    /// The value of a Prometheus series (summed over label sets matching `labels`).
    pub async fn metric(&self, name: &str, labels: &str) -> f64 {
        let (_, text) = self.http("GET", "/metrics", None).await;
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#') && l.contains(labels))
            .filter(|l| l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// An HTTP/1.1 request to `addr` naming `host`, with `headers` (lines, each ending in
/// CRLF); returns (status, body).
pub async fn http_at(
    addr: SocketAddr,
    host: &str,
    method: &str,
    path: &str,
    headers: &str,
    body: Option<&str>,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n{headers}content-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let raw = tokio::time::timeout(PATIENCE, read_response(&mut s))
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no answer in time"));
    let raw = String::from_utf8_lossy(&raw).to_string();
    let status = raw[9..12].parse().unwrap();
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    (status, body)
}

/// Read one response: up to its `content-length`, or to the end of the stream (some
/// servers, chromedriver among them, keep the socket open after answering).
async fn read_response(s: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = s.read(&mut buf).await.unwrap();
        if n == 0 {
            return raw;
        }
        raw.extend_from_slice(&buf[..n]);
        let Some(head_end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        if length.is_some_and(|len| raw.len() >= head_end + 4 + len) {
            return raw;
        }
    }
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

/// Open a WebSocket presenting `token` as a bearer header; the handshake's HTTP status
/// if it is refused.
pub async fn connect_as(url: &str, token: Option<&str>) -> Result<Ws, u16> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    connect_with(url, &headers).await
}

/// Open a WebSocket with extra request `headers`; the handshake's HTTP status if it is
/// refused.
pub async fn connect_with(url: &str, headers: &[(&str, &str)]) -> Result<Ws, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        let name: tokio_tungstenite::tungstenite::http::HeaderName = name.parse().unwrap();
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    match tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(request))
        .await
        .expect("handshake in time")
    {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("handshake failed: {e}"),
    }
}

pub async fn connect(url: &str) -> Ws {
    let (ws, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect in time")
        .expect("connect");
    ws
}

/// An ingest event as JSON.
pub fn chat(id: &str, room: &str, user: &str, role: &str, text: &str) -> String {
    serde_json::json!({"kind":"chat","id":id,"room":room,"user":user,"role":role,"text":text})
        .to_string()
}

pub fn transcript(id: &str, room: &str, text: &str) -> String {
    serde_json::json!({"kind":"transcript","id":id,"room":room,"speaker":"host","text":text,"final":true}).to_string()
}

pub async fn send<S>(ws: &mut WebSocketStream<S>, text: String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    ws.send(Message::Text(text.into())).await.unwrap();
}

/// What came in: JSON objects of data frames, or the close frame.
#[derive(Debug)]
pub enum Incoming {
    Objects(Vec<Value>),
    Closed(Option<CloseFrame>),
}

/// The next data frame's objects (pings skipped), or the close.
pub async fn recv<S>(ws: &mut WebSocketStream<S>) -> Incoming
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let m = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a frame in time");
        match m {
            Some(Ok(Message::Text(t))) => {
                return Incoming::Objects(
                    t.as_str()
                        .lines()
                        .map(|l| serde_json::from_str(l).expect("JSON line"))
                        .collect(),
                );
            }
            Some(Ok(Message::Close(f))) => return Incoming::Closed(f),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Incoming::Closed(None),
        }
    }
}

/// The objects of the next data frame; panics on a close.
pub async fn answer<S>(ws: &mut WebSocketStream<S>) -> Vec<Value>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match recv(ws).await {
        Incoming::Objects(o) => o,
        Incoming::Closed(f) => panic!("closed: {f:?}"),
    }
}

/// Objects until `n` of kind `kind` have arrived (others are kept too).
/// Send one event and return its answer: the verdict (or error frame) and the
/// actions after it.
pub async fn judge(ws: &mut Ws, line: String) -> (Value, Vec<Value>) {
    send(ws, line).await;
    let answer = answer(ws).await;
    (answer[0].clone(), answer[1..].to_vec())
}

pub async fn collect(ws: &mut Ws, kind: &str, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.iter().filter(|v: &&Value| v["kind"] == kind).count() < n {
        match recv(ws).await {
            Incoming::Objects(o) => out.extend(o),
            Incoming::Closed(f) => panic!("closed {f:?} after {} objects: {out:?}", out.len()),
        }
    }
    out
}

/// The close frame that ends the connection, skipping data.
pub async fn closed<S>(ws: &mut WebSocketStream<S>) -> Option<CloseFrame>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        if let Incoming::Closed(f) = recv(ws).await {
            return f;
        }
    }
}

pub fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|v| v["kind"] == kind).collect()
}
