//! .ods and .xlsx read by our own streaming XML reader, so memory stays bounded whatever the
//! file declares: repeated rows and columns (`table:number-rows-repeated`,
//! `table:number-columns-repeated`) are never expanded past what the builder keeps, sheet
//! dimensions and far-away cells cost nothing, a shared string table is kept compact and
//! within a byte budget, and every zip entry is read through a hard limit on the bytes it
//! really unpacks to (whatever its header says) and on the size of one XML token.
//!
//! calamine is not used for these two formats: it builds the full grid of an .ods (a 981-byte
//! file declaring 6,000 × 16,384 repeated cells took gigabytes) and reserves memory for the
//! counts an .xlsx declares (`uniqueCount`, shared formula indexes).

use std::cell::RefCell;
use std::io::{BufReader, Cursor, Read};
use std::rc::Rc;

use quick_xml::events::{BytesStart, Event};

use crate::read::{Builder, Limits, ReadError, Val, MAX_COLUMNS};

/// The most bytes one XML token (a tag with its attributes, or a run of text) may take.
pub(crate) const MAX_TOKEN_BYTES: u64 = 4 * 1024 * 1024;

type Zip<'a> = zip::ZipArchive<Cursor<&'a [u8]>>;

fn open_zip(bytes: &[u8]) -> Result<Zip<'_>, ReadError> {
    zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ReadError::Corrupt(format!("not a readable zip archive: {e}")))
}

/// Bytes unpacked so far, for the whole file and for the current XML token.
struct Budget {
    total: u64,
    token: u64,
    max_total: u64,
    over: Option<ReadError>,
}

/// A zip entry's reader that stops at the limits of its [`Budget`].
struct Limited<R> {
    inner: R,
    budget: Rc<RefCell<Budget>>,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut b = self.budget.borrow_mut();
        b.total += n as u64;
        b.token += n as u64;
        if b.total > b.max_total {
            b.over = Some(ReadError::ZipBomb(format!(
                "it unpacks to more than {} bytes",
                b.max_total
            )));
            return Err(std::io::Error::other("unpacked size limit"));
        }
        if b.token > MAX_TOKEN_BYTES {
            b.over = Some(ReadError::Corrupt(format!(
                "an XML element or text run is over {} MiB",
                MAX_TOKEN_BYTES / 1024 / 1024
            )));
            return Err(std::io::Error::other("token size limit"));
        }
        Ok(n)
    }
}

/// The bytes of one zip entry, unpacked through the hard limit.
type EntryReader<'z, 'a> = BufReader<Limited<zip::read::ZipFile<'z, Cursor<&'a [u8]>>>>;

/// One zip entry, parsed as XML event by event.
struct Xml<'z, 'a> {
    r: quick_xml::Reader<EntryReader<'z, 'a>>,
    budget: Rc<RefCell<Budget>>,
    buf: Vec<u8>,
    entry: String,
}

/// The unpacked bytes of all the entries read for one file.
type Shared = Rc<RefCell<Budget>>;

fn budget(limits: &Limits) -> Shared {
    Rc::new(RefCell::new(Budget {
        total: 0,
        token: 0,
        max_total: limits.max_unpacked_bytes,
        over: None,
    }))
}

impl<'z, 'a> Xml<'z, 'a> {
    /// Open `name`; `Ok(None)` when the archive has no such entry.
    fn open(z: &'z mut Zip<'a>, name: &str, budget: &Shared) -> Result<Option<Self>, ReadError> {
        let f = match z.by_name(name) {
            Ok(f) => f,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(ReadError::Corrupt(format!("{name}: {e}"))),
        };
        let mut r = quick_xml::Reader::from_reader(BufReader::new(Limited {
            inner: f,
            budget: budget.clone(),
        }));
        r.config_mut().trim_text(false);
        Ok(Some(Xml {
            r,
            budget: budget.clone(),
            buf: Vec::with_capacity(1024),
            entry: name.to_string(),
        }))
    }

    /// The next event, owned (so the reader can go on while it is looked at).
    fn next(&mut self) -> Result<Event<'static>, ReadError> {
        self.buf.clear();
        self.budget.borrow_mut().token = 0;
        match self.r.read_event_into(&mut self.buf) {
            Ok(e) => Ok(e.into_owned()),
            Err(e) => Err(self
                .budget
                .borrow_mut()
                .over
                .take()
                .unwrap_or_else(|| ReadError::Corrupt(format!("{}: {e}", self.entry)))),
        }
    }

    /// Skip to the end of the element just started (nested elements included).
    fn skip(&mut self) -> Result<(), ReadError> {
        let mut depth = 1usize;
        loop {
            match self.next()? {
                Event::Start(_) => depth += 1,
                Event::End(_) => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Event::Eof => return Err(self.eof()),
                _ => {}
            }
        }
    }

    fn eof(&self) -> ReadError {
        ReadError::Corrupt(format!("{} ends in the middle of an element", self.entry))
    }
}

/// The value of the attribute whose key `matches`, unescaped.
fn attr(e: &BytesStart<'_>, matches: impl Fn(&str) -> bool) -> Option<String> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .find(|a| matches(a.key.as_ref()))
        .map(|a| match quick_xml::escape::unescape(&a.value) {
            Ok(v) => v.into_owned(),
            Err(_) => a.value.into_owned(),
        })
}

fn named(e: &BytesStart<'_>, key: &str) -> Option<String> {
    attr(e, |k| k == key)
}

/// The text of one cell, refused past `max_chars` characters.
struct Text {
    s: String,
    chars: usize,
    max_chars: usize,
}

impl Text {
    fn new(max_chars: usize) -> Self {
        Text {
            s: String::new(),
            chars: 0,
            max_chars,
        }
    }

    fn push_str(&mut self, t: &str) -> Result<(), ReadError> {
        self.chars += t.chars().count();
        self.check()?;
        self.s.push_str(t);
        Ok(())
    }

    fn push_n(&mut self, c: char, n: u64) -> Result<(), ReadError> {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        self.chars = self.chars.saturating_add(n);
        self.check()?;
        self.s.extend(std::iter::repeat_n(c, n));
        Ok(())
    }

    fn check(&self) -> Result<(), ReadError> {
        if self.chars > self.max_chars {
            return Err(ReadError::CellTooLong {
                max: self.max_chars,
            });
        }
        Ok(())
    }

    /// Text, a character reference or a predefined entity.
    fn event(&mut self, ev: &Event<'_>) -> Result<(), ReadError> {
        match ev {
            Event::Text(t) => self.push_str(&t.xml10_content()),
            Event::CData(t) => self.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let name: &str = r.as_ref();
                let c = match name {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "apos" => '\'',
                    "quot" => '"',
                    _ => match r.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        _ => return Err(ReadError::Corrupt(format!("unknown entity &{name};"))),
                    },
                };
                self.push_n(c, 1)
            }
            _ => Ok(()),
        }
    }
}

/// Push a row `repeat` times (an .ods row can be declared repeated), stopping as soon as a
/// repetition changes nothing (blank in the columns read), so a billion repeats cost one.
fn push_repeated(
    b: &mut Builder<'_>,
    row: u64,
    repeat: u64,
    cells: &[Val],
) -> Result<(), ReadError> {
    if cells.iter().all(Val::is_blank) {
        return Ok(());
    }
    for i in 0..repeat {
        let Ok(r) = u32::try_from(row.saturating_add(i)) else {
            return Ok(());
        };
        let before = b.state();
        b.push(r, cells)?;
        if b.state() == before {
            break;
        }
    }
    Ok(())
}

fn count(v: Option<String>) -> u64 {
    v.and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(1)
        .max(1)
}

// ---------------------------------------------------------------------------------------
// .ods

/// .ods: the first `table:table` of content.xml, row by row.
pub(crate) fn read_ods(
    bytes: &[u8],
    b: &mut Builder<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), ReadError> {
    let mut z = open_zip(bytes)?;
    let budget = budget(b.limits);
    if let Some(mut m) = Xml::open(&mut z, "META-INF/manifest.xml", &budget)? {
        loop {
            match m.next()? {
                Event::Start(e) | Event::Empty(e)
                    if e.name().as_ref() == "manifest:encryption-data" =>
                {
                    return Err(ReadError::Encrypted)
                }
                Event::Eof => break,
                _ => {}
            }
        }
    }
    let Some(mut x) = Xml::open(&mut z, "content.xml", &budget)? else {
        return Err(ReadError::Corrupt("content.xml is missing".into()));
    };
    loop {
        match x.next()? {
            Event::Start(e) if e.name().as_ref() == "table:table" => {
                b.sheet_name = named(&e, "table:name").unwrap_or_default();
                break;
            }
            Event::Eof => return Err(ReadError::Empty),
            _ => {}
        }
    }
    let max_chars = b.limits.max_cell_chars;
    let mut row: u64 = 1;
    let mut cells: Vec<Val> = Vec::new();
    let mut rows_read: u64 = 0;
    loop {
        match x.next()? {
            Event::End(e) if e.name().as_ref() == "table:table" => break,
            Event::Eof => return Err(x.eof()),
            Event::Empty(e) if e.name().as_ref() == "table:table-row" => {
                row = row.saturating_add(count(named(&e, "table:number-rows-repeated")));
            }
            Event::Start(e) if e.name().as_ref() == "table:table-row" => {
                let repeat = count(named(&e, "table:number-rows-repeated"));
                ods_row(&mut x, &mut cells, max_chars)?;
                push_repeated(b, row, repeat, &cells)?;
                row = row.saturating_add(repeat);
                rows_read += 1;
                if rows_read.is_multiple_of(1000) {
                    progress(rows_read, 0);
                }
            }
            Event::Start(e) if e.name().as_ref() == "table:table" => x.skip()?,
            _ => {}
        }
    }
    progress(rows_read, rows_read);
    Ok(())
}

/// The cells of one row (at most [`MAX_COLUMNS`], repeats expanded only that far).
fn ods_row(x: &mut Xml<'_, '_>, cells: &mut Vec<Val>, max_chars: usize) -> Result<(), ReadError> {
    cells.clear();
    let mut col: u64 = 0;
    loop {
        let (e, has_content) = match x.next()? {
            Event::End(e) if e.name().as_ref() == "table:table-row" => return Ok(()),
            Event::Eof => return Err(x.eof()),
            Event::Start(e) if is_ods_cell(&e) => (e, true),
            Event::Empty(e) if is_ods_cell(&e) => (e, false),
            Event::Start(_) => {
                x.skip()?;
                continue;
            }
            _ => continue,
        };
        let repeat = count(named(&e, "table:number-columns-repeated"));
        let kind = named(&e, "office:value-type").unwrap_or_default();
        let number = match kind.as_str() {
            "float" | "percentage" | "currency" => named(&e, "office:value")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(Val::Num),
            "boolean" => named(&e, "office:boolean-value")
                .map(|v| Val::Text(if v == "true" { "TRUE" } else { "FALSE" }.into())),
            _ => None,
        };
        let text = if has_content {
            ods_cell_text(x, max_chars)?
        } else {
            String::new()
        };
        let val = match number {
            Some(v) => v,
            None if text.is_empty() => Val::Empty,
            None => Val::Text(text),
        };
        let room = (MAX_COLUMNS as u64).saturating_sub(col);
        let n = repeat.min(room) as usize;
        if n > 0 && !val.is_blank() {
            cells.resize(col as usize, Val::Empty);
            cells.extend(std::iter::repeat_n(val, n));
        }
        col = col.saturating_add(repeat);
    }
}

fn is_ods_cell(e: &BytesStart<'_>) -> bool {
    matches!(
        e.name().as_ref(),
        "table:table-cell" | "table:covered-table-cell"
    )
}

/// The text of a cell: its paragraphs joined by line breaks; notes left out.
fn ods_cell_text(x: &mut Xml<'_, '_>, max_chars: usize) -> Result<String, ReadError> {
    let mut t = Text::new(max_chars);
    let mut depth = 0usize;
    let mut paragraphs = 0usize;
    loop {
        let ev = x.next()?;
        match &ev {
            Event::Start(e) => match e.name().as_ref() {
                "office:annotation" => x.skip()?,
                n => {
                    if n == "text:p" || n == "text:h" {
                        if paragraphs > 0 {
                            t.push_n('\n', 1)?;
                        }
                        paragraphs += 1;
                    }
                    depth += 1;
                }
            },
            Event::Empty(e) => match e.name().as_ref() {
                "text:s" => {
                    let n = count(named(e, "text:c"));
                    t.push_n(' ', n)?;
                }
                "text:tab" => t.push_n('\t', 1)?,
                "text:line-break" => t.push_n('\n', 1)?,
                "text:p" | "text:h" => {
                    if paragraphs > 0 {
                        t.push_n('\n', 1)?;
                    }
                    paragraphs += 1;
                }
                _ => {}
            },
            Event::End(_) => {
                if depth == 0 {
                    return Ok(t.s);
                }
                depth -= 1;
            }
            Event::Eof => return Err(x.eof()),
            other => t.event(other)?,
        }
    }
}

// ---------------------------------------------------------------------------------------
// .xlsx

fn local(e: &BytesStart<'_>) -> String {
    e.local_name().as_ref().to_string()
}

/// The shared strings, in one buffer (no per-string allocation), within a byte budget.
struct Strings {
    text: String,
    ends: Vec<u32>,
}

impl Strings {
    fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..end)
    }
}

/// .xlsx: the first sheet of the workbook, streamed cell by cell.
pub(crate) fn read_xlsx(
    bytes: &[u8],
    b: &mut Builder<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), ReadError> {
    let mut z = open_zip(bytes)?;
    let budget = budget(b.limits);
    let (name, rid) = first_sheet(&mut z, &budget)?;
    b.sheet_name = name;
    let (sheet_path, sst_path) = sheet_parts(&mut z, &budget, rid)?;
    let strings = shared_strings(&mut z, &sst_path, &budget, b.limits)?;
    let Some(mut x) = Xml::open(&mut z, &sheet_path, &budget)? else {
        return Err(ReadError::Corrupt(format!("{sheet_path} is missing")));
    };
    sheet_data(&mut x, &strings, b, progress)
}

/// The first sheet's name and relationship id, from `xl/workbook.xml`.
fn first_sheet(z: &mut Zip<'_>, budget: &Shared) -> Result<(String, Option<String>), ReadError> {
    let Some(mut x) = Xml::open(z, "xl/workbook.xml", budget)? else {
        return Err(ReadError::Corrupt(
            "xl/workbook.xml is missing (a binary .xlsb workbook cannot be imported: save it as .xlsx)"
                .into(),
        ));
    };
    loop {
        match x.next()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "sheet" => {
                let name = named(&e, "name").unwrap_or_default();
                let rid = attr(&e, |k| k.ends_with(":id") && k != "sheetId");
                return Ok((name, rid));
            }
            Event::Eof => return Err(ReadError::Empty),
            _ => {}
        }
    }
}

/// Where the sheet with relationship id `rid` and the shared strings are: (sheet, shared
/// strings), the usual places when the workbook's relationships do not say.
fn sheet_parts(
    z: &mut Zip<'_>,
    budget: &Shared,
    rid: Option<String>,
) -> Result<(String, String), ReadError> {
    let (mut sheet_path, mut sst_path) = (None, None);
    if let Some(mut x) = Xml::open(z, "xl/_rels/workbook.xml.rels", budget)? {
        loop {
            match x.next()? {
                Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Relationship" => {
                    let target = named(&e, "Target").unwrap_or_default();
                    let path = match target.strip_prefix('/') {
                        Some(abs) => abs.to_string(),
                        None => format!("xl/{target}"),
                    };
                    if rid.is_some() && named(&e, "Id") == rid {
                        sheet_path = Some(path);
                    } else if named(&e, "Type").is_some_and(|t| t.ends_with("/sharedStrings")) {
                        sst_path = Some(path);
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
    }
    let sheet_path = sheet_path.unwrap_or_else(|| "xl/worksheets/sheet1.xml".into());
    let sst_path = sst_path.unwrap_or_else(|| "xl/sharedStrings.xml".into());
    Ok((sheet_path, sst_path))
}

/// The rows of a sheet's `sheetData`, each given to `b`; `progress` every 1000 rows (of
/// the height the sheet declares) and at the end.
fn sheet_data(
    x: &mut Xml<'_, '_>,
    strings: &Strings,
    b: &mut Builder<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), ReadError> {
    let max_chars = b.limits.max_cell_chars;
    let mut height: u64 = 0;
    let mut next_row: u64 = 1;
    let mut cells: Vec<Val> = Vec::new();
    let mut rows_read: u64 = 0;
    loop {
        match x.next()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "dimension" => {
                if let Some((r0, r1)) = named(&e, "ref").as_deref().and_then(ref_rows) {
                    height = r1.saturating_sub(r0) + 1;
                    b.check_height(height)?;
                }
            }
            Event::Empty(e) if e.local_name().as_ref() == "row" => {
                let r = named(&e, "r").and_then(|r| r.trim().parse::<u64>().ok());
                next_row = r.unwrap_or(next_row).saturating_add(1);
            }
            Event::Start(e) if e.local_name().as_ref() == "row" => {
                let r = named(&e, "r").and_then(|r| r.trim().parse::<u64>().ok());
                let r = r.unwrap_or(next_row);
                xlsx_row(x, &mut cells, strings, max_chars)?;
                if let Ok(r32) = u32::try_from(r) {
                    b.push(r32, &cells)?;
                }
                next_row = r.saturating_add(1);
                rows_read += 1;
                if rows_read.is_multiple_of(1000) {
                    progress(rows_read, height);
                }
            }
            Event::End(e) if e.local_name().as_ref() == "sheetData" => break,
            Event::Eof => break,
            _ => {}
        }
    }
    progress(height.max(rows_read), height.max(rows_read));
    Ok(())
}

/// "A1:C20" → rows (1, 20).
fn ref_rows(r: &str) -> Option<(u64, u64)> {
    let (a, b) = r.split_once(':').unwrap_or((r, r));
    let row = |s: &str| {
        s.trim_start_matches(|c: char| c.is_ascii_alphabetic() || c == '$')
            .parse::<u64>()
            .ok()
    };
    Some((row(a)?, row(b)?))
}

/// "AB12" → column 27 (0-based); None without letters.
fn ref_col(r: &str) -> Option<u64> {
    let letters = r.bytes().take_while(u8::is_ascii_alphabetic);
    let mut col: u64 = 0;
    let mut any = false;
    for c in letters {
        any = true;
        col = col
            .saturating_mul(26)
            .saturating_add(u64::from(c.to_ascii_uppercase() - b'A') + 1);
    }
    any.then(|| col - 1)
}

fn xlsx_row(
    x: &mut Xml<'_, '_>,
    cells: &mut Vec<Val>,
    strings: &Strings,
    max_chars: usize,
) -> Result<(), ReadError> {
    cells.clear();
    let mut col: u64 = 0;
    loop {
        let (e, has_content) = match x.next()? {
            Event::End(e) if e.local_name().as_ref() == "row" => return Ok(()),
            Event::Eof => return Err(x.eof()),
            Event::Start(e) if e.local_name().as_ref() == "c" => (e, true),
            Event::Empty(e) if e.local_name().as_ref() == "c" => (e, false),
            Event::Start(_) => {
                x.skip()?;
                continue;
            }
            _ => continue,
        };
        if let Some(c) = named(&e, "r").as_deref().and_then(ref_col) {
            col = c;
        }
        let kind = named(&e, "t").unwrap_or_default();
        let val = if has_content {
            xlsx_cell(x, &kind, strings, max_chars)?
        } else {
            Val::Empty
        };
        if col < MAX_COLUMNS as u64 && !val.is_blank() {
            let c = col as usize;
            if cells.len() <= c {
                cells.resize(c + 1, Val::Empty);
            }
            cells[c] = val;
        }
        col = col.saturating_add(1);
    }
}

/// The value of a `<c>` whose start was just read.
fn xlsx_cell(
    x: &mut Xml<'_, '_>,
    kind: &str,
    strings: &Strings,
    max_chars: usize,
) -> Result<Val, ReadError> {
    let mut v = Text::new(max_chars);
    let mut inline = Text::new(max_chars);
    // 1: in <v>, 2: in a <t> of <is>
    let mut in_text = 0u8;
    let mut in_is = false;
    let mut depth = 0usize;
    loop {
        let ev = x.next()?;
        match &ev {
            Event::Start(e) => {
                match local(e).as_str() {
                    "v" if depth == 0 => in_text = 1,
                    "is" if depth == 0 => in_is = true,
                    "t" if in_is => in_text = 2,
                    "rPh" | "f" | "extLst" => {
                        x.skip()?;
                        continue;
                    }
                    _ => {}
                }
                depth += 1;
            }
            Event::End(e) => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
                match e.local_name().as_ref() {
                    "v" | "t" => in_text = 0,
                    "is" => in_is = false,
                    _ => {}
                }
            }
            Event::Eof => return Err(x.eof()),
            other => match in_text {
                1 => v.event(other)?,
                2 => inline.event(other)?,
                _ => {}
            },
        }
    }
    let v = v.s;
    Ok(match kind {
        "s" => match v.trim().parse::<usize>().ok().and_then(|i| strings.get(i)) {
            Some(s) => text_val(excel_unescape(s)),
            None => Val::Empty,
        },
        "inlineStr" => text_val(excel_unescape(&inline.s)),
        "b" => Val::Text(if v.trim() == "1" { "TRUE" } else { "FALSE" }.into()),
        "str" | "e" | "d" => text_val(v),
        _ => match v.trim().parse::<f64>() {
            Ok(n) => Val::Num(n),
            Err(_) => text_val(v),
        },
    })
}

fn text_val(s: String) -> Val {
    if s.is_empty() {
        Val::Empty
    } else {
        Val::Text(s)
    }
}

/// Excel writes some characters as `_xHHHH_` (e.g. `_x000D_` for a carriage return).
fn excel_unescape(s: &str) -> String {
    if !s.contains("_x") {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("_x") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let code = tail
            .get(2..6)
            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()) && tail.get(6..7) == Some("_"))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32);
        match code {
            Some(c) => {
                out.push(c);
                rest = &tail[7..];
            }
            None => {
                out.push_str("_x");
                rest = &tail[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The shared string table, kept as one buffer; refused past `max_text_bytes`.
fn shared_strings(
    z: &mut Zip<'_>,
    path: &str,
    budget: &Shared,
    limits: &Limits,
) -> Result<Strings, ReadError> {
    let mut s = Strings {
        text: String::new(),
        ends: Vec::new(),
    };
    let Some(mut x) = Xml::open(z, path, budget)? else {
        return Ok(s);
    };
    let too_much = || ReadError::TooMuchText {
        max: limits.max_text_bytes,
    };
    loop {
        match x.next()? {
            Event::Start(e) if e.local_name().as_ref() == "si" => {
                let mut t = Text::new(limits.max_cell_chars);
                let mut in_t = false;
                loop {
                    let ev = x.next()?;
                    match &ev {
                        Event::Start(e) => match local(e).as_str() {
                            "t" => in_t = true,
                            "rPh" => x.skip()?,
                            _ => {}
                        },
                        Event::End(e) => match e.local_name().as_ref() {
                            "si" => break,
                            "t" => in_t = false,
                            _ => {}
                        },
                        Event::Eof => return Err(x.eof()),
                        other if in_t => t.event(other)?,
                        _ => {}
                    }
                }
                s.text.push_str(&t.s);
                push_end(&mut s, limits.max_text_bytes).ok_or_else(too_much)?;
            }
            Event::Empty(e) if e.local_name().as_ref() == "si" => {
                push_end(&mut s, limits.max_text_bytes).ok_or_else(too_much)?;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(s)
}

/// Close the string just appended; None past the budget (text plus 4 bytes a string).
fn push_end(s: &mut Strings, max: u64) -> Option<()> {
    let used = s.text.len() as u64 + 4 * (s.ends.len() as u64 + 1);
    if used > max {
        return None;
    }
    s.ends.push(u32::try_from(s.text.len()).ok()?);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_references() {
        assert_eq!(ref_col("A1"), Some(0));
        assert_eq!(ref_col("AB12"), Some(27));
        assert_eq!(ref_col("XFD1048576"), Some(16383));
        assert_eq!(ref_col("12"), None);
        assert!(ref_col("ZZZZZZZZZZZZZZZZZZZZ1").is_some());
        assert_eq!(ref_rows("A1:C20"), Some((1, 20)));
        assert_eq!(ref_rows("B7"), Some((7, 7)));
        assert_eq!(excel_unescape("a_x000D_b_x005F_x"), "a\rb_x");
    }
}
