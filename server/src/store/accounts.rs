//! Cloud accounts and their endpoint bindings.

use super::query::{
    delete_before, execute, maybe_row, maybe_scalar, params, placeholders, row, rows, run, scalar,
    scalars, Params,
};
use super::sip::{BindingRecord, BCOLS};
use super::Conn;
use crate::clock::Millis;
use vcms_api::AccountSort;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRecord {
    pub id: i64,
    pub enterprise_id: i64,
    pub name: String,
    pub extension: String,
    pub cloud_number: String,
    pub email: Option<String>,
    pub password_enc: Vec<u8>,
    pub pincode_enc: Vec<u8>,
    pub pincode_lookup: Option<String>,
    pub pincode_expires_at: i64,
    pub pincode_used_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLS: &str = "id, enterprise_id, name, extension, cloud_number, email, password_enc, pincode_enc, pincode_lookup, pincode_expires_at, pincode_used_at, created_at, updated_at";

/// A row of the account table.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListRow {
    pub id: i64,
    pub name: String,
    pub extension: String,
    pub cloud_number: String,
    pub email: Option<String>,
    pub registered: i64,
}

/// A new or edited account's plain fields plus the derived search and sort keys.
pub struct Fields<'a> {
    pub name: &'a str,
    pub extension: &'a str,
    pub cloud_number: &'a str,
    pub email: Option<&'a str>,
}

impl Fields<'_> {
    fn name_key(&self) -> String {
        self.name.to_lowercase()
    }
    fn email_key(&self) -> String {
        self.email.unwrap_or("").to_lowercase()
    }
    fn search_text(&self) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}",
            self.name.to_lowercase(),
            self.extension,
            self.cloud_number,
            self.email.unwrap_or("").to_lowercase()
        )
    }
}

/// Sealed secrets of a new account.
pub struct Secrets<'a> {
    pub password_enc: &'a [u8],
    pub pincode_enc: &'a [u8],
    pub pincode_lookup: &'a str,
    pub pincode_expires_at: Millis,
}

pub async fn insert(
    c: &mut Conn,
    enterprise_id: i64,
    f: &Fields<'_>,
    s: &Secrets<'_>,
    now: Millis,
) -> sqlx::Result<i64> {
    let sql = "INSERT INTO accounts (enterprise_id, name, name_key, extension, cloud_number, email, email_key, search_text, \
         password_enc, pincode_enc, pincode_lookup, pincode_expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id";
    let mut p = Params::default();
    push_new_row(&mut p, enterprise_id, f, s, now)?;
    scalar(c, sql, p).await
}

/// The values of a new account's row (13: `created_at` and `updated_at` are both `now`).
fn push_new_row<'q>(
    p: &mut Params<'q>,
    enterprise_id: i64,
    f: &Fields<'q>,
    s: &Secrets<'q>,
    now: Millis,
) -> sqlx::Result<()> {
    params!(into p; enterprise_id);
    push_fields(p, f)?;
    params!(into p; s.password_enc, s.pincode_enc, s.pincode_lookup, s.pincode_expires_at, now);
    Ok(())
}

/// The values of an account's plain fields and keys (7).
fn push_fields<'q>(p: &mut Params<'q>, f: &Fields<'q>) -> sqlx::Result<()> {
    params!(into p; f.name, f.name_key(), f.extension, f.cloud_number, f.email, f.email_key(), f.search_text());
    Ok(())
}

/// Insert many accounts with multi-row statements (the batch path).
/// Rows in one multi-row INSERT of accounts. sqlx's SQLite driver looks up every `$N`
/// parameter by name, scanning the statement's parameters each time: a statement's cost
/// grows with the square of its parameters. 6,500 parameters a statement (500 rows) spent
/// 72% of a 10,000-account import in `sqlite3_bind_parameter_name`; 40 rows (520) is
/// about as many statements as rows allow without that. PostgreSQL binds by position.
fn rows_per_insert(c: &Conn) -> usize {
    if c.backend_name().eq_ignore_ascii_case("sqlite") {
        40
    } else {
        500
    }
}

pub async fn insert_many(
    c: &mut Conn,
    enterprise_id: i64,
    rows: &[(Fields<'_>, Secrets<'_>)],
    now: Millis,
) -> sqlx::Result<()> {
    const PER: usize = 13;
    for chunk in rows.chunks(rows_per_insert(c)) {
        let mut sql = String::from(
            "INSERT INTO accounts (enterprise_id, name, name_key, extension, cloud_number, email, email_key, search_text, \
             password_enc, pincode_enc, pincode_lookup, pincode_expires_at, created_at, updated_at) VALUES ",
        );
        let mut p = Params::default();
        for (i, (f, s)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            let b = i * PER;
            sql.push_str(&format!("({}, ${})", placeholders(b + 1, PER), b + PER));
            push_new_row(&mut p, enterprise_id, f, s, now)?;
        }
        execute(&mut *c, &sql, p).await?;
    }
    Ok(())
}

pub async fn update_fields(c: &mut Conn, id: i64, f: &Fields<'_>, now: Millis) -> sqlx::Result<()> {
    let sql = "UPDATE accounts SET name = $1, name_key = $2, extension = $3, cloud_number = $4, email = $5, email_key = $6, \
         search_text = $7, updated_at = $8 WHERE id = $9";
    let mut p = Params::default();
    push_fields(&mut p, f)?;
    params!(into &mut p; now, id);
    run(c, sql, p).await
}

pub async fn set_password(c: &mut Conn, id: i64, enc: &[u8], now: Millis) -> sqlx::Result<()> {
    let sql = "UPDATE accounts SET password_enc = $1, updated_at = $2 WHERE id = $3";
    run(c, sql, params![enc, now, id]).await
}

pub async fn set_pincode(
    c: &mut Conn,
    id: i64,
    enc: &[u8],
    lookup: &str,
    expires_at: Millis,
    now: Millis,
) -> sqlx::Result<()> {
    let sql = "UPDATE accounts SET pincode_enc = $1, pincode_lookup = $2, pincode_expires_at = $3, pincode_used_at = NULL, updated_at = $4 WHERE id = $5";
    run(c, sql, params![enc, lookup, expires_at, now, id]).await
}

/// Use a live pincode once: true if this call used it.
pub async fn consume_pincode(
    c: &mut Conn,
    id: i64,
    lookup: &str,
    now: Millis,
) -> sqlx::Result<bool> {
    let sql = "UPDATE accounts SET pincode_lookup = NULL, pincode_used_at = $1 WHERE id = $2 AND pincode_lookup = $3 AND pincode_expires_at >= $1";
    Ok(execute(c, sql, params![now, id, lookup]).await? == 1)
}

/// Which of these pincode digests are already taken by some account.
pub async fn taken_lookups(c: &mut Conn, lookups: &[String]) -> sqlx::Result<Vec<String>> {
    let mut out = Vec::new();
    for chunk in lookups.chunks(500) {
        let sql = format!(
            "SELECT pincode_lookup FROM accounts WHERE pincode_lookup IN ({})",
            placeholders(1, chunk.len())
        );
        out.extend(scalars::<String>(&mut *c, &sql, params![; chunk]).await?);
    }
    Ok(out)
}

pub async fn by_id(
    c: &mut Conn,
    enterprise_id: i64,
    id: i64,
) -> sqlx::Result<Option<AccountRecord>> {
    let sql = format!("SELECT {COLS} FROM accounts WHERE id = $1 AND enterprise_id = $2");
    maybe_row(c, &sql, params![id, enterprise_id]).await
}

/// The enterprise an account belongs to, if the account still exists.
pub async fn enterprise_of(c: &mut Conn, id: i64) -> sqlx::Result<Option<i64>> {
    maybe_scalar(
        c,
        "SELECT enterprise_id FROM accounts WHERE id = $1",
        params![id],
    )
    .await
}

pub async fn by_extension(
    c: &mut Conn,
    enterprise_id: i64,
    ext: &str,
) -> sqlx::Result<Option<AccountRecord>> {
    let sql = format!("SELECT {COLS} FROM accounts WHERE enterprise_id = $1 AND extension = $2");
    maybe_row(c, &sql, params![enterprise_id, ext]).await
}

pub async fn by_cloud_number(
    c: &mut Conn,
    cloud_number: &str,
) -> sqlx::Result<Option<AccountRecord>> {
    let sql = format!("SELECT {COLS} FROM accounts WHERE cloud_number = $1");
    maybe_row(c, &sql, params![cloud_number]).await
}

pub async fn by_pincode_lookup(c: &mut Conn, lookup: &str) -> sqlx::Result<Option<AccountRecord>> {
    let sql = format!("SELECT {COLS} FROM accounts WHERE pincode_lookup = $1");
    maybe_row(c, &sql, params![lookup]).await
}

/// Every account of an enterprise (batch planning), ordered by extension.
pub async fn all_of(c: &mut Conn, enterprise_id: i64) -> sqlx::Result<Vec<ListRow>> {
    let sql = "SELECT id, name, extension, cloud_number, email, CAST(0 AS BIGINT) AS registered FROM accounts \
         WHERE enterprise_id = $1 ORDER BY extension";
    rows(c, sql, params![enterprise_id]).await
}

fn filter(search: Option<&str>) -> (&'static str, Option<String>) {
    match search.map(str::trim).filter(|s| !s.is_empty()) {
        Some(q) => (
            " AND search_text LIKE $2 ESCAPE '\\'",
            Some(super::like_pattern(q)),
        ),
        None => ("", None),
    }
}

pub async fn count(c: &mut Conn, enterprise_id: i64) -> sqlx::Result<i64> {
    count_matching(c, enterprise_id, None).await
}

/// All accounts of the enterprise and those matching `search`, in one scan.
pub async fn count_used_and_matching(
    c: &mut Conn,
    enterprise_id: i64,
    search: Option<&str>,
) -> sqlx::Result<(i64, i64)> {
    let (_, pat) = filter(search);
    match pat {
        None => {
            let n = count(c, enterprise_id).await?;
            Ok((n, n))
        }
        Some(p) => {
            let sql = "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN search_text LIKE $2 ESCAPE '\\' THEN 1 ELSE 0 END), 0) AS BIGINT) \
                 FROM accounts WHERE enterprise_id = $1";
            row(c, sql, params![enterprise_id, p]).await
        }
    }
}

pub async fn count_matching(
    c: &mut Conn,
    enterprise_id: i64,
    search: Option<&str>,
) -> sqlx::Result<i64> {
    let (cond, pat) = filter(search);
    let sql = format!("SELECT COUNT(*) FROM accounts WHERE enterprise_id = $1{cond}");
    let mut q = sqlx::query_scalar(&sql).bind(enterprise_id);
    if let Some(p) = pat {
        q = q.bind(p);
    }
    q.fetch_one(c).await
}

/// One page of the table. The page's ids come first from an index that starts with the
/// enterprise and holds the sort key and the search text, so skipping rows (OFFSET) and
/// filtering read the index only; columns and the registration status are then fetched for
/// the page's rows alone (see BENCHMARKS.md).
#[allow(clippy::too_many_arguments)]
pub async fn page(
    c: &mut Conn,
    enterprise_id: i64,
    search: Option<&str>,
    sort: AccountSort,
    desc: bool,
    limit: i64,
    offset: i64,
    now: Millis,
) -> sqlx::Result<Vec<ListRow>> {
    let (cond, pat) = filter(search);
    let dir = if desc { "DESC" } else { "ASC" };
    let order = |t: &str| match sort {
        AccountSort::Extension | AccountSort::CloudNumber => format!("{t}extension {dir}"),
        AccountSort::Name => format!("{t}name_key {dir}, {t}extension {dir}"),
        AccountSort::Email => format!("{t}email_key {dir}, {t}extension {dir}"),
    };
    let n = if pat.is_some() { 3 } else { 2 };
    let sql = format!(
        "SELECT a.id, a.name, a.extension, a.cloud_number, a.email, \
         CAST(CASE WHEN EXISTS (SELECT 1 FROM bindings b WHERE b.account_id = a.id AND b.expires_at > ${n}) THEN 1 ELSE 0 END AS BIGINT) AS registered \
         FROM accounts a JOIN (SELECT id FROM accounts WHERE enterprise_id = $1{cond} ORDER BY {} LIMIT ${} OFFSET ${}) p ON p.id = a.id \
         ORDER BY {}",
        order(""),
        n + 1,
        n + 2,
        order("a.")
    );
    let mut q = sqlx::query_as(&sql).bind(enterprise_id);
    if let Some(p) = pat {
        q = q.bind(p);
    }
    q.bind(now).bind(limit).bind(offset).fetch_all(c).await
}

/// Every account matching a search (send email to all), ordered by extension.
pub async fn matching(
    c: &mut Conn,
    enterprise_id: i64,
    search: Option<&str>,
) -> sqlx::Result<Vec<AccountRecord>> {
    let (cond, pat) = filter(search);
    let sql =
        format!("SELECT {COLS} FROM accounts WHERE enterprise_id = $1{cond} ORDER BY extension");
    let mut q = sqlx::query_as(&sql).bind(enterprise_id);
    if let Some(p) = pat {
        q = q.bind(p);
    }
    q.fetch_all(c).await
}

pub async fn by_ids(
    c: &mut Conn,
    enterprise_id: i64,
    ids: &[i64],
) -> sqlx::Result<Vec<AccountRecord>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT {COLS} FROM accounts WHERE enterprise_id = $1 AND id IN ({})",
            placeholders(2, chunk.len())
        );
        out.extend(rows(&mut *c, &sql, params![enterprise_id; chunk]).await?);
    }
    Ok(out)
}

pub async fn delete_ids(c: &mut Conn, enterprise_id: i64, ids: &[i64]) -> sqlx::Result<u64> {
    let mut n = 0;
    for chunk in ids.chunks(500) {
        let sql = format!(
            "DELETE FROM accounts WHERE enterprise_id = $1 AND id IN ({})",
            placeholders(2, chunk.len())
        );
        n += execute(&mut *c, &sql, params![enterprise_id; chunk]).await?;
    }
    Ok(n)
}

// ---- bindings ----

/// An account's live bindings, the oldest first.
pub async fn live_bindings(
    c: &mut Conn,
    account_id: i64,
    now: Millis,
) -> sqlx::Result<Vec<BindingRecord>> {
    let sql = format!(
        "SELECT {BCOLS} FROM bindings b WHERE b.account_id = $1 AND b.expires_at > $2 \
         ORDER BY b.registered_at"
    );
    rows(c, &sql, params![account_id, now]).await
}

/// Sign out every endpoint of an account: its bindings and endpoint sessions go, and its
/// SIP epoch moves on so that a registrar holding the old bindings in memory drops them.
pub async fn drop_bindings(c: &mut Conn, account_id: i64) -> sqlx::Result<u64> {
    let sql = "UPDATE accounts SET sip_epoch = sip_epoch + 1 WHERE id = $1";
    execute(&mut *c, sql, params![account_id]).await?;
    let sql = "DELETE FROM endpoint_sessions WHERE account_id = $1";
    execute(&mut *c, sql, params![account_id]).await?;
    execute(
        c,
        "DELETE FROM bindings WHERE account_id = $1",
        params![account_id],
    )
    .await
}

/// Take the enterprise's row lock first, so concurrent changes of one enterprise's accounts
/// (quota checks, extension clashes) queue up instead of racing. On SQLite it also takes
/// the write lock at the start of the transaction.
pub async fn lock_enterprise(c: &mut Conn, enterprise_id: i64) -> sqlx::Result<()> {
    let sql = "UPDATE enterprises SET purge_warned = purge_warned WHERE id = $1";
    run(c, sql, params![enterprise_id]).await
}

// ---- throttles ----

/// Count one event in a fixed window and return the count in the current window.
pub async fn hit(c: &mut Conn, key: &str, window: Millis, now: Millis) -> sqlx::Result<i64> {
    let start = now - now.rem_euclid(window);
    let sql = "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
           count = CASE WHEN rate_limits.window_start = $2 THEN rate_limits.count + 1 ELSE 1 END, \
           window_start = $2 \
         RETURNING count";
    scalar(c, sql, params![key, start]).await
}

/// The count in the current window without counting.
pub async fn hits(c: &mut Conn, key: &str, window: Millis, now: Millis) -> sqlx::Result<i64> {
    let start = now - now.rem_euclid(window);
    let n: Option<i64> = maybe_scalar(
        c,
        "SELECT count FROM rate_limits WHERE key = $1 AND window_start = $2",
        params![key, start],
    )
    .await?;
    Ok(n.unwrap_or(0))
}

// ---- idempotent batch requests ----

/// The stored (request hash, answer) of a batch applied with this key, if any.
pub async fn batch_request(
    c: &mut Conn,
    enterprise_id: i64,
    key: &str,
) -> sqlx::Result<Option<(String, String)>> {
    let sql = "SELECT request_hash, response FROM batch_requests \
         WHERE enterprise_id = $1 AND idem_key = $2";
    maybe_row(c, sql, params![enterprise_id, key]).await
}

pub async fn save_batch_request(
    c: &mut Conn,
    enterprise_id: i64,
    key: &str,
    hash: &str,
    response: &str,
    now: Millis,
) -> sqlx::Result<()> {
    let sql =
        "INSERT INTO batch_requests (enterprise_id, idem_key, request_hash, response, created_at) \
         VALUES ($1, $2, $3, $4, $5)";
    run(c, sql, params![enterprise_id, key, hash, response, now]).await
}

/// Forget the answers of batches applied before `before`.
pub async fn purge_batch_requests(c: &mut Conn, before: Millis) -> sqlx::Result<u64> {
    delete_before(c, "batch_requests", "created_at", before).await
}
