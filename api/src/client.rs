//! The HTTP client of the API, shared by the console, the scripting CLI and the tests.

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::*;

#[derive(Debug)]
pub enum ClientError {
    /// The server answered with an error body.
    Api { status: StatusCode, body: ErrorBody },
    /// The server could not be reached or answered something unreadable.
    Transport(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Api { body, .. } => match &body.field {
                Some(field) => write!(f, "{} ({field})", body.message),
                None => f.write_str(&body.message),
            },
            ClientError::Transport(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ClientError {}

impl ClientError {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            ClientError::Transport(_) => None,
        }
    }
    pub fn body(&self) -> Option<&ErrorBody> {
        match self {
            ClientError::Api { body, .. } => Some(body),
            ClientError::Transport(_) => None,
        }
    }
    /// The error's code; [`ErrorCode::Unknown`] when the server could not be reached or its
    /// answer was not an error body (or carried a code this client does not know).
    pub fn code(&self) -> ErrorCode {
        self.body().map_or(ErrorCode::Unknown, |b| b.code)
    }
    /// The code as a string for output: the wire code, or `transport` when the server could
    /// not be reached.
    pub fn code_str(&self) -> &'static str {
        match self {
            ClientError::Api { body, .. } => body.code.as_str(),
            ClientError::Transport(_) => "transport",
        }
    }
    pub fn field(&self) -> Option<&str> {
        self.body().and_then(|b| b.field.as_deref())
    }
}

pub type ClientResult<T> = Result<T, ClientError>;

/// Solve a captcha's proof of work on a blocking thread (about 0.2 s at the default
/// difficulty in a release build); the nonce goes in `captcha_pow`. Empty when none is asked.
pub async fn solve_captcha(c: &Captcha) -> String {
    if c.pow_bits == 0 {
        return String::new();
    }
    let (id, bits) = (c.id.clone(), c.pow_bits);
    tokio::task::spawn_blocking(move || crate::pow::solve(&id, bits))
        .await
        .unwrap_or_default()
}

#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    pub fn new(base: &str) -> Self {
        Self::with_headers(base, reqwest::header::HeaderMap::new())
    }

    /// A client that sends `headers` with every request (the server's SSH console sends
    /// the proof of the connection it serves).
    pub fn with_headers(base: &str, headers: reqwest::header::HeaderMap) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .default_headers(headers)
            .build()
            .unwrap_or_default();
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: None,
        }
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    pub fn set_token(&mut self, token: Option<String>) {
        self.token = token;
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Any request; a JSON body when `body` is given.
    pub async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> ClientResult<T> {
        self.send_with(method, path, body, &[]).await
    }

    /// Any request with extra headers.
    pub async fn send_with<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        headers: &[(&str, &str)],
    ) -> ClientResult<T> {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let resp = rb.send().await.map_err(|e| {
            ClientError::Transport(format!("cannot reach the server at {}: {e}", self.base))
        })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ClientError::Transport(format!("reading the answer: {e}")))?;
        if status.is_success() {
            serde_json::from_slice(&bytes).map_err(|e| {
                ClientError::Transport(format!("unexpected answer from the server: {e}"))
            })
        } else {
            let body = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| ErrorBody {
                code: ErrorCode::Unknown,
                message: format!(
                    "the server answered {status}: {}",
                    String::from_utf8_lossy(&bytes)
                ),
                field: None,
                retry_after_secs: None,
                can_add: None,
                captcha_required: None,
                mfa_token: None,
            });
            Err(ClientError::Api { status, body })
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> ClientResult<T> {
        self.send::<(), T>(Method::GET, path, None).await
    }
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> ClientResult<T> {
        self.send(Method::POST, path, Some(body)).await
    }
    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> ClientResult<T> {
        self.send(Method::PATCH, path, Some(body)).await
    }
    pub async fn delete<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> ClientResult<T> {
        self.send(Method::DELETE, path, Some(body)).await
    }

    // ---- typed calls ----

    pub async fn health(&self) -> ClientResult<Health> {
        self.get("/healthz").await
    }
    pub async fn captcha(&self) -> ClientResult<Captcha> {
        self.post("/api/v1/captcha", &serde_json::json!({})).await
    }
    pub async fn register(&self, req: &RegisterRequest) -> ClientResult<RegisterResponse> {
        self.post("/api/v1/register", req).await
    }
    pub async fn activate(&self, token: &str) -> ClientResult<Message> {
        self.post(
            "/api/v1/activate",
            &TokenRequest {
                token: token.into(),
            },
        )
        .await
    }
    pub async fn resend_activation(&self, req: &EmailRequest) -> ClientResult<Message> {
        self.post("/api/v1/activation/resend", req).await
    }
    /// Sign in; on success the client keeps the session token.
    pub async fn login(&mut self, req: &LoginRequest) -> ClientResult<LoginResponse> {
        let r: LoginResponse = self.post("/api/v1/login", req).await?;
        self.token = Some(r.token.clone());
        Ok(r)
    }
    pub async fn logout(&self) -> ClientResult<Message> {
        self.post("/api/v1/logout", &serde_json::json!({})).await
    }
    pub async fn forgot_password(&self, req: &EmailRequest) -> ClientResult<Message> {
        self.post("/api/v1/password/forgot", req).await
    }
    pub async fn reset_password(&self, req: &ResetPasswordRequest) -> ClientResult<Message> {
        self.post("/api/v1/password/reset", req).await
    }
    pub async fn change_password(&self, req: &ChangePasswordRequest) -> ClientResult<Message> {
        self.post("/api/v1/password/change", req).await
    }
    pub async fn profile(&self) -> ClientResult<Profile> {
        self.get("/api/v1/me").await
    }
    pub async fn update_profile(&self, req: &ProfileUpdate) -> ClientResult<Profile> {
        self.patch("/api/v1/me", req).await
    }
    pub async fn enterprise(&self) -> ClientResult<Enterprise> {
        self.get("/api/v1/enterprise").await
    }
    pub async fn licenses(&self) -> ClientResult<LicenseList> {
        self.get("/api/v1/licenses").await
    }
    pub async fn add_license(&self, number: &str) -> ClientResult<AddLicenseResponse> {
        self.post(
            "/api/v1/licenses",
            &AddLicenseRequest {
                license_number: number.into(),
            },
        )
        .await
    }
}

/// Cloud accounts and emails.
impl Client {
    pub async fn accounts(&self, q: &AccountQuery) -> ClientResult<AccountPage> {
        let mut params = vec![];
        if let Some(p) = q.page {
            params.push(format!("page={p}"));
        }
        if let Some(p) = q.page_size {
            params.push(format!("page_size={p}"));
        }
        if let Some(s) = &q.search {
            params.push(format!(
                "search={}",
                url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
            ));
        }
        if let Some(s) = q.sort {
            let s = serde_json::to_value(s)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            params.push(format!("sort={s}"));
        }
        if q.desc == Some(true) {
            params.push("desc=true".into());
        }
        let qs = if params.is_empty() {
            String::new()
        } else {
            format!("?{}", params.join("&"))
        };
        self.get(&format!("/api/v1/accounts{qs}")).await
    }
    pub async fn account(&self, id: i64) -> ClientResult<AccountDetails> {
        self.get(&format!("/api/v1/accounts/{id}")).await
    }
    pub async fn account_by_extension(&self, ext: &str) -> ClientResult<AccountDetails> {
        self.get(&format!("/api/v1/accounts/by-extension/{ext}"))
            .await
    }
    pub async fn add_account(&self, req: &NewAccount) -> ClientResult<AccountDetails> {
        self.post("/api/v1/accounts", req).await
    }
    pub async fn update_account(
        &self,
        id: i64,
        req: &AccountUpdate,
    ) -> ClientResult<AccountDetails> {
        self.patch(&format!("/api/v1/accounts/{id}"), req).await
    }
    pub async fn reset_account_password(&self, id: i64) -> ClientResult<AccountDetails> {
        self.post(
            &format!("/api/v1/accounts/{id}/reset-password"),
            &serde_json::json!({}),
        )
        .await
    }
    pub async fn reset_account_pincode(&self, id: i64) -> ClientResult<AccountDetails> {
        self.post(
            &format!("/api/v1/accounts/{id}/reset-pincode"),
            &serde_json::json!({}),
        )
        .await
    }
    pub async fn remove_accounts(&self, ids: &[i64]) -> ClientResult<RemoveResult> {
        self.post("/api/v1/accounts/remove", &IdList { ids: ids.to_vec() })
            .await
    }
    pub async fn send_account_emails(
        &self,
        req: &SendEmailRequest,
    ) -> ClientResult<SendEmailResult> {
        self.post("/api/v1/accounts/send-email", req).await
    }
    pub async fn batch_accounts(&self, req: &BatchRequest) -> ClientResult<BatchResult> {
        self.post("/api/v1/accounts/batch", req).await
    }
    /// The batch with an `Idempotency-Key`: a retry with the same key and rows returns the
    /// first answer instead of importing twice.
    pub async fn batch_accounts_once(
        &self,
        req: &BatchRequest,
        idempotency_key: &str,
    ) -> ClientResult<BatchResult> {
        self.send_with(
            Method::POST,
            "/api/v1/accounts/batch",
            Some(req),
            &[("Idempotency-Key", idempotency_key)],
        )
        .await
    }
    pub async fn failed_emails(&self) -> ClientResult<FailedEmailList> {
        self.get("/api/v1/emails/failed").await
    }
    pub async fn resend_failed_emails(&self, ids: &[i64]) -> ClientResult<CountResult> {
        self.post(
            "/api/v1/emails/failed/resend",
            &IdList { ids: ids.to_vec() },
        )
        .await
    }
    pub async fn delete_failed_emails(&self, ids: &[i64]) -> ClientResult<CountResult> {
        self.post(
            "/api/v1/emails/failed/delete",
            &IdList { ids: ids.to_vec() },
        )
        .await
    }
}

/// Endpoint API.
impl Client {
    pub async fn endpoint_login(
        &self,
        req: &EndpointLoginRequest,
    ) -> ClientResult<EndpointLoginResponse> {
        self.post("/endpoint/v1/login", req).await
    }

    pub async fn endpoint_logout(&self, token: &str) -> ClientResult<Message> {
        self.post(
            "/endpoint/v1/logout",
            &EndpointLogoutRequest {
                token: Some(token.to_string()),
            },
        )
        .await
    }

    pub async fn provision_device(
        &self,
        account_id: i64,
        serial: &str,
    ) -> ClientResult<ProvisionedDevice> {
        self.post(
            &format!("/api/v1/accounts/{account_id}/devices"),
            &ProvisionDeviceRequest {
                serial: serial.to_string(),
            },
        )
        .await
    }

    pub async fn devices(&self, account_id: i64) -> ClientResult<Vec<ProvisionedDevice>> {
        self.get(&format!("/api/v1/accounts/{account_id}/devices"))
            .await
    }

    pub async fn remove_device(&self, account_id: i64, serial: &str) -> ClientResult<Message> {
        self.send::<(), Message>(
            Method::DELETE,
            &format!("/api/v1/accounts/{account_id}/devices/{serial}"),
            None,
        )
        .await
    }
}

/// A live stream of [`ChangeEvent`]s (server-sent events).
#[derive(Debug)]
pub struct EventStream {
    resp: reqwest::Response,
    buf: Vec<u8>,
}

/// What the event stream delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    Change(ChangeEvent),
    SessionEnded(String),
}

impl EventStream {
    /// The next (event name, data) block; `None` when the server closed the stream.
    async fn next_block(&mut self) -> Option<ClientResult<(String, String)>> {
        loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buf.drain(..pos + 2).collect();
                let text = String::from_utf8_lossy(&block);
                let mut event = "message".to_string();
                let mut data = String::new();
                for line in text.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        if !data.is_empty() {
                            data.push('\n');
                        }
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if data.is_empty() && event == "message" {
                    continue;
                }
                return Some(Ok((event, data)));
            }
            match self.resp.chunk().await {
                Ok(Some(chunk)) => self.buf.extend_from_slice(&chunk),
                Ok(None) => return None,
                Err(e) => return Some(Err(ClientError::Transport(format!("event stream: {e}")))),
            }
        }
    }

    /// The next `change` (decoded with `change`) or `session_ended` (`ended`) event.
    async fn next_item<T: DeserializeOwned, U>(
        &mut self,
        change: impl Fn(T) -> U,
        ended: impl Fn(String) -> U,
    ) -> Option<ClientResult<U>> {
        loop {
            let (event, data) = match self.next_block().await? {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            };
            match event.as_str() {
                "change" => {
                    return Some(
                        serde_json::from_str(&data)
                            .map(&change)
                            .map_err(|e| ClientError::Transport(format!("bad event: {e}"))),
                    )
                }
                "session_ended" => return Some(Ok(ended(data))),
                _ => continue,
            }
        }
    }

    /// The next item; `None` when the server closed the stream.
    pub async fn next(&mut self) -> Option<ClientResult<StreamItem>> {
        self.next_item(StreamItem::Change, StreamItem::SessionEnded)
            .await
    }

    /// The next directory change (endpoint directory stream); `Ok(None)` when the session
    /// ended, `None` when the stream closed.
    pub async fn next_directory_change(&mut self) -> Option<ClientResult<Option<DirectoryChange>>> {
        self.next_item(Some, |_| None).await
    }
}

impl Client {
    /// Subscribe to the enterprise's live changes (after event `after`, or from now).
    pub async fn events(&self, after: Option<i64>) -> ClientResult<EventStream> {
        self.sse("/api/v1/events", after).await
    }

    /// The endpoint directory's live changes (with the endpoint sign-in token).
    pub async fn directory_events(&self, after: Option<i64>) -> ClientResult<EventStream> {
        self.sse("/endpoint/v1/directory/events", after).await
    }

    /// The enterprise directory (with the endpoint sign-in token).
    pub async fn directory(&self) -> ClientResult<Directory> {
        self.get("/endpoint/v1/directory").await
    }

    async fn sse(&self, path: &str, after: Option<i64>) -> ClientResult<EventStream> {
        let url = match after {
            Some(a) => format!("{}{path}?after={a}", self.base),
            None => format!("{}{path}", self.base),
        };
        // No overall timeout: the stream lives as long as the session.
        let http = reqwest::Client::new();
        let mut rb = http
            .get(url)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        let resp = rb.send().await.map_err(|e| {
            ClientError::Transport(format!("cannot reach the server at {}: {e}", self.base))
        })?;
        if !resp.status().is_success() {
            let status = resp.status();
            let bytes = resp.bytes().await.unwrap_or_default();
            let body = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| ErrorBody {
                code: ErrorCode::Unknown,
                message: format!("the server answered {status}"),
                field: None,
                retry_after_secs: None,
                can_add: None,
                captcha_required: None,
                mfa_token: None,
            });
            return Err(ClientError::Api { status, body });
        }
        Ok(EventStream {
            resp,
            buf: Vec::new(),
        })
    }
}

/// Colleagues, MFA, security settings, API keys, audit log.
impl Client {
    pub async fn colleagues(&self) -> ClientResult<ColleagueList> {
        self.get("/api/v1/colleagues").await
    }
    pub async fn invite(&self, req: &InviteRequest) -> ClientResult<Colleague> {
        self.post("/api/v1/colleagues", req).await
    }
    pub async fn set_colleague_role(&self, id: i64, req: &RoleUpdate) -> ClientResult<Colleague> {
        self.patch(&format!("/api/v1/colleagues/{id}"), req).await
    }
    pub async fn resend_invitation(&self, id: i64) -> ClientResult<Colleague> {
        self.post(
            &format!("/api/v1/colleagues/{id}/resend"),
            &serde_json::json!({}),
        )
        .await
    }
    pub async fn disable_colleague(&self, id: i64) -> ClientResult<Colleague> {
        self.post(
            &format!("/api/v1/colleagues/{id}/disable"),
            &serde_json::json!({}),
        )
        .await
    }
    pub async fn enable_colleague(&self, id: i64) -> ClientResult<Colleague> {
        self.post(
            &format!("/api/v1/colleagues/{id}/enable"),
            &serde_json::json!({}),
        )
        .await
    }
    pub async fn remove_colleague(&self, id: i64) -> ClientResult<Message> {
        self.delete(&format!("/api/v1/colleagues/{id}"), &serde_json::json!({}))
            .await
    }
    pub async fn accept_invitation(&self, req: &AcceptInvitation) -> ClientResult<Message> {
        self.post("/api/v1/invitations/accept", req).await
    }
    /// Finish an MFA sign-in; on success the client keeps the session token.
    pub async fn verify_mfa(&mut self, req: &MfaVerify) -> ClientResult<LoginResponse> {
        let r: LoginResponse = self.post("/api/v1/login/mfa", req).await?;
        self.token = Some(r.token.clone());
        Ok(r)
    }
    pub async fn resend_mfa(&self, req: &MfaResend) -> ClientResult<Message> {
        self.post("/api/v1/login/mfa/resend", req).await
    }
    pub async fn security(&self) -> ClientResult<Security> {
        self.get("/api/v1/me/security").await
    }
    pub async fn update_security(&self, req: &SecurityUpdate) -> ClientResult<Security> {
        self.patch("/api/v1/me/security", req).await
    }
    pub async fn set_enterprise_settings(
        &self,
        req: &EnterpriseSettings,
    ) -> ClientResult<Security> {
        self.patch("/api/v1/enterprise/settings", req).await
    }
    pub async fn api_keys(&self) -> ClientResult<ApiKeyList> {
        self.get("/api/v1/apikeys").await
    }
    pub async fn create_api_key(&self, req: &NewApiKey) -> ClientResult<ApiKeyCreated> {
        self.post("/api/v1/apikeys", req).await
    }
    pub async fn revoke_api_key(&self, id: i64) -> ClientResult<Message> {
        self.post(
            &format!("/api/v1/apikeys/{id}/revoke"),
            &serde_json::json!({}),
        )
        .await
    }
    /// The signed-in administrator's SSH keys (the console over SSH).
    pub async fn ssh_keys(&self) -> ClientResult<SshKeyList> {
        self.get("/api/v1/me/ssh-keys").await
    }
    pub async fn add_ssh_key(&self, req: &NewSshKey) -> ClientResult<SshKey> {
        self.post("/api/v1/me/ssh-keys", req).await
    }
    pub async fn remove_ssh_key(&self, id: i64) -> ClientResult<Message> {
        self.delete(&format!("/api/v1/me/ssh-keys/{id}"), &serde_json::json!({}))
            .await
    }
    pub async fn audit(&self, q: &AuditQuery) -> ClientResult<AuditPage> {
        let mut params = vec![];
        if let Some(s) = &q.search {
            params.push(format!(
                "search={}",
                url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
            ));
        }
        if let Some(p) = q.page {
            params.push(format!("page={p}"));
        }
        if let Some(p) = q.page_size {
            params.push(format!("page_size={p}"));
        }
        let qs = if params.is_empty() {
            String::new()
        } else {
            format!("?{}", params.join("&"))
        };
        self.get(&format!("/api/v1/audit{qs}")).await
    }
}
