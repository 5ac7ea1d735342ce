//! The library's `Server` on real sockets (port 0): connection limits, idle timeout, shutdown
//! draining, oversized and abandoned DATA, and pipelined batches written in one packet.

use std::future::Future;
use std::time::Duration;

use mailsnare::{Config, Server};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;

const STEP: Duration = Duration::from_secs(10);

struct Running {
    smtp: std::net::SocketAddr,
    store: mailsnare::store::Store,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(config: Config) -> Running {
    let server = Server::bind(config).await.expect("binds on port 0");
    let smtp = server.smtp_addr().expect("bound");
    let store = server.store();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Running {
        smtp,
        store,
        stop: Some(stop),
        task,
    }
}

impl Running {
    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = timeout(Duration::from_secs(20), self.task).await;
        assert!(
            matches!(result, Ok(Ok(Ok(())))),
            "server stops cleanly: {result:?}"
        );
    }
}

/// A line-oriented SMTP client over a real socket.
struct Client {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connects");
        let (r, w) = stream.into_split();
        Client {
            reader: BufReader::new(r),
            writer: w,
        }
    }

    /// Reads one complete (possibly multi-line) reply; empty string on EOF.
    async fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = within(self.reader.read_line(&mut line))
                .await
                .expect("read");
            if n == 0 {
                return all;
            }
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        within(self.writer.write_all(bytes.as_ref()))
            .await
            .expect("write");
    }

    async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n")).await;
        self.reply().await
    }
}

async fn within<T>(f: impl Future<Output = T>) -> T {
    timeout(STEP, f).await.expect("step finished in time")
}

#[tokio::test]
async fn pipelined_batch_in_one_packet_gets_every_reply_in_order() {
    // Stored exactly as sent, so the message boundaries show byte for byte.
    let server = start(Config {
        smtp_store_exact: true,
        ..Config::ephemeral()
    })
    .await;
    let mut c = Client::connect(server.smtp).await;
    assert!(c.reply().await.starts_with("220 "));
    c.send("EHLO x\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\nSubject: p\r\n\r\nhi\r\n.\r\nMAIL FROM:<d@x>\r\nRCPT TO:<e@x>\r\nDATA\r\nsecond\r\n.\r\nQUIT\r\n").await;
    let mut codes = Vec::new();
    loop {
        let reply = c.reply().await;
        if reply.is_empty() {
            break;
        }
        codes.push(reply[..3].to_string());
    }
    assert_eq!(
        codes,
        [
            "250", "250", "250", "250", "354", "250", "250", "250", "354", "250", "221"
        ]
    );
    let (page, counts) = server.store.page(0, 10);
    assert_eq!(counts.total, 2);
    assert_eq!(&page[1].raw[..], b"Subject: p\r\n\r\nhi\r\n");
    assert_eq!(&page[0].raw[..], b"second\r\n");
    server.shutdown().await;
}

#[tokio::test]
async fn connection_limit_answers_421_and_frees_slots() {
    let server = start(Config {
        max_connections: 2,
        ..Config::ephemeral()
    })
    .await;
    let mut a = Client::connect(server.smtp).await;
    let mut b = Client::connect(server.smtp).await;
    assert!(a.reply().await.starts_with("220 "));
    assert!(b.reply().await.starts_with("220 "));
    let mut c = Client::connect(server.smtp).await;
    assert!(c.reply().await.starts_with("421 4.7.0"));
    assert!(a.cmd("QUIT").await.starts_with("221 "));
    // The slot comes back once the first session's task has ended.
    let mut served = false;
    for _ in 0..50 {
        let mut d = Client::connect(server.smtp).await;
        if d.reply().await.starts_with("220 ") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "a freed slot is reused");
    drop(b);
    server.shutdown().await;
}

#[tokio::test]
async fn idle_clients_get_421_and_are_disconnected() {
    let server = start(Config {
        idle_timeout: Duration::from_secs(1),
        ..Config::ephemeral()
    })
    .await;
    let mut c = Client::connect(server.smtp).await;
    assert!(c.reply().await.starts_with("220 "));
    let started = std::time::Instant::now();
    assert!(c.reply().await.starts_with("421 4.4.2"));
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(c.reply().await, "", "connection closed after 421");
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_data_is_drained_then_552_and_session_continues() {
    let mut config = Config::ephemeral();
    config.session.max_message_size = 64 * 1024;
    let server = start(config).await;
    let mut c = Client::connect(server.smtp).await;
    c.reply().await;
    c.cmd("EHLO x").await;
    c.cmd("MAIL FROM:<a@x>").await;
    c.cmd("RCPT TO:<b@x>").await;
    assert!(c.cmd("DATA").await.starts_with("354"));
    let line = format!("{}\r\n", "x".repeat(998));
    for _ in 0..4096 {
        // 4 MiB, far past the limit; the server must keep reading without buffering it.
        c.send(&line).await;
    }
    c.send(".\r\n").await;
    assert!(c.reply().await.starts_with("552 5.3.4"));
    assert!(c.cmd("MAIL FROM:<a@x>").await.starts_with("250"));
    c.cmd("RCPT TO:<b@x>").await;
    c.cmd("DATA").await;
    c.send("small\r\n.\r\n").await;
    assert!(c.reply().await.starts_with("250 2.0.0 Ok: queued as "));
    assert_eq!(server.store.counts().total, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn client_vanishing_mid_data_stores_nothing_and_harms_nobody() {
    let server = start(Config {
        smtp_store_exact: true,
        ..Config::ephemeral()
    })
    .await;
    {
        let mut c = Client::connect(server.smtp).await;
        c.reply().await;
        c.cmd("EHLO x").await;
        c.cmd("MAIL FROM:<a@x>").await;
        c.cmd("RCPT TO:<b@x>").await;
        c.cmd("DATA").await;
        c.send("Subject: half\r\n\r\npartial").await;
    }
    {
        let mut c = Client::connect(server.smtp).await;
        c.reply().await;
        c.cmd("EHLO x").await;
        c.cmd("MAIL FROM:<a@x>").await;
        c.cmd("RCPT TO:<b@x>").await;
        c.send("BDAT 100 LAST\r\nonly some").await;
    }
    let mut c = Client::connect(server.smtp).await;
    c.reply().await;
    c.cmd("EHLO x").await;
    c.cmd("MAIL FROM:<a@x>").await;
    c.cmd("RCPT TO:<b@x>").await;
    c.cmd("DATA").await;
    c.send("whole\r\n.\r\n").await;
    assert!(c.reply().await.starts_with("250 "));
    let (page, counts) = server.store.page(0, 10);
    assert_eq!(counts.total, 1);
    assert_eq!(&page[0].raw[..], b"whole\r\n");
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_lets_an_open_transaction_finish_and_closes_idle_sessions() {
    let server = start(Config::ephemeral()).await;
    let mut idle = Client::connect(server.smtp).await;
    idle.reply().await;
    let mut busy = Client::connect(server.smtp).await;
    busy.reply().await;
    busy.cmd("EHLO x").await;
    busy.cmd("MAIL FROM:<a@x>").await;
    busy.cmd("RCPT TO:<b@x>").await;
    busy.cmd("DATA").await;
    busy.send("Subject: in flight\r\n\r\n").await;

    let store = server.store.clone();
    let server_smtp = server.smtp;
    let stopping = tokio::spawn(server.shutdown());
    assert!(
        idle.reply().await.starts_with("421 4.3.2"),
        "idle session told to go away"
    );
    // Shutdown has begun once new connections are refused; the rest of the message comes after.
    within(async {
        while TcpStream::connect(server_smtp).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    busy.send("body\r\n.\r\n").await;
    assert!(
        busy.reply().await.starts_with("250 "),
        "the transaction in flight completes"
    );
    assert!(
        busy.reply().await.starts_with("421 4.3.2"),
        "then the session is closed"
    );
    within(stopping).await.expect("shutdown task");
    assert_eq!(store.counts().total, 1);
}

#[tokio::test]
async fn greeting_reads_without_sending() {
    let server = start(Config::ephemeral()).await;
    let mut stream = TcpStream::connect(server.smtp).await.expect("connects");
    let mut buf = [0u8; 128];
    let n = within(stream.read(&mut buf)).await.expect("read");
    assert_eq!(&buf[..n], b"220 mailsnare ESMTP mailsnare ready\r\n");
    server.shutdown().await;
}
