//! Little-endian field access for the fixed binary structures.
//!
//! Decoders first check that the input holds the whole fixed part, copy it
//! into an array, and then read fields with [`FieldReader`], which checks on
//! every read that the field starts at the offset the layout table says: the
//! table and the code that reads the bytes cannot drift apart.

/// Reads consecutive little-endian fields of a fixed-size structure.
pub(crate) struct FieldReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> FieldReader<'a> {
    /// Invariant: the caller has checked that `buf` holds the whole fixed
    /// part of the structure.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        FieldReader { buf, pos: 0 }
    }

    fn take<const N: usize>(&mut self, at: usize) -> [u8; N] {
        assert_eq!(at, self.pos, "layout table and field order disagree");
        let mut out = [0u8; N];
        match self.buf.get(at..at + N) {
            Some(bytes) => out.copy_from_slice(bytes),
            None => {
                panic!("invariant: the decoder checked the length before reading field at {at}")
            }
        }
        self.pos = at + N;
        out
    }

    pub(crate) fn u8(&mut self, at: usize) -> u8 {
        let [b] = self.take::<1>(at);
        b
    }

    pub(crate) fn u16(&mut self, at: usize) -> u16 {
        u16::from_le_bytes(self.take(at))
    }

    pub(crate) fn u32(&mut self, at: usize) -> u32 {
        u32::from_le_bytes(self.take(at))
    }

    pub(crate) fn u64(&mut self, at: usize) -> u64 {
        u64::from_le_bytes(self.take(at))
    }

    /// Skips a reserved field of `len` bytes, returning whether it is all
    /// zero.
    pub(crate) fn reserved(&mut self, at: usize, len: usize) -> bool {
        assert_eq!(at, self.pos, "layout table and field order disagree");
        let zero = self.buf.get(at..at + len).is_some_and(|b| b.iter().all(|&x| x == 0));
        self.pos = at + len;
        zero
    }

    /// Asserts that every field of the layout was read.
    pub(crate) fn finish(self, len: usize) {
        assert_eq!(self.pos, len, "decoder did not read every field");
    }
}

/// Writes consecutive little-endian fields of a fixed-size structure.
pub(crate) struct FieldWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> FieldWriter<'a> {
    /// Invariant: `buf` is at least as long as the structure's fixed part.
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        FieldWriter { buf, pos: 0 }
    }

    fn put(&mut self, at: usize, bytes: &[u8]) {
        assert_eq!(at, self.pos, "layout table and field order disagree");
        match self.buf.get_mut(at..at + bytes.len()) {
            Some(dst) => dst.copy_from_slice(bytes),
            None => panic!("invariant: encoder buffer holds the field at {at}"),
        }
        self.pos = at + bytes.len();
    }

    pub(crate) fn u8(&mut self, at: usize, v: u8) {
        self.put(at, &[v]);
    }

    pub(crate) fn u16(&mut self, at: usize, v: u16) {
        self.put(at, &v.to_le_bytes());
    }

    pub(crate) fn u32(&mut self, at: usize, v: u32) {
        self.put(at, &v.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, at: usize, v: u64) {
        self.put(at, &v.to_le_bytes());
    }

    pub(crate) fn reserved(&mut self, at: usize, len: usize) {
        assert_eq!(at, self.pos, "layout table and field order disagree");
        match self.buf.get_mut(at..at + len) {
            Some(dst) => dst.fill(0),
            None => panic!("invariant: encoder buffer holds the field at {at}"),
        }
        self.pos = at + len;
    }

    pub(crate) fn finish(self, len: usize) {
        assert_eq!(self.pos, len, "encoder did not write every field");
    }
}

/// Copies the first `N` bytes of `buf` into an array, or returns `None`
/// when `buf` is shorter.
pub(crate) fn prefix<const N: usize>(buf: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    out.copy_from_slice(buf.get(..N)?);
    Some(out)
}

/// Little-endian u32 at `at`, or `None` past the end of `buf`.
pub(crate) fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    let mut out = [0u8; 4];
    out.copy_from_slice(bytes);
    Some(u32::from_le_bytes(out))
}

/// Whether every byte of `buf` is zero.
pub(crate) fn all_zero(buf: &[u8]) -> bool {
    buf.iter().all(|&b| b == 0)
}
