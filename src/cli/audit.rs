//! `vcms audit list`: one page of the audit log, newest first.

use clap::Subcommand;
use vcms_api::client::Client;
use vcms_api::*;

use super::output::{print, R};

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// One page of the audit log, newest first.
    List {
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 1)]
        page: i64,
        #[arg(long, default_value_t = 50)]
        page_size: i64,
    },
}

pub(super) async fn run(c: &Client, json: bool, a: &AuditCmd) -> R<()> {
    let AuditCmd::List {
        search,
        page,
        page_size,
    } = a;
    let p = c
        .audit(&AuditQuery {
            search: search.clone(),
            page: Some(*page),
            page_size: Some(*page_size),
        })
        .await?;
    print(json, &p, || audit_table(&p))
}

pub(super) fn audit_table(p: &AuditPage) -> String {
    use crate::widgets::text::pad;
    let mut s = format!(
        "{} {} {} {} {}\n",
        pad("TIME", 20),
        pad("WHO", 26),
        pad("ACTION", 24),
        pad("TARGET", 20),
        "FROM"
    );
    for e in &p.items {
        s.push_str(&format!(
            "{} {} {} {} {}\n",
            pad(&e.at, 20),
            pad(&e.who, 26),
            pad(&e.action, 24),
            pad(&e.target, 20),
            e.from
        ));
    }
    s.push_str(&format!("All records: {}  Page {}", p.total, p.page));
    s
}
