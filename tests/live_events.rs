//! Live updates over a real WebSocket (`/api/events`) while mail arrives over real SMTP.

use std::time::Duration;

use futures_util::StreamExt;
use mailsnare::{Config, Server};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

const STEP: Duration = Duration::from_secs(10);

async fn send_mail(addr: std::net::SocketAddr, subject: &str) {
    send_mail_as(addr, None, subject).await;
}

/// One message over SMTP, logged in as `user` when given (by default the AUTH user names the
/// mailbox the message goes to).
async fn send_mail_as(addr: std::net::SocketAddr, user: Option<&str>, subject: &str) {
    use base64::Engine as _;
    let auth = user.map_or(String::new(), |user| {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0pw"));
        format!("AUTH PLAIN {token}\r\n")
    });
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let script = format!(
        "EHLO t\r\n{auth}MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nSubject: {subject}\r\n\r\nbody\r\n.\r\nQUIT\r\n"
    );
    w.write_all(script.as_bytes()).await.expect("write");
    let mut line = String::new();
    while timeout(STEP, r.read_line(&mut line))
        .await
        .expect("reply in time")
        .expect("read")
        > 0
    {
        assert!(!line.starts_with('5'), "refused: {line}");
        if line.starts_with("221") {
            return;
        }
        line.clear();
    }
    panic!("no 221");
}

/// Reads frames until one of type `kind` arrives.
async fn next_of<S>(ws: &mut S, kind: &str) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let frame = timeout(STEP, ws.next()).await.expect("frame in time");
        let Some(Ok(Message::Text(text))) = frame else {
            panic!("unexpected frame {frame:?}");
        };
        let value: Value = serde_json::from_str(&text).expect("frames are JSON");
        if value["Type"] == kind {
            return value;
        }
    }
}

#[tokio::test]
async fn new_update_delete_truncate_and_stats_frames() {
    let server = Server::bind(Config::ephemeral()).await.expect("bind");
    let smtp = server.smtp_addr().expect("smtp addr");
    let http = server.http_addr().expect("http addr");
    let store = server.store();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{http}/api/events"))
        .await
        .expect("upgrade");
    let (mut second, _) = tokio_tungstenite::connect_async(format!("ws://{http}/api/events"))
        .await
        .expect("upgrade");
    send_mail(smtp, "live one").await;
    let new = next_of(&mut ws, "new").await;
    assert_eq!(new["Data"]["Subject"], "live one");
    let id = new["Data"]["ID"].as_str().unwrap_or_default().to_string();
    let stats = next_of(&mut ws, "stats").await;
    assert_eq!(stats["Data"]["Total"], 1);
    assert_eq!(stats["Data"]["Unread"], 1);
    assert_eq!(
        next_of(&mut second, "new").await["Data"]["ID"],
        id.as_str(),
        "every client gets it"
    );

    let uuid = uuid::Uuid::parse_str(&id).expect("uuid");
    store.set_read(vec![uuid], true).await;
    let update = next_of(&mut ws, "update").await;
    assert_eq!(update["Data"]["ID"], id.as_str());
    assert_eq!(update["Data"]["Read"], true);
    store.delete(vec![uuid]).await;
    assert_eq!(next_of(&mut ws, "delete").await["Data"]["ID"], id.as_str());
    store.clear().await;
    assert_eq!(next_of(&mut ws, "truncate").await["Data"], Value::Null);
    assert_eq!(next_of(&mut second, "truncate").await["Type"], "truncate");

    let _ = stop.send(());
    let stopped = timeout(Duration::from_secs(20), running).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
}

#[tokio::test]
async fn open_event_streams_do_not_hold_up_shutdown() {
    let server = Server::bind(Config::ephemeral()).await.expect("bind");
    let http = server.http_addr().expect("http addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let sse = reqwest::get(format!("http://{http}/api/v1/events"))
        .await
        .expect("sse");
    assert_eq!(sse.status(), 200);
    let (_ws, _) = tokio_tungstenite::connect_async(format!("ws://{http}/api/events"))
        .await
        .expect("upgrade");
    let (_hog, _) = tokio_tungstenite::connect_async(format!("ws://{http}/api/v2/websocket"))
        .await
        .expect("upgrade");
    let _ = stop.send(());
    let stopped = timeout(Duration::from_secs(5), running).await;
    assert!(
        matches!(stopped, Ok(Ok(Ok(())))),
        "shutdown with open streams: {stopped:?}"
    );
}

#[tokio::test]
async fn mailhog_array_switch_on_the_shared_v1_path() {
    let config = Config {
        mailhog: true,
        ..Config::ephemeral()
    };
    let server = Server::bind(config).await.expect("bind");
    let smtp = server.smtp_addr().expect("smtp addr");
    let http = server.http_addr().expect("http addr");
    tokio::spawn(server.run(std::future::pending()));
    send_mail(smtp, "for codeception").await;
    let list: Value = reqwest::get(format!("http://{http}/api/v1/messages"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let items = list.as_array().expect("MailHog's v1 list is a plain array");
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0]["Content"]["Headers"]["Subject"][0],
        "for codeception"
    );
    assert_eq!(items[0]["Raw"]["From"], "a@x");
}

#[tokio::test]
async fn prometheus_metrics_follow_traffic() {
    let server = Server::bind(Config::ephemeral()).await.expect("bind");
    let smtp = server.smtp_addr().expect("smtp addr");
    let http = server.http_addr().expect("http addr");
    tokio::spawn(server.run(std::future::pending()));
    let (_ws, _) = tokio_tungstenite::connect_async(format!("ws://{http}/api/events"))
        .await
        .expect("upgrade");
    send_mail(smtp, "counted").await;
    send_mail(smtp, "counted again").await;
    let response = reqwest::get(format!("http://{http}/metrics"))
        .await
        .expect("metrics");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("application/openmetrics-text")
    );
    let text = response.text().await.expect("text");
    for line in [
        "mailsnare_messages 2",
        "mailsnare_smtp_accepted_total 2",
        "mailsnare_smtp_sessions_total 2",
        "mailsnare_smtp_tls_sessions_total 0",
        "mailsnare_messages_evicted_total 0",
        "mailsnare_websocket_clients 1",
        "# TYPE mailsnare_smtp_rejected counter",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    assert!(text.trim_end().ends_with("# EOF"));
}

#[tokio::test]
async fn a_mailbox_stream_carries_its_own_mail_and_all_streams_share_one_client_bound() {
    let mut config = Config::ephemeral();
    config.live.max_clients = 3;
    let server = Server::bind(config).await.expect("bind");
    let smtp = server.smtp_addr().expect("smtp addr");
    let http = server.http_addr().expect("http addr");
    tokio::spawn(server.run(std::future::pending()));

    let (mut root, _) = tokio_tungstenite::connect_async(format!("ws://{http}/api/events"))
        .await
        .expect("upgrade");
    let (mut job, _) =
        tokio_tungstenite::connect_async(format!("ws://{http}/mailbox/job-1/api/events"))
            .await
            .expect("upgrade");
    let (_other, _) =
        tokio_tungstenite::connect_async(format!("ws://{http}/mailbox/job-2/api/events"))
            .await
            .expect("upgrade");
    // The bound is for all hubs together: a fourth client anywhere is refused.
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{http}/mailbox/job-3/api/events")).await;
    assert!(
        refused.is_err(),
        "a fourth live client is over --max-live-clients"
    );

    send_mail_as(smtp, Some("job-2"), "for job two").await;
    send_mail_as(smtp, Some("job-1"), "for job one").await;
    // The mailbox's stream skips the other job's mail; the root's has both.
    assert_eq!(
        next_of(&mut job, "new").await["Data"]["Subject"],
        "for job one"
    );
    assert_eq!(
        next_of(&mut root, "new").await["Data"]["Subject"],
        "for job two"
    );
    assert_eq!(
        next_of(&mut root, "new").await["Data"]["Subject"],
        "for job one"
    );
    let stats = next_of(&mut job, "stats").await;
    assert_eq!(stats["Data"]["Total"], 1, "{stats}");
}
