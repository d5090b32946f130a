//! The field layout of the 1428-byte arena settings packet as data tables
//! (`docs/protocol/client-settings.md` §1–§5).

/// How a field is stored in the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Little-endian `i32`.
    I32,
    /// Little-endian `i16`.
    I16,
    /// One byte (read back unsigned).
    U8,
    /// `width` bits starting at bit `shift` of the little-endian `u32` at
    /// the field's offset (read back unsigned).
    Bits {
        /// Position of the lowest bit.
        shift: u8,
        /// Number of bits.
        width: u8,
    },
}

/// One settings field: where its value comes from and where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// Config section (the ship name for ship fields).
    pub section: &'static str,
    /// Config key.
    pub key: &'static str,
    /// Byte offset in the packet.
    pub offset: usize,
    /// Storage type.
    pub kind: FieldKind,
    /// Factor applied to the config value before storing (1 or 1000).
    pub scale: i32,
}

/// Total length of the packet.
pub const SETTINGS_LEN: usize = 1428;
/// Config section names of the eight ships, in packet order.
pub const SHIP_NAMES: [&str; 8] = [
    "Warbird",
    "Javelin",
    "Spider",
    "Leviathan",
    "Terrier",
    "Weasel",
    "Lancaster",
    "Shark",
];
/// Offset of the first ship block.
pub const SHIPS_OFFSET: usize = 4;
/// Size of one ship block.
pub const SHIP_BLOCK_LEN: usize = 144;
const LONGS_OFFSET: usize = 1156;
const SPAWN_OFFSET: usize = 1236;
const SHORTS_OFFSET: usize = 1252;
const BYTES_OFFSET: usize = 1368;
const PRIZE_WEIGHTS_OFFSET: usize = 1400;

const fn bits(shift: u8, width: u8) -> FieldKind {
    FieldKind::Bits { shift, width }
}

/// Header bit-field at offset 0, after the type byte (bits 15 and 21–31
/// are unused).
const HEADER_BITS: [(&str, &str, FieldKind); 8] = [
    ("Bullet", "ExactDamage", bits(8, 1)),
    ("Spectator", "HideFlags", bits(9, 1)),
    ("Spectator", "NoXRadar", bits(10, 1)),
    ("Misc", "SlowFrameCheck", bits(11, 3)),
    ("Misc", "DisableScreenshot", bits(14, 1)),
    ("Misc", "MaxTimerDrift", bits(16, 3)),
    ("Soccer", "DisableWallPass", bits(19, 1)),
    ("Soccer", "DisableBallKilling", bits(20, 1)),
];

/// Ship `i32` fields at relative offsets 0 and 4.
const SHIP_LONGS: [&str; 2] = ["SuperTime", "ShieldsTime"];

/// Ship `i16` fields from relative offset 8; "" marks the bit-field at
/// relative offset 28 (see [`SHIP_MISC_BITS`]).
const SHIP_SHORTS: [&str; 49] = [
    "Gravity",
    "GravityTopSpeed",
    "BulletFireEnergy",
    "MultiFireEnergy",
    "BombFireEnergy",
    "BombFireEnergyUpgrade",
    "LandmineFireEnergy",
    "LandmineFireEnergyUpgrade",
    "BulletSpeed",
    "BombSpeed",
    "",
    "MultiFireAngle",
    "CloakEnergy",
    "StealthEnergy",
    "AntiWarpEnergy",
    "XRadarEnergy",
    "MaximumRotation",
    "MaximumThrust",
    "MaximumSpeed",
    "MaximumRecharge",
    "MaximumEnergy",
    "InitialRotation",
    "InitialThrust",
    "InitialSpeed",
    "InitialRecharge",
    "InitialEnergy",
    "UpgradeRotation",
    "UpgradeThrust",
    "UpgradeSpeed",
    "UpgradeRecharge",
    "UpgradeEnergy",
    "AfterburnerEnergy",
    "BombThrust",
    "BurstSpeed",
    "TurretThrustPenalty",
    "TurretSpeedPenalty",
    "BulletFireDelay",
    "MultiFireDelay",
    "BombFireDelay",
    "LandmineFireDelay",
    "RocketTime",
    "InitialBounty",
    "DamageFactor",
    "PrizeShareLimit",
    "AttachBounty",
    "SoccerThrowTime",
    "SoccerBallFriction",
    "SoccerBallProximity",
    "SoccerBallSpeed",
];

/// Ship 8-bit fields from relative offset 106.
const SHIP_BYTES: [&str; 18] = [
    "TurretLimit",
    "BurstShrapnel",
    "MaxMines",
    "RepelMax",
    "BurstMax",
    "DecoyMax",
    "ThorMax",
    "BrickMax",
    "RocketMax",
    "PortalMax",
    "InitialRepel",
    "InitialBurst",
    "InitialBrick",
    "InitialRocket",
    "InitialThor",
    "InitialDecoy",
    "InitialPortal",
    "BombBounceCount",
];

/// The 16-bit field at ship relative offset 28.
const SHIP_MISC_OFFSET: usize = 28;
const SHIP_MISC_BITS: [(&str, FieldKind); 3] = [
    ("SeeBombLevel", bits(0, 2)),
    ("DisableFastShooting", bits(2, 1)),
    ("Radius", bits(3, 8)),
];

/// The weapon/ability bit-field at ship relative offset 124.
const SHIP_WEAPONS_OFFSET: usize = 124;
const SHIP_WEAPON_BITS: [(&str, FieldKind); 14] = [
    ("ShrapnelMax", bits(0, 5)),
    ("ShrapnelRate", bits(5, 5)),
    ("CloakStatus", bits(10, 2)),
    ("StealthStatus", bits(12, 2)),
    ("XRadarStatus", bits(14, 2)),
    ("AntiWarpStatus", bits(16, 2)),
    ("InitialGuns", bits(18, 2)),
    ("MaxGuns", bits(20, 2)),
    ("InitialBombs", bits(22, 2)),
    ("MaxBombs", bits(24, 2)),
    ("DoubleBarrel", bits(26, 1)),
    ("EmpBomb", bits(27, 1)),
    ("SeeMines", bits(28, 1)),
    ("Unused1", bits(29, 3)),
];

/// Arena-wide `i32` settings at offset 1156, with their scale factor.
const LONGS: [(&str, &str, i32); 20] = [
    ("Bullet", "BulletDamageLevel", 1000),
    ("Bomb", "BombDamageLevel", 1000),
    ("Bullet", "BulletAliveTime", 1),
    ("Bomb", "BombAliveTime", 1),
    ("Misc", "DecoyAliveTime", 1),
    ("Misc", "SafetyLimit", 1),
    ("Misc", "FrequencyShift", 1),
    ("Team", "MaxFrequency", 1),
    ("Repel", "RepelSpeed", 1),
    ("Mine", "MineAliveTime", 1),
    ("Burst", "BurstDamageLevel", 1000),
    ("Bullet", "BulletDamageUpgrade", 1000),
    ("Flag", "FlagDropDelay", 1),
    ("Flag", "EnterGameFlaggingDelay", 1),
    ("Rocket", "RocketThrust", 1),
    ("Rocket", "RocketSpeed", 1),
    ("Shrapnel", "InactiveShrapDamage", 1000),
    ("Wormhole", "SwitchTime", 1),
    ("Misc", "ActivateAppShutdownTime", 1),
    ("Shrapnel", "ShrapnelSpeed", 1),
];

/// Spawn keys of team slots 0–3 (one `u32` each from offset 1236).
const SPAWN_KEYS: [[&str; 3]; 4] = [
    ["Team0-X", "Team0-Y", "Team0-Radius"],
    ["Team1-X", "Team1-Y", "Team1-Radius"],
    ["Team2-X", "Team2-Y", "Team2-Radius"],
    ["Team3-X", "Team3-Y", "Team3-Radius"],
];
const SPAWN_BITS: [FieldKind; 3] = [bits(0, 10), bits(10, 10), bits(20, 9)];

/// Arena-wide `i16` settings at offset 1252.
const SHORTS: [(&str, &str); 58] = [
    ("Latency", "SendRoutePercent"),
    ("Bomb", "BombExplodeDelay"),
    ("Misc", "SendPositionDelay"),
    ("Bomb", "BombExplodePixels"),
    ("Prize", "DeathPrizeTime"),
    ("Bomb", "JitterTime"),
    ("Kill", "EnterDelay"),
    ("Prize", "EngineShutdownTime"),
    ("Bomb", "ProximityDistance"),
    ("Kill", "BountyIncreaseForKill"),
    ("Misc", "BounceFactor"),
    ("Radar", "MapZoomFactor"),
    ("Kill", "MaxBonus"),
    ("Kill", "MaxPenalty"),
    ("Kill", "RewardBase"),
    ("Repel", "RepelTime"),
    ("Repel", "RepelDistance"),
    ("Misc", "TickerDelay"),
    ("Flag", "FlaggerOnRadar"),
    ("Flag", "FlaggerKillMultiplier"),
    ("Prize", "PrizeFactor"),
    ("Prize", "PrizeDelay"),
    ("Prize", "MinimumVirtual"),
    ("Prize", "UpgradeVirtual"),
    ("Prize", "PrizeMaxExist"),
    ("Prize", "PrizeMinExist"),
    ("Prize", "PrizeNegativeFactor"),
    ("Door", "DoorDelay"),
    ("Toggle", "AntiWarpPixels"),
    ("Door", "DoorMode"),
    ("Flag", "FlagBlankDelay"),
    ("Flag", "NoDataFlagDropDelay"),
    ("Prize", "MultiPrizeCount"),
    ("Brick", "BrickTime"),
    ("Misc", "WarpRadiusLimit"),
    ("Bomb", "EBombShutdownTime"),
    ("Bomb", "EBombDamagePercent"),
    ("Radar", "RadarNeutralSize"),
    ("Misc", "WarpPointDelay"),
    ("Misc", "NearDeathLevel"),
    ("Bomb", "BBombDamagePercent"),
    ("Shrapnel", "ShrapnelDamagePercent"),
    ("Latency", "ClientSlowPacketTime"),
    ("Flag", "FlagDropResetReward"),
    ("Flag", "FlaggerFireCostPercent"),
    ("Flag", "FlaggerDamagePercent"),
    ("Flag", "FlaggerBombFireDelay"),
    ("Soccer", "PassDelay"),
    ("Soccer", "BallBlankDelay"),
    ("Latency", "S2CNoDataKickoutDelay"),
    ("Flag", "FlaggerThrustAdjustment"),
    ("Flag", "FlaggerSpeedAdjustment"),
    ("Latency", "ClientSlowPacketSampleSize"),
    ("Unused", "Unused5"),
    ("Unused", "Unused4"),
    ("Unused", "Unused3"),
    ("Unused", "Unused2"),
    ("Unused", "Unused1"),
];

/// Arena-wide 8-bit settings at offset 1368.
const BYTES: [(&str, &str); 32] = [
    ("Shrapnel", "Random"),
    ("Soccer", "BallBounce"),
    ("Soccer", "AllowBombs"),
    ("Soccer", "AllowGuns"),
    ("Soccer", "Mode"),
    ("Team", "MaxPerTeam"),
    ("Team", "MaxPerPrivateTeam"),
    ("Mine", "TeamMaxMines"),
    ("Wormhole", "GravityBombs"),
    ("Bomb", "BombSafety"),
    ("Chat", "MessageReliable"),
    ("Prize", "TakePrizeReliable"),
    ("Message", "AllowAudioMessages"),
    ("Prize", "PrizeHideCount"),
    ("Misc", "ExtraPositionData"),
    ("Misc", "SlowFrameCheck"),
    ("Flag", "CarryFlags"),
    ("Misc", "AllowSavedShips"),
    ("Radar", "RadarMode"),
    ("Misc", "VictoryMusic"),
    ("Flag", "FlaggerGunUpgrade"),
    ("Flag", "FlaggerBombUpgrade"),
    ("Soccer", "UseFlagger"),
    ("Soccer", "BallLocation"),
    ("Misc", "AntiWarpSettleDelay"),
    ("Unused", "Unused7"),
    ("Unused", "Unused6"),
    ("Unused", "Unused5"),
    ("Unused", "Unused4"),
    ("Unused", "Unused3"),
    ("Unused", "Unused2"),
    ("Unused", "Unused1"),
];

/// Section of the prize weights.
pub const PRIZE_WEIGHT_SECTION: &str = "PrizeWeight";
/// Prize weight keys at offset 1400; entry i is prize number i + 1.
pub const PRIZE_WEIGHTS: [&str; 28] = [
    "QuickCharge",
    "Energy",
    "Rotation",
    "Stealth",
    "Cloak",
    "XRadar",
    "Warp",
    "Gun",
    "Bomb",
    "BouncingBullets",
    "Thruster",
    "TopSpeed",
    "Recharge",
    "Glue",
    "MultiFire",
    "Proximity",
    "AllWeapons",
    "Shields",
    "Shrapnel",
    "AntiWarp",
    "Repel",
    "Burst",
    "Decoy",
    "Thor",
    "MultiPrize",
    "Brick",
    "Rocket",
    "Portal",
];

const fn spec(
    section: &'static str,
    key: &'static str,
    offset: usize,
    kind: FieldKind,
) -> FieldSpec {
    FieldSpec {
        section,
        key,
        offset,
        kind,
        scale: 1,
    }
}

/// Every field of one ship block, with absolute offsets.
fn ship_fields(ship: usize) -> impl Iterator<Item = FieldSpec> {
    let section = SHIP_NAMES[ship];
    let base = SHIPS_OFFSET + ship * SHIP_BLOCK_LEN;
    let longs = SHIP_LONGS
        .iter()
        .enumerate()
        .map(move |(i, &key)| spec(section, key, base + 4 * i, FieldKind::I32));
    let shorts = SHIP_SHORTS
        .iter()
        .enumerate()
        .filter(|(_, key)| !key.is_empty())
        .map(move |(i, &key)| spec(section, key, base + 8 + 2 * i, FieldKind::I16));
    let misc = SHIP_MISC_BITS
        .iter()
        .map(move |&(key, kind)| spec(section, key, base + SHIP_MISC_OFFSET, kind));
    let bytes = SHIP_BYTES
        .iter()
        .enumerate()
        .map(move |(i, &key)| spec(section, key, base + 106 + i, FieldKind::U8));
    let weapons = SHIP_WEAPON_BITS
        .iter()
        .map(move |&(key, kind)| spec(section, key, base + SHIP_WEAPONS_OFFSET, kind));
    longs.chain(shorts).chain(misc).chain(bytes).chain(weapons)
}

/// Every configurable field of the packet, in layout order. A few
/// `Section:Key` names occur twice (e.g. `Misc:SlowFrameCheck` is both a
/// header bit-field and a byte setting); both places are filled.
pub fn fields() -> impl Iterator<Item = FieldSpec> {
    let header = HEADER_BITS
        .iter()
        .map(|&(section, key, kind)| spec(section, key, 0, kind));
    let ships = (0..SHIP_NAMES.len()).flat_map(ship_fields);
    let longs = LONGS
        .iter()
        .enumerate()
        .map(|(i, &(section, key, scale))| FieldSpec {
            scale,
            ..spec(section, key, LONGS_OFFSET + 4 * i, FieldKind::I32)
        });
    let spawns = SPAWN_KEYS.iter().enumerate().flat_map(|(slot, keys)| {
        keys.iter()
            .zip(SPAWN_BITS)
            .map(move |(&key, kind)| spec("Spawn", key, SPAWN_OFFSET + 4 * slot, kind))
    });
    let shorts = SHORTS
        .iter()
        .enumerate()
        .map(|(i, &(section, key))| spec(section, key, SHORTS_OFFSET + 2 * i, FieldKind::I16));
    let bytes = BYTES
        .iter()
        .enumerate()
        .map(|(i, &(section, key))| spec(section, key, BYTES_OFFSET + i, FieldKind::U8));
    let weights = PRIZE_WEIGHTS.iter().enumerate().map(|(i, &key)| {
        spec(
            PRIZE_WEIGHT_SECTION,
            key,
            PRIZE_WEIGHTS_OFFSET + i,
            FieldKind::U8,
        )
    });
    header
        .chain(ships)
        .chain(longs)
        .chain(spawns)
        .chain(shorts)
        .chain(bytes)
        .chain(weights)
}
