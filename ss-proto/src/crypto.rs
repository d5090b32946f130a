//! Connection ciphers: VIE encryption and the null cipher.
//!
//! VIE is the XOR stream cipher of SubSpace 1.34 and most bots
//! (`docs/protocol/core-transport.md` §5). Its keystream is a 520-byte table
//! derived from the 32-bit key; every 32-bit word of a packet body is XORed
//! with the table word at its position and with the previous ciphertext word.
//! Both sides encrypt and decrypt in place, so no buffer is allocated per
//! packet.

/// Number of 32-bit words in the VIE key table (520 bytes).
pub const VIE_TABLE_WORDS: usize = 130;

/// The encryption state of one connection.
#[derive(Clone)]
pub enum Cipher {
    /// No encryption: bytes pass unchanged.
    Null,
    /// VIE encryption with a derived key table.
    Vie(Box<VieCipher>),
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cipher::Null => f.write_str("Cipher::Null"),
            Cipher::Vie(v) => write!(f, "Cipher::Vie(key={:#010x})", v.key as u32),
        }
    }
}

impl Cipher {
    /// The cipher for a negotiated key: 0 means no encryption.
    pub fn for_key(key: u32) -> Cipher {
        if key == 0 {
            Cipher::Null
        } else {
            Cipher::Vie(Box::new(VieCipher::new(key)))
        }
    }

    /// The key this cipher was made from (0 for no encryption).
    pub fn key(&self) -> u32 {
        match self {
            Cipher::Null => 0,
            Cipher::Vie(v) => v.key as u32,
        }
    }

    /// Encrypts a whole datagram in place (its clear header is left alone).
    pub fn encrypt(&self, datagram: &mut [u8]) {
        if let Cipher::Vie(v) = self {
            v.encrypt(datagram);
        }
    }

    /// Decrypts a whole datagram in place (its clear header is left alone).
    pub fn decrypt(&self, datagram: &mut [u8]) {
        if let Cipher::Vie(v) = self {
            v.decrypt(datagram);
        }
    }
}

/// VIE cipher state: the key and its keystream table.
#[derive(Clone)]
pub struct VieCipher {
    key: i32,
    table: [u32; VIE_TABLE_WORDS],
}

/// One step of the VIE table generator (`docs/protocol/core-transport.md`
/// §5.2).
///
/// The multiply-and-shift quotient must be reproduced exactly, including its
/// off-by-one for negative states; it is not a plain division.
fn vie_step(k: i32) -> i32 {
    let mut t = (((k as i64) * 0x834E_0B5F_i64) >> 48) as i32;
    if t < 0 {
        t -= 1;
    }
    let r = k % 127_773;
    let mut next = r.wrapping_mul(16_807).wrapping_sub(t.wrapping_mul(2_836)) + 123;
    if next <= 0 {
        next = next.wrapping_add(0x7FFF_FFFF);
    }
    next
}

/// Builds the 520-byte VIE key table for a key, as 130 little-endian words.
pub fn vie_table(key: u32) -> [u32; VIE_TABLE_WORDS] {
    let mut k = key as i32;
    let mut table = [0u32; VIE_TABLE_WORDS];
    for word in table.iter_mut() {
        k = vie_step(k);
        let lo = (k as u32) & 0xFFFF;
        k = vie_step(k);
        let hi = (k as u32) & 0xFFFF;
        *word = lo | (hi << 16);
    }
    table
}

/// Length of the clear header: 2 for core packets (byte 0 is 0), else 1.
fn clear_header_len(datagram: &[u8]) -> usize {
    if datagram.first() == Some(&0) {
        2
    } else {
        1
    }
}

impl VieCipher {
    /// Creates the cipher for a (server-chosen) key.
    pub fn new(key: u32) -> VieCipher {
        VieCipher {
            key: key as i32,
            table: vie_table(key),
        }
    }

    /// The table as bytes (for tests and diagnostics).
    pub fn table_bytes(&self) -> [u8; VIE_TABLE_WORDS * 4] {
        let mut out = [0u8; VIE_TABLE_WORDS * 4];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.table.iter()) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// Encrypts in place. Bytes past 520 of the body are left unchanged
    /// (no datagram the protocol allows is that long).
    pub fn encrypt(&self, datagram: &mut [u8]) {
        self.apply(datagram, false);
    }

    /// Decrypts in place; the inverse of [`VieCipher::encrypt`].
    pub fn decrypt(&self, datagram: &mut [u8]) {
        self.apply(datagram, true);
    }

    /// XORs each body word with its table word and the previous
    /// *ciphertext* word: the input word when decrypting, the output word
    /// when encrypting. That choice is the only difference between the two.
    fn apply(&self, datagram: &mut [u8], decrypting: bool) {
        let h = clear_header_len(datagram);
        if datagram.len() <= h {
            return;
        }
        // The table covers the first 520 body bytes; anything past them
        // stays clear.
        let len = (datagram.len() - h).min(VIE_TABLE_WORDS * 4);
        let body = &mut datagram[h..h + len];
        let mut chain = self.key as u32;
        // Whole words in a fixed-size loop (no per-word variable-length
        // copies), then the 1–3 byte tail as a zero-padded word.
        let mut words = body.chunks_exact_mut(4);
        for (chunk, &t) in (&mut words).zip(self.table.iter()) {
            let word: &mut [u8; 4] = chunk.try_into().expect("chunks of four");
            let input = u32::from_le_bytes(*word);
            let output = input ^ t ^ chain;
            *word = output.to_le_bytes();
            chain = if decrypting { input } else { output };
        }
        let tail = words.into_remainder();
        if !tail.is_empty() {
            let t = self.table[len / 4];
            let mut w = [0u8; 4];
            w[..tail.len()].copy_from_slice(tail);
            let output = u32::from_le_bytes(w) ^ t ^ chain;
            let n = tail.len();
            tail.copy_from_slice(&output.to_le_bytes()[..n]);
        }
    }
}

/// The server key VIE answers a client key with: its 32-bit negation.
pub fn vie_server_key(client_key: u32) -> u32 {
    client_key.wrapping_neg()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    fn crc(b: &[u8]) -> u32 {
        crc32fast::hash(b)
    }

    #[test]
    fn tv1_key_exchange() {
        assert_eq!(vie_server_key(0xD7D3_BEF7), 0x282C_4109);
    }

    #[test]
    fn tv2_table_for_key() {
        let c = VieCipher::new(0x282C_4109);
        let t = c.table_bytes();
        assert_eq!(
            &t[0..16],
            &hex("f4 ca ce 93 7f e0 8a e1 41 55 50 3c b7 bb 41 24")[..]
        );
        assert_eq!(
            &t[16..32],
            &hex("95 36 6c 83 62 40 31 17 b4 9f f1 23 a6 dd 03 dd")[..]
        );
        assert_eq!(
            &t[504..520],
            &hex("8d da 0e 8c 29 fc 31 02 9f f2 8a ca 3a 4e 34 c6")[..]
        );
        assert_eq!(crc(&t), 0x8d29_9239);
    }

    #[test]
    fn tv3_other_keys() {
        let cases: &[(u32, &str, Option<u32>)] = &[
            (
                0x0000_0001,
                "22 42 a9 c6 6c 8a 5d f6 1c 7a 19 c9 5c 9b 50 b8",
                Some(0x768a_2acb),
            ),
            (
                0x1234_5678,
                "19 ea 61 25 8e 29 ce 30 9b 53 8c 18 2d d0 89 6e",
                Some(0x6cd5_e5fe),
            ),
            (
                0xFFFF_FFFF,
                "fb d4 de ec 4b 1f ae 96 d0 97 a6 f7 c5 e1 1d 87",
                None,
            ),
            (
                0x7FFF_FFFF,
                "7b 00 b8 8b 93 dd 33 ea 99 c2 51 ee 83 0c 51 ae",
                None,
            ),
            (
                0x0001_F31D,
                "66 f5 ab 3d 4a e6 e0 0d 3c fc 42 fc 77 5a ec 3c",
                None,
            ),
            (
                0xFFFE_0CE3,
                "b7 21 dc 75 6e c3 2b 7f af 15 7d c4 aa 22 82 02",
                None,
            ),
        ];
        for (key, first, crc32) in cases {
            let t = VieCipher::new(*key).table_bytes();
            assert_eq!(&t[..16], &hex(first)[..], "key {key:#x}");
            if let Some(c) = crc32 {
                assert_eq!(crc(&t), *c, "key {key:#x}");
            }
        }
    }

    fn roundtrip(key: u32, plain: &[u8], cipher: &[u8]) {
        let c = VieCipher::new(key);
        let mut buf = plain.to_vec();
        c.encrypt(&mut buf);
        assert_eq!(buf, cipher);
        c.decrypt(&mut buf);
        assert_eq!(buf, plain);
    }

    #[test]
    fn tv4_encryption() {
        let key = 0x282C_4109;
        roundtrip(
            key,
            &hex("00 03 00 00 00 00 01 02 03 04 05"),
            &hex("00 03 fd 8b e2 bb 83 69 6b 5e c7"),
        );
        roundtrip(
            key,
            &hex("07 00 00 00 ff 68 69 00"),
            &hex("07 fd 8b e2 44 ea 02 68"),
        );
        roundtrip(
            key,
            &hex("00 05 64 00 00 00 01 00 00 00 02 00 00 00"),
            &hex("00 05 99 8b e2 bb e7 6b 68 5a a4 3e 38 66"),
        );
        roundtrip(key, &[0x27], &[0x27]);
    }

    #[test]
    fn tv4_long_packets() {
        let c = VieCipher::new(0x282C_4109);
        let mut f = vec![0x0bu8];
        f.extend((0..519u32).map(|i| ((7 * i + 3) & 0xff) as u8));
        assert_eq!(crc(&f), 0x8107_34b3);
        let plain = f.clone();
        c.encrypt(&mut f);
        assert_eq!(
            &f[..16],
            &hex("0b fe 81 f3 a3 9e 47 54 76 e4 50 4d 1a 04 b5 69")[..]
        );
        assert_eq!(
            &f[504..],
            &hex("71 e0 59 4c 1d 2e 4b 88 e3 b2 b3 13 31 97 db 0a")[..]
        );
        assert_eq!(crc(&f), 0x2e56_3c84);
        c.decrypt(&mut f);
        assert_eq!(f, plain);

        let mut g = vec![0x00u8, 0x03];
        g.extend((0..518u32).map(|i| ((13 * i + 1) & 0xff) as u8));
        c.encrypt(&mut g);
        assert_eq!(
            &g[..16],
            &hex("00 03 fc 85 f9 93 b6 27 3c 2e 9e 04 ef 82 b4 15")[..]
        );
        assert_eq!(
            &g[504..],
            &hex("e3 59 ca 6d 5e 15 2e 4b 88 e3 b0 b7 19 01 bf bb")[..]
        );
        assert_eq!(crc(&g), 0xb3cf_3a51);
    }

    #[test]
    fn tv5_key_one() {
        let plain: Vec<u8> = (0..32u8).collect();
        roundtrip(
            1,
            &plain,
            &hex("00 01 21 41 ad c3 4b cc f8 3c 5d bd ed f8 0f 29 \
                 ad 51 ef 90 38 71 c7 5c 12 b8 5d e4 8e f3 a8 0f"),
        );
    }

    /// The cipher as its definition reads: word by word over the body, a
    /// short last word zero-padded, nothing past the table's 520 bytes.
    fn reference_encrypt(key: u32, datagram: &mut [u8]) {
        let table = vie_table(key);
        let h = clear_header_len(datagram);
        if datagram.len() <= h {
            return;
        }
        let mut chain = key;
        for (i, chunk) in datagram[h..].chunks_mut(4).enumerate() {
            let Some(t) = table.get(i) else { break };
            let mut w = [0u8; 4];
            w[..chunk.len()].copy_from_slice(chunk);
            let out = u32::from_le_bytes(w) ^ t ^ chain;
            let n = chunk.len();
            chunk.copy_from_slice(&out.to_le_bytes()[..n]);
            chain = out;
        }
    }

    proptest::proptest! {
        #[test]
        fn every_length_matches_the_definition_and_round_trips(
            key in proptest::prelude::any::<u32>(),
            core in proptest::prelude::any::<bool>(),
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        ) {
            let mut plain = if core { vec![0u8, 0x0e] } else { vec![0x28u8] };
            plain.extend_from_slice(&body);
            let mut want = plain.clone();
            reference_encrypt(key, &mut want);
            let c = VieCipher::new(key);
            let mut got = plain.clone();
            c.encrypt(&mut got);
            proptest::prop_assert_eq!(&got, &want);
            c.decrypt(&mut got);
            proptest::prop_assert_eq!(got, plain);
        }
    }

    #[test]
    fn null_cipher_is_identity() {
        let mut b = hex("00 03 00 00 00 00 01");
        let orig = b.clone();
        Cipher::for_key(0).encrypt(&mut b);
        assert_eq!(b, orig);
    }
}
