//! The rolling realm upgrade, sans-IO (`docs/upgrades.md` §2): one realm
//! at a time, a successor worker is started from the new binary; once it
//! is ready the current worker hands its arena over (its state, then the
//! players, silently) and stops. A successor that does not become ready
//! leaves its realm on the old worker and stops the roll.

use std::collections::VecDeque;
use std::time::Instant;

use super::{Action, ExitCause, RealmState, SlotId, WorkerId, WorkerMsg, ZoneState};

/// A rolling upgrade: the realms still to do, done, skipped, and how it
/// ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roll {
    /// Realms not started yet, in order.
    pub pending: VecDeque<String>,
    /// The realm being upgraded now.
    pub current: Option<String>,
    /// Realms now on the new worker.
    pub upgraded: Vec<String>,
    /// Realms left out, with why (stopped or gone meanwhile).
    pub skipped: Vec<(String, String)>,
    /// The realm whose successor failed, with why: the roll stopped there.
    pub failed: Option<(String, String)>,
    /// Nothing is left to do (all done, or stopped by a failure).
    pub finished: bool,
}

impl Roll {
    /// One line for the operator.
    pub fn summary(&self) -> String {
        let mut s = if let Some((realm, why)) = &self.failed {
            format!(
                "upgrade stopped: realm {realm} keeps its old worker (the new one failed: {why})"
            )
        } else if self.finished {
            "upgrade finished".to_string()
        } else {
            format!(
                "upgrading{}",
                self.current
                    .as_ref()
                    .map(|r| format!(" realm {r}"))
                    .unwrap_or_default()
            )
        };
        s.push_str(&format!("; upgraded: {}", list(&self.upgraded)));
        if !self.skipped.is_empty() {
            let skipped: Vec<String> = self
                .skipped
                .iter()
                .map(|(r, why)| format!("{r} ({why})"))
                .collect();
            s.push_str(&format!("; skipped: {}", skipped.join(", ")));
        }
        if self.finished && !self.pending.is_empty() {
            s.push_str(&format!(
                "; not upgraded: {}",
                list(&self.pending.iter().cloned().collect::<Vec<_>>())
            ));
        }
        s
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

impl ZoneState {
    /// Starts a rolling upgrade of every realm that is not failed, in name
    /// order. Refused while one is under way.
    pub fn start_roll(&mut self, now: Instant) -> Result<(), String> {
        if self.roll.as_ref().is_some_and(|r| !r.finished) {
            return Err("an upgrade is under way already".into());
        }
        let mut names: Vec<String> = self
            .registry
            .iter()
            .filter(|s| s.state != RealmState::Failed)
            .map(|s| s.name.clone())
            .collect();
        names.sort();
        self.roll = Some(Roll {
            pending: names.into(),
            ..Roll::default()
        });
        self.roll_next(now);
        Ok(())
    }

    /// Starts the next realm's successor, skipping realms that cannot be
    /// upgraded now; finishes the roll when none is left.
    fn roll_next(&mut self, now: Instant) {
        let Some(roll) = self.roll.as_mut() else {
            return;
        };
        if roll.finished || roll.current.is_some() {
            return;
        }
        while let Some(name) = roll.pending.pop_front() {
            match self.registry.begin_upgrade(now, &name, &mut self.out) {
                Ok(_) => {
                    roll.current = Some(name);
                    return;
                }
                Err(why) => roll.skipped.push((name, why)),
            }
        }
        roll.finished = true;
    }

    /// The realm the roll is at went away (stopped idle and removed): it is
    /// skipped and the roll goes on.
    pub(super) fn roll_realm_gone(&mut self, now: Instant, name: &str) {
        if let Some(roll) = self.roll.as_mut() {
            if roll.current.as_deref() == Some(name) {
                roll.current = None;
                roll.skipped
                    .push((name.to_string(), "the realm stopped".into()));
            }
        }
        self.roll_next(now);
    }

    /// A successor's hello (see [`ZoneState::worker_hello`]).
    pub fn successor_hello(&mut self, now: Instant, worker: WorkerId, version_ok: bool) -> bool {
        self.registry
            .successor_hello(now, worker, version_ok, &mut self.out)
    }

    /// A successor is ready: its realm's worker is asked to hand over.
    pub fn successor_ready(&mut self, now: Instant, worker: WorkerId) {
        if let Some((slot, old)) = self.registry.successor_ready(now, worker, &mut self.out) {
            self.out.push(Action::BeginHandOver {
                slot,
                old,
                new: worker,
            });
            self.out.push(Action::ToWorker {
                worker: old,
                msg: WorkerMsg::HandOver,
            });
        }
    }

    /// The realm's worker sent its hand-over state: the successor takes
    /// over and the old worker stops. `false` if no hand-over was asked of
    /// this worker.
    pub fn handed_over(&mut self, now: Instant, old: WorkerId) -> bool {
        let Some((slot, new)) = self.registry.handed_over(now, old) else {
            return false;
        };
        self.out.push(Action::CompleteHandOver { slot, old, new });
        self.out.push(Action::ToWorker {
            worker: old,
            msg: WorkerMsg::Shutdown,
        });
        let name = self.registry.get(slot).map(|s| s.name.clone());
        if let Some(roll) = self.roll.as_mut() {
            if roll.current.is_some() && roll.current == name {
                roll.current = None;
                roll.upgraded.extend(name);
            }
        }
        self.roll_next(now);
        true
    }

    /// A successor ended before taking over. Returns its realm and why.
    /// Failing to become ready stops the roll (the realm keeps its old
    /// worker); an upgrade aborted because the realm itself ended or
    /// stopped only skips that realm.
    pub fn successor_exited(
        &mut self,
        now: Instant,
        worker: WorkerId,
        cause: ExitCause,
    ) -> Option<(SlotId, ExitCause)> {
        let (slot, cause, ready) = self.registry.successor_exited(worker, cause)?;
        if ready {
            // The old worker was asked to hand over and serves nobody now:
            // it is restarted, and its players re-entered, as after a crash.
            if let Some(old) = self.registry.get(slot).and_then(|s| s.worker_id()) {
                self.registry.kill(
                    old,
                    ExitCause::UpgradeAborted("the new worker ended during the hand-over".into()),
                    &mut self.out,
                );
            }
        }
        let name = self
            .registry
            .get(slot)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        if let Some(roll) = self.roll.as_mut() {
            if roll.current.as_deref() == Some(name.as_str()) {
                roll.current = None;
                if let ExitCause::UpgradeAborted(why) = &cause {
                    roll.skipped.push((name, why.clone()));
                } else {
                    roll.failed = Some((name, cause.to_string()));
                    roll.finished = true;
                }
            }
        }
        self.roll_next(now);
        Some((slot, cause))
    }
}
