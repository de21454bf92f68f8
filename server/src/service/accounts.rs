//! Cloud accounts (DOMAIN.md "Cloud accounts", "Emails", "Bulk add and batch edit").

use std::collections::HashSet;

use crate::clock::{self, Millis, DAY};
use crate::crypto::{self, SecretBox};
use crate::error::{AppError, AppResult};
use crate::mail::Outgoing;
use crate::service::{audit, events, license, Actor, App, Perm};
use crate::store::accounts::{self as st, AccountRecord, Fields, Secrets};
use crate::store::{self, admin, outbox, Conn};
use crate::validate::{self, Email, Extension};
use vcms_api::{self as api, ErrorCode};

mod batch;
pub use batch::batch;

pub const PINCODE_VALID: Millis = 7 * DAY;
pub const DEFAULT_PAGE_SIZE: i64 = 10;
pub const MAX_PAGE_SIZE: i64 = 100;
/// Letters and digits without look-alikes (0/O/o, 1/l/I), so a password can be read out.
const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

/// A generated account password: 12 characters with upper and lower case letters and digits.
pub fn new_password() -> String {
    loop {
        let p = crypto::random_from(PASSWORD_ALPHABET, 12);
        let upper = p.bytes().any(|b| b.is_ascii_uppercase());
        let lower = p.bytes().any(|b| b.is_ascii_lowercase());
        let digit = p.bytes().any(|b| b.is_ascii_digit());
        if upper && lower && digit {
            return p;
        }
    }
}

pub fn new_pincode() -> String {
    crypto::random_digits(9)
}

/// Sealed secrets for a fresh account (or a reset).
struct Fresh {
    password_enc: Vec<u8>,
    pincode_enc: Vec<u8>,
    pincode_lookup: String,
}

fn fresh(secrets: &SecretBox) -> Fresh {
    let pin = new_pincode();
    Fresh {
        password_enc: secrets.seal(&new_password()),
        pincode_enc: secrets.seal(&pin),
        pincode_lookup: secrets.lookup(&pin),
    }
}

fn optional_email(field: &str, raw: Option<&str>) -> AppResult<Option<Email>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(e) => Email::parse(field, e).map(Some),
    }
}

fn not_found() -> AppError {
    AppError::not_found("No such account in your enterprise")
}

async fn enterprise_number(c: &mut Conn, enterprise_id: i64) -> AppResult<String> {
    Ok(admin::enterprise_by_id(c, enterprise_id)
        .await?
        .ok_or_else(|| AppError::not_found("No such enterprise"))?
        .number)
}

async fn extension_clash(c: &mut Conn, enterprise_id: i64, ext: &str) -> AppResult<AppError> {
    let who = st::by_extension(c, enterprise_id, ext)
        .await?
        .map(|a| a.name)
        .unwrap_or_default();
    Ok(AppError::conflict(
        "extension",
        format!("Extension {ext} is already used by {who} in your enterprise"),
    ))
}

pub async fn details(app: &App, c: &mut Conn, a: &AccountRecord) -> AppResult<api::AccountDetails> {
    let now = app.now();
    let bindings = st::live_bindings(c, a.id, now).await?;
    let pincode_state = if a.pincode_used_at.is_some() {
        api::PincodeState::Used
    } else if a.pincode_expires_at < now {
        api::PincodeState::Expired
    } else {
        api::PincodeState::Valid
    };
    let registered = !bindings.is_empty();
    // A call record outlives its endpoints only when its BYE never came: trust it while the
    // account has an endpoint registered.
    let in_call = registered && crate::store::sip::in_call(c, a.id).await?;
    Ok(api::AccountDetails {
        id: a.id,
        name: a.name.clone(),
        extension: a.extension.clone(),
        cloud_number: a.cloud_number.clone(),
        email: a.email.clone(),
        password: app.secrets.open(&a.password_enc)?,
        pincode: Some(app.secrets.open(&a.pincode_enc)?),
        pincode_expires_at: Some(clock::rfc3339(a.pincode_expires_at)),
        pincode_state,
        status: if registered {
            api::AccountStatus::Registered
        } else {
            api::AccountStatus::Unregistered
        },
        in_call,
        status_text: if in_call {
            "In a call"
        } else if registered {
            "Registered successfully"
        } else {
            "Unregistered"
        }
        .into(),
        bindings: bindings
            .iter()
            .map(|b| {
                let nat = if b.nat != 0 { "-NAT" } else { "" };
                Ok(api::Binding {
                    device_model: b.device_model.clone(),
                    device_version: b.device_version.clone(),
                    transport: b.transport.parse()?,
                    nat: b.nat != 0,
                    address: b.address.clone(),
                    registered_at: clock::rfc3339(b.registered_at),
                    expires_at: clock::rfc3339(b.expires_at),
                    state: format!("Registered({}{nat})", b.transport.to_uppercase()),
                })
            })
            .collect::<AppResult<_>>()?,
        created_at: clock::rfc3339(a.created_at),
        updated_at: clock::rfc3339(a.updated_at),
    })
}

pub async fn list(app: &App, actor: &Actor, q: &api::AccountQuery) -> AppResult<api::AccountPage> {
    actor.require(Perm::ViewAccounts)?;
    let page_size = q.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(AppError::invalid("page_size", "page_size must be 1 to 100"));
    }
    let page = q.page.unwrap_or(1);
    if page < 1 {
        return Err(AppError::invalid("page", "page must be 1 or more"));
    }
    let search = q.search.as_deref();
    if search.is_some_and(|s| s.chars().count() > 128) {
        return Err(AppError::invalid(
            "search",
            "search must be at most 128 characters",
        ));
    }
    let now = app.now();
    let mut c = app.store.conn().await?;
    let (used, total) = st::count_used_and_matching(&mut c, actor.enterprise_id, search).await?;
    let pages = ((total + page_size - 1) / page_size).max(1);
    let page = page.min(pages);
    let rows = st::page(
        &mut c,
        actor.enterprise_id,
        search,
        q.sort.unwrap_or_default(),
        q.desc.unwrap_or(false),
        page_size,
        (page - 1) * page_size,
        now,
    )
    .await?;
    let quota = license::quota_with_used(&mut c, actor.enterprise_id, now, used).await?;
    Ok(api::AccountPage {
        items: rows
            .into_iter()
            .map(|r| api::AccountRow {
                id: r.id,
                name: r.name,
                extension: r.extension,
                cloud_number: r.cloud_number,
                email: r.email,
                status: if r.registered != 0 {
                    api::AccountStatus::Registered
                } else {
                    api::AccountStatus::Unregistered
                },
            })
            .collect(),
        total,
        page,
        page_size,
        pages,
        quota,
    })
}

/// How an account is named in the audit log and the failed email list: "Anna (1001)".
pub fn label(a: &AccountRecord) -> String {
    format!("{} ({})", a.name, a.extension)
}

/// Details include the password: every reveal is audited.
async fn reveal(
    app: &App,
    c: &mut Conn,
    actor: &Actor,
    a: &AccountRecord,
) -> AppResult<api::AccountDetails> {
    audit::record(app, c, actor, "account.reveal_password", &label(a), "").await?;
    details(app, c, a).await
}

pub async fn get(app: &App, actor: &Actor, id: i64) -> AppResult<api::AccountDetails> {
    actor.require(Perm::ViewAccounts)?;
    let mut c = app.store.conn().await?;
    let a = st::by_id(&mut c, actor.enterprise_id, id)
        .await?
        .ok_or_else(not_found)?;
    reveal(app, &mut c, actor, &a).await
}

pub async fn get_by_extension(
    app: &App,
    actor: &Actor,
    ext: &str,
) -> AppResult<api::AccountDetails> {
    actor.require(Perm::ViewAccounts)?;
    let ext = Extension::parse("extension", ext)?;
    let mut c = app.store.conn().await?;
    let a = st::by_extension(&mut c, actor.enterprise_id, ext.as_str())
        .await?
        .ok_or_else(not_found)?;
    reveal(app, &mut c, actor, &a).await
}

fn quota_full(q: &api::Quota) -> AppError {
    AppError::forbidden(
        ErrorCode::QuotaFull,
        format!(
            "The account quota is full ({}/{}): {} can be added; activate a license for more",
            q.used, q.quota, q.can_add
        ),
    )
    .with_can_add(q.can_add)
}

pub async fn add(
    app: &App,
    actor: &Actor,
    req: &api::NewAccount,
) -> AppResult<api::AccountDetails> {
    actor.require(Perm::ManageAccounts)?;
    let name = validate::name("name", &req.name)?;
    let ext = Extension::parse("extension", &req.extension)?;
    let email = optional_email("email", req.email.as_deref())?;
    if req.send_email && email.is_none() {
        return Err(AppError::invalid(
            "email",
            "email is required to send the account email",
        ));
    }
    let now = app.now();
    let mut tx = app.store.begin().await?;
    make_room(&mut tx, actor.enterprise_id, ext.as_str(), now).await?;
    let number = enterprise_number(&mut tx, actor.enterprise_id).await?;
    let cloud_number = format!("{number}{}", ext.as_str());
    let fields = Fields {
        name: &name,
        extension: ext.as_str(),
        cloud_number: &cloud_number,
        email: email.as_ref().map(Email::as_str),
    };
    let id = insert_with_fresh_secrets(app, &mut tx, actor.enterprise_id, &fields, now).await?;
    let a = st::by_id(&mut tx, actor.enterprise_id, id)
        .await?
        .ok_or_else(not_found)?;
    if req.send_email {
        queue_account_email(app, &mut tx, &a, &number).await?;
    }
    let d = details(app, &mut tx, &a).await?;
    events::publish(
        app,
        &mut tx,
        actor.enterprise_id,
        api::EventKind::AccountAdded,
        Some(a.id),
    )
    .await?;
    audit::record(app, &mut tx, actor, "account.add", &label(&a), "").await?;
    tx.commit().await?;
    app.mailer.wake();
    events::wake(app);
    Ok(d)
}

/// Take the enterprise's lock and check that one more account with extension `ext` fits:
/// a license in force, room in the quota, and the extension free.
async fn make_room(c: &mut Conn, enterprise_id: i64, ext: &str, now: Millis) -> AppResult<()> {
    st::lock_enterprise(c, enterprise_id).await?;
    let q = license::quota(c, enterprise_id, now).await?;
    license::require_in_force(&q)?;
    if q.can_add <= 0 {
        return Err(quota_full(&q));
    }
    if st::by_extension(c, enterprise_id, ext).await?.is_some() {
        return Err(extension_clash(c, enterprise_id, ext).await?);
    }
    Ok(())
}

/// Insert the account with a new password and pincode; returns its id. A pincode clash
/// (another live pincode has the same digits) just draws again, up to 5 times; the extension
/// was checked under the enterprise lock.
async fn insert_with_fresh_secrets(
    app: &App,
    c: &mut Conn,
    enterprise_id: i64,
    fields: &Fields<'_>,
    now: Millis,
) -> AppResult<i64> {
    for _ in 0..5 {
        let f = fresh(&app.secrets);
        let s = Secrets {
            password_enc: &f.password_enc,
            pincode_enc: &f.pincode_enc,
            pincode_lookup: &f.pincode_lookup,
            pincode_expires_at: now + PINCODE_VALID,
        };
        if st::taken_lookups(c, std::slice::from_ref(&f.pincode_lookup))
            .await?
            .is_empty()
        {
            return st::insert(c, enterprise_id, fields, &s, now)
                .await
                .map_err(|e| {
                    if store::is_unique_violation(&e) {
                        AppError::conflict(
                            "extension",
                            format!(
                                "Extension {} is already used in your enterprise",
                                fields.extension
                            ),
                        )
                    } else {
                        e.into()
                    }
                });
        }
    }
    Err(AppError::internal("no free pincode after 5 draws"))
}

/// The end of a change to one account: its details as they are now, the live event and the
/// audit record, all in the change's transaction.
async fn finish_change(
    app: &App,
    mut tx: store::Tx,
    actor: &Actor,
    id: i64,
    action: &str,
) -> AppResult<api::AccountDetails> {
    let a = st::by_id(&mut tx, actor.enterprise_id, id)
        .await?
        .ok_or_else(not_found)?;
    let d = details(app, &mut tx, &a).await?;
    events::publish(
        app,
        &mut tx,
        actor.enterprise_id,
        api::EventKind::AccountChanged,
        Some(id),
    )
    .await?;
    audit::record(app, &mut tx, actor, action, &label(&a), "").await?;
    tx.commit().await?;
    events::wake(app);
    Ok(d)
}

pub async fn update(
    app: &App,
    actor: &Actor,
    id: i64,
    req: &api::AccountUpdate,
) -> AppResult<api::AccountDetails> {
    actor.require(Perm::ManageAccounts)?;
    let name = validate::optional("name", req.name.as_deref(), validate::name)?;
    let ext = validate::optional("extension", req.extension.as_deref(), Extension::parse)?;
    let email = match &req.email {
        None => None,
        Some(e) => Some(optional_email("email", Some(e))?),
    };
    let now = app.now();
    let mut tx = app.store.begin().await?;
    st::lock_enterprise(&mut tx, actor.enterprise_id).await?;
    let a = st::by_id(&mut tx, actor.enterprise_id, id)
        .await?
        .ok_or_else(not_found)?;
    let new_ext = ext
        .as_ref()
        .map(|e| e.as_str().to_string())
        .unwrap_or_else(|| a.extension.clone());
    if new_ext != a.extension
        && st::by_extension(&mut tx, actor.enterprise_id, &new_ext)
            .await?
            .is_some()
    {
        return Err(extension_clash(&mut tx, actor.enterprise_id, &new_ext).await?);
    }
    let number = enterprise_number(&mut tx, actor.enterprise_id).await?;
    let cloud_number = format!("{number}{new_ext}");
    let new_email = match email {
        None => a.email.clone(),
        Some(e) => e.map(|e| e.as_str().to_string()),
    };
    let new_name = name.unwrap_or_else(|| a.name.clone());
    let fields = Fields {
        name: &new_name,
        extension: &new_ext,
        cloud_number: &cloud_number,
        email: new_email.as_deref(),
    };
    st::update_fields(&mut tx, a.id, &fields, now).await?;
    if cloud_number != a.cloud_number {
        // The old cloud number stops working at once: its endpoints are signed out.
        st::drop_bindings(&mut tx, a.id).await?;
    }
    finish_change(app, tx, actor, id, "account.edit").await
}

/// The start of a reset of one account's secrets: the account, in a new transaction.
async fn begin_reset(app: &App, actor: &Actor, id: i64) -> AppResult<(store::Tx, AccountRecord)> {
    actor.require(Perm::ResetSecrets)?;
    let mut tx = app.store.begin().await?;
    let a = st::by_id(&mut tx, actor.enterprise_id, id)
        .await?
        .ok_or_else(not_found)?;
    Ok((tx, a))
}

pub async fn reset_password(app: &App, actor: &Actor, id: i64) -> AppResult<api::AccountDetails> {
    let (mut tx, a) = begin_reset(app, actor, id).await?;
    let now = app.now();
    st::set_password(&mut tx, a.id, &app.secrets.seal(&new_password()), now).await?;
    // Resetting the password signs the account's endpoints out.
    st::drop_bindings(&mut tx, a.id).await?;
    finish_change(app, tx, actor, id, "account.reset_password").await
}

pub async fn reset_pincode(app: &App, actor: &Actor, id: i64) -> AppResult<api::AccountDetails> {
    let (mut tx, a) = begin_reset(app, actor, id).await?;
    let now = app.now();
    for attempt in 0..5 {
        let pin = new_pincode();
        let lookup = app.secrets.lookup(&pin);
        if st::taken_lookups(&mut tx, std::slice::from_ref(&lookup))
            .await?
            .is_empty()
        {
            st::set_pincode(
                &mut tx,
                a.id,
                &app.secrets.seal(&pin),
                &lookup,
                now + PINCODE_VALID,
                now,
            )
            .await?;
            break;
        }
        if attempt == 4 {
            return Err(AppError::internal("no free pincode after 5 draws"));
        }
    }
    finish_change(app, tx, actor, id, "account.reset_pincode").await
}

/// Remove accounts, all or nothing: one id that is not an account of the enterprise and
/// nothing is removed.
pub async fn remove(app: &App, actor: &Actor, ids: &[i64]) -> AppResult<api::RemoveResult> {
    actor.require(Perm::ManageAccounts)?;
    if ids.is_empty() {
        return Err(AppError::invalid(
            "ids",
            "ids must list at least one account",
        ));
    }
    let unique: Vec<i64> = ids
        .iter()
        .copied()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut tx = app.store.begin().await?;
    st::lock_enterprise(&mut tx, actor.enterprise_id).await?;
    let found = st::by_ids(&mut tx, actor.enterprise_id, &unique).await?;
    if found.len() != unique.len() {
        let have: HashSet<i64> = found.iter().map(|a| a.id).collect();
        let mut missing: Vec<i64> = unique
            .iter()
            .copied()
            .filter(|i| !have.contains(i))
            .collect();
        missing.sort_unstable();
        return Err(AppError::not_found(format!(
            "No account {} in your enterprise: nothing was removed",
            missing
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_field("ids"));
    }
    let n = st::delete_ids(&mut tx, actor.enterprise_id, &unique).await? as i64;
    for id in &unique {
        events::publish(
            app,
            &mut tx,
            actor.enterprise_id,
            api::EventKind::AccountRemoved,
            Some(*id),
        )
        .await?;
    }
    let names: Vec<String> = found.iter().map(label).collect();
    audit::record(
        app,
        &mut tx,
        actor,
        "account.remove",
        &names.join(", "),
        &format!("{n} account(s)"),
    )
    .await?;
    tx.commit().await?;
    events::wake(app);
    Ok(api::RemoveResult {
        removed: n,
        message: format!("Removed {n} account(s)"),
    })
}

async fn queue_account_email(
    app: &App,
    c: &mut Conn,
    a: &AccountRecord,
    enterprise_number: &str,
) -> AppResult<bool> {
    let Some(email) = &a.email else {
        return Ok(false);
    };
    let password = app.secrets.open(&a.password_enc)?;
    let pincode = app.secrets.open(&a.pincode_enc)?;
    let expiry = clock::human(a.pincode_expires_at);
    let label = label(a);
    let server = app.base_url().to_string();
    // In the language of the enterprise's owner, who manages these accounts.
    let lang = match crate::store::admin::owner_of(c, a.enterprise_id).await? {
        Some(owner) => owner.language,
        None => "en".to_string(),
    };
    app.mailer
        .enqueue(
            c,
            &Outgoing {
                enterprise_id: Some(a.enterprise_id),
                account_id: Some(a.id),
                account_label: Some(&label),
                kind: "account_info",
                recipient: email,
                lang: &lang,
                vars: &[
                    ("name", &a.name),
                    ("cloud_number", &a.cloud_number),
                    ("extension", &a.extension),
                    ("enterprise_number", enterprise_number),
                    ("password", &password),
                    ("pincode", &pincode),
                    ("pincode_expiry", &expiry),
                    ("server", &server),
                ],
            },
        )
        .await?;
    Ok(true)
}

pub async fn send_emails(
    app: &App,
    actor: &Actor,
    req: &api::SendEmailRequest,
) -> AppResult<api::SendEmailResult> {
    actor.require(Perm::SendEmails)?;
    let mut tx = app.store.begin().await?;
    let targets = if req.all {
        st::matching(&mut tx, actor.enterprise_id, req.search.as_deref()).await?
    } else {
        if req.ids.is_empty() {
            return Err(AppError::invalid(
                "ids",
                "ids must list at least one account, or set all",
            ));
        }
        let unique: Vec<i64> = req
            .ids
            .iter()
            .copied()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let found = st::by_ids(&mut tx, actor.enterprise_id, &unique).await?;
        if found.len() != unique.len() {
            return Err(AppError::not_found(
                "Some of these accounts are not in your enterprise: nothing was sent",
            )
            .with_field("ids"));
        }
        found
    };
    let number = enterprise_number(&mut tx, actor.enterprise_id).await?;
    let mut queued = 0;
    let mut without = vec![];
    for a in &targets {
        if queue_account_email(app, &mut tx, a, &number).await? {
            queued += 1;
        } else {
            without.push(api::AccountRef {
                id: a.id,
                name: a.name.clone(),
                extension: a.extension.clone(),
            });
        }
    }
    audit::record(
        app,
        &mut tx,
        actor,
        "account.send_email",
        &format!("{queued} email(s)"),
        "",
    )
    .await?;
    tx.commit().await?;
    app.mailer.wake();
    let message = if without.is_empty() {
        format!("Queued {queued} email(s)")
    } else {
        format!(
            "Queued {queued} email(s); {} account(s) have no email address",
            without.len()
        )
    };
    Ok(api::SendEmailResult {
        queued,
        without_email: without,
        message,
    })
}

// ---- failed email list ----

pub async fn failed_emails(app: &App, actor: &Actor) -> AppResult<api::FailedEmailList> {
    actor.require(Perm::FailedEmails)?;
    let mut c = app.store.conn().await?;
    let rows = outbox::failed_of_enterprise(&mut c, actor.enterprise_id).await?;
    let items: Vec<_> = rows
        .into_iter()
        .map(|r| {
            Ok(api::FailedEmail {
                id: r.id,
                recipient: r.recipient,
                account: r.account_label,
                kind: r.kind.parse()?,
                reason: r.last_error.unwrap_or_default(),
                failed_at: r.failed_at.map(clock::rfc3339).unwrap_or_default(),
                attempts: r.attempts,
            })
        })
        .collect::<AppResult<_>>()?;
    let waiting = outbox::pending_of_enterprise(&mut c, actor.enterprise_id).await?;
    Ok(api::FailedEmailList {
        total: items.len() as i64,
        items,
        transport_problem: app.mailer.transport_problem(),
        waiting,
    })
}

async fn failed_rows(
    c: &mut Conn,
    enterprise_id: i64,
    ids: &[i64],
) -> AppResult<Vec<outbox::OutboxRow>> {
    if ids.is_empty() {
        return Err(AppError::invalid("ids", "ids must list at least one email"));
    }
    let mut rows = vec![];
    for id in ids.iter().copied().collect::<HashSet<_>>() {
        match outbox::by_id(c, id).await? {
            Some(r) if r.enterprise_id == Some(enterprise_id) && r.status == "failed" => {
                rows.push(r)
            }
            _ => {
                return Err(AppError::not_found(format!(
                    "No failed email {id} in your enterprise: nothing was changed"
                ))
                .with_field("ids"))
            }
        }
    }
    Ok(rows)
}

/// Resend failed emails. An account email is written anew from the account as it is now
/// (its password or pincode may have been reset since).
pub async fn resend_failed(app: &App, actor: &Actor, ids: &[i64]) -> AppResult<api::CountResult> {
    actor.require(Perm::FailedEmails)?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let rows = failed_rows(&mut tx, actor.enterprise_id, ids).await?;
    let number = enterprise_number(&mut tx, actor.enterprise_id).await?;
    let mut n = 0;
    for r in rows {
        let account = match (r.kind.as_str(), r.account_id) {
            ("account_info", Some(aid)) => st::by_id(&mut tx, actor.enterprise_id, aid).await?,
            _ => None,
        };
        match account {
            Some(a) if a.email.is_some() => {
                outbox::delete_failed(&mut tx, actor.enterprise_id, &[r.id]).await?;
                queue_account_email(app, &mut tx, &a, &number).await?;
            }
            _ => {
                outbox::requeue_failed(&mut tx, actor.enterprise_id, &[r.id], now).await?;
            }
        }
        n += 1;
    }
    let done = finish_failed(app, tx, actor, "email.resend", n, "Resending").await?;
    app.mailer.wake();
    Ok(done)
}

pub async fn delete_failed(app: &App, actor: &Actor, ids: &[i64]) -> AppResult<api::CountResult> {
    actor.require(Perm::FailedEmails)?;
    let mut tx = app.store.begin().await?;
    let rows = failed_rows(&mut tx, actor.enterprise_id, ids).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let n = outbox::delete_failed(&mut tx, actor.enterprise_id, &ids).await? as i64;
    finish_failed(app, tx, actor, "email.delete", n, "Deleted").await
}

/// The end of an action on failed emails: its audit record, committed with it, and the
/// answer (`{done} {n} email(s)`).
async fn finish_failed(
    app: &App,
    mut tx: store::Tx,
    actor: &Actor,
    action: &str,
    n: i64,
    done: &str,
) -> AppResult<api::CountResult> {
    let emails = format!("{n} email(s)");
    audit::record(app, &mut tx, actor, action, &emails, "").await?;
    tx.commit().await?;
    Ok(api::CountResult {
        count: n,
        message: format!("{done} {emails}"),
    })
}
