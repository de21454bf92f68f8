//! Cloud accounts.

use super::Conn;

pub async fn count(c: &mut Conn, enterprise_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE enterprise_id = $1")
        .bind(enterprise_id)
        .fetch_one(c)
        .await
}
