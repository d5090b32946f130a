//! End-to-end tests of LVZ object control (S2C 0x35 / 0x36): staff
//! commands reach the arena or one player, and a late joiner is sent the
//! arena's object state. Real `zone-supervisor` and `realm-worker`
//! processes, bots over UDP.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use ss_proto::game::{chat_type, ship, ObjectChange, ObjectToggle, S2CPacket};
use ss_tests::bot::Bot;
use ss_tests::scenario::*;
use ss_tests::zone::{TestZone, ZoneOptions};

/// A zone from a fresh folder with a sysop `sysy`.
fn staff_zone(dir: &Path) -> Result<TestZone> {
    let zone_dir = init_zone_folder(dir)?;
    add_staff(&zone_dir, &[("sysy", "sysop")])?;
    TestZone::start_with(ZoneOptions {
        zone_dir: Some(zone_dir),
        ..ZoneOptions::default()
    })
}

fn toggles(bot: &mut Bot) -> Result<Vec<ObjectToggle>> {
    bot.wait_for(WAIT, |p| match p {
        S2CPacket::ToggleObjects(l) => Some(l.clone()),
        _ => None,
    })
    .context("waiting for S2C 0x35")
}

fn changes(bot: &mut Bot) -> Result<Vec<ObjectChange>> {
    bot.wait_for(WAIT, |p| match p {
        S2CPacket::MoveObjects(l) => Some(l.clone()),
        _ => None,
    })
    .context("waiting for S2C 0x36")
}

fn is_object_packet(p: &S2CPacket) -> bool {
    matches!(p, S2CPacket::ToggleObjects(_) | S2CPacket::MoveObjects(_))
}

#[test]
fn staff_objon_reaches_the_arena_and_a_late_joiner_gets_the_state() {
    in_temp_dir("objects", |dir| {
        let zone = staff_zone(dir)?;
        let mut staff = bot_in(&zone, "sysy", "0", ship::SPECTATOR)?;
        let mut early = bot_in(&zone, "early", "0", ship::WARBIRD)?;
        let early_pid = wait_for_player(&mut staff, "early")?;

        staff.chat(chat_type::PUBLIC, -1, "?objon 12")?;
        let got = toggles(&mut early)?;
        ensure!(got == vec![ObjectToggle { id: 12, on: true }], "{got:?}");
        staff.chat(chat_type::PUBLIC, -1, "?objimage 12 3")?;
        let got = changes(&mut early)?;
        ensure!(
            got.len() == 1 && got[0].data.id == 12 && got[0].data.image == 3,
            "{got:?}"
        );

        // Bad input: a message to the caller, nothing to the arena.
        staff.chat(chat_type::PUBLIC, -1, "?objon 40000")?;
        wait_message(&mut staff, "out of range")?;
        // The arena-wide packets above reached the staff bot before that
        // answer; drop them.
        staff.clear_backlog();
        // Private: only that player; the arena's state is unchanged.
        staff.chat(chat_type::PRIVATE, early_pid, "?objoff 30")?;
        let got = toggles(&mut early)?;
        ensure!(got == vec![ObjectToggle { id: 30, on: false }], "{got:?}");
        staff.expect_none_before_marker(is_object_packet)?;

        // A late joiner gets the arena's state after his entry: object 12
        // on with image 3, nothing about 30.
        let mut late = bot_in(&zone, "late", "0", ship::SPECTATOR)?;
        let got = toggles(&mut late)?;
        ensure!(got == vec![ObjectToggle { id: 12, on: true }], "{got:?}");
        let got = changes(&mut late)?;
        ensure!(
            got.len() == 1 && got[0].data.id == 12 && got[0].data.image == 3,
            "{got:?}"
        );
        late.expect_none_before_marker(is_object_packet)?;

        staff.chat(chat_type::PUBLIC, -1, "?objlist")?;
        let line = wait_message(&mut staff, "objects toggled or changed")?;
        ensure!(line.ends_with(": 12"), "{line}");
        Ok(())
    });
}
