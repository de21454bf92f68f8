//! Bulk add and batch edit (DOMAIN.md "Bulk add and batch edit"): one request of rows is
//! checked (`validate`, no database), compared with the enterprise's accounts (`plan`:
//! create, update, unchanged or error per row, plus the quota check) and, when no row is in
//! error and it is not a dry run, written in one transaction (`apply`: pincodes drawn,
//! rows inserted and updated, emails queued). This module also owns the Idempotency-Key
//! replay of an applied batch's answer.

use std::collections::{HashMap, HashSet};

use super::{enterprise_number, new_password, new_pincode, optional_email, queue_account_email};
use super::{Fields, Secrets, PINCODE_VALID};
use crate::clock::Millis;
use crate::error::{AppError, AppResult};
use crate::service::{audit, events, license, Actor, App, Perm};
use crate::store::accounts as st;
use crate::store::Conn;
use crate::validate::{self, Extension};
use vcms_api as api;

/// The request's fingerprint for the idempotency check: rows and options, not dry_run.
fn batch_hash(req: &api::BatchRequest) -> String {
    use sha2::Digest;
    let body = serde_json::to_vec(&(&req.rows, req.send_email)).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(body))
}

/// An Idempotency-Key: 1 to 200 visible ASCII characters.
fn check_idempotency_key(key: &str) -> AppResult<()> {
    if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::invalid(
            "Idempotency-Key",
            "Idempotency-Key must be 1 to 200 visible ASCII characters",
        ));
    }
    Ok(())
}

/// The request as a whole: the caller may manage accounts, the row count is within the
/// import limit and the Idempotency-Key (if any) is well formed.
fn check_request(
    app: &App,
    actor: &Actor,
    req: &api::BatchRequest,
    idempotency_key: Option<&str>,
) -> AppResult<()> {
    actor.require(Perm::ManageAccounts)?;
    let max = app.import.max_rows;
    if req.rows.len() > max {
        return Err(AppError::invalid(
            "rows",
            format!(
                "{} rows sent; at most {max} rows can be imported at once",
                req.rows.len()
            ),
        ));
    }
    if let Some(k) = idempotency_key {
        check_idempotency_key(k)?;
    }
    Ok(())
}

/// A row whose every field passed its rules.
struct Valid {
    row: i64,
    name: String,
    ext: String,
    email: Option<String>,
}

/// The row number a row is reported under: its own, or its position counted from 1.
fn row_number(i: usize, r: &api::BatchRow) -> i64 {
    r.row.unwrap_or(i as i64 + 1)
}

/// Check every row on its own (name, extension, email) and the extensions against each
/// other; no database. Returns the valid rows and every problem found, in row order.
fn validate(req: &api::BatchRequest) -> (Vec<Valid>, Vec<api::RowError>) {
    let mut errors = vec![];
    let mut seen: HashMap<String, i64> = HashMap::new();
    let mut valid = Vec::with_capacity(req.rows.len());
    for (i, r) in req.rows.iter().enumerate() {
        let row = row_number(i, r);
        let mut ok = true;
        let mut err = |column: &str, e: AppError| {
            errors.push(api::RowError {
                row,
                column: column.into(),
                reason: e.body.message,
            });
        };
        let name = validate::name("name", &r.name)
            .map_err(|e| err("Name", e))
            .ok();
        let ext = Extension::parse("extension", &r.extension)
            .map_err(|e| err("Extension", e))
            .ok();
        let email = optional_email("email", r.email.as_deref())
            .map_err(|e| err("Email", e))
            .ok();
        if let Some(x) = &ext {
            if let Some(first) = seen.get(x.as_str()) {
                errors.push(api::RowError {
                    row,
                    column: "Extension".into(),
                    reason: format!(
                        "extension {} appears again (first in row {first})",
                        x.as_str()
                    ),
                });
                ok = false;
            } else {
                seen.insert(x.as_str().to_string(), row);
            }
        }
        match (name, ext, email) {
            (Some(name), Some(ext), Some(email)) if ok => valid.push(Valid {
                row,
                name,
                ext: ext.as_str().to_string(),
                email: email.map(|e| e.as_str().to_string()),
            }),
            _ => {}
        }
    }
    (valid, errors)
}

/// What the batch would do: a plan line per row (sorted by row), the rows to create, the
/// rows to update (with the account's id) and how many are unchanged.
struct Plan<'v> {
    rows: Vec<api::RowPlan>,
    creates: Vec<&'v Valid>,
    updates: Vec<(&'v Valid, i64)>,
    unchanged: i64,
}

impl Plan<'_> {
    fn result(
        &self,
        applied: bool,
        message: String,
        quota: api::Quota,
        emails: i64,
        errors: Vec<api::RowError>,
    ) -> api::BatchResult {
        api::BatchResult {
            applied,
            created: self.creates.len() as i64,
            updated: self.updates.len() as i64,
            unchanged: self.unchanged,
            errors,
            plan: self.rows.clone(),
            message,
            quota,
            emails_queued: emails,
            replayed: false,
        }
    }
}

/// The fields of an existing account that a valid row would change.
fn diff(old: &st::ListRow, v: &Valid) -> Vec<api::FieldChange> {
    let mut diff = vec![];
    if old.name != v.name {
        diff.push(api::FieldChange {
            field: "name".into(),
            old: Some(old.name.clone()),
            new: Some(v.name.clone()),
        });
    }
    if old.email != v.email {
        diff.push(api::FieldChange {
            field: "email".into(),
            old: old.email.clone(),
            new: v.email.clone(),
        });
    }
    diff
}

/// Compare the valid rows with the existing accounts (by extension); rows in error get an
/// `Error` line of their own.
fn plan<'v>(
    req: &api::BatchRequest,
    valid: &'v [Valid],
    existing: &HashMap<String, st::ListRow>,
    errors: &[api::RowError],
) -> Plan<'v> {
    let mut p = Plan {
        rows: Vec::with_capacity(req.rows.len()),
        creates: vec![],
        updates: vec![],
        unchanged: 0,
    };
    for v in valid {
        let (action, diff) = match existing.get(&v.ext) {
            None => {
                p.creates.push(v);
                (api::RowAction::Create, vec![])
            }
            Some(old) => {
                let diff = diff(old, v);
                let action = if diff.is_empty() {
                    p.unchanged += 1;
                    api::RowAction::Unchanged
                } else {
                    p.updates.push((v, old.id));
                    api::RowAction::Update
                };
                (action, diff)
            }
        };
        p.rows.push(api::RowPlan {
            row: v.row,
            action,
            extension: v.ext.clone(),
            changes: diff.iter().map(|d| d.field.clone()).collect(),
            diff,
        });
    }
    let in_plan: HashSet<i64> = p.rows.iter().map(|p| p.row).collect();
    let bad: HashSet<i64> = errors.iter().map(|e| e.row).collect();
    let mut listed: HashSet<i64> = HashSet::new();
    for (i, r) in req.rows.iter().enumerate() {
        let row = row_number(i, r);
        if !in_plan.contains(&row) && bad.contains(&row) && listed.insert(row) {
            p.rows.push(api::RowPlan {
                row,
                action: api::RowAction::Error,
                extension: r.extension.trim().to_string(),
                changes: vec![],
                diff: vec![],
            });
        }
    }
    p.rows.sort_by_key(|p| p.row);
    p
}

/// Why `creates` new accounts cannot be added under this quota, if they cannot.
fn quota_error(q: &api::Quota, creates: usize) -> Option<api::RowError> {
    if creates == 0 {
        return None;
    }
    let reason = if !q.in_force {
        license::require_in_force(q)
            .err()
            .map(|e| e.body.message)
            .unwrap_or_default()
    } else if creates as i64 > q.can_add {
        format!(
            "{} new account(s) but only {} can be added ({}/{} used)",
            creates, q.can_add, q.used, q.quota
        )
    } else {
        return None;
    };
    Some(api::RowError {
        row: 0,
        column: "Rows".into(),
        reason,
    })
}

/// The stored answer of an earlier batch with this key, marked `replayed`; 409 when that
/// batch had other rows.
fn replay(hash: &str, earlier_hash: &str, stored: &str) -> AppResult<api::BatchResult> {
    if earlier_hash != hash {
        return Err(AppError::conflict(
            "Idempotency-Key",
            "This Idempotency-Key was already used for a different import: \
             use a new key for new rows",
        ));
    }
    let mut r: api::BatchResult = serde_json::from_str(stored).map_err(AppError::internal)?;
    r.replayed = true;
    Ok(r)
}

/// `n` new pincodes (with their lookups) that clash neither with each other nor with live
/// ones.
async fn draw_pincodes(app: &App, c: &mut Conn, n: usize) -> AppResult<(Vec<String>, Vec<String>)> {
    let mut pins: Vec<String> = Vec::with_capacity(n);
    let mut lookups: Vec<String> = Vec::with_capacity(n);
    let mut used: HashSet<String> = HashSet::new();
    while pins.len() < n {
        let mut batch_pins = vec![];
        while pins.len() + batch_pins.len() < n {
            let p = new_pincode();
            let l = app.secrets.lookup(&p);
            if used.insert(l.clone()) {
                batch_pins.push((p, l));
            }
        }
        let ls: Vec<String> = batch_pins.iter().map(|(_, l)| l.clone()).collect();
        let taken: HashSet<String> = st::taken_lookups(c, &ls).await?.into_iter().collect();
        for (p, l) in batch_pins {
            if !taken.contains(&l) {
                pins.push(p);
                lookups.push(l);
            }
        }
    }
    Ok((pins, lookups))
}

/// Insert the planned new accounts, each with a fresh password and pincode.
async fn insert_creates(
    app: &App,
    c: &mut Conn,
    enterprise_id: i64,
    creates: &[&Valid],
    number: &str,
    now: Millis,
) -> AppResult<()> {
    let (pins, lookups) = draw_pincodes(app, c, creates.len()).await?;
    let cloud_numbers: Vec<String> = creates
        .iter()
        .map(|v| format!("{number}{}", v.ext))
        .collect();
    let sealed: Vec<(Vec<u8>, Vec<u8>)> = pins
        .iter()
        .map(|p| (app.secrets.seal(&new_password()), app.secrets.seal(p)))
        .collect();
    let rows: Vec<(Fields<'_>, Secrets<'_>)> = creates
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (
                Fields {
                    name: &v.name,
                    extension: &v.ext,
                    cloud_number: &cloud_numbers[i],
                    email: v.email.as_deref(),
                },
                Secrets {
                    password_enc: &sealed[i].0,
                    pincode_enc: &sealed[i].1,
                    pincode_lookup: &lookups[i],
                    pincode_expires_at: now + PINCODE_VALID,
                },
            )
        })
        .collect();
    st::insert_many(c, enterprise_id, &rows, now).await?;
    Ok(())
}

/// Write the plan (inside the caller's transaction): creates, updates, and with
/// `send_email` the account emails of the new accounts that have an address. Returns how
/// many emails were queued.
async fn apply(
    app: &App,
    c: &mut Conn,
    enterprise_id: i64,
    plan: &Plan<'_>,
    send_email: bool,
    now: Millis,
) -> AppResult<i64> {
    let number = enterprise_number(c, enterprise_id).await?;
    insert_creates(app, c, enterprise_id, &plan.creates, &number, now).await?;
    for (v, id) in &plan.updates {
        let cn = format!("{number}{}", v.ext);
        st::update_fields(
            c,
            *id,
            &Fields {
                name: &v.name,
                extension: &v.ext,
                cloud_number: &cn,
                email: v.email.as_deref(),
            },
            now,
        )
        .await?;
    }
    let mut emails = 0;
    if send_email {
        for v in plan.creates.iter().filter(|v| v.email.is_some()) {
            if let Some(a) = st::by_extension(c, enterprise_id, &v.ext).await? {
                if queue_account_email(app, c, &a, &number).await? {
                    emails += 1;
                }
            }
        }
    }
    Ok(emails)
}

/// Check every row, plan creates and updates, and apply them in one transaction when no
/// row is in error (all or nothing). With an `idempotency_key`, an applied batch's answer is
/// kept for 24 hours: the same key with the same rows returns it again (`replayed`) without
/// applying anything; the same key with other rows is refused (409).
pub async fn batch(
    app: &App,
    actor: &Actor,
    req: &api::BatchRequest,
    idempotency_key: Option<&str>,
) -> AppResult<api::BatchResult> {
    check_request(app, actor, req, idempotency_key)?;
    let now = app.now();
    let (valid, mut errors) = validate(req);

    let mut tx = app.store.begin().await?;
    let hash = batch_hash(req);
    if !req.dry_run {
        st::lock_enterprise(&mut tx, actor.enterprise_id).await?;
        if let Some(key) = idempotency_key {
            if let Some((h, stored)) = st::batch_request(&mut tx, actor.enterprise_id, key).await? {
                tx.rollback().await?;
                return replay(&hash, &h, &stored);
            }
        }
    }
    let existing: HashMap<String, st::ListRow> = st::all_of(&mut tx, actor.enterprise_id)
        .await?
        .into_iter()
        .map(|r| (r.extension.clone(), r))
        .collect();
    let plan = plan(req, &valid, &existing, &errors);
    let q = license::quota(&mut tx, actor.enterprise_id, now).await?;
    errors.extend(quota_error(&q, plan.creates.len()));
    if !errors.is_empty() {
        let n = errors.len();
        let msg = format!("Nothing was imported: {n} problem(s) to fix");
        return Ok(plan.result(false, msg, q, 0, errors));
    }
    let (created, updated) = (plan.creates.len(), plan.updates.len());
    if req.dry_run {
        let msg = format!(
            "Ready: {created} to create, {updated} to update, {} unchanged",
            plan.unchanged
        );
        return Ok(plan.result(false, msg, q, 0, errors));
    }

    let emails = apply(
        app,
        &mut tx,
        actor.enterprise_id,
        &plan,
        req.send_email,
        now,
    )
    .await?;
    let q = license::quota(&mut tx, actor.enterprise_id, now).await?;
    let n = created + updated;
    let msg = format!("Import {n} account(s) successfully ({created} created, {updated} updated)");
    let done = plan.result(true, msg, q, emails, vec![]);
    if let Some(key) = idempotency_key {
        let stored = serde_json::to_string(&done).map_err(AppError::internal)?;
        st::save_batch_request(&mut tx, actor.enterprise_id, key, &hash, &stored, now).await?;
    }
    let kind = api::EventKind::AccountsImported;
    events::publish(app, &mut tx, actor.enterprise_id, kind, None).await?;
    let detail = format!("{created} created, {updated} updated");
    audit::record(app, &mut tx, actor, "account.import", &detail, "").await?;
    tx.commit().await?;
    events::wake(app);
    if emails > 0 {
        app.mailer.wake();
    }
    Ok(done)
}
