//! The runtime's time: the system clock, or a clock a test moves.
//!
//! The engine takes `now` with every input; the runtime reads it here and
//! sleeps here until the engine's next deadline. With [`Clock::manual`]
//! nothing happens until [`ManualClock::advance`] moves time, so a test can
//! walk through "above 26 °C for 10 minutes" in microseconds, with real
//! Agents and a real broker around it. (Request timeouts of the USP client
//! stay on tokio's clock: they guard the network, not the rules.)

use std::{
    fmt,
    pin::Pin,
    sync::Arc,
    time::{Duration, SystemTime},
};

use tokio::{sync::watch, time::Sleep};

/// Where the runtime reads the time.
#[derive(Clone)]
pub struct Clock {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    System,
    Manual(watch::Receiver<SystemTime>),
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::System => f.write_str("Clock::System"),
            Kind::Manual(rx) => write!(f, "Clock::Manual({:?})", *rx.borrow()),
        }
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

/// Moves a [`Clock::manual`] clock.
#[derive(Debug, Clone)]
pub struct ManualClock {
    tx: Arc<watch::Sender<SystemTime>>,
}

impl ManualClock {
    /// The clock's time.
    pub fn now(&self) -> SystemTime {
        *self.tx.borrow()
    }

    /// Moves time forward by `d`; runtimes on this clock run what fell due.
    pub fn advance(&self, d: Duration) {
        self.tx.send_modify(|t| *t += d);
    }

    /// Sets the time (backwards too: the engine then waits for its
    /// deadlines again, as after a wall-clock correction).
    pub fn set(&self, t: SystemTime) {
        self.tx.send_replace(t);
    }
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Clock {
        Clock { kind: Kind::System }
    }

    /// A clock that stands at `start` until moved by the returned
    /// [`ManualClock`] (shared by every runtime given a clone).
    pub fn manual(start: SystemTime) -> (Clock, ManualClock) {
        let (tx, rx) = watch::channel(start);
        (Clock { kind: Kind::Manual(rx) }, ManualClock { tx: Arc::new(tx) })
    }

    /// The time now.
    pub fn now(&self) -> SystemTime {
        match &self.kind {
            Kind::System => SystemTime::now(),
            Kind::Manual(rx) => *rx.borrow(),
        }
    }

    /// An alarm for the runtime's loop.
    pub(crate) fn alarm(&self) -> Alarm {
        match &self.kind {
            Kind::System => {
                Alarm::System { sleep: Box::pin(tokio::time::sleep(Duration::ZERO)), armed: None }
            }
            Kind::Manual(rx) => Alarm::Manual(rx.clone()),
        }
    }
}

/// Wakes the runtime at the engine's next deadline. One sleep is kept and
/// re-armed only when the deadline changes, so a loop turn that does not
/// move the deadline registers no timer.
pub(crate) enum Alarm {
    System { sleep: Pin<Box<Sleep>>, armed: Option<SystemTime> },
    Manual(watch::Receiver<SystemTime>),
}

impl Alarm {
    /// Completes once `deadline` has come; never when it is `None`.
    pub(crate) async fn wait(&mut self, deadline: Option<SystemTime>) {
        let Some(deadline) = deadline else { return std::future::pending().await };
        match self {
            Alarm::System { sleep, armed } => {
                if *armed != Some(deadline) {
                    let wait = deadline.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
                    sleep.as_mut().reset(tokio::time::Instant::now() + wait);
                    *armed = Some(deadline);
                }
                sleep.as_mut().await;
                // Re-read the wall clock next time: the monotonic sleep may
                // end a hair before the wall clock reaches the deadline.
                *armed = None;
            }
            Alarm::Manual(rx) => loop {
                if *rx.borrow_and_update() >= deadline {
                    return;
                }
                if rx.changed().await.is_err() {
                    // The ManualClock is gone: time stands still for good.
                    return std::future::pending().await;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_alarm_waits_for_the_clock_to_reach_the_deadline() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let (clock, hand) = Clock::manual(t0);
        let mut alarm = clock.alarm();
        let deadline = t0 + Duration::from_secs(600);
        let waiting = tokio::spawn(async move { alarm.wait(Some(deadline)).await });
        hand.advance(Duration::from_secs(599));
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        hand.advance(Duration::from_secs(1));
        waiting.await.unwrap();
        assert_eq!(clock.now(), deadline);
    }

    #[tokio::test]
    async fn a_system_alarm_fires_and_none_never_does() {
        let mut alarm = Clock::system().alarm();
        alarm.wait(Some(SystemTime::now() + Duration::from_millis(5))).await;
        alarm.wait(Some(SystemTime::now() - Duration::from_secs(1))).await;
        let never = tokio::time::timeout(Duration::from_millis(20), alarm.wait(None)).await;
        assert!(never.is_err());
    }
}
