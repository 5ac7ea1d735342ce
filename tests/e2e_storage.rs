//! Persistence (`--storage DIR`) against the real binary: messages, ids, order, read state and
//! deletions survive a restart, even a kill -9, and the files are ordinary Maildir files.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Server, TempDir, id_of};

/// Sends `count` messages over one SMTP connection, each acknowledged before the next.
fn send(server: &Server, subjects: &[&str]) {
    let stream = TcpStream::connect(server.smtp).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    let mut expect = |code: &str| {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("reply");
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
            if line.as_bytes().get(3) == Some(&b' ') {
                return;
            }
        }
    };
    expect("220");
    writer.write_all(b"EHLO storage.test\r\n").expect("write");
    expect("250");
    for subject in subjects {
        let data = format!(
            "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n.\r\n"
        );
        writer.write_all(data.as_bytes()).expect("write");
        expect("250");
        expect("250");
        expect("354");
        expect("250");
    }
    writer.write_all(b"QUIT\r\n").expect("write");
    expect("221");
}

fn ids_and_subjects(server: &Server) -> Vec<(String, String)> {
    let list = server.list();
    list["messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .map(|m| {
                    (
                        id_of(m),
                        m["Subject"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn messages_survive_restart_and_kill() {
    let dir = TempDir::new("storage");
    let storage = dir.0.to_string_lossy().to_string();
    let (before, two) = {
        let server = Server::start_with(&["--storage", &storage]);
        send(&server, &["one", "two", "three", "four"]);
        let listed = ids_and_subjects(&server);
        assert_eq!(listed.len(), 4);
        // Read one, delete another: both must be remembered.
        server.message(&listed[0].0);
        let deleted = server.delete(&format!("/api/v1/messages/{}", listed[1].0));
        assert_eq!(deleted.status, 200);
        let raw = server.raw(&listed[2].0);
        common::assert_stored_as_sent(&raw, b"Subject: two\r\n\r\nbody of two\r\n", "two");
        (listed, raw)
        // Dropping the server kills it with SIGKILL: no orderly shutdown, nothing flushed late.
    };
    let server = Server::start_with(&["--storage", &storage]);
    let after = ids_and_subjects(&server);
    let expected: Vec<_> = before
        .iter()
        .filter(|(_, s)| s != "three")
        .cloned()
        .collect();
    assert_eq!(
        after, expected,
        "same ids, same order, the deleted one gone"
    );
    let list = server.list();
    assert_eq!(list["unread"], 2, "the read flag survived");
    assert_eq!(list["messages"][0]["Read"], true);
    assert_eq!(server.raw(&after[1].0), two, "byte-exact after reload");
    assert!(
        server.stderr().contains("loaded 3 messages from"),
        "{}",
        server.stderr()
    );

    // Ordinary Maildir: one file per message under cur/.
    let files = std::fs::read_dir(dir.path("cur")).expect("cur").count();
    assert_eq!(files, 3);
    send(&server, &["five"]);
    assert_eq!(std::fs::read_dir(dir.path("cur")).expect("cur").count(), 4);
    let cleared = server.delete("/api/v1/messages");
    assert_eq!(cleared.status, 200);
    drop(server);
    let server = Server::start_with(&["--storage", &storage]);
    assert_eq!(server.list()["total"], 0, "clearing is durable too");
}

#[test]
fn eviction_applies_to_disk() {
    let dir = TempDir::new("evict");
    let storage = dir.0.to_string_lossy().to_string();
    {
        let server = Server::start_with(&["--storage", &storage, "--max-messages", "2"]);
        send(&server, &["a", "b", "c"]);
        let subjects: Vec<String> = ids_and_subjects(&server)
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        assert_eq!(subjects, ["c", "b"]);
    }
    assert_eq!(std::fs::read_dir(dir.path("cur")).expect("cur").count(), 2);
    let server = Server::start_with(&["--storage", &storage, "--max-messages", "2"]);
    let subjects: Vec<String> = ids_and_subjects(&server)
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(subjects, ["c", "b"]);
}

#[test]
fn leftovers_of_a_crash_do_not_break_startup() {
    let dir = TempDir::new("leftovers");
    let storage = dir.0.to_string_lossy().to_string();
    {
        let server = Server::start_with(&["--storage", &storage]);
        send(&server, &["kept"]);
    }
    // What a crash between writing and renaming leaves behind, and a file from another tool.
    std::fs::write(dir.path("tmp/0190.half"), b"Subject: half a mess").expect("write");
    std::fs::write(
        dir.path("new/1700000000.M1.host"),
        b"Subject: dropped in\r\n\r\nhi\r\n",
    )
    .expect("write");
    let server = Server::start_with(&["--storage", &storage]);
    let mut subjects: Vec<String> = ids_and_subjects(&server)
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["dropped in", "kept"]);
    assert_eq!(std::fs::read_dir(dir.path("tmp")).expect("tmp").count(), 0);
    let first_ids = ids_and_subjects(&server);
    drop(server);
    let server = Server::start_with(&["--storage", &storage]);
    assert_eq!(
        ids_and_subjects(&server),
        first_ids,
        "an adopted file keeps its id across restarts"
    );
}
