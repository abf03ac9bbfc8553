//! The network and clock model, as plain data a scenario carries.

use serde::{Deserialize, Serialize};

use crate::rng::Draw;
use crate::Time;

/// How long a message takes, in microseconds of true time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Delay {
    Constant {
        us: Time,
    },
    Uniform {
        min: Time,
        max: Time,
    },
    /// `min` plus an exponentially distributed extra with mean `mean`.
    Exponential {
        min: Time,
        mean: Time,
    },
}

impl Delay {
    /// A delay from one uniform draw in [0, 1).
    pub(crate) fn sample(&self, u: f64) -> Time {
        match *self {
            Delay::Constant { us } => us,
            Delay::Uniform { min, max } => min + ((max - min + 1) as f64 * u) as Time,
            Delay::Exponential { min, mean } => min + (-(1.0 - u).ln() * mean as f64).round() as Time,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        match *self {
            Delay::Constant { us } if us < 0 => Err(format!("delay is negative ({us} us)")),
            Delay::Uniform { min, .. } if min < 0 => Err(format!("delay minimum is negative ({min} us)")),
            Delay::Uniform { min, max } if max < min => {
                Err(format!("delay maximum {max} us is below the minimum {min} us"))
            }
            Delay::Exponential { min, mean } if min < 0 || mean < 0 => {
                Err(format!("delay minimum ({min} us) and mean ({mean} us) must not be negative"))
            }
            _ => Ok(()),
        }
    }
}

/// What the network does to messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Network {
    pub delay: Delay,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message arrives twice.
    pub duplicate: f64,
    /// FIFO channels: messages between two nodes arrive in send order.
    /// Otherwise a later message may overtake an earlier one.
    pub fifo: bool,
    /// One broadcast is one message that reaches every other node.
    pub hardware_broadcast: bool,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            delay: Delay::Uniform { min: 1_000, max: 10_000 },
            loss: 0.0,
            duplicate: 0.0,
            fifo: false,
            hardware_broadcast: false,
        }
    }
}

impl Network {
    /// A network that delivers every message after exactly `us`, in order.
    pub fn reliable(us: Time) -> Self {
        Network { delay: Delay::Constant { us }, fifo: true, ..Network::default() }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        self.delay.validate()?;
        for (name, p) in [("loss", self.loss), ("duplicate", self.duplicate)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} probability {p} is not between 0 and 1"));
            }
        }
        Ok(())
    }

    /// The network's fate for one message on one channel. Always takes the
    /// same number of draws, so the k-th message on a channel meets the same
    /// fate however much other traffic there is.
    pub(crate) fn fate(&self, draw: &mut impl Draw) -> Fate {
        let lost = draw.unit() < self.loss;
        let duplicated = draw.unit() < self.duplicate;
        let first = self.delay.sample(draw.unit());
        let second = self.delay.sample(draw.unit());
        Fate { lost, first, second: duplicated.then_some(second) }
    }
}

pub(crate) struct Fate {
    pub lost: bool,
    pub first: Time,
    /// The duplicate's delay, if the message is duplicated.
    pub second: Option<Time>,
}

/// A node's hardware clock: `reading = offset + t * (1 + drift)` plus any
/// adjustments the node makes itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClockModel {
    /// Rate error: -0.01 means the clock ticks 990 times where it should 1000.
    pub drift: f64,
    /// Reading at true time 0, in microseconds.
    pub offset: Time,
}

impl ClockModel {
    pub fn reading(&self, true_time: Time) -> Time {
        self.offset + true_time + (true_time as f64 * self.drift).round() as Time
    }

    /// How much true time passes while this clock advances by `local`.
    pub fn true_span(&self, local: Time) -> Time {
        (local as f64 / (1.0 + self.drift)).ceil() as Time
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if !(self.drift > -0.5 && self.drift < 0.5) {
            return Err(format!("clock drift {} is outside (-0.5, 0.5)", self.drift));
        }
        Ok(())
    }
}
