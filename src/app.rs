//! The state, `update(action)` (the only place the state changes), and the event loop:
//! input, ticks and API replies → update → draw when something changed.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use futures::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::Terminal;
use tokio::sync::mpsc;
use vcms_api::client::{Client, ClientError};
use vcms_api::*;

use crate::action::{Action, Reply, Req};
use crate::config::Config;
use crate::i18n::{t, tf, Lang};
use crate::keymap::{Cmd, Keymap, Scope};
use crate::theme::Theme;
use crate::widgets::form::{Field, Form};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Login,
    Main,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Account,
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Table,
    Details,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SysView {
    License,
    Profile,
    Colleagues,
    Audit,
    ApiKeys,
    Server,
}

impl SysView {
    pub const ALL: [SysView; 6] = [
        SysView::License,
        SysView::Profile,
        SysView::Colleagues,
        SysView::Audit,
        SysView::ApiKeys,
        SysView::Server,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMode {
    SignIn,
    Register,
    Activate,
    Forgot,
    Reset,
    Mfa,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    ResetPincode(i64),
    ResetPassword(i64),
    SendEmail(Vec<i64>),
    Remove(Vec<i64>),
    ResendFailed(Vec<i64>),
    DeleteFailed(Vec<i64>),
    Logout,
    ResendInvite(i64),
    DisableColleague(i64),
    EnableColleague(i64),
    RemoveColleague(i64),
    RevokeKey(i64),
    ApplyImport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    /// Bulk Add: the spreadsheet's path.
    Import,
    /// Export: the file to write (.xlsx or .csv).
    Export,
    /// Download Template: the file to write.
    Template,
    AddAccount,
    EditAccount(i64),
    AddLicense,
    EditProfile,
    ChangePassword,
    Invite,
    SetRole(i64),
    CreateKey,
    Security,
}

pub enum Overlay {
    Help,
    Confirm {
        text: String,
        detail: String,
        op: Op,
    },
    Secret {
        title: String,
        who: String,
        value: String,
        note: String,
    },
    Form {
        kind: FormKind,
        form: Form,
    },
    /// Bulk Add: progress, then the scrollable preview (state in `App::import`).
    Import,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStage {
    /// Reading the file, then the server's check (dry run).
    Reading,
    /// The preview is on screen.
    Ready,
    /// The apply is on its way.
    Sending,
    /// The file could not be read or checked (`error`).
    Failed,
}

/// A Bulk Add in progress.
pub struct ImportState {
    pub file: String,
    pub send_email: bool,
    pub stage: ImportStage,
    pub progress: std::sync::Arc<crate::import::ImportProgress>,
    pub rows: Vec<BatchRow>,
    pub header_row: u32,
    pub result: Option<BatchResult>,
    pub lines: Vec<String>,
    pub scroll: usize,
    /// One key per file read, so a retried apply is imported once.
    pub key: String,
    pub error: Option<String>,
}

impl ImportState {
    /// Can the previewed rows be applied?
    pub fn can_apply(&self) -> bool {
        self.stage == ImportStage::Ready
            && self
                .result
                .as_ref()
                .is_some_and(|r| r.errors.is_empty() && r.created + r.updated > 0)
    }
}

#[derive(Debug, Clone)]
pub struct Toast {
    pub text: String,
    pub error: bool,
}

pub struct LoginState {
    pub mode: LoginMode,
    pub form: Form,
    pub captcha: Option<Captcha>,
    /// The solved proof of work of `captcha`.
    pub captcha_pow: String,
    pub notice: Option<Toast>,
}

/// Where the user was when the session ended.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    pub tab: Tab,
    pub view: View,
    pub sys: SysView,
    pub details: Option<i64>,
}

pub struct App {
    pub lang: Lang,
    pub theme: Theme,
    pub keymap: Keymap,
    pub config: Config,
    pub client: Client,
    pub screen: Screen,
    pub tab: Tab,
    pub view: View,
    pub sys: SysView,
    pub login: LoginState,
    pub profile: Option<Profile>,
    pub quota: Option<Quota>,
    pub page: Option<AccountPage>,
    pub page_no: i64,
    pub page_size: i64,
    /// The page size follows the terminal's height (no `page_size` in the config, and not
    /// changed with `s` since).
    pub page_auto: bool,
    /// The terminal's width (0 until it is known): from [`PANE_WIDTH`] columns the details
    /// of the selected account show beside the table.
    pub width: u16,
    pub cursor: usize,
    pub search: String,
    pub searching: bool,
    search_due: Option<Instant>,
    pub marked: BTreeSet<i64>,
    pub details_id: Option<i64>,
    pub details: Option<AccountDetails>,
    pub failed: Option<FailedEmailList>,
    pub failed_cursor: usize,
    pub failed_marked: BTreeSet<i64>,
    pub licenses: Option<LicenseList>,
    pub overlay: Option<Overlay>,
    pub command: Option<String>,
    pub toast: Option<Toast>,
    /// Requests to start (the event loop spawns them).
    pub requests: Vec<(u64, Req)>,
    next_id: u64,
    inflight: HashMap<&'static str, u64>,
    pub resume: Option<Place>,
    /// Lines for System → Server (address, and in demo mode the data and outbox folders).
    pub server_info: Vec<(String, String)>,
    pub quit: bool,
    pub suspend: bool,
    pub spinner: usize,
    last_refresh: Instant,
    /// Set after a successful sign-in with "remember password" on: (email, password).
    pub remember: Option<(String, String)>,
    pub remember_password: bool,
    /// The sign-in attempt waiting for its emailed MFA code.
    pub mfa_token: Option<String>,
    /// A change event asked for a refresh of what is on screen.
    live_due: Option<Instant>,
    pub colleagues: Option<ColleagueList>,
    pub colleague_cursor: usize,
    pub audit: Option<AuditPage>,
    pub audit_cursor: usize,
    pub audit_search: String,
    pub api_keys: Option<ApiKeyList>,
    pub key_cursor: usize,
    /// Backup email and MFA of the signed-in administrator.
    pub security: Option<Security>,
    /// A Bulk Add being read, previewed or applied.
    pub import: Option<ImportState>,
    /// Progress of an export.
    pub export_progress: std::sync::Arc<crate::import::ImportProgress>,
}

fn client_error_text(e: &ClientError) -> String {
    match e {
        ClientError::Api { body, .. } => body.message.clone(),
        ClientError::Transport(m) => m.clone(),
    }
}

impl App {
    pub fn new(config: Config, client: Client, lang: Lang, theme: Theme) -> anyhow::Result<App> {
        let keymap = Keymap::new(&config.keys).map_err(|e| anyhow::anyhow!(e))?;
        let page_size = config.page_size.unwrap_or(10);
        let page_auto = config.page_size.is_none();
        let server = client.base().to_string();
        let email = config.email.clone().unwrap_or_default();
        let remember_password = config.remember_password;
        let mut app = App {
            lang,
            theme,
            keymap,
            config,
            client,
            screen: Screen::Login,
            tab: Tab::Account,
            view: View::Table,
            sys: SysView::License,
            login: LoginState {
                mode: LoginMode::SignIn,
                form: Form::new(vec![]),
                captcha: None,
                captcha_pow: String::new(),
                notice: None,
            },
            profile: None,
            quota: None,
            page: None,
            page_no: 1,
            page_size,
            page_auto,
            width: 0,
            cursor: 0,
            search: String::new(),
            searching: false,
            search_due: None,
            marked: BTreeSet::new(),
            details_id: None,
            details: None,
            failed: None,
            failed_cursor: 0,
            failed_marked: BTreeSet::new(),
            licenses: None,
            overlay: None,
            command: None,
            toast: None,
            requests: vec![],
            next_id: 1,
            inflight: HashMap::new(),
            resume: None,
            server_info: vec![],
            quit: false,
            suspend: false,
            spinner: 0,
            last_refresh: Instant::now(),
            remember: None,
            remember_password,
            mfa_token: None,
            live_due: None,
            colleagues: None,
            colleague_cursor: 0,
            audit: None,
            audit_cursor: 0,
            audit_search: String::new(),
            api_keys: None,
            key_cursor: 0,
            security: None,
            import: None,
            export_progress: Default::default(),
        };
        app.server_info
            .push((t(lang, "server.http"), server.clone()));
        app.set_login_mode(LoginMode::SignIn);
        app.login.form.set_value("server", &server);
        app.login.form.set_value("email", &email);
        if !email.is_empty() {
            app.login.form.focus = 2;
        }
        Ok(app)
    }

    /// Start signed in (demo mode, or a saved session).
    pub fn signed_in(&mut self, profile: Profile) {
        self.profile = Some(profile);
        self.screen = Screen::Main;
        self.load_page();
    }

    pub fn busy(&self) -> bool {
        !self.inflight.is_empty()
    }

    // ---------------- requests ----------------

    fn request(&mut self, req: Req) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.inflight.insert(req.slot(), id);
        self.requests.push((id, req));
        id
    }

    fn query(&self) -> AccountQuery {
        AccountQuery {
            page: Some(self.page_no),
            page_size: Some(self.page_size),
            search: (!self.search.trim().is_empty()).then(|| self.search.trim().to_string()),
            ..Default::default()
        }
    }

    /// The terminal is `height` rows tall (at start and on every resize): in automatic page
    /// size, the table shows as many rows as fit, keeping the selected account selected.
    fn resize(&mut self, height: u16) {
        if !self.page_auto {
            return;
        }
        let n = crate::screens::accounts::rows_that_fit(height);
        if n == self.page_size {
            return;
        }
        let cursor = i64::try_from(self.cursor).unwrap_or(0);
        let first = (self.page_no - 1) * self.page_size + cursor;
        self.page_size = n;
        self.page_no = first / n + 1;
        self.cursor = usize::try_from(first % n).unwrap_or(0);
        if self.screen == Screen::Main && self.page.is_some() {
            self.load_page();
        }
    }

    pub fn load_page(&mut self) {
        let q = self.query();
        self.request(Req::Page(q));
    }

    fn load_view(&mut self) {
        match self.tab {
            Tab::Account => match self.view {
                View::Table => self.load_page(),
                View::Details => {
                    if let Some(id) = self.details_id {
                        self.request(Req::Details(id));
                    }
                }
                View::Failed => {
                    self.request(Req::Failed);
                }
            },
            Tab::System => {
                self.request(Req::Licenses);
                self.request(Req::Profile);
                self.request(Req::Security);
                self.load_sys();
            }
        }
    }

    /// What the server says the signed-in administrator may do (`permissions` of the
    /// profile); nothing before the profile has arrived.
    fn perms(&self) -> Permissions {
        self.profile
            .as_ref()
            .map(|p| p.permissions.clone())
            .unwrap_or_default()
    }

    /// The System sections the signed-in administrator may use.
    pub fn sys_views(&self) -> Vec<SysView> {
        let p = self.perms();
        SysView::ALL
            .iter()
            .copied()
            .filter(|v| match v {
                SysView::Colleagues => p.manage_colleagues,
                SysView::Audit => p.view_audit,
                SysView::ApiKeys => p.manage_api_keys,
                _ => true,
            })
            .collect()
    }

    fn audit_query(&self) -> AuditQuery {
        let s = self.audit_search.trim();
        AuditQuery {
            search: (!s.is_empty()).then(|| s.to_string()),
            page: Some(1),
            page_size: Some(100),
        }
    }

    /// Load the current System section (and find out whether an admin manages colleagues).
    fn load_sys(&mut self) {
        if !self.sys_views().contains(&self.sys) {
            self.sys = SysView::License;
        }
        match self.sys {
            SysView::Colleagues => {
                self.request(Req::Colleagues);
            }
            SysView::Audit => {
                let q = self.audit_query();
                self.request(Req::Audit(q));
            }
            SysView::ApiKeys => {
                self.request(Req::ApiKeys);
            }
            _ => {}
        }
    }

    fn current_colleague(&self) -> Option<&Colleague> {
        self.colleagues
            .as_ref()
            .and_then(|l| l.items.get(self.colleague_cursor))
    }

    fn current_key(&self) -> Option<&ApiKey> {
        self.api_keys
            .as_ref()
            .and_then(|l| l.items.get(self.key_cursor))
    }

    fn toast(&mut self, text: impl Into<String>, error: bool) {
        self.toast = Some(Toast {
            text: text.into(),
            error,
        });
    }

    // ---------------- update ----------------

    pub fn update(&mut self, action: Action) {
        match action {
            Action::Quit => self.quit = true,
            Action::Tick => self.tick(),
            Action::Resize(w, h) => {
                self.width = w;
                self.resize(h);
            }
            Action::Paste(s) => self.paste(&s),
            Action::Key(k) => self.key(k),
            Action::Cmd(c) => self.cmd(c),
            Action::Reply { id, reply } => self.reply(id, *reply),
            Action::Event(item) => self.event(item),
        }
        self.follow_pane();
    }

    /// Whether the details pane shows beside the account table.
    pub fn pane_shown(&self) -> bool {
        self.width >= PANE_WIDTH
            && self.screen == Screen::Main
            && self.tab == Tab::Account
            && self.view == View::Table
    }

    /// With the details pane shown, the details follow the cursor: the selected account's
    /// are asked for when it changes (a reply for an account no longer selected is dropped).
    fn follow_pane(&mut self) {
        if !self.pane_shown() {
            return;
        }
        let Some(id) = self.current_row().map(|r| r.id) else {
            return;
        };
        if self.details_id != Some(id) {
            self.details_id = Some(id);
            self.request(Req::Details(id));
        }
    }

    fn event(&mut self, item: vcms_server::client::StreamItem) {
        use vcms_api::client::StreamItem;
        match item {
            StreamItem::SessionEnded(why) => {
                if self.screen == Screen::Main {
                    let why = if why.trim().is_empty() {
                        t(self.lang, "login.session_ended")
                    } else {
                        why
                    };
                    self.session_ended(why);
                }
            }
            StreamItem::Change(ev) => {
                if self.screen != Screen::Main || self.tab != Tab::Account {
                    return;
                }
                let relevant = match self.view {
                    View::Table => ev.kind != EventKind::EmailFailed,
                    View::Details => ev.account_id.is_some() && ev.account_id == self.details_id,
                    View::Failed => ev.kind == EventKind::EmailFailed,
                };
                if relevant {
                    self.live_due = Some(Instant::now() + Duration::from_millis(300));
                }
                // The details pane shows this account: its details change too.
                if let (true, Some(id)) = (self.pane_shown(), ev.account_id) {
                    if self.details_id == Some(id) {
                        self.request(Req::Details(id));
                    }
                }
            }
        }
    }

    fn tick(&mut self) {
        self.spinner = self.spinner.wrapping_add(1);
        if let Some(due) = self.live_due {
            if Instant::now() >= due && self.overlay.is_none() {
                self.live_due = None;
                self.load_view();
            }
        }
        if let Some(due) = self.search_due {
            if Instant::now() >= due {
                self.search_due = None;
                if self.tab == Tab::System && self.sys == SysView::Audit {
                    self.audit_cursor = 0;
                    let q = self.audit_query();
                    self.request(Req::Audit(q));
                } else {
                    self.page_no = 1;
                    self.cursor = 0;
                    self.load_page();
                }
            }
        }
        let every = self.config.refresh_secs.unwrap_or(30);
        if every > 0
            && self.screen == Screen::Main
            && self.overlay.is_none()
            && !self.busy()
            && self.last_refresh.elapsed() >= Duration::from_secs(every)
        {
            self.last_refresh = Instant::now();
            self.load_view();
        }
    }

    fn paste(&mut self, s: &str) {
        if let Some(Overlay::Form { form, .. }) = &mut self.overlay {
            form.paste(s);
        } else if self.screen == Screen::Login {
            self.login.form.paste(s);
        } else if self.searching {
            self.search_buf().push_str(s.trim());
            self.search_due = Some(Instant::now() + self.debounce());
        }
    }

    /// The search being typed: the audit log's on System → Audit log, else the accounts'.
    pub fn search_buf(&mut self) -> &mut String {
        if self.tab == Tab::System && self.sys == SysView::Audit {
            &mut self.audit_search
        } else {
            &mut self.search
        }
    }

    fn debounce(&self) -> Duration {
        Duration::from_millis(self.config.search_debounce_ms.unwrap_or(250))
    }

    /// The key tables in force, most specific first.
    pub fn scopes(&self) -> Vec<Scope> {
        match &self.overlay {
            Some(Overlay::Confirm { .. }) => return vec![Scope::Confirm],
            Some(Overlay::Form { .. }) => return vec![Scope::Form],
            Some(_) => return vec![],
            None => {}
        }
        self.screen_scopes()
    }

    /// The key tables of the screen under any popup (for the `?` help).
    pub fn screen_scopes(&self) -> Vec<Scope> {
        match self.screen {
            Screen::Login => vec![Scope::Login],
            Screen::Main => {
                let s = match (self.tab, self.view) {
                    (Tab::System, _) => match self.sys {
                        SysView::Colleagues => Scope::Colleagues,
                        SysView::Audit => Scope::Audit,
                        SysView::ApiKeys => Scope::ApiKeys,
                        _ => Scope::System,
                    },
                    (Tab::Account, View::Table) => Scope::Accounts,
                    (Tab::Account, View::Details) => Scope::Details,
                    (Tab::Account, View::Failed) => Scope::Failed,
                };
                vec![s, Scope::Global]
            }
        }
    }

    fn key(&mut self, k: KeyEvent) {
        if k.kind == KeyEventKind::Release {
            return;
        }
        if k.modifiers.contains(KeyModifiers::CONTROL) {
            match k.code {
                KeyCode::Char('c') => {
                    self.quit = true;
                    return;
                }
                KeyCode::Char('z') => {
                    self.suspend = true;
                    return;
                }
                _ => {}
            }
        }
        // Popups first.
        match &mut self.overlay {
            Some(Overlay::Help) | Some(Overlay::Secret { .. }) => {
                self.overlay = None;
                return;
            }
            Some(Overlay::Form { form, .. }) => {
                match self.keymap.lookup(&[Scope::Form], &k) {
                    Some(c) if !(crate::keymap::Key::from_event(&k).is_text()) => self.cmd(c),
                    _ => form.input(k),
                }
                return;
            }
            Some(Overlay::Confirm { .. }) => {
                if let Some(c) = self.keymap.lookup(&[Scope::Confirm], &k) {
                    self.cmd(c);
                }
                return;
            }
            Some(Overlay::Import) => {
                self.import_key(k);
                return;
            }
            None => {}
        }
        if let Some(cmdline) = &mut self.command {
            match k.code {
                KeyCode::Esc => self.command = None,
                KeyCode::Enter => {
                    let line = cmdline.clone();
                    self.command = None;
                    self.run_command(&line);
                }
                KeyCode::Backspace if cmdline.pop().is_none() => self.command = None,
                KeyCode::Char(c) => cmdline.push(c),
                _ => {}
            }
            return;
        }
        if self.searching {
            match k.code {
                KeyCode::Esc => {
                    self.searching = false;
                    self.search_buf().clear();
                    self.search_due = Some(Instant::now());
                }
                KeyCode::Enter | KeyCode::Down | KeyCode::Up => {
                    self.searching = false;
                    if self.search_due.is_some() {
                        self.search_due = Some(Instant::now());
                    }
                }
                KeyCode::Backspace => {
                    self.search_buf().pop();
                    self.search_due = Some(Instant::now() + self.debounce());
                }
                KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                    self.search_buf().push(c);
                    self.search_due = Some(Instant::now() + self.debounce());
                }
                _ => {}
            }
            return;
        }
        if self.screen == Screen::Login {
            let key = crate::keymap::Key::from_event(&k);
            match self.keymap.lookup(&[Scope::Login], &k) {
                Some(c) if !key.is_text() => self.cmd(c),
                _ => {
                    self.login.form.input(k);
                }
            }
            return;
        }
        let scopes = self.scopes();
        if let Some(c) = self.keymap.lookup(&scopes, &k) {
            self.toast = None;
            self.cmd(c);
        }
    }

    /// Keys of the Bulk Add preview: scroll, apply (after a confirm), cancel.
    fn import_key(&mut self, k: KeyEvent) {
        let Some(st) = &mut self.import else {
            self.overlay = None;
            return;
        };
        let last = st.lines.len().saturating_sub(1);
        match k.code {
            KeyCode::Esc | KeyCode::Char('q') if st.stage != ImportStage::Sending => {
                self.import = None;
                self.overlay = None;
            }
            KeyCode::Down | KeyCode::Char('j') => st.scroll = (st.scroll + 1).min(last),
            KeyCode::Up | KeyCode::Char('k') => st.scroll = st.scroll.saturating_sub(1),
            KeyCode::PageDown => st.scroll = (st.scroll + 10).min(last),
            KeyCode::PageUp => st.scroll = st.scroll.saturating_sub(10),
            KeyCode::Home | KeyCode::Char('g') => st.scroll = 0,
            KeyCode::End | KeyCode::Char('G') => st.scroll = last,
            KeyCode::Enter | KeyCode::Char('y') if st.can_apply() => {
                let Some(r) = &st.result else { return };
                let detail = tf(
                    self.lang,
                    "import.confirm_detail",
                    &[("created", &r.created), ("updated", &r.updated)],
                );
                let n = r.created + r.updated;
                self.overlay = Some(Overlay::Confirm {
                    text: tf(self.lang, "import.confirm", &[("n", &n)]),
                    detail,
                    op: Op::ApplyImport,
                });
            }
            _ => {}
        }
    }

    /// Open the form that asks for a file: Bulk Add, Export or Template.
    fn file_form(&mut self, kind: FormKind, default: &str) {
        let mut form = Form::new(vec![Field::new("file", "field.file", default)]);
        form.focus = 0;
        self.overlay = Some(Overlay::Form { kind, form });
    }

    fn run_command(&mut self, line: &str) {
        let line = line.trim();
        if let Ok(n) = line.parse::<i64>() {
            self.tab = Tab::Account;
            self.view = View::Table;
            self.page_no = n.max(1);
            self.cursor = 0;
            self.load_page();
            return;
        }
        match line {
            "failed" | "f" => self.cmd(Cmd::FailedList),
            "license" | "licenses" => {
                self.tab = Tab::System;
                self.sys = SysView::License;
                self.load_view();
            }
            "profile" | "me" => {
                self.tab = Tab::System;
                self.sys = SysView::Profile;
                self.load_view();
            }
            "server" => {
                self.tab = Tab::System;
                self.sys = SysView::Server;
            }
            "colleagues" | "colleague" | "audit" | "apikeys" | "keys" => {
                let v = match line {
                    "audit" => SysView::Audit,
                    "apikeys" | "keys" => SysView::ApiKeys,
                    _ => SysView::Colleagues,
                };
                if self.sys_views().contains(&v) {
                    self.tab = Tab::System;
                    self.sys = v;
                    self.load_view();
                } else {
                    self.toast(t(self.lang, "role.not_allowed"), true);
                }
            }
            "account" | "accounts" => {
                self.tab = Tab::Account;
                self.view = View::Table;
                self.load_page();
            }
            "system" => self.cmd(Cmd::TabSystem),
            "q" | "quit" => self.quit = true,
            "help" => self.overlay = Some(Overlay::Help),
            "logout" => self.cmd(Cmd::Logout),
            "" => {}
            other => self.toast(tf(self.lang, "cmd.unknown", &[("cmd", &other)]), true),
        }
    }

    fn rows(&self) -> &[AccountRow] {
        self.page
            .as_ref()
            .map(|p| p.items.as_slice())
            .unwrap_or(&[])
    }

    fn current_row(&self) -> Option<&AccountRow> {
        self.rows().get(self.cursor)
    }

    fn pages(&self) -> i64 {
        self.page.as_ref().map(|p| p.pages.max(1)).unwrap_or(1)
    }

    fn goto_page(&mut self, n: i64) {
        let n = n.clamp(1, self.pages());
        if n != self.page_no {
            self.page_no = n;
            self.load_page();
        }
    }

    /// The ids a batch action works on: the marked ones, or else the row under the cursor.
    fn targets(&self) -> Vec<i64> {
        if !self.marked.is_empty() {
            self.marked.iter().copied().collect()
        } else {
            self.current_row().map(|r| vec![r.id]).unwrap_or_default()
        }
    }

    fn confirm(&mut self, key: &str, detail: String, op: Op) {
        self.overlay = Some(Overlay::Confirm {
            text: t(self.lang, key),
            detail,
            op,
        });
    }

    fn names(&self, ids: &[i64]) -> String {
        let names: Vec<String> = ids
            .iter()
            .filter_map(|id| self.rows().iter().find(|r| r.id == *id))
            .map(|r| format!("{} ({})", r.name, r.extension))
            .collect();
        if names.len() == ids.len() && names.len() <= 3 {
            names.join(", ")
        } else {
            tf(self.lang, "confirm.n_accounts", &[("n", &ids.len())])
        }
    }

    /// Commands the signed-in role may not use: hidden from hints and help, refused here
    /// (and by the server).
    pub fn hidden_cmds(&self) -> Vec<Cmd> {
        use Cmd::*;
        let colleagues = [
            Invite,
            ResendInvite,
            SetRole,
            ToggleDisabled,
            RemoveColleague,
        ];
        let keys = [CreateKey, RevokeKey];
        if self.profile.is_none() {
            return vec![];
        }
        let p = self.perms();
        let mut v = Vec::new();
        if !p.manage_accounts {
            v.extend([Add, Edit, Remove, MarkAll, BulkAdd]);
        }
        if !p.failed_emails {
            v.extend([FailedList, Resend, Delete]);
        }
        if !p.add_licenses {
            v.push(AddLicense);
        }
        if !p.manage_colleagues {
            v.extend(colleagues);
        }
        if !p.manage_api_keys {
            v.extend(keys);
        }
        v
    }

    pub fn cmd(&mut self, c: Cmd) {
        use Cmd::*;
        if self.screen == Screen::Main && self.hidden_cmds().contains(&c) {
            self.toast(t(self.lang, "role.not_allowed"), true);
            return;
        }
        match c {
            Quit if self.screen == Screen::Login && self.login.mode != LoginMode::SignIn => {
                self.set_login_mode(LoginMode::SignIn);
                self.login.notice = None;
            }
            Quit => self.quit = true,
            Help => self.overlay = Some(Overlay::Help),
            Command => self.command = Some(String::new()),
            Language => {
                self.lang = self.lang.toggle();
            }
            NextTab => self.cmd(if self.tab == Tab::Account {
                TabSystem
            } else {
                TabAccount
            }),
            TabAccount => {
                self.tab = Tab::Account;
                self.load_view();
            }
            TabSystem => {
                self.tab = Tab::System;
                self.load_view();
            }
            Refresh => {
                self.last_refresh = Instant::now();
                self.load_view();
            }
            Up | Down if self.tab == Tab::System => {
                let (n, cur) = match self.sys {
                    SysView::Colleagues => (
                        self.colleagues.as_ref().map(|l| l.items.len()),
                        &mut self.colleague_cursor,
                    ),
                    SysView::Audit => (
                        self.audit.as_ref().map(|l| l.items.len()),
                        &mut self.audit_cursor,
                    ),
                    SysView::ApiKeys => (
                        self.api_keys.as_ref().map(|l| l.items.len()),
                        &mut self.key_cursor,
                    ),
                    _ => (None, &mut self.cursor),
                };
                let n = n.unwrap_or(0);
                if n > 0 {
                    *cur = if c == Up {
                        cur.saturating_sub(1)
                    } else {
                        (*cur + 1).min(n - 1)
                    };
                }
            }
            Back if self.tab == Tab::System && self.sys == SysView::Audit => {
                if !self.audit_search.is_empty() {
                    self.audit_search.clear();
                    self.search_due = Some(Instant::now());
                }
            }
            Up | Down if self.view == View::Failed => {
                let n = self.failed.as_ref().map(|f| f.items.len()).unwrap_or(0);
                if n > 0 {
                    self.failed_cursor = if c == Up {
                        self.failed_cursor.saturating_sub(1)
                    } else {
                        (self.failed_cursor + 1).min(n - 1)
                    };
                }
            }
            Up => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                } else if self.page_no > 1 {
                    self.cursor = usize::MAX;
                    self.goto_page(self.page_no - 1);
                }
            }
            Down => {
                let n = self.rows().len();
                if self.cursor + 1 < n {
                    self.cursor += 1;
                } else if self.page_no < self.pages() {
                    self.cursor = 0;
                    self.goto_page(self.page_no + 1);
                }
            }
            PageDown => {
                if self.page_no < self.pages() {
                    self.goto_page(self.page_no + 1);
                } else {
                    self.cursor = self.rows().len().saturating_sub(1);
                }
            }
            PageUp => {
                if self.page_no > 1 {
                    self.goto_page(self.page_no - 1);
                } else {
                    self.cursor = 0;
                }
            }
            First => {
                self.cursor = 0;
                self.goto_page(1);
            }
            Last => {
                self.cursor = usize::MAX;
                let last = self.pages();
                if last == self.page_no {
                    self.cursor = self.rows().len().saturating_sub(1);
                }
                self.goto_page(last);
            }
            Search => {
                self.searching = true;
            }
            Back => match (self.tab, self.view) {
                (Tab::Account, View::Table) => {
                    if !self.search.is_empty() {
                        self.search.clear();
                        self.page_no = 1;
                        self.load_page();
                    } else {
                        self.marked.clear();
                    }
                }
                (Tab::Account, _) => {
                    self.view = View::Table;
                    self.details = None;
                    self.details_id = None;
                    self.load_page();
                }
                _ => {}
            },
            Open => {
                if let Some(id) = self.current_row().map(|r| r.id) {
                    self.view = View::Details;
                    self.details_id = Some(id);
                    if self.details.as_ref().map(|d| d.id) != Some(id) {
                        self.details = None;
                    }
                    self.request(Req::Details(id));
                }
            }
            Mark if self.view == View::Failed => {
                if let Some(id) = self
                    .failed
                    .as_ref()
                    .and_then(|f| f.items.get(self.failed_cursor))
                    .map(|f| f.id)
                {
                    if !self.failed_marked.remove(&id) {
                        self.failed_marked.insert(id);
                    }
                    self.cmd(Down);
                }
            }
            Mark => {
                if let Some(id) = self.current_row().map(|r| r.id) {
                    if !self.marked.remove(&id) {
                        self.marked.insert(id);
                    }
                    let n = self.rows().len();
                    if self.cursor + 1 < n {
                        self.cursor += 1;
                    }
                }
            }
            MarkPage if self.view == View::Failed => {
                let ids: Vec<i64> = self
                    .failed
                    .as_ref()
                    .map(|f| f.items.iter().map(|e| e.id).collect())
                    .unwrap_or_default();
                if ids.iter().all(|i| self.failed_marked.contains(i)) {
                    self.failed_marked.clear();
                } else {
                    self.failed_marked.extend(ids);
                }
            }
            MarkPage => {
                let ids: Vec<i64> = self.rows().iter().map(|r| r.id).collect();
                if !ids.is_empty() && ids.iter().all(|i| self.marked.contains(i)) {
                    for i in ids {
                        self.marked.remove(&i);
                    }
                } else {
                    self.marked.extend(ids);
                }
            }
            MarkAll => {
                let s = self.query().search;
                self.request(Req::AllIds(s));
            }
            Add => {
                let mut form = Form::new(vec![
                    Field::new("name", "field.name", ""),
                    Field::new("extension", "field.extension", ""),
                    Field::new("email", "field.email", ""),
                ]);
                form.focus = 0;
                self.overlay = Some(Overlay::Form {
                    kind: FormKind::AddAccount,
                    form,
                });
            }
            Edit => {
                if let Some(d) = &self.details {
                    let form = Form::new(vec![
                        Field::new("name", "field.name", &d.name),
                        Field::new("extension", "field.extension", &d.extension),
                        Field::new("email", "field.email", d.email.as_deref().unwrap_or("")),
                    ]);
                    self.overlay = Some(Overlay::Form {
                        kind: FormKind::EditAccount(d.id),
                        form,
                    });
                }
            }
            ResetPincode => {
                if let Some(d) = &self.details {
                    let (id, who) = (d.id, format!("{} ({})", d.name, d.cloud_number));
                    self.confirm("confirm.reset_pincode", who, Op::ResetPincode(id));
                }
            }
            ResetPassword => {
                if let Some(d) = &self.details {
                    let (id, who) = (d.id, format!("{} ({})", d.name, d.cloud_number));
                    self.confirm("confirm.reset_password", who, Op::ResetPassword(id));
                }
            }
            SendEmail => {
                let ids = match self.view {
                    View::Details => self.details_id.map(|i| vec![i]).unwrap_or_default(),
                    _ => self.targets(),
                };
                if !ids.is_empty() {
                    let who = self.names(&ids);
                    self.confirm("confirm.send_email", who, Op::SendEmail(ids));
                }
            }
            Remove => {
                let ids = match self.view {
                    View::Details => self.details_id.map(|i| vec![i]).unwrap_or_default(),
                    _ => self.targets(),
                };
                if !ids.is_empty() {
                    let who = self.names(&ids);
                    self.confirm("confirm.remove", who, Op::Remove(ids));
                }
            }
            FailedList => {
                self.tab = Tab::Account;
                self.view = View::Failed;
                self.failed_cursor = 0;
                self.request(Req::Failed);
            }
            PageSize => {
                self.page_auto = false;
                self.page_size = match self.page_size {
                    n if n < 20 => 20,
                    n if n < 50 => 50,
                    n if n < 100 => 100,
                    _ => 10,
                };
                self.page_no = 1;
                self.cursor = 0;
                self.load_page();
            }
            Resend | Delete => {
                let ids: Vec<i64> = if self.failed_marked.is_empty() {
                    self.failed
                        .as_ref()
                        .and_then(|f| f.items.get(self.failed_cursor))
                        .map(|f| vec![f.id])
                        .unwrap_or_default()
                } else {
                    self.failed_marked.iter().copied().collect()
                };
                if !ids.is_empty() {
                    let detail = tf(self.lang, "confirm.n_emails", &[("n", &ids.len())]);
                    if c == Resend {
                        self.confirm("confirm.resend", detail, Op::ResendFailed(ids));
                    } else {
                        self.confirm("confirm.delete_failed", detail, Op::DeleteFailed(ids));
                    }
                }
            }
            Left | Right => {
                let views = self.sys_views();
                let n = views.len().max(1);
                let i = views.iter().position(|v| *v == self.sys).unwrap_or(0);
                self.sys = views
                    .get(if c == Left {
                        (i + n - 1) % n
                    } else {
                        (i + 1) % n
                    })
                    .copied()
                    .unwrap_or(SysView::License);
                self.load_sys();
            }
            Invite => {
                self.overlay = Some(Overlay::Form {
                    kind: FormKind::Invite,
                    form: Form::new(vec![
                        Field::new("first_name", "field.first_name", ""),
                        Field::new("last_name", "field.last_name", ""),
                        Field::new("email", "field.email", ""),
                        Field::new("role", "field.role", "helpdesk"),
                        Field::new("manage_admins", "field.manage_admins", "no"),
                    ]),
                });
            }
            SetRole => {
                if let Some(x) = self.current_colleague() {
                    let (id, role, flag) = (x.id, x.role, x.manage_admins);
                    self.overlay = Some(Overlay::Form {
                        kind: FormKind::SetRole(id),
                        form: Form::new(vec![
                            Field::new("role", "field.role", role.as_str()),
                            Field::new(
                                "manage_admins",
                                "field.manage_admins",
                                if flag { "yes" } else { "no" },
                            ),
                        ]),
                    });
                }
            }
            ResendInvite | ToggleDisabled | RemoveColleague => {
                if let Some(x) = self.current_colleague() {
                    let who = format!("{} <{}>", x.name, x.email);
                    let (key, op) = match c {
                        ResendInvite => ("confirm.resend_invite", Op::ResendInvite(x.id)),
                        ToggleDisabled if x.status == AdminStatus::Disabled => {
                            ("confirm.enable_colleague", Op::EnableColleague(x.id))
                        }
                        ToggleDisabled => ("confirm.disable_colleague", Op::DisableColleague(x.id)),
                        _ => ("confirm.remove_colleague", Op::RemoveColleague(x.id)),
                    };
                    self.confirm(key, who, op);
                }
            }
            EditSecurity => {
                let (backup, mfa) = self
                    .security
                    .as_ref()
                    .map(|s| (s.backup_email.clone().unwrap_or_default(), s.mfa_enabled))
                    .unwrap_or_default();
                self.overlay = Some(Overlay::Form {
                    kind: FormKind::Security,
                    form: Form::new(vec![
                        Field::new("current_password", "field.current_password", "").masked(),
                        Field::new("backup_email", "field.backup_email", &backup),
                        Field::new("mfa_enabled", "field.mfa", if mfa { "on" } else { "off" }),
                    ]),
                });
            }
            CreateKey => {
                self.overlay = Some(Overlay::Form {
                    kind: FormKind::CreateKey,
                    form: Form::new(vec![
                        Field::new("name", "field.key_name", ""),
                        Field::new("role", "field.role", "helpdesk"),
                    ]),
                });
            }
            RevokeKey => {
                if let Some(k) = self.current_key() {
                    if !k.revoked {
                        let who = format!("{} ({}…)", k.name, k.prefix);
                        let id = k.id;
                        self.confirm("confirm.revoke_key", who, Op::RevokeKey(id));
                    }
                }
            }
            AddLicense => {
                self.overlay = Some(Overlay::Form {
                    kind: FormKind::AddLicense,
                    form: Form::new(vec![Field::new(
                        "license_number",
                        "field.license_number",
                        "",
                    )]),
                });
            }
            EditProfile => {
                if let Some(p) = &self.profile {
                    let form = Form::new(vec![
                        Field::new("name", "field.name", &p.name),
                        Field::new("company", "field.company", &p.company),
                        Field::new("country", "field.country", &p.country),
                    ]);
                    self.overlay = Some(Overlay::Form {
                        kind: FormKind::EditProfile,
                        form,
                    });
                }
            }
            ChangePassword => {
                self.overlay = Some(Overlay::Form {
                    kind: FormKind::ChangePassword,
                    form: Form::new(vec![
                        Field::new("old_password", "field.old_password", "").masked(),
                        Field::new("new_password", "field.new_password", "").masked(),
                        Field::new("confirm_password", "field.confirm_password", "").masked(),
                    ]),
                });
            }
            Logout => self.confirm("confirm.logout", String::new(), Op::Logout),
            NextField => {
                if let Some(Overlay::Form { form, .. }) = &mut self.overlay {
                    form.next();
                } else {
                    self.login.form.next();
                }
            }
            PrevField => {
                if let Some(Overlay::Form { form, .. }) = &mut self.overlay {
                    form.prev();
                } else {
                    self.login.form.prev();
                }
            }
            Cancel => {
                self.overlay = None;
            }
            Submit | SubmitAlt => {
                if self.overlay.is_some() {
                    self.submit_form(c == SubmitAlt);
                } else if self.screen == Screen::Login {
                    self.submit_login();
                }
            }
            Yes => {
                if let Some(Overlay::Confirm { op, .. }) = self.overlay.take() {
                    self.run_op(op);
                }
            }
            No => {
                let back_to_preview = matches!(
                    &self.overlay,
                    Some(Overlay::Confirm {
                        op: Op::ApplyImport,
                        ..
                    })
                );
                self.overlay = back_to_preview.then_some(Overlay::Import);
            }
            BulkAdd => self.file_form(FormKind::Import, ""),
            Export => self.file_form(FormKind::Export, "accounts.xlsx"),
            Template => self.file_form(FormKind::Template, "template.xlsx"),
            Register => self.set_login_mode(LoginMode::Register),
            Forgot => self.set_login_mode(LoginMode::Forgot),
            Activate => self.set_login_mode(LoginMode::Activate),
        }
    }

    fn run_op(&mut self, op: Op) {
        match op {
            Op::ResetPincode(id) => {
                self.request(Req::ResetAccountPincode(id));
            }
            Op::ResetPassword(id) => {
                self.request(Req::ResetAccountPassword(id));
            }
            Op::SendEmail(ids) => {
                self.request(Req::SendEmail(SendEmailRequest {
                    ids,
                    ..Default::default()
                }));
            }
            Op::Remove(ids) => {
                self.request(Req::Remove(ids));
            }
            Op::ResendFailed(ids) => {
                self.request(Req::ResendFailed(ids));
            }
            Op::DeleteFailed(ids) => {
                self.request(Req::DeleteFailed(ids));
            }
            Op::Logout => {
                self.request(Req::Logout);
            }
            Op::ResendInvite(id) => {
                self.request(Req::ResendInvite(id));
            }
            Op::DisableColleague(id) => {
                self.request(Req::DisableColleague(id));
            }
            Op::EnableColleague(id) => {
                self.request(Req::EnableColleague(id));
            }
            Op::RemoveColleague(id) => {
                self.request(Req::RemoveColleague(id));
            }
            Op::RevokeKey(id) => {
                self.request(Req::RevokeKey(id));
            }
            Op::ApplyImport => {
                let Some(st) = &mut self.import else { return };
                st.stage = ImportStage::Sending;
                let req = Req::ApplyImport {
                    rows: st.rows.clone(),
                    send_email: st.send_email,
                    key: st.key.clone(),
                };
                self.overlay = Some(Overlay::Import);
                self.request(req);
            }
        }
    }

    /// Bulk Add, Export, Template: the form gave a file name.
    fn submit_file_form(&mut self, kind: FormKind, file: String, alt: bool) {
        let path = expand_home(&file);
        match kind {
            FormKind::Import => {
                let progress = std::sync::Arc::new(crate::import::ImportProgress::default());
                self.import = Some(ImportState {
                    file: file.clone(),
                    send_email: alt,
                    stage: ImportStage::Reading,
                    progress: progress.clone(),
                    rows: vec![],
                    header_row: 0,
                    result: None,
                    lines: vec![],
                    scroll: 0,
                    key: crate::import::idempotency_key(),
                    error: None,
                });
                self.overlay = Some(Overlay::Import);
                self.request(Req::ImportFile {
                    path,
                    limits: crate::import::limits(&self.config),
                    send_email: alt,
                    progress,
                });
            }
            FormKind::Export => {
                self.export_progress.set(0, 0);
                let search = self.query().search;
                self.request(Req::Export {
                    path,
                    search,
                    progress: self.export_progress.clone(),
                });
            }
            _ => {
                self.request(Req::Template(path));
            }
        }
    }

    fn submit_form(&mut self, alt: bool) {
        let Some(Overlay::Form { kind, form }) = &mut self.overlay else {
            return;
        };
        form.clear_errors();
        let lang = self.lang;
        if matches!(
            *kind,
            FormKind::Import | FormKind::Export | FormKind::Template
        ) {
            let file = form.value("file").trim().to_string();
            if file.is_empty() {
                form.set_error(Some("file"), t(lang, "err.file"));
                return;
            }
            let kind = *kind;
            self.submit_file_form(kind, file, alt);
            return;
        }
        let req = match *kind {
            FormKind::AddAccount | FormKind::EditAccount(_) => {
                let name = form.value("name").trim().to_string();
                let ext = form.value("extension").trim().to_string();
                let email = form.value("email").trim().to_string();
                if name.is_empty() {
                    form.set_error(Some("name"), t(lang, "err.name"));
                }
                if ext.len() != 4 || !ext.chars().all(|c| c.is_ascii_digit()) {
                    form.set_error(Some("extension"), t(lang, "err.extension"));
                }
                if !email.is_empty()
                    && (!email.contains('@') || email.chars().any(|c| "<>\"'&".contains(c)))
                {
                    form.set_error(Some("email"), t(lang, "err.email"));
                }
                if form.fields.iter().any(|f| f.error.is_some()) {
                    return;
                }
                match *kind {
                    FormKind::AddAccount => Req::AddAccount(NewAccount {
                        name,
                        extension: ext,
                        email: (!email.is_empty()).then_some(email),
                        send_email: alt,
                    }),
                    FormKind::EditAccount(id) => Req::UpdateAccount(
                        id,
                        AccountUpdate {
                            name: Some(name),
                            extension: Some(ext),
                            email: Some(email),
                        },
                    ),
                    _ => return,
                }
            }
            FormKind::AddLicense => {
                match vcms_server::license_number::normalize(&form.value("license_number")) {
                    Ok(n) => Req::AddLicense(n),
                    Err(e) => {
                        form.set_error(Some("license_number"), e);
                        return;
                    }
                }
            }
            FormKind::EditProfile => Req::UpdateProfile(ProfileUpdate {
                name: Some(form.value("name")),
                company: Some(form.value("company")),
                country: Some(form.value("country")),
                language: None,
            }),
            FormKind::ChangePassword => {
                let (old, new, confirm) = (
                    form.value("old_password"),
                    form.value("new_password"),
                    form.value("confirm_password"),
                );
                if new != confirm {
                    form.set_error(Some("confirm_password"), t(lang, "err.confirm"));
                    return;
                }
                Req::ChangePassword(ChangePasswordRequest {
                    old_password: old,
                    new_password: new,
                    confirm_password: confirm,
                })
            }
            FormKind::Invite | FormKind::SetRole(_) => {
                let role = form.value("role").trim().to_ascii_lowercase();
                let role = match role.as_str() {
                    "admin" => Role::Admin,
                    "helpdesk" | "help-desk" => Role::Helpdesk,
                    _ => {
                        form.set_error(Some("role"), t(lang, "err.role"));
                        return;
                    }
                };
                let flag = form.value("manage_admins").trim().to_ascii_lowercase();
                let manage_admins = matches!(flag.as_str(), "y" | "yes" | "1" | "true" | "是");
                match *kind {
                    FormKind::SetRole(id) => Req::SetRole(
                        id,
                        RoleUpdate {
                            role,
                            manage_admins,
                        },
                    ),
                    _ => {
                        let email = form.value("email").trim().to_string();
                        if !email.contains('@') {
                            form.set_error(Some("email"), t(lang, "err.email"));
                            return;
                        }
                        Req::Invite(InviteRequest {
                            first_name: form.value("first_name").trim().to_string(),
                            last_name: form.value("last_name").trim().to_string(),
                            email,
                            role,
                            manage_admins,
                        })
                    }
                }
            }
            FormKind::Security => {
                let password = form.value("current_password");
                if password.is_empty() {
                    form.set_error(Some("current_password"), t(lang, "err.password_required"));
                    return;
                }
                let backup = form.value("backup_email").trim().to_string();
                if !backup.is_empty() && !backup.contains('@') {
                    form.set_error(Some("backup_email"), t(lang, "err.email"));
                    return;
                }
                let mfa = form.value("mfa_enabled").trim().to_ascii_lowercase();
                let mfa_enabled = match mfa.as_str() {
                    "on" | "yes" | "y" | "1" | "true" | "开" => true,
                    "off" | "no" | "n" | "0" | "false" | "关" => false,
                    _ => {
                        form.set_error(Some("mfa_enabled"), t(lang, "err.mfa"));
                        return;
                    }
                };
                Req::UpdateSecurity(SecurityUpdate {
                    current_password: password,
                    email: None,
                    backup_email: Some(backup),
                    mfa_enabled: Some(mfa_enabled),
                })
            }
            FormKind::Import | FormKind::Export | FormKind::Template => return,
            FormKind::CreateKey => {
                let Ok(role) = form
                    .value("role")
                    .trim()
                    .to_ascii_lowercase()
                    .parse::<Role>()
                else {
                    form.set_error(Some("role"), t(lang, "err.key_role"));
                    return;
                };
                Req::CreateKey(NewApiKey {
                    name: form.value("name").trim().to_string(),
                    role,
                    manage_admins: false,
                })
            }
        };
        self.request(req);
    }

    // ---------------- sign-in screens ----------------

    pub fn set_login_mode(&mut self, mode: LoginMode) {
        let old = std::mem::replace(&mut self.login.form, Form::new(vec![]));
        let keep = |name: &str| old.value(name);
        let server = if old.has("server") {
            keep("server")
        } else {
            self.client.base().to_string()
        };
        let mut fields = vec![
            Field::new("server", "field.server", &server),
            Field::new("email", "field.email", &keep("email")),
        ];
        match mode {
            LoginMode::SignIn => {
                fields.push(Field::new("password", "field.password", "").masked());
            }
            LoginMode::Register => {
                fields.push(Field::new("password", "field.password", "").masked());
                fields.push(Field::new("full_name", "field.full_name", ""));
                fields.push(Field::new("company", "field.company", ""));
                fields.push(Field::new("country", "field.country", ""));
            }
            LoginMode::Activate => {
                fields.retain(|f| f.name == "server");
                fields.push(Field::new("token", "field.token", ""));
            }
            LoginMode::Forgot => {}
            LoginMode::Mfa => {
                fields.retain(|f| f.name == "server");
                fields.push(Field::new("code", "field.mfa_code", ""));
            }
            LoginMode::Reset => {
                fields.retain(|f| f.name == "server");
                fields.push(Field::new("token", "field.token", ""));
                fields.push(Field::new("new_password", "field.new_password", "").masked());
                fields.push(Field::new("confirm_password", "field.confirm_password", "").masked());
            }
        }
        let needs_captcha = matches!(mode, LoginMode::Register | LoginMode::Forgot);
        self.login.mode = mode;
        self.login.form = Form::new(fields);
        self.login.form.focus = if keep("email").is_empty() || mode != LoginMode::SignIn {
            1
        } else {
            2
        };
        self.login.captcha = None;
        if needs_captcha {
            self.request(Req::Captcha);
        }
    }

    fn submit_login(&mut self) {
        let f = &mut self.login.form;
        f.clear_errors();
        let server = f.value("server").trim().to_string();
        if server != self.client.base() {
            let token = self.client.token().map(str::to_string);
            self.client = Client::new(&server);
            self.client.set_token(token);
        }
        let email = f.value("email").trim().to_string();
        let captcha_id = self.login.captcha.as_ref().map(|c| c.id.clone());
        let answer = f.value("captcha_answer");
        let pow = self.login.captcha_pow.clone();
        let lang = self.lang;
        if f.has("email") && email.is_empty() {
            f.set_error(Some("email"), t(lang, "err.email_required"));
            return;
        }
        let req = match self.login.mode {
            LoginMode::SignIn => {
                let password = f.value("password");
                if password.is_empty() {
                    f.set_error(Some("password"), t(lang, "err.password_required"));
                    return;
                }
                Req::Login(LoginRequest {
                    email,
                    password,
                    language: Some(lang.code().to_string()),
                    captcha_id,
                    captcha_answer: (!answer.is_empty()).then_some(answer),
                    captcha_pow: (!pow.is_empty()).then_some(pow),
                })
            }
            LoginMode::Register => Req::Register(RegisterRequest {
                full_name: f.value("full_name"),
                company: f.value("company"),
                country: f.value("country"),
                email,
                password: f.value("password"),
                language: Some(lang.code().to_string()),
                captcha_id: captcha_id.unwrap_or_default(),
                captcha_answer: answer,
                captcha_pow: pow,
            }),
            LoginMode::Activate => Req::Activate(f.value("token").trim().to_string()),
            LoginMode::Mfa => Req::VerifyMfa(MfaVerify {
                mfa_token: self.mfa_token.clone().unwrap_or_default(),
                code: f.value("code").trim().to_string(),
            }),
            LoginMode::Forgot => Req::Forgot(EmailRequest {
                email,
                captcha_id: captcha_id.unwrap_or_default(),
                captcha_answer: answer,
                captcha_pow: pow,
            }),
            LoginMode::Reset => Req::ResetPassword(ResetPasswordRequest {
                token: f.value("token").trim().to_string(),
                new_password: f.value("new_password"),
                confirm_password: f.value("confirm_password"),
            }),
        };
        self.login.notice = None;
        self.request(req);
    }

    /// The server ended the session: back to sign-in, saying why; come back here after.
    fn session_ended(&mut self, why: String) {
        if self.screen == Screen::Main {
            self.resume = Some(Place {
                tab: self.tab,
                view: self.view,
                sys: self.sys,
                details: self.details_id,
            });
        }
        self.screen = Screen::Login;
        self.overlay = None;
        self.client.set_token(None);
        self.inflight.clear();
        if self.login.mode != LoginMode::SignIn {
            self.set_login_mode(LoginMode::SignIn);
        }
        let email = self.profile.as_ref().map(|p| p.username.clone());
        if let Some(e) = email {
            if self.login.form.value("email").is_empty() {
                self.login.form.set_value("email", &e);
            }
        }
        self.login.form.set_value("password", "");
        self.login.form.focus = 2;
        self.login.notice = Some(Toast {
            text: why,
            error: true,
        });
    }

    /// Handle errors every request shares; true when the error was dealt with.
    fn common_error(&mut self, e: &ClientError) -> bool {
        if e.status() == Some(reqwest::StatusCode::UNAUTHORIZED)
            && matches!(
                e.code(),
                ErrorCode::SessionEnded | ErrorCode::Unauthenticated
            )
        {
            self.session_ended(client_error_text(e));
            return true;
        }
        false
    }

    fn form_error(&mut self, e: ClientError) {
        if self.common_error(&e) {
            return;
        }
        let msg = client_error_text(&e);
        match &mut self.overlay {
            Some(Overlay::Form { form, .. }) => form.set_error(e.field(), msg),
            _ => self.toast(msg, true),
        }
    }

    // ---------------- replies ----------------

    fn reply(&mut self, id: u64, reply: Reply) {
        let slot = self
            .inflight
            .iter()
            .find(|(_, v)| **v == id)
            .map(|(k, _)| *k);
        let Some(slot) = slot else {
            tracing::debug!(id, "stale reply dropped");
            return;
        };
        self.inflight.remove(slot);
        match reply {
            Reply::Captcha(Ok((c, pow))) => {
                self.login.captcha = Some(c);
                self.login.captcha_pow = pow;
                if !self.login.form.has("captcha_answer") {
                    self.login
                        .form
                        .fields
                        .push(Field::new("captcha_answer", "field.captcha", ""));
                } else {
                    self.login.form.set_value("captcha_answer", "");
                }
            }
            Reply::Captcha(Err(e)) => self.login_notice(client_error_text(&e), true),
            Reply::Login(res) => match *res {
                Ok(r) => self.logged_in(r),
                Err(e) => self.login_error(e),
            },
            Reply::Register(Ok(r)) => {
                self.set_login_mode(LoginMode::Activate);
                self.login_notice(
                    format!(
                        "{} ({}: {})",
                        r.message,
                        t(self.lang, "profile.enterprise_number"),
                        r.enterprise_number
                    ),
                    false,
                );
            }
            Reply::Register(Err(e)) => self.login_error(e),
            Reply::Message(Ok(m)) => {
                let next = match self.login.mode {
                    LoginMode::Forgot => LoginMode::Reset,
                    _ => LoginMode::SignIn,
                };
                self.set_login_mode(next);
                self.login_notice(m.message, false);
            }
            Reply::Message(Err(e)) => self.login_error(e),
            Reply::Page(Ok(p)) => {
                self.quota = Some(p.quota.clone());
                if p.page > p.pages && p.pages > 0 {
                    self.page_no = p.pages;
                    self.load_page();
                    return;
                }
                self.page_no = p.page.max(1);
                let n = p.items.len();
                self.page = Some(p);
                if self.cursor >= n {
                    self.cursor = n.saturating_sub(1);
                }
            }
            Reply::Page(Err(e)) => {
                if !self.common_error(&e) {
                    self.toast(client_error_text(&e), true);
                }
            }
            Reply::AllIds(Ok(ids)) => {
                let n = ids.len();
                self.marked.extend(ids);
                self.toast(tf(self.lang, "accounts.marked_all", &[("n", &n)]), false);
            }
            Reply::Details(Ok(d)) => {
                if self.details_id == Some(d.id) {
                    self.details = Some(d);
                }
            }
            Reply::Details(Err(e)) | Reply::AllIds(Err(e)) => {
                if !self.common_error(&e) {
                    self.toast(client_error_text(&e), true);
                }
            }
            Reply::Saved { send_email, res } => match res {
                Ok(d) => {
                    self.overlay = None;
                    let key = if send_email {
                        "accounts.saved_sent"
                    } else {
                        "accounts.saved"
                    };
                    self.toast(
                        tf(
                            self.lang,
                            key,
                            &[("name", &d.name), ("number", &d.cloud_number)],
                        ),
                        false,
                    );
                    if self.view == View::Details {
                        self.details_id = Some(d.id);
                        self.details = Some(d);
                    }
                    self.load_page();
                }
                Err(e) => self.form_error(e),
            },
            Reply::Reset { pincode, res } => match res {
                Ok(d) => {
                    let (title, value, note) = if pincode {
                        (
                            t(self.lang, "secret.new_pincode"),
                            d.pincode.clone().unwrap_or_default(),
                            tf(
                                self.lang,
                                "secret.pincode_note",
                                &[(
                                    "until",
                                    &short_time(d.pincode_expires_at.as_deref().unwrap_or("")),
                                )],
                            ),
                        )
                    } else {
                        (
                            t(self.lang, "secret.new_password"),
                            d.password.clone(),
                            t(self.lang, "secret.password_note"),
                        )
                    };
                    self.overlay = Some(Overlay::Secret {
                        title,
                        who: format!("{} · {}", d.name, d.cloud_number),
                        value,
                        note,
                    });
                    self.details = Some(d);
                }
                Err(e) => self.form_error(e),
            },
            Reply::Removed(res) => match res {
                Ok(r) => {
                    self.toast(r.message, false);
                    self.marked.clear();
                    if self.view == View::Details {
                        self.view = View::Table;
                        self.details = None;
                        self.details_id = None;
                    }
                    self.load_page();
                }
                Err(e) => self.form_error(e),
            },
            Reply::Sent(res) => match res {
                Ok(r) => {
                    let mut text = tf(
                        self.lang,
                        "accounts.sent",
                        &[("queued", &r.queued), ("without", &r.without_email.len())],
                    );
                    if !r.without_email.is_empty() {
                        let names: Vec<String> = r
                            .without_email
                            .iter()
                            .take(5)
                            .map(|a| format!("{} ({})", a.name, a.extension))
                            .collect();
                        text.push_str(&format!(": {}", names.join(", ")));
                    }
                    self.toast(text, false);
                }
                Err(e) => self.form_error(e),
            },
            Reply::Failed(Ok(f)) => {
                let n = f.items.len();
                self.failed_marked
                    .retain(|id| f.items.iter().any(|e| e.id == *id));
                self.failed = Some(f);
                if self.failed_cursor >= n {
                    self.failed_cursor = n.saturating_sub(1);
                }
            }
            Reply::Failed(Err(e)) => {
                if !self.common_error(&e) {
                    self.toast(client_error_text(&e), true);
                }
            }
            Reply::FailedOp(res) => match res {
                Ok(r) => {
                    self.toast(r.message, false);
                    self.failed_marked.clear();
                    self.request(Req::Failed);
                }
                Err(e) => self.form_error(e),
            },
            Reply::Licenses(Ok(l)) => {
                self.quota = Some(l.quota.clone());
                self.licenses = Some(l);
            }
            Reply::Licenses(Err(e)) | Reply::Profile(Err(e)) | Reply::PasswordChanged(Err(e)) => {
                self.form_error(e)
            }
            Reply::LicenseAdded(res) => match res {
                Ok(r) => {
                    self.overlay = None;
                    self.toast(r.message, false);
                    self.quota = Some(r.quota);
                    self.request(Req::Licenses);
                }
                Err(e) => self.form_error(e),
            },
            Reply::Profile(Ok(p)) => {
                if let Some(Overlay::Form {
                    kind: FormKind::EditProfile,
                    ..
                }) = self.overlay
                {
                    self.overlay = None;
                    self.toast(t(self.lang, "profile.saved"), false);
                }
                self.profile = Some(p);
            }
            Reply::PasswordChanged(Ok(m)) => {
                self.overlay = None;
                self.toast(m.message, false);
            }
            Reply::Colleagues(Ok(l)) => {
                let n = l.items.len();
                self.colleagues = Some(l);
                if self.colleague_cursor >= n {
                    self.colleague_cursor = n.saturating_sub(1);
                }
            }
            Reply::Colleagues(Err(e)) => {
                self.form_error(e);
            }
            Reply::ColleagueDone(res) => match res {
                Ok(x) => {
                    self.overlay = None;
                    let text = match x {
                        Some(x) => tf(
                            self.lang,
                            "colleague.saved",
                            &[
                                ("name", &x.name),
                                ("status", &t(self.lang, &format!("status.{}", x.status))),
                            ],
                        ),
                        None => t(self.lang, "colleague.removed"),
                    };
                    self.toast(text, false);
                    self.request(Req::Colleagues);
                }
                Err(e) => self.form_error(e),
            },
            Reply::Audit(Ok(p)) => {
                let n = p.items.len();
                self.audit = Some(p);
                if self.audit_cursor >= n {
                    self.audit_cursor = n.saturating_sub(1);
                }
            }
            Reply::ApiKeys(Ok(l)) => {
                let n = l.items.len();
                self.api_keys = Some(l);
                if self.key_cursor >= n {
                    self.key_cursor = n.saturating_sub(1);
                }
            }
            Reply::Audit(Err(e)) | Reply::ApiKeys(Err(e)) => self.form_error(e),
            Reply::KeyCreated(res) => match res {
                Ok(k) => {
                    self.overlay = Some(Overlay::Secret {
                        title: t(self.lang, "secret.new_key"),
                        who: format!("{} · {}", k.name, k.role),
                        value: k.key,
                        note: t(self.lang, "secret.key_note"),
                    });
                    self.request(Req::ApiKeys);
                }
                Err(e) => self.form_error(e),
            },
            Reply::KeyRevoked(res) => match res {
                Ok(m) => {
                    self.toast(m.message, false);
                    self.request(Req::ApiKeys);
                }
                Err(e) => self.form_error(e),
            },
            Reply::Security(Ok(s)) => self.security = Some(s),
            Reply::Security(Err(e)) => {
                if !self.common_error(&e) {
                    tracing::debug!(error = %e, "security settings");
                }
            }
            Reply::SecuritySaved(res) => match res {
                Ok(s) => {
                    self.overlay = None;
                    self.security = Some(s);
                    self.toast(t(self.lang, "profile.saved"), false);
                }
                Err(e) => self.form_error(e),
            },
            Reply::ImportPreview(res) => {
                let Some(st) = &mut self.import else { return };
                match res {
                    Ok((rows, header_row, r)) => {
                        st.lines = crate::import::preview_lines(&r, &rows);
                        st.rows = rows;
                        st.header_row = header_row;
                        st.result = Some(r);
                        st.stage = ImportStage::Ready;
                    }
                    Err(e) => {
                        st.stage = ImportStage::Failed;
                        st.error = Some(e);
                    }
                }
            }
            Reply::Imported(res) => {
                let Some(st) = &mut self.import else { return };
                match res {
                    Ok(r) if r.applied => {
                        let mut msg = r.message.clone();
                        if r.emails_queued > 0 {
                            msg.push_str(&tf(
                                self.lang,
                                "import.emails",
                                &[("n", &r.emails_queued)],
                            ));
                        }
                        self.import = None;
                        self.overlay = None;
                        self.toast(msg, false);
                        self.load_page();
                    }
                    Ok(r) => {
                        // Something changed since the preview (e.g. the quota): show why.
                        st.lines = crate::import::preview_lines(&r, &st.rows);
                        st.result = Some(r);
                        st.stage = ImportStage::Ready;
                        st.scroll = 0;
                    }
                    Err(e) => {
                        // Back to the preview: applying again sends the same key, so a
                        // request that did arrive is not imported twice.
                        st.stage = ImportStage::Ready;
                        st.error = Some(client_error_text(&e));
                        self.common_error(&e);
                    }
                }
            }
            Reply::FileWritten(res) => match res {
                Ok(msg) => {
                    self.overlay = None;
                    self.toast(msg, false);
                }
                Err(e) => match &mut self.overlay {
                    Some(Overlay::Form { form, .. }) => form.set_error(Some("file"), e),
                    _ => self.toast(e, true),
                },
            },
            Reply::LoggedOut => {
                self.client.set_token(None);
                self.screen = Screen::Login;
                self.resume = None;
                self.page = None;
                self.details = None;
                self.marked.clear();
                self.set_login_mode(LoginMode::SignIn);
                if let Some(p) = &self.profile {
                    let e = p.username.clone();
                    self.login.form.set_value("email", &e);
                    self.login.form.focus = 2;
                }
                self.login_notice(t(self.lang, "login.signed_out"), false);
            }
        }
    }

    fn login_notice(&mut self, text: String, error: bool) {
        self.login.notice = Some(Toast { text, error });
    }

    fn login_error(&mut self, e: ClientError) {
        let lang = self.lang;
        let body = e.body().cloned();
        match body {
            Some(b) if b.code == ErrorCode::MfaRequired && b.mfa_token.is_some() => {
                self.mfa_token = b.mfa_token.clone();
                self.set_login_mode(LoginMode::Mfa);
                self.login_notice(b.message.clone(), false);
            }
            Some(b) if b.code == ErrorCode::Frozen => {
                let secs = b.retry_after_secs.unwrap_or(300).max(0);
                let mins = (secs + 59) / 60;
                self.login_notice(tf(lang, "login.frozen", &[("min", &mins)]), true);
            }
            Some(b) => {
                let field_known = b
                    .field
                    .as_deref()
                    .is_some_and(|f| self.login.form.has(f) || f == "captcha_id");
                if field_known {
                    let field = if b.field.as_deref() == Some("captcha_id") {
                        Some("captcha_answer")
                    } else {
                        b.field.as_deref()
                    };
                    if self.login.form.has(field.unwrap_or("")) {
                        self.login.form.set_error(field, b.message.clone());
                    } else {
                        self.login_notice(b.message.clone(), true);
                    }
                } else {
                    self.login_notice(b.message.clone(), true);
                }
                let needs_captcha = b.captcha_required == Some(true)
                    || matches!(self.login.mode, LoginMode::Register | LoginMode::Forgot);
                if needs_captcha {
                    self.request(Req::Captcha);
                }
            }
            None => self.login_notice(client_error_text(&e), true),
        }
    }

    fn logged_in(&mut self, r: LoginResponse) {
        self.client.set_token(Some(r.token));
        if self.remember_password {
            self.remember = Some((
                self.login.form.value("email"),
                self.login.form.value("password"),
            ));
        }
        self.login.form.set_value("password", "");
        self.login.captcha = None;
        self.login
            .form
            .fields
            .retain(|f| f.name != "captcha_answer");
        self.login.notice = None;
        if let Some(p) = &self.server_info.first() {
            if p.1 != self.client.base() {
                let base = self.client.base().to_string();
                self.server_info[0].1 = base;
            }
        }
        self.profile = Some(r.profile);
        self.screen = Screen::Main;
        if let Some(place) = self.resume.take() {
            self.tab = place.tab;
            self.view = place.view;
            self.sys = place.sys;
            self.details_id = place.details;
        } else {
            self.tab = Tab::Account;
            self.view = View::Table;
        }
        self.load_page();
        if self.tab != Tab::Account || self.view != View::Table {
            self.load_view();
        }
    }

    pub fn server_field(&self) -> String {
        self.login.form.value("server")
    }

    /// "Account (13/20)".
    pub fn quota_title(&self) -> String {
        match &self.quota {
            Some(q) => tf(
                self.lang,
                "accounts.title",
                &[("used", &q.used), ("quota", &q.quota)],
            ),
            None => t(self.lang, "tab.account"),
        }
    }
}

/// `2026-11-29T18:22:15Z` → `2026-11-29 18:22`.
/// `~/x.xlsx` → the home directory's x.xlsx.
fn expand_home(file: &str) -> std::path::PathBuf {
    match (file.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::PathBuf::from(home).join(rest),
        _ => std::path::PathBuf::from(file),
    }
}

pub fn short_time(s: &str) -> String {
    let s = s.replace('T', " ");
    s.chars().take(16).collect()
}

/// Terminals at least this wide show the selected account's details beside the table.
pub const PANE_WIDTH: u16 = 140;

/// Poll the terminal events, the replies and a ticker; update; draw when dirty.
pub async fn run<B, S, F>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    mut events: S,
    mut on_suspend: F,
) -> anyhow::Result<()>
where
    B: Backend,
    S: Stream<Item = std::io::Result<Event>> + Unpin,
    F: FnMut(&mut Terminal<B>) -> anyhow::Result<()>,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Action>();
    let mut stream: Option<(String, tokio::task::JoinHandle<()>)> = None;
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    if let Ok(size) = terminal.size() {
        app.update(Action::Resize(size.width, size.height));
    }
    terminal.draw(|f| crate::ui::draw(f, app))?;
    loop {
        let action = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) => Action::Key(k),
                Some(Ok(Event::Paste(s))) => Action::Paste(s),
                Some(Ok(Event::Resize(w, h))) => Action::Resize(w, h),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => Action::Quit,
            },
            Some(a) = rx.recv() => a,
            _ = ticker.tick() => Action::Tick,
        };
        let was_busy = app.busy();
        let is_tick = matches!(action, Action::Tick);
        app.update(action);
        for (id, req) in app.requests.drain(..) {
            let client = app.client.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let reply = crate::api::exec(client, req).await;
                let _ = tx.send(Action::Reply {
                    id,
                    reply: Box::new(reply),
                });
            });
        }
        // One live event stream per session token.
        let token = app.client.token().map(str::to_string);
        if stream.as_ref().map(|s| &s.0) != token.as_ref() {
            if let Some((_, task)) = stream.take() {
                task.abort();
            }
            if let Some(tok) = token {
                let task = tokio::spawn(live_events(app.client.clone(), tx.clone()));
                stream = Some((tok, task));
            }
        }
        if let Some((email, password)) = app.remember.take() {
            if let Err(e) = crate::secrets::store_password(&email, &password) {
                tracing::info!("{e}");
                app.toast = Some(Toast {
                    text: e,
                    error: false,
                });
            }
        }
        if app.quit {
            if let Some((_, task)) = stream.take() {
                task.abort();
            }
            return Ok(());
        }
        if app.suspend {
            app.suspend = false;
            on_suspend(terminal)?;
            terminal.clear()?;
        }
        if !is_tick || app.busy() || was_busy {
            terminal.draw(|f| crate::ui::draw(f, app))?;
        }
    }
}

/// Follow the server's change events; reconnect after a pause when the stream ends.
async fn live_events(client: Client, tx: mpsc::UnboundedSender<Action>) {
    let mut after = None;
    loop {
        match client.events(after).await {
            Ok(mut stream) => {
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(item) => {
                            if let vcms_server::client::StreamItem::Change(ev) = &item {
                                after = Some(ev.id);
                            }
                            let ended =
                                matches!(item, vcms_server::client::StreamItem::SessionEnded(_));
                            if tx.send(Action::Event(item)).is_err() || ended {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "event stream");
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "event stream unavailable");
                if e.status() == Some(reqwest::StatusCode::UNAUTHORIZED) {
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
