//! `vcms audit list`: one page of the audit log, newest first.

use clap::Subcommand;
use vcms_api::client::Client;
use vcms_api::*;

use super::output::{print, text_table, R};

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
    let titles = ["TIME", "WHO", "ACTION", "TARGET", "FROM"];
    let rows = p.items.iter().map(|e| {
        vec![
            e.at.clone(),
            e.who.clone(),
            e.action.clone(),
            e.target.clone(),
            e.from.clone(),
        ]
    });
    let mut s = text_table(&titles, &[20, 26, 24, 20], rows);
    s.push_str(&format!("All records: {}  Page {}", p.total, p.page));
    s
}
