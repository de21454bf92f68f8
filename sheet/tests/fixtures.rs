//! The reader on files saved by a real spreadsheet program (LibreOffice; see
//! tests/fixtures/make.sh): .xlsx, .xls and .ods of every fixture read alike.

#![allow(clippy::unwrap_used)]

use vcms_sheet::{read, Limits, ReadError, Sheet};

fn fixture(name: &str) -> Result<Sheet, ReadError> {
    let path = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap();
    read(&bytes, name, &Limits::default(), &mut |_, _| {})
}

type Plain = Vec<(u32, String, String, Option<String>)>;

fn plain(s: &Sheet) -> Plain {
    s.rows
        .iter()
        .map(|r| (r.row, r.name.clone(), r.extension.clone(), r.email.clone()))
        .collect()
}

fn all_formats(stem: &str) -> Vec<Sheet> {
    ["xlsx", "xls", "ods", "csv"]
        .iter()
        .map(|ext| {
            let name = if *ext == "csv" {
                format!("src/{stem}.csv")
            } else {
                format!("{stem}.{ext}")
            };
            fixture(&name).unwrap_or_else(|e| panic!("{name}: {e}"))
        })
        .collect()
}

fn r(
    row: u32,
    name: &str,
    ext: &str,
    email: Option<&str>,
) -> (u32, String, String, Option<String>) {
    (row, name.into(), ext.into(), email.map(str::to_string))
}

#[test]
fn numeric_extensions_and_cjk_names() {
    for s in all_formats("guide") {
        assert_eq!(s.header_row, 1);
        assert_eq!(
            plain(&s),
            vec![
                r(2, "Anna", "1001", Some("Anna@hotmail.com")),
                r(3, "Bonnie", "1002", Some("Bonnie@yahoo.com")),
                r(4, "Clare", "1003", Some("Clare@outlook.com")),
                r(5, "陈媛媛", "2002", Some("Chenyy@163.com")),
                r(6, "何以言", "2004", Some("Heyy@sohu.com")),
            ],
            "{:?}",
            s.format
        );
    }
}

#[test]
fn chinese_headers() {
    for s in all_formats("chinese_headers") {
        assert_eq!(
            plain(&s),
            vec![
                r(2, "陈媛媛", "2002", Some("Chenyy@163.com")),
                r(3, "何以言", "2004", Some("Heyy@sohu.com")),
                r(4, "王小明", "2005", None),
            ],
            "{:?}",
            s.format
        );
    }
}

#[test]
fn leading_zero_text_extensions() {
    for s in all_formats("leading_zeros") {
        let exts: Vec<&str> = s.rows.iter().map(|r| r.extension.as_str()).collect();
        assert_eq!(exts, vec!["0123", "0007", "1234"], "{:?}", s.format);
    }
}

#[test]
fn title_row_extra_columns_and_blank_rows() {
    for s in all_formats("messy") {
        assert_eq!(s.header_row, 3, "{:?}", s.format);
        assert_eq!(
            s.ignored_columns,
            vec!["Note", "Department"],
            "{:?}",
            s.format
        );
        assert_eq!(
            plain(&s),
            vec![
                r(4, "Mark", "3001", Some("mark@example.com")),
                r(6, "Mars", "3002", None),
                r(8, "Jane", "3003", Some("jane@example.com")),
            ],
            "{:?}",
            s.format
        );
    }
}

#[test]
fn rows_in_error_are_read_as_they_are_for_the_server_to_judge() {
    for s in all_formats("bad_rows") {
        let exts: Vec<&str> = s.rows.iter().map(|r| r.extension.as_str()).collect();
        assert_eq!(exts, vec!["1001", "1002", "12a4", "1003", "1001", "1004"]);
        assert_eq!(s.rows[1].name, "");
        assert_eq!(s.rows[5].name.chars().count(), 65);
    }
}

#[test]
fn templates_made_by_libreoffice_have_the_header_and_no_rows() {
    for name in ["template.xls", "template.ods"] {
        assert_eq!(
            fixture(name).unwrap_err(),
            ReadError::NoRows { header_row: 1 },
            "{name}"
        );
    }
}

#[test]
fn a_renamed_file_is_read_by_its_content_and_text_is_not_a_spreadsheet() {
    let path = format!("{}/../tests/fixtures/guide.ods", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(path).unwrap();
    let s = read(&bytes, "guide.xlsx", &Limits::default(), &mut |_, _| {}).unwrap();
    assert_eq!(s.rows.len(), 5);
    let e = read(&bytes, "guide.csv", &Limits::default(), &mut |_, _| {}).unwrap_err();
    assert_eq!(e.code(), "wrong_format");
    assert!(e.to_string().contains("named .csv"), "{e}");
}
