//! Wire types of the HTTP API, shared by the server, the console and the tests.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every error: a stable code, a sentence for people, and the field it concerns.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable machine code, e.g. `invalid_input`, `frozen`, `quota_full`.
    pub code: String,
    /// What went wrong and what to do, in a sentence.
    pub message: String,
    /// The request field the error is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `frozen` and throttling errors: seconds until a new try is allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<i64>,
    /// For quota errors: how many accounts can still be added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_add: Option<i64>,
    /// The next sign-in attempt for this email must carry a captcha answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha_required: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub database: String,
    pub version: String,
}

/// A captcha challenge: text art a terminal can show, answered once before it expires.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Captcha {
    pub id: String,
    /// The characters to type, drawn as text art (5 lines).
    pub art: String,
    pub expires_in_secs: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CaptchaAnswer {
    pub captcha_id: String,
    pub captcha_answer: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RegisterRequest {
    pub full_name: String,
    pub company: String,
    pub country: String,
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub captcha_id: String,
    #[serde(default)]
    pub captcha_answer: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegisterResponse {
    pub enterprise_number: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenRequest {
    pub token: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct EmailRequest {
    pub email: String,
    #[serde(default)]
    pub captcha_id: String,
    #[serde(default)]
    pub captcha_answer: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub captcha_id: Option<String>,
    #[serde(default)]
    pub captcha_answer: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for `Authorization: Bearer …`. Ends after 30 idle minutes.
    pub token: String,
    pub idle_timeout_secs: i64,
    pub profile: Profile,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    pub token: String,
    pub new_password: String,
    pub confirm_password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub old_password: String,
    pub new_password: String,
    pub confirm_password: String,
}

/// Personal information (the console's System → Personal information).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Profile {
    /// The login email; read-only.
    pub username: String,
    pub name: String,
    pub company: String,
    /// Read-only.
    pub enterprise_number: String,
    pub country: String,
    pub email: String,
    pub role: String,
    pub language: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ProfileUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
}

/// Accounts used and allowed: "Account (13/20)", "7 can be added".
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Quota {
    pub used: i64,
    pub quota: i64,
    pub can_add: i64,
    /// True while the trial or at least one license is in force.
    pub in_force: bool,
    /// trial | licensed | expired
    pub basis: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Enterprise {
    pub number: String,
    pub company: String,
    pub country: String,
    /// pending | active
    pub status: String,
    pub trial_ends_at: Option<String>,
    pub trial_days_left: i64,
    pub quota: Quota,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddLicenseRequest {
    pub license_number: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct License {
    pub number: String,
    /// activated | expired | revoked
    pub status: String,
    /// Service life in years.
    pub years: i64,
    pub quantity: i64,
    pub start: Option<String>,
    pub end: Option<String>,
    pub days_left: i64,
    /// "Only N days left, contact your reseller to renew" when 30 days or fewer remain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LicenseList {
    pub licenses: Vec<License>,
    pub quota: Quota,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddLicenseResponse {
    pub message: String,
    pub license: License,
    pub quota: Quota,
}
