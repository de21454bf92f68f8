//! Write the blank template or a sheet of generated rows (fixtures and benchmarks):
//! `cargo run -p vcms-sheet --release --example sheet -- template FILE`
//! `cargo run -p vcms-sheet --release --example sheet -- rows N FILE [START]`
//! `cargo run -p vcms-sheet --release --example sheet -- read FILE` (prints rows and time)

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["template", file] => std::fs::write(file, vcms_sheet::template(file)?)?,
        ["rows", n, file, rest @ ..] => {
            let n: usize = n.parse()?;
            let start: usize = rest.first().map(|s| s.parse()).transpose()?.unwrap_or(0);
            let rows: Vec<Vec<String>> = (0..n)
                .map(|i| {
                    let ext = format!("{:04}", (start + i) % 10_000);
                    vec![
                        format!("User {}", start + i),
                        ext.clone(),
                        format!("user{}@example.com", start + i),
                    ]
                })
                .collect();
            std::fs::write(
                file,
                vcms_sheet::write(file, &vcms_sheet::TEMPLATE_HEADERS, &rows)?,
            )?;
        }
        ["read", file] => {
            let t = std::time::Instant::now();
            let bytes = std::fs::read(file)?;
            let limits = vcms_sheet::Limits {
                max_file_bytes: u64::MAX,
                max_rows: 1_000_000,
                ..Default::default()
            };
            let s = vcms_sheet::read(&bytes, file, &limits, &mut |_, _| {})?;
            println!(
                "{file}: {} bytes, {} rows read in {:.0} ms",
                bytes.len(),
                s.rows.len(),
                t.elapsed().as_secs_f64() * 1000.0
            );
        }
        _ => return Err("usage: sheet template FILE | rows N FILE [START] | read FILE".into()),
    }
    Ok(())
}
