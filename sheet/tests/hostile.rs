//! Hostile files: each is read in a child process (this test binary run again, on the
//! `child_read` test) under a 1 GiB address-space limit (`ulimit -v`), which reports its
//! peak resident memory (VmHWM); it must answer (rows or a typed error) well within
//! [`BOUND`]. Before the streaming readers, the .ods of issue 14 made the child abort
//! ("memory allocation of … bytes failed").

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Cursor, Write};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use vcms_sheet::{read, Limits};

/// Peak resident memory allowed for the child reading any of the hostile files below
/// (the test harness itself included).
const BOUND_KB: u64 = 96 * 1024;

/// Address space of the child.
const VMEM_KB: u64 = 1024 * 1024;

/// What the child answered: `Ok(rows)` or `Err(code, message)`.
type Answer = Result<usize, (String, String)>;

/// Read `bytes` named `name` in a child process; its answer and peak RSS in KiB.
fn measured(bytes: &[u8], name: &str) -> (Answer, u64) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "vcms-hostile-{}-{}",
        std::process::id(),
        N.fetch_add(1, SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("input");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {VMEM_KB}; exec \"$0\" \"$@\""))
        .arg(std::env::current_exe().unwrap())
        .args([
            "child_read",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("VCMS_HOSTILE_FILE", &path)
        .env("VCMS_HOSTILE_NAME", name)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("HOSTILE ").map(|(_, answer)| answer))
        .unwrap_or_else(|| {
            panic!(
                "{name}: the child gave no answer ({}): {stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let (peak, answer) = line.split_once(' ').unwrap();
    let peak: u64 = peak.parse().unwrap();
    let answer = match answer.split_once(' ') {
        Some(("ok", rows)) => Ok(rows.parse().unwrap()),
        Some((code, msg)) => Err((code.to_string(), msg.to_string())),
        None => panic!("{line}"),
    };
    (answer, peak)
}

/// The child: read the file named by the environment, print the answer and VmHWM.
#[test]
#[ignore]
fn child_read() {
    let (Some(path), Some(name)) = (
        std::env::var_os("VCMS_HOSTILE_FILE"),
        std::env::var("VCMS_HOSTILE_NAME").ok(),
    ) else {
        return;
    };
    let bytes = std::fs::read(path).unwrap();
    let r = read(&bytes, &name, &Limits::default(), &mut |_, _| {});
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap();
    match r {
        Ok(s) => println!("HOSTILE {peak} ok {}", s.rows.len()),
        Err(e) => println!("HOSTILE {peak} {} {e}", e.code()),
    }
}

fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    for (name, data) in entries {
        z.start_file(*name, opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

const ODS_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet><table:table table:name="Sheet1">"#;
const ODS_TAIL: &str =
    "</table:table></office:spreadsheet></office:body></office:document-content>";

const ODS_MANIFEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#;

fn ods(rows: &str) -> Vec<u8> {
    zip_of(&[
        (
            "mimetype",
            b"application/vnd.oasis.opendocument.spreadsheet".to_vec(),
        ),
        ("META-INF/manifest.xml", ODS_MANIFEST.as_bytes().to_vec()),
        (
            "content.xml",
            format!("{ODS_HEAD}{rows}{ODS_TAIL}").into_bytes(),
        ),
    ])
}

fn ods_text(s: &str) -> String {
    format!(
        r#"<table:table-cell office:value-type="string"><text:p>{s}</text:p></table:table-cell>"#
    )
}

const ODS_HEADER_ROW: &str = r#"<table:table-row><table:table-cell office:value-type="string"><text:p>*Name</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>*Extension</text:p></table:table-cell></table:table-row>"#;

/// The .ods of issue 14: under 1 KB, declaring rows of 16,384 repeated cells repeated
/// thousands of times (calamine laid out every one of them).
pub fn hostile_ods() -> Vec<u8> {
    let cell = r#"<table:table-cell table:number-columns-repeated="16384" office:value-type="float" office:value="1001"><text:p>1001</text:p></table:table-cell>"#;
    let mut rows = String::from(ODS_HEADER_ROW);
    for n in [2000, 6000, 4000, 6000, 5000, 6000, 3000, 6000].repeat(3) {
        rows.push_str(&format!(
            r#"<table:table-row table:number-rows-repeated="{n}">{cell}</table:table-row>"#
        ));
    }
    // And blank rows of blank cells, a million times.
    rows.push_str(r#"<table:table-row table:number-rows-repeated="1000000"><table:table-cell table:number-columns-repeated="16384"/></table:table-row>"#);
    ods(&rows)
}

/// Text cells repeated across 16,384 columns and a billion rows, and a `text:s` of a billion
/// spaces.
fn hostile_ods_text() -> Vec<u8> {
    let mut rows = String::from(ODS_HEADER_ROW);
    rows.push_str(&format!(
        r#"<table:table-row table:number-rows-repeated="1000000000"><table:table-cell table:number-columns-repeated="16384" office:value-type="string"><text:p>{}</text:p></table:table-cell></table:table-row>"#,
        "y".repeat(30_000)
    ));
    ods(&rows)
}

fn ods_spaces() -> Vec<u8> {
    ods(&format!(
        r#"{ODS_HEADER_ROW}<table:table-row><table:table-cell office:value-type="string"><text:p>a<text:s text:c="1000000000"/>b</text:p></table:table-cell></table:table-row>"#
    ))
}

const XLSX_CT: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#;
const XLSX_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const XLSX_WB: &str = r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
const XLSX_WB_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#;

fn xlsx(sheet_data: &str, dimension: &str, sst: &str) -> Vec<u8> {
    let sheet = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{dimension}<sheetData>{sheet_data}</sheetData></worksheet>"#
    );
    zip_of(&[
        ("[Content_Types].xml", XLSX_CT.as_bytes().to_vec()),
        ("_rels/.rels", XLSX_RELS.as_bytes().to_vec()),
        ("xl/workbook.xml", XLSX_WB.as_bytes().to_vec()),
        (
            "xl/_rels/workbook.xml.rels",
            XLSX_WB_RELS.as_bytes().to_vec(),
        ),
        ("xl/worksheets/sheet1.xml", sheet.into_bytes()),
        ("xl/sharedStrings.xml", sst.as_bytes().to_vec()),
    ])
}

const XLSX_HEADER_ROW: &str =
    r#"<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>"#;
const SST: &str = r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="3" uniqueCount="3"><si><t>*Name</t></si><si><t>*Extension</t></si><si><t>Anna</t></si></sst>"#;

/// A shared string table that declares four billion strings.
fn hostile_xlsx_sst() -> Vec<u8> {
    let sst = SST.replace(
        r#"count="3" uniqueCount="3""#,
        r#"count="4000000000" uniqueCount="4000000000""#,
    );
    let rows = format!(
        r#"{XLSX_HEADER_ROW}<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2"><v>1001</v></c></row>"#
    );
    xlsx(&rows, r#"<dimension ref="A1:B2"/>"#, &sst)
}

/// A shared formula with an index of a billion.
fn hostile_xlsx_formula() -> Vec<u8> {
    let rows = format!(
        r#"{XLSX_HEADER_ROW}<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2"><f t="shared" ref="B2:B3" si="1000000000">1000+1</f><v>1001</v></c></row><row r="3"><c r="B3"><f t="shared" si="1000000000"/><v>1002</v></c></row>"#
    );
    xlsx(&rows, r#"<dimension ref="A1:B3"/>"#, SST)
}

/// No dimension, and one cell at the far corner of the sheet.
fn hostile_xlsx_far_cell() -> Vec<u8> {
    let rows = format!(
        r#"{XLSX_HEADER_ROW}<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2"><v>1001</v></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>"#
    );
    xlsx(&rows, "", SST)
}

/// A declared dimension of the whole sheet.
fn hostile_xlsx_dimension() -> Vec<u8> {
    let rows = format!(
        r#"{XLSX_HEADER_ROW}<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2"><v>1001</v></c></row>"#
    );
    xlsx(&rows, r#"<dimension ref="A1:XFD1048576"/>"#, SST)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Overwrite, in the first record of type `typ` and length `len`, the bytes at `at`.
fn patch_record(mut xls: Vec<u8>, typ: u16, len: u16, at: usize, with: &[u8]) -> Vec<u8> {
    let mut head = typ.to_le_bytes().to_vec();
    head.extend(len.to_le_bytes());
    let i = xls
        .windows(4)
        .position(|w| w == head.as_slice())
        .expect("record");
    xls[i + 4 + at..i + 4 + at + with.len()].copy_from_slice(with);
    xls
}

/// An .xls whose DIMENSIONS record declares four billion rows.
fn hostile_xls_dimension() -> Vec<u8> {
    let mut d = 0u32.to_le_bytes().to_vec();
    d.extend(0xFFFF_FFF0u32.to_le_bytes());
    d.extend(0u16.to_le_bytes());
    d.extend(0x0100u16.to_le_bytes());
    patch_record(fixture("guide.xls"), 0x0200, 14, 0, &d)
}

/// An .xls with one text cell moved to the last row and column (calamine lays out the
/// whole grid between its cells).
fn hostile_xls_far_cell() -> Vec<u8> {
    let mut d = 0xFFFFu16.to_le_bytes().to_vec();
    d.extend(0x00FFu16.to_le_bytes());
    patch_record(fixture("guide.xls"), 0x00FD, 10, 0, &d)
}

/// 50 rows whose cells hold 32,767 characters each: it compresses several hundred times,
/// and is an honest sheet.
fn honest_long_text_ods() -> Vec<u8> {
    let long = |i: usize, c: char| format!("{i}{}", c.to_string().repeat(32_767 - 3));
    let mut rows = format!(
        "<table:table-row>{}{}{}{}</table:table-row>",
        ods_text("*Name"),
        ods_text("*Extension"),
        ods_text("Note"),
        ods_text("Description")
    );
    for i in 0..50 {
        rows.push_str(&format!(
            "<table:table-row>{}{}{}{}</table:table-row>",
            ods_text(&format!("Person {i}")),
            ods_text(&format!("{}", 1000 + i)),
            ods_text(&long(i, 'n')),
            ods_text(&long(i, 'd')),
        ));
    }
    ods(&rows)
}

fn honest_long_text_xlsx() -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["*Name", "*Extension", "Note", "Description"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for i in 0..50u32 {
        let long = |c: char| format!("{i:02}{}", c.to_string().repeat(32_767 - 2));
        ws.write_string(i + 1, 0, format!("Person {i}")).unwrap();
        ws.write_string(i + 1, 1, format!("{}", 1000 + i)).unwrap();
        ws.write_string(i + 1, 2, long('n')).unwrap();
        ws.write_string(i + 1, 3, long('d')).unwrap();
    }
    wb.save_to_buffer().unwrap()
}

fn check_bounded(what: &str, bytes: &[u8], name: &str) -> Answer {
    let (r, peak) = measured(bytes, name);
    assert!(
        peak < BOUND_KB,
        "{what} as {name}: the reader's process peaked at {peak} KiB (at most {BOUND_KB})"
    );
    eprintln!("{what} as {name}: {r:?}, peak {peak} KiB");
    r
}

fn code(r: Answer) -> String {
    match r {
        Ok(rows) => format!("ok ({rows} rows)"),
        Err((code, _)) => code,
    }
}

/// In this process, once the child showed it is safe: the rows.
fn rows(bytes: &[u8], name: &str) -> Vec<(String, String)> {
    read(bytes, name, &Limits::default(), &mut |_, _| {})
        .unwrap()
        .rows
        .into_iter()
        .map(|r| (r.name, r.extension))
        .collect()
}

#[test]
fn the_981_byte_ods_is_read_in_bounded_memory() {
    let f = hostile_ods();
    assert!(f.len() < 1500, "{} bytes", f.len());
    // 114,000 rows of 1001 (name and extension): more than the 100,000 allowed, found
    // out in a few MB.
    let r = check_bounded("hostile .ods", &f, "bomb.ods");
    assert_eq!(code(r), "too_many_rows");
}

#[test]
fn repeated_long_text_and_spaces_in_an_ods_are_bounded() {
    let r = check_bounded("repeated text", &hostile_ods_text(), "t.ods");
    assert_eq!(code(r), "too_much_text");
    let r = check_bounded("a billion spaces", &ods_spaces(), "s.ods");
    let Err((code, msg)) = r else { panic!("{r:?}") };
    assert_eq!(code, "cell_too_long");
    assert!(msg.contains("more than 32767 characters"), "{msg}");
}

#[test]
fn xlsx_declared_counts_and_far_cells_cost_nothing() {
    for (what, f) in [
        ("uniqueCount of 4e9", hostile_xlsx_sst()),
        ("shared formula index 1e9", hostile_xlsx_formula()),
        ("far cell", hostile_xlsx_far_cell()),
    ] {
        let r = check_bounded(what, &f, "h.xlsx");
        assert!(r.is_ok(), "{what}: {r:?}");
        assert_eq!(
            rows(&f, "h.xlsx")[0],
            ("Anna".into(), "1001".into()),
            "{what}"
        );
    }
    let r = check_bounded("dimension", &hostile_xlsx_dimension(), "d.xlsx");
    assert_eq!(code(r), "too_many_rows");
}

#[test]
fn xls_declared_dimensions_and_far_cells_are_refused_before_calamine() {
    let guide = fixture("guide.xls");
    assert_eq!(check_bounded("guide.xls", &guide, "g.xls"), Ok(5));
    for (what, f) in [
        ("4e9-row dimension", hostile_xls_dimension()),
        ("far cell", hostile_xls_far_cell()),
    ] {
        let r = check_bounded(what, &f, "h.xls");
        let Err((code, msg)) = r else {
            panic!("{what}: {r:?}")
        };
        assert_eq!(code, "sheet_too_large", "{what}: {msg}");
        assert!(msg.contains("at most 2000000 cells"), "{msg}");
    }
}

#[test]
fn an_honest_sheet_of_long_text_is_not_a_zip_bomb() {
    for (f, name) in [
        (honest_long_text_ods(), "long.ods"),
        (honest_long_text_xlsx(), "long.xlsx"),
    ] {
        assert_eq!(check_bounded("long text", &f, name), Ok(50), "{name}");
        let s = read(&f, name, &Limits::default(), &mut |_, _| {}).unwrap();
        assert_eq!(s.rows[49].name, "Person 49");
        assert_eq!(s.rows[49].extension, "1049");
        assert_eq!(s.ignored_columns, vec!["Note", "Description"]);
    }
}

fn regressions() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions")
}

/// Every input kept in fuzz/regressions (crashes and memory blow-ups found by fuzzing or
/// reported), under every file name: an answer, in bounded memory.
#[test]
fn fuzz_regressions_are_read_in_bounded_memory() {
    let mut n = 0;
    for f in std::fs::read_dir(regressions()).unwrap() {
        let path = f.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for name in ["f.xlsx", "f.xls", "f.ods", "f.csv"] {
            let _ = check_bounded(&path.display().to_string(), &bytes, name);
        }
        n += 1;
    }
    assert!(n >= 8, "{n} regression inputs");
}

/// The hostile files above, as kept in fuzz/regressions (run with `--ignored` to write them
/// again after changing them).
#[test]
#[ignore]
fn write_regressions() {
    let dir = regressions();
    for (name, bytes) in [
        ("ods-repeated-rows-and-columns.ods", hostile_ods()),
        ("ods-repeated-long-text.ods", hostile_ods_text()),
        ("ods-billion-spaces.ods", ods_spaces()),
        ("xlsx-sst-unique-count.xlsx", hostile_xlsx_sst()),
        ("xlsx-shared-formula-index.xlsx", hostile_xlsx_formula()),
        ("xlsx-far-cell.xlsx", hostile_xlsx_far_cell()),
        ("xls-dimension-rows.xls", hostile_xls_dimension()),
        ("xls-far-cell.xls", hostile_xls_far_cell()),
    ] {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
