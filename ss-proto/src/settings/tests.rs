use super::*;

/// Ship settings of the distributed ASSS default arena that are the same
/// for all eight ships (`docs/protocol/client-settings.md` §3; zero values
/// omitted).
const SHIP_COMMON: &[(&str, i32)] = &[
    ("SuperTime", 6000),
    ("ShieldsTime", 4000),
    ("GravityTopSpeed", 100),
    ("BulletFireEnergy", 20),
    ("MultiFireEnergy", 30),
    ("BombFireEnergy", 300),
    ("BombFireEnergyUpgrade", 50),
    ("LandmineFireEnergy", 270),
    ("LandmineFireEnergyUpgrade", 150),
    ("BulletSpeed", 2000),
    ("BombSpeed", 2000),
    ("MultiFireAngle", 500),
    ("CloakEnergy", 100),
    ("StealthEnergy", 333),
    ("AntiWarpEnergy", 100),
    ("XRadarEnergy", 250),
    ("MaximumRotation", 230),
    ("MaximumThrust", 17),
    ("MaximumSpeed", 3250),
    ("MaximumRecharge", 1150),
    ("MaximumEnergy", 1700),
    ("InitialRotation", 200),
    ("InitialThrust", 15),
    ("InitialSpeed", 2010),
    ("InitialRecharge", 400),
    ("InitialEnergy", 1000),
    ("UpgradeRotation", 40),
    ("UpgradeThrust", 2),
    ("UpgradeSpeed", 250),
    ("UpgradeRecharge", 166),
    ("UpgradeEnergy", 100),
    ("AfterburnerEnergy", 1200),
    ("BombThrust", 400),
    ("BurstSpeed", 3000),
    ("TurretThrustPenalty", 1),
    ("TurretSpeedPenalty", 125),
    ("BulletFireDelay", 25),
    ("MultiFireDelay", 50),
    ("BombFireDelay", 150),
    ("LandmineFireDelay", 125),
    ("RocketTime", 1000),
    ("InitialBounty", 500),
    ("DamageFactor", 30),
    ("PrizeShareLimit", 100),
    ("SoccerThrowTime", 1200),
    ("SoccerBallFriction", 12),
    ("SoccerBallProximity", 64),
    ("SoccerBallSpeed", 2500),
    ("TurretLimit", 5),
    ("BurstShrapnel", 24),
    ("MaxMines", 5),
    ("RepelMax", 3),
    ("BurstMax", 3),
    ("DecoyMax", 3),
    ("ThorMax", 3),
    ("RocketMax", 3),
    ("PortalMax", 3),
    ("ShrapnelRate", 2),
    ("MaxGuns", 3),
];

/// Ship settings that differ per ship (Wb Jav Spi Lev Ter Wea Lan Sha).
const SHIP_EACH: &[(&str, [i32; 8])] = &[
    ("Gravity", [1500, 1500, 1500, 1500, 1500, 1500, 1500, 0]),
    ("BrickMax", [3, 3, 3, 3, 3, 3, 100, 3]),
    ("InitialBrick", [0, 0, 0, 0, 0, 0, 100, 0]),
    ("BombBounceCount", [0, 0, 0, 0, 0, 0, 1, 0]),
    ("ShrapnelMax", [8, 8, 8, 8, 8, 8, 8, 31]),
    ("CloakStatus", [0, 0, 2, 0, 0, 0, 0, 1]),
    ("StealthStatus", [1, 1, 1, 0, 1, 1, 1, 1]),
    ("XRadarStatus", [0, 1, 1, 1, 1, 1, 1, 1]),
    ("AntiWarpStatus", [1, 0, 1, 1, 1, 1, 1, 1]),
    ("MaxBombs", [2, 2, 2, 3, 2, 2, 2, 2]),
    ("DoubleBarrel", [0, 0, 0, 0, 1, 0, 0, 0]),
    ("EmpBomb", [0, 0, 0, 0, 0, 1, 0, 0]),
    ("SeeMines", [0, 0, 0, 0, 0, 1, 0, 0]),
];

/// Arena-wide settings as written in the config (before the ×1000 rule;
/// zero values omitted), `docs/protocol/client-settings.md` §5.
const ARENA: &[(&str, &str, i32)] = &[
    ("Bullet", "BulletDamageLevel", 200),
    ("Bomb", "BombDamageLevel", 7500),
    ("Bullet", "BulletAliveTime", 550),
    ("Bomb", "BombAliveTime", 8000),
    ("Misc", "DecoyAliveTime", 1500),
    ("Misc", "SafetyLimit", 90000),
    ("Misc", "FrequencyShift", 900),
    ("Team", "MaxFrequency", 9999),
    ("Repel", "RepelSpeed", 5000),
    ("Mine", "MineAliveTime", 12000),
    ("Burst", "BurstDamageLevel", 700),
    ("Bullet", "BulletDamageUpgrade", 100),
    ("Flag", "FlagDropDelay", 3000),
    ("Flag", "EnterGameFlaggingDelay", 1000),
    ("Rocket", "RocketThrust", 25),
    ("Rocket", "RocketSpeed", 5500),
    ("Shrapnel", "InactiveShrapDamage", 3),
    ("Wormhole", "SwitchTime", 100000),
    ("Shrapnel", "ShrapnelSpeed", 3000),
    ("Latency", "SendRoutePercent", 500),
    ("Bomb", "BombExplodeDelay", 150),
    ("Misc", "SendPositionDelay", 20),
    ("Bomb", "BombExplodePixels", 80),
    ("Prize", "DeathPrizeTime", 800),
    ("Bomb", "JitterTime", 72),
    ("Kill", "EnterDelay", 200),
    ("Prize", "EngineShutdownTime", 700),
    ("Bomb", "ProximityDistance", 3),
    ("Kill", "BountyIncreaseForKill", 6),
    ("Misc", "BounceFactor", 22),
    ("Radar", "MapZoomFactor", 10),
    ("Repel", "RepelTime", 225),
    ("Repel", "RepelDistance", 512),
    ("Misc", "TickerDelay", 1000),
    ("Flag", "FlaggerOnRadar", 1),
    ("Flag", "FlaggerKillMultiplier", 2),
    ("Prize", "PrizeFactor", 10000),
    ("Prize", "PrizeDelay", 700),
    ("Prize", "MinimumVirtual", 10),
    ("Prize", "UpgradeVirtual", 6),
    ("Prize", "PrizeMaxExist", 8000),
    ("Prize", "PrizeMinExist", 4000),
    ("Prize", "PrizeNegativeFactor", 300),
    ("Door", "DoorDelay", 600),
    ("Toggle", "AntiWarpPixels", 1000),
    ("Door", "DoorMode", -2),
    ("Flag", "FlagBlankDelay", 200),
    ("Flag", "NoDataFlagDropDelay", 500),
    ("Prize", "MultiPrizeCount", 10),
    ("Brick", "BrickTime", 12000),
    ("Misc", "WarpRadiusLimit", 20),
    ("Bomb", "EBombShutdownTime", 400),
    ("Bomb", "EBombDamagePercent", 1000),
    ("Radar", "RadarNeutralSize", 128),
    ("Misc", "WarpPointDelay", 6000),
    ("Bomb", "BBombDamagePercent", 1000),
    ("Shrapnel", "ShrapnelDamagePercent", 1000),
    ("Latency", "ClientSlowPacketTime", 50),
    ("Flag", "FlaggerFireCostPercent", 1000),
    ("Flag", "FlaggerDamagePercent", 1000),
    ("Soccer", "PassDelay", 20),
    ("Soccer", "BallBlankDelay", 200),
    ("Latency", "S2CNoDataKickoutDelay", 500),
    ("Latency", "ClientSlowPacketSampleSize", 100),
    ("Shrapnel", "Random", 1),
    ("Soccer", "BallBounce", 1),
    ("Soccer", "AllowBombs", 1),
    ("Soccer", "AllowGuns", 1),
    ("Team", "MaxPerTeam", 6),
    ("Mine", "TeamMaxMines", 12),
    ("Wormhole", "GravityBombs", 1),
    ("Bomb", "BombSafety", 1),
    ("Message", "AllowAudioMessages", 1),
    ("Prize", "PrizeHideCount", 10),
    ("Flag", "CarryFlags", 1),
    ("Flag", "FlaggerGunUpgrade", 1),
    ("Flag", "FlaggerBombUpgrade", 1),
    ("Soccer", "UseFlagger", 1),
    ("Soccer", "BallLocation", 1),
];

/// Prize weights in prize-number order (`docs/protocol/client-settings.md`
/// §5.4).
const WEIGHTS: [i32; 28] = [
    40, 40, 40, 40, 25, 40, 7, 25, 25, 25, 40, 40, 10, 0, 30, 25, 10, 10, 30, 25, 70, 70, 40, 30,
    130, 200, 50, 60,
];

fn default_arena() -> HashMap<(String, String), i32> {
    let mut conf = HashMap::new();
    let mut put = |section: &str, key: &str, value: i32| {
        conf.insert((section.to_owned(), key.to_owned()), value);
    };
    for (ship, name) in SHIP_NAMES.iter().enumerate() {
        for &(key, value) in SHIP_COMMON {
            put(name, key, value);
        }
        for (key, values) in SHIP_EACH {
            put(name, key, values[ship]);
        }
    }
    for &(section, key, value) in ARENA {
        put(section, key, value);
    }
    for (key, value) in PRIZE_WEIGHTS.iter().zip(WEIGHTS) {
        put(PRIZE_WEIGHT_SECTION, key, value);
    }
    conf
}

#[test]
fn layout_covers_the_packet() {
    assert_eq!(SETTINGS_LEN, 1428);
    // Every byte except the type byte, reserved header bits, ship padding
    // and unused high bits belongs to exactly the fields the doc lists.
    let mut owned = [0u32; SETTINGS_LEN * 8];
    for spec in fields() {
        let (lo, width) = match spec.kind {
            FieldKind::I32 => (0, 32),
            FieldKind::I16 => (0, 16),
            FieldKind::U8 => (0, 8),
            FieldKind::Bits { shift, width } => (u32::from(shift), u32::from(width)),
        };
        for bit in lo..lo + width {
            owned[spec.offset * 8 + bit as usize] += 1;
        }
    }
    // Misc:SlowFrameCheck etc. occur twice by name but never overlap.
    assert!(owned.iter().all(|&n| n <= 1));
    let covered = owned.iter().filter(|&&n| n == 1).count();
    // Not covered: type byte, header bits 15 and 21–31; per ship bits
    // 11–15 at rel. 28 and the 16 padding bytes; spawn bits 29–31.
    let expected = SETTINGS_LEN * 8 - (8 + 1 + 11) - 8 * (5 + 16 * 8) - 4 * 3;
    assert_eq!(covered, expected);
}

#[test]
fn all_zero_checksum_vectors() {
    let mut bytes = [0u8; SETTINGS_LEN];
    bytes[0] = 0x0F;
    let packet = ArenaSettings::from_bytes(&bytes).unwrap();
    assert_eq!(packet.checksum(0), 0x0000_000F);
    assert_eq!(packet.checksum(0x1234_5678), 0x62FC_9557);
}

#[test]
fn default_arena_packet() {
    let packet = ArenaSettings::build(&default_arena());
    let bytes = packet.as_bytes();
    assert_eq!(
        bytes[..32],
        [
            0x0f, 0x00, 0x00, 0x00, 0x70, 0x17, 0x00, 0x00, 0xa0, 0x0f, 0x00, 0x00, 0xdc, 0x05,
            0x64, 0x00, 0x14, 0x00, 0x1e, 0x00, 0x2c, 0x01, 0x32, 0x00, 0x0e, 0x01, 0x96, 0x00,
            0xd0, 0x07, 0xd0, 0x07
        ]
    );
    let weapon_words = [
        0x0231_1048u32,
        0x0230_5048,
        0x0231_5848,
        0x0331_4048,
        0x0631_5048,
        0x1A31_5048,
        0x0231_5048,
        0x0231_545F,
    ];
    for (ship, word) in weapon_words.iter().enumerate() {
        let at = SHIPS_OFFSET + ship * SHIP_BLOCK_LEN + 124;
        assert_eq!(bytes[at..at + 4], word.to_le_bytes(), "ship {ship}");
    }
    assert_eq!(crc32fast::hash(bytes), 0x8bff_37f7);
    assert_eq!(packet.checksum(0), 0x3E88_3C63);
    assert_eq!(packet.checksum(0x1234_5678), 0x7F10_42BB);
    assert_eq!(packet.checksum(0xDEAD_BEEF), 0x8A9E_03E8);
}

#[test]
fn field_access_and_rules() {
    let packet = ArenaSettings::build(&default_arena());
    assert_eq!(packet.field("Bomb", "BombDamageLevel"), Some(7_500_000));
    assert_eq!(packet.field("door", "doormode"), Some(-2));
    assert_eq!(packet.ship_field(7, "ShrapnelMax"), Some(31));
    assert_eq!(packet.ship_field(6, "BrickMax"), Some(100));
    assert_eq!(packet.ship_field(8, "BrickMax"), None);
    assert_eq!(packet.field("Nope", "Nothing"), None);
    assert_eq!(packet.prize_weights()[25], 200);
    let round = ArenaSettings::from_bytes(packet.as_bytes()).unwrap();
    assert_eq!(round, packet);

    // Truncation, MapZoomFactor 0 → 1, bit-field masking, spawn fields.
    let lookup = FnLookup(|section: &str, key: &str| match (section, key) {
        ("Misc", "BounceFactor") => 0x12345,
        ("Team", "MaxPerTeam") => 300,
        ("Warbird", "Radius") => 0x1FF,
        ("Warbird", "SeeBombLevel") => 5,
        ("Spawn", "Team1-Y") => 1023,
        ("Spawn", "Team1-Radius") => 0x3FF,
        ("Misc", "MaxTimerDrift") => 9,
        _ => 0,
    });
    let packet = ArenaSettings::build(&lookup);
    assert_eq!(packet.field("Radar", "MapZoomFactor"), Some(1));
    assert_eq!(packet.field("Misc", "BounceFactor"), Some(0x2345));
    assert_eq!(packet.field("Team", "MaxPerTeam"), Some(300 - 256));
    assert_eq!(packet.ship_field(0, "Radius"), Some(0xFF));
    assert_eq!(packet.ship_field(0, "SeeBombLevel"), Some(1));
    assert_eq!(packet.ship_field(0, "DisableFastShooting"), Some(0));
    let b = packet.as_bytes();
    assert_eq!(b[4 + 28..4 + 30], [0xF9, 0x07]);
    assert_eq!(b[1240..1244], (1023u32 << 10 | 0x1FF << 20).to_le_bytes());
    assert_eq!(b[0..4], [0x0F, 0x00, 0x01, 0x00]);

    let mut packet = packet;
    assert!(packet.set_field("Flag", "CarryFlags", 2));
    assert_eq!(packet.field("Flag", "CarryFlags"), Some(2));
    assert!(!packet.set_field("Flag", "Nope", 2));
}

#[test]
fn from_bytes_rejects_bad_packets() {
    assert_eq!(
        ArenaSettings::from_bytes(&[0x0F; 10]),
        Err(SettingsError::BadLength(10))
    );
    assert_eq!(
        ArenaSettings::from_bytes(&[0; SETTINGS_LEN]),
        Err(SettingsError::BadType(0))
    );
}

// ---- properties ----

use proptest::prelude::*;

/// What `field` reads back after `set_field(value)` on a field of `kind`.
fn stored(kind: FieldKind, value: i32) -> i32 {
    match kind {
        FieldKind::I32 => value,
        FieldKind::I16 => i32::from(value as i16),
        FieldKind::U8 => i32::from(value as u8),
        FieldKind::Bits { width, .. } => (value as u32 & ((1u64 << width) - 1) as u32) as i32,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Arbitrary bytes never panic the decoder; it accepts exactly the
    /// 1428-byte packets of type 0x0F, unchanged.
    #[test]
    fn from_bytes_never_panics(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..1600),
            proptest::collection::vec(any::<u8>(), SETTINGS_LEN),
        ]
    ) {
        match ArenaSettings::from_bytes(&bytes) {
            Ok(s) => prop_assert_eq!(&s.as_bytes()[..], &bytes[..]),
            Err(_) => prop_assert!(bytes.len() != SETTINGS_LEN || bytes[0] != SETTINGS_PACKET_TYPE),
        }
    }

    /// A received packet re-encodes to the same bytes, and every field reads
    /// back what writing its own value stores (decode → encode → decode).
    #[test]
    fn received_packets_round_trip(body in proptest::collection::vec(any::<u8>(), SETTINGS_LEN - 1)) {
        let mut bytes = vec![SETTINGS_PACKET_TYPE];
        bytes.extend_from_slice(&body);
        let s = ArenaSettings::from_bytes(&bytes).expect("a valid packet");
        let again = ArenaSettings::from_bytes(s.as_bytes()).expect("re-decodes");
        prop_assert_eq!(again.as_bytes(), s.as_bytes());
        for f in fields().step_by(7) {
            let v = s.field(f.section, f.key).expect("a listed field");
            let mut copy = again.clone();
            prop_assert!(copy.set_field(f.section, f.key, v));
            prop_assert_eq!(copy.field(f.section, f.key), Some(v));
        }
    }

    /// `set_field` then `field` gives the value truncated to the field (to
    /// the first of two places for the names that occur twice, which is
    /// the one `field` reads).
    #[test]
    fn set_field_reads_back(pick in any::<proptest::sample::Index>(), value in any::<i32>()) {
        let all: Vec<FieldSpec> = fields().collect();
        let picked = all[pick.index(all.len())];
        let f = *all
            .iter()
            .find(|s| s.section == picked.section && s.key == picked.key)
            .expect("the picked name");
        let mut bytes = vec![0u8; SETTINGS_LEN];
        bytes[0] = SETTINGS_PACKET_TYPE;
        let mut s = ArenaSettings::from_bytes(&bytes).expect("a valid packet");
        prop_assert!(s.set_field(f.section, f.key, value));
        prop_assert_eq!(
            s.field(f.section, f.key),
            Some(stored(f.kind, value)),
            "{}:{} {:?} at {}", f.section, f.key, f.kind, f.offset
        );
        prop_assert_eq!(s.as_bytes()[0], SETTINGS_PACKET_TYPE);
    }
}
