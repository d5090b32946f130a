//! LVZ object control: S2C 0x35 (toggle objects on or off) and S2C 0x36
//! (change an object's position, image, layer, timer or display mode).
//! Layouts: `docs/protocol/game-protocol.md` §23a.

/// Largest object id (15 bits).
pub const MAX_OBJECT_ID: u16 = 0x7FFF;

/// One entry of S2C 0x35: an object id and whether it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectToggle {
    /// Object id (0..=[`MAX_OBJECT_ID`]).
    pub id: u16,
    /// Shown (`true`) or hidden.
    pub on: bool,
}

impl ObjectToggle {
    /// Wire size of one entry.
    pub const LEN: usize = 2;

    /// The entry's 16-bit word: id in the low 15 bits, top bit set = off.
    pub fn word(self) -> u16 {
        (self.id & MAX_OBJECT_ID) | if self.on { 0 } else { 0x8000 }
    }

    /// From the 16-bit word.
    pub fn from_word(w: u16) -> Self {
        ObjectToggle {
            id: w & MAX_OBJECT_ID,
            on: w & 0x8000 == 0,
        }
    }
}

/// Which attributes an S2C 0x36 record changes (its first byte).
pub mod change {
    /// Position.
    pub const XY: u8 = 0x01;
    /// Image.
    pub const IMAGE: u8 = 0x02;
    /// Layer.
    pub const LAYER: u8 = 0x04;
    /// Display time.
    pub const TIME: u8 = 0x08;
    /// Display mode.
    pub const MODE: u8 = 0x10;
}

/// Display layers (`?objlayer` names, in code order).
pub const LAYER_NAMES: [&str; 8] = [
    "BelowAll",
    "AfterBackground",
    "AfterTiles",
    "AfterWeapons",
    "AfterShips",
    "AfterGauges",
    "AfterChat",
    "TopMost",
];

/// Display modes (`?objmode` names, in code order).
pub const MODE_NAMES: [&str; 6] = [
    "ShowAlways",
    "EnterZone",
    "EnterArena",
    "Kill",
    "Death",
    "ServerControlled",
];

/// Screen offset letters (code 1..=11; 0 = from the upper left).
pub const OFFSET_LETTERS: &str = "CBSGFETROWV";

/// Largest display time (12 bits, in 1/100 s).
pub const MAX_OBJECT_TIME: u16 = 0x0FFF;

/// An object's attributes, as in the LVZ file's object section.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct ObjectData {
    /// Map object (`true`) or screen object.
    pub map_obj: bool,
    /// Object id (15 bits).
    pub id: u16,
    /// X: pixels on the map (i16), or on screen (12-bit signed).
    pub x: i16,
    /// Y, as `x`.
    pub y: i16,
    /// Screen objects: what X is relative to (offset code 0..=15).
    pub rel_x: u8,
    /// Screen objects: what Y is relative to.
    pub rel_y: u8,
    /// Image number.
    pub image: u8,
    /// Layer code.
    pub layer: u8,
    /// Display time (12 bits).
    pub time: u16,
    /// Mode code (4 bits).
    pub mode: u8,
}

fn screen_word(v: i16, rel: u8) -> u16 {
    (u16::from(rel) & 0x0F) | (((v as u16) & 0x0FFF) << 4)
}

fn from_screen_word(w: u16) -> (i16, u8) {
    // The 12-bit coordinate is signed: shift it to the top and back.
    (((w & 0xFFF0) as i16) >> 4, (w & 0x0F) as u8)
}

impl ObjectData {
    /// Wire size.
    pub const LEN: usize = 10;

    /// The 10 bytes of the record.
    pub fn to_bytes(&self) -> [u8; 10] {
        let mut b = [0u8; 10];
        let head = u16::from(self.map_obj) | ((self.id & MAX_OBJECT_ID) << 1);
        b[0..2].copy_from_slice(&head.to_le_bytes());
        let (x, y) = if self.map_obj {
            (self.x as u16, self.y as u16)
        } else {
            (
                screen_word(self.x, self.rel_x),
                screen_word(self.y, self.rel_y),
            )
        };
        b[2..4].copy_from_slice(&x.to_le_bytes());
        b[4..6].copy_from_slice(&y.to_le_bytes());
        b[6] = self.image;
        b[7] = self.layer;
        let tm = (self.time & MAX_OBJECT_TIME) | (u16::from(self.mode & 0x0F) << 12);
        b[8..10].copy_from_slice(&tm.to_le_bytes());
        b
    }

    /// From the 10 bytes of the record.
    pub fn from_bytes(b: &[u8; 10]) -> Self {
        let word = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let head = word(0);
        let map_obj = head & 1 == 1;
        let (x, rel_x, y, rel_y) = if map_obj {
            (word(2) as i16, 0, word(4) as i16, 0)
        } else {
            let (x, rx) = from_screen_word(word(2));
            let (y, ry) = from_screen_word(word(4));
            (x, rx, y, ry)
        };
        let tm = word(8);
        ObjectData {
            map_obj,
            id: head >> 1,
            x,
            y,
            rel_x,
            rel_y,
            image: b[6],
            layer: b[7],
            time: tm & MAX_OBJECT_TIME,
            mode: (tm >> 12) as u8,
        }
    }
}

/// One S2C 0x36 record: which attributes change, and the object's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectChange {
    /// [`change`] bits.
    pub changes: u8,
    /// The object (the changed fields are read from it).
    pub data: ObjectData,
}

impl ObjectChange {
    /// Wire size of one record.
    pub const LEN: usize = 11;

    /// The 11 bytes of the record.
    pub fn to_bytes(&self) -> [u8; 11] {
        let mut b = [0u8; 11];
        b[0] = self.changes;
        b[1..].copy_from_slice(&self.data.to_bytes());
        b
    }

    /// From the 11 bytes of the record.
    pub fn from_bytes(b: &[u8; 11]) -> Self {
        let mut d = [0u8; 10];
        d.copy_from_slice(&b[1..]);
        ObjectChange {
            changes: b[0],
            data: ObjectData::from_bytes(&d),
        }
    }
}
