//! The SMTP AUTH dialogue (RFC 4954) for PLAIN (RFC 4616), LOGIN and CRAM-MD5 (RFC 2195), sans I/O.
//! It only extracts credentials; whether they are acceptable is the session's policy.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::reply::Reply;

/// The mechanisms we advertise, in EHLO order.
pub const MECHANISMS: &str = "PLAIN LOGIN CRAM-MD5";
/// The ones that do not send the password as it is: all that is offered before STARTTLS when
/// TLS is available.
pub const ENCRYPTED_MECHANISMS: &str = "CRAM-MD5";

/// True for PLAIN and LOGIN, which carry the password itself (base64 is no protection).
pub fn is_plaintext(mechanism: &str) -> bool {
    mechanism.eq_ignore_ascii_case("PLAIN") || mechanism.eq_ignore_ascii_case("LOGIN")
}

/// What the client proved: a user name and a secret of the mechanism's kind. Never logged or stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub secret: Secret,
}

#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Password(String),
    /// CRAM-MD5: the challenge we sent and the hex HMAC-MD5 digest the client answered.
    CramMd5 {
        challenge: String,
        digest: String,
    },
}

impl std::fmt::Debug for Secret {
    // Keeps passwords out of any debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// An AUTH exchange waiting for the client's next line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialogue {
    Plain,
    LoginUser,
    LoginPassword { user: String },
    CramMd5 { challenge: String },
}

/// The result of one step of the dialogue.
#[derive(Debug)]
pub enum Step {
    /// Send this 334 challenge and wait for a line.
    Continue(Reply, Dialogue),
    Done(Credentials),
    Fail(Reply),
}

fn challenge(text: &str) -> Reply {
    Reply::new(334, "", BASE64.encode(text))
}

fn decode(line: &str) -> Result<String, Reply> {
    // RFC 4954 4: "=" stands for an empty initial response.
    if line == "=" {
        return Ok(String::new());
    }
    let bytes = BASE64
        .decode(line.trim())
        .map_err(|_| Reply::new(501, "5.5.2", "Invalid base64 data"))?;
    String::from_utf8(bytes).map_err(|_| Reply::new(501, "5.5.2", "Credentials are not UTF-8"))
}

/// Starts an exchange for `mechanism` (upper-cased), with the client's initial response if any.
/// `nonce` makes the CRAM-MD5 challenge unique; `hostname` names us in it.
pub fn start(mechanism: &str, initial: Option<&str>, nonce: &str, hostname: &str) -> Step {
    match (mechanism, initial) {
        ("PLAIN", None) => Step::Continue(Reply::new(334, "", ""), Dialogue::Plain),
        ("PLAIN", Some(initial)) => respond(Dialogue::Plain, initial),
        ("LOGIN", None) => Step::Continue(challenge("Username:"), Dialogue::LoginUser),
        ("LOGIN", Some(initial)) => respond(Dialogue::LoginUser, initial),
        ("CRAM-MD5", None) => {
            let text = format!("<{nonce}@{hostname}>");
            Step::Continue(challenge(&text), Dialogue::CramMd5 { challenge: text })
        }
        ("CRAM-MD5", Some(_)) => Step::Fail(Reply::new(
            501,
            "5.5.2",
            "CRAM-MD5 does not take an initial response",
        )),
        _ => Step::Fail(Reply::new(504, "5.5.4", "Unrecognized authentication type")),
    }
}

/// Advances the exchange with one line from the client.
pub fn respond(dialogue: Dialogue, line: &str) -> Step {
    if line.trim() == "*" {
        return Step::Fail(Reply::new(501, "5.0.0", "Authentication cancelled"));
    }
    let text = match decode(line) {
        Ok(text) => text,
        Err(reply) => return Step::Fail(reply),
    };
    match dialogue {
        Dialogue::Plain => {
            // authzid NUL authcid NUL passwd
            let mut fields = text.split('\0');
            match (fields.next(), fields.next(), fields.next(), fields.next()) {
                (Some(_authzid), Some(user), Some(password), None) if !user.is_empty() => {
                    Step::Done(Credentials {
                        user: user.to_string(),
                        secret: Secret::Password(password.to_string()),
                    })
                }
                _ => Step::Fail(Reply::new(501, "5.5.2", "Malformed PLAIN response")),
            }
        }
        Dialogue::LoginUser => Step::Continue(
            challenge("Password:"),
            Dialogue::LoginPassword { user: text },
        ),
        Dialogue::LoginPassword { user } => Step::Done(Credentials {
            user,
            secret: Secret::Password(text),
        }),
        Dialogue::CramMd5 { challenge } => match text.rsplit_once(' ') {
            Some((user, digest)) if !user.is_empty() && !digest.is_empty() => {
                Step::Done(Credentials {
                    user: user.to_string(),
                    secret: Secret::CramMd5 {
                        challenge,
                        digest: digest.to_ascii_lowercase(),
                    },
                })
            }
            _ => Step::Fail(Reply::new(501, "5.5.2", "Malformed CRAM-MD5 response")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        BASE64.encode(s)
    }

    fn done(step: Step) -> Credentials {
        match step {
            Step::Done(c) => c,
            other => panic!("expected Done, got {other:?}"),
        }
    }

    #[test]
    fn plain_with_and_without_initial_response() {
        let creds = done(start("PLAIN", Some(&b64("\0alice\0secret")), "n", "h"));
        assert_eq!(creds.user, "alice");
        assert_eq!(creds.secret, Secret::Password("secret".into()));
        let Step::Continue(reply, dialogue) = start("PLAIN", None, "n", "h") else {
            panic!("expected a 334")
        };
        assert_eq!(reply.to_string(), "334 \r\n");
        assert_eq!(done(respond(dialogue, &b64("admin\0bob\0pw"))).user, "bob");
    }

    #[test]
    fn login_prompts_for_user_then_password() {
        let Step::Continue(reply, dialogue) = start("LOGIN", None, "n", "h") else {
            panic!("expected a 334")
        };
        assert_eq!(reply.to_string(), "334 VXNlcm5hbWU6\r\n");
        let Step::Continue(reply, dialogue) = respond(dialogue, &b64("carol")) else {
            panic!("expected a 334")
        };
        assert_eq!(reply.to_string(), "334 UGFzc3dvcmQ6\r\n");
        let creds = done(respond(dialogue, &b64("pw")));
        assert_eq!(
            (creds.user.as_str(), creds.secret),
            ("carol", Secret::Password("pw".into()))
        );
    }

    #[test]
    fn cram_md5_challenge_and_response() {
        let Step::Continue(reply, dialogue) = start("CRAM-MD5", None, "123.456", "snare") else {
            panic!("expected a 334")
        };
        assert_eq!(reply.lines[0], b64("<123.456@snare>"));
        let creds = done(respond(
            dialogue,
            &b64("dave b913a602c7eda7a495b4e6e7334d3890"),
        ));
        assert_eq!(creds.user, "dave");
    }

    #[test]
    fn failures() {
        assert!(matches!(start("XOAUTH9", None, "n", "h"), Step::Fail(r) if r.code == 504));
        assert!(matches!(respond(Dialogue::Plain, "*"), Step::Fail(r) if r.code == 501));
        assert!(matches!(respond(Dialogue::Plain, "!!!"), Step::Fail(r) if r.code == 501));
        assert!(matches!(respond(Dialogue::Plain, &b64("nouser")), Step::Fail(r) if r.code == 501));
        assert!(matches!(
            respond(Dialogue::CramMd5 { challenge: "c".into() }, &b64("nodigest")),
            Step::Fail(r) if r.code == 501
        ));
    }
}
