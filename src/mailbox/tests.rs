use std::time::Duration;

use super::*;
use crate::message::Envelope;

fn registry(rules: &[&str], limits: MailboxLimits) -> Mailboxes {
    let rules = Rules::new(rules.iter().map(|r| Rule::parse(r).unwrap()).collect());
    Mailboxes::new(Store::new(StoreLimits::default()), rules, limits)
}

fn envelope(user: Option<&str>, rcpt: &[&str]) -> Envelope {
    Envelope {
        mail_from: "app@x.test".into(),
        rcpt_to: rcpt.iter().map(|s| s.to_string()).collect(),
        auth_user: user.map(str::to_string),
        ..Envelope::default()
    }
}

async fn send(m: &Mailboxes, user: Option<&str>, rcpt: &[&str], subject: &str) -> Uuid {
    let data = format!("Subject: {subject}\r\n\r\nbody\r\n").into_bytes();
    m.deliver(Uuid::now_v7(), envelope(user, rcpt), data)
        .await
        .unwrap()
        .id
}

fn subjects(store: &Store) -> Vec<String> {
    let (page, _) = store.page(0, 100);
    page.iter().map(|m| m.summary.subject.clone()).collect()
}

fn count(m: &Mailboxes, name: &str) -> usize {
    m.get(name).map_or(0, |b| b.store.counts().total)
}

#[tokio::test]
async fn each_auth_user_has_its_own_mailbox_and_the_root_sees_all() {
    let m = registry(&["*=auth"], MailboxLimits::default());
    send(&m, Some("job-1"), &["a@x.test"], "one").await;
    send(&m, Some("Job-2"), &["a@x.test"], "two").await;
    send(&m, None, &["a@x.test"], "plain").await;
    assert_eq!(subjects(&m.get("job-1").unwrap().store), ["one"]);
    assert_eq!(subjects(&m.get("job-2").unwrap().store), ["two"]);
    assert_eq!(subjects(m.root()), ["plain", "two", "one"]);
    let names: Vec<String> = m.list().iter().map(|i| i.name.to_string()).collect();
    assert_eq!(names, ["job-1", "job-2"]);
}

#[tokio::test]
async fn a_message_for_two_mailboxes_is_one_message_in_the_root_until_both_let_go() {
    let m = registry(&["*=plus"], MailboxLimits::default());
    let id = send(&m, None, &["x+a@x.test", "y+b@x.test"], "both").await;
    let (a, b) = (m.get("a").unwrap(), m.get("b").unwrap());
    // The bytes are shared; the read flags are each store's own.
    let (in_a, in_root) = (a.store.get(&id).unwrap(), m.root().get(&id).unwrap());
    assert_eq!(in_a.raw.as_ptr(), in_root.raw.as_ptr());
    a.store.set_read(vec![id], true).await;
    assert!(a.store.get(&id).unwrap().is_read());
    assert!(!b.store.get(&id).unwrap().is_read());
    assert_eq!(m.root().counts().total, 1);

    assert_eq!(a.store.delete(vec![id]).await, 1);
    assert!(m.root().get(&id).is_some(), "b still holds it");
    b.store.clear().await;
    assert!(m.root().get(&id).is_none(), "no mailbox holds it any more");
}

#[tokio::test]
async fn deleting_in_the_root_deletes_in_the_mailboxes_and_delete_all_clears_them() {
    let m = registry(&["*=auth"], MailboxLimits::default());
    let one = send(&m, Some("a"), &["r@x.test"], "one").await;
    send(&m, Some("a"), &["r@x.test"], "two").await;
    send(&m, Some("b"), &["r@x.test"], "three").await;
    m.root().delete(vec![one]).await;
    assert_eq!(subjects(&m.get("a").unwrap().store), ["two"]);
    m.root().clear().await;
    assert_eq!(count(&m, "a"), 0);
    assert_eq!(count(&m, "b"), 0);
    // The mailboxes stay, empty, and take mail again.
    send(&m, Some("b"), &["r@x.test"], "four").await;
    assert_eq!(subjects(m.root()), ["four"]);
}

#[tokio::test]
async fn delete_all_in_one_mailbox_leaves_the_others() {
    let m = registry(&["*=auth"], MailboxLimits::default());
    for i in 0..3 {
        send(&m, Some("a"), &["r@x.test"], &format!("a{i}")).await;
        send(&m, Some("b"), &["r@x.test"], &format!("b{i}")).await;
    }
    m.get("a").unwrap().store.clear().await;
    assert_eq!(count(&m, "a"), 0);
    assert_eq!(subjects(m.root()), ["b2", "b1", "b0"]);
    assert_eq!(subjects(&m.get("b").unwrap().store), ["b2", "b1", "b0"]);
}

#[tokio::test]
async fn a_mailbox_evicts_within_its_own_limit_and_the_root_follows() {
    let limits = MailboxLimits {
        store: StoreLimits {
            max_messages: 2,
            ..StoreLimits::default()
        },
        ..MailboxLimits::default()
    };
    let m = registry(&["*=auth"], limits);
    for i in 0..3 {
        send(&m, Some("a"), &["r@x.test"], &format!("a{i}")).await;
    }
    send(&m, Some("b"), &["r@x.test"], "b0").await;
    assert_eq!(subjects(&m.get("a").unwrap().store), ["a2", "a1"]);
    assert_eq!(subjects(m.root()), ["b0", "a2", "a1"]);
}

#[tokio::test]
async fn over_the_mailbox_limit_mail_goes_to_the_default_mailbox() {
    let limits = MailboxLimits {
        max_mailboxes: 1,
        ..MailboxLimits::default()
    };
    let m = registry(&["*=auth"], limits);
    send(&m, Some("a"), &["r@x.test"], "one").await;
    send(&m, Some("b"), &["r@x.test"], "two").await;
    assert!(m.get("b").is_none());
    assert_eq!(subjects(m.root()), ["two", "one"]);
    assert_eq!(m.get_or_create("c").unwrap_err(), MailboxError::Full(1));
    assert!(matches!(
        m.get_or_create("../x"),
        Err(MailboxError::Name(_))
    ));
}

#[tokio::test]
async fn removing_a_mailbox_takes_its_mail_and_idle_ones_are_swept() {
    let limits = MailboxLimits {
        ttl: Some(Duration::from_secs(1)),
        ..MailboxLimits::default()
    };
    let m = registry(&["*=auth"], limits);
    send(&m, Some("a"), &["r@x.test"], "one").await;
    send(&m, Some("b"), &["r@x.test"], "two").await;
    assert_eq!(m.remove("a".into()).await, Ok(1));
    assert_eq!(
        m.remove("a".into()).await,
        Err(MailboxError::NotFound("a".into()))
    );
    assert_eq!(subjects(m.root()), ["two"]);
    // Not idle yet.
    assert!(m.sweep_blocking().is_empty());
    // The clock is in whole seconds: two ticks make sure a full second has passed.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let swept: Vec<String> = m.sweep_blocking().iter().map(|n| n.to_string()).collect();
    assert_eq!(swept, ["b"]);
    assert_eq!(m.root().counts().total, 0);
}

#[tokio::test]
async fn a_team_view_holds_its_mailboxes_mail_once_and_stays_in_step() {
    let m = registry(&["*=plus"], MailboxLimits::default());
    let both = send(&m, None, &["x+a@x.test", "y+b@x.test"], "both").await;
    send(&m, None, &["x+a@x.test"], "a only").await;
    send(&m, None, &["x+c@x.test"], "c only").await;
    let names = [
        MailboxName::new("a").unwrap(),
        MailboxName::new("b").unwrap(),
    ];
    let view = m.view_blocking(&names).unwrap();
    assert_eq!(subjects(&view.store), ["a only", "both"]);
    // Later mail for either shows; mail for neither does not.
    send(&m, None, &["x+b@x.test"], "b later").await;
    send(&m, None, &["x+c@x.test"], "c later").await;
    assert_eq!(subjects(&view.store), ["b later", "a only", "both"]);
    // A mailbox letting go hides a message only when the other no longer holds it.
    m.get("a").unwrap().store.delete(vec![both]).await;
    assert!(view.store.get(&both).is_some(), "b still holds it");
    // Delete-all in the view empties its mailboxes and nothing else.
    view.store.clear().await;
    assert_eq!(count(&m, "a"), 0);
    assert_eq!(count(&m, "b"), 0);
    assert_eq!(subjects(m.root()), ["c later", "c only"]);
    // The same set in another order is the same view.
    let again = m
        .view_blocking(&[names[1].clone(), names[0].clone()])
        .unwrap();
    assert!(again.store.same(&view.store));
    // Delete-all at the root empties it too.
    send(&m, None, &["x+a@x.test"], "a again").await;
    assert_eq!(view.store.counts().total, 1);
    m.root().clear().await;
    assert_eq!(view.store.counts().total, 0);
}
