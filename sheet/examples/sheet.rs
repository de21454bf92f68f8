//! Write the blank template or a sheet of generated rows (fixtures and benchmarks):
//! `cargo run -p vcms-sheet --release --example sheet -- template FILE`
//! `cargo run -p vcms-sheet --release --example sheet -- rows N FILE [START]`

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
        _ => return Err("usage: sheet template FILE | sheet rows N FILE [START]".into()),
    }
    Ok(())
}
