//! The import reader on arbitrary bytes, under every file name it accepts: it must return
//! rows or a typed error, never panic, hang or blow the memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = vcms_sheet::Limits::default();
    for name in ["f.xlsx", "f.xls", "f.ods", "f.csv"] {
        let _ = vcms_sheet::read(data, name, &limits, &mut |_, _| {});
    }
});
