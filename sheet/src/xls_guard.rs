//! .xls is read by calamine, which parses every sheet of the workbook when it opens it:
//! it reserves room for the cells each sheet's DIMENSIONS record declares and builds a full
//! grid spanning each sheet's outermost cells. Before calamine sees the bytes, this guard
//! finds the Workbook stream in the compound file (OLE / CFB) itself, walks its records the
//! way calamine will, and refuses a file whose declared or spanned grids would exceed
//! [`Limits::max_grid_cells`] cells, or that has more than [`MAX_SHEETS`] sheets.

use crate::read::{Limits, ReadError};

/// Most sheets (BoundSheet records) in an .xls workbook.
pub(crate) const MAX_SHEETS: usize = 256;

const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
const FREESECT: u32 = 0xFFFF_FFFF;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn damaged(what: &str) -> ReadError {
    ReadError::Corrupt(format!(
        "its compound file structure is inconsistent ({what})"
    ))
}

/// Check an .xls before calamine opens it.
pub(crate) fn check(bytes: &[u8], limits: &Limits) -> Result<(), ReadError> {
    let stream = workbook_stream(bytes)?;
    scan(&stream, limits)
}

/// A compound file's sectors and its FAT: enough to read a stream from its first sector.
struct Cfb<'a> {
    f: &'a [u8],
    /// The sector size in bytes (512 or 4096).
    size: usize,
    /// The sectors after the header.
    sectors: usize,
    fat: Vec<u32>,
}

impl<'a> Cfb<'a> {
    /// Read the header and the FAT.
    fn open(f: &'a [u8]) -> Result<Self, ReadError> {
        let shift = u16_at(f, 0x1E).ok_or_else(|| damaged("header"))?;
        if shift != 9 && shift != 12 {
            return Err(damaged("sector size"));
        }
        let size = 1usize << shift;
        let sectors = (f.len() / size).saturating_sub(1);
        let mut cfb = Cfb {
            f,
            size,
            sectors,
            fat: Vec::new(),
        };
        let fat_sectors = cfb.fat_sectors()?;
        if fat_sectors.len() > sectors {
            return Err(damaged("FAT larger than the file"));
        }
        let mut fat: Vec<u32> = Vec::with_capacity(fat_sectors.len() * size / 4);
        for s in fat_sectors {
            let s = cfb.sector(s).ok_or_else(|| damaged("FAT"))?;
            fat.extend((0..size / 4).filter_map(|i| u32_at(s, 4 * i)));
        }
        cfb.fat = fat;
        Ok(cfb)
    }

    /// Sector `n` (numbered from after the header), when the file holds it.
    fn sector(&self, n: u32) -> Option<&'a [u8]> {
        let start = (n as usize).checked_add(1)?.checked_mul(self.size)?;
        self.f.get(start..start.checked_add(self.size)?)
    }

    /// The sectors holding the FAT: 109 in the header, then the DIFAT chain.
    fn fat_sectors(&self) -> Result<Vec<u32>, ReadError> {
        let f = self.f;
        let mut fat_sectors: Vec<u32> = (0..109)
            .filter_map(|i| u32_at(f, 0x4C + 4 * i))
            .filter(|s| *s != FREESECT && *s != ENDOFCHAIN)
            .collect();
        let mut difat = u32_at(f, 0x44).ok_or_else(|| damaged("header"))?;
        let mut hops = 0;
        while difat != ENDOFCHAIN && difat != FREESECT {
            hops += 1;
            let s = self.sector(difat).ok_or_else(|| damaged("DIFAT"))?;
            if hops > self.sectors {
                return Err(damaged("DIFAT loop"));
            }
            let per = self.size / 4 - 1;
            fat_sectors.extend(
                (0..per)
                    .filter_map(|i| u32_at(s, 4 * i))
                    .filter(|s| *s != FREESECT && *s != ENDOFCHAIN),
            );
            difat = u32_at(s, 4 * per).ok_or_else(|| damaged("DIFAT"))?;
        }
        Ok(fat_sectors)
    }

    /// The first `len` bytes of the stream starting at sector `start`.
    fn read(&self, start: u32, len: usize) -> Result<Vec<u8>, ReadError> {
        let mut out = Vec::new();
        for s in chain(start, &self.fat, self.sectors)? {
            out.extend_from_slice(self.sector(s).ok_or_else(|| damaged("stream sector"))?);
            if out.len() >= len {
                break;
            }
        }
        out.truncate(len);
        Ok(out)
    }

    /// The first `len` bytes of a small stream starting at mini sector `start`: it lives in
    /// the mini stream (64-byte sectors inside the `root` entry's stream).
    fn read_mini(&self, root: &[u8], start: u32, len: usize) -> Result<Vec<u8>, ReadError> {
        let f = self.f;
        let mini_shift = u16_at(f, 0x20).unwrap_or(6);
        if mini_shift != 6 {
            return Err(damaged("mini sector size"));
        }
        let root_start = u32_at(root, 116).ok_or_else(|| damaged("directory"))?;
        let root_len = (u32_at(root, 120).unwrap_or(0) as usize).min(f.len());
        let container = self.read(root_start, root_len)?;
        let minifat_start = u32_at(f, 0x3C).ok_or_else(|| damaged("header"))?;
        let minifat_bytes = self.read(minifat_start, self.sectors.saturating_mul(self.size))?;
        let minifat: Vec<u32> = minifat_bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let mut out = Vec::new();
        for m in chain(start, &minifat, container.len() / 64 + 1)? {
            let at = (m as usize) * 64;
            out.extend_from_slice(
                container
                    .get(at..at + 64)
                    .ok_or_else(|| damaged("mini stream"))?,
            );
            if out.len() >= len {
                break;
            }
        }
        out.truncate(len);
        Ok(out)
    }
}

/// A chain of sectors through `table` (at most `limit` + 1 of them: a longer one loops).
fn chain(start: u32, table: &[u32], limit: usize) -> Result<Vec<u32>, ReadError> {
    let mut out = Vec::new();
    let mut cur = start;
    while cur != ENDOFCHAIN {
        if out.len() > limit {
            return Err(damaged("sector chain loop"));
        }
        out.push(cur);
        cur = *table
            .get(cur as usize)
            .ok_or_else(|| damaged("sector chain"))?;
    }
    Ok(out)
}

/// The name of a directory entry.
fn entry_name(e: &[u8]) -> String {
    let len = (u16_at(e, 64).unwrap_or(0) as usize).min(64);
    let units: Vec<u16> = (0..len / 2)
        .filter_map(|i| u16_at(e, 2 * i))
        .take_while(|c| *c != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// The `Workbook` (or BIFF5 `Book`) stream of a compound file.
fn workbook_stream(f: &[u8]) -> Result<Vec<u8>, ReadError> {
    let cfb = Cfb::open(f)?;
    let dir_start = u32_at(f, 0x30).ok_or_else(|| damaged("header"))?;
    let dir = cfb.read(dir_start, cfb.sectors.saturating_mul(cfb.size))?;
    let entries: Vec<&[u8]> = dir.chunks_exact(128).collect();
    let root = entries.first().ok_or_else(|| damaged("directory"))?;
    let wb = ["Workbook", "Book"].iter().find_map(|want| {
        entries
            .iter()
            .find(|e| e.get(66) == Some(&2) && entry_name(e).eq_ignore_ascii_case(want))
    });
    let Some(wb) = wb else {
        return Err(ReadError::Corrupt(
            "it has no Workbook stream (not an Excel 97-2003 workbook)".into(),
        ));
    };
    let start = u32_at(wb, 116).ok_or_else(|| damaged("directory"))?;
    let len = u32_at(wb, 120).ok_or_else(|| damaged("directory"))? as usize;
    if len > f.len() {
        return Err(damaged("stream larger than the file"));
    }
    let cutoff = u32_at(f, 0x38).unwrap_or(4096) as usize;
    if len >= cutoff {
        return cfb.read(start, len);
    }
    cfb.read_mini(root, start, len)
}

/// Records of a BIFF stream from `at`: (type, data).
fn records(stream: &[u8], mut at: usize) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let typ = u16_at(stream, at)?;
        let len = u16_at(stream, at + 2)? as usize;
        let data = stream.get(at + 4..at + 4 + len)?;
        at += 4 + len;
        Some((typ, data))
    })
}

/// Walk the stream as calamine will: the globals up to their EOF (the sheets' positions),
/// then each sheet from its position.
fn scan(stream: &[u8], limits: &Limits) -> Result<(), ReadError> {
    let mut sheets: Vec<usize> = Vec::new();
    for (typ, data) in records(stream, 0) {
        match typ {
            0x0085 => {
                if let Some(pos) = u32_at(data, 0) {
                    sheets.push(pos as usize);
                }
                if sheets.len() > MAX_SHEETS {
                    return Err(ReadError::SheetTooLarge(format!(
                        "the workbook has more than {MAX_SHEETS} sheets"
                    )));
                }
            }
            0x000A => break,
            _ => {}
        }
    }
    let max = limits.max_grid_cells;
    let too_big = |what: &str, cells: u64| {
        ReadError::SheetTooLarge(format!(
            "{what} span {cells} cells; at most {max} cells can be read from an .xls workbook"
        ))
    };
    let (mut declared, mut spanned) = (0u64, 0u64);
    for pos in sheets {
        if pos > stream.len() {
            continue;
        }
        let (mut r0, mut r1, mut c0, mut c1) = (u32::MAX, 0u32, u32::MAX, 0u32);
        let mut cell = |r: u32, c: u32| {
            r0 = r0.min(r);
            r1 = r1.max(r);
            c0 = c0.min(c);
            c1 = c1.max(c);
        };
        let (mut seen_bof, mut depth) = (false, 0usize);
        for (typ, d) in records(stream, pos) {
            if depth > 0 {
                match typ {
                    0x0809 => depth += 1,
                    0x000A => depth -= 1,
                    _ => {}
                }
                continue;
            }
            let rc = || Some((u32::from(u16_at(d, 0)?), u32::from(u16_at(d, 2)?)));
            match typ {
                0x0809 if seen_bof => depth += 1,
                0x0809 => seen_bof = true,
                0x0200 => declared = declared.saturating_add(dimension_cells(d)),
                0x0203 | 0x0204 | 0x00D6 | 0x0205 | 0x027E | 0x00FD | 0x0006 => {
                    if let Some((r, c)) = rc() {
                        cell(r, c);
                    }
                }
                0x00BD if d.len() >= 6 => {
                    if let (Some((r, c)), Some(last)) = (rc(), u16_at(d, d.len() - 2)) {
                        cell(r, c);
                        cell(r, u32::from(last).max(c));
                    }
                }
                0x000A => break,
                _ => {}
            }
            if declared > max {
                return Err(too_big("the sheets' declared dimensions", declared));
            }
        }
        if r0 <= r1 {
            let area = u64::from(r1 - r0 + 1) * u64::from(c1 - c0 + 1);
            spanned = spanned.saturating_add(area);
            if spanned > max {
                return Err(too_big("the sheets' cells", spanned));
            }
        }
    }
    Ok(())
}

/// The cells calamine reserves for a DIMENSIONS record (its arithmetic, wrapping included).
fn dimension_cells(r: &[u8]) -> u64 {
    let (rf, rl, mut cf, cl) = match r.len() {
        10 => (
            u32::from(u16_at(r, 0).unwrap_or(0)),
            u32::from(u16_at(r, 2).unwrap_or(0)),
            u32::from(u16_at(r, 4).unwrap_or(0)),
            u32::from(u16_at(r, 6).unwrap_or(0)),
        ),
        14 | 16 => (
            u32_at(r, 0).unwrap_or(0),
            u32_at(r, 4).unwrap_or(0),
            u32::from(u16_at(r, 8).unwrap_or(0)),
            u32::from(u16_at(r, 10).unwrap_or(0)),
        ),
        _ => return 0,
    };
    if 0xFF < cf || cl < cf {
        cf = 0;
    }
    if rl >= 1 && cl >= 1 {
        let rows = (rl - 1).wrapping_sub(rf).wrapping_add(1);
        let cols = (cl - 1).wrapping_sub(cf).wrapping_add(1);
        u64::from(rows).saturating_mul(u64::from(cols))
    } else {
        1
    }
}
