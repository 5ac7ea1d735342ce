//! Optional persistence (`--storage DIR`): every message as a Maildir file that ordinary mail tools
//! can read, plus its envelope as JSON, written durably before the message is acknowledged and
//! loaded back at startup.
//!
//! Layout: `DIR/cur/<created-ns>.<id>.mailsnare:2,<flags>` (flag `S` once read), envelopes in
//! `DIR/envelope/<id>.json`, the mailboxes that hold it (one name per line) in
//! `DIR/mailboxes/<id>` when any do, scratch files in `DIR/tmp/`. A message is written to `tmp/`, synced and
//! renamed into `cur/`: the rename is the commit point, so a crash never leaves half a message where
//! startup would read it.

use std::fs::{self, File};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::message::{Envelope, StoredMessage};
use crate::mime::structure::Limits as MimeLimits;

/// A Maildir-style message directory.
#[derive(Debug)]
pub struct Maildir {
    root: PathBuf,
}

/// The envelope as stored beside the message.
#[derive(Debug, Serialize, Deserialize)]
struct EnvelopeFile {
    id: Uuid,
    created_ns: i128,
    helo: String,
    esmtp: bool,
    mail_from: String,
    rcpt_to: Vec<String>,
    client_addr: Option<SocketAddr>,
    auth_user: Option<String>,
    tls: Option<String>,
    smtputf8: bool,
    eight_bit: bool,
    /// The message's tags: they change, so this file is rewritten when they do.
    #[serde(default)]
    tags: Vec<String>,
}

/// What a load found besides the messages.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub loaded: usize,
    /// Files that were not messages of ours, or half-written scratch files, removed or skipped.
    pub skipped: usize,
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Captured mail holds reset links and codes: only the server's own user may read it.
const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and its parents) private to this user, or makes an existing one private.
fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    let permissions = fs::metadata(dir)?.permissions();
    if permissions.mode() & 0o777 != DIR_MODE {
        fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))?;
    }
    Ok(())
}

/// Makes an existing file private (files written by older versions or other tools).
fn private_file(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let permissions = fs::metadata(path)?.permissions();
    if permissions.mode() & 0o777 != FILE_MODE {
        fs::set_permissions(path, fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(())
}

impl Maildir {
    /// Opens (creating if needed) a message directory.
    pub fn open(root: &Path) -> io::Result<Maildir> {
        private_dir(root)?;
        for sub in ["tmp", "new", "cur", "envelope", "mailboxes"] {
            private_dir(&root.join(sub))?;
        }
        Ok(Maildir {
            root: root.to_path_buf(),
        })
    }

    fn file_name(message: &StoredMessage, read: bool) -> String {
        let flags = if read { "S" } else { "" };
        format!(
            "{}.{}.mailsnare:2,{flags}",
            message.created.unix_timestamp_nanos(),
            message.id.simple()
        )
    }

    fn envelope_path(&self, id: &Uuid) -> PathBuf {
        self.root
            .join("envelope")
            .join(format!("{}.json", id.simple()))
    }

    /// Writes `bytes` to `final_path` through `tmp/`, synced, so it appears whole or not at all.
    fn write_atomically(&self, final_path: &Path, bytes: &[u8]) -> io::Result<()> {
        let scratch = self.root.join("tmp").join(format!(
            "{}.{}",
            Uuid::now_v7().simple(),
            std::process::id()
        ));
        let mut file = {
            use std::os::unix::fs::OpenOptionsExt;
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(FILE_MODE)
                .open(&scratch)?
        };
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&scratch, final_path)?;
        if let Some(dir) = final_path.parent() {
            sync_dir(dir)?;
        }
        Ok(())
    }

    /// Writes a message durably: when this returns `Ok`, a crash or restart keeps it.
    pub fn write(&self, message: &StoredMessage) -> io::Result<()> {
        self.write_envelope(message)?;
        let path = self
            .root
            .join("cur")
            .join(Self::file_name(message, message.is_read()));
        self.write_atomically(&path, &message.raw)
    }

    /// Records a message's tags (in its envelope file).
    pub fn write_tags(&self, message: &StoredMessage) -> io::Result<()> {
        self.write_envelope(message)
    }

    fn write_envelope(&self, message: &StoredMessage) -> io::Result<()> {
        let e = &message.envelope;
        let envelope = EnvelopeFile {
            id: message.id,
            created_ns: message.created.unix_timestamp_nanos(),
            helo: e.helo.clone(),
            esmtp: e.esmtp,
            mail_from: e.mail_from.clone(),
            rcpt_to: e.rcpt_to.clone(),
            client_addr: e.client_addr,
            auth_user: e.auth_user.clone(),
            tls: e.tls.clone(),
            smtputf8: e.smtputf8,
            eight_bit: e.eight_bit,
            tags: message.tags(),
        };
        let json = serde_json::to_vec(&envelope).map_err(io::Error::other)?;
        // The envelope first: a message file without one still loads; the reverse is cleaned up.
        self.write_atomically(&self.envelope_path(&message.id), &json)
    }

    fn mailboxes_path(&self, id: &Uuid) -> PathBuf {
        self.root.join("mailboxes").join(id.simple().to_string())
    }

    /// Records which mailboxes hold message `id` (none: the file goes). Not synced: a crash
    /// loses at most the latest changes of membership, never a message.
    pub fn write_mailboxes(&self, id: &Uuid, names: &[&str]) -> io::Result<()> {
        let path = self.mailboxes_path(id);
        if names.is_empty() {
            return match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        let scratch = self
            .root
            .join("tmp")
            .join(format!("{}.mb", Uuid::now_v7().simple()));
        {
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(FILE_MODE)
                .open(&scratch)?;
            file.write_all(names.join("\n").as_bytes())?;
        }
        fs::rename(&scratch, &path)
    }

    /// Every recorded membership: message id and the names of the mailboxes that hold it.
    pub fn load_mailboxes(&self) -> io::Result<Vec<(Uuid, Vec<String>)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(self.root.join("mailboxes"))? {
            let path = entry?.path();
            let Some(id) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| Uuid::parse_str(n).ok())
            else {
                continue;
            };
            let text = fs::read_to_string(&path)?;
            let names = text.lines().map(str::trim).filter(|l| !l.is_empty());
            out.push((id, names.map(str::to_string).collect()));
        }
        Ok(out)
    }

    /// Removes a message and its envelope. A message already gone is not an error.
    pub fn remove(&self, message: &StoredMessage) -> io::Result<()> {
        self.write_mailboxes(&message.id, &[])?;
        for read in [false, true] {
            match fs::remove_file(self.root.join("cur").join(Self::file_name(message, read))) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        match fs::remove_file(self.envelope_path(&message.id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Records the read flag in the file name (Maildir's `S` flag).
    pub fn set_read(&self, message: &StoredMessage, read: bool) -> io::Result<()> {
        let cur = self.root.join("cur");
        fs::rename(
            cur.join(Self::file_name(message, !read)),
            cur.join(Self::file_name(message, read)),
        )
    }

    /// Removes everything: the directories are renamed away at once, then deleted in the
    /// background, so clearing a large store does not hold up the request.
    pub fn clear(&self) -> io::Result<()> {
        let trash = self
            .root
            .join(format!(".trash-{}", Uuid::now_v7().simple()));
        private_dir(&trash)?;
        for sub in ["cur", "new", "envelope", "mailboxes"] {
            fs::rename(self.root.join(sub), trash.join(sub))?;
            private_dir(&self.root.join(sub))?;
        }
        sync_dir(&self.root)?;
        std::thread::spawn(move || {
            if let Err(e) = fs::remove_dir_all(&trash) {
                tracing::warn!("could not delete {}: {e}", trash.display());
            }
        });
        Ok(())
    }

    /// Reads every message back, oldest first, and tidies what a crash may have left: scratch
    /// files and envelopes without a message. Files other tools dropped into `new/` or `cur/` are
    /// loaded too, with an empty envelope.
    pub fn load(&self, limits: &MimeLimits) -> io::Result<(Vec<StoredMessage>, LoadReport)> {
        let mut report = LoadReport::default();
        for entry in fs::read_dir(self.root.join("tmp"))? {
            let _ = fs::remove_file(entry?.path());
            report.skipped += 1;
        }
        let mut found = Vec::new();
        for sub in ["new", "cur"] {
            for entry in fs::read_dir(self.root.join(sub))? {
                let entry = entry?;
                if entry.file_type()?.is_file() {
                    private_file(&entry.path())?;
                    found.push(entry.path());
                }
            }
        }
        let mut messages = Vec::with_capacity(found.len());
        let mut ids = std::collections::HashSet::new();
        for path in found {
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
            else {
                report.skipped += 1;
                continue;
            };
            let raw = fs::read(&path)?;
            let (base, flags) = name.split_once(":2,").unwrap_or((&name, ""));
            let ours = base
                .strip_suffix(".mailsnare")
                .and_then(|b| b.split_once('.'));
            let parsed = ours
                .and_then(|(ns, id)| Some((ns.parse::<i128>().ok()?, Uuid::parse_str(id).ok()?)));
            let message = match parsed {
                Some((ns, id)) => {
                    let (envelope, tags) = self.read_envelope(&id).unwrap_or_default();
                    let created = OffsetDateTime::from_unix_timestamp_nanos(ns)
                        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                    let message = StoredMessage::restore(
                        id,
                        created,
                        envelope,
                        raw,
                        flags.contains('S'),
                        limits,
                    );
                    message.replace_tags(crate::tags::normalize(tags));
                    message
                }
                // A file from another tool: adopt it under a name of ours so its id is stable.
                None => {
                    let modified = entry_time(&path);
                    let adopted = StoredMessage::restore(
                        Uuid::now_v7(),
                        modified,
                        Envelope::default(),
                        raw,
                        flags.contains('S'),
                        limits,
                    );
                    self.write(&adopted)?;
                    fs::remove_file(&path)?;
                    adopted
                }
            };
            ids.insert(message.id.simple().to_string());
            messages.push(message);
        }
        for entry in fs::read_dir(self.root.join("envelope"))? {
            let path = entry?.path();
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            if !ids.contains(&stem) {
                let _ = fs::remove_file(&path);
                report.skipped += 1;
            } else {
                private_file(&path)?;
            }
        }
        messages.sort_by_key(|m| (m.created, m.id));
        report.loaded = messages.len();
        Ok((messages, report))
    }

    fn read_envelope(&self, id: &Uuid) -> Option<(Envelope, Vec<String>)> {
        let bytes = fs::read(self.envelope_path(id)).ok()?;
        let e: EnvelopeFile = serde_json::from_slice(&bytes).ok()?;
        let envelope = Envelope {
            helo: e.helo,
            esmtp: e.esmtp,
            mail_from: e.mail_from,
            rcpt_to: e.rcpt_to,
            client_addr: e.client_addr,
            auth_user: e.auth_user,
            tls: e.tls,
            smtputf8: e.smtputf8,
            eight_bit: e.eight_bit,
        };
        Some((envelope, e.tags))
    }
}

fn entry_time(path: &Path) -> OffsetDateTime {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .map(OffsetDateTime::from)
        .unwrap_or_else(|_| OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("mailsnare-maildir-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn message(body: &str, rcpt: &str) -> StoredMessage {
        let envelope = Envelope {
            helo: "client.test".into(),
            mail_from: "a@x".into(),
            rcpt_to: vec![rcpt.into()],
            tls: Some("TLSv1.3".into()),
            ..Envelope::default()
        };
        StoredMessage::new(envelope, body.as_bytes().to_vec())
    }

    #[test]
    fn round_trip_keeps_ids_order_envelopes_and_read_flags() {
        let dir = temp("roundtrip");
        let maildir = Maildir::open(&dir).expect("open");
        let first = message("Subject: one\r\n\r\n1\r\n", "b@x");
        let second = message("Subject: two\r\n\r\n2\r\n", "c@x");
        maildir.write(&first).expect("write");
        maildir.write(&second).expect("write");
        maildir.set_read(&second, true).expect("rename");
        let (loaded, report) = Maildir::open(&dir)
            .and_then(|m| m.load(&MimeLimits::default()))
            .expect("load");
        assert_eq!(
            report,
            LoadReport {
                loaded: 2,
                skipped: 0
            }
        );
        assert_eq!(loaded[0].id, first.id);
        assert_eq!(loaded[0].created, first.created);
        assert_eq!(&loaded[0].raw[..], &first.raw[..]);
        assert_eq!(loaded[0].envelope, first.envelope);
        assert!(!loaded[0].is_read() && loaded[1].is_read());
        assert_eq!(loaded[1].summary.subject, "two");
        maildir.remove(&first).expect("remove");
        let (loaded, _) = maildir.load(&MimeLimits::default()).expect("load");
        assert_eq!(loaded.len(), 1);
        maildir.clear().expect("clear");
        assert!(
            maildir
                .load(&MimeLimits::default())
                .expect("load")
                .0
                .is_empty()
        );
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn crash_leftovers_and_foreign_files() {
        let dir = temp("crash");
        let maildir = Maildir::open(&dir).expect("open");
        let kept = message("Subject: kept\r\n\r\nx\r\n", "b@x");
        maildir.write(&kept).expect("write");
        // A crash mid-write leaves a scratch file and maybe an envelope without its message.
        fs::write(dir.join("tmp").join("half"), b"Subject: half").expect("write");
        let orphan = message("never committed", "z@x");
        fs::write(maildir.envelope_path(&orphan.id), b"{}").expect("write");
        // Another tool delivered a plain Maildir file.
        fs::write(
            dir.join("new").join("1700000000.M1P1.host"),
            b"Subject: foreign\r\n\r\nhi\r\n",
        )
        .expect("write");
        let (loaded, report) = maildir.load(&MimeLimits::default()).expect("load");
        assert_eq!(
            report,
            LoadReport {
                loaded: 2,
                skipped: 2
            }
        );
        assert!(
            loaded
                .iter()
                .any(|m| m.id == kept.id && m.envelope.tls.as_deref() == Some("TLSv1.3"))
        );
        assert!(loaded.iter().any(|m| m.summary.subject == "foreign"));
        assert!(fs::read_dir(dir.join("tmp")).expect("tmp").next().is_none());
        assert!(!maildir.envelope_path(&orphan.id).exists());
        let _ = fs::remove_dir_all(dir);
    }
}
