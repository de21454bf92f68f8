//! The reader: bytes + file name → rows with their spreadsheet row numbers, or a typed error.

use std::io::Cursor;

use calamine::{Data, Reader, Xls};

/// Columns past this one are never looked at (extra columns are ignored anyway).
pub(crate) const MAX_COLUMNS: usize = 256;
/// The header row must be among the first this many non-blank rows.
const HEADER_SCAN_ROWS: usize = 20;

/// The kind of spreadsheet, from the file's content (the name only decides between a
/// spreadsheet and CSV text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Xls,
    Ods,
    Csv,
}

impl Format {
    /// The format the file name asks for (by its extension, any case).
    pub fn from_name(name: &str) -> Option<Format> {
        let lower = name.to_lowercase();
        let (_, ext) = lower.rsplit_once('.')?;
        match ext {
            "xlsx" | "xlsm" => Some(Format::Xlsx),
            "xls" => Some(Format::Xls),
            "ods" => Some(Format::Ods),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Format::Xlsx => ".xlsx",
            Format::Xls => ".xls",
            Format::Ods => ".ods",
            Format::Csv => ".csv",
        }
    }
}

/// Limits checked before and while parsing, so a hostile or broken file cannot exhaust the
/// memory or time of the console (or the server behind it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest file accepted.
    pub max_file_bytes: u64,
    /// Most account rows (blank rows and the header not counted).
    pub max_rows: usize,
    /// .xlsx / .ods: the sum of the unpacked sizes of the zip entries.
    pub max_unpacked_bytes: u64,
    /// .xlsx / .ods: most zip entries.
    pub max_zip_entries: usize,
    /// .xlsx / .ods: highest unpacked / packed ratio of an entry larger than
    /// [`RATIO_MIN_BYTES`]. Smaller entries may compress as well as they like: a sheet full
    /// of long repeated text is not a bomb, and every entry is read through a hard limit on
    /// the bytes it really unpacks to (`max_unpacked_bytes`) anyway.
    pub max_ratio: u64,
    /// Longest cell, in characters (a spreadsheet program's own limit is 32,767).
    pub max_cell_chars: usize,
    /// Most bytes of text kept: the Name, Extension and Email cells of all rows together,
    /// and, for .xlsx, the shared string table (plus 4 bytes a string).
    pub max_text_bytes: u64,
    /// .xls: most cells calamine may lay out, summed over the sheets (their declared
    /// dimensions, and the span of their cells).
    pub max_grid_cells: u64,
}

/// The ratio rule applies only to a zip entry that unpacks to more than this.
pub const RATIO_MIN_BYTES: u64 = 32 * 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 10 * 1024 * 1024,
            max_rows: 100_000,
            max_unpacked_bytes: 256 * 1024 * 1024,
            max_zip_entries: 1000,
            max_ratio: 1000,
            max_cell_chars: 32_767,
            max_text_bytes: 64 * 1024 * 1024,
            max_grid_cells: 2_000_000,
        }
    }
}

/// One account row of the sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The spreadsheet's own row number (1 = the first row), so people can find it.
    pub row: u32,
    pub name: String,
    pub extension: String,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    pub format: Format,
    pub sheet_name: String,
    /// Row number of the header row.
    pub header_row: u32,
    /// Header cells of the columns that are not read (e.g. "Cloud Number", "Status").
    pub ignored_columns: Vec<String>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("the file is {size} bytes; at most {max} bytes can be imported")]
    TooLarge { size: u64, max: u64 },
    #[error("{0:?} is not a file type that can be imported: use .xlsx, .xls, .ods or .csv")]
    UnknownType(String),
    #[error("the file is named {expected} but its content is {found}")]
    WrongFormat {
        expected: &'static str,
        found: &'static str,
    },
    #[error("the file is password-protected: open it, remove the password, save it and try again")]
    Encrypted,
    #[error("the file is damaged and cannot be read ({0})")]
    Corrupt(String),
    #[error("the file is refused: {0} (a possible zip bomb)")]
    ZipBomb(String),
    #[error("the sheet has more than {max} rows; at most {max} accounts can be imported at once")]
    TooManyRows { max: usize },
    #[error("the first sheet is empty")]
    Empty,
    #[error("the first sheet has a header row (row {header_row}) but no accounts below it")]
    NoRows { header_row: u32 },
    #[error("no header row with the column(s) {columns} was found (the header names can be *Name, *Extension, Email or 姓名, 分机号, 邮箱)")]
    MissingColumn { columns: String },
    #[error("the CSV file is not UTF-8 text: save it as \"CSV UTF-8\" and try again")]
    NotUtf8,
    #[error("it is {kind}, not a regular file: only regular files can be imported")]
    NotAFile { kind: &'static str },
    #[error("a cell holds more than {max} characters (the most a spreadsheet cell holds)")]
    CellTooLong { max: usize },
    #[error("the cells to import hold more than {max} bytes of text")]
    TooMuchText { max: u64 },
    #[error("the sheet is too large to import: {0}")]
    SheetTooLarge(String),
}

impl ReadError {
    /// A short stable name of the error, for scripts (`--json`) and tests.
    pub fn code(&self) -> &'static str {
        match self {
            ReadError::TooLarge { .. } => "file_too_large",
            ReadError::UnknownType(_) => "unknown_file_type",
            ReadError::WrongFormat { .. } => "wrong_format",
            ReadError::Encrypted => "password_protected",
            ReadError::Corrupt(_) => "corrupt_file",
            ReadError::ZipBomb(_) => "zip_bomb",
            ReadError::TooManyRows { .. } => "too_many_rows",
            ReadError::Empty => "empty_sheet",
            ReadError::NoRows { .. } => "no_rows",
            ReadError::MissingColumn { .. } => "missing_column",
            ReadError::NotUtf8 => "not_utf8",
            ReadError::NotAFile { .. } => "not_a_file",
            ReadError::CellTooLong { .. } => "cell_too_long",
            ReadError::TooMuchText { .. } => "too_much_text",
            ReadError::SheetTooLarge(_) => "sheet_too_large",
        }
    }
}

/// Read the first sheet of `bytes` (a file called `file_name`). `progress(done, total)` is
/// called now and then while rows are read (total may be an estimate, or 0 if unknown).
pub fn read(
    bytes: &[u8],
    file_name: &str,
    limits: &Limits,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Sheet, ReadError> {
    let named = Format::from_name(file_name).ok_or_else(|| {
        ReadError::UnknownType(
            std::path::Path::new(file_name)
                .extension()
                .map(|e| format!(".{}", e.to_string_lossy()))
                .unwrap_or_else(|| file_name.to_string()),
        )
    })?;
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            max: limits.max_file_bytes,
        });
    }
    let format = sniff(bytes, named, limits)?;
    // calamine 0.38 panics on some damaged files (found by fuzzing: an .xls whose sector
    // chain points past the end); such a file is reported as damaged, not a crash.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parse(bytes, format, limits, progress)
    }))
    .unwrap_or_else(|_| {
        Err(ReadError::Corrupt(
            "its internal structure is inconsistent".into(),
        ))
    })
}

fn parse(
    bytes: &[u8],
    format: Format,
    limits: &Limits,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Sheet, ReadError> {
    let mut b = Builder::new(format, limits);
    match format {
        Format::Csv => read_csv(bytes, &mut b, progress)?,
        Format::Xlsx => crate::stream::read_xlsx(bytes, &mut b, progress)?,
        Format::Xls => {
            crate::xls_guard::check(bytes, limits)?;
            read_grid::<Xls<_>>(bytes, &mut b, progress, |e| {
                matches!(e, calamine::XlsError::Password)
            })?
        }
        Format::Ods => crate::stream::read_ods(bytes, &mut b, progress)?,
    }
    b.finish()
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// What the content really is; the zip guard runs here, before calamine sees the bytes.
fn sniff(bytes: &[u8], named: Format, limits: &Limits) -> Result<Format, ReadError> {
    if bytes.starts_with(ZIP_MAGIC) || bytes.starts_with(b"PK\x05\x06") {
        let kind = zip_guard(bytes, limits)?;
        return match (named, kind) {
            (Format::Csv, _) => Err(ReadError::WrongFormat {
                expected: ".csv",
                found: "a zipped spreadsheet (.xlsx or .ods), not text",
            }),
            (_, Some(f)) => Ok(f),
            (n, None) => Err(ReadError::WrongFormat {
                expected: n.label(),
                found: "a zip archive that is not a spreadsheet",
            }),
        };
    }
    if bytes.starts_with(CFB_MAGIC) {
        // Excel keeps a password-protected .xlsx in an OLE container with this stream.
        if contains(bytes, &utf16le("EncryptedPackage")) {
            return Err(ReadError::Encrypted);
        }
        return match named {
            Format::Csv => Err(ReadError::WrongFormat {
                expected: ".csv",
                found: "an Excel 97-2003 (.xls) workbook, not text",
            }),
            _ => Ok(Format::Xls),
        };
    }
    match named {
        Format::Csv => {
            let head = &bytes[..bytes.len().min(8192)];
            if head.contains(&0)
                && !head.starts_with(&[0xFF, 0xFE])
                && !head.starts_with(&[0xFE, 0xFF])
            {
                return Err(ReadError::WrongFormat {
                    expected: ".csv",
                    found: "binary data, not text",
                });
            }
            Ok(Format::Csv)
        }
        n => Err(ReadError::WrongFormat {
            expected: n.label(),
            found: if bytes.is_empty() {
                "empty (0 bytes)"
            } else if std::str::from_utf8(&bytes[..bytes.len().min(4096)]).is_ok() {
                "plain text (save it as a spreadsheet, or name it .csv)"
            } else {
                "not a spreadsheet"
            },
        }),
    }
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Check the zip central directory: entry count, unpacked sizes, compression ratios.
/// Returns the spreadsheet kind the entries show (None: some other zip).
fn zip_guard(bytes: &[u8], limits: &Limits) -> Result<Option<Format>, ReadError> {
    let mut z = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ReadError::Corrupt(format!("not a readable zip archive: {e}")))?;
    if z.len() > limits.max_zip_entries {
        return Err(ReadError::ZipBomb(format!(
            "{} entries in the archive, at most {}",
            z.len(),
            limits.max_zip_entries
        )));
    }
    let mut total: u64 = 0;
    let mut kind = None;
    for i in 0..z.len() {
        let f = z
            .by_index_raw(i)
            .map_err(|e| ReadError::Corrupt(format!("zip entry {i}: {e}")))?;
        let (packed, unpacked) = (f.compressed_size(), f.size());
        let name = f
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| String::from("?"));
        total = total.saturating_add(unpacked);
        if unpacked > RATIO_MIN_BYTES && unpacked / packed.max(1) > limits.max_ratio {
            return Err(ReadError::ZipBomb(format!(
                "{name} unpacks {}x (at most {}x)",
                unpacked / packed.max(1),
                limits.max_ratio
            )));
        }
        match name.as_str() {
            "xl/workbook.xml" | "xl/workbook.bin" => kind = Some(Format::Xlsx),
            "content.xml" if kind.is_none() => kind = Some(Format::Ods),
            _ => {}
        }
    }
    if total > limits.max_unpacked_bytes {
        return Err(ReadError::ZipBomb(format!(
            "it unpacks to {total} bytes, at most {}",
            limits.max_unpacked_bytes
        )));
    }
    Ok(kind)
}

/// A cell, as far as the reader cares.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Empty,
    Text(String),
    Num(f64),
}

impl Val {
    fn from_data(d: &Data) -> Val {
        match d {
            Data::Empty => Val::Empty,
            Data::String(s) => Val::Text(s.clone()),
            Data::Float(f) => Val::Num(*f),
            Data::Int(i) => Val::Num(*i as f64),
            other => Val::Text(other.to_string()),
        }
    }

    /// The text a person sees: numbers without a trailing ".0", a single leading `'` that
    /// guarded a formula-like value removed.
    fn text(&self) -> String {
        match self {
            Val::Empty => String::new(),
            Val::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            Val::Num(n) => n.to_string(),
            Val::Text(s) => {
                let s = s.trim();
                match s.strip_prefix('\'') {
                    Some(rest) if crate::formula_like(rest) => rest.to_string(),
                    _ => s.to_string(),
                }
            }
        }
    }

    /// An extension: a number cell below 10000 is padded to 4 digits (a spreadsheet drops the
    /// leading zeros of 0123 typed into a number cell); text "1001.0" reads as 1001.
    fn extension(&self) -> String {
        match self {
            Val::Num(n) if n.fract() == 0.0 && (0.0..10000.0).contains(n) => {
                format!("{:04}", *n as i64)
            }
            _ => {
                let t = self.text();
                match t.split_once('.') {
                    Some((int, frac))
                        if !int.is_empty()
                            && int.bytes().all(|c| c.is_ascii_digit())
                            && !frac.is_empty()
                            && frac.bytes().all(|c| c == b'0') =>
                    {
                        int.to_string()
                    }
                    _ => t,
                }
            }
        }
    }

    pub(crate) fn is_blank(&self) -> bool {
        match self {
            Val::Empty => true,
            Val::Text(s) => s.trim().is_empty(),
            Val::Num(_) => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Name,
    Extension,
    Email,
}

/// Which column a header cell names: with or without `*`, any case, English or Chinese.
fn header_col(cell: &str) -> Option<Col> {
    let k: String = cell
        .trim()
        .trim_start_matches(['*', '＊'])
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
        .collect::<String>()
        .to_lowercase();
    match k.as_str() {
        "name" | "fullname" | "姓名" | "名称" | "名字" | "全名" | "用户名" => {
            Some(Col::Name)
        }
        "extension" | "ext" | "extensionnumber" | "分机" | "分机号" | "分机号码" => {
            Some(Col::Extension)
        }
        "email" | "mail" | "emailaddress" | "邮箱" | "电子邮箱" | "邮件" | "电子邮件"
        | "邮箱地址" => Some(Col::Email),
        _ => None,
    }
}

struct Header {
    name: usize,
    extension: usize,
    email: Option<usize>,
}

/// Turns rows of cells into account rows: finds the header, skips blank rows, counts.
pub(crate) struct Builder<'a> {
    format: Format,
    pub(crate) limits: &'a Limits,
    pub(crate) sheet_name: String,
    header: Option<Header>,
    header_row: u32,
    ignored: Vec<String>,
    scanned: usize,
    saw_name: bool,
    saw_ext: bool,
    rows: Vec<Row>,
    /// Bytes of text in `rows`.
    text_bytes: u64,
}

impl<'a> Builder<'a> {
    fn new(format: Format, limits: &'a Limits) -> Self {
        Builder {
            format,
            limits,
            sheet_name: String::new(),
            header: None,
            header_row: 0,
            ignored: vec![],
            scanned: 0,
            saw_name: false,
            saw_ext: false,
            rows: vec![],
            text_bytes: 0,
        }
    }

    /// What a pushed row can change: a repeated row that changes none of it is pushed once.
    pub(crate) fn state(&self) -> (usize, bool, usize) {
        (self.rows.len(), self.header.is_some(), self.scanned)
    }

    pub(crate) fn push(&mut self, row: u32, cells: &[Val]) -> Result<(), ReadError> {
        if cells.iter().all(Val::is_blank) {
            return Ok(());
        }
        let max = self.limits.max_cell_chars;
        if cells
            .iter()
            .any(|c| matches!(c, Val::Text(s) if s.len() > max && s.chars().count() > max))
        {
            return Err(ReadError::CellTooLong { max });
        }
        let Some(h) = &self.header else {
            return self.find_header(row, cells);
        };
        let get = |i: usize| cells.get(i).unwrap_or(&Val::Empty);
        let (name, ext) = (get(h.name), get(h.extension));
        let email = h.email.map(get).unwrap_or(&Val::Empty);
        if name.is_blank() && ext.is_blank() && email.is_blank() {
            return Ok(());
        }
        if self.rows.len() >= self.limits.max_rows {
            return Err(ReadError::TooManyRows {
                max: self.limits.max_rows,
            });
        }
        let (name, extension, email) = (name.text(), ext.extension(), email.text());
        self.text_bytes += (name.len() + extension.len() + email.len()) as u64;
        if self.text_bytes > self.limits.max_text_bytes {
            return Err(ReadError::TooMuchText {
                max: self.limits.max_text_bytes,
            });
        }
        self.rows.push(Row {
            row,
            name,
            extension,
            email: (!email.is_empty()).then_some(email),
        });
        Ok(())
    }

    fn find_header(&mut self, row: u32, cells: &[Val]) -> Result<(), ReadError> {
        self.scanned += 1;
        let (mut name, mut ext, mut email) = (None, None, None);
        for (i, c) in cells.iter().enumerate() {
            match header_col(&c.text()) {
                Some(Col::Name) if name.is_none() => name = Some(i),
                Some(Col::Extension) if ext.is_none() => ext = Some(i),
                Some(Col::Email) if email.is_none() => email = Some(i),
                _ => {}
            }
        }
        self.saw_name |= name.is_some();
        self.saw_ext |= ext.is_some();
        if let (Some(name), Some(extension)) = (name, ext) {
            self.ignored = cells
                .iter()
                .enumerate()
                .filter(|(i, c)| {
                    ![Some(name), Some(extension), email].contains(&Some(*i)) && !c.is_blank()
                })
                .map(|(_, c)| c.text())
                .collect();
            self.header = Some(Header {
                name,
                extension,
                email,
            });
            self.header_row = row;
        } else if self.scanned >= HEADER_SCAN_ROWS {
            return Err(self.missing());
        }
        Ok(())
    }

    fn missing(&self) -> ReadError {
        let columns = match (self.saw_name, self.saw_ext) {
            (true, false) => "*Extension",
            (false, true) => "*Name",
            _ => "*Name and *Extension",
        };
        ReadError::MissingColumn {
            columns: columns.into(),
        }
    }

    fn finish(self) -> Result<Sheet, ReadError> {
        if self.header.is_none() {
            return Err(if self.scanned == 0 {
                ReadError::Empty
            } else {
                self.missing()
            });
        }
        if self.rows.is_empty() {
            return Err(ReadError::NoRows {
                header_row: self.header_row,
            });
        }
        Ok(Sheet {
            format: self.format,
            sheet_name: self.sheet_name,
            header_row: self.header_row,
            ignored_columns: self.ignored,
            rows: self.rows,
        })
    }

    /// A sheet whose dimension says it is far larger than the row limit is refused unread.
    pub(crate) fn check_height(&self, height: u64) -> Result<(), ReadError> {
        if height > 2 * self.limits.max_rows as u64 + 1000 {
            return Err(ReadError::TooManyRows {
                max: self.limits.max_rows,
            });
        }
        Ok(())
    }
}

/// .xls: open the workbook and read its first sheet's grid.
fn read_grid<'a, R>(
    bytes: &'a [u8],
    b: &mut Builder<'_>,
    progress: &mut dyn FnMut(u64, u64),
    is_password: fn(&R::Error) -> bool,
) -> Result<(), ReadError>
where
    R: Reader<Cursor<&'a [u8]>>,
    R::Error: std::fmt::Display,
{
    let err = |e: R::Error| {
        if is_password(&e) {
            ReadError::Encrypted
        } else {
            ReadError::Corrupt(e.to_string())
        }
    };
    let mut wb = R::new(Cursor::new(bytes)).map_err(err)?;
    b.sheet_name = wb.sheet_names().first().cloned().unwrap_or_default();
    match wb.worksheet_range_at(0) {
        None => Err(ReadError::Empty),
        Some(r) => read_range(&r.map_err(err)?, b, progress),
    }
}

/// Walk a calamine grid row by row.
fn read_range(
    range: &calamine::Range<Data>,
    b: &mut Builder<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), ReadError> {
    let Some((r0, c0)) = range.start() else {
        return Ok(());
    };
    let height = range.height() as u64;
    b.check_height(height)?;
    let c0 = c0 as usize;
    let mut vals: Vec<Val> = vec![];
    for (i, cells) in range.rows().enumerate() {
        vals.clear();
        vals.resize(c0.min(MAX_COLUMNS), Val::Empty);
        vals.extend(
            cells
                .iter()
                .take(MAX_COLUMNS.saturating_sub(c0))
                .map(Val::from_data),
        );
        b.push(r0 + i as u32 + 1, &vals)?;
        if i % 1000 == 999 {
            progress(i as u64 + 1, height);
        }
    }
    progress(height, height);
    Ok(())
}

/// .csv: UTF-8 (with or without BOM) or UTF-16 with BOM; `,` `;` or tab, whichever the
/// first lines use most (`,` on a tie).
fn read_csv(
    bytes: &[u8],
    b: &mut Builder<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), ReadError> {
    let text: std::borrow::Cow<'_, str> = if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        utf16(rest, u16::from_le_bytes)?.into()
    } else if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        utf16(rest, u16::from_be_bytes)?.into()
    } else {
        let rest = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        std::str::from_utf8(rest)
            .map_err(|_| ReadError::NotUtf8)?
            .into()
    };
    let lines = text.bytes().filter(|c| *c == b'\n').count() as u64 + 1;
    b.check_height(lines)?;
    let head: Vec<&str> = text.lines().take(HEADER_SCAN_ROWS).collect();
    let delimiter = [b'\t', b';', b',']
        .into_iter()
        .max_by_key(|d| {
            head.iter()
                .flat_map(|l| l.bytes())
                .filter(|c| c == d)
                .count()
        })
        .unwrap_or(b',');
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rec = csv::StringRecord::new();
    let mut vals: Vec<Val> = vec![];
    let mut n: u64 = 0;
    let (mut seen, mut line) = (0usize, 1u64);
    loop {
        match rd.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(ReadError::Corrupt(format!("CSV: {e}"))),
        }
        // The line the record starts on (the csv crate does not count blank lines).
        let bytes = text.as_bytes();
        let mut at = rec.position().map(|p| p.byte() as usize).unwrap_or(seen);
        while at < bytes.len() && matches!(bytes[at], b'\n' | b'\r') {
            at += 1;
        }
        line += bytes[seen.min(at)..at]
            .iter()
            .filter(|c| **c == b'\n')
            .count() as u64;
        seen = seen.max(at);
        vals.clear();
        vals.extend(
            rec.iter()
                .take(MAX_COLUMNS)
                .map(|s| Val::Text(s.to_string())),
        );
        b.push(u32::try_from(line).unwrap_or(u32::MAX), &vals)?;
        n += 1;
        if n.is_multiple_of(1000) {
            progress(n, lines);
        }
    }
    progress(lines, lines);
    Ok(())
}

fn utf16(bytes: &[u8], f: fn([u8; 2]) -> u16) -> Result<String, ReadError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(ReadError::NotUtf8);
    }
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| f([c[0], c[1]])).collect();
    String::from_utf16(&units).map_err(|_| ReadError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> Result<Sheet, ReadError> {
        read(text.as_bytes(), "a.csv", &Limits::default(), &mut |_, _| {})
    }

    #[test]
    fn header_found_by_name_in_any_case_and_language() {
        for h in [
            "*Name,*Extension,Email",
            "name,EXTENSION,e-mail",
            "姓名,分机号,邮箱",
            "＊姓名,＊分机号,电子邮箱",
        ] {
            let s = csv(&format!("{h}\nAnna,1001,anna@x.com\n")).expect(h);
            assert_eq!(s.header_row, 1);
            assert_eq!(s.rows[0].name, "Anna");
            assert_eq!(s.rows[0].extension, "1001");
            assert_eq!(s.rows[0].email.as_deref(), Some("anna@x.com"));
        }
    }

    #[test]
    fn title_rows_extra_columns_blank_rows_and_row_numbers() {
        let s = csv("Accounts of Yealink\n\nNote,*Extension,*Name,Cloud Number,Email\n,1001,Anna,584921001,\n,,,,\n,0123,陈媛媛,,chenyy@163.com\n").unwrap();
        assert_eq!(s.header_row, 3);
        assert_eq!(s.ignored_columns, vec!["Note", "Cloud Number"]);
        let got: Vec<(u32, &str, &str)> = s
            .rows
            .iter()
            .map(|r| (r.row, r.name.as_str(), r.extension.as_str()))
            .collect();
        assert_eq!(got, vec![(4, "Anna", "1001"), (6, "陈媛媛", "0123")]);
        assert_eq!(s.rows[0].email, None);
    }

    #[test]
    fn extensions_as_numbers_and_guarded_formulas() {
        let s = csv("Name;Extension\n'=SUM(A1);1001.0\n'plain;0099\n").unwrap();
        assert_eq!(s.rows[0].name, "=SUM(A1)");
        assert_eq!(s.rows[0].extension, "1001");
        assert_eq!(s.rows[1].name, "'plain");
        assert_eq!(s.rows[1].extension, "0099");
        assert_eq!(Val::Num(123.0).extension(), "0123");
        assert_eq!(Val::Num(1001.0).extension(), "1001");
        assert_eq!(Val::Num(12345.0).extension(), "12345");
    }

    #[test]
    fn typed_errors() {
        assert_eq!(csv("").unwrap_err(), ReadError::Empty);
        assert_eq!(csv("\n,,\n").unwrap_err(), ReadError::Empty);
        assert_eq!(
            csv("*Name,*Extension\n").unwrap_err(),
            ReadError::NoRows { header_row: 1 }
        );
        assert_eq!(
            csv("Name,Email\nAnna,a@b.c\n").unwrap_err().code(),
            "missing_column"
        );
        assert!(csv("Name,Email\nAnna,a@b.c\n")
            .unwrap_err()
            .to_string()
            .contains("*Extension"));
        let lim = Limits {
            max_rows: 2,
            ..Limits::default()
        };
        let e = read(
            b"Name,Extension\na,1\nb,2\nc,3\n",
            "a.csv",
            &lim,
            &mut |_, _| {},
        );
        assert_eq!(e.unwrap_err(), ReadError::TooManyRows { max: 2 });
        let lim = Limits {
            max_file_bytes: 4,
            ..Limits::default()
        };
        let e = read(b"Name,Extension\n", "a.csv", &lim, &mut |_, _| {});
        assert_eq!(e.unwrap_err().code(), "file_too_large");
        let e = read(b"x", "a.pdf", &Limits::default(), &mut |_, _| {});
        assert_eq!(e.unwrap_err(), ReadError::UnknownType(".pdf".into()));
        let e = read(
            b"Name,Extension\n",
            "a.xlsx",
            &Limits::default(),
            &mut |_, _| {},
        );
        assert_eq!(e.unwrap_err().code(), "wrong_format");
        let e = read(b"\xff\xfe\x00", "a.csv", &Limits::default(), &mut |_, _| {});
        assert_eq!(e.unwrap_err().code(), "not_utf8");
        let e = read(b"Name\x00,x", "a.csv", &Limits::default(), &mut |_, _| {});
        assert_eq!(e.unwrap_err().code(), "wrong_format");
        let mut enc = CFB_MAGIC.to_vec();
        enc.extend(utf16le("EncryptedPackage"));
        let e = read(&enc, "a.xlsx", &Limits::default(), &mut |_, _| {});
        assert_eq!(e.unwrap_err(), ReadError::Encrypted);
        let e = read(
            b"PK\x03\x04garbage",
            "a.xlsx",
            &Limits::default(),
            &mut |_, _| {},
        );
        assert_eq!(e.unwrap_err().code(), "corrupt_file");
    }

    fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            z.start_file(*name, opts).unwrap();
            z.write_all(data).unwrap();
        }
        z.finish().unwrap().into_inner()
    }

    #[test]
    fn zip_bombs_are_refused_before_parsing() {
        let lim = Limits::default();
        let bomb = zip_of(&[
            ("xl/workbook.xml", b"<workbook/>".to_vec()),
            ("xl/worksheets/sheet1.xml", vec![b' '; 50 * 1024 * 1024]),
        ]);
        assert!(bomb.len() < 200_000);
        let e = read(&bomb, "a.xlsx", &lim, &mut |_, _| {}).unwrap_err();
        assert_eq!(e.code(), "zip_bomb", "{e}");
        assert!(e.to_string().contains("sheet1.xml unpacks"), "{e}");
        let many: Vec<(String, Vec<u8>)> = (0..5).map(|i| (format!("f{i}"), vec![1u8])).collect();
        let many: Vec<(&str, Vec<u8>)> =
            many.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
        let small = Limits {
            max_zip_entries: 4,
            ..Limits::default()
        };
        let e = read(&zip_of(&many), "a.ods", &small, &mut |_, _| {}).unwrap_err();
        assert!(e.to_string().contains("5 entries"), "{e}");
        let e = read(&zip_of(&many), "a.xlsx", &lim, &mut |_, _| {}).unwrap_err();
        assert_eq!(e.code(), "wrong_format");
    }

    #[test]
    fn an_oversized_sheet_is_refused_by_its_dimension() {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "*Name").unwrap();
        ws.write_string(0, 1, "*Extension").unwrap();
        ws.write_string(1_000_000, 16_000, "far away").unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        let e = read(&bytes, "a.xlsx", &Limits::default(), &mut |_, _| {}).unwrap_err();
        assert_eq!(e, ReadError::TooManyRows { max: 100_000 });
    }

    #[test]
    fn fuzz_findings_are_errors_not_crashes() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/regressions");
        for f in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(f.unwrap().path()).unwrap();
            for name in ["f.xlsx", "f.xls", "f.ods", "f.csv"] {
                let _ = read(&bytes, name, &Limits::default(), &mut |_, _| {});
            }
        }
    }

    #[test]
    fn utf16_csv_with_bom() {
        let mut b = vec![0xFF, 0xFE];
        b.extend(utf16le("姓名\t分机号\n何以言\t2004\n"));
        let s = read(&b, "a.csv", &Limits::default(), &mut |_, _| {}).unwrap();
        assert_eq!(s.rows[0].name, "何以言");
    }
}
