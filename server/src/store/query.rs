//! How a store function runs its one query: `params!` gathers the values bound to `$1`, `$2`,
//! … in order, and one function a result shape (a row, maybe a row, rows, a scalar, maybe a
//! scalar, scalars, or the count of rows a statement changed) fetches it over a connection.
//! The store's modules say only their SQL and their parameters.

use super::Conn;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::FromRow;

/// The values bound to one query's `$1`, `$2`, …
pub(crate) type Params<'q> = AnyArguments<'q>;

/// The parameters of one query, `$1` first: `params![id, enterprise_id]`, and after a `;`
/// the values of a list, each in turn (`params![enterprise_id; ids]` for `… IN ($2, $3, …)`).
/// `params!(into p; a, b)` adds values to the parameters `p: &mut Params` (a statement of
/// many rows). A value the driver cannot encode returns `sqlx::Error::Encode` from the
/// enclosing function.
macro_rules! params {
    (into $args:expr; $($value:expr),* $(,)?) => {
        $( sqlx::Arguments::add(&mut *$args, $value).map_err(sqlx::Error::Encode)?; )*
    };
    ($($value:expr),* $(,)? $(; $list:expr)?) => {{
        #[allow(unused_mut)]
        let mut args = sqlx::any::AnyArguments::default();
        params!(into &mut args; $($value),*);
        $( for value in $list {
            params!(into &mut args; value);
        } )?
        args
    }};
}
pub(crate) use params;

/// `$first, $first+1, …`: the placeholders of `n` values in an `IN (…)` list.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    let all: Vec<String> = (first..first + n).map(|i| format!("${i}")).collect();
    all.join(", ")
}

/// A type a selected row maps to (a `sqlx::FromRow` struct or a tuple).
pub(crate) trait Row: for<'r> FromRow<'r, AnyRow> + Send + Unpin {}
impl<T> Row for T where T: for<'r> FromRow<'r, AnyRow> + Send + Unpin {}

/// The one row the query returns (an error when it returns none).
pub(crate) async fn row<R: Row>(c: &mut Conn, sql: &str, p: Params<'_>) -> sqlx::Result<R> {
    sqlx::query_as_with(sql, p).fetch_one(c).await
}

/// The first row the query returns, if any.
pub(crate) async fn maybe_row<R: Row>(
    c: &mut Conn,
    sql: &str,
    p: Params<'_>,
) -> sqlx::Result<Option<R>> {
    sqlx::query_as_with(sql, p).fetch_optional(c).await
}

/// Every row the query returns.
pub(crate) async fn rows<R: Row>(c: &mut Conn, sql: &str, p: Params<'_>) -> sqlx::Result<Vec<R>> {
    sqlx::query_as_with(sql, p).fetch_all(c).await
}

/// The first column of the one row the query returns.
pub(crate) async fn scalar<T>(c: &mut Conn, sql: &str, p: Params<'_>) -> sqlx::Result<T>
where
    T: Send + Unpin,
    (T,): for<'r> FromRow<'r, AnyRow>,
{
    sqlx::query_scalar_with(sql, p).fetch_one(c).await
}

/// The first column of the first row the query returns, if any.
pub(crate) async fn maybe_scalar<T>(
    c: &mut Conn,
    sql: &str,
    p: Params<'_>,
) -> sqlx::Result<Option<T>>
where
    T: Send + Unpin,
    (T,): for<'r> FromRow<'r, AnyRow>,
{
    sqlx::query_scalar_with(sql, p).fetch_optional(c).await
}

/// The first column of every row the query returns.
pub(crate) async fn scalars<T>(c: &mut Conn, sql: &str, p: Params<'_>) -> sqlx::Result<Vec<T>>
where
    T: Send + Unpin,
    (T,): for<'r> FromRow<'r, AnyRow>,
{
    sqlx::query_scalar_with(sql, p).fetch_all(c).await
}

/// Run a statement; returns how many rows it changed.
pub(crate) async fn execute(c: &mut Conn, sql: &str, p: Params<'_>) -> sqlx::Result<u64> {
    Ok(sqlx::query_with(sql, p).execute(c).await?.rows_affected())
}

/// Run a statement whose count of changed rows does not matter.
pub(crate) async fn run(c: &mut Conn, sql: &str, p: Params<'_>) -> sqlx::Result<()> {
    execute(c, sql, p).await.map(drop)
}

/// Delete the rows of `table` whose time `column` is before `t` (the clean-up of records
/// that expired or aged out); returns how many.
pub(crate) async fn delete_before(
    c: &mut Conn,
    table: &str,
    column: &str,
    t: crate::clock::Millis,
) -> sqlx::Result<u64> {
    let sql = format!("DELETE FROM {table} WHERE {column} < $1");
    execute(c, &sql, params![t]).await
}
