//! The few parts of an ELF64 file the kernel's loaders need: loadable segments and the Keel
//! UEFI entry note. Shared by the UEFI loader (which loads the kernel) and the image builder
//! (which refuses a kernel the loader could not start), so both read the file the same way.

/// Note name and type under which the kernel publishes its 64-bit UEFI hand-off entry
/// (`desc` = the entry's physical address, 8 bytes little-endian). It sits in the same
/// `PT_NOTE` segment as the Xen PVH note, which PVH loaders skip because of its name.
pub const KEEL_NOTE_NAME: &[u8] = b"Keel";
pub const KEEL_NOTE_UEFI_ENTRY: u32 = 0x4b45_0001;

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const EM_X86_64: u16 = 0x3e;
const ET_EXEC: u16 = 2;
const PHDR_SIZE: usize = 56;

/// Why a file is not a kernel the loader can start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    NotElf,
    /// Not a 64-bit little-endian x86-64 executable.
    WrongKind,
    /// A header or segment points outside the file, or sizes overflow.
    Truncated,
    NoLoadableSegment,
    /// No Keel UEFI entry note: a kernel without `boot/uefi.rs`, or a stripped note.
    NoUefiEntry,
}

impl core::fmt::Display for ElfError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NotElf => "not an ELF file",
            Self::WrongKind => "not a 64-bit little-endian x86-64 ELF executable",
            Self::Truncated => "ELF headers or segments point outside the file",
            Self::NoLoadableSegment => "ELF file has no loadable segment",
            Self::NoUefiEntry => "kernel has no Keel UEFI entry note (built without boot/uefi.rs?)",
        })
    }
}

/// A `PT_LOAD` segment: `file_size` bytes from `offset` go to `phys_addr`, the rest of
/// `mem_size` is zeroed (`.bss`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub phys_addr: u64,
    pub offset: usize,
    pub file_size: usize,
    pub mem_size: u64,
}

/// A validated ELF64 x86-64 executable.
#[derive(Clone, Copy, Debug)]
pub struct Elf<'a> {
    bytes: &'a [u8],
    phoff: usize,
    phnum: usize,
}

fn le(bytes: &[u8], at: usize, len: usize) -> Option<u64> {
    let field = bytes.get(at..at.checked_add(len)?)?;
    Some(field.iter().rev().fold(0, |acc, &b| (acc << 8) | u64::from(b)))
}

impl<'a> Elf<'a> {
    /// Checks the header and that every segment lies inside the file.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ElfError> {
        if bytes.get(..4) != Some(b"\x7fELF") {
            return Err(ElfError::NotElf);
        }
        let field = |at, len| le(bytes, at, len).ok_or(ElfError::Truncated);
        if bytes.get(4..6) != Some(&[2, 1]) || field(0x12, 2)? != u64::from(EM_X86_64) || field(0x10, 2)? != u64::from(ET_EXEC) {
            return Err(ElfError::WrongKind);
        }
        let phoff = usize::try_from(field(0x20, 8)?).map_err(|_| ElfError::Truncated)?;
        let phentsize = field(0x36, 2)? as usize;
        let phnum = field(0x38, 2)? as usize;
        if phentsize != PHDR_SIZE {
            return Err(ElfError::WrongKind);
        }
        let end = phnum.checked_mul(PHDR_SIZE).and_then(|n| n.checked_add(phoff)).ok_or(ElfError::Truncated)?;
        if end > bytes.len() {
            return Err(ElfError::Truncated);
        }
        let elf = Self { bytes, phoff, phnum };
        for i in 0..phnum {
            let (kind, offset, file_size, mem_size) = elf.header(i)?;
            let file_end = offset.checked_add(file_size).ok_or(ElfError::Truncated)?;
            if (kind == PT_LOAD || kind == PT_NOTE) && (file_end > bytes.len() || (file_size as u64) > mem_size) {
                return Err(ElfError::Truncated);
            }
        }
        if elf.segments().next().is_none() {
            return Err(ElfError::NoLoadableSegment);
        }
        Ok(elf)
    }

    /// (type, file offset, file size, memory size) of program header `i`.
    fn header(&self, i: usize) -> Result<(u32, usize, usize, u64), ElfError> {
        let ph = self.phoff + i * PHDR_SIZE;
        let field = |at, len| le(self.bytes, ph + at, len).ok_or(ElfError::Truncated);
        let size = |v: u64| usize::try_from(v).map_err(|_| ElfError::Truncated);
        Ok((field(0, 4)? as u32, size(field(8, 8)?)?, size(field(0x20, 8)?)?, field(0x28, 8)?))
    }

    /// The loadable segments, in file order.
    pub fn segments(&self) -> impl Iterator<Item = Segment> + '_ {
        (0..self.phnum).filter_map(move |i| {
            let (kind, offset, file_size, mem_size) = self.header(i).ok()?;
            let phys_addr = le(self.bytes, self.phoff + i * PHDR_SIZE + 0x18, 8)?;
            (kind == PT_LOAD).then_some(Segment { phys_addr, offset, file_size, mem_size })
        })
    }

    /// The bytes a segment takes from the file.
    pub fn data(&self, segment: &Segment) -> &'a [u8] {
        self.bytes.get(segment.offset..segment.offset + segment.file_size).unwrap_or(&[])
    }

    /// The physical address of the kernel's 64-bit UEFI hand-off entry, from its Keel note.
    pub fn uefi_entry(&self) -> Result<u64, ElfError> {
        (0..self.phnum)
            .filter_map(|i| self.header(i).ok())
            .filter(|(kind, ..)| *kind == PT_NOTE)
            .find_map(|(_, offset, size, _)| find_note(self.bytes.get(offset..offset + size)?))
            .ok_or(ElfError::NoUefiEntry)
    }

    /// The lowest and one-past-highest physical address the segments occupy in memory.
    pub fn phys_span(&self) -> (u64, u64) {
        self.segments().fold((u64::MAX, 0), |(lo, hi), s| {
            (lo.min(s.phys_addr), hi.max(s.phys_addr.saturating_add(s.mem_size)))
        })
    }
}

/// Walks the notes of one `PT_NOTE` segment (4-byte aligned name and descriptor).
fn find_note(mut notes: &[u8]) -> Option<u64> {
    while notes.len() >= 12 {
        let namesz = le(notes, 0, 4)? as usize;
        let descsz = le(notes, 4, 4)? as usize;
        let kind = le(notes, 8, 4)? as u32;
        let name_end = 12usize.checked_add(namesz)?;
        let desc_start = name_end.next_multiple_of(4);
        let desc_end = desc_start.checked_add(descsz)?;
        let name = notes.get(12..name_end)?;
        if kind == KEEL_NOTE_UEFI_ENTRY && name.strip_suffix(b"\0") == Some(KEEL_NOTE_NAME) && descsz == 8 {
            return le(notes, desc_start, 8);
        }
        notes = notes.get(desc_end.next_multiple_of(4).min(notes.len())..)?;
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// A minimal executable: one PT_NOTE (a Xen note, then the Keel note) and one PT_LOAD.
    pub(crate) fn tiny_kernel(with_note: bool) -> Vec<u8> {
        let mut notes = Vec::new();
        let mut note = |name: &[u8], kind: u32, desc: &[u8]| {
            notes.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
            notes.extend_from_slice(&(desc.len() as u32).to_le_bytes());
            notes.extend_from_slice(&kind.to_le_bytes());
            notes.extend_from_slice(name);
            notes.push(0);
            while notes.len() % 4 != 0 {
                notes.push(0);
            }
            notes.extend_from_slice(desc);
        };
        note(b"Xen", 18, &0x10_0000u32.to_le_bytes());
        if with_note {
            note(KEEL_NOTE_NAME, KEEL_NOTE_UEFI_ENTRY, &0x10_2000u64.to_le_bytes());
        }
        let mut f = alloc::vec![0u8; 64];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[0x10..0x12].copy_from_slice(&ET_EXEC.to_le_bytes());
        f[0x12..0x14].copy_from_slice(&EM_X86_64.to_le_bytes());
        f[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        f[0x36..0x38].copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
        f[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes());
        let notes_at = 64 + 2 * PHDR_SIZE;
        let code_at = notes_at + notes.len();
        let mut phdr = |kind: u32, offset: usize, paddr: u64, filesz: usize, memsz: usize| {
            let mut p = [0u8; PHDR_SIZE];
            p[0..4].copy_from_slice(&kind.to_le_bytes());
            p[8..16].copy_from_slice(&(offset as u64).to_le_bytes());
            p[0x18..0x20].copy_from_slice(&paddr.to_le_bytes());
            p[0x20..0x28].copy_from_slice(&(filesz as u64).to_le_bytes());
            p[0x28..0x30].copy_from_slice(&(memsz as u64).to_le_bytes());
            f.extend_from_slice(&p);
        };
        phdr(PT_NOTE, notes_at, 0, notes.len(), notes.len());
        phdr(PT_LOAD, code_at, 0x10_0000, 16, 0x3000);
        f.extend_from_slice(&notes);
        f.extend_from_slice(&[0x90; 16]);
        f
    }

    #[test]
    fn finds_segments_and_the_uefi_entry_past_the_xen_note() {
        let bytes = tiny_kernel(true);
        let elf = Elf::parse(&bytes).expect("valid");
        let segs: Vec<Segment> = elf.segments().collect();
        assert_eq!(segs.len(), 1);
        assert_eq!((segs[0].phys_addr, segs[0].file_size, segs[0].mem_size), (0x10_0000, 16, 0x3000));
        assert_eq!(elf.data(&segs[0]), &[0x90; 16]);
        assert_eq!(elf.uefi_entry(), Ok(0x10_2000));
        assert_eq!(elf.phys_span(), (0x10_0000, 0x10_3000));
    }

    #[test]
    fn refuses_kernels_it_cannot_start() {
        assert_eq!(Elf::parse(&tiny_kernel(false)).and_then(|e| e.uefi_entry()), Err(ElfError::NoUefiEntry));
        assert_eq!(Elf::parse(b"MZ\x90\x00").err(), Some(ElfError::NotElf));
        let mut truncated = tiny_kernel(true);
        truncated.truncate(truncated.len() - 4);
        assert_eq!(Elf::parse(&truncated).err(), Some(ElfError::Truncated));
        let mut wrong = tiny_kernel(true);
        wrong[0x12] = 0x28; // ARM
        assert_eq!(Elf::parse(&wrong).err(), Some(ElfError::WrongKind));
    }
}
