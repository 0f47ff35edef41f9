//! A small HTTP `CONNECT` proxy on 127.0.0.1, port 0, that records every tunnel it is
//! asked for. It forwards each tunnel to one fixed upstream (the test receiver) whatever
//! the requested target, so tests can ask for public addresses without leaving the machine.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct ConnectProxy {
    pub addr: SocketAddr,
    asked: Arc<Mutex<Vec<Asked>>>,
    upstream: Arc<Mutex<Option<SocketAddr>>>,
}

/// One `CONNECT` request as the proxy saw it.
#[derive(Clone, Debug)]
pub struct Asked {
    /// The request target, e.g. `93.184.216.34:80`.
    pub target: String,
    /// The `Proxy-Authorization` header, if sent.
    pub authorization: Option<String>,
}

impl ConnectProxy {
    /// Starts the proxy. With `refuse`, every CONNECT gets 403; otherwise tunnels go to
    /// the upstream set with [`Self::forward_to`].
    pub async fn start(refuse: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let asked: Arc<Mutex<Vec<Asked>>> = Arc::default();
        let upstream: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let (log, up) = (asked.clone(), upstream.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (log, up) = (log.clone(), up.clone());
                tokio::spawn(async move {
                    let upstream = *up.lock().unwrap();
                    let _ = serve(client, upstream, refuse, log).await;
                });
            }
        });
        Self {
            addr,
            asked,
            upstream,
        }
    }

    /// Where accepted tunnels lead, whatever target they asked for.
    pub fn forward_to(&self, upstream: SocketAddr) {
        *self.upstream.lock().unwrap() = Some(upstream);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn asked(&self) -> Vec<Asked> {
        self.asked.lock().unwrap().clone()
    }
}

async fn serve(
    mut client: TcpStream,
    upstream: Option<SocketAddr>,
    refuse: bool,
    log: Arc<Mutex<Vec<Asked>>>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    // Byte by byte, so nothing after the head is swallowed.
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await? == 0 || head.len() > 8192 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let request = lines.next().unwrap_or_default();
    let mut words = request.split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let authorization = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, v)| v.trim().to_owned());
    log.lock().unwrap().push(Asked {
        target: target.to_owned(),
        authorization,
    });
    let Some(upstream) = upstream.filter(|_| method == "CONNECT" && !refuse) else {
        client
            .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            .await?;
        return Ok(());
    };
    let mut server = TcpStream::connect(upstream).await?;
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await?;
    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
}
