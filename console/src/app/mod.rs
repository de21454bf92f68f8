//! The console's session and routing: the [`App`] holds the signed-in session (client,
//! profile, language, settings), which screen, tab and view show, the popup and the
//! message line, and the views themselves (`crate::views`). `update(action)` is the only
//! place the state changes: a key becomes a command, the app handles the few that are
//! its own (tabs, popups, the command line, the search prompt) and hands the rest to the
//! view shown; an answer to a request goes to the view it belongs to. What a view asks of
//! the app (another view, "the session ended", "signed in") comes back as [`Effects`].
//! The event loop that feeds `update` is in `run`.

mod input;
mod run;

use std::time::{Duration, Instant};

use vcms_api::client::Client;
use vcms_api::{EventKind, LoginResponse, Profile};

use crate::action::{Action, Reply, Req, Requests};
use crate::config::Config;
use crate::i18n::{t, tf, Lang};
use crate::keymap::{Cmd, Keymap, Scope};
use crate::theme::Theme;
use crate::views::accounts::AccountsView;
use crate::views::details::DetailsView;
use crate::views::failed::FailedView;
use crate::views::import::ImportView;
use crate::views::login::LoginView;
use crate::views::{Ctx, Effects, Goto, Look, Shared, System};

pub use crate::views::forms::FormKind;
pub use crate::views::login::LoginMode;
pub use crate::views::overlay::{Op, Overlay, Toast};
pub use crate::views::{Place, Tab, View};
pub use run::run;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Login,
    Main,
}

/// Terminals at least this wide show the selected account's details beside the table.
pub const PANE_WIDTH: u16 = 140;

/// Every view of the console.
pub struct Views {
    pub login: LoginView,
    pub accounts: AccountsView,
    pub details: DetailsView,
    pub failed: FailedView,
    pub import: ImportView,
    pub system: System,
}

pub struct App {
    pub lang: Lang,
    pub theme: Theme,
    pub keymap: Keymap,
    pub config: Config,
    pub client: Client,
    pub shared: Shared,
    pub views: Views,
    pub screen: Screen,
    pub tab: Tab,
    pub view: View,
    pub overlay: Option<Overlay>,
    /// The `:` command line being typed.
    pub command: Option<String>,
    pub toast: Option<Toast>,
    /// The search prompt is open (on the accounts, or a System section with a search).
    pub searching: bool,
    /// When the search typed runs (debounced).
    search_due: Option<Instant>,
    pub requests: Requests,
    pub resume: Option<Place>,
    pub quit: bool,
    pub suspend: bool,
    pub spinner: usize,
    last_refresh: Instant,
    /// Set after a successful sign-in with "remember password" on: (email, password).
    pub remember: Option<(String, String)>,
    /// A change event asked for a refresh of what is on screen.
    live_due: Option<Instant>,
    /// The terminal's width (0 until it is known): from [`PANE_WIDTH`] columns the details
    /// of the selected account show beside the table.
    pub width: u16,
    /// The console runs on the user's own terminal (the `vcms` binary): files are theirs to
    /// read and write, Ctrl-Z suspends. Off in a console the server serves over SSH.
    pub local: bool,
}

impl App {
    pub fn new(config: Config, client: Client, lang: Lang, theme: Theme) -> anyhow::Result<App> {
        let keymap = Keymap::new(&config.keys).map_err(|e| anyhow::anyhow!(e))?;
        let server = client.base().to_string();
        let email = config.email.clone().unwrap_or_default();
        let views = Views {
            login: LoginView::new(&server, &email, config.remember_password),
            accounts: AccountsView::new(config.page_size),
            details: DetailsView::default(),
            failed: FailedView::default(),
            import: ImportView::default(),
            system: System::default(),
        };
        let shared = Shared {
            server_info: vec![(t(lang, "server.http"), server)],
            ..Default::default()
        };
        Ok(App {
            lang,
            theme,
            keymap,
            config,
            client,
            shared,
            views,
            screen: Screen::Login,
            tab: Tab::Account,
            view: View::Table,
            overlay: None,
            command: None,
            toast: None,
            searching: false,
            search_due: None,
            requests: Requests::default(),
            resume: None,
            quit: false,
            suspend: false,
            spinner: 0,
            last_refresh: Instant::now(),
            remember: None,
            live_due: None,
            width: 0,
            local: true,
        })
    }

    /// The console the server serves over SSH to `email` (the SSH user name): the server
    /// is fixed, no file is read or written on the server's machine, nothing is remembered.
    pub fn serve_remote(&mut self, email: &str) {
        self.local = false;
        self.config.remember_password = false;
        self.views.login = crate::views::login::LoginView::for_fixed_server(email);
    }

    /// Start signed in (demo mode, or a saved session).
    pub fn signed_in(&mut self, profile: Profile) {
        self.shared.profile = Some(profile);
        self.screen = Screen::Main;
        self.with(|v, cx| v.accounts.load(cx));
    }

    pub fn busy(&self) -> bool {
        self.requests.busy()
    }

    /// Where the user is.
    pub fn place(&self) -> Place {
        Place {
            tab: self.tab,
            view: self.view,
            sys: self.views.system.current,
            details: self.views.details.id,
        }
    }

    /// Run `f` on the views with a [`Ctx`], then do what it asked of the app.
    fn with<R>(&mut self, f: impl FnOnce(&mut Views, &mut Ctx) -> R) -> R {
        let mut cx = Ctx {
            lang: self.lang,
            config: &self.config,
            shared: &mut self.shared,
            requests: &mut self.requests,
            overlay: &mut self.overlay,
            toast: &mut self.toast,
            place: Place {
                tab: self.tab,
                view: self.view,
                sys: self.views.system.current,
                details: self.views.details.id,
            },
            fx: Effects::default(),
        };
        let r = f(&mut self.views, &mut cx);
        let fx = std::mem::take(&mut cx.fx);
        self.apply(fx);
        r
    }

    fn apply(&mut self, fx: Effects) {
        if let Some(server) = fx.server.filter(|s| s != self.client.base()) {
            let token = self.client.token().map(str::to_string);
            self.client = Client::new(&server);
            self.client.set_token(token);
        }
        if fx.remember.is_some() {
            self.remember = fx.remember;
        }
        if let Some(r) = fx.signed_in {
            self.logged_in(r);
        }
        match fx.goto {
            Some(Goto::Table) => {
                self.view = View::Table;
                self.views.details.close();
            }
            Some(Goto::Details(id)) => {
                self.view = View::Details;
                self.with(|v, cx| v.details.open(id, cx));
            }
            None => {}
        }
        if fx.search_now {
            self.search_due = Some(Instant::now());
        }
        if fx.reload_accounts {
            self.with(|v, cx| v.accounts.load(cx));
        }
        if let Some(why) = fx.session_ended {
            self.session_ended(why);
        }
    }

    fn toast(&mut self, text: impl Into<String>, error: bool) {
        self.toast = Some(Toast {
            text: text.into(),
            error,
        });
    }

    /// What the views draw with.
    pub fn look(&self) -> Look<'_> {
        Look {
            lang: self.lang,
            theme: &self.theme,
            keymap: &self.keymap,
            shared: &self.shared,
            searching: self.searching,
        }
    }

    // ---------------- loading ----------------

    /// Load what the current tab and view show.
    fn load_view(&mut self) {
        match (self.tab, self.view) {
            (Tab::Account, View::Table) => self.with(|v, cx| v.accounts.load(cx)),
            (Tab::Account, View::Details) => self.with(|v, cx| v.details.load(cx)),
            (Tab::Account, View::Failed) => self.with(|v, cx| v.failed.load(cx)),
            (Tab::System, _) => {
                self.with(|v, cx| v.system.sections.iter_mut().for_each(|s| s.on_tab(cx)));
                self.load_sys();
            }
        }
    }

    /// The indices of the System sections the signed-in administrator may use.
    fn allowed_sections(&self) -> Vec<usize> {
        let p = self.shared.perms();
        let system = &self.views.system;
        (0..system.sections.len())
            .filter(|i| (system.about(*i).allowed)(&p))
            .collect()
    }

    /// The names of the System sections the signed-in administrator may use.
    pub fn sys_views(&self) -> Vec<&'static str> {
        let system = &self.views.system;
        let allowed = self.allowed_sections();
        allowed.iter().map(|i| system.about(*i).names[0]).collect()
    }

    /// The name of the System section shown.
    pub fn sys(&self) -> &'static str {
        self.views.system.name()
    }

    /// Load the current System section (the first one if it may not be used).
    fn load_sys(&mut self) {
        if !self.allowed_sections().contains(&self.views.system.current) {
            self.views.system.current = 0;
        }
        self.with(|v, cx| v.system.current().on_show(cx));
    }

    /// The previous or next System section (`forward`), round the ones allowed.
    fn next_section(&mut self, forward: bool) {
        let views = self.allowed_sections();
        let n = views.len().max(1);
        let i = views
            .iter()
            .position(|v| *v == self.views.system.current)
            .unwrap_or(0);
        let i = if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        };
        self.views.system.current = views.get(i).copied().unwrap_or(0);
        self.load_sys();
    }

    // ---------------- update ----------------

    pub fn update(&mut self, action: Action) {
        match action {
            Action::Quit => self.quit = true,
            Action::Tick => self.tick(),
            Action::Resize(w, h) => {
                self.width = w;
                let reload = self.screen == Screen::Main;
                self.with(|v, cx| v.accounts.resize(h, reload, cx));
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
        if let Some(id) = self.views.accounts.list.current().map(|r| r.id) {
            self.with(|v, cx| v.details.follow(id, cx));
        }
    }

    fn event(&mut self, item: vcms_api::client::StreamItem) {
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
                let shown = self.views.details.id;
                let relevant = match self.view {
                    View::Table => ev.kind != EventKind::EmailFailed,
                    View::Details => ev.account_id.is_some() && ev.account_id == shown,
                    View::Failed => ev.kind == EventKind::EmailFailed,
                };
                if relevant {
                    self.live_due = Some(Instant::now() + Duration::from_millis(300));
                }
                // The details pane shows this account: its details change too.
                if self.pane_shown() && ev.account_id.is_some() && ev.account_id == shown {
                    self.with(|v, cx| v.details.load(cx));
                }
            }
        }
    }

    fn tick(&mut self) {
        self.spinner = self.spinner.wrapping_add(1);
        if self.live_due.is_some_and(|due| Instant::now() >= due) && self.overlay.is_none() {
            self.live_due = None;
            self.load_view();
        }
        if self.search_due.is_some_and(|due| Instant::now() >= due) {
            self.search_due = None;
            let section = self.tab == Tab::System && self.views.system.current().search().is_some();
            if section {
                self.with(|v, cx| v.system.current().on_search(cx));
            } else {
                self.with(|v, cx| v.accounts.on_search(cx));
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

    /// The search being typed: the System section's when it has one, else the accounts'.
    pub fn search_buf(&mut self) -> &mut String {
        if self.tab == Tab::System {
            if let Some(s) = self.views.system.current().search() {
                return s;
            }
        }
        &mut self.views.accounts.search
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
        let s = match (self.screen, self.tab, self.view) {
            (Screen::Login, ..) => return vec![Scope::Login],
            (Screen::Main, Tab::System, _) => {
                let system = &self.views.system;
                system.about(system.current).scope
            }
            (Screen::Main, Tab::Account, View::Table) => Scope::Accounts,
            (Screen::Main, Tab::Account, View::Details) => Scope::Details,
            (Screen::Main, Tab::Account, View::Failed) => Scope::Failed,
        };
        vec![s, Scope::Global]
    }

    /// Commands the signed-in role may not use: hidden from hints and help, refused here
    /// (and by the server).
    pub fn hidden_cmds(&self) -> Vec<Cmd> {
        use Cmd::*;
        if self.shared.profile.is_none() {
            return vec![];
        }
        let p = self.shared.perms();
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
            v.extend([
                Invite,
                ResendInvite,
                SetRole,
                ToggleDisabled,
                RemoveColleague,
            ]);
        }
        if !p.manage_api_keys {
            v.extend([CreateKey, RevokeKey]);
        }
        v
    }

    /// Go to a tab or view by name (the `:` command line).
    fn run_command(&mut self, line: &str) {
        let line = line.trim();
        if let Ok(n) = line.parse::<i64>() {
            self.tab = Tab::Account;
            self.view = View::Table;
            self.views.accounts.list.page_no = n.max(1);
            self.views.accounts.list.home();
            self.with(|v, cx| v.accounts.load(cx));
            return;
        }
        match line {
            "failed" | "f" => self.cmd(Cmd::FailedList),
            "account" | "accounts" => {
                self.tab = Tab::Account;
                self.view = View::Table;
                self.with(|v, cx| v.accounts.load(cx));
            }
            "system" => self.cmd(Cmd::TabSystem),
            "q" | "quit" => self.quit = true,
            "help" => self.overlay = Some(Overlay::Help),
            "logout" => self.cmd(Cmd::Logout),
            "" => {}
            name => match self.views.system.find(name) {
                Some(i) if self.allowed_sections().contains(&i) => {
                    self.tab = Tab::System;
                    self.views.system.current = i;
                    self.load_view();
                }
                Some(_) => self.toast(t(self.lang, "role.not_allowed"), true),
                None => self.toast(tf(self.lang, "cmd.unknown", &[("cmd", &name)]), true),
            },
        }
    }

    pub fn cmd(&mut self, c: Cmd) {
        use Cmd::*;
        if self.screen == Screen::Main && self.hidden_cmds().contains(&c) {
            self.toast(t(self.lang, "role.not_allowed"), true);
            return;
        }
        match c {
            Quit if self.screen == Screen::Login && self.views.login.mode != LoginMode::SignIn => {
                self.view_cmd(c)
            }
            Quit => self.quit = true,
            Help => self.overlay = Some(Overlay::Help),
            Command => self.command = Some(String::new()),
            Language => self.lang = self.lang.toggle(),
            NextTab if self.tab == Tab::Account => self.cmd(TabSystem),
            NextTab => self.cmd(TabAccount),
            TabAccount | TabSystem => {
                self.tab = if c == TabAccount {
                    Tab::Account
                } else {
                    Tab::System
                };
                self.load_view();
            }
            Refresh => {
                self.last_refresh = Instant::now();
                self.load_view();
            }
            Search => self.searching = true,
            Left | Right => self.next_section(c == Right),
            FailedList => {
                self.tab = Tab::Account;
                self.view = View::Failed;
                self.with(|v, cx| v.failed.open(cx));
            }
            Logout => self
                .with(|_, cx| cx.confirm("confirm.logout", String::new(), Op::send(Req::Logout))),
            NextField | PrevField if matches!(self.overlay, Some(Overlay::Form { .. })) => {
                if let Some(Overlay::Form { form, .. }) = &mut self.overlay {
                    if c == NextField {
                        form.next()
                    } else {
                        form.prev()
                    }
                }
            }
            Cancel => self.overlay = None,
            Submit | SubmitAlt if self.overlay.is_some() => self.submit_form(c == SubmitAlt),
            Yes => {
                if let Some(Overlay::Confirm { op, .. }) = self.overlay.take() {
                    match op {
                        Op::Send(req) => {
                            self.requests.send(*req);
                        }
                        Op::ApplyImport => self.with(|v, cx| v.import.apply(cx)),
                    }
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
            _ => self.view_cmd(c),
        }
    }

    /// A command for the view shown.
    fn view_cmd(&mut self, c: Cmd) {
        if self.screen == Screen::Login {
            self.with(|v, cx| v.login.on_cmd(c, cx));
            return;
        }
        match (self.tab, self.view) {
            (Tab::System, _) => self.system_cmd(c),
            (Tab::Account, View::Table) => self.with(|v, cx| v.accounts.on_cmd(c, cx)),
            (Tab::Account, View::Details) => self.with(|v, cx| {
                if let Some((c, ids)) = v.details.on_cmd(c, cx) {
                    v.accounts.confirm_batch(c, ids, cx);
                }
            }),
            (Tab::Account, View::Failed) => self.with(|v, cx| v.failed.on_cmd(c, cx)),
        }
    }

    /// A command on the System tab: the section shown takes it, or else the section
    /// sharing its key table whose command it is (License, Personal information and
    /// Server share one).
    fn system_cmd(&mut self, c: Cmd) {
        let cur = self.views.system.current;
        self.with(|v, cx| {
            let scope = v.system.about(cur).scope;
            let sharing: Vec<usize> = (0..v.system.sections.len())
                .filter(|i| v.system.about(*i).scope == scope)
                .collect();
            let sections = &mut v.system.sections;
            if sections[cur].on_cmd(c, cx) {
                return;
            }
            for i in sharing {
                if sections[i].on_cmd(c, cx) {
                    return;
                }
            }
        });
    }

    /// The open form was submitted (`alt`: with its second key): its view checks it and
    /// makes the request; the form stays open (showing any error) until the answer.
    fn submit_form(&mut self, alt: bool) {
        let Some(Overlay::Form { kind, mut form }) = self.overlay.take() else {
            return;
        };
        form.clear_errors();
        let req = self.with(|v, cx| match kind {
            FormKind::Import => v.import.on_submit(&mut form, alt, cx),
            FormKind::AddAccount | FormKind::Export | FormKind::Template => {
                v.accounts.on_submit(kind, &mut form, alt, cx)
            }
            FormKind::EditAccount(_) => v.details.on_submit(kind, &mut form, cx),
            _ => v
                .system
                .sections
                .iter_mut()
                .find_map(|s| s.on_submit(kind, &mut form, cx)),
        });
        if self.overlay.is_none() {
            self.overlay = Some(Overlay::Form { kind, form });
        }
        if let Some(req) = req {
            self.requests.send(req);
        }
    }

    // ---------------- session ----------------

    /// The server ended the session: back to sign-in, saying why; come back here after.
    fn session_ended(&mut self, why: String) {
        if self.screen == Screen::Main {
            self.resume = Some(self.place());
        }
        self.screen = Screen::Login;
        self.overlay = None;
        self.client.set_token(None);
        self.requests.forget();
        let email = self.shared.profile.as_ref().map(|p| p.username.as_str());
        self.views.login.session_ended(why, email);
    }

    /// Signed in: to where the user was when the session ended, or the account table.
    fn logged_in(&mut self, r: LoginResponse) {
        self.client.set_token(Some(r.token));
        let base = self.client.base().to_string();
        if let Some(first) = self.shared.server_info.first_mut() {
            first.1 = base;
        }
        self.shared.profile = Some(r.profile);
        self.screen = Screen::Main;
        if let Some(place) = self.resume.take() {
            self.tab = place.tab;
            self.view = place.view;
            self.views.system.current = place.sys;
            self.views.details.id = place.details;
        } else {
            self.tab = Tab::Account;
            self.view = View::Table;
        }
        self.with(|v, cx| v.accounts.load(cx));
        if self.tab != Tab::Account || self.view != View::Table {
            self.load_view();
        }
    }

    fn logged_out(&mut self) {
        self.client.set_token(None);
        self.screen = Screen::Login;
        self.resume = None;
        self.views.accounts.list.unload();
        self.views.details.details = None;
        let email = self.shared.profile.as_ref().map(|p| p.username.as_str());
        self.views.login.signed_out(self.lang, email);
    }

    // ---------------- replies ----------------

    /// An answer arrived: dropped when stale, else handled by the view it belongs to.
    fn reply(&mut self, id: u64, reply: Reply) {
        if !self.requests.accept(id) {
            tracing::debug!(id, "stale reply dropped");
            return;
        }
        if let Reply::LoggedOut = reply {
            return self.logged_out();
        }
        self.with(|v, cx| {
            let Some(r) = v.login.on_reply(reply, cx) else {
                return;
            };
            let Some(r) = v.details.on_reply(r, cx) else {
                return;
            };
            let Some(r) = v.accounts.on_reply(r, cx) else {
                return;
            };
            let Some(r) = v.failed.on_reply(r, cx) else {
                return;
            };
            let mut rest = v.import.on_reply(r, cx);
            for s in v.system.sections.iter_mut() {
                rest = rest.and_then(|r| s.on_reply(r, cx));
            }
            if let Some(r) = rest {
                tracing::debug!(reply = ?r, "a reply no view takes");
            }
        });
    }
}
