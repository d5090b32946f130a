//! Little-endian reading and writing helpers (private to `game`).
//!
//! Reads past the end of the input yield zeros instead of panicking: every
//! decoder checks the packet length first, so that never happens in practice.

/// A cursor over a received packet.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at `pos`.
    pub(crate) fn at(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos }
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(src) = self.buf.get(self.pos..self.pos.saturating_add(N)) {
            out.copy_from_slice(src);
        }
        self.pos = self.pos.saturating_add(N);
        out
    }

    pub(crate) fn u8(&mut self) -> u8 {
        u8::from_le_bytes(self.take())
    }
    pub(crate) fn i8(&mut self) -> i8 {
        i8::from_le_bytes(self.take())
    }
    pub(crate) fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    pub(crate) fn i16(&mut self) -> i16 {
        i16::from_le_bytes(self.take())
    }
    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    pub(crate) fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.take())
    }
    pub(crate) fn bool(&mut self) -> bool {
        self.u8() != 0
    }
    pub(crate) fn array<const N: usize>(&mut self) -> [u8; N] {
        self.take()
    }

    /// The next `n` bytes (fewer at the end of the input).
    pub(crate) fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.buf.len());
        let end = self.pos.saturating_add(n).min(self.buf.len());
        self.pos = self.pos.saturating_add(n);
        self.buf.get(start..end).unwrap_or(&[])
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        rest
    }

    /// Number of bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
}

/// Something packets can be appended to: a `Vec<u8>` or an [`ArrayWriter`].
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);

    fn put_u8(&mut self, v: u8) {
        self.put(&[v]);
    }
    fn put_i8(&mut self, v: i8) {
        self.put(&v.to_le_bytes());
    }
    fn put_u16(&mut self, v: u16) {
        self.put(&v.to_le_bytes());
    }
    fn put_i16(&mut self, v: i16) {
        self.put(&v.to_le_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }
    fn put_i32(&mut self, v: i32) {
        self.put(&v.to_le_bytes());
    }
    fn put_bool(&mut self, v: bool) {
        self.put_u8(u8::from(v));
    }
    fn put_zeros(&mut self, n: usize) {
        for _ in 0..n {
            self.put_u8(0);
        }
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn put_zeros(&mut self, n: usize) {
        self.resize(self.len() + n, 0);
    }
}

/// Writes into a fixed buffer; bytes that do not fit are dropped.
pub(crate) struct ArrayWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> ArrayWriter<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }
    /// Bytes written so far.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Sink for ArrayWriter<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            dst.copy_from_slice(bytes);
            self.len = end;
        }
    }
}

/// XOR of all bytes (the position-packet checksum).
pub(crate) fn xor_all(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |acc, b| acc ^ b)
}
