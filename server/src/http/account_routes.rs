//! Cloud accounts (issue 3 fills this in).

use utoipa_axum::router::OpenApiRouter;

use crate::service::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
