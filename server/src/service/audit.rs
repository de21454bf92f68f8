//! The audit log: recording what an administrator (or an API key, or a sign-in attempt) did,
//! inside the caller's transaction, and listing the enterprise's log page by page with a
//! search (DOMAIN.md "Colleagues and permissions", issue 7). Every other service module
//! writes its audit entries through `record` or `audit_as`.

use crate::clock;
use crate::error::{AppError, AppResult};
use crate::service::{Actor, App, Perm};
use crate::store::{team, Conn};
use vcms_api as api;

/// Record an action in the audit log (inside the caller's transaction).
#[allow(clippy::too_many_arguments)]
pub async fn audit_as(
    app: &App,
    c: &mut Conn,
    enterprise_id: i64,
    who: &str,
    action: &str,
    target: &str,
    detail: &str,
    ip: Option<&str>,
) -> AppResult<()> {
    // Done from a console served over SSH (issue 20): the entry says so; `ip` is the SSH
    // client's address.
    let detail = match (crate::ssh::origin::is_ssh(), detail) {
        (false, d) => std::borrow::Cow::Borrowed(d),
        (true, "") => std::borrow::Cow::Borrowed("over SSH"),
        (true, d) => std::borrow::Cow::Owned(format!("{d} (over SSH)")),
    };
    team::audit(
        c,
        Some(enterprise_id),
        who,
        action,
        target,
        &detail,
        ip.unwrap_or(""),
        app.now(),
    )
    .await?;
    Ok(())
}

/// Record what an actor did.
pub async fn record(
    app: &App,
    c: &mut Conn,
    actor: &Actor,
    action: &str,
    target: &str,
    detail: &str,
) -> AppResult<()> {
    audit_as(
        app,
        c,
        actor.enterprise_id,
        &actor.who,
        action,
        target,
        detail,
        Some(&actor.ip),
    )
    .await
}

pub async fn audit_list(
    app: &App,
    actor: &Actor,
    q: &api::AuditQuery,
) -> AppResult<api::AuditPage> {
    actor.require(Perm::ViewAudit)?;
    let page_size = q.page_size.unwrap_or(50);
    if !(1..=500).contains(&page_size) {
        return Err(AppError::invalid("page_size", "page_size must be 1 to 500"));
    }
    let page = q.page.unwrap_or(1).max(1);
    // The offset must not overflow (it would reach the database negative).
    let offset = (page - 1).checked_mul(page_size).ok_or_else(|| {
        AppError::invalid(
            "page",
            format!(
                "page must be at most {} with page_size {page_size}",
                i64::MAX / page_size
            ),
        )
    })?;
    if q.search.as_deref().is_some_and(|s| s.chars().count() > 128) {
        return Err(AppError::invalid(
            "search",
            "search must be at most 128 characters",
        ));
    }
    let mut c = app.store.conn().await?;
    let (total, rows) = team::audit_page(
        &mut c,
        actor.enterprise_id,
        q.search.as_deref(),
        page_size,
        offset,
    )
    .await?;
    Ok(api::AuditPage {
        items: rows
            .into_iter()
            .map(|r| api::AuditEntry {
                at: clock::rfc3339(r.created_at),
                who: r.actor,
                action: r.action,
                target: r.target,
                detail: r.detail,
                from: r.client_ip,
            })
            .collect(),
        total,
        page,
        page_size,
    })
}
