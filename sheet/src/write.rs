//! The writer: the blank template and exports, as .xlsx or .csv by the file name.

use rust_xlsxwriter::{Format as CellFormat, Workbook, XlsxError};

use crate::read::Format;

/// The template's columns (the guide's "Download Template").
pub const TEMPLATE_HEADERS: [&str; 3] = ["*Name", "*Extension", "Email"];
/// An export: the template's columns (so it can be edited and imported again) plus the
/// cloud number and status, which the import ignores.
pub const EXPORT_HEADERS: [&str; 5] = ["*Name", "*Extension", "Email", "Cloud Number", "Status"];

/// The template as LibreOffice saved it in Excel 97-2003 format (see tests/fixtures/README.md).
const TEMPLATE_XLS: &[u8] = include_bytes!("../../assets/template.xls");

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0:?} is not a file type that can be written: use .xlsx or .csv")]
    UnknownType(String),
    #[error("cannot write the workbook: {0}")]
    Xlsx(#[from] XlsxError),
}

/// The blank template for `file_name`: .xlsx, .csv, or .xls (a copy made by LibreOffice).
pub fn template(file_name: &str) -> Result<Vec<u8>, WriteError> {
    match Format::from_name(file_name) {
        Some(Format::Xls) => Ok(TEMPLATE_XLS.to_vec()),
        _ => write(file_name, &TEMPLATE_HEADERS, &[]),
    }
}

/// A sheet with `headers` and `rows`, as .xlsx or .csv by the extension of `file_name`.
/// No cell can run as a formula: .xlsx cells are all string cells; a .csv cell that starts
/// with `= + - @` (or a tab or carriage return) gets a leading `'`, which the reader removes.
pub fn write(
    file_name: &str,
    headers: &[&str],
    rows: &[Vec<String>],
) -> Result<Vec<u8>, WriteError> {
    match Format::from_name(file_name) {
        Some(Format::Xlsx) => xlsx(headers, rows),
        Some(Format::Csv) => Ok(csv(headers, rows)),
        _ => Err(WriteError::UnknownType(file_name.to_string())),
    }
}

fn width(header: &str) -> f64 {
    match header {
        "*Name" => 24.0,
        "*Extension" => 12.0,
        "Email" => 32.0,
        _ => 16.0,
    }
}

fn xlsx(headers: &[&str], rows: &[Vec<String>]) -> Result<Vec<u8>, WriteError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Accounts")?;
    let bold = CellFormat::new().set_bold();
    // Text columns: an extension typed as 0123 keeps its leading zero.
    let text = CellFormat::new().set_num_format("@");
    for (c, h) in headers.iter().enumerate() {
        let c = c as u16;
        ws.set_column_width(c, width(h))?;
        ws.set_column_format(c, &text)?;
        ws.write_string_with_format(0, c, *h, &bold)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(r as u32 + 1, c as u16, v)?;
            }
        }
    }
    Ok(wb.save_to_buffer()?)
}

fn csv(headers: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    // A BOM, so spreadsheet programs open CJK names as UTF-8.
    let mut out = b"\xEF\xBB\xBF".to_vec();
    let mut push = |cells: &mut dyn Iterator<Item = &str>| {
        let mut first = true;
        for v in cells {
            if !first {
                out.push(b',');
            }
            first = false;
            let guarded;
            let v = if crate::formula_like(v) {
                guarded = format!("'{v}");
                guarded.as_str()
            } else {
                v
            };
            if v.contains([',', '"', '\n', '\r', ';']) {
                out.push(b'"');
                out.extend_from_slice(v.replace('"', "\"\"").as_bytes());
                out.push(b'"');
            } else {
                out.extend_from_slice(v.as_bytes());
            }
        }
        out.extend_from_slice(b"\r\n");
    };
    push(&mut headers.iter().copied());
    for r in rows {
        push(&mut r.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{read, Limits};

    fn rows() -> Vec<Vec<String>> {
        [
            [
                "陈媛媛",
                "2002",
                "Chenyy@163.com",
                "584922002",
                "Unregistered",
            ],
            ["=HYPERLINK(\"x\")", "0123", "", "584920123", "Unregistered"],
            [
                "-1+2, \"quoted\"",
                "1001",
                "a@b.c",
                "584921001",
                "Registered",
            ],
            ["@home", "1002", "", "584921002", "Unregistered"],
        ]
        .iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect()
    }

    #[test]
    fn export_round_trips_through_the_reader_in_both_formats() {
        for name in ["out.xlsx", "out.csv"] {
            let bytes = write(name, &EXPORT_HEADERS, &rows()).unwrap();
            let s = read(&bytes, name, &Limits::default(), &mut |_, _| {}).unwrap();
            assert_eq!(s.ignored_columns, vec!["Cloud Number", "Status"], "{name}");
            let got: Vec<(String, String, Option<String>)> = s
                .rows
                .into_iter()
                .map(|r| (r.name, r.extension, r.email))
                .collect();
            let want: Vec<(String, String, Option<String>)> = rows()
                .into_iter()
                .map(|r| {
                    let e = (!r[2].is_empty()).then(|| r[2].clone());
                    (r[0].clone(), r[1].clone(), e)
                })
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn csv_cells_never_start_with_a_formula_character() {
        let bytes = write("out.csv", &EXPORT_HEADERS, &rows()).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        for line in text.lines().skip(1) {
            for cell in line.split(',') {
                let c = cell.trim_start_matches('"');
                assert!(!crate::formula_like(c), "{line}");
            }
        }
        assert!(text.contains("'=HYPERLINK"));
        assert!(text.contains("'@home"));
    }

    #[test]
    fn templates() {
        for name in ["t.xlsx", "t.xls", "t.csv"] {
            let bytes = template(name).unwrap();
            let e = read(&bytes, name, &Limits::default(), &mut |_, _| {}).unwrap_err();
            assert_eq!(e, crate::ReadError::NoRows { header_row: 1 }, "{name}");
        }
        assert!(template("t.pdf").is_err());
    }
}
