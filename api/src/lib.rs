//! vcms-api: the HTTP API as its callers and the server share it. The crate root holds the
//! wire types (requests, responses, error bodies); [`client`] is the HTTP client the console,
//! `vcms-endpoint` and the tests use; [`pow`] is the captcha's proof of work (clients solve,
//! the server verifies).
//!
//! Every closed set (role, status, state, kind, error code) is an enum that serialises to
//! the same snake_case string as the API has always sent; `as_str()` gives that string and
//! `str::parse` reads it back (an unknown value is an [`UnknownValue`] error).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub mod client;
pub mod license_number;
pub mod pow;

/// A string that is not one of a closed set's values (e.g. read back from the database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    /// The set, e.g. `Role`.
    pub set: &'static str,
    pub value: String,
}

impl std::fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown {} value {:?}", self.set, self.value)
    }
}

impl std::error::Error for UnknownValue {}

/// Every closed set's schema name and its values' doc comments: the OpenAPI document lists
/// them in each schema's description (utoipa keeps no description per value of a string enum).
pub const VALUE_DOCS: &[(&str, &[(&str, &str)])] = &[
    ErrorCode::DOCS,
    Role::DOCS,
    AdminStatus::DOCS,
    EnterpriseStatus::DOCS,
    QuotaBasis::DOCS,
    LicenseStatus::DOCS,
    AccountStatus::DOCS,
    PincodeState::DOCS,
    Transport::DOCS,
    RowAction::DOCS,
    EmailKind::DOCS,
    EventKind::DOCS,
    DirectoryChangeKind::DOCS,
    DatabaseBackend::DOCS,
    HealthStatus::DOCS,
];

/// A closed set of wire strings: the enum, `as_str`, `Display` and `FromStr`, and its values'
/// doc comments for the OpenAPI document ([`VALUE_DOCS`]).
macro_rules! wire_enum {
    // `tt` fragments, not `literal` and `meta`: they reach the derives as plain tokens, which
    // utoipa needs to read the renames and doc comments (it skips captured fragments).
    (
        $(#[$($meta:tt)*])*
        pub enum $name:ident {
            $(
                $(#[doc = $vdoc:tt])*
                $(#[serde($($vserde:tt)*)])*
                $variant:ident = $wire:tt,
            )+
        }
    ) => {
        $(#[$($meta)*])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        pub enum $name {
            $(
                $(#[doc = $vdoc])*
                $(#[serde($($vserde)*)])*
                #[serde(rename = $wire)]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in the order of the declaration.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Each wire value with its doc comment (lines joined by `\n`; empty when none).
            pub const DOCS: (&'static str, &'static [(&'static str, &'static str)]) = (
                stringify!($name),
                &[$(($wire, concat!($($vdoc, "\n",)* ""))),+],
            );
            /// The wire string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                use serde::de::{value::{Error, StrDeserializer}, IntoDeserializer};
                let de: StrDeserializer<'_, Error> = s.into_deserializer();
                $name::deserialize(de).map_err(|_| UnknownValue {
                    set: stringify!($name),
                    value: s.to_string(),
                })
            }
        }
    };
}

wire_enum! {
    /// A stable machine code of an error (`ErrorBody.code`): one closed set, one spelling each.
    pub enum ErrorCode {
        /// A value broke an input rule (`field` names it).
        InvalidInput = "invalid_input",
        /// The request body, query string or path is not valid.
        BadRequest = "bad_request",
        /// No such object in the caller's enterprise.
        NotFound = "not_found",
        /// Conflicts with what exists (`field` names the value).
        Conflict = "conflict",
        /// Something broke inside the server (the detail is in its log).
        Internal = "internal",
        /// The database is busy: try again in a moment.
        Busy = "busy",
        /// The database does not answer.
        DatabaseDown = "database_down",
        /// The request body (or its headers) is larger than the server accepts.
        TooLarge = "too_large",
        /// The request line is longer than the server accepts.
        UriTooLong = "uri_too_long",
        /// Not signed in: no session token or API key, or an unknown one.
        Unauthenticated = "unauthenticated",
        /// The session has ended (signed out, timed out, password changed, disabled…).
        SessionEnded = "session_ended",
        /// The API key was revoked.
        KeyRevoked = "key_revoked",
        /// The caller's role may not do this.
        Forbidden = "forbidden",
        /// An API key asked for something only a person may do.
        NotForApiKeys = "not_for_api_keys",
        /// Wrong email and password (admin sign-in) or wrong cloud number and password
        /// (endpoint sign-in). Endpoint sign-in answered `credentials_invalid` before; that
        /// spelling is still read as this code.
        #[serde(alias = "credentials_invalid")]
        InvalidCredentials = "invalid_credentials",
        /// Sign-in is frozen for a while after wrong passwords (`retry_after_secs`).
        Frozen = "frozen",
        /// Sign-in is locked until the password is reset.
        Locked = "locked",
        /// Too many tries: wait `retry_after_secs`.
        Throttled = "throttled",
        /// The enterprise is not activated yet.
        NotActivated = "not_activated",
        /// The administrator is disabled.
        Disabled = "disabled",
        /// The sign-in needs a second factor: finish it with `mfa_token` and the emailed code.
        MfaRequired = "mfa_required",
        /// The MFA sign-in attempt is unknown.
        MfaInvalid = "mfa_invalid",
        /// The MFA sign-in attempt has expired.
        MfaExpired = "mfa_expired",
        /// The MFA sign-in attempt was already used.
        MfaUsed = "mfa_used",
        /// The MFA code is wrong.
        MfaWrong = "mfa_wrong",
        /// Too many wrong MFA codes: the attempt is locked.
        MfaLocked = "mfa_locked",
        /// This request needs a captcha answer (`captcha_required`).
        CaptchaRequired = "captcha_required",
        /// The captcha has expired: get a new one.
        CaptchaExpired = "captcha_expired",
        /// The captcha's proof of work is missing or wrong.
        CaptchaUnsolved = "captcha_unsolved",
        /// The captcha answer is wrong.
        CaptchaWrong = "captcha_wrong",
        /// The emailed token (activation, reset, invitation) is unknown.
        TokenInvalid = "token_invalid",
        /// The emailed token has expired.
        TokenExpired = "token_expired",
        /// The emailed token was already used.
        TokenUsed = "token_used",
        /// The enterprise is already activated: sign in.
        AlreadyActive = "already_active",
        /// Neither the trial nor a license is in force: accounts cannot be added.
        LicenseExpired = "license_expired",
        /// Neither the trial nor a license is in force: endpoints cannot sign in.
        LicenseInvalid = "license_invalid",
        /// The license number was revoked.
        LicenseRevoked = "license_revoked",
        /// No such license number.
        LicenseUnknown = "license_unknown",
        /// The accounts would exceed the quota (`can_add`).
        QuotaFull = "quota_full",
        /// The pincode is wrong, used or expired (endpoint sign-in).
        PincodeInvalid = "pincode_invalid",
        /// The built-in device is not provisioned, or its secret is wrong (endpoint sign-in).
        BuiltinUnknown = "builtin_unknown",
        /// The endpoint session is unknown or has ended.
        EndpointSession = "endpoint_session",
        /// The device serial number is not valid (`field` is `serial`).
        Serial = "serial",
        /// Endpoint sign-in: `device.instance` is not a UUID.
        DeviceInstance = "device.instance",
        /// Endpoint sign-in: `device.model` is too long or has control characters.
        DeviceModel = "device.model",
        /// Endpoint sign-in: `device.version` is too long or has control characters.
        DeviceVersion = "device.version",
        /// A code this client does not know (a newer server), or an error answer that was not
        /// the JSON error body. Never sent by the server.
        #[serde(other)]
        Unknown = "unknown",
    }
}

wire_enum! {
    /// An administrator's role (DOMAIN.md "Colleagues and permissions").
    pub enum Role {
        /// The enterprise's owner: everything.
        Owner = "owner",
        /// Accounts, emails and the audit log; colleagues with `manage_admins`.
        Admin = "admin",
        /// Views accounts, resets their secrets and sends their emails.
        Helpdesk = "helpdesk",
    }
}

impl Default for Role {
    /// The least-privileged role.
    fn default() -> Self {
        Self::Helpdesk
    }
}

wire_enum! {
    /// An administrator's (colleague's) status.
    pub enum AdminStatus {
        /// Invited; has not accepted the invitation yet.
        Invited = "invited",
        /// Can sign in.
        Active = "active",
        /// Disabled by the owner or a manager: cannot sign in.
        Disabled = "disabled",
    }
}

wire_enum! {
    /// An enterprise's status.
    pub enum EnterpriseStatus {
        /// Registered, not activated yet.
        Pending = "pending",
        /// Activated by its owner.
        Active = "active",
    }
}

wire_enum! {
    /// What the enterprise's account quota rests on.
    pub enum QuotaBasis {
        /// The trial (no license bound yet).
        Trial = "trial",
        /// At least one license in force.
        Licensed = "licensed",
        /// Neither the trial nor a license is in force.
        Expired = "expired",
    }
}

wire_enum! {
    /// A license's status.
    pub enum LicenseStatus {
        /// Issued by the distributor, not bound to an enterprise yet (operator listing only).
        Issued = "issued",
        /// Bound to an enterprise and in force (or not started yet).
        Activated = "activated",
        /// Its service life has ended.
        Expired = "expired",
        /// Revoked by the vendor.
        Revoked = "revoked",
    }
}

wire_enum! {
    /// A cloud account's registration status.
    pub enum AccountStatus {
        /// At least one endpoint of the account is registered.
        Registered = "registered",
        /// No endpoint of the account is registered.
        Unregistered = "unregistered",
    }
}

wire_enum! {
    /// The state of an account's pincode.
    pub enum PincodeState {
        /// Can be used to sign in once.
        Valid = "valid",
        /// Was used to sign in.
        Used = "used",
        /// Has expired unused.
        Expired = "expired",
    }
}

wire_enum! {
    /// A SIP transport.
    pub enum Transport {
        Udp = "udp",
        Tcp = "tcp",
        Tls = "tls",
    }
}

wire_enum! {
    /// What a row of a batch does.
    pub enum RowAction {
        /// A new account.
        Create = "create",
        /// An existing extension: its name or email changes.
        Update = "update",
        /// An existing extension, nothing changes.
        Unchanged = "unchanged",
        /// The row is not valid (see `errors`).
        Error = "error",
    }
}

wire_enum! {
    /// The kind of an email the server sends.
    pub enum EmailKind {
        /// An account's information (cloud number, password, pincode).
        AccountInfo = "account_info",
        /// The enterprise activation link.
        Activation = "activation",
        /// A colleague's invitation.
        Invitation = "invitation",
        /// A license runs out soon.
        LicenseExpiry = "license_expiry",
        /// An MFA sign-in code.
        MfaCode = "mfa_code",
        /// MFA codes keep failing on the administrator's sign-in.
        MfaFailing = "mfa_failing",
        /// A password reset link.
        PasswordReset = "password_reset",
        /// Someone tried to register an email that is already registered.
        RegisterAttempt = "register_attempt",
        /// A test email from `vcms-server`.
        Test = "test",
        /// The trial ended and its accounts will be purged.
        TrialPurge = "trial_purge",
    }
}

wire_enum! {
    /// The kind of a change streamed to consoles (`GET /api/v1/events`).
    pub enum EventKind {
        AccountAdded = "account_added",
        AccountChanged = "account_changed",
        AccountRemoved = "account_removed",
        /// Many accounts changed: reload the list.
        AccountsImported = "accounts_imported",
        /// An endpoint registered or unregistered.
        BindingChanged = "binding_changed",
        /// An email failed for good.
        EmailFailed = "email_failed",
    }
}

wire_enum! {
    /// The kind of a change of the endpoints' directory.
    pub enum DirectoryChangeKind {
        Added = "added",
        Changed = "changed",
        Removed = "removed",
        /// An entry's `registered` changed.
        Registration = "registration",
        /// Many changed: fetch the directory.
        Reload = "reload",
    }
}

wire_enum! {
    /// The database behind the server.
    pub enum DatabaseBackend {
        Sqlite = "sqlite",
        Postgres = "postgres",
    }
}

wire_enum! {
    /// The server's health (`GET /healthz`; a broken database answers 503 instead).
    pub enum HealthStatus {
        Ok = "ok",
    }
}

/// Every error: a stable code, a sentence for people, and the field it concerns.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable machine code, e.g. `invalid_input`, `frozen`, `quota_full`.
    pub code: ErrorCode,
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
    /// For `mfa_required`: the sign-in attempt to finish with `POST /api/v1/login/mfa` and
    /// the 6-digit code sent by email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: HealthStatus,
    pub database: DatabaseBackend,
    pub version: String,
}

/// A captcha challenge: text art a terminal can show, answered once before it expires.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Captcha {
    pub id: String,
    /// The characters to type, drawn as text art (5 lines).
    pub art: String,
    pub expires_in_secs: i64,
    /// Proof of work: find a decimal nonce such that SHA-256("{id}:{nonce}") starts with this
    /// many zero bits, and send it as `captcha_pow` with the answer (0: not needed).
    #[serde(default)]
    pub pow_bits: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CaptchaAnswer {
    pub captcha_id: String,
    pub captcha_answer: String,
    #[serde(default)]
    pub captcha_pow: String,
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
    /// The captcha's proof of work (see [`Captcha::pow_bits`]).
    #[serde(default)]
    pub captcha_pow: String,
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
    /// The captcha's proof of work (see [`Captcha::pow_bits`]).
    #[serde(default)]
    pub captcha_pow: String,
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
    /// The captcha's proof of work (see [`Captcha::pow_bits`]).
    #[serde(default)]
    pub captcha_pow: Option<String>,
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
    pub role: Role,
    pub language: String,
    /// Set when the request came with an API key: the key is the principal (it is never its
    /// creator); `name`, `role` above are the key's, `username` and `email` are empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<KeyIdentity>,
    /// What the caller may do, computed by the server from the role and its flags (the
    /// same rules that refuse a request with 403): clients show or hide commands from this
    /// alone.
    #[serde(default)]
    pub permissions: Permissions,
}

/// What the caller of `GET /api/v1/me` (a session or an API key) may do.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Permissions {
    /// List and read accounts.
    pub view_accounts: bool,
    /// Reset an account's password or pincode.
    pub reset_secrets: bool,
    /// Send account emails.
    pub send_emails: bool,
    /// Add, edit, import and remove accounts.
    pub manage_accounts: bool,
    /// The failed email list: resend and delete.
    pub failed_emails: bool,
    /// Invite, change, disable and remove colleagues.
    pub manage_colleagues: bool,
    /// Read the audit log.
    pub view_audit: bool,
    /// Read the licenses.
    pub view_licenses: bool,
    /// Bind licenses.
    pub add_licenses: bool,
    /// Create and revoke API keys.
    pub manage_api_keys: bool,
    /// Password, profile, security and sign-out: a person's, never an API key's.
    pub personal: bool,
}

/// The API key behind a request (`GET /api/v1/me` with a key).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct KeyIdentity {
    pub id: i64,
    pub name: String,
    /// Exactly the role the key was created with.
    pub role: Role,
    /// "Manage administrators": only when the key was created with it (admin keys).
    pub manage_admins: bool,
    /// The first characters of the key.
    pub prefix: String,
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
    pub basis: QuotaBasis,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Enterprise {
    pub number: String,
    pub company: String,
    pub country: String,
    pub status: EnterpriseStatus,
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
    pub status: LicenseStatus,
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

// ---------------- cloud accounts ----------------

/// Sort keys of the account list.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AccountSort {
    #[default]
    Extension,
    Name,
    CloudNumber,
    Email,
}

/// Query of `GET /api/v1/accounts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountQuery {
    /// 1-based page number (default 1).
    #[serde(default)]
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Rows per page, 1 to 100 (default 10).
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
    /// Any part of the name, cloud number, extension or email, case-insensitive.
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    pub sort: Option<AccountSort>,
    /// Sort descending.
    #[serde(default)]
    pub desc: Option<bool>,
}

/// A row of the account table.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AccountRow {
    pub id: i64,
    pub name: String,
    pub extension: String,
    pub cloud_number: String,
    pub email: Option<String>,
    pub status: AccountStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountPage {
    pub items: Vec<AccountRow>,
    /// "All records: N" (matching the search).
    pub total: i64,
    pub page: i64,
    pub page_size: i64,
    pub pages: i64,
    pub quota: Quota,
}

/// An endpoint signed in with the account (filled once endpoints register).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Binding {
    pub device_model: String,
    pub device_version: String,
    pub transport: Transport,
    pub nat: bool,
    pub address: String,
    pub registered_at: String,
    pub expires_at: String,
    /// e.g. "Registered(TLS-NAT)"
    pub state: String,
}

/// Everything the details pane shows.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AccountDetails {
    pub id: i64,
    pub name: String,
    pub extension: String,
    pub cloud_number: String,
    pub email: Option<String>,
    pub password: String,
    /// None once used.
    pub pincode: Option<String>,
    pub pincode_expires_at: Option<String>,
    pub pincode_state: PincodeState,
    pub status: AccountStatus,
    /// "In a call" | "Registered successfully" | "Unregistered"
    pub status_text: String,
    /// An endpoint of the account is in an answered call now.
    #[serde(default)]
    pub in_call: bool,
    pub bindings: Vec<Binding>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct NewAccount {
    pub name: String,
    pub extension: String,
    #[serde(default)]
    pub email: Option<String>,
    /// "Save & Send Email": queue the account-information email in the same call.
    #[serde(default)]
    pub send_email: bool,
}

/// Fields to change; an empty email removes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct AccountUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub extension: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct IdList {
    pub ids: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RemoveResult {
    pub removed: i64,
    pub message: String,
}

/// Whom to send the account-information email: `ids`, or `all` accounts matching `search`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct SendEmailRequest {
    #[serde(default)]
    pub ids: Vec<i64>,
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub search: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AccountRef {
    pub id: i64,
    pub name: String,
    pub extension: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SendEmailResult {
    pub queued: i64,
    /// Accounts that have no email address: nothing was sent to them.
    pub without_email: Vec<AccountRef>,
    pub message: String,
}

/// One row of a batch (bulk add / batch edit): an existing extension updates name and email.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct BatchRow {
    pub name: String,
    pub extension: String,
    #[serde(default)]
    pub email: Option<String>,
    /// The row's number in the client's spreadsheet, used in the answer (default: its
    /// 1-based position in `rows`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct BatchRequest {
    pub rows: Vec<BatchRow>,
    /// Only check and report what would change.
    #[serde(default)]
    pub dry_run: bool,
    /// Queue the account-information email to the new accounts that have an email.
    #[serde(default)]
    pub send_email: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct RowError {
    /// The row's `row` (its spreadsheet row number), else its 1-based position in `rows`;
    /// 0 for a problem of the whole file (quota, license).
    pub row: i64,
    /// The template's column: Name, Extension or Email (Rows for the whole file).
    pub column: String,
    pub reason: String,
}

/// What a row does: create | update | unchanged | error.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct RowPlan {
    pub row: i64,
    pub action: RowAction,
    /// The row's extension as sent.
    #[serde(default)]
    pub extension: String,
    /// For updates: the fields that change, e.g. ["email"].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    /// For updates: each change, old → new.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<FieldChange>,
}

/// One field of an update: its value now and after the import (None: empty).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct FieldChange {
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchResult {
    pub applied: bool,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub errors: Vec<RowError>,
    pub plan: Vec<RowPlan>,
    /// "Import N account(s) successfully", or why nothing was imported.
    pub message: String,
    pub quota: Quota,
    pub emails_queued: i64,
    /// True when this is the stored answer of an earlier request with the same
    /// Idempotency-Key: nothing was applied again.
    #[serde(default)]
    pub replayed: bool,
}

/// A failed email (Account → Failed Email List).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct FailedEmail {
    pub id: i64,
    pub recipient: String,
    /// The account's name and extension when the email was about an account.
    pub account: Option<String>,
    pub kind: EmailKind,
    pub reason: String,
    pub failed_at: String,
    pub attempts: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FailedEmailList {
    pub items: Vec<FailedEmail>,
    pub total: i64,
    /// What stops the server from sending any email (its mail settings, or the SMTP server's
    /// set-up: certificate not trusted, sign-in refused…). Emails wait queued, not failed,
    /// until it is fixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport_problem: Option<String>,
    /// Emails of this enterprise still queued (waiting to be sent, or for a retry).
    #[serde(default)]
    pub waiting: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CountResult {
    pub count: i64,
    pub message: String,
}

// ---------------- endpoints ----------------

/// The device signing in.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Device {
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub version: String,
    /// A stable id of this installation (UUID).
    #[serde(default)]
    pub instance: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct BuiltinCredentials {
    pub serial: String,
    pub secret: String,
}

/// `POST /endpoint/v1/login`: one of `pincode`, `cloud_number` + `password`, or `builtin`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct EndpointLoginRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pincode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<BuiltinCredentials>,
    #[serde(default)]
    pub device: Device,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct EndpointLoginResponse {
    pub cloud_number: String,
    pub display_name: String,
    pub extension: String,
    pub enterprise_number: String,
    /// Bearer token of this endpoint's session: `POST /endpoint/v1/logout` ends it.
    pub token: String,
    pub sip: SipSettings,
}

/// How an endpoint registers over SIP.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct SipSettings {
    /// SIP domain, also the digest realm; the AOR is `sip:<username>@<domain>`.
    pub domain: String,
    /// Digest username: the cloud number.
    pub username: String,
    /// The account password, the digest secret.
    pub password: String,
    /// Digest material for devices that prefer not to keep the password:
    /// H(username:realm:password) with MD5 and SHA-256.
    pub ha1_md5: String,
    pub ha1_sha256: String,
    /// The instance to put in `+sip.instance="<urn:uuid:…>"`, so that the device keeps one
    /// binding however its address changes.
    pub instance: String,
    /// Registration lifetime to ask for, in seconds.
    pub expires: u32,
    /// Where to register, in order of preference (empty when SIP is not served).
    pub servers: Vec<SipServer>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct SipServer {
    pub transport: Transport,
    pub host: String,
    pub port: u16,
}

/// One person of the enterprise directory that endpoints see.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct DirectoryEntry {
    pub account_id: i64,
    pub name: String,
    pub extension: String,
    pub cloud_number: String,
    /// At least one endpoint of the account is registered.
    pub registered: bool,
}

/// `GET /endpoint/v1/directory`: the whole directory; `version` is also the ETag.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Directory {
    pub version: String,
    pub entries: Vec<DirectoryEntry>,
}

/// A change of the directory (`event: change` on `GET /endpoint/v1/directory/events`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct DirectoryChange {
    /// The event id (also the SSE id, for resuming with Last-Event-ID).
    pub id: i64,
    pub kind: DirectoryChangeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<i64>,
    /// The entry as it is now (absent for removed and reload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<DirectoryEntry>,
    pub version: String,
}

/// `POST /endpoint/v1/logout`: the session token (or send it as a Bearer token).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct EndpointLogoutRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// A provisioned device (built-in cloud number). The secret is shown once, at provisioning.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ProvisionedDevice {
    pub serial: String,
    pub account_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ProvisionDeviceRequest {
    /// The device's serial number as printed on it (letters, digits, - and _; up to 64).
    pub serial: String,
}

// ---------------- events ----------------

/// A change, streamed by `GET /api/v1/events` (server-sent events, `event: change`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ChangeEvent {
    pub id: i64,
    pub kind: EventKind,
    pub account_id: Option<i64>,
    pub at: String,
}

/// `GET /api/v1/events` asked for JSON rather than a stream: the changes after `after` (at
/// most 200) and the id to ask after next.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ChangePage {
    pub changes: Vec<ChangeEvent>,
    /// Send as `after` on the next poll.
    pub last_id: i64,
}

/// `GET /endpoint/v1/directory/events` asked for JSON rather than a stream: the directory
/// changes after `after` (at most 200) and the id to ask after next.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct DirectoryChangePage {
    pub changes: Vec<DirectoryChange>,
    /// Send as `after` on the next poll.
    pub last_id: i64,
}

// ---------------- colleagues, MFA, API keys, audit ----------------

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Colleague {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub manage_admins: bool,
    pub status: AdminStatus,
    pub mfa_enabled: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ColleagueList {
    pub items: Vec<Colleague>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct InviteRequest {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// admin or helpdesk (an invitation cannot make an owner).
    pub role: Role,
    #[serde(default)]
    pub manage_admins: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RoleUpdate {
    /// admin or helpdesk.
    pub role: Role,
    #[serde(default)]
    pub manage_admins: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct AcceptInvitation {
    pub token: String,
    pub password: String,
    pub confirm_password: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct MfaVerify {
    pub mfa_token: String,
    pub code: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct MfaResend {
    pub mfa_token: String,
}

/// Change the login email, the backup email or MFA: the current password is asked again.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct SecurityUpdate {
    pub current_password: String,
    #[serde(default)]
    pub email: Option<String>,
    /// "" removes it.
    #[serde(default)]
    pub backup_email: Option<String>,
    #[serde(default)]
    pub mfa_enabled: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Security {
    pub email: String,
    pub backup_email: Option<String>,
    pub mfa_enabled: bool,
    /// The owner requires MFA of every administrator.
    pub mfa_required: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct EnterpriseSettings {
    pub mfa_required: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct NewApiKey {
    pub name: String,
    pub role: Role,
    /// "Manage administrators" for an admin key (off unless asked for).
    #[serde(default)]
    pub manage_admins: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyCreated {
    pub id: i64,
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub manage_admins: bool,
    /// Shown once: use it as `Authorization: Bearer <key>` or `VCMS_API_KEY`.
    pub key: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub manage_admins: bool,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKey>,
}

/// A public key to add to the signed-in administrator's profile, for the console over SSH.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct NewSshKey {
    /// One line as in `~/.ssh/id_ed25519.pub`: `ssh-ed25519 AAAA… comment` (Ed25519, ECDSA,
    /// or RSA of 2048 bits or more).
    pub public_key: String,
    /// What the key is called in the list (default: the key's comment).
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct SshKey {
    pub id: i64,
    pub name: String,
    /// ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa…
    pub algorithm: String,
    /// `SHA256:…`, as `ssh-keygen -lf` prints it.
    pub fingerprint: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SshKeyList {
    pub items: Vec<SshKey>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    pub page: Option<i64>,
    /// Rows per page, 1 to 500 (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    pub page_size: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: String,
    /// The administrator's email, or "api key NAME".
    pub who: String,
    /// e.g. signin.ok, signin.failed, account.add, account.reveal_password, colleague.invite
    pub action: String,
    pub target: String,
    pub detail: String,
    /// The client's address.
    pub from: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub total: i64,
    pub page: i64,
    pub page_size: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str`, serde and `FromStr` agree on every value of every closed set.
    fn round_trip<T>(all: &[T])
    where
        T: Copy + PartialEq + std::fmt::Debug + Serialize + std::str::FromStr + std::fmt::Display,
        T: for<'de> Deserialize<'de>,
        <T as std::str::FromStr>::Err: std::fmt::Debug,
    {
        for v in all {
            let json = serde_json::to_value(v).unwrap();
            assert_eq!(json, serde_json::Value::String(v.to_string()), "{v:?}");
            assert_eq!(serde_json::from_value::<T>(json).unwrap(), *v);
            assert_eq!(v.to_string().parse::<T>().unwrap(), *v);
        }
    }

    #[test]
    fn closed_sets_round_trip() {
        round_trip(ErrorCode::ALL);
        round_trip(Role::ALL);
        round_trip(AdminStatus::ALL);
        round_trip(EnterpriseStatus::ALL);
        round_trip(QuotaBasis::ALL);
        round_trip(LicenseStatus::ALL);
        round_trip(AccountStatus::ALL);
        round_trip(PincodeState::ALL);
        round_trip(Transport::ALL);
        round_trip(RowAction::ALL);
        round_trip(EmailKind::ALL);
        round_trip(EventKind::ALL);
        round_trip(DirectoryChangeKind::ALL);
        round_trip(DatabaseBackend::ALL);
        round_trip(HealthStatus::ALL);
        assert_eq!(VALUE_DOCS.len(), 15);
    }

    #[test]
    fn unknown_values() {
        let e = "superuser".parse::<Role>().unwrap_err();
        assert_eq!(e.to_string(), "unknown Role value \"superuser\"");
        assert_eq!(
            "credentials_invalid".parse::<ErrorCode>().unwrap(),
            ErrorCode::InvalidCredentials
        );
        assert_eq!(
            "from_a_newer_server".parse::<ErrorCode>().unwrap(),
            ErrorCode::Unknown
        );
        assert_eq!(format!("{:<8}|", Role::Admin), "admin   |");
    }
}
