//! Map regions in play (`docs/protocol/game-protocol.md` §8.9): an
//! auto-warp region warps a player inside the arena or sends him to
//! another arena; a no-weapons region takes the weapons out of positions
//! sent from inside it. Real binaries, bots over UDP, a map with regions
//! written into a zone folder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use ss_proto::game::{ship, weapon_type, S2CPacket, WeaponInfo};
use ss_proto::map::{AutoWarp, Map, Region, TileRun};
use ss_tests::bot::Bot;
use ss_tests::scenario::*;
use ss_tests::zone::{TestZone, ZoneOptions};

/// A square region of `size` tiles with its top left corner at (x, y).
fn square(name: &str, x: u16, y: u16, size: u16) -> Region {
    Region {
        name: name.into(),
        runs: (y..y + size).map(|y| TileRun { y, x, len: size }).collect(),
        ..Region::default()
    }
}

/// The regions of the test map.
fn regions() -> Vec<Region> {
    vec![
        Region {
            auto_warp: Some(AutoWarp {
                x: 600,
                y: 601,
                arena: None,
            }),
            ..square("warp here", 100, 100, 10)
        },
        Region {
            auto_warp: Some(AutoWarp {
                x: 700,
                y: -1,
                arena: Some("elsewhere".into()),
            }),
            ..square("warp away", 200, 100, 10)
        },
        Region {
            no_weapons: true,
            ..square("no guns", 300, 300, 10)
        },
    ]
}

/// A zone folder whose arenas play on an empty map with [`regions`],
/// checking regions on every newer position.
fn zone_with_regions(dir: &Path) -> Result<(TestZone, PathBuf)> {
    let zone_dir = init_zone_folder(dir)?;
    let maps = zone_dir.join("maps");
    std::fs::create_dir_all(&maps)?;
    std::fs::write(
        maps.join("regions.lvl"),
        Map::new().encode_with_regions(&regions()),
    )?;
    let zone = TestZone::start_with(ZoneOptions {
        zone_dir: Some(zone_dir.clone()),
        overrides: vec![
            "General:Map=regions.lvl".into(),
            "Misc:RegionCheckInterval=0".into(),
        ],
        ..ZoneOptions::default()
    })?;
    Ok((zone, zone_dir))
}

/// Streams positions of `bot` at tile (x, y) until `pred` matches a packet
/// it receives.
fn stream_until<T>(
    bot: &mut Bot,
    x: i16,
    y: i16,
    mut pred: impl FnMut(&S2CPacket) -> Option<T>,
) -> Result<T> {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        bot.send_position(x * 16 + 8, y * 16 + 8, 0, 0, WeaponInfo::NONE)?;
        if let Some(v) = bot.poll_for(STREAM_STEP, &mut pred)? {
            return Ok(v);
        }
    }
    anyhow::bail!("nothing expected arrived while streaming at ({x}, {y})")
}

#[test]
fn an_auto_warp_region_warps_the_player_inside_the_arena() {
    in_temp_dir("autowarp", |dir| {
        let (zone, _) = zone_with_regions(dir)?;
        let mut a = bot_in(&zone, "walker", "0", ship::WARBIRD)?;
        // Outside every region: no warp (checked with a marker).
        for _ in 0..5 {
            a.send_position(50 * 16, 50 * 16, 0, 0, WeaponInfo::NONE)?;
        }
        a.expect_none_before_marker(|p| matches!(p, S2CPacket::WarpTo { .. }))?;
        let to = stream_until(&mut a, 105, 104, |p| match p {
            S2CPacket::WarpTo { x, y } => Some((*x, *y)),
            _ => None,
        })
        .context("the warp of the region")?;
        assert_eq!(to, (600, 601));
        Ok(())
    });
}

#[test]
fn an_auto_warp_region_naming_an_arena_sends_the_player_there_to_its_tile() {
    in_temp_dir("autowarp-arena", |dir| {
        let (zone, _) = zone_with_regions(dir)?;
        let mut a = bot_in(&zone, "traveller", "0", ship::WARBIRD)?;
        let me = pid_of(&a);
        // The move to the other arena starts with a new who-am-I.
        stream_until(&mut a, 205, 105, |p| match p {
            S2CPacket::WhoAmI { pid } if *pid == me => Some(()),
            _ => None,
        })
        .context("being sent to the other arena")?;
        a.wait_for(WAIT, |p| matches!(p, S2CPacket::EnteredArena).then_some(()))
            .context("entering the other arena")?;
        // There he is warped to the region's tile (y kept from where he was).
        let to = a
            .wait_for(WAIT, |p| match p {
                S2CPacket::WarpTo { x, y } => Some((*x, *y)),
                _ => None,
            })
            .context("the warp in the other arena")?;
        assert_eq!(to, (700, 105));
        let mut b = bot_in(&zone, "watcher", "elsewhere", ship::SPECTATOR)?;
        wait_for_player(&mut b, "traveller")?;
        Ok(())
    });
}

#[test]
fn weapons_fired_in_a_no_weapons_region_are_not_relayed() {
    in_temp_dir("noweapons", |dir| {
        let (zone, _) = zone_with_regions(dir)?;
        let mut a = bot_in(&zone, "shooter", "0", ship::WARBIRD)?;
        let mut b = bot_in(&zone, "target", "0", ship::WARBIRD)?;
        let a_pid = pid_of(&a);
        let gun = WeaponInfo::new(weapon_type::BULLET, 1, false, 0, 0, false);
        // Both inside the region; b must have seen a there.
        stream_until_seen(&mut b, &mut a, 305 * 16, 305 * 16)?;
        stream_until_seen(&mut a, &mut b, 305 * 16, 306 * 16)?;
        b.clear_backlog();
        // A spot inside the region that no earlier position used.
        let (sx, sy) = (305 * 16, 306 * 16 + 4);
        let deadline = Instant::now() + WAIT;
        let mut stripped_seen = false;
        while Instant::now() < deadline && !stripped_seen {
            a.send_position(sx, sy, 0, 0, gun)?;
            let got = b.poll_for(STREAM_STEP, |p| match p {
                S2CPacket::LargePosition(l) if l.pid as i16 == a_pid && (l.x, l.y) == (sx, sy) => {
                    Some(l.weapon)
                }
                S2CPacket::SmallPosition(s)
                    if i16::from(s.pid) == a_pid & 0xFF && (s.x, s.y) == (sx, sy) =>
                {
                    Some(WeaponInfo::NONE)
                }
                _ => None,
            })?;
            if let Some(w) = got {
                assert_eq!(
                    w.kind(),
                    weapon_type::NONE,
                    "a weapon fired in the region reached another player"
                );
                stripped_seen = true;
            }
        }
        anyhow::ensure!(stripped_seen, "no position of the shooter arrived");
        // Outside the region the same shot goes through.
        let fired = stream_fire(&mut a, &mut b, a_pid, gun)?;
        assert_eq!(fired, weapon_type::BULLET);
        Ok(())
    });
}

/// `a` fires `gun` from outside every region until `b` sees a weapon of
/// his; returns its type.
fn stream_fire(a: &mut Bot, b: &mut Bot, a_pid: i16, gun: WeaponInfo) -> Result<u8> {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        a.send_position(312 * 16, 306 * 16, 0, 0, gun)?;
        let got = b.poll_for(STREAM_STEP, |p| match p {
            S2CPacket::LargePosition(l) if l.pid as i16 == a_pid && l.weapon.kind() != 0 => {
                Some(l.weapon.kind())
            }
            _ => None,
        })?;
        if let Some(k) = got {
            return Ok(k);
        }
    }
    anyhow::bail!("no shot from outside the region arrived")
}
