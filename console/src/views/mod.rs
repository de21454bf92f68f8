//! The console's views, one module each: what a view shows (its state), which key table
//! is in force on it, what its commands and the answers to its requests do (`on_cmd`,
//! `on_reply`) and how it draws (`draw(&self)`). This module holds what they share: the
//! [`Ctx`] a handler works through (send a request, open a popup, say something, go to
//! another view), the [`Look`] a view draws with, and the System tab's sections as one
//! list, [`SYSTEM_VIEWS`]: a new section is a module implementing [`Section`] plus one
//! line there.

pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod colleagues;
pub mod details;
pub mod failed;
pub mod forms;
pub mod import;
pub mod licenses;
pub mod login;
pub mod overlay;
pub mod profile;
pub mod server;

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph};
use ratatui::Frame;
use vcms_api::client::ClientError;
use vcms_api::{LoginResponse, Permissions, Profile, Quota};

use crate::action::{Reply, Req, Requests};
use crate::config::Config;
use crate::i18n::{t, Lang};
use crate::keymap::{Cmd, Keymap, Scope};
use crate::theme::Theme;
use crate::widgets::form::{Field, Form};
use crate::widgets::listing::Listing;
use crate::widgets::table::{cursor_table, Col};
use overlay::{FormKind, Op, Overlay, Toast};

/// The sections of the System tab, in the order the section line shows them: what the tab
/// needs to know of each before it is shown, and how to make it.
pub const SYSTEM_VIEWS: &[(&About, NewSection)] = &[
    (&licenses::ABOUT, new::<licenses::Licenses>),
    (&profile::ABOUT, new::<profile::ProfileSection>),
    (&colleagues::ABOUT, new::<colleagues::Colleagues>),
    (&audit::ABOUT, new::<audit::Audit>),
    (&api_keys::ABOUT, new::<api_keys::ApiKeys>),
    (&server::ABOUT, new::<server::Server>),
];

/// Makes a System section as it starts.
pub type NewSection = fn() -> Box<dyn Section>;

/// A System section as it starts: nothing loaded.
fn new<S: Section + Default + 'static>() -> Box<dyn Section> {
    Box::<S>::default()
}

/// What the System tab needs to know of a section before it is shown.
pub struct About {
    /// Its names on the `:` command line (the first is its id), e.g. `["audit"]`.
    pub names: &'static [&'static str],
    /// The message key of its title on the section line.
    pub title: &'static str,
    /// The key table in force on it.
    pub scope: Scope,
    /// Whether the signed-in administrator may use it.
    pub allowed: fn(&Permissions) -> bool,
}

impl About {
    /// A section anyone signed in may use, with the System key table.
    pub const fn open(names: &'static [&'static str], title: &'static str) -> About {
        About {
            names,
            title,
            scope: Scope::System,
            allowed: |_| true,
        }
    }
}

/// A section of the System tab (its [`About`] stands beside it in [`SYSTEM_VIEWS`]). Only
/// `draw` is required; the rest have the defaults of a section that shows what the tab
/// loads.
pub trait Section: Send {
    /// Load what it needs whenever the System tab is (re)loaded, whichever section shows.
    fn on_tab(&mut self, _cx: &mut Ctx) {}
    /// Load what it shows, when it is the section shown (entered, refreshed).
    fn on_show(&mut self, _cx: &mut Ctx) {}
    /// A command of its key table; false when it is not one of its own (see
    /// `App::system_cmd`: sections sharing a key table each take their own commands).
    fn on_cmd(&mut self, _c: Cmd, _cx: &mut Ctx) -> bool {
        false
    }
    /// An answer to a request: `Some` gives back one that is not its own.
    fn on_reply(&mut self, reply: Reply, _cx: &mut Ctx) -> Option<Reply> {
        Some(reply)
    }
    /// A popup form was submitted: the request it makes, or `None` (not its form, or the
    /// form shows what is wrong).
    fn on_submit(&mut self, _kind: FormKind, _form: &mut Form, _cx: &mut Ctx) -> Option<Req> {
        None
    }
    /// Its search changed (typed, after the debounce, or cleared): load again.
    fn on_search(&mut self, _cx: &mut Ctx) {}
    /// Its search text, when it has a search prompt.
    fn search(&mut self) -> Option<&mut String> {
        None
    }
    fn draw(&self, f: &mut Frame, area: Rect, look: &Look);
}

/// The System tab: its sections and which one shows.
pub struct System {
    /// The sections of [`SYSTEM_VIEWS`], in its order.
    pub sections: Vec<Box<dyn Section>>,
    pub current: usize,
}

impl Default for System {
    fn default() -> Self {
        System {
            sections: SYSTEM_VIEWS.iter().map(|(_, new)| new()).collect(),
            current: 0,
        }
    }
}

impl System {
    pub fn current(&mut self) -> &mut dyn Section {
        self.sections[self.current].as_mut()
    }

    /// What the tab knows of section `i` (an index of [`System::sections`]).
    pub fn about(&self, i: usize) -> &'static About {
        SYSTEM_VIEWS[i].0
    }

    /// The id of the section shown (its first command name).
    pub fn name(&self) -> &'static str {
        self.about(self.current).names[0]
    }

    /// The index of the section called `name` on the command line.
    pub fn find(&self, name: &str) -> Option<usize> {
        (0..self.sections.len()).position(|i| self.about(i).names.contains(&name))
    }
}

/// The tabs of the main screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Account,
    System,
}

/// The views of the Account tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Table,
    Details,
    Failed,
}

/// Where the user is (and was, when the session ended).
#[derive(Debug, Clone, Copy)]
pub struct Place {
    pub tab: Tab,
    pub view: View,
    /// The System section (index in [`SYSTEM_VIEWS`]).
    pub sys: usize,
    pub details: Option<i64>,
}

/// What several views show: the signed-in administrator and the enterprise's quota.
#[derive(Default)]
pub struct Shared {
    pub profile: Option<Profile>,
    pub quota: Option<Quota>,
    /// Lines for System → Server (address, and in demo mode the data and outbox folders).
    pub server_info: Vec<(String, String)>,
}

impl Shared {
    /// What the server says the signed-in administrator may do; nothing before the
    /// profile has arrived.
    pub fn perms(&self) -> Permissions {
        self.profile
            .as_ref()
            .map(|p| p.permissions.clone())
            .unwrap_or_default()
    }
}

/// Another view to show, asked for by a handler (the app does the routing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goto {
    Table,
    Details(i64),
}

/// What a handler asks of the app beyond its own view.
#[derive(Default)]
pub struct Effects {
    /// The server ended the session (why): back to sign-in.
    pub session_ended: Option<String>,
    pub goto: Option<Goto>,
    /// Signed in (the sign-in view has done its part).
    pub signed_in: Option<LoginResponse>,
    /// Save this sign-in's (email, password) ("remember password").
    pub remember: Option<(String, String)>,
    /// The sign-in form names another server.
    pub server: Option<String>,
    /// Reload the account table.
    pub reload_accounts: bool,
    /// Run the search now (it was cleared).
    pub search_now: bool,
}

/// What a view's handler works through.
pub struct Ctx<'a> {
    pub lang: Lang,
    pub config: &'a Config,
    pub shared: &'a mut Shared,
    pub requests: &'a mut Requests,
    pub overlay: &'a mut Option<Overlay>,
    pub toast: &'a mut Option<Toast>,
    pub place: Place,
    pub fx: Effects,
}

impl Ctx<'_> {
    pub fn request(&mut self, req: Req) -> u64 {
        self.requests.send(req)
    }

    pub fn toast(&mut self, text: impl Into<String>, error: bool) {
        *self.toast = Some(Toast {
            text: text.into(),
            error,
        });
    }

    /// Ask "are you sure?" (message key `key`) before `op`.
    pub fn confirm(&mut self, key: &str, detail: String, op: Op) {
        *self.overlay = Some(Overlay::Confirm {
            text: t(self.lang, key),
            detail,
            op,
        });
    }

    /// Open a popup form.
    pub fn form(&mut self, kind: FormKind, fields: Vec<Field>) {
        *self.overlay = Some(Overlay::Form {
            kind,
            form: Form::new(fields),
        });
    }

    /// A form was saved: close it and say so.
    pub fn saved(&mut self, text: impl Into<String>) {
        *self.overlay = None;
        self.toast(text, false);
    }

    /// Errors every request shares; true when the error was dealt with (the session
    /// ended: back to sign-in).
    pub fn common_error(&mut self, e: &ClientError) -> bool {
        if e.status() == Some(reqwest::StatusCode::UNAUTHORIZED)
            && matches!(
                e.code(),
                vcms_api::ErrorCode::SessionEnded | vcms_api::ErrorCode::Unauthenticated
            )
        {
            self.fx.session_ended = Some(error_text(e));
            return true;
        }
        false
    }

    /// A failed request: on the open form's field it names, or as a message.
    pub fn form_error(&mut self, e: ClientError) {
        if self.common_error(&e) {
            return;
        }
        let msg = error_text(&e);
        match self.overlay {
            Some(Overlay::Form { form, .. }) => form.set_error(e.field(), msg),
            _ => self.toast(msg, true),
        }
    }

    /// A failed load: said as a message (unless the session ended).
    pub fn load_error(&mut self, e: ClientError) {
        if !self.common_error(&e) {
            self.toast(error_text(&e), true);
        }
    }
}

/// What a view draws with.
pub struct Look<'a> {
    pub lang: Lang,
    pub theme: &'a Theme,
    pub keymap: &'a Keymap,
    pub shared: &'a Shared,
    /// The search prompt is open (on the view that has one).
    pub searching: bool,
}

impl Look<'_> {
    /// A muted " loading…" line.
    pub fn loading(&self, f: &mut Frame, area: Rect) {
        f.render_widget(
            Paragraph::new(Line::styled(
                format!(" {}", t(self.lang, "loading")),
                self.theme.muted,
            )),
            area,
        );
    }

    /// A System section's list: "loading" until the server has answered, then its rows
    /// (each made by `row`) in a table with the cursor row highlighted.
    pub fn cursor_list<T>(
        &self,
        f: &mut Frame,
        area: Rect,
        cols: &[Col],
        list: &Listing<T>,
        row: impl FnMut(&T) -> Vec<Cell<'static>>,
    ) {
        if !list.loaded {
            return self.loading(f, area);
        }
        let rows: Vec<Vec<Cell>> = list.items.iter().map(row).collect();
        cursor_table(f, area, (self.theme, self.lang), cols, rows, list.cursor);
    }

    /// The search part of a view's header: the prompt being typed, the search in force
    /// (and how to clear it), or the key that opens it.
    pub fn search_spans(&self, search: &str) -> Vec<Span<'static>> {
        let th = self.theme;
        if self.searching {
            vec![Span::styled(format!("/{search}█"), th.focus)]
        } else if search.is_empty() {
            vec![Span::styled("/", th.key)]
        } else {
            vec![
                Span::styled(format!("/{search}"), th.title),
                Span::styled(
                    format!(" ({})", t(self.lang, "accounts.esc_clears")),
                    th.muted,
                ),
            ]
        }
    }
}

/// Up and Down in a table with a cursor; false for any other command.
pub fn list_move<T>(list: &mut Listing<T>, c: Cmd) -> bool {
    match c {
        Cmd::Up => list.up(),
        Cmd::Down => list.down(),
        _ => return false,
    };
    true
}

/// The text of a failed request.
pub fn error_text(e: &ClientError) -> String {
    match e {
        ClientError::Api { body, .. } => body.message.clone(),
        ClientError::Transport(m) => m.clone(),
    }
}

/// `2026-11-29T18:22:15Z` → `2026-11-29 18:22`.
pub fn short_time(s: &str) -> String {
    let s = s.replace('T', " ");
    s.chars().take(16).collect()
}

/// A search text as a query parameter: none when blank.
pub fn search_param(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}
