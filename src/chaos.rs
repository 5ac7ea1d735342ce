//! Fault injection for testing an application's error handling: Mailpit's chaos triggers and
//! MailHog's "Jim" drive one engine that the SMTP layer consults. Off unless configured.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};

use serde::{Deserialize, Serialize};

/// Mailpit's trigger: reply `error_code` with `probability` percent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Trigger {
    #[serde(rename = "ErrorCode")]
    pub error_code: u16,
    #[serde(rename = "Probability")]
    pub probability: u8,
}

/// Mailpit's chaos settings (`/api/v1/chaos`). Triggers left out of an update are off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Triggers {
    pub sender: Trigger,
    pub recipient: Trigger,
    pub authentication: Trigger,
}

impl Default for Triggers {
    fn default() -> Self {
        Triggers {
            sender: Trigger {
                error_code: 451,
                probability: 0,
            },
            recipient: Trigger {
                error_code: 451,
                probability: 0,
            },
            authentication: Trigger {
                error_code: 535,
                probability: 0,
            },
        }
    }
}

/// MailHog's Jim (`/api/v2/jim`); chances are 0.0–1.0, link speeds bytes per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
// A partial body keeps MailHog's defaults for the fields it leaves out.
#[serde(default)]
pub struct Jim {
    pub disconnect_chance: f64,
    pub accept_chance: f64,
    pub link_speed_affect: f64,
    pub link_speed_min: f64,
    pub link_speed_max: f64,
    pub reject_sender_chance: f64,
    pub reject_recipient_chance: f64,
    pub reject_auth_chance: f64,
}

impl Default for Jim {
    /// MailHog's defaults.
    fn default() -> Self {
        Jim {
            disconnect_chance: 0.005,
            accept_chance: 0.99,
            link_speed_affect: 0.1,
            link_speed_min: 1024.0,
            link_speed_max: 10240.0,
            reject_sender_chance: 0.05,
            reject_recipient_chance: 0.05,
            reject_auth_chance: 0.05,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChaosError {
    #[error("{0}")]
    Invalid(String),
}

impl Triggers {
    /// A trigger sent without an `ErrorCode` keeps its stage's default code (451, 451, 535).
    pub fn with_default_codes(mut self) -> Triggers {
        let defaults = Triggers::default();
        for (trigger, default) in [
            (&mut self.sender, defaults.sender),
            (&mut self.recipient, defaults.recipient),
            (&mut self.authentication, defaults.authentication),
        ] {
            if trigger.error_code == 0 {
                trigger.error_code = default.error_code;
            }
        }
        self
    }

    pub fn validate(&self) -> Result<(), ChaosError> {
        for (name, t) in [
            ("Sender", self.sender),
            ("Recipient", self.recipient),
            ("Authentication", self.authentication),
        ] {
            if t.probability > 100 {
                return Err(ChaosError::Invalid(format!(
                    "{name}.Probability must be 0–100"
                )));
            }
            if !(400..=599).contains(&t.error_code) {
                return Err(ChaosError::Invalid(format!(
                    "{name}.ErrorCode must be a 4xx or 5xx SMTP code"
                )));
            }
        }
        Ok(())
    }

    /// Parses Mailpit's startup form `Sender:451:50,Recipient:550:10,Authentication:535:100`.
    pub fn parse(text: &str) -> Result<Triggers, ChaosError> {
        let mut triggers = Triggers::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let fields: Vec<&str> = item.split(':').collect();
            let [name, code, probability] = fields[..] else {
                return Err(ChaosError::Invalid(format!(
                    "{item:?}: expected Name:ErrorCode:Probability"
                )));
            };
            let trigger = Trigger {
                error_code: code
                    .parse()
                    .map_err(|_| ChaosError::Invalid(format!("{item:?}: bad error code")))?,
                probability: probability
                    .parse()
                    .map_err(|_| ChaosError::Invalid(format!("{item:?}: bad probability")))?,
            };
            match name.to_ascii_lowercase().as_str() {
                "sender" => triggers.sender = trigger,
                "recipient" => triggers.recipient = trigger,
                "authentication" => triggers.authentication = trigger,
                _ => {
                    return Err(ChaosError::Invalid(format!(
                        "{item:?}: unknown trigger {name:?}"
                    )));
                }
            }
        }
        triggers.validate()?;
        Ok(triggers)
    }
}

impl Jim {
    pub fn validate(&self) -> Result<(), ChaosError> {
        let chances = [
            self.disconnect_chance,
            self.accept_chance,
            self.link_speed_affect,
            self.reject_sender_chance,
            self.reject_recipient_chance,
            self.reject_auth_chance,
        ];
        if chances.iter().any(|c| !(0.0..=1.0).contains(c)) {
            return Err(ChaosError::Invalid(
                "chances must be between 0 and 1".into(),
            ));
        }
        if !(self.link_speed_min > 0.0
            && self.link_speed_min <= self.link_speed_max
            && self.link_speed_max.is_finite())
        {
            return Err(ChaosError::Invalid(
                "link speeds need 0 < LinkSpeedMin <= LinkSpeedMax".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Settings {
    triggers: Triggers,
    jim: Option<Jim>,
}

/// The shared engine. Reading it is a relaxed atomic load while nothing is configured, so the
/// ingest path pays nothing for it.
#[derive(Debug, Default)]
pub struct Chaos {
    active: AtomicBool,
    settings: RwLock<Settings>,
}

/// A fault to apply to an SMTP command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub code: u16,
}

/// Where in the session a fault may strike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Sender,
    Recipient,
    Authentication,
}

impl Chaos {
    pub fn new(triggers: Triggers, jim: Option<Jim>) -> Chaos {
        let chaos = Chaos::default();
        chaos.set_triggers(triggers);
        chaos.set_jim(jim);
        chaos
    }

    fn update(&self, f: impl FnOnce(&mut Settings)) {
        let mut settings = self
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut settings);
        let t = settings.triggers;
        let active = settings.jim.is_some()
            || t.sender.probability > 0
            || t.recipient.probability > 0
            || t.authentication.probability > 0;
        self.active.store(active, Ordering::Relaxed);
    }

    fn read<T>(&self, f: impl FnOnce(&Settings) -> T) -> T {
        f(&self.settings.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn triggers(&self) -> Triggers {
        self.read(|s| s.triggers)
    }

    pub fn set_triggers(&self, triggers: Triggers) {
        self.update(|s| s.triggers = triggers);
    }

    pub fn jim(&self) -> Option<Jim> {
        self.read(|s| s.jim)
    }

    pub fn set_jim(&self, jim: Option<Jim>) {
        self.update(|s| s.jim = jim);
    }

    /// Rolls the dice for `stage`: Mailpit's trigger first, then Jim's rejection.
    pub fn fault(&self, stage: Stage, rng: &mut Rng) -> Option<Fault> {
        if !self.active.load(Ordering::Relaxed) {
            return None;
        }
        let (trigger, jim_chance, jim_code) = self.read(|s| match stage {
            Stage::Sender => (
                s.triggers.sender,
                s.jim.map(|j| j.reject_sender_chance),
                550,
            ),
            Stage::Recipient => (
                s.triggers.recipient,
                s.jim.map(|j| j.reject_recipient_chance),
                550,
            ),
            Stage::Authentication => (
                s.triggers.authentication,
                s.jim.map(|j| j.reject_auth_chance),
                535,
            ),
        });
        if trigger.probability > 0 && rng.chance(f64::from(trigger.probability) / 100.0) {
            return Some(Fault {
                code: trigger.error_code,
            });
        }
        match jim_chance {
            Some(chance) if rng.chance(chance) => Some(Fault { code: jim_code }),
            _ => None,
        }
    }

    /// Jim's connection-level behaviour, decided once per connection.
    pub fn connection(&self, rng: &mut Rng) -> ConnectionChaos {
        let Some(jim) = self.jim() else {
            return ConnectionChaos::default();
        };
        let link_speed = rng
            .chance(jim.link_speed_affect)
            .then(|| jim.link_speed_min + rng.unit() * (jim.link_speed_max - jim.link_speed_min));
        ConnectionChaos {
            refuse: !rng.chance(jim.accept_chance),
            disconnect_chance: jim.disconnect_chance,
            link_speed,
        }
    }
}

/// What Jim does to one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ConnectionChaos {
    /// Close before the greeting.
    pub refuse: bool,
    /// Chance, per read, of dropping the connection.
    pub disconnect_chance: f64,
    /// Throttle to this many bytes per second.
    pub link_speed: Option<f64>,
}

/// A small, fast PRNG (xorshift64*): chaos needs dice, not cryptography, and a seed makes
/// sessions reproducible in tests.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        p >= 1.0 || (p > 0.0 && self.unit() < p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_certain_at_100() {
        let chaos = Chaos::default();
        let mut rng = Rng::new(7);
        assert_eq!(chaos.fault(Stage::Sender, &mut rng), None);
        chaos.set_triggers(Triggers {
            sender: Trigger {
                error_code: 451,
                probability: 100,
            },
            ..Triggers::default()
        });
        for _ in 0..100 {
            assert_eq!(
                chaos.fault(Stage::Sender, &mut rng),
                Some(Fault { code: 451 })
            );
            assert_eq!(chaos.fault(Stage::Recipient, &mut rng), None);
        }
    }

    #[test]
    fn probabilities_are_roughly_honoured() {
        let chaos = Chaos::new(Triggers::parse("Recipient:550:30").expect("valid"), None);
        let mut rng = Rng::new(12345);
        let hits = (0..10_000)
            .filter(|_| chaos.fault(Stage::Recipient, &mut rng).is_some())
            .count();
        assert!((2_700..3_300).contains(&hits), "{hits}");
    }

    #[test]
    fn jim_rejects_and_throttles() {
        let jim = Jim {
            reject_auth_chance: 1.0,
            accept_chance: 0.0,
            link_speed_affect: 1.0,
            ..Jim::default()
        };
        let chaos = Chaos::new(Triggers::default(), Some(jim));
        let mut rng = Rng::new(1);
        assert_eq!(
            chaos.fault(Stage::Authentication, &mut rng),
            Some(Fault { code: 535 })
        );
        let conn = chaos.connection(&mut rng);
        assert!(conn.refuse);
        assert!(
            conn.link_speed
                .is_some_and(|s| (1024.0..=10240.0).contains(&s))
        );
        chaos.set_jim(None);
        assert_eq!(chaos.connection(&mut rng), ConnectionChaos::default());
    }

    #[test]
    fn parsing_and_validation() {
        let t = Triggers::parse("Sender:451:5, authentication:535:100").expect("valid");
        assert_eq!(
            t.sender,
            Trigger {
                error_code: 451,
                probability: 5
            }
        );
        assert_eq!(t.authentication.probability, 100);
        assert!(Triggers::parse("Sender:451").is_err());
        assert!(Triggers::parse("Sender:250:5").is_err());
        assert!(Triggers::parse("Sender:451:101").is_err());
        assert!(Triggers::parse("Helo:451:5").is_err());
        assert!(
            Jim {
                accept_chance: 1.5,
                ..Jim::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Jim {
                link_speed_min: 0.0,
                ..Jim::default()
            }
            .validate()
            .is_err()
        );
        assert!(Jim::default().validate().is_ok());
    }
}
